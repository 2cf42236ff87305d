"""The transfers' hash chain: tampering by a superuser (triggers disabled) is found at the
transfer it touched, by `verify_ledger_chain` and by `registry verify`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from registry.config import Settings
from registry.services import ledger
from tests.ledger_support import LedgerBed, ledger_bed
from tests.test_cli import run_registry, server_env


@pytest.fixture
def bed(database_url: str) -> Iterator[LedgerBed]:
    yield from ledger_bed(database_url)


def five_transfers(bed: LedgerBed) -> uuid.UUID:
    lot = bed.issue(area_mu=3)  # seq 1
    bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)  # 2
    bed.run(ledger.delist_lot, operation_id=uuid.uuid4(), lot_id=lot)  # 3
    bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)  # 4
    bed.run(ledger.delist_lot, operation_id=uuid.uuid4(), lot_id=lot)  # 5
    return lot


def tamper(postgresql: psycopg.Connection, statement: str) -> None:
    """What only a superuser can do: switch the append-only triggers off, change, switch on."""
    postgresql.execute("ALTER TABLE ledger_transfers DISABLE TRIGGER ALL")
    postgresql.execute(statement)
    postgresql.execute("ALTER TABLE ledger_transfers ENABLE TRIGGER ALL")
    postgresql.commit()


def test_an_untouched_chain_verifies(bed: LedgerBed) -> None:
    five_transfers(bed)
    assert bed.verify() == (None, [])


@pytest.mark.parametrize(("statement", "seq", "reason"), [
    ("UPDATE ledger_transfers SET amount = amount + 1 WHERE seq = 3", 3, "content"),
    ("UPDATE ledger_transfers SET details = '{\"note\": 1}' WHERE seq = 2", 2, "content"),
    ("UPDATE ledger_transfers SET at = at - interval '1 day' WHERE seq = 4", 4, "content"),
    ("DELETE FROM ledger_transfers WHERE seq = 2", 3, "prev_hash"),
    ("UPDATE ledger_transfers SET hash = repeat('0', 64) WHERE seq = 5", 5, "content"),
])
def test_tampering_is_found_at_the_transfer_it_touched(
        bed: LedgerBed, postgresql: psycopg.Connection, statement: str, seq: int,
        reason: str) -> None:
    five_transfers(bed)
    tamper(postgresql, statement)
    with bed.sessions() as session:
        found = ledger.verify_ledger_chain(session)
    assert found is not None
    assert (found.chain, found.position) == ("ledger", seq)
    assert found.reason.startswith(reason)


def test_registry_verify_prints_each_chain_and_exits_1_on_a_break(
        bed: LedgerBed, postgresql: psycopg.Connection, settings: Settings) -> None:
    five_transfers(bed)
    ok = run_registry("verify", env=server_env(settings))
    assert ok.returncode == 0, ok.stderr
    assert "ledger: ok (5 transfers, head " in ok.stdout
    assert "ledger balances: ok" in ok.stdout
    tamper(postgresql, "UPDATE ledger_transfers SET amount = amount + 1 WHERE seq = 3")
    broken = run_registry("verify", env=server_env(settings))
    assert broken.returncode == 1
    assert "ledger: BROKEN at transfer 3: content does not match its hash" in broken.stdout
    assert "stored balances differ from its transfers" in broken.stdout
