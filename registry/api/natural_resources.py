"""Natural-resource registration (自然资源统一确权登记) in the API: units, their cases and the
register's pages as data. Rules: services/natural_resources/ and registry/db/natural_resources.py.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from strawberry.scalars import JSON

from registry.api.context import Info
from registry.api.document_types import Document, natural_case_documents
from registry.api.ids import int_id
from registry.api.pagination import Edge, PageInfo, page_size
from registry.codes.natural_resources import ResourceType
from registry.db.access import Role
from registry.db.natural_resources import (
    Exercise,
    LicenceKind,
    NaturalCase,
    NaturalCaseKind,
    NaturalCaseState,
    NaturalCaseStep,
    NaturalObjection,
    NaturalOwnership,
    NaturalUnit,
    NaturalUnitStatus,
    NaturalUnitType,
    Owner,
    RegistrationLevel,
)
from registry.db.register import NR_ENTRIES, EntryType, RegisterEntry
from registry.services.access import REGISTER_READERS, Principal, counties_to_read, require_county
from registry.services.errors import InvalidInput
from registry.services.geometry import GEOGRAPHIC_SRID, check_srid, parse_geojson, to_storage
from registry.services.natural_resources import procedure
from registry.services.natural_resources.areas import resource_areas
from registry.services.natural_resources.attributes import (
    attribute_fields,
    attributes_of,
    set_attributes,
)
from registry.services.natural_resources.links import (
    LicenceLinkInput,
    add_licence_link,
    control_zone_links,
    end_licence_link,
    licence_links,
    real_estate_links,
)
from registry.services.natural_resources.procedure import OwnershipInput
from registry.services.natural_resources.register import recorded_state
from registry.services.natural_resources.statistics import (
    CountyResourceAreas,
    city_total,
    resource_area_statistics,
    state_holdings,
)
from registry.services.natural_resources.units import UnitDescription
from registry.services.reads import decode_cursor, encode_cursor

RegistrationLevelEnum = strawberry.enum(RegistrationLevel, name="RegistrationLevel",
                                        description="登记级别")
NaturalUnitStatusEnum = strawberry.enum(NaturalUnitStatus, name="NaturalUnitStatus",
                                        description="登记单元状态 预划/已登簿/已注销")
NaturalCaseKindEnum = strawberry.enum(NaturalCaseKind, name="NaturalCaseKind",
                                      description="自然资源登记类型")
NaturalCaseStateEnum = strawberry.enum(NaturalCaseState, name="NaturalCaseState",
                                       description="自然资源登记业务状态")
OwnerEnum = strawberry.enum(Owner, name="NaturalResourceOwner", description="所有权人 全民/集体")
ExerciseEnum = strawberry.enum(Exercise, name="OwnershipExercise",
                               description="行使方式 直接行使/委托代理行使")
ResourceTypeEnum = strawberry.enum(ResourceType, name="ResourceType",
                                   description="资源类型 水流/湿地/森林/草原/荒地/非自然资源")

NR_READERS = REGISTER_READERS


# ----------------------------------------------------------------------------------- types


@strawberry.type(description="登记单元类型 (00–99 with sub-types)")
class NaturalUnitTypeRef:
    code: str
    name: str
    parent_code: str | None


@strawberry.type(description="四至")
class Bounds:
    east: str
    south: str
    west: str
    north: str


@strawberry.type(description="权属状况 one version of a unit's ownership")
class Ownership:
    owner: OwnerEnum  # type: ignore[valid-type]
    duty_body: str = strawberry.field(description="所有者职责履行主体（代表行使主体）")
    exercise: ExerciseEnum  # type: ignore[valid-type]
    duty_content: str = strawberry.field(description="所有者职责内容")
    agent_body: str | None = strawberry.field(description="代理履行主体")
    agent_content: str = strawberry.field(description="代理履行的所有者职责内容")
    case_number: str
    begun_at: datetime
    ended_at: datetime | None


@strawberry.type(description="自然资源登记簿 an entry recording the unit")
class NaturalRegisterEntry:
    seq: int
    entry_type: str
    entry_type_zh: str
    recorded_at: datetime
    case_number: str
    hash: str
    body: JSON


@strawberry.type(description="The area of one resource type inside the unit")
class ResourceArea:
    type: ResourceTypeEnum  # type: ignore[valid-type]
    label_zh: str
    area_ha: Decimal
    polygons: int = strawberry.field(description="图斑数量")


@strawberry.type(description="自然状况 computed now from the current 三调 land cover (NRAREA)")
class NaturalState:
    unit_area_ha: Decimal
    types: list[ResourceArea]
    natural_total_ha: Decimal = strawberry.field(description="自然资源总面积")
    non_resource_ha: Decimal = strawberry.field(description="非自然资源总面积（耕地、建设用地等）")
    uncovered_ha: Decimal = strawberry.field(description="no land cover loaded there")


@strawberry.type(description="权利人 of a linked right (ID number masked: PII-2)")
class LinkedHolder:
    name: str
    kind: str
    id_type: str
    id_number: str


@strawberry.type(description="关联信息 a real-estate right inside the unit (NRLINK-1)")
class RealEstateLinkNode:
    unit_code: str = strawberry.field(description="不动产单元号")
    parcel_code: str
    right_kind: str
    right_type: int | None
    right_type_label: str = strawberry.field(description="权利类型")
    holders: list[LinkedHolder]
    parcel_area_m2: Decimal
    overlap_m2: Decimal = strawberry.field(description="the part of the parcel inside the unit")
    recorded_at: datetime = strawberry.field(description="登记时间")
    authority: str = strawberry.field(description="登记机构")


@strawberry.type(description="关联信息 an entered licence: 探矿权/采矿权/取水许可/排污许可")
class LicenceLinkNode:
    id: strawberry.ID
    kind: str
    label_zh: str
    licence_no: str
    holder: str
    location: str
    valid_from: date | None
    valid_to: date | None
    authority: str
    ended_at: datetime | None


@strawberry.type(description="公共管制 a control zone the unit lies (partly) in")
class ControlZoneLinkNode:
    kind: str
    label_zh: str
    block_no: str
    name: str
    content: str
    designated_on: date | None
    authority: str
    overlap_ha: Decimal


@strawberry.type(description="Per-type attributes entered for the unit (水质, 蓄积量 …)")
class NaturalAttributesNode:
    resource_type: str
    values: JSON
    entered_at: datetime


@strawberry.type(description="自然资源登记单元 one version of a registration unit")
class NaturalUnitNode:
    id: strawberry.ID
    code: str = strawberry.field(description="登记单元号")
    name: str
    unit_type: NaturalUnitTypeRef
    county_code: str
    level: RegistrationLevelEnum  # type: ignore[valid-type]
    authority: str = strawberry.field(description="登记机构")
    area_ha: Decimal = strawberry.field(description="总面积, ha, computed from the geometry")
    state_area_ha: Decimal | None = strawberry.field(description="国有面积, ha")
    collective_area_ha: Decimal | None = strawberry.field(description="集体面积, ha")
    disputed_area_ha: Decimal | None = strawberry.field(description="争议区面积, ha")
    location: str = strawberry.field(description="坐落")
    bounds: Bounds
    status: NaturalUnitStatusEnum  # type: ignore[valid-type]
    current: bool
    created_at: datetime

    @strawberry.field(description="The outline as GeoJSON in `crs` (EPSG:4490 by default).")
    async def geometry(self, info: Info, crs: int = GEOGRAPHIC_SRID) -> JSON:
        check_srid(crs)
        return await info.context.read(_geometry, int(self.id), crs)

    @strawberry.field(description="权属状况 now (null before the survey is recorded)")
    async def ownership(self, info: Info) -> Ownership | None:
        rows = await info.context.read(_ownership, self.code, False)
        return rows[0] if rows else None

    @strawberry.field(description="权属状况 every version, newest first")
    async def ownership_history(self, info: Info) -> list[Ownership]:
        return await info.context.read(_ownership, self.code, True)

    @strawberry.field(description="登记簿 the register entries of this unit, oldest first")
    async def history(self, info: Info) -> list[NaturalRegisterEntry]:
        return await info.context.read(_history, self.code)

    @strawberry.field(description="自然状况 now: resource-type areas from the land cover")
    async def natural_state(self, info: Info) -> NaturalState:
        return await info.context.read(_natural_state, int(self.id))

    @strawberry.field(description="关联信息 the real-estate rights inside the unit, now")
    async def real_estate_links(self, info: Info) -> list[RealEstateLinkNode]:
        return await info.context.read(_real_estate_links, info.context.principal, self.code)

    @strawberry.field(description="关联信息 entered licences")
    async def licences(self, info: Info, include_ended: bool = False) -> list[LicenceLinkNode]:
        return await info.context.read(_licences, self.code, include_ended)

    @strawberry.field(description="关联信息 public-control zones the unit lies in")
    async def control_zones(self, info: Info) -> list[ControlZoneLinkNode]:
        return await info.context.read(_zones, self.code)

    @strawberry.field(description="Per-type attributes (current)")
    async def attributes(self, info: Info) -> list[NaturalAttributesNode]:
        return await info.context.read(_attributes, self.code)

    @strawberry.field(description="The unit's cases, newest first")
    async def cases(self, info: Info) -> list[NaturalCaseNode]:
        return await info.context.read(_cases_of_unit, self.code)


@strawberry.type(description="异议 received during the public notice")
class NaturalObjectionNode:
    id: strawberry.ID
    received_on: date
    objector: str
    content: str
    answer: str | None
    upheld: bool | None
    answered_at: datetime | None


@strawberry.type(description="One step of a case")
class NaturalCaseStepNode:
    from_state: NaturalCaseStateEnum | None  # type: ignore[valid-type]
    to_state: NaturalCaseStateEnum  # type: ignore[valid-type]
    at: datetime
    note: str


@strawberry.type(description="自然资源登记业务 a registration case of a unit")
class NaturalCaseNode:
    number: str
    kind: NaturalCaseKindEnum  # type: ignore[valid-type]
    state: NaturalCaseStateEnum  # type: ignore[valid-type]
    unit_code: str
    county_code: str
    reason: str
    notice_no: str | None = strawberry.field(description="首次登记通告 文号")
    notice_published_on: date | None = strawberry.field(description="公告 first day")
    notice_ends_on: date | None = strawberry.field(description="公告 last day")
    proposed: JSON = strawberry.field(description="What the case proposes (unit, ownership)")
    created_at: datetime
    recorded_at: datetime | None

    @strawberry.field(description="The unit the case is about, as it stands")
    async def unit(self, info: Info) -> NaturalUnitNode | None:
        return await info.context.read(_unit_by_code, self.unit_code)

    @strawberry.field
    async def objections(self, info: Info) -> list[NaturalObjectionNode]:
        return await info.context.read(_objections, self.number)

    @strawberry.field
    async def steps(self, info: Info) -> list[NaturalCaseStepNode]:
        return await info.context.read(_steps, self.number)

    @strawberry.field(description="要件 documents linked to the case (survey results …)")
    async def documents(self, info: Info, include_removed: bool = False) -> list[Document]:
        return await natural_case_documents(info, self.number, include_removed)


@strawberry.type(description="Resource area by type, and units by status, of a county "
                              "(or the city: 511900) as the register recorded them (NRSTAT-1/2)")
class NaturalResourceFigures:
    county_code: str
    areas: list[ResourceArea]
    predelimited: int = strawberry.field(description="预划 units not yet recorded")
    registered: int
    cancelled: int
    registered_area_ha: Decimal


@strawberry.type(description="清产核资: a 全民所有 natural-resource holding (NRSTAT-3)")
class StateNaturalHolding:
    code: str
    name: str
    unit_type: str
    type_name: str
    county_code: str
    level: str
    authority: str
    area_ha: Decimal
    state_area_ha: Decimal = strawberry.field(description="国有面积 (the unit's area when the "
                                                          "split was not entered)")
    duty_body: str = strawberry.field(description="所有者职责履行主体")
    exercise: str
    agent_body: str | None = strawberry.field(description="代理履行主体")
    areas: list[ResourceArea]


@strawberry.type(description="One attribute a resource type may carry")
class AttributeFieldNode:
    name: str
    label_zh: str
    type: str = strawberry.field(description="text | decimal (≥ 0) | date | enum")
    values: list[str] = strawberry.field(description="an enum's allowed values")
    unit: str = strawberry.field(description="计量单位")


@strawberry.type(description="The attributes of one resource type (水流, 森林 …)")
class AttributeFieldsNode:
    resource_type: str
    label_zh: str
    fields: list[AttributeFieldNode]


@strawberry.type
class NaturalUnitConnection:
    edges: list[Edge[NaturalUnitNode]]
    page_info: PageInfo


# ------------------------------------------------------------------------------- readers


def _number(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def unit_node(session: Session, unit: NaturalUnit) -> NaturalUnitNode:
    kind = session.get(NaturalUnitType, unit.unit_type)
    assert kind is not None
    return NaturalUnitNode(
        id=strawberry.ID(str(unit.id)), code=unit.code, name=unit.name,
        unit_type=NaturalUnitTypeRef(code=kind.code, name=kind.name,
                                     parent_code=kind.parent_code),
        county_code=unit.county_code, level=unit.level, authority=unit.authority,
        area_ha=Decimal(unit.area_ha), state_area_ha=_number(unit.state_area_ha),
        collective_area_ha=_number(unit.collective_area_ha),
        disputed_area_ha=_number(unit.disputed_area_ha), location=unit.location,
        bounds=Bounds(east=unit.bound_east, south=unit.bound_south, west=unit.bound_west,
                      north=unit.bound_north),
        status=unit.status, current=unit.ended_at is None, created_at=unit.created_at)


def case_node(case: NaturalCase) -> NaturalCaseNode:
    return NaturalCaseNode(number=case.number, kind=case.kind, state=case.state,
                           unit_code=case.unit_code, county_code=case.county_code,
                           reason=case.reason, notice_no=case.proposed.get("notice_no"),
                           notice_published_on=case.notice_published_on,
                           notice_ends_on=case.notice_ends_on, proposed=case.proposed,
                           created_at=case.created_at, recorded_at=case.recorded_at)


def _geometry(session: Session, unit_id: int, srid: int) -> Any:
    return session.execute(text(
        "SELECT ST_AsGeoJSON(ST_Transform(geom, :srid), 9)::json FROM nr_units WHERE id = :id"),
        {"id": unit_id, "srid": srid}).scalar_one()


def _ownership(session: Session, code: str, every: bool) -> list[Ownership]:
    query = (select(NaturalOwnership, NaturalCase.number)
             .join(NaturalCase, NaturalCase.id == NaturalOwnership.case_id)
             .where(NaturalOwnership.unit_code == code)
             .order_by(NaturalOwnership.begun_at.desc(), NaturalOwnership.id.desc()))
    if not every:
        query = query.where(NaturalOwnership.ended_at.is_(None))
    return [Ownership(owner=o.owner, duty_body=o.duty_body, exercise=o.exercise,
                      duty_content=o.duty_content, agent_body=o.agent_body,
                      agent_content=o.agent_content, case_number=number, begun_at=o.begun_at,
                      ended_at=o.ended_at)
            for o, number in session.execute(query)]


def _history(session: Session, code: str) -> list[NaturalRegisterEntry]:
    # The literal path and predicate of the index ix_register_entries_nr_unit.
    entries = session.scalars(
        select(RegisterEntry)
        .where(text(f"{NR_ENTRIES} AND payload->'body'->'natural_resource'->'unit'->>'code'"
                    " = :code").bindparams(code=code))
        .order_by(RegisterEntry.county_code, RegisterEntry.seq))
    return [NaturalRegisterEntry(
        seq=e.seq, entry_type=e.entry_type, entry_type_zh=EntryType(e.entry_type).label_zh,
        recorded_at=e.recorded_at, case_number=e.payload["body"]["natural_resource"]["case"],
        hash=e.hash, body=e.payload["body"]["natural_resource"]) for e in entries]


def _natural_state(session: Session, unit_id: int) -> NaturalState:
    areas = resource_areas(session, unit_id)
    return NaturalState(
        unit_area_ha=areas.unit_area_ha,
        types=[ResourceArea(type=kind, label_zh=kind.label_zh, area_ha=part.area_ha,
                            polygons=part.polygons) for kind, part in areas.by_type.items()],
        natural_total_ha=areas.natural_resource_ha, non_resource_ha=areas.non_resource_ha,
        uncovered_ha=areas.uncovered_ha)


def _real_estate_links(session: Session, principal: Principal | None,
                       code: str) -> list[RealEstateLinkNode]:
    return [RealEstateLinkNode(
        unit_code=link.unit_code, parcel_code=link.parcel_code,
        right_kind=link.right_kind.value, right_type=link.right_type,
        right_type_label=link.right_type_label,
        holders=[LinkedHolder(name=h.name, kind=h.kind, id_type=h.id_type, id_number=h.id_number)
                 for h in link.holders],
        parcel_area_m2=link.parcel_area_m2, overlap_m2=link.overlap_m2,
        recorded_at=link.recorded_at, authority=link.authority)
        for link in real_estate_links(session, principal, code)]


def licence_node(link: Any) -> LicenceLinkNode:
    return LicenceLinkNode(id=strawberry.ID(str(link.id)), kind=link.kind.value,
                           label_zh=link.kind.label_zh, licence_no=link.licence_no,
                           holder=link.holder, location=link.location,
                           valid_from=link.valid_from, valid_to=link.valid_to,
                           authority=link.authority, ended_at=link.ended_at)


def _licences(session: Session, code: str, include_ended: bool) -> list[LicenceLinkNode]:
    return [licence_node(link) for link in licence_links(session, code, include_ended)]


def _zones(session: Session, code: str) -> list[ControlZoneLinkNode]:
    return [ControlZoneLinkNode(kind=z.kind.value, label_zh=z.kind.label_zh,
                                block_no=z.block_no, name=z.name, content=z.content,
                                designated_on=z.designated_on, authority=z.authority,
                                overlap_ha=z.overlap_ha)
            for z in control_zone_links(session, code)]


def _attributes(session: Session, code: str) -> list[NaturalAttributesNode]:
    return [NaturalAttributesNode(resource_type=a.resource_type, values=a.attributes,
                                  entered_at=a.entered_at) for a in attributes_of(session, code)]


def _areas(by_type: dict[ResourceType, Decimal]) -> list[ResourceArea]:
    return [ResourceArea(type=kind, label_zh=kind.label_zh, area_ha=area, polygons=0)
            for kind, area in by_type.items()]


def _figures(f: CountyResourceAreas) -> NaturalResourceFigures:
    return NaturalResourceFigures(
        county_code=f.county_code, areas=_areas(f.area_by_type),
        predelimited=f.units_by_status["predelimited"], registered=f.units_by_status["registered"],
        cancelled=f.units_by_status["cancelled"], registered_area_ha=f.registered_area_ha)


def _cases_of_unit(session: Session, code: str) -> list[NaturalCaseNode]:
    return [case_node(c) for c in session.scalars(
        select(NaturalCase).where(NaturalCase.unit_code == code)
        .order_by(NaturalCase.created_at.desc(), NaturalCase.id.desc()))]


def _unit_by_code(session: Session, code: str) -> NaturalUnitNode | None:
    unit = session.scalar(select(NaturalUnit).where(NaturalUnit.code == code.strip().upper(),
                                                    NaturalUnit.ended_at.is_(None)))
    return None if unit is None else unit_node(session, unit)


def _objections(session: Session, number: str) -> list[NaturalObjectionNode]:
    rows = session.scalars(select(NaturalObjection).join(
        NaturalCase, NaturalCase.id == NaturalObjection.case_id)
        .where(NaturalCase.number == number).order_by(NaturalObjection.id))
    return [NaturalObjectionNode(id=strawberry.ID(str(o.id)), received_on=o.received_on,
                                 objector=o.objector, content=o.content, answer=o.answer,
                                 upheld=o.upheld, answered_at=o.answered_at) for o in rows]


def _steps(session: Session, number: str) -> list[NaturalCaseStepNode]:
    rows = session.scalars(select(NaturalCaseStep).join(
        NaturalCase, NaturalCase.id == NaturalCaseStep.case_id)
        .where(NaturalCase.number == number).order_by(NaturalCaseStep.id))
    return [NaturalCaseStepNode(
        from_state=None if s.from_state is None else NaturalCaseState(s.from_state),
        to_state=NaturalCaseState(s.to_state), at=s.at, note=s.note) for s in rows]


def _readable_unit(session: Session, principal: Principal, code: str) -> NaturalUnitNode | None:
    unit = session.scalar(select(NaturalUnit).where(NaturalUnit.code == code.strip().upper(),
                                                    NaturalUnit.ended_at.is_(None)))
    if unit is None:
        return None
    require_county(principal, unit.county_code)
    return unit_node(session, unit)


def _readable_case(session: Session, principal: Principal, number: str) -> NaturalCaseNode | None:
    case = session.scalar(select(NaturalCase).where(NaturalCase.number == number.strip()))
    if case is None:
        return None
    require_county(principal, case.county_code)
    return case_node(case)


def _units_page(session: Session, counties: list[str] | None, unit_type: str | None,
                level: RegistrationLevel | None, status: NaturalUnitStatus | None,
                intersects: str | None, size: int,
                after: dict[str, Any] | None) -> tuple[list[NaturalUnitNode], bool]:
    query = select(NaturalUnit).where(NaturalUnit.ended_at.is_(None))
    if counties is not None:
        query = query.where(NaturalUnit.county_code.in_(counties))
    if unit_type is not None:  # a type or any of its sub-types (21 is part of 20)
        query = query.where((NaturalUnit.unit_type == unit_type) | NaturalUnit.unit_type.in_(
            select(NaturalUnitType.code).where(NaturalUnitType.parent_code == unit_type)))
    if level is not None:
        query = query.where(NaturalUnit.level == level)
    if status is not None:
        query = query.where(NaturalUnit.status == status)
    if intersects is not None:
        query = query.where(func.ST_Intersects(NaturalUnit.geom,
                                               func.ST_GeomFromEWKT(intersects)))
    if after is not None:
        query = query.where(NaturalUnit.code > after["code"])
    rows = list(session.scalars(query.order_by(NaturalUnit.code).limit(size + 1)))
    return [unit_node(session, u) for u in rows[:size]], len(rows) > size


# ---------------------------------------------------------------------------- the inputs


@strawberry.input(description="自然资源登记单元 as drawn (预划) or as a change proposes it")
class NaturalUnitInput:
    name: str
    unit_type: str = strawberry.field(description="登记单元类型 code, e.g. 22 自然保护区")
    county_code: str
    level: RegistrationLevelEnum = RegistrationLevel.CITY_COUNTY  # type: ignore[valid-type]
    authority: str = strawberry.field(description="登记机构, e.g. 南江县自然资源局")
    geometry: JSON = strawberry.field(description="GeoJSON Polygon or MultiPolygon")
    crs: int = GEOGRAPHIC_SRID
    location: str = ""
    east: str = ""
    south: str = ""
    west: str = ""
    north: str = ""
    state_area_ha: Decimal | None = None
    collective_area_ha: Decimal | None = None
    disputed_area_ha: Decimal | None = None

    def to_data(self) -> UnitDescription:
        return UnitDescription(
            name=self.name, unit_type=self.unit_type.strip(), county_code=self.county_code,
            level=RegistrationLevel(self.level), authority=self.authority,
            geometry=self.geometry, crs=self.crs, location=self.location,
            bounds=(self.east, self.south, self.west, self.north),
            state_area_ha=self.state_area_ha, collective_area_ha=self.collective_area_ha,
            disputed_area_ha=self.disputed_area_ha)


@strawberry.input(name="OwnershipInput", description="权属状况 found by the survey")
class OwnershipInputGql:
    owner: OwnerEnum = Owner.STATE  # type: ignore[valid-type]
    duty_body: str = strawberry.field(description="所有者职责履行主体（代表行使主体）")
    exercise: ExerciseEnum = Exercise.ENTRUSTED  # type: ignore[valid-type]
    duty_content: str = ""
    agent_body: str | None = strawberry.field(default=None, description="代理履行主体")
    agent_content: str = ""

    def to_data(self) -> OwnershipInput:
        return OwnershipInput(owner=Owner(self.owner), duty_body=self.duty_body,
                              exercise=Exercise(self.exercise), duty_content=self.duty_content,
                              agent_body=self.agent_body, agent_content=self.agent_content)


@strawberry.input(name="LicenceInput", description="探矿权/采矿权/取水许可/排污许可")
class LicenceInputGql:
    kind: str = strawberry.field(description="exploration | mining | water_abstraction | "
                                             "discharge")
    licence_no: str = strawberry.field(description="许可证号")
    holder: str = strawberry.field(description="权人 / 取水权人 / 单位名称")
    location: str = ""
    valid_from: date | None = None
    valid_to: date | None = None
    authority: str = strawberry.field(default="", description="发证机关 / 审批机关")
    details: JSON | None = None

    def to_data(self) -> LicenceLinkInput:
        try:
            kind = LicenceKind(self.kind.strip().lower())
        except ValueError:
            raise InvalidInput("UNKNOWN_LICENCE_KIND", f"未知的关联许可类型：{self.kind}",
                               f"unknown licence kind {self.kind!r}") from None
        return LicenceLinkInput(kind=kind, licence_no=self.licence_no, holder=self.holder,
                                location=self.location, valid_from=self.valid_from,
                                valid_to=self.valid_to, authority=self.authority,
                                details=dict(self.details or {}))


# ------------------------------------------------------------------------- query, mutation


def _stored_filter(session: Session, geometry: Any, crs: int) -> str:
    return to_storage(session, parse_geojson(geometry), crs)


@strawberry.type
class NaturalResourceQuery:
    @strawberry.field(description="自然资源登记单元 by its code (the current version).")
    async def natural_unit(self, info: Info, code: str) -> NaturalUnitNode | None:
        actor = info.context.require(*NR_READERS)
        return await info.context.read(_readable_unit, actor, code)

    @strawberry.field(description="自然资源登记单元 by type (a type includes its sub-types), "
                                  "county, level, status and geometry, ordered by code.")
    async def natural_units(self, info: Info, unit_type: str | None = None,
                            county_code: str | None = None,
                            level: RegistrationLevelEnum | None = None,  # type: ignore[valid-type]
                            status: NaturalUnitStatusEnum | None = None,  # type: ignore[valid-type]
                            intersects: JSON | None = None, crs: int = GEOGRAPHIC_SRID,
                            first: int | None = None,
                            after: str | None = None) -> NaturalUnitConnection:
        actor = info.context.require(*NR_READERS)
        size = page_size(info, first)
        counties = counties_to_read(actor, county_code)
        key = decode_cursor(after, ["code"])
        filter_geometry = None
        if intersects is not None:
            filter_geometry = await info.context.read(_stored_filter, intersects, crs)
        nodes, more = await info.context.read(
            _units_page, counties, unit_type, None if level is None else RegistrationLevel(level),
            None if status is None else NaturalUnitStatus(status), filter_geometry, size, key)
        edges = [Edge(cursor=encode_cursor({"code": n.code}), node=n) for n in nodes]
        return NaturalUnitConnection(edges=edges, page_info=PageInfo(
            has_next_page=more, end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description="自然资源登记业务 by its number.")
    async def natural_case(self, info: Info, number: str) -> NaturalCaseNode | None:
        actor = info.context.require(*NR_READERS)
        return await info.context.read(_readable_case, actor, number)

    @strawberry.field(description="自然资源面积统计 by type and county as recorded; the city "
                                  "(511900) last.")
    async def natural_resource_areas(self, info: Info, county_code: str | None = None
                                     ) -> list[NaturalResourceFigures]:
        actor = info.context.require(Role.STATISTICIAN, Role.AUDITOR)
        counties = counties_to_read(actor, county_code)

        def read(session: Session) -> list[NaturalResourceFigures]:
            figures = resource_area_statistics(session, counties)
            shown = [*figures, city_total(figures)] if county_code is None else figures
            return [_figures(f) for f in shown]
        return await info.context.read(read)

    @strawberry.field(description="清产核资 the 全民所有 natural-resource holdings (auditor).")
    async def state_natural_holdings(self, info: Info, county_code: str | None = None
                                     ) -> list[StateNaturalHolding]:
        actor = info.context.require(Role.AUDITOR)
        counties = counties_to_read(actor, county_code)

        def read(session: Session) -> list[StateNaturalHolding]:
            return [StateNaturalHolding(
                **{k: h[k] for k in ("code", "name", "unit_type", "type_name", "county_code",
                                     "level", "authority", "area_ha", "state_area_ha",
                                     "duty_body", "exercise", "agent_body")},
                areas=_areas(h["area_by_type"])) for h in state_holdings(session, counties)]
        return await info.context.read(read)

    @strawberry.field(description="The per-type attributes a unit may carry (NRATTR-1).")
    async def natural_attribute_fields(self, info: Info) -> list[AttributeFieldsNode]:
        info.context.require()
        return [AttributeFieldsNode(
            resource_type=group.resource_type, label_zh=group.label_zh,
            fields=[AttributeFieldNode(name=f.name, label_zh=f.label_zh, type=f.type.value,
                                       values=list(f.values), unit=f.unit)
                    for f in group.fields]) for group in attribute_fields()]

    @strawberry.field(description="登记单元类型 the code list (NRCODE-2).")
    async def natural_unit_types(self, info: Info) -> list[NaturalUnitTypeRef]:
        info.context.require()

        def read(session: Session) -> list[NaturalUnitTypeRef]:
            return [NaturalUnitTypeRef(code=t.code, name=t.name, parent_code=t.parent_code)
                    for t in session.scalars(select(NaturalUnitType)
                                             .order_by(NaturalUnitType.code))]
        return await info.context.read(read)


async def _case_step(info: Info, work: Any, *args: Any) -> NaturalCaseNode:
    ctx = info.context
    now: datetime = ctx.runtime.clock()

    def run(session: Session) -> NaturalCaseNode:
        case = work(session, ctx.principal, *args, now)
        return case_node(case)
    return await ctx.run(run)


@strawberry.type
class NaturalResourceMutation:
    @strawberry.mutation(description="预划登记单元 Draw a unit and open its first registration "
                                     "(clerk).")
    async def predelimit_natural_unit(self, info: Info, code: str,
                                      input: NaturalUnitInput) -> NaturalCaseNode:
        ctx = info.context
        ctx.require(Role.CLERK)
        data, pattern = input.to_data(), ctx.runtime.settings.natural_resource_unit_code_pattern
        now: datetime = ctx.runtime.clock()

        def run(session: Session) -> NaturalCaseNode:
            return case_node(procedure.predelimit(session, ctx.principal, code, data, pattern,
                                                  now, ctx.request_id))
        return await ctx.run(run)

    @strawberry.mutation(description="首次登记通告 issued (clerk): its document number.")
    async def issue_natural_notice(self, info: Info, number: str,
                                   notice_no: str) -> NaturalCaseNode:
        return await _case_step(info, lambda s, p, n, now: procedure.issue_notice(
            s, p, n, notice_no, now), number)

    @strawberry.mutation(description="地籍调查成果 recorded (clerk), with the ownership found.")
    async def record_natural_survey(self, info: Info, number: str,
                                    ownership: OwnershipInputGql | None = None,  # type: ignore[valid-type]
                                    note: str = "") -> NaturalCaseNode:
        data = None if ownership is None else ownership.to_data()
        return await _case_step(info, lambda s, p, n, now: procedure.record_survey(
            s, p, n, data, note, now), number)

    @strawberry.mutation(description="审核 (reviewer, not who opened the case).")
    async def review_natural_case(self, info: Info, number: str, passed: bool = True,
                                  opinion: str = "") -> NaturalCaseNode:
        return await _case_step(info, lambda s, p, n, now: procedure.review(
            s, p, n, passed, opinion, now), number)

    @strawberry.mutation(description="公告 from today, for the configured working days (clerk).")
    async def publish_natural_case(self, info: Info, number: str) -> NaturalCaseNode:
        days = info.context.runtime.settings.natural_resource_notice_working_days
        return await _case_step(info, lambda s, p, n, now: procedure.publish(
            s, p, n, now, days), number)

    @strawberry.mutation(description="异议 received during the notice (clerk).")
    async def receive_natural_objection(self, info: Info, number: str, objector: str,
                                        content: str) -> NaturalCaseNode:
        def work(s: Session, p: Principal | None, n: str, now: datetime) -> NaturalCase:
            objection = procedure.receive_objection(s, p, n, objector, content, now)
            case = s.get(NaturalCase, objection.case_id)
            assert case is not None
            return case
        return await _case_step(info, work, number)

    @strawberry.mutation(description="异议处理 answered (reviewer); upheld sends the case back "
                                     "to the survey.")
    async def answer_natural_objection(self, info: Info, id: strawberry.ID, answer: str,
                                       upheld: bool) -> NaturalCaseNode:
        objection_id = int_id(id)

        def work(s: Session, p: Principal | None, _: str, now: datetime) -> NaturalCase:
            objection = procedure.answer_objection(s, p, objection_id, answer, upheld, now)
            case = s.get(NaturalCase, objection.case_id)
            assert case is not None
            return case
        return await _case_step(info, work, "")

    @strawberry.mutation(description="登簿 after the notice (registrar, not the reviewer).")
    async def record_natural_case(self, info: Info, number: str) -> NaturalCaseNode:
        return await _case_step(info, lambda s, p, n, now: procedure.record(
            s, p, n, now, recorded_state), number)

    @strawberry.mutation(description="关联信息: enter a licence inside a unit (clerk).")
    async def add_natural_licence(self, info: Info, unit_code: str,
                                  input: LicenceInputGql) -> LicenceLinkNode:
        ctx = info.context
        data, now = input.to_data(), ctx.runtime.clock()

        def run(session: Session) -> LicenceLinkNode:
            return licence_node(add_licence_link(session, ctx.principal, unit_code, data, now,
                                                 ctx.request_id))
        return await ctx.run(run)

    @strawberry.mutation(description="关联信息: end an entered licence (clerk); kept in history.")
    async def end_natural_licence(self, info: Info, id: strawberry.ID) -> LicenceLinkNode:
        ctx = info.context
        link_id, now = int_id(id), ctx.runtime.clock()

        def run(session: Session) -> LicenceLinkNode:
            return licence_node(end_licence_link(session, ctx.principal, link_id, now,
                                                 ctx.request_id))
        return await ctx.run(run)

    @strawberry.mutation(description="Per-type attributes of a unit (clerk): 水质, 蓄积量 …")
    async def set_natural_attributes(self, info: Info, unit_code: str, resource_type: str,
                                     values: JSON) -> NaturalAttributesNode:
        ctx = info.context
        now = ctx.runtime.clock()
        if not isinstance(values, dict):
            raise InvalidInput("INVALID_ATTRIBUTE", "属性须为对象", "values must be an object")

        def run(session: Session) -> NaturalAttributesNode:
            row = set_attributes(session, ctx.principal, unit_code, resource_type, values, now,
                                 ctx.request_id)
            return NaturalAttributesNode(resource_type=row.resource_type, values=row.attributes,
                                         entered_at=row.entered_at)
        return await ctx.run(run)

    @strawberry.mutation(description="变更/注销/更正登记 of a registered unit (clerk).")
    async def open_natural_case(self, info: Info, unit_code: str,
                                kind: NaturalCaseKindEnum,  # type: ignore[valid-type]
                                reason: str, unit: NaturalUnitInput | None = None,
                                ownership: OwnershipInputGql | None = None,  # type: ignore[valid-type]
                                ) -> NaturalCaseNode:
        description = None if unit is None else unit.to_data()
        owned = None if ownership is None else ownership.to_data()
        return await _case_step(info, lambda s, p, code, now: procedure.open_case(
            s, p, code, NaturalCaseKind(kind), reason, now, description, owned), unit_code)
