"""Database errors that mean "the rules refused this", translated to domain errors in one place.

Constraints in the database are the last line of defence: services check first and raise
precise errors, but when two requests race, or a service forgets, the database refuses and
the client still gets a stable code rather than INTERNAL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import errors as pg
from sqlalchemy.exc import DBAPIError

from registry.services.errors import DomainError

# SQLSTATEs raised by our own triggers (see the migrations).
APPEND_ONLY = "RG100"
RULE_VIOLATION = "RG001"  # message: CODE; detail: JSON details


def domain_error_from(exc: DBAPIError) -> DomainError | None:
    original = exc.orig
    if not isinstance(original, pg.Error) or original.diag is None:
        return None
    diag = original.diag
    state = diag.sqlstate
    if state == RULE_VIOLATION:
        code, _, message = (diag.message_primary or "").partition(":")
        details = json.loads(diag.message_detail) if diag.message_detail else {}
        zh = details.pop("message_zh", message.strip())
        return DomainError(code.strip(), zh, message.strip(), details)
    if state == APPEND_ONLY:
        return DomainError("APPEND_ONLY", "登记簿只能追加，不能修改或删除",
                           diag.message_primary or "append-only table")
    if isinstance(original, pg.SerializationFailure | pg.DeadlockDetected):
        return DomainError("CONCURRENT_UPDATE", "其他业务同时修改了相同数据，请重试",
                           "another request changed the same data at the same time; retry",
                           {"retryable": True})
    if isinstance(original, pg.UniqueViolation):
        return DomainError("ALREADY_EXISTS", "数据已存在（唯一性约束）",
                           f"already exists ({diag.constraint_name})",
                           {"constraint": diag.constraint_name})
    if isinstance(original, pg.CheckViolation):
        return DomainError("CONSTRAINT_VIOLATED", "数据不符合登记规则",
                           f"refused by the rule {diag.constraint_name}",
                           {"constraint": diag.constraint_name})
    return None


@contextmanager
def translate_database_errors() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        translated = domain_error_from(exc)
        if translated is None:
            raise
        raise translated from exc
