"""Right of residence (居住权), easement (地役权) and the maximum-amount mortgage (最高额抵押):
the kinds of right and of case, the easement's dominant unit and purpose, the mortgage's mode
(抵押方式), 最高债权额 and 债权确定期间, and the documents each new kind of case requires.

Migrations run in one transaction, and PostgreSQL does not let a transaction use an enum value
it added (ALTER TYPE … ADD VALUE). So `right_kind` gets its values added (this migration only
names them as text), while `application_kind`, whose new values the requirements below use, is
rebuilt as a new type with every value. Downgrade drops the columns and the requirements;
the enum values stay (unused).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

mortgage_mode = postgresql.ENUM("general", "maximum", name="mortgage_mode", create_type=False)
NEW_CASE_KINDS = ("residence", "residence_cancellation", "easement", "easement_cancellation")
REQUIREMENTS = {
    "residence": ("application_form", "id_proof", "contract"),  # 居住权合同 (§367)
    "residence_cancellation": ("application_form", "id_proof"),
    "easement": ("application_form", "id_proof", "contract"),  # 地役权合同 (§373)
    "easement_cancellation": ("application_form", "id_proof"),
}


def upgrade() -> None:
    for kind in ("residence", "easement"):
        op.execute(f"ALTER TYPE right_kind ADD VALUE IF NOT EXISTS '{kind}'")
    _rebuild_application_kind()
    mortgage_mode.create(op.get_bind(), checkfirst=True)
    op.add_column("rights", sa.Column("dominant_unit_id", sa.BigInteger(), nullable=True))
    op.add_column("rights", sa.Column("purpose", sa.Text(), nullable=True))
    op.add_column("rights", sa.Column("mortgage_mode", mortgage_mode, nullable=True))
    op.add_column("rights", sa.Column("max_amount", sa.Numeric(16, 2), nullable=True))
    op.add_column("rights", sa.Column("claims_start", sa.Date(), nullable=True))
    op.add_column("rights", sa.Column("claims_end", sa.Date(), nullable=True))
    op.create_foreign_key(op.f("fk_rights_dominant_unit_id_units"), "rights", "units",
                          ["dominant_unit_id"], ["id"])
    op.create_index(op.f("ix_rights_dominant_unit_id"), "rights", ["dominant_unit_id"])
    # Every mortgage recorded so far was an ordinary one (一般抵押). Rights never change once
    # recorded (rights_keep_history), so the back-fill runs with that trigger off.
    op.execute("ALTER TABLE rights DISABLE TRIGGER rights_keep_history")
    op.execute("UPDATE rights SET mortgage_mode = 'general' WHERE kind = 'mortgage'")
    op.execute("ALTER TABLE rights ENABLE TRIGGER rights_keep_history")
    op.create_check_constraint(op.f("ck_rights_easement_has_dominant_unit"), "rights",
                               "(kind::text = 'easement') = (dominant_unit_id IS NOT NULL)")
    op.create_check_constraint(op.f("ck_rights_mortgage_has_mode"), "rights",
                               "(kind = 'mortgage') = (mortgage_mode IS NOT NULL)")
    op.create_check_constraint(
        op.f("ck_rights_maximum_mortgage_terms"), "rights",
        "mortgage_mode IS DISTINCT FROM 'maximum' OR (max_amount > 0"
        " AND claims_start IS NOT NULL AND claims_end >= claims_start)")
    op.execute(
        "INSERT INTO document_requirements (application_kind, document_kind) VALUES "
        + ", ".join(f"('{case}', '{kind}')" for case, kinds in REQUIREMENTS.items()
                    for kind in kinds)
        + " ON CONFLICT DO NOTHING")


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
    op.execute("ALTER TYPE application_kind RENAME TO application_kind_0012")
    labels = ", ".join(f"'{v}'" for v in [*values, *NEW_CASE_KINDS])
    op.execute(f"CREATE TYPE application_kind AS ENUM ({labels})")
    for table, column in columns:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE application_kind"
                   f" USING {column}::text::application_kind")
    op.execute("DROP TYPE application_kind_0012")


def downgrade() -> None:
    op.execute("DELETE FROM document_requirements WHERE application_kind::text IN ("
               + ", ".join(f"'{k}'" for k in NEW_CASE_KINDS) + ")")
    for name in ("maximum_mortgage_terms", "mortgage_has_mode", "easement_has_dominant_unit"):
        op.drop_constraint(op.f(f"ck_rights_{name}"), "rights", type_="check")
    op.drop_index(op.f("ix_rights_dominant_unit_id"), table_name="rights")
    op.drop_constraint(op.f("fk_rights_dominant_unit_id_units"), "rights", type_="foreignkey")
    for column in ("claims_end", "claims_start", "max_amount", "mortgage_mode", "purpose",
                   "dominant_unit_id"):
        op.drop_column("rights", column)
    mortgage_mode.drop(op.get_bind(), checkfirst=True)
