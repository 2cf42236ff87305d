"""Completion statistics (农房一体登记完成率): due, recorded, certified, in progress, disputed; the
rate against a yearly target and the backlog (欠帐), by county and township, as of a date.

What each measure means is defined once, in SQL (STAT-1, `completion_state_of` in migration
0004) and in words in docs/statistics.md. Figures are read from the maintained ledger
(STAT-2): "as of D" sums the month rows before D's month and the day rows of D's month up to
D — a few hundred index rows, whatever the number of units.

- STAT-4 rate = recorded ÷ due, rounded half-up to 4 places (none when nothing is due).
- STAT-5 backlog 欠帐 = ⌈target × due⌉ − recorded, exactly (negative: ahead of target). A
  township has its county's target; the city has no target of its own, and its backlog is the
  sum of its counties' backlogs (of those with a target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.db.access import Role
from registry.db.reference import Division, DivisionLevel
from registry.db.statistics import CompletionTarget
from registry.db.units import UnitKind
from registry.services.access import Principal, audit, require, require_county
from registry.services.errors import Forbidden, InvalidInput
from registry.services.timezone import local_date

CITY_CODE = "511900"
MEASURES = ("due", "recorded", "certified", "in_progress", "disputed")
# Who reads completion figures (aggregates only: no names, no ID numbers).
STATISTICS_READERS = (Role.STATISTICIAN, Role.AUDITOR, Role.ADMIN)
RATE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Figures:
    """One division's figures as of a date."""

    code: str
    name: str
    level: str  # city | county | township
    due: int = 0
    recorded: int = 0
    certified: int = 0
    in_progress: int = 0
    disputed: int = 0
    target: Decimal | None = None
    backlog_override: int | None = field(default=None, repr=False)

    @property
    def rate(self) -> Decimal | None:
        """STAT-4."""
        if self.due == 0:
            return None
        return (Decimal(self.recorded) / Decimal(self.due)).quantize(RATE_PLACES, ROUND_HALF_UP)

    @property
    def backlog(self) -> int | None:
        """STAT-5."""
        if self.backlog_override is not None:
            return self.backlog_override
        if self.target is None:
            return None
        return math.ceil(self.target * self.due) - self.recorded

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "level": self.level,
                **{m: getattr(self, m) for m in MEASURES},
                "rate": self.rate, "target": self.target, "backlog": self.backlog}


@dataclass(frozen=True)
class Completion:
    as_of: date
    kind: UnitKind
    total: Figures
    parts: list[Figures]


def today(now: datetime) -> date:
    return local_date(now)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def ledger_totals(session: Session, as_of: date, kind: UnitKind,
                  county_code: str | None) -> dict[tuple[str, str], dict[str, int]]:
    """(county, township) → the five measures as of the end of `as_of` (STAT-2)."""
    sums = ", ".join(f"sum({m})::bigint AS {m}" for m in MEASURES)
    county_filter = "" if county_code is None else " AND county_code = :county"
    rows = session.execute(text(f"""
        SELECT county_code, township_code, {sums}
          FROM (SELECT * FROM completion_ledger
                 WHERE kind = CAST(:kind AS unit_kind) AND grain = 'month'
                   AND period < :month{county_filter}
                UNION ALL
                SELECT * FROM completion_ledger
                 WHERE kind = CAST(:kind AS unit_kind) AND grain = 'day'
                   AND period >= :month AND period <= :as_of{county_filter}) AS l
         GROUP BY county_code, township_code
    """), {"kind": kind.value, "month": _month_start(as_of), "as_of": as_of,
           "county": county_code})
    return {(r.county_code, r.township_code): {m: int(getattr(r, m)) for m in MEASURES}
            for r in rows}


def _divisions(session: Session, parent: str) -> dict[str, str]:
    rows = session.execute(select(Division.code, Division.name)
                           .where(Division.parent_code == parent).order_by(Division.code))
    return {row.code: row.name for row in rows}


def _targets(session: Session, year: int, kind: UnitKind) -> dict[str, Decimal]:
    rows = session.execute(select(CompletionTarget.county_code, CompletionTarget.target)
                           .where(CompletionTarget.year == year, CompletionTarget.kind == kind))
    return {row.county_code: row.target for row in rows}


def _sum(code: str, name: str, level: str, parts: list[dict[str, int]],
         target: Decimal | None = None) -> Figures:
    totals = {m: sum(p.get(m, 0) for p in parts) for m in MEASURES}
    return Figures(code=code, name=name, level=level, target=target, **totals)


def require_reader(principal: Principal | None, county_code: str | None) -> Principal:
    """STATISTICS_READERS, within their county scope; the city total needs no scope (ACCESS-2)."""
    actor = require(principal, *STATISTICS_READERS)
    if county_code is None:
        if actor.county_code is not None:
            raise Forbidden("city-wide figures need a user without a county scope",
                            "全市汇总数据仅限不限辖区的用户查看")
    else:
        require_county(actor, county_code)
    return actor


