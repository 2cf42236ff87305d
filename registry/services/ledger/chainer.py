"""The ledger's chainer: links committed transfers into the hash chain, in commit order, after
their commit (migration 0018; before it, every transfer took one lock held to its commit).

Why: with one lock held until commit, transfers committed one at a time (each waiting for the
previous one's WAL flush). Now a transfer is recorded without the lock: its number `seq` comes
from a sequence, and its transaction also queues it (`ledger_chain_queue`, with the sha256 of
its canonical content). After the commit, whoever committed runs the chainer, which links every
queued transfer it can see: chain position and hash, in one short transaction of its own (one
round trip: the round is the SQL function `ledger_chain_round`, migration 0018). The rules, each
enforced where named:

- CHAIN-5 One chainer at a time, and none left waiting: the chainer holds the advisory lock
  CHAIN_LOCK_KEY (transaction-level, so released by its commit, rollback, or the end of its
  connection) while it reads the head, reads the queue and appends. A committer tries the lock
  (pg_try_advisory_xact_lock); if another chainer holds it, it leaves at once, and that holder
  is responsible for its transfer: every holder, after releasing the lock, looks at the queue
  again (STILL_QUEUED, after each round's commit or rollback) and goes on while something is
  linkable. That look comes after the release, the release after the failed
  try, the try after the commit: so it sees the transfer (or the holder's own try fails, and the
  next holder is responsible in turn). The committers' transfers are thus combined into few
  chainer transactions (one WAL flush per round, not per transfer), and the commits themselves
  take no shared lock. A holder that has chained YIELD_AFTER_ROUNDS rounds in a row pauses
  YIELD_SECONDS before each further try, so that a newer committer takes over and it can leave.
  (Waiting for the lock instead — pg_advisory_xact_lock — makes every committer's return wait
  for a chainer round and its WAL flush in turn: measured, about as slow as the old lock.)
- CHAIN-6 Commit order, gapless: the chainer appends the queued transfers visible to it after
  taking the lock (so everything an earlier chainer linked is visible), in `seq` order among
  them; positions continue the head's, one by one, and the links, the queue's deletions and the
  head's move commit together. A transfer that commits after a chainer looked is linked by a
  later one, after it. Transfers that conflict (same account, lot or pending transfer) are
  serialized by their row locks, so their chain order is also their order of evaluation.
- CHAIN-7 Readers see only chained transfers and page by chain position (reports.events,
  reports.trades): since positions are appended in order by one chainer at a time and each
  chainer's links commit at once, a reader that has seen position n has seen every position
  below n; a transfer committed later gets a position above every one already visible. This is
  the guarantee the old chain lock gave (CHAIN-4); `seq` alone does not give it any more.
- CHAIN-8 A transfer's content cannot change unseen, chained or not: its queue row holds
  sha256 of its canonical content (rules.chain_payload) computed in the transaction that
  recorded it, and the link the chainer makes hashes that digest (`entry_link_hash`: CHAIN-2
  for links after migration 0018; `ledger_chain_head.legacy_pos` marks the last link made before,
  which hash the canonical JSON itself). The chainer never reads the transfers (it is one SQL
  function, ledger_chain_round); verify recomputes each digest from the content, so a change
  made while the transfer waited in the queue is found exactly as one made after it was
  chained; and verify reports any transfer queued longer than STALE_AFTER_SECONDS (a chainer
  that keeps failing). Like the chain's own last link, a queued transfer is protected against
  anyone who cannot also rewrite its queue row: keep the head `registry verify` prints
  elsewhere, and expect the queue to be empty moments after a commit.
- CHAIN-9 The head (`ledger_chain_head`: position and hash of the last link) moves forward only
  (database trigger), in the transaction that appends the links; verify checks that the chain
  ends exactly there, so a deleted tail (links and transfers cut off the end) is found.

Failure modes:
- The chainer crashes or its connection dies mid-way: its transaction rolls back (nothing
  linked, the lock released with it); the transfers stay queued, and whoever chains next links
  them, in order: the next committer, the sweeper (`ledger.expire_all_due`: `chain_pending`), or
  verify's catch-up. The transfers themselves had committed and are unaffected: a failure after
  commit is logged, never raised to the committer. Until then they are recorded (balances,
  idempotency) but not in the feed.
- A chainer that hangs holding the lock: committers leave at once (their transfers queued, its
  responsibility). A round is one round trip (function, commit), so a chainer is never idle in
  its transaction in normal operation; should one be (a client stopped mid-pipeline), the server
  ends its session after IDLE_TIMEOUT_MS (set for the chainer's own transaction only), and the
  next chainer takes over. A catch-up waits up
  to CATCH_UP_LOCK_TIMEOUT_MS.
- Concurrent chainers: excluded by CHAIN-5; a second one finds the first's links (each
  statement of READ COMMITTED sees what committed before it started, the lock's release
  included).
- Tampering with a queued transfer: CHAIN-8 (found by verify, before or after it is chained;
  the chainer links the digest it was queued with, not what the row says now). Deleting a
  queue row: verify finds a transfer that is neither chained nor queued. Tampering with or
  deleting links: the hash walk (a link whose transfer is gone shows as the next link's broken
  `prev_hash`); cutting the tail: CHAIN-9.
- Commit order is the order in which the chainer sees commits: two transfers in flight at once
  that share no row may be chained in either order (and out of `seq` order); that is the order
  readers see them in, and the one verify checks.
- The chainer's own commit is durable (synchronous_commit as configured): a link a reader has
  seen is not lost in a crash, so positions never change once shown.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine

from registry.services.chain import canonical_json

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the transfer chain (any fixed 64-bit number; "ledger" in ASCII).
CHAIN_LOCK_KEY = 0x6C6564676572
CHUNK = 5000  # queued transfers linked per round
# A committer that has chained this many rounds in a row (others kept committing) pauses
# before each further try, so that one of them takes the lock over and this one can leave.
YIELD_AFTER_ROUNDS = 16
YIELD_SECONDS = 0.001
IDLE_TIMEOUT_MS = 10000  # a chainer idle in its transaction this long is ended by the server

CATCH_UP_LOCK_TIMEOUT_MS = 30000  # a catch-up (verify, sweeper) waits longer
STALE_AFTER_SECONDS = 60  # a transfer queued longer than this is a verify finding (CHAIN-8)

# The columns chain_payload covers, as it names them (verify reads transfers with them).
PAYLOAD_COLUMNS = (
    "t.id, t.seq, t.kind::text AS kind, t.code::text AS code, t.debit_account_id AS debit, "
    "t.credit_account_id AS credit, t.quota_type::text AS quota_type, "
    "t.dimension::text AS dimension, t.amount, t.pending_id, t.expires_at, t.lot_id, "
    "t.linked_group, t.details, t.at, t.actor, t.body_sha256")

# The chainer's transaction limits (SET LOCAL): how long a catch-up waits for the lock, and how
# long the server lets a chainer sit idle holding it (a hung client) before ending its session.
SETTINGS = ("SELECT set_config('lock_timeout', %(lock)s, true), "
            "set_config('idle_in_transaction_session_timeout', %(idle)s, true)")

# CHAIN-5, CHAIN-6, CHAIN-9: one round — lock, head, queue, links, dequeue, head moved — in the
# database (function ledger_chain_round of migration 0018): -1 if the lock was taken, else how
# many transfers it linked.
ROUND = "SELECT ledger_chain_round(%(key)s, %(wait)s, %(limit)s)"

# CHAIN-5: after releasing the lock, is anything still queued to link?
STILL_QUEUED = """
SELECT EXISTS (SELECT 1 FROM ledger_chain_queue q
               WHERE NOT EXISTS (SELECT 1 FROM ledger_chain c WHERE c.seq = q.seq))
