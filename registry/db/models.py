"""Imports every model module so that `Base.metadata` is complete (for Alembic and tests)."""

from registry.db import (  # noqa: F401
    access,
    applications,
    documents,
    exchange,
    ledger,
    lineage,
    natural_resources,
    papers,
    parties,
    reference,
    register,
    rights,
    spatial,
    statistics,
    units,
)
