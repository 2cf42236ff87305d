"""Rights others hold on a titled unit (RESIDENCE-1/2, EASEMENT-1/2, MORTGAGE-1/2 in
registry/services/registration/encumbrances.py), each as a clerk's day over GraphQL: apply,
accept, review, record, print the proof; then the register, its history, the papers and
`registry verify`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from registry.config import Settings
from registry.db.session import transaction
from registry.papers.render import render_paper
from registry.runtime import Runtime
from registry.services.registration.recording import record_lapses
from tests.bureau import Bureau, organisation, person
from tests.clock import Clock
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_papers import text_of
from tests.test_verify import verify


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    runtime.clock = clock = Clock()
    return clock


def titled(bureau: Bureau, name: str = "王建国") -> str:
    code = bureau.rural_house()["code"]
    bureau.register("FIRST", [code], holders=[{"party": person(name)}], rightType=6,
                    rightNature=203)
    return code


def proof_text(runtime: Runtime, number: str) -> str:
    with runtime.sessions() as session:
        return "".join(text_of(render_paper(session, number, runtime.clock()).pdf))


def standing(bureau: Bureau, code: str, kind: str) -> list[dict[str, Any]]:
    return [r for r in bureau.unit(code)["restrictions"] if r["kind"] == kind]


def test_a_right_of_residence_for_life_survives_the_sale_and_ends_by_cancellation(
        pingchang: Bureau, runtime: Runtime, clock: Clock, settings: Settings) -> None:
    code = titled(pingchang)
    case = pingchang.register("RESIDENCE", [code], holders=[{"party": person("王母")}],
                              note="居住权合同（2026）第1号")
    (residence,) = standing(pingchang, code, "RESIDENCE")
    assert residence["holders"] == [{"party": {"name": "王母"}}]
    assert residence["termEnd"] is None and residence["lapsesAt"] is None  # for life
    proof = case["certificates"][0]["number"]
    assert "不动产证明" in proof
    page = proof_text(runtime, proof)
    for value in ("居住权", "王母", "王建国", "终身（至居住权人死亡）", "居住权不得转让、继承"):
        assert value in page, value
    pingchang.certify(case["number"])

    # RESIDENCE-2: the house is sold; the right of residence stays on it.
    clock.advance(days=30)
    pingchang.register("TRANSFER", [code], holders=[{"party": person("李梅")}])
    unit = pingchang.unit(code)
    assert unit["currentTitle"]["holders"][0]["party"]["name"] == "李梅"
    assert [r["id"] for r in standing(pingchang, code, "RESIDENCE")] == [residence["id"]]

    # The holder dies: cancellation with the document ends it.
    clock.advance(days=300)
    pingchang.register("RESIDENCE_CANCELLATION", [code], targetRightId=residence["id"])
    assert standing(pingchang, code, "RESIDENCE") == []
    ended = next(r for r in pingchang.unit(code)["rights"] if r["id"] == residence["id"])
    assert ended["status"] == "TERMINATED"
    assert [e["entryType"] for e in pingchang.unit(code)["history"]] == [
        "FIRST", "RESIDENCE", "TRANSFER", "RESIDENCE_CANCELLATION"]
    status, out = verify(settings)
    assert status == 0, out


def test_a_right_of_residence_with_a_term_lapses_at_its_end(
        pingchang: Bureau, runtime: Runtime, clock: Clock) -> None:
    code = titled(pingchang)
    pingchang.register("RESIDENCE", [code], holders=[{"party": person("王姑")}],
                       termStart="2026-03-02", termEnd="2026-03-31")
    clock.advance(days=29)  # 2026-03-31 09:30, China time: still within its term
    assert len(standing(pingchang, code, "RESIDENCE")) == 1
    clock.advance(days=1)
    assert standing(pingchang, code, "RESIDENCE") == []
    with transaction(runtime.sessions) as session:
        assert record_lapses(session, clock()) == 1


def test_an_easement_is_on_both_registers_and_its_proof_names_both_units(
        pingchang: Bureau, runtime: Runtime, settings: Settings) -> None:
    servient, dominant = titled(pingchang, "张供役"), titled(pingchang, "李需役")
    case = pingchang.register("EASEMENT", [servient], dominantUnitCode=dominant,
                              purpose="通行（宽2米的道路）", termStart="2026-03-02",
                              termEnd="2046-03-01")
    (easement,) = standing(pingchang, servient, "EASEMENT")
    assert easement["dominantUnitCode"] == dominant and easement["purpose"].startswith("通行")
    assert easement["holders"] == [{"party": {"name": "李需役"}}]  # EASEMENT-1: not typed in
    on_dominant = pingchang.unit(dominant)
    assert [e["id"] for e in on_dominant["dominantEasements"]] == [easement["id"]]
    assert on_dominant["dominantEasements"][0]["servientUnitCode"] == servient
    # EASEMENT-2: one entry names both units; each unit's history shows it.
    assert on_dominant["history"][-1]["entryType"] == "EASEMENT"
    assert pingchang.unit(servient)["history"][-1]["entryType"] == "EASEMENT"
    page = proof_text(runtime, case["certificates"][0]["number"])
    for value in ("地役权", "李需役", "张供役", f"需役地不动产单元号：{dominant}",
                  f"供役地不动产单元号：{servient}", "利用目的：通行（宽2米的道路）",
                  "2026-03-02起2046-03-01止"):
        assert value in page, value
    case_parties = pingchang.gql.data(operation("Application"), {"number": case["number"]},
                                      pingchang.registrar)["application"]["parties"]
    assert sorted((p["role"], p["party"]["name"]) for p in case_parties) == [
        ("HOLDER", "李需役"), ("OBLIGOR", "张供役")]
    pingchang.register("EASEMENT_CANCELLATION", [servient], targetRightId=easement["id"])
    assert standing(pingchang, servient, "EASEMENT") == []
    status, out = verify(settings)
    assert status == 0, out


def test_mortgages_rank_by_registration_time_and_a_maximum_amount_mortgage(
        pingchang: Bureau, runtime: Runtime, clock: Clock) -> None:
    code = titled(pingchang)
    pingchang.register("MORTGAGE", [code], holders=[{"party": organisation("巴中农村商业银行")}],
                       amount="100000.00", termStart="2026-03-02", termEnd="2031-03-01")
    clock.advance(days=1)
    second = pingchang.register(
        "MORTGAGE", [code], holders=[{"party": organisation("平昌县信用社")}],
        mortgageMode="MAXIMUM", maxAmount="500000.00", claimsStart="2026-03-03",
        claimsEnd="2029-03-02", termStart="2026-03-03", termEnd="2029-03-02")
    first, later = standing(pingchang, code, "MORTGAGE")
    assert (first["rank"], first["mortgageMode"]) == (1, "GENERAL")
    assert (later["rank"], later["mortgageMode"], later["maxAmount"]) == (2, "MAXIMUM",
                                                                          "500000.00")
    assert (later["claimsStart"], later["claimsEnd"]) == ("2026-03-03", "2029-03-02")
    page = proof_text(runtime, second["certificates"][0]["number"])
    for value in ("抵押方式：最高额抵押", "最高债权额：500,000.00元",
                  "债权确定期间：2026-03-03起2029-03-02止", "抵押顺位：第2顺位"):
        assert value in page, value
    # MORTGAGE-2: the first is released; the second moves up.
    clock.advance(days=1)
    pingchang.register("MORTGAGE_CANCELLATION", [code], targetRightId=first["id"])
    (only,) = standing(pingchang, code, "MORTGAGE")
    assert only["id"] == later["id"] and only["rank"] == 1
    assert "抵押顺位：第1顺位" in proof_text(runtime, second["certificates"][0]["number"])


REFUSALS = [
    ("a residence right for an organisation", "RESIDENCE_HOLDER_NOT_PERSON",
     lambda b, house, other: ("RESIDENCE", [house],
                              {"holders": [{"party": organisation("某公司")}]})),
    ("a residence right on a road", "RESIDENCE_NOT_A_HOUSE",
     lambda b, house, other: ("RESIDENCE", [b.road()["code"]],
                              {"holders": [{"party": person("王母")}]})),
    ("an easement without its dominant unit", "DOMINANT_UNIT_REQUIRED",
     lambda b, house, other: ("EASEMENT", [house], {"purpose": "通行"})),
    ("an easement without a purpose", "PURPOSE_REQUIRED",
     lambda b, house, other: ("EASEMENT", [house], {"dominantUnitCode": other})),
    ("an easement serving itself", "BAD_DOMINANT_UNIT",
     lambda b, house, other: ("EASEMENT", [house], {"dominantUnitCode": house,
                                                    "purpose": "通行"})),
    ("an easement on a unit without a current title", "NO_CURRENT_TITLE",
     lambda b, house, other: ("EASEMENT", [b.rural_house(building_no=7)["code"]],
                              {"dominantUnitCode": house, "purpose": "通行"})),
    ("an easement for a dominant unit without a title", "NO_CURRENT_TITLE",
     lambda b, house, other: ("EASEMENT", [house],
                              {"dominantUnitCode": b.rural_house(building_no=8)["code"],
                               "purpose": "通行"})),
    ("a maximum-amount mortgage without its ceiling", "INVALID_AMOUNT",
     lambda b, house, other: ("MORTGAGE", [house], {
         "holders": [{"party": organisation("某银行")}], "mortgageMode": "MAXIMUM",
         "claimsStart": "2026-01-01", "claimsEnd": "2027-01-01"})),
    ("a maximum-amount mortgage without its claims period", "INVALID_TERM",
     lambda b, house, other: ("MORTGAGE", [house], {
         "holders": [{"party": organisation("某银行")}], "mortgageMode": "MAXIMUM",
         "maxAmount": "10.00"})),
    ("mortgage terms on another kind", "TERMS_NOT_EXPECTED",
     lambda b, house, other: ("RESIDENCE", [house], {
         "holders": [{"party": person("王母")}], "maxAmount": "10.00"})),
    ("cancelling a residence right that is not there", "TARGET_NOT_CURRENT",
     lambda b, house, other: ("RESIDENCE_CANCELLATION", [house], {"targetRightId": "999999"})),
]


@pytest.mark.parametrize(("case", "code", "make"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_applications_change_nothing(pingchang: Bureau, runtime: Runtime, case: str,
                                             code: str, make: Any) -> None:
    house, other = titled(pingchang), titled(pingchang, "李四")
    kind, units, extra = make(pingchang, house, other)
    before = snapshot(runtime)
    codes = pingchang.gql.error_codes(operation("SubmitApplication"), {"input": {
        "kind": kind, "unitCodes": units, **extra}}, pingchang.clerk)
    assert codes == [code], case
    assert snapshot(runtime) == before


def test_a_seized_house_takes_no_residence_right(pingchang: Bureau, runtime: Runtime) -> None:
    code = titled(pingchang)
    pingchang.register("SEIZURE", [code], authority="平昌县人民法院",
                       documentNo="(2026)川1923执1号")
    before = snapshot(runtime)
    assert pingchang.gql.error_codes(operation("SubmitApplication"), {"input": {
        "kind": "RESIDENCE", "unitCodes": [code], "holders": [{"party": person("王母")}]}},
        pingchang.clerk) == ["UNIT_SEIZED"]
    assert snapshot(runtime) == before


def test_verify_catches_a_rewritten_easement_purpose(pingchang: Bureau, runtime: Runtime,
                                                     settings: Settings) -> None:
    servient, dominant = titled(pingchang, "张供役"), titled(pingchang, "李需役")
    pingchang.register("EASEMENT", [servient], dominantUnitCode=dominant, purpose="通行")
    with runtime.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE rights SET purpose = '排水' WHERE kind = 'easement'"))
    status, out = verify(settings)
    assert status == 1 and "purpose" in out and "排水" in out, out
