"""The transfer engine: idempotency, refusals that change nothing, two-phase transfers with a
clock the test controls, linked groups, and what the database itself refuses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text

from registry.db.ledger import Dimension, HolderKind, QuotaType, TransferCode
from registry.services import ledger
from registry.services.database_errors import translate_database_errors
from registry.services.errors import DomainError
from registry.services.ledger.engine import MAX_BATCH
from registry.services.ledger.rules import Action, TransferInput, TransferStatus
from tests.ledger_support import MU, PINGCHANG, TONGJIANG, LedgerBed, ledger_bed


@pytest.fixture
def bed(database_url: str) -> Iterator[LedgerBed]:
    yield from ledger_bed(database_url)


@pytest.fixture
def funded(bed: LedgerBed) -> dict[str, int]:
    """平昌县 holds 10 亩 of surplus quota (one lot); escrow and 通江县 accounts exist."""
    bed.issue(PINGCHANG, area_mu=10)
    bed.issue(TONGJIANG, area_mu=1, doc="通自然资验〔2025〕3号")
    escrow = ledger.run_ledger(bed.sessions, ledger.ensure_accounts, ledger.ESCROW,
                               QuotaType.LINKAGE_SURPLUS, [Dimension.AREA], bed.clock())
    return {
        "pingchang": bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.LINKAGE_SURPLUS).id,
        "tongjiang": bed.account(HolderKind.COUNTY, TONGJIANG, QuotaType.LINKAGE_SURPLUS).id,
        "escrow": escrow[Dimension.AREA],
    }


def move(debit: int, credit: int, amount: int, **fields: Any) -> TransferInput:
    """A bulk (lot-less) listing move from a county to escrow, or as given."""
    fields.setdefault("code", TransferCode.LIST)
    return TransferInput(id=fields.pop("id", uuid.uuid4()), debit_account_id=debit,
                         credit_account_id=credit, amount=amount, **fields)


def balance(bed: LedgerBed, account_id: int) -> tuple[int, int, int, int]:
    row = bed.read("SELECT debits_pending, debits_posted, credits_pending, credits_posted "
                   "FROM ledger_accounts WHERE id = :id", id=account_id)[0]
    return tuple(row)


def unchanged_but_remembered(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Nothing moved; only the refusal (and the audit of the call) was recorded."""
    return (after["balances"] == before["balances"]
            and after["ledger_transfers"] == before["ledger_transfers"]
            and after["ledger_rejections"] == before["ledger_rejections"] + 1)


# --------------------------------------------------------------------------- single transfers


def test_a_transfer_moves_quota_and_a_replay_changes_nothing(bed: LedgerBed,
                                                             funded: dict[str, int]) -> None:
    t = move(funded["pingchang"], funded["escrow"], 3 * MU)
    [first] = bed.transfers([t])
    assert first.status is TransferStatus.POSTED and not first.replayed and first.seq
    before = bed.snapshot()
    [again] = bed.transfers([t])
    assert (again.status, again.seq, again.replayed) == (first.status, first.seq, True)
    assert bed.snapshot() == before
    assert balance(bed, funded["pingchang"])[1] == 3 * MU
    assert balance(bed, funded["escrow"])[3] == 3 * MU


def test_the_same_id_with_another_body_is_an_id_conflict(bed: LedgerBed,
                                                         funded: dict[str, int]) -> None:
    t = move(funded["pingchang"], funded["escrow"], 3 * MU)
    bed.transfers([t])
    before = bed.snapshot()
    [conflict] = bed.transfers([move(funded["pingchang"], funded["escrow"], 4 * MU, id=t.id)])
    assert conflict.error is not None and conflict.error.code == "ID_CONFLICT"
    assert bed.snapshot() == before


def test_overdraft_is_insufficient_quota_and_the_refusal_is_remembered(
        bed: LedgerBed, funded: dict[str, int]) -> None:
    before = bed.snapshot()
    t = move(funded["pingchang"], funded["escrow"], 10 * MU + 1)
    [refused] = bed.transfers([t])
    assert refused.error is not None and refused.error.code == "INSUFFICIENT_QUOTA"
    assert refused.error.details["available"] == 10 * MU
    after = bed.snapshot()
    assert unchanged_but_remembered(before, after)
    # More quota arrives; the same id still gets the same answer (use a new id to retry).
    bed.issue(PINGCHANG, area_mu=5, doc="巴市自然资验〔2025〕13号")
    [replayed] = bed.transfers([t])
    assert replayed.error is not None and replayed.error.code == "INSUFFICIENT_QUOTA"
    assert replayed.replayed
    [retried] = bed.transfers([move(funded["pingchang"], funded["escrow"], 10 * MU + 1)])
    assert retried.status is TransferStatus.POSTED


