"""Read models: the register as clients see it, one SQL statement per question.

A unit comes with its parcel, all its rights (history included) and their holders, built by
PostgreSQL as one JSON document per unit; a page of units is one statement whatever its size.
Restrictions whose lapse time has passed read as terminated at once (RESTRICT-1), before
`lapse_due` writes it down.

Results are plain dicts with snake_case keys; decimals come as strings (exact). ID numbers are
returned in full: who sees them how is decided at the API edge by registry.services.pii (PII-1..3).
Scope (ACCESS-2) is applied by callers through the `counties` argument.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.reader import Statement
from registry.db.spatial import STORAGE_SRID
from registry.services.errors import InvalidInput
from registry.services.registration.encumbrances import RANK_SQL

HOLDERS_JSON = """
COALESCE((SELECT json_agg(json_build_object(
        'party_id', pa.id, 'kind', pa.kind, 'name', pa.name, 'id_type', pa.id_type,
        'id_number', pa.id_number, 'share_numerator', h.share_numerator,
        'share_denominator', h.share_denominator) ORDER BY pa.id)
    FROM right_holders h JOIN parties pa ON pa.id = h.party_id
    WHERE h.right_id = r.id), '[]'::json)
"""

# RESTRICT-1: a right `r` whose lapse time has passed reads as terminated then, at once.
RIGHT_STATUS_SQL = ("(CASE WHEN r.status = 'current' AND r.lapses_at <= :now THEN 'terminated'"
                    " ELSE r.status::text END)")
RIGHT_ENDED_SQL = ("(CASE WHEN r.status = 'current' AND r.lapses_at <= :now THEN r.lapses_at"
                   " ELSE r.ended_at END)")

RIGHT_JSON = f"""
json_build_object(
    'id', r.id, 'unit_id', r.unit_id, 'kind', r.kind,
    'status', {RIGHT_STATUS_SQL},
    'right_type', r.right_type, 'right_nature', r.right_nature,
    'co_ownership', r.co_ownership, 'begun_at', r.begun_at,
    'ended_at', {RIGHT_ENDED_SQL},
    'term_start', r.term_start, 'term_end', r.term_end, 'lapses_at', r.lapses_at,
    'burdened_right_id', r.burdened_right_id, 'predecessor_id', r.predecessor_id,
    'amount', r.amount::text, 'authority', r.authority, 'document_no', r.document_no,
    'certificate_number', r.certificate_number,
    'application_number', (SELECT a.number FROM applications a WHERE a.id = r.application_id),
    'purpose', r.purpose,
    'dominant_unit_code', (SELECT du.code FROM units du WHERE du.id = r.dominant_unit_id),
    'servient_unit_code', (SELECT su.code FROM units su WHERE su.id = r.unit_id),
    'mortgage_mode', r.mortgage_mode, 'max_amount', r.max_amount::text,
    'claims_start', r.claims_start, 'claims_end', r.claims_end,
    'rank', {RANK_SQL}, 'seizure_type', r.seizure_type, 'priority_at', r.priority_at,
    'holders', {HOLDERS_JSON})
"""

PARCEL_JSON = """
json_build_object(
    'id', p.id, 'code', p.code, 'county_code', p.county_code, 'layer', p.layer,
    'elevation_bottom', p.elevation_bottom::text, 'elevation_top', p.elevation_top::text,
    'area', p.area::text, 'declared_area', p.declared_area::text,
    'land_use_system', p.land_use_system, 'land_use_code', p.land_use_code,
    'location', p.location, 'created_at', p.created_at, 'ended_at', p.ended_at)
