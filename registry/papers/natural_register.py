"""The papers of natural-resource registration (自然资源统一确权登记) as data for their templates:
the 自然资源登记簿 pages of a unit, the 首次登记通告 / 登记公告 of a case, the optional
自然资源所有权证书, and the unit's map (附图). Reads only; numbering, signing and storing are
registry/services/natural_resources/papers.py.

Rules, stated once here:
- NRPAPER-1 The register pages of a unit are rebuilt from the register, never from what a clerk
  types: the entries naming the unit (entry_type `nr_*`, body `natural_resource.unit.code`)
  recorded at or before T, in chain order; the LAST of them is the unit as recorded (its body,
  NRCASE-7). The unit type's name comes from `nr_unit_types`, the 登簿人 from `users`
  (the entry's `recorded_by`); every entry is listed as the unit's history (登记类型, 时间, 业务号).
- NRPAPER-2 Pages (natural-resources.md §2.1): 封面 (名称, 单元号, 类型, 登记机构) → 权属状况
  (空间范围 = 坐落 + 四至, 总面积 with 国有/集体/争议区, 全民所有 ownership, 登记类型/时间/登簿人)
  → 自然状况 (总面积, 自然资源总面积, 水流/湿地/森林/草原/荒地 area and 图斑数, 非自然资源面积,
  then per-type attributes) → 关联信息 (不动产权利, 矿业权/取水/排污 licences, 公共管制) → 记载
  → 附图. Each of the body's `areas`, `real_estate_links`, `licences`, `control_zones` and
  `attributes` is optional: a section the entry does not hold prints 无.
- NRPAPER-3 Holders print with ID numbers masked (PII-2); a number the entry already holds
  masked is printed as it is.
- NRPAPER-4 The 附图 is the unit's outline from its current geometry (`nr_units`, or a case's
  proposed geometry for a 公告) on the drawing area, north up, at the most detailed ratio of
  the 1-2-5 series not finer than 1:MIN_SCALE at which it fits (MAP-5/6 of parcel_map.py: the
  same scale bar and north arrow), with the 制图日期 (the issuing day). The drawing is not part
  of what a paper says (its digest), as the 宗地图 is not (PRINT-5).
- NRPAPER-5 A 首次登记通告 names the case's unit (code, name, type, 坐落, area) and the county's
  notice number; a 登记公告 adds the 自然状况 and 权属状况 the case proposes (for a change or
  correction with a new description: the proposed one) and the notice period, with the map.
- NRPAPER-6 The certificate (自然资源所有权证书) says what the last entry says, in the vendor
  template's fields (natural-resources.md §1.4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import quoteattr

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.codes.natural_resources import RESOURCE_TYPE_LABEL_ZH, ResourceType
from registry.db.access import User
from registry.db.natural_resources import (
    Exercise,
    NaturalCase,
    NaturalCaseKind,
    NaturalUnit,
    NaturalUnitStatus,
    NaturalUnitType,
    Owner,
    RegistrationLevel,
)
from registry.db.register import EntryType, RegisterEntry
from registry.db.spatial import STORAGE_SRID
from registry.papers.extract import moment
from registry.papers.parcel_map import (
    CAPTION_TEXT_MM,
    FONT_FAMILY,
    _n,
    _north_arrow,
    _round_up,
    _scale_bar,
    _text,
)
from registry.services.errors import DomainError
from registry.services.natural_resources.attributes import attribute_fields
from registry.services.pii import mask_id_number

NONE = "无"
# NRPAPER-2: the resource types of the 自然状况 page, in the register's order.
PAGE_TYPES = (ResourceType.WATER, ResourceType.WETLAND, ResourceType.FOREST,
              ResourceType.GRASSLAND, ResourceType.WASTELAND)
EXTRA_TYPE_LABELS = {"mineral": "探明储量的矿产资源"}
STATUS_ZH = {NaturalUnitStatus.PREDELIMITED.value: "预划",
             NaturalUnitStatus.REGISTERED.value: "已登簿",
             NaturalUnitStatus.CANCELLED.value: "已注销"}

# NRPAPER-4: the drawing.
MIN_SCALE = 1000
MAP_MARGIN_MM = 14.0
MAP_CAPTION_MM = 14.0
UNIT_FILL = "#dcefd2"
UNIT_STROKE_MM = 0.5


# ---------------------------------------------------------------------------- helpers


def china_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _ha(value: Any) -> str:
    return NONE if value in (None, "") else f"{Decimal(str(value)):,.2f}"


def _moment_text(value: Any) -> str:
    """A stored time (ISO text or datetime) as the papers print it; other text as it is."""
    if isinstance(value, datetime):
        return moment(value)
    try:
        return moment(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value or "")


def _masked(id_type: Any, number: Any) -> str:
    number = str(number or "")
    if not number or "*" in number:
        return number
    return mask_id_number(id_type, number)


def _label(enum: Any, value: Any) -> str:
    try:
        return str(enum(value).label_zh)
    except ValueError:
        return str(value or "")


def spatial_extent(location: str, bounds: list[str] | None) -> str:
    """空间范围: the 坐落 and the 四至 description (east, south, west, north)."""
    names = ("东至", "南至", "西至", "北至")
    parts = [f"{n}{b}" for n, b in zip(names, bounds or [], strict=False) if b]
    return "；".join(p for p in [location, "，".join(parts)] if p) or NONE


def total_area(unit: dict[str, Any]) -> str:
    """总面积 with the 国有 / 集体 / 争议区 parts when the unit records them."""
    parts = [(label, unit.get(key)) for label, key in (
        ("国有", "state_area_ha"), ("集体", "collective_area_ha"), ("争议区", "disputed_area_ha"))]
    known = [f"{label}{_ha(v)}公顷" for label, v in parts if v is not None]
    whole = f"{_ha(unit.get('area_ha'))}公顷"
    return f"{whole}（{'，'.join(known)}）" if known else whole


def type_name(session: Session, code: str) -> str:
    name = session.scalar(select(NaturalUnitType.name).where(NaturalUnitType.code == code))
    return f"{name}（{code}）" if name else code


def ownership_rows(ownership: dict[str, Any] | None) -> list[list[str]]:
    """权属状况 of the 全民所有 resources in the unit."""
    if not ownership:
        return [["所有权人", NONE]]
    return [["所有权人", _label(Owner, ownership.get("owner"))],
            ["所有者职责履行主体", ownership.get("duty_body") or NONE],
            ["权利行使方式", _label(Exercise, ownership.get("exercise"))],
            ["所有者职责内容", ownership.get("duty_content") or NONE],
            ["所有者职责代理履行主体", ownership.get("agent_body") or NONE],
            ["代理履行的所有者职责内容", ownership.get("agent_content") or NONE]]


# ------------------------------------------------------------------------ the register


def natural_entries(session: Session, code: str,
                    at: datetime | None = None) -> list[RegisterEntry]:
    """NRPAPER-1: the register entries naming unit `code`, recorded by `at`, in chain order."""
    query = select(RegisterEntry).where(
        RegisterEntry.entry_type.in_([t.value for t in EntryType if t.value.startswith("nr_")]),
        RegisterEntry.payload["body"]["natural_resource"]["unit"]["code"].astext == code)
    if at is not None:
        query = query.where(RegisterEntry.recorded_at <= at)
    return list(session.scalars(query.order_by(RegisterEntry.county_code, RegisterEntry.seq)))


def body_of(entry: RegisterEntry) -> dict[str, Any]:
    body = entry.payload["body"]["natural_resource"]
    assert isinstance(body, dict)
    return body


def _recorder(session: Session, entry: RegisterEntry) -> str:
    if entry.recorded_by is None:
        return ""
    return session.scalar(select(User.display_name).where(User.id == entry.recorded_by)) or ""


def _areas(areas: dict[str, Any] | None) -> dict[str, Any]:
    """自然状况 from the entry's `areas` (NRPAPER-2): None when the entry holds none."""
    if not areas:
        return {"recorded": False, "natural_total": NONE, "non_resource": NONE,
                "uncovered": NONE, "types": []}
    by_type = {str(t.get("type")): t for t in areas.get("types") or []}
    rows = []
    for kind in PAGE_TYPES:
        found = by_type.get(kind.value, {})
        rows.append([str(found.get("label_zh") or kind.label_zh), _ha(found.get("area_ha", 0)),
                     str(found.get("polygons", 0))])
    non_resource = areas.get("non_resource_ha")
    if non_resource is None and ResourceType.NON_RESOURCE.value in by_type:
        non_resource = by_type[ResourceType.NON_RESOURCE.value].get("area_ha")
    return {"recorded": True, "natural_total": _ha(areas.get("natural_total_ha")),
            "non_resource": _ha(non_resource), "uncovered": _ha(areas.get("uncovered_ha")),
            "types": rows}


