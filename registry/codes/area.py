"""Exact areas (面积) and area units (面积单位).

Areas are stored and computed as exact :class:`~fractions.Fraction` values: 1 亩 is 2000/3 m²
exactly, which no binary or decimal float can hold, and 1 公顷 = 15 亩 must stay true. Decimals
appear only at the edges: :func:`parse_decimal` reads decimal text exactly, :func:`round_decimal`
rounds for display (half to even, 银行家舍入).

Unit codes are those of the national database standard: 1 平方米, 2 亩, 3 公顷.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from registry.codes.problems import (
    CodeError,
    Problem,
    empty,
    normalize,
    quoted,
    raise_if_errors,
    too_long,
)


class AreaUnit(StrEnum):
    """Area unit (面积单位) with its national code."""

    SQUARE_METRE = "1"
    MU = "2"
    HECTARE = "3"

    @property
    def label_zh(self) -> str:
        """Chinese label (中文名称): 平方米, 亩, 公顷."""
        return _UNIT_ZH[self]

    @property
    def symbol(self) -> str:
        """Short symbol for display: m², 亩, ha."""
        return _UNIT_SYMBOL[self]


_UNIT_ZH: dict[AreaUnit, str] = {
    AreaUnit.SQUARE_METRE: "平方米",
    AreaUnit.MU: "亩",
    AreaUnit.HECTARE: "公顷",
}
_UNIT_SYMBOL: dict[AreaUnit, str] = {
    AreaUnit.SQUARE_METRE: "m²",
    AreaUnit.MU: "亩",
    AreaUnit.HECTARE: "ha",
}

#: Square metres in one unit, exactly.
SQUARE_METRES_PER: dict[AreaUnit, Fraction] = {
    AreaUnit.SQUARE_METRE: Fraction(1),
    AreaUnit.MU: Fraction(2000, 3),
    AreaUnit.HECTARE: Fraction(10000),
}

_UNIT_NAMES: dict[str, AreaUnit] = {
    **{u.value: u for u in AreaUnit},
    **{u.label_zh: u for u in AreaUnit},
    "M2": AreaUnit.SQUARE_METRE,
    "M²": AreaUnit.SQUARE_METRE,
    "㎡": AreaUnit.SQUARE_METRE,
    "HA": AreaUnit.HECTARE,
}

AreaValue = Fraction | Decimal | int | str

# Plain decimal notation only: no exponent, no NaN/Infinity, no separators or underscores.
_DECIMAL = re.compile(r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def parse_area_unit(text: str | AreaUnit) -> AreaUnit:
    """An area unit from its code (``1``/``2``/``3``), Chinese name or symbol (m², ha).

    Raises :class:`CodeError` ``BAD_AREA_UNIT``.
    """
    if isinstance(text, AreaUnit):
        return text
    unit = _UNIT_NAMES.get(normalize(text)) if len(text) <= 64 else None
    if unit is None:
        raise CodeError([Problem(
            "BAD_AREA_UNIT",
            f"面积单位{text[:20]!r}无效，应为1（平方米）、2（亩）或3（公顷）",
            f"area unit {text[:20]!r} is invalid; expected 1 (m²), 2 (亩) or 3 (公顷/ha)",
        )])
    return unit


def check_decimal(text: str) -> list[Problem]:
    """Problems in a non-negative decimal number written as text (面积数值). Never raises.

    Accepted: ``12``, ``12.5``, ``.5``, ``12.``, ``+3``, full-width digits; ``-0`` is zero.
    Rejected: ``BAD_NUMBER`` for anything else (exponents ``1e3``, ``NaN``, ``inf``, ``1,000``,
    fractions ``1/3``), ``NEGATIVE_AREA`` for a value below zero.
    """
    if (long := too_long(text, "数值", "number")) is not None:
        return [long]
    s = normalize(text)
    if not s:
        return [empty("数值", "number")]
    m = _DECIMAL.fullmatch(s)
    if m is None:
        return [Problem(
            "BAD_NUMBER",
            f"{quoted(s)}不是十进制数（只能含数字和小数点，不能用科学计数法）",
            f"{s!r} is not a plain decimal number (digits and one decimal point; no exponent)",
        )]
    if m["sign"] == "-" and Fraction(m["number"]) != 0:
        return [Problem("NEGATIVE_AREA", "面积不能为负数", "an area must not be negative")]
    return []


def parse_decimal(text: str) -> Fraction:
    """The exact value of decimal text (``"0.1"`` → ``Fraction(1, 10)``).

    Raises :class:`CodeError` (``EMPTY``, ``BAD_LENGTH``, ``BAD_NUMBER``, ``NEGATIVE_AREA``).
    """
    raise_if_errors(check_decimal(text))
    m = _DECIMAL.fullmatch(normalize(text))
    assert m is not None  # checked above
    return Fraction(m["number"])


def _to_fraction(value: AreaValue) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Fraction | Decimal | int | str):
        raise TypeError(f"an exact value is needed (Fraction, Decimal, int or str), got "
                        f"{type(value).__name__}; floats are not exact")
    if isinstance(value, str):
        return parse_decimal(value)
    if isinstance(value, Decimal) and not value.is_finite():
        raise CodeError([Problem("BAD_NUMBER", f"数值{value}不是有限数",
                                 f"{value} is not a finite number")])
    return Fraction(value)


def to_square_metres(value: AreaValue, unit: AreaUnit | str) -> Fraction:
    """``value`` in ``unit`` as exact square metres (平方米).

    Strings are read with :func:`parse_decimal` (so they must not be negative); Fraction, Decimal
    and int values may be negative (differences of areas). Floats are refused (TypeError).
    """
    return _to_fraction(value) * SQUARE_METRES_PER[parse_area_unit(unit)]


def from_square_metres(value: AreaValue, unit: AreaUnit | str) -> Fraction:
    """Exact square metres expressed in ``unit``."""
    return _to_fraction(value) / SQUARE_METRES_PER[parse_area_unit(unit)]


def convert(value: AreaValue, from_unit: AreaUnit | str, to_unit: AreaUnit | str) -> Fraction:
    """Convert an area exactly between units (e.g. 1 公顷 → 15 亩)."""
    return from_square_metres(to_square_metres(value, from_unit), to_unit)


def round_decimal(value: Fraction | Decimal | int, places: int) -> Decimal:
    """Round an exact value to ``places`` decimal places, half to even, for display only.

    The result is exact (no decimal context precision is involved): ``Fraction(2000, 3)`` with
    2 places is ``Decimal("666.67")``.
    """
    scaled = _to_fraction(value) * Fraction(10) ** places
    sign, digits, exponent = Decimal(round(scaled)).as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent - places))
