"""Bearer tokens on HTTP requests → the request's principal (see services/access.py), and the
watch that clears the token cache when users or tokens change (ACCESS-5)."""

from __future__ import annotations

import asyncio
import logging

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from registry.api.errors import is_database_outage
from registry.runtime import Runtime
from registry.services.access import Principal, authenticate, token_sha256

log = logging.getLogger(__name__)
ACCESS_CHANNEL = "registry_access"  # NOTIFY'd by the trigger of migration 0007


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def principal_for(request: Request, runtime: Runtime) -> Principal | None:
    """Who is calling: looked up once per token and cached briefly (no round trip per request).

    Looked up on the primary (`runtime.readers`), never on a standby (REPLICA-1 in
    registry/db/replicas.py): a token created a moment ago works at once, and the lookups are
    few (the cache answers most requests)."""
    token = bearer_token(request)
    if token is None:
        return None
    digest = token_sha256(token)
    hit, principal = runtime.token_cache.get(digest)
    if hit:
        return principal
    generation = runtime.token_cache.generation

    def lookup() -> Principal | None:
        try:
            with runtime.readers() as session:
                return authenticate(session, token)
        except Exception as exc:
            if not is_database_outage(exc):
                raise
        # RETRY-1 (registry/app.py): the pool dropped its dead connections; once more.
        with runtime.readers() as session:
            return authenticate(session, token)

    principal = await run_in_threadpool(lookup)
    runtime.token_cache.put(digest, principal, generation)
    return principal


async def watch_access_changes(runtime: Runtime, conninfo: str,
                               retry_seconds: float = 5.0) -> None:
    """ACCESS-5: clear the token cache whenever users or tokens change, until cancelled.

    Listens on its own connection; when that is lost, the cache is cleared and the listening
    starts again `retry_seconds` later (meanwhile the cache's lifetime bounds staleness)."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo,
                                                             autocommit=True) as conn:
                await conn.execute(f"LISTEN {ACCESS_CHANNEL}")
                runtime.token_cache.clear()  # what changed while no one listened
                async for _ in conn.notifies():
                    runtime.token_cache.clear()
        except Exception:  # the database went away: listen again later
            log.warning("not listening for access changes; retrying in %s s", retry_seconds,
                        exc_info=True)
            runtime.token_cache.clear()
        await asyncio.sleep(retry_seconds)
