"""Land-use code formats: GB/T 21010-2017/-2007 and the 2023 用地用海 classification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.codes import LandUseSystem, Problem, check_land_use_code

GB2017, GB2007, LS2023 = (
    LandUseSystem.GB_T_21010_2017, LandUseSystem.GB_T_21010_2007, LandUseSystem.LAND_SEA_2023,
)


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


def test_system_values_name_the_classification() -> None:
    assert GB2017.value == "GB/T 21010-2017"
    assert GB2007.value == "GB/T 21010-2007"
    assert LS2023.value == "用地用海分类2023"
    assert LandUseSystem("GB/T 21010-2017") is GB2017


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (GB2017, "0702"),  # 农村宅基地
        (GB2017, "0810"),  # 公园与绿地
        (GB2017, "1003"),  # 公路
        (GB2017, "1109"),  # 水工建筑
        (GB2017, "07"),
        (GB2017, "12"),
        (GB2007, "0101"),
        (LS2023, "0703"),  # 农村宅基地 in 2023
        (LS2023, "1202"),  # 公路用地
        (LS2023, "070301"),
        (LS2023, "24"),
        (GB2017, "０７０２"),  # full-width digits are normalised
        ("GB/T 21010-2017", " 0702 "),
    ],
)
def test_well_formed_codes(system: LandUseSystem | str, code: str) -> None:
    assert check_land_use_code(system, code) == []


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (GB2017, "", {"EMPTY"}),
        (GB2017, "0" * 65, {"BAD_LENGTH"}),
        (GB2017, "070", {"BAD_LAND_USE_CODE"}),
        (GB2017, "070201", {"BAD_LAND_USE_CODE"}),  # no third level in GB/T 21010
        (GB2017, "1301", {"BAD_LAND_USE_CODE"}),  # first-level classes are 01–12
        (GB2007, "00", {"BAD_LAND_USE_CODE"}),
        (GB2017, "07A2", {"BAD_LAND_USE_CODE"}),
        (GB2017, "07①2", {"BAD_LAND_USE_CODE"}),
        (GB2017, "07 02", {"BAD_LAND_USE_CODE"}),
        (LS2023, "12345", {"BAD_LAND_USE_CODE"}),
        (LS2023, "07030101", {"BAD_LAND_USE_CODE"}),
        (LS2023, "2501", {"BAD_LAND_USE_CODE"}),  # first-level classes are 01–24
    ],
)
def test_malformed_codes(system: LandUseSystem, code: str, expected: set[str]) -> None:
    assert codes(check_land_use_code(system, code)) == expected


def test_same_number_is_checked_per_system() -> None:
    assert codes(check_land_use_code(GB2017, "1401")) == {"BAD_LAND_USE_CODE"}
    assert check_land_use_code(LS2023, "1401") == []  # 绿地与开敞空间用地 exists only in 2023


@given(st.sampled_from(list(LandUseSystem)), st.one_of(
    st.text(),
    st.builds(lambda a, s, b: a + s + b,  # a lone surrogate inside
              st.text(max_size=15), st.characters(categories=["Cs"]), st.text(max_size=15)),
    st.text("0123456789０１①²\u3000 -.A", max_size=10),
    st.builds(lambda s, n: (s * n)[:10_000],
              st.text(min_size=1, max_size=20), st.integers(1, 10_000)),
))
def test_check_never_raises_and_returns_problems(system: LandUseSystem, text: str) -> None:
    problems = check_land_use_code(system, text)
    assert isinstance(problems, list)
    assert all(isinstance(p, Problem) for p in problems)
    for p in problems:  # messages are printable text even for lone surrogates
        (p.message_zh + p.message_en).encode("utf-8")
