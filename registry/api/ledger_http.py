"""The ledger's two plain-HTTP endpoints, for the trading center's systems.

POST /ledger/batches — up to 1,000 transfers, signed with the shared key:
    X-Ledger-Timestamp: <unix seconds>
    X-Ledger-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>." + body)>
    body: {"transfers": [{"id": UUID, "action": "single"|"pending"|"post"|"void",
                          "debit_account_id", "credit_account_id", "amount", "code",
                          "pending_id", "timeout_seconds", "lot_id", "details", "linked"}, …]}
  Answers 200 with one result per transfer (refusals included, each with its code). A wrong or
  missing signature, or a timestamp more than TRADING_CENTER_MAX_SKEW_SECONDS from our clock
  (a replayed request), is 401 UNAUTHENTICATED and records nothing; a replay inside the window
  is harmless, since every transfer's id makes it idempotent.

GET /ledger/statements/{account_id}/{YYYY-MM-DD} — an account's daily statement as CSV, for a
  bearer token that may read the account (READ-1).

Neither logs a body, a header or the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.api.auth import principal_for
from registry.runtime import Runtime
from registry.services import ledger as svc
from registry.services.errors import DomainError
from registry.services.ledger import reports
from registry.services.ledger.engine import MAX_BATCH
from registry.services.ledger.rules import transfer_from_json

MAX_BODY_BYTES = 4 * 1024 * 1024  # a full batch of 1,000 transfers with details fits easily
BATCH_ACTOR = svc.Actor("trading_center:signed-batch")
_STATUS = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "UNKNOWN_ACCOUNT": 404,
           "BATCH_TOO_LARGE": 413, "NOT_CONFIGURED": 503}


def _error(error: DomainError) -> JSONResponse:
    body: dict[str, Any] = {"code": error.code, "messageZh": error.message_zh,
                            "messageEn": error.message_en}
    if error.details:
        body["details"] = error.details
    return JSONResponse({"error": body}, status_code=_STATUS.get(error.code, 400))


def _unauthenticated(reason_en: str, reason_zh: str) -> DomainError:
    return DomainError("UNAUTHENTICATED", reason_zh, reason_en)


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The value of X-Ledger-Signature for a body sent at `timestamp`."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _check_signature(runtime: Runtime, request: Request, body: bytes) -> None:
    settings = runtime.settings
    if settings.trading_center_hmac_secret is None:
        raise DomainError("NOT_CONFIGURED", "未配置交易中心签名密钥",
                          "signed batches are off (TRADING_CENTER_HMAC_SECRET is not set)")
    timestamp = request.headers.get("x-ledger-timestamp", "")
    given = request.headers.get("x-ledger-signature", "")
    if not timestamp.isdigit() or len(timestamp) > 12 or not given:
        raise _unauthenticated("X-Ledger-Timestamp and X-Ledger-Signature are required",
                               "缺少签名或时间戳")
    secret = settings.trading_center_hmac_secret.get_secret_value().encode("utf-8")
    if not hmac.compare_digest(signature(secret, timestamp, body), given):
        raise _unauthenticated("the signature does not match the body", "签名不符")
    skew = abs(runtime.clock().timestamp() - int(timestamp))
    if skew > settings.trading_center_max_skew_seconds:
        raise _unauthenticated("the timestamp is too far from the server's clock (stale or "
                               "replayed request)", "时间戳过期（疑似重放）")


def _parse(body: bytes) -> list[svc.TransferInput]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DomainError("INVALID_BATCH", "批次不是有效的JSON", "the batch is not valid JSON") \
            from exc
    items = document.get("transfers") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise DomainError("INVALID_BATCH", "批次须为 {\"transfers\": [...]}",
                          "the batch must be {\"transfers\": [...]}")
    if len(items) > MAX_BATCH:
        raise DomainError("BATCH_TOO_LARGE", f"每批最多{MAX_BATCH}笔业务",
                          f"at most {MAX_BATCH} transfers per batch",
                          {"limit": MAX_BATCH, "given": len(items)})
    return [transfer_from_json(item, index) for index, item in enumerate(items)]


def _result_json(result: svc.TransferResult) -> dict[str, Any]:
    error = None if result.error is None else {
        "code": result.error.code, "messageZh": result.error.message_zh,
        "messageEn": result.error.message_en, **(
            {"details": result.error.details} if result.error.details else {})}
    return {"id": str(result.id), "status": result.status.value, "seq": result.seq,
            "replayed": result.replayed, "error": error}


async def post_batch(runtime: Runtime, request: Request) -> Response:
    try:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            raise DomainError("BATCH_TOO_LARGE", "批次过大", "the batch is too large",
                              {"limit_bytes": MAX_BODY_BYTES})
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise DomainError("BATCH_TOO_LARGE", "批次过大", "the batch is too large",
                              {"limit_bytes": MAX_BODY_BYTES})
        _check_signature(runtime, request, body)
        transfers = _parse(body)
        results = await run_in_threadpool(
            svc.run_ledger, runtime.sessions, svc.create_transfers, transfers,
            actor=BATCH_ACTOR, now=runtime.clock(), request_id=request.state.request_id)
    except DomainError as exc:
        return _error(exc)
    return JSONResponse({
        "results": [_result_json(r) for r in results],
        "posted": sum(1 for r in results if r.ok),
        "refused": sum(1 for r in results if not r.ok),
    })


async def get_statement(runtime: Runtime, request: Request) -> Response:
    try:
        scope = svc.reader_scope(await principal_for(request, runtime))
        try:
            account_id = int(request.path_params["account_id"])
            day = date.fromisoformat(request.path_params["day"])
        except ValueError as exc:
            raise DomainError("INVALID_INPUT", "账户编号或日期无效（日期格式 YYYY-MM-DD）",
                              "invalid account id or date (YYYY-MM-DD)") from exc

        def read() -> reports.Statement:
            with runtime.sessions() as session:
                return reports.statement(session, scope, account_id, day)

        found = await run_in_threadpool(read)
    except DomainError as exc:
        return _error(exc)
    name = f"ledger-{account_id}-{day.isoformat()}.csv"
    return Response(found.csv(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


BATCHES_PATH = "/ledger/batches"


def ledger_routes(runtime: Runtime) -> list[Route]:
    """The routes above, bound to the app's runtime."""

    async def batches(request: Request) -> Response:
        return await post_batch(runtime, request)

    async def statements(request: Request) -> Response:
        return await get_statement(runtime, request)

    return [Route(BATCHES_PATH, batches, methods=["POST"]),
            Route("/ledger/statements/{account_id}/{day}", statements, methods=["GET"])]
