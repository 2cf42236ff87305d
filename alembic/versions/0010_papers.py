"""Printed papers and the blank-form stock (PRINT-1..5, STOCK-1..3 in
registry/services/papers.py): form_batches, form_serials (one row per pre-printed serial, so
every serial is accounted for), printed_papers (one standing print per certificate, a serial
printed on once).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

certificate_kind = postgresql.ENUM("right", "proof", name="certificate_kind", create_type=False)
serial_state = postgresql.ENUM("in_stock", "issued", "voided", name="form_serial_state",
                               create_type=False)
print_mode = postgresql.ENUM("full", "overlay", name="print_mode", create_type=False)


def upgrade() -> None:
    serial_state.create(op.get_bind(), checkfirst=True)
    print_mode.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "form_batches",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("kind", certificate_kind, nullable=False),
        sa.Column("first_serial", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("count BETWEEN 1 AND 100000", name=op.f("ck_form_batches_count_range")),
        sa.ForeignKeyConstraint(["county_code"], ["divisions.code"],
                                name=op.f("fk_form_batches_county_code_divisions")),
        sa.ForeignKeyConstraint(["received_by"], ["users.id"],
                                name=op.f("fk_form_batches_received_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_batches")),
    )
    op.create_table(
        "form_serials",
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("kind", certificate_kind, nullable=False),
        sa.Column("state", serial_state, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.BigInteger(), nullable=False),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("(state = 'voided') = (void_reason IS NOT NULL)",
                           name=op.f("ck_form_serials_void_has_reason")),
        sa.ForeignKeyConstraint(["batch_id"], ["form_batches.id"],
                                name=op.f("fk_form_serials_batch_id_form_batches")),
        sa.ForeignKeyConstraint(["county_code"], ["divisions.code"],
                                name=op.f("fk_form_serials_county_code_divisions")),
        sa.ForeignKeyConstraint(["changed_by"], ["users.id"],
                                name=op.f("fk_form_serials_changed_by_users")),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_form_serials")),
    )
    op.create_index("ix_form_serials_batch_state", "form_serials", ["batch_id", "state"])
    op.create_table(
        "printed_papers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("certificate_id", sa.BigInteger(), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("mode", print_mode, nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("verification_code", sa.String(length=16), nullable=False),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("printed_by", sa.BigInteger(), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("replaced_by_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("(voided_at IS NULL) = (void_reason IS NULL)",
                           name=op.f("ck_printed_papers_void_complete")),
        sa.CheckConstraint("mode = 'full' OR serial IS NOT NULL",
                           name=op.f("ck_printed_papers_overlay_has_serial")),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificates.id"],
                                name=op.f("fk_printed_papers_certificate_id_certificates")),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_printed_papers_application_id_applications")),
        sa.ForeignKeyConstraint(["serial"], ["form_serials.serial"],
                                name=op.f("fk_printed_papers_serial_form_serials")),
        sa.ForeignKeyConstraint(["file_sha256"], ["document_files.sha256"],
                                name=op.f("fk_printed_papers_file_sha256_document_files")),
        sa.ForeignKeyConstraint(["printed_by"], ["users.id"],
                                name=op.f("fk_printed_papers_printed_by_users")),
        sa.ForeignKeyConstraint(["replaced_by_id"], ["printed_papers.id"],
                                name=op.f("fk_printed_papers_replaced_by_id_printed_papers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printed_papers")),
    )
    op.create_index(op.f("ix_printed_papers_certificate_id"), "printed_papers",
                    ["certificate_id"])
    op.create_index(op.f("ix_printed_papers_application_id"), "printed_papers",
                    ["application_id"])
    op.create_index("uq_printed_papers_standing", "printed_papers", ["certificate_id"],
                    unique=True, postgresql_where=sa.text("voided_at IS NULL"))
    op.create_index("uq_printed_papers_serial", "printed_papers", ["serial"], unique=True,
                    postgresql_where=sa.text("serial IS NOT NULL"))


def downgrade() -> None:
    op.drop_table("printed_papers")
    op.drop_table("form_serials")
    op.drop_table("form_batches")
    print_mode.drop(op.get_bind(), checkfirst=True)
    serial_state.drop(op.get_bind(), checkfirst=True)
