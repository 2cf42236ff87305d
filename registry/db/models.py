"""Imports every model module so that `Base.metadata` is complete (for Alembic and tests)."""

from registry.db import access, ledger, reference  # noqa: F401
