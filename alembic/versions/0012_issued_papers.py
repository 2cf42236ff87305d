"""Register extracts and query result certificates (EXTRACT-1, QUERY-1..4 in
registry/services/register_papers.py): issued_papers, one row per paper handed out, numbered
per county and year (number_counters), its signed PDF in document_files.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

issued_paper_kind = postgresql.ENUM("register_extract", "query_result",
                                    name="issued_paper_kind", create_type=False)


def upgrade() -> None:
    issued_paper_kind.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "issued_papers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", issued_paper_kind, nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("county_code", sa.String(length=12), nullable=False),
        sa.Column("unit_id", sa.BigInteger(), nullable=True),
        sa.Column("party_id", sa.BigInteger(), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("verification_code", sa.String(length=16), nullable=False),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("(unit_id IS NULL) OR (party_id IS NULL)",
                           name=op.f("ck_issued_papers_one_subject")),
        sa.CheckConstraint("kind = 'register_extract' OR purpose IS NOT NULL",
                           name=op.f("ck_issued_papers_query_has_purpose")),
        sa.ForeignKeyConstraint(["county_code"], ["divisions.code"],
                                name=op.f("fk_issued_papers_county_code_divisions")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"],
                                name=op.f("fk_issued_papers_unit_id_units")),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"],
                                name=op.f("fk_issued_papers_party_id_parties")),
        sa.ForeignKeyConstraint(["file_sha256"], ["document_files.sha256"],
                                name=op.f("fk_issued_papers_file_sha256_document_files")),
        sa.ForeignKeyConstraint(["issued_by"], ["users.id"],
                                name=op.f("fk_issued_papers_issued_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_papers")),
        sa.UniqueConstraint("number", name=op.f("uq_issued_papers_number")),
    )
    op.create_index(op.f("ix_issued_papers_unit_id"), "issued_papers", ["unit_id"])
    op.create_index(op.f("ix_issued_papers_party_id"), "issued_papers", ["party_id"])
    # A paper handed out stays on record as issued: never changed, deleted or truncated.
    op.execute("CREATE TRIGGER issued_papers_never_changed BEFORE UPDATE OR DELETE ON"
               " issued_papers FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()")
    op.execute("CREATE TRIGGER issued_papers_no_truncate BEFORE TRUNCATE ON issued_papers"
               " FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()")


def downgrade() -> None:
    op.drop_table("issued_papers")
    issued_paper_kind.drop(op.get_bind(), checkfirst=True)
