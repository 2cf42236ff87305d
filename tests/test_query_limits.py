"""Every query is bounded: depth, aliases and tokens over the limits are refused up front."""

from __future__ import annotations

from tests.conftest import GraphQLClient


def nested_divisions(depth: int) -> str:
    body = "code"
    for _ in range(depth):
        body = f"code children {{ {body} }}"
    return f"{{ divisions {{ {body} }} }}"


def test_a_deep_query_is_refused_as_too_complex(gql: GraphQLClient) -> None:
    assert set(gql.error_codes(nested_divisions(20))) == {"QUERY_TOO_COMPLEX"}


def test_a_query_within_the_depth_limit_runs(gql: GraphQLClient) -> None:
    assert gql.data(nested_divisions(3))["divisions"][0]["code"] == "511900"


def test_many_aliases_are_refused(gql: GraphQLClient) -> None:
    query = "{ " + " ".join(f"a{i}: divisions {{ code }}" for i in range(50)) + " }"
    assert "QUERY_TOO_COMPLEX" in gql.error_codes(query)


def test_a_huge_query_is_refused_by_its_token_count(gql: GraphQLClient) -> None:
    query = "{ divisions { " + " ".join(["code"] * 5000) + " } }"
    assert "QUERY_TOO_COMPLEX" in gql.error_codes(query)


def test_a_cached_valid_query_is_still_checked_after_an_invalid_one(gql: GraphQLClient) -> None:
    # The validation cache must not let an over-limit query through on its second attempt.
    deep = nested_divisions(20)
    assert set(gql.error_codes(deep)) == {"QUERY_TOO_COMPLEX"}
    assert set(gql.error_codes(deep)) == {"QUERY_TOO_COMPLEX"}


def test_syntax_errors_and_unknown_fields_have_codes(gql: GraphQLClient) -> None:
    assert gql.error_codes("{ divisions { code ") == ["GRAPHQL_PARSE_FAILED"]
    assert gql.error_codes("{ nope }") == ["GRAPHQL_VALIDATION_FAILED"]
    assert gql.error_codes("query($c: String!) { division(code: $c) { name } }") == [
        "BAD_USER_INPUT"]
