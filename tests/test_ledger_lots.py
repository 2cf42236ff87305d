"""Lots through their life: issued, listed, traded (price and fee), written off; revoked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from registry.db.ledger import HolderKind, QuotaType
from registry.services import ledger
from registry.services.ledger import Consumer
from tests.ledger_support import MU, PARCELS, PINGCHANG, LedgerBed, buyer, ledger_bed, positions


@pytest.fixture
def bed(database_url: str) -> Iterator[LedgerBed]:
    yield from ledger_bed(database_url)


def test_a_lot_is_issued_listed_traded_and_written_off(bed: LedgerBed) -> None:
    lot = bed.issue(area_mu=12)
    county = bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.LINKAGE_SURPLUS)
    assert county.credits_posted == 12 * MU
    bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)
    trade = uuid.uuid4()
    bed.run(ledger.trade_lot, trade_id=trade, lot_id=lot, buyer=buyer(),
            price_per_mu_fen=25_000_000, fee_fen=120_000)
    consumer = Consumer("land_supply_batch", "2026年第3批次城镇建设用地", "巴府土批〔2026〕3号",
                        tuple(PARCELS[PINGCHANG]))
    bed.run(ledger.write_off_lot, operation_id=uuid.uuid4(), lot_id=lot, consumer=consumer)
    with bed.sessions() as session:
        assert positions(session, lot) == {"area": "written_off"}
    assert bed.read("SELECT count(*) FROM ledger_transfers")[0][0] == 6
