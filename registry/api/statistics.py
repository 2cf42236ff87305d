"""Completion statistics in the API: figures by county and township as of a date, the monthly
series, yearly targets (admin), and the charts at /charts/… (PNG or SVG, bearer token)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.api.auth import principal_for
from registry.api.context import Info
from registry.api.reference import DivisionLevel
from registry.api.units import UnitKindEnum
from registry.db.access import Role
from registry.db.statistics import CompletionTarget as TargetRow
from registry.db.units import UnitKind
from registry.runtime import Runtime
from registry.services.charts import CONTENT_TYPES, FORMATS, completion_chart, trend_chart
from registry.services.errors import DomainError, InvalidInput
from registry.services.statistics import (
    STATISTICS_READERS,
    Completion,
    Figures,
    completion,
    completion_series,
    require_reader,
    set_target,
    today,
)


@strawberry.type(description="一个区划的登记完成情况 Figures of one division as of a date")
class CompletionFigures:
    code: str = strawberry.field(description="区划代码 (city, county or township)")
    name: str
    level: DivisionLevel = strawberry.field(  # type: ignore[valid-type]
        description="CITY, COUNTY or TOWNSHIP")
    due: int = strawberry.field(description="应登记 units due (surveyed, not cancelled)")
    recorded: int = strawberry.field(description="已登簿 due units with a title in force")
    certified: int = strawberry.field(description="已发证 recorded, first certificate delivered")
    in_progress: int = strawberry.field(description="在办 due, not recorded, a first "
                                                    "registration case open")
    disputed: int = strawberry.field(description="有异议 due units with an objection in force")
    rate: Decimal | None = strawberry.field(description="完成率 recorded ÷ due (4 places)")
    target: Decimal | None = strawberry.field(description="年度目标 the year's target")
    backlog: int | None = strawberry.field(description="欠帐 ⌈target × due⌉ − recorded "
                                                       "(negative: ahead of target)")

    @classmethod
    def of(cls, f: Figures) -> CompletionFigures:
        return cls(code=f.code, name=f.name, level=DivisionLevel(f.level), due=f.due,
                   recorded=f.recorded,
                   certified=f.certified, in_progress=f.in_progress, disputed=f.disputed,
                   rate=f.rate, target=f.target, backlog=f.backlog)


@strawberry.type(description="登记完成率 Completion as of a date: the total and its parts "
                             "(counties of the city, or townships of a county)")
class CompletionReport:
    as_of: date
    kind: UnitKindEnum  # type: ignore[valid-type]
    total: CompletionFigures
    parts: list[CompletionFigures]

    @classmethod
    def of(cls, c: Completion) -> CompletionReport:
        return cls(as_of=c.as_of, kind=c.kind, total=CompletionFigures.of(c.total),
                   parts=[CompletionFigures.of(p) for p in c.parts])


@strawberry.type(description="年度目标 A county's target for a year")
class CompletionTarget:
    county_code: str
    year: int
    kind: UnitKindEnum  # type: ignore[valid-type]
    target: Decimal

    @classmethod
    def of(cls, row: TargetRow) -> CompletionTarget:
        return cls(county_code=row.county_code, year=row.year, kind=row.kind, target=row.target)


@strawberry.type
class StatisticsQuery:
    @strawberry.field(description="登记完成率 As of the end of `asOf` (today by default): a "
                                  "county with its townships, or (no countyCode) the city "
                                  "with its counties. Statistician, auditor, admin.")
    async def completion(self, info: Info, county_code: str | None = None,
                         as_of: date | None = None,
                         kind: UnitKindEnum = UnitKind.RURAL_HOUSE,  # type: ignore[valid-type]
                         ) -> CompletionReport:
        ctx = info.context
        require_reader(ctx.principal, county_code)
        day = as_of or today(ctx.runtime.clock())
        report = await ctx.read(completion, day, UnitKind(kind), county_code)
        return CompletionReport.of(report)

    @strawberry.field(description="月度趋势 The figures at each month's end of `year` (up to "
                                  "today).")
    async def completion_series(self, info: Info, year: int, county_code: str | None = None,
                                kind: UnitKindEnum = UnitKind.RURAL_HOUSE,  # type: ignore[valid-type]
                                ) -> list[CompletionReport]:
        ctx = info.context
        require_reader(ctx.principal, county_code)
        until = today(ctx.runtime.clock())
        series = await ctx.read(completion_series, year, until, UnitKind(kind), county_code)
        return [CompletionReport.of(c) for c in series]

    @strawberry.field(description="年度目标 The targets set for a year.")
    async def completion_targets(self, info: Info, year: int) -> list[CompletionTarget]:
        actor = info.context.require(*STATISTICS_READERS)

        def work(session: Any) -> list[TargetRow]:
            query = select(TargetRow).where(TargetRow.year == year).order_by(
                TargetRow.county_code, TargetRow.kind)
            if actor.county_code is not None:
                query = query.where(TargetRow.county_code == actor.county_code)
            return list(session.scalars(query))

        return [CompletionTarget.of(row) for row in await info.context.read(work)]


@strawberry.type
class StatisticsMutation:
    @strawberry.mutation(description="设定年度目标 Set a county's target for a year (admin).")
    async def set_completion_target(self, info: Info, county_code: str, year: int,
                                    target: Decimal,
                                    kind: UnitKindEnum = UnitKind.RURAL_HOUSE,  # type: ignore[valid-type]
                                    ) -> CompletionTarget:
        ctx = info.context
        ctx.require(Role.ADMIN)
        now = ctx.runtime.clock()

        def work(session: Any) -> CompletionTarget:
            row = set_target(session, ctx.principal, county_code, year, target, now,
                             UnitKind(kind), ctx.request_id)
            return CompletionTarget.of(row)

        return await ctx.run(work)


# --------------------------------------------------------------------------- charts (HTTP)


def error_response(error: DomainError) -> JSONResponse:
    status = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404}.get(error.code, 400)
    return JSONResponse({"code": error.code, "messageZh": error.message_zh,
                         "messageEn": error.message_en, **({"details": error.details}
                                                           if error.details else {})},
                        status_code=status)


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("BAD_DATE", f"{name} 应为日期 YYYY-MM-DD",
                           f"{name} must be a date YYYY-MM-DD") from exc


def _kind(value: str | None) -> UnitKind:
    try:
        return UnitKind((value or UnitKind.RURAL_HOUSE.value).lower())
    except ValueError as exc:
        raise InvalidInput("BAD_KIND", "单元类型无效", f"unknown unit kind: {value}") from exc


def chart_routes(runtime: Runtime) -> list[Route]:
    """GET /charts/completion.{png,svg}?countyCode=&asOf=&kind= and
    GET /charts/trend.{png,svg}?year=&countyCode=&kind= (Authorization: Bearer …)."""

    async def chart(request: Request) -> Response:
        name, fmt = request.path_params["name"], request.path_params["fmt"]
        params = request.query_params
        try:
            if fmt not in FORMATS or name not in ("completion", "trend"):
                raise InvalidInput("BAD_CHART", "图表应为 completion 或 trend，格式 png 或 svg",
                                   "charts: completion or trend, as png or svg")
            principal = await principal_for(request, runtime)
            county = params.get("countyCode") or None
            require_reader(principal, county)
            kind = _kind(params.get("kind"))
            now = runtime.clock()

            def draw() -> bytes:
                with runtime.sessions() as session:
                    if name == "completion":
                        day = _date(params.get("asOf"), "asOf") or today(now)
                        return completion_chart(completion(session, day, kind, county), fmt)
                    year_text = params.get("year") or str(today(now).year)
                    if not year_text.isdigit():
                        raise InvalidInput("INVALID_YEAR", "年份无效", "invalid year")
                    series = completion_series(session, int(year_text), today(now), kind,
                                               county)
                    return trend_chart(series, fmt)

            body = await run_in_threadpool(draw)
        except DomainError as error:
            return error_response(error)
        return Response(body, media_type=CONTENT_TYPES[fmt],
                        headers={"Cache-Control": "private, max-age=60"})

    return [Route("/charts/{name}.{fmt}", chart, methods=["GET"])]
