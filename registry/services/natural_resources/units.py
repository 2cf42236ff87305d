"""Natural-resource registration units (自然资源登记单元): pre-delimiting one, and the checks
every version of a unit passes before the database's own (NRUNIT-1..4 in
registry/db/natural_resources.py).

- NRUNIT-5 A unit's geometry passes GEOM-1..3 (services/geometry.py); a city- or county-level
  unit lies inside its county's boundary (within BOUNDARY_TOLERANCE_M) when that boundary is
  loaded (`division_boundaries`), else `NR_UNIT_OUTSIDE_COUNTY`. National and provincial units
  may span counties.
- NRUNIT-6 The code passes NRCODE-1 under the configured pattern, with the unit's type and the
  known divisions; a code once used (by any version, even cancelled) is never given to
  another unit (`NR_UNIT_EXISTS`).
- NRUNIT-7 国有, 集体 and 争议区 areas are given all three or none; each ≥ 0; their sum is the
  unit's area computed from its geometry (ha, 2 decimals; within 0.01 ha), else
  `NR_AREAS_DO_NOT_SUM` — checked here with the computed figures in the message, and by the
  database (NRUNIT-4).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.codes.natural_resources import check_unit_code
from registry.db.natural_resources import (
    NaturalUnit,
    NaturalUnitStatus,
    NaturalUnitType,
    RegistrationLevel,
)
from registry.db.reference import Division, DivisionLevel
from registry.services.access import Principal, require_county
from registry.services.errors import DomainError, InvalidInput
from registry.services.geometry import parse_geojson, to_storage

BOUNDARY_TOLERANCE_M = 1.0
HECTARE = Decimal("0.01")


@dataclass(frozen=True)
class UnitDescription:
    """What a clerk enters for a unit (pre-delimiting, or a change's new version)."""

    name: str
    unit_type: str
    county_code: str
    level: RegistrationLevel
    authority: str
    geometry: Any  # GeoJSON Polygon / MultiPolygon
    crs: int
    location: str = ""
    bounds: tuple[str, str, str, str] = ("", "", "", "")  # 四至: east, south, west, north
    state_area_ha: Decimal | None = None
    collective_area_ha: Decimal | None = None
    disputed_area_ha: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The description as a case keeps it until recording (JSON)."""
        def number(value: Decimal | None) -> str | None:
            return None if value is None else str(value)
        return {"name": self.name, "unit_type": self.unit_type, "county_code": self.county_code,
                "level": self.level.value, "authority": self.authority,
                "geometry": self.geometry, "crs": self.crs, "location": self.location,
                "bounds": list(self.bounds), "state_area_ha": number(self.state_area_ha),
                "collective_area_ha": number(self.collective_area_ha),
                "disputed_area_ha": number(self.disputed_area_ha)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnitDescription:
        def number(value: str | None) -> Decimal | None:
            return None if value is None else Decimal(value)
        east, south, west, north = data["bounds"]
        return cls(name=data["name"], unit_type=data["unit_type"],
                   county_code=data["county_code"], level=RegistrationLevel(data["level"]),
                   authority=data["authority"], geometry=data["geometry"], crs=data["crs"],
                   location=data["location"], bounds=(east, south, west, north),
                   state_area_ha=number(data["state_area_ha"]),
                   collective_area_ha=number(data["collective_area_ha"]),
                   disputed_area_ha=number(data["disputed_area_ha"]))


def _required(value: str, field_name: str, label_zh: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput("REQUIRED_FIELD", f"{label_zh}不能为空", f"{field_name} is required",
                           field=field_name)
    return value


def check_code(session: Session, code: str, unit_type: str, pattern: str) -> str:
    """NRUNIT-6: the normalised code, or INVALID_NR_UNIT_CODE with every problem."""
    divisions = frozenset(session.scalars(select(Division.code).where(
        Division.level.in_([DivisionLevel.PROVINCE, DivisionLevel.CITY, DivisionLevel.COUNTY]))))
    normalised = code.strip().upper()
    problems = check_unit_code(normalised, pattern, divisions, unit_type)
    if problems:
        raise InvalidInput(
            "INVALID_NR_UNIT_CODE", f"登记单元号无效：{problems[0].message_zh}",
            f"invalid natural-resource unit code: {problems[0].message_en}",
            [{"code": p.code, "messageZh": p.message_zh, "messageEn": p.message_en,
              "position": p.position} for p in problems])
    return normalised


def _check_type(session: Session, unit_type: str) -> None:
    if session.get(NaturalUnitType, unit_type) is None:
        raise InvalidInput("UNKNOWN_NR_UNIT_TYPE", f"未知的登记单元类型：{unit_type}",
                           f"unknown natural-resource unit type {unit_type!r}",
                           unit_type=unit_type)


def _check_county(session: Session, county_code: str) -> None:
    division = session.get(Division, county_code)
    if division is None or division.level is not DivisionLevel.COUNTY:
        raise InvalidInput("UNKNOWN_COUNTY", f"未知的县级行政区：{county_code}",
                           f"unknown county {county_code!r}", county_code=county_code)


def _check_inside_county(session: Session, stored: str, data: UnitDescription) -> None:
    """NRUNIT-5, second half."""
    if data.level is not RegistrationLevel.CITY_COUNTY:
        return
    outside = session.execute(text("""
        SELECT round((ST_Area(ST_Difference(ST_GeomFromEWKT(:geom),
                                            ST_Buffer(b.geom, :tolerance))) / 10000)::numeric, 4)
          FROM division_boundaries b
         WHERE b.code = :county
           AND NOT ST_CoveredBy(ST_GeomFromEWKT(:geom), ST_Buffer(b.geom, :tolerance))
    """), {"geom": stored, "county": data.county_code,
           "tolerance": BOUNDARY_TOLERANCE_M}).scalar()
    if outside is not None:
        raise DomainError("NR_UNIT_OUTSIDE_COUNTY",
                          f"登记单元超出{data.county_code}县界 {outside} 公顷",
                          f"the unit lies {outside} ha outside county {data.county_code}",
                          {"county_code": data.county_code, "outside_ha": str(outside)})


def _area_ha(session: Session, stored: str) -> Decimal:
    return Decimal(session.execute(text(
        "SELECT round((ST_Area(ST_GeomFromEWKT(:g)) / 10000)::numeric, 2)"),
        {"g": stored}).scalar_one())


def _check_ownership_areas(data: UnitDescription, total: Decimal) -> None:
    """NRUNIT-7."""
    parts = (data.state_area_ha, data.collective_area_ha, data.disputed_area_ha)
    given = [p for p in parts if p is not None]
    if not given:
        return
    if len(given) != 3:
        raise InvalidInput("NR_AREAS_INCOMPLETE", "国有、集体、争议区面积须同时填写",
                           "state, collective and disputed areas are given together or not at all")
    if any(p < 0 for p in given):
        raise InvalidInput("INVALID_AREA", "面积不能为负", "areas cannot be negative")
    parts_sum = sum(given, Decimal(0))
    if abs(parts_sum - total) > HECTARE:
        raise DomainError(
            "NR_AREAS_DO_NOT_SUM",
            f"国有、集体、争议区面积之和 {parts_sum} 公顷不等于登记单元面积 {total} 公顷",
            f"state + collective + disputed = {parts_sum} ha, the unit is {total} ha",
            {"sum_ha": str(parts_sum), "area_ha": str(total)})


def checked_geometry(session: Session, data: UnitDescription) -> str:
    """NRUNIT-5 and NRUNIT-7 for `data`: the geometry as EWKT in the register's CRS."""
    stored = to_storage(session, parse_geojson(data.geometry), data.crs)
    _check_inside_county(session, stored, data)
    _check_ownership_areas(data, _area_ha(session, stored))
    return stored


def check_description(session: Session, principal: Principal,
                      data: UnitDescription) -> tuple[UnitDescription, str]:
    """Every check of a unit's description: the cleaned description and its stored geometry."""
    data = replace(data, name=_required(data.name, "name", "登记单元名称"),
                   authority=_required(data.authority, "authority", "登记机构"),
                   location=data.location.strip(),
                   bounds=tuple(b.strip() for b in data.bounds))  # type: ignore[arg-type]
    _check_county(session, data.county_code)
    require_county(principal, data.county_code)
    _check_type(session, data.unit_type)
    return data, checked_geometry(session, data)


def new_unit(session: Session, principal: Principal, code: str, data: UnitDescription,
             stored: str, status: NaturalUnitStatus, now: datetime,
             predecessor: NaturalUnit | None = None) -> NaturalUnit:
    """Insert a version of a unit; NRUNIT-2 (no overlap) is checked by the database here."""
    east, south, west, north = data.bounds
    unit = NaturalUnit(code=code, name=data.name, unit_type=data.unit_type,
                       county_code=data.county_code, level=data.level,
                       authority=data.authority, geom=stored, location=data.location,
                       bound_east=east, bound_south=south, bound_west=west, bound_north=north,
                       state_area_ha=data.state_area_ha,
                       collective_area_ha=data.collective_area_ha,
                       disputed_area_ha=data.disputed_area_ha, status=status,
                       predecessor_id=None if predecessor is None else predecessor.id,
                       created_at=now, created_by=principal.user_id)
    session.add(unit)
    session.flush()
    return unit


def predelimit_unit(session: Session, principal: Principal, code: str, data: UnitDescription,
                    pattern: str, now: datetime) -> NaturalUnit:
    """预划登记单元: a unit drawn and checked, not yet recorded (status predelimited)."""
    data, stored = check_description(session, principal, data)
    code = check_code(session, code, data.unit_type, pattern)
    used = session.scalar(select(NaturalUnit.id).where(NaturalUnit.code == code).limit(1))
    if used is not None:
        raise DomainError("NR_UNIT_EXISTS", f"登记单元号已使用：{code}",
                          f"the unit code {code} is already used", {"code": code})
    return new_unit(session, principal, code, data, stored, NaturalUnitStatus.PREDELIMITED, now)


def current_unit(session: Session, code: str, lock: bool = False) -> NaturalUnit:
    """The current version of the unit `code` (NR_UNIT_NOT_FOUND when there is none)."""
    query = select(NaturalUnit).where(NaturalUnit.code == code.strip().upper(),
                                      NaturalUnit.ended_at.is_(None))
    unit = session.scalar(query.with_for_update() if lock else query)
    if unit is None:
        raise DomainError("NR_UNIT_NOT_FOUND", f"登记单元不存在：{code}",
                          f"no current natural-resource unit {code}", {"code": code})
    return unit
