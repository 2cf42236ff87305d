"""The chainer (services/ledger/chainer.py, CHAIN-5..9): transfers are chained after their
commit, in commit order, gaplessly; a reader paging the feed never misses one; a change to a
transfer still waiting in the queue, a deleted tail and a chainer that died are all found or
recovered from."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from registry.db.ledger import Dimension, HolderKind, QuotaType, TransferCode
from registry.services import ledger
from registry.services.database_errors import translate_database_errors
from registry.services.errors import DomainError
from registry.services.ledger import chainer, engine
from registry.services.ledger import reports as ledger_reports
from registry.services.ledger.rules import TransferInput, TransferResult
from tests.ledger_support import MU, PINGCHANG, TONGJIANG, LedgerBed, ledger_bed
from tests.test_ledger_chain import five_transfers, tamper


@pytest.fixture
def bed(database_url: str) -> Iterator[LedgerBed]:
    yield from ledger_bed(database_url)


@pytest.fixture
def accounts(bed: LedgerBed) -> dict[str, Any]:
    """Two counties with 100 亩 each, the trading centre's escrow, and a project's account."""
    bed.issue(PINGCHANG, area_mu=100)
    bed.issue(TONGJIANG, area_mu=100, doc="通自然资验〔2025〕3号")
    escrow = ledger.run_ledger(bed.sessions, ledger.ensure_accounts, ledger.ESCROW,
                               QuotaType.LINKAGE_SURPLUS, [Dimension.AREA], bed.clock())
    project = ledger.run_ledger(bed.sessions, ledger.ensure_accounts,
                                ledger.Holder(HolderKind.PROJECT, "P0001", "项目", PINGCHANG),
                                QuotaType.LINKAGE_SURPLUS, [Dimension.AREA], bed.clock())
    return {
        "pingchang": bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.LINKAGE_SURPLUS).id,
        "tongjiang": bed.account(HolderKind.COUNTY, TONGJIANG, QuotaType.LINKAGE_SURPLUS).id,
        "escrow": escrow[Dimension.AREA],
        "project": project[Dimension.AREA],
        "first": bed.read("SELECT id FROM ledger_transfers ORDER BY seq LIMIT 1")[0][0],
    }


def listing(debit: int, credit: int, amount: int = MU) -> TransferInput:
    return TransferInput(id=uuid.uuid4(), debit_account_id=debit, credit_account_id=credit,
                         amount=amount, code=TransferCode.LIST)


def links(bed: LedgerBed) -> list[tuple[int, int]]:
    """(chain position, seq) of every link, in chain order."""
    return [(r.pos, r.seq) for r in bed.read("SELECT pos, seq FROM ledger_chain ORDER BY pos")]


def queued(bed: LedgerBed) -> list[int]:
    return [r.seq for r in bed.read("SELECT seq FROM ledger_chain_queue ORDER BY seq")]


def catch_up(bed: LedgerBed) -> ledger.ChainRun:
    return ledger.chain_pending(bed.sessions.kw["bind"])


@pytest.fixture
def no_chainer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Committers do not chain (a chainer that never runs): transfers stay queued."""
    monkeypatch.setattr(engine, "chain_after_commit", lambda connection: None)
    yield


def test_a_committed_transfer_is_chained_before_its_call_returns(
        bed: LedgerBed, accounts: dict[str, Any]) -> None:
    results = bed.transfers([listing(accounts["pingchang"], accounts["escrow"])])
    assert queued(bed) == []
    assert links(bed)[-1] == (len(links(bed)), results[0].seq)
    head = bed.read("SELECT pos, hash FROM ledger_chain_head")[0]
    assert (head.pos, head.hash) == bed.read(
        "SELECT pos, hash FROM ledger_chain ORDER BY pos DESC LIMIT 1")[0]
    assert bed.verify() == (None, [])


