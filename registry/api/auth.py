"""Bearer tokens on HTTP requests → the request's principal (see services/access.py)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from registry.runtime import Runtime
from registry.services.access import Principal, authenticate, token_sha256


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def principal_for(request: Request, runtime: Runtime) -> Principal | None:
    """Who is calling: looked up once per token and cached briefly (no round trip per request)."""
    token = bearer_token(request)
    if token is None:
        return None
    digest = token_sha256(token)
    hit, principal = runtime.token_cache.get(digest)
    if hit:
        return principal

    def lookup() -> Principal | None:
        with runtime.readers() as session:
            return authenticate(session, token)

    principal = await run_in_threadpool(lookup)
    runtime.token_cache.put(digest, principal)
    return principal
