"""Asset audit (清产核资): what each holder holds by current title — by holder, unit kind,
county and land use: count, land area, floor area, book value — with the restrictions that bind
it (mortgaged, seized); exported as CSV or XLSX.

Definitions (docs/statistics.md, "Asset audit"), stated once:
- AUDIT-1 A holding is a holder of a unit's current title right (status current). A unit held
  jointly or by shares is a holding of each holder (its share shown); holder figures are not
  divided by share.
- AUDIT-2 Land area = the parcel's area ÷ the number of units on the parcel that are not
  cancelled (equal apportionment, 分摊); floor area = a building's floor area or a parking
  space's area; book value = the unit's 账面价值 (infrastructure).
- AUDIT-3 Mortgaged / seized: a current mortgage / seizure burdens the title and has not lapsed.
- AUDIT-4 Lists and exports show ID numbers masked (PII-2, registry.services.pii); reads are keyset
  pages; an export streams pages and stops at EXPORT_MAX_ROWS.
Reading is for auditors (every county) and admins; auditors change nothing (ACCESS-3).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.access import Role
from registry.db.parties import PartyKind
from registry.db.units import UnitKind
from registry.services.errors import InvalidInput
from registry.services.pii import mask_id_number
from registry.services.reads import Page, decode_cursor

AUDIT_READERS = (Role.AUDITOR,)
EXPORT_MAX_ROWS = 1_000_000  # an XLSX sheet holds 1,048,576 rows
EXPORT_PAGE = 2_000


@dataclass(frozen=True)
class HoldingFilter:
    counties: Sequence[str] | None = None  # None: every county
    unit_kind: str | None = None
    holder_kinds: Sequence[str] | None = None  # party kinds: government, public_institution …
    holder_id_number: str | None = None
    land_use_code: str | None = None
    restricted: str | None = None  # mortgaged | seized | any


RESTRICTION_SQL = """
    EXISTS (SELECT 1 FROM rights x WHERE x.burdened_right_id = {right} AND x.kind = '{kind}'
               AND x.status = 'current' AND (x.lapses_at IS NULL OR x.lapses_at > :now))"""


def restricted_by(kind: str, right: str = "r.id") -> str:
    """AUDIT-3: a current `kind` (mortgage, seizure) that has not lapsed burdens `right`."""
    return RESTRICTION_SQL.format(kind=kind, right=right)


HOLDING_ROWS = """
SELECT u.code AS unit_code, u.kind::text AS unit_kind, u.county_code, u.township_code,
       u.location, p.land_use_system, p.land_use_code, p.code AS parcel_code,
       round(p.area / greatest(1, (SELECT count(*) FROM units o
                                    WHERE o.parcel_id = u.parcel_id
                                      AND o.status <> 'cancelled')), 2) AS land_area,
       coalesce(u.floor_area, u.space_area) AS floor_area, u.book_value,
       pa.id AS party_id, pa.name AS holder_name, pa.kind::text AS holder_kind,
       pa.id_type::text AS id_type, pa.id_number,
       r.co_ownership::text AS co_ownership, h.share_numerator, h.share_denominator,
       r.certificate_number, r.begun_at, r.id AS right_id
  FROM units u
  JOIN rights r ON r.unit_id = u.id AND r.kind = 'title' AND r.status = 'current'
  JOIN right_holders h ON h.right_id = r.id
  JOIN parties pa ON pa.id = h.party_id
  JOIN parcels p ON p.id = u.parcel_id
