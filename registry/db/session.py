"""Engines and sessions. One engine per process; one session (and transaction) per unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from psycopg.types.json import set_json_loads
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

# JSON built by PostgreSQL (every read model) is decoded with orjson: several times faster.
set_json_loads(orjson.loads)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for a `postgresql+psycopg://` URL with a bounded pool."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        echo=echo,
        hide_parameters=True,  # PII-3: no ID numbers in SQL error messages
    )


def make_read_engine(url: str, *, pool_size: int = 10, echo: bool = False,
                     connect_timeout: int | None = None) -> Engine:
    """An engine for reads: autocommit (no BEGIN/ROLLBACK round trips around a single query)
    and no ping on checkout. Each statement sees its own snapshot, so a read that must be
    consistent across statements belongs in one statement (as every read model is).
    `connect_timeout` (seconds) bounds a connection attempt (a standby's, REPLICA-3)."""
    return create_engine(
        url,
        connect_args={} if connect_timeout is None else {"connect_timeout": connect_timeout},
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        echo=echo,
        hide_parameters=True,  # PII-3
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on any error."""
    with factory() as session, session.begin():
        yield session