"""

UNIT_COLUMNS = """
    'id', u.id, 'code', u.code, 'kind', u.kind, 'status', u.status,
    'county_code', u.county_code, 'township_code', u.township_code, 'location', u.location,
    'created_at', u.created_at,
    'building_no', u.building_no, 'floors', u.floors, 'structure', u.structure,
    'floor_area', u.floor_area::text,
    'category', u.category, 'managing_body', u.managing_body, 'length_m', u.length_m::text,
    'capacity', u.capacity, 'book_value', u.book_value::text,
    'completion_year', u.completion_year,
    'garage', u.garage, 'level', u.level, 'space_no', u.space_no,
    'space_area', u.space_area::text, 'civil_defence', u.civil_defence"""

# Which of a unit's rights to fetch.
RIGHTS_WHERE = {
    "all": "",
    "current": " AND r.status = 'current' AND (r.lapses_at IS NULL OR r.lapses_at > :now)",
    "title": " AND r.kind = 'title' AND r.status = 'current'",
}


@dataclass(frozen=True)
class UnitShape:
    """How much of a unit to fetch: its parcel or not, and all / current / title / no rights."""

    parcel: bool = True
    rights: str = "all"  # "all" | "current" | "title" | "none"


FULL = UnitShape()


@lru_cache(maxsize=16)
def unit_json(shape: UnitShape) -> str:
    """The SQL expression building one unit's JSON document in the given shape."""
    parcel = PARCEL_JSON if shape.parcel else "NULL"
    if shape.rights == "none":
        rights = "'[]'::json"
    else:
        rights = (f"COALESCE((SELECT json_agg({RIGHT_JSON} ORDER BY r.begun_at, r.id)"
                  f" FROM rights r WHERE r.unit_id = u.id{RIGHTS_WHERE[shape.rights]}),"
                  " '[]'::json)")
    # EASEMENT-2: the easements this unit benefits from, on its own register too.
    dominant = "'[]'::json" if shape.rights != "all" else (
        f"COALESCE((SELECT json_agg({RIGHT_JSON} ORDER BY r.begun_at, r.id)"
        " FROM rights r WHERE r.dominant_unit_id = u.id), '[]'::json)")
    return (f"json_build_object({UNIT_COLUMNS}, 'parcel', {parcel}, 'rights', {rights},"
            f" 'dominant_easements', {dominant})")



# --------------------------------------------------------------------------- cursors


def encode_cursor(key: dict[str, Any]) -> str:
    """Opaque keyset cursor: clients pass it back, they do not read it."""
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, fields: Sequence[str]) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("BAD_CURSOR", "分页游标无效", "invalid cursor") from exc
    if not isinstance(key, dict) or set(key) != set(fields):
        raise InvalidInput("BAD_CURSOR", "分页游标无效", "invalid cursor")
    return key


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    has_next: bool


# --------------------------------------------------------------------------- units


@dataclass(frozen=True)
class UnitFilter:
    counties: Sequence[str] | None = None  # None: every county
    kind: str | None = None
    status: str | None = None
    holder_id_number: str | None = None
    land_use_system: str | None = None
    land_use_code: str | None = None
    intersects_ewkt: str | None = None  # in STORAGE_SRID, made by services.geometry
    township: str | None = None


def unit_conditions(f: UnitFilter, params: dict[str, Any]) -> list[str]:
    where: list[str] = []
    if f.counties is not None:
        where.append("u.county_code = ANY(:counties)")
        params["counties"] = list(f.counties)
    if f.township is not None:
        where.append("u.township_code = :township")
        params["township"] = f.township
    if f.kind is not None:
        where.append("u.kind = CAST(:kind AS unit_kind)")
        params["kind"] = f.kind
    if f.status is not None:
        where.append("u.status = CAST(:status AS unit_status)")
        params["status"] = f.status
    if f.land_use_code is not None:
        where.append("p.land_use_code = :land_use_code")
        params["land_use_code"] = f.land_use_code
    if f.land_use_system is not None:
        where.append("p.land_use_system = :land_use_system")
        params["land_use_system"] = f.land_use_system
    if f.holder_id_number is not None:
        where.append("""EXISTS (SELECT 1 FROM rights r JOIN right_holders h ON h.right_id = r.id
                         JOIN parties pa ON pa.id = h.party_id
                        WHERE r.unit_id = u.id AND r.status = 'current' AND r.kind = 'title'
                          AND pa.id_number = :holder_id_number)""")
        params["holder_id_number"] = f.holder_id_number
    if f.intersects_ewkt is not None:
        where.append(f"ST_Intersects(p.geom, ST_GeomFromEWKT(:area)) "
                     f"AND ST_SRID(p.geom) = {STORAGE_SRID}")
        params["area"] = f.intersects_ewkt
    return where


