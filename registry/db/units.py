"""Real-estate units (不动产单元): what is registered — a rural house with its homestead, an
infrastructure asset, a parking space, or land alone.

Rules enforced by the database (migration 0003):
- UNIT-1 The 28-character code is unique and starts with its parcel's code.
- UNIT-2 Each kind carries its own attributes: a rural house its building number, floors,
  structure and floor area; an infrastructure asset its category and managing body; a parking
  space its garage, level and space number; land alone none of these, and fixture code W.
- UNIT-3 `township_code` and `county_code` are the code's first 9 and 6 characters (the
  cadastral district 地籍区 is the township), so statistics group by them without parsing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
from registry.db.types import enum_column


class UnitKind(StrEnum):
    RURAL_HOUSE = "rural_house"  # 农村宅基地及房屋（房地一体）
    INFRASTRUCTURE = "infrastructure"  # 公共基础设施
    PARKING_SPACE = "parking_space"  # 车位
    LAND = "land"  # 土地（无定着物）

    @property
    def label_zh(self) -> str:
        """单元类型 as users read it (exports, charts)."""
        return UNIT_KIND_LABEL_ZH[self]


UNIT_KIND_LABEL_ZH: dict[UnitKind, str] = {
    UnitKind.RURAL_HOUSE: "农房（房地一体）",
    UnitKind.INFRASTRUCTURE: "公共基础设施",
    UnitKind.PARKING_SPACE: "车位",
    UnitKind.LAND: "土地",
}


class UnitStatus(StrEnum):
    """Where the unit stands in the register (what is due, what is done)."""

    SURVEYED = "surveyed"  # 已调查、待登记: known from the ownership survey, no title yet
    REGISTERED = "registered"  # 已登记: has a current title right
    CANCELLED = "cancelled"  # 已注销: its title was cancelled (e.g. the house demolished)
    HISTORIC = "historic"  # 已灭失: split or merged into new units (registry/db/lineage.py)


class InfrastructureCategory(StrEnum):
    ROAD = "road"  # 道路
    BRIDGE = "bridge"  # 桥梁
    TUNNEL = "tunnel"  # 隧道
    WATER = "water"  # 水利设施
    PARK = "park"  # 公园绿地
    OTHER = "other"  # 其他

    @property
    def label_zh(self) -> str:
        return INFRASTRUCTURE_LABEL_ZH[self]


INFRASTRUCTURE_LABEL_ZH: dict[InfrastructureCategory, str] = {
    InfrastructureCategory.ROAD: "道路", InfrastructureCategory.BRIDGE: "桥梁",
    InfrastructureCategory.TUNNEL: "隧道", InfrastructureCategory.WATER: "水利设施",
    InfrastructureCategory.PARK: "公园绿地", InfrastructureCategory.OTHER: "其他",
}


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint(r"code ~ '^[0-9]{12}[GJZ][ABSXCDEFGHWY][0-9]{5}[FLQW][0-9]{8}$'",
                        name="code_format"),
        CheckConstraint("left(code, 9) = township_code AND left(code, 6) = county_code",
                        name="code_divisions"),
        CheckConstraint(
            "kind <> 'rural_house' OR (substr(code, 20, 1) = 'F' AND building_no IS NOT NULL"
            " AND floors >= 1 AND structure IS NOT NULL AND floor_area > 0)",
            name="rural_house_attributes"),
        CheckConstraint(
            "kind <> 'infrastructure' OR (category IS NOT NULL AND managing_body IS NOT NULL)",
            name="infrastructure_attributes"),
        CheckConstraint(
            "kind <> 'parking_space' OR (substr(code, 20, 1) = 'F' AND garage IS NOT NULL"
            " AND space_no IS NOT NULL AND level IS NOT NULL AND space_area > 0)",
            name="parking_space_attributes"),
        CheckConstraint("kind <> 'land' OR substr(code, 20, 9) = 'W00000000'",
                        name="land_has_no_fixture"),
        CheckConstraint("book_value IS NULL OR book_value >= 0", name="book_value_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(28), unique=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcels.id"), index=True)
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    township_code: Mapped[str] = mapped_column(String(12))
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, "unit_kind"))
    status: Mapped[UnitStatus] = mapped_column(enum_column(UnitStatus, "unit_status"),
                                               default=UnitStatus.SURVEYED)
    location: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # rural house 农房 (and any building: 幢号, 层数, 结构, 建筑面积)
    building_no: Mapped[str | None] = mapped_column(String(16))
    floors: Mapped[int | None] = mapped_column(Integer)
    structure: Mapped[str | None] = mapped_column(String(32))  # 砖混, 框架, 土木 …
    floor_area: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))

    # infrastructure 公共基础设施
    category: Mapped[InfrastructureCategory | None] = mapped_column(
        enum_column(InfrastructureCategory, "infrastructure_category"))
    managing_body: Mapped[str | None] = mapped_column(String(128))
    length_m: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    capacity: Mapped[str | None] = mapped_column(String(64))  # e.g. "2000 m³", "4 lanes"
    book_value: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))  # 账面价值 (元)
    completion_year: Mapped[int | None] = mapped_column(Integer)

    # parking space 车位
    garage: Mapped[str | None] = mapped_column(String(128))
    level: Mapped[int | None] = mapped_column(Integer)  # -1 = first basement level
    space_no: Mapped[str | None] = mapped_column(String(16))
    space_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    civil_defence: Mapped[bool] = mapped_column(Boolean, default=False)  # 人防车位
