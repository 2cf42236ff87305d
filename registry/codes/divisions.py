"""Structural rule for administrative division codes (行政区划代码, GB/T 2260).

Only the *shape* of a code is checked here. Which counties exist is data: the register's
``divisions`` table is the source, and callers pass the set of known county codes in.

Known limitation of the structural rule: the few prefecture-level cities without counties
(不设区的地级市, e.g. 东莞 441900, 中山 442000) have codes ending in ``00`` and so are classified as
``"city"``, not ``"county"``.
"""

from __future__ import annotations

from typing import Literal

from registry.codes._segments import is_digits

DivisionLevelName = Literal["province", "city", "county", "township", "village"]

#: The 2-digit province prefixes (省级代码) of GB/T 2260, including 71 台湾, 81 香港, 82 澳门.
PROVINCE_CODES: frozenset[str] = frozenset(
    [f"{n}" for n in range(11, 16)]
    + [f"{n}" for n in range(21, 24)]
    + [f"{n}" for n in range(31, 38)]
    + [f"{n}" for n in range(41, 47)]
    + [f"{n}" for n in range(50, 55)]
    + [f"{n}" for n in range(61, 66)]
    + ["71", "81", "82"]
)


def has_known_province(code: str) -> bool:
    """True if ``code`` starts with a known 2-digit province prefix (省级代码)."""
    return code[:2] in PROVINCE_CODES


def division_level(code: str) -> DivisionLevelName | None:
    """The level of a division code by its structure, or ``None`` if it is not one.

    - 6 digits: ``xx0000`` province 省, ``xxxx00`` city 市, otherwise county 县（区）;
    - 9 digits: township 乡镇（街道）; 12 digits: village 村（社区）.

    The code must be ASCII digits only with a known province prefix.
    """
    if len(code) not in (6, 9, 12) or not is_digits(code) or not has_known_province(code):
        return None
    if len(code) == 9:
        return "township"
    if len(code) == 12:
        return "village"
    if code[2:] == "0000":
        return "province"
    if code[4:] == "00":
        return "city"
    return "county"


def is_county_code(code: str) -> bool:
    """True if ``code`` is a county-level code (县级行政区划代码) by the structural rule."""
    return division_level(code) == "county"


def county_of(code: str) -> str:
    """The county part (first 6 digits) of a county, township or village code.

    Raises :class:`ValueError` if ``code`` does not start with 6 ASCII digits.
    """
    head = code[:6]
    if len(head) != 6 or not is_digits(head):
        raise ValueError(f"not a division code: {code!r}")
    return head
