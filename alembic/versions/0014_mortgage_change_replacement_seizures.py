"""Mortgage change and transfer (抵押权变更/转移), certificate replacement (换证/补证), and
court-commissioned seizures (嘱托查封: 轮候查封, 续封): the kinds of case, a mortgage's
priority time (MORTGAGE-2: a changed or transferred mortgage keeps its rank) and a seizure's
type (查封类型), and the documents the new kinds require.

`application_kind` is rebuilt with the new values, as 0013 explains.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_CASE_KINDS = ("mortgage_change", "mortgage_transfer", "certificate_replacement",
                  "certificate_reissue", "seizure_renewal")
REQUIREMENTS = {
    "mortgage_change": ("application_form", "id_proof", "contract"),
    "mortgage_transfer": ("application_form", "id_proof", "contract"),
    "certificate_replacement": ("application_form", "id_proof"),
    "certificate_reissue": ("application_form", "id_proof", "other"),  # the loss notice
    "seizure_renewal": ("court_order",),
}


def _rebuild_application_kind() -> None:
    """application_kind with the new values, as a type created in this transaction."""
    bind = op.get_bind()
    values = bind.execute(sa.text(
        "SELECT enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid"
        " WHERE t.typname = 'application_kind' ORDER BY e.enumsortorder")).scalars().all()
    if set(NEW_CASE_KINDS) <= set(values):
        return
    columns = bind.execute(sa.text(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE udt_name = 'application_kind' AND table_schema = 'public'")).all()
    op.execute("ALTER TYPE application_kind RENAME TO application_kind_0013")
    labels = ", ".join(f"'{v}'" for v in [*values, *NEW_CASE_KINDS])
    op.execute(f"CREATE TYPE application_kind AS ENUM ({labels})")
    for table, column in columns:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE application_kind"
                   f" USING {column}::text::application_kind")
    op.execute("DROP TYPE application_kind_0013")


def upgrade() -> None:
    _rebuild_application_kind()
    op.add_column("rights", sa.Column("priority_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("rights", sa.Column("seizure_type", sa.SmallInteger(), nullable=True))
    op.execute("ALTER TABLE rights DISABLE TRIGGER rights_keep_history")
    op.execute("UPDATE rights SET priority_at = begun_at WHERE kind = 'mortgage'")
    op.execute("UPDATE rights SET seizure_type = 1 WHERE kind = 'seizure'")
    op.execute("ALTER TABLE rights ENABLE TRIGGER rights_keep_history")
    op.create_check_constraint(op.f("ck_rights_mortgage_has_priority"), "rights",
                               "(kind::text = 'mortgage') = (priority_at IS NOT NULL)")
    op.create_check_constraint(op.f("ck_rights_seizure_has_type"), "rights",
                               "(kind::text = 'seizure') = (seizure_type IS NOT NULL)")
    op.execute(
        "INSERT INTO document_requirements (application_kind, document_kind) VALUES "
        + ", ".join(f"('{case}', '{kind}')" for case, kinds in REQUIREMENTS.items()
                    for kind in kinds)
        + " ON CONFLICT DO NOTHING")


def downgrade() -> None:
    op.execute("DELETE FROM document_requirements WHERE application_kind::text IN ("
               + ", ".join(f"'{k}'" for k in NEW_CASE_KINDS) + ")")
    op.drop_constraint(op.f("ck_rights_seizure_has_type"), "rights", type_="check")
    op.drop_constraint(op.f("ck_rights_mortgage_has_priority"), "rights", type_="check")
    op.drop_column("rights", "seizure_type")
    op.drop_column("rights", "priority_at")
