"""Per-type attributes of a registration unit that land cover cannot give (自然状况 tables of
natural-resources.md §2.1: 水质, 径流量, 蓄积量, 草原质量等级, 储量 …). Rules stated once, here:

- NRATTR-1 The fields each resource type may carry are data (FIELDS, served by
  `attribute_fields`): a Chinese label, a type — text, decimal (≥ 0, exact, kept as a string),
  date (YYYY-MM-DD) or one of a list of values — and a unit of measure where there is one. The
  types are the land-cover resource types (water, wetland, forest, grassland, wasteland) and
  `mineral` (探明储量的矿产资源); another is UNKNOWN_RESOURCE_TYPE.
- NRATTR-2 A field not in its type's list is UNKNOWN_ATTRIBUTE; a value of the wrong type, a
  negative or non-finite decimal, a value not in the list, or text longer than TEXT_MAX is
  INVALID_ATTRIBUTE (`details.field` names it). An empty value (None, "") leaves the field out.
  A mineral unit that states a resource quantity must state its unit (计量单位, INVALID_ATTRIBUTE
  on `reserve_unit`).
- NRATTR-3 Attributes are entered by a clerk (or admin) of the unit's county, on a current, not
  cancelled unit (NR_UNIT_NOT_FOUND otherwise). Entering them ends the current row of that unit
  and type and adds a new one (one current row per unit and type, a unique index in migration
  0017; the unit row is locked meanwhile), so every earlier version is kept; entering exactly
  what is current changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.access import Role
from registry.db.natural_resources import NaturalAttributes
from registry.services.access import Principal, audit, require, require_county
from registry.services.errors import InvalidInput
from registry.services.natural_resources.links import live_unit

TEXT_MAX = 500


class FieldType(StrEnum):
    TEXT = "text"
    DECIMAL = "decimal"  # ≥ 0
    DATE = "date"
    ENUM = "enum"


@dataclass(frozen=True)
class AttributeField:
    name: str
    label_zh: str
    type: FieldType
    values: tuple[str, ...] = ()  # the allowed values of an enum
    unit: str = ""  # 计量单位, as the register prints it


@dataclass(frozen=True)
class ResourceFields:
    """The attributes one resource type may carry."""

    resource_type: str
    label_zh: str
    fields: tuple[AttributeField, ...]

    def field(self, name: str) -> AttributeField | None:
        return next((f for f in self.fields if f.name == name), None)


def _text(name: str, label: str) -> AttributeField:
    return AttributeField(name, label, FieldType.TEXT)


def _decimal(name: str, label: str, unit: str) -> AttributeField:
    return AttributeField(name, label, FieldType.DECIMAL, unit=unit)


def _enum(name: str, label: str, *values: str) -> AttributeField:
    return AttributeField(name, label, FieldType.ENUM, values)


WATER_QUALITY = ("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "劣Ⅴ")  # GB 3838 classes

# NRATTR-1: natural-resources.md §2.1 (the vendor's register pages) and §2.2 (its dictionaries).
FIELDS: tuple[ResourceFields, ...] = (
    ResourceFields("water", "水流", (
        _enum("water_kind", "水流类型", "河流", "湖泊", "水库水面", "冰川及永久积雪"),
        _text("name", "名称"),
        _text("river_ends", "河流起讫点"),
        _decimal("river_length_km", "河流长度", "km"),
        _text("channel_grade", "河道等级"),
        _decimal("annual_runoff_1e8m3", "多年平均径流量", "亿m³"),
        _enum("water_quality", "水质", *WATER_QUALITY),
        _decimal("storage_1e8m3", "年初蓄水量", "亿m³"),
    )),
    ResourceFields("wetland", "湿地", (
        _enum("wetland_kind", "湿地类型", "红树林地", "森林沼泽", "灌丛沼泽", "沼泽草地", "盐田",
              "沿海滩涂", "内陆滩涂", "沼泽地"),
        _text("vegetation", "植被类型"),
        _decimal("vegetation_area_ha", "植被面积", "公顷"),
        _text("dominant_species", "主要优势植物种（建群种）"),
        _text("protected_birds", "国家及省级重点保护湿地鸟类"),
        _enum("water_quality", "水质类别", *WATER_QUALITY),
        _text("water_supply", "水源补给状况"),
    )),
    ResourceFields("forest", "森林", (
        _enum("forest_kind", "森林类型", "乔木林地", "竹林地", "灌木林地", "其他林地"),
        _text("main_function", "主导功能"),
        _text("main_species", "主要树种"),
        _text("forest_category", "林种"),
        _decimal("stock_m3", "总蓄积量", "m³"),
    )),
    ResourceFields("grassland", "草原", (
        _enum("grassland_kind", "草地类型", "天然牧草地", "人工牧草地", "其他草地"),
        _text("grassland_type", "草原类型"),
        _text("grassland_grade", "草原质量等级"),
    )),
    ResourceFields("wasteland", "荒地", (
        _enum("wasteland_kind", "荒地类型", "沙地", "裸土地", "裸岩石砾地"),
    )),
    ResourceFields("mineral", "探明储量的矿产资源", (
        _text("mineral", "资源类型（矿种）"),
        _text("block_no", "区块编号"),
        _text("address", "矿区地址"),
        AttributeField("estimated_on", "储量估算基准日", FieldType.DATE),
        _decimal("mine_area_ha", "矿区/油气田总面积", "公顷"),
        _decimal("estimate_area_ha", "储量估算范围面积", "公顷"),
        _enum("combination", "矿产组合", "单一", "主要", "共生", "伴生"),
        _enum("reserve_unit", "计量单位", "万吨", "千克", "万立方米"),
        _decimal("inferred", "推断资源量", ""),
        _decimal("indicated", "控制资源量", ""),
        _decimal("measured", "探明资源量", ""),
        _decimal("proven_geological", "探明地质储量（油气）", ""),
        _text("grade", "主要组分平均品位"),
    )),
)
_BY_TYPE = {r.resource_type: r for r in FIELDS}
# NRATTR-2: quantities whose figure means nothing without 计量单位.
QUANTITIES = ("inferred", "indicated", "measured", "proven_geological")


def attribute_fields() -> tuple[ResourceFields, ...]:
    """NRATTR-1: the field catalogue, in the register's order."""
    return FIELDS


