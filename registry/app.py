"""The ASGI application: /graphql, /healthz, /readyz, /metrics, and the ledger's
/ledger/batches and /ledger/statements (registry/api/ledger_http.py).

/graphql speaks GraphQL over HTTP as registry/api/http_protocol.py states it (HTTP-1..5: media
types, status codes, GET for queries only, caching headers); `RegistryGraphQL.run` applies it.

`create_app()` reads Settings from the environment (uvicorn calls it once per worker);
tests pass a Runtime of their own.

Uploads (GraphQL multipart requests) are guarded here, before anything is parsed:
- UPLOAD-1 A multipart request must carry a non-simple header (`X-Registry-CSRF` or
  `Apollo-Require-Preflight`, any value): a browser sends one cross-site only after a CORS
  preflight, so a form on another site cannot upload in a clerk's name (`CSRF_HEADER_REQUIRED`,
  HTTP 400).
- UPLOAD-2 Its body may not exceed DOCUMENT_MAX_BYTES plus 1 MiB for the other fields
  (`FILE_TOO_LARGE`, HTTP 413), counted as it streams in, so a client cannot fill the disk
  the web server spools files to. The exact limit per file is checked by the service.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, OperationType, get_operation_ast
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from registry.api.auth import principal_for, watch_access_changes
from registry.api.compiled import Compiler, execute
from registry.api.compiled.http import (
    answer,
    compare_with_normal_way,
    read_body,
    replay,
    send_answer,
)
from registry.api.context import RequestContext, read_route
from registry.api.errors import (
    DATABASE_UNAVAILABLE,
    INTERNAL,
    INTERNAL_ZH,
    is_database_outage,
    is_unexpected,
    to_client_error,
)
from registry.api.graphiql import ide_page, ide_routes
from registry.api.holdings_audit import export_routes
from registry.api.http_protocol import (
    JSON,
    STATE_KEY,
    RequestRefused,
    bad_request,
    check_request,
    headers_for,
    mutation_via_get,
    negotiate,
    status_for,
)
from registry.api.ledger_http import BATCHES_PATH, ledger_routes
from registry.api.papers import paper_routes
from registry.api.request_limits import check_operation, request_too_large
from registry.api.schema import build_schema, parse_query
from registry.api.statistics import chart_routes
from registry.api.uploads import StartAhead, StreamingRequestAdapter, close_received
from registry.config import Settings, get_settings
from registry.db.reader import Reader, conninfo
from registry.db.replicas import AFTER_HEADER, Standby, primary_lsn
from registry.logs import configure_logging, request_id_var
from registry.runtime import Runtime
from registry.services.documents import UPLOADERS, DocumentConfig
from registry.services.exchange.sender import Backlog, SenderConfig, backlog
from registry.sweeper import exchange_forever, mark_interrupted_jobs, sweep_forever
from storage import StorageUnavailable
from storage.scans import ScanAhead

log = logging.getLogger("registry.http")

# UPLOAD-1: headers a cross-site form cannot send without a CORS preflight.
CSRF_HEADERS = (b"x-registry-csrf", b"apollo-require-preflight")
# UPLOAD-2: room for the `operations` and `map` fields and the multipart framing.
FORM_OVERHEAD = 1024 * 1024

# COMPILE-5: a compiled query's body is small (its text is at most CACHEABLE_QUERY_CHARS);
# larger bodies (mutations, inline survey files) go the normal way, read and decoded once.
FAST_PATH_MAX_BYTES = 64 * 1024

# A client-supplied request id is kept only if it is short and harmless.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
READY_TIMEOUT_SECONDS = 3.0
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", BATCHES_PATH})


class RequestIdMiddleware:
    """Gives every request an id (X-Request-ID), logs one access line, counts for /metrics."""

    def __init__(self, app: ASGIApp, metrics: Counter[tuple[str, str, int]]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            path = scope.get("path", "")
            # Label metrics by route, not raw path, so their number stays bounded.
            label = path if path in ROUTES else "other"
            self.metrics[(scope.get("method", ""), label, status)] += 1
            # Never log headers or bodies: they carry tokens and personal data.
            log.info("request", extra={"method": scope.get("method"), "path": path,
                                       "status": status, "duration_ms": round(elapsed_ms, 2)})
            request_id_var.reset(token)


class BodyTooLarge(Exception):
    pass


async def _refuse(send: Send, status: int, code: str, zh: str, en: str) -> None:
    response = JSONResponse({"data": None, "errors": [{
        "message": en, "extensions": {"code": code, "messageZh": zh, "messageEn": en}}]},
        status_code=status)
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - a response never reads the body
    return {"type": "http.disconnect"}


def _bounded(receive: Receive, limit: int) -> Receive:
    """UPLOAD-2: the request body, refused once more than `limit` bytes have come in."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge()
        return message

    return bounded


