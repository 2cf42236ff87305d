"""关联信息 of a natural-resource registration unit: the real-estate rights inside it, the
licences other registers hold (矿业权, 取水许可, 排污许可), and the public-control zones
(生态保护红线, 国土空间规划分区, 特殊保护) it lies in. Rules stated once, here:

- NRLINK-1 Real-estate rights are linked, not registered again (natural-resources.md §1.5): they
  are found live, never stored as links — every current right (status current, not lapsed,
  RESTRICT-1) of every current real-estate unit whose current parcel (any layer) intersects the
  CURRENT unit's geometry by more than OVERLAP_TOLERANCE_M2 (0.05 m², the tolerance of
  PARCEL-2/NRUNIT-2: parcels that only touch the boundary are not inside). One statement finds
  them all with their holders, whatever their number; sorted by real-estate unit code.
- NRLINK-2 Any register reader (clerk, reviewer, registrar, auditor; admin) may read a unit's
  links, whatever their county scope: the links are part of the unit's 公告 (§1.4 step 11).
  Links are a register read, so holders' ID numbers are always masked (PII-2: full numbers
  only inside the case that carries them); names are shown.
- NRLINK-3 `link_snapshot` is what a register entry stores at recording (public history): the
  same links as plain JSON, ID numbers always masked.
- NRLINK-4 Licence links are entered by a clerk (or admin) of the unit's county, on a current,
  not cancelled unit (NR_UNIT_NOT_FOUND otherwise); the licence number is required
  (LICENCE_NO_REQUIRED), the period may not end before it starts (INVALID_PERIOD), and a unit
  has at most one current licence of a kind and number (LINK_EXISTS; the unit row is locked
  while checking, so two clerks cannot both add it). Ending one sets `ended_at` (LINK_ENDED when
  already ended); rows are never deleted, so the history stays.
- NRLINK-5 Control zones are imported per kind from a GeoJSON/GeoPackage layer by a clerk (or
  admin) without county scope (a layer is city-wide): every feature must have a block number
  and a valid Polygon/MultiPolygon inside the city in an accepted CRS, else the whole file is
  refused (INVALID_GEOMETRY, WRONG_CRS, MISSING_COLUMN, BAD_DATE with the feature's row;
  EMPTY_FILE) and nothing is stored. A new import of a kind ends that kind's current zones
  (imports of one kind are serialised by an advisory lock).
- NRLINK-6 A unit's zones are the current zones meeting it by more than OVERLAP_TOLERANCE_M2,
  with the area in common in ha (2 decimals).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from registry.codes.rights import right_type_label
from registry.db.access import Role
from registry.db.natural_resources import (
    ControlZone,
    ControlZoneKind,
    LicenceKind,
    NaturalLink,
    NaturalUnit,
    NaturalUnitStatus,
)
from registry.db.rights import RightKind
from registry.db.spatial import OVERLAP_TOLERANCE_M2
from registry.services.access import REGISTER_READERS, Principal, audit, require, require_county
from registry.services.errors import DomainError, Forbidden, InvalidInput, NotFound
from registry.services.layers import cell, read_polygon_layer
from registry.services.natural_resources.units import current_unit
from registry.services.pii import mask_id_number

# ---------------------------------------------------------------------- the unit


def live_unit(session: Session, code: str, *, lock: bool = False) -> NaturalUnit:
    """The current row of unit `code` if it is not cancelled (NR_UNIT_NOT_FOUND otherwise): the
    unit links and attributes may be entered on (NRLINK-4, NRATTR-3)."""
    unit = current_unit(session, code, lock=lock)
    if unit.status is NaturalUnitStatus.CANCELLED:
        raise DomainError("NR_UNIT_NOT_FOUND", f"登记单元已注销：{code}",
                          f"the natural-resource unit {code} is cancelled",
                          {"code": code, "status": unit.status.value})
    return unit


# ---------------------------------------------------------------------- real-estate rights


@dataclass(frozen=True)
class LinkHolder:
    """权利人 as this caller sees them (NRLINK-2)."""

    name: str
    kind: str
    id_type: str
    id_number: str  # full or masked
    share_numerator: int | None = None
    share_denominator: int | None = None


@dataclass(frozen=True)
class RealEstateLink:
    """One real-estate right inside the unit (不动产权利关联信息)."""

    unit_code: str  # 不动产单元号
    parcel_code: str
    right_id: int
    right_kind: RightKind
    right_type: int | None  # national 权利类型 code, when the right has one
    right_type_label: str  # 权利类型 as printed (the kind's words when no code)
    status: str
    holders: tuple[LinkHolder, ...]  # 权利人
    parcel_area_m2: Decimal  # 宗地面积
    overlap_m2: Decimal  # the part of the parcel inside the unit
    recorded_at: datetime  # 登记时间
    county_code: str
    authority: str  # 登记机构
    certificate_number: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "unit_code": self.unit_code, "parcel_code": self.parcel_code,
            "right_id": self.right_id, "right_kind": self.right_kind.value,
            "right_type": self.right_type, "right_type_label": self.right_type_label,
            "status": self.status,
            "holders": [{"name": h.name, "kind": h.kind, "id_type": h.id_type,
                         "id_number": h.id_number, "share_numerator": h.share_numerator,
                         "share_denominator": h.share_denominator} for h in self.holders],
            "parcel_area_m2": str(self.parcel_area_m2), "overlap_m2": str(self.overlap_m2),
            "recorded_at": self.recorded_at.isoformat(), "county_code": self.county_code,
            "authority": self.authority, "certificate_number": self.certificate_number,
        }


# NRLINK-1: one statement for every right inside the unit, holders included.
REAL_ESTATE_SQL = text(f"""
WITH hits AS (
    SELECT p.id, p.code, p.area, ST_Area(ST_Intersection(p.geom, n.geom)) AS overlap
      FROM nr_units n
      JOIN parcels p ON p.geom && n.geom AND ST_Intersects(p.geom, n.geom)
     WHERE n.id = :unit_id AND p.ended_at IS NULL
)
SELECT u.code AS unit_code, u.county_code, h.code AS parcel_code, h.area AS parcel_area,
       round(h.overlap::numeric, 2) AS overlap, r.id AS right_id, r.kind::text AS kind,
       r.right_type, r.status::text AS status, r.certificate_number,
       COALESCE((SELECT min(e.recorded_at) FROM register_entries e
                  WHERE e.application_id = r.application_id), r.begun_at) AS recorded_at,
       COALESCE(ia.name, d.name) AS authority_name,
       COALESCE((SELECT json_agg(json_build_object(
                   'name', pa.name, 'kind', pa.kind, 'id_type', pa.id_type,
                   'id_number', pa.id_number, 'share_numerator', rh.share_numerator,
                   'share_denominator', rh.share_denominator) ORDER BY pa.id)
                   FROM right_holders rh JOIN parties pa ON pa.id = rh.party_id
                  WHERE rh.right_id = r.id), '[]'::json) AS holders
  FROM hits h
  JOIN units u ON u.parcel_id = h.id AND u.status <> 'historic'
  JOIN rights r ON r.unit_id = u.id AND r.status = 'current'
               AND (r.lapses_at IS NULL
                    OR r.lapses_at > COALESCE(CAST(:now AS timestamptz), now()))
  LEFT JOIN issuing_authorities ia ON ia.county_code = u.county_code
  LEFT JOIN divisions d ON d.code = u.county_code
 WHERE h.overlap > {OVERLAP_TOLERANCE_M2}
 ORDER BY u.code, (r.kind <> 'title'), r.begun_at, r.id
