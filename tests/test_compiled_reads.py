"""Compiled reads (registry/api/compiled): the hot queries answered by one statement that builds
the JSON in PostgreSQL, with exactly the answer field-by-field execution gives (COMPILE-1).

Every test of the suite runs with COMPILED_READS_CHECK on (tests/conftest.py): each compiled
query is also resolved field by field and the two answers compared, so every unit read of
every other test is a COMPILE-1 check. The tests here cover what those do not: the SQL forms
of the value rules (masking, date-times, cursors), what is compiled and what is not, and the
refusals, which must stay the resolvers' own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from registry.api.compiled import Compiler
from registry.api.compiled.sql import cursor_of, iso
from registry.api.schema import build_schema, parse_query
from registry.app import create_app
from registry.codes import IdType
from registry.db.access import Role
from registry.runtime import Runtime
from registry.services.access import Principal
from registry.services.pii import (
    case_id_number_sql,
    full_id_counties,
    mask_id_number,
    mask_id_sql,
    party_id_number,
)
from registry.services.reads import encode_cursor
from tests.bureau import Bureau, person
from tests.conftest import GraphQLClient, Users
from tests.test_query_cost import counted

ID_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXYabcxyz ＡＢ１２　-"


@pytest.fixture
def conn(database_url: str) -> psycopg.Connection:
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as connection:
        yield connection


@hypothesis_settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(list(IdType)),
                          st.text(ID_CHARS, min_size=1, max_size=24)), min_size=1, max_size=30))
def test_id_numbers_are_masked_in_sql_exactly_as_in_python(
        conn: psycopg.Connection, numbers: list[tuple[IdType, str]]) -> None:
    """PII-2 has two forms (registry/services/pii.py); they agree on every number."""
    sql = ("SELECT " + mask_id_sql("t.kind", "t.number").replace("%", "%%")
           + " FROM unnest(%(kinds)s::text[], %(numbers)s::text[]) AS t(kind, number)")
    rows = conn.execute(sql, {"kinds": [k.value for k, _ in numbers],
                              "numbers": [n for _, n in numbers]}).fetchall()
    assert [r[0] for r in rows] == [mask_id_number(k, n) for k, n in numbers]


PRINCIPALS = [Principal(1, "c", frozenset({Role.CLERK}), "511923"),
              Principal(2, "r", frozenset({Role.REGISTRAR}), None),
              Principal(3, "a", frozenset({Role.AUDITOR}), None),
              Principal(4, "s", frozenset({Role.STATISTICIAN, Role.REVIEWER}), "511902"),
              Principal(5, "admin", frozenset({Role.ADMIN}), None)]


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.username)
def test_case_parties_show_full_numbers_in_sql_exactly_as_in_python(
        conn: psycopg.Connection, principal: Principal) -> None:
    """PII-1 in SQL: in full only in a case of a county whose cases this caller works."""
    number = "51192319800101001X"
    sql = (case_id_number_sql("'RESIDENT_ID'", "NUMBER", "c.county", "COUNTIES")
           .replace("%", "%%").replace("NUMBER", "%(number)s::text")
           .replace("COUNTIES", "%(counties)s") + " FROM unnest(%(cases)s::text[]) AS c(county)")
    cases = ["511923", "511902", "511921"]
    rows = conn.execute("SELECT " + sql, {"number": number, "cases": cases,
                                          "counties": full_id_counties(principal)}).fetchall()
    party = {"id_type": "RESIDENT_ID", "id_number": number}
    assert [r[0] for r in rows] == [party_id_number(principal, party, c) for c in cases]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_date_times_are_written_as_python_writes_them(conn: psycopg.Connection,
                                                      zone: str) -> None:
    conn.execute(f"SET TIME ZONE '{zone}'")
    moments = [datetime(2026, 12, 8, 3, 4, 5, tzinfo=UTC),
               datetime(2026, 12, 8, 3, 4, 5, 120000, tzinfo=UTC),
               datetime(1999, 1, 2, 23, 59, 59, 1, tzinfo=UTC)]
    sql = f"SELECT {iso('t')} FROM unnest(%(ts)s::timestamptz[]) AS t"
    rows = conn.execute(sql.replace("% 1", "%% 1"), {"ts": moments}).fetchall()
    offset = timezone(timedelta(hours=8)) if zone == "Asia/Shanghai" else UTC
    assert [r[0] for r in rows] == [m.astimezone(offset).isoformat() for m in moments]


def test_cursors_are_the_keyset_cursors_of_the_field_by_field_path(
        conn: psycopg.Connection) -> None:
    codes = ["511902101001JC00001F00010001", "5"]
    rows = conn.execute(f"SELECT {cursor_of('code', 'c')} FROM unnest(%(codes)s::text[]) AS c",
                        {"codes": codes}).fetchall()
    assert [r[0] for r in rows] == [encode_cursor({"code": c}) for c in codes]


@pytest.fixture
def compiler() -> Compiler:
    schema = build_schema()
    return Compiler(schema._schema, schema.validation_rules, lambda q: parse_query(q, 3000))


@pytest.mark.parametrize("query", [
    "{ unit(code: \"x\") { code parcel { code landUse { name } } } }",
    "query Q($c: String!) { unit(code: $c) { ...U } } fragment U on Unit { code kind }",
    "{ units(first: 5) { edges { cursor node { code currentTitle { id } } } "
    "pageInfo { endCursor } totalCount } }",
    "{ a: unit(code: \"x\") { code } b: units { edges { node { code } } } }",
    "{ application(number: \"x\") { number parties { role share party { idNumber } } "
    "transitions { toState at } certificates { number kind print { path } } } }",
    "{ applications(first: 3) { edges { cursor node { number state } } "
    "pageInfo { hasNextPage } } }",
    "{ parcel(code: \"x\") { parcel { code area current } unitCodes } }",
    "{ party(idType: RESIDENT_ID, idNumber: \"x\") { party { name idNumber } "
    "holdings { unitCode right { kind certificateNumber } } } }",
])
def test_what_is_compiled(compiler: Compiler, query: str) -> None:
    assert compiler.plan(query, None) is not None


@pytest.mark.parametrize("query", [
    "{ unit(code: \"x\") { code history { seq } } }",  # resolved in Python (loader)
    "{ unit(code: \"x\") { parcel { geometry } } }",
    "{ unit(code: \"x\") { code @include(if: true) } }",  # directives decide at run time
    "{ unit(code: \"x\") { code } divisions { code } }",  # another root
    "{ unit(code: \"x\") { nope } }",  # invalid: answered with its errors, by strawberry
    "{ unit(code: \"x\") { code code: kind } }",  # one key twice
    "mutation { createUnit(input: {parcelCode: \"x\", kind: LAND}) { code } }",
])
def test_what_is_not_compiled(compiler: Compiler, query: str) -> None:
    assert compiler.plan(query, None) is None


def test_a_compiled_page_follows_its_cursor_and_filters(gql: GraphQLClient, users: Users,
                                                        runtime: Runtime) -> None:
    bazhou = Bureau(gql, users, "511902")
    codes = sorted(bazhou.rural_house()["code"] for _ in range(5))
    bazhou.register("FIRST", [codes[1]], holders=[{"party": person("王大山")}])
    reader = users.add("reader", "auditor")
    query = """query($after: String, $status: UnitStatus) {
      units(first: 2, after: $after, filter: {countyCode: "511902", status: $status}) {
        totalCount edges { node { code status } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = gql.data(query, {"after": after}, reader)["units"]
        assert page["totalCount"] == 5
        seen += [e["node"]["code"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == codes
    registered = gql.data(query, {"status": "REGISTERED"}, reader)["units"]
    assert [e["node"]["code"] for e in registered["edges"]] == [codes[1]]
    assert registered["totalCount"] == 1


def test_refusals_stay_the_resolvers_own(gql: GraphQLClient, users: Users,
                                          runtime: Runtime) -> None:
    """COMPILE-3: a plan whose checks refuse steps aside; the coded errors are unchanged,
    and nothing was read for them."""
    bazhou = Bureau(gql, users, "511902")
    code = bazhou.rural_house()["code"]
    other = users.add("other-clerk", "clerk", county="511923")
    query = "query($code: String!) { unit(code: $code) { code } }"
    assert gql.error_codes(query, {"code": code}, other) == ["FORBIDDEN"]
    assert gql.error_codes(query, {"code": "not-a-code"}, bazhou.clerk) == ["INVALID_UNIT_CODE"]
    assert gql.error_codes(query, {"code": code}, {}) == ["UNAUTHENTICATED"]
    page = "query($first: Int, $after: String) { units(first: $first, after: $after) { " \
           "edges { node { code } } } }"
    assert gql.error_codes(page, {"first": 0}, bazhou.clerk) == ["BAD_PAGE_SIZE"]
    assert gql.error_codes(page, {"after": "nonsense"}, bazhou.clerk) == ["BAD_CURSOR"]
    with counted(runtime) as statements:
        assert gql.error_codes(query, {"code": code}, other) == ["FORBIDDEN"]
    assert not any("json_build_object" in s for s in statements)


def test_with_compiled_reads_off_every_query_is_resolved_field_by_field(
        gql: GraphQLClient, users: Users, runtime: Runtime) -> None:
    bazhou = Bureau(gql, users, "511902")
    code = bazhou.rural_house()["code"]
    query = "query($code: String!) { unit(code: $code) { code kind parcel { code } } }"
    compiled = gql.data(query, {"code": code}, bazhou.clerk)
    off = replace(runtime, settings=runtime.settings.model_copy(
        update={"compiled_reads": False, "compiled_reads_check": False}))
    with TestClient(create_app(runtime=off)) as http, counted(off) as statements:
        resolved = GraphQLClient(http).data(query, {"code": code}, bazhou.clerk)
    assert resolved == compiled
    assert compiled["unit"]["kind"] == "RURAL_HOUSE" and compiled["unit"]["code"] == code
    assert len(statements) == 1 and "json_build_object('unit'" not in statements[0]


def test_a_clerks_day_read_back_through_the_compiled_roots(gql: GraphQLClient, users: Users
                                                             ) -> None:
    """Cases, a parcel and a party, each read compiled and (COMPILED_READS_CHECK) resolved
    too: the answers agree, PII-1 shows numbers in full only in the county's own cases."""
    bazhou = Bureau(gql, users, "511902")
    holder = person("王大山")
    unit = bazhou.rural_house()
    case = bazhou.register("FIRST", [unit["code"]], holders=[{"party": holder}])
    other = users.add("other-clerk", "clerk", county="511923")
    auditor = users.add("auditor", "auditor")
    one = """query($n: String!) { application(number: $n) { number kind state countyCode
      unitCodes terms parties { role share party { name idType idNumber } }
      transitions { fromState toState actor at reason } certificates { number kind status } } }"""
    mine = gql.data(one, {"n": case["number"]}, bazhou.clerk)["application"]
    assert mine["parties"][0]["party"]["idNumber"] == holder["idNumber"]  # PII-1
    audited = gql.data(one, {"n": case["number"]}, auditor)["application"]
    assert audited["parties"][0]["party"]["idNumber"] != holder["idNumber"]  # PII-2
    assert gql.error_codes(one, {"n": case["number"]}, other) == ["FORBIDDEN"]
    assert gql.data(one, {"n": "NO-SUCH-CASE"}, bazhou.clerk) == {"application": None}
    page = """query($after: String) { applications(first: 1, after: $after,
      filter: {countyCode: "511902"}) { edges { cursor node { number } }
      pageInfo { hasNextPage endCursor } } }"""
    first = gql.data(page, {}, auditor)["applications"]
    assert first["edges"][0]["node"]["number"] == case["number"]
    parcel = """query($c: String!) { parcel(code: $c) { parcel { code layer area current
      landUse { system code name } } unitCodes } }"""
    found = gql.data(parcel, {"c": unit["code"][:19]}, auditor)["parcel"]
    assert found["unitCodes"] == [unit["code"]] and found["parcel"]["current"] is True
    assert gql.error_codes(parcel, {"c": unit["code"][:19]}, other) == ["FORBIDDEN"]
    party = """query($n: String!) { party(idType: RESIDENT_ID, idNumber: $n) {
      party { name idNumber } holdings { unitCode countyCode right { kind status } } } }"""
    held = gql.data(party, {"n": holder["idNumber"]}, auditor)["party"]
    assert [h["unitCode"] for h in held["holdings"]] == [unit["code"]]
    assert gql.data(party, {"n": holder["idNumber"]}, other) == {"party": None}  # ACCESS-6


def test_the_fast_way_answers_as_the_graphql_view_would(gql: GraphQLClient, users: Users,
                                                        runtime: Runtime, client: TestClient
                                                        ) -> None:
    """COMPILE-5: a compiled query POSTed as JSON is answered past strawberry, with the view's
    media type (HTTP-1), status and Vary header (HTTP-5); the suite's check compares it with
    the normal way's response on every such request."""
    bazhou = Bureau(gql, users, "511902")
    code = bazhou.rural_house()["code"]
    body = {"query": "query($c: String!) { unit(code: $c) { code status } }",
            "variables": {"c": code}}
    wanted = {"unit": {"code": code, "status": "SURVEYED"}}
    for accept, media in ((None, "application/json"),
                          ("application/graphql-response+json",
                           "application/graphql-response+json")):
        headers = {**bazhou.clerk, **({"Accept": accept} if accept else {})}
        response = client.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200 and response.json() == {"data": wanted}
        assert response.headers["content-type"] == media
        assert "Vary" in response.headers and "x-request-id" in response.headers
    refused = client.post("/graphql", json=body, headers={**bazhou.clerk,
                                                          "Accept": "text/html"})
    assert refused.status_code == 406  # the view's own refusal (HTTP-1)
