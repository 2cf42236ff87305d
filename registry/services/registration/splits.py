"""Split and merge (分割/合并) of parcels and units: how a split works, in one module.

By the same holders a split or a merge is a change registration (变更登记, 实施细则 §26; 登记类型
300) [likely]; a part that goes to someone else is then transferred by a case of its own.

At submission (`check_and_terms`):
- SPLIT-1 A split names one unit with a current title and two or more `parts`
  (SPLIT_ONE_UNIT, SPLIT_TOO_FEW_PARTS). A unit of land (fixture W: land alone, or
  infrastructure on bare land) splits its parcel: it must be the only unit standing on that
  parcel (PARCEL_HAS_OTHER_UNITS), and each part is a geometry, GeoJSON in a stated CRS
  (GEOM-1..3; PART_GEOMETRY_REQUIRED). A unit in a building (fixture F: a house, a parking
  space) splits within its parcel: each part gives its area (建筑面积 / 车位面积,
  PART_AREA_REQUIRED) and, for a parking space, its number. Infrastructure structures are not
  split here (SPLIT_NOT_SUPPORTED).
- SPLIT-2 The parts of a parcel cover it exactly (`check_cover`): no part is smaller than
  OVERLAP_TOLERANCE_M2 (SPLIT_PART_TOO_SMALL); no two parts share more than that
  (SPLIT_OVERLAP); they leave no more than that uncovered (SPLIT_GAP) and add no more than that
  outside it (SPLIT_EXCESS); and their areas as stored (m², 2 decimals) sum exactly to the
  parcel's (AREAS_DO_NOT_SUM: the surveyor adjusts a boundary point, 面积平差, so that the
  register neither gains nor loses a hundredth of a square metre). The parts of a building unit
  sum exactly to its area (AREAS_DO_NOT_SUM).
- MERGE-1 A merge names two or more units with current titles held by the same holders with
  the same shares (MERGE_HOLDERS_DIFFER), of one kind and fixture (MERGE_KINDS_DIFFER), none
  seized (UNIT_SEIZED, in applications.check_preconditions). Units of land merge their parcels:
  each parcel carries only its unit (PARCEL_HAS_OTHER_UNITS); the parcels lie in one cadastral
  sub-district with one feature code, layer, elevation range and land use
  (MERGE_PARCELS_DIFFER); the merged outline is their union, or the one part given (as
  surveyed), which must cover them exactly (SPLIT-2), and it is one piece
  (MERGE_NOT_CONTIGUOUS). Units in a building merge only on one parcel
  (MERGE_DIFFERENT_PARCELS) and in one building (MERGE_DIFFERENT_BUILDINGS); the merged area is
  the sum.
- SPLIT-3 `releaseRightIds` names mortgages standing on the unit(s) that are released in the
  same case (the mortgagee's consent is among the case's documents); a right that does not
  stand there is TARGET_NOT_CURRENT, any other kind RELEASE_NOT_ALLOWED (a seizure is released
  by the court alone). A unit that is the dominant unit (需役地) of a current easement is neither
  split nor merged (DOMINANT_OF_EASEMENT) [left: the easement would follow the parts it
  serves, Civil Code §383].

At recording (`check_at_recording`, then `record`), under the recording's unit locks:
- SPLIT-8 What was checked at submission is checked again, since the register may have moved
  in between: a unit of land's parcel still carries only that unit (PARCEL_HAS_OTHER_UNITS,
  a unit created on it meanwhile), no unit has since become the dominant unit of a current
  easement (DOMINANT_OF_EASEMENT), and every mortgage to release still stands
  (TARGET_NOT_CURRENT).
- SPLIT-4 Codes: each new parcel takes the next sequence number (宗地顺序号) of its cadastral
  sub-district (the code's first 12 digits), above every number the sub-district ever used,
  current or historic (a row-locked counter, as services/numbers.py), keeping the old parcel's
  feature code; its unit is the parcel's code + W00000000. A new building unit takes the next
  unit number (户号) of its building on the same parcel. No code is ever used twice.
- SPLIT-5 The old units become historic (UnitStatus.HISTORIC), the old parcels end, the new
  parcels and units are created with the old ones' attributes (an infrastructure asset's book
  value apportioned by area, to the fen, the last part taking the remainder; summed on a
  merge), and each (old, new) pair is linked (LINEAGE-1 in registry/db/lineage.py). The new
  units are units of the case as well (application_units).
- SPLIT-6 Rights follow. The old title(s) end historic; each new unit gets a successor title
  with the same holders, shares, right type, nature and term, and a new certificate; the old
  certificates are voided with their standing prints. Every current restriction of an old unit
  and every seizure waiting on it (in its order) continues on every new unit: a successor with
  the same terms, holders, rank (priority time), term and lapse time, a proof under a new number
  where it had one (the old proof voided) — except a mortgage released in the case, which ends
  (terminated).
- SPLIT-7 One register entry names the old and the new units and says all of it, the lineage
  included (`registry verify` checks the units' statuses and the lineage tables against it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry.codes import CertificateKind, build_unit_code
from registry.db.applications import Application, ApplicationKind, ApplicationUnit
from registry.db.lineage import ParcelLineage, UnitLineage
from registry.db.parties import Party
from registry.db.register import Certificate, CertificateStatus
from registry.db.rights import Right, RightHolder, RightKind, RightStatus
from registry.db.spatial import OVERLAP_TOLERANCE_M2, Parcel
from registry.db.units import Unit, UnitKind, UnitStatus
from registry.services.access import Principal
from registry.services.errors import DomainError, InvalidInput
from registry.services.geometry import GEOGRAPHIC_SRID, parse_geojson, to_storage
from registry.services.registration.certificates import (
    issue_certificate,
    reserve_number,
    void_certificate,
)
from registry.services.registration.rights import (
    current_restrictions,
    current_title,
    holders_of,
    right_summary,
)
from registry.services.registration.seizures import waiting_seizures

KINDS = frozenset({ApplicationKind.SPLIT, ApplicationKind.MERGE})
SPLITTABLE_BUILDING_UNITS = frozenset({UnitKind.RURAL_HOUSE, UnitKind.PARKING_SPACE})
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SplitPart:
    """One part of a split (or the surveyed outline of a merge)."""

    geometry: Any = None  # GeoJSON (units of land)
    crs: int = GEOGRAPHIC_SRID
    area: Decimal | None = None  # 建筑面积 / 车位面积 (units in a building)
    space_no: str | None = None  # 车位编号 (parking spaces)
    location: str | None = None  # 坐落; the old unit's when not given


# ----------------------------------------------------------------------------- SPLIT-2


_COVER_SQL = text("""
WITH o AS (SELECT ST_GeomFromEWKT(:original) AS geom),
     p AS (SELECT t.n, ST_GeomFromEWKT(t.g) AS geom
             FROM unnest(CAST(:parts AS text[])) WITH ORDINALITY AS t(g, n)),
     u AS (SELECT ST_Union(geom) AS geom FROM p)
