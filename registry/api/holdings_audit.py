"""Asset audit (清产核资) in the API: holdings with their restrictions, per-holder summaries,
and the exports at /exports/holdings.{csv,xlsx} (bearer token). Auditors read every county and
change nothing; ID numbers are masked (AUDIT-4)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import strawberry
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.api.auth import principal_for
from registry.api.context import Info
from registry.api.pagination import Edge, PageInfo, page_size
from registry.api.parties import PartyKindEnum
from registry.api.statistics import error_response
from registry.api.units import UnitKindEnum
from registry.db.parties import PartyKind
from registry.db.units import UnitKind
from registry.runtime import Runtime
from registry.services.access import Principal, counties_to_read, require
from registry.services.audit_holdings import (
    AUDIT_READERS,
    HoldingFilter,
    holder_summary_page,
    holding_page,
    iter_holdings,
    write_csv,
    write_xlsx,
)
from registry.services.errors import DomainError, InvalidInput
from registry.services.pii import mask_id_number
from registry.services.reads import encode_cursor


class Restriction(StrEnum):
    MORTGAGED = "mortgaged"
    SEIZED = "seized"
    ANY = "any"


RestrictionEnum = strawberry.enum(Restriction, name="RestrictionFilter")


@strawberry.input(description="Which holdings: every condition given must hold")
class HoldingAuditFilter:
    county_code: str | None = None
    unit_kind: UnitKindEnum | None = None  # type: ignore[valid-type]
    holder_kinds: list[PartyKindEnum] | None = None  # type: ignore[valid-type]
    holder_id_number: str | None = None
    land_use_code: str | None = None
    restricted: RestrictionEnum | None = None  # type: ignore[valid-type]


def to_filter(actor: Principal, f: HoldingAuditFilter | None) -> HoldingFilter:
    f = f or HoldingAuditFilter()
    counties = counties_to_read(actor, f.county_code)
    return HoldingFilter(
        counties=counties, unit_kind=UnitKind(f.unit_kind).value if f.unit_kind else None,
        holder_kinds=[PartyKind(k).value for k in f.holder_kinds] if f.holder_kinds else None,
        holder_id_number=f.holder_id_number.strip().upper() if f.holder_id_number else None,
        land_use_code=f.land_use_code,
        restricted=Restriction(f.restricted).value if f.restricted else None)


@strawberry.type(description="权利人 a holder (ID number masked)")
class AuditHolder:
    name: str
    kind: PartyKindEnum  # type: ignore[valid-type]
    id_number: str


def _holder(row: dict[str, Any], name: str = "holder_name", kind: str = "holder_kind"
            ) -> AuditHolder:
    return AuditHolder(name=row[name], kind=PartyKind(row[kind]),
                  id_number=mask_id_number(row["id_type"], row["id_number"]))


def _decimal(value: Any) -> Decimal | None:
    return Decimal(value) if value is not None else None


@strawberry.type(description="一项资产 a unit held by current title, with its restrictions")
class AuditedHolding:
    unit_code: str
    unit_kind: UnitKindEnum  # type: ignore[valid-type]
    county_code: str
    township_code: str
    location: str
    land_use_code: str
    land_area: Decimal = strawberry.field(description="分摊土地面积 m² (parcel ÷ its units)")
    floor_area: Decimal | None
    book_value: Decimal | None = strawberry.field(description="账面价值 元")
    holder: AuditHolder
    share: str | None = strawberry.field(description="按份共有 share, e.g. 1/2")
    certificate_number: str | None
    registered_at: datetime
    mortgaged: bool
    seized: bool

    @classmethod
    def of(cls, row: dict[str, Any]) -> AuditedHolding:
        share = (f"{row['share_numerator']}/{row['share_denominator']}"
                 if row["share_numerator"] is not None else None)
        return cls(unit_code=row["unit_code"], unit_kind=UnitKind(row["unit_kind"]),
                   county_code=row["county_code"], township_code=row["township_code"],
                   location=row["location"], land_use_code=row["land_use_code"],
                   land_area=Decimal(row["land_area"]), floor_area=_decimal(row["floor_area"]),
                   book_value=_decimal(row["book_value"]), holder=_holder(row), share=share,
                   certificate_number=row["certificate_number"], registered_at=row["begun_at"],
                   mortgaged=row["mortgaged"], seized=row["seized"])


@strawberry.type
class AuditedHoldingEdge(Edge[AuditedHolding]):
    pass


@strawberry.type
class AuditedHoldingConnection:
    edges: list[AuditedHoldingEdge]
    page_info: PageInfo


@strawberry.type(description="A holder's holdings of one county, unit kind and land use")
class HoldingGroup:
    county_code: str
    unit_kind: UnitKindEnum  # type: ignore[valid-type]
    land_use_code: str
    units: int
    land_area: Decimal
    floor_area: Decimal | None
    book_value: Decimal | None
    mortgaged: int
    seized: int


@strawberry.type(description="What one holder holds, grouped")
class HolderSummary:
    holder: AuditHolder
    groups: list[HoldingGroup]

    @strawberry.field(description="All groups together")
    def total_units(self) -> int:
        return sum(g.units for g in self.groups)


@strawberry.type
class HolderSummaryEdge(Edge[HolderSummary]):
    pass


@strawberry.type
class HolderSummaryConnection:
    edges: list[HolderSummaryEdge]
    page_info: PageInfo


def _summary(item: dict[str, Any]) -> HolderSummary:
    return HolderSummary(
        holder=AuditHolder(name=item["name"], kind=PartyKind(item["kind"]),
                      id_number=mask_id_number(item["id_type"], item["id_number"])),
        groups=[HoldingGroup(county_code=g["county_code"], unit_kind=UnitKind(g["unit_kind"]),
                             land_use_code=g["land_use_code"], units=g["units"],
                             land_area=Decimal(g["land_area"]),
                             floor_area=_decimal(g["floor_area"]),
                             book_value=_decimal(g["book_value"]),
                             mortgaged=g["mortgaged"], seized=g["seized"])
                for g in item["groups"]])


@strawberry.type
class HoldingsAuditQuery:
    @strawberry.field(description="清产核资 Holdings by current title with their restrictions "
                                  "(auditor, admin), in unit-code order.")
    async def audited_holdings(self, info: Info, filter: HoldingAuditFilter | None = None,
                               first: int | None = None,
                               after: str | None = None) -> AuditedHoldingConnection:
        ctx = info.context
        actor = ctx.require(*AUDIT_READERS)
        size = page_size(info, first)
        page = await ctx.read(holding_page, to_filter(actor, filter), size, after,
                              ctx.runtime.clock())
        edges = [AuditedHoldingEdge(
            cursor=encode_cursor({"code": r["unit_code"], "party": r["party_id"]}),
            node=AuditedHolding.of(r)) for r in page.items]
        return AuditedHoldingConnection(edges=edges, page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description="清产核资汇总 Per holder: units, land area, floor area and "
                                  "book value by county, unit kind and land use.")
    async def holder_summaries(self, info: Info, filter: HoldingAuditFilter | None = None,
                               first: int | None = None,
                               after: str | None = None) -> HolderSummaryConnection:
        ctx = info.context
        actor = ctx.require(*AUDIT_READERS)
        size = page_size(info, first)
        page = await ctx.read(holder_summary_page, to_filter(actor, filter), size, after,
                              ctx.runtime.clock())
        edges = [HolderSummaryEdge(cursor=encode_cursor({"party": item["party_id"]}),
                                   node=_summary(item)) for item in page.items]
        return HolderSummaryConnection(edges=edges, page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None))


# --------------------------------------------------------------------------- exports (HTTP)


def filter_from_params(actor: Principal, params: Any) -> HoldingFilter:
    """Query parameters countyCode, unitKind, holderKind (repeatable), landUse, restricted."""
    try:
        f = HoldingAuditFilter(
            county_code=params.get("countyCode") or None,
            unit_kind=UnitKind(params["unitKind"].lower()) if params.get("unitKind") else None,
            holder_kinds=[PartyKind(k.lower()) for k in params.getlist("holderKind")] or None,
            land_use_code=params.get("landUse") or None,
            restricted=Restriction(params["restricted"].lower())
            if params.get("restricted") else None)
    except ValueError as exc:
        raise InvalidInput("BAD_FILTER", "筛选条件无效", f"invalid filter: {exc}") from exc
    return to_filter(actor, f)


HTTP_EXPORT_MAX_ROWS = 100_000  # larger exports: `registry audit holdings` (streams to a file)
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def export_routes(runtime: Runtime) -> list[Route]:
    """GET /exports/holdings.{csv,xlsx}?countyCode=&unitKind=&holderKind=&restricted= ."""

    async def export(request: Request) -> Response:
        fmt = request.path_params["fmt"]
        try:
            if fmt not in MEDIA:
                raise InvalidInput("BAD_FORMAT", "导出格式应为 csv 或 xlsx",
                                   "export as csv or xlsx")
            actor = require(await principal_for(request, runtime), *AUDIT_READERS)
            holding_filter = filter_from_params(actor, request.query_params)
            now = runtime.clock()

            def bounded(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
                for count, row in enumerate(rows, start=1):
                    if count > HTTP_EXPORT_MAX_ROWS:
                        raise DomainError(
                            "TOO_MANY_ROWS",
                            f"超过{HTTP_EXPORT_MAX_ROWS}行，请缩小范围或使用命令行导出",
                            f"more than {HTTP_EXPORT_MAX_ROWS} rows: narrow the filter or use "
                            "`registry audit holdings`", {"max": HTTP_EXPORT_MAX_ROWS})
                    yield row

            def build() -> bytes:
                with runtime.sessions() as session:
                    rows = bounded(iter_holdings(session, holding_filter, now,
                                                 HTTP_EXPORT_MAX_ROWS + 1))
                    if fmt == "csv":
                        text_out = io.StringIO()
                        write_csv(rows, text_out)
                        return text_out.getvalue().encode("utf-8-sig")
                    binary = io.BytesIO()
                    write_xlsx(rows, binary)
                    return binary.getvalue()

            body = await run_in_threadpool(build)
        except DomainError as error:
            return error_response(error)
        return Response(body, media_type=MEDIA[fmt], headers={
            "Content-Disposition": f'attachment; filename="holdings.{fmt}"',
            "Cache-Control": "no-store"})

    return [Route("/exports/holdings.{fmt}", export, methods=["GET"])]
