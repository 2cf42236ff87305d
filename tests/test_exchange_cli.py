"""`registry exchange …` as an operator runs it; /metrics and /readyz with the platform down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from registry.config import Settings
from registry.runtime import Runtime
from registry.services.exchange.fake_platform import FakePlatform, PlatformState
from tests.exchange_support import Office
from tests.test_cli import run_registry, server_env


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    with FakePlatform(PlatformState(token="cli-token")) as fake:
        yield fake


def test_send_failed_retry_reconcile_export(settings: Settings, runtime: Runtime,
                                            platform: FakePlatform, tmp_path: Path) -> None:
    office = Office(runtime, counties=("511923", "511921"))
    office.first("511923")
    office.first("511921")
    env = {**server_env(settings), "EXCHANGE_URL": platform.url, "EXCHANGE_TOKEN": "cli-token",
           "EXCHANGE_RETRY_SECONDS": "0"}

    result = run_registry("exchange", "reconcile", env=env)
    assert result.returncode == 1 and "not_acknowledged" in result.stdout
    assert "2 differences" in result.stdout

    ident = sorted(platform_ids(runtime))[0]
    platform.state.refuse = {ident}
    result = run_registry("exchange", "send", env=env)
    assert result.returncode == 0, result.stderr  # nothing left pending: one refused
    assert "1 acknowledged, 1 refused" in result.stdout
    failed = run_registry("exchange", "failed", env=env)
    assert ident in failed.stdout and "refused" in failed.stdout

    platform.state.refuse = set()
    assert run_registry("exchange", "retry", ident, env=env).returncode == 0
    assert run_registry("exchange", "send", env=env).returncode == 0
    result = run_registry("exchange", "reconcile", env=env)
    assert result.returncode == 0, result.stdout
    assert "0 differences" in result.stdout

    day = office.clock().date().isoformat()
    out = tmp_path / "export.xml"
    result = run_registry("exchange", "export", "--as-of", day, "--format", "xml",
                          "--output", str(out), "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    assert "KTT_ZDJBXX       2" in result.stdout and out.read_text().startswith("<?xml")


def test_send_without_a_url_says_so(settings: Settings) -> None:
    result = run_registry("exchange", "send", env={**server_env(settings), "EXCHANGE_URL": ""})
    assert result.returncode == 1 and "EXCHANGE_URL is not set" in result.stderr


def platform_ids(runtime: Runtime) -> list[str]:
    from sqlalchemy import select

    from registry.db.exchange import OutboxMessage

    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxMessage.message_id)))


def test_metrics_show_the_backlog_and_readyz_stays_green_with_the_platform_down(
        settings: Settings, runtime: Runtime) -> None:
    from registry.app import create_app

    office = Office(runtime, counties=("511923",))
    office.first("511923")
    down = Runtime.from_settings(settings.model_copy(update={
        "exchange_url": "http://127.0.0.1:9/exchange", "exchange_send_seconds": 0.05,
        "exchange_timeout_seconds": 0.5}))
    try:
        with TestClient(create_app(runtime=down)) as client:
            metrics = client.get("/metrics").text
            assert 'registry_exchange_unsent{county="511923"} 1' in metrics
            assert "registry_exchange_unsent_total 1" in metrics
            assert "registry_exchange_oldest_unsent_age_seconds" in metrics
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["exchange"].startswith("ok (1 unsent")
    finally:
        down.close()


def test_the_running_service_sends_on_its_own(settings: Settings, runtime: Runtime,
                                              platform: FakePlatform) -> None:
    import time

    from registry.app import create_app

    office = Office(runtime, counties=("511923",))
    office.first("511923")
    serving = Runtime.from_settings(settings.model_copy(update={
        "exchange_url": platform.url, "exchange_token": SecretStr("cli-token"),
        "exchange_send_seconds": 0.05}))
    try:
        with TestClient(create_app(runtime=serving)) as client:
            deadline = time.monotonic() + 20
            while not platform.state.received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(platform.state.received) == 1
            deadline = time.monotonic() + 10
            while ("registry_exchange_unsent_total 0" not in client.get("/metrics").text
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            assert "registry_exchange_unsent_total 0" in client.get("/metrics").text
    finally:
        serving.close()
