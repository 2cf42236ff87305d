"""Running Alembic from code: `registry migrate`, the test template loader, and the drift check."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import Connection, create_engine, pool

from registry.db.base import Base

# PostGIS owns these tables; autogenerate must neither create nor drop them.
POSTGIS_TABLES = frozenset({"spatial_ref_sys", "topology", "layer"})


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    """Autogenerate filter shared by alembic/env.py and `schema_drift`."""
    if type_ == "table" and name in POSTGIS_TABLES:
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))


def alembic_dir() -> Path:
    """The folder holding alembic.ini: $REGISTRY_ALEMBIC_DIR, the source checkout, or the cwd."""
    candidates = [Path(__file__).resolve().parent.parent, Path.cwd()]
    if "REGISTRY_ALEMBIC_DIR" in os.environ:
        candidates.insert(0, Path(os.environ["REGISTRY_ALEMBIC_DIR"]))
    for candidate in candidates:
        if (candidate / "alembic.ini").exists():
            return candidate
    raise FileNotFoundError("alembic.ini not found; set REGISTRY_ALEMBIC_DIR to its folder")


def alembic_config(connection: Connection | None = None) -> Config:
    root = alembic_dir()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "alembic"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` in one transaction; idempotent."""
    engine = create_engine(url, poolclass=pool.NullPool, hide_parameters=True)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    """Walk the database back to `revision` ("base": nothing of ours left)."""
    engine = create_engine(url, poolclass=pool.NullPool, hide_parameters=True)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_drift(connection: Connection) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty = agreed)."""
    import registry.db.models  # noqa: F401 - registers every model on Base.metadata

    context = MigrationContext.configure(
        connection,
        opts={"include_object": include_object, "compare_type": True,
              "target_metadata": Base.metadata},
    )
    return list(compare_metadata(context, Base.metadata))
