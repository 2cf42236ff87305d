"""Bounds on what one /graphql request may make the server read, lex, parse and keep.

The cost rules of registry/api/schema.py (depth, aliases, tokens) bound a *parsed* query. These
bound the work done before and around parsing, where an anonymous client could otherwise spend
a worker's time and memory (the hostile review's 20 MB query):

- REQ-1 A /graphql body that is not an upload is at most MAX_REQUEST_BYTES: a larger declared
  Content-Length is refused before anything is read, and a body is counted as it streams in
  (`REQUEST_TOO_LARGE`, HTTP 413). Uploads have their own bound (UPLOAD-2, registry/app.py).
- REQ-2 A query text is at most MAX_QUERY_CHARS characters, comments, whitespace and string
  literals included (the token limit counts none of them), checked before it is lexed
  (`QUERY_TOO_LARGE`, HTTP 413). String literals are therefore bounded by it too; string
  variables are bounded by REQ-1.
- REQ-3 Only texts of at most CACHEABLE_QUERY_CHARS are kept by the parse and validation caches
  (registry/api/schema.py), so the caches hold at most 512 × 8 KiB of query text.
- REQ-4 No string input carries a NUL character, in the query's literals (`\\u0000`) or in any
  variable (`INVALID_CHARACTER`, HTTP 400): PostgreSQL cannot store one, and every text a
  clerk types is free of it.
"""

from __future__ import annotations

import re
from typing import Any

from strawberry.http import GraphQLRequestData

from registry.api.http_protocol import RequestRefused

CACHEABLE_QUERY_CHARS = 8 * 1024
# A NUL in a GraphQL string: escaped as \u0000 (or \u{0}), or the raw character.
_NUL_IN_QUERY = re.compile(r"\\u0000|\\u\{0+\}|\x00")


def request_too_large(limit: int) -> RequestRefused:
    """REQ-1: the refusal of a body over `limit` bytes."""
    return RequestRefused(413, "REQUEST_TOO_LARGE", f"请求体超过 {limit} 字节上限",
                          f"the request body is larger than {limit} bytes")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def check_operation(request: GraphQLRequestData, max_query_chars: int) -> None:
    """REQ-2 and REQ-4, before the query is lexed."""
    query = request.query or ""
    if len(query) > max_query_chars:
        raise RequestRefused(413, "QUERY_TOO_LARGE",
                             f"查询语句超过 {max_query_chars} 个字符上限",
                             f"the query is longer than {max_query_chars} characters "
                             f"(comments and strings included)")
    if _NUL_IN_QUERY.search(query) or _has_nul(request.variables) or _has_nul(
            request.operation_name):
        raise RequestRefused(400, "INVALID_CHARACTER", "输入含有不允许的空字符（NUL）",
                             "a string input contains a NUL character (\\u0000)")