"""


def holdings_sql(where: list[str], tail: str = "") -> str:
    """The holdings matching `where` (then `tail`: order, limit), each with its restriction
    flags (AUDIT-3), which are evaluated on those rows only, outside: inside the join
    PostgreSQL plans them for every row the join could give, a scan of all rights."""
    return (f"SELECT holding.*, {restricted_by('mortgage', 'holding.right_id')} AS mortgaged,"
            f" {restricted_by('seizure', 'holding.right_id')} AS seized FROM ({HOLDING_ROWS}"
            + (" WHERE " + " AND ".join(where) if where else "") + f"{tail}) AS holding")


def _conditions(f: HoldingFilter, params: dict[str, Any]) -> list[str]:
    where: list[str] = []
    if f.counties is not None:
        where.append("u.county_code = ANY(:counties)")
        params["counties"] = list(f.counties)
    if f.unit_kind is not None:
        where.append("u.kind = CAST(:unit_kind AS unit_kind)")
        params["unit_kind"] = f.unit_kind
    if f.holder_kinds:
        where.append("pa.kind = ANY(CAST(:holder_kinds AS party_kind[]))")
        params["holder_kinds"] = list(f.holder_kinds)
    if f.holder_id_number is not None:
        where.append("pa.id_number = :holder_id")
        params["holder_id"] = f.holder_id_number
    if f.land_use_code is not None:
        where.append("p.land_use_code = :land_use")
        params["land_use"] = f.land_use_code
    if f.restricted is not None:
        kinds = {"mortgaged": ["mortgage"], "seized": ["seizure"],
                 "any": ["mortgage", "seizure"]}.get(f.restricted)
        if kinds is None:
            raise InvalidInput("BAD_FILTER", "restricted 应为 mortgaged、seized 或 any",
                               "restricted is mortgaged, seized or any")
        where.append("(" + " OR ".join(restricted_by(k) for k in kinds) + ")")
    return where


def holding_page(session: Session, f: HoldingFilter, first: int, after: str | None,
                 now: datetime) -> Page:
    """Holdings in (unit code, holder) order after the cursor; ID numbers in full (mask on
    the way out, AUDIT-4)."""
    params: dict[str, Any] = {"now": now, "limit": first + 1}
    where = _conditions(f, params)
    key = decode_cursor(after, ["code", "party"])
    if key is not None:
        # The row comparison spans two tables; `u.code >=` lets the scan start at the cursor.
        where.append("u.code >= :after_code AND (u.code, pa.id) > (:after_code, :after_party)")
        params.update(after_code=str(key["code"]), after_party=int(key["party"]))
    if f.counties is not None and len(f.counties) == 1:
        # One county: its units' codes begin with its code (the CHECK code_divisions), so
        # the code-ordered scan reads that range only.
        where.append("u.code >= :county_from AND u.code < :county_to")
        county = f.counties[0]
        params.update(county_from=county, county_to=county[:-1] + chr(ord(county[-1]) + 1))
    sql = (holdings_sql(where, " ORDER BY u.code, pa.id LIMIT :limit")
           + " ORDER BY holding.unit_code, holding.party_id")
    rows = [dict(r._mapping) for r in session.execute(text(sql), params)]
    return Page(items=rows[:first], has_next=len(rows) > first)


def holder_summary_page(session: Session, f: HoldingFilter, first: int, after: str | None,
                        now: datetime) -> Page:
    """Per holder (in party order), their holdings grouped by county, unit kind and land use:
    count, land area, floor area, book value. A page is `first` holders."""
    params: dict[str, Any] = {"now": now, "limit": first + 1}
    where = _conditions(f, params)
    key = decode_cursor(after, ["party"])
    if key is not None:
        where.append("pa.id > :after_party")
        params["after_party"] = int(key["party"])
    filtered = holdings_sql(where)
    sql = f"""
        WITH holdings AS MATERIALIZED (
            SELECT * FROM ({filtered}) AS h
             WHERE h.party_id IN (SELECT DISTINCT party_id FROM ({filtered}) AS k
                                   ORDER BY party_id LIMIT :limit))
        SELECT party_id, min(holder_name) AS holder_name, min(holder_kind) AS holder_kind,
               min(id_type) AS id_type, min(id_number) AS id_number,
               county_code, unit_kind, land_use_system, land_use_code,
               count(*) AS units, sum(land_area) AS land_area,
               sum(floor_area) AS floor_area, sum(book_value) AS book_value,
               count(*) FILTER (WHERE mortgaged) AS mortgaged,
               count(*) FILTER (WHERE seized) AS seized
          FROM holdings
         GROUP BY party_id, county_code, unit_kind, land_use_system, land_use_code
         ORDER BY party_id, county_code, unit_kind, land_use_system, land_use_code"""
    groups = [dict(r._mapping) for r in session.execute(text(sql), params)]
    holders: dict[int, dict[str, Any]] = {}
    for g in groups:
        holder = holders.setdefault(g["party_id"], {
            "party_id": g["party_id"], "name": g["holder_name"], "kind": g["holder_kind"],
            "id_type": g["id_type"], "id_number": g["id_number"], "groups": []})
        holder["groups"].append(g)
    items = list(holders.values())
    return Page(items=items[:first], has_next=len(items) > first)


def iter_holdings(session: Session, f: HoldingFilter, now: datetime,
                  limit: int = EXPORT_MAX_ROWS) -> Iterator[dict[str, Any]]:
    """Every matching holding, page by page (memory stays flat), at most `limit` rows."""
    from registry.services.reads import encode_cursor

    after: str | None = None
    produced = 0
    while produced < limit:
        page = holding_page(session, f, min(EXPORT_PAGE, limit - produced), after, now)
        yield from page.items
        produced += len(page.items)
        if not page.has_next or not page.items:
            return
        last = page.items[-1]
        after = encode_cursor({"code": last["unit_code"], "party": last["party_id"]})


# --------------------------------------------------------------------------- export

COLUMNS: list[tuple[str, str]] = [
    ("unit_code", "不动产单元号"), ("unit_kind", "单元类型"), ("unit_kind_code", "单元类型代码"),
    ("county_code", "县区"),
    ("township_code", "乡镇"), ("location", "坐落"), ("land_use_code", "土地用途"),
    ("land_area", "分摊土地面积(m²)"), ("floor_area", "建筑/车位面积(m²)"),
    ("book_value", "账面价值(元)"), ("holder_name", "权利人"), ("holder_kind", "权利人类型"),
    ("holder_kind_code", "权利人类型代码"),
    ("id_number", "证件号(脱敏)"), ("share", "份额"), ("certificate_number", "不动产权证号"),
    ("mortgaged", "抵押"), ("seized", "查封"),
]
SUMMED = ("land_area", "floor_area", "book_value")


def export_row(row: dict[str, Any]) -> dict[str, Any]:
    """A holding as exported: ID masked (AUDIT-4), share as a fraction, flags as 是/否, each
    coded value as its Chinese label with the API's enum name in its own 代码 column."""
    share = (f"{row['share_numerator']}/{row['share_denominator']}"
             if row.get("share_numerator") is not None else "")
    out = {name: row.get(name) for name, _ in COLUMNS}
    out.update(id_number=mask_id_number(row["id_type"], row["id_number"]), share=share,
               mortgaged="是" if row["mortgaged"] else "否",
               seized="是" if row["seized"] else "否")
    unit_kind, holder_kind = UnitKind(row["unit_kind"]), PartyKind(row["holder_kind"])
    out.update(unit_kind=unit_kind.label_zh, unit_kind_code=unit_kind.name,
               holder_kind=holder_kind.label_zh, holder_kind_code=holder_kind.name)
    return out


