"""GraphQL over HTTP (registry/api/http_protocol.py, HTTP-1..5), through the real app."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from registry.api.http_protocol import GRAPHQL_RESPONSE_JSON, JSON, RequestRefused, negotiate
from tests.bureau import Bureau
from tests.operations import operation

QUERY = "{ __typename }"


def post(client: TestClient, body: object, accept: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
    sent = {"content-type": "application/json", **({"accept": accept} if accept else {}),
            **(headers or {})}
    response = client.post("/graphql", content=json.dumps(body), headers=sent)
    return (response.status_code, response.headers["content-type"].split(";")[0],
            response.json())


@pytest.mark.parametrize(("accept", "media"), [
    (None, JSON),
    ("*/*", JSON),
    ("application/*", JSON),
    ("application/json", JSON),
    (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
    (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
    (f"application/json, {GRAPHQL_RESPONSE_JSON};q=0.5", JSON),
    (f"{GRAPHQL_RESPONSE_JSON};q=0.5, */*;q=0.1", GRAPHQL_RESPONSE_JSON),
    ("text/html, */*;q=0.8", JSON),
])
def test_the_answer_has_the_media_type_the_client_prefers(accept: str | None,
                                                           media: str) -> None:
    assert negotiate(accept) == media


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json;q=0"])
def test_an_accept_the_server_cannot_satisfy_is_refused(accept: str) -> None:
    with pytest.raises(RequestRefused) as refused:
        negotiate(accept)
    assert refused.value.status == 406


def test_a_query_answers_in_either_media_type(client: TestClient) -> None:
    for accept, media in [(GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON), ("*/*", JSON),
                          (None, JSON)]:
        status, content_type, body = post(client, {"query": QUERY}, accept)
        assert (status, content_type, body) == (200, media, {"data": {"__typename": "Query"}})


@pytest.mark.parametrize("body", [{"qeury": QUERY}, {"query": 0},
                                  {"query": QUERY, "variables": "x"},
                                  {"query": QUERY, "extensions": ["x"]},
                                  {"query": QUERY, "operationName": False}])
def test_a_request_that_is_not_graphql_is_400_for_every_client(client: TestClient,
                                                               body: dict) -> None:
    for accept in (GRAPHQL_RESPONSE_JSON, "application/json", None):
        status, _, answer = post(client, body, accept)
        assert status == 400
        assert "data" not in answer and answer["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(("body", "code"), [
    ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
    ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
    ({"query": "query Type($name: String!) { __type(name: $name) { name } }",
      "variables": {"name": 3}}, "BAD_USER_INPUT"),
])
def test_a_request_error_is_400_without_data_for_graphql_response_json(
        client: TestClient, body: dict, code: str) -> None:
    status, content_type, answer = post(client, body, GRAPHQL_RESPONSE_JSON)
    assert (status, content_type) == (400, GRAPHQL_RESPONSE_JSON)
    assert "data" not in answer and answer["errors"][0]["extensions"]["code"] == code
    # the same request from a legacy client: 200, errors, still no data (HTTP-2)
    status, content_type, answer = post(client, body, "application/json")
    assert (status, content_type) == (200, JSON)
    assert "data" not in answer and answer["errors"][0]["extensions"]["code"] == code


def test_a_body_that_is_not_json_is_a_request_error(client: TestClient) -> None:
    for accept in (GRAPHQL_RESPONSE_JSON, "application/json"):
        response = client.post("/graphql", content=b'{ "not a JSON',
                               headers={"content-type": "application/json", "accept": accept})
        assert response.status_code == 400  # for legacy clients too (graphql-http's BCF8)
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_JSON"


def test_an_execution_error_stays_200_with_data(client: TestClient, pingchang: Bureau) -> None:
    status, content_type, answer = post(
        client, {"query": operation("WithdrawApplication"),
                 "variables": {"number": "NO-SUCH", "reason": "test"}},
        GRAPHQL_RESPONSE_JSON, pingchang.clerk)
    assert (status, content_type) == (200, GRAPHQL_RESPONSE_JSON)
    assert "data" in answer and answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_get_query_runs_and_is_not_cached(client: TestClient) -> None:
    response = client.get("/graphql", params={
        "query": "query Type($name: String!) { __type(name: $name) { name } }",
        "variables": json.dumps({"name": "Query"}), "operationName": "Type"},
        headers={"accept": GRAPHQL_RESPONSE_JSON})
    assert response.status_code == 200
    assert response.json() == {"data": {"__type": {"name": "Query"}}}
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["vary"] == "Accept, Authorization"


def test_a_mutation_by_get_is_refused_and_changes_nothing(
        client: TestClient, pingchang: Bureau, number: str) -> None:
    before = pingchang.gql.data(operation("Application"), {"number": number},
                                pingchang.clerk)["application"]["state"]
    for accept in (GRAPHQL_RESPONSE_JSON, "application/json"):
        response = client.get("/graphql", params={
            "query": operation("WithdrawApplication"),
            "variables": json.dumps({"number": number, "reason": "by link"})},
            headers={**pingchang.clerk, "accept": accept})
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        code = response.json()["errors"][0]["extensions"]["code"]
        assert code == "MUTATION_NOT_ALLOWED_VIA_GET"
    after = pingchang.gql.data(operation("Application"), {"number": number},
                               pingchang.clerk)["application"]["state"]
    assert after == before != "WITHDRAWN"


def test_other_methods_are_405_with_allow(client: TestClient) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = client.request(method, "/graphql", json={"query": QUERY})
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"
        assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/graphql",
                                          "application/x-www-form-urlencoded"])
def test_a_post_body_of_another_media_type_is_415(client: TestClient,
                                                  content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/graphql", content=json.dumps({"query": QUERY}).encode(),
                           headers=headers)
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_an_accept_nothing_can_satisfy_is_406(client: TestClient) -> None:
    status, _, answer = post(client, {"query": QUERY}, "application/xml")
    assert status == 406 and answer["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


def test_a_post_varies_with_accept_and_authorization(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": QUERY})
    assert response.headers["vary"] == "Accept, Authorization"
    assert "cache-control" not in response.headers


def test_an_upload_still_works(
        pingchang: Bureau, number: str) -> None:
    document = pingchang.upload("APPLICATION_FORM", applicationNumber=number)
    assert document["kind"] == "APPLICATION_FORM"
