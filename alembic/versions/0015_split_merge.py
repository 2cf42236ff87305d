"""Split and merge (分割/合并): the kinds of case, the `historic` unit status (a unit split or
merged away), the lineage tables (LINEAGE-1/2 in registry/db/lineage.py) and the documents the
new kinds require.

`application_kind` is rebuilt with the new values, as 0013 explains; `unit_status` only gets
its value added (nothing in this transaction uses it).

Completion statistics (STAT-1, migration 0004) learn two things: a unit split or merged away
stops being due (应登记) from the day its title ended by that case, and a unit made by a split
or merge counts as certified (已发证) from the certification of the case that made it (its
title line starts there, with a predecessor on another unit). `completion_state_of` is 0004's
text with exactly those two edits; no case before this migration is a split or merge, so no
unit's counts change and nothing is recounted.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_CASE_KINDS = ("split", "merge")
REQUIREMENTS = {
    "split": ("application_form", "id_proof", "survey_result"),
    "merge": ("application_form", "id_proof", "survey_result"),
}
TABLES = {"unit_lineage": "units", "parcel_lineage": "parcels"}

# (0004's text, this migration's) — each occurs exactly once in 0004's function.
_NOT_DUE_ONCE_DERIVED = (
    """                       AND f.begun_at >= x.ended_at))), '{}') AS due""",
    """                       AND f.begun_at >= x.ended_at))), '{}')
             - coalesce((SELECT datemultirange(daterange(registry_local_day(min(h.ended_at)),
                                                         NULL))
                           FROM rights h JOIN applications ha
                             ON ha.id = h.ended_by_application_id
                          WHERE h.unit_id = u.id AND h.kind = 'title'
                            AND ha.kind IN ('split', 'merge')
                         HAVING count(*) > 0), '{}') AS due""")
_LINE_STARTS_HERE = (
    """       WHERE f.unit_id = u.id AND f.kind = 'title' AND f.predecessor_id IS NULL
         AND ct.at IS NOT NULL) c""",
    """       WHERE f.unit_id = u.id AND f.kind = 'title'
         AND (f.predecessor_id IS NULL OR NOT EXISTS (
                 SELECT FROM rights pr WHERE pr.id = f.predecessor_id AND pr.unit_id = u.id))
         AND ct.at IS NOT NULL) c""")


def _state_of_0004() -> str:
    spec = importlib.util.spec_from_file_location(
        "registry_migration_0004", Path(__file__).with_name("0004_statistics.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.STATE_OF)


def _state_of() -> str:
    text = _state_of_0004()
    for old, new in (_NOT_DUE_ONCE_DERIVED, _LINE_STARTS_HERE):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _replace_state_of(definition: str) -> None:
    op.execute(definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))


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
    op.execute("ALTER TYPE application_kind RENAME TO application_kind_0014")
    labels = ", ".join(f"'{v}'" for v in [*values, *NEW_CASE_KINDS])
    op.execute(f"CREATE TYPE application_kind AS ENUM ({labels})")
    for table, column in columns:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE application_kind"
                   f" USING {column}::text::application_kind")
    op.execute("DROP TYPE application_kind_0014")


def upgrade() -> None:
    op.execute("ALTER TYPE unit_status ADD VALUE IF NOT EXISTS 'historic'")
    _rebuild_application_kind()
    for table, target in TABLES.items():
        op.create_table(
            table,
            sa.Column("predecessor_id", sa.BigInteger(), nullable=False),
            sa.Column("successor_id", sa.BigInteger(), nullable=False),
            sa.Column("application_id", sa.BigInteger(), nullable=False),
            sa.CheckConstraint("predecessor_id <> successor_id",
                               name=op.f(f"ck_{table}_not_its_own_predecessor")),
            sa.ForeignKeyConstraint(["predecessor_id"], [f"{target}.id"],
                                    name=op.f(f"fk_{table}_predecessor_id_{target}")),
            sa.ForeignKeyConstraint(["successor_id"], [f"{target}.id"],
                                    name=op.f(f"fk_{table}_successor_id_{target}")),
            sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                    name=op.f(f"fk_{table}_application_id_applications")),
            sa.PrimaryKeyConstraint("predecessor_id", "successor_id", name=op.f(f"pk_{table}")),
        )
        op.create_index(op.f(f"ix_{table}_successor_id"), table, ["successor_id"])
        op.create_index(op.f(f"ix_{table}_application_id"), table, ["application_id"])
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                   " FOR EACH ROW EXECUTE FUNCTION registry_forbid_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                   " FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change()")
    op.execute(
        "INSERT INTO document_requirements (application_kind, document_kind) VALUES "
        + ", ".join(f"('{case}', '{kind}')" for case, kinds in REQUIREMENTS.items()
                    for kind in kinds)
        + " ON CONFLICT DO NOTHING")
    _replace_state_of(_state_of())


def downgrade() -> None:
    _replace_state_of(_state_of_0004())
    op.execute("DELETE FROM document_requirements WHERE application_kind::text IN ("
               + ", ".join(f"'{k}'" for k in NEW_CASE_KINDS) + ")")
    for table in TABLES:
        op.drop_table(table)
