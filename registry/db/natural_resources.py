"""Natural-resource registration (自然资源统一确权登记): registration units, the land cover their
natural state is computed from, their cases, ownership, attributes and links.

Rules enforced by the database (migration 0017), stated once here:
- NRUNIT-1 A unit's geometry is a valid, non-empty MultiPolygon in the register's CRS
  (STORAGE_SRID, as parcels); `area_ha` is computed from it (ha, 2 decimals).
- NRUNIT-2 Current units (not ended, not cancelled) do not overlap one another by more than
  OVERLAP_TOLERANCE_M2 (statement trigger, error NR_UNIT_OVERLAP): a river inside a national
  park is part of the park's unit.
- NRUNIT-3 A unit's code is unique among its current rows; a change ends the row and adds a
  new one with the same code (`predecessor_id`), so every version is kept.
- NRUNIT-4 国有 + 集体 + 争议区 areas, when all three are given, sum to the total area
  (within 0.01 ha, the rounding of the parts).
- NRLAND-1 A land-cover polygon's 地类编码 is a class of `land_cover_classes` (the mapping from
  三调 codes to resource types, kept as data); its geometry is a valid MultiPolygon.
- NROWN-1 Ownership is entrusted (委托代理行使) exactly when it names an agent (代理履行主体).
- NRCASE-1 A case's state only moves along the procedure (services/natural_resources/
  procedure.py states it); every step is a row of `nr_case_steps`, append-only.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.codes.natural_resources import ResourceType
from registry.db.base import Base
from registry.db.spatial import STORAGE_SRID
from registry.db.types import enum_column


class RegistrationLevel(StrEnum):
    """登记级别: who registers the unit."""

    NATIONAL = "national"  # 国家级（自然资源部）
    PROVINCIAL = "provincial"  # 省级
    CITY_COUNTY = "city_county"  # 市县级

    @property
    def label_zh(self) -> str:
        return {RegistrationLevel.NATIONAL: "国家级", RegistrationLevel.PROVINCIAL: "省级",
                RegistrationLevel.CITY_COUNTY: "市县级"}[self]


class NaturalUnitStatus(StrEnum):
    PREDELIMITED = "predelimited"  # 预划: drawn, not yet recorded
    REGISTERED = "registered"  # 已登簿
    CANCELLED = "cancelled"  # 已注销


class NaturalCaseKind(StrEnum):
    FIRST = "first"  # 首次登记
    CHANGE = "change"  # 变更登记
    CANCELLATION = "cancellation"  # 注销登记
    CORRECTION = "correction"  # 更正登记

    @property
    def label_zh(self) -> str:
        return {NaturalCaseKind.FIRST: "首次登记", NaturalCaseKind.CHANGE: "变更登记",
                NaturalCaseKind.CANCELLATION: "注销登记",
                NaturalCaseKind.CORRECTION: "更正登记"}[self]


class NaturalCaseState(StrEnum):
    PREDELIMITED = "predelimited"  # 预划登记单元 (a first registration's start)
    OPENED = "opened"  # 受理: a change, cancellation or correction's start
    NOTICED = "noticed"  # 首次登记通告 issued
    SURVEYED = "surveyed"  # 地籍调查 results in
    REVIEWED = "reviewed"  # 审核 passed
    PUBLISHED = "published"  # 公告 running
    RECORDED = "recorded"  # 登簿

    @property
    def label_zh(self) -> str:
        return {NaturalCaseState.PREDELIMITED: "预划", NaturalCaseState.OPENED: "受理",
                NaturalCaseState.NOTICED: "已通告", NaturalCaseState.SURVEYED: "已调查",
                NaturalCaseState.REVIEWED: "已审核", NaturalCaseState.PUBLISHED: "公告中",
                NaturalCaseState.RECORDED: "已登簿"}[self]


class Owner(StrEnum):
    """所有权人."""

    STATE = "state"  # 全民
    COLLECTIVE = "collective"  # 集体

    @property
    def label_zh(self) -> str:
        return {Owner.STATE: "全民", Owner.COLLECTIVE: "集体"}[self]


class Exercise(StrEnum):
    """行使方式."""

    DIRECT = "direct"  # 直接行使
    ENTRUSTED = "entrusted"  # 委托代理行使

    @property
    def label_zh(self) -> str:
        return {Exercise.DIRECT: "直接行使", Exercise.ENTRUSTED: "委托代理行使"}[self]


class LicenceKind(StrEnum):
    """Entered links (关联信息) to rights other registers hold."""

    EXPLORATION = "exploration"  # 探矿权
    MINING = "mining"  # 采矿权
    WATER_ABSTRACTION = "water_abstraction"  # 取水许可
    DISCHARGE = "discharge"  # 排污许可

    @property
    def label_zh(self) -> str:
        return {LicenceKind.EXPLORATION: "探矿权", LicenceKind.MINING: "采矿权",
                LicenceKind.WATER_ABSTRACTION: "取水许可",
                LicenceKind.DISCHARGE: "排污许可"}[self]


class ControlZoneKind(StrEnum):
    """公共管制 要素类型."""

    ECOLOGICAL_REDLINE = "ecological_redline"  # 生态保护红线
    SPATIAL_PLAN = "spatial_plan"  # 国土空间规划分区
    SPECIAL_PROTECTION = "special_protection"  # 特殊保护
    OTHER = "other"  # 其它

    @property
    def label_zh(self) -> str:
        return {ControlZoneKind.ECOLOGICAL_REDLINE: "生态保护红线",
                ControlZoneKind.SPATIAL_PLAN: "国土空间规划分区",
                ControlZoneKind.SPECIAL_PROTECTION: "特殊保护",
                ControlZoneKind.OTHER: "其它"}[self]


def _geometry() -> Geometry:
    return Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True, nullable=False)


class NaturalUnitType(Base):
    """登记单元类型 (NRCODE-2), seeded from registry/codes/natural_resources.py."""

    __tablename__ = "nr_unit_types"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(String(2), ForeignKey("nr_unit_types.code"))


class LandCoverClass(Base):
    """三调 地类 → resource type (NRCODE-3): data a bureau may edit, seeded with the default."""

    __tablename__ = "land_cover_classes"

    dlbm: Mapped[str] = mapped_column(String(4), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[ResourceType] = mapped_column(
        enum_column(ResourceType, "nr_resource_type"))


class LandCoverLayer(Base):
    """One import of a 三调 land-cover layer for a county."""

    __tablename__ = "land_cover_layers"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    source_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source_crs: Mapped[str] = mapped_column(Text)
    features: Mapped[int] = mapped_column(Integer)
    loaded: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    rejects: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LandCover(Base):
    """A 三调 polygon (图斑) of a land-cover layer; a newer import of the county ends it."""

    __tablename__ = "land_cover"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geometry_valid"),
        Index("ix_land_cover_current_geom", "geom", postgresql_using="gist",
              postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("land_cover_layers.id"), index=True)
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"),
                                             index=True)
    bsm: Mapped[str] = mapped_column(Text, default="")  # 标识码
    dlbm: Mapped[str] = mapped_column(String(4), ForeignKey("land_cover_classes.dlbm"))
    qsxz: Mapped[str] = mapped_column(Text, default="")  # 权属性质
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False, nullable=False))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NaturalUnit(Base):
    """自然资源登记单元: one row per version; the current one has `ended_at` NULL."""

    __tablename__ = "nr_units"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geometry_valid"),
        CheckConstraint(
            "state_area_ha IS NULL OR collective_area_ha IS NULL OR disputed_area_ha IS NULL"
            " OR abs(state_area_ha + collective_area_ha + disputed_area_ha"
            " - round((ST_Area(geom) / 10000)::numeric, 2)) <= 0.01",
            name="ownership_areas_sum"),
        CheckConstraint("coalesce(state_area_ha, 0) >= 0 AND coalesce(collective_area_ha, 0) >= 0"
                        " AND coalesce(disputed_area_ha, 0) >= 0", name="areas_not_negative"),
        Index("uq_nr_units_current_code", "code", unique=True,
              postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(Text)
    unit_type: Mapped[str] = mapped_column(String(2), ForeignKey("nr_unit_types.code"))
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    level: Mapped[RegistrationLevel] = mapped_column(
        enum_column(RegistrationLevel, "nr_registration_level"))
    authority: Mapped[str] = mapped_column(Text)  # 登记机构
    geom: Mapped[WKBElement] = mapped_column(_geometry())
    area_ha: Mapped[Decimal] = mapped_column(
        Numeric(15, 2), Computed("round((ST_Area(geom) / 10000)::numeric, 2)", persisted=True))
    location: Mapped[str] = mapped_column(Text, default="")  # 坐落
    bound_east: Mapped[str] = mapped_column(Text, default="")  # 四至
    bound_south: Mapped[str] = mapped_column(Text, default="")
    bound_west: Mapped[str] = mapped_column(Text, default="")
    bound_north: Mapped[str] = mapped_column(Text, default="")
    state_area_ha: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))  # 国有面积
    collective_area_ha: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))  # 集体面积
    disputed_area_ha: Mapped[Decimal | None] = mapped_column(Numeric(15, 2))  # 争议区面积
    status: Mapped[NaturalUnitStatus] = mapped_column(
        enum_column(NaturalUnitStatus, "nr_unit_status"))
    predecessor_id: Mapped[int | None] = mapped_column(ForeignKey("nr_units.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NaturalCase(Base):
    """A registration case of a unit: its kind, where it stands, and what it proposes."""

    __tablename__ = "nr_cases"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[NaturalCaseKind] = mapped_column(enum_column(NaturalCaseKind, "nr_case_kind"))
    state: Mapped[NaturalCaseState] = mapped_column(
        enum_column(NaturalCaseState, "nr_case_state"))
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    unit_code: Mapped[str] = mapped_column(String(32), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("nr_units.id"))  # the row the case is about
    proposed: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    notice_published_on: Mapped[date | None] = mapped_column(Date)  # 公告 first day
    notice_ends_on: Mapped[date | None] = mapped_column(Date)  # 公告 last day
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NaturalCaseStep(Base):
    """One move of a case (NRCASE-1): append-only."""

    __tablename__ = "nr_case_steps"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("nr_cases.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by_user: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")


class NaturalObjection(Base):
    """异议 received during a 公告, and its answer."""

    __tablename__ = "nr_objections"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("nr_cases.id"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    objector: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    received_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    upheld: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class NaturalOwnership(Base):
    """权属状况 of a unit: one row per version; the current one has `ended_at` NULL."""

    __tablename__ = "nr_ownership"
    __table_args__ = (
        CheckConstraint("(exercise = 'entrusted') = (agent_body IS NOT NULL)",
                        name="agent_when_entrusted"),
        Index("uq_nr_ownership_current", "unit_code", unique=True,
              postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(32))
    owner: Mapped[Owner] = mapped_column(enum_column(Owner, "nr_owner"))
    duty_body: Mapped[str] = mapped_column(Text)  # 所有者职责履行主体（代表行使主体）
    exercise: Mapped[Exercise] = mapped_column(enum_column(Exercise, "nr_exercise"))
    duty_content: Mapped[str] = mapped_column(Text, default="")  # 所有者职责内容
    agent_body: Mapped[str | None] = mapped_column(Text)  # 代理履行主体
    agent_content: Mapped[str] = mapped_column(Text, default="")  # 代理履行的所有者职责内容
    case_id: Mapped[int] = mapped_column(ForeignKey("nr_cases.id"))
    begun_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NaturalAttributes(Base):
    """Per-type attributes land cover cannot give (水质, 蓄积量, 草原等级, 储量 …), per unit."""

    __tablename__ = "nr_attributes"
    __table_args__ = (
        Index("uq_nr_attributes_current", "unit_code", "resource_type", unique=True,
              postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(16))  # a ResourceType value or 'mineral'
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NaturalLink(Base):
    """关联信息 entered by a clerk: 探矿权, 采矿权, 取水许可, 排污许可 inside a unit."""

    __tablename__ = "nr_links"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[LicenceKind] = mapped_column(enum_column(LicenceKind, "nr_licence_kind"))
    licence_no: Mapped[str] = mapped_column(Text)
    holder: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    authority: Mapped[str] = mapped_column(Text, default="")
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ControlZone(Base):
    """A public-control zone (生态保护红线, 国土空间规划分区 …) from an imported layer."""

    __tablename__ = "control_zones"
    __table_args__ = (
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geometry_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[ControlZoneKind] = mapped_column(
        enum_column(ControlZoneKind, "nr_control_zone_kind"))
    block_no: Mapped[str] = mapped_column(Text)  # 区块编号
    name: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")  # 管制内容
    designated_on: Mapped[date | None] = mapped_column(Date)
    authority: Mapped[str] = mapped_column(Text, default="")  # 设置单位
    geom: Mapped[WKBElement] = mapped_column(_geometry())
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
