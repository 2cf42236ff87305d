"""PII-1..3 (registry/services/pii.py) against the whole schema: for each role, every Query root
field is asked with a generated selection set (bounded depth, split to fit the query limits),
and no seeded party's full ID number may appear in any response, except in `parties` of an
application, for the case county's clerk, reviewer, registrar and for admin. Exports, the audit
log and the error details of refused submissions are checked too."""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLSchema,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from registry.api.schema import build_schema
from registry.logs import JsonFormatter
from registry.runtime import Runtime
from registry.services.pii import mask_id_number, scrub
from tests.bureau import Bureau, credit_code, organisation, person, resident_id
from tests.conftest import GraphQLClient, Users
from tests.operations import operation

DEPTH = 7
TOKEN_BUDGET = 1500
# PII-1: the only place a full number may appear (JSON path, list indexes dropped).
ALLOWED_PATHS = {("data", "application", "parties", "party", "idNumber"),
                 ("data", "applications", "edges", "node", "parties", "party", "idNumber")}


def _tokens(query: str) -> int:
    return len(re.findall(r"\w+|[{}():$,!]", query))


def _plain_fields(type_: Any) -> Iterator[tuple[str, GraphQLField]]:
    for name, field in type_.fields.items():
        if not any(is_non_null_type(a.type) and a.default_value is None
                   for a in field.args.values()):
            yield name, field


def _selections(schema: GraphQLSchema, type_: Any, depth: int) -> list[str]:
    """Selection sets covering `type_` to `depth`, each small enough for the token limit."""
    if is_abstract_type(type_):
        out = []
        for possible in schema.get_possible_types(type_):
            out += [f"__typename ... on {possible.name} {{ {s} }}"
                    for s in _selections(schema, possible, depth)]
        return out or ["__typename"]
    leaves = ["__typename"]
    nested: list[tuple[str, list[str]]] = []
    for name, field in _plain_fields(type_):
        named = get_named_type(field.type)
        if is_leaf_type(named):
            leaves.append(name)
        elif depth > 1 and (is_object_type(named) or is_abstract_type(named)):
            nested.append((name, _selections(schema, named, depth - 1)))
    whole = " ".join(leaves + [f"{n} {{ {s} }}" for n, subs in nested for s in subs[:1]])
    if all(len(subs) == 1 for _, subs in nested) and _tokens(whole) <= TOKEN_BUDGET:
        return [whole]
    return [" ".join(leaves)] + [f"__typename {n} {{ {s} }}" for n, subs in nested for s in subs]


def _root_args(name: str, world: dict[str, Any]) -> dict[str, str]:
    """GraphQL literals for the required arguments of a root field, from the seeded world."""
    owner = world["owner"]
    return {
        "division": {"code": '"511923"'},
        "validateUnitCode": {"code": f'"{world["unit"]}"'},
        "validatePartyId": {"idType": "RESIDENT_ID", "number": f'"{owner["idNumber"]}"'},
        "parcel": {"code": f'"{world["parcel"]}"'},
        "unit": {"code": f'"{world["unit"]}"'},
        "party": {"idType": "RESIDENT_ID", "idNumber": f'"{owner["idNumber"]}"'},
        "application": {"number": f'"{world["case"]}"'},
        "completion": {"kind": "RURAL_HOUSE"},
        "completionSeries": {"year": "2026", "kind": "RURAL_HOUSE"},
        "completionTargets": {"year": "2026"},
        "surveyImportJob": {"id": '"1"'},
        "ledgerAccount": {"id": "1"},
        "ledgerLot": {"id": '"00000000-0000-0000-0000-000000000001"'},
        "document": {"id": '"1"'},
    }.get(name, {})


def _queries(world: dict[str, Any]) -> Iterator[tuple[str, str]]:
    schema = build_schema()._schema
    assert schema.query_type is not None
    for name, field in schema.query_type.fields.items():
        args = _root_args(name, world)
        missing = [a for a, arg in field.args.items()
                   if is_non_null_type(arg.type) and arg.default_value is None and a not in args]
        assert not missing, f"give the walk a value for {name}({missing})"
        literal = f"({', '.join(f'{k}: {v}' for k, v in args.items())})" if args else ""
        named = get_named_type(field.type)
        if is_leaf_type(named):
            yield name, f"{{ {name}{literal} }}"
            continue
        for selection in _selections(schema, named, DEPTH - 1):
            yield name, f"{{ {name}{literal} {{ {selection} }} }}"


