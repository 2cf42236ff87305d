"""Ledger chain off the commit path: transfers numbered by a sequence, chained after commit.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

Until now every transfer took one advisory lock held to commit and was hashed over the previous
one in its own transaction (CHAIN-4 of 0005's engine). From here (services/ledger/chainer.py,
CHAIN-5..9):

- `ledger_transfers.seq` becomes an identity column: a transfer's number comes from the
  sequence, no lock; `prev_hash` and `hash` move to the new append-only `ledger_chain`
  (`pos` gapless from 1 in commit order, `seq` unique, `prev_hash`, `hash`).
- `ledger_chain_queue` holds committed transfers not chained yet, with the sha256 of their
  canonical content at commit; rows are deleted only by the chainer (UPDATE refused).
- `ledger_chain_head` is the chain's one-row anchor (position, hash), moved only forward
  (trigger `ledger_chain_head_forward`, no DELETE or TRUNCATE); `legacy_pos` (fixed) is the last
  link made before this revision.
- `ledger_chain_round(lock_key, wait, max_links)` is one round of the chainer, in SQL: links
  after `legacy_pos` hash the transfer's content hash as queued,
  `hash = sha256(prev_hash || '\n' || entry_hash)` (the earlier ones keep CHAIN-2 over the
  canonical JSON itself: the same strength, SHA-256 over SHA-256).

Existing transfers keep their hashes: they become links with `pos = seq` (their seq was gapless
and in commit order), and the head is their last one. Downgrade puts `prev_hash`/`hash` back on
the transfers (unchained ones get 64 zeros, which 0017's `registry verify` reports); a ledger
chained out of seq order since this revision no longer verifies under 0017's walk by seq.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

HEAD_FORWARD = """
CREATE FUNCTION ledger_chain_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.pos < OLD.pos OR NEW.id <> OLD.id
            OR NEW.legacy_pos <> OLD.legacy_pos
            OR (NEW.pos = OLD.pos AND NEW.hash <> OLD.hash) THEN
        RAISE EXCEPTION 'APPEND_ONLY: the ledger chain head only moves forward (% on %)',
            TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'RG100',
                  HINT = 'The head is moved by the chainer as it appends links.';
    END IF;
    RETURN NEW;
