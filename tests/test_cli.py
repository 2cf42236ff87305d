"""The `registry` command against the test servers, as an operator would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from registry.api.schema import schema_sdl
from registry.config import Settings
from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.access import create_user
from registry.services.errors import InvalidInput
from tests.snapshot import snapshot

REGISTRY = str(Path(sys.executable).parent / "registry")


def run_registry(*args: str, env: dict[str, str], cwd: Path | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([REGISTRY, *args], env={**os.environ, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def server_env(settings: Settings) -> dict[str, str]:
    assert settings.database_url and settings.s3_access_key and settings.s3_secret_key
    assert settings.s3_endpoint
    return {"DATABASE_URL": settings.database_url.get_secret_value(),
            "S3_ENDPOINT": settings.s3_endpoint,
            "S3_ACCESS_KEY": settings.s3_access_key.get_secret_value(),
            "S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
            "S3_BUCKET": settings.s3_bucket,
            **({"PAPERS_SIGNING_KEY": settings.papers_signing_key,
                "PAPERS_SIGNING_CERT": settings.papers_signing_cert}
               if settings.papers_signing_key and settings.papers_signing_cert else {})}


def test_check_reports_database_postgis_schema_and_bucket(settings: Settings) -> None:
    result = run_registry("check", env=server_env(settings))
    assert result.returncode == 0, result.stderr
    assert "postgis:  3." in result.stdout
    assert "schema:   at head" in result.stdout
    assert "reachable and writable" in result.stdout


def test_check_fails_clearly_on_a_wrong_s3_secret_and_never_prints_it(
        settings: Settings) -> None:
    env = {**server_env(settings), "S3_SECRET_KEY": "wrong-secret-value"}
    result = run_registry("check", env=env)
    assert result.returncode == 1
    assert "storage:" in result.stderr
    assert "check S3_ACCESS_KEY and S3_SECRET_KEY" in result.stderr
    assert "wrong-secret-value" not in result.stdout + result.stderr


def test_check_fails_clearly_when_the_database_is_down(settings: Settings) -> None:
    env = {**server_env(settings),
           "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/registry"}
    result = run_registry("check", env=env)
    assert result.returncode == 1
    assert "database: unreachable" in result.stderr


def test_migrate_is_idempotent(settings: Settings) -> None:
    for _ in range(2):
        result = run_registry("migrate", env=server_env(settings))
        assert result.returncode == 0, result.stderr
        assert "migrated to head" in result.stdout


def test_export_schema_writes_the_served_schema(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    result = run_registry("export-schema", "--output", str(target), env={})
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8") == schema_sdl()


def test_an_invalid_bucket_name_is_refused_at_start_with_a_clear_message(
        settings: Settings) -> None:
    result = run_registry("check", env={**server_env(settings), "S3_BUCKET": "B_"})
    assert result.returncode != 0
    assert "S3_BUCKET must be 3–63 characters" in result.stderr


def test_outside_a_checkout_without_servers_the_cli_refuses_and_creates_nothing(
        tmp_path: Path) -> None:
    """STACK-1 (registry/servers.py): `cd /tmp && registry serve` used to start an empty private
    stack in /tmp/var and end in a traceback; now one line says what to do, exit 2."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY",
                        "VAR_DIR")}
    for args, missing in [(("serve", "--port", "1"), "DATABASE_URL/S3_ENDPOINT"),
                          (("migrate",), "DATABASE_URL/S3_ENDPOINT"),
                          (("user", "add", "somebody", "--role", "clerk"),
                           "DATABASE_URL/S3_ENDPOINT")]:
        result = subprocess.run([REGISTRY, *args], env=env, cwd=tmp_path, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert f"{tmp_path} is not a registry checkout" in lines[0]
        assert missing in lines[0] and "run it in the checkout" in lines[0]
        assert "set DATABASE_URL and S3_ENDPOINT" in lines[0]
        assert list(tmp_path.iterdir()) == [], args  # no ./var, nothing at all
    # With the database configured and only S3 missing, the line names what is missing.
    result = subprocess.run([REGISTRY, "migrate"], cwd=tmp_path, capture_output=True, text=True,
                            env={**env, "DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:9/x"},
                            timeout=60)
    assert result.returncode == 2 and "without S3_ENDPOINT this" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_user_add_refuses_a_county_for_city_wide_roles(settings: Settings,
                                                        runtime: Runtime) -> None:
    """ACCESS-7 (registry/services/access.py): an auditor or trading-center user with --county
    used to be stored with a scope the ledger ignores; now one line, exit 2, no user."""
    before = snapshot(runtime)
    for roles in (["auditor"], ["trading_center"], ["clerk", "auditor"]):
        args = [a for r in roles for a in ("--role", r)]
        result = run_registry("user", "add", "half-scoped", *args, "--county", "511923",
                              env=server_env(settings))
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""  # no token printed
        [line] = result.stderr.splitlines()
        assert line.startswith("CITY_WIDE_ROLE: ")
        assert "cannot have a county scope (511923)" in line and "Traceback" not in line
        assert snapshot(runtime) == before, roles
    # The service refuses the same way, whoever calls it.
    with pytest.raises(InvalidInput) as refused, transaction(runtime.sessions) as session:
        create_user(session, "half-scoped", ["trading_center"], "511923")
    assert refused.value.code == "CITY_WIDE_ROLE"
    assert snapshot(runtime) == before
    # Without --county the same roles are fine, and county roles keep their scope.
    for args in (["--role", "auditor"], ["--role", "clerk", "--county", "511923"]):
        result = run_registry("user", "add", f"ok-{args[1]}", *args, env=server_env(settings))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("rg_")