def _hits(value: Any, numbers: set[str], path: tuple[str, ...] = ()) -> Iterator[tuple]:
    """(path, number) for every string in `value` that contains a full seeded number."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _hits(v, numbers, (*path, k))
    elif isinstance(value, list):
        for v in value:
            yield from _hits(v, numbers, path)
    elif isinstance(value, str):
        yield from ((path, n) for n in numbers if n in value)


@pytest.fixture
def world(pingchang: Bureau, users: Users) -> dict[str, Any]:
    """A recorded first registration and transfer, an open case, an organisation holder."""
    owner = person("王大山", resident_id("511923", "19650304"))
    buyer = person("陈小红", resident_id("511923", "19900512"))
    company = organisation("平昌县某公司")
    house = pingchang.rural_house()
    pingchang.register("FIRST", [house["code"]], holders=[{"party": owner}])
    pingchang.register("TRANSFER", [house["code"]], holders=[{"party": buyer}])
    other = pingchang.rural_house()
    open_case = pingchang.submit("FIRST", [other["code"]],
                                 holders=[{"party": owner}, {"party": company}],
                                 coOwnership="JOINT")["number"]
    return {"owner": owner, "unit": house["code"], "parcel": house["parcel"]["code"],
            "case": open_case,
            "numbers": {owner["idNumber"], buyer["idNumber"], company["idNumber"]},
            "roles": {
                "auditor": (users.add("pii-auditor", "auditor"), False),
                "statistician": (users.add("pii-stat", "statistician"), False),
                "trading_center": (users.add("pii-tc", "trading_center"), False),
                "clerk_elsewhere": (users.add("pii-tj", "clerk", county="511921"), False),
                "clerk": (pingchang.clerk, True),
                "reviewer": (pingchang.reviewer, True),
                "registrar": (pingchang.registrar, True),
                "admin": (users.add("pii-admin", "admin"), True),
                "anonymous": ({}, False),
            }}


def test_no_full_id_number_outside_its_case(gql: GraphQLClient, world: dict[str, Any]) -> None:
    queries = list(_queries(world))
    assert len({root for root, _ in queries}) >= 25  # every root field (none skipped)
    for role, (headers, sees_case) in world["roles"].items():
        full_in_case = set()
        answered = 0
        for root, query in queries:
            body = gql(query, headers=headers)
            if body.get("data") and body["data"].get(root) is not None:
                answered += 1
            for path, number in _hits(body, world["numbers"]):
                assert sees_case and path in ALLOWED_PATHS, (role, root, path, query)
                full_in_case.add(number)
            assert not any(e.get("extensions", {}).get("code") == "QUERY_TOO_COMPLEX"
                           for e in body.get("errors", [])), (root, query)
        # Positive control (PII-1): the case's own staff see the numbers in the open case.
        if sees_case:
            assert {world["owner"]["idNumber"]} <= full_in_case, role
            assert answered > 10, role
        else:
            assert not full_in_case


def test_the_case_shows_full_numbers_to_its_county_only(gql: GraphQLClient,
                                                        world: dict[str, Any],
                                                        pingchang: Bureau) -> None:
    query = operation("Application")
    mine = gql.data(query, {"number": world["case"]}, pingchang.clerk)["application"]
    numbers = {p["party"]["idNumber"] for p in mine["parties"]}
    assert world["owner"]["idNumber"] in numbers
    seen = gql.data(query, {"number": world["case"]},
                    world["roles"]["auditor"][0])["application"]
    full = {p["party"]["name"]: p["party"] for p in mine["parties"]}
    assert {p["party"]["idNumber"] for p in seen["parties"]} == {
        mask_id_number(p["idType"], p["idNumber"]) for p in full.values()}
    assert all("*" in p["party"]["idNumber"] for p in seen["parties"])


def test_exports_and_audit_log_carry_no_full_number(client: TestClient, runtime: Runtime,
                                                    world: dict[str, Any]) -> None:
    headers = world["roles"]["auditor"][0]
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/exports/holdings.{fmt}", headers=headers)
        assert response.status_code == 200
        if fmt == "xlsx":
            with zipfile.ZipFile(io.BytesIO(response.content)) as book:
                content = "".join(book.read(n).decode("utf-8", "replace")
                                  for n in book.namelist())
        else:
            content = response.content.decode("utf-8-sig")
        assert "********" in content
        assert not [n for n in world["numbers"] if n in content], fmt
    with runtime.sessions() as session:
        rows = session.execute(text("SELECT operation, target, details::text FROM audit_log"))
        entries = [" ".join(str(c) for c in row) for row in rows]
    assert len(entries) > 5
    assert not [e for e in entries for n in world["numbers"] if n in e]


def test_refused_submissions_do_not_echo_numbers(gql: GraphQLClient, pingchang: Bureau,
                                                 world: dict[str, Any]) -> None:
    code = pingchang.rural_house()["code"]
    twice = person("李四", resident_id("511923", "19700101"))
    body = gql(operation("SubmitApplication"),
               {"input": {"kind": "FIRST", "unitCodes": [code], "coOwnership": "JOINT",
                          "holders": [{"party": twice}, {"party": twice}]}}, pingchang.clerk)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DUPLICATE_HOLDER"]
    assert twice["idNumber"] not in str(body)
    wrong = twice["idNumber"][:17] + ("0" if twice["idNumber"][-1] != "0" else "1")
    body = gql(operation("SubmitApplication"),
               {"input": {"kind": "FIRST", "unitCodes": [code],
                          "holders": [{"party": person("李四", wrong)}]}}, pingchang.clerk)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_ID_NUMBER"]
    assert wrong not in str(body) and twice["idNumber"][:17] not in str(body)


def test_sql_errors_do_not_carry_parameters(runtime: Runtime) -> None:
    number = resident_id("511923", "19650304")
    for engine in (runtime.engine, runtime.read_engine):
        assert engine is not None
        with pytest.raises(DBAPIError) as raised, engine.connect() as connection:
            connection.execute(text("SELECT CAST(:n AS integer)"), {"n": number})
        assert "SQL parameters hidden" in str(raised.value)
        record = logging.LogRecord("registry", logging.ERROR, __file__, 1, "failed: %s",
                                   (str(raised.value),), (DBAPIError, raised.value, None))
        line = JsonFormatter().format(record)
        assert number not in line and mask_id_number("RESIDENT_ID", number) in line


def test_scrub_masks_numbers_in_keys_and_text() -> None:
    number, code = resident_id("511923", "19650304"), credit_code()
    unit_code = "511923101003JC00001F00010001"
    scrubbed = scrub({"holders": [{"id_type": "RESIDENT_ID", "id_number": number}],
                      "note": f"证件 {number}，{code}", "unit": unit_code})
    assert number not in str(scrubbed) and code not in str(scrubbed)
    assert scrubbed["holders"][0]["id_number"] == mask_id_number("RESIDENT_ID", number)
    assert scrubbed["unit"] == unit_code
