"""Shared pieces of registry.codes: input normalisation, Problem/CodeError, division codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.codes import (
    PROVINCE_CODES,
    CodeError,
    Problem,
    county_of,
    division_level,
    is_county_code,
    normalize,
)

# ---- normalize -------------------------------------------------------------------------------


def test_normalize_strips_ascii_and_ideographic_spaces() -> None:
    assert normalize(" \t\u3000511923\u3000 \n") == "511923"


def test_normalize_maps_full_width_ascii_to_ascii() -> None:
    assert normalize("５１１９２３ＪＣ（）－") == "511923JC()-"


def test_normalize_upper_cases_ascii_letters_only() -> None:
    assert normalize("jc x ｊｃ") == "JC X JC"
    assert normalize("ß") == "ß"  # str.upper() would give "SS"
    assert normalize("é") == "é"


@pytest.mark.parametrize("text", ["①", "²", "٣", "〇", "Ⅷ"])
def test_normalize_is_not_nfkc(text: str) -> None:
    assert normalize(text) == text


def test_normalize_keeps_internal_whitespace() -> None:
    assert normalize("51 19\u300023") == "51 19\u300023"


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


# ---- Problem and CodeError -------------------------------------------------------------------


def test_problem_defaults_to_error_without_position() -> None:
    problem = Problem("EMPTY", "为空", "is empty")
    assert problem.position is None
    assert problem.severity == "error"
    assert problem.is_error


def test_code_error_is_a_value_error_whose_str_is_the_english_messages() -> None:
    error = CodeError([Problem("A", "甲", "first"), Problem("B", "乙", "second", position=3)])
    assert isinstance(error, ValueError)
    assert str(error) == "first; second"
    assert error.codes == {"A", "B"}
    assert [p.code for p in error.problems] == ["A", "B"]


# ---- divisions -------------------------------------------------------------------------------


def test_there_are_34_province_prefixes() -> None:
    assert len(PROVINCE_CODES) == 34
    assert {"11", "51", "65", "71", "81", "82"} <= PROVINCE_CODES
    assert not {"00", "10", "16", "20", "24", "38", "47", "55", "66", "72", "83", "99"} & (
        PROVINCE_CODES
    )


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("510000", "province"),  # 四川省
        ("511900", "city"),  # 巴中市
        ("511902", "county"),  # 巴州区
        ("511923", "county"),  # 平昌县
        ("511923101", "township"),
        ("511923101003", "village"),
        ("991923", None),  # unknown province
        ("51192", None),
        ("5119231", None),
        ("51192A", None),
        ("５１１９２３", None),  # division codes are not normalised here
        ("51192①", None),
        ("", None),
    ],
)
def test_division_level_by_structure(code: str, level: str | None) -> None:
    assert division_level(code) == level


def test_is_county_code() -> None:
    assert is_county_code("511921")
    assert not is_county_code("511900")
    assert not is_county_code("510000")
    assert not is_county_code("511921101")


def test_county_of_township_and_village_codes() -> None:
    assert county_of("511923101") == "511923"
    assert county_of("511923101003") == "511923"
    assert county_of("511923") == "511923"


@pytest.mark.parametrize("code", ["", "5119", "51192A101"])
def test_county_of_rejects_non_division_codes(code: str) -> None:
    with pytest.raises(ValueError):
        county_of(code)
