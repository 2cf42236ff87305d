"""Access changes are announced: any change to a user or a token (disabled, revoked, roles or
county changed, deleted) sends NOTIFY registry_access when it commits, whoever makes it — the
CLI, an admin's SQL — so that every running worker drops its token cache at once (ACCESS-5 in
registry/services/access.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "api_tokens")


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION registry_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('registry_access', TG_TABLE_NAME);
            RETURN NULL;
        END $$""")
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_access_changed AFTER UPDATE OR DELETE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION registry_access_changed()")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_access_changed ON {table}")
    op.execute("DROP FUNCTION registry_access_changed()")
