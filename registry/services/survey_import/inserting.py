"""Inserting (phase `inserting`): the rows that passed every check (checking.py) go into
`parcels` and `units` with one INSERT … SELECT each, in the import's transaction; a row whose
code is already in the register is left as it is (IMPORT-4), and units are created `surveyed`
(IMPORT-6); both rules are stated in checking.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.spatial import STORAGE_SRID

# The trigger of PARCEL-2 joins the inserted rows with the current parcels; with statistics
# that say the table is (nearly) empty the planner joins them by layer alone — every new parcel
# against every current one. A first small batch, then ANALYZE (which sees this transaction's
# rows), makes the planner probe the spatial index instead, whatever the batch size.
SEED_ROWS = 1000


def insert_good_rows(session: Session, now: datetime, user_id: int | None) -> tuple[int, int]:
    parcels = 0
    for batch in ("row <= (SELECT coalesce(max(row), 0) FROM (SELECT row FROM survey_parcels"
                  " WHERE reject IS NULL AND existing_id IS NULL ORDER BY row"
                  f" LIMIT {SEED_ROWS}) AS seed)", "true"):
        parcels += _insert_parcels(session, now, user_id, batch)
        session.execute(text("ANALYZE parcels"))
    return parcels, _insert_units(session, now, user_id)


def _insert_parcels(session: Session, now: datetime, user_id: int | None, batch: str) -> int:
    params = {"now": now, "user": user_id}
    return session.execute(text(f"""
        INSERT INTO parcels (code, county_code, layer, elevation_bottom, elevation_top, geom,
                             declared_area, land_use_system, land_use_code, location,
                             created_at, created_by)
        SELECT code, left(code, 6), CAST(layer AS parcel_layer), eb, et, geom,
               CAST(declared_area AS numeric), land_use_system, land_use_code, location,
               :now, :user
          FROM survey_parcels
         WHERE reject IS NULL AND existing_id IS NULL AND ST_SRID(geom) = {STORAGE_SRID}
           AND NOT EXISTS (SELECT 1 FROM parcels p WHERE p.code = survey_parcels.code
                             AND p.ended_at IS NULL)
           AND {batch}
         ORDER BY row"""), params).rowcount


def _insert_units(session: Session, now: datetime, user_id: int | None) -> int:
    params = {"now": now, "user": user_id}
    return session.execute(text("""
        INSERT INTO units (code, parcel_id, county_code, township_code, kind, status, location,
                           created_at, created_by, building_no, floors, structure, floor_area,
                           category, managing_body, length_m, capacity, book_value,
                           completion_year, garage, level, space_no, space_area,
                           civil_defence)
        SELECT u.code, p.id, left(u.code, 6), left(u.code, 9), CAST(u.kind_value AS unit_kind),
               'surveyed', coalesce(u.location, p.location), :now, :user,
               CASE WHEN substr(u.code, 20, 1) = 'F' THEN substr(u.code, 21, 4) END,
               CASE WHEN u.kind_value = 'rural_house' THEN CAST(u.floors AS int) END,
               CASE WHEN u.kind_value = 'rural_house' THEN u.structure END,
               CASE WHEN u.kind_value = 'rural_house' THEN CAST(u.floor_area AS numeric) END,
               CASE WHEN u.kind_value = 'infrastructure'
                    THEN CAST(u.category_value AS infrastructure_category) END,
               CASE WHEN u.kind_value = 'infrastructure' THEN u.managing_body END,
               CASE WHEN u.kind_value = 'infrastructure' THEN CAST(u.length_m AS numeric) END,
               CASE WHEN u.kind_value = 'infrastructure' THEN u.capacity END,
               CASE WHEN u.kind_value = 'infrastructure'
                    THEN CAST(u.book_value AS numeric) END,
               CASE WHEN u.kind_value = 'infrastructure'
                    THEN CAST(u.completion_year AS int) END,
               CASE WHEN u.kind_value = 'parking_space' THEN u.garage END,
               CASE WHEN u.kind_value = 'parking_space' THEN CAST(u.level AS int) END,
               CASE WHEN u.kind_value = 'parking_space' THEN u.space_no END,
               CASE WHEN u.kind_value = 'parking_space'
                    THEN CAST(u.space_area AS numeric) END,
               CAST(u.civil_defence_value AS boolean)
          FROM survey_units u
          JOIN parcels p ON p.code = u.parcel_code AND p.ended_at IS NULL
         WHERE u.reject IS NULL AND u.existing_id IS NULL
         ORDER BY u.row"""), params).rowcount