def test_an_unchained_transfer_is_not_in_the_feed_until_it_is_chained(
        bed: LedgerBed, accounts: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "chain_after_commit", lambda connection: None)
    result = bed.transfers([listing(accounts["pingchang"], accounts["escrow"])])[0]
    assert queued(bed) == [result.seq]
    with bed.sessions() as session:
        assert result.seq not in [t.seq for t in ledger_reports.events(session, 0, 100)]
    monkeypatch.undo()
    assert catch_up(bed).linked == 1
    with bed.sessions() as session:
        feed = ledger_reports.events(session, 0, 100)
    assert feed[-1].seq == result.seq and feed[-1].hash and feed[-1].position == len(feed)


@pytest.mark.parametrize("catch_up_first", [False, True])
def test_a_transfer_changed_before_it_is_chained_is_found(
        bed: LedgerBed, accounts: dict[str, Any], postgresql: psycopg.Connection,
        no_chainer: None, catch_up_first: bool) -> None:
    """CHAIN-8: the queue holds the hash of the content as committed, and the link the chainer
    makes hashes that, not what the row says by then: found while queued, and once chained."""
    results = bed.transfers([listing(accounts["pingchang"], accounts["escrow"]),
                             listing(accounts["tongjiang"], accounts["escrow"])])
    first, second = (r.seq for r in results)
    tamper(postgresql, f"UPDATE ledger_transfers SET amount = amount + 1 WHERE seq = {first}")
    with bed.sessions() as session:
        found = ledger.verify_ledger_chain(session, catch_up=catch_up_first)
    assert found is not None and found.position == first
    if catch_up_first:
        assert [seq for _, seq in links(bed)][-2:] == [first, second] and queued(bed) == []
        assert found.reason == "content does not match its hash"
    else:
        assert queued(bed) == [first, second]
        assert found.reason == ("content does not match the hash it was recorded with "
                                "(not chained yet)")


def test_a_queue_row_deleted_before_chaining_is_found(
        bed: LedgerBed, accounts: dict[str, Any], postgresql: psycopg.Connection,
        no_chainer: None) -> None:
    seq = bed.transfers([listing(accounts["pingchang"], accounts["escrow"])])[0].seq
    tamper(postgresql, f"DELETE FROM ledger_chain_queue WHERE seq = {seq}")
    with bed.sessions() as session:
        found = ledger.verify_ledger_chain(session)
    assert found is not None and found.position == seq
    assert found.reason == "transfer is neither chained nor queued for the chain"


@pytest.mark.parametrize("statements", [
    ("DELETE FROM ledger_transfers WHERE seq >= 4", "DELETE FROM ledger_chain WHERE seq >= 4"),
    ("DELETE FROM ledger_chain WHERE seq = 5", "DELETE FROM ledger_transfers WHERE seq = 5"),
])
def test_a_deleted_tail_is_found(bed: LedgerBed, postgresql: psycopg.Connection,
                                 statements: tuple[str, ...]) -> None:
    """CHAIN-9: the links left still verify among themselves; the head says where it ended."""
    five_transfers(bed)
    for statement in statements:
        tamper(postgresql, statement)
    with bed.sessions() as session:
        found = ledger.verify_ledger_chain(session)
    assert found is not None
    kept = len(links(bed))
    assert found.position == kept + 1
    assert found.reason.startswith(f"the chain ends at position {kept} but its head records "
                                   "position 5")


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_chain_head SET pos = pos - 1",
    "UPDATE ledger_chain_head SET hash = repeat('0', 64)",
    "DELETE FROM ledger_chain_head",
    "TRUNCATE ledger_chain_head",
    "UPDATE ledger_chain SET hash = repeat('0', 64) WHERE pos = 5",
    "DELETE FROM ledger_chain WHERE pos = 5",
    "TRUNCATE ledger_chain",
])
def test_the_head_only_moves_forward_and_links_are_append_only(
        bed: LedgerBed, statement: str) -> None:
    five_transfers(bed)
    with pytest.raises(DomainError) as caught, translate_database_errors(), \
            bed.sessions.begin() as session:
        session.execute(text(statement))
    assert caught.value.code == "APPEND_ONLY"
    assert bed.verify() == (None, [])