BAD_TRANSFERS: list[tuple[Any, str]] = [
    (lambda a: move(a["pingchang"], 999_999, MU), "UNKNOWN_ACCOUNT"),
    (lambda a: move(a["pingchang"], a["escrow"], 0), "INVALID_AMOUNT"),
    (lambda a: move(a["pingchang"], a["escrow"], -5), "INVALID_AMOUNT"),
    (lambda a: move(a["pingchang"], a["escrow"], 10**16), "INVALID_AMOUNT"),
    (lambda a: move(a["pingchang"], a["pingchang"], MU), "SAME_ACCOUNT"),
    (lambda a: move(a["pingchang"], a["tongjiang"], MU, code=TransferCode.FEE),
     "ACCOUNT_NOT_ALLOWED"),
    (lambda a: move(a["escrow"], a["pingchang"], MU, code=TransferCode.ISSUE),
     "ACCOUNT_NOT_ALLOWED"),
    (lambda a: move(a["pingchang"], a["escrow"], MU, code=TransferCode.CORRECTION,
                    details={"reason": "typo"}), "INVALID_DETAILS"),
    (lambda a: move(a["pingchang"], a["escrow"], MU, code=TransferCode.CORRECTION,
                    details={"reason": "typo", "corrects": str(uuid.uuid4())}),
     "UNKNOWN_TRANSFER"),
    (lambda a: move(a["pingchang"], a["escrow"], MU, details={"ratio": 0.5}), "INVALID_DETAILS"),
    (lambda a: move(a["pingchang"], a["escrow"], MU, lot_id=uuid.uuid4()), "UNKNOWN_LOT"),
    (lambda a: move(a["pingchang"], a["escrow"], MU, pending_id=uuid.uuid4()),
     "INVALID_TRANSFER"),
    (lambda a: move(a["pingchang"], a["escrow"], MU, timeout_seconds=60), "INVALID_TRANSFER"),
    (lambda a: TransferInput(id=uuid.uuid4(), debit_account_id=a["pingchang"],
                             credit_account_id=a["escrow"], amount=MU), "INVALID_TRANSFER"),
    (lambda a: TransferInput(id=uuid.uuid4(), action=Action.VOID, pending_id=uuid.uuid4()),
     "TRANSFER_NOT_PENDING"),
]


def test_bad_transfers_are_refused_with_a_code_and_move_nothing(
        bed: LedgerBed, funded: dict[str, int]) -> None:
    for make, code in BAD_TRANSFERS:
        before = bed.snapshot()
        [refused] = bed.transfers([make(funded)])
        assert refused.status is TransferStatus.REFUSED
        assert refused.error is not None and refused.error.code == code, code
        assert refused.error.message_zh and refused.error.message_en
        after = bed.snapshot()
        assert after["balances"] == before["balances"], code
        assert after["ledger_transfers"] == before["ledger_transfers"], code


def test_accounts_of_different_quota_types_do_not_mix(bed: LedgerBed,
                                                      funded: dict[str, int]) -> None:
    plan = bed.issue(PINGCHANG, area_mu=2, quota_type=QuotaType.CONSTRUCTION_PLAN,
                     doc="川自然资计〔2026〕1号")
    assert plan
    plan_county = bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.CONSTRUCTION_PLAN).id
    before = bed.snapshot()
    [refused] = bed.transfers([move(plan_county, funded["escrow"], MU)])
    assert refused.error is not None and refused.error.code == "QUOTA_TYPE_MISMATCH"
    assert unchanged_but_remembered(before, bed.snapshot())


def test_a_batch_over_the_limit_is_refused_whole(bed: LedgerBed,
                                                 funded: dict[str, int]) -> None:
    before = bed.snapshot()
    too_many = [move(funded["pingchang"], funded["escrow"], 1) for _ in range(MAX_BATCH + 1)]
    with pytest.raises(DomainError) as caught:
        bed.transfers(too_many)
    assert caught.value.code == "BATCH_TOO_LARGE"
    assert bed.snapshot() == before


# --------------------------------------------------------------------------- linked groups


