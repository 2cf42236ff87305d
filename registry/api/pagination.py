"""Relay-style connections with opaque keyset cursors, and the page-size bound."""

from __future__ import annotations

from typing import Generic, TypeVar

import strawberry

from registry.api.context import Info
from registry.config import Settings
from registry.services.errors import InvalidInput

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


def page_size(info: Info, first: int | None) -> int:
    """`first`, or the default; outside 1..MAX_PAGE_SIZE is refused (BAD_PAGE_SIZE)."""
    return page_size_of(info.context.runtime.settings, first)


def page_size_of(settings: Settings, first: int | None) -> int:
    """PAGE-1 (as `page_size`) for callers without a resolver's info."""
    size = settings.default_page_size if first is None else first
    if not 1 <= size <= settings.max_page_size:
        raise InvalidInput("BAD_PAGE_SIZE", f"每页条数须在1到{settings.max_page_size}之间",
                           f"first must be between 1 and {settings.max_page_size}",
                           max=settings.max_page_size)
    return size