""")


def _links(session: Session, unit_code: str, now: datetime | None,
           sees: Callable[[str], bool]) -> list[RealEstateLink]:
    unit = current_unit(session, unit_code)
    rows = session.execute(REAL_ESTATE_SQL, {"unit_id": unit.id, "now": now}).mappings()
    links = []
    for row in rows:
        full = sees(row["county_code"])
        holders = tuple(
            LinkHolder(name=h["name"], kind=str(h["kind"]), id_type=str(h["id_type"]),
                       id_number=(h["id_number"] if full
                                  else mask_id_number(h["id_type"], h["id_number"])),
                       share_numerator=h["share_numerator"],
                       share_denominator=h["share_denominator"])
            for h in row["holders"])
        kind = RightKind(row["kind"])
        links.append(RealEstateLink(
            unit_code=row["unit_code"], parcel_code=row["parcel_code"],
            right_id=row["right_id"], right_kind=kind, right_type=row["right_type"],
            right_type_label=(right_type_label(row["right_type"])
                              if row["right_type"] is not None else kind.label_zh),
            status=row["status"], holders=holders,
            parcel_area_m2=Decimal(row["parcel_area"]).quantize(Decimal("0.01")),
            overlap_m2=Decimal(row["overlap"]).quantize(Decimal("0.01")),
            recorded_at=row["recorded_at"], county_code=row["county_code"],
            authority=f"{row['authority_name'] or row['county_code']}不动产登记机构",
            certificate_number=row["certificate_number"]))
    return links


def real_estate_links(session: Session, principal: Principal | None, unit_code: str, *,
                      now: datetime | None = None) -> list[RealEstateLink]:
    """NRLINK-1, NRLINK-2: the real-estate rights inside the current unit `unit_code`, as this
    caller may see them; `now` decides which restrictions have lapsed (default: the
    transaction's time)."""
    require(principal, *REGISTER_READERS)
    return _links(session, unit_code, now, lambda _: False)


def link_snapshot(session: Session, unit_code: str, *,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    """NRLINK-3: the real-estate links as JSON for a register entry, ID numbers masked."""
    return [link.as_json() for link in _links(session, unit_code, now, lambda _: False)]


# ---------------------------------------------------------------------- licences


@dataclass(frozen=True)
class LicenceLinkInput:
    """A licence another register holds: 勘查/采矿许可证, 取水许可证, 排污许可证."""

    kind: LicenceKind
    licence_no: str  # 许可证号
    holder: str  # 权人 / 取水权人 / 单位名称
    location: str = ""  # 地址 / 取水地点
    valid_from: date | None = None  # 有效期限
    valid_to: date | None = None
    authority: str = ""  # 发证机关 / 审批机关
    # 矿种, 矿区面积, 取水量, 污染物种类, 排放浓度限值 … as the licence states them
    details: dict[str, Any] = field(default_factory=dict)


def add_licence_link(session: Session, principal: Principal | None, unit_code: str,
                     data: LicenceLinkInput, now: datetime,
                     request_id: str | None = None) -> NaturalLink:
    """NRLINK-4: enter a licence inside the unit."""
    actor = require(principal, Role.CLERK)
    kind = LicenceKind(data.kind)
    licence_no = data.licence_no.strip()
    if not licence_no:
        raise InvalidInput("LICENCE_NO_REQUIRED", "须填写许可证号",
                           "the licence number is required")
    if data.valid_from is not None and data.valid_to is not None \
            and data.valid_to < data.valid_from:
        raise InvalidInput("INVALID_PERIOD", "有效期限的终止日期早于起始日期",
                           "the licence's period ends before it starts",
                           valid_from=data.valid_from.isoformat(),
                           valid_to=data.valid_to.isoformat())
    unit = live_unit(session, unit_code, lock=True)
    require_county(actor, unit.county_code)
    existing = session.scalar(select(NaturalLink.id).where(
        NaturalLink.unit_code == unit.code, NaturalLink.kind == kind,
        NaturalLink.licence_no == licence_no, NaturalLink.ended_at.is_(None)))
    if existing is not None:
        raise DomainError("LINK_EXISTS",
                          f"登记单元 {unit.code} 已关联{kind.label_zh}：{licence_no}",
                          f"unit {unit.code} already links {kind.value} licence {licence_no}",
                          {"unit": unit.code, "kind": kind.value, "licence_no": licence_no,
                           "link_id": existing})
    link = NaturalLink(unit_code=unit.code, kind=kind, licence_no=licence_no,
                       holder=data.holder.strip(), location=data.location.strip(),
                       details=dict(data.details), valid_from=data.valid_from,
                       valid_to=data.valid_to, authority=data.authority.strip(),
                       entered_at=now, entered_by=actor.user_id)
    session.add(link)
    session.flush()
    audit(session, actor, "addLicenceLink", f"nr_unit:{unit.code}", request_id,
          {"link_id": link.id, "kind": kind.value, "licence_no": licence_no})
    return link


def end_licence_link(session: Session, principal: Principal | None, link_id: int,
                     now: datetime, request_id: str | None = None) -> NaturalLink:
    """NRLINK-4: end a licence link (it stays in the history)."""
    actor = require(principal, Role.CLERK)
    link = session.scalar(select(NaturalLink).where(NaturalLink.id == link_id)
                          .with_for_update())
    if link is None:
        raise NotFound("关联许可", "licence link", str(link_id))
    county = session.scalar(select(NaturalUnit.county_code)
                            .where(NaturalUnit.code == link.unit_code)
                            .order_by(NaturalUnit.ended_at.desc().nulls_first()).limit(1))
    if county is not None:
        require_county(actor, county)
    elif actor.county_code is not None:
        raise Forbidden("the link's unit is unknown", "关联的登记单元不存在")
    if link.ended_at is not None:
        raise DomainError("LINK_ENDED", f"该关联许可已于 {link.ended_at:%Y-%m-%d} 终止",
                          f"the licence link {link_id} has already ended",
                          {"link_id": link_id})
    link.ended_at = now
    session.flush()
    audit(session, actor, "endLicenceLink", f"nr_unit:{link.unit_code}", request_id,
          {"link_id": link.id, "kind": link.kind.value, "licence_no": link.licence_no})
    return link


def licence_links(session: Session, unit_code: str,
                  include_ended: bool = False) -> list[NaturalLink]:
    """The licences entered for the unit (current ones, or every one ever entered)."""
    query = select(NaturalLink).where(NaturalLink.unit_code == unit_code)
    if not include_ended:
        query = query.where(NaturalLink.ended_at.is_(None))
    return list(session.scalars(query.order_by(NaturalLink.kind, NaturalLink.licence_no,
                                               NaturalLink.entered_at, NaturalLink.id)))


# ---------------------------------------------------------------------- control zones

# canonical column → names accepted in the layer (case-insensitive).
ZONE_COLUMNS: dict[str, tuple[str, ...]] = {
    "block_no": ("block_no", "区块编号", "QKBH", "BSM"),
    "name": ("name", "名称", "MC"),
    "content": ("content", "管制内容", "GZNR"),
    "authority": ("authority", "设置单位", "SZDW"),
    "designated_on": ("designated_on", "划定时间", "设定时间", "HDSJ", "SDSJ"),
}


def _date_cell(value: Any, row: int) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raw = cell(value)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10].replace("/", "-"))
    except ValueError:
        raise InvalidInput("BAD_DATE", f"第 {row} 个要素的划定时间不是日期：{raw}",
                           f"feature {row}: designation date {raw!r} is not YYYY-MM-DD",
                           row=row, value=raw) from None


