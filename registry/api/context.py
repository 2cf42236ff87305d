"""The per-request context handed to every resolver, and how services are called from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from registry.db.reader import Reader
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
            return await self.reader.values(statement)
        return await self.read(run, statement)

    async def read(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like `run`, for reads: an autocommit session (each statement its own snapshot)."""

        def call() -> T:
            with translate_database_errors(), self.runtime.readers() as session:
                return work(session, *args, **kwargs)

        return await run_in_threadpool(call)


Info = StrawberryInfo[RequestContext, None]
