"""The hostile review's findings, reproduced as a client would send them (issue 13): each
answer is coded JSON, and nothing in the database or the bucket changed.

Request bounds are REQ-1..4 (registry/api/request_limits.py), coded failures ERR-1 and the
read retry RETRY-1 (registry/app.py), scalar errors in registry/api/errors.py."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from registry.api.context import RequestContext
from registry.api.schema import _parse
from registry.app import create_app
from registry.config import Environment, Settings
from registry.runtime import Runtime
from registry.services.errors import DomainError
from storage.s3 import S3Store, S3StoreConfig
from tests.conftest import GraphQLClient, Users
from tests.snapshot import snapshot

ANSWER_JSON = "application/json"
TARGET = ('mutation($t: Decimal!) { setCompletionTarget(countyCode: "511923", year: 2026, '
          'target: $t) { year } }')


def codes(response: Any) -> list[str]:
    assert response.headers["content-type"].startswith(ANSWER_JSON), response.text
    return [error["extensions"]["code"] for error in response.json()["errors"]]


@pytest.fixture
def admin(users: Users) -> dict[str, str]:
    return users.add("hostile-admin", "admin")


# --------------------------------------------------------------------------- REQ-1, REQ-2, REQ-3

def test_a_body_over_the_limit_is_refused_before_it_is_read(
        client: TestClient, runtime: Runtime, admin: dict[str, str]) -> None:
    before = snapshot(runtime)
    limit = runtime.settings.max_request_bytes
    body = json.dumps({"query": TARGET, "variables": {"t": "1" + "0" * limit}}).encode()
    declared = client.post("/graphql", content=body,
                           headers={**admin, "content-type": "application/json"})
    assert declared.status_code == 413 and codes(declared) == ["REQUEST_TOO_LARGE"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    streamed = client.post("/graphql", content=chunks(),
                           headers={**admin, "content-type": "application/json"})
    assert streamed.status_code == 413 and codes(streamed) == ["REQUEST_TOO_LARGE"]
    assert "x-request-id" in streamed.headers
    assert snapshot(runtime) == before


def test_a_query_padded_with_comments_is_refused_before_it_is_lexed(
        client: TestClient, runtime: Runtime) -> None:
    padded = "{ __typename " + "# padding\n" * (runtime.settings.max_query_chars // 10) + "}"
    answer = client.post("/graphql", json={"query": padded})  # anonymous
    assert answer.status_code == 413 and codes(answer) == ["QUERY_TOO_LARGE"]
    long_string = '{ division(code: "' + "5" * runtime.settings.max_query_chars + '") { name } }'
    assert codes(client.post("/graphql", json={"query": long_string})) == ["QUERY_TOO_LARGE"]


def test_large_query_texts_are_answered_but_not_kept_in_the_parse_cache(
        gql: GraphQLClient) -> None:
    cached = _parse.cache_info().currsize
    for n in range(3):  # distinct texts of 10 KB: each one parsed, none kept
        query = "{ __typename " + f"# {n}\n" + " " * 10_000 + "}"
        assert gql.data(query) == {"__typename": "Query"}
    assert _parse.cache_info().currsize == cached
    gql.data("{ __typename }")  # a short text is kept as before
    assert _parse.cache_info().currsize <= cached + 1


# --------------------------------------------------------------------------- REQ-4

@pytest.mark.parametrize("query,variables", [
    ('mutation { setCompletionTarget(countyCode: "5119\\u000023", year: 2026, target: "5") '
     '{ year } }', {}),
    ('mutation($c: String!) { setCompletionTarget(countyCode: $c, year: 2026, target: "5") '
     '{ year } }', {"c": "511923\u0000"}),
    ('mutation($t: JSON) { __typename }', {"t": {"deep": ["x\u0000"]}}),
])
def test_a_nul_character_in_any_string_input_is_refused(
        client: TestClient, runtime: Runtime, admin: dict[str, str], query: str,
        variables: dict[str, Any]) -> None:
    before = snapshot(runtime)
    answer = client.post("/graphql", json={"query": query, "variables": variables},
                         headers=admin)
    assert answer.status_code == 400 and codes(answer) == ["INVALID_CHARACTER"]
    assert snapshot(runtime) == before


# --------------------------------------------------------------------------- scalars

BAD_VALUES = [  # (scalar, an argument of that type, a bad value)
    ("Amount", 'postTransfers(transfers: [{id: "0b9a4c2e-0000-4000-8000-000000000001", '
               'debitAccountId: 1, creditAccountId: 2, amount: %s}]) { __typename }', "12x"),
    ("UUID", 'revokeLot(operationId: %s, lotId: "0b9a4c2e-0000-4000-8000-000000000001", '
             'reason: "x") { __typename }', "not-a-uuid"),
    ("Decimal", 'setCompletionTarget(countyCode: "511923", year: 2026, target: %s) '
                '{ year }', "lots"),
]


@pytest.mark.parametrize("scalar,field,bad", BAD_VALUES)
def test_a_bad_value_of_every_custom_scalar_answers_bad_user_input_inline_and_as_variable(
        client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture,
        scalar: str, field: str, bad: str) -> None:
    before = snapshot(runtime)
    inline = client.post("/graphql", json={"query": "mutation { " + field % json.dumps(bad)
                                           + " }"})
    variable = client.post("/graphql", json={
        "query": f"mutation($v: {scalar}!) {{ " + field % "$v" + " }", "variables": {"v": bad}})
    assert codes(inline) == ["BAD_USER_INPUT"] and codes(variable) == ["BAD_USER_INPUT"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # not a bug: not logged
    assert snapshot(runtime) == before


# --------------------------------------------------------------------------- ERR-1, RETRY-1

@pytest.fixture
def database_down(settings: Settings) -> Iterator[TestClient]:
    """The service with its database gone (nothing listens on the configured port)."""
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    dead = settings.model_copy(update={"database_url": type(settings.database_url)(
        url.replace(url.split("@")[1].split("/")[0], "127.0.0.1:1"))})
    runtime = Runtime.from_settings(dead)
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        yield client
    runtime.close()


@pytest.mark.parametrize("method,path", [
    ("POST", "/graphql"), ("GET", "/charts/completion.png"), ("GET", "/exports/holdings.csv"),
    ("GET", "/ledger/statements/1/2026-01-01"),
])
def test_every_route_answers_coded_json_with_a_request_id_while_the_database_is_down(
        database_down: TestClient, caplog: pytest.LogCaptureFixture,
        method: str, path: str) -> None:
    answer = database_down.request(
        method, path, headers={"Authorization": "Bearer rg_not-cached", "X-Request-ID": "r-42"},
        **({"json": {"query": "{ me { username } }"}} if method == "POST" else {}))
    assert answer.status_code == 503, answer.text
    assert codes(answer) == ["DATABASE_UNAVAILABLE"]
    assert answer.json()["errors"][0]["extensions"]["requestId"] == "r-42"
    assert answer.headers["x-request-id"] == "r-42"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged and all(getattr(r, "request_id", "r-42") == "r-42" for r in logged)


def test_the_first_read_after_the_database_dropped_every_connection_is_answered(
        gql: GraphQLClient, runtime: Runtime, admin: dict[str, str]) -> None:
    query = "{ units(first: 5) { totalCount } me { username } }"
    assert gql.data(query, headers=admin)["me"]["username"] == "hostile-admin"
    with runtime.engine.connect() as conn:  # what a PostgreSQL restart does to the pools
        ended = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    assert ended >= 1
    assert gql.data(query, headers=admin)["units"]["totalCount"] == 0


# --------------------------------------------------------------------------- production

@pytest.fixture
def production(runtime: Runtime) -> Iterator[TestClient]:
    settings = runtime.settings.model_copy(update={"registry_env": Environment.PRODUCTION})
    with TestClient(create_app(runtime=Runtime(
            settings=settings, engine=runtime.engine, sessions=runtime.sessions,
            store=runtime.store, read_engine=runtime.read_engine))) as client:
        yield client


def test_production_answers_no_introspection_and_no_suggestions(
        production: TestClient, client: TestClient) -> None:
    introspection = {"query": "{ __schema { types { name } } }"}
    assert set(codes(production.post("/graphql", json=introspection))) == {
        "GRAPHQL_VALIDATION_FAILED"}
    typo = production.post("/graphql", json={"query": "{ unitz }"}).json()
    assert "Did you mean" not in json.dumps(typo, ensure_ascii=False)
    assert "unitz" in typo["errors"][0]["message"]
    assert production.post("/graphql", json={"query": "{ __typename }"}).json() == {
        "data": {"__typename": "Query"}}
    # development keeps both, for GraphiQL
    assert client.post("/graphql", json=introspection).json()["data"]["__schema"]
    assert "Did you mean" in client.post("/graphql", json={"query": "{ unitz }"}).text


# --------------------------------------------------------------------------- smaller findings

def test_a_hanging_object_store_makes_readyz_answer_503_not_hang(
        runtime: Runtime, s3_config: S3StoreConfig) -> None:
    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    config = replace(s3_config, endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}")
    hung = Runtime(settings=runtime.settings, engine=runtime.engine, sessions=runtime.sessions,
                   store=S3Store(config), read_engine=runtime.read_engine)
    try:
        with TestClient(create_app(runtime=hung)) as client, ThreadPoolExecutor(1) as pool:
            answer = pool.submit(client.get, "/readyz").result(timeout=60)  # READY-1: bounded
    finally:
        silent.close()  # the abandoned check's connection ends with it
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"database": answer.json()["checks"]["database"],
                                       "storage": "unavailable"}
    assert answer.json()["checks"]["database"].startswith("ok")


def test_unknown_paths_wrong_methods_batches_and_unreadable_uploads_answer_coded_json(
        client: TestClient, runtime: Runtime, users: Users) -> None:
    clerk = {**users.add("hostile-clerk", "clerk", county="511923"), "X-Registry-CSRF": "1"}
    before = snapshot(runtime)
    assert codes(client.get("/no/such/page")) == ["NOT_FOUND"]
    assert codes(client.delete("/healthz")) == ["METHOD_NOT_ALLOWED"]
    batch = client.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    assert batch.status_code == 400 and codes(batch) == ["BAD_REQUEST"]
    operations = {"query": "mutation($f: Upload!) { uploadDocument(file: $f, kind: ID_CARD, "
                           'target: {applicationNumber: "x"}) { id } }', "variables": {"f": None}}
    long_name = client.post("/graphql", headers=clerk, data={
        "operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
        files={"0": ("名" * 5000 + ".png", b"\x89PNG\r\n", "image/png")})
    assert long_name.status_code in (200, 400) and codes(long_name)
    assert snapshot(runtime) == before


def test_a_race_lost_to_another_transaction_is_retried_by_the_server(
        runtime: Runtime) -> None:
    context = RequestContext(request=None, response=None,  # type: ignore[arg-type]
                             runtime=runtime, request_id="r", principal=None)
    attempts: list[int] = []

    def work(session: Any) -> int:  # loses the race twice, as a deadlock victim would
        attempts.append(1)
        session.execute(text("CREATE TEMP TABLE IF NOT EXISTS tries (n int)"))
        if len(attempts) < 3:
            raise DomainError("CONCURRENT_UPDATE", "重试", "retry", {"retryable": True})
        return len(attempts)

    assert asyncio.run(context.run(work)) == 3
    attempts.clear()
    with pytest.raises(DomainError):
        asyncio.run(context.run(work, retries=1))  # a bounded number of times, then the client
    assert len(attempts) == 2

    def refused(session: Any) -> None:
        attempts.append(1)
        raise DomainError("NOT_FOUND", "没有", "no such thing")

    attempts.clear()
    with pytest.raises(DomainError):
        asyncio.run(context.run(refused))
    assert len(attempts) == 1  # a refusal is not a race: never retried
