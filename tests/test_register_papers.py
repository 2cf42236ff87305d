"""Register extracts and query result certificates (EXTRACT-1..3, QUERY-1..4): a house is
registered, mortgaged, released and sold over a month; the clerk prints its register as of
any day of that month, and answers the owner's, a buyer's and a court's queries. Each paper is
read back as text; refusals change nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from registry.db.access import AuditEntry
from registry.runtime import Runtime
from registry.services.papers import check_paper
from tests.bureau import Bureau, organisation, person, resident_id
from tests.clock import Clock
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_papers import text_of, unembedded_fonts
from tests.test_papers_print import download

SELLER_ID = resident_id("511923", "19700505", 11)
BUYER_ID = resident_id("511923", "19851111", 12)
ASKER_ID = resident_id("511902", "19900101", 13)


@pytest.fixture
def month(runtime: Runtime, pingchang: Bureau) -> dict[str, Any]:
    """March 2026 of one house: titled on the 2nd, mortgaged on the 9th, released on the
    16th, sold on the 23rd (times 09:30 China time)."""
    runtime.clock = clock = Clock(datetime(2026, 3, 2, 1, 30, tzinfo=UTC))
    house = pingchang.rural_house()
    code = house["code"]
    first = pingchang.register("FIRST", [code], holders=[{"party": person("王建国", SELLER_ID)}],
                               rightType=6, rightNature=203)
    clock.advance(days=7)
    mortgage = pingchang.register("MORTGAGE", [code],
                                  holders=[{"party": organisation("巴中农村商业银行")}],
                                  amount="200000.00", termStart="2026-03-09",
                                  termEnd="2031-03-09")
    mortgage_right = next(r for r in pingchang.unit(code)["rights"] if r["kind"] == "MORTGAGE")
    clock.advance(days=7)
    release = pingchang.register("MORTGAGE_CANCELLATION", [code],
                                 targetRightId=mortgage_right["id"])
    clock.advance(days=7)
    sale = pingchang.register("TRANSFER", [code], holders=[{"party": person("李梅", BUYER_ID)}])
    clock.advance(days=3)
    return {"code": code, "first": first, "mortgage": mortgage, "release": release,
            "sale": sale, "clock": clock}


def extract(bureau: Bureau, code: str, as_of: str | None = None) -> dict[str, Any]:
    return bureau.gql.data(operation("PrintRegisterExtract"), {"unitCode": code, "asOf": as_of},
                           bureau.registrar)["printRegisterExtract"]


def query(bureau: Bureau, **input: Any) -> dict[str, Any]:
    return bureau.gql.data(operation("PrintQueryResult"), {"input": input},
                           bureau.clerk)["printQueryResult"]


def asker(kind: str, name: str = "赵六", number: str = ASKER_ID) -> dict[str, str]:
    return {"name": name, "idType": "RESIDENT_ID", "idNumber": number, "kind": kind}


def test_the_register_of_a_house_as_of_each_day(
        client: TestClient, pingchang: Bureau, month: dict[str, Any], runtime: Runtime,
        signing_key_files: tuple[Path, Path], tmp_path: Path) -> None:
    code = month["code"]
    today = extract(pingchang, code)
    assert today["kind"] == "REGISTER_EXTRACT" and today["unitCode"] == code
    assert today["number"] == "川(2026)平昌县不动产登记簿第0000001号"
    pdf = download(client, today["path"], pingchang.registrar)
    assert hashlib.sha256(pdf).hexdigest() == today["sha256"]
    assert unembedded_fonts(pdf, tmp_path) == []
    whole = "".join(text_of(pdf))
    for page in ("宗地基本信息", "不动产单元基本信息", "所有权/使用权登记信息", "抵押权登记信息",
                 "登记簿记载"):
        assert page in whole, page
    for value in ("王建国", "李梅", "巴中农村商业银行", "200,000.00元", "转移登记", "首次登记",
                  "抵押权首次登记", "抵押权注销登记", month["first"]["number"],
                  month["sale"]["number"], month["release"]["number"],
                  month["sale"]["certificates"][0]["number"], "历史", "现势", "终止"):
        assert value in whole, value
    # PII-2: an extract is a read of the register, so ID numbers are masked.
    assert SELLER_ID not in whole and BUYER_ID not in whole
    assert SELLER_ID[:6] + "********" + SELLER_ID[-4:] in whole

    # As of the 10th: 王建国 holds it, the mortgage stands, the sale is not yet known.
    tenth = "".join(text_of(download(client, extract(pingchang, code, "2026-03-10")["path"],
                                     pingchang.registrar)))
    assert "王建国" in tenth and "巴中农村商业银行" in tenth
    assert "李梅" not in tenth and month["sale"]["number"] not in tenth
    assert month["release"]["number"] not in tenth and "终止" not in tenth
    assert "2026-03-1023:59:59" in tenth
    # As of the 1st the unit had no right yet: the natural state only.
    first = "".join(text_of(download(client, extract(pingchang, code, "2026-03-01")["path"],
                                     pingchang.registrar)))
    assert "宗地基本信息" in first and "所有权/使用权登记信息" not in first
    assert "尚无登记记载" in first

    # The extract is signed and checks against the register, which still says what it said.
    with runtime.readers() as session:
        check = check_paper(session, pdf, signing_key_files[1].read_bytes())
    assert check.ok and check.number == today["number"], check
    public = client.get(f"/verify/{quote(today['number'], safe='')}",
                        params={"code": today["verificationCode"]})
    assert public.status_code == 200 and public.json()["status"] == "VALID"
    assert public.json()["holders"] == [] and public.json()["unitCode"] == code


def test_queries_tell_each_requester_what_the_law_allows(
        client: TestClient, pingchang: Bureau, month: dict[str, Any],
        runtime: Runtime) -> None:
    code = month["code"]
    # The owner asks about her own house: everything, her ID masked.
    own = query(pingchang, unitCode=code, purpose="办理贷款",
                requester=asker("HOLDER", "李梅", BUYER_ID))
    assert own["number"] == "川(2026)平昌县不动产登记查询第0000001号"
    assert own["purpose"] == "办理贷款"
    page = "".join(text_of(download(client, own["path"], pingchang.clerk)))
    for value in ("不动产登记查询结果证明", own["number"], "李梅", "权利人", "办理贷款", code,
                  "已登记", month["sale"]["certificates"][0]["number"], "限制及他项权利"):
        assert value in page, value
    assert BUYER_ID not in page and "王建国" not in page  # the register now, not its history

    # A buyer (利害关系人) learns the natural state and whether restrictions stand: no names.
    buyer = query(pingchang, unitCode=code, purpose="购房前查询",
                  requester=asker("INTERESTED"))
    told = "".join(text_of(download(client, buyer["path"], pingchang.clerk)))
    assert "是否存在抵押否" in told and "是否存在查封否" in told and "是否共有否" in told
    assert "李梅" not in told and month["sale"]["certificates"][0]["number"] not in told

    # A court asks what 王建国 holds: nothing any more (sold on the 23rd).
    court = query(pingchang, party={"name": "王建国", "idType": "RESIDENT_ID",
                                    "idNumber": SELLER_ID},
                  purpose="执行案件财产调查", requester=asker("AUTHORITY", "平昌县人民法院"))
    none = "".join(text_of(download(client, court["path"], pingchang.clerk)))
    assert "未记载该权利人名下的不动产权利" in none and court["unitCode"] is None
    # … and what 李梅 holds: this house.
    held = query(pingchang, party={"name": "李梅", "idType": "RESIDENT_ID",
                                   "idNumber": BUYER_ID},
                 purpose="执行案件财产调查", requester=asker("AUTHORITY", "平昌县人民法院"))
    assert code in "".join(text_of(download(client, held["path"], pingchang.clerk)))
    assert held["number"].endswith("第0000004号")

    # QUERY-3: each query is in the audit log, with who asked and why, the ID masked.
    with runtime.readers() as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.operation == "issue:query_result").order_by(AuditEntry.id)).all()
    assert [e.target for e in entries] == [f"paper:{p['number']}"
                                           for p in (own, buyer, court, held)]
    assert ["查询目的", "办理贷款"] in entries[0].details["requester"]
    assert all(BUYER_ID not in str(e.details) and ASKER_ID not in str(e.details)
               for e in entries)


REFUSALS = [
    ("a requester who does not hold the unit, as HOLDER", "REQUESTER_NOT_HOLDER",
     lambda code: {"unitCode": code, "purpose": "查询", "requester": asker("HOLDER")}),
    ("no purpose", "PURPOSE_REQUIRED",
     lambda code: {"unitCode": code, "purpose": " ", "requester": asker("INTERESTED")}),
    ("neither unit nor party", "SUBJECT_REQUIRED",
     lambda code: {"purpose": "查询", "requester": asker("AUTHORITY")}),
    ("both unit and party", "SUBJECT_REQUIRED",
     lambda code: {"unitCode": code, "purpose": "查询", "requester": asker("AUTHORITY"),
                   "party": {"name": "李梅", "idType": "RESIDENT_ID", "idNumber": BUYER_ID}}),
    ("an interested party asking by a person's name", "QUERY_NOT_ALLOWED",
     lambda code: {"purpose": "查询", "requester": asker("INTERESTED"),
                   "party": {"name": "李梅", "idType": "RESIDENT_ID", "idNumber": BUYER_ID}}),
    ("a holder asking about someone else", "REQUESTER_NOT_HOLDER",
     lambda code: {"purpose": "查询", "requester": asker("HOLDER"),
                   "party": {"name": "李梅", "idType": "RESIDENT_ID", "idNumber": BUYER_ID}}),
    ("a malformed requester ID", "INVALID_ID_NUMBER",
     lambda code: {"unitCode": code, "purpose": "查询",
                   "requester": asker("INTERESTED", number="5119231990010112")}),
    ("an unknown unit", "NOT_FOUND",
     lambda code: {"unitCode": code[:-1] + "9", "purpose": "查询",
                   "requester": asker("INTERESTED")}),
]


@pytest.mark.parametrize(("case", "code", "make"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refused_query_stores_nothing_and_takes_no_number(
        runtime: Runtime, pingchang: Bureau, month: dict[str, Any], case: str, code: str,
        make: Any) -> None:
    before = snapshot(runtime)
    codes = pingchang.gql.error_codes(operation("PrintQueryResult"),
                                      {"input": make(month["code"])}, pingchang.clerk)
    assert codes == [code], case
    assert snapshot(runtime) == before


def test_refused_extracts_store_nothing(runtime: Runtime, gql: GraphQLClient, users: Users,
                                        pingchang: Bureau, month: dict[str, Any]) -> None:
    code = month["code"]
    bazhou = Bureau(gql, users, "511902", prefix="bz")
    auditor = users.add("auditor-1", "auditor")
    before = snapshot(runtime)
    tomorrow = (month["clock"]() + timedelta(days=1)).date().isoformat()
    assert pingchang.gql.error_codes(operation("PrintRegisterExtract"), {
        "unitCode": code, "asOf": tomorrow}, pingchang.registrar) == ["BAD_AS_OF"]
    assert pingchang.gql.error_codes(operation("PrintRegisterExtract"), {
        "unitCode": code}, bazhou.registrar) == ["FORBIDDEN"]
    assert pingchang.gql.error_codes(operation("PrintRegisterExtract"), {
        "unitCode": code}, auditor) == ["FORBIDDEN"]
    assert snapshot(runtime) == before
    # Another county's staff cannot download a paper of this one.
    paper = extract(pingchang, code)
    assert pingchang.gql.http.get(paper["path"], headers=bazhou.registrar).status_code == 403


def test_an_issued_paper_is_never_changed(runtime: Runtime, pingchang: Bureau,
                                          month: dict[str, Any]) -> None:
    extract(pingchang, month["code"])
    with runtime.engine.connect() as conn:
        for statement in ("UPDATE issued_papers SET purpose = 'x'", "DELETE FROM issued_papers"):
            with pytest.raises(Exception, match="APPEND_ONLY"):
                conn.execute(text(statement))
            conn.rollback()
