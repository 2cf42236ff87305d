"""What a running service does on its own: a pending ledger transfer past its timeout is
expired, and what it held released, with no one asking (registry/sweeper.py)."""

from __future__ import annotations

import time
import uuid

from starlette.testclient import TestClient

from registry.app import create_app
from registry.config import Settings
from registry.db.ledger import Dimension, HolderKind, QuotaType, TransferCode
from registry.runtime import Runtime
from registry.services import ledger
from registry.services.ledger.rules import Action, TransferInput
from registry.sweeper import sweep_once
from tests.ledger_support import MU, PINGCHANG, Clock, LedgerBed


def a_pending_listing(bed: LedgerBed, timeout_seconds: int) -> int:
    """平昌县 lists 7 of its 10 亩 in a pending transfer to escrow; the county's account."""
    bed.issue(PINGCHANG, area_mu=10)
    escrow = ledger.run_ledger(bed.sessions, ledger.ensure_accounts, ledger.ESCROW,
                               QuotaType.LINKAGE_SURPLUS, [Dimension.AREA], bed.clock())
    county = bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.LINKAGE_SURPLUS).id
    [pending] = bed.transfers([TransferInput(
        id=uuid.uuid4(), debit_account_id=county, credit_account_id=escrow[Dimension.AREA],
        amount=7 * MU, code=TransferCode.LIST, action=Action.PENDING,
        timeout_seconds=timeout_seconds)])
    assert pending.ok
    return county


def held(bed: LedgerBed, account_id: int) -> int:
    return bed.read("SELECT debits_pending FROM ledger_accounts WHERE id = :id",
                    id=account_id)[0][0]


def test_a_running_service_expires_a_pending_transfer_once_its_timeout_passes(
        runtime: Runtime, settings: Settings) -> None:
    bed = LedgerBed(runtime.sessions, Clock())
    runtime.clock = bed.clock
    county = a_pending_listing(bed, timeout_seconds=600)
    runtime.settings = settings.model_copy(update={"ledger_expiry_sweep_seconds": 0.05})
    with TestClient(create_app(runtime=runtime)):
        time.sleep(0.5)  # ten sweeps, none due
        assert held(bed, county) == 7 * MU
        bed.clock.advance(600)
        deadline = time.monotonic() + 30
        while held(bed, county) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert held(bed, county) == 0  # released: the county holds its 10 亩 again
    kinds = bed.read("SELECT kind::text FROM ledger_transfers ORDER BY seq")
    assert [k[0] for k in kinds] == ["single", "pending", "expire"]  # expired once
    assert bed.verify() == (None, [])


def test_a_sweep_expires_only_what_is_due(runtime: Runtime) -> None:
    bed = LedgerBed(runtime.sessions, Clock())
    runtime.clock = bed.clock
    county = a_pending_listing(bed, timeout_seconds=600)
    bed.clock.advance(599)
    assert sweep_once(runtime) == 0 and held(bed, county) == 7 * MU
    bed.clock.advance(1)
    assert sweep_once(runtime) == 1 and held(bed, county) == 0
    assert sweep_once(runtime) == 0
    who = bed.read("SELECT username FROM audit_log WHERE username = 'registry-sweeper'")
    assert who, "the sweep's expiry is audited under its own name"
