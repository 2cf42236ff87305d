"""What a front end gets back while a clerk types a unit code or an ID number."""

from __future__ import annotations

import pytest

from tests.conftest import GraphQLClient
from tests.operations import operation


def validate_unit_code(gql: GraphQLClient, code: str) -> dict:
    return gql.data(operation("ValidateUnitCode"), {"code": code})["validateUnitCode"]


def problem_codes(result: dict) -> set[str]:
    return {p["code"] for p in result["problems"]}


def test_a_rural_house_code_is_valid_and_explained(gql: GraphQLClient) -> None:
    result = validate_unit_code(gql, "511923101003JC00012F00010001")
    assert result["valid"] is True and result["problems"] == []
    assert result["parts"] == {
        "countyCode": "511923", "countyName": "平昌县", "parcelCode": "511923101003JC00012",
        "ownership": "J", "useRight": "C", "fixture": "F", "fixtureNumber": "00010001"}


def test_full_width_input_is_normalised(gql: GraphQLClient) -> None:
    good = validate_unit_code(gql, "５１１９０２００１００２ＧＸ００００３Ｆ０００１００１２")
    assert good["valid"] is True
    assert good["normalized"] == "511902001002GX00003F00010012"
    short = validate_unit_code(gql, "５１１９０２００１００２ＧＸ０００３Ｆ０００１００１２")
    assert short["normalized"] == "511902001002GX0003F00010012"
    assert short["valid"] is False and "BAD_LENGTH" in problem_codes(short)


@pytest.mark.parametrize(("code", "expected"), [
    ("", {"EMPTY"}),
    ("511923101003JC00012F0001000", {"BAD_LENGTH"}),
    ("110105101003JC00012F00010001", {"UNKNOWN_COUNTY"}),  # a Beijing county: not ours
    ("511923101003GC00012F00010001", {"BAD_FEATURE_COMBINATION"}),
    ("511923101003JC00012W00010001", {"BAD_FIXTURE_NUMBER"}),
    ("511923101003JC00000F00010001", {"BAD_PARCEL_SEQUENCE"}),
    ("511923101003QC00012F00010001", {"BAD_OWNERSHIP_CODE"}),
    ("511923101003JC00012P00010001", {"BAD_FIXTURE_CODE"}),
    ("5119231O1003JC00012F00010001", {"BAD_CHARACTER"}),
])
def test_each_problem_has_its_own_code(gql: GraphQLClient, code: str,
                                       expected: set[str]) -> None:
    result = validate_unit_code(gql, code)
    assert result["valid"] is False and result["parts"] is None
    assert problem_codes(result) == expected
    assert all(p["messageZh"] and p["messageEn"] for p in result["problems"])


def test_arbitrary_long_input_is_answered_not_crashed(gql: GraphQLClient) -> None:
    result = validate_unit_code(gql, "字" * 2000)
    assert result["valid"] is False and problem_codes(result) == {"BAD_LENGTH"}


def test_a_resident_id_is_checked_and_masked(gql: GraphQLClient) -> None:
    valid = gql.data(operation("ValidatePartyId"),
                     {"idType": "RESIDENT_ID", "number": "11010519491231002X"})
    assert valid["validatePartyId"] == {"valid": True, "masked": "110105********002X",
                                        "legacy": False, "problems": []}
    wrong = gql.data(operation("ValidatePartyId"),
                     {"idType": "RESIDENT_ID", "number": "110105194912310021"})
    result = wrong["validatePartyId"]
    assert result["valid"] is False
    assert problem_codes(result) == {"BAD_CHECKSUM"}
    assert "110105194912310021" not in str(result)


def test_a_legacy_id_is_valid_with_a_warning(gql: GraphQLClient) -> None:
    data = gql.data(operation("ValidatePartyId"),
                    {"idType": "RESIDENT_ID", "number": "110105491231002"})
    result = data["validatePartyId"]
    assert result["valid"] is True and result["legacy"] is True
    assert [(p["code"], p["severity"]) for p in result["problems"]] == [("LEGACY_ID", "WARNING")]


def test_a_credit_code_with_a_forbidden_letter(gql: GraphQLClient) -> None:
    data = gql.data(operation("ValidatePartyId"),
                    {"idType": "CREDIT_CODE", "number": "91110108551385O82Q"})
    assert "BAD_CHARACTER" in problem_codes(data["validatePartyId"])


def test_an_unknown_id_type_is_refused_by_the_schema(gql: GraphQLClient) -> None:
    assert gql.error_codes(operation("ValidatePartyId"),
                           {"idType": "DRIVING_LICENCE", "number": "x"}) == ["BAD_USER_INPUT"]
