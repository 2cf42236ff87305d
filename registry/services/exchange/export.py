"""The full export of the exchange tables as of a day (`registry exchange export`).

- EXCHANGE-12 The export is the register as it stood at the end of the day D (Asia/Shanghai):
  units and parcels that existed then, rights current then (QSZT 1), their holders, and the
  acceptance of the cases recorded by then; for one county or the city. Rows are read with a
  server-side cursor and written as they come (memory flat in rows); the same mapping as the
  per-recording messages (EXCHANGE-4/5) names the columns and converts the codes.
- Formats: `xml` (one `Export` document, one element per row as in a message's Data), `csv`
  (a directory, one UTF-8 file per table, header = the table's columns), `gpkg` (a GeoPackage
  through GDAL/pyogrio, one layer per table; KTT_ZDJBXX carries the parcel's geometry in
  CGCS2000 geographic coordinates, EPSG:4490).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from registry.db.register import ENTRY_TYPE_LABEL_ZH, EntryType
from registry.services.exchange.mapping import (
    AREA_UNIT_M2,
    RESTRICTION_TABLE,
    TABLES,
    TITLE_TABLE,
    Mapping,
    Table,
    text_of,
)
from registry.services.exchange.outbox import current_mapping
from registry.services.timezone import end_of_day

EXPORT_SRID = 4490  # CGCS2000 geographic
BATCH = 5000  # rows fetched per round trip
GPKG_BATCH = 25_000  # rows appended to a GeoPackage layer at once (one GDAL transaction)
# An attribute value in XML: markup characters and the whitespace an attribute would normalise.
XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                             "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
FORMATS = ("xml", "csv", "gpkg")

UNITS_SQL = """
SELECT u.code AS unit_code, p.code AS parcel_code, substr(p.code, 13, 2) AS feature_code,
       coalesce(nullif(u.location, ''), p.location) AS location, p.area AS parcel_area,
       p.land_use_code, p.layer::text AS layer, u.kind::text AS unit_kind,
       CASE WHEN substr(u.code, 20, 1) = 'F'
            THEN substr(u.code, 1, 19) || 'F' || substr(u.code, 21, 4) END AS building_code,
       coalesce(u.floors, CASE WHEN u.kind = 'parking_space' THEN 1 END) AS floors,
       CASE WHEN u.level < 0 THEN -u.level ELSE 0 END AS underground_floors,
       u.structure, substr(u.code, 25, 4)::int AS unit_no, u.space_no,
       coalesce(u.floor_area, u.space_area) AS floor_area,
       t.right_type AS title_right_type, t.right_nature, a.number AS ywh,
       CASE WHEN t.id IS NOT NULL THEN 'current' END AS status,
       ST_AsBinary(ST_Transform(p.geom, 4490)) AS wkb
  FROM units u JOIN parcels p ON p.id = u.parcel_id
  LEFT JOIN rights t ON t.unit_id = u.id AND t.kind = 'title' AND t.begun_at <= :until
                    AND (t.ended_at IS NULL OR t.ended_at > :until)
  LEFT JOIN applications a ON a.id = t.application_id
 WHERE u.created_at <= :until AND (CAST(:county AS text) IS NULL OR u.county_code = :county)
 ORDER BY u.code
"""

RIGHTS_SQL = """
SELECT r.id, r.kind::text AS kind, u.kind::text AS unit_kind, substr(u.code, 20, 1) AS fixture,
       a.number AS ywh, a.registration_type, d.name AS authority_name,
       usr.display_name AS registrar, r.begun_at AS recorded_at, r.note,
       u.code AS unit_code, p.code AS parcel_code,
       coalesce(nullif(u.location, ''), p.location) AS location, p.area AS parcel_area,
       u.structure, coalesce(u.floor_area, u.space_area) AS floor_area,
       u.category::text AS category, r.right_type, r.right_nature, 'current' AS status,
       r.term_start, r.term_end, r.certificate_number, r.amount, r.max_amount,
       r.mortgage_mode::text AS mortgage_mode, r.authority AS court, r.seizure_type,
       r.document_no, r.purpose, a.terms ->> 'notice_kind' AS notice_kind,
       dom.code AS dominant_unit_code, r.co_ownership::text AS co_ownership,
       (SELECT string_agg(pa.name, '、' ORDER BY pa.id) FROM right_holders h
          JOIN parties pa ON pa.id = h.party_id WHERE h.right_id = r.id) AS holders,
       (SELECT string_agg(pa.name, '、' ORDER BY pa.id) FROM application_parties ap
          JOIN parties pa ON pa.id = ap.party_id
         WHERE ap.application_id = a.id AND ap.role = 'obligor') AS obligors
  FROM rights r JOIN units u ON u.id = r.unit_id JOIN parcels p ON p.id = u.parcel_id
  JOIN applications a ON a.id = r.application_id
  JOIN divisions d ON d.code = a.county_code
  LEFT JOIN users usr ON usr.id = a.recorded_by
  LEFT JOIN units dom ON dom.id = r.dominant_unit_id
 WHERE r.begun_at <= :until AND (r.ended_at IS NULL OR r.ended_at > :until)
   AND (CAST(:county AS text) IS NULL OR u.county_code = :county)
 ORDER BY u.code, r.id
