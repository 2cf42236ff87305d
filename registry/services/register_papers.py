"""Papers read from the register and handed out: the 登记簿 extract of a unit as of a date
(EXTRACT-1/2 in registry/papers/extract.py) and the query result certificate (查询结果证明,
QUERY-1 in registry/papers/query_result.py). Both are signed and stored like certificate prints
(SIGN-1, PRINT-3); neither changes the register.

Rules enforced here, stated once:
- QUERY-2 A query names its purpose (查询目的, 2–200 characters) and who asks: name, ID and
  kind (HOLDER 权利人 / INTERESTED 利害关系人 / AUTHORITY 国家机关). A HOLDER must hold the
  standing title of the unit asked about, or be the party asked about (REQUESTER_NOT_HOLDER);
  a query by a party's name is for the party itself or an authority (QUERY_NOT_ALLOWED for
  an interested party) [likely: 暂行办法 §§14–21].
- QUERY-3 Extracts and query results are numbered gaplessly per county authority, year and
  kind (`川(2026)平昌县不动产登记查询第0000001号`, `…不动产登记簿第…号`); the number, who asked
  (ID masked), why and what about go into the audit log in the paper's transaction. An issued
  paper is never changed or deleted (database triggers).
- QUERY-4 A party query covers the issuing county's register; a party the register does not
  know, or who holds nothing there, gets a certificate that says so (proof of no property).
- EXTRACT-3 An extract's date is today or earlier (BAD_AS_OF); the register as of a future day
  is not known.
- Issued by a clerk or registrar of the county (the unit's, or the caller's for a party); a
  refusal stores nothing and takes no number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import IdType
from registry.db.access import User
from registry.db.papers import IssuedPaper, IssuedPaperKind
from registry.db.parties import Party
from registry.db.register import IssuingAuthority
from registry.db.rights import RightHolder, RightKind
from registry.db.units import Unit
from registry.papers.extract import moment, register_pages, rights_as_of
from registry.papers.query_result import RequesterKind, held_units, unit_result
from registry.papers.render import qr_svg
from registry.papers.signing import sign_pdf
from registry.papers.typeset import typesetter
from registry.services.access import Principal, audit, require, require_county
from registry.services.codes import parse_party_id
from registry.services.documents import store_content
from registry.services.errors import DomainError, InvalidInput, NotFound
from registry.services.numbers import next_number
from registry.services.papers import (
    PRINTERS,
    PrintSetup,
    record_digest,
    verification_code,
    verify_url,
)
from registry.services.pii import mask_id_number
from registry.services.registration.certificates import issuing_authority
from registry.services.timezone import end_of_day, local_date

TEMPLATE = {IssuedPaperKind.REGISTER_EXTRACT: "extract",
            IssuedPaperKind.QUERY_RESULT: "query_result"}
NUMBER_WORD = {IssuedPaperKind.REGISTER_EXTRACT: "不动产登记簿",
               IssuedPaperKind.QUERY_RESULT: "不动产登记查询"}


@dataclass(frozen=True)
class Requester:
    """Who asks (查询人)."""

    name: str
    id_type: IdType
    id_number: str
    kind: RequesterKind


@dataclass(frozen=True)
class PartySubject:
    """A query by a party's name and ID (以权利人查询)."""

    name: str
    id_type: IdType
    id_number: str


@dataclass(frozen=True)
class QueryRequest:
    """QUERY-2: what is asked about (a unit, or a party), by whom and why."""

    requester: Requester
    purpose: str
    unit_code: str | None = None
    party: PartySubject | None = None


def _number(session: Session, authority: IssuingAuthority, kind: IssuedPaperKind,
            now: datetime) -> str:
    """QUERY-3: the next number of the county's series of this kind for this year."""
    year = local_date(now).year
    serial = next_number(session, f"{kind.value}:{authority.name}:{year}")
    return f"{authority.province}({year}){authority.name}{NUMBER_WORD[kind]}第{serial:07d}号"


def _unit(session: Session, actor: Principal, code: str) -> Unit:
    unit = session.scalar(select(Unit).where(Unit.code == code.strip()))
    if unit is None:
        raise NotFound("不动产单元", "unit", code[:40])
    require_county(actor, unit.county_code)
    return unit


