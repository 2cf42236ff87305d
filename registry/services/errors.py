"""Domain errors: a stable code, a message in Chinese and English, and structured details.

The API turns a DomainError into a GraphQL error whose `extensions.code` is `code`; the code is
the contract with front ends and never changes meaning. Raising one inside a transaction rolls
the transaction back, so bad input changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """A rule of the registry refused the request."""

    def __init__(self, code: str, message_zh: str, message_en: str,
                 details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message_en!r})"


class NotFound(DomainError):
    def __init__(self, what_zh: str, what_en: str, key: str) -> None:
        super().__init__("NOT_FOUND", f"{what_zh}不存在：{key}", f"{what_en} not found: {key}",
                         {"key": key})


class Forbidden(DomainError):
    def __init__(self, reason_en: str = "not allowed", reason_zh: str = "无权操作") -> None:
        super().__init__("FORBIDDEN", reason_zh, reason_en)


class Unauthenticated(DomainError):
    def __init__(self, reason_en: str = "a valid bearer token is required",
                 reason_zh: str = "需要有效的访问令牌") -> None:
        super().__init__("UNAUTHENTICATED", reason_zh, reason_en)


class InvalidInput(DomainError):
    """Input that fails a format rule; `problems` lists each one (code, messages, position)."""

    def __init__(self, code: str, message_zh: str, message_en: str,
                 problems: list[Mapping[str, Any]] | None = None,
                 **details: Any) -> None:
        if problems is not None:
            details["problems"] = problems
        super().__init__(code, message_zh, message_en, details)