"""

HOLDERS_SQL = """
SELECT a.number AS ywh, u.code AS unit_code, pa.name AS party_name, pa.id_type::text AS id_type,
       pa.id_number, pa.kind::text AS party_kind, r.co_ownership::text AS co_ownership,
       CASE WHEN h.share_numerator IS NOT NULL
            THEN h.share_numerator || '/' || h.share_denominator END AS share,
       row_number() OVER (PARTITION BY r.id ORDER BY pa.id) AS position,
       r.certificate_number, r.right_type, 'current' AS status
  FROM rights r JOIN right_holders h ON h.right_id = r.id JOIN parties pa ON pa.id = h.party_id
  JOIN units u ON u.id = r.unit_id JOIN applications a ON a.id = r.application_id
 WHERE r.begun_at <= :until AND (r.ended_at IS NULL OR r.ended_at > :until)
   AND (CAST(:county AS text) IS NULL OR u.county_code = :county)
 ORDER BY u.code, r.id, pa.id
"""

CASES_SQL = """
SELECT a.number AS ywh, a.registration_type, a.kind::text AS kind_label,
       (a.terms ->> 'right_type')::int AS right_type, t.actor_name AS acceptor,
       t.at AS accepted_at, a.submitted_at, d.name AS authority_name, 2 AS case_state
  FROM applications a JOIN divisions d ON d.code = a.county_code
  LEFT JOIN LATERAL (SELECT actor_name, at FROM application_transitions x
                      WHERE x.application_id = a.id AND x.to_state = 'accepted'
                      ORDER BY x.id LIMIT 1) t ON true
 WHERE a.recorded_at <= :until AND (CAST(:county AS text) IS NULL OR a.county_code = :county)
 ORDER BY a.number
"""


def right_table_of(kind: str, unit_kind: str, fixture: str) -> str:
    if kind == "title":
        if unit_kind == "infrastructure" and fixture != "F":
            return TITLE_TABLE["land"]
        return TITLE_TABLE[unit_kind]
    return RESTRICTION_TABLE[kind]


class Plan:
    """A table's columns as a row writer applies them: (name, source, code list, column)."""

    def __init__(self, mapping: Mapping, table: Table) -> None:
        self.table = table
        self.columns = [c for c in table.columns if c.source is not None]
        self.mapping = mapping

    def row(self, facts: dict[str, Any]) -> list[str | None]:
        code = self.mapping.code
        out: list[str | None] = []
        for column in self.columns:
            value = facts.get(column.source)  # type: ignore[arg-type]
            if column.code is not None and value is not None:
                value = code(column.code, value)
            out.append(text_of(column, value))
        return out


