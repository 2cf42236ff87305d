"""Units (不动产单元) in the API: one unit with everything the register says about it, pages of
units with filters, and creating units on parcels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

from registry.api.context import Info
from registry.api.document_types import Document, unit_documents
from registry.api.lineage import LineageLink, links
from registry.api.loaders import loader
from registry.api.pagination import Edge, PageInfo, page_size
from registry.api.parcels import Parcel
from registry.api.rights import Right, RightStatusEnum
from registry.api.selection import field_names
from registry.db.access import Role
from registry.db.register import EntryType
from registry.db.rights import RightKind, RightStatus
from registry.db.units import InfrastructureCategory, UnitKind, UnitStatus
from registry.services.access import REGISTER_READERS, counties_to_read, require_county
from registry.services.codes import parse_unit_code
from registry.services.geometry import GEOGRAPHIC_SRID, parse_geojson, to_storage
from registry.services.pii import scrub
from registry.services.reads import (
    UnitFilter,
    UnitShape,
    encode_cursor,
    page_of,
    register_entries_for_units,
    unit_count,
    unit_page_statement,
    unit_tree,
    unit_tree_statement,
)
from registry.services.units import InfrastructureInput as InfrastructureData
from registry.services.units import ParkingSpaceInput as ParkingSpaceData
from registry.services.units import RuralHouseInput as RuralHouseData
from registry.services.units import UnitInput as UnitData
from registry.services.units import create_unit

UnitKindEnum = strawberry.enum(UnitKind, name="UnitKind", description="不动产单元类型")
UnitStatusEnum = strawberry.enum(UnitStatus, name="UnitStatus",
                                 description="登记状况: surveyed (due), registered, cancelled")
CategoryEnum = strawberry.enum(InfrastructureCategory, name="InfrastructureCategory",
                               description="基础设施类别")
EntryTypeEnum = strawberry.enum(
    EntryType, name="RegisterEntryType",
    description="登簿记录类型 what an entry records: the kind of case recorded (as "
                "ApplicationKind), or LAPSE 失效, a restriction ended by law or by its term")


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


@strawberry.type(description="农房 a rural house (registered with its homestead, 房地一体)")
class RuralHouse:
    building_no: int = strawberry.field(
        description="幢号 1–9999, as in UnitInput (the unit code's 4 digits after F, unpadded)")
    floors: int
    structure: str
    floor_area: Decimal = strawberry.field(description="建筑面积 m²")


@strawberry.type(description="公共基础设施 an infrastructure asset")
class Infrastructure:
    category: CategoryEnum  # type: ignore[valid-type]
    managing_body: str = strawberry.field(description="管理单位")
    length_m: Decimal | None
    capacity: str | None
    book_value: Decimal | None = strawberry.field(description="账面价值 (元)")
    completion_year: int | None


@strawberry.type(description="车位 a parking space in a garage")
class ParkingSpace:
    garage: str
    level: int = strawberry.field(description="-1: first basement level")
    space_no: str
    area: Decimal
    civil_defence: bool = strawberry.field(description="人防车位")


@strawberry.type(description="登簿记录 one entry of the register that names this unit")
class RegisterEntry:
    county_code: str
    seq: int
    entry_type: EntryTypeEnum  # type: ignore[valid-type]
    recorded_at: datetime
    hash: str
    prev_hash: str
    body: JSON = strawberry.field(description="what was recorded; ID numbers masked")


@strawberry.type(description="不动产单元 a unit of registration: what the register is about")
class Unit:
    id: strawberry.ID
    code: str = strawberry.field(description="不动产单元代码 (28 characters)")
    kind: UnitKindEnum  # type: ignore[valid-type]
    status: UnitStatusEnum  # type: ignore[valid-type]
    county_code: str
    township_code: str
    location: str = strawberry.field(description="坐落")
    parcel: Parcel
    house: RuralHouse | None
    infrastructure: Infrastructure | None
    parking_space: ParkingSpace | None
    all_rights: strawberry.Private[list[Right]]
    dominant_easements: list[Right] = strawberry.field(description=(
        "需役地 the easements this unit benefits from, recorded on other (servient) units"))

    @strawberry.field(description="Rights and restrictions, oldest first; all of them unless "
                                  "`status` narrows the list.")
    def rights(self, status: list[RightStatusEnum] | None = None  # type: ignore[valid-type]
               ) -> list[Right]:
        if not status:
            return self.all_rights
        wanted = {RightStatus(s) for s in status}
        return [r for r in self.all_rights if r.status in wanted]

    @strawberry.field(description="现势权利 the current title right, if registered")
    def current_title(self) -> Right | None:
        for right in self.all_rights:
            if right.kind is RightKind.TITLE and right.status is RightStatus.CURRENT:
                return right
        return None

    @strawberry.field(description="现势限制 current mortgages, seizures, objections, notices, "
                                  "rights of residence and easements on this unit")
    def restrictions(self) -> list[Right]:
        return [r for r in self.all_rights
                if r.kind is not RightKind.TITLE and r.status is RightStatus.CURRENT]

    @strawberry.field(description="轮候查封 seizures waiting behind the effective one, first in "
                                  "line first (SEIZURE-1/2)")
    def waiting_seizures(self) -> list[Right]:
        return [r for r in self.all_rights
                if r.kind is RightKind.SEIZURE and r.status is RightStatus.PROVISIONAL]

    @strawberry.field(description="查封 whether a current seizure binds the unit")
    def seized(self) -> bool:
        return any(r.kind is RightKind.SEIZURE for r in self.restrictions())

    @strawberry.field(description="抵押 whether a current mortgage burdens the unit")
    def mortgaged(self) -> bool:
        return any(r.kind is RightKind.MORTGAGE for r in self.restrictions())

    @strawberry.field(description="登记簿 the register entries naming this unit, oldest first")
    async def history(self, info: Info) -> list[RegisterEntry]:
        entries = await loader(info, "unit-history", register_entries_for_units).load(self.code)
        return [_entry(e) for e in entries or []]

    @strawberry.field(description="分割/合并 the units this one was made from (LINEAGE-1)")
    async def derived_from(self, info: Info) -> list[LineageLink]:
        return await links(info, "unit", int(self.id), "from")

    @strawberry.field(description="分割/合并 the units made from this one (LINEAGE-1)")
    async def derived_into(self, info: Info) -> list[LineageLink]:
        return await links(info, "unit", int(self.id), "into")

    @strawberry.field(description="要件 documents of the unit and of its cases, oldest first")
    async def documents(self, info: Info, include_removed: bool = False) -> list[Document]:
        return await unit_documents(info, int(self.id), include_removed)

    @classmethod
    def from_row(cls, row: dict[str, Any], land_use_names: dict[tuple[str, str], str]) -> Unit:
        kind = UnitKind(row["kind"])
        house = infrastructure = parking = None
        if kind is UnitKind.RURAL_HOUSE:
            house = RuralHouse(building_no=int(row["building_no"]), floors=row["floors"],
                               structure=row["structure"],
                               floor_area=Decimal(row["floor_area"]))
        elif kind is UnitKind.INFRASTRUCTURE:
            infrastructure = Infrastructure(
                category=InfrastructureCategory(row["category"]),
                managing_body=row["managing_body"], length_m=_decimal(row["length_m"]),
                capacity=row["capacity"], book_value=_decimal(row["book_value"]),
                completion_year=row["completion_year"])
        elif kind is UnitKind.PARKING_SPACE:
            parking = ParkingSpace(garage=row["garage"], level=row["level"],
                                   space_no=row["space_no"], area=Decimal(row["space_area"]),
                                   civil_defence=row["civil_defence"])
        return cls(id=strawberry.ID(str(row["id"])), code=row["code"], kind=kind,
                   status=UnitStatus(row["status"]), county_code=row["county_code"],
                   township_code=row["township_code"], location=row["location"],
                   parcel=(Parcel.from_row(row["parcel"], land_use_names)  # type: ignore[arg-type]
                           if row["parcel"] is not None else None), house=house,
                   infrastructure=infrastructure, parking_space=parking,
                   all_rights=[Right.from_row(r) for r in row["rights"]],
                   dominant_easements=[Right.from_row(r)
                                       for r in row.get("dominant_easements") or []])


def _entry(row: dict[str, Any]) -> RegisterEntry:
    return RegisterEntry(county_code=row["county_code"], seq=row["seq"],
                         entry_type=EntryType(row["entry_type"]),
                         recorded_at=datetime.fromisoformat(row["recorded_at"]),
                         hash=row["hash"], prev_hash=row["prev_hash"],
                         body=scrub(row["body"]))  # PII-2: entries keep full numbers


@strawberry.type
class UnitEdge(Edge[Unit]):
    pass


@strawberry.type(description="A page of units")
class UnitConnection:
    edges: list[UnitEdge]
    page_info: PageInfo
    filter: strawberry.Private[UnitFilter]

    @strawberry.field(description="How many units match the filter (one extra count query).")
    async def total_count(self, info: Info) -> int:
        return await info.context.read(unit_count, self.filter)


@strawberry.input(description="Which units: every condition given must hold")
class UnitFilterInput:
    county_code: str | None = None
    township_code: str | None = None
    kind: UnitKindEnum | None = None  # type: ignore[valid-type]
    status: UnitStatusEnum | None = None  # type: ignore[valid-type]
    holder_id_number: str | None = strawberry.field(
        default=None, description="units whose current title this ID number holds")
    land_use_system: str | None = None
    land_use_code: str | None = None
    intersecting: JSON | None = strawberry.field(
        default=None, description="GeoJSON polygon the unit's parcel must intersect")
    intersecting_crs: int = GEOGRAPHIC_SRID


def unit_filter(f: UnitFilterInput, counties: list[str] | None,
                area: str | None) -> UnitFilter:
    """The read model's filter for `f`, in the caller's `counties` (ACCESS-2), the area
    already in the storage CRS (also used by the compiled reads, registry/api/compiled)."""
    return UnitFilter(
        counties=counties, township=f.township_code,
        kind=UnitKind(f.kind).value if f.kind else None,
        status=UnitStatus(f.status).value if f.status else None,
        holder_id_number=f.holder_id_number.strip().upper() if f.holder_id_number else None,
        land_use_system=f.land_use_system, land_use_code=f.land_use_code,
        intersects_ewkt=area)


def unit_from(info: Info, row: dict[str, Any]) -> Unit:
    return Unit.from_row(row, info.context.runtime.reference.land_use)


def unit_shape(fields: set[str]) -> UnitShape:
    """Fetch only what the query asks of each unit (parcel? which rights?)."""
    if fields & {"rights", "dominantEasements", "waitingSeizures"}:
        rights = "all"
    elif fields & {"restrictions", "seized", "mortgaged"}:
        rights = "current"
    elif "currentTitle" in fields:
        rights = "title"
    else:
        rights = "none"
    return UnitShape(parcel="parcel" in fields, rights=rights)


@strawberry.type
class UnitQuery:
    @strawberry.field(description="不动产单元查询 A unit by its 28-character code.")
    async def unit(self, info: Info, code: str) -> Unit | None:
        ctx = info.context
        actor = ctx.require(*REGISTER_READERS)

        shape = unit_shape(field_names(info))
        parsed = parse_unit_code(None, code, ctx.runtime.reference.county_codes)
        require_county(actor, parsed.parcel.county)  # FORBIDDEN before any data is read
        rows = await ctx.values(unit_tree_statement(parsed.code, ctx.runtime.clock(), shape))
        return unit_from(info, rows[0]) if rows else None

    @strawberry.field(description="不动产单元列表 Units in code order, in pages.")
    async def units(self, info: Info, filter: UnitFilterInput | None = None,
                    first: int | None = None, after: str | None = None) -> UnitConnection:
        ctx = info.context
        actor = ctx.require(*REGISTER_READERS)
        size = page_size(info, first)
        f = filter or UnitFilterInput()
        counties = counties_to_read(actor, f.county_code)
        now = ctx.runtime.clock()
        shape = unit_shape(field_names(info, "edges", "node"))
        area = None
        if f.intersecting is not None:
            geometry = parse_geojson(f.intersecting)
            area = await ctx.read(to_storage, geometry, f.intersecting_crs)
        query = unit_filter(f, counties, area)
        page = page_of(await ctx.values(unit_page_statement(query, size, after, now, shape)),
                       size)
        edges = [UnitEdge(cursor=encode_cursor({"code": row["code"]}), node=unit_from(info, row))
                 for row in page.items]
        return UnitConnection(
            edges=edges, filter=query,
            page_info=PageInfo(has_next_page=page.has_next,
                               end_cursor=edges[-1].cursor if edges else None))


@strawberry.input
class RuralHouseInput:
    floors: int
    structure: str
    floor_area: Decimal


@strawberry.input
class InfrastructureInput:
    category: CategoryEnum  # type: ignore[valid-type]
    managing_body: str
    length_m: Decimal | None = None
    capacity: str | None = None
    book_value: Decimal | None = None
    completion_year: int | None = None


@strawberry.input
class ParkingSpaceInput:
    garage: str
    level: int
    space_no: str
    area: Decimal
    civil_defence: bool = False


@strawberry.input(description="A unit on a parcel; its code is built from the parcel's")
class UnitInput:
    parcel_code: str
    kind: UnitKindEnum  # type: ignore[valid-type]
    building_no: int = strawberry.field(default=0, description="幢号 1–9999 (buildings)")
    unit_no: int = strawberry.field(default=0, description="户号 / 车位序号 1–9999 (buildings)")
    location: str = ""
    house: RuralHouseInput | None = None
    infrastructure: InfrastructureInput | None = None
    parking_space: ParkingSpaceInput | None = None
    land_only: bool = strawberry.field(
        default=False, description="infrastructure registered as land alone (fixture W)")

    def to_data(self) -> UnitData:
        from registry.codes import Fixture

        kind = UnitKind(self.kind)
        fixture = Fixture.NO_FIXTURE if self.land_only or kind is UnitKind.LAND else None
        house = self.house
        asset = self.infrastructure
        space = self.parking_space
        return UnitData(
            parcel_code=self.parcel_code, kind=kind, building_no=self.building_no,
            unit_no=self.unit_no, fixture=fixture, location=self.location,
            house=RuralHouseData(house.floors, house.structure, house.floor_area)
            if house else None,
            infrastructure=InfrastructureData(
                InfrastructureCategory(asset.category), asset.managing_body, asset.length_m,
                asset.capacity, asset.book_value, asset.completion_year) if asset else None,
            parking_space=ParkingSpaceData(space.garage, space.level, space.space_no,
                                           space.area, space.civil_defence) if space else None)


@strawberry.type
class UnitMutation:
    @strawberry.mutation(description="不动产单元入库 Create a unit on a current parcel (clerk).")
    async def create_unit(self, info: Info, input: UnitInput) -> Unit:
        ctx = info.context
        ctx.require(Role.CLERK)
        data = input.to_data()
        now = ctx.runtime.clock()

        def work(session: Any) -> dict[str, Any]:
            unit = create_unit(session, ctx.principal, data, now, ctx.request_id)
            row = unit_tree(session, unit.code, now)
            assert row is not None
            return row

        return unit_from(info, await ctx.run(work))
