"""Papers of natural-resource registration, issued like the 不动产登记簿 extract
(registry/services/register_papers.py): the 自然资源登记簿 of a unit, the 首次登记通告 or 登记公告
of a case, and — where the county issues one — the 自然资源所有权证书. What they say is
registry/papers/natural_register.py (NRPAPER-1..6).

Rules enforced here, stated once:
- NRPAPER-7 Each paper is numbered gaplessly per county issuing authority, year and kind
  (`川(2026)南江县自然资源登记簿第0000001号`, `…自然资源所有权第…号`; a notice's number says
  which it is, `…自然资源首次登记通告第…号` or `…自然资源登记公告第…号`, from the one series of
  notices), signed (SIGN-1), stored content-addressed (document_files) and kept as an
  IssuedPaper row (never changed: database triggers) with an audit entry, in the caller's
  transaction. The row names no real-estate unit (`unit_id` NULL); `request` holds
  {"natural_unit_code", "case", …} and `purpose` is always given. A refusal stores nothing and
  takes no number.
- NRPAPER-8 Issued by a clerk or registrar of the unit's (the case's) county (ACCESS-2).
- NRPAPER-9 The register (and the certificate) of a unit no entry names is refused
  (`NR_UNIT_NOT_RECORDED`); a register states its purpose (2–200 characters,
  `PURPOSE_REQUIRED`).
- NRPAPER-10 A case's notice is its 首次登记通告 while the case is noticed, surveyed or reviewed
  (a first registration past its 通告), its 登记公告 once published (and after recording, while
  the 公告 it ran stands); otherwise `NR_NOTICE_NOT_ISSUED`. An unknown case:
  `NR_CASE_NOT_FOUND`.
- NRPAPER-11 The certificate is optional: only counties listed in
  NATURAL_RESOURCE_CERTIFICATE_COUNTIES issue one (`NR_CERTIFICATE_NOT_ISSUED`), and only for
  a unit whose current version is registered (`NR_UNIT_NOT_REGISTERED`: predelimited or
  cancelled).
- NRPAPER-12 What a paper says (its digest, PRINT-5) is rebuilt by `natural_issued_data` from
  the register as of the paper's moment and the case it names; the map is left out of it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.access import User
from registry.db.natural_resources import (
    NaturalCase,
    NaturalCaseKind,
    NaturalCaseState,
    NaturalOwnership,
    NaturalUnit,
    NaturalUnitStatus,
)
from registry.db.papers import IssuedPaper, IssuedPaperKind
from registry.db.register import IssuingAuthority
from registry.papers.natural_register import (
    certificate_fields,
    map_data,
    notice_pages,
    notice_unit,
    register_pages,
    unit_map,
)
from registry.papers.render import qr_svg
from registry.papers.signing import sign_pdf
from registry.papers.typeset import typesetter
from registry.services.access import Principal, audit, require, require_county
from registry.services.documents import store_content
from registry.services.errors import DomainError, InvalidInput, NotFound
from registry.services.natural_resources.procedure import ownership_record
from registry.services.numbers import next_number
from registry.services.papers import (
    PRINTERS,
    PrintSetup,
    record_digest,
    verification_code,
    verify_url,
)
from registry.services.registration.certificates import issuing_authority
from registry.services.timezone import local_date

TEMPLATE = {IssuedPaperKind.NATURAL_REGISTER: "natural_register",
            IssuedPaperKind.NATURAL_NOTICE: "natural_notice",
            IssuedPaperKind.NATURAL_CERTIFICATE: "natural_certificate"}
NOTICE_TITLE = {False: "自然资源首次登记通告", True: "自然资源登记公告"}
NUMBER_WORD = {IssuedPaperKind.NATURAL_REGISTER: "自然资源登记簿",
               IssuedPaperKind.NATURAL_CERTIFICATE: "自然资源所有权"}
# NRPAPER-10
NOTICED = (NaturalCaseState.NOTICED, NaturalCaseState.SURVEYED, NaturalCaseState.REVIEWED)
ANNOUNCED = (NaturalCaseState.PUBLISHED, NaturalCaseState.RECORDED)
NOTICE_PURPOSE = {False: "首次登记通告", True: "登记公告"}
CERTIFICATE_PURPOSE = "颁发自然资源所有权证书"


def certificate_counties(setting: str) -> frozenset[str]:
    """NATURAL_RESOURCE_CERTIFICATE_COUNTIES as a set of county codes."""
    return frozenset(c.strip() for c in setting.split(",") if c.strip())


def _number(session: Session, authority: IssuingAuthority, kind: IssuedPaperKind, word: str,
            now: datetime) -> str:
    """NRPAPER-7: the next number of the county's series of this kind for this year."""
    year = local_date(now).year
    serial = next_number(session, f"{kind.value}:{authority.name}:{year}")
    return f"{authority.province}({year}){authority.name}{word}第{serial:07d}号"


def _purpose(text: str) -> str:
    cleaned = " ".join(text.split())
    if not 2 <= len(cleaned) <= 200:
        raise InvalidInput("PURPOSE_REQUIRED", "须填写查询目的（2至200字）",
                           "a register paper states its purpose (2 to 200 characters)",
                           field="purpose")
    return cleaned


