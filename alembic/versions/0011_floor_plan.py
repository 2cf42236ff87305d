"""The document kind `floor_plan` (房产分户图): a house's or parking space's floor plan, printed
on the 附图 of its certificate (registry/papers/floor_plan.py).

Upgrade adds the value to the enum `document_kind` (nothing uses it in this migration, so it may
run in the same transaction as the others). Downgrade rebuilds the type without it, and refuses
while any document, upload in flight or requirement is of that kind (documents are never
deleted: remove them from the register first, or stay at this revision).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The kinds before this revision, in the order of 0006.
KINDS_BEFORE = ("application_form", "id_proof", "title_source", "survey_result", "site_photo",
                "court_order", "contract", "other")
# Every column of type document_kind.
COLUMNS = (("documents", "kind"), ("document_uploads", "kind"),
           ("document_requirements", "document_kind"))


def upgrade() -> None:
    op.execute("ALTER TYPE document_kind ADD VALUE IF NOT EXISTS 'floor_plan' BEFORE 'other'")


def downgrade() -> None:
    in_use = " OR ".join(f"EXISTS (SELECT FROM {table} WHERE {column}::text = 'floor_plan')"
                         for table, column in COLUMNS)
    op.execute(f"""
        DO $$
        BEGIN
            IF {in_use} THEN
                RAISE EXCEPTION 'documents of kind floor_plan exist: cannot downgrade below 0011';
            END IF;
        END
        $$""")
    op.execute("ALTER TYPE document_kind RENAME TO document_kind_0011")
    values = ", ".join(f"'{kind}'" for kind in KINDS_BEFORE)
    op.execute(f"CREATE TYPE document_kind AS ENUM ({values})")
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE document_kind"
                   f" USING {column}::text::document_kind")
    op.execute("DROP TYPE document_kind_0011")
