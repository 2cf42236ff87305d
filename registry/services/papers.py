"""Printing certificates and proofs (缮证), and the blank-form stock they are printed on.

Rules enforced here, stated once:
- STOCK-1 Every pre-printed serial (印刷序列号) a bureau receives is a row of `form_serials`, in
  stock until a print uses it (issued) or it is voided with a reason (a spoilt form, a print
  replaced by a reprint). A serial is never deleted, never used twice, never back in stock.
- STOCK-2 Batches never overlap: receiving a serial that exists already refuses the whole batch
  (SERIAL_EXISTS), so a batch is received whole or not at all.
- STOCK-3 The stock report balances per batch: received = in stock + issued + voided.
- PRINT-1 Only a certificate of a recorded case (its number issued, not voided) is printed, by
  a clerk or registrar of its county. Overlay prints (套打) use an in-stock serial of the
  county and of the paper's kind (certificate or proof form); a full print on blank paper may
  name none. A refusal consumes nothing and stores nothing.
- PRINT-2 A certificate has at most one standing print. Printing it again is a reprint and
  needs a reason: the standing print is voided, and its serial with it, in the same
  transaction as the new print (the database's partial unique index holds it too).
- PRINT-3 The PDF is stored content-addressed in the bucket like a scan (document_files)
  before its row commits, and carries a verification code (12 characters, random) printed on
  it for the public check.
- PRINT-4 `certify` (缮证/发证) requires a standing print of every certificate of the case
  (NOT_PRINTED).
- PRINT-5 A print records the digest of what it says of the register (`record_digest`), so
  `registry papers verify` can tell a paper that still matches the register from one the
  register has moved past.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from registry.codes import CertificateKind
from registry.config import Settings
from registry.db.access import Role
from registry.db.applications import Application
from registry.db.papers import (
    FormBatch,
    FormSerial,
    IssuedPaper,
    PrintedPaper,
    PrintMode,
    SerialState,
)
from registry.db.parties import Party
from registry.db.register import Certificate, CertificateStatus
from registry.db.rights import Right, RightHolder
from registry.db.units import Unit
from registry.papers.records import paper_record
from registry.papers.render import PrintInfo, paper_data, render_paper
from registry.papers.signing import (
    SignatureCheck,
    SigningKey,
    load_signing_key,
    sign_pdf,
    verify_pdf,
)
from registry.services.access import Principal, audit, require, require_county
from registry.services.documents import DocumentConfig, store_content
from registry.services.errors import DomainError, InvalidInput, NotFound
from registry.services.timezone import local_date
from storage import Store

PRINTERS = (Role.CLERK, Role.REGISTRAR)
STOCK_KEEPERS = (Role.REGISTRAR,)
MAX_BATCH = 10_000
_SERIAL = re.compile(r"[0-9]{4,32}")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed back
_CODE = re.compile(f"[{CODE_ALPHABET}]{{12}}")


def unprinted() -> ColumnElement[bool]:
    """A certificate (issued, not voided) without a standing print (PRINT-2, PRINT-4)."""
    return (Certificate.status == CertificateStatus.ISSUED) & ~select(PrintedPaper.id).where(
        PrintedPaper.certificate_id == Certificate.id, PrintedPaper.voided_at.is_(None)).exists()


def verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


def _reason(reason: str | None, field: str) -> str:
    cleaned = (reason or "").strip()
    if not cleaned or len(cleaned) > 200:
        raise InvalidInput("REASON_REQUIRED", "须填写原因（200字以内）",
                           f"{field} needs a reason of at most 200 characters", field=field)
    return cleaned


def receive_forms(session: Session, principal: Principal | None, kind: CertificateKind,
                  first_serial: str, count: int, now: datetime, *, county_code: str | None = None,
                  note: str = "", request_id: str | None = None) -> FormBatch:
    """STOCK-1/2: a batch of blank forms, serials first_serial … (same width), in stock."""
    actor = require(principal, *STOCK_KEEPERS)
    county = county_code or actor.county_code
    if county is None:
        raise InvalidInput("COUNTY_REQUIRED", "须指明县区", "name the county of the forms")
    require_county(actor, county)
    if not _SERIAL.fullmatch(first_serial):
        raise InvalidInput("BAD_SERIAL", "印刷序列号须为4至32位数字",
                           "a form serial is 4 to 32 digits", serial=first_serial[:40])
    if not 1 <= count <= MAX_BATCH:
        raise InvalidInput("BAD_COUNT", f"每批1至{MAX_BATCH}份", f"a batch holds 1 to {MAX_BATCH}",
                           count=count)
    width, start = len(first_serial), int(first_serial)
    if len(str(start + count - 1)) > width:
        raise InvalidInput("BAD_COUNT", "序列号超出位数", "the serials would outgrow their width",
                           count=count)
    serials = [str(start + i).zfill(width) for i in range(count)]
    taken = session.scalars(select(FormSerial.serial).where(FormSerial.serial.in_(serials))
                            .order_by(FormSerial.serial).limit(5)).all()
    if taken:
        raise DomainError("SERIAL_EXISTS", f"印刷序列号已入库：{taken[0]}",
                          f"serial {taken[0]} was received already", {"serials": list(taken)})
    batch = FormBatch(county_code=county, kind=kind, first_serial=first_serial, count=count,
                      note=note[:500], received_at=now, received_by=actor.user_id)
    session.add(batch)
    session.flush()
    session.execute(FormSerial.__table__.insert(), [
        {"serial": s, "batch_id": batch.id, "county_code": county, "kind": kind,
         "state": SerialState.IN_STOCK, "changed_at": now, "changed_by": actor.user_id,
         "void_reason": None} for s in serials])
    audit(session, actor, "receiveForms", f"batch:{batch.id}", request_id,
          {"kind": kind.name, "first": first_serial, "count": count, "county": county})
    return batch


def _certificate_for_print(session: Session, actor: Principal, number: str) -> tuple[
        Certificate, Unit]:
    certificate = session.scalar(select(Certificate).where(Certificate.number == number)
                                 .with_for_update())  # PRINT-2: one print of it at a time
    if certificate is None:
        raise NotFound("证书", "certificate", number)
    unit = session.scalar(select(Unit).join(Right, Right.unit_id == Unit.id)
                          .where(Right.id == certificate.right_id))
    assert unit is not None
    require_county(actor, unit.county_code)
    return certificate, unit  # whether it may be printed is PAPER-2's (render_paper raises)


def _take_serial(session: Session, actor: Principal, serial: str, county: str,
                 kind: CertificateKind, now: datetime) -> FormSerial:
    """STOCK-1: the serial, in stock → issued; or why not (nothing changed)."""
    row = session.scalar(select(FormSerial).where(FormSerial.serial == serial)
                         .with_for_update())
    if row is None:
        raise NotFound("印刷序列号", "form serial", serial[:40])
    if row.county_code != county:
        raise DomainError("SERIAL_OTHER_COUNTY", "该印刷序列号属于其他县区",
                          "the serial belongs to another county's stock", {"serial": serial})
    if row.kind is not kind:
        raise DomainError("SERIAL_WRONG_KIND", f"该印刷序列号是{row.kind.label_zh}的空白证书",
                          f"the serial is a blank {row.kind.name.lower()} form",
                          {"serial": serial, "kind": row.kind.name})
    if row.state is not SerialState.IN_STOCK:
        raise DomainError("SERIAL_NOT_IN_STOCK", "该印刷序列号已使用或已作废",
                          "the serial was used or voided already",
                          {"serial": serial, "state": row.state.name})
    row.state, row.changed_at, row.changed_by = SerialState.ISSUED, now, actor.user_id
    return row


def _void_serial_row(row: FormSerial, actor: Principal, reason: str, now: datetime) -> None:
    row.state, row.void_reason = SerialState.VOIDED, reason
    row.changed_at, row.changed_by = now, actor.user_id


@dataclass(frozen=True)
class PrintRequest:
    number: str
    mode: PrintMode = PrintMode.FULL
    serial: str | None = None
    reprint_reason: str | None = None
    offset_x_mm: float = 0.0  # 套打: the printer's calibration (registry papers calibration)
    offset_y_mm: float = 0.0


@dataclass(frozen=True)
class PrintSetup:
    """What printing needs besides the register: where PDFs go, the key that signs them, and
    the public address their QR code names."""

    store: Store
    documents: DocumentConfig
    key: SigningKey | None
    verify_base_url: str

    def require_key(self) -> SigningKey:
        """SIGN-1: nothing is printed without the bureau's key (NO_SIGNING_KEY)."""
        if self.key is None:
            raise DomainError("NO_SIGNING_KEY", "未配置签章密钥，不能签发电子证照",
                              "no signing key is configured (PAPERS_SIGNING_KEY/_CERT)")
        return self.key

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> PrintSetup:
        key = None
        if settings.papers_signing_key and settings.papers_signing_cert:
            key = load_signing_key(Path(settings.papers_signing_key),
                                   Path(settings.papers_signing_cert))
        return cls(store=store, documents=DocumentConfig.from_settings(settings), key=key,
                   verify_base_url=settings.papers_verify_base_url.rstrip("/"))


