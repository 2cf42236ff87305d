"""Certificate numbers: 不动产权证书号 and 不动产登记证明号.

Format: ``省简称(年份)市县名称不动产权第NNNNNNN号`` (certificate of title) or
``…不动产证明第NNNNNNN号`` (registration proof, for mortgage, easement, advance notice,
objection), e.g. ``川(2022)巴中市不动产权第0001234号``.

Parsing normalises the text first (:func:`registry.codes.problems.normalize`), so full-width
brackets ``（）`` and digits are accepted, mixed or not. The serial has any number of digits
(usually 7, 8 seen); its width is kept so that the number prints back exactly as written.
Formatting always uses half-width brackets. Whitespace inside the number is not accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from registry.codes._segments import is_digits
from registry.codes.problems import (
    CodeError,
    Problem,
    empty,
    normalize,
    quoted,
    raise_if_errors,
    too_long,
)

#: The 34 provincial-level abbreviations (省级行政区简称), one per province-level division.
PROVINCE_ABBREVIATIONS: frozenset[str] = frozenset(
    "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼港澳台"
)
#: Alternative abbreviations seen on real certificates: 贵州 officially has two, 贵 and 黔, and its
#: certificates use 黔 (e.g. ``黔(2017)…不动产证明第…号``).
ALTERNATIVE_PROVINCE_ABBREVIATIONS: frozenset[str] = frozenset("黔")

FIRST_YEAR = 1949
LAST_YEAR = 2999
DEFAULT_SERIAL_WIDTH = 7


class CertificateKind(StrEnum):
    """Kind of certificate; the value is the wording in the number."""

    RIGHT = "不动产权"
    PROOF = "不动产证明"

    @property
    def label_zh(self) -> str:
        """Chinese label (中文名称)."""
        return "不动产权证书" if self is CertificateKind.RIGHT else "不动产登记证明"


_PATTERN = re.compile(
    r"(?P<province>[^()]+)\((?P<year>[^()]*)\)(?P<authority>[^()]*?)"
    r"(?P<kind>不动产权|不动产证明)第(?P<serial>[^()]*)号"
)

_WHAT = ("不动产权证书号或登记证明号", "certificate number")


def _format_problem() -> Problem:
    return Problem(
        "BAD_FORMAT",
        "格式应为“省简称(年份)市县名称不动产权第NNNNNNN号”或“…不动产证明第NNNNNNN号”",
        "expected '<province>(<year>)<authority>不动产权第<serial>号' "
        "or '…不动产证明第<serial>号'",
    )


def _parts_problems(
    province: str, year_text: str, authority: str, serial_text: str
) -> list[Problem]:
    """Problems in the parts of a number that matched the overall pattern."""
    if (not authority or not is_digits(serial_text)
            or any(c.isspace() or not c.isprintable() for c in authority)):
        return [_format_problem()]
    problems: list[Problem] = []
    if province not in PROVINCE_ABBREVIATIONS | ALTERNATIVE_PROVINCE_ABBREVIATIONS:
        problems.append(Problem(
            "BAD_PROVINCE",
            f"{quoted(province)}不是省级行政区简称（如川、京、粤）",
            f"{province!r} is not a province abbreviation (e.g. 川, 京, 粤)",
            position=1,
        ))
    if not (len(year_text) == 4 and is_digits(year_text)
            and FIRST_YEAR <= int(year_text) <= LAST_YEAR):
        problems.append(Problem(
            "BAD_YEAR",
            f"年份{quoted(year_text)}无效，应为{FIRST_YEAR}–{LAST_YEAR}的4位数字",
            f"year {year_text!r} is invalid; expected 4 digits, {FIRST_YEAR}–{LAST_YEAR}",
            position=len(province) + 2,
        ))
    if int(serial_text) == 0:
        problems.append(Problem(
            "BAD_SERIAL", "证号顺序号不能为0", "the serial number must not be 0",
        ))
    return problems


def check_certificate_number(text: str) -> list[Problem]:
    """Every problem in a certificate number (证书号/证明号); empty if valid. Never raises."""
    if (long := too_long(text, *_WHAT)) is not None:
        return [long]
    s = normalize(text)
    if not s:
        return [empty(*_WHAT)]
    m = _PATTERN.fullmatch(s)
    if m is None:
        return [_format_problem()]
    return _parts_problems(m["province"], m["year"], m["authority"], m["serial"])


@dataclass(frozen=True)
class CertificateNumber:
    """A certificate number (不动产权证书号 / 不动产登记证明号).

    ``authority`` is the city or county name (市县名称, e.g. ``巴中市``); ``serial`` the number
    issued in sequence per authority and year, printed zero-padded to ``width`` digits (a wider
    serial is printed in full). Construction validates every part.
    """

    province: str
    year: int
    authority: str
    kind: CertificateKind
    serial: int
    width: int = DEFAULT_SERIAL_WIDTH

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CertificateKind(self.kind))
        if self.serial < 0 or self.width < 1:
            raise CodeError([Problem("BAD_SERIAL", "顺序号不能为负数，位数至少为1",
                                     "serial must not be negative and width at least 1")])
        raise_if_errors(check_certificate_number(self.text))
        if normalize(self.text) != self.text:  # e.g. full-width or lower-case in the authority
            raise CodeError([Problem("BAD_FORMAT", "市县名称中不能有全角字母数字或小写字母",
                                     "the authority must not contain full-width ASCII or "
                                     "lower-case letters")])

    @property
    def text(self) -> str:
        """The number with half-width brackets: ``川(2022)巴中市不动产权第0001234号``."""
        return (f"{self.province}({self.year}){self.authority}{self.kind.value}"
                f"第{self.serial:0{self.width}d}号")

    def __str__(self) -> str:
        return self.text


def format_certificate_number(
    province: str,
    year: int,
    authority: str,
    kind: CertificateKind | str,
    serial: int,
    width: int = DEFAULT_SERIAL_WIDTH,
) -> str:
    """Format a certificate number; raises :class:`CodeError` if a part is invalid."""
    return CertificateNumber(province, year, authority, CertificateKind(kind), serial, width).text


def parse_certificate_number(text: str) -> CertificateNumber:
    """Parse a certificate number; raises :class:`CodeError` with every problem found."""
    raise_if_errors(check_certificate_number(text))
    m = _PATTERN.fullmatch(normalize(text))
    assert m is not None  # checked above
    return CertificateNumber(
        province=m["province"],
        year=int(m["year"]),
        authority=m["authority"],
        kind=CertificateKind(m["kind"]),
        serial=int(m["serial"]),
        width=len(m["serial"]),
    )
