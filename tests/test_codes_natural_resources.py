"""Natural-resource codes (NRCODE-1..4 in registry/codes/natural_resources.py): the unit code
read by a configurable pattern, the unit-type list, the 三调 mapping and the notice period."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.codes.natural_resources import (
    DEFAULT_LAND_COVER_MAPPING,
    UNIT_TYPES,
    ResourceType,
    check_unit_code,
    is_working_day,
    notice_period_end,
    parse_unit_code,
    unit_type_parent,
)
from registry.codes.problems import CodeError

BAZHONG = {"510000", "511900", "511902", "511903", "511921", "511922", "511923"}


def codes(text: str, type_code: str | None = None) -> set[str]:
    return {p.code for p in check_unit_code(text, known_divisions=BAZHONG, type_code=type_code)}


def test_a_nature_reserve_in_nanjiang_has_a_well_formed_code() -> None:
    assert codes("511922220000001", type_code="22") == set()
    parsed = parse_unit_code("５１１９２２２２０００００01")  # full-width digits normalised
    assert (parsed.code, parsed.division, parsed.type_code) == ("511922220000001", "511922", "22")


@pytest.mark.parametrize(("text", "expected"), [
    ("", {"EMPTY"}),
    ("51192222000001", {"BAD_FORMAT"}),  # 14 characters
    ("51192222000000X", {"BAD_FORMAT"}),
    ("512345220000001", {"UNKNOWN_DIVISION"}),
])
def test_malformed_codes_are_named(text: str, expected: set[str]) -> None:
    assert codes(text) == expected


def test_the_type_in_the_code_must_be_the_units_type() -> None:
    assert codes("511922310000001", type_code="22") == {"UNIT_TYPE_MISMATCH"}
    with pytest.raises(CodeError) as caught:
        parse_unit_code("5119223100000")
    assert caught.value.codes == {"BAD_FORMAT"}


def test_the_pattern_is_configuration() -> None:
    """Another bureau's format (say, 'ZR' + county + 4 digits) needs no code change; a pattern
    without named groups checks the shape only."""
    pattern = r"ZR(?P<division>[0-9]{6})[0-9]{4}"
    assert check_unit_code("ZR5119220001", pattern, BAZHONG, "30") == []
    assert parse_unit_code("zr5119220001", pattern).division == "511922"
    assert check_unit_code("511922220000001", pattern) != []
    assert check_unit_code("ANYTHING-1", r"[A-Z-]+[0-9]", BAZHONG, "30") == []


@given(st.text(max_size=80))
def test_checking_never_raises(text: str) -> None:
    problems = check_unit_code(text, known_divisions=BAZHONG, type_code="22")
    assert all(p.is_error for p in problems)


def test_unit_types_and_their_parents() -> None:
    assert UNIT_TYPES["21"] == "国家公园" and unit_type_parent("21") == "20"
    assert unit_type_parent("20") is None and unit_type_parent("50") is None
    assert unit_type_parent("77") is None
    assert all(len(c) == 2 and c.isdigit() for c in UNIT_TYPES)


def test_the_land_cover_mapping_follows_the_vendor_lists() -> None:
    by_type: dict[ResourceType, set[str]] = {}
    for code, (_, kind) in DEFAULT_LAND_COVER_MAPPING.items():
        by_type.setdefault(kind, set()).add(code)
    assert by_type[ResourceType.WETLAND] == {"0303", "0304", "0306", "0402", "0603", "1105",
                                             "1106", "1108"}
    assert by_type[ResourceType.FOREST] == {"0301", "0302", "0305", "0307"}
    assert by_type[ResourceType.GRASSLAND] == {"0401", "0403", "0404"}
    assert by_type[ResourceType.WATER] == {"1101", "1102", "1103", "1110"}
    assert by_type[ResourceType.WASTELAND] == {"1205", "1206", "1207"}
    assert {"0101", "0702", "1104", "1107"} <= by_type[ResourceType.NON_RESOURCE]


def test_a_notice_published_on_a_monday_runs_three_weeks() -> None:
    monday = date(2026, 12, 7)
    assert notice_period_end(monday) == date(2026, 12, 25)  # 15 working days, a Friday
    saturday = date(2026, 12, 12)
    assert notice_period_end(saturday, 1) == date(2026, 12, 14)  # starts on the next Monday
    assert notice_period_end(monday, 5, holidays={date(2026, 12, 9)}) == date(2026, 12, 14)
    with pytest.raises(ValueError):
        notice_period_end(monday, 0)


@given(st.dates(date(2000, 1, 1), date(2100, 1, 1)), st.integers(1, 60),
       st.sets(st.dates(date(2000, 1, 1), date(2100, 6, 1)), max_size=20))
def test_the_notice_period_counts_exactly_its_working_days(
        published: date, days: int, holidays: set[date]) -> None:
    end = notice_period_end(published, days, holidays)
    assert end >= published and is_working_day(end, holidays)
    span = [published + timedelta(n) for n in range((end - published).days + 1)]
    assert sum(is_working_day(d, holidays) for d in span) == days


def test_the_unit_code_pattern_and_notice_length_are_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from registry.config import Settings

    monkeypatch.setenv("NATURAL_RESOURCE_UNIT_CODE_PATTERN", r"ZR(?P<division>[0-9]{6})[0-9]{4}")
    monkeypatch.setenv("NATURAL_RESOURCE_NOTICE_WORKING_DAYS", "20")
    settings = Settings()
    assert parse_unit_code("ZR5119220001", settings.natural_resource_unit_code_pattern).division \
        == "511922"
    assert settings.natural_resource_notice_working_days == 20
    with pytest.raises(ValidationError, match="not a regular expression"):
        Settings(natural_resource_unit_code_pattern="(unclosed")
    with pytest.raises(ValidationError):
        Settings(natural_resource_notice_working_days=0)
