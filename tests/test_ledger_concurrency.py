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
from registry.runtime import Runtime
from registry.services import ledger
from registry.services.errors import DomainError
from registry.services.ledger import reports as ledger_reports
from registry.services.ledger.rules import TransferInput, TransferResult
from tests.conftest import GraphQLClient, Users
from tests.ledger_support import (
    MU,
    PARCELS,
    PINGCHANG,
    TONGJIANG,
    Clock,
    LedgerBed,
    buyer,
    ledger_bed,
)
from tests.snapshot import snapshot

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


# --------------------------------------------------------------------------- overlapping retries

RETRIES = 4
LOT = "id state positions { holderAccountId pending }"
ISSUE = f"mutation($input: IssueLotInput!) {{ issueLot(input: $input) {{ {LOT} }} }}"
LIST = f"mutation($op: UUID!, $lot: UUID!) {{ listLot(operationId: $op, lotId: $lot) {{ {LOT} }} }}"
DELIST = ("mutation($op: UUID!, $lot: UUID!) {"
          f" delistLot(operationId: $op, lotId: $lot) {{ {LOT} }} }}")
TRADE = f"mutation($input: TradeLotInput!) {{ tradeLot(input: $input) {{ {LOT} }} }}"
RESULTS = "id status seq replayed error { code }"
SETTLE = ("mutation($op: UUID!, $trade: UUID!) {"
          f" settleTrade(operationId: $op, tradeId: $trade, post: true) {{ {RESULTS} }} }}")
WRITE_OFF = f"mutation($input: WriteOffInput!) {{ writeOffLot(input: $input) {{ {LOT} }} }}"
REVOKE = ("mutation($op: UUID!, $lot: UUID!) {"
          f" revokeLot(operationId: $op, lotId: $lot, reason: \"验收撤回\") {{ {LOT} }} }}")
POST = (f"mutation($t: [TransferInput!]!) {{ postTransfers(transfers: $t) {{ {RESULTS} }} }}")


@pytest.fixture
def center(users: Users) -> dict[str, str]:
    return users.add("jiaoyi", "trading_center")


@pytest.fixture
def api_bed(runtime: Runtime) -> LedgerBed:
    return LedgerBed(runtime.sessions, Clock())


def race(gql: GraphQLClient, query: str, variables: dict[str, Any],
         headers: dict[str, str]) -> list[dict[str, Any]]:
    """The same request sent RETRIES times at once, as a client retrying on a timeout would."""
    start = threading.Barrier(RETRIES)

    def send(_: int) -> dict[str, Any]:
        start.wait()
        return gql(query, variables, headers)

    with ThreadPoolExecutor(RETRIES) as pool:
        return list(pool.map(send, range(RETRIES)))


def audited(bed: LedgerBed, operation: str) -> int:
    return bed.read("SELECT count(*) FROM audit_log WHERE operation = :o", o=operation)[0][0]


def issue_input(area_mu: int = 3) -> dict[str, Any]:
    return {"lotId": str(uuid.uuid4()), "quotaType": "LINKAGE_SURPLUS",
            "projectName": "江口镇拆旧复垦项目",
            "acceptanceDocNo": f"验〔2025〕{uuid.uuid4().hex[:6]}号",
            "vintageYear": 2025, "countyCode": PINGCHANG, "sourceParcels": PARCELS[PINGCHANG],
            "area": str(area_mu * MU)}


def test_overlapping_retries_of_list_lot_get_the_first_answer_and_list_it_once(
        gql: GraphQLClient, center: dict[str, str], api_bed: LedgerBed,
        runtime: Runtime) -> None:
    """IDEMPOTENCY-2 (services/ledger/engine.py): four overlapping listLot with one operationId
    used to answer one LISTED and three INVALID_LOT_STATE; now all four are the first one's
    LISTED."""
    lot = gql.data(ISSUE, {"input": issue_input()}, center)["issueLot"]["id"]
    before = api_bed.snapshot()
    listing = {"op": str(uuid.uuid4()), "lot": lot}
    answers = race(gql, LIST, listing, center)
    assert [a.get("errors") for a in answers] == [None] * RETRIES, answers
    assert {a["data"]["listLot"]["state"] for a in answers} == {"LISTED"}
    assert all(a == answers[0] for a in answers)
    after = api_bed.snapshot()
    assert after["ledger_transfers"] == before["ledger_transfers"] + 1  # one effect
    assert after["ledger_rejections"] == before["ledger_rejections"]
    assert audited(api_bed, "ledger.list") == 1
    # A later retry replays it and changes nothing; another operation on the listed lot is
    # refused with its code and changes nothing either.
    unchanged = snapshot(runtime)
    assert gql(LIST, listing, center) == answers[0]
    assert gql.error_codes(LIST, {"op": str(uuid.uuid4()), "lot": lot}, center) == [
        "INVALID_LOT_STATE"]
    assert snapshot(runtime) == unchanged
    assert api_bed.verify() == (None, [])


