"""Natural-resource figures: resource area by type and county, and the asset audit's 全民所有
natural-resource holdings (清产核资). Both read what the register recorded.

- NRSTAT-1 A unit counts when its current version is registered; its figures are those of its
  last register entry (NRREG-1: the areas as recorded), not a live recomputation — the
  statistics say what the register says, whatever land cover was loaded since.
- NRSTAT-2 Area by type sums the recorded hectares of each resource type per county and for
  the city; units are counted per county by status (预划 / 已登簿 / 已注销), so the backlog of
  pre-delimited units shows beside the registered area.
- NRSTAT-3 A 全民所有 holding is a registered unit whose current ownership names the state
  (全民) as owner: its 国有面积 (the unit's area when the split was not entered), who performs
  the owner's duties, how, and through which agent, with its per-type areas as recorded.
Figures are for statisticians and auditors (every county) and admins; counties as ACCESS-2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.codes.natural_resources import ResourceType

LAST_ENTRIES = """
    SELECT DISTINCT ON (n->'unit'->>'code') n->'unit'->>'code' AS code, n AS body
      FROM register_entries e CROSS JOIN LATERAL (SELECT e.payload->'body'->'natural_resource') x(n)
     WHERE e.entry_type LIKE 'nr\\_%'
     ORDER BY n->'unit'->>'code', e.county_code DESC, e.seq DESC"""

AREAS_SQL = f"""
WITH last AS ({LAST_ENTRIES})
SELECT u.county_code, t->>'type' AS kind, sum((t->>'area_ha')::numeric) AS area_ha,
       count(DISTINCT u.code) AS units
  FROM nr_units u JOIN last l ON l.code = u.code
 CROSS JOIN LATERAL jsonb_array_elements(coalesce(l.body->'areas'->'types', '[]')) t
 WHERE u.ended_at IS NULL AND u.status = 'registered'
   AND (CAST(:counties AS text[]) IS NULL OR u.county_code = ANY(CAST(:counties AS text[])))
 GROUP BY u.county_code, t->>'type'
 ORDER BY 1, 2"""

COUNTS_SQL = """
SELECT u.county_code, u.status::text AS status, count(*) AS units, sum(u.area_ha) AS area_ha
  FROM nr_units u
 WHERE u.ended_at IS NULL
   AND (CAST(:counties AS text[]) IS NULL OR u.county_code = ANY(CAST(:counties AS text[])))
 GROUP BY 1, 2 ORDER BY 1, 2"""

HOLDINGS_SQL = f"""
WITH last AS ({LAST_ENTRIES})
SELECT u.code, u.name, u.unit_type, ty.name AS type_name, u.county_code, u.level::text AS level,
       u.authority, u.area_ha, coalesce(u.state_area_ha, u.area_ha) AS state_area_ha,
       o.duty_body, o.exercise::text AS exercise, o.agent_body, l.body->'areas' AS areas
  FROM nr_units u
  JOIN nr_unit_types ty ON ty.code = u.unit_type
  JOIN nr_ownership o ON o.unit_code = u.code AND o.ended_at IS NULL AND o.owner = 'state'
  LEFT JOIN last l ON l.code = u.code
 WHERE u.ended_at IS NULL AND u.status = 'registered'
   AND (CAST(:counties AS text[]) IS NULL OR u.county_code = ANY(CAST(:counties AS text[])))
 ORDER BY u.county_code, u.code"""


@dataclass(frozen=True)
class CountyResourceAreas:
    county_code: str
    area_by_type: dict[ResourceType, Decimal]  # every type, 0 where none
    units_by_status: dict[str, int]  # predelimited / registered / cancelled
    registered_area_ha: Decimal


def resource_area_statistics(session: Session,
                             counties: Sequence[str] | None) -> list[CountyResourceAreas]:
    """NRSTAT-1/2 for each county with a unit (counties None: every county)."""
    params = {"counties": None if counties is None else list(counties)}
    areas: dict[str, dict[ResourceType, Decimal]] = {}
    for row in session.execute(text(AREAS_SQL), params):
        areas.setdefault(row.county_code, {})[ResourceType(row.kind)] = Decimal(row.area_ha)
    counts: dict[str, dict[str, int]] = {}
    registered: dict[str, Decimal] = {}
    for row in session.execute(text(COUNTS_SQL), params):
        counts.setdefault(row.county_code, {})[row.status] = int(row.units)
        if row.status == "registered":
            registered[row.county_code] = Decimal(row.area_ha)
    result = []
    for county in sorted(set(areas) | set(counts)):
        by_type = {kind: areas.get(county, {}).get(kind, Decimal("0.00")) for kind in ResourceType}
        statuses = {s: counts.get(county, {}).get(s, 0)
                    for s in ("predelimited", "registered", "cancelled")}
        result.append(CountyResourceAreas(county, by_type, statuses,
                                          registered.get(county, Decimal("0.00"))))
    return result


def city_total(figures: Sequence[CountyResourceAreas]) -> CountyResourceAreas:
    """The city: the sum of its counties."""
    return CountyResourceAreas(
        "511900", {k: sum((f.area_by_type[k] for f in figures), Decimal("0.00"))
                   for k in ResourceType},
        {s: sum(f.units_by_status[s] for f in figures)
         for s in ("predelimited", "registered", "cancelled")},
        sum((f.registered_area_ha for f in figures), Decimal("0.00")))


def state_holdings(session: Session, counties: Sequence[str] | None) -> list[dict[str, Any]]:
    """NRSTAT-3: the 全民所有 natural-resource holdings, one row per registered unit."""
    rows = session.execute(text(HOLDINGS_SQL),
                           {"counties": None if counties is None else list(counties)})
    holdings = []
    for row in rows.mappings():
        types = {t["type"]: Decimal(t["area_ha"])
                 for t in (row["areas"] or {}).get("types", [])}
        holdings.append({**{k: row[k] for k in ("code", "name", "unit_type", "type_name",
                                                "county_code", "level", "authority",
                                                "duty_body", "exercise", "agent_body")},
                         "area_ha": Decimal(row["area_ha"]),
                         "state_area_ha": Decimal(row["state_area_ha"]),
                         "area_by_type": {kind: types.get(kind.value, Decimal("0.00"))
                                          for kind in ResourceType}})
    return holdings