"""


def entry_hash(payload: dict[str, Any]) -> str:
    """CHAIN-8: sha256 of a transfer's canonical content, as queued with it."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def entry_link_hash(previous: str, entry: str) -> str:
    """CHAIN-2 for links after migration 0018 (ledger_chain_head.legacy_pos):
    sha256(previous hash + "\n" + the transfer's entry hash), hex — what ledger_chain_round
    computes in SQL. (Up to legacy_pos: chain.link_hash over the canonical JSON itself.)"""
    return hashlib.sha256(f"{previous}\n{entry}".encode()).hexdigest()


@dataclass
class ChainRun:
    """What one `chain_committed` call did."""

    linked: int = 0  # transfers appended to the chain
    rounds: int = 0  # chainer transactions that appended something
    locked_out: bool = False  # another chainer held the lock (CHAIN-5)


def chain_committed(connection: psycopg.Connection[Any], *, wait: bool = False,
                    lock_timeout_ms: int = CATCH_UP_LOCK_TIMEOUT_MS) -> ChainRun:
    """CHAIN-5..9: link every committed, queued transfer into the chain, in rounds of one
    transaction each, on `connection` (idle: no transaction of the caller's open on it).

    Without `wait` (a committer, right after its commit): if another chainer holds the lock,
    leave at once; it is responsible for what we committed. With `wait` (a catch-up: verify,
    tests), wait for it (up to `lock_timeout_ms`). Either way, after holding the lock, go on in
    rounds until a look at the queue made after releasing the lock finds nothing to link.
    """
    run = ChainRun()
    settings = {"lock": f"{lock_timeout_ms if wait else 0}ms", "idle": f"{IDLE_TIMEOUT_MS}ms"}
    while True:
        if run.rounds >= YIELD_AFTER_ROUNDS and not wait:
            time.sleep(YIELD_SECONDS)  # let another committer take the lock over (CHAIN-5)
        try:
            # One round trip: limits, the round, its commit (a round that took no lock or
            # linked nothing commits nothing: no WAL flush), then — executed after that commit,
            # so after the lock's release — a look at the queue, in a read-only transaction.
            with (connection.pipeline(), connection.cursor() as setting,
                  connection.cursor() as chained, connection.cursor() as look):
                setting.execute(SETTINGS, settings)
                chained.execute(ROUND, {"key": CHAIN_LOCK_KEY, "wait": wait, "limit": CHUNK})
                connection.commit()
                look.execute(STILL_QUEUED)
                connection.rollback()
                found = chained.fetchone()
                still = look.fetchone()
            linked = found[0] if found else 0
            if linked < 0:
                run.locked_out = True  # the holder looks after its release: it is responsible
                break
            if linked:
                run.linked += linked
                run.rounds += 1
            # Our round read the queue holding the lock: a transfer committed since, whose
            # committer found the lock taken, counts on us; the look after the release sees it.
            if not (still and still[0]):
                break
        except psycopg.errors.LockNotAvailable:
            connection.rollback()  # a chainer holds the lock too long: leave it to it (CHAIN-5)
            run.locked_out = True
            log.warning("ledger chainer: the chain lock stayed taken for %d ms; transfers stay "
                        "queued for the next chainer", lock_timeout_ms)
            break
        except BaseException:
            connection.rollback()
            raise
    return run


def chain_after_commit(connection: Connection) -> None:
    """Right after a transaction that recorded transfers committed: chain them (and whatever
    else is queued) on the same, now idle, database connection. Never raises: the transfers
    are committed whatever happens here, and are chained later if this fails (CHAIN-5)."""
    try:
        driver = connection.connection.driver_connection
        if (not isinstance(driver, psycopg.Connection) or driver.closed
                or driver.info.transaction_status is not TransactionStatus.IDLE):
            return  # not the idle connection of a committed transaction: leave it to others
        chain_committed(driver)
    except Exception:
        log.exception("chaining ledger transfers after commit failed; they stay queued")


def chain_pending(engine: Engine, *, wait: bool = True) -> ChainRun:
    """A catch-up (verify, the sweeper, tests): chain everything committed and queued, on a
    connection of its own, waiting for a chainer at work to finish first."""
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        connection.commit()  # SQLAlchemy's own transaction (if any) closed: the driver's is ours
        driver.rollback()  # and nothing of the pool's (a ping) left open on it
        return chain_committed(driver, wait=wait)
