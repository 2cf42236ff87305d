"""Resumable survey imports (RESUME-1..3 in registry/services/import_files.py): a job started
through the API names the input files it keeps in the object store (`inputs`, null once the
outcome is final or when the CLI ran it) and counts its attempts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("import_jobs", sa.Column("inputs", postgresql.JSONB(), nullable=True))
    op.add_column("import_jobs", sa.Column("attempts", sa.Integer(), server_default="1",
                                           nullable=False))


def downgrade() -> None:
    op.drop_column("import_jobs", "attempts")
    op.drop_column("import_jobs", "inputs")