class GraphQLFirst:
    """Sends /graphql straight to the GraphQL view, past the router and the exception
    middleware it does not need (errors inside it are answered by the view; anything else by
    the outermost server-error middleware). Every other path goes on as usual."""

    def __init__(self, app: ASGIApp, graphql: ASGIApp) -> None:
        self.app = app
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql":
            await self.graphql(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class RegistryGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with our per-request context and the upload guards."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        schema = build_schema(runtime.settings)
        super().__init__(schema, multipart_uploads_enabled=True, **kwargs)
        self.runtime = runtime
        max_tokens = runtime.settings.max_tokens
        # Compiled reads (registry/api/compiled): the hot queries as one SQL statement each.
        self.compiler: Compiler | None = Compiler(
            schema._schema, schema.validation_rules,
            lambda query: parse_query(query, max_tokens)) if runtime.settings.compiled_reads \
            else None
        self.reader: Reader | None = None  # opened by the app's lifespan
        self.scan_pool: ThreadPoolExecutor | None = None  # likewise
        self.request_adapter_class = partial(  # type: ignore[assignment]
            StreamingRequestAdapter, settings=runtime.settings, scan_ahead=self._scan_ahead)

    def _scan_ahead(self, request: Request) -> StartAhead | None:
        """UPLOAD-5: only for uploaders (get_context ran first), only while the pool is open."""
        principal = getattr(request.state, "principal", None)
        pool = self.scan_pool
        if pool is None or principal is None or not principal.has_any(UPLOADERS):
            return None
        limits = DocumentConfig.from_settings(self.runtime.settings).limits
        return lambda source: ScanAhead(source, limits, pool)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if content_type != b"multipart/form-data":
            await self._bounded_request(scope, receive, send, headers)
            return
        if not any(headers.get(name, b"").strip() for name in CSRF_HEADERS):
            await _refuse(send, 400, "CSRF_HEADER_REQUIRED",
                          "上传须带 X-Registry-CSRF 请求头",
                          "multipart requests need an X-Registry-CSRF (or "
                          "Apollo-Require-Preflight) header")
            return
        limit = self.runtime.settings.document_max_bytes + FORM_OVERHEAD
        declared = headers.get(b"content-length", b"")
        too_large = ("请求超过文件大小上限",
                     f"the request is larger than the upload limit "
                     f"({self.runtime.settings.document_max_bytes} bytes per file)")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, 413, "FILE_TOO_LARGE", *too_large)
            return
        try:
            await super().__call__(scope, _bounded(receive, limit), send)
        except BodyTooLarge:
            await _refuse(send, 413, "FILE_TOO_LARGE", *too_large)
        except ClientDisconnect:
            log.info("client went away during an upload; nothing was stored")
        finally:
            close_received(scope)

    async def _bounded_request(self, scope: Scope, receive: Receive, send: Send,
                               headers: dict[bytes, bytes]) -> None:
        """REQ-1: a body over MAX_REQUEST_BYTES is refused before (or as) it is read."""
        limit = self.runtime.settings.max_request_bytes
        refused = request_too_large(limit)
        declared = headers.get(b"content-length", b"")
        try:
            if declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge()
            bounded = _bounded(receive, limit)
            if (self.compiler is not None and scope.get("method") == "POST"
                    and headers.get(b"content-type", b"").strip() == b"application/json"
                    and declared.isdigit() and int(declared) <= FAST_PATH_MAX_BYTES):
                # COMPILE-5 (registry/api/compiled/http.py): a compiled query, answered at once
                body = await read_body(bounded)
                if await self._answer_compiled(scope, send, headers, body):
                    return
                bounded = replay(body)
            await super().__call__(scope, bounded, send)
        except BodyTooLarge:
            await _refuse(send, refused.status, refused.code, refused.message_zh,
                          refused.message_en)

    async def _answer_compiled(self, scope: Scope, send: Send, headers: dict[bytes, bytes],
                               body: bytes) -> bool:
        """COMPILE-5: answer a compiled query past strawberry; False: the normal way."""
        assert self.compiler is not None
        answered = await answer(self.compiler, self.runtime, self.reader, scope, headers, body)
        if answered is None:
            return False
        if self.runtime.settings.compiled_reads_check:
            await compare_with_normal_way(super().__call__, scope, body, *answered)
        await send_answer(send, *answered)
        return True

    async def render_graphql_ide(self, request: Request) -> Response:
        return ide_page()  # vendored, served from the package (registry/api/graphiql.py)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # orjson.JSONDecodeError is a json.JSONDecodeError

    async def run(self, request: Request, context: Any = UNSET,  # type: ignore[override]
                  root_value: Any = UNSET) -> Response:
        """GraphQL over HTTP (registry/api/http_protocol.py): refusals before parsing, the
        media type and status of every answer, and its caching headers."""
        media_type = JSON
        try:
            check_request(request.method, request.headers.get("content-type"))
            if self.should_render_graphql_ide(request):  # type: ignore[arg-type]
                return await super().run(request, context, root_value)  # the IDE page
            media_type = negotiate(request.headers.get("accept"))
            setattr(request.state, STATE_KEY, media_type)
            response = await super().run(request, context, root_value)
        except RequestRefused as refused:
            response = self._refusal(refused, media_type)
        except HTTPException as exc:
            if exc.status_code != 400:
                raise
            response = self._refusal(bad_request(exc.reason), media_type)
        response.headers.update(headers_for(request.method))
        return response

    def _refusal(self, refused: RequestRefused, media_type: str) -> Response:
        return Response(self.encode_json(refused.body()), status_code=refused.status,
                        media_type=media_type, headers=refused.headers)

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """REPLICA-2 (registry/db/replicas.py): a mutation's reads go to the primary, and its
        response carries the primary's WAL position after the commit (`X-Registry-After`)."""
        context: RequestContext = kwargs["context"]
        route = context.route
        data = kwargs["request_data"]
        writes = route is not None and not all(
            _is_query(one, self.runtime.settings.max_tokens)
            for one in (data if isinstance(data, list) else [data]))
        if writes:
            route.primary = True  # type: ignore[union-attr]
        result = await super().execute_operation(*args, **kwargs)
        if writes and self.reader is not None:
            try:
                kwargs["sub_response"].headers[AFTER_HEADER] = await self.reader.primary_lsn()
            except Exception:  # the write stands; the client only loses read-your-writes
                log.warning("no %s token: the primary's WAL position could not be read",
                            AFTER_HEADER, exc_info=True)
        return result

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        check_operation(kwargs["request_data"], self.runtime.settings.max_query_chars)
        compiled = await self._compiled(kwargs["request_data"], kwargs["context"])
        if compiled is not None:
            if self.runtime.settings.compiled_reads_check:
                check_compiled(compiled, await super().execute_single(*args, **kwargs))
            return ExecutionResult(data=orjson.Fragment(compiled), errors=None)
        try:
            result = await super().execute_single(*args, **kwargs)
            if _lost_connection(result) and _is_query(kwargs["request_data"],
                                                         self.runtime.settings.max_tokens):
                # RETRY-1: a pooled connection found dead (the database restarted since it was
                # opened) is discarded by the pool; a read is run once more on a fresh one.
                # Mutations are never re-run: their first attempt may have committed.
                log.info("a read met a dead database connection; retrying it once")
                if self.reader is not None:  # the reader's other idle connections died too
                    await self.reader.pool.check()
                if self.runtime.read_engine is not None:  # and so did the sync reads' (they
                    # are not pinged on checkout): a fresh pool, the dead ones closed
                    await run_in_threadpool(self.runtime.read_engine.dispose)
                result = await super().execute_single(*args, **kwargs)
            return result
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError) and (
                    kwargs["request_adapter"].method == "GET"):
                raise mutation_via_get() from exc
            raise

    async def _compiled(self, request_data: GraphQLRequestData,
                        context: RequestContext) -> str | None:
        """COMPILE-2: the `data` (JSON text) of the query's compiled plan, if it has one and
        runs it."""
        if self.compiler is None:
            return None
        plan = self.compiler.plan(request_data.query, request_data.operation_name)
        if plan is None:
            return None
        try:
            return await execute(plan, context, self.compiler.schema, request_data.variables)
        except Exception as exc:  # a dead pooled connection …: the normal path retries it
            if not is_database_outage(exc):
                raise
            return None

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = getattr(sub_response, "media_type_chosen", JSON)
        response.headers["content-type"] = media_type
        if not sub_response.status_code:
            response.status_code = status_for(media_type, "data" in response_data)
        return response

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = await super().get_sub_response(request)
        sub_response.media_type_chosen = getattr(  # type: ignore[attr-defined]
            request.state, STATE_KEY, JSON)
        return sub_response

    async def process_result(self, request: Request,
                             result: ExecutionResult) -> GraphQLHTTPResponse:
        request_error = bool(result.errors) and result.data is None and all(
            error.path is None for error in result.errors or [])
        if result.errors:
            suggestions = self.runtime.settings.is_development
            result.errors = [to_client_error(error, suggestions=suggestions)
                             for error in result.errors]
        processed = await super().process_result(request, result)
        if request_error:  # HTTP-2: execution never started, so there is no data entry
            processed.pop("data", None)
        return processed

    async def get_context(self, request: Request, response: Response | None) -> RequestContext:
        # Request is the HTTP request here (no websocket transport is enabled).
        # REPLICA-2: a malformed X-Registry-After is refused before anything runs.
        route = (read_route(request.headers.get(AFTER_HEADER))
                 if self.runtime.standbys is not None else None)
        request.state.principal = await principal_for(request, self.runtime)
        return RequestContext(request=request, response=response, runtime=self.runtime,
                              request_id=request.state.request_id,
                              principal=request.state.principal, reader=self.reader,
                              route=route)