def _stream(session: Session, sql: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    result = session.execute(text(sql).execution_options(yield_per=BATCH), params)
    for row in result.mappings():
        yield dict(row)


def rows(session: Session, mapping: Mapping, as_of: date,
         county: str | None) -> Iterator[tuple[str, list[str | None], bytes | None]]:
    """(table, values in the plan's column order, WKB for spatial rows) for the whole export."""
    params = {"until": end_of_day(as_of), "county": county}
    plans = {name: Plan(mapping, table) for name, table in TABLES.items()}
    for facts in _stream(session, UNITS_SQL, params):
        facts["area_unit"] = AREA_UNIT_M2
        yield "KTT_ZDJBXX", plans["KTT_ZDJBXX"].row(facts), facts["wkb"]
        if facts["building_code"] and facts["unit_kind"] in ("rural_house", "parking_space"):
            yield "KTT_FW_ZRZ", plans["KTT_FW_ZRZ"].row(facts), None
            yield "KTT_FW_H", plans["KTT_FW_H"].row(facts), None
    for facts in _stream(session, RIGHTS_SQL, params):
        table = right_table_of(facts["kind"], facts["unit_kind"], facts["fixture"])
        yield table, plans[table].row(facts), None
    for facts in _stream(session, HOLDERS_SQL, params):
        facts["holds_paper"] = 1 if facts["position"] == 1 else 0
        yield "ZTT_GY_QLR", plans["ZTT_GY_QLR"].row(facts), None
    for facts in _stream(session, CASES_SQL, params):
        facts["kind_label"] = ENTRY_TYPE_LABEL_ZH[EntryType(facts["kind_label"])]
        yield "DJT_DJ_SL", plans["DJT_DJ_SL"].row(facts), None


class _CsvOut:
    def __init__(self, directory: Path, plans: dict[str, Plan]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.plans = plans
        self.files: dict[str, IO[str]] = {}
        self.writers: dict[str, Any] = {}

    def write(self, table: str, values: list[str | None], wkb: bytes | None) -> None:
        writer = self.writers.get(table)
        if writer is None:
            handle = (self.directory / f"{table}.csv").open("w", encoding="utf-8", newline="")
            self.files[table] = handle
            writer = self.writers[table] = csv.writer(handle)
            writer.writerow([c.name for c in self.plans[table].columns])
        writer.writerow(["" if v is None else v for v in values])

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


class _XmlOut:
    def __init__(self, path: Path, plans: dict[str, Plan], as_of: date,
                 county: str | None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = path.open("w", encoding="utf-8")
        self.names = {t: [c.name for c in p.columns] for t, p in plans.items()}
        self.handle.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                          f'<Export AsOf="{as_of.isoformat()}" AreaCode="{county or "511900"}">'
                          "\n")

    def write(self, table: str, values: list[str | None], wkb: bytes | None) -> None:
        attributes = "".join(f' {name}="{value.translate(XML_ESCAPES)}"'
                             for name, value in zip(self.names[table], values, strict=True)
                             if value is not None)
        self.handle.write(f"<{table}{attributes}/>\n")

    def close(self) -> None:
        self.handle.write("</Export>\n")
        self.handle.close()


class _GpkgOut:
    """Batches appended to one layer per table (pyogrio over GDAL's GPKG driver)."""

    def __init__(self, path: Path, plans: dict[str, Plan]) -> None:
        import numpy as np
        import pyogrio.raw

        self.np = np
        self.write_raw = pyogrio.raw.write
        if path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.plans = plans
        self.pending: dict[str, list[tuple[list[str | None], bytes | None]]] = {}
        self.started: set[str] = set()

    def write(self, table: str, values: list[str | None], wkb: bytes | None) -> None:
        batch = self.pending.setdefault(table, [])
        batch.append((values, wkb))
        if len(batch) >= GPKG_BATCH:
            self._flush(table)

    def _flush(self, table: str) -> None:
        batch = self.pending.pop(table, [])
        if not batch:
            return
        np = self.np
        names = [c.name for c in self.plans[table].columns]
        fields = [np.array([("" if v[i] is None else v[i]) for v, _ in batch], dtype=object)
                  for i in range(len(names))]
        spatial = self.plans[table].table.spatial
        geometry = (np.array([g for _, g in batch], dtype=object) if spatial else None)
        self.write_raw(str(self.path), geometry, fields, names, layer=table, driver="GPKG",
                       geometry_type="MultiPolygon" if spatial else None,
                       crs=f"EPSG:{EXPORT_SRID}" if spatial else None,
                       append=table in self.started,
                       encoding="UTF-8", promote_to_multi=True if spatial else None)
        self.started.add(table)

    def close(self) -> None:
        for table in list(self.pending):
            self._flush(table)


def export(sessions: sessionmaker[Session], output: Path, fmt: str, as_of: date,
           county: str | None = None, progress: Callable[[int], object] | None = None,
           mapping: Mapping | None = None) -> dict[str, int]:
    """Write the export; returns rows per table (EXCHANGE-12)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    mapping = mapping or current_mapping()
    plans = {name: Plan(mapping, table) for name, table in TABLES.items()}
    out: _CsvOut | _XmlOut | _GpkgOut = (
        _CsvOut(output, plans) if fmt == "csv" else _XmlOut(output, plans, as_of, county)
        if fmt == "xml" else _GpkgOut(output, plans))
    counts: dict[str, int] = {}
    done = 0
    try:
        with sessions() as session, session.begin():
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            for table, values, wkb in rows(session, mapping, as_of, county):
                out.write(table, values, wkb)
                counts[table] = counts.get(table, 0) + 1
                done += 1
                if progress is not None and done % 1000 == 0:
                    progress(1000)
    finally:
        out.close()
    if progress is not None:
        progress(done % 1000)
    return dict(sorted(counts.items()))
