"""Real-estate unit codes (不动产单元代码, 28 chars) and parcel codes (宗地代码, 19 chars).

GB/T 37346-2019 (不动产单元设定与代码编制规则). Layout, 1-based positions:

===== ==== ======================================================
1–6   6    county code 县级行政区划代码 (GB/T 2260), digits
7–9   3    cadastral district 地籍区, digits
10–12 3    cadastral sub-district 地籍子区, digits
13    1    land ownership 宗地特征码第1位: G 国有 / J 集体 / Z 未定
14    1    use right 宗地特征码第2位: A B S X C D E F G H W Y
15–19 5    parcel sequence 宗地顺序号 00001–99999
20    1    fixture code 定着物特征码: F / L / Q / W
21–28 8    fixture unit number 定着物单元号 (F: 4-digit 幢号 + 4-digit 户号; W: 00000000)
===== ==== ======================================================

Rules beyond the character classes: A (集体土地所有权宗地) and C (宅基地) only with J; W ⇒
``00000000``; F ⇒ building and unit numbers both non-zero; sequence not ``00000``; the county
segment is county-level by structure (:mod:`registry.codes.divisions`) and, when the caller passes
the set of known counties (from the ``divisions`` table), one of them.

Input is normalised first (:func:`registry.codes.problems.normalize`): full-width digits and
letters (``５``, ``Ｆ``) are therefore accepted and become ASCII; lower-case letters are
upper-cased. Other digit-like characters (``①``, ``²``) stay invalid (``BAD_CHARACTER``).

In a letter position, a character that is not an ASCII letter is ``BAD_CHARACTER``; a letter that
is not in the code list is ``BAD_OWNERSHIP_CODE`` / ``BAD_USE_CODE`` / ``BAD_FIXTURE_CODE``.
When the length is wrong only ``BAD_LENGTH`` and the ``BAD_CHARACTER`` problems of the part present
are reported (the segments cannot be trusted to be aligned).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from registry.codes._segments import (
    DIGITS,
    LETTERS,
    Segment,
    length_problem,
)
from registry.codes.divisions import has_known_province, is_county_code
from registry.codes.problems import (
    CodeError,
    Problem,
    empty,
    normalize,
    quoted,
    raise_if_errors,
    too_long,
)

PARCEL_CODE_LENGTH = 19
UNIT_CODE_LENGTH = 28
NO_FIXTURE_NUMBER = "00000000"


class Ownership(StrEnum):
    """Land ownership, 1st letter of the parcel feature code (宗地特征码第1位)."""

    STATE = "G"
    COLLECTIVE = "J"
    UNDETERMINED = "Z"

    @property
    def label_zh(self) -> str:
        """Chinese label (中文名称)."""
        return _OWNERSHIP_ZH[self]


_OWNERSHIP_ZH: dict[Ownership, str] = {
    Ownership.STATE: "国家土地所有权",
    Ownership.COLLECTIVE: "集体土地所有权",
    Ownership.UNDETERMINED: "土地所有权未确定或有争议",
}


class UseRight(StrEnum):
    """Use-right type, 2nd letter of the parcel feature code (宗地特征码第2位)."""

    COLLECTIVE_OWNERSHIP = "A"
    CONSTRUCTION_SURFACE = "B"
    CONSTRUCTION_ABOVE = "S"
    CONSTRUCTION_BELOW = "X"
    HOMESTEAD = "C"
    CONTRACTED_FARMLAND = "D"
    CONTRACTED_FOREST = "E"
    CONTRACTED_GRASSLAND = "F"
    UNINHABITED_ISLAND = "G"
    SEA_AREA = "H"
    UNDETERMINED = "W"
    OTHER = "Y"

    @property
    def label_zh(self) -> str:
        """Chinese label (中文名称)."""
        return _USE_RIGHT_ZH[self]


_USE_RIGHT_ZH: dict[UseRight, str] = {
    UseRight.COLLECTIVE_OWNERSHIP: "集体土地所有权宗地",
    UseRight.CONSTRUCTION_SURFACE: "建设用地使用权宗地（地表）",
    UseRight.CONSTRUCTION_ABOVE: "建设用地使用权宗地（地上）",
    UseRight.CONSTRUCTION_BELOW: "建设用地使用权宗地（地下）",
    UseRight.HOMESTEAD: "宅基地使用权宗地",
    UseRight.CONTRACTED_FARMLAND: "土地承包经营权宗地（耕地）",
    UseRight.CONTRACTED_FOREST: "林地承包经营权宗地（林地）",
    UseRight.CONTRACTED_GRASSLAND: "草原承包经营权宗地（草地）",
    UseRight.UNINHABITED_ISLAND: "无居民海岛使用权海岛",
    UseRight.SEA_AREA: "海域使用权宗海",
    UseRight.UNDETERMINED: "使用权未确定或有争议的土地",
    UseRight.OTHER: "其他土地使用权宗地",
}

#: Use rights that only exist on collective land (J).
COLLECTIVE_ONLY_USE_RIGHTS = frozenset({UseRight.COLLECTIVE_OWNERSHIP, UseRight.HOMESTEAD})


class Fixture(StrEnum):
    """Fixture code, 20th character (定着物特征码)."""

    BUILDING = "F"
    FOREST = "L"
    OTHER = "Q"
    NO_FIXTURE = "W"

    @property
    def label_zh(self) -> str:
        """Chinese label (中文名称)."""
        return _FIXTURE_ZH[self]


_FIXTURE_ZH: dict[Fixture, str] = {
    Fixture.BUILDING: "房屋等建筑物、构筑物",
    Fixture.FOREST: "森林、林木",
    Fixture.OTHER: "其他",
    Fixture.NO_FIXTURE: "无定着物",
}

_OWNERSHIP_CODES = frozenset(m.value for m in Ownership)
_USE_CODES = frozenset(m.value for m in UseRight)
_FIXTURE_CODES = frozenset(m.value for m in Fixture)


def _digits(start: int, end: int, zh: str, en: str) -> Segment:
    return Segment(start, end, zh, en, DIGITS, "数字", "digits")


def _letter(start: int, zh: str, en: str) -> Segment:
    return Segment(start, start + 1, zh, en, LETTERS, "大写字母", "a letter")


COUNTY = _digits(0, 6, "县级行政区划代码", "county code")
CADASTRAL_DISTRICT = _digits(6, 9, "地籍区代码", "cadastral district")
SUB_DISTRICT = _digits(9, 12, "地籍子区代码", "cadastral sub-district")
OWNERSHIP = _letter(12, "宗地特征码（土地所有权类型）", "parcel feature code, land ownership")
USE_RIGHT = _letter(13, "宗地特征码（使用权类型）", "parcel feature code, use right")
SEQUENCE = _digits(14, 19, "宗地顺序号", "parcel sequence number")
FIXTURE = _letter(19, "定着物特征码", "fixture code")
FIXTURE_NUMBER = _digits(20, 28, "定着物单元号", "fixture unit number")

PARCEL_SEGMENTS = (COUNTY, CADASTRAL_DISTRICT, SUB_DISTRICT, OWNERSHIP, USE_RIGHT, SEQUENCE)
UNIT_SEGMENTS = (*PARCEL_SEGMENTS, FIXTURE, FIXTURE_NUMBER)

_Rule = Callable[[str, Collection[str] | None], list[Problem]]


def _problem(code: str, segment: Segment, zh: str, en: str, offset: int = 0) -> Problem:
    return Problem(
        code,
        f"{segment.label_zh}{zh}",
        f"{segment.label_en} {en}",
        position=segment.start + 1 + offset,
    )


def _county_rule(s: str, known_counties: Collection[str] | None) -> list[Problem]:
    county = COUNTY.piece(s)
    if not has_known_province(county):
        return [_problem("BAD_COUNTY", COUNTY, f"“{county}”的省级代码“{county[:2]}”不存在",
                         f"{county!r}: unknown province prefix {county[:2]!r}")]
    if not is_county_code(county):
        return [_problem("BAD_COUNTY", COUNTY,
                         f"“{county}”不是县级代码（以00结尾的是省、市级代码）",
                         f"{county!r} is not county-level (codes ending in 00 are province "
                         "or city codes)")]
    if known_counties is not None and county not in known_counties:
        return [_problem("UNKNOWN_COUNTY", COUNTY, f"“{county}”不在已知县级行政区划中",
                         f"{county!r} is not a known county")]
    return []


def _ownership_rule(s: str, _: Collection[str] | None) -> list[Problem]:
    ch = OWNERSHIP.piece(s)
    if ch in _OWNERSHIP_CODES:
        return []
    return [_problem("BAD_OWNERSHIP_CODE", OWNERSHIP,
                     f"“{ch}”无效，应为G（国有）、J（集体）或Z（未定）",
                     f"{ch!r} is invalid; expected G (state), J (collective) or Z (undetermined)")]


def _use_rule(s: str, _: Collection[str] | None) -> list[Problem]:
    ch = USE_RIGHT.piece(s)
    problems: list[Problem] = []
    allowed = "".join(m.value for m in UseRight)
    if ch not in _USE_CODES:
        problems.append(_problem("BAD_USE_CODE", USE_RIGHT, f"“{ch}”无效，应为{allowed}之一",
                                 f"{ch!r} is invalid; expected one of {allowed}"))
    ownership = OWNERSHIP.piece(s)
    if (ch in _USE_CODES and ownership in _OWNERSHIP_CODES
            and UseRight(ch) in COLLECTIVE_ONLY_USE_RIGHTS and ownership != Ownership.COLLECTIVE):
        feature = Segment(12, 14, "宗地特征码", "parcel feature code", LETTERS, "", "")
        problems.append(_problem(
            "BAD_FEATURE_COMBINATION", feature,
            f"“{ownership}{ch}”无效：{UseRight(ch).label_zh}（{ch}）只能用于集体土地（J）",
            f"{ownership + ch!r} is invalid: use right {ch} "
            f"({UseRight(ch).name.lower().replace('_', ' ')}) "
            "requires collective ownership J",
        ))
    return problems


def _sequence_rule(s: str, _: Collection[str] | None) -> list[Problem]:
    if SEQUENCE.piece(s) != "00000":
        return []
    return [_problem("BAD_PARCEL_SEQUENCE", SEQUENCE, "不能为00000，应为00001–99999",
                     "must not be 00000 (00001–99999)")]


def _fixture_rule(s: str, _: Collection[str] | None) -> list[Problem]:
    ch = FIXTURE.piece(s)
    if ch in _FIXTURE_CODES:
        return []
    return [_problem("BAD_FIXTURE_CODE", FIXTURE,
                     f"“{ch}”无效，应为F（房屋）、L（林木）、Q（其他）或W（无定着物）",
                     f"{ch!r} is invalid; expected F (building), L (forest), Q (other) "
                     "or W (no fixture)")]


def _fixture_number_rule(s: str, _: Collection[str] | None) -> list[Problem]:
    fixture, number = FIXTURE.piece(s), FIXTURE_NUMBER.piece(s)
    if fixture == Fixture.NO_FIXTURE and number != NO_FIXTURE_NUMBER:
        return [_problem("BAD_FIXTURE_NUMBER", FIXTURE_NUMBER,
                         f"“{number}”无效：无定着物（W）时应为00000000",
                         f"{number!r} is invalid: must be 00000000 when the fixture code is W")]
    problems: list[Problem] = []
    if fixture == Fixture.BUILDING:
        if number[:4] == "0000":
            problems.append(_problem("BAD_FIXTURE_NUMBER", FIXTURE_NUMBER,
                                     "中的幢号（第21–24位）不能为0000",
                                     "has building number (positions 21–24) 0000"))
        if number[4:] == "0000":
            problems.append(_problem("BAD_FIXTURE_NUMBER", FIXTURE_NUMBER,
                                     "中的户号（第25–28位）不能为0000",
                                     "has unit number (positions 25–28) 0000", offset=4))
    return problems


# Semantic rules per segment; each runs only if its segment (and the length) is fine.
_RULES: dict[Segment, _Rule] = {
    COUNTY: _county_rule,
    OWNERSHIP: _ownership_rule,
    USE_RIGHT: _use_rule,
    SEQUENCE: _sequence_rule,
    FIXTURE: _fixture_rule,
    FIXTURE_NUMBER: _fixture_number_rule,
}


# The shape of a valid code, for the fast path below (ASCII digits only: `\d` would also match
# other scripts' digits, which the segment checks refuse).
_VALID_SHAPE = re.compile(r"([0-9]{6})[0-9]{6}([GJZ])([ABSXCDEFGHWY])([0-9]{5})"
                          r"(?:([FLQW])([0-9]{8}))?")


def _plainly_valid(s: str, length: int, known_counties: Collection[str] | None) -> bool:
    """True when `s` is a valid code of `length` characters: the common case, decided by one
    regular expression and the combination rules, without building any Problem. Anything it
    does not accept goes through the full checks, which alone explain what is wrong."""
    match = _VALID_SHAPE.fullmatch(s)
    if match is None or len(s) != length:
        return False
    county, ownership, use, sequence, fixture, number = match.groups()
    if sequence == "00000" or (use in "AC" and ownership != "J"):
        return False
    if fixture == "W" and number != "00000000":
        return False
    if fixture == "F" and (number[:4] == "0000" or number[4:] == "0000"):
        return False
    if not is_county_code(county):
        return False
    return known_counties is None or county in known_counties


def _check(
    text: str,
    known_counties: Collection[str] | None,
    segments: tuple[Segment, ...],
    length: int,
    what_zh: str,
    what_en: str,
) -> list[Problem]:
    if (long := too_long(text, what_zh, what_en)) is not None:
        return [long]
    s = normalize(text)
    if _plainly_valid(s, length, known_counties):
        return []
    return _problems(s, known_counties, segments, length, what_zh, what_en)


def _problems(
    s: str,
    known_counties: Collection[str] | None,
    segments: tuple[Segment, ...],
    length: int,
    what_zh: str,
    what_en: str,
) -> list[Problem]:
    """Every problem of a normalised code, segment by segment (the slow, explaining path)."""
    if not s:
        return [empty(what_zh, what_en)]
    problems: list[Problem] = []
    right_length = len(s) == length
    if not right_length:
        problems.append(length_problem(s, str(length), what_zh, what_en))
    for segment in segments:
        bad = segment.bad_character(s)
        if bad is not None:
            problems.append(bad)
        elif right_length and segment in _RULES:
            problems.extend(_RULES[segment](s, known_counties))
    return problems


def check_parcel_code(
    text: str, known_counties: Collection[str] | None = None
) -> list[Problem]:
    """Every problem in a 19-char parcel code (宗地代码); empty list if it is valid.

    ``known_counties``: the county codes that exist (from the ``divisions`` table); when given,
    a structurally valid county not in it is ``UNKNOWN_COUNTY``. Never raises.
    """
    return _check(text, known_counties, PARCEL_SEGMENTS, PARCEL_CODE_LENGTH, "宗地代码",
                  "parcel code")


def check_unit_code(text: str, known_counties: Collection[str] | None = None) -> list[Problem]:
    """Every problem in a 28-char real-estate unit code (不动产单元代码); empty list if valid.

    See :func:`check_parcel_code` for ``known_counties``. Never raises.
    """
    return _check(text, known_counties, UNIT_SEGMENTS, UNIT_CODE_LENGTH, "不动产单元代码",
                  "real-estate unit code")


@dataclass(frozen=True)
class ParcelCode:
    """A parsed parcel code (宗地代码). Construction validates the structure (not the county list).

    ``ownership`` and ``use_right`` may be given as plain one-letter strings; they are converted.
    """

    county: str
    cadastral_district: str
    sub_district: str
    ownership: Ownership
    use_right: UseRight
    sequence: str

    def __post_init__(self) -> None:
        parts = (self.county, self.cadastral_district, self.sub_district, self.ownership,
                 self.use_right, self.sequence)
        for segment, part in zip(PARCEL_SEGMENTS, parts, strict=True):
            if len(part) != segment.end - segment.start:
                raise CodeError([length_problem(part, str(segment.end - segment.start),
                                                segment.label_zh, segment.label_en)])
        raise_if_errors(check_parcel_code("".join(parts)))
        object.__setattr__(self, "ownership", Ownership(self.ownership))
        object.__setattr__(self, "use_right", UseRight(self.use_right))

    @property
    def code(self) -> str:
        """The 19-char parcel code."""
        return (f"{self.county}{self.cadastral_district}{self.sub_district}"
                f"{self.ownership.value}{self.use_right.value}{self.sequence}")

    @property
    def feature_code(self) -> str:
        """The 2-letter parcel feature code (宗地特征码), e.g. ``JC``."""
        return self.ownership.value + self.use_right.value

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class UnitCode:
    """A parsed real-estate unit code (不动产单元代码). Construction validates the structure."""

    parcel: ParcelCode
    fixture: Fixture
    fixture_number: str

    def __post_init__(self) -> None:
        if len(self.fixture) != 1 or len(self.fixture_number) != 8:
            raise CodeError([length_problem(
                self.fixture + self.fixture_number, "9",
                "定着物特征码和定着物单元号", "fixture code and number",
            )])
        raise_if_errors(check_unit_code(self.parcel.code + self.fixture + self.fixture_number))
        object.__setattr__(self, "fixture", Fixture(self.fixture))

    @property
    def code(self) -> str:
        """The 28-char unit code."""
        return self.parcel.code + self.fixture.value + self.fixture_number

    @property
    def parcel_code(self) -> str:
        """The 19-char parcel code (first 19 characters)."""
        return self.parcel.code

    @property
    def is_land_only(self) -> bool:
        """True for a land-only unit (fixture W, 无定着物)."""
        return self.fixture is Fixture.NO_FIXTURE

    @property
    def building_no(self) -> int | None:
        """Building number 幢号 (positions 21–24) for fixture F, else ``None``."""
        return int(self.fixture_number[:4]) if self.fixture is Fixture.BUILDING else None

    @property
    def unit_no(self) -> int | None:
        """Unit number 户号 (positions 25–28) for fixture F, else ``None``."""
        return int(self.fixture_number[4:]) if self.fixture is Fixture.BUILDING else None

    def __str__(self) -> str:
        return self.code


def _parcel_from(s: str) -> ParcelCode:
    return ParcelCode(
        county=COUNTY.piece(s),
        cadastral_district=CADASTRAL_DISTRICT.piece(s),
        sub_district=SUB_DISTRICT.piece(s),
        ownership=Ownership(OWNERSHIP.piece(s)),
        use_right=UseRight(USE_RIGHT.piece(s)),
        sequence=SEQUENCE.piece(s),
    )


def parse_parcel_code(text: str, known_counties: Collection[str] | None = None) -> ParcelCode:
    """Parse a parcel code (宗地代码); raises :class:`CodeError` with every problem found."""
    raise_if_errors(check_parcel_code(text, known_counties))
    return _parcel_from(normalize(text))


def parse_unit_code(text: str, known_counties: Collection[str] | None = None) -> UnitCode:
    """Parse a unit code (不动产单元代码); raises :class:`CodeError` with every problem found."""
    raise_if_errors(check_unit_code(text, known_counties))
    s = normalize(text)
    return UnitCode(_parcel_from(s), Fixture(FIXTURE.piece(s)), FIXTURE_NUMBER.piece(s))


def _number_error(zh: str, en: str) -> CodeError:
    return CodeError([Problem("BAD_FIXTURE_NUMBER", zh, en, position=FIXTURE_NUMBER.start + 1)])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def build_unit_code(
    parcel_code: str | ParcelCode,
    fixture: str,
    building_no: int = 0,
    unit_no: int = 0,
    *,
    number: int | None = None,
) -> UnitCode:
    """Build a unit code on a parcel (生成不动产单元代码).

    - ``F`` (房屋): ``building_no`` 幢号 and ``unit_no`` 户号, each 1–9999;
    - ``W`` (无定着物): no numbers, gives ``00000000``;
    - ``L`` / ``Q`` (林木 / 其他): ``number`` 1–99999999 (keyword only).

    Raises :class:`CodeError` (``BAD_FIXTURE_CODE``, ``BAD_FIXTURE_NUMBER`` or the parcel code's
    problems).
    """
    parcel = parcel_code if isinstance(parcel_code, ParcelCode) else parse_parcel_code(parcel_code)
    fx = normalize(fixture)
    if fx not in _FIXTURE_CODES:
        raise CodeError([Problem("BAD_FIXTURE_CODE",
                                 f"定着物特征码{quoted(fx)}无效，应为F、L、Q或W",
                                 f"fixture code {fx!r} is invalid; expected F, L, Q or W",
                                 position=FIXTURE.start + 1)])
    kind = Fixture(fx)
    if kind is Fixture.BUILDING:
        if number is not None:
            raise _number_error("房屋（F）使用幢号和户号，不使用number",
                                "fixture F takes building_no and unit_no, not number")
        if not (_is_int(building_no) and 1 <= building_no <= 9999):
            raise _number_error(f"幢号{building_no!r}无效，应为1–9999",
                                f"building number {building_no!r} must be 1–9999")
        if not (_is_int(unit_no) and 1 <= unit_no <= 9999):
            raise _number_error(f"户号{unit_no!r}无效，应为1–9999",
                                f"unit number {unit_no!r} must be 1–9999")
        digits = f"{building_no:04d}{unit_no:04d}"
    elif kind is Fixture.NO_FIXTURE:
        if building_no or unit_no or number:
            raise _number_error("无定着物（W）不能有幢号、户号或编号",
                                "fixture W takes no building, unit or other number")
        digits = NO_FIXTURE_NUMBER
    else:
        if building_no or unit_no:
            raise _number_error(f"{kind.label_zh}（{kind.value}）使用number，不使用幢号和户号",
                                f"fixture {kind.value} takes number, not building_no/unit_no")
        if number is None or not (_is_int(number) and 1 <= number <= 99_999_999):
            raise _number_error(f"编号{number!r}无效，应为1–99999999",
                                f"number {number!r} must be 1–99999999")
        digits = f"{number:08d}"
    return UnitCode(parcel, kind, digits)


def land_unit_code(parcel_code: str | ParcelCode) -> str:
    """The land-only unit code of a parcel (纯土地不动产单元): parcel code + ``W00000000``."""
    parcel = parcel_code if isinstance(parcel_code, ParcelCode) else parse_parcel_code(parcel_code)
    return parcel.code + Fixture.NO_FIXTURE.value + NO_FIXTURE_NUMBER
