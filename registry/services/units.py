"""Units: what gets registered, built on a parcel with a code made from the parcel's.

The unit code is never typed by a clerk: it is the parcel code + fixture code + building and
unit numbers (GB/T 37346-2019), built and checked by registry.codes. Kind rules (UNIT-2 in
registry/db/units.py adds the database's own checks):
- KIND-1 A rural house (农房, 房地一体) stands on collective homestead land (feature code JC) and
  is a building (F).
- KIND-2 A parking space is a building unit (F) on a construction-land parcel (GB, GS or GX).
- KIND-3 Land alone has no fixture (W); an infrastructure asset is a structure (F) or land (W).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import CodeError, Fixture, Ownership, UseRight, build_unit_code
from registry.db.access import Role
from registry.db.spatial import Parcel
from registry.db.units import InfrastructureCategory, Unit, UnitKind, UnitStatus
from registry.services.access import Principal, audit, require, require_county
from registry.services.codes import parse_parcel_code, problems_of
from registry.services.errors import DomainError, InvalidInput, NotFound


@dataclass(frozen=True)
class RuralHouseInput:
    floors: int
    structure: str
    floor_area: Decimal


@dataclass(frozen=True)
class InfrastructureInput:
    category: InfrastructureCategory
    managing_body: str
    length_m: Decimal | None = None
    capacity: str | None = None
    book_value: Decimal | None = None
    completion_year: int | None = None


@dataclass(frozen=True)
class ParkingSpaceInput:
    garage: str
    level: int
    space_no: str
    area: Decimal
    civil_defence: bool = False


@dataclass(frozen=True)
class UnitInput:
    parcel_code: str
    kind: UnitKind
    building_no: int = 0  # 幢号 (F)
    unit_no: int = 0  # 户号 / 车位序号 (F)
    fixture: Fixture | None = None  # default: F for houses and spaces, W for land
    location: str = ""
    house: RuralHouseInput | None = None
    infrastructure: InfrastructureInput | None = None
    parking_space: ParkingSpaceInput | None = None


DEFAULT_FIXTURE = {UnitKind.RURAL_HOUSE: Fixture.BUILDING,
                   UnitKind.PARKING_SPACE: Fixture.BUILDING,
                   UnitKind.LAND: Fixture.NO_FIXTURE,
                   UnitKind.INFRASTRUCTURE: Fixture.BUILDING}
CONSTRUCTION_LAND = frozenset({UseRight.CONSTRUCTION_SURFACE, UseRight.CONSTRUCTION_ABOVE,
                               UseRight.CONSTRUCTION_BELOW})


def _mismatch(zh: str, en: str) -> InvalidInput:
    return InvalidInput("KIND_MISMATCH", zh, en)


def _check_kind(data: UnitInput, fixture: Fixture, ownership: Ownership,
                use_right: UseRight) -> None:
    """KIND-1..3 and the attributes each kind needs."""
    if data.kind is UnitKind.RURAL_HOUSE:
        if ownership is not Ownership.COLLECTIVE or use_right is not UseRight.HOMESTEAD:
            raise _mismatch("农房须建在集体宅基地（宗地特征码JC）上",
                            "a rural house stands on collective homestead land (JC)")
        if fixture is not Fixture.BUILDING or data.house is None:
            raise _mismatch("农房须为房屋（F）并填写层数、结构、建筑面积",
                            "a rural house is a building (F) with floors, structure, floor area")
        if data.house.floors < 1 or data.house.floor_area <= 0 or not data.house.structure:
            raise InvalidInput("INVALID_ATTRIBUTE", "层数须≥1，建筑面积须>0，结构必填",
                               "floors ≥ 1, floor area > 0 and a structure are required")
    elif data.kind is UnitKind.PARKING_SPACE:
        if use_right not in CONSTRUCTION_LAND or fixture is not Fixture.BUILDING:
            raise _mismatch("车位须为建设用地（B/S/X）上的房屋单元（F）",
                            "a parking space is a building unit (F) on construction land")
        if data.parking_space is None or data.parking_space.area <= 0:
            raise InvalidInput("INVALID_ATTRIBUTE", "车位须填写车库、层、编号和面积（>0）",
                               "a parking space needs garage, level, number and area > 0")
    elif data.kind is UnitKind.LAND:
        if fixture is not Fixture.NO_FIXTURE:
            raise _mismatch("纯土地单元的定着物特征码为W", "a land-only unit has fixture W")
    elif data.kind is UnitKind.INFRASTRUCTURE:
        if fixture not in (Fixture.BUILDING, Fixture.NO_FIXTURE) or data.infrastructure is None:
            raise _mismatch("基础设施为构筑物（F）或土地（W），须填写类别和管理单位",
                            "infrastructure is a structure (F) or land (W) with a category "
                            "and managing body")
        asset = data.infrastructure
        if not asset.managing_body.strip():
            raise InvalidInput("INVALID_ATTRIBUTE", "须填写管理单位", "managing body required")
        if asset.book_value is not None and asset.book_value < 0:
            raise InvalidInput("INVALID_ATTRIBUTE", "账面价值不得为负",
                               "book value cannot be negative")


def create_unit(session: Session, principal: Principal | None, data: UnitInput,
                now: datetime, request_id: str | None = None) -> Unit:
    actor = require(principal, Role.CLERK)
    parcel_code = parse_parcel_code(session, data.parcel_code)
    require_county(actor, parcel_code.county)
    parcel = session.scalar(select(Parcel).where(Parcel.code == parcel_code.code,
                                                 Parcel.ended_at.is_(None)))
    if parcel is None:
        raise NotFound("宗地", "parcel", parcel_code.code)
    fixture = data.fixture or DEFAULT_FIXTURE[data.kind]
    _check_kind(data, fixture, parcel_code.ownership, parcel_code.use_right)
    try:
        code = build_unit_code(parcel_code, fixture.value, data.building_no, data.unit_no)
    except CodeError as exc:
        raise InvalidInput("INVALID_UNIT_CODE", f"不动产单元代码无效：{exc.problems[0].message_zh}",
                           f"invalid unit code: {exc}", problems_of(exc)) from exc
    if session.scalar(select(Unit.id).where(Unit.code == code.code)) is not None:
        raise DomainError("UNIT_EXISTS", f"不动产单元已存在：{code.code}",
                          f"unit already exists: {code.code}", {"code": code.code})
    unit = Unit(code=code.code, parcel_id=parcel.id, county_code=parcel_code.county,
                township_code=code.code[:9], kind=data.kind, status=UnitStatus.SURVEYED,
                location=(data.location or parcel.location).strip(), created_at=now,
                created_by=actor.user_id)
    if data.house is not None and data.kind is UnitKind.RURAL_HOUSE:
        unit.building_no = f"{data.building_no:04d}"
        unit.floors = data.house.floors
        unit.structure = data.house.structure.strip()
        unit.floor_area = data.house.floor_area
    if data.infrastructure is not None and data.kind is UnitKind.INFRASTRUCTURE:
        asset = data.infrastructure
        unit.category = asset.category
        unit.managing_body = asset.managing_body.strip()
        unit.length_m = asset.length_m
        unit.capacity = asset.capacity
        unit.book_value = asset.book_value
        unit.completion_year = asset.completion_year
        if fixture is Fixture.BUILDING:
            unit.building_no = f"{data.building_no:04d}"
    if data.parking_space is not None and data.kind is UnitKind.PARKING_SPACE:
        space = data.parking_space
        unit.garage = space.garage.strip()
        unit.level = space.level
        unit.space_no = space.space_no.strip()
        unit.space_area = space.area
        unit.civil_defence = space.civil_defence
        unit.building_no = f"{data.building_no:04d}"
    session.add(unit)
    session.flush()
    audit(session, actor, "createUnit", unit.code, request_id)
    return unit