def run(session: Session, statement: Statement) -> list[Any]:
    return [row[0] for row in session.execute(text(statement.sql), statement.params)]


def page_of(rows: list[dict[str, Any]], first: int) -> Page:
    """A page from up to first + 1 rows (the extra one says whether there is a next page)."""
    return Page(items=rows[:first], has_next=len(rows) > first)


def unit_page_statement(f: UnitFilter, first: int, after: str | None, now: datetime,
                        shape: UnitShape = FULL) -> Statement:
    """Units in code order after the cursor, each with what `shape` asks for (first + 1)."""
    params: dict[str, Any] = {"now": now, "limit": first + 1}
    where = unit_conditions(f, params)
    key = decode_cursor(after, ["code"])
    if key is not None:
        where.append("u.code > :after")
        params["after"] = str(key["code"])
    sql = (f"SELECT {unit_json(shape)} AS tree FROM units u JOIN parcels p ON p.id = u.parcel_id"
           f"{' WHERE ' + ' AND '.join(where) if where else ''}"
           " ORDER BY u.code LIMIT :limit")
    return Statement(sql, params)


def unit_count(session: Session, f: UnitFilter) -> int:
    params: dict[str, Any] = {}
    where = unit_conditions(f, params)
    sql = ("SELECT count(*) FROM units u JOIN parcels p ON p.id = u.parcel_id"
           f"{' WHERE ' + ' AND '.join(where) if where else ''}")
    return int(session.execute(text(sql), params).scalar_one())


def unit_tree_statement(code: str, now: datetime, shape: UnitShape = FULL) -> Statement:
    return Statement(_unit_by_code(shape), {"code": code, "now": now})


def unit_tree(session: Session, code: str, now: datetime,
              shape: UnitShape = FULL) -> dict[str, Any] | None:
    rows = run(session, unit_tree_statement(code, now, shape))
    return rows[0] if rows else None


@lru_cache(maxsize=16)
def _unit_by_code(shape: UnitShape) -> str:
    return (f"SELECT {unit_json(shape)} AS tree FROM units u"
            " JOIN parcels p ON p.id = u.parcel_id WHERE u.code = :code")


# --------------------------------------------------------------------------- parcels


def parcel_tree(session: Session, code: str) -> dict[str, Any] | None:
    row = session.execute(
        text(f"""SELECT json_build_object('parcel', {PARCEL_JSON},
                   'unit_codes', COALESCE((SELECT json_agg(u.code ORDER BY u.code)
                                             FROM units u WHERE u.parcel_id = p.id), '[]'))
                   AS tree
                 FROM parcels p WHERE p.code = :code
                ORDER BY p.ended_at IS NULL DESC, p.id DESC LIMIT 1"""),
        {"code": code}).first()
    return row.tree if row else None


def parcel_geojson(session: Session, parcel_ids: Sequence[int], srid: int) -> dict[int, Any]:
    """Geometries as GeoJSON in `srid` (one statement for all requested parcels)."""
    digits = 9 if srid == 4490 else 3
    rows = session.execute(
        text("SELECT id, ST_AsGeoJSON(ST_Transform(geom, :srid), :digits)::json AS g"
             " FROM parcels WHERE id = ANY(:ids)"),
        {"ids": list(parcel_ids), "srid": srid, "digits": digits})
    return {row.id: row.g for row in rows}


# --------------------------------------------------------------------------- applications