def test_a_linked_group_fails_as_a_whole(bed: LedgerBed, funded: dict[str, int]) -> None:
    before = bed.snapshot()
    group = [move(funded["pingchang"], funded["escrow"], 4 * MU, linked=True),
             move(funded["pingchang"], funded["escrow"], 4 * MU, linked=True),
             move(funded["pingchang"], funded["escrow"], 4 * MU)]  # 12 > 10: fails
    results = bed.transfers(group)
    assert [r.error.code for r in results if r.error] == [
        "LINKED_EVENT_FAILED", "LINKED_EVENT_FAILED", "INSUFFICIENT_QUOTA"]
    assert unchanged_but_remembered(before, bed.snapshot())
    # The group's first two ids were never used: they may be sent again in a fitting group.
    ok = bed.transfers([group[0], replace(group[1], linked=False)])
    assert all(r.status is TransferStatus.POSTED for r in ok)


def test_a_refused_group_replays_refused_the_same_way_after_balances_change(
        bed: LedgerBed, funded: dict[str, int]) -> None:
    group = [move(funded["pingchang"], funded["escrow"], 4 * MU, linked=True),
             move(funded["pingchang"], funded["escrow"], 7 * MU)]  # 11 > 10
    first = bed.transfers(group)
    bed.transfers([move(funded["pingchang"], funded["escrow"], 8 * MU)])  # now 4 would fail too
    before = bed.snapshot()
    again = bed.transfers(group)
    assert [(r.status, r.error and r.error.code) for r in again] == [
        (r.status, r.error and r.error.code) for r in first]
    assert bed.snapshot() == before


def test_the_same_id_twice_in_one_batch_gets_one_answer(bed: LedgerBed,
                                                        funded: dict[str, int]) -> None:
    too_much = move(funded["pingchang"], funded["escrow"], 11 * MU)
    fine = move(funded["pingchang"], funded["escrow"], MU)
    results = bed.transfers([too_much, fine, too_much, fine,
                             replace(fine, amount=2 * MU)])
    assert [(r.status.value, r.error and r.error.code) for r in results] == [
        ("refused", "INSUFFICIENT_QUOTA"), ("posted", None), ("refused", "INSUFFICIENT_QUOTA"),
        ("posted", None), ("refused", "ID_CONFLICT")]
    assert results[1].seq == results[3].seq and results[3].replayed
    assert bed.read("SELECT count(*) FROM ledger_rejections")[0][0] == 1


def test_a_batch_may_not_end_inside_a_linked_group(bed: LedgerBed,
                                                   funded: dict[str, int]) -> None:
    before = bed.snapshot()
    results = bed.transfers([move(funded["pingchang"], funded["escrow"], MU),
                             move(funded["pingchang"], funded["escrow"], MU, linked=True)])
    assert results[0].status is TransferStatus.POSTED
    assert results[1].error is not None and results[1].error.code == "LINKED_GROUP_OPEN"
    assert bed.snapshot()["ledger_transfers"] == before["ledger_transfers"] + 1


def test_transfers_later_in_a_batch_see_the_earlier_ones(bed: LedgerBed,
                                                         funded: dict[str, int]) -> None:
    results = bed.transfers([move(funded["pingchang"], funded["escrow"], 6 * MU),
                             move(funded["pingchang"], funded["escrow"], 6 * MU),
                             move(funded["pingchang"], funded["escrow"], 4 * MU)])
    assert [r.status.value for r in results] == ["posted", "refused", "posted"]
    assert balance(bed, funded["pingchang"])[1] == 10 * MU


# --------------------------------------------------------------------------- two-phase


def test_a_pending_transfer_reserves_then_posts(bed: LedgerBed, funded: dict[str, int]) -> None:
    pending = move(funded["pingchang"], funded["escrow"], 7 * MU, action=Action.PENDING,
                   timeout_seconds=3600)
    [reserved] = bed.transfers([pending])
    assert reserved.status is TransferStatus.PENDING
    assert balance(bed, funded["pingchang"]) == (7 * MU, 0, 0, 10 * MU)
    [refused] = bed.transfers([move(funded["pingchang"], funded["escrow"], 4 * MU)])
    assert refused.error is not None and refused.error.code == "INSUFFICIENT_QUOTA"
    [posted] = bed.transfers([TransferInput(id=uuid.uuid4(), action=Action.POST,
                                            pending_id=pending.id)])
    assert posted.status is TransferStatus.POSTED
    assert balance(bed, funded["pingchang"]) == (0, 7 * MU, 0, 10 * MU)
    assert balance(bed, funded["escrow"]) == (0, 0, 0, 7 * MU)
    before = bed.snapshot()
    [twice] = bed.transfers([TransferInput(id=uuid.uuid4(), action=Action.VOID,
                                           pending_id=pending.id)])
    assert twice.error is not None and twice.error.code == "TRANSFER_NOT_PENDING"
    assert unchanged_but_remembered(before, bed.snapshot())


