"""`ID` arguments: ours are integers; anything else is BAD_ID."""

from __future__ import annotations

import strawberry

from registry.services.errors import InvalidInput


def int_id(value: strawberry.ID) -> int:
    """The row id an `ID` argument names, or BAD_ID."""
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidInput("BAD_ID", "编号无效", f"invalid id {value!r}") from exc
