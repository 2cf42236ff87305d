"""The read-only role `registry_reader` (migration 0008) as QGIS uses it (docs/qgis.md): GDAL's
PostgreSQL driver opens the parcels and units layers and counts what the database holds; the
role can write nothing and read nothing beyond the layers and the reference tables."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from registry.servers import libpq_url, set_reader_password
from tests.bureau import Bureau

needs_gdal = pytest.mark.skipif(shutil.which("ogrinfo") is None,
                                reason="ogrinfo missing: scripts/system-deps.sh installs gdal-bin")


@pytest.fixture
def reader(database_url: str) -> dict[str, str]:
    """libpq conninfo parts of this test's database as registry_reader, password set."""
    password = secrets.token_urlsafe(16)
    set_reader_password(database_url, password)
    url = make_url(database_url)
    return {"host": str(url.host), "port": str(url.port), "dbname": str(url.database),
            "user": "registry_reader", "password": password}


def conninfo(parts: dict[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in parts.items())


def superuser_count(database_url: str, table: str) -> int:
    with psycopg.connect(libpq_url(database_url)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def ogr_feature_count(parts: dict[str, str], layer: str, geometry: str) -> int:
    result = subprocess.run(["ogrinfo", "-ro", "-so", f"PG:{conninfo(parts)}", layer],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"Geometry: {geometry}" in result.stdout, result.stdout
    found = re.search(r"Feature Count: (\d+)", result.stdout)
    assert found, result.stdout
    return int(found.group(1))


@needs_gdal
def test_ogrinfo_opens_parcels_and_units_as_the_reader(
        pingchang: Bureau, database_url: str, reader: dict[str, str]) -> None:
    for building in (1, 2, 3):
        pingchang.rural_house(building)
    # parcels carry the polygons; units are a table without geometry, joined on parcel_id
    for layer, geometry in (("parcels", "Multi Polygon"), ("units", "None")):
        expected = superuser_count(database_url, layer)
        assert expected >= 3
        assert ogr_feature_count(reader, layer, geometry) == expected


@needs_gdal
def test_ogr2ogr_cannot_append_as_the_reader(pingchang: Bureau, database_url: str,
                                             reader: dict[str, str]) -> None:
    pingchang.create_parcel()
    before = superuser_count(database_url, "parcels")
    dsn = f"PG:{conninfo(reader)}"
    result = subprocess.run(["ogr2ogr", "-update", "-append", "-nln", "parcels", dsn, dsn,
                             "-sql", "SELECT * FROM parcels LIMIT 1"],
                            capture_output=True, text=True, timeout=60)
    assert "permission denied" in result.stderr.lower(), result.stderr
    assert superuser_count(database_url, "parcels") == before


@pytest.mark.parametrize("statement", [
    "UPDATE parcels SET code = code",
    "DELETE FROM units",
    "INSERT INTO divisions (code) VALUES ('999999')",
    "CREATE TABLE public.mine (x int)",
    "SELECT * FROM parties",
    "SELECT * FROM users",
    "SELECT * FROM api_tokens",
    "SELECT * FROM applications",
])
def test_the_reader_may_not_write_or_read_beyond_the_layers(
        reader: dict[str, str], statement: str) -> None:
    with psycopg.connect(**reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_reader_reads_the_layers_and_reference_tables(reader: dict[str, str]) -> None:
    with psycopg.connect(**reader) as conn:
        for table in ("parcels", "units", "divisions", "land_use_codes", "spatial_ref_sys"):
            conn.execute(f"SELECT * FROM {table} LIMIT 1")
        names = conn.execute("SELECT name FROM divisions").fetchall()
    assert ("平昌县",) in names


def registry_cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`registry ARGS` on this test's database as a configured DATABASE_URL."""
    from tests.test_serve import PRIVATE_ENV_KEYS, REGISTRY

    environ = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV_KEYS}
    environ.update(DATABASE_URL=database_url, **env)
    return subprocess.run([REGISTRY, *args], env=environ, capture_output=True, text=True,
                          timeout=60)


def test_reader_password_then_psql_as_the_reader_reads_and_cannot_write(
        pingchang: Bureau, database_url: str, tmp_path: Path) -> None:
    """A DBA's day: `registry reader-password`, then `registry psql --reader` (QGIS's role)."""
    pingchang.create_parcel()
    password = secrets.token_urlsafe(12)
    var = str(tmp_path / "var")
    set_it = registry_cli(database_url, "reader-password", READER_PASSWORD=password, VAR_DIR=var)
    assert set_it.returncode == 0, set_it.stderr
    assert "registry_reader may log in" in set_it.stdout

    read = registry_cli(database_url, "psql", "--reader", "-At", "-c",
                        "SELECT current_user, count(*) FROM parcels",
                        PGPASSWORD=password, VAR_DIR=var)
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == f"registry_reader|{superuser_count(database_url, 'parcels')}"

    write = registry_cli(database_url, "psql", "--reader", "-c", "DELETE FROM parcels",
                         PGPASSWORD=password, VAR_DIR=var)
    assert write.returncode != 0 and "permission denied" in write.stderr
    assert superuser_count(database_url, "parcels") >= 1

    wrong = registry_cli(database_url, "psql", "--reader", "-c", "SELECT 1",
                         PGPASSWORD=password + "x", VAR_DIR=var)
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr

    admin = registry_cli(database_url, "psql", "-At", "-c", "SELECT current_user", VAR_DIR=var)
    assert admin.returncode == 0, admin.stderr
    assert admin.stdout.strip() == make_url(database_url).username