APPLICATION_JSON = """
json_build_object(
    'id', a.id, 'number', a.number, 'kind', a.kind, 'registration_type', a.registration_type,
    'state', a.state, 'county_code', a.county_code, 'terms', a.terms,
    'target_right_id', a.target_right_id, 'submitted_at', a.submitted_at,
    'recorded_at', a.recorded_at, 'note', a.note,
    'unit_codes', COALESCE((SELECT json_agg(u.code ORDER BY u.code) FROM application_units au
                              JOIN units u ON u.id = au.unit_id
                             WHERE au.application_id = a.id), '[]'),
    'parties', COALESCE((SELECT json_agg(json_build_object(
                  'party_id', pa.id, 'kind', pa.kind, 'name', pa.name, 'id_type', pa.id_type,
                  'id_number', pa.id_number, 'role', ap.role,
                  'share_numerator', ap.share_numerator,
                  'share_denominator', ap.share_denominator) ORDER BY ap.role, pa.id)
                  FROM application_parties ap JOIN parties pa ON pa.id = ap.party_id
                 WHERE ap.application_id = a.id), '[]'),
    'transitions', COALESCE((SELECT json_agg(json_build_object(
                  'from_state', t.from_state, 'to_state', t.to_state, 'actor', t.actor_name,
                  'at', t.at, 'reason', t.reason, 'request_id', t.request_id) ORDER BY t.id)
                  FROM application_transitions t WHERE t.application_id = a.id), '[]'),
    'certificates', COALESCE((SELECT json_agg(json_build_object(
                  'number', c.number, 'kind', c.kind, 'status', c.status,
                  'issued_at', c.issued_at, 'printed_at', c.printed_at, 'right_id', c.right_id,
                  'print', (SELECT json_build_object(
                                'id', p.id, 'serial', p.serial, 'sha256', p.file_sha256,
                                'size', f.size, 'verification_code', p.verification_code,
                                'printed_at', p.printed_at)
                              FROM printed_papers p
                              JOIN document_files f ON f.sha256 = p.file_sha256
                             WHERE p.certificate_id = c.id AND p.voided_at IS NULL))
                  ORDER BY c.serial)
                  FROM certificates c WHERE c.application_id = a.id), '[]'))
"""


@dataclass(frozen=True)
class ApplicationFilter:
    counties: Sequence[str] | None = None
    state: str | None = None
    kind: str | None = None
    unit_code: str | None = None


def application_tree(session: Session, number: str) -> dict[str, Any] | None:
    row = session.execute(text(f"SELECT {APPLICATION_JSON} AS tree FROM applications a"
                               " WHERE a.number = :number"), {"number": number}).first()
    return row.tree if row else None


def application_page(session: Session, f: ApplicationFilter, first: int,
                     after: str | None) -> Page:
    """Newest first."""
    params: dict[str, Any] = {"limit": first + 1}
    where = application_conditions(f, params)
    key = decode_cursor(after, ["id"])
    if key is not None:
        where.append("a.id < :after")
        params["after"] = int(key["id"])
    sql = (f"SELECT {APPLICATION_JSON} AS tree FROM applications a"
           f"{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY a.id DESC LIMIT :limit")
    rows = [row.tree for row in session.execute(text(sql), params)]
    return Page(items=rows[:first], has_next=len(rows) > first)


def application_conditions(f: ApplicationFilter, params: dict[str, Any]) -> list[str]:
    where: list[str] = []
    if f.counties is not None:
        where.append("a.county_code = ANY(:counties)")
        params["counties"] = list(f.counties)
    if f.state is not None:
        where.append("a.state = CAST(:state AS application_state)")
        params["state"] = f.state
    if f.kind is not None:
        where.append("a.kind = CAST(:kind AS application_kind)")
        params["kind"] = f.kind
    if f.unit_code is not None:
        where.append("EXISTS (SELECT 1 FROM application_units au JOIN units u"
                     " ON u.id = au.unit_id WHERE au.application_id = a.id AND u.code = :unit)")
        params["unit"] = f.unit_code
    return where


# --------------------------------------------------------------------------- parties


# The rights a party holds now, in the caller's counties (`:counties`, NULL: all).
PARTY_HOLDINGS_WHERE = """hh.party_id = pa.id AND r.status = 'current'
                       AND (r.lapses_at IS NULL OR r.lapses_at > :now)
                       AND (CAST(:counties AS text[]) IS NULL
                            OR u.county_code = ANY(CAST(:counties AS text[])))"""
# ACCESS-6 (see party_tree): a party a caller with a county scope may find.
PARTY_VISIBLE = """(CAST(:counties AS text[]) IS NULL
                    OR EXISTS (SELECT 1 FROM right_holders hh JOIN rights r ON r.id = hh.right_id
                                 JOIN units u ON u.id = r.unit_id
                                WHERE hh.party_id = pa.id
                                  AND u.county_code = ANY(CAST(:counties AS text[])))
                    OR EXISTS (SELECT 1 FROM application_parties ap
                                 JOIN applications a ON a.id = ap.application_id
                                WHERE ap.party_id = pa.id
                                  AND a.county_code = ANY(CAST(:counties AS text[]))))"""


