"""One round trip per question: the statements a page of units needs do not grow with it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from registry.db.reader import Reader
from registry.runtime import Runtime
from registry.services.reads import Statement
from tests.bureau import Bureau, person
from tests.conftest import GraphQLClient, Users
from tests.operations import operation

NESTED = """
query($first: Int) {
  units(first: $first) {
    edges { node {
      code kind status
      parcel { code area landUse { code name } }
      rights { kind status certificateNumber holders { share party { name idNumber } } }
      currentTitle { certificateNumber holders { party { name } } }
      restrictions { kind }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture(autouse=True)
def statements_as_served(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Count what a request costs in production: without the tests' COMPILE-1 check, which
    resolves every compiled query a second time field by field."""
    monkeypatch.setattr(runtime.settings, "compiled_reads_check", False)


@contextmanager
def counted(runtime: Runtime) -> Iterator[list[str]]:
    """Every SQL statement sent while the block runs: through either engine's sessions, or
    through the async reader (which bypasses SQLAlchemy)."""
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    original = Reader.values

    async def values(self: Reader, statement: Statement) -> list[Any]:
        statements.append(statement.sql)
        return await original(self, statement)

    engines = {runtime.engine, runtime.read_engine or runtime.engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    Reader.values = values  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        Reader.values = original  # type: ignore[method-assign]
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def test_a_page_of_10_and_a_page_of_100_cost_the_same_statements(
        gql: GraphQLClient, users: Users, runtime: Runtime) -> None:
    bazhou = Bureau(gql, users, "511902")
    for i in range(110):
        code = bazhou.rural_house()["code"]
        if i % 2 == 0:
            bazhou.register("FIRST", [code], holders=[{"party": person("王大山")}])
    reader = users.add("reader", "auditor")
    gql.data(NESTED, {"first": 1}, reader)  # the token is looked up once, then cached

    with counted(runtime) as small:
        page = gql.data(NESTED, {"first": 10}, reader)["units"]
    with counted(runtime) as large:
        big = gql.data(NESTED, {"first": 100}, reader)["units"]
    assert len(page["edges"]) == 10 and len(big["edges"]) == 100
    assert sum(1 for e in big["edges"] if e["node"]["currentTitle"]) == 50
    assert len(small) == len(large) == 1


UNIT = """query($code: String!) { unit(code: $code) {
  code kind status location parcel { code area layer landUse { code name } }
  rights { kind status certificateNumber begunAt holders { share party { name idNumber } } }
  currentTitle { certificateNumber } restrictions { kind } seized mortgaged } }"""


def test_a_unit_with_its_parcel_rights_and_holders_is_one_statement(
        gql: GraphQLClient, users: Users, runtime: Runtime) -> None:
    bazhou = Bureau(gql, users, "511902")
    code = bazhou.rural_house()["code"]
    bazhou.register("FIRST", [code], coOwnership="SHARES",
                    holders=[{"party": person("王大山"), "share": "2/3"},
                             {"party": person("李小花"), "share": "1/3"}])
    reader = users.add("reader", "auditor")
    gql.data(UNIT, {"code": code}, reader)
    with counted(runtime) as statements:
        unit = gql.data(UNIT, {"code": code}, reader)["unit"]
    assert [h["party"]["name"] for h in unit["rights"][0]["holders"]] == ["王大山", "李小花"]
    assert "*" in unit["rights"][0]["holders"][0]["party"]["idNumber"]  # PII-2
    assert len(statements) == 1  # COMPILE-4


CASES = """query($first: Int) { applications(first: $first) {
  edges { cursor node { number state unitCodes parties { role share party { name idNumber } }
                        transitions { toState actor at } certificates { number kind } } }
  pageInfo { hasNextPage endCursor } } }"""


def test_a_page_of_cases_and_a_party_with_its_holdings_are_one_statement_each(
        gql: GraphQLClient, users: Users, runtime: Runtime) -> None:
    bazhou = Bureau(gql, users, "511902")
    holder = person("王大山")
    for _ in range(12):
        bazhou.register("FIRST", [bazhou.rural_house()["code"]], holders=[{"party": holder}])
    gql.data(CASES, {"first": 1}, bazhou.clerk)
    with counted(runtime) as small:
        two = gql.data(CASES, {"first": 2}, bazhou.clerk)["applications"]
    with counted(runtime) as large:
        ten = gql.data(CASES, {"first": 10}, bazhou.clerk)["applications"]
    assert len(two["edges"]) == 2 and len(ten["edges"]) == 10
    # PII-1: the county's own clerk sees the numbers in full in the case
    assert ten["edges"][0]["node"]["parties"][0]["party"]["idNumber"] == holder["idNumber"]
    assert len(small) == len(large) == 1  # COMPILE-4
    party = """query($n: String!) { party(idType: RESIDENT_ID, idNumber: $n) {
      party { name idNumber } holdings { unitCode right { kind certificateNumber } } } }"""
    with counted(runtime) as statements:
        found = gql.data(party, {"n": holder["idNumber"]}, bazhou.clerk)["party"]
    assert len(found["holdings"]) == 12 and "*" in found["party"]["idNumber"]  # PII-2
    assert len(statements) == 1


def test_unit_history_is_one_statement_for_a_whole_page(
        gql: GraphQLClient, users: Users, runtime: Runtime) -> None:
    enyang = Bureau(gql, users, "511903")
    for _ in range(12):
        code = enyang.rural_house()["code"]
        enyang.register("FIRST", [code], holders=[{"party": person("王大山")}])
    reader = users.add("reader", "auditor")
    query = "{ units(first: 12) { edges { node { code history { seq entryType } } } } }"
    gql.data(query, headers=reader)
    with counted(runtime) as statements:
        edges = gql.data(query, headers=reader)["units"]["edges"]
    assert all(len(e["node"]["history"]) == 1 for e in edges)
    assert len(statements) == 2  # the page, then every history at once


def test_pages_follow_their_cursor_and_are_bounded(gql: GraphQLClient, users: Users) -> None:
    bazhou = Bureau(gql, users, "511902")
    codes = sorted(bazhou.rural_house()["code"] for _ in range(5))
    first = gql.data(operation("Units"), {"first": 2}, bazhou.clerk)["units"]
    assert [e["node"]["code"] for e in first["edges"]] == codes[:2]
    rest = gql.data(operation("Units"), {"first": 10, "after": first["pageInfo"]["endCursor"]},
                    bazhou.clerk)["units"]
    assert [e["node"]["code"] for e in rest["edges"]] == codes[2:]
    assert rest["pageInfo"]["hasNextPage"] is False and first["pageInfo"]["hasNextPage"]
    assert gql.error_codes(operation("Units"), {"first": 1000}, bazhou.clerk) == [
        "BAD_PAGE_SIZE"]
    assert gql.error_codes(operation("Units"), {"first": 2, "after": "garbage!"},
                           bazhou.clerk) == ["BAD_CURSOR"]


def test_units_filters(gql: GraphQLClient, users: Users) -> None:
    bazhou = Bureau(gql, users, "511902")
    house = bazhou.rural_house()["code"]
    road = bazhou.road()["code"]
    owner = person("王大山")
    bazhou.register("FIRST", [house], holders=[{"party": owner}])

    def codes(**filter: object) -> list[str]:
        page = gql.data(operation("Units"), {"filter": filter}, bazhou.clerk)["units"]
        return [e["node"]["code"] for e in page["edges"]]

    assert codes(kind="INFRASTRUCTURE") == [road]
    assert codes(status="REGISTERED") == [house]
    assert codes(holderIdNumber=owner["idNumber"]) == [house]
    assert codes(landUseCode="1003") == [road]
    from tests.bureau import square

    road_area = gql.data(operation("Unit"), {"code": road}, bazhou.clerk)["unit"]
    assert road_area["parcel"]["code"] == road[:19]
    around_house = square("511902", 0, size=5.0, dx=5.0, dy=5.0)  # inside the first parcel
    assert codes(intersecting=around_house, intersectingCrs=4545) == [house]
    total = gql.data("{ units(filter: {kind: RURAL_HOUSE}) { totalCount } }",
                     headers=bazhou.clerk)["units"]["totalCount"]
    assert total == 1


def test_fields_asked_for_through_fragments_are_fetched(gql: GraphQLClient,
                                                       users: Users) -> None:
    """Reads fetch only what a query selects; fragments and inline fragments count too."""
    bazhou = Bureau(gql, users, "511902")
    code = bazhou.rural_house()["code"]
    bazhou.register("FIRST", [code], holders=[{"party": person("王大山")}])
    query = """
        query($code: String!) { unit(code: $code) { ...Everything } }
        fragment Everything on Unit {
          ... on Unit { parcel { code } }
          rights { kind status }
          currentTitle { kind }
        }"""
    unit = gql.data(query, {"code": code}, bazhou.clerk)["unit"]
    assert unit["parcel"]["code"] == code[:19]
    assert unit["rights"] == [{"kind": "TITLE", "status": "CURRENT"}]
    assert unit["currentTitle"] == {"kind": "TITLE"}
    only_title = gql.data("query($c: String!) { unit(code: $c) { seized currentTitle { kind } } }",
                          {"c": code}, bazhou.clerk)["unit"]
    assert only_title == {"seized": False, "currentTitle": {"kind": "TITLE"}}