def _current_unit(session: Session, actor: Principal, code: str) -> NaturalUnit:
    code = code.strip().upper()
    unit = session.scalar(select(NaturalUnit).where(NaturalUnit.code == code,
                                                    NaturalUnit.ended_at.is_(None)))
    if unit is None:
        raise NotFound("自然资源登记单元", "natural-resource unit", code[:40])
    require_county(actor, unit.county_code)
    return unit


def _case(session: Session, actor: Principal, number: str) -> NaturalCase:
    case = session.scalar(select(NaturalCase).where(NaturalCase.number == number.strip()))
    if case is None:
        raise DomainError("NR_CASE_NOT_FOUND", f"自然资源登记业务不存在：{number[:40]}",
                          f"no natural-resource case {number[:40]}", {"number": number[:40]})
    require_county(actor, case.county_code)
    return case


def _without_map(data: dict[str, Any]) -> dict[str, Any]:
    """NRPAPER-12: what the paper says, the drawing left out."""
    return {k: v for k, v in data.items() if k not in ("map", "print")}


def _issue(session: Session, actor: Principal, setup: PrintSetup, kind: IssuedPaperKind,
           word: str, title: str, said: dict[str, Any], printed: dict[str, Any], *,
           county_code: str, as_of: datetime, purpose: str, now: datetime,
           drawing: Any, request_id: str | None) -> IssuedPaper:
    """Number, typeset, sign and store a paper; its row and audit entry in the caller's
    transaction (NRPAPER-7). `said` is what the register says (rebuilt by
    `natural_issued_data`), `printed` the rest of the page, kept in `request`; `drawing`
    makes the map, given the clerk's name (None: no map)."""
    key = setup.require_key()
    authority = issuing_authority(session, county_code)
    number = _number(session, authority, kind, word, now)
    code = verification_code()
    clerk = session.get(User, actor.user_id)
    clerk_name = clerk.display_name if clerk else actor.username
    day = local_date(now)
    printed = {**printed, "title": title, "number": number,
               "authority": f"{authority.name}自然资源登记机构",
               "issued_on": f"{day.year}年{day.month}月{day.day}日", "clerk": clerk_name}
    data = {**said, **printed}
    digest = record_digest(_without_map(data))
    if drawing is not None:
        data["map"] = drawing(clerk_name)
    data["print"] = {"serial": "", "code": code,
                     "qr_svg": qr_svg(verify_url(setup.verify_base_url, number, code))}
    pdf = sign_pdf(typesetter().pdf(TEMPLATE[kind], data, created=now), key,
                   reason=kind.label_zh, signed_at=now.replace(microsecond=0))
    stored = store_content(session, setup.store, setup.documents, pdf, now)
    paper = IssuedPaper(kind=kind, number=number, county_code=county_code, unit_id=None,
                        party_id=None, as_of=as_of, purpose=purpose, request=printed,
                        file_sha256=stored.sha256, verification_code=code,
                        record_sha256=digest, issued_at=now, issued_by=actor.user_id)
    session.add(paper)
    session.flush()
    audit(session, actor, f"issue:{kind.value}", f"paper:{number}", request_id,
          {"sha256": stored.sha256, "naturalUnit": printed.get("natural_unit_code"),
           "case": printed.get("case"), "asOf": as_of.isoformat(), "purpose": purpose})
    return paper


# ------------------------------------------------------------------------------ papers


def _register_said(session: Session, code: str, at: datetime) -> dict[str, Any]:
    pages = register_pages(session, code, at)
    if pages is None:
        raise DomainError("NR_UNIT_NOT_RECORDED", f"登记单元{code}尚未登簿，无登记簿可出具",
                          f"unit {code} has not been recorded: it has no register",
                          {"unit": code})
    return {"register": pages}


def issue_natural_register(session: Session, principal: Principal | None, setup: PrintSetup,
                           unit_code: str, now: datetime, purpose: str,
                           request_id: str | None = None) -> IssuedPaper:
    """NRPAPER-1/2/9: every page of the unit's 自然资源登记簿 as recorded by now, with its map;
    numbered, signed, stored."""
    actor = require(principal, *PRINTERS)
    why = _purpose(purpose)
    unit = _current_unit(session, actor, unit_code)
    said = _register_said(session, unit.code, now)
    day = local_date(now)
    return _issue(session, actor, setup, IssuedPaperKind.NATURAL_REGISTER,
                  NUMBER_WORD[IssuedPaperKind.NATURAL_REGISTER],
                  IssuedPaperKind.NATURAL_REGISTER.label_zh, said,
                  {"natural_unit_code": unit.code, "case": said["register"]["case"],
                   "purpose": why},
                  county_code=unit.county_code, as_of=now, purpose=why, now=now,
                  drawing=lambda clerk: map_data(unit_map(session, unit.code, day), day, clerk),
                  request_id=request_id)