def _issue(session: Session, actor: Principal, setup: PrintSetup, kind: IssuedPaperKind,
           said: dict[str, Any], printed: dict[str, Any], *, county_code: str,
           unit: Unit | None, party: Party | None, as_of: datetime, purpose: str | None,
           now: datetime, request_id: str | None) -> IssuedPaper:
    """Number, typeset, sign and store a paper; its row and audit entry in the caller's
    transaction (QUERY-3). `said` is what the register says (rebuilt by `issued_data` to
    check the paper later); `printed` the rest of the page (who asked, why), kept in
    `request` as printed."""
    key = setup.require_key()
    authority = issuing_authority(session, county_code)
    number = _number(session, authority, kind, now)
    code = verification_code()
    clerk = session.get(User, actor.user_id)
    day = local_date(now)
    printed = {**printed, "title": kind.label_zh, "number": number,
               "authority": f"{authority.name}不动产登记机构",
               "issued_on": f"{day.year}年{day.month}月{day.day}日",
               "clerk": clerk.display_name if clerk else actor.username}
    data = {**said, **printed}
    digest = record_digest(data)
    qr = qr_svg(verify_url(setup.verify_base_url, number, code))
    data["print"] = {"serial": "", "code": code, "qr_svg": qr}
    pdf = sign_pdf(typesetter().pdf(TEMPLATE[kind], data, created=now), key,
                   signed_at=now.replace(microsecond=0))
    stored = store_content(session, setup.store, setup.documents, pdf, now)
    paper = IssuedPaper(kind=kind, number=number, county_code=county_code,
                        unit_id=unit.id if unit else None, party_id=party.id if party else None,
                        as_of=as_of, purpose=purpose, request=printed,
                        file_sha256=stored.sha256, verification_code=code,
                        record_sha256=digest, issued_at=now, issued_by=actor.user_id)
    session.add(paper)
    session.flush()
    audit(session, actor, f"issue:{kind.value}", f"paper:{number}", request_id,
          {"sha256": stored.sha256, "unit": unit.code if unit else None,
           "asOf": as_of.isoformat(), **{k: v for k, v in printed.items()
                                         if k in ("requester", "subject")}})
    return paper


NATURAL_KINDS = frozenset({IssuedPaperKind.NATURAL_REGISTER, IssuedPaperKind.NATURAL_NOTICE,
                           IssuedPaperKind.NATURAL_CERTIFICATE})


def issued_data(session: Session, paper: IssuedPaper) -> dict[str, Any]:
    """What an issued paper says, rebuilt from the register as of its moment (EXTRACT-1) and
    what it printed of the request: its digest is the paper's `record_sha256` while the
    register keeps its history (PRINT-5 for these papers)."""
    if paper.kind in NATURAL_KINDS:  # natural-resource papers (NRPAPER-*)
        from registry.services.natural_resources.papers import natural_issued_data

        return natural_issued_data(session, paper)
    printed = paper.request
    unit = session.get(Unit, paper.unit_id) if paper.unit_id is not None else None
    if paper.kind is IssuedPaperKind.REGISTER_EXTRACT:
        assert unit is not None
        said = extract_data(session, unit, paper.as_of)
    else:
        told = RequesterKind(printed["told"])
        subject: Unit | Party | None = unit if unit is not None else (
            session.get(Party, paper.party_id) if paper.party_id is not None else None)
        said = query_data(session, subject, unit is None, paper.county_code, paper.as_of,
                          told)
    return {**said, **printed}


def extract_data(session: Session, unit: Unit, at: datetime) -> dict[str, Any]:
    """What an extract's template reads, before numbering (EXTRACT-1/2)."""
    return {"register": register_pages(session, unit, at)}


def print_register_extract(session: Session, principal: Principal | None, setup: PrintSetup,
                           unit_code: str, as_of: date | None, now: datetime,
                           request_id: str | None = None) -> IssuedPaper:
    """EXTRACT-1..3: every page of the unit's register, as of the end of `as_of` (China time;
    today when None), signed and stored."""
    actor = require(principal, *PRINTERS)
    today = local_date(now)
    if as_of is not None and as_of > today:
        raise InvalidInput("BAD_AS_OF", "查询日期不能晚于今天", "asOf is today or earlier",
                           field="asOf", asOf=as_of.isoformat())
    unit = _unit(session, actor, unit_code)
    at = now if as_of is None or as_of == today else end_of_day(as_of)
    return _issue(session, actor, setup, IssuedPaperKind.REGISTER_EXTRACT,
                  extract_data(session, unit, at), {}, county_code=unit.county_code,
                  unit=unit, party=None, as_of=at, purpose=None, now=now,
                  request_id=request_id)


def _purpose(text: str) -> str:
    cleaned = " ".join(text.split())
    if not 2 <= len(cleaned) <= 200:
        raise InvalidInput("PURPOSE_REQUIRED", "须填写查询目的（2至200字）",
                           "a query states its purpose (2 to 200 characters)", field="purpose")
    return cleaned


def _requester(requester: Requester, today: date) -> tuple[str, str]:
    name = " ".join(requester.name.split())
    if not name or len(name) > 128:
        raise InvalidInput("INVALID_NAME", "查询人姓名/名称不能为空，且不超过128字",
                           "the requester's name is required (at most 128 characters)",
                           field="requester.name")
    return name, parse_party_id(requester.id_type, requester.id_number, today).number


def query_data(session: Session, subject: Unit | Party | None, by_party: bool,
               county_code: str, at: datetime, told: RequesterKind) -> dict[str, Any]:
    """QUERY-1/4: what the register says at `at` of a unit, or of what a party (None: one
    the register does not know) holds in the county, to a requester of kind `told`."""
    if not by_party:
        assert isinstance(subject, Unit)
        return {"units": [unit_result(session, subject, at, told)], "as_of": moment(at)}
    assert subject is None or isinstance(subject, Party)
    units = held_units(session, subject.id if subject else None, county_code, at)
    return {"units": [unit_result(session, u, at, told) for u in units], "as_of": moment(at)}