def import_control_zones(session: Session, principal: Principal | None, path: Path | str,
                         kind: ControlZoneKind, now: datetime, crs: int | None = None,
                         request_id: str | None = None) -> int:
    """NRLINK-5: replace the current zones of `kind` by the layer at `path`; how many."""
    actor = require(principal, Role.CLERK)
    if actor.county_code is not None:
        raise Forbidden("a control-zone layer is city-wide: import it without a county scope",
                        "公共管制图层覆盖全市，须由不限县区的用户导入")
    kind = ControlZoneKind(kind)
    path = Path(path)
    layer = read_polygon_layer(session, path, crs, ZONE_COLUMNS, {"block_no": "区块编号"})
    features: list[dict[str, Any]] = []
    for feature in layer.features:
        block_no = cell(feature.cells["block_no"])
        if not block_no:
            raise InvalidInput("MISSING_COLUMN", f"第 {feature.row} 个要素缺少区块编号",
                               f"feature {feature.row} has no block number", row=feature.row,
                               columns=["区块编号"])
        features.append({
            "kind": kind, "block_no": block_no,
            **{c: cell(feature.cells.get(c)) for c in ("name", "content", "authority")},
            "designated_on": _date_cell(feature.cells.get("designated_on"), feature.row),
            "geom": feature.geom, "imported_at": now})
    # imports of one kind one at a time, so a kind never has two current layers
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"registry.control_zones.{kind.value}"})
    ended = session.execute(
        update(ControlZone).where(ControlZone.kind == kind, ControlZone.ended_at.is_(None))
        .values(ended_at=now)).rowcount
    session.execute(insert(ControlZone), features)
    audit(session, actor, "importControlZones", f"control_zones:{kind.value}", request_id,
          {"file": path.name, "features": len(features), "ended": ended, "srid": layer.srid})
    session.flush()
    return len(features)


