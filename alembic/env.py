"""Alembic environment: migrations are the only way the schema changes.

The connection comes, in order, from `config.attributes["connection"]` (set by
`registry.migrations`), from `-x url=...`, or from DATABASE_URL.
"""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

import registry.db.models  # noqa: F401 - registers every model on Base.metadata
from registry.db.base import Base
from registry.migrations import include_object

config = context.config
target_metadata = Base.metadata

def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        compare_server_default=False,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url is None:
        from registry.config import get_settings

        settings = get_settings()
        if settings.database_url is None:
            raise SystemExit("DATABASE_URL is not set (or pass -x url=...)")
        url = settings.database_url.get_secret_value()
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: PostGIS DDL needs a database")
run_migrations_online()
