"""Problems found in codes (问题) and input normalisation (输入规范化).

Every ``check_*`` function in :mod:`registry.codes` returns a list of :class:`Problem`; every
``parse_*`` function raises :class:`CodeError` carrying the same problems. Problem codes are stable
strings that callers (GraphQL errors, import reports, tests) may rely on.

Positions (``Problem.position``) are 1-based and refer to the *normalised* text (what
:func:`normalize` returns), because that is what a clerk sees echoed back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

#: Inputs longer than this are rejected with ``BAD_LENGTH`` before any other work, so arbitrary
#: huge strings cost nothing. No national code handled here is longer.
MAX_INPUT_LENGTH = 64

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem found in a code (代码问题).

    ``code`` is a stable machine-readable string (``BAD_CHECKSUM`` …); ``message_zh`` and
    ``message_en`` are for people; ``position`` is the 1-based position of the offending character
    in the normalised text when there is one; ``severity`` is ``"warning"`` for problems that do
    not make the code invalid (e.g. ``LEGACY_ID``).
    """

    code: str
    message_zh: str
    message_en: str
    position: int | None = None
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        """True unless this is only a warning (警告)."""
        return self.severity == "error"


class CodeError(ValueError):
    """A code could not be parsed (代码无效). ``problems`` holds every problem found."""

    problems: tuple[Problem, ...]

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.problems)

    @property
    def codes(self) -> frozenset[str]:
        """The set of problem codes, for quick tests such as ``"BAD_CHECKSUM" in e.codes``."""
        return frozenset(p.code for p in self.problems)

    def __str__(self) -> str:
        return "; ".join(p.message_en for p in self.problems)


# U+FF01..U+FF5E (full-width ASCII, 全角) map to U+0021..U+007E; a..z map to A..Z.
_NORMALISE_TABLE: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
for _cp in range(0xFF41, 0xFF5B):  # full-width a..z go straight to upper case
    _NORMALISE_TABLE[_cp] = _cp - 0xFEE0 - 0x20
for _cp in range(ord("a"), ord("z") + 1):
    _NORMALISE_TABLE[_cp] = _cp - 0x20
del _cp


def normalize(text: str) -> str:
    """Normalise user input (规范化输入) before checking a code.

    - strips surrounding whitespace, including the ideographic space U+3000 (全角空格);
    - maps full-width ASCII U+FF01–U+FF5E (全角字符, e.g. ``５``, ``Ｆ``, ``（``) to ASCII;
    - upper-cases ASCII letters only (``x`` → ``X``; ``ß`` stays ``ß``).

    Nothing else is mapped: this is deliberately *not* NFKC, so circled (``①``), superscript
    (``²``) or other-script digits (``٣``) stay as they are and are reported as invalid characters.
    Internal whitespace is kept (and is then an invalid character in every fixed-format code).
    """
    return text.strip().translate(_NORMALISE_TABLE)


def too_long(text: str, what_zh: str, what_en: str) -> Problem | None:
    """``BAD_LENGTH`` if ``text`` is longer than :data:`MAX_INPUT_LENGTH`, else ``None``.

    Every check function calls this first, on the raw input, before normalising it.
    """
    if len(text) <= MAX_INPUT_LENGTH:
        return None
    return Problem(
        "BAD_LENGTH",
        f"{what_zh}过长（{len(text)}个字符，最多{MAX_INPUT_LENGTH}个）",
        f"{what_en} is too long ({len(text)} characters, at most {MAX_INPUT_LENGTH})",
    )


def empty(what_zh: str, what_en: str) -> Problem:
    """The ``EMPTY`` problem: nothing but whitespace was given."""
    return Problem("EMPTY", f"{what_zh}为空", f"{what_en} is empty")


def quoted(text: str) -> str:
    """User text as it should appear in a Chinese message: in quotes, escaped if not printable."""
    return f"“{text}”" if text.isprintable() else repr(text)


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    """The problems with severity ``"error"`` (warnings dropped)."""
    return [p for p in problems if p.is_error]


def raise_if_errors(problems: list[Problem]) -> None:
    """Raise :class:`CodeError` with all ``problems`` if any of them is an error."""
    if any(p.is_error for p in problems):
        raise CodeError(problems)