def _resource_label(resource_type: str) -> str:
    try:
        return RESOURCE_TYPE_LABEL_ZH[ResourceType(resource_type)]
    except ValueError:
        return EXTRA_TYPE_LABELS.get(resource_type, resource_type)


def attribute_tables(attributes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per-type attribute rows (水质, 蓄积量 …) with their labels and units."""
    if not attributes:
        return []
    specs = {r.resource_type: r for r in attribute_fields()}
    tables = []
    for resource_type, values in attributes.items():
        spec = specs.get(resource_type)
        title = spec.label_zh if spec else _resource_label(resource_type)
        rows = []
        for name, value in (values or {}).items():
            field = spec.field(name) if spec else None
            label = field.label_zh if field else name
            unit = f" {field.unit}" if field and field.unit else ""
            rows.append([label, f"{value}{unit}"])
        if rows:
            tables.append({"title": title, "rows": rows})
    return tables


def _holders(holders: list[dict[str, Any]] | None) -> str:
    named = [f"{h.get('name', '')}（{_masked(h.get('id_type'), h.get('id_number'))}）"
             if h.get("id_number") else str(h.get("name", "")) for h in holders or []]
    return "、".join(named) or NONE


def link_tables(body: dict[str, Any]) -> dict[str, list[list[str]]]:
    """关联信息 (NRPAPER-2): rows of the three tables; empty lists print 无."""
    real_estate = []
    for link in body.get("real_estate_links") or []:
        area = _ha(link.get("parcel_area_m2"))
        if link.get("overlap_m2") not in (None, ""):
            area += f"（单元内{_ha(link.get('overlap_m2'))}）"
        real_estate.append([str(link.get("unit_code", "")),
                            str(link.get("right_type_label") or link.get("right_kind") or ""),
                            _holders(link.get("holders")), area,
                            _moment_text(link.get("recorded_at")),
                            str(link.get("authority", ""))])
    licences = []
    for lic in body.get("licences") or []:
        start, end = lic.get("valid_from") or "", lic.get("valid_to") or ""
        term = f"{start}至{end}" if start or end else NONE
        licences.append([str(lic.get("label_zh") or lic.get("kind") or ""),
                         str(lic.get("licence_no", "")), str(lic.get("holder", "")), term,
                         str(lic.get("authority", ""))])
    zones = [[str(z.get("label_zh") or z.get("kind") or ""), str(z.get("block_no", "")),
              str(z.get("name", "")), _ha(z.get("overlap_ha")), str(z.get("authority", ""))]
             for z in body.get("control_zones") or []]
    return {"real_estate": real_estate, "licences": licences, "zones": zones}


def register_pages(session: Session, code: str, at: datetime) -> dict[str, Any] | None:
    """NRPAPER-1/2: the pages of unit `code`'s register as of `at`; None when no entry names
    it by then (never recorded)."""
    entries = natural_entries(session, code, at)
    if not entries:
        return None
    last = entries[-1]
    body = body_of(last)
    unit = body["unit"]
    kind_label = EntryType(last.entry_type).label_zh
    recorded = {"entry_type": kind_label, "recorded_at": moment(last.recorded_at),
                "recorder": _recorder(session, last), "case": str(body.get("case", ""))}
    unit_type = type_name(session, str(unit.get("unit_type", "")))
    cover = [["登记单元名称", unit.get("name", "")], ["登记单元号", unit.get("code", "")],
             ["登记单元类型", unit_type], ["登记机构", unit.get("authority", "")]]
    ownership = [["登记单元号", unit.get("code", "")], ["登记单元名称", unit.get("name", "")],
                 ["空间范围", spatial_extent(unit.get("location", ""), unit.get("bounds"))],
                 ["总面积", total_area(unit)]]
    recording = [["登记类型", kind_label], ["登记原因", body.get("reason") or NONE],
                 ["业务号", recorded["case"]], ["登记时间", recorded["recorded_at"]],
                 ["登簿人", recorded["recorder"] or NONE],
                 ["单元状态", STATUS_ZH.get(str(unit.get("status")), str(unit.get("status")))],
                 ["登记级别", _label(RegistrationLevel, unit.get("level"))]]
    history = [[EntryType(e.entry_type).label_zh, moment(e.recorded_at),
                str(body_of(e).get("case", "")), e.hash[:16]] for e in entries]
    return {"unit_code": unit.get("code", ""), "unit_name": unit.get("name", ""),
            "case": recorded["case"], "as_of": moment(at), "cover": cover, "ownership": ownership,
            "owned": ownership_rows(body.get("ownership")), "recording": recording,
            "natural": {"total": f"{_ha(unit.get('area_ha'))}",
                        **_areas(body.get("areas")),
                        "attributes": attribute_tables(body.get("attributes"))},
            "links": link_tables(body), "history": history,
            "geometry_md5": unit.get("geometry_md5", "")}


def last_body(session: Session, code: str, at: datetime) -> tuple[RegisterEntry, dict[str, Any]]:
    entries = natural_entries(session, code, at)
    if not entries:
        raise DomainError("NR_UNIT_NOT_RECORDED", f"登记单元{code}尚未登簿",
                          f"unit {code} has not been recorded", {"unit": code})
    return entries[-1], body_of(entries[-1])


# ---------------------------------------------------------------------- the certificate


def certificate_fields(session: Session, code: str, at: datetime) -> dict[str, Any]:
    """NRPAPER-6: the certificate's fields, from the last entry naming the unit."""
    entry, body = last_body(session, code, at)
    unit = body["unit"]
    owned = body.get("ownership") or {}
    areas = _areas(body.get("areas"))
    if areas["recorded"]:
        state = "；".join(f"{label}{area}公顷（图斑{count}个）"
                         for label, area, count in areas["types"])
        state += (f"；自然资源总面积{areas['natural_total']}公顷"
                  f"；非自然资源{areas['non_resource']}公顷")
    else:
        state = NONE
    content = "；".join(c for c in (owned.get("duty_content"), owned.get("agent_content")) if c)
    note = (f"{EntryType(entry.entry_type).label_zh}，业务号{body.get('case', '')}，"
            f"登簿时间{moment(entry.recorded_at)}")
    return {"rows": [
        ["登记单元名称", unit.get("name", "")],
        ["登记单元类型", type_name(session, str(unit.get("unit_type", "")))],
        ["登记单元号", unit.get("code", "")],
        ["空间范围", spatial_extent(unit.get("location", ""), unit.get("bounds"))],
        ["所有权人", _label(Owner, owned.get("owner")) if owned else NONE],
        ["代表行使主体", owned.get("duty_body") or NONE],
        ["权利行使方式", _label(Exercise, owned.get("exercise")) if owned else NONE],
        ["代理行使主体", owned.get("agent_body") or NONE],
        ["行使内容", content or NONE],
        ["总面积", total_area(unit)],
        ["自然资源状况", state],
        ["附记", note]], "unit_code": unit.get("code", ""),
        "case": str(body.get("case", "")), "authority": unit.get("authority", "")}


# --------------------------------------------------------------------------- the notice


def _unit_row(session: Session, unit: dict[str, Any]) -> list[str]:
    return [str(unit.get("code", "")), str(unit.get("name", "")),
            type_name(session, str(unit.get("unit_type", ""))),
            str(unit.get("location") or NONE), _ha(unit.get("area_ha"))]


def notice_unit(session: Session, case: NaturalCase) -> dict[str, Any]:
    """The unit a notice names (NRPAPER-5): the case's unit row, or the description a change
    or correction proposes, with the proposed geometry's area."""
    row = session.get(NaturalUnit, case.unit_id)
    assert row is not None
    proposed = case.proposed.get("unit") if case.kind in (
        NaturalCaseKind.CHANGE, NaturalCaseKind.CORRECTION) else None
    if proposed is None:
        return {"code": row.code, "name": row.name, "unit_type": row.unit_type,
                "authority": row.authority, "location": row.location,
                "bounds": [row.bound_east, row.bound_south, row.bound_west, row.bound_north],
                "area_ha": str(row.area_ha),
                "state_area_ha": None if row.state_area_ha is None else str(row.state_area_ha),
                "collective_area_ha": (None if row.collective_area_ha is None
                                       else str(row.collective_area_ha)),
                "disputed_area_ha": (None if row.disputed_area_ha is None
                                     else str(row.disputed_area_ha)),
                "geometry": None}
    area = session.execute(text(
        f"SELECT round((ST_Area({_PROPOSED_GEOMETRY}) / 10000)::numeric, 2)"),
        {"geojson": json.dumps(proposed["geometry"]), "crs": int(proposed["crs"])}).scalar_one()
    return {"code": row.code, "name": proposed["name"], "unit_type": proposed["unit_type"],
            "authority": proposed["authority"], "location": proposed.get("location") or "",
            "bounds": proposed.get("bounds") or [], "area_ha": str(area),
            "state_area_ha": proposed.get("state_area_ha"),
            "collective_area_ha": proposed.get("collective_area_ha"),
            "disputed_area_ha": proposed.get("disputed_area_ha"),
            "geometry": {"geojson": proposed["geometry"], "crs": int(proposed["crs"])}}


def notice_pages(session: Session, case: NaturalCase, announcement: bool,
                 ownership: dict[str, Any] | None) -> dict[str, Any]:
    """NRPAPER-5: a 通告 (`announcement` False) or 公告 of `case`, as the template reads it."""
    unit = notice_unit(session, case)
    pages: dict[str, Any] = {
        "case": case.number, "kind": case.kind.label_zh, "announcement": announcement,
        "notice_no": str(case.proposed.get("notice_no") or ""),
        "units": [_unit_row(session, unit)], "unit_code": unit["code"],
        "authority": unit["authority"]}
    noticed_on = case.proposed.get("noticed_on")
    pages["noticed_on"] = china_day(date.fromisoformat(noticed_on)) if noticed_on else ""
    if announcement:
        assert case.notice_published_on is not None and case.notice_ends_on is not None
        pages["period_from"] = china_day(case.notice_published_on)
        pages["period_to"] = china_day(case.notice_ends_on)
        pages["natural"] = [["登记单元名称", unit["name"]], ["登记单元号", unit["code"]],
                            ["登记单元类型", type_name(session, unit["unit_type"])],
                            ["空间范围", spatial_extent(unit["location"], unit["bounds"])],
                            ["总面积", total_area(unit)]]
        pages["owned"] = ownership_rows(ownership)
    return pages


# ------------------------------------------------------------------------------ the map


@dataclass(frozen=True)
class UnitMap:
    svg: str
    scale_denominator: int
    area_ha: str
    unit_code: str


_PROPOSED_GEOMETRY = (f"ST_Multi(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:geojson), :crs),"
                      f" {STORAGE_SRID}))")
_CURRENT_GEOMETRY = "(SELECT geom FROM nr_units WHERE code = :code AND ended_at IS NULL)"

_MAP_SQL = """
    WITH g AS (SELECT {geometry} AS geom)
    SELECT ST_XMin(g.geom) AS xmin, ST_YMin(g.geom) AS ymin, ST_XMax(g.geom) AS xmax,
           ST_YMax(g.geom) AS ymax, round((ST_Area(g.geom) / 10000)::numeric, 2) AS area,
           ST_AsSVG(ST_Affine(g.geom, :k, 0, 0, :k, -:west * :k, -:north * :k), 0, 2) AS path
      FROM g
"""


def unit_map(session: Session, code: str, drawn_on: date, *,
             proposed: dict[str, Any] | None = None, width_mm: float = 170,
             height_mm: float = 190) -> UnitMap:
    """NRPAPER-4: the outline of unit `code` (its current geometry, or the `proposed`
    {"geojson", "crs"}) on a width × height mm drawing."""
    geometry = _CURRENT_GEOMETRY if proposed is None else _PROPOSED_GEOMETRY
    params: dict[str, Any] = {"code": code} if proposed is None else {
        "geojson": json.dumps(proposed["geojson"]), "crs": proposed["crs"]}
    sql = text(_MAP_SQL.format(geometry=geometry))
    extent = session.execute(sql, {**params, "k": 1.0, "west": 0.0, "north": 0.0}).one()
    if extent.xmin is None:
        raise DomainError("NO_GEOMETRY", "登记单元无图形，无法绘制附图",
                          "the unit has no geometry to draw", {"unit": code})
    map_h = height_mm - MAP_CAPTION_MM
    scale = _round_up(max(MIN_SCALE,
                          (extent.xmax - extent.xmin) * 1000.0 / (width_mm - 2 * MAP_MARGIN_MM),
                          (extent.ymax - extent.ymin) * 1000.0 / (map_h - 2 * MAP_MARGIN_MM)))
    mm_per_m = 1000.0 / scale
    west = (extent.xmin + extent.xmax) / 2 - (width_mm / 2) / mm_per_m
    north = (extent.ymin + extent.ymax) / 2 + (map_h / 2) / mm_per_m
    drawn = session.execute(sql, {**params, "k": mm_per_m, "west": west, "north": north}).one()
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm}mm" height="{height_mm}mm" '
        f'viewBox="0 0 {width_mm} {height_mm}" font-family={quoteattr(FONT_FAMILY)}>',
        f'<rect x="0" y="0" width="{width_mm}" height="{height_mm}" fill="#fff"/>',
        f'<path id="unit" d="{drawn.path}" fill="{UNIT_FILL}" fill-rule="evenodd" '
        f'stroke="#1b5e20" stroke-width="{UNIT_STROKE_MM}" stroke-linejoin="round"/>',
        *_north_arrow(width_mm), *_scale_bar(scale, map_h),
        # the frame inside the drawing, so that its left and top lines are not cut in half
        f'<rect x="0.15" y="0.15" width="{_n(width_mm - 0.3)}" height="{_n(map_h - 0.3)}" '
        'fill="none" stroke="#000" stroke-width="0.3"/>',
        _text(4, map_h + MAP_CAPTION_MM / 2 - 0.6, f"登记单元号 {code}", CAPTION_TEXT_MM,
              extra=' id="caption-code"'),
        _text(4, map_h + MAP_CAPTION_MM - 2.4, f"面积 {drawn.area:,.2f} 公顷", CAPTION_TEXT_MM,
              extra=' id="caption-area"'),
        _text(width_mm - 4, map_h + MAP_CAPTION_MM - 2.4, f"制图日期 {china_day(drawn_on)}",
              CAPTION_TEXT_MM, anchor="end", extra=' id="caption-date"'),
        "</svg>"]
    return UnitMap(svg="\n".join(out), scale_denominator=scale, area_ha=f"{drawn.area:,.2f}",
                   unit_code=code)


def map_data(drawn: UnitMap, drawn_on: date, mapper: str) -> dict[str, Any]:
    """What the 附图 page reads (NRPAPER-4)."""
    return {"svg": drawn.svg, "scale_denominator": drawn.scale_denominator,
            "area_ha": drawn.area_ha, "unit_code": drawn.unit_code, "srid": STORAGE_SRID,
            "drawn_on": china_day(drawn_on), "mapper": mapper}
