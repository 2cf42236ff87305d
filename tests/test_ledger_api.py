"""The ledger in GraphQL, as the trading center and county staff use it: who may do what, lots
through their life, balances in 亩 and m², transfers with results per transfer, and the feed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from registry.db.ledger import HolderKind, QuotaType
from registry.runtime import Runtime
from tests.conftest import GraphQLClient, Users
from tests.ledger_support import MU, PARCELS, PINGCHANG, TONGJIANG, Clock, LedgerBed
from tests.operations import operation

ISSUE = """
mutation Issue($input: IssueLotInput!) {
  issueLot(input: $input) { id state quantities { dimension amount mu squareMetres } }
}"""
LIST = """
mutation List($op: UUID!, $lot: UUID!) { listLot(operationId: $op, lotId: $lot) { id state } }"""
TRADE = """
mutation Trade($input: TradeLotInput!) {
  tradeLot(input: $input) { id state positions { holderAccountId pending } }
}"""
SETTLE = """
mutation Settle($op: UUID!, $trade: UUID!, $post: Boolean!) {
  settleTrade(operationId: $op, tradeId: $trade, post: $post) { status error { code } }
}"""
WRITE_OFF = """
mutation WriteOff($input: WriteOffInput!) { writeOffLot(input: $input) { id state } }"""
OPEN = """
mutation Open($holder: AccountHolderInput!, $type: QuotaType!) {
  openLedgerAccounts(holder: $holder, quotaType: $type) { id dimension noOverdraft }
}"""
ACCOUNTS = "{ ledgerAccounts(first: 50) { edges { node { id countyCode holderKind } } } }"


@pytest.fixture
def bed(runtime: Runtime) -> LedgerBed:
    clock = Clock()
    runtime.clock = clock  # the API reads time from the runtime's clock
    return LedgerBed(runtime.sessions, clock)


@pytest.fixture
def center(users: Users) -> dict[str, str]:
    return users.add("jiaoyi", "trading_center")


def issue_input(county: str = PINGCHANG, area: int = 12 * MU, **changes: Any) -> dict[str, Any]:
    return {"lotId": str(uuid.uuid4()), "quotaType": "LINKAGE_SURPLUS",
            "projectName": "江口镇拆旧复垦项目",
            "acceptanceDocNo": f"验〔2025〕{uuid.uuid4().hex[:6]}号",
            "vintageYear": 2025, "countyCode": county, "sourceParcels": PARCELS[county],
            "area": str(area), **changes}


def issue(gql: GraphQLClient, headers: dict[str, str], **changes: Any) -> str:
    return gql.data(ISSUE, {"input": issue_input(**changes)}, headers)["issueLot"]["id"]


def test_a_lot_through_its_life_in_graphql(gql: GraphQLClient, center: dict[str, str],
                                           bed: LedgerBed) -> None:
    issued = gql.data(ISSUE, {"input": issue_input(area=12_3456)}, center)["issueLot"]
    assert issued["state"] == "IN_STOCK"
    assert issued["quantities"] == [{"dimension": "AREA", "amount": "123456",
                                     "mu": "12.3456", "squareMetres": "8230.40"}]
    lot = issued["id"]
    assert gql.data(LIST, {"op": str(uuid.uuid4()), "lot": lot}, center)["listLot"]["state"] == \
        "LISTED"
    trade = {"tradeId": str(uuid.uuid4()), "lotId": lot, "pricePerMuFen": "25000000",
             "feeFen": "100000", "buyer": {"kind": "BUYER", "id": "91511900MA6XXXXXX1",
                                           "name": "巴中城投"}}
    assert gql.data(TRADE, {"input": trade}, center)["tradeLot"]["state"] == "TRADED"
    write_off = {"operationId": str(uuid.uuid4()), "lotId": lot,
                 "consumerKind": "LAND_SUPPLY_BATCH", "consumerName": "2026年第3批次",
                 "consumerReference": "巴府土批〔2026〕3号", "parcels": PARCELS[PINGCHANG]}
    assert gql.data(WRITE_OFF, {"input": write_off}, center)["writeOffLot"]["state"] == \
        "WRITTEN_OFF"

    history = gql.data(operation("LotHistory"), {"id": lot}, center)
    codes = [(h["code"], h["amount"]["dimension"]) for h in history["ledgerLot"]["history"]]
    assert codes == [("ISSUE", "AREA"), ("LIST", "AREA"), ("TRADE", "AREA"), ("PRICE", "MONEY"),
                     ("FEE", "MONEY"), ("WRITE_OFF", "AREA")]
    assert history["ledgerLot"]["history"][-1]["details"]["consumer"]["reference"] == \
        "巴府土批〔2026〕3号"
    [deal] = [e["node"] for e in history["ledgerTrades"]["edges"]]
    # ¥250,000/亩 × 12.3456 亩 = ¥3,086,400
    assert deal["pricePerMu"] == {"amount": "25000000", "yuan": "250000.00"}
    assert deal["total"] == {"amount": "308640000", "yuan": "3086400.00"}
    assert deal["fee"]["yuan"] == "1000.00" and deal["area"]["mu"] == "12.3456"
    assert (deal["buyerName"], deal["sellerName"]) == ("巴中城投", "平昌县")
    audit = bed.read("SELECT operation FROM audit_log WHERE username = 'jiaoyi' ORDER BY id")
    assert [r[0] for r in audit] == [
        "ledger.transfers", "ledger.issue_lot", "ledger.transfers", "ledger.list",
        "ledger.transfers", "ledger.trade", "ledger.transfers", "ledger.write_off"]
    assert bed.verify() == (None, [])


def test_balances_per_account_and_per_county_with_county_scope(
        gql: GraphQLClient, center: dict[str, str], users: Users, bed: LedgerBed) -> None:
    issue(gql, center, area=10 * MU)
    issue(gql, center, county=TONGJIANG, area=3 * MU)
    clerk = users.add("tj-clerk", "clerk", county=TONGJIANG)
    mine = gql.data(operation("LedgerBalances"), {"first": 10}, clerk)
    nodes = [e["node"] for e in mine["ledgerAccounts"]["edges"]]
    assert {n["countyCode"] for n in nodes} == {TONGJIANG}
    county = [n for n in nodes if n["holderKind"] == "COUNTY"]
    assert county[0]["balance"] == {"amount": str(3 * MU), "unit": "0.0001亩", "mu": "3.0000",
                                    "squareMetres": "2000.00", "yuan": None}
    assert county[0]["noOverdraft"] is True
    assert {c["countyCode"] for c in mine["ledgerCountyBalances"]} == {TONGJIANG}
    # 平昌县's accounts are not theirs to read.
    assert gql.error_codes(operation("LedgerBalances"), {"countyCode": PINGCHANG}, clerk) == [
        "FORBIDDEN"]
    everything = gql.data(operation("LedgerBalances"), {"first": 2}, center)
    page = everything["ledgerAccounts"]
    assert len(page["edges"]) == 2 and page["pageInfo"]["hasNextPage"]
    rest = gql.data(operation("LedgerBalances"), {"first": 50,
                                                  "after": page["pageInfo"]["endCursor"]}, center)
    ids = [e["node"]["id"] for e in page["edges"] + rest["ledgerAccounts"]["edges"]]
    assert ids == sorted(set(ids)) and len(ids) == bed.snapshot()["ledger_accounts"]
    totals = {(c["countyCode"], c["holderKind"]): c["balance"]["mu"]
              for c in everything["ledgerCountyBalances"]}
    assert totals[(PINGCHANG, "COUNTY")] == "10.0000"
    assert totals[(PINGCHANG, "ISSUANCE")] == "-10.0000"


def test_who_may_read_and_write(gql: GraphQLClient, center: dict[str, str], users: Users,
                                bed: LedgerBed) -> None:
    lot = issue(gql, center)
    assert gql.error_codes(ACCOUNTS) == ["UNAUTHENTICATED"]
    unscoped_clerk = users.add("city-clerk", "clerk")
    assert gql.error_codes(ACCOUNTS, headers=unscoped_clerk) == ["FORBIDDEN"]
    auditor = users.add("shenji", "auditor")
    assert len(gql.data(ACCOUNTS, headers=auditor)["ledgerAccounts"]["edges"]) == 2
    assert gql.error_codes(operation("LedgerEvents"), {}, users.add("pc", "registrar",
                                                                     county=PINGCHANG)) == [
        "FORBIDDEN"]
    before = bed.snapshot()
    for headers in ({}, unscoped_clerk, auditor):
        expected = "UNAUTHENTICATED" if not headers else "FORBIDDEN"
        assert gql.error_codes(ISSUE, {"input": issue_input()}, headers) == [expected]
        assert gql.error_codes(LIST, {"op": str(uuid.uuid4()), "lot": lot}, headers) == [
            expected]
        assert gql.error_codes(operation("PostTransfers"), {"transfers": []}, headers) == [
            expected]
    assert bed.snapshot() == before
    admin = users.add("root", "admin")
    assert gql.data(LIST, {"op": str(uuid.uuid4()), "lot": lot}, admin)["listLot"]["state"] == \
        "LISTED"


BAD_ISSUES: list[tuple[dict[str, Any], str]] = [
    ({"area": "0"}, "INVALID_AMOUNT"),
    ({"countyCode": "110105"}, "UNKNOWN_COUNTY"),
    ({"sourceParcels": ["511923101003JC0001X"]}, "INVALID_PARCEL_CODE"),
    ({"paddyArea": "100"}, "QUOTA_TYPE_MISMATCH"),
    ({"area": "12.5"}, "BAD_USER_INPUT"),
    ({"area": "1e9"}, "BAD_USER_INPUT"),
]


def test_a_bad_issue_is_refused_with_its_code_and_changes_nothing(
        gql: GraphQLClient, center: dict[str, str], bed: LedgerBed) -> None:
    for changes, code in BAD_ISSUES:
        before = bed.snapshot()
        assert gql.error_codes(ISSUE, {"input": issue_input(**changes)}, center) == [code]
        assert bed.snapshot() == before, changes


def test_accounts_open_once_per_holder(gql: GraphQLClient, center: dict[str, str],
                                       bed: LedgerBed) -> None:
    holder = {"kind": "PROJECT", "id": "P-2026-07", "name": "恩阳区物流园项目",
              "countyCode": "511903"}
    opened = gql.data(OPEN, {"holder": holder, "type": "FARMLAND_BALANCE"},
                      center)["openLedgerAccounts"]
    assert [(a["dimension"], a["noOverdraft"]) for a in opened] == [
        ("AREA", True), ("PADDY_AREA", True), ("GRAIN_CAPACITY", True)]
    before = bed.snapshot()
    again = gql.data(OPEN, {"holder": holder, "type": "FARMLAND_BALANCE"},
                     center)["openLedgerAccounts"]
    assert again == opened and bed.snapshot() == before
    for changes, code in [({"name": "别的名字"}, "ID_CONFLICT"),
                          ({"kind": "ESCROW"}, "ACCOUNT_NOT_ALLOWED"),
                          ({"kind": "COUNTY"}, "INVALID_HOLDER"),
                          ({"id": " "}, "INVALID_HOLDER"),
                          ({"id": "x" * 129}, "INVALID_HOLDER"),
                          ({"countyCode": "511900"}, "UNKNOWN_COUNTY")]:
        assert gql.error_codes(OPEN, {"holder": {**holder, **changes},
                                      "type": "FARMLAND_BALANCE"}, center) == [code], changes
        assert bed.snapshot() == before


def test_post_transfers_answers_per_transfer_and_replays(
        gql: GraphQLClient, center: dict[str, str], bed: LedgerBed) -> None:
    issue(gql, center, area=10 * MU)
    county = bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.LINKAGE_SURPLUS).id
    project = gql.data(OPEN, {"holder": {"kind": "PROJECT", "id": "P-2026-01",
                                        "name": "巴中经开区标准厂房项目",
                                        "countyCode": PINGCHANG},
                             "type": "LINKAGE_SURPLUS"}, center)["openLedgerAccounts"][0]["id"]
    corrects = bed.read("SELECT id FROM ledger_transfers ORDER BY seq LIMIT 1")[0][0]
    move = {"debitAccountId": county, "creditAccountId": project, "code": "CORRECTION",
            "details": {"reason": "调剂", "corrects": str(corrects)}}
    batch = [{"id": str(uuid.uuid4()), "amount": str(6 * MU), **move},
             {"id": str(uuid.uuid4()), "amount": str(6 * MU), **move},
             {"id": str(uuid.uuid4()), "amount": "0", **move},
             {"id": str(uuid.uuid4()), "amount": str(MU), "action": "PENDING",
              "timeoutSeconds": 60, **move}]
    results = gql.data(operation("PostTransfers"), {"transfers": batch}, center)["postTransfers"]
    assert [(r["status"], (r["error"] or {}).get("code")) for r in results] == [
        ("POSTED", None), ("REFUSED", "INSUFFICIENT_QUOTA"), ("REFUSED", "INVALID_AMOUNT"),
        ("PENDING", None)]
    assert results[1]["error"]["messageZh"].startswith("余额不足")
    before = bed.snapshot()
    again = gql.data(operation("PostTransfers"), {"transfers": batch}, center)["postTransfers"]
    assert [(r["status"], r["seq"]) for r in again] == [(r["status"], r["seq"]) for r in results]
    assert [r["replayed"] for r in again] == [True, True, False, True]
    assert bed.snapshot() == before
    conflict = [{**batch[0], "amount": str(5 * MU)}]
    [refused] = gql.data(operation("PostTransfers"), {"transfers": conflict},
                         center)["postTransfers"]
    assert refused["error"]["code"] == "ID_CONFLICT" and bed.snapshot() == before
    assert gql.error_codes(operation("PostTransfers"), {"transfers": [
        {**batch[0], "amount": "six"}]}, center) == ["BAD_USER_INPUT"]
    assert bed.snapshot() == before


def test_a_pending_trade_settles_or_expires_with_the_clock(
        gql: GraphQLClient, center: dict[str, str], bed: LedgerBed) -> None:
    lot = issue(gql, center, area=2 * MU)
    gql.data(LIST, {"op": str(uuid.uuid4()), "lot": lot}, center)
    trade = {"tradeId": str(uuid.uuid4()), "lotId": lot, "pricePerMuFen": "20000000",
             "timeoutSeconds": 300,
             "buyer": {"kind": "BUYER", "id": "91511900MA6XXXXXX1", "name": "巴中城投"}}
    held = gql.data(TRADE, {"input": trade}, center)["tradeLot"]
    assert held["state"] == "LISTED" and held["positions"][0]["pending"]
    bed.clock.advance(301)
    before = bed.snapshot()
    assert gql.error_codes(SETTLE, {"op": str(uuid.uuid4()), "trade": trade["tradeId"],
                                    "post": True}, center) == ["PENDING_EXPIRED"]
    assert bed.snapshot() == before
    expired = gql.data("mutation { expirePendingTransfers { status } }", headers=center)
    assert [r["status"] for r in expired["expirePendingTransfers"]] == ["EXPIRED", "EXPIRED"]
    second = {**trade, "tradeId": str(uuid.uuid4())}
    gql.data(TRADE, {"input": second}, center)
    settled = gql.data(SETTLE, {"op": str(uuid.uuid4()), "trade": second["tradeId"],
                                "post": True}, center)["settleTrade"]
    assert {s["status"] for s in settled} == {"POSTED"}
    lot_state = gql.data(operation("LotHistory"), {"id": lot}, center)["ledgerLot"]["state"]
    assert lot_state == "TRADED"


def test_the_feed_pages_through_every_transfer_in_chain_order(
        gql: GraphQLClient, center: dict[str, str], users: Users, bed: LedgerBed,
        runtime: Runtime) -> None:
    for _ in range(3):
        lot = issue(gql, center)
        gql.data(LIST, {"op": str(uuid.uuid4()), "lot": lot}, center)
    auditor = users.add("shenji", "auditor")
    seen, cursor = [], None
    while True:
        page = gql.data(operation("LedgerEvents"), {"after": cursor, "first": 4},
                        auditor)["ledgerEvents"]
        seen += [e["node"]["seq"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert seen == list(range(1, 7))
    with runtime.sessions() as session:
        hashes = session.execute(text("SELECT hash FROM ledger_transfers ORDER BY seq")).all()
    last = gql.data(operation("LedgerEvents"), {"after": cursor, "first": 4}, auditor)
    assert last["ledgerEvents"]["edges"][-1]["node"]["hash"] == hashes[-1][0]
    limit = runtime.settings.max_page_size
    for first in (0, limit + 1):
        assert gql.error_codes(operation("LedgerEvents"), {"first": first}, auditor) == [
            "BAD_PAGE_SIZE"]
    assert gql.error_codes(operation("LedgerEvents"), {"after": "bm90LWEtY3Vyc29y"},
                           auditor) == ["BAD_CURSOR"]