def check_compiled(compiled: str, resolved: ExecutionResult) -> None:
    """COMPILE-1, checked while it runs (COMPILED_READS_CHECK, on in the tests): the compiled
    answer must be the field-by-field one, keys in the same order."""
    mine = orjson.dumps({"data": orjson.loads(compiled), "errors": []})
    theirs = orjson.dumps({"data": resolved.data,
                           "errors": [e.formatted for e in resolved.errors or []]})
    if mine != theirs:
        raise AssertionError(f"COMPILE-1: compiled {mine.decode()} != resolved {theirs.decode()}")


def _lost_connection(result: ExecutionResult) -> bool:
    return any(is_unexpected(error) and is_database_outage(error.original_error)
               for error in result.errors or [])


def _is_query(request_data: GraphQLRequestData, max_tokens: int) -> bool:
    try:  # the document execution parsed, from the parse cache (REQ-3) when it is short
        document = parse_query(request_data.query or "", max_tokens)
    except GraphQLError:
        return False
    operation = get_operation_ast(document, request_data.operation_name)
    return operation is not None and operation.operation == OperationType.QUERY


class CodedErrors:
    """ERR-1: every failure on every route answers the API's coded JSON with the request id
    and is logged with it (the GraphQL view answers its own errors; this catches what escapes
    any route, e.g. authentication with the database down). A failure after the response has
    started cannot be answered again: it is logged and the connection closed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            if started:
                log.error("failure after the response started", exc_info=exc)
                raise
            request_id = scope.get("state", {}).get("request_id", "")
            if is_database_outage(exc):
                log.error("database unavailable", exc_info=exc)
                status, error = 503, dict(DATABASE_UNAVAILABLE)
            else:
                log.error("unexpected error", exc_info=exc)
                status, error = 500, {"code": INTERNAL, "messageZh": INTERNAL_ZH,
                                      "messageEn": "internal error"}
            body = {"errors": [{"message": error["messageEn"],
                                "extensions": {**error, "requestId": request_id}}]}
            response = JSONResponse(body, status_code=status,
                                    headers={"Retry-After": "5"} if status == 503 else None)
            await response(scope, _no_receive, send_tracking)


_HTTP_CODES = {404: ("NOT_FOUND", "没有这个地址"), 405: ("METHOD_NOT_ALLOWED", "不接受此请求方法")}


async def _http_error(request: Request, exc: Exception) -> Response:
    """ERR-1 for what the router refuses (an unknown path, a wrong method): coded JSON."""
    assert isinstance(exc, StarletteHTTPException)
    code, zh = _HTTP_CODES.get(exc.status_code, ("BAD_REQUEST", "请求无效"))
    body = {"errors": [{"message": str(exc.detail), "extensions": {
        "code": code, "messageZh": zh, "messageEn": str(exc.detail),
        "requestId": request.scope.get("state", {}).get("request_id", "")}}]}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def _database_ready(runtime: Runtime) -> str:
    with runtime.engine.connect() as conn:
        return str(conn.execute(text("SELECT postgis_lib_version()")).scalar_one())


async def _replicas_ready(runtime: Runtime) -> dict[str, str]:
    """REPLICA-4: each standby's state and lag behind the primary, probed in parallel."""
    standbys = runtime.standbys
    assert standbys is not None
    try:
        primary = await asyncio.wait_for(run_in_threadpool(
            primary_lsn, runtime.read_engine or runtime.engine), READY_TIMEOUT_SECONDS)
    except Exception:  # the database check above says so
        primary = None

    async def probe(standby: Standby) -> str:
        try:
            return await asyncio.wait_for(run_in_threadpool(standbys.state, standby, primary),
                                          READY_TIMEOUT_SECONDS)
        except TimeoutError:
            standbys.mark_down(standby, "no answer within the readiness timeout")
            return "unavailable"

    states = await asyncio.gather(*(probe(standby) for standby in standbys.items))
    return {f"replica:{standby.name}": state
            for standby, state in zip(standbys.items, states, strict=True)}