def verify_url(base_url: str, number: str, code: str) -> str:
    """The public check of a paper (GET /verify/{number}?code=…), as its QR code holds it."""
    return f"{base_url}/verify/{quote(number, safe='')}?code={code}"


def record_digest(data: dict[str, object]) -> str:
    """PRINT-5: what the paper says of the register, hashed (the map's drawing left out)."""
    said = {k: v for k, v in data.items() if k not in ("map", "print")}
    if isinstance(data.get("map"), dict):
        drawn = data["map"]
        assert isinstance(drawn, dict)
        said["map"] = {k: drawn[k] for k in ("parcel_code", "area_m2", "points")}
    return hashlib.sha256(json.dumps(said, ensure_ascii=False, sort_keys=True,
                                     default=str).encode()).hexdigest()


def print_paper(session: Session, principal: Principal | None, setup: PrintSetup,
                request: PrintRequest, now: datetime,
                request_id: str | None = None) -> PrintedPaper:
    """PRINT-1..3: the certificate printed, signed (SIGN-1) and stored, a serial consumed if
    named."""
    actor = require(principal, *PRINTERS)
    key = setup.require_key()
    if request.mode is PrintMode.OVERLAY and not request.serial:
        raise InvalidInput("SERIAL_REQUIRED", "套打须填写空白证书的印刷序列号",
                           "an overlay print names the blank form's serial")
    for offset in (request.offset_x_mm, request.offset_y_mm):
        if not -20 <= offset <= 20:
            raise InvalidInput("BAD_OFFSET", "打印偏移须在±20毫米以内",
                               "printer offsets are within ±20 mm", offset=offset)
    certificate, unit = _certificate_for_print(session, actor, request.number)
    standing = session.scalar(select(PrintedPaper).where(
        PrintedPaper.certificate_id == certificate.id, PrintedPaper.voided_at.is_(None))
        .with_for_update())
    reason = None
    if standing is not None:
        if request.reprint_reason is None:
            raise DomainError("ALREADY_PRINTED", "该证书已打印；重新打印须填写原因",
                              "the certificate is printed already: a reprint needs a reason",
                              {"number": request.number, "serial": standing.serial})
        reason = _reason(request.reprint_reason, "reprintReason")
    serial = (_take_serial(session, actor, request.serial, unit.county_code, certificate.kind,
                           now) if request.serial else None)
    code = verification_code()
    rendered = render_paper(session, request.number, now, PrintInfo(
        mode=request.mode, serial=serial.serial if serial else None, verification_code=code,
        verify_url=verify_url(setup.verify_base_url, request.number, code),
        offset_x_mm=request.offset_x_mm, offset_y_mm=request.offset_y_mm), store=setup.store,
        limits=setup.documents.limits)
    pdf = sign_pdf(rendered.pdf, key, signed_at=now.replace(microsecond=0))
    stored = store_content(session, setup.store, setup.documents, pdf, now)
    printed = PrintedPaper(certificate_id=certificate.id,
                           application_id=certificate.application_id, mode=request.mode,
                           serial=serial.serial if serial else None, file_sha256=stored.sha256,
                           verification_code=code, record_sha256=record_digest(rendered.data),
                           printed_at=now, printed_by=actor.user_id)
    if standing is not None:
        assert reason is not None
        void_print(session, actor, standing, f"重新打印：{reason}", now)
        session.flush()  # the standing print ends before the new one stands (PRINT-2)
    session.add(printed)
    session.flush()
    if standing is not None:
        standing.replaced_by_id = printed.id
    audit(session, actor, "printPaper", f"certificate:{certificate.number}", request_id,
          {"mode": request.mode.name, "serial": printed.serial, "sha256": stored.sha256,
           "reprint": standing.id if standing is not None else None})
    return printed


