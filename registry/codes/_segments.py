"""Fixed-position segments of a code (代码分段) and their character checks (private helper)."""

from __future__ import annotations

from dataclasses import dataclass

from registry.codes.problems import Problem, quoted

DIGITS = frozenset("0123456789")
LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_digits(text: str) -> bool:
    """True if ``text`` is non-empty and only ASCII digits (``str.isdigit`` also accepts ``①``)."""
    return bool(text) and all(c in DIGITS for c in text)


def positions(start: int, end: int) -> tuple[str, str]:
    """Chinese and English labels for 1-based positions ``start..end``: ``第13–14位``."""
    if start == end:
        return f"第{start}位", f"position {start}"
    return f"第{start}–{end}位", f"positions {start}–{end}"


@dataclass(frozen=True)
class Segment:
    """A segment ``text[start:end]`` (0-based, end exclusive) of a fixed-format code."""

    start: int
    end: int
    name_zh: str
    name_en: str
    allowed: frozenset[str]
    expected_zh: str
    expected_en: str

    @property
    def label_zh(self) -> str:
        """``第1–6位县级行政区划代码``."""
        return positions(self.start + 1, self.end)[0] + self.name_zh

    @property
    def label_en(self) -> str:
        """``positions 1–6 (county code)``."""
        return f"{positions(self.start + 1, self.end)[1]} ({self.name_en})"

    def piece(self, text: str) -> str:
        """The part of ``text`` in this segment (shorter, or empty, if ``text`` is short)."""
        return text[self.start : self.end]

    def complete(self, text: str) -> bool:
        """True if ``text`` reaches the end of this segment."""
        return len(text) >= self.end

    def bad_character(self, text: str, offset: int = 0) -> Problem | None:
        """``BAD_CHARACTER`` at the first character of the segment not in ``allowed``, if any.

        ``offset`` is added to reported positions (for codes written with a separator).
        """
        for i in range(self.start, min(self.end, len(text))):
            ch = text[i]
            if ch not in self.allowed:
                pos = i + 1 + offset
                return Problem(
                    "BAD_CHARACTER",
                    f"第{pos}位字符{quoted(ch)}无效：{self.label_zh}应为{self.expected_zh}",
                    f"position {pos}: invalid character {ch!r}; {self.label_en} "
                    f"must be {self.expected_en}",
                    position=pos,
                )
        return None


def character_problems(text: str, segments: tuple[Segment, ...]) -> list[Problem]:
    """The first bad character of each segment that ``text`` (partly) covers."""
    found = (segment.bad_character(text) for segment in segments)
    return [p for p in found if p is not None]


def length_problem(text: str, expected: str, what_zh: str, what_en: str) -> Problem:
    """``BAD_LENGTH``: ``expected`` is e.g. ``"28"`` or ``"15 or 18"``."""
    expected_zh = expected.replace(" or ", "或")
    return Problem(
        "BAD_LENGTH",
        f"{what_zh}长度应为{expected_zh}位，实际为{len(text)}位",
        f"{what_en} must be {expected} characters long, got {len(text)}",
    )
