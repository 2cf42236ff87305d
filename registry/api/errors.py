"""How errors reach clients: a stable `extensions.code`, a message in Chinese and English.

- A DomainError raised by a service becomes a GraphQL error with its code and details.
- Errors graphql-core raises itself (syntax, validation, limits) get `GRAPHQL_VALIDATION_FAILED`,
  `QUERY_TOO_COMPLEX`, or `BAD_USER_INPUT` for a value that does not fit its type, whether
  written inline or passed as a variable, for every scalar (a custom scalar's parser raising
  ValueError included: that is the client's mistake, not logged).
- The database unreachable (refused, restarted, pool exhausted) is not a bug of the request:
  the client sees `DATABASE_UNAVAILABLE` (retry later) and the request id; it is logged.
- Anything else is a bug: it is logged with the request id and traceback, and the client sees
  only `INTERNAL` and the request id — no internals.
- In production, graphql-core's "Did you mean …?" hints are cut from messages: they would
  spell out the schema that introspection, off there, does not.

The rewrite happens where results leave the server (`RegistryGraphQL.process_result`), so no
error path — parse, validation, execution — can skip it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
import sqlalchemy.exc
from graphql.error import GraphQLError

from registry.logs import request_id_var
from registry.services.errors import DomainError
from registry.services.pii import scrub

log = logging.getLogger("registry.api")

INTERNAL = "INTERNAL"
INTERNAL_ZH = "系统内部错误，请凭请求编号联系管理员"
# A value that does not fit its type, inline or as a variable: the same code either way.
_VALUE_MARKERS = ("cannot represent", "expected value of type")
_LIMIT_MARKERS = ("exceeds maximum operation depth", "aliases found. allowed",
                  "document contains more than")


_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")
DATABASE_UNAVAILABLE = {"code": "DATABASE_UNAVAILABLE", "messageZh": "数据库暂不可用，请稍后重试",
                        "messageEn": "the database is unavailable; try again shortly"}


def is_database_outage(exc: BaseException | None) -> bool:
    """The database could not be reached or dropped the connection (not a bug of ours):
    a connection-level psycopg error (no SQLSTATE, class 08, shutdown, too many connections),
    or no pooled connection came free."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return True
    if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _OUTAGE_STATES


_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors raised by our code that are not domain errors (bugs, outages)."""
    original = error.original_error
    if error.path is None and isinstance(original, (ValueError, TypeError)):
        return False  # a scalar's parser refused a literal or variable: the client's mistake
    return original is not None and not isinstance(original, (DomainError, GraphQLError))


def log_unexpected(errors: list[GraphQLError]) -> None:
    for error in errors:
        if is_unexpected(error):
            log.error("unexpected error in %s", ".".join(map(str, error.path or [])),
                      exc_info=error.original_error)


def _client_code(error: GraphQLError) -> str:
    message = error.message.lower()
    if error.original_error is None:
        if any(marker in message for marker in _LIMIT_MARKERS):
            return "QUERY_TOO_COMPLEX"
        if message.startswith("variable ") or any(
                marker in message for marker in _VALUE_MARKERS):
            return "BAD_USER_INPUT"
        if message.startswith("syntax error:"):
            return "GRAPHQL_PARSE_FAILED"
        return "GRAPHQL_VALIDATION_FAILED"
    return "BAD_USER_INPUT"


# Chinese messages for the errors graphql-core raises (its English message is kept as is).
_MESSAGES_ZH = {
    "QUERY_TOO_COMPLEX": "查询过于复杂（嵌套层数、别名或长度超出限制）",
    "GRAPHQL_PARSE_FAILED": "查询语句有语法错误",
    "GRAPHQL_VALIDATION_FAILED": "查询语句与接口定义不符",
    "BAD_USER_INPUT": "输入参数不符合要求",
}


def to_client_error(error: GraphQLError, *, suggestions: bool = True) -> GraphQLError:
    """The error as the client sees it, always with `extensions.code`."""
    if not suggestions and _SUGGESTION.search(error.message):
        error = GraphQLError(_SUGGESTION.sub("", error.message), nodes=error.nodes,
                             source=error.source, positions=error.positions, path=error.path,
                             original_error=error.original_error,
                             extensions=error.extensions)
    original = error.original_error
    if isinstance(original, DomainError):
        extensions: dict[str, Any] = {
            "code": original.code,
            "messageZh": scrub(original.message_zh),
            "messageEn": scrub(original.message_en),
            **({"details": scrub(original.details)} if original.details else {}),
        }
        return GraphQLError(scrub(original.message_en), nodes=error.nodes, path=error.path,
                            extensions=extensions)
    if is_unexpected(error) and is_database_outage(original):
        return GraphQLError(DATABASE_UNAVAILABLE["messageEn"], nodes=error.nodes,
                            path=error.path,
                            extensions={**DATABASE_UNAVAILABLE,
                                        "requestId": request_id_var.get()})
    if is_unexpected(error):
        request_id = request_id_var.get()
        return GraphQLError(
            "Internal error; the request id identifies it in the logs.",
            nodes=error.nodes, path=error.path,
            extensions={"code": INTERNAL, "messageZh": INTERNAL_ZH,
                        "messageEn": "internal error", "requestId": request_id},
        )
    if error.extensions and "code" in error.extensions:
        return error
    code = _client_code(error)
    return GraphQLError(error.message, nodes=error.nodes, source=error.source,
                        positions=error.positions, path=error.path,
                        extensions={**(error.extensions or {}), "code": code,
                                    "messageZh": _MESSAGES_ZH[code],
                                    "messageEn": error.message})