def check_county(session: Session, county_code: str) -> str:
    level = session.scalar(select(Division.level).where(Division.code == county_code))
    if level is not DivisionLevel.COUNTY:
        raise InvalidInput("UNKNOWN_COUNTY", f"未知的县级区划：{county_code}",
                           f"not a known county: {county_code}", county=county_code)
    return county_code


def completion(session: Session, as_of: date, kind: UnitKind = UnitKind.RURAL_HOUSE,
               county_code: str | None = None) -> Completion:
    """The city (county_code None: parts are counties) or one county (parts are townships)."""
    targets = _targets(session, as_of.year, kind)
    if county_code is None:
        totals = ledger_totals(session, as_of, kind, None)
        counties = _divisions(session, CITY_CODE)
        by_county: dict[str, list[dict[str, int]]] = {c: [] for c in counties}
        for (county, _), figures in totals.items():
            by_county.setdefault(county, []).append(figures)
        parts = [_sum(c, counties.get(c, c), "county", by_county[c], targets.get(c))
                 for c in sorted(by_county)]
        backlogs = [p.backlog for p in parts if p.backlog is not None]
        total = replace(_sum(CITY_CODE, "巴中市", "city", [p.as_dict() for p in parts]),
                        backlog_override=sum(backlogs) if backlogs else None)
        return Completion(as_of=as_of, kind=kind, total=total, parts=parts)
    check_county(session, county_code)
    totals = ledger_totals(session, as_of, kind, county_code)
    townships = _divisions(session, county_code)
    county_name = session.scalar(select(Division.name).where(Division.code == county_code))
    by_township = {t: figures for (_, t), figures in totals.items()}
    target = targets.get(county_code)
    codes = sorted(set(townships) | {t for t, f in by_township.items() if any(f.values())})
    parts = [_sum(t, townships.get(t, t), "township", [by_township.get(t, {})], target)
             for t in codes]
    total = _sum(county_code, county_name or county_code, "county", list(by_township.values()),
                 target)
    return Completion(as_of=as_of, kind=kind, total=total, parts=parts)


def month_ends(year: int, until: date) -> list[date]:
    """The last day of each month of `year` up to `until` (the last point is `until` itself)."""
    points: list[date] = []
    for month in range(1, 13):
        end = (date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1))
        last = date.fromordinal(end.toordinal() - 1)
        if date(year, month, 1) > until:
            break
        points.append(min(last, until))
    return points


def completion_series(session: Session, year: int, until: date,
                      kind: UnitKind = UnitKind.RURAL_HOUSE,
                      county_code: str | None = None) -> list[Completion]:
    """Monthly series: the figures as of each month's end of `year` (up to `until`)."""
    if not 2000 <= year <= 2100:
        raise InvalidInput("INVALID_YEAR", "年份须在2000至2100之间",
                           "year must be between 2000 and 2100", year=year)
    return [completion(session, point, kind, county_code) for point in month_ends(year, until)]


def parse_target(value: Decimal | str) -> Decimal:
    try:
        target = Decimal(str(value))
    except ArithmeticError as exc:
        raise InvalidInput("INVALID_TARGET", "目标须为0到1之间的小数（如0.85）",
                           "target must be a fraction above 0 and at most 1 (e.g. 0.85)") from exc
    if not target.is_finite() or not Decimal(0) < target <= 1 or target != target.quantize(
            RATE_PLACES):
        raise InvalidInput("INVALID_TARGET", "目标须大于0、不超过1，最多4位小数（如0.85）",
                           "target must be above 0, at most 1, with at most 4 decimals",
                           target=str(value))
    return target.quantize(RATE_PLACES)


def set_target(session: Session, principal: Principal | None, county_code: str, year: int,
               target: Decimal | str, now: datetime, kind: UnitKind = UnitKind.RURAL_HOUSE,
               request_id: str | None = None) -> CompletionTarget:
    """年度目标 (admin): STAT-3; replaces the county's target for that year and kind."""
    actor = require(principal, Role.ADMIN)
    check_county(session, county_code)
    if not 2000 <= year <= 2100:
        raise InvalidInput("INVALID_YEAR", "年份须在2000至2100之间",
                           "year must be between 2000 and 2100", year=year)
    value = parse_target(target)
    row = session.get(CompletionTarget, (county_code, year, kind), with_for_update=True)
    previous = str(row.target) if row is not None else None
    if row is None:
        row = CompletionTarget(county_code=county_code, year=year, kind=kind, target=value,
                               set_by=actor.user_id, set_at=now)
        session.add(row)
    else:
        row.target, row.set_by, row.set_at = value, actor.user_id, now
    session.flush()
    audit(session, actor, "setCompletionTarget", f"{county_code}/{year}/{kind.value}",
          request_id, {"target": str(value), "previous": previous})
    return row
