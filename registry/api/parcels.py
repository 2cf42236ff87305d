"""Parcels (宗地) in the API: created from survey results, read with geometry in CGCS2000."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

import strawberry
from strawberry.scalars import JSON

from registry.api.context import Info
from registry.api.document_types import Document, parcel_documents
from registry.api.lineage import LineageLink, links
from registry.api.loaders import loader
from registry.db.access import Role
from registry.db.spatial import Layer
from registry.services.access import REGISTER_READERS, require_county
from registry.services.geometry import GEOGRAPHIC_SRID, check_srid
from registry.services.parcels import ParcelInput as ParcelData
from registry.services.parcels import create_parcel
from registry.services.reads import parcel_geojson, parcel_tree

LayerEnum = strawberry.enum(Layer, name="Layer", description="权利设定方式 地表/地上/地下")


@strawberry.type(description="土地用途 with its classification system")
class LandUseRef:
    system: str
    code: str
    name: str | None


def _decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


@strawberry.type(description="宗地 a parcel of land, or a layer of space above or below it")
class Parcel:
    id: strawberry.ID
    code: str = strawberry.field(description="宗地代码 (19 characters)")
    county_code: str
    layer: LayerEnum  # type: ignore[valid-type]
    elevation_bottom: Decimal | None = strawberry.field(description="m, relative to ground")
    elevation_top: Decimal | None
    area: Decimal = strawberry.field(description="computed from the geometry, m²")
    declared_area: Decimal | None = strawberry.field(description="申报面积, m²")
    land_use: LandUseRef
    location: str = strawberry.field(description="坐落")
    current: bool

    @strawberry.field(description="The outline as GeoJSON in `crs` (EPSG:4490 by default).")
    async def geometry(self, info: Info, crs: int = GEOGRAPHIC_SRID) -> JSON:
        check_srid(crs)
        batch = partial(_geometries, srid=crs)
        return await loader(info, f"parcel-geometry:{crs}", batch).load(int(self.id))

    @strawberry.field(description="分割/合并 the parcels this one was made from (LINEAGE-1)")
    async def derived_from(self, info: Info) -> list[LineageLink]:
        return await links(info, "parcel", int(self.id), "from")

    @strawberry.field(description="分割/合并 the parcels made from this one (LINEAGE-1)")
    async def derived_into(self, info: Info) -> list[LineageLink]:
        return await links(info, "parcel", int(self.id), "into")

    @strawberry.field(description="要件 documents linked to the parcel (survey results …)")
    async def documents(self, info: Info, include_removed: bool = False) -> list[Document]:
        return await parcel_documents(info, int(self.id), include_removed)

    @classmethod
    def from_row(cls, row: dict[str, Any], land_use_names: dict[tuple[str, str], str]) -> Parcel:
        key = (row["land_use_system"], row["land_use_code"])
        return cls(id=strawberry.ID(str(row["id"])), code=row["code"],
                   county_code=row["county_code"], layer=Layer(row["layer"]),
                   elevation_bottom=_decimal(row["elevation_bottom"]),
                   elevation_top=_decimal(row["elevation_top"]),
                   area=Decimal(row["area"]), declared_area=_decimal(row["declared_area"]),
                   land_use=LandUseRef(system=key[0], code=key[1],
                                       name=land_use_names.get(key)),
                   location=row["location"], current=row["ended_at"] is None)


def _geometries(session: Any, parcel_ids: Sequence[int], srid: int) -> dict[int, Any]:
    return parcel_geojson(session, parcel_ids, srid)


@strawberry.type(description="A parcel with the codes of the units on it")
class ParcelDetail:
    parcel: Parcel
    unit_codes: list[str]


@strawberry.input(description="A parcel from the ownership survey (权籍调查)")
class ParcelInput:
    code: str
    geometry: JSON = strawberry.field(description="GeoJSON Polygon or MultiPolygon")
    crs: int = strawberry.field(default=GEOGRAPHIC_SRID,
                                description="EPSG code of `geometry`: 4490 or 4513–4554")
    land_use_system: str = "GB/T 21010-2017"
    land_use_code: str = strawberry.field(default="0702")
    location: str = ""
    layer: LayerEnum = Layer.SURFACE  # type: ignore[valid-type]
    elevation_bottom: Decimal | None = None
    elevation_top: Decimal | None = None
    declared_area: Decimal | None = None

    def to_data(self) -> ParcelData:
        return ParcelData(code=self.code, geometry=self.geometry, crs=self.crs,
                          land_use_system=self.land_use_system,
                          land_use_code=self.land_use_code, location=self.location,
                          layer=Layer(self.layer), elevation_bottom=self.elevation_bottom,
                          elevation_top=self.elevation_top, declared_area=self.declared_area)


def parcel_detail(info: Info, row: dict[str, Any]) -> ParcelDetail:
    names = info.context.runtime.reference.land_use
    return ParcelDetail(parcel=Parcel.from_row(row["parcel"], names),
                        unit_codes=list(row["unit_codes"]))


@strawberry.type
class ParcelQuery:
    @strawberry.field(description="宗地查询 A parcel by its 19-character code.")
    async def parcel(self, info: Info, code: str) -> ParcelDetail | None:
        actor = info.context.require(*REGISTER_READERS)
        row = await info.context.read(parcel_tree, code.strip().upper()[:19])
        if row is None:
            return None
        require_county(actor, row["parcel"]["county_code"])
        return parcel_detail(info, row)


@strawberry.type
class ParcelMutation:
    @strawberry.mutation(description="宗地入库 Store a surveyed parcel (clerk).")
    async def create_parcel(self, info: Info, input: ParcelInput) -> ParcelDetail:
        ctx = info.context
        ctx.require(Role.CLERK)
        data = input.to_data()
        now: datetime = ctx.runtime.clock()

        def work(session: Any) -> dict[str, Any]:
            parcel = create_parcel(session, ctx.principal, data, now, ctx.request_id)
            row = parcel_tree(session, parcel.code)
            assert row is not None
            return row

        return parcel_detail(info, await ctx.run(work))