def _bucket_ready(runtime: Runtime) -> None:
    runtime.store.ping()


def _exchange_backlog(runtime: Runtime) -> Backlog:
    with runtime.sessions() as session:
        return backlog(session)


async def _exchange_ready(runtime: Runtime) -> str:
    """EXCHANGE-11: the outbox's backlog, for people; the platform down never makes the
    service "not ready" (recordings go on, messages wait in the outbox)."""
    try:
        found = await asyncio.wait_for(run_in_threadpool(_exchange_backlog, runtime),
                                       READY_TIMEOUT_SECONDS)
    except Exception as exc:  # the database check above says what is wrong
        return f"unknown: {type(exc).__name__}"
    return f"ok ({found.unsent} unsent, {found.refused} refused)"


async def _exchange_metrics(runtime: Runtime) -> list[str]:
    """The exchange's backlog and the age of its oldest unsent message (EXCHANGE-11)."""
    try:
        found = await asyncio.wait_for(run_in_threadpool(_exchange_backlog, runtime),
                                       READY_TIMEOUT_SECONDS)
    except Exception:  # the database away: /metrics still answers, without these
        log.warning("exchange metrics unavailable", exc_info=True)
        return []
    age = ((runtime.clock() - found.oldest_unsent_at).total_seconds()
           if found.oldest_unsent_at else 0.0)
    lines = ["# HELP registry_exchange_unsent Exchange messages not acknowledged yet.",
             "# TYPE registry_exchange_unsent gauge"]
    lines += [f'registry_exchange_unsent{{county="{county}"}} {count}'
              for county, count in sorted(found.by_county.items())]
    lines += [f"registry_exchange_unsent_total {found.unsent}",
              "# HELP registry_exchange_refused Exchange messages the platform refused.",
              "# TYPE registry_exchange_refused gauge",
              f"registry_exchange_refused {found.refused}",
              "# HELP registry_exchange_oldest_unsent_age_seconds Age of the oldest unsent"
              " exchange message (0: none).",
              "# TYPE registry_exchange_oldest_unsent_age_seconds gauge",
              f"registry_exchange_oldest_unsent_age_seconds {max(0.0, age):.0f}"]
    return lines


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    settings = settings or (runtime.settings if runtime else get_settings())
    if runtime is None:
        configure_logging(settings.log_level)
    own_runtime = runtime is None
    runtime = runtime or Runtime.from_settings(settings)
    metrics: Counter[tuple[str, str, int]] = Counter()

    graphql_app = RegistryGraphQL(
        runtime,
        graphql_ide="graphiql" if settings.is_development else None,
        allow_queries_via_get=True,  # queries only, never cached (HTTP-4, HTTP-5)
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks: dict[str, str] = {}
        healthy = True
        # READY-1: each check is bounded: a part that hangs is "unavailable" after
        # READY_TIMEOUT_SECONDS (its thread is left to finish on its own).
        try:
            postgis = await asyncio.wait_for(run_in_threadpool(_database_ready, runtime),
                                             READY_TIMEOUT_SECONDS)
            checks["database"] = f"ok (PostGIS {postgis})"
        except Exception as exc:  # any failure means "not ready"; say which part
            healthy = False
            checks["database"] = f"unavailable: {type(exc).__name__}"
            log.warning("readiness: database unavailable", exc_info=exc)
        try:
            await asyncio.wait_for(run_in_threadpool(_bucket_ready, runtime),
                                   READY_TIMEOUT_SECONDS)
            checks["storage"] = "ok"
        except (StorageUnavailable, TimeoutError) as exc:
            healthy = False
            checks["storage"] = "unavailable"
            log.warning("readiness: storage unavailable: %r", exc)
        if runtime.standbys is not None:  # REPLICA-4: reported, never "not ready"
            checks.update(await _replicas_ready(runtime))
        if runtime.settings.exchange_url:  # EXCHANGE-11: reported, never "not ready"
            checks["exchange"] = await _exchange_ready(runtime)
        return JSONResponse({"status": "ok" if healthy else "unavailable", "checks": checks},
                            status_code=200 if healthy else 503)

    async def prometheus(request: Request) -> Response:
        lines = ["# HELP registry_http_requests_total HTTP requests served by this worker.",
                 "# TYPE registry_http_requests_total counter"]
        for (method, path, status), count in sorted(metrics.items()):
            lines.append(f'registry_http_requests_total{{method="{method}",path="{path}",'
                         f'status="{status}"}} {count}')
        lines += await _exchange_metrics(runtime)
        return PlainTextResponse("\n".join(lines) + "\n",
                                 media_type="text/plain; version=0.0.4")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Everything made at start-up (schema, reference data, pools) lives as long as the
        # process: keep it out of the cyclic collector's way, so its passes stay short.
        try:
            runtime.reference  # noqa: B018 - loaded now, not by the first request
        except Exception:  # the database may be down at start: /readyz says so, reads retry
            log.warning("reference data not loaded at start-up", exc_info=True)
        mark_interrupted_jobs(runtime)
        assert runtime.settings.database_url is not None
        url = runtime.settings.database_url.get_secret_value()
        graphql_app.reader = Reader(url, size=runtime.settings.database_pool_size,
                                    standbys=runtime.standbys)
        await graphql_app.reader.open()
        graphql_app.scan_pool = ThreadPoolExecutor(os.cpu_count() or 2,
                                                   thread_name_prefix="registry-scan-ahead")
        gc.collect()
        gc.freeze()
        every = runtime.settings.ledger_expiry_sweep_seconds
        background = [asyncio.create_task(watch_access_changes(runtime, conninfo(url))),
                      *([asyncio.create_task(sweep_forever(runtime, every))] if every else [])]
        sender = SenderConfig.from_settings(runtime.settings)
        if sender is not None and runtime.settings.exchange_send_seconds:
            background.append(asyncio.create_task(exchange_forever(
                runtime, sender, runtime.settings.exchange_send_seconds)))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            await graphql_app.reader.close()
            graphql_app.reader = None
            graphql_app.scan_pool.shutdown(wait=False, cancel_futures=True)
            graphql_app.scan_pool = None
        if own_runtime:
            runtime.close()

    return Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", prometheus),
            *chart_routes(runtime),
            *paper_routes(runtime),
            *export_routes(runtime),
            *ledger_routes(runtime),
            *(ide_routes() if settings.is_development else []),
        ],
        middleware=[Middleware(RequestIdMiddleware, metrics=metrics),
                    Middleware(CodedErrors),
                    Middleware(GraphQLFirst, graphql=graphql_app)],
        exception_handlers={StarletteHTTPException: _http_error},
        lifespan=lifespan,
    )
