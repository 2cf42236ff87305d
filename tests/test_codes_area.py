"""Exact areas: 平方米 / 亩 / 公顷 (domain.md §5)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.codes import (
    SQUARE_METRES_PER,
    AreaUnit,
    CodeError,
    Problem,
    check_decimal,
    convert,
    from_square_metres,
    parse_area_unit,
    parse_decimal,
    round_decimal,
    to_square_metres,
)

M2, MU, HA = AreaUnit.SQUARE_METRE, AreaUnit.MU, AreaUnit.HECTARE


def codes(problems: list[Problem]) -> set[str]:
    return {p.code for p in problems}


def test_unit_codes_and_labels_are_the_national_ones() -> None:
    assert [(u.value, u.label_zh) for u in AreaUnit] == [
        ("1", "平方米"), ("2", "亩"), ("3", "公顷"),
    ]


def test_one_mu_is_exactly_2000_thirds_square_metres() -> None:
    assert SQUARE_METRES_PER[MU] == Fraction(2000, 3)
    assert to_square_metres(1, MU) == Fraction(2000, 3)
    assert to_square_metres("1", "2") == Fraction(2000, 3)


def test_one_hectare_is_exactly_15_mu() -> None:
    assert convert(1, HA, MU) == 15
    assert convert(15, MU, HA) == 1
    assert to_square_metres(1, HA) == 15 * to_square_metres(1, MU)


def test_convert_accepts_decimals_and_decimal_text() -> None:
    assert convert(Decimal("1.5"), MU, M2) == 1000
    assert convert("0.3", MU, M2) == 200
    assert from_square_metres(666, MU) == Fraction(999, 1000)


def test_floats_are_refused_because_they_are_not_exact() -> None:
    with pytest.raises(TypeError):
        to_square_metres(0.1, M2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_square_metres(True, M2)


def test_non_finite_decimals_are_refused() -> None:
    with pytest.raises(CodeError) as caught:
        to_square_metres(Decimal("NaN"), M2)
    assert caught.value.codes == {"BAD_NUMBER"}


@pytest.mark.parametrize(
    ("text", "unit"),
    [("1", M2), ("2", MU), ("3", HA), ("平方米", M2), ("亩", MU), ("公顷", HA), ("m²", M2),
     ("ha", HA), ("㎡", M2), ("３", HA)],
)
def test_parse_area_unit(text: str, unit: AreaUnit) -> None:
    assert parse_area_unit(text) is unit


@pytest.mark.parametrize("text", ["4", "", "acre", "2" * 100])
def test_parse_area_unit_rejects_unknown_units(text: str) -> None:
    with pytest.raises(CodeError) as caught:
        parse_area_unit(text)
    assert caught.value.codes == {"BAD_AREA_UNIT"}


# ---- parse_decimal ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1", Fraction(1, 10)),
        ("12", Fraction(12)),
        ("12.", Fraction(12)),
        (".5", Fraction(1, 2)),
        ("+3.25", Fraction(13, 4)),
        ("-0", Fraction(0)),
        ("-0.000", Fraction(0)),
        ("１２．５", Fraction(25, 2)),
        (" 666.6666666666666666666666666666666666 ", Fraction(6666666666666666666666666666666666666,
                                                              10**34)),
    ],
)
def test_parse_decimal_is_exact(text: str, value: Fraction) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"EMPTY"}),
        ("NaN", {"BAD_NUMBER"}),
        ("inf", {"BAD_NUMBER"}),
        ("-Infinity", {"BAD_NUMBER"}),
        ("1e3", {"BAD_NUMBER"}),
        ("1E-3", {"BAD_NUMBER"}),
        ("1,000", {"BAD_NUMBER"}),
        ("1_000", {"BAD_NUMBER"}),
        ("1/3", {"BAD_NUMBER"}),
        ("0x10", {"BAD_NUMBER"}),
        ("1.2.3", {"BAD_NUMBER"}),
        (".", {"BAD_NUMBER"}),
        ("١٢", {"BAD_NUMBER"}),  # Arabic-Indic digits are not normalised
        ("²", {"BAD_NUMBER"}),
        ("-1.5", {"NEGATIVE_AREA"}),
        ("－２", {"NEGATIVE_AREA"}),
        ("1" * 65, {"BAD_LENGTH"}),
    ],
)
def test_bad_decimal_text(text: str, expected: set[str]) -> None:
    assert codes(check_decimal(text)) == expected
    with pytest.raises(CodeError) as caught:
        parse_decimal(text)
    assert caught.value.codes == expected


# ---- round_decimal ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (Fraction(2000, 3), 2, "666.67"),
        (Fraction(2000, 3), 0, "667"),
        (Fraction(5, 2), 0, "2"),  # half to even
        (Fraction(7, 2), 0, "4"),
        (Fraction(1, 8), 2, "0.12"),
        (Fraction(3, 8), 2, "0.38"),
        (Fraction(-5, 2), 0, "-2"),
        (Fraction(0), 2, "0.00"),
        (Fraction(1, 3), 40, "0." + "3" * 40),  # beyond the default 28-digit context
        (Decimal("1.005"), 2, "1.00"),
        (15, 1, "15.0"),
    ],
)
def test_round_decimal_half_even_and_exact(
    value: Fraction | Decimal | int, places: int, expected: str
) -> None:
    result = round_decimal(value, places)
    assert isinstance(result, Decimal)
    assert str(result) == expected


# ---- properties ------------------------------------------------------------------------------

exact_values = st.fractions(max_denominator=10**12).filter(lambda f: abs(f) < 10**15)
units = st.sampled_from(list(AreaUnit))


@given(exact_values, units, units)
def test_conversion_round_trips_are_exact(value: Fraction, a: AreaUnit, b: AreaUnit) -> None:
    assert convert(convert(value, a, b), b, a) == value


@given(exact_values)
def test_square_metres_to_mu_to_hectare_and_back_is_exact(value: Fraction) -> None:
    hectares = convert(convert(value, M2, MU), MU, HA)
    assert hectares == value / 10000
    assert convert(convert(hectares, HA, MU), MU, M2) == value


@given(st.decimals(min_value=0, max_value=10**12, places=12))
def test_parse_decimal_reads_plain_decimal_text_exactly(value: Decimal) -> None:
    assert parse_decimal(format(value, "f")) == Fraction(value)


@given(exact_values, st.integers(0, 6))
def test_rounding_is_within_half_a_unit_of_the_last_place(value: Fraction, places: int) -> None:
    rounded = Fraction(round_decimal(value, places))
    assert abs(rounded - value) <= Fraction(1, 2 * 10**places)


@given(st.one_of(
    st.text(),
    st.builds(lambda a, s, b: a + s + b,  # a lone surrogate inside
              st.text(max_size=15), st.characters(categories=["Cs"]), st.text(max_size=15)),
    st.text("0123456789.+-eE，,_ｅ１．\u3000 NaInfity", max_size=30),
    st.builds(lambda s, n: (s * n)[:10_000],
              st.text(min_size=1, max_size=20), st.integers(1, 10_000)),
))
def test_check_decimal_never_raises_and_parse_raises_only_code_error(text: str) -> None:
    problems = check_decimal(text)
    assert isinstance(problems, list)
    assert all(isinstance(p, Problem) for p in problems)
    for p in problems:  # messages are printable text even for lone surrogates
        (p.message_zh + p.message_en).encode("utf-8")
    try:
        value = parse_decimal(text)
    except CodeError as error:
        assert error.problems
    else:
        assert value >= 0