def print_case(session: Session, principal: Principal | None, setup: PrintSetup,
                application_number: str, now: datetime,
                request_id: str | None = None) -> list[PrintedPaper]:
    """Every certificate of a recorded case that has no standing print, printed on blank
    paper (what the demo and batch printing do before certifying)."""
    numbers = session.scalars(
        select(Certificate.number).join(Application, Application.id == Certificate.application_id)
        .where(Application.number == application_number, unprinted())
        .order_by(Certificate.number)).all()
    return [print_paper(session, principal, setup, PrintRequest(number), now, request_id)
            for number in numbers]


def unprinted_numbers(session: Session, county_code: str, limit: int | None = None
                      ) -> list[str]:
    """The county's certificates and proofs (issued, not voided) without a standing print,
    by number: what a batch of 缮证 prints."""
    query = (select(Certificate.number)
             .join(Application, Application.id == Certificate.application_id)
             .where(Application.county_code == county_code, unprinted())
             .order_by(Certificate.number))
    return list(session.scalars(query.limit(limit) if limit else query))


def next_serial(session: Session, number: str) -> str:
    """The lowest in-stock serial of the county's forms of this certificate's kind
    (OUT_OF_FORMS when none is left). `_take_serial` still checks it under its lock."""
    certificate = session.scalar(select(Certificate).where(Certificate.number == number))
    if certificate is None:
        raise NotFound("证书", "certificate", number)
    county = session.scalar(select(Application.county_code).where(
        Application.id == certificate.application_id))
    serial = session.scalar(select(FormSerial.serial).where(
        FormSerial.county_code == county, FormSerial.kind == certificate.kind,
        FormSerial.state == SerialState.IN_STOCK).order_by(FormSerial.serial).limit(1)
        .with_for_update(skip_locked=True))
    if serial is None:
        raise DomainError("OUT_OF_FORMS", f"空白{certificate.kind.label_zh}已用完",
                          "no blank form of this kind is left in stock",
                          {"county": county, "kind": certificate.kind.name})
    return serial


