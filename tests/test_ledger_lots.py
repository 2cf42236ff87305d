"""Lots through their life (入库 → 挂牌 → 成交 → 核销, or 撤销), as whole lots in every dimension,
with prices, fees, pending trades, and refusals that change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from registry.db.ledger import Dimension, HolderKind, QuotaType, TransferCode
from registry.services import ledger
from registry.services.errors import DomainError
from registry.services.ledger import Consumer, LotSource
from registry.services.ledger import reports as ledger_reports
from registry.services.ledger.rules import Action, TransferInput, TransferStatus
from tests.ledger_support import (
    MU,
    PARCELS,
    PINGCHANG,
    TONGJIANG,
    LedgerBed,
    buyer,
    ledger_bed,
    positions,
)

CONSUMER = Consumer("land_supply_batch", "2026年第3批次城镇建设用地", "巴府土批〔2026〕3号",
                    tuple(PARCELS[PINGCHANG]))


@pytest.fixture
def bed(database_url: str) -> Iterator[LedgerBed]:
    yield from ledger_bed(database_url)


def farmland(bed: LedgerBed, paddy_mu: int = 4, grain_kg: int = 9_000) -> uuid.UUID:
    return bed.issue(area_mu=10, quota_type=QuotaType.FARMLAND_BALANCE, paddy=paddy_mu * MU,
                     grain=grain_kg, doc="巴市自然资补〔2025〕7号")


def refused(bed: LedgerBed, work: Any, **kwargs: Any) -> str:
    """Run a lot operation that must be refused; check that it changed nothing at all."""
    before = bed.snapshot()
    with pytest.raises(DomainError) as caught:
        bed.run(work, **kwargs)
    assert bed.snapshot() == before
    assert caught.value.message_zh and caught.value.message_en
    return caught.value.code


def test_a_farmland_lot_moves_whole_through_its_life(bed: LedgerBed) -> None:
    lot = farmland(bed)
    with bed.sessions() as session:
        assert positions(session, lot) == {
            "area": "in_stock", "paddy_area": "in_stock", "grain_capacity": "in_stock"}
    bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)
    bed.run(ledger.trade_lot, trade_id=uuid.uuid4(), lot_id=lot, buyer=buyer(),
            price_per_mu_fen=30_000_000, fee_fen=150_000)  # ¥300,000/亩, fee ¥1,500
    bed.run(ledger.write_off_lot, operation_id=uuid.uuid4(), lot_id=lot, consumer=CONSUMER)
    with bed.sessions() as session:
        view = ledger_reports.lot_view(session, lot, None)
        [trade] = ledger_reports.trades(session, None)
    assert {p.state.value for p in view.positions} == {"written_off"}
    assert [(t.kind.value, t.code.value, t.dimension.value) for t in view.history] == [
        ("single", "issue", "area"), ("single", "issue", "paddy_area"),
        ("single", "issue", "grain_capacity"),
        ("single", "list", "area"), ("single", "list", "paddy_area"),
        ("single", "list", "grain_capacity"),
        ("single", "trade", "area"), ("single", "trade", "paddy_area"),
        ("single", "trade", "grain_capacity"), ("single", "price", "money"),
        ("single", "fee", "money"),
        ("single", "write_off", "area"), ("single", "write_off", "paddy_area"),
        ("single", "write_off", "grain_capacity")]
    assert view.history[-1].details["consumer"]["parcels"] == PARCELS[PINGCHANG]
    assert (trade.price_per_mu_fen, trade.total_fen, trade.fee_fen) == (
        30_000_000, 300_000_000, 150_000)  # 10 亩 × ¥300,000 = ¥3,000,000
    assert trade.seller_name == "平昌县" and trade.buyer_name == "巴中城投"
    retired = bed.account(HolderKind.RETIRED, "written-off", QuotaType.FARMLAND_BALANCE,
                          Dimension.GRAIN_CAPACITY)
    assert retired.credits_posted == 9_000
    assert bed.verify() == (None, [])


def test_the_price_is_per_mu_times_the_exact_area_rounded_half_up_to_the_fen(
        bed: LedgerBed) -> None:
    source = LotSource(QuotaType.LINKAGE_SURPLUS, "驷马镇复垦", "平自然资验〔2025〕1号", 2025,
                       PINGCHANG, tuple(PARCELS[PINGCHANG]), area=12_345)  # 1.2345 亩
    lot = bed.run(ledger.issue_lot, lot_id=uuid.uuid4(), source=source)
    bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)
    bed.run(ledger.trade_lot, trade_id=uuid.uuid4(), lot_id=lot, buyer=buyer(),
            price_per_mu_fen=20_000_001)
    with bed.sessions() as session:
        [trade] = ledger_reports.trades(session, None)
    # 20,000,001 分/亩 × 1.2345 亩 = 24,690,001.2345 分 → 24,690,001 分
    assert trade.total_fen == 24_690_001 and trade.fee_fen == 0
    assert ledger_reports.mu_text(trade.area) == "1.2345"
    assert ledger_reports.square_metres_text(trade.area) == "823.00"  # 1.2345 × 2000/3


def test_lot_operations_are_idempotent_by_operation_id(bed: LedgerBed) -> None:
    lot = bed.issue()
    assert bed.issue(lot_id=lot) == lot  # same lot, same body: the same lot
    listing = uuid.uuid4()
    first = bed.run(ledger.list_lot, operation_id=listing, lot_id=lot)
    before = bed.snapshot()
    again = bed.run(ledger.list_lot, operation_id=listing, lot_id=lot)
    assert [(r.id, r.seq, r.status) for r in again] == [(r.id, r.seq, r.status) for r in first]
    assert all(r.replayed for r in again) and bed.snapshot() == before
    other = bed.issue(doc="巴市自然资验〔2025〕99号")
    assert refused(bed, ledger.list_lot, operation_id=listing, lot_id=other) == "ID_CONFLICT"
    assert refused(bed, ledger.issue_lot, lot_id=lot, source=LotSource(
        QuotaType.LINKAGE_SURPLUS, "另一项目", "其他文号", 2025, PINGCHANG,
        tuple(PARCELS[PINGCHANG]), area=MU)) == "ID_CONFLICT"


def bad_source(**changes: Any) -> LotSource:
    fields: dict[str, Any] = dict(
        quota_type=QuotaType.LINKAGE_SURPLUS, project_name="江口镇拆旧复垦项目",
        acceptance_doc_no="巴市自然资验〔2025〕12号", vintage_year=2025, county_code=PINGCHANG,
        source_parcels=tuple(PARCELS[PINGCHANG]), area=MU)
    fields.update(changes)
    return LotSource(**fields)


BAD_SOURCES: list[tuple[dict[str, Any], str]] = [
    ({"area": 0}, "INVALID_AMOUNT"),
    ({"area": 10**16}, "INVALID_AMOUNT"),
    ({"county_code": "110105"}, "UNKNOWN_COUNTY"),
    ({"county_code": "511900"}, "UNKNOWN_COUNTY"),
    ({"source_parcels": ("511923101003JC0001",)}, "INVALID_PARCEL_CODE"),
    ({"source_parcels": tuple(PARCELS[TONGJIANG])}, "INVALID_PARCEL_CODE"),  # other county
    ({"source_parcels": ()}, "INVALID_PARCEL_CODE"),
    ({"paddy_area": MU, "grain_capacity": 10}, "QUOTA_TYPE_MISMATCH"),
    ({"quota_type": QuotaType.FARMLAND_BALANCE}, "INVALID_AMOUNT"),  # dimensions missing
    ({"quota_type": QuotaType.FARMLAND_BALANCE, "paddy_area": 2 * MU, "grain_capacity": 1},
     "INVALID_AMOUNT"),  # paddy area above the area
    ({"quota_type": QuotaType.FUNDS}, "QUOTA_TYPE_MISMATCH"),
    ({"vintage_year": 1066}, "INVALID_SOURCE"),
    ({"project_name": " "}, "INVALID_SOURCE"),
]


def test_a_bad_source_issues_nothing(bed: LedgerBed) -> None:
    for changes, code in BAD_SOURCES:
        assert refused(bed, ledger.issue_lot, lot_id=uuid.uuid4(),
                       source=bad_source(**changes)) == code, changes


def test_lot_operations_out_of_order_are_refused_and_change_nothing(bed: LedgerBed) -> None:
    lot = bed.issue()
    op = uuid.uuid4
    assert refused(bed, ledger.trade_lot, trade_id=op(), lot_id=lot, buyer=buyer(),
                   price_per_mu_fen=1) == "INVALID_LOT_STATE"
    assert refused(bed, ledger.delist_lot, operation_id=op(), lot_id=lot) == "INVALID_LOT_STATE"
    with pytest.raises(DomainError) as caught:  # details name the API's enum values
        bed.run(ledger.delist_lot, operation_id=op(), lot_id=lot)
    assert caught.value.details == {"state": "IN_STOCK", "code": "DELIST"}
    assert refused(bed, ledger.trade_lot, trade_id=op(), lot_id=uuid.uuid4(), buyer=buyer(),
                   price_per_mu_fen=1) == "UNKNOWN_LOT"
    bed.run(ledger.list_lot, operation_id=op(), lot_id=lot)
    assert refused(bed, ledger.list_lot, operation_id=op(), lot_id=lot) == "INVALID_LOT_STATE"
    assert refused(bed, ledger.revoke_lot, operation_id=op(), lot_id=lot,
                   reason="验收撤回") == "INVALID_LOT_STATE"
    assert refused(bed, ledger.write_off_lot, operation_id=op(), lot_id=lot,
                   consumer=CONSUMER) == "INVALID_LOT_STATE"
    assert refused(bed, ledger.trade_lot, trade_id=op(), lot_id=lot, buyer=buyer(),
                   price_per_mu_fen=-1) == "INVALID_AMOUNT"
    assert refused(bed, ledger.trade_lot, trade_id=op(), lot_id=lot, buyer=buyer(name=""),
                   price_per_mu_fen=1) == "INVALID_HOLDER"
    assert refused(bed, ledger.trade_lot, trade_id=op(), lot_id=lot, buyer=ledger.FEES,
                   price_per_mu_fen=1) == "ACCOUNT_NOT_ALLOWED"
    assert refused(bed, ledger.trade_lot, trade_id=op(), lot_id=lot, buyer=buyer(),
                   price_per_mu_fen=1, timeout_seconds=0) == "INVALID_TRANSFER"
    bad_consumer = Consumer("land_supply_batch", "批次", "号", ("not-a-parcel",))
    bed.run(ledger.delist_lot, operation_id=op(), lot_id=lot)
    assert refused(bed, ledger.write_off_lot, operation_id=op(), lot_id=lot,
                   consumer=bad_consumer) == "INVALID_DETAILS"
    bed.run(ledger.revoke_lot, operation_id=op(), lot_id=lot, reason="验收撤回")
    with bed.sessions() as session:
        assert positions(session, lot) == {"area": "revoked"}
    source = bed.account(HolderKind.ISSUANCE, "巴市自然资验〔2025〕12号",
                         QuotaType.LINKAGE_SURPLUS)
    assert source.credits_posted == source.debits_posted == 10 * MU
    assert refused(bed, ledger.list_lot, operation_id=op(), lot_id=lot) == "INVALID_LOT_STATE"


def test_raw_transfers_must_move_a_lot_whole_from_its_holder(bed: LedgerBed) -> None:
    lot = farmland(bed)
    county = {d: bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.FARMLAND_BALANCE, d).id
              for d in (Dimension.AREA, Dimension.PADDY_AREA, Dimension.GRAIN_CAPACITY)}
    escrow = ledger.run_ledger(bed.sessions, ledger.ensure_accounts, ledger.ESCROW,
                               QuotaType.FARMLAND_BALANCE, list(county), bed.clock())
    amounts = {Dimension.AREA: 10 * MU, Dimension.PADDY_AREA: 4 * MU,
               Dimension.GRAIN_CAPACITY: 9_000}

    def listing(dims: list[Dimension], **changes: Any) -> list[TransferInput]:
        group = []
        for i, d in enumerate(dims):
            fields: dict[str, Any] = dict(
                id=uuid.uuid4(), debit_account_id=county[d], credit_account_id=escrow[d],
                amount=amounts[d], code=TransferCode.LIST, lot_id=lot, linked=i < len(dims) - 1)
            fields.update(changes.get(d, {}))
            group.append(TransferInput(**fields))
        return group

    def codes(transfers: list[TransferInput]) -> list[str]:
        before = bed.snapshot()
        results = bed.transfers(transfers)
        assert bed.snapshot()["balances"] == before["balances"]
        return [r.error.code for r in results if r.error]

    dims = list(county)
    assert codes(listing(dims[:2])) == ["LOT_DIMENSIONS_INCOMPLETE", "LINKED_EVENT_FAILED"]
    assert codes(listing(dims, **{Dimension.GRAIN_CAPACITY: {"amount": 8_999}})) == [
        "LINKED_EVENT_FAILED", "LINKED_EVENT_FAILED", "LOT_AMOUNT_MISMATCH"]
    assert codes(listing(dims, **{Dimension.AREA: {"debit_account_id": escrow[Dimension.AREA],
                                                   "credit_account_id": county[Dimension.AREA],
                                                   "code": TransferCode.DELIST}}))[0] == \
        "INVALID_LOT_STATE"
    assert codes(listing(dims, **{Dimension.AREA: {"code": TransferCode.TRADE}}))[0] == \
        "ACCOUNT_NOT_ALLOWED"  # a trade comes out of escrow
    other = ledger.run_ledger(bed.sessions, ledger.ensure_accounts,
                              ledger.Holder(HolderKind.COUNTY, TONGJIANG, "通江县", TONGJIANG),
                              QuotaType.FARMLAND_BALANCE, dims, bed.clock())
    assert codes(listing(dims, **{d: {"debit_account_id": other[d]} for d in dims}))[0] == \
        "LOT_NOT_HELD"
    assert all(r.ok for r in bed.transfers(listing(dims)))
    with bed.sessions() as session:
        assert set(positions(session, lot).values()) == {"listed"}


def test_a_pending_trade_holds_the_lot_until_settled_or_expired(bed: LedgerBed) -> None:
    lot = bed.issue()
    bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)
    first = uuid.uuid4()
    results = bed.run(ledger.trade_lot, trade_id=first, lot_id=lot, buyer=buyer(),
                      price_per_mu_fen=20_000_000, fee_fen=1_000, timeout_seconds=3600)
    assert {r.status for r in results} == {TransferStatus.PENDING}
    assert refused(bed, ledger.trade_lot, trade_id=uuid.uuid4(), lot_id=lot,
                   buyer=buyer("另一买家", "91511900MA6YYYYYY2"),
                   price_per_mu_fen=21_000_000) == "LOT_BUSY"
    bed.clock.advance(3600)
    assert refused(bed, ledger.settle_trade, operation_id=uuid.uuid4(), trade_id=first,
                   post=True) == "PENDING_EXPIRED"
    assert len(bed.run(ledger.expire_pending)) == 3  # area, price, fee
    with bed.sessions() as session:
        assert positions(session, lot) == {"area": "listed"}
        assert ledger_reports.trades(session, None) == []
    second = uuid.uuid4()
    bed.run(ledger.trade_lot, trade_id=second, lot_id=lot, buyer=buyer(),
            price_per_mu_fen=20_000_000, timeout_seconds=3600)
    settled = bed.run(ledger.settle_trade, operation_id=uuid.uuid4(), trade_id=second,
                      post=True)
    assert {r.status for r in settled} == {TransferStatus.POSTED}
    with bed.sessions() as session:
        assert positions(session, lot) == {"area": "traded"}
        [trade] = ledger_reports.trades(session, None)
    assert (trade.price_per_mu_fen, trade.total_fen) == (20_000_000, 200_000_000)
    assert bed.verify() == (None, [])


def test_a_void_gives_the_lot_back_to_the_listing(bed: LedgerBed) -> None:
    lot = bed.issue()
    bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)
    trade = uuid.uuid4()
    bed.run(ledger.trade_lot, trade_id=trade, lot_id=lot, buyer=buyer(),
            price_per_mu_fen=20_000_000, timeout_seconds=60)
    voided = bed.run(ledger.settle_trade, operation_id=uuid.uuid4(), trade_id=trade, post=False)
    assert {r.status for r in voided} == {TransferStatus.VOIDED}
    buyer_money = bed.account(HolderKind.BUYER, buyer().id, QuotaType.FUNDS, Dimension.MONEY)
    assert (buyer_money.debits_pending, buyer_money.debits_posted) == (0, 0)
    with bed.sessions() as session:
        assert positions(session, lot) == {"area": "listed"}


def test_a_price_travels_with_its_trade_and_must_be_right(bed: LedgerBed) -> None:
    lot = bed.issue()
    bed.run(ledger.list_lot, operation_id=uuid.uuid4(), lot_id=lot)
    money = ledger.run_ledger(bed.sessions, ledger.ensure_accounts, buyer(), QuotaType.FUNDS,
                              [Dimension.MONEY], bed.clock())[Dimension.MONEY]
    seller = ledger.run_ledger(bed.sessions, ledger.ensure_accounts,
                               ledger.Holder(HolderKind.COUNTY, PINGCHANG, "平昌县", PINGCHANG),
                               QuotaType.FUNDS, [Dimension.MONEY], bed.clock())[Dimension.MONEY]
    price = TransferInput(id=uuid.uuid4(), debit_account_id=money, credit_account_id=seller,
                          amount=200_000_000, code=TransferCode.PRICE, lot_id=lot,
                          details={"price_per_mu_fen": 20_000_000})
    before = bed.snapshot()
    [alone] = bed.transfers([price])
    assert alone.error is not None and alone.error.code == "TRADE_LINK_REQUIRED"
    [wrong] = bed.transfers([replace(price, id=uuid.uuid4(), amount=199_999_999)])
    assert wrong.error is not None and wrong.error.code == "PRICE_MISMATCH"
    after = bed.snapshot()
    assert after["balances"] == before["balances"]
    assert after["ledger_transfers"] == before["ledger_transfers"]
    fee_to_seller = TransferInput(id=uuid.uuid4(), debit_account_id=money,
                                  credit_account_id=seller, amount=5, code=TransferCode.FEE,
                                  action=Action.PENDING)
    [fee] = bed.transfers([fee_to_seller])
    assert fee.error is not None and fee.error.code == "ACCOUNT_NOT_ALLOWED"  # fees: the center
    assert bed.snapshot()["balances"] == before["balances"]