def _ownership_of_case(session: Session, case: NaturalCase) -> dict[str, Any] | None:
    """What a 公告 shows as 权属状况: the ownership the case proposes, else the standing one."""
    proposed = case.proposed.get("ownership")
    if proposed is not None:
        return dict(proposed)
    if case.kind is NaturalCaseKind.CANCELLATION:
        return None
    return ownership_record(session.scalar(select(NaturalOwnership).where(
        NaturalOwnership.unit_code == case.unit_code, NaturalOwnership.ended_at.is_(None))))


def _announcement(case: NaturalCase) -> bool:
    """NRPAPER-10: True for a 公告, False for a 通告; NR_NOTICE_NOT_ISSUED for neither."""
    if case.state in ANNOUNCED and case.notice_published_on is not None \
            and case.notice_ends_on is not None:
        return True
    if case.kind is NaturalCaseKind.FIRST and case.state in NOTICED:
        return False
    raise DomainError("NR_NOTICE_NOT_ISSUED", f"业务{case.number}尚未发布通告或公告",
                      f"case {case.number} has neither a notice nor a publication yet",
                      {"case": case.number, "state": case.state.name})


def _notice_said(session: Session, case: NaturalCase, announcement: bool) -> dict[str, Any]:
    return {"notice": notice_pages(session, case, announcement,
                                   _ownership_of_case(session, case) if announcement else None)}


def issue_natural_notice(session: Session, principal: Principal | None, setup: PrintSetup,
                         case_number: str, now: datetime,
                         request_id: str | None = None) -> IssuedPaper:
    """NRPAPER-5/10: the case's 首次登记通告 or 登记公告 (with the unit's map); numbered, signed,
    stored."""
    actor = require(principal, *PRINTERS)
    case = _case(session, actor, case_number)
    announcement = _announcement(case)
    said = _notice_said(session, case, announcement)
    day = local_date(now)
    drawing = None
    if announcement:
        proposed = notice_unit(session, case)["geometry"]

        def drawing(clerk: str) -> dict[str, Any]:
            return map_data(unit_map(session, case.unit_code, day, proposed=proposed), day,
                            clerk)
    title = NOTICE_TITLE[announcement]
    return _issue(session, actor, setup, IssuedPaperKind.NATURAL_NOTICE,
                  title, title, said,
                  {"natural_unit_code": case.unit_code, "case": case.number,
                   "announcement": announcement},
                  county_code=case.county_code, as_of=now, purpose=NOTICE_PURPOSE[announcement],
                  now=now, drawing=drawing, request_id=request_id)


def issue_natural_certificate(session: Session, principal: Principal | None,
                              setup: PrintSetup, unit_code: str, now: datetime,
                              counties: Collection[str],
                              request_id: str | None = None) -> IssuedPaper:
    """NRPAPER-6/11: the 自然资源所有权证书 of a recorded, registered unit, in a county that
    issues them (`counties`: NATURAL_RESOURCE_CERTIFICATE_COUNTIES)."""
    actor = require(principal, *PRINTERS)
    unit = _current_unit(session, actor, unit_code)
    if unit.county_code not in counties:
        raise DomainError("NR_CERTIFICATE_NOT_ISSUED",
                          "本县不颁发自然资源所有权证书，以登记簿为准",
                          f"county {unit.county_code} issues no natural-resource ownership "
                          "certificates (NATURAL_RESOURCE_CERTIFICATE_COUNTIES)",
                          {"county": unit.county_code})
    said = {"certificate": certificate_fields(session, unit.code, now)}
    if unit.status is not NaturalUnitStatus.REGISTERED:
        raise DomainError("NR_UNIT_NOT_REGISTERED", f"登记单元{unit.code}未登簿或已注销",
                          f"unit {unit.code} is not registered", {"status": unit.status.value})
    return _issue(session, actor, setup, IssuedPaperKind.NATURAL_CERTIFICATE,
                  NUMBER_WORD[IssuedPaperKind.NATURAL_CERTIFICATE],
                  IssuedPaperKind.NATURAL_CERTIFICATE.label_zh, said,
                  {"natural_unit_code": unit.code,
                   "case": said["certificate"]["case"]},
                  county_code=unit.county_code, as_of=now, purpose=CERTIFICATE_PURPOSE, now=now,
                  drawing=None, request_id=request_id)


def natural_issued_data(session: Session, paper: IssuedPaper) -> dict[str, Any]:
    """NRPAPER-12: what an issued natural-resource paper says, rebuilt from the register as of
    its moment (and its case): `record_digest` of it is the paper's `record_sha256` while the
    register and the case keep what they said."""
    printed = paper.request
    code = str(printed["natural_unit_code"])
    if paper.kind is IssuedPaperKind.NATURAL_REGISTER:
        said = _register_said(session, code, paper.as_of)
    elif paper.kind is IssuedPaperKind.NATURAL_CERTIFICATE:
        said = {"certificate": certificate_fields(session, code, paper.as_of)}
    else:
        case = session.scalar(select(NaturalCase).where(NaturalCase.number == printed["case"]))
        assert case is not None
        said = _notice_said(session, case, bool(printed["announcement"]))
    return _without_map({**said, **printed})
