"""Eight clients at once, each on its own connection: no lot is sold twice, no balance goes
negative, and every transfer is either posted or refused with a code — the sums match."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from registry.db.ledger import Dimension, HolderKind, QuotaType, TransferCode
from registry.services import ledger, ledger_reports
from registry.services.errors import DomainError
from registry.services.ledger_rules import TransferInput, TransferResult
from tests.ledger_support import MU, PINGCHANG, TONGJIANG, LedgerBed, buyer, ledger_bed

CLIENTS = 8


@pytest.fixture
def bed(database_url: str) -> Iterator[LedgerBed]:
    yield from ledger_bed(database_url)


def at_once(work: Callable[[int], Any]) -> list[Any]:
    """Run work(client) for each of the clients in its own thread, released together."""
    start = threading.Barrier(CLIENTS)

    def client(number: int) -> Any:
        start.wait()
        return work(number)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(client, range(CLIENTS)))


def test_eight_clients_trading_the_same_lots_sell_each_lot_once(bed: LedgerBed) -> None:
    lots = [bed.issue(area_mu=2 + i, doc=f"巴市自然资验〔2025〕{i}号") for i in range(6)]
    for lot in lots:
        bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)

    def trade_everything(client: int) -> list[tuple[uuid.UUID, str]]:
        outcomes = []
        for lot in random.Random(client).sample(lots, len(lots)):
            try:
                bed.run(ledger.trade_lot, trade_id=uuid.uuid4(), lot_id=lot,
                        buyer=buyer(f"买受人{client}", f"buyer-{client}"),
                        price_per_mu_fen=20_000_000 + client, fee_fen=100)
                outcomes.append((lot, "TRADED"))
            except DomainError as exc:
                outcomes.append((lot, exc.code))
        return outcomes

    outcomes = [o for per_client in at_once(trade_everything) for o in per_client]
    assert len(outcomes) == CLIENTS * len(lots)  # every attempt accounted for
    per_lot = Counter(lot for lot, outcome in outcomes if outcome == "TRADED")
    assert per_lot == dict.fromkeys(lots, 1)  # each lot sold exactly once
    assert {o for _, o in outcomes if o != "TRADED"} == {"INVALID_LOT_STATE"}
    with bed.sessions() as session:
        trades = ledger_reports.trades(session, None, first=100)
        assert len(trades) == len(lots)
        held = sum(a.balance for a in ledger_reports.accounts(
            session, None, holder_kind=HolderKind.BUYER, quota_type=QuotaType.LINKAGE_SURPLUS,
            first=100))
    assert held == sum(2 + i for i in range(6)) * MU
    escrow = bed.account(HolderKind.ESCROW, "trading-center", QuotaType.LINKAGE_SURPLUS)
    assert escrow.credits_posted == escrow.debits_posted
    assert bed.verify() == (None, [])


def test_eight_clients_moving_bulk_quota_never_overdraw_and_every_result_counts(
        bed: LedgerBed) -> None:
    bed.issue(PINGCHANG, area_mu=50)
    bed.issue(TONGJIANG, area_mu=50, doc="通自然资验〔2025〕3号")
    escrow = ledger.run_ledger(bed.sessions, ledger.ensure_accounts, ledger.ESCROW,
                               QuotaType.LINKAGE_SURPLUS, [Dimension.AREA], bed.clock())
    counties = [bed.account(HolderKind.COUNTY, c, QuotaType.LINKAGE_SURPLUS).id
                for c in (PINGCHANG, TONGJIANG)]
    pool = [*counties, escrow[Dimension.AREA]]
    before = {r[0]: r for r in bed.snapshot()["balances"]}

    def random_batches(client: int) -> list[tuple[TransferInput, TransferResult]]:
        rng = random.Random(1000 + client)
        done = []
        for _ in range(6):
            batch = []
            for _ in range(rng.randint(1, 25)):
                debit, credit = rng.sample(pool, 2)
                code = TransferCode.DELIST if debit == pool[2] else TransferCode.LIST
                if debit != pool[2] and credit != pool[2]:
                    code = TransferCode.CORRECTION
                details = {"reason": "调剂", "corrects": str(first_issue)} \
                    if code is TransferCode.CORRECTION else {}
                batch.append(TransferInput(id=uuid.uuid4(), debit_account_id=debit,
                                           credit_account_id=credit, code=code,
                                           amount=rng.randint(1, 30) * MU, details=details))
            done.extend(zip(batch, bed.transfers(batch), strict=True))
        return done

    first_issue = bed.read("SELECT id FROM ledger_transfers ORDER BY seq LIMIT 1")[0][0]
    pairs = [p for per_client in at_once(random_batches) for p in per_client]
    assert {r.status.value for _, r in pairs} <= {"posted", "refused"}
    assert {r.error.code for _, r in pairs if r.error} <= {"INSUFFICIENT_QUOTA"}
    assert any(r.ok for _, r in pairs) and any(not r.ok for _, r in pairs)
    moved: Counter[int] = Counter()
    for t, r in pairs:
        if r.ok:
            assert t.debit_account_id is not None and t.credit_account_id is not None
            moved[t.debit_account_id] -= t.amount or 0
            moved[t.credit_account_id] += t.amount or 0
    after = {r[0]: r for r in bed.snapshot()["balances"]}
    for account in pool:
        balance = after[account][4] - after[account][2]
        assert balance >= 0
        assert balance - (before[account][4] - before[account][2]) == moved[account]
    posted = bed.read("SELECT count(*) FROM ledger_transfers WHERE actor = :a "
                      "AND code::text IN ('list', 'delist', 'correction')", a=bed.actor.name)
    assert posted[0][0] == sum(1 for _, r in pairs if r.ok)
    assert bed.verify() == (None, [])