def void_print(session: Session, actor: Principal, printed: PrintedPaper, reason: str,
               now: datetime) -> None:
    """A print voided with its reason, and the form serial it used (STOCK-1)."""
    printed.voided_at, printed.void_reason = now, reason
    if printed.serial is not None:
        row = session.get(FormSerial, printed.serial, with_for_update=True)
        assert row is not None
        _void_serial_row(row, actor, reason, now)


def void_serial(session: Session, principal: Principal | None, serial: str, reason: str,
                now: datetime, request_id: str | None = None) -> FormSerial:
    """STOCK-1: a spoilt form voided; if a print used it, that print is voided too (the
    certificate must be printed again)."""
    actor = require(principal, *PRINTERS)
    why = _reason(reason, "reason")
    row = session.scalar(select(FormSerial).where(FormSerial.serial == serial)
                         .with_for_update())
    if row is None:
        raise NotFound("印刷序列号", "form serial", serial[:40])
    require_county(actor, row.county_code)
    if row.state is SerialState.VOIDED:
        raise DomainError("SERIAL_NOT_IN_STOCK", "该印刷序列号已作废",
                          "the serial is voided already", {"serial": serial, "state": "VOIDED"})
    printed = session.scalar(select(PrintedPaper).where(
        PrintedPaper.serial == serial, PrintedPaper.voided_at.is_(None)).with_for_update())
    if printed is not None:
        void_print(session, actor, printed, why, now)
    else:
        _void_serial_row(row, actor, why, now)
    audit(session, actor, "voidFormSerial", f"serial:{serial}", request_id,
          {"reason": why, "print": printed.id if printed is not None else None})
    return row


@dataclass(frozen=True)
class BatchStock:
    batch_id: int
    county_code: str
    kind: CertificateKind
    first_serial: str
    received: int
    in_stock: int
    issued: int
    voided: int

    @property
    def balanced(self) -> bool:
        """STOCK-3."""
        return self.received == self.in_stock + self.issued + self.voided


def stock_report(session: Session, principal: Principal | None,
                 county_code: str | None = None) -> list[BatchStock]:
    """STOCK-3: every batch of the county (or the caller's), serials counted by state."""
    actor = require(principal, *PRINTERS, Role.AUDITOR)
    county = county_code or actor.county_code
    if county is not None:
        require_county(actor, county)
    counts = (select(FormSerial.batch_id,
                     func.count().filter(FormSerial.state == SerialState.IN_STOCK).label("s"),
                     func.count().filter(FormSerial.state == SerialState.ISSUED).label("i"),
                     func.count().filter(FormSerial.state == SerialState.VOIDED).label("v"))
              .group_by(FormSerial.batch_id).subquery())
    query = (select(FormBatch, counts.c.s, counts.c.i, counts.c.v)
             .join(counts, counts.c.batch_id == FormBatch.id).order_by(FormBatch.id))
    if county is not None:
        query = query.where(FormBatch.county_code == county)
    return [BatchStock(batch_id=b.id, county_code=b.county_code, kind=b.kind,
                       first_serial=b.first_serial, received=b.count, in_stock=s, issued=i,
                       voided=v) for b, s, i, v in session.execute(query).all()]


