"""The schema comes from migrations only, and they agree with the models."""

from __future__ import annotations

import psycopg
from sqlalchemy import create_engine, pool, text

from registry.migrations import (
    current_revision,
    downgrade,
    head_revision,
    schema_drift,
    upgrade,
)


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        assert schema_drift(conn) == []
    engine.dispose()


def test_test_database_is_at_head(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.execute(text("SELECT postgis_lib_version()")).scalar_one().startswith("3.")
    engine.dispose()


def test_reference_data_holds_bazhong_and_its_five_counties(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        counties = dict(conn.execute(text(
            "SELECT code, name FROM divisions WHERE parent_code = '511900' ORDER BY code")).all())
        rural_homestead = conn.execute(text(
            "SELECT name FROM land_use_codes WHERE system = 'GB/T 21010-2017' AND code = '0702'"
        )).scalar_one()
    engine.dispose()
    assert counties == {"511902": "巴州区", "511903": "恩阳区", "511921": "通江县",
                        "511922": "南江县", "511923": "平昌县"}
    assert rural_homestead == "农村宅基地"


def test_upgrade_is_idempotent_and_downgrade_reverses_it(
        postgresql: psycopg.Connection, database_url: str) -> None:
    upgrade(database_url)  # already at head: nothing happens, nothing fails
    downgrade(database_url, "base")  # the whole history can be walked back ...
    tables = {row[0] for row in postgresql.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert "divisions" not in tables and "land_use_codes" not in tables
    upgrade(database_url)  # ... and forward again
    assert postgresql.execute("SELECT count(*) FROM divisions").fetchone()[0] > 7
