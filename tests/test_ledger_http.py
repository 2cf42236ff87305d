"""The trading center's HTTP endpoints: HMAC-signed transfer batches (a bad signature or a stale
timestamp records nothing, the key is never logged) and daily statements as CSV."""

from __future__ import annotations

import csv
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from registry.api.ledger_http import signature
from registry.app import create_app
from registry.config import Settings
from registry.db.ledger import HolderKind, QuotaType, TransferCode
from registry.runtime import Runtime
from registry.services.ledger.reports import CHINA
from tests.conftest import Users
from tests.ledger_support import MU, PINGCHANG, TONGJIANG, Clock, LedgerBed
from tests.test_cli import run_registry, server_env

SECRET = "tc-shared-key-7f3a9c1e5b"


@pytest.fixture
def signed_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"trading_center_hmac_secret": SecretStr(SECRET)})


@pytest.fixture
def signed_runtime(signed_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(signed_settings)
    runtime.clock = Clock()
    yield runtime
    runtime.close()


@pytest.fixture
def http(signed_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=signed_runtime)) as client:
        yield client


@pytest.fixture
def bed(signed_runtime: Runtime) -> LedgerBed:
    assert isinstance(signed_runtime.clock, Clock)
    return LedgerBed(signed_runtime.sessions, signed_runtime.clock)


@pytest.fixture
def accounts(bed: LedgerBed) -> dict[str, int]:
    bed.issue(PINGCHANG, area_mu=10)
    bed.issue(TONGJIANG, area_mu=1, doc="通自然资验〔2025〕3号")
    return {"pingchang": bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.LINKAGE_SURPLUS).id,
            "tongjiang": bed.account(HolderKind.COUNTY, TONGJIANG, QuotaType.LINKAGE_SURPLUS).id,
            "first": bed.read("SELECT id FROM ledger_transfers ORDER BY seq LIMIT 1")[0][0]}


def post(http: TestClient, bed: LedgerBed, payload: Any, *, secret: str = SECRET,
         timestamp: int | None = None, tamper: bytes | None = None) -> Any:
    body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    stamp = str(timestamp if timestamp is not None else int(bed.clock().timestamp()))
    headers = {"X-Ledger-Timestamp": stamp, "Content-Type": "application/json",
               "X-Ledger-Signature": signature(secret.encode(), stamp, body)}
    return http.post("/ledger/batches", content=tamper or body, headers=headers)


def correction(accounts: dict[str, int], amount: int, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "debit_account_id": accounts["pingchang"],
            "credit_account_id": accounts["tongjiang"], "amount": amount,
            "code": TransferCode.CORRECTION.value,
            "details": {"reason": "调剂", "corrects": str(accounts["first"])}, **fields}


def test_a_signed_batch_gets_a_result_per_transfer_and_replays_harmlessly(
        http: TestClient, bed: LedgerBed, accounts: dict[str, int]) -> None:
    batch = {"transfers": [correction(accounts, 6 * MU), correction(accounts, 6 * MU),
                           correction(accounts, 0), correction(accounts, MU, linked=True),
                           correction(accounts, 2 * MU)]}
    response = post(http, bed, batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(r["status"], (r["error"] or {}).get("code")) for r in body["results"]] == [
        ("posted", None), ("refused", "INSUFFICIENT_QUOTA"), ("refused", "INVALID_AMOUNT"),
        ("posted", None), ("posted", None)]
    assert (body["posted"], body["refused"]) == (3, 2)
    assert body["results"][3]["seq"] + 1 == body["results"][4]["seq"]
    before = bed.snapshot()
    bed.clock.advance(60)
    again = post(http, bed, batch).json()
    assert [(r["status"], r["seq"]) for r in again["results"]] == [
        (r["status"], r["seq"]) for r in body["results"]]
    assert bed.snapshot() == before
    audit = bed.read("SELECT username, operation FROM audit_log ORDER BY id DESC LIMIT 1")
    assert tuple(audit[0]) == ("trading_center:signed-batch", "ledger.transfers")


@pytest.mark.parametrize("attack", ["wrong key", "changed body", "no signature", "stale",
                                    "from the future", "not a timestamp"])
