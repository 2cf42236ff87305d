"""`make run` from a fresh clone in a 0700 directory (as root that is out of the postgres OS
user's reach: the cluster then lives under /var/lib/registry-dev, ./var/postgres links to it).

The clone's own code is served (`python -m registry.cli serve --demo` with PYTHONPATH=clone,
which is what `make run` runs after installing a venv - the venv install is skipped here). It
must answer a query, stop cleanly on SIGINT, and on the next start reuse the same data, ports
and passwords; `registry db-url` (and `--reader`) open the database. Also: a busy PORT gives
one line on stderr and exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest

from registry.devstack import free_port
from tests.test_serve import wait_until_serving

REPO = Path(__file__).resolve().parent.parent
PRIVATE_ENV_KEYS = ("DATABASE_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "VAR_DIR",
                    "PORT")


def clone_env(clone: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV_KEYS}
    env.update(PYTHONPATH=str(clone), **extra)
    return env


def registry(clone: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "registry.cli", *args], cwd=clone,
                          env=clone_env(clone, **extra), capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def clone() -> Iterator[Path]:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    parent = Path(tempfile.mkdtemp(prefix="registry-clone-"))
    assert parent.stat().st_mode & 0o777 == 0o700
    target = parent / "registry"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True, timeout=120)
    yield target
    link = target / "var" / "postgres"
    elsewhere = link.resolve() if link.is_symlink() else None
    shutil.rmtree(parent, ignore_errors=True)
    if elsewhere is not None:
        shutil.rmtree(elsewhere, ignore_errors=True)


def serve(clone: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "registry.cli", "serve", "--demo"],
                            cwd=clone, env=clone_env(clone, PORT=str(port)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def interrupt(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=90)
    return output


def query_divisions(port: int) -> list[str]:
    response = httpx.post(f"http://127.0.0.1:{port}/graphql",
                          json={"query": "{ divisions { name } }"}, timeout=10)
    assert response.status_code == 200, response.text
    return [d["name"] for d in response.json()["data"]["divisions"]]


def counts(clone: Path) -> tuple[int, int]:
    """Parcels as the superuser and as the reader, through the URLs `registry db-url` prints."""
    admin = registry(clone, "db-url")
    reader = registry(clone, "db-url", "--reader")
    assert admin.returncode == 0 and reader.returncode == 0, (admin.stderr, reader.stderr)
    with psycopg.connect(admin.stdout.strip()) as conn:
        a = conn.execute("SELECT count(*) FROM parcels").fetchone()
    with psycopg.connect(reader.stdout.strip()) as conn:
        r = conn.execute("SELECT count(*) FROM parcels").fetchone()
    assert a is not None and r is not None
    return int(a[0]), int(r[0])


@pytest.mark.slow
def test_a_fresh_clone_in_a_private_directory_serves_and_restarts_on_the_same_data(
        clone: Path) -> None:
    port = free_port()
    first = serve(clone, port)
    try:
        wait_until_serving(port, first, timeout=300)
        assert "巴中市" in query_divisions(port)
        parcels, as_reader = counts(clone)
        assert parcels > 0 and as_reader == parcels
        ports = json.loads((clone / "var" / "ports.json").read_text())
        url = registry(clone, "db-url").stdout
    finally:
        output = interrupt(first)
    assert first.returncode == 0, output
    assert "Traceback" not in output, output
    for secret in ("passwords.json", "ports.json", "s3/credentials.json"):
        assert (clone / "var" / secret).stat().st_mode & 0o777 == 0o600, secret

    second = serve(clone, port)
    try:
        wait_until_serving(port, second, timeout=300)
        assert "巴中市" in query_divisions(port)
        assert counts(clone) == (parcels, parcels)  # same data, not loaded again
        assert json.loads((clone / "var" / "ports.json").read_text()) == ports
        assert registry(clone, "db-url").stdout == url  # same port, same password
    finally:
        output = interrupt(second)
    assert second.returncode == 0, output


def test_a_busy_port_gives_one_line_naming_it_and_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "registry.cli", "serve"],
                                env=clone_env(REPO, PORT=str(port), VAR_DIR=str(tmp_path)),
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(port) in lines[0]
    assert f"PORT={port + 1} make run" in lines[0]
    assert f"registry serve --port {port + 1}" in lines[0]
    assert not (tmp_path / "postgres").exists()  # nothing was started


def test_db_url_of_a_configured_database_and_its_reader(tmp_path: Path) -> None:
    url = "postgresql+psycopg://app:s3cret@db.example:5433/registry"
    admin = registry(REPO, "db-url", DATABASE_URL=url, VAR_DIR=str(tmp_path))
    reader = registry(REPO, "db-url", "--reader", DATABASE_URL=url, VAR_DIR=str(tmp_path))
    assert admin.stdout.strip() == "postgresql://app:s3cret@db.example:5433/registry"
    assert reader.stdout.strip() == "postgresql://registry_reader@db.example:5433/registry"
    assert "reader-password" in reader.stderr
