"""The per-request context handed to every resolver, and how services are called from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from registry.api.http_protocol import RequestRefused
from registry.db.reader import Reader
from registry.db.replicas import ReadRoute, Standby, parse_lsn
from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.access import Principal, Role, require
from registry.services.database_errors import translate_database_errors
from registry.services.errors import DomainError
from registry.services.reads import Statement, run

T = TypeVar("T")
RACE_RETRIES = 3


@dataclass
class RequestContext:
    request: Request
    response: Response | None
    runtime: Runtime
    request_id: str
    principal: Principal | None
    # The async reader for the hottest reads (registry/db/reader.py); None outside the app.
    reader: Reader | None = None
    # Per-request DataLoaders, created lazily by name (see registry.api.loaders).
    loaders: dict[str, Any] = field(default_factory=dict)
    # REPLICA-1/2 (registry/db/replicas.py): where this request's reads go; None without
    # standbys (every read on the primary).
    route: ReadRoute | None = None

    def require(self, *roles: Role) -> Principal:
        """The caller, if authenticated and holding one of `roles` (any role when none given)."""
        return require(self.principal, *roles)

    async def run(self, work: Callable[..., T], *args: Any, retries: int = RACE_RETRIES,
                  **kwargs: Any) -> T:
        """Run `work(session, *args, **kwargs)` in one transaction, off the event loop.

        Committed when it returns; rolled back when it raises, so a refused request changes
        nothing. Database constraint violations come back as domain errors.

        RETRY-2: a transaction that lost a race PostgreSQL detected (deadlock, serialization
        failure: CONCURRENT_UPDATE, retryable) was rolled back whole, so it is run again, up to
        `retries` times, before the client sees CONCURRENT_UPDATE. Work with effects outside
        the transaction (an upload's stream) passes retries=0.
        """

        def call() -> T:
            with translate_database_errors(), transaction(self.runtime.sessions) as session:
                return work(session, *args, **kwargs)

        if self.route is not None:  # REPLICA-2: after a write, this request reads the primary
            self.route.primary = True
        for attempt in range(retries + 1):
            try:
                return await run_in_threadpool(call)
            except DomainError as exc:
                if not exc.details.get("retryable") or attempt == retries:
                    raise
        raise AssertionError("unreachable")

    async def values(self, statement: Statement) -> list[Any]:
        """A read model's rows, on the event loop through the async reader when there is one."""
        if self.reader is not None:
            if self.route is not None:
                return await self.reader.routed_values(statement, self.route)
            return await self.reader.values(statement)
        return await self.read(run, statement)

    async def read(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like `run`, for reads: an autocommit session (each statement its own snapshot),
        on a standby when the route allows (REPLICA-1..3), else on the primary."""

        def call(sessions: Callable[[], Session]) -> T:
            with translate_database_errors(), sessions() as session:
                return work(session, *args, **kwargs)

        standby = await self._standby()
        if standby is not None:
            def on_standby() -> T:
                with standby.sessions() as session:
                    return work(session, *args, **kwargs)

            try:
                return await run_in_threadpool(on_standby)
            except Exception as exc:
                assert self.runtime.standbys is not None
                if not self.runtime.standbys.fall_back(standby, exc):
                    with translate_database_errors():
                        raise
        return await run_in_threadpool(call, self.runtime.readers)

    async def _standby(self) -> Standby | None:
        """The standby this request's next sync read goes to, having waited for the client's
        token (REPLICA-2); None: the primary."""
        route, standbys = self.route, self.runtime.standbys
        if route is None or standbys is None or route.primary:
            return None
        standby = standbys.choose()
        if standby is None or standby.has_replayed(route):
            return standby
        if self.reader is not None:
            reached = await self.reader.caught_up(standby, route)
        else:
            reached = await run_in_threadpool(standbys.caught_up, standby, route)
        return standby if reached else None


def read_route(token: str | None) -> ReadRoute:
    """REPLICA-2: a request's route from its `X-Registry-After` header; a malformed token is
    refused before anything runs."""
    if token is None:
        return ReadRoute()
    after = parse_lsn(token.strip())
    if after is None:
        raise RequestRefused(400, "BAD_READ_AFTER_TOKEN",
                             "X-Registry-After 须为变更响应中的 X-Registry-After 原值",
                             "X-Registry-After must be the X-Registry-After value of a "
                             "mutation's response (a WAL position such as 0/3000148)")
    return ReadRoute(after=after)


Info = StrawberryInfo[RequestContext, None]