def test_a_queued_transfer_is_never_changed_in_the_queue(
        bed: LedgerBed, accounts: dict[str, Any], no_chainer: None) -> None:
    bed.transfers([listing(accounts["pingchang"], accounts["escrow"])])
    with pytest.raises(DomainError) as caught, translate_database_errors(), \
            bed.sessions.begin() as session:
        session.execute(text("UPDATE ledger_chain_queue SET entry_hash = repeat('0', 64)"))
    assert caught.value.code == "APPEND_ONLY"


def test_a_chainer_that_died_midway_leaves_its_transfers_to_the_next_in_commit_order(
        bed: LedgerBed, accounts: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """CHAIN-5, CHAIN-6: a chainer that fails rolls back whole (nothing linked, lock released);
    the next one links what it left, in commit order, after what was chained before."""
    before = links(bed)
    monkeypatch.setattr(chainer, "ROUND", "SELECT 1 / 0")  # dies in its round
    died = [bed.transfers([listing(accounts["pingchang"], accounts["escrow"])])[0].seq
            for _ in range(3)]  # each committed; each committer's chainer died
    assert queued(bed) == died and links(bed) == before
    monkeypatch.undo()
    # One that dies holding the lock, its connection gone: the lock goes with it.
    holder = bed.sessions.kw["bind"].connect()
    holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": chainer.CHAIN_LOCK_KEY})
    locked_out = bed.transfers([listing(accounts["tongjiang"], accounts["escrow"])])[0].seq
    assert queued(bed) == [*died, locked_out]  # its committer left it to the holder
    holder.connection.driver_connection.close()  # the holder's process dies
    holder.invalidate()
    last = bed.transfers([listing(accounts["pingchang"], accounts["escrow"])])[0].seq
    assert queued(bed) == []
    positions = [pos for pos, _ in links(bed)]
    assert positions == list(range(1, len(positions) + 1))
    assert links(bed)[len(before):] == [(len(before) + i + 1, seq) for i, seq in
                                        enumerate([*died, locked_out, last])]
    assert bed.verify() == (None, [])


def test_chain_order_is_commit_order_and_the_feed_never_misses_a_later_commit(
        bed: LedgerBed, accounts: dict[str, Any]) -> None:
    """CHAIN-6, CHAIN-7: a transfer that drew its seq first but commits second is chained
    second; a reader who paged past the first-committed one still gets it on the next page."""
    slow = bed.sessions()
    slow.begin()
    early = ledger.create_transfers(slow, [listing(accounts["pingchang"], accounts["escrow"])],
                                    actor=bed.actor, now=bed.clock())[0]
    late = bed.transfers([TransferInput(  # other accounts: no lock shared with `slow`
        id=uuid.uuid4(), debit_account_id=accounts["tongjiang"],
        credit_account_id=accounts["project"], amount=MU, code=TransferCode.CORRECTION,
        details={"reason": "调剂", "corrects": str(accounts["first"])})])[0]
    assert late.ok and early.seq < late.seq
    with bed.sessions() as session:
        page = ledger_reports.events(session, 0, 100)
    assert page[-1].seq == late.seq and early.seq not in [t.seq for t in page]
    slow.commit()
    slow.close()
    with bed.sessions() as session:
        next_page = ledger_reports.events(session, page[-1].seq, 100)
    assert [t.seq for t in next_page] == [early.seq]
    assert next_page[0].position == page[-1].position + 1
    assert bed.verify() == (None, [])


def test_concurrent_singles_all_end_up_chained_gaplessly(
        bed: LedgerBed, accounts: dict[str, Any]) -> None:
    clients, each = 8, 12
    start = threading.Barrier(clients)
    pool = [accounts["pingchang"], accounts["tongjiang"], accounts["escrow"]]

    def client(number: int) -> list[TransferResult]:
        rng = random.Random(number)
        start.wait()
        done = []
        for _ in range(each):
            debit, credit = rng.sample(pool[:2], 1)[0], pool[2]
            if rng.random() < 0.3:
                debit, credit = credit, debit
            transfer = listing(debit, credit, rng.randint(1, 5))
            if debit == pool[2]:
                transfer = TransferInput(id=transfer.id, debit_account_id=debit,
                                         credit_account_id=credit, amount=transfer.amount,
                                         code=TransferCode.DELIST)
            done += bed.transfers([transfer])
        return done

    with ThreadPoolExecutor(clients) as threads:
        results = [r for rs in threads.map(client, range(clients)) for r in rs]
    posted = {r.seq for r in results if r.ok}
    assert len(posted) > clients * each // 2
    # Every committer has returned: each one's transfer is chained (its own chainer, or the
    # one that held the lock then, which looks at the queue again after releasing it).
    assert queued(bed) == []
    chained = links(bed)
    assert [pos for pos, _ in chained] == list(range(1, len(chained) + 1))
    assert posted <= {seq for _, seq in chained}
    assert len({seq for _, seq in chained}) == len(chained) == bed.read(
        "SELECT count(*) FROM ledger_transfers")[0][0]
    # Transfers on the same account were serialized by its row lock: their chain order is their
    # order of evaluation, which is their seq order.
    for account in pool:
        rows = bed.read("SELECT c.pos, t.seq FROM ledger_chain c JOIN ledger_transfers t "
                        "ON t.seq = c.seq WHERE :a IN (t.debit_account_id, t.credit_account_id) "
                        "ORDER BY c.pos", a=account)
        assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert bed.verify() == (None, [])


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(["commit", "commit_unchained", "chainer_dies",
                                       "catch_up"]), min_size=1, max_size=8))