def test_every_idempotent_ledger_mutation_answers_overlapping_retries_once(
        gql: GraphQLClient, center: dict[str, str], api_bed: LedgerBed,
        runtime: Runtime) -> None:
    """IDEMPOTENCY-2 for issueLot (lotId), delistLot, tradeLot (tradeId), settleTrade,
    writeOffLot, revokeLot and postTransfers: each raced RETRIES times, one effect, one answer."""

    def once(query: str, variables: dict[str, Any], field: str, transfers: int,
             audit: str) -> Any:
        before, audits = api_bed.snapshot(), audited(api_bed, audit)
        answers = race(gql, query, variables, center)
        assert [a.get("errors") for a in answers] == [None] * RETRIES, (field, answers)
        after = api_bed.snapshot()
        assert after["ledger_transfers"] == before["ledger_transfers"] + transfers, field
        assert after["ledger_rejections"] == before["ledger_rejections"], field
        assert audited(api_bed, audit) == audits + 1, field
        data = [a["data"][field] for a in answers]
        if isinstance(data[0], list):  # transfer results: one recorded them, the rest replay
            assert sorted(r["replayed"] for a in data for r in a[:1]) == [False] + [True] * 3
            data = [[{k: v for k, v in r.items() if k != "replayed"} for r in a] for a in data]
        assert all(d == data[0] for d in data), (field, data)
        same = snapshot(runtime)
        assert gql(query, variables, center)["data"][field] is not None
        assert snapshot(runtime) == same  # a later retry replays and changes nothing
        return data[0]

    buyer = {"kind": "BUYER", "id": "91511900MA6XXXXXX1", "name": "巴中城投"}
    sold = once(ISSUE, {"input": issue_input()}, "issueLot", 1, "ledger.issue_lot")["id"]
    once(LIST, {"op": str(uuid.uuid4()), "lot": sold}, "listLot", 1, "ledger.list")
    assert once(DELIST, {"op": str(uuid.uuid4()), "lot": sold}, "delistLot", 1,
                "ledger.delist")["state"] == "IN_STOCK"
    gql.data(LIST, {"op": str(uuid.uuid4()), "lot": sold}, center)
    trade = {"tradeId": str(uuid.uuid4()), "lotId": sold, "pricePerMuFen": "20000000",
             "feeFen": "100", "timeoutSeconds": 300, "buyer": buyer}
    held = once(TRADE, {"input": trade}, "tradeLot", 3, "ledger.trade")
    assert held["positions"][0]["pending"]
    settled = once(SETTLE, {"op": str(uuid.uuid4()), "trade": trade["tradeId"]}, "settleTrade",
                   3, "ledger.settle")
    assert {r["status"] for r in settled} == {"POSTED"}
    written_off = once(WRITE_OFF, {"input": {
        "operationId": str(uuid.uuid4()), "lotId": sold, "consumerKind": "LAND_SUPPLY_BATCH",
        "consumerName": "2026年第3批次", "consumerReference": "巴府土批〔2026〕3号",
        "parcels": PARCELS[PINGCHANG]}}, "writeOffLot", 1, "ledger.write_off")
    assert written_off["state"] == "WRITTEN_OFF"
    withdrawn = gql.data(ISSUE, {"input": issue_input()}, center)["issueLot"]["id"]
    assert once(REVOKE, {"op": str(uuid.uuid4()), "lot": withdrawn}, "revokeLot", 1,
                "ledger.revoke")["state"] == "REVOKED"
    # A bulk move that takes the county's whole balance: the first posts it, and the retries
    # must replay that, not be refused for the balance the first one used.
    gql.data(ISSUE, {"input": issue_input(area_mu=5)}, center)
    county = api_bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.LINKAGE_SURPLUS)
    escrow = api_bed.account(HolderKind.ESCROW, "trading-center", QuotaType.LINKAGE_SURPLUS)
    available = county.credits_posted - county.debits_posted - county.debits_pending
    assert available == 5 * MU
    move = {"id": str(uuid.uuid4()), "debitAccountId": county.id, "creditAccountId": escrow.id,
            "amount": str(available), "code": "LIST"}
    [posted] = once(POST, {"t": [move]}, "postTransfers", 1, "ledger.transfers")
    assert posted["status"] == "POSTED" and posted["error"] is None
    assert api_bed.verify() == (None, [])