def print_query_result(session: Session, principal: Principal | None, setup: PrintSetup,
                       query: QueryRequest, now: datetime,
                       request_id: str | None = None) -> IssuedPaper:
    """QUERY-1..4: the register's answer to `query` at this moment, signed and stored."""
    actor = require(principal, *PRINTERS)
    today = local_date(now)
    purpose = _purpose(query.purpose)
    name, requester_id = _requester(query.requester, today)
    told = query.requester.kind
    if (query.unit_code is None) == (query.party is None):
        raise InvalidInput("SUBJECT_REQUIRED", "须指明查询的不动产单元或权利人（二者之一）",
                           "name either a unit or a party to query")
    unit: Unit | None = None
    party: Party | None = None
    if query.unit_code is not None:
        unit = _unit(session, actor, query.unit_code)
        county = unit.county_code
        subject_rows = [["查询对象", "不动产单元"], ["不动产单元号", unit.code]]
        if told is RequesterKind.HOLDER:
            _require_holder(session, unit, query.requester.id_type, requester_id, now)
    else:
        assert query.party is not None
        county = actor.county_code or ""
        if not county:
            raise InvalidInput("COUNTY_REQUIRED", "须指明县区", "name the county of the query")
        if told is RequesterKind.INTERESTED:
            raise DomainError("QUERY_NOT_ALLOWED", "利害关系人不能以权利人姓名（名称）查询",
                              "an interested party may not query by a person's name")
        asked_number = parse_party_id(query.party.id_type, query.party.id_number, today).number
        asked = PartySubject(name=" ".join(query.party.name.split()),
                             id_type=query.party.id_type, id_number=asked_number)
        if told is RequesterKind.HOLDER and (query.requester.id_type, requester_id) != (
                asked.id_type, asked.id_number):
            raise DomainError("REQUESTER_NOT_HOLDER", "权利人只能查询本人名下的不动产",
                              "a holder may query only their own name")
        party = session.scalar(select(Party).where(Party.id_type == asked.id_type,
                                                   Party.id_number == asked.id_number))
        subject_rows = [["查询对象", "权利人"], ["姓名（名称）", asked.name],
                        ["证件号码", mask_id_number(asked.id_type, asked.id_number)]]
    said = query_data(session, unit if unit is not None else party, unit is None, county, now,
                      told)
    printed = {"subject": subject_rows, "told": told.value,
               "requester": [["查询人", name],
                             ["证件号码", mask_id_number(query.requester.id_type, requester_id)],
                             ["查询人类别", told.label_zh], ["查询目的", purpose]]}
    return _issue(session, actor, setup, IssuedPaperKind.QUERY_RESULT, said, printed,
                  county_code=county, unit=unit, party=party, as_of=now, purpose=purpose,
                  now=now, request_id=request_id)


def _require_holder(session: Session, unit: Unit, id_type: IdType, id_number: str,
                    at: datetime) -> None:
    """QUERY-2: the requester holds the unit's standing title."""
    title = next((r for r in rights_as_of(session, unit.id, at)
                  if r.standing and r.right.kind is RightKind.TITLE), None)
    holder_ids = set() if title is None else set(session.scalars(
        select(Party.id).join(RightHolder, RightHolder.party_id == Party.id).where(
            RightHolder.right_id == title.right.id, Party.id_type == id_type,
            Party.id_number == id_number)))
    if not holder_ids:
        raise DomainError("REQUESTER_NOT_HOLDER", "查询人不是该不动产的权利人",
                          "the requester does not hold this unit's title",
                          {"unit": unit.code})


def sample_pdfs(session: Session, unit_code: str, now: datetime) -> dict[str, bytes]:
    """An extract and a query result of `unit_code` as of now, typeset but not numbered,
    signed or stored (`registry papers print --demo-sample`: to look at the templates)."""
    unit = session.scalar(select(Unit).where(Unit.code == unit_code))
    assert unit is not None
    authority = issuing_authority(session, unit.county_code)
    day = local_date(now)
    common = {"number": "（样本）", "authority": f"{authority.name}不动产登记机构",
              "issued_on": f"{day.year}年{day.month}月{day.day}日", "clerk": "（样本）",
              "print": dict(serial="", code="", qr_svg="")}  # not signed: no code
    told = RequesterKind.AUTHORITY
    query = {**query_data(session, unit, False, unit.county_code, now, told), **common,
             "title": IssuedPaperKind.QUERY_RESULT.label_zh,
             "subject": [["查询对象", "不动产单元"], ["不动产单元号", unit.code]],
             "requester": [["查询人", "（样本）"], ["查询人类别", told.label_zh],
                           ["查询目的", "（样本）"]]}
    extract = {**extract_data(session, unit, now), **common,
               "title": IssuedPaperKind.REGISTER_EXTRACT.label_zh}
    return {"register-extract": typesetter().pdf("extract", extract, created=now),
            "query-result": typesetter().pdf("query_result", query, created=now)}