def test_any_mix_of_failed_and_working_chainers_leaves_a_gapless_chain_in_commit_order(
        database_url: str, steps: list[str]) -> None:
    """Whatever fails in between, once a chainer runs every committed transfer is chained
    exactly once, positions 1…n, in the order the transfers committed (here: one at a time)."""
    for bed in ledger_bed(database_url):
        with bed.sessions() as session:
            debit, credit = session.execute(text(
                "SELECT (SELECT id FROM ledger_accounts WHERE holder_kind = 'county' "
                "AND quota_type = 'linkage_surplus' ORDER BY id LIMIT 1), "
                "(SELECT id FROM ledger_accounts WHERE holder_kind = 'escrow' "
                "AND quota_type = 'linkage_surplus' LIMIT 1)")).one()
        if debit is None or credit is None:
            bed.issue(PINGCHANG, area_mu=1000)
            escrow = ledger.run_ledger(bed.sessions, ledger.ensure_accounts, ledger.ESCROW,
                                       QuotaType.LINKAGE_SURPLUS, [Dimension.AREA], bed.clock())
            debit = bed.account(HolderKind.COUNTY, PINGCHANG, QuotaType.LINKAGE_SURPLUS).id
            credit = escrow[Dimension.AREA]
        catch_up(bed)
        committed = [seq for _, seq in links(bed)]
        for step in steps:
            patch = pytest.MonkeyPatch()
            try:
                if step == "commit_unchained":
                    patch.setattr(engine, "chain_after_commit", lambda connection: None)
                elif step == "chainer_dies":
                    patch.setattr(chainer, "ROUND", "SELECT 1 / 0")
                if step == "catch_up":
                    catch_up(bed)
                else:
                    committed.append(bed.transfers([listing(debit, credit, 1)])[0].seq)
            finally:
                patch.undo()
        catch_up(bed)
        assert queued(bed) == []
        assert links(bed) == [(i + 1, seq) for i, seq in enumerate(committed)]
        assert bed.verify() == (None, [])


