"""The read-only role `registry_reader` (for QGIS and reports: docs/qgis.md).

It may read the spatial layers (parcels, units) and the reference tables (divisions,
land_use_codes) and nothing else: no parties, applications, rights, users or tokens, no writes.
The role is created NOLOGIN and without a password - a migration never holds a secret. Who sets
the password and lets it log in: the private stack at every `registry migrate`/`serve` (from
VAR_DIR/passwords.json); in production the DBA, with `registry reader-password` or
`ALTER ROLE registry_reader LOGIN PASSWORD '…'`.

Roles belong to the cluster, not the database: the downgrade revokes this database's grants and
leaves the role (other databases of the cluster may still grant it something).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READABLE = ("parcels", "units", "divisions", "land_use_codes")


def upgrade() -> None:
    op.execute("""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'registry_reader') THEN
                CREATE ROLE registry_reader NOLOGIN;
            END IF;
        END $$""")
    op.execute("GRANT USAGE ON SCHEMA public TO registry_reader")
    op.execute(f"GRANT SELECT ON {', '.join(READABLE)} TO registry_reader")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON {', '.join(READABLE)} FROM registry_reader")
    op.execute("REVOKE USAGE ON SCHEMA public FROM registry_reader")
