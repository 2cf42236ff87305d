"""The async reader: autocommit connections for the hottest read models.

A unit read costs about 0.05 ms of CPU through psycopg directly and about 0.16 ms through an
ORM Session, plus a hop to a worker thread for every sync call. The reads that answer most
requests (a unit, a page of units) therefore run here, on the event loop, with no thread and
no ORM; everything else goes through Sessions as usual. The SQL is the same (`Statement`s of
registry/services/reads.py), turned from `:name` to psycopg's `%(name)s` placeholders once.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.engine import make_url

from registry.db.replicas import (
    AFTER_SQL,
    CONNECT_TIMEOUT_SECONDS,
    POLL_SECONDS,
    STANDBY_CHECKOUT_SECONDS,
    ReadRoute,
    Standby,
    StandbyPromoted,
    Standbys,
    end_of_records,
)


@dataclass(frozen=True)
class Statement:
    """One read: SQL with `:name` parameters and their values; the first column of each row
    is the answer. Run by a Session (`registry.services.reads.run`) or by this reader."""

    sql: str
    params: dict[str, Any]

_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=256)
def pyformat(sql: str) -> str:
    """`:name` → `%(name)s` (casts like `::json` untouched; literal `%` doubled)."""
    return _PLACEHOLDER.sub(r"%(\1)s", sql.replace("%", "%%"))


def conninfo(url: str) -> str:
    """A libpq connection string from an SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


_PRIMARY = object()  # a standby could not answer: the primary does


class Reader:
    """A small pool of autocommit connections, opened and closed with the app; with standbys
    (REPLICA-1 in registry/db/replicas.py) one such pool for each of them as well."""

    def __init__(self, url: str, size: int, standbys: Standbys | None = None) -> None:
        self.pool = AsyncConnectionPool(conninfo(url), min_size=1, max_size=size,
                                        kwargs={"autocommit": True}, open=False,
                                        name="registry-reader")
        self.standbys = standbys
        self._checked: dict[str, int] = {}  # a standby's `downs` when its pool was last checked
        self.standby_pools: dict[str, AsyncConnectionPool] = {
            standby.name: AsyncConnectionPool(
                conninfo(standby.url), min_size=1, max_size=size,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
                open=False, timeout=STANDBY_CHECKOUT_SECONDS,
                name=f"registry-reader-{standby.name}")
            for standby in (standbys.items if standbys is not None else [])}

    async def open(self) -> None:
        await self.pool.open(wait=False)
        for pool in self.standby_pools.values():
            await pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()
        for pool in self.standby_pools.values():
            await pool.close()

    async def primary_lsn(self) -> str:
        """The primary's WAL insert position now (REPLICA-2: read after a mutation's commit,
        it is at or past the commit record)."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(AFTER_SQL)
            row = await cursor.fetchone()
            assert row is not None
            return end_of_records(*row)

    async def routed_values(self, statement: Statement, route: ReadRoute) -> list[Any]:
        """`values`, answered by a standby unless the route says primary (REPLICA-1..3)."""
        standby = None
        if self.standbys is not None and not route.primary:
            standby = self.standbys.choose()
        if standby is not None:
            rows = await self._standby_values(standby, statement, route)
            if rows is not _PRIMARY:
                return rows  # type: ignore[return-value]
        return await self.values(statement)

    async def caught_up(self, standby: Standby, route: ReadRoute) -> bool:
        """Has `standby` replayed the route's token, waited for as REPLICA-2 says? (For the
        sync reads of RequestContext.read: the wait happens here, on the event loop.)"""
        if standby.has_replayed(route):
            return True
        try:
            async with (await self._standby_pool(standby)).connection() as conn:
                return await self._wait_for(conn, standby, route)
        except (psycopg.Error, PoolTimeout, StandbyPromoted) as exc:
            assert self.standbys is not None
            if not self.standbys.fall_back(standby, exc):
                raise
            return False

    async def _standby_pool(self, standby: Standby) -> AsyncConnectionPool:
        """The standby's pool. After the standby was down, one connection attempt of its own
        says at once whether it is back (a pool without connections would wait for its
        checkout timeout), and the pool's idle connections (dead if the standby restarted)
        are checked, before the pool is used again."""
        pool = self.standby_pools[standby.name]
        if self._checked.get(standby.name, 0) != standby.downs:
            self._checked[standby.name] = standby.downs
            probe = await psycopg.AsyncConnection.connect(
                conninfo(standby.url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
            await probe.close()
            await pool.check()
        return pool

    async def _standby_values(self, standby: Standby, statement: Statement,
                              route: ReadRoute) -> list[Any] | object:
        assert self.standbys is not None
        try:
            async with (await self._standby_pool(standby)).connection() as conn:
                if not await self._wait_for(conn, standby, route):
                    return _PRIMARY
                cursor = await conn.execute(pyformat(statement.sql), statement.params)
                return [row[0] for row in await cursor.fetchall()]
        except (psycopg.Error, PoolTimeout, StandbyPromoted) as exc:
            if not self.standbys.fall_back(standby, exc):
                raise
            return _PRIMARY

    async def _wait_for(self, conn: psycopg.AsyncConnection[Any], standby: Standby,
                        route: ReadRoute) -> bool:
        assert self.standbys is not None
        if standby.has_replayed(route):
            return True
        deadline = time.monotonic() + self.standbys.wait_seconds
        while True:
            cursor = await conn.execute("SELECT pg_last_wal_replay_lsn()::text")
            row = await cursor.fetchone()
            standby.saw(row[0] if row else None)
            if standby.has_replayed(route):
                return True
            if time.monotonic() >= deadline:
                route.primary = True  # the rest of this request reads the primary at once
                return False
            await asyncio.sleep(POLL_SECONDS)

    async def values(self, statement: Statement) -> list[Any]:
        """The first column of every row."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(pyformat(statement.sql), statement.params)
            return [row[0] for row in await cursor.fetchall()]
