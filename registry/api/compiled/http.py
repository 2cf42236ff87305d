"""The compiled reads' own way through HTTP: a POSTed query that has a plan is answered straight
from its JSON text, past strawberry's request handling (body parsing, context, execution and
response objects), which cost a small query more than its SQL.

COMPILE-5 Same response. Only the plainest requests take this way: POST, `application/json`,
a declared length of at most FAST_PATH_MAX_BYTES (registry/app.py), one operation (no batch),
a query text with a plan, an Accept header that negotiates (HTTP-1),
REQ-2/REQ-4 passed. The answer is what the GraphQL view would send: the media type HTTP-1
chose, status 200, the `Vary` header of HTTP-5, the body `{"data": …}`. Anything else (or a
plan that steps aside, COMPILE-3) goes the normal way with the body replayed, so every refusal
is the view's own. With COMPILED_READS_CHECK the normal way runs too and the two responses are
compared (status, media type, Vary, body).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send
from strawberry.http import GraphQLRequestData

from registry.api.auth import principal_for
from registry.api.compiled import Compiler, execute
from registry.api.context import RequestContext, read_route
from registry.api.errors import is_database_outage
from registry.api.http_protocol import RequestRefused, headers_for, negotiate
from registry.api.request_limits import check_operation
from registry.db.reader import Reader
from registry.db.replicas import AFTER_HEADER
from registry.runtime import Runtime

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    """The whole request body (its size bounded by the caller's `receive`, REQ-1)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ConnectionAbortedError("client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A `receive` that hands the already-read body over again."""
    given = False

    async def receive() -> Message:
        nonlocal given
        if given:
            return {"type": "http.disconnect"}
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def answer(compiler: Compiler, runtime: Runtime, reader: Reader | None, scope: Scope,
                 headers: dict[bytes, bytes], body: bytes) -> tuple[bytes, str] | None:
    """The response body and media type, or None: this request goes the normal way."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        return None
    variables = request.get("variables")
    operation_name = request.get("operationName")
    if not (variables is None or isinstance(variables, dict)) or not (
            operation_name is None or isinstance(operation_name, str)):
        return None
    plan = compiler.plan(request["query"], operation_name)
    if plan is None:
        return None
    try:
        check_operation(GraphQLRequestData(query=request["query"], variables=variables,
                                           operation_name=operation_name, extensions=None),
                        runtime.settings.max_query_chars)
        accept = headers.get(b"accept")
        media_type = negotiate(accept.decode("latin-1") if accept is not None else None)
        after = headers.get(AFTER_HEADER.lower().encode())
        route = (read_route(after.decode("latin-1") if after is not None else None)
                 if runtime.standbys is not None else None)
    except RequestRefused:
        return None
    http = Request(scope)
    principal = await principal_for(http, runtime)
    http.state.principal = principal
    context = RequestContext(request=http, response=None, runtime=runtime,
                             request_id=scope.get("state", {}).get("request_id", ""),
                             principal=principal, reader=reader, route=route)
    try:
        data = await execute(plan, context, compiler.schema, variables)
    except Exception as exc:  # a dead pooled connection …: the normal way retries it
        if not is_database_outage(exc):
            raise
        return None
    if data is None:
        return None
    return b'{"data":' + data.encode() + b"}", media_type


async def send_answer(send: Send, body: bytes, media_type: str) -> None:
    headers = [(b"content-type", media_type.encode()),
               (b"content-length", str(len(body)).encode()),
               *((k.lower().encode(), v.encode()) for k, v in headers_for("POST").items())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def compare_with_normal_way(normal: Handler, scope: Scope, body: bytes, mine: bytes,
                                  media_type: str) -> None:
    """COMPILE-5, checked (COMPILED_READS_CHECK): the normal way's response is this one."""
    sent: list[Message] = []

    async def capture(message: Message) -> None:
        sent.append(message)

    await normal(scope, replay(body), capture)
    start = sent[0]
    theirs = b"".join(m.get("body", b"") for m in sent[1:])
    got: dict[str, Any] = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    expected = {"status": 200, "content-type": media_type, "vary": headers_for("POST")["Vary"],
                "body": orjson.loads(mine)}
    actual = {"status": start["status"], "content-type": got.get("content-type"),
              "vary": got.get("vary"), "body": orjson.loads(theirs)}
    if orjson.dumps(expected) != orjson.dumps(actual):
        raise AssertionError(f"COMPILE-5: fast {expected} != normal {actual}")
