"""The HTTP surface: health and readiness, request ids, JSON logs, errors without internals."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from registry.app import create_app
from registry.logs import JsonFormatter
from registry.runtime import Runtime
from storage import S3Store, S3StoreConfig
from tests.conftest import GraphQLClient


def test_healthz_answers_while_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_bucket(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"].startswith("ok (PostGIS 3.")
    assert body["checks"]["storage"] == "ok"


def test_readyz_is_503_naming_the_storage_when_the_bucket_is_unreachable(
        runtime: Runtime, s3_config: S3StoreConfig) -> None:
    dead = S3Store(replace(s3_config, endpoint="http://127.0.0.1:9"), timeout=1.0, retries=0)
    with TestClient(create_app(runtime=replace(runtime, store=dead))) as http:
        response = http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == "unavailable"
    assert response.json()["checks"]["database"].startswith("ok")


def test_readyz_is_503_naming_the_database_when_it_is_unreachable(runtime: Runtime) -> None:
    from registry.db.session import make_engine, make_session_factory

    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=1")
    broken = replace(runtime, engine=engine, sessions=make_session_factory(engine))
    with TestClient(create_app(runtime=broken)) as http:
        response = http.get("/readyz")
    engine.dispose()
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")
    assert response.json()["checks"]["storage"] == "ok"


def test_every_response_carries_a_request_id_and_a_sane_one_is_kept(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers[
        "x-request-id"] == "abc-123"
    # A hostile id (log injection) is replaced, not echoed.
    hostile_id = "x\r\nforged: 1".encode("latin-1") + b" " + b"y" * 100
    hostile = client.get("/healthz", headers={"X-Request-ID": hostile_id})
    assert len(hostile.headers["x-request-id"]) == 32


def test_access_log_is_json_with_the_request_id_and_no_token(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="registry.http"):
        client.get("/healthz", headers={"X-Request-ID": "req-42",
                                        "Authorization": "Bearer secret-token-value"})
    [record] = [r for r in caplog.records if r.name == "registry.http"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-42"
    assert line["path"] == "/healthz" and line["status"] == 200
    assert "secret-token-value" not in json.dumps(line)


def test_an_unexpected_failure_is_internal_with_the_request_id_and_logged(
        gql: GraphQLClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("connection string postgresql://secret@db leaked?")

    monkeypatch.setattr(type(runtime), "reference", property(lambda self: broken()))
    with caplog.at_level(logging.ERROR, logger="registry.api"):
        body = gql("{ divisions { code } }", headers={"X-Request-ID": "req-internal"})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL"
    assert error["extensions"]["requestId"] == "req-internal"
    assert "secret" not in json.dumps(body)
    [record] = [r for r in caplog.records if r.name == "registry.api"]
    assert "RuntimeError" in JsonFormatter().format(record)


def test_metrics_count_requests_by_route(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/no/such/path/12345")
    text = client.get("/metrics").text
    assert 'registry_http_requests_total{method="GET",path="/healthz",status="200"} 1' in text
    assert 'path="other",status="404"' in text
    assert "12345" not in text


def test_graphiql_is_served_in_development(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_queries_over_get_are_served_uncached(client: TestClient) -> None:
    # GraphQL over HTTP: GET runs queries (mutations never: tests/test_http_protocol.py)
    response = client.get("/graphql", params={"query": "{ divisions { code } }"})
    assert response.status_code == 200 and "divisions" in response.json()["data"]
    assert response.headers["cache-control"] == "private, no-store"