def party_tree(session: Session, id_type: str, id_number: str, now: datetime,
               counties: Sequence[str] | None) -> dict[str, Any] | None:
    """A party and the current rights it holds (in the caller's counties).

    ACCESS-6 A caller with a county scope (`counties` not None) finds only a party its counties
    already show: one that holds or held a right on a unit there, or is named in an
    application (case) there. Any other party reads as unknown (None), the same answer as an
    ID nobody has, so the query is no oracle for who exists elsewhere. Unscoped callers
    (`counties` None: admin, auditor, city-level staff) find every party (ACCESS-2).
    """
    row = session.execute(
        text(f"""
            SELECT json_build_object(
                'party_id', pa.id, 'kind', pa.kind, 'name', pa.name, 'id_type', pa.id_type,
                'id_number', pa.id_number,
                'holdings', COALESCE((
                    SELECT json_agg(json_build_object('unit_code', u.code,
                                                      'unit_kind', u.kind,
                                                      'county_code', u.county_code,
                                                      'right', {RIGHT_JSON})
                                    ORDER BY u.code, r.id)
                      FROM right_holders hh JOIN rights r ON r.id = hh.right_id
                      JOIN units u ON u.id = r.unit_id
                     WHERE {PARTY_HOLDINGS_WHERE}), '[]'))
              AS tree
              FROM parties pa
             WHERE pa.id_type = CAST(:id_type AS id_type) AND pa.id_number = :id_number
               AND {PARTY_VISIBLE}
        """),
        {"id_type": id_type, "id_number": id_number, "now": now,
         "counties": list(counties) if counties is not None else None}).first()
    return row.tree if row else None


def register_entries_for_units(session: Session,
                               unit_codes: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The register entries naming each unit, oldest first (one statement for all units)."""
    rows = session.execute(
        text("""SELECT code, json_build_object(
                    'county_code', e.county_code, 'seq', e.seq, 'entry_type', e.entry_type,
                    'recorded_at', e.recorded_at, 'hash', e.hash, 'prev_hash', e.prev_hash,
                    'application_id', e.application_id, 'body', e.payload -> 'body') AS entry
                  FROM unnest(CAST(:codes AS text[])) AS code
                  JOIN register_entries e ON e.unit_codes @> ARRAY[code]::varchar[]
                 ORDER BY code, e.county_code, e.seq"""),
        {"codes": list(unit_codes)})
    found: dict[str, list[dict[str, Any]]] = {code: [] for code in unit_codes}
    for row in rows:
        found[row.code].append(row.entry)
    return found


_LINEAGE_SQL = {
    table: text(f"""
        SELECT x.successor_id AS key, 'from' AS side, o.code, {status.format(t="o")} AS status,
               a.number AS application_number, a.recorded_at
          FROM {table}_lineage x JOIN {table}s o ON o.id = x.predecessor_id
          JOIN applications a ON a.id = x.application_id
         WHERE x.successor_id = ANY(:ids)
        UNION ALL
        SELECT x.predecessor_id, 'into', n.code, {status.format(t="n")},
               a.number, a.recorded_at
          FROM {table}_lineage x JOIN {table}s n ON n.id = x.successor_id
          JOIN applications a ON a.id = x.application_id
         WHERE x.predecessor_id = ANY(:ids)
         ORDER BY 1, 2, 3""")
    for table, status in (("unit", "{t}.status::text"),
                          ("parcel", "CASE WHEN {t}.ended_at IS NULL THEN 'current'"
                                     " ELSE 'historic' END"))}


def lineage(session: Session, ids: Sequence[int], table: str
            ) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """LINEAGE-1: for each unit (`table` "unit") or parcel ("parcel"), what it was made from
    ("from") and what was made from it ("into"), in code order; one statement for all."""
    found: dict[int, dict[str, list[dict[str, Any]]]] = {
        key: {"from": [], "into": []} for key in ids}
    for row in session.execute(_LINEAGE_SQL[table], {"ids": list(ids)}).mappings():
        found[row["key"]][row["side"]].append(dict(row))
    return found
