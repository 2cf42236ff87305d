"""National exchange (汇交): the outbox of per-recording messages and their delivery attempts.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

- `exchange_outbox`: one message per recorded case (EXCHANGE-1, unique application), written by
  the recording transaction; its identity and content are fixed (EXCHANGE-2, trigger
  `exchange_outbox_fixed`), rows never deleted.
- `exchange_attempts`: every delivery attempt with the platform's answer, append-only
  (EXCHANGE-3).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTBOX_FIXED = """
CREATE FUNCTION exchange_outbox_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.message_id <> OLD.message_id OR NEW.body <> OLD.body
            OR NEW.body_sha256 <> OLD.body_sha256 OR NEW.application_id <> OLD.application_id
            OR NEW.county_code <> OLD.county_code OR NEW.entry_seq <> OLD.entry_seq THEN
        RAISE EXCEPTION 'APPEND_ONLY: exchange message % never changes once written', OLD.message_id
            USING ERRCODE = 'RG100',
                  HINT = 'Only its delivery state moves (EXCHANGE-2).';
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    outbox_state = postgresql.ENUM("pending", "acknowledged", "refused", name="outbox_state",
                                   create_type=False)
    outcome = postgresql.ENUM("acknowledged", "refused", "failed", name="attempt_outcome",
                              create_type=False)
    outbox_state.create(op.get_bind())
    outcome.create(op.get_bind())
    op.create_table(
        "exchange_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("message_id", sa.String(length=18), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("application_number", sa.String(length=32), nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("rec_type", sa.String(length=16), nullable=False),
        sa.Column("cert_count", sa.Integer(), nullable=False),
        sa.Column("proof_count", sa.Integer(), nullable=False),
        sa.Column("row_counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", outbox_state, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("receipt", sa.String(length=128), nullable=True),
        sa.Column("sent_sha256", sa.String(length=64), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_exchange_outbox_application_id_applications")),
        sa.ForeignKeyConstraint(["county_code"], ["divisions.code"],
                                name=op.f("fk_exchange_outbox_county_code_divisions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_outbox")),
        sa.UniqueConstraint("application_id", name=op.f("uq_exchange_outbox_application_id")),
        sa.UniqueConstraint("message_id", name=op.f("uq_exchange_outbox_message_id")),
    )
    op.create_index(op.f("ix_exchange_outbox_application_number"), "exchange_outbox",
                    ["application_number"], unique=False)
    op.create_index("ix_exchange_outbox_due", "exchange_outbox", ["county_code", "entry_seq"],
                    unique=False, postgresql_where=sa.text("state = 'pending'"))
    op.create_table(
        "exchange_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", outcome, nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("receipt", sa.String(length=128), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("sent_sha256", sa.String(length=64), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["exchange_outbox.id"],
                                name=op.f("fk_exchange_attempts_outbox_id_exchange_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_attempts")),
    )
    op.create_index(op.f("ix_exchange_attempts_outbox_id"), "exchange_attempts", ["outbox_id"],
                    unique=False)
    op.execute(OUTBOX_FIXED)
    op.execute("CREATE TRIGGER exchange_outbox_fixed BEFORE UPDATE ON exchange_outbox"
               " FOR EACH ROW EXECUTE FUNCTION exchange_outbox_fixed()")
    for table in ("exchange_outbox", "exchange_attempts"):
        if table == "exchange_attempts":  # EXCHANGE-3: attempts never change
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                       " FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()")
        else:
            op.execute(f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table}"
                       " FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                   " FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()")


def downgrade() -> None:
    op.drop_index(op.f("ix_exchange_attempts_outbox_id"), table_name="exchange_attempts")
    op.drop_table("exchange_attempts")
    op.drop_index("ix_exchange_outbox_due", table_name="exchange_outbox",
                  postgresql_where=sa.text("state = 'pending'"))
    op.drop_index(op.f("ix_exchange_outbox_application_number"), table_name="exchange_outbox")
    op.drop_table("exchange_outbox")
    op.execute("DROP FUNCTION IF EXISTS exchange_outbox_fixed()")
    sa.Enum(name="attempt_outcome").drop(op.get_bind(), checkfirst=False)
    sa.Enum(name="outbox_state").drop(op.get_bind(), checkfirst=False)
