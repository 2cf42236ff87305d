"""Read replicas: PostgreSQL streaming standbys that answer reads (DATABASE_READ_URL).

- REPLICA-1 With DATABASE_READ_URL set (one standby URL or several, comma-separated), the reads
  of a GraphQL query (the async reader's read models and `RequestContext.read`'s sessions) go
  to a standby, chosen round robin among those not marked down. Unset: everything goes to
  DATABASE_URL, exactly as without this module.
- REPLICA-2 Writes never go to a standby. A mutation operation's reads, before and after its
  writes, all go to the primary; once it has run, the response carries `X-Registry-After`:
  the primary's WAL insert position (an LSN such as `16/B374D848`) read after the commit.
  A later request that sends that token back is answered by a standby only once the standby
  has replayed that position (`pg_last_wal_replay_lsn() >= token`), waited for at most
  READ_AFTER_WAIT_MS; after that the request's reads go to the primary. So a client reads its
  own writes without every read going to the primary. A malformed token is refused
  (`BAD_READ_AFTER_TOKEN`, HTTP 400) before anything runs.
- REPLICA-3 A standby that fails (refused or lost connection, shutting down, still starting,
  no pooled connection within STANDBY_CHECKOUT_SECONDS, or not in recovery any more) is marked
  down for REPLICA_RETRY_SECONDS and the read is answered by the primary: the client sees no
  error. A query cancelled by a recovery conflict is answered by the primary as well (the
  standby stays up).
- REPLICA-4 /readyz reports each standby (`replica:<host:port>`: `ok (lag N bytes)` or
  `unavailable…`) without failing: the primary alone can serve.

Token authentication (registry/api/auth.py), the papers' HTTP routes and the CLI read the
primary through `Runtime.readers`: a token, a print or a case made a moment ago is found there.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from dataclasses import dataclass, field

import psycopg
import sqlalchemy.exc
from psycopg_pool import PoolTimeout
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from registry.db.session import make_read_engine, make_session_factory

log = logging.getLogger(__name__)

AFTER_HEADER = "X-Registry-After"
POLL_SECONDS = 0.005  # how often a waiting read asks a standby how far it has replayed
STANDBY_CHECKOUT_SECONDS = 1.0  # longer without a pooled standby connection: it is "down"
CONNECT_TIMEOUT_SECONDS = 2
_LSN = re.compile(r"[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}")
# Recovery conflicts (the standby cancelled the query to replay WAL) and a dropped database:
# the primary answers, the standby is not down.
_CONFLICT_STATES = frozenset({"40001", "40P01", "57P04"})
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300", "3D000"})


def parse_lsn(value: str | None) -> int | None:
    """`16/B374D848` → its position in bytes; None for anything else."""
    if value is None or not _LSN.fullmatch(value):
        return None
    high, low = value.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


# The WAL position after the commit, read on the primary: the insert position, moved back from
# just past a page header to the page boundary (that is where the last record ended, and the
# standby's replay position says so; pointing past the header would wait for the next record).
AFTER_SQL = ("SELECT pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')::int,"
             " pg_size_bytes(current_setting('wal_segment_size'))")
_SHORT_PAGE_HEADER, _LONG_PAGE_HEADER = 24, 40  # SizeOfXLogShortPHD, SizeOfXLogLongPHD


def end_of_records(insert_lsn: str, block_size: int, segment_size: int) -> str:
    """REPLICA-2's token from `AFTER_SQL`'s answer."""
    position = parse_lsn(insert_lsn)
    if position is None:
        raise ValueError(f"not a WAL position: {insert_lsn!r}")
    if position % segment_size == _LONG_PAGE_HEADER:
        position -= _LONG_PAGE_HEADER
    elif position % block_size == _SHORT_PAGE_HEADER:
        position -= _SHORT_PAGE_HEADER
    return format_lsn(position)


def _psycopg_error(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None:
        return exc.orig
    return exc


def is_outage(exc: BaseException) -> bool:
    """The standby could not be reached, went away, or is not ready (REPLICA-3)."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (PoolTimeout, sqlalchemy.exc.TimeoutError, StandbyPromoted)):
        return True
    exc = _psycopg_error(exc)
    if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _OUTAGE_STATES


def is_recovery_conflict(exc: BaseException) -> bool:
    error = _psycopg_error(exc)
    return isinstance(error, psycopg.Error) and error.sqlstate in _CONFLICT_STATES


class StandbyPromoted(RuntimeError):
    """A standby answered that it is not in recovery: not a standby of ours any more."""


@dataclass
class ReadRoute:
    """One request's routing (REPLICA-2): the client's token, and whether its reads must go
    to the primary (a mutation runs in it, or a standby did not reach the token in time)."""

    after: int | None = None
    primary: bool = False


