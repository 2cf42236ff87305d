"""Party identification numbers (证件号码): resident ID, credit code, organization code, others.

- Resident ID 居民身份证号码 (GB 11643-1999): 18 chars = 6 address code (地址码) + 8 birth date
  (出生日期码, YYYYMMDD) + 3 sequence (顺序码) + 1 check character (校验码, ISO 7064 MOD 11-2).
  15-digit numbers of the first generation (一代证, YYMMDD in the 1900s, no check character) are
  accepted with the warning ``LEGACY_ID``; :func:`upgrade_legacy_id` gives the 18-char form.
- Unified social credit code 统一社会信用代码 (GB 32100-2015): 18 chars over
  ``0123456789ABCDEFGHJKLMNPQRTUWXY`` = registration authority (登记管理部门码) + organisation
  category (机构类别码) + 6-digit region (登记管理机关行政区划码) + 9-char subject code (主体标识码)
  + check character (ISO 7064 MOD 31-3).
- Organization code 组织机构代码 (GB 11714): 8 chars + check character, ``XXXXXXXX-X``.
- Passports 护照, Hong Kong/Macao permits 港澳居民来往内地通行证, Taiwan permits
  台湾居民来往大陆通行证 and other documents: format only.

ID numbers are personal data (个人信息): problem messages never repeat the number, and
:class:`IdNumber`'s ``repr`` masks it (:func:`mask_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from registry.codes._segments import (
    DIGITS,
    LETTERS,
    Segment,
    character_problems,
    is_digits,
    length_problem,
)
from registry.codes.divisions import has_known_province
from registry.codes.problems import (
    Problem,
    empty,
    errors_only,
    normalize,
    raise_if_errors,
    too_long,
)


class IdType(StrEnum):
    """Kind of identity document (证件种类). Values are the member names."""

    RESIDENT_ID = "RESIDENT_ID"
    CREDIT_CODE = "CREDIT_CODE"
    ORGANIZATION_CODE = "ORGANIZATION_CODE"
    PASSPORT = "PASSPORT"
    HK_MACAO_PERMIT = "HK_MACAO_PERMIT"
    TAIWAN_PERMIT = "TAIWAN_PERMIT"
    OTHER = "OTHER"

    @property
    def label_zh(self) -> str:
        """Chinese label (中文名称)."""
        return _ID_TYPE_ZH[self]

    @property
    def label_en(self) -> str:
        """English label, used in messages."""
        return _ID_TYPE_EN[self]


_ID_TYPE_ZH: dict[IdType, str] = {
    IdType.RESIDENT_ID: "居民身份证",
    IdType.CREDIT_CODE: "统一社会信用代码",
    IdType.ORGANIZATION_CODE: "组织机构代码",
    IdType.PASSPORT: "护照",
    IdType.HK_MACAO_PERMIT: "港澳居民来往内地通行证",
    IdType.TAIWAN_PERMIT: "台湾居民来往大陆通行证",
    IdType.OTHER: "其他证件",
}
_ID_TYPE_EN: dict[IdType, str] = {
    IdType.RESIDENT_ID: "resident ID number",
    IdType.CREDIT_CODE: "unified social credit code",
    IdType.ORGANIZATION_CODE: "organization code",
    IdType.PASSPORT: "passport number",
    IdType.HK_MACAO_PERMIT: "Hong Kong/Macao residents' permit number",
    IdType.TAIWAN_PERMIT: "Taiwan residents' permit number",
    IdType.OTHER: "ID number",
}


def _what(id_type: IdType) -> tuple[str, str]:
    zh = id_type.label_zh
    if id_type is IdType.RESIDENT_ID:
        zh = "居民身份证号码"
    elif id_type in (IdType.PASSPORT, IdType.HK_MACAO_PERMIT, IdType.TAIWAN_PERMIT):
        zh += "号码"
    elif id_type is IdType.OTHER:
        zh = "证件号码"
    return zh, id_type.label_en


# --------------------------------------------------------------------------------------------
# Resident ID 居民身份证号码

RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_CHECK_CHARS = "10X98765432"  # indexed by S mod 11
EARLIEST_BIRTH_DATE = date(1880, 1, 1)

_RESIDENT_CHECK_ALLOWED = DIGITS | {"X"}
_REGION = Segment(0, 6, "地址码", "address code", DIGITS, "数字", "digits")
_BIRTH = Segment(6, 14, "出生日期码", "birth date", DIGITS, "数字", "digits")
_SEQ = Segment(14, 17, "顺序码", "sequence code", DIGITS, "数字", "digits")
_CHECK = Segment(17, 18, "校验码", "check character", _RESIDENT_CHECK_ALLOWED, "数字或X",
                 "a digit or X")
_RESIDENT_SEGMENTS = (_REGION, _BIRTH, _SEQ, _CHECK)
_LEGACY_BIRTH = Segment(6, 12, "出生日期码（YYMMDD）", "birth date (YYMMDD)", DIGITS, "数字",
                        "digits")
_LEGACY_SEQ = Segment(12, 15, "顺序码", "sequence code", DIGITS, "数字", "digits")
_LEGACY_SEGMENTS = (_REGION, _LEGACY_BIRTH, _LEGACY_SEQ)


def resident_id_check_char(first17: str) -> str:
    """The check character (校验码) of a resident ID from its first 17 digits."""
    if len(first17) != 17 or not is_digits(first17):
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_WEIGHTS, strict=True))
    return RESIDENT_CHECK_CHARS[total % 11]


def _region_problem(segment: Segment, region: str) -> Problem | None:
    if has_known_province(region):
        return None
    return Problem(
        "BAD_REGION",
        f"{segment.label_zh}的省级代码“{region[:2]}”不存在",
        f"{segment.label_en}: unknown province prefix {region[:2]!r}",
        position=segment.start + 1,
    )


def _date_problem(segment: Segment, digits: str, today: date) -> Problem | None:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return Problem("BAD_DATE", f"{segment.label_zh}不是有效日期",
                       f"{segment.label_en} is not a valid date", position=segment.start + 1)
    if born < EARLIEST_BIRTH_DATE:
        return Problem("BAD_DATE", f"{segment.label_zh}早于1880年",
                       f"{segment.label_en} is before 1880", position=segment.start + 1)
    if born > today:
        return Problem("BAD_DATE", f"{segment.label_zh}晚于今天",
                       f"{segment.label_en} is in the future", position=segment.start + 1)
    return None


def _resident_problems(s: str, today: date) -> list[Problem]:
    what_zh, what_en = _what(IdType.RESIDENT_ID)
    if len(s) == 15:
        return _legacy_problems(s)
    if len(s) != 18:
        return [length_problem(s, "15 or 18", what_zh, what_en),
                *character_problems(s, _RESIDENT_SEGMENTS)]
    problems = character_problems(s, _RESIDENT_SEGMENTS)
    if is_digits(_REGION.piece(s)) and (p := _region_problem(_REGION, _REGION.piece(s))):
        problems.append(p)
    if is_digits(_BIRTH.piece(s)) and (p := _date_problem(_BIRTH, _BIRTH.piece(s), today)):
        problems.append(p)
    if is_digits(s[:17]) and s[17] in _RESIDENT_CHECK_ALLOWED:
        expected = resident_id_check_char(s[:17])
        if s[17] != expected:
            problems.append(Problem(
                "BAD_CHECKSUM",
                "第18位校验码不正确（号码有误，请逐位核对）",
                "position 18 (check character) does not match: the number has a typo",
                position=18,
            ))
    problems.sort(key=lambda p: p.position or 0)
    return problems


def _legacy_problems(s: str) -> list[Problem]:
    problems = character_problems(s, _LEGACY_SEGMENTS)
    if is_digits(_REGION.piece(s)) and (p := _region_problem(_REGION, _REGION.piece(s))):
        problems.append(p)
    birth = _LEGACY_BIRTH.piece(s)
    if is_digits(birth) and (p := _date_problem(_LEGACY_BIRTH, "19" + birth, date.max)):
        problems.append(p)
    if problems:
        return sorted(problems, key=lambda p: p.position or 0)
    return [Problem(
        "LEGACY_ID",
        "15位旧身份证号码（一代证），建议换用18位号码",
        "15-digit legacy resident ID number; the 18-character form is preferred",
        severity="warning",
    )]


def check_resident_id(text: str, today: date | None = None) -> list[Problem]:
    """Every problem in a resident ID number (居民身份证号码). Never raises.

    ``today`` bounds the birth date (default: the current date).
    """
    what_zh, what_en = _what(IdType.RESIDENT_ID)
    if (long := too_long(text, what_zh, what_en)) is not None:
        return [long]
    s = normalize(text)
    if not s:
        return [empty(what_zh, what_en)]
    return _resident_problems(s, today or date.today())


def upgrade_legacy_id(text: str) -> str:
    """The 18-char resident ID for a valid 15-digit legacy one (15位升18位).

    Inserts ``19`` before the 2-digit year and appends the check character. Raises
    :class:`CodeError` if ``text`` is not a valid 15-digit number.
    """
    problems = check_resident_id(text, date.max)
    s = normalize(text)
    if len(s) != 15 and not {p.code for p in problems} & {"EMPTY", "BAD_LENGTH"}:
        problems = [length_problem(s, "15", "旧身份证号码", "legacy resident ID number")]
    raise_if_errors(problems)
    first17 = s[:6] + "19" + s[6:]
    return first17 + resident_id_check_char(first17)


# --------------------------------------------------------------------------------------------
# Unified social credit code 统一社会信用代码

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: Registration authorities (登记管理部门码) listed in GB 32100-2015: 1 机构编制, 2 外交,
#: 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商, A 中央军委改革和编制办公室,
#: N 农业, Y 其他.
CREDIT_AUTHORITY_CODES = frozenset("123456789ANY")
#: Category codes (机构类别码) of 农业 N for collective economic organisations (集体经济组织):
#: 1 组级, 2 村级, 3 乡镇级.
COLLECTIVE_ECONOMIC_CATEGORIES = frozenset("123")

_CREDIT_CHARS = frozenset(CREDIT_ALPHABET)
_CREDIT_EXPECTED = (
    "数字或大写字母（不含I、O、S、V、Z）",
    "a digit or capital letter other than I O S V Z",
)
_AUTHORITY = Segment(0, 1, "登记管理部门码", "registration authority", _CREDIT_CHARS,
                     *_CREDIT_EXPECTED)
_CATEGORY = Segment(1, 2, "机构类别码", "organisation category", _CREDIT_CHARS, *_CREDIT_EXPECTED)
_CREDIT_REGION = Segment(2, 8, "登记管理机关行政区划码", "region code", DIGITS, "数字", "digits")
_SUBJECT = Segment(8, 17, "主体标识码", "subject code", _CREDIT_CHARS, *_CREDIT_EXPECTED)
_CREDIT_CHECK = Segment(17, 18, "校验码", "check character", _CREDIT_CHARS, *_CREDIT_EXPECTED)
_CREDIT_SEGMENTS = (_AUTHORITY, _CATEGORY, _CREDIT_REGION, _SUBJECT, _CREDIT_CHECK)


def credit_code_check_char(first17: str) -> str:
    """The check character (校验码) of a credit code from its first 17 characters."""
    if len(first17) != 17 or any(c not in _CREDIT_CHARS for c in first17):
        raise ValueError("need exactly 17 characters of the credit-code alphabet")
    total = sum(CREDIT_ALPHABET.index(c) * w
                for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def _credit_problems(s: str) -> list[Problem]:
    what_zh, what_en = _what(IdType.CREDIT_CODE)
    problems = character_problems(s, _CREDIT_SEGMENTS)
    if len(s) != 18:
        return [length_problem(s, "18", what_zh, what_en), *problems]
    authority = s[0]
    if authority in _CREDIT_CHARS and authority not in CREDIT_AUTHORITY_CODES:
        problems.append(Problem(
            "BAD_AUTHORITY",
            f"第1位登记管理部门码“{authority}”不存在（应为1–9、A、N或Y）",
            f"position 1 (registration authority) {authority!r} does not exist "
            "(expected 1–9, A, N or Y)",
            position=1,
        ))
    region = _CREDIT_REGION.piece(s)
    if is_digits(region) and (p := _region_problem(_CREDIT_REGION, region)):
        problems.append(p)
    if all(c in _CREDIT_CHARS for c in s) and s[17] != credit_code_check_char(s[:17]):
        problems.append(Problem(
            "BAD_CHECKSUM",
            "第18位校验码不正确（代码有误，请逐位核对）",
            "position 18 (check character) does not match: the code has a typo",
            position=18,
        ))
    problems.sort(key=lambda p: p.position or 0)
    return problems


def check_credit_code(text: str) -> list[Problem]:
    """Every problem in a unified social credit code (统一社会信用代码). Never raises."""
    what_zh, what_en = _what(IdType.CREDIT_CODE)
    if (long := too_long(text, what_zh, what_en)) is not None:
        return [long]
    s = normalize(text)
    if not s:
        return [empty(what_zh, what_en)]
    return _credit_problems(s)


def is_collective_economic_org(credit_code: str) -> bool:
    """True for a valid credit code of a rural collective economic organisation (农村集体经济组织).

    Those are registered by agriculture (登记管理部门码 ``N``) with category 1 组级, 2 村级 or
    3 乡镇级 (``N1``/``N2``/``N3``); they own collective land. Invalid codes give ``False``.
    """
    if errors_only(check_credit_code(credit_code)):
        return False
    s = normalize(credit_code)
    return s[0] == "N" and s[1] in COLLECTIVE_ECONOMIC_CATEGORIES


# --------------------------------------------------------------------------------------------
# Organization code 组织机构代码

ORGANIZATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = Segment(0, 8, "本体代码", "body", DIGITS | LETTERS, "数字或大写字母",
                    "digits or capital letters")
_ORG_CHECK = Segment(8, 9, "校验码", "check character", DIGITS | {"X"}, "数字或X", "a digit or X")


def _org_value(c: str) -> int:
    return int(c) if c in DIGITS else ord(c) - ord("A") + 10


def organization_code_check_char(first8: str) -> str:
    """The check character (校验码) of an organization code from its first 8 characters."""
    if len(first8) != 8 or any(c not in DIGITS and c not in LETTERS for c in first8):
        raise ValueError("need exactly 8 digits or capital letters")
    total = sum(_org_value(c) * w for c, w in zip(first8, ORGANIZATION_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _split_org(s: str) -> tuple[str, int]:
    """(code without the dash, position offset of the check character)."""
    if len(s) == 10 and s[8] == "-":
        return s[:8] + s[9], 1
    return s, 0


def _organization_problems(s: str) -> list[Problem]:
    what_zh, what_en = _what(IdType.ORGANIZATION_CODE)
    body, offset = _split_org(s)
    problems = [p for p in (_ORG_BODY.bad_character(body), _ORG_CHECK.bad_character(body, offset))
                if p is not None]
    if len(body) != 9:
        return [Problem("BAD_LENGTH",
                        f"{what_zh}应为9位（或带连字符的10位，如12345678-9），实际为{len(s)}位",
                        f"{what_en} must be 9 characters (10 with the dash, e.g. 12345678-9), "
                        f"got {len(s)}"),
                *problems]
    if not problems and body[8] != organization_code_check_char(body[:8]):
        pos = 9 + offset
        problems.append(Problem(
            "BAD_CHECKSUM",
            f"第{pos}位校验码不正确（代码有误，请逐位核对）",
            f"position {pos} (check character) does not match: the code has a typo",
            position=pos,
        ))
    return problems


# --------------------------------------------------------------------------------------------
# Other documents (format only)

_ALNUM = DIGITS | LETTERS


def _simple_problems(s: str, id_type: IdType) -> list[Problem]:
    what_zh, what_en = _what(id_type)
    segments: tuple[Segment, ...]
    if id_type is IdType.PASSPORT:
        segments = (Segment(0, len(s), what_zh, what_en, _ALNUM, "数字或大写字母",
                            "digits or letters"),)
        lengths, ok = "5–20", 5 <= len(s) <= 20
    elif id_type is IdType.HK_MACAO_PERMIT:
        segments = (
            Segment(0, 1, "签发地代码", "issuing place", frozenset("HM"), "H或M", "H or M"),
            Segment(1, len(s), "号码", "number", DIGITS, "数字", "digits"),
        )
        lengths, ok = "9 or 11", len(s) in (9, 11)
    elif id_type is IdType.TAIWAN_PERMIT:
        segments = (Segment(0, len(s), what_zh, what_en, DIGITS, "数字", "digits"),)
        lengths, ok = "8 or 10", len(s) in (8, 10)
    else:  # OTHER: any printable characters; the length is bounded by too_long()
        bad = next((i for i, c in enumerate(s) if not c.isprintable()), None)
        if bad is None:
            return []
        return [Problem("BAD_CHARACTER", f"第{bad + 1}位是不可打印字符",
                        f"position {bad + 1}: non-printable character {s[bad]!r}",
                        position=bad + 1)]
    problems = character_problems(s, segments)
    if not ok:
        problems.insert(0, length_problem(s, lengths, what_zh, what_en))
    return problems


# --------------------------------------------------------------------------------------------
# Dispatch, parse, mask


def check_id(id_type: IdType | str, text: str, today: date | None = None) -> list[Problem]:
    """Every problem in an ID number of the given type; empty if valid. Never raises for ``text``.

    ``id_type`` must be an :class:`IdType` (or its value); ``today`` bounds resident ID birth
    dates (default: the current date). A valid 15-digit resident ID gives one ``LEGACY_ID``
    warning.
    """
    kind = IdType(id_type)
    if kind is IdType.RESIDENT_ID:
        return check_resident_id(text, today)
    if kind is IdType.CREDIT_CODE:
        return check_credit_code(text)
    what_zh, what_en = _what(kind)
    if (long := too_long(text, what_zh, what_en)) is not None:
        return [long]
    s = normalize(text)
    if not s:
        return [empty(what_zh, what_en)]
    if kind is IdType.ORGANIZATION_CODE:
        return _organization_problems(s)
    return _simple_problems(s, kind)


@dataclass(frozen=True, repr=False)
class IdNumber:
    """A valid ID number. ``number`` is canonical (normalised; organization codes as ``XXXXXXXX-X``;
    legacy resident IDs stay 15 digits, see :func:`upgrade_legacy_id`).

    ``birth_date`` is set for resident IDs; ``region`` (6-digit division code) for resident IDs
    and credit codes. ``repr`` shows the masked number only.
    """

    id_type: IdType
    number: str
    legacy: bool = False
    birth_date: date | None = None
    region: str | None = None

    @property
    def masked(self) -> str:
        """The number masked for display in lists (脱敏)."""
        return mask_id(self.id_type, self.number)

    def __repr__(self) -> str:
        return (f"IdNumber(id_type={self.id_type.value!r}, number={self.masked!r}, "
                f"legacy={self.legacy!r})")


def parse_id(id_type: IdType | str, text: str, today: date | None = None) -> IdNumber:
    """Parse an ID number; raises :class:`CodeError` with every problem found (warnings such
    as ``LEGACY_ID`` do not prevent parsing)."""
    kind = IdType(id_type)
    raise_if_errors(check_id(kind, text, today))
    s = normalize(text)
    if kind is IdType.RESIDENT_ID:
        if len(s) == 15:
            born = date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))
            return IdNumber(kind, s, legacy=True, birth_date=born, region=s[:6])
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
        return IdNumber(kind, s, birth_date=born, region=s[:6])
    if kind is IdType.CREDIT_CODE:
        return IdNumber(kind, s, region=s[2:8])
    if kind is IdType.ORGANIZATION_CODE:
        body, _ = _split_org(s)
        return IdNumber(kind, f"{body[:8]}-{body[8]}")
    return IdNumber(kind, s)


def _mask_middle(s: str, keep: int) -> str:
    if keep == 0:
        return "*" * len(s)
    return s[:keep] + "*" * (len(s) - 2 * keep) + s[-keep:]


def mask_id(id_type: IdType | str, number: str) -> str:
    """Mask an ID number for lists and logs (脱敏显示).

    - 18-char resident ID: first 6 + 8 asterisks + last 4 (``511923********1234``); a 15-digit
      legacy one: first 6 + 6 asterisks + last 3 (the birth date is always hidden);
    - everything else: first 2 and last 2 kept, never more than half of the characters shown
      (fewer kept for short numbers; fewer than 4 characters are fully masked).
    """
    kind = IdType(id_type)
    s = normalize(number)
    if kind is IdType.RESIDENT_ID and len(s) == 18:
        return s[:6] + "*" * 8 + s[-4:]
    if kind is IdType.RESIDENT_ID and len(s) == 15:
        return s[:6] + "*" * 6 + s[-3:]
    return _mask_middle(s, min(2, len(s) // 4))
