"""Parcels (宗地): the spatial units that rights attach to, with their layer and geometry.

Rules enforced by the database (migration 0003), stated once here:
- PARCEL-1 Geometry is a valid, non-empty MultiPolygon in the register's CRS (STORAGE_SRID).
- PARCEL-2 A current parcel may not overlap another current parcel of the same layer by more
  than OVERLAP_TOLERANCE_M2; above- and underground parcels clash only when their elevation
  ranges meet (open ranges: stacked layers that share a boundary plane do not clash).
- PARCEL-3 Surface parcels have no elevation range; above-ground ranges lie at or above 0,
  underground ranges at or below 0, bottom < top.
- PARCEL-4 The parcel code's county segment is the parcel's county; the code is unique among
  current parcels.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
from registry.db.types import enum_column

# The register keeps every geometry in one projected CRS, so that areas are in m² and the
# non-overlap rule (PARCEL-2) compares like with like across county borders: CGCS2000 3-degree
# Gauss-Kruger, central meridian 108°E (EPSG:4545), the zone most of 巴中市 lies in.
STORAGE_SRID = 4545
OVERLAP_TOLERANCE_M2 = 0.05


class Layer(StrEnum):
    """权利设定方式: where in space the land-use right lies."""

    SURFACE = "surface"  # 地表 (2)
    ABOVE = "above"  # 地上 (1)
    UNDERGROUND = "underground"  # 地下 (3)

    @property
    def label_zh(self) -> str:
        """The layer as users read it (messages)."""
        return {Layer.SURFACE: "地表", Layer.ABOVE: "地上", Layer.UNDERGROUND: "地下"}[self]


class Parcel(Base):
    __tablename__ = "parcels"
    __table_args__ = (
        CheckConstraint(r"code ~ '^[0-9]{12}[GJZ][ABSXCDEFGHWY][0-9]{5}$'", name="code_format"),
        CheckConstraint("left(code, 6) = county_code", name="code_in_county"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geometry_valid"),
        CheckConstraint(
            "(layer = 'surface' AND elevation_bottom IS NULL AND elevation_top IS NULL)"
            " OR (layer = 'above' AND elevation_bottom >= 0 AND elevation_top > elevation_bottom)"
            " OR (layer = 'underground' AND elevation_top <= 0"
            " AND elevation_top > elevation_bottom)",
            name="layer_elevation",
        ),
        ForeignKeyConstraint(["land_use_system", "land_use_code"],
                             ["land_use_codes.system", "land_use_codes.code"],
                             name="fk_parcels_land_use"),
        Index("uq_parcels_current_code", "code", unique=True,
              postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(19))
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    layer: Mapped[Layer] = mapped_column(enum_column(Layer, "parcel_layer"))
    elevation_bottom: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    elevation_top: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True, nullable=False))
    area: Mapped[Decimal] = mapped_column(
        Numeric(14, 2), Computed("round(ST_Area(geom)::numeric, 2)", persisted=True))
    declared_area: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    land_use_system: Mapped[str] = mapped_column(String(32))
    land_use_code: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
