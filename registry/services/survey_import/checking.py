"""Checking (phase `checking`): every check is one SQL statement over all the staged rows. They
become the temporary tables `survey_parcels` and `survey_units`, each row with the first check it
fails (`reject`, NULL when it passed) and the id of the register's current parcel or unit of the
same code (`existing_id`); `differences` then says what a good row of a code already in the
register says otherwise.

Rules enforced here, stated once:
- IMPORT-2 Every row is checked; a row that fails a check is not imported and is reported with
  the first check it fails (row, code, message), in the order of PARCEL_CHECKS and
  UNIT_CHECKS. The batch goes on without it.
- IMPORT-3 Rows that collide are all refused: every row of a code that appears twice
  (DUPLICATE_CODE), both parcels of an overlapping pair in the file (PARCEL_OVERLAP), any
  parcel overlapping a current parcel of the register (the same rule as PARCEL-2, checked
  first so that the database trigger never has to refuse the batch).
- IMPORT-4 Idempotent by code: a parcel or unit whose code is already in the register is left
  as it is; where the file says something else, the difference is reported
  (DIFFERS_FROM_REGISTER). A second import of the same file changes nothing.
- IMPORT-5 A parcel is imported only with at least one importable unit (NO_VALID_UNIT), and a
  unit only on a parcel that passed (PARCEL_REJECTED) or is already in the register.
- IMPORT-6 Units are created in state `surveyed` (due for registration): rural houses,
  infrastructure and parking spaces only; the kind rules of registry/services/units.py
  (KIND-1..3) and the attribute rules of UNIT-2 hold for every imported unit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.spatial import OVERLAP_TOLERANCE_M2, STORAGE_SRID
from registry.services.geometry import CITY_EXTENT
from registry.services.survey_import.mapping import (
    BOOLEAN_VALUES,
    CATEGORY_VALUES,
    DEFAULT_LAND_USE_SYSTEM,
    KIND_VALUES,
    UNIT_COLUMNS,
)

# ---------------------------------------------------------------------- the checks, in order
PARCEL_RE = "^[0-9]{12}[GJZ][ABSXCDEFGHWY][0-9]{5}$"
UNIT_RE = "^[0-9]{12}[GJZ][ABSXCDEFGHWY][0-9]{5}[FLQW][0-9]{8}$"
AREA_RE = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
MONEY_RE = r"^[0-9]{1,14}(\.[0-9]{1,2})?$"
ELEVATION_RE = r"^-?[0-9]{1,6}(\.[0-9]{1,2})?$"
# Ownership letter J is required by use-right letters A and C (domain.md §2).
_COLLECTIVE_ONLY = "(substr({c}, 14, 1) IN ('A', 'C') AND substr({c}, 13, 1) <> 'J')"



def _bad_number(column: str, pattern: str, bad_value: str = "false",
                required: bool = False) -> str:
    """TRUE when `column` is not a number of `pattern`, or when `bad_value` holds for it.
    A CASE, so the cast only ever sees well-formed text (OR has no evaluation order)."""
    empty = "true" if required else "false"
    value = bad_value.replace("{}", f"CAST({column} AS numeric)")
    return (f"CASE WHEN {column} IS NULL THEN {empty} WHEN {column} !~ '{pattern}' THEN true"
            f" ELSE {value} END")


# (reject code, SQL condition that is TRUE when the row fails), evaluated in this order.
PARCEL_CHECKS: list[tuple[str, str]] = [
    ("INVALID_CODE", f"s.code !~ '{PARCEL_RE}' OR {_COLLECTIVE_ONLY.format(c='s.code')}"),
    ("UNKNOWN_COUNTY", "left(s.code, 6) <> ALL(CAST(:counties AS text[]))"),
    ("OUTSIDE_SCOPE", "CAST(:scope AS text) IS NOT NULL AND left(s.code, 6) <> :scope"),
    ("DUPLICATE_CODE", "s.copies > 1"),
    ("MISSING_GEOMETRY", "s.raw IS NULL"),
    ("NOT_A_POLYGON", "GeometryType(s.raw) NOT IN ('POLYGON', 'MULTIPOLYGON')"
                      " OR ST_IsEmpty(s.raw)"),
    ("INVALID_GEOMETRY", "NOT ST_IsValid(s.raw)"),
    # GEOM-3: inside the city's extent (with its margin), as a box in the file's CRS
    ("OUTSIDE_CITY", "NOT s.raw @ ST_MakeEnvelope(:ex0, :ey0, :ex1, :ey1, :srid)"),
    ("UNKNOWN_LAND_USE", "lu.code IS NULL"),
    ("INVALID_ATTRIBUTE", _bad_number("s.declared_area", AREA_RE, "{} <= 0")),
    ("INVALID_ELEVATION",
     f"CASE WHEN s.elevation_bottom !~ '{ELEVATION_RE}' OR s.elevation_top !~ '{ELEVATION_RE}'"
     " THEN true ELSE CASE s.layer"
     "  WHEN 'surface' THEN s.elevation_bottom IS NOT NULL OR s.elevation_top IS NOT NULL"
     "  WHEN 'above' THEN s.elevation_bottom IS NULL OR s.elevation_top IS NULL"
     "   OR CAST(s.elevation_bottom AS numeric) < 0"
     "   OR CAST(s.elevation_top AS numeric) <= CAST(s.elevation_bottom AS numeric)"
     "  ELSE s.elevation_bottom IS NULL OR s.elevation_top IS NULL"
     "   OR CAST(s.elevation_top AS numeric) > 0"
     "   OR CAST(s.elevation_top AS numeric) <= CAST(s.elevation_bottom AS numeric) END END"),
]

_F = "substr(s.code, 20, 1)"
# (reject code, field, SQL condition TRUE when the row fails), in order.
UNIT_CHECKS: list[tuple[str, str | None, str]] = [
    ("INVALID_CODE", None,
     f"s.code !~ '{UNIT_RE}' OR {_COLLECTIVE_ONLY.format(c='s.code')}"
     f" OR ({_F} = 'W' AND substr(s.code, 21) <> '00000000')"),
    ("UNKNOWN_COUNTY", None, "left(s.code, 6) <> ALL(CAST(:counties AS text[]))"),
    ("OUTSIDE_SCOPE", None, "CAST(:scope AS text) IS NOT NULL AND left(s.code, 6) <> :scope"),
    ("DUPLICATE_CODE", None, "s.copies > 1"),
    ("UNKNOWN_PARCEL", None, "fp.row IS NULL AND rp.id IS NULL"),
    ("PARCEL_REJECTED", None, "fp.reject IS NOT NULL"),
    ("INVALID_KIND", "kind", "s.kind_value IS NULL"),
    # KIND-1..3
    ("KIND_MISMATCH", "kind",
     f"CASE s.kind_value WHEN 'rural_house' THEN substr(s.code, 13, 2) <> 'JC' OR {_F} <> 'F'"
     f" WHEN 'parking_space' THEN substr(s.code, 14, 1) NOT IN ('B', 'S', 'X') OR {_F} <> 'F'"
     f" ELSE {_F} NOT IN ('F', 'W') END"),
    # UNIT-2: what each kind must carry
    ("INVALID_ATTRIBUTE", "floors",
     "s.kind_value = 'rural_house' AND "
     + _bad_number("s.floors", "^[0-9]{1,3}$", "{} < 1", required=True)),
    ("INVALID_ATTRIBUTE", "structure",
     "s.kind_value = 'rural_house' AND (s.structure IS NULL OR length(s.structure) > 32)"),
    ("INVALID_ATTRIBUTE", "floor_area",
     "s.kind_value = 'rural_house' AND "
     + _bad_number("s.floor_area", AREA_RE, "{} <= 0", required=True)),
    ("INVALID_ATTRIBUTE", "category",
     "s.kind_value = 'infrastructure' AND s.category_value IS NULL"),
    ("INVALID_ATTRIBUTE", "managing_body",
     "s.kind_value = 'infrastructure'"
     " AND (s.managing_body IS NULL OR length(s.managing_body) > 128)"),
    ("INVALID_ATTRIBUTE", "length_m", f"s.length_m IS NOT NULL AND s.length_m !~ '{AREA_RE}'"),
    ("INVALID_ATTRIBUTE", "capacity", "length(s.capacity) > 64"),
    ("INVALID_ATTRIBUTE", "book_value",
     f"s.book_value IS NOT NULL AND s.book_value !~ '{MONEY_RE}'"),
    ("INVALID_ATTRIBUTE", "completion_year",
     _bad_number("s.completion_year", "^[0-9]{4}$", "{} NOT BETWEEN 1900 AND 2100")),
    ("INVALID_ATTRIBUTE", "garage",
     "s.kind_value = 'parking_space' AND (s.garage IS NULL OR length(s.garage) > 128)"),
    ("INVALID_ATTRIBUTE", "level",
     "s.kind_value = 'parking_space' AND coalesce(s.level, '') !~ '^-?[0-9]{1,2}$'"),
    ("INVALID_ATTRIBUTE", "space_no",
     "s.kind_value = 'parking_space' AND (s.space_no IS NULL OR length(s.space_no) > 16)"),
    ("INVALID_ATTRIBUTE", "space_area",
     "s.kind_value = 'parking_space' AND "
     + _bad_number("s.space_area", AREA_RE, "{} <= 0", required=True)),
    ("INVALID_ATTRIBUTE", "civil_defence", "s.civil_defence_value IS NULL"),
]


# ---------------------------------------------------------------------- checking


def _case(checks: Sequence[tuple[str, str]]) -> str:
    return "CASE " + " ".join(f"WHEN {cond} THEN '{code}'" for code, cond in checks) + " END"


def classify_parcels(session: Session, srid: int, scope: str | None,
                     counties: Sequence[str]) -> None:
    west, south, east, north = CITY_EXTENT
    extent = session.execute(text("""
        SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
          FROM (SELECT CAST(ST_Transform(ST_Segmentize(ST_MakeEnvelope(:w, :s, :e, :n, 4490),
                                                       0.01), :srid) AS box2d) AS e) AS t"""),
                             {"w": west, "s": south, "e": east, "n": north, "srid": srid}).one()
    sql = f"""
        CREATE TEMP TABLE survey_parcels ON COMMIT DROP AS
        WITH staged AS (
            SELECT i.row, coalesce(i.code, '') AS key, upper(coalesce(i.code, '')) AS code,
                   coalesce(i.land_use_system, :default_system) AS land_use_system,
                   coalesce(i.land_use_code, '') AS land_use_code,
                   coalesce(i.location, '') AS location, i.declared_area,
                   i.elevation_bottom, i.elevation_top,
                   CASE WHEN i.wkb IS NOT NULL
                        THEN ST_Force2D(ST_GeomFromWKB(i.wkb, :srid)) END AS raw
              FROM survey_parcels_in i),
        s AS (
            SELECT staged.*, count(*) OVER (PARTITION BY staged.code) AS copies,
                   CASE substr(staged.code, 14, 1) WHEN 'S' THEN 'above'
                        WHEN 'X' THEN 'underground' ELSE 'surface' END AS layer
              FROM staged),
        checked AS MATERIALIZED (  -- else every use of `reject` evaluates the checks again
            SELECT s.*, {_case(PARCEL_CHECKS)} AS reject
              FROM s LEFT JOIN land_use_codes lu
                ON lu.system = s.land_use_system AND lu.code = s.land_use_code)
        SELECT c.*, CAST(NULL AS jsonb) AS detail,
               CASE WHEN c.reject IS NULL THEN CAST(c.elevation_bottom AS numeric) END AS eb,
               CASE WHEN c.reject IS NULL THEN CAST(c.elevation_top AS numeric) END AS et,
               CASE WHEN c.reject IS NULL
                    THEN ST_Multi(ST_Transform(c.raw, {STORAGE_SRID})) END AS geom,
               p.id AS existing_id
          FROM checked c
          LEFT JOIN parcels p ON p.code = c.code AND p.ended_at IS NULL AND c.copies = 1
    """
    session.execute(text(sql), {"srid": srid, "scope": scope, "counties": list(counties),
                                "default_system": DEFAULT_LAND_USE_SYSTEM, "ex0": extent.x0,
                                "ey0": extent.y0, "ex1": extent.x1, "ey1": extent.y1})
    if srid != STORAGE_SRID:  # a valid shape can become invalid when reprojected (rare)
        session.execute(text("""
            UPDATE survey_parcels SET reject = 'INVALID_GEOMETRY'
             WHERE reject IS NULL AND NOT ST_IsValid(geom)"""))
    session.execute(text("CREATE INDEX ON survey_parcels USING gist (geom)"))
    session.execute(text("CREATE INDEX ON survey_parcels (code)"))
    session.execute(text("ANALYZE survey_parcels"))


# PARCEL-2's clash, as the trigger states it (migration 0003): same layer, open elevation
# ranges meeting, more than OVERLAP_TOLERANCE_M2 in common.
_CLASH = f"""b.geom && a.geom AND b.layer = a.layer
     AND (a.layer = 'surface' OR numrange(a.eb, a.et, '()') && numrange(b.eb, b.et, '()'))
     AND ST_Intersects(a.geom, b.geom)
     AND ST_Area(ST_Intersection(a.geom, b.geom)) > {OVERLAP_TOLERANCE_M2}"""


def check_overlaps(session: Session) -> None:
    """IMPORT-3: overlapping pairs in the file, then against the register (PARCEL-2)."""
    session.execute(text(f"""
        WITH clash AS (
            SELECT DISTINCT ON (a.row) a.row, b.row AS other_row, b.key AS other,
                   round(CAST(ST_Area(ST_Intersection(a.geom, b.geom)) AS numeric), 2) AS area
              FROM survey_parcels a JOIN survey_parcels b ON b.row <> a.row AND {_CLASH}
             WHERE a.reject IS NULL AND b.reject IS NULL
             ORDER BY a.row, area DESC, b.row)
        UPDATE survey_parcels s
           SET reject = 'PARCEL_OVERLAP',
               detail = jsonb_build_object('other_row', clash.other_row, 'other', clash.other,
                                           'overlap_m2', CAST(clash.area AS text))
          FROM clash WHERE s.row = clash.row"""))
    # From here until commit no other writer adds parcels (the trigger's own lock), so what
    # is checked is what the trigger will see.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('registry.parcels.overlap'))"))
    session.execute(text("ANALYZE parcels"))  # see SEED_ROWS (inserting.py)
    session.execute(text(f"""
        WITH clash AS (
            SELECT DISTINCT ON (a.row) a.row, b.code AS other,
                   round(CAST(ST_Area(ST_Intersection(a.geom, b.geom)) AS numeric), 2) AS area
              FROM survey_parcels a
              JOIN (SELECT code, CAST(layer AS text) AS layer, elevation_bottom AS eb,
                           elevation_top AS et, geom
                      FROM parcels WHERE ended_at IS NULL) b ON {_CLASH}
             WHERE a.reject IS NULL AND a.existing_id IS NULL
             ORDER BY a.row, area DESC, b.code)
        UPDATE survey_parcels s
           SET reject = 'PARCEL_OVERLAP',
               detail = jsonb_build_object('other', clash.other,
                                           'overlap_m2', CAST(clash.area AS text))
          FROM clash WHERE s.row = clash.row"""))


def classify_units(session: Session, scope: str | None, counties: Sequence[str]) -> None:
    # One CASE names the first failed check and its field ('CODE' or 'CODE/field'), evaluated
    # once per row (MATERIALIZED: otherwise each use of its result evaluates it again).
    failed = "CASE " + " ".join(
        f"WHEN {cond} THEN '{code}{'/' + name if name and code == 'INVALID_ATTRIBUTE' else ''}'"
        for code, name, cond in UNIT_CHECKS) + " END"
    others = ", ".join(f"i.{c}" for c in UNIT_COLUMNS if c != "code")
    columns = ", ".join(f"j.{c}" for c in (
        "row", "key", "code", *(c for c in UNIT_COLUMNS if c != "code"), "kind_value",
        "category_value", "civil_defence_value", "copies", "parcel_code", "parcel_row",
        "parcel_key", "parcel_reject", "register_parcel_id", "existing_id"))
    sql = f"""
        CREATE TEMP TABLE survey_units ON COMMIT DROP AS
        WITH s AS (
            SELECT i.row, coalesce(i.code, '') AS key, upper(coalesce(i.code, '')) AS code,
                   {others},
                   CAST(:kinds AS jsonb) ->> lower(coalesce(i.kind, '')) AS kind_value,
                   CAST(:categories AS jsonb) ->> lower(coalesce(i.category, ''))
                       AS category_value,
                   CAST(:booleans AS jsonb) ->> lower(coalesce(i.civil_defence, ''))
                       AS civil_defence_value,
                   count(*) OVER (PARTITION BY upper(coalesce(i.code, ''))) AS copies
              FROM survey_units_in i),
        j AS MATERIALIZED (
            SELECT s.*, left(s.code, 19) AS parcel_code,
                   fp.row AS parcel_row, fp.key AS parcel_key, fp.reject AS parcel_reject,
                   rp.id AS register_parcel_id, eu.id AS existing_id, {failed} AS failed
              FROM s
              LEFT JOIN (SELECT DISTINCT ON (code) code, row, key, reject FROM survey_parcels
                          ORDER BY code, row) fp ON fp.code = left(s.code, 19)
              LEFT JOIN parcels rp ON rp.code = left(s.code, 19) AND rp.ended_at IS NULL
              LEFT JOIN units eu ON eu.code = s.code AND s.copies = 1)
        SELECT {columns}, split_part(j.failed, '/', 1) AS reject,
               nullif(split_part(j.failed, '/', 2), '') AS bad_field
          FROM j
    """
    session.execute(text(sql), {"scope": scope, "counties": list(counties),
                                "kinds": json.dumps(KIND_VALUES),
                                "categories": json.dumps(CATEGORY_VALUES),
                                "booleans": json.dumps(BOOLEAN_VALUES)})
    session.execute(text("ANALYZE survey_units"))
    # IMPORT-5: a parcel needs an importable unit.
    session.execute(text("""
        UPDATE survey_parcels p SET reject = 'NO_VALID_UNIT'
         WHERE p.reject IS NULL
           AND NOT EXISTS (SELECT 1 FROM survey_units u
                            WHERE u.parcel_code = p.code AND u.reject IS NULL)"""))


# IMPORT-4: what is compared with the register for codes already there.
PARCEL_DIFFERENCES: list[tuple[str, str | None, str]] = [
    ("geometry", None, "ST_AsBinary(s.geom) <> ST_AsBinary(p.geom)"
                 f" AND ST_Area(ST_SymDifference(s.geom, p.geom)) > {OVERLAP_TOLERANCE_M2}"),
    ("land_use", None, "(s.land_use_system, s.land_use_code)"
                 " <> (p.land_use_system, p.land_use_code)"),
    ("location", None, "s.location <> '' AND s.location <> p.location"),
    ("declared_area", None, "s.declared_area IS NOT NULL"
                      " AND CAST(s.declared_area AS numeric) IS DISTINCT FROM p.declared_area"),
    ("elevation", None, "(s.eb, s.et) IS DISTINCT FROM (p.elevation_bottom, p.elevation_top)"),
]
# (field, the kind it belongs to or None, SQL TRUE when file and register differ)
UNIT_DIFFERENCES: list[tuple[str, str | None, str]] = [
    ("kind", None, "s.kind_value <> CAST(u.kind AS text)"),
    ("location", None, "coalesce(s.location, '') <> '' AND s.location <> u.location"),
    ("structure", "rural_house", "s.structure IS DISTINCT FROM u.structure"),
    ("floors", "rural_house", "CAST(s.floors AS int) IS DISTINCT FROM u.floors"),
    ("floor_area", "rural_house", "CAST(s.floor_area AS numeric) IS DISTINCT FROM u.floor_area"),
    ("category", "infrastructure", "s.category_value IS DISTINCT FROM CAST(u.category AS text)"),
    ("managing_body", "infrastructure", "s.managing_body IS DISTINCT FROM u.managing_body"),
    ("book_value", "infrastructure",
     "s.book_value IS NOT NULL AND CAST(s.book_value AS numeric) IS DISTINCT FROM u.book_value"),
    ("garage", "parking_space", "s.garage IS DISTINCT FROM u.garage"),
    ("level", "parking_space", "CAST(s.level AS int) IS DISTINCT FROM u.level"),
    ("space_no", "parking_space", "s.space_no IS DISTINCT FROM u.space_no"),
    ("space_area", "parking_space",
     "CAST(s.space_area AS numeric) IS DISTINCT FROM u.space_area"),
    ("civil_defence", "parking_space",
     "CAST(s.civil_defence_value AS boolean) <> u.civil_defence"),
]


def _fields_array(checks: Sequence[tuple[str, str | None, str]]) -> str:
    """The names of the fields that differ; a kind's fields only for that kind (CASE: the
    casts only see rows whose values passed that kind's checks)."""
    parts = []
    for name, kind, cond in checks:
        guarded = cond if kind is None else (
            f"CASE WHEN s.kind_value = '{kind}' THEN {cond} ELSE false END")
        parts.append(f"CASE WHEN {guarded} THEN '{name}' END")
    return "array_remove(ARRAY[" + ", ".join(parts) + "], NULL)"


def differences(session: Session) -> tuple[list[Any], list[Any]]:
    parcels = session.execute(text(f"""
        SELECT * FROM (SELECT s.row, s.key, {_fields_array(PARCEL_DIFFERENCES)} AS fields
                         FROM survey_parcels s JOIN parcels p ON p.id = s.existing_id
                        WHERE s.reject IS NULL) d
         WHERE cardinality(d.fields) > 0 ORDER BY d.row""")).all()
    units = session.execute(text(f"""
        SELECT * FROM (SELECT s.row, s.key, {_fields_array(UNIT_DIFFERENCES)} AS fields
                         FROM survey_units s JOIN units u ON u.id = s.existing_id
                        WHERE s.reject IS NULL) d
         WHERE cardinality(d.fields) > 0 ORDER BY d.row""")).all()
    return parcels, units
