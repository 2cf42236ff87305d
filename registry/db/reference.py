"""Reference data: administrative divisions (行政区划) and land-use codes (土地用途).

Both are loaded by migrations (the rows are part of the schema's history) and are read-only for
the application. The set of known county codes that unit codes are validated against comes from
`divisions` (services/codes.py, services/reference.py), not from code.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
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