def _invalid(resource: ResourceFields, spec: AttributeField, value: Any, why_zh: str,
             why_en: str) -> InvalidInput:
    return InvalidInput("INVALID_ATTRIBUTE", f"{resource.label_zh}“{spec.label_zh}”{why_zh}",
                        f"{resource.resource_type}.{spec.name}: {why_en}", field=spec.name,
                        resource_type=resource.resource_type, value=str(value)[:100])


def _value(resource: ResourceFields, spec: AttributeField, value: Any) -> str:
    if spec.type is FieldType.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise _invalid(resource, spec, value, "应为数值", "expected a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise _invalid(resource, spec, value, "应为有限数值", "expected a finite number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _invalid(resource, spec, value, "应为数值", "expected a number") from None
        if not number.is_finite():
            raise _invalid(resource, spec, value, "应为有限数值", "expected a finite number")
        if number < 0:
            raise _invalid(resource, spec, value, "不得为负数", "must not be negative")
        return str(number)
    if spec.type is FieldType.DATE:
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise _invalid(resource, spec, value, "应为日期（YYYY-MM-DD）",
                           "expected a date YYYY-MM-DD") from None
    if not isinstance(value, str):
        raise _invalid(resource, spec, value, "应为文字", "expected text")
    text = value.strip()
    if spec.type is FieldType.ENUM and text not in spec.values:
        raise _invalid(resource, spec, value, f"应为以下之一：{'、'.join(spec.values)}",
                       f"expected one of {', '.join(spec.values)}")
    if len(text) > TEXT_MAX:
        raise _invalid(resource, spec, value, f"不得超过{TEXT_MAX}字",
                       f"longer than {TEXT_MAX} characters")
    return text


def validate_attributes(resource_type: str, values: dict[str, Any]) -> dict[str, str]:
    """NRATTR-1, NRATTR-2: `values` checked and normalised (every value a string)."""
    resource = _BY_TYPE.get(resource_type)
    if resource is None:
        raise InvalidInput("UNKNOWN_RESOURCE_TYPE", f"未知的资源类型：{resource_type}",
                           f"unknown resource type: {resource_type}",
                           resource_type=resource_type, known=sorted(_BY_TYPE))
    unknown = sorted(name for name in values if resource.field(name) is None)
    if unknown:
        raise InvalidInput("UNKNOWN_ATTRIBUTE",
                           f"{resource.label_zh}没有以下属性：{'、'.join(unknown)}",
                           f"{resource_type} has no attribute {', '.join(unknown)}",
                           field=unknown[0], fields=unknown, resource_type=resource_type)
    out: dict[str, str] = {}
    for spec in resource.fields:  # catalogue order: the first bad field is reported
        value = values.get(spec.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        out[spec.name] = _value(resource, spec, value)
    if resource_type == "mineral" and "reserve_unit" not in out \
            and any(q in out for q in QUANTITIES):
        spec = resource.field("reserve_unit")
        assert spec is not None
        raise _invalid(resource, spec, "", "须填写（已填写资源量）",
                       "is required when a resource quantity is given")
    return out


def set_attributes(session: Session, principal: Principal | None, unit_code: str,
                   resource_type: str, values: dict[str, Any], now: datetime,
                   request_id: str | None = None) -> NaturalAttributes:
    """NRATTR-3: the unit's new current attributes of `resource_type`."""
    actor = require(principal, Role.CLERK)
    checked = validate_attributes(resource_type, values)
    unit = live_unit(session, unit_code, lock=True)
    require_county(actor, unit.county_code)
    current = session.scalar(select(NaturalAttributes).where(
        NaturalAttributes.unit_code == unit.code,
        NaturalAttributes.resource_type == resource_type,
        NaturalAttributes.ended_at.is_(None)).with_for_update())
    if current is not None:
        if current.attributes == checked:
            return current
        current.ended_at = now
        session.flush()  # the unique index of current rows sees the end first
    row = NaturalAttributes(unit_code=unit.code, resource_type=resource_type,
                            attributes=checked, entered_at=now, entered_by=actor.user_id)
    session.add(row)
    session.flush()
    audit(session, actor, "setNaturalAttributes", f"nr_unit:{unit.code}", request_id,
          {"resource_type": resource_type, "attributes_id": row.id,
           "replaced": current.id if current is not None else None})
    return row


def attributes_of(session: Session, unit_code: str) -> list[NaturalAttributes]:
    """The unit's current attribute rows, in the catalogue's order of types."""
    rows = session.scalars(select(NaturalAttributes).where(
        NaturalAttributes.unit_code == unit_code, NaturalAttributes.ended_at.is_(None)))
    order = {r.resource_type: i for i, r in enumerate(FIELDS)}
    return sorted(rows, key=lambda r: order.get(r.resource_type, len(order)))
