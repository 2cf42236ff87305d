"""What a running registry holds for its lifetime: engine, sessions, store, reference data.

Built once per process by the ASGI app's lifespan or by a CLI command, from Settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from registry.config import Settings
from registry.db.replicas import Standbys
from registry.db.session import make_engine, make_read_engine, make_session_factory
from registry.services.access import TokenCache
from registry.services.reference import ReferenceData, load_reference_data
from storage import S3Store, S3StoreConfig


def utc_now() -> datetime:
    return datetime.now(UTC)


def s3_config_from(settings: Settings) -> S3StoreConfig:
    if not (settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key):
        raise ValueError("S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY must all be set")
    return S3StoreConfig(
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key.get_secret_value(),
        secret_key=settings.s3_secret_key.get_secret_value(),
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        public_endpoint=settings.s3_public_endpoint or None,
    )


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: S3Store
    # Reads go through an autocommit engine of their own (see make_read_engine).
    read_engine: Engine | None = None
    # REPLICA-1 (registry/db/replicas.py): the standbys of DATABASE_READ_URL, None without.
    # `readers` stays on the primary (auth, papers' routes, CLI); `RequestContext` routes.
    standbys: Standbys | None = None
    clock: Callable[[], datetime] = utc_now
    token_cache: TokenCache = field(default_factory=TokenCache)
    _reference: ReferenceData | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        if settings.database_url is None:
            raise ValueError("DATABASE_URL must be set")
        url = settings.database_url.get_secret_value()
        engine = make_engine(url, pool_size=settings.database_pool_size)
        read_engine = make_read_engine(url, pool_size=settings.database_pool_size)
        standbys = Standbys.from_urls(
            settings.database_read_urls, pool_size=settings.database_pool_size,
            wait_ms=settings.read_after_wait_ms,
            retry_seconds=settings.replica_retry_seconds) if settings.database_read_urls else None
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine),
                   store=S3Store(s3_config_from(settings)), read_engine=read_engine,
                   standbys=standbys)

    @property
    def reference(self) -> ReferenceData:
        """Reference data, read from the database on first use."""
        if self._reference is None:
            with self.sessions() as session:
                self._reference = load_reference_data(session)
        return self._reference

    def __post_init__(self) -> None:
        self.readers: sessionmaker[Session] = (
            make_session_factory(self.read_engine) if self.read_engine is not None
            else self.sessions)

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not None:
            self.read_engine.dispose()
        if self.standbys is not None:
            self.standbys.close()