def require_printed(session: Session, application_id: int) -> None:
    """PRINT-4: every certificate of the case has a standing print before 缮证/发证."""
    missing = session.scalars(
        select(Certificate.number).where(
            Certificate.application_id == application_id, unprinted())
        .order_by(Certificate.number)).all()
    if missing:
        raise DomainError("NOT_PRINTED", f"证书尚未打印：{missing[0]}",
                          "print the case's certificates before certifying it",
                          {"numbers": list(missing)})


@dataclass(frozen=True)
class PaperCheck:
    """What `registry papers verify` says of a PDF file."""

    signature: SignatureCheck
    number: str | None  # the certificate, when the file is a print of this register
    status: str  # VALID (the standing print), VOIDED, REPLACED, or UNKNOWN (not issued here)
    matches_register: bool | None  # PRINT-5: the register still says what the paper says

    @property
    def ok(self) -> bool:
        return (self.signature.valid and self.status == "VALID"
                and self.matches_register is True)


def print_status(printed: PrintedPaper) -> str:
    if printed.voided_at is None:
        return "VALID"
    return "REPLACED" if printed.replaced_by_id is not None else "VOIDED"


def check_paper(session: Session, pdf: bytes, trusted_cert_pem: bytes) -> PaperCheck:
    """SIGN-2 and PRINT-5: is this file a signed, standing print of the register, and does the
    register still say what it says?"""
    signature = verify_pdf(pdf, trusted_cert_pem)
    printed = session.scalar(select(PrintedPaper).where(
        PrintedPaper.file_sha256 == hashlib.sha256(pdf).hexdigest()))
    if printed is None:
        issued = session.scalar(select(IssuedPaper).where(
            IssuedPaper.file_sha256 == hashlib.sha256(pdf).hexdigest()))
        if issued is None:
            return PaperCheck(signature=signature, number=None, status="UNKNOWN",
                              matches_register=None)
        # An extract or query result says what the register held at its moment (EXTRACT-1).
        from registry.services.register_papers import issued_data  # it imports this module

        return PaperCheck(signature=signature, number=issued.number, status="VALID",
                          matches_register=record_digest(issued_data(session, issued))
                          == issued.record_sha256)
    number = session.scalar(select(Certificate.number).where(
        Certificate.id == printed.certificate_id))
    assert number is not None
    try:
        current = paper_data(session, paper_record(session, number))
        matches = record_digest(current) == printed.record_sha256
    except DomainError:  # voided since, or its parcel lost its geometry
        matches = False
    return PaperCheck(signature=signature, number=number, status=print_status(printed),
                      matches_register=matches)


@dataclass(frozen=True)
class PublicCheck:
    """GET /verify/{number}?code=…: only what the paper itself shows."""

    status: str
    number: str
    title: str
    unit_code: str
    location: str
    holders: list[str]
    printed_on: str


def public_check(session: Session, number: str, code: str) -> PublicCheck:
    """The print of `number` carrying `code` (NOT_FOUND for any other pair: no oracle)."""
    if not _CODE.fullmatch(code.upper()) or len(number) > 64:
        raise NotFound("证书", "paper", number[:64])
    printed = session.scalar(
        select(PrintedPaper).join(Certificate, Certificate.id == PrintedPaper.certificate_id)
        .where(Certificate.number == number, PrintedPaper.verification_code == code.upper()))
    if printed is None:
        return _public_check_issued(session, number, code.upper())
    certificate = session.get(Certificate, printed.certificate_id)
    assert certificate is not None
    right = session.get(Right, certificate.right_id)
    assert right is not None
    unit = session.get(Unit, right.unit_id)
    assert unit is not None
    holders = session.scalars(select(Party.name).join(
        RightHolder, RightHolder.party_id == Party.id).where(
        RightHolder.right_id == right.id).order_by(Party.id)).all()
    return PublicCheck(status=print_status(printed), number=certificate.number,
                       title=certificate.kind.label_zh, unit_code=unit.code,
                       location=unit.location, holders=list(holders),
                       printed_on=local_date(printed.printed_at).isoformat())


def _public_check_issued(session: Session, number: str, code: str) -> PublicCheck:
    """An extract or query result (never voided): its number, kind, unit and date; no
    names, since such a paper may be about a party's holdings."""
    issued = session.scalar(select(IssuedPaper).where(IssuedPaper.number == number,
                                                      IssuedPaper.verification_code == code))
    if issued is None:
        raise NotFound("证书", "paper", number)
    unit = session.get(Unit, issued.unit_id) if issued.unit_id is not None else None
    return PublicCheck(status="VALID", number=issued.number, title=issued.kind.label_zh,
                       unit_code=unit.code if unit else "", location=unit.location if unit else "",
                       holders=[], printed_on=local_date(issued.issued_at).isoformat())