SELECT (SELECT ST_Area(ST_Difference(o.geom, u.geom)) FROM o, u) AS gap,
       (SELECT ST_Area(ST_Difference(u.geom, o.geom)) FROM o, u) AS excess,
       (SELECT array_agg(ST_Area(geom) ORDER BY n) FROM p) AS raw_areas,
       (SELECT array_agg(round(ST_Area(geom)::numeric, 2) ORDER BY n) FROM p) AS areas,
       (SELECT json_build_object('a', a.n, 'b', b.n,
                                 'area', ST_Area(ST_Intersection(a.geom, b.geom)))
          FROM p a JOIN p b ON a.n < b.n AND a.geom && b.geom
         WHERE ST_Area(ST_Intersection(a.geom, b.geom)) > :tolerance
         ORDER BY ST_Area(ST_Intersection(a.geom, b.geom)) DESC LIMIT 1) AS overlap
""")


def _m2(value: float | Decimal) -> str:
    return str(Decimal(str(value)).quantize(CENT))


def check_cover(session: Session, original: str, original_area: Decimal,
                parts: Sequence[str]) -> list[Decimal]:
    """SPLIT-2: `parts` (EWKT in the register's CRS) cover `original` exactly and their stored
    areas sum to `original_area`; returns those areas, in order."""
    try:
        with session.begin_nested():
            row = session.execute(_COVER_SQL, {"original": original, "parts": list(parts),
                                               "tolerance": OVERLAP_TOLERANCE_M2}).one()
    except DBAPIError as exc:  # GEOS could not overlay them (degenerate input)
        raise InvalidInput("INVALID_GEOMETRY", "几何图形无效：各部分无法叠加计算",
                           "invalid geometry: the parts cannot be overlaid") from exc
    tolerance = OVERLAP_TOLERANCE_M2
    for n, raw in enumerate(row.raw_areas, start=1):
        if raw <= tolerance:
            raise InvalidInput("SPLIT_PART_TOO_SMALL", f"第{n}部分面积过小（{_m2(raw)}平方米）",
                               f"part {n} is too small ({_m2(raw)} m²)", part=n)
    if row.overlap is not None:
        a, b, area = row.overlap["a"], row.overlap["b"], _m2(row.overlap["area"])
        raise InvalidInput("SPLIT_OVERLAP", f"第{a}部分与第{b}部分重叠{area}平方米",
                           f"parts {a} and {b} overlap by {area} m²", parts=[a, b],
                           overlap_m2=area)
    if row.gap > tolerance:
        raise InvalidInput("SPLIT_GAP", f"各部分未覆盖原宗地，遗漏{_m2(row.gap)}平方米",
                           f"the parts leave {_m2(row.gap)} m² of the original uncovered",
                           gap_m2=_m2(row.gap))
    if row.excess > tolerance:
        raise InvalidInput("SPLIT_EXCESS", f"各部分超出原宗地{_m2(row.excess)}平方米",
                           f"the parts reach {_m2(row.excess)} m² outside the original",
                           excess_m2=_m2(row.excess))
    areas = [Decimal(a) for a in row.areas]
    _require_sum(areas, original_area)
    return areas


def _require_sum(areas: Sequence[Decimal], total: Decimal) -> None:
    found = sum(areas, Decimal(0))
    if found != total:
        raise InvalidInput("AREAS_DO_NOT_SUM",
                           f"各部分面积之和{found}平方米不等于原面积{total}平方米",
                           f"the parts' areas sum to {found} m², not {total} m²",
                           sum=str(found), expected=str(total),
                           difference=str(found - total))


# ----------------------------------------------------------------------------- submission


def _only_unit_parcel(session: Session, unit: Unit) -> Parcel:
    parcel = session.get(Parcel, unit.parcel_id, with_for_update=True)
    assert parcel is not None
    others = session.scalar(select(Unit.code).where(
        Unit.parcel_id == parcel.id, Unit.id != unit.id,
        Unit.status.in_([UnitStatus.SURVEYED, UnitStatus.REGISTERED])).limit(1))
    if others is not None:
        raise DomainError("PARCEL_HAS_OTHER_UNITS",
                          f"宗地{parcel.code}上还有其他不动产单元（{others}），不能分割或合并该宗地",
                          f"parcel {parcel.code} carries other units ({others})",
                          {"parcel": parcel.code, "unit": others})
    return parcel


def _ewkt(session: Session, parcel_ids: Sequence[int]) -> tuple[str, int]:
    """The union of the parcels' outlines as EWKT, and how many pieces it has."""
    row = session.execute(text(
        "SELECT ST_AsEWKT(ST_Multi(ST_Union(geom))) AS ewkt,"
        " ST_NumGeometries(ST_Union(geom)) AS pieces FROM parcels WHERE id = ANY(:ids)"),
        {"ids": list(parcel_ids)}).one()
    return str(row.ewkt), int(row.pieces)


def _location(part: SplitPart | None, fallback: str) -> str:
    return ((part.location or "").strip() if part is not None else "") or fallback


def _require_not_dominant(session: Session, unit: Unit) -> None:
    easement = session.scalar(select(Right.id).where(
        Right.dominant_unit_id == unit.id, Right.kind == RightKind.EASEMENT,
        Right.status == RightStatus.CURRENT).limit(1))
    if easement is not None:
        raise DomainError("DOMINANT_OF_EASEMENT",
                          f"不动产单元{unit.code}是现势地役权的需役地，暂不能分割或合并",
                          f"unit {unit.code} is the dominant unit of current easement "
                          f"{easement}", {"unit": unit.code, "easement": easement})


def _building_area(unit: Unit) -> Decimal:
    area = unit.floor_area if unit.kind is UnitKind.RURAL_HOUSE else unit.space_area
    assert area is not None  # UNIT-2
    return area


def _split_terms(session: Session, units: Sequence[Unit],
                 parts: Sequence[SplitPart]) -> dict[str, Any]:
    if len(units) != 1:
        raise InvalidInput("SPLIT_ONE_UNIT", "分割登记须指定且仅指定一个不动产单元",
                           "a split names exactly one unit")
    unit = units[0]
    if len(parts) < 2:
        raise InvalidInput("SPLIT_TOO_FEW_PARTS", "分割须至少分为两部分",
                           "a split has two or more parts")
    if unit.code[19] == "W":
        parcel = _only_unit_parcel(session, unit)
        if any(p.geometry is None for p in parts):
            raise InvalidInput("PART_GEOMETRY_REQUIRED", "分割宗地须为每一部分填写图形",
                               "each part of a parcel gives its geometry")
        stored = [to_storage(session, parse_geojson(p.geometry), p.crs) for p in parts]
        original, _ = _ewkt(session, [parcel.id])
        check_cover(session, original, parcel.area, stored)
        return {"split": "parcel", "parts": [
            {"geometry": g, "location": _location(p, parcel.location)}
            for g, p in zip(stored, parts, strict=True)]}
    if unit.kind not in SPLITTABLE_BUILDING_UNITS:
        raise DomainError("SPLIT_NOT_SUPPORTED", "暂不支持分割该类不动产单元",
                          f"a {unit.kind.value} structure is not split here",
                          {"unit": unit.code})
    if any(p.geometry is not None for p in parts):
        raise InvalidInput("TERMS_NOT_EXPECTED", "分割房屋单元不填写图形（宗地不变）",
                           "a unit in a building splits within its parcel: no geometry")
    if any(p.area is None or p.area <= 0 or p.area != p.area.quantize(CENT) for p in parts):
        raise InvalidInput("PART_AREA_REQUIRED", "每一部分须填写面积（大于0，至多两位小数）",
                           "each part gives its area (above 0, at most 2 decimals)")
    if unit.kind is UnitKind.PARKING_SPACE and any(not (p.space_no or "").strip()
                                                  for p in parts):
        raise InvalidInput("PART_AREA_REQUIRED", "分割车位须为每一部分填写车位编号",
                           "each part of a parking space gives its number (spaceNo)")
    _require_sum([p.area for p in parts if p.area is not None], _building_area(unit))
    return {"split": "unit", "parts": [
        {"area": str(p.area), "space_no": (p.space_no or "").strip() or None,
         "location": _location(p, unit.location)} for p in parts]}


def _holding(session: Session, unit: Unit) -> tuple[str, frozenset[tuple[int, Any, Any]]]:
    title = current_title(session, unit.id)
    assert title is not None  # check_preconditions: NO_CURRENT_TITLE
    return title.co_ownership.value, frozenset(
        (h.party_id, h.share_numerator, h.share_denominator)
        for h in holders_of(session, title.id))


def _merge_terms(session: Session, units: Sequence[Unit],
                 parts: Sequence[SplitPart]) -> dict[str, Any]:
    if len(units) < 2:
        raise InvalidInput("MERGE_TOO_FEW_UNITS", "合并登记须指定两个及以上不动产单元",
                           "a merge names two or more units")
    if len({(u.kind, u.code[19]) for u in units}) != 1:
        raise DomainError("MERGE_KINDS_DIFFER", "合并的不动产单元须为同一类型",
                          "merged units are of one kind")
    if len({_holding(session, u) for u in units}) != 1:
        raise DomainError("MERGE_HOLDERS_DIFFER",
                          "合并的不动产单元须为同一权利人、同一共有方式和份额",
                          "merged units have the same holders, co-ownership and shares")
    if len(parts) > 1:
        raise InvalidInput("TERMS_NOT_EXPECTED", "合并至多填写一个合并后部分",
                           "a merge gives at most one part: the merged unit")
    part = parts[0] if parts else None
    first = units[0]
    if first.code[19] == "W":
        parcels = [_only_unit_parcel(session, u) for u in units]
        same = {(p.code[:14], p.layer, p.elevation_bottom, p.elevation_top, p.land_use_system,
                 p.land_use_code) for p in parcels}
        if len(same) != 1:
            raise DomainError("MERGE_PARCELS_DIFFER",
                              "合并的宗地须在同一地籍子区，宗地特征码、层次和用途相同",
                              "merged parcels share the sub-district, feature code, layer and "
                              "land use", {"parcels": [p.code for p in parcels]})
        union, pieces = _ewkt(session, [p.id for p in parcels])
        total = sum((p.area for p in parcels), Decimal(0))
        outline = union
        if part is not None and part.geometry is not None:
            outline = to_storage(session, parse_geojson(part.geometry), part.crs)
            pieces = int(session.scalar(text("SELECT ST_NumGeometries(ST_GeomFromEWKT(:g))"),
                                        {"g": outline}) or 0)
        if pieces != 1:
            raise DomainError("MERGE_NOT_CONTIGUOUS", "合并后的宗地须连成一片",
                              "the merged parcel is one piece",
                              {"parcels": [p.code for p in parcels]})
        check_cover(session, union, total, [outline])
        return {"merge": "parcel", "parts": [
            {"geometry": outline, "location": _location(part, parcels[0].location)}]}
    if first.kind not in SPLITTABLE_BUILDING_UNITS:
        raise DomainError("SPLIT_NOT_SUPPORTED", "暂不支持合并该类不动产单元",
                          f"a {first.kind.value} structure is not merged here")
    if len({u.parcel_id for u in units}) != 1:
        raise DomainError("MERGE_DIFFERENT_PARCELS", "合并的房屋单元须在同一宗地上",
                          "merged units in a building stand on one parcel")
    if len({u.building_no for u in units}) != 1:
        raise DomainError("MERGE_DIFFERENT_BUILDINGS", "合并的房屋单元须在同一幢",
                          "merged units in a building are in one building")
    if part is not None and (part.geometry is not None or part.area is not None):
        raise InvalidInput("TERMS_NOT_EXPECTED", "合并房屋单元不填写图形和面积（面积为各单元之和）",
                           "merged building units give no geometry or area: it is the sum")
    area = sum((_building_area(u) for u in units), Decimal(0))
    space_no = (((part.space_no or "").strip() if part is not None else "")
                or "+".join(u.space_no or "" for u in units)) or None
    return {"merge": "unit", "parts": [
        {"area": str(area), "space_no": space_no if first.kind is UnitKind.PARKING_SPACE
         else None, "location": _location(part, first.location)}]}


def _check_release(session: Session, units: Sequence[Unit], release: Sequence[int],
                   now: datetime) -> list[int]:
    standing = {r.id: r for u in units for r in current_restrictions(session, u.id, now)}
    for right_id in sorted(set(release)):
        right = standing.get(right_id)
        if right is None:
            raise DomainError("TARGET_NOT_CURRENT", "指定注销的权利不是所涉单元的现势权利",
                              f"right {right_id} does not stand on the units",
                              {"right": right_id})
        if right.kind is not RightKind.MORTGAGE:
            raise DomainError("RELEASE_NOT_ALLOWED", f"分割、合并时只能一并注销抵押权，不能注销"
                              f"{right.kind.label_zh}",
                              f"only mortgages are released in a split or merge, not a "
                              f"{right.kind.value}", {"right": right_id})
    return sorted(set(release))


def check_and_terms(session: Session, kind: ApplicationKind, units: Sequence[Unit],
                    parts: Sequence[SplitPart], release: Sequence[int],
                    now: datetime) -> dict[str, Any]:
    """SPLIT-1..3 and MERGE-1 at submission; what the case's terms keep for recording."""
    for unit in units:
        _require_not_dominant(session, unit)
    terms = (_split_terms(session, units, parts) if kind is ApplicationKind.SPLIT
             else _merge_terms(session, units, parts))
    terms["release"] = _check_release(session, units, release, now)
    return terms


# ----------------------------------------------------------------------------- recording


def check_at_recording(session: Session, application: Application, units: Sequence[Unit],
                       now: datetime) -> None:
    """SPLIT-8: submission's checks that later cases could have undone, again."""
    for unit in units:
        _require_not_dominant(session, unit)
        if unit.code[19] == "W":
            _only_unit_parcel(session, unit)
    _check_release(session, units, application.terms.get("release") or [], now)


@dataclass
class Effects:
    """What the register entry says of a split or merge (SPLIT-7)."""

    created: list[dict[str, Any]] = field(default_factory=list)
    ended: list[dict[str, Any]] = field(default_factory=list)
    voided: list[dict[str, str]] = field(default_factory=list)
    unit_lineage: list[list[str]] = field(default_factory=list)
    parcel_lineage: list[list[str]] = field(default_factory=list)
    new_units: list[str] = field(default_factory=list)


def _next_parcel_code(session: Session, old_code: str) -> str:
    """SPLIT-4: the sub-district's next sequence number, with the old code's feature code."""
    sub_district = old_code[:12]
    used = int(session.scalar(text(
        "SELECT coalesce(max(substr(code, 15, 5)::int), 0) FROM parcels"
        " WHERE left(code, 12) = :sub"), {"sub": sub_district}) or 0)
    serial = int(session.execute(text("""
        INSERT INTO number_counters (series, last_value) VALUES (:series, :used + 1)
        ON CONFLICT (series) DO UPDATE
           SET last_value = greatest(number_counters.last_value, :used) + 1
        RETURNING last_value"""), {"series": f"parcel:{sub_district}", "used": used}
    ).scalar_one())
    if serial > 99_999:
        raise DomainError("PARCEL_SEQUENCE_EXHAUSTED", f"地籍子区{sub_district}的宗地顺序号已用完",
                          f"cadastral sub-district {sub_district} has no sequence number left")
    return f"{old_code[:14]}{serial:05d}"


def _next_unit_numbers(session: Session, parcel_code: str, building_no: str,
                       count: int) -> list[int]:
    """SPLIT-4: the building's next unit numbers on the parcel."""
    prefix = f"{parcel_code}F{building_no}"
    used = int(session.scalar(text(
        "SELECT coalesce(max(substr(code, 25, 4)::int), 0) FROM units"
        " WHERE left(code, 24) = :prefix"), {"prefix": prefix}) or 0)
    if used + count > 9999:
        raise DomainError("UNIT_NUMBERS_EXHAUSTED", f"幢{building_no}的户号已用完",
                          f"building {building_no} has no unit number left")
    return list(range(used + 1, used + count + 1))


_UNIT_NOT_COPIED = frozenset({"id", "code", "parcel_id", "county_code", "township_code",
                              "status", "created_at", "created_by"})
_PARCEL_NOT_COPIED = frozenset({"id", "code", "geom", "area", "declared_area", "location",
                                "created_at", "created_by", "ended_at"})
# What a successor right does not take from the right it continues.
_RIGHT_NOT_COPIED = frozenset({"id", "unit_id", "status", "begun_at", "ended_at",
                               "ended_by_application_id", "application_id", "predecessor_id",
                               "burdened_right_id", "certificate_number"})


def _copy(row: Any, skip: frozenset[str]) -> dict[str, Any]:
    return {a.key: getattr(row, a.key) for a in type(row).__mapper__.column_attrs
            if a.key not in skip}


def _apportion(total: Decimal | None, weights: Sequence[Decimal]) -> list[Decimal | None]:
    """SPLIT-5: `total` shared by weight, to the fen; the last share takes the remainder."""
    if total is None:
        return [None] * len(weights)
    whole = sum(weights, Decimal(0))
    shares = [(total * w / whole).quantize(CENT, rounding=ROUND_DOWN) for w in weights[:-1]]
    return [*shares, total - sum(shares, Decimal(0))]


class _Splitter:
    def __init__(self, session: Session, application: Application, actor: Principal,
                 now: datetime) -> None:
        self.session = session
        self.application = application
        self.actor = actor
        self.now = now
        self.effects = Effects()
        how = "分割" if application.kind is ApplicationKind.SPLIT else "合并"
        self.void_reason = f"{how}登记（{application.number}）：原不动产单元已灭失，换发新证"

    def end(self, right: Right, status: RightStatus) -> None:
        right.status, right.ended_at = status, self.now
        right.ended_by_application_id = self.application.id
        self.effects.ended.append({"right": right.id, "kind": right.kind.value,
                                   "status": status.value,
                                   "certificate": right.certificate_number})
        if status is RightStatus.HISTORIC and right.certificate_number is not None:
            standing = self.session.scalar(select(Certificate.status).where(
                Certificate.number == right.certificate_number))
            if standing is not CertificateStatus.VOIDED:
                self.effects.voided.append(void_certificate(
                    self.session, self.actor, right.certificate_number, self.void_reason,
                    self.now))

    def successor(self, old: Right, unit: Unit, burdens: Right | None,
                  status: RightStatus = RightStatus.CURRENT) -> Right:
        """SPLIT-6: `old` continued on `unit` (as `status`: current, or provisional for a
        waiting seizure), with its holders and a new paper if it had one."""
        right = Right(**_copy(old, _RIGHT_NOT_COPIED), unit_id=unit.id, status=status,
                      begun_at=self.now, application_id=self.application.id,
                      predecessor_id=old.id,
                      burdened_right_id=burdens.id if burdens is not None else None)
        reserved = None
        if old.certificate_number is not None:
            kind = CertificateKind.RIGHT if old.kind is RightKind.TITLE else CertificateKind.PROOF
            reserved = reserve_number(self.session, unit.county_code, kind, self.now)
            right.certificate_number = reserved.number
        self.session.add(right)
        self.session.flush()
        holders: list[tuple[Party, RightHolder]] = []
        for row in holders_of(self.session, old.id):
            holder = RightHolder(right_id=right.id, party_id=row.party_id,
                                 share_numerator=row.share_numerator,
                                 share_denominator=row.share_denominator)
            self.session.add(holder)
            party = self.session.get(Party, row.party_id)
            assert party is not None
            holders.append((party, holder))
        if reserved is not None:
            issue_certificate(self.session, reserved, right, self.application, self.now)
        self.session.flush()
        dominant = (self.session.get(Unit, right.dominant_unit_id)
                    if right.dominant_unit_id is not None else None)
        self.effects.created.append({"unit": unit.code, **right_summary(
            right, holders, dominant.code if dominant is not None else None)})
        return right

    def new_unit(self, template: Unit, parcel: Parcel, code: str,
                 **attributes: Any) -> Unit:
        unit = Unit(**{**_copy(template, _UNIT_NOT_COPIED), **attributes}, code=code,
                    parcel_id=parcel.id, county_code=code[:6], township_code=code[:9],
                    status=UnitStatus.REGISTERED, created_at=self.now,
                    created_by=self.actor.user_id)
        self.session.add(unit)
        self.session.flush()
        self.effects.new_units.append(code)
        return unit

    def new_parcel(self, template: Parcel, geometry: str, location: str) -> Parcel:
        parcel = Parcel(**_copy(template, _PARCEL_NOT_COPIED),
                        code=_next_parcel_code(self.session, template.code), geom=geometry,
                        location=location, created_at=self.now,
                        created_by=self.actor.user_id)
        self.session.add(parcel)
        self.session.flush()  # PARCEL-2, by the database
        self.session.refresh(parcel, ["area"])
        return parcel

    def link(self, old_units: Sequence[Unit], new_units: Sequence[Unit],
             old_parcels: Sequence[Parcel], new_parcels: Sequence[Parcel]) -> None:
        for old in old_units:
            for new in new_units:
                self.session.add(UnitLineage(predecessor_id=old.id, successor_id=new.id,
                                             application_id=self.application.id))
                self.effects.unit_lineage.append([old.code, new.code])
        for old_parcel in old_parcels:
            for new_parcel in new_parcels:
                self.session.add(ParcelLineage(predecessor_id=old_parcel.id,
                                               successor_id=new_parcel.id,
                                               application_id=self.application.id))
                self.effects.parcel_lineage.append([old_parcel.code, new_parcel.code])


def _new_units(splitter: _Splitter, old_units: Sequence[Unit],
               terms: dict[str, Any]) -> tuple[list[Unit], list[Parcel], list[Parcel]]:
    """SPLIT-4/5: the new parcels (for units of land) and units; the old parcels ended."""
    session, first = splitter.session, old_units[0]
    parts = terms["parts"]
    if (terms.get("split") or terms.get("merge")) == "parcel":
        old_parcels = [session.get(Parcel, u.parcel_id) for u in old_units]
        for parcel in old_parcels:
            assert parcel is not None
            parcel.ended_at = splitter.now
        session.flush()  # PARCEL-2: the old outline stops counting before the new ones come
        new_parcels = [splitter.new_parcel(old_parcels[0], p["geometry"], p["location"])
                       for p in parts]  # type: ignore[arg-type]
        book = (_apportion(first.book_value, [p.area for p in new_parcels])
                if len(old_units) == 1 else
                [_sum_or_none([u.book_value for u in old_units])])
        length = ([None] * len(parts) if len(old_units) == 1
                  else [_sum_or_none([u.length_m for u in old_units])])
        units = [splitter.new_unit(first, parcel, build_unit_code(parcel.code, "W").code,
                                   location=p["location"], book_value=value,
                                   length_m=metres)
                 for parcel, p, value, metres in zip(new_parcels, parts, book, length,
                                                     strict=True)]
        return units, [p for p in old_parcels if p is not None], new_parcels
    parcel = session.get(Parcel, first.parcel_id)
    assert parcel is not None and first.building_no is not None
    numbers = _next_unit_numbers(session, parcel.code, first.building_no, len(parts))
    units = []
    for number, p in zip(numbers, parts, strict=True):
        code = build_unit_code(parcel.code, "F", int(first.building_no), number).code
        area = Decimal(p["area"])
        attributes: dict[str, Any] = ({"floor_area": area}
                                      if first.kind is UnitKind.RURAL_HOUSE
                                      else {"space_area": area, "space_no": p["space_no"]})
        if first.kind is UnitKind.RURAL_HOUSE:
            attributes["floors"] = max(u.floors or 1 for u in old_units)
        units.append(splitter.new_unit(first, parcel, code, location=p["location"],
                                       **attributes))
    return units, [], []


def _sum_or_none(values: Sequence[Decimal | None]) -> Decimal | None:
    if any(v is None for v in values):
        return None
    return sum((v for v in values if v is not None), Decimal(0))


def record(session: Session, application: Application, units: Sequence[Unit],
           actor: Principal, now: datetime) -> Effects:
    """SPLIT-4..7: the case takes effect; the caller writes the register entry."""
    splitter = _Splitter(session, application, actor, now)
    terms = application.terms
    release = set(terms.get("release") or [])
    standing: list[tuple[Right, list[Right]]] = []
    for unit in units:  # what stands on the old units, before anything ends
        title = current_title(session, unit.id)
        assert title is not None  # check_preconditions ran under the locks
        standing.append((title, [*current_restrictions(session, unit.id, now),
                                 *waiting_seizures(session, unit.id)]))
    carried: list[tuple[Right, RightStatus]] = []  # with the status it stood in
    for title, restrictions in standing:
        for restriction in restrictions:
            released = restriction.id in release
            if not released:
                carried.append((restriction, restriction.status))
            splitter.end(restriction, RightStatus.TERMINATED if released
                         else RightStatus.HISTORIC)
        splitter.end(title, RightStatus.HISTORIC)
    for unit in units:
        unit.status = UnitStatus.HISTORIC
    session.flush()
    new_units, old_parcels, new_parcels = _new_units(splitter, units, terms)
    old_title = standing[0][0]  # a merge's titles say the same (MERGE-1)
    for unit in new_units:
        title = splitter.successor(old_title, unit, None)
        for restriction, status in carried:
            splitter.successor(restriction, unit, title, status)
    splitter.link(units, new_units, old_parcels, new_parcels)
    # The case concerns its new units too: they list it, and its certification counts for
    # them (completion statistics, STAT-1).
    session.add_all(ApplicationUnit(application_id=application.id, unit_id=u.id)
                    for u in new_units)
    session.flush()
    return splitter.effects
