"""不动产单元代码 (28 chars) and 宗地代码 (19 chars), GB/T 37346-2019 (domain.md §2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.codes import (
    PROVINCE_CODES,
    CodeError,
    Fixture,
    Ownership,
    ParcelCode,
    Problem,
    UnitCode,
    UseRight,
    build_unit_code,
    check_parcel_code,
    check_unit_code,
    land_unit_code,
    normalize,
    parse_parcel_code,
    parse_unit_code,
)

BAZHONG_COUNTIES = frozenset({"511902", "511903", "511921", "511922", "511923"})
RURAL_HOUSE = "511923101003JC00012F00010001"
PARKING_SPACE = "511902001002GX00003F00010012"
ROAD_LAND = "511902003001GB00101W00000000"
REAL_WORLD_SHAPE = "340121261006GB00014F00220045"


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


# ---- the domain.md examples ------------------------------------------------------------------


@pytest.mark.parametrize("code", [RURAL_HOUSE, PARKING_SPACE, ROAD_LAND])
def test_bazhong_examples_are_valid_against_known_counties(code: str) -> None:
    assert check_unit_code(code, BAZHONG_COUNTIES) == []
    assert parse_unit_code(code, BAZHONG_COUNTIES).code == code


def test_real_world_shape_is_valid_without_a_county_list() -> None:
    assert check_unit_code(REAL_WORLD_SHAPE) == []


def test_rural_house_segments() -> None:
    unit = parse_unit_code(RURAL_HOUSE)
    assert unit.parcel == ParcelCode("511923", "101", "003", Ownership.COLLECTIVE,
                                     UseRight.HOMESTEAD, "00012")
    assert unit.parcel_code == "511923101003JC00012"
    assert unit.parcel.feature_code == "JC"
    assert unit.fixture is Fixture.BUILDING
    assert (unit.building_no, unit.unit_no) == (1, 1)
    assert not unit.is_land_only
    assert str(unit) == RURAL_HOUSE


def test_parking_space_building_and_unit_numbers() -> None:
    unit = parse_unit_code(PARKING_SPACE)
    assert unit.parcel.use_right is UseRight.CONSTRUCTION_BELOW
    assert (unit.building_no, unit.unit_no) == (1, 12)


def test_land_only_unit_has_no_building_numbers() -> None:
    unit = parse_unit_code(ROAD_LAND)
    assert unit.is_land_only
    assert unit.building_no is None
    assert unit.unit_no is None


def test_parcel_code_is_the_first_19_characters() -> None:
    assert check_parcel_code("511923101003JC00012", BAZHONG_COUNTIES) == []
    assert parse_parcel_code("511923101003JC00012").code == RURAL_HOUSE[:19]


def test_land_unit_code_appends_w_and_eight_zeros() -> None:
    assert land_unit_code("511902003001GB00101") == ROAD_LAND
    assert land_unit_code(parse_parcel_code("511902003001GB00101")) == ROAD_LAND


def test_enum_labels() -> None:
    assert Ownership("J").label_zh == "集体土地所有权"
    assert UseRight("C").label_zh == "宅基地使用权宗地"
    assert Fixture("W").label_zh == "无定着物"
    assert [m.value for m in UseRight] == list("ABSXCDEFGHWY")
    assert [m.value for m in Fixture] == list("FLQW")


# ---- normalisation ---------------------------------------------------------------------------


def test_full_width_unit_code_is_accepted_and_normalised_to_ascii() -> None:
    text = "５１１９２３１０１００３ＪＣ００００１Ｆ０００１０００１"
    assert check_unit_code(text) == []
    assert parse_unit_code(text).code == "511923101003JC00001F00010001"


def test_lower_case_and_surrounding_spaces_are_accepted() -> None:
    assert parse_unit_code("\u3000 511923101003jc00012f00010001 ").code == RURAL_HOUSE


def test_circled_digit_is_a_bad_character() -> None:
    problems = check_unit_code("51192310100③JC00012F00010001")
    assert codes(problems) == {"BAD_CHARACTER"}
    assert problems[0].position == 12


# ---- every problem code, from a concrete bad input -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"EMPTY"}),
        (" \u3000\t", {"EMPTY"}),
        ("5" * 65, {"BAD_LENGTH"}),
        ("x" * 65, {"BAD_LENGTH"}),  # too long: nothing else is looked at
        (RURAL_HOUSE[:-1], {"BAD_LENGTH"}),
        (RURAL_HOUSE + "1", {"BAD_LENGTH"}),
        ("51192310100AJC00012F00010001", {"BAD_CHARACTER"}),
        ("5119231010031C00012F00010001", {"BAD_CHARACTER"}),  # digit where a letter belongs
        ("511923101003QC00012F00010001", {"BAD_OWNERSHIP_CODE"}),
        ("511923101003JK00012F00010001", {"BAD_USE_CODE"}),
        ("511923101003GC00012F00010001", {"BAD_FEATURE_COMBINATION"}),  # homestead on state land
        ("511923101003ZA00012W00000000", {"BAD_FEATURE_COMBINATION"}),
        ("511923101003JC00000F00010001", {"BAD_PARCEL_SEQUENCE"}),
        ("511923101003JC00012K00010001", {"BAD_FIXTURE_CODE"}),
        ("511902003001GB00101W00000001", {"BAD_FIXTURE_NUMBER"}),
        ("511923101003JC00012F00000001", {"BAD_FIXTURE_NUMBER"}),  # building no. 0000
        ("511923101003JC00012F00010000", {"BAD_FIXTURE_NUMBER"}),  # unit no. 0000
        ("991923101003JC00012F00010001", {"BAD_COUNTY"}),  # no province 99
        ("511900101003JC00012F00010001", {"BAD_COUNTY"}),  # 巴中市 is a city
        ("510000101003JC00012F00010001", {"BAD_COUNTY"}),  # 四川省
        ("511924101003JC00012F00010001", {"UNKNOWN_COUNTY"}),
    ],
)
def test_each_rule_gives_its_problem_code(text: str, expected: set[str]) -> None:
    assert codes(check_unit_code(text, BAZHONG_COUNTIES)) == expected


def test_unknown_county_only_when_a_county_list_is_given() -> None:
    assert check_unit_code("511924101003JC00012F00010001") == []


def test_every_problem_is_reported_not_just_the_first() -> None:
    problems = check_unit_code("511900101003GC00000W00000010")
    assert [p.code for p in problems] == [
        "BAD_COUNTY", "BAD_FEATURE_COMBINATION", "BAD_PARCEL_SEQUENCE", "BAD_FIXTURE_NUMBER",
    ]
    assert [p.position for p in problems] == [1, 13, 15, 21]


def test_building_and_unit_number_both_zero_gives_two_problems() -> None:
    problems = check_unit_code("511923101003JC00012F00000000")
    assert [(p.code, p.position) for p in problems] == [
        ("BAD_FIXTURE_NUMBER", 21), ("BAD_FIXTURE_NUMBER", 25),
    ]


def test_bad_character_reports_first_offending_position_of_each_segment() -> None:
    problems = check_unit_code("5119X3101Y0Z1C00A12FB001000C")
    assert [(p.code, p.position) for p in problems] == [
        ("BAD_CHARACTER", 5),  # county
        ("BAD_CHARACTER", 10),  # sub-district (first of Y, Z)
        ("BAD_CHARACTER", 13),  # ownership letter position holds a digit
        ("BAD_CHARACTER", 17),  # sequence
        ("BAD_CHARACTER", 21),  # fixture number (first of B, C)
    ]


def test_wrong_length_still_reports_visible_bad_characters() -> None:
    problems = check_unit_code("51192310100AJC0001")
    assert [(p.code, p.position) for p in problems] == [
        ("BAD_LENGTH", None), ("BAD_CHARACTER", 12),
    ]


def test_parcel_check_rejects_a_full_unit_code_by_length() -> None:
    assert codes(check_parcel_code(RURAL_HOUSE)) == {"BAD_LENGTH"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("511923101003JC00000", {"BAD_PARCEL_SEQUENCE"}),
        ("511923101003GA00012", {"BAD_FEATURE_COMBINATION"}),
        ("511900101003JC00012", {"BAD_COUNTY"}),
        ("511924101003JC00012", {"UNKNOWN_COUNTY"}),
    ],
)
def test_parcel_code_rules(text: str, expected: set[str]) -> None:
    assert codes(check_parcel_code(text, BAZHONG_COUNTIES)) == expected


def test_messages_name_the_segment_in_both_languages() -> None:
    (problem,) = check_unit_code("511923101003GC00012F00010001")
    assert problem.message_zh.startswith("第13–14位宗地特征码")
    assert problem.message_en.startswith("positions 13–14 (parcel feature code)")
    (problem,) = check_unit_code("511923101003JK00012F00010001")
    assert "第14位" in problem.message_zh
    assert "position 14" in problem.message_en


def test_parse_raises_code_error_with_every_problem() -> None:
    with pytest.raises(CodeError) as caught:
        parse_unit_code("511900101003GC00000W00000010")
    assert caught.value.codes == {
        "BAD_COUNTY", "BAD_FEATURE_COMBINATION", "BAD_PARCEL_SEQUENCE", "BAD_FIXTURE_NUMBER",
    }
    assert "positions 15–19 (parcel sequence number)" in str(caught.value)


def test_parse_with_unknown_county_raises() -> None:
    with pytest.raises(CodeError) as caught:
        parse_parcel_code("511924101003JC00012", BAZHONG_COUNTIES)
    assert caught.value.codes == {"UNKNOWN_COUNTY"}


def test_constructing_an_invalid_parcel_code_raises() -> None:
    with pytest.raises(CodeError) as caught:
        ParcelCode("511923", "101", "003", Ownership.STATE, UseRight.HOMESTEAD, "00012")
    assert caught.value.codes == {"BAD_FEATURE_COMBINATION"}
    with pytest.raises(CodeError) as caught:
        ParcelCode("5119230", "101", "003", Ownership.STATE, UseRight.HOMESTEAD, "00012")
    assert caught.value.codes == {"BAD_LENGTH"}


# ---- build_unit_code -------------------------------------------------------------------------


def test_build_building_unit() -> None:
    unit = build_unit_code("511902001002GX00003", "F", 1, 12)
    assert unit.code == PARKING_SPACE
    assert (unit.building_no, unit.unit_no) == (1, 12)
    assert build_unit_code("511923101003JC00012", "F", 9999, 9999).code.endswith("F99999999")


def test_build_land_only_unit() -> None:
    assert build_unit_code("511902003001GB00101", "W").code == ROAD_LAND


def test_build_forest_and_other_units_take_a_plain_number() -> None:
    parcel = parse_parcel_code("511923101003JE00007")
    assert build_unit_code(parcel, "L", number=42).code == "511923101003JE00007L00000042"
    assert build_unit_code(parcel, "q", number=99_999_999).code.endswith("Q99999999")


@pytest.mark.parametrize(
    ("fixture", "kwargs"),
    [
        ("F", {"building_no": 0, "unit_no": 1}),
        ("F", {"building_no": 1, "unit_no": 0}),
        ("F", {"building_no": 10000, "unit_no": 1}),
        ("F", {"building_no": 1, "unit_no": 1, "number": 5}),
        ("W", {"building_no": 1}),
        ("W", {"number": 3}),
        ("L", {}),
        ("L", {"number": 0}),
        ("Q", {"number": 100_000_000}),
        ("L", {"building_no": 1, "number": 2}),
    ],
)
def test_build_rejects_numbers_that_do_not_fit_the_fixture(
    fixture: str, kwargs: dict[str, int]
) -> None:
    with pytest.raises(CodeError) as caught:
        build_unit_code("511923101003JC00012", fixture, **kwargs)
    assert caught.value.codes == {"BAD_FIXTURE_NUMBER"}


def test_build_rejects_an_unknown_fixture_code() -> None:
    with pytest.raises(CodeError) as caught:
        build_unit_code("511923101003JC00012", "K", 1, 1)
    assert caught.value.codes == {"BAD_FIXTURE_CODE"}


def test_build_rejects_an_invalid_parcel_code() -> None:
    with pytest.raises(CodeError) as caught:
        build_unit_code("511923101003GC00012", "F", 1, 1)
    assert caught.value.codes == {"BAD_FEATURE_COMBINATION"}


# ---- properties ------------------------------------------------------------------------------

DIGIT = "0123456789"


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(DIGIT, min_size=n, max_size=n)


county_codes = st.builds(
    lambda province, city, county: province + city + county,
    st.sampled_from(sorted(PROVINCE_CODES)),
    digits(2),
    digits(2).filter(lambda d: d != "00"),
)
feature_codes = st.tuples(st.sampled_from("GJZ"), st.sampled_from("ABSXCDEFGHWY")).filter(
    lambda f: f[1] not in "AC" or f[0] == "J"
).map("".join)
sequences = st.integers(1, 99_999).map(lambda n: f"{n:05d}")
fixture_parts = st.one_of(
    st.tuples(st.integers(1, 9999), st.integers(1, 9999)).map(lambda b: f"F{b[0]:04d}{b[1]:04d}"),
    st.just("W00000000"),
    st.tuples(st.sampled_from("LQ"), st.integers(0, 99_999_999)).map(lambda f: f"{f[0]}{f[1]:08d}"),
)
parcel_codes = st.builds(
    lambda county, district, sub, feature, seq: county + district + sub + feature + seq,
    county_codes, digits(3), digits(3), feature_codes, sequences,
)
unit_codes = st.builds(str.__add__, parcel_codes, fixture_parts)

FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in DIGIT + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


@given(unit_codes)
def test_valid_unit_codes_round_trip(code: str) -> None:
    assert check_unit_code(code) == []
    unit = parse_unit_code(code)
    assert unit.code == code
    assert UnitCode(unit.parcel, unit.fixture, unit.fixture_number) == unit
    assert parse_parcel_code(code[:19]) == unit.parcel


@given(unit_codes)
def test_full_width_and_lower_case_spellings_parse_to_the_same_code(code: str) -> None:
    assert parse_unit_code(code.translate(FULL_WIDTH)).code == code
    assert parse_unit_code(code.lower()).code == code


@given(unit_codes)
def test_build_reproduces_parsed_building_and_land_units(code: str) -> None:
    unit = parse_unit_code(code)
    if unit.fixture is Fixture.BUILDING:
        assert unit.building_no is not None and unit.unit_no is not None
        rebuilt = build_unit_code(unit.parcel, "F", unit.building_no, unit.unit_no)
        assert rebuilt.code == code
    elif unit.fixture is Fixture.NO_FIXTURE:
        assert build_unit_code(unit.parcel_code, "W").code == code == land_unit_code(unit.parcel)


odd_characters = "0123456789GJZFWXACL５Ｆｊ①²٣\u3000 \t\x00\x7f-（）漢"
arbitrary_text = st.one_of(
    st.text(),
    st.builds(lambda a, s, b: a + s + b,  # a lone surrogate inside
              st.text(max_size=15), st.characters(categories=["Cs"]), st.text(max_size=15)),
    st.text(odd_characters, max_size=40),
    st.builds(lambda s, n: (s * n)[:10_000],
              st.text(min_size=1, max_size=20), st.integers(1, 10_000)),
    st.builds(lambda code, cut: code[:cut], unit_codes, st.integers(0, 28)),
    st.builds(
        lambda code, i, ch: code[:i] + ch + code[i + 1:],
        unit_codes, st.integers(0, 27), st.characters(),
    ),
)


@given(arbitrary_text, st.sampled_from([None, BAZHONG_COUNTIES]))
def test_checks_never_raise_and_return_problems(
    text: str, known: frozenset[str] | None
) -> None:
    for check in (check_unit_code, check_parcel_code):
        problems = check(text, known)
        assert isinstance(problems, list)
        assert all(isinstance(p, Problem) for p in problems)
        for p in problems:  # messages are printable text even for lone surrogates
            (p.message_zh + p.message_en).encode("utf-8")
        for p in problems:
            assert p.position is None or 1 <= p.position <= len(normalize(text))
    if len(text) > 64:
        assert codes(check_unit_code(text)) == {"BAD_LENGTH"}


@given(arbitrary_text)
def test_parse_raises_only_code_error(text: str) -> None:
    for parse in (parse_unit_code, parse_parcel_code):
        try:
            parse(text)
        except CodeError as error:
            assert error.problems


# --- the fast path agrees with the explaining path --------------------------------------------

_NEAR_VALID = st.lists(
    st.sampled_from(list("0123456789GJZABSXCDEFHWYLQ")), min_size=19, max_size=28,
).map("".join)


@given(_NEAR_VALID, st.sampled_from([None, frozenset({"511923", "511902"})]))
def test_fast_path_accepts_exactly_what_the_full_checks_accept(text: str, known) -> None:
    from registry.codes.unit_code import (
        PARCEL_SEGMENTS,
        UNIT_SEGMENTS,
        _plainly_valid,
        _problems,
    )

    for length, segments in ((28, UNIT_SEGMENTS), (19, PARCEL_SEGMENTS)):
        full = _problems(text, known, segments, length, "代码", "code")
        assert _plainly_valid(text, length, known) == (full == []), (text, length, full)


@given(st.sampled_from(["511923101003JC00012F00010001", "511902001002GX00003F00010012",
                        "511902003001GB00101W00000000"]), st.integers(0, 27),
       st.sampled_from(list("0123456789GJZABSXCDEFHWYLQ")))
def test_fast_path_agrees_on_every_single_substitution(code: str, position: int,
                                                       char: str) -> None:
    from registry.codes.unit_code import UNIT_SEGMENTS, _plainly_valid, _problems

    text = code[:position] + char + code[position + 1:]
    known = frozenset({"511923", "511902"})
    full = _problems(text, known, UNIT_SEGMENTS, 28, "代码", "code")
    assert _plainly_valid(text, 28, known) == (full == [])
