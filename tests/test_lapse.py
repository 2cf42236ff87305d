"""Restrictions that lapse by law (RESTRICT-1): objection after 15 days, advance notice after
90, a seizure at the end of its term — with a clock the test turns by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.registration.recording import record_lapses
from tests.bureau import Bureau, organisation, person
from tests.clock import Clock
from tests.conftest import GraphQLClient, Users


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    runtime.clock = clock = Clock()
    return clock


@pytest.fixture
def registered_house(gql: GraphQLClient, users: Users, clock: Clock) -> tuple[Bureau, str]:
    tongjiang = Bureau(gql, users, "511921")
    code = tongjiang.rural_house()["code"]
    tongjiang.register("FIRST", [code], holders=[{"party": person("王大山")}])
    return tongjiang, code


def restriction_kinds(bureau: Bureau, code: str) -> list[str]:
    return [r["kind"] for r in bureau.unit(code)["restrictions"]]


def test_an_objection_lapses_after_15_days(registered_house: tuple[Bureau, str],
                                           clock: Clock, runtime: Runtime) -> None:
    bureau, code = registered_house
    bureau.register("OBJECTION", [code], holders=[{"party": person("王二山")}])
    objection = bureau.unit(code)["restrictions"][0]
    assert objection["kind"] == "OBJECTION"
    clock.advance(days=14, hours=23)
    assert restriction_kinds(bureau, code) == ["OBJECTION"]
    clock.advance(hours=2)
    assert restriction_kinds(bureau, code) == []
    lapsed = next(r for r in bureau.unit(code)["rights"] if r["id"] == objection["id"])
    assert lapsed["status"] == "TERMINATED"

    # Writing it down: one register entry, the right terminated in the database too.
    with transaction(runtime.sessions) as session:
        assert record_lapses(session, clock()) == 1
    with transaction(runtime.sessions) as session:
        assert record_lapses(session, clock()) == 0  # nothing twice
    with runtime.engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM rights WHERE id = :id"),
                              {"id": int(objection["id"])}).scalar_one()
    assert status == "terminated"
    assert [e["entryType"] for e in bureau.unit(code)["history"]] == [
        "FIRST", "OBJECTION", "LAPSE"]


def test_an_advance_notice_lapses_after_90_days(registered_house: tuple[Bureau, str],
                                                clock: Clock) -> None:
    bureau, code = registered_house
    bureau.register("ADVANCE_NOTICE", [code], holders=[{"party": person("买受人")}])
    clock.advance(days=89)
    assert restriction_kinds(bureau, code) == ["ADVANCE_NOTICE"]
    clock.advance(days=2)
    assert restriction_kinds(bureau, code) == []


def test_a_seizure_ends_with_its_term_and_the_house_can_be_sold_again(
        registered_house: tuple[Bureau, str], clock: Clock) -> None:
    bureau, code = registered_house
    bureau.register("SEIZURE", [code], authority="通江县人民法院", documentNo="(2026)执1号",
                    termStart="2026-03-02", termEnd="2026-06-01")
    assert bureau.unit(code)["seized"] is True
    clock.advance(days=92)  # 2026-06-02
    assert bureau.unit(code)["seized"] is False
    case = bureau.register("TRANSFER", [code], holders=[{"party": person("新户主")}])
    assert case["state"] == "RECORDED"
    # Recording wrote the lapse down first, in the same transaction.
    assert [e["entryType"] for e in bureau.unit(code)["history"]] == [
        "FIRST", "SEIZURE", "LAPSE", "TRANSFER"]


def test_a_mortgage_does_not_lapse_and_blocks_cancellation(
        registered_house: tuple[Bureau, str], clock: Clock) -> None:
    bureau, code = registered_house
    bureau.register("MORTGAGE", [code], holders=[{"party": organisation("通江县农商银行")}],
                    amount="50000")
    clock.advance(days=4000)
    assert restriction_kinds(bureau, code) == ["MORTGAGE"]
    codes = bureau.gql.error_codes(
        "mutation($i: ApplicationInput!) { submitApplication(input: $i) { number } }",
        {"i": {"kind": "CANCELLATION", "unitCodes": [code]}}, bureau.clerk)
    assert codes == ["UNIT_MORTGAGED"]