END
$$
"""


# CHAIN-5, CHAIN-6, CHAIN-9 (services/ledger/chainer.py): one chainer round, in the caller's
# transaction. The lock first (waited for or tried), then — each statement of a VOLATILE
# function its own snapshot, taken once the lock is held — the head and the queue as the
# previous holder left them; each queued transfer linked in seq order with
# hash = sha256(prev_hash || '\n' || entry_hash) (CHAIN-2 for links after 0018); the queue rows
# removed and the head moved with them. Returns how many were linked, -1 if the lock was taken.
CHAIN_ROUND = """
CREATE FUNCTION ledger_chain_round(lock_key bigint, wait boolean, max_links integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    head_pos bigint;
    head_hash text;
    queued record;
    positions bigint[] := '{}';
    seqs bigint[] := '{}';
    prevs text[] := '{}';
    hashes text[] := '{}';
BEGIN
    IF wait THEN
        PERFORM pg_advisory_xact_lock(lock_key);
    ELSIF NOT pg_try_advisory_xact_lock(lock_key) THEN
        RETURN -1;
    END IF;
    SELECT pos, hash INTO STRICT head_pos, head_hash FROM ledger_chain_head WHERE id = 1;
    FOR queued IN
        SELECT q.seq, q.entry_hash FROM ledger_chain_queue q
        WHERE NOT EXISTS (SELECT 1 FROM ledger_chain c WHERE c.seq = q.seq)
        ORDER BY q.seq LIMIT max_links
    LOOP
        head_pos := head_pos + 1;
        positions := positions || head_pos;
        seqs := seqs || queued.seq;
        prevs := prevs || head_hash;
        head_hash := encode(sha256(convert_to(head_hash || E'\\n' || queued.entry_hash, 'UTF8')),
                            'hex');
        hashes := hashes || head_hash;
    END LOOP;
    IF cardinality(seqs) = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO ledger_chain (pos, seq, prev_hash, hash)
    SELECT * FROM unnest(positions, seqs, prevs, hashes);
    DELETE FROM ledger_chain_queue WHERE seq = ANY(seqs);
    UPDATE ledger_chain_head SET pos = head_pos, hash = head_hash, at = now() WHERE id = 1;
    RETURN cardinality(seqs);
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "ledger_chain",
        sa.Column("pos", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("pos > 0", name=op.f("ck_ledger_chain_pos_positive")),
        sa.PrimaryKeyConstraint("pos", name=op.f("pk_ledger_chain")),
        sa.UniqueConstraint("seq", name=op.f("uq_ledger_chain_seq")),
    )
    op.create_table(
        "ledger_chain_queue",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_chain_queue")),
    )
    op.create_table(
        "ledger_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pos", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("legacy_pos", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_chain_head_one_row")),
        sa.CheckConstraint("pos >= 0", name=op.f("ck_ledger_chain_head_pos_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_chain_head")),
    )
    # The existing transfers were chained in seq order, gaplessly: their links are pos = seq.
    op.execute("INSERT INTO ledger_chain (pos, seq, prev_hash, hash) "
               "SELECT seq, seq, prev_hash, hash FROM ledger_transfers ORDER BY seq")
    op.execute(
        "INSERT INTO ledger_chain_head (id, pos, hash, at, legacy_pos) "
        "SELECT 1, coalesce(max(pos), 0), coalesce((SELECT hash FROM ledger_chain "
        f"ORDER BY pos DESC LIMIT 1), '{GENESIS}'), now(), coalesce(max(pos), 0) "
        "FROM ledger_chain")
    op.drop_column("ledger_transfers", "prev_hash")
    op.drop_column("ledger_transfers", "hash")
    op.execute("ALTER TABLE ledger_transfers ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY")
    op.execute("SELECT setval(pg_get_serial_sequence('ledger_transfers', 'seq'), "
               "coalesce(max(seq), 0) + 1, false) FROM ledger_transfers")
    # As 0002's append_only(): links are never changed or removed.
    op.execute("CREATE TRIGGER ledger_chain_append_only BEFORE UPDATE OR DELETE ON ledger_chain "
               "FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()")
    op.execute("CREATE TRIGGER ledger_chain_no_truncate BEFORE TRUNCATE ON ledger_chain "
               "FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()")
    # A queued transfer leaves the queue only by being chained (DELETE); it is never changed.
    op.execute("CREATE TRIGGER ledger_chain_queue_fixed BEFORE UPDATE ON ledger_chain_queue "
               "FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()")
    op.execute(HEAD_FORWARD)
    op.execute(CHAIN_ROUND)
    op.execute("CREATE TRIGGER ledger_chain_head_forward BEFORE UPDATE OR DELETE "
               "ON ledger_chain_head FOR EACH ROW EXECUTE FUNCTION ledger_chain_head_forward()")
    op.execute("CREATE TRIGGER ledger_chain_head_no_truncate BEFORE TRUNCATE ON ledger_chain_head "
               "FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()")


def downgrade() -> None:
    op.execute("ALTER TABLE ledger_transfers ALTER COLUMN seq DROP IDENTITY IF EXISTS")
    op.add_column("ledger_transfers", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("ledger_transfers", sa.Column("hash", sa.String(length=64), nullable=True))
    op.execute("ALTER TABLE ledger_transfers DISABLE TRIGGER ledger_transfers_append_only")
    op.execute("UPDATE ledger_transfers t SET prev_hash = c.prev_hash, hash = c.hash "
               "FROM ledger_chain c WHERE c.seq = t.seq")
    op.execute(f"UPDATE ledger_transfers SET prev_hash = '{GENESIS}', hash = '{GENESIS}' "
               "WHERE hash IS NULL")
    op.execute("ALTER TABLE ledger_transfers ENABLE TRIGGER ledger_transfers_append_only")
    op.alter_column("ledger_transfers", "prev_hash", nullable=False)
    op.alter_column("ledger_transfers", "hash", nullable=False)
    op.drop_table("ledger_chain_head")
    op.drop_table("ledger_chain_queue")
    op.drop_table("ledger_chain")
    op.execute("DROP FUNCTION IF EXISTS ledger_chain_head_forward()")
    op.execute("DROP FUNCTION IF EXISTS ledger_chain_round(bigint, boolean, integer)")