@dataclass(frozen=True)
class ControlZoneLink:
    """公共管制关联信息: a zone the unit lies (partly) in."""

    zone_id: int
    kind: ControlZoneKind  # 要素类型
    block_no: str  # 区块编号
    name: str
    content: str  # 管制内容
    designated_on: date | None  # 划定/设定时间
    authority: str  # 设置单位
    overlap_ha: Decimal  # 面积: the part of the unit inside the zone


ZONES_SQL = text(f"""
SELECT z.id, z.kind::text AS kind, z.block_no, z.name, z.content, z.designated_on,
       z.authority, round((x.overlap / 10000)::numeric, 2) AS overlap_ha
  FROM nr_units n
  JOIN control_zones z ON z.ended_at IS NULL AND z.geom && n.geom AND ST_Intersects(z.geom, n.geom)
  CROSS JOIN LATERAL (SELECT ST_Area(ST_Intersection(z.geom, n.geom)) AS overlap) AS x
 WHERE n.id = :unit_id AND x.overlap > {OVERLAP_TOLERANCE_M2}
 ORDER BY z.kind, z.block_no, z.id
""")


def control_zone_links(session: Session, unit_code: str) -> list[ControlZoneLink]:
    """NRLINK-6: the current control zones the current unit `unit_code` lies in."""
    unit = current_unit(session, unit_code)
    return [ControlZoneLink(zone_id=r.id, kind=ControlZoneKind(r.kind), block_no=r.block_no,
                            name=r.name, content=r.content, designated_on=r.designated_on,
                            authority=r.authority,
                            overlap_ha=Decimal(r.overlap_ha).quantize(Decimal("0.01")))
            for r in session.execute(ZONES_SQL, {"unit_id": unit.id})]
