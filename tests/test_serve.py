"""`registry serve` as `make run` starts it: a private PostgreSQL and S3 under VAR_DIR, GraphQL
served, everything stopped on SIGTERM, and the data still there on the next start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest

from registry.devstack import free_port

REGISTRY = str(Path(sys.executable).parent / "registry")
PRIVATE_ENV_KEYS = ("DATABASE_URL", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY")


def start_serve(var_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV_KEYS}
    env.update(VAR_DIR=str(var_dir), PORT=str(port))
    return subprocess.Popen([REGISTRY, "serve"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_until_serving(port: int, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("registry serve did not become ready")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output


def processes_under(var_dir: Path) -> list[str]:
    """Command lines of live processes that mention var_dir (postgres and weed would)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(var_dir) in cmdline:
                found.append(cmdline)
    return found


def divisions(port: int) -> list[str]:
    response = httpx.post(f"http://127.0.0.1:{port}/graphql",
                          json={"query": "{ divisions { name children { name } } }"}, timeout=10)
    city = response.json()["data"]["divisions"][0]
    return [city["name"], *(c["name"] for c in city["children"])]


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: its parent is private to root, and as root the cluster runs as
    # the postgres OS user, which must be able to reach its data directory.
    parent = Path(tempfile.mkdtemp(prefix="registry-serve-"))
    parent.chmod(0o755)
    yield parent / "var"
    shutil.rmtree(parent, ignore_errors=True)


def test_serve_starts_private_servers_stops_them_all_and_keeps_the_data(var_dir: Path) -> None:
    port = free_port()

    first = start_serve(var_dir, port)
    try:
        wait_until_serving(port, first)
        assert divisions(port) == ["巴中市", "巴州区", "恩阳区", "通江县", "南江县", "平昌县"]
        state = json.loads((var_dir / "stack.json").read_text())
        with psycopg.connect(state["database_url"].replace("+psycopg", ""),
                             autocommit=True) as conn:
            conn.execute("CREATE TABLE kept_marker (note text)")
            conn.execute("INSERT INTO kept_marker VALUES ('written by the first run')")
        keys = (var_dir / "s3" / "credentials.json").read_text()
    finally:
        output = stop(first)
    assert first.returncode == 0 or first.returncode == 128 + signal.SIGTERM, output
    assert processes_under(var_dir) == []
    assert not (var_dir / "stack.json").exists()

    second = start_serve(var_dir, port)
    try:
        wait_until_serving(port, second)
        state = json.loads((var_dir / "stack.json").read_text())
        with psycopg.connect(state["database_url"].replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT note FROM kept_marker").fetchone() == (
                "written by the first run",)
        assert (var_dir / "s3" / "credentials.json").read_text() == keys
    finally:
        stop(second)
    assert processes_under(var_dir) == []