def test_a_bad_signature_or_a_stale_timestamp_is_unauthenticated_and_records_nothing(
        http: TestClient, bed: LedgerBed, accounts: dict[str, int], attack: str,
        caplog: pytest.LogCaptureFixture) -> None:
    batch = {"transfers": [correction(accounts, MU)]}
    now = int(bed.clock().timestamp())
    before = bed.snapshot()
    caplog.set_level(logging.DEBUG)
    if attack == "wrong key":
        response = post(http, bed, batch, secret="guessed-key")
    elif attack == "changed body":
        response = post(http, bed, batch, tamper=json.dumps(
            {"transfers": [correction(accounts, 9 * MU)]}).encode())
    elif attack == "no signature":
        response = http.post("/ledger/batches", json=batch)
    elif attack == "stale":
        response = post(http, bed, batch, timestamp=now - 301)
    elif attack == "from the future":
        response = post(http, bed, batch, timestamp=now + 301)
    else:
        response = post(http, bed, batch, timestamp=-5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert bed.snapshot() == before
    assert SECRET not in caplog.text and SECRET not in response.text


def test_a_malformed_or_oversized_batch_is_refused_whole(
        http: TestClient, bed: LedgerBed, accounts: dict[str, int]) -> None:
    before = bed.snapshot()
    cases: list[tuple[Any, int, str]] = [
        (b"{not json", 400, "INVALID_BATCH"),
        ({"transfer": []}, 400, "INVALID_BATCH"),
        ({"transfers": [correction(accounts, MU), {**correction(accounts, MU),
                                                    "amount": "10000"}]}, 400, "INVALID_BATCH"),
        ({"transfers": [{**correction(accounts, MU), "id": "not-a-uuid"}]}, 400,
         "INVALID_BATCH"),
        ({"transfers": [{**correction(accounts, MU), "action": "expire"}]}, 400,
         "INVALID_BATCH"),
        ({"transfers": [correction(accounts, 1) for _ in range(1001)]}, 413, "BATCH_TOO_LARGE"),
    ]
    for payload, status, code in cases:
        response = post(http, bed, payload)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert response.json()["error"]["details"] == {"limit": 1000, "given": 1001}
    assert bed.snapshot() == before


def test_without_a_configured_key_the_endpoint_is_off(client: TestClient, runtime: Runtime,
                                                       users: Users) -> None:
    response = client.post("/ledger/batches", json={"transfers": []},
                           headers={"X-Ledger-Timestamp": "1", "X-Ledger-Signature": "sha256=0"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "NOT_CONFIGURED"


def test_a_daily_statement_opens_moves_and_closes(
        http: TestClient, bed: LedgerBed, accounts: dict[str, int], users: Users,
        signed_settings: Settings) -> None:
    day_one = bed.clock().astimezone(CHINA).date()  # 2026-03-02, 09:00 in China
    bed.clock.advance(3600)
    moved = post(http, bed, {"transfers": [correction(accounts, 3 * MU),
                                           correction(accounts, 2 * MU)]})
    assert moved.json()["posted"] == 2
    bed.clock.advance(24 * 3600)
    post(http, bed, {"transfers": [correction(accounts, MU)]})
    center = users.add("jiaoyi", "trading_center")
    url = f"/ledger/statements/{accounts['pingchang']}/{day_one.isoformat()}"
    response = http.get(url, headers=center)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["line"] for r in rows] == ["opening", "movement", "movement", "movement",
                                         "closing"]
    assert rows[0]["balance"] == "0" and rows[1]["code"] == "issue"
    assert [r["debit"] for r in rows[2:4]] == [str(3 * MU), str(2 * MU)]
    assert rows[-1]["balance"] == str(5 * MU) and rows[-1]["credit"] == str(10 * MU)
    next_day = http.get(f"/ledger/statements/{accounts['pingchang']}/2026-03-03",
                        headers=center).text
    lines = list(csv.DictReader(io.StringIO(next_day)))
    assert lines[0]["balance"] == str(5 * MU) and lines[-1]["balance"] == str(4 * MU)

    cli = run_registry("ledger", "statement", f"county/{PINGCHANG}/linkage_surplus/area",
                       day_one.isoformat(), env=server_env(signed_settings))
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == response.text

    other_county = users.add("tj-clerk", "clerk", county=TONGJIANG)
    assert http.get(url, headers=other_county).status_code == 403
    assert http.get(url).status_code == 401
    assert http.get(f"/ledger/statements/999999/{day_one}", headers=center).status_code == 404
    assert http.get(f"/ledger/statements/{accounts['pingchang']}/2026-13-01",
                    headers=center).status_code == 400


def test_registry_ledger_expire_records_what_is_due(
        bed: LedgerBed, accounts: dict[str, int], signed_settings: Settings) -> None:
    from registry.services.ledger.rules import Action, TransferInput

    pending = TransferInput(id=uuid.uuid4(), action=Action.PENDING, timeout_seconds=1,
                            debit_account_id=accounts["pingchang"],
                            credit_account_id=accounts["tongjiang"], amount=MU,
                            code=TransferCode.CORRECTION,
                            details={"reason": "调剂", "corrects": str(accounts["first"])})
    assert bed.transfers([pending])[0].ok  # at the test clock's time, long past
    result = run_registry("ledger", "expire", env=server_env(signed_settings))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 pending transfers expired"
    assert bed.read("SELECT kind::text FROM ledger_transfers ORDER BY seq DESC LIMIT 1")[0][0] \
        == "expire"


def test_the_hmac_key_setting_is_off_when_empty_and_refused_when_short() -> None:
    from pydantic import ValidationError

    assert Settings(trading_center_hmac_secret="").trading_center_hmac_secret is None
    with pytest.raises(ValidationError) as caught:
        Settings(trading_center_hmac_secret="short-key")
    assert "short-key" not in str(caught.value)
    key = Settings(trading_center_hmac_secret=SECRET)
    assert SECRET not in repr(key) and key.trading_center_hmac_secret is not None
