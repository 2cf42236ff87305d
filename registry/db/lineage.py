"""Lineage (分割/合并): which parcels and units a split or merge made from which.

Rules enforced by the database (migration 0015):
- LINEAGE-1 A link names a predecessor, a successor and the recorded case that made it; a
  pair is linked once; a unit or parcel is never its own predecessor.
- LINEAGE-2 Links are append-only (UPDATE, DELETE and TRUNCATE are refused): the register's
  history of what became what never changes. Which links a case makes, and what happens to the
  rights, is services/registration/splits.py.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base


class UnitLineage(Base):
    __tablename__ = "unit_lineage"
    __table_args__ = (
        CheckConstraint("predecessor_id <> successor_id", name="not_its_own_predecessor"),
    )

    predecessor_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    successor_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True,
                                              index=True)
    application_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("applications.id"),
                                                index=True)


class ParcelLineage(Base):
    __tablename__ = "parcel_lineage"
    __table_args__ = (
        CheckConstraint("predecessor_id <> successor_id", name="not_its_own_predecessor"),
    )

    predecessor_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), primary_key=True)
    successor_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), primary_key=True,
                                              index=True)
    application_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("applications.id"),
                                                index=True)