@dataclass(eq=False)
class Standby:
    """One standby: its sync engine, its health, and how far it was last seen replaying."""

    url: str
    name: str
    engine: Engine
    sessions: sessionmaker[Session]
    replayed: int = 0
    down_until: float = 0.0
    reason: str = ""
    downs: int = 0  # how often it was marked down: pools check their idle connections after

    def is_up(self) -> bool:
        return time.monotonic() >= self.down_until

    def saw(self, replayed: str | None) -> None:
        """Record a `pg_last_wal_replay_lsn()` answer (None: not in recovery)."""
        position = parse_lsn(replayed)
        if position is None:
            raise StandbyPromoted(f"{self.name} is not in recovery")
        self.replayed = max(self.replayed, position)

    def has_replayed(self, route: ReadRoute) -> bool:
        return route.after is None or self.replayed >= route.after


@dataclass
class Standbys:
    """The standbys of DATABASE_READ_URL, chosen round robin among those up (REPLICA-1)."""

    items: list[Standby]
    wait_seconds: float = 0.2
    retry_seconds: float = 5.0
    _turn: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_urls(cls, urls: list[str], *, pool_size: int, wait_ms: int,
                  retry_seconds: float) -> Standbys:
        items: list[Standby] = []
        for url in urls:
            parsed = make_url(url)
            name = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
            if any(item.name == name for item in items):
                name = f"{name}/{parsed.database}#{len(items) + 1}"
            engine = make_read_engine(url, pool_size=pool_size,
                                      connect_timeout=CONNECT_TIMEOUT_SECONDS)
            items.append(Standby(url=url, name=name, engine=engine,
                                 sessions=make_session_factory(engine)))
        return cls(items=items, wait_seconds=wait_ms / 1000, retry_seconds=retry_seconds)

    def choose(self) -> Standby | None:
        """The next standby that is up, or None (then the primary answers)."""
        count = len(self.items)
        start = next(self._turn)
        for offset in range(count):
            standby = self.items[(start + offset) % count]
            if standby.is_up():
                return standby
        return None

    def mark_down(self, standby: Standby, exc: BaseException | str) -> None:
        if isinstance(exc, str):
            reason = exc
        else:  # the driver's words (SQLAlchemy's would add the statement)
            error = _psycopg_error(exc)
            reason = f"{type(error).__name__}: {str(error).strip()}"
        with self._lock:
            was_up = standby.is_up()
            standby.down_until = time.monotonic() + self.retry_seconds
            standby.reason = reason.splitlines()[0][:200] if reason else ""
            standby.downs += 1
        if was_up:
            log.warning("standby %s unavailable, reads go to the primary for %.0f s: %s",
                        standby.name, self.retry_seconds, standby.reason)
            # Its pooled connections are likely dead too: closed, so the next try starts fresh.
            standby.engine.dispose()

    def mark_up(self, standby: Standby) -> None:
        with self._lock:
            if not standby.is_up():
                log.info("standby %s answers again", standby.name)
            standby.down_until = 0.0
            standby.reason = ""

    def fall_back(self, standby: Standby, exc: BaseException) -> bool:
        """Should a read that failed on `standby` be answered by the primary? (REPLICA-3)
        A standby that is down is marked so."""
        if is_outage(exc):
            self.mark_down(standby, exc)
            return True
        return is_recovery_conflict(exc)

    def caught_up(self, standby: Standby, route: ReadRoute) -> bool:
        """Wait (at most `wait_seconds`) until `standby` has replayed the route's token; False
        when it has not by then (the route then goes to the primary) or when it failed."""
        if standby.has_replayed(route):
            return True
        deadline = time.monotonic() + self.wait_seconds
        try:
            with standby.engine.connect() as conn:
                while True:
                    standby.saw(conn.execute(
                        text("SELECT pg_last_wal_replay_lsn()::text")).scalar_one())
                    if standby.has_replayed(route):
                        return True
                    if time.monotonic() >= deadline:
                        route.primary = True
                        return False
                    time.sleep(POLL_SECONDS)
        except Exception as exc:
            if not self.fall_back(standby, exc):
                raise
            return False

    def state(self, standby: Standby, primary_lsn: int | None) -> str:
        """/readyz's word on one standby (REPLICA-4); probing it also marks it up or down."""
        try:
            with standby.engine.connect() as conn:
                standby.saw(conn.execute(
                    text("SELECT pg_last_wal_replay_lsn()::text")).scalar_one())
        except StandbyPromoted as exc:
            self.mark_down(standby, exc)
            return "unavailable: not in recovery (promoted?)"
        except Exception as exc:
            self.mark_down(standby, exc)
            return "unavailable"
        self.mark_up(standby)
        if primary_lsn is None:
            return "ok (lag unknown)"
        return f"ok (lag {max(0, primary_lsn - standby.replayed)} bytes)"

    def close(self) -> None:
        for standby in self.items:
            standby.engine.dispose()


def primary_lsn(engine: Engine) -> int | None:
    """The primary's current WAL write position, for /readyz's lag figures."""
    with engine.connect() as conn:
        return parse_lsn(conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one())