@dataclass
class Totals:
    holdings: int = 0
    land_area: Decimal = Decimal(0)
    floor_area: Decimal = Decimal(0)
    book_value: Decimal = Decimal(0)
    mortgaged: int = 0
    seized: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.holdings += 1
        for name in SUMMED:
            if row.get(name) is not None:
                setattr(self, name, getattr(self, name) + Decimal(row[name]))
        self.mortgaged += int(bool(row["mortgaged"]))
        self.seized += int(bool(row["seized"]))


def write_csv(rows: Iterator[dict[str, Any]], out: IO[str]) -> Totals:
    """UTF-8 CSV with a header (Chinese) and a final 合计 row."""
    writer = csv.writer(out)
    writer.writerow([title for _, title in COLUMNS])
    totals = Totals()
    for row in rows:
        totals.add(row)
        data = export_row(row)
        writer.writerow(["" if data[n] is None else data[n] for n, _ in COLUMNS])
    writer.writerow(_totals_line(totals))
    return totals


def _totals_line(totals: Totals) -> list[Any]:
    line: list[Any] = [f"合计 {totals.holdings}"] + [""] * (len(COLUMNS) - 1)
    for index, (name, _) in enumerate(COLUMNS):
        if name in SUMMED or name in ("mortgaged", "seized"):
            line[index] = getattr(totals, name)
    return line


def write_xlsx(rows: Iterator[dict[str, Any]], out: IO[bytes]) -> Totals:
    """An XLSX workbook (write-only, streamed): sheet 明细 with every holding and a 合计 row
    whose figures are the sums (numbers, not formulas: any reader sees them)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("明细")
    sheet.append([title for _, title in COLUMNS])
    totals = Totals()
    for row in rows:
        totals.add(row)
        data = export_row(row)
        sheet.append([float(data[n]) if n in SUMMED and data[n] is not None else data[n]
                      for n, _ in COLUMNS])
    sheet.append([float(v) if isinstance(v, Decimal) else v for v in _totals_line(totals)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    out.write(buffer.getvalue())
    return totals