def test_a_voided_pending_transfer_releases_its_reservation(bed: LedgerBed,
                                                            funded: dict[str, int]) -> None:
    pending = move(funded["pingchang"], funded["escrow"], 7 * MU, action=Action.PENDING)
    void = TransferInput(id=uuid.uuid4(), action=Action.VOID, pending_id=pending.id)
    results = bed.transfers([pending, void])  # created and voided in one batch
    assert [r.status.value for r in results] == ["pending", "voided"]
    assert balance(bed, funded["pingchang"]) == (0, 0, 0, 10 * MU)
    rows = bed.read("SELECT kind::text, pending_id FROM ledger_transfers ORDER BY seq DESC "
                    "LIMIT 2")
    assert [(r[0], r[1]) for r in rows] == [("void", pending.id), ("pending", None)]


def test_a_post_must_match_its_pending_transfer(bed: LedgerBed, funded: dict[str, int]) -> None:
    pending = move(funded["pingchang"], funded["escrow"], 7 * MU, action=Action.PENDING)
    bed.transfers([pending])
    before = bed.snapshot()
    [refused] = bed.transfers([TransferInput(id=uuid.uuid4(), action=Action.POST,
                                             pending_id=pending.id, amount=6 * MU)])
    assert refused.error is not None and refused.error.code == "PENDING_MISMATCH"
    assert unchanged_but_remembered(before, bed.snapshot())


def test_a_pending_transfer_expires_with_the_clock(bed: LedgerBed,
                                                   funded: dict[str, int]) -> None:
    pending = move(funded["pingchang"], funded["escrow"], 7 * MU, action=Action.PENDING,
                   timeout_seconds=600)
    bed.transfers([pending])
    bed.clock.advance(599)
    assert bed.run(ledger.expire_pending) == []  # not yet
    assert balance(bed, funded["pingchang"])[0] == 7 * MU
    bed.clock.advance(1)
    # Past its timeout, before any sweep ran: a post is refused and nothing moves.
    before = bed.snapshot()
    [late] = bed.transfers([TransferInput(id=uuid.uuid4(), action=Action.POST,
                                          pending_id=pending.id)])
    assert late.error is not None and late.error.code == "PENDING_EXPIRED"
    assert unchanged_but_remembered(before, bed.snapshot())
    [expired] = bed.run(ledger.expire_pending)
    assert expired.status is TransferStatus.EXPIRED
    assert balance(bed, funded["pingchang"]) == (0, 0, 0, 10 * MU)
    assert bed.run(ledger.expire_pending) == []  # once only
    before = bed.snapshot()
    [after_sweep] = bed.transfers([TransferInput(id=uuid.uuid4(), action=Action.VOID,
                                                 pending_id=pending.id)])
    assert after_sweep.error is not None and after_sweep.error.code == "PENDING_EXPIRED"
    assert unchanged_but_remembered(before, bed.snapshot())
    assert bed.verify() == (None, [])


# --------------------------------------------------------------------------- the database


def test_the_database_refuses_an_overdraft_even_if_the_code_would_not(
        bed: LedgerBed, funded: dict[str, int]) -> None:
    with pytest.raises(DomainError) as caught, translate_database_errors(), \
            bed.sessions.begin() as session:
        session.execute(text("UPDATE ledger_accounts SET debits_posted = credits_posted + 1 "
                             "WHERE id = :id"), {"id": funded["pingchang"]})
    assert caught.value.code == "CONSTRAINT_VIOLATED"
    assert caught.value.details["constraint"] == "ck_ledger_accounts_no_overdraft"


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_transfers SET amount = amount + 1",
    "DELETE FROM ledger_transfers",
    "TRUNCATE ledger_transfers CASCADE",
    "UPDATE ledger_lots SET area = area + 1",
    "TRUNCATE ledger_rejections",
    "UPDATE ledger_accounts SET no_overdraft = false",
    "UPDATE ledger_accounts SET holder_id = 'someone-else'",
    "DELETE FROM ledger_accounts",
])
def test_history_is_append_only_and_only_balances_change(
        bed: LedgerBed, funded: dict[str, int], statement: str) -> None:
    before = bed.snapshot()
    with pytest.raises(DomainError) as caught, translate_database_errors(), \
            bed.sessions.begin() as session:
        session.execute(text(statement))
    assert caught.value.code == "APPEND_ONLY"
    assert bed.snapshot() == before

