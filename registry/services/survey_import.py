"""Survey import (权籍调查成果入库): parcels from a GeoJSON or GeoPackage file, units from a CSV of
attributes joined by code (or from the features' own attributes), checked and stored set-based.

How (design.md §6): the rows are COPYed into temporary staging tables; every check is one SQL
statement over all rows; the good rows go into `parcels` and `units` with one INSERT … SELECT
each, in one transaction. The column mapping is docs/survey-import.md.

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

Jobs (the rows pollers read):
- JOB-1 A queued or running job has a live runner. The runner holds the job's advisory lock
  (`JobClaim`) from before the job's row is committed until its outcome is; PostgreSQL drops
  the lock with the runner's connection when its process dies. A queued or running job whose
  lock is free was interrupted: `mark_interrupted` makes it failed (INTERRUPTED), when it is
  polled and, for all of them, when the service starts.
- JOB-2 The import's rows and the job's outcome (succeeded, counts, findings) commit in one
  transaction, so an interrupted job imported nothing, and a job never says succeeded
  without its rows.
- JOB-3 A job's outcome is final when it succeeded or failed with a code outside
  RETRYABLE_FAILURES (the files' own fault: they would fail again); the transaction writing a
  final outcome clears the job's kept `inputs` (RESUME-1, services/import_files.py), and only a
  job failed for a retryable reason may be run again (RESUME-2).
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker

from registry.db.access import AuditEntry, Role
from registry.db.session import transaction
from registry.db.spatial import OVERLAP_TOLERANCE_M2, STORAGE_SRID
from registry.db.statistics import ImportFinding, ImportJob, JobState
from registry.services.access import Principal, require
from registry.services.codes import county_codes
from registry.services.database_errors import translate_database_errors
from registry.services.errors import DomainError, InvalidInput
from registry.services.geometry import ACCEPTED_SRIDS, CITY_EXTENT

DEFAULT_LAND_USE_SYSTEM = "GB/T 21010-2017"
BATCH = 20_000
MAX_FINDINGS_KEPT = 100_000  # findings stored with a job; the count is always exact

# ---------------------------------------------------------------------- the attribute mapping
# canonical name → accepted column names (case-insensitive): the national database standard's
# field name first, then an English alias. docs/survey-import.md lists them with meanings.
PARCEL_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("ZDDM", "parcel_code"),
    "land_use_code": ("TDYT", "land_use"),
    "land_use_system": ("YTFL", "land_use_system"),
    "location": ("ZL", "location"),
    "declared_area": ("ZDMJ", "declared_area"),
    "elevation_bottom": ("QSGC", "elevation_bottom"),
    "elevation_top": ("ZZGC", "elevation_top"),
}
UNIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("BDCDYH", "unit_code"),
    "kind": ("DYLX", "kind"),
    "location": ("ZL", "location"),
    "structure": ("FWJG", "structure"),
    "floors": ("ZCS", "floors"),
    "floor_area": ("JZMJ", "floor_area"),
    "category": ("SSLB", "category"),
    "managing_body": ("GLDW", "managing_body"),
    "length_m": ("CD", "length_m"),
    "capacity": ("GM", "capacity"),
    "book_value": ("ZMJZ", "book_value"),
    "completion_year": ("JCNF", "completion_year"),
    "garage": ("CK", "garage"),
    "level": ("SZC", "level"),
    "space_no": ("CWH", "space_no"),
    "space_area": ("CWMJ", "space_area"),
    "civil_defence": ("RFCW", "civil_defence"),
}
REQUIRED_PARCEL_COLUMNS = ("code", "land_use_code")
REQUIRED_UNIT_COLUMNS = ("code", "kind")
KIND_VALUES = {"rural_house": "rural_house", "农房": "rural_house", "房地一体": "rural_house",
               "宅基地及房屋": "rural_house",
               "infrastructure": "infrastructure", "基础设施": "infrastructure",
               "公共基础设施": "infrastructure",
               "parking_space": "parking_space", "车位": "parking_space"}
CATEGORY_VALUES = {"road": "road", "道路": "road", "公路": "road", "bridge": "bridge",
                   "桥梁": "bridge", "tunnel": "tunnel", "隧道": "tunnel", "water": "water",
                   "水利": "water", "水利设施": "water", "park": "park", "公园": "park",
                   "公园绿地": "park", "other": "other", "其他": "other"}
BOOLEAN_VALUES = {"": "false", "0": "false", "false": "false", "no": "false", "n": "false",
                  "否": "false", "1": "true", "true": "true", "yes": "true", "y": "true",
                  "是": "true"}

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

MESSAGES: dict[str, tuple[str, str]] = {
    "INVALID_CODE": ("代码格式错误：{key}", "malformed code: {key}"),
    "UNKNOWN_COUNTY": ("县级区划代码 {county} 不属于本登记簿",
                       "{county} is not a county of the register"),
    "OUTSIDE_SCOPE": ("超出本人辖区（{scope}）", "outside your county ({scope})"),
    "DUPLICATE_CODE": ("代码在文件中重复出现（第 {rows} 行）",
                       "the code appears more than once in the file (rows {rows})"),
    "MISSING_GEOMETRY": ("缺少图形", "no geometry"),
    "NOT_A_POLYGON": ("图形应为面（Polygon/MultiPolygon），实际为 {type}",
                      "expected a Polygon or MultiPolygon, got {type}"),
    "INVALID_GEOMETRY": ("几何图形无效：{reason}", "invalid geometry: {reason}"),
    "OUTSIDE_CITY": ("按 EPSG:{srid} 解读，图形不在巴中市范围内，请核对坐标系",
                     "read as EPSG:{srid}, the geometry lies outside 巴中市: is the CRS right?"),
    "UNKNOWN_LAND_USE": ("未知的土地用途：{system} {code}", "unknown land use: {system} {code}"),
    "INVALID_ELEVATION": ("高程范围与宗地层次（{layer}）不符",
                          "elevation range does not fit the {layer} layer"),
    "INVALID_ATTRIBUTE": ("属性 {field} 的值无效：{value}", "invalid value for {field}: {value}"),
    "PARCEL_OVERLAP": ("与{other_zh}重叠 {overlap_m2} 平方米",
                       "overlaps {other_en} by {overlap_m2} m²"),
    "NO_VALID_UNIT": ("宗地上没有可导入的不动产单元", "no importable unit on this parcel"),
    "UNKNOWN_PARCEL": ("宗地 {parcel} 既不在文件中，也不是登记簿中的现势宗地",
                       "parcel {parcel} is neither in the file nor a current parcel of the "
                       "register"),
    "PARCEL_REJECTED": ("所在宗地 {parcel}（第 {parcel_row} 行）未通过检查：{parcel_reject}",
                        "its parcel {parcel} (row {parcel_row}) was refused: {parcel_reject}"),
    "INVALID_KIND": ("单元类型无效：{value}（应为农房、基础设施或车位）",
                     "invalid kind {value} (rural_house, infrastructure or parking_space)"),
    "KIND_MISMATCH": ("单元类型 {value} 与代码 {key} 不符"
                      "（农房须JC+F，车位须B/S/X+F，基础设施须F或W）",
                      "kind {value} does not fit code {key} (rural house: JC and F; parking "
                      "space: B/S/X and F; infrastructure: F or W)"),
    "DIFFERS_FROM_REGISTER": ("与登记簿不一致：{fields}（登记簿未修改）",
                              "differs from the register in {fields} "
                              "(the register was not changed)"),
}


# ---------------------------------------------------------------------- reading the files


@dataclass(frozen=True)
class SurveyFiles:
    geometry: Path
    attributes: Path | None = None  # CSV of units; None: units come from the features
    crs: int | None = None  # when the geometry file names none
    encoding: str = "utf-8-sig"


@dataclass
class Finding:
    finding: str  # reject | difference
    source: str  # parcel | unit | feature
    row: int
    key: str
    code: str
    message_zh: str
    message_en: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportSummary:
    counts: dict[str, int]
    findings: list[Finding]

    @property
    def rejects(self) -> list[Finding]:
        return [f for f in self.findings if f.finding == "reject"]

    @property
    def differences(self) -> list[Finding]:
        return [f for f in self.findings if f.finding == "difference"]


Progress = Callable[[str, int, int | None], None]  # phase, rows done, rows total


def _columns(names: Sequence[str], mapping: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """canonical name → index of the first matching column (case-insensitive)."""
    lowered = {name.strip().lower(): i for i, name in reversed(list(enumerate(names)))}
    found: dict[str, int] = {}
    for canonical, aliases in mapping.items():
        for alias in aliases:
            if alias.lower() in lowered:
                found[canonical] = lowered[alias.lower()]
                break
    return found


def _missing_columns(found: dict[str, int], required: Sequence[str],
                     mapping: dict[str, tuple[str, ...]], what: str) -> None:
    missing = [mapping[c][0] for c in required if c not in found]
    if missing:
        raise InvalidInput("MISSING_COLUMN", f"{what}缺少必填列：{', '.join(missing)}",
                           f"the {what} lacks required columns: {', '.join(missing)}",
                           columns=missing)


def _text(value: Any) -> str | None:
    """A cell as text for staging (checks happen in SQL): None for empty and NaN."""
    if value is None:
        return None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    result = str(value).strip()
    return result or None


def file_crs(info: dict[str, Any], fallback: int | None) -> int:
    crs = info.get("crs")
    srid: int | None = None
    if crs:
        authority, _, code = str(crs).partition(":")
        if authority.upper() == "EPSG" and code.isdigit():
            srid = int(code)
        else:
            raise InvalidInput("WRONG_CRS", f"无法识别文件的坐标系：{crs}",
                               f"cannot tell the file's CRS: {crs}", crs=str(crs))
    srid = srid or fallback
    if srid is None:
        raise InvalidInput("MISSING_CRS", "文件未说明坐标系，请指定（如 EPSG:4545）",
                           "the file names no CRS: give one (e.g. EPSG:4545)")
    if srid not in ACCEPTED_SRIDS:
        raise InvalidInput("WRONG_CRS", f"不支持的坐标系 EPSG:{srid}（应为CGCS2000）",
                           f"unsupported CRS EPSG:{srid}: use CGCS2000", srid=srid)
    return srid


def read_info(path: Path) -> dict[str, Any]:
    import pyogrio

    try:
        return dict(pyogrio.read_info(str(path)))
    except Exception as exc:  # GDAL's errors are many; all mean "not a file we can read"
        raise InvalidInput("UNREADABLE_FILE", f"无法读取图形文件：{path.name}",
                           f"cannot read the geometry file {path.name}: "
                           f"{str(exc).splitlines()[0][:200]}") from exc


def feature_batches(path: Path, info: dict[str, Any]) -> Iterator[tuple[list[Any], list[Any]]]:
    """(WKB geometries, rows of field values) in batches of BATCH features, in file order."""
    import pyogrio.raw

    total = int(info.get("features") or 0)
    offset = 0
    while True:
        _, _, geometry, fields = pyogrio.raw.read(str(path), skip_features=offset,
                                                  max_features=BATCH)
        count = len(geometry)
        if count == 0:
            return
        columns = [column.tolist() for column in fields]
        rows = list(zip(*columns, strict=True)) if columns else [() for _ in range(count)]
        yield geometry.tolist(), rows
        offset += count
        if count < BATCH or (total and offset >= total):
            return


# ---------------------------------------------------------------------- staging


STAGE_DDL = f"""
CREATE TEMP TABLE survey_parcels_in (
    row int, code text, land_use_code text, land_use_system text, location text,
    declared_area text, elevation_bottom text, elevation_top text, wkb bytea
) ON COMMIT DROP;
CREATE TEMP TABLE survey_units_in (
    row int, {", ".join(f"{c} text" for c in UNIT_COLUMNS)}
) ON COMMIT DROP;
"""


def _copy_rows(cursor: Any, table: str, columns: Sequence[str],
               rows: Iterator[Sequence[Any]], on_rows: Callable[[int], None]) -> int:
    done = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            done += 1
            if done % 5000 == 0:
                on_rows(5000)
    on_rows(done % 5000)
    return done


class Stager:
    """Reads the files and COPYs their rows into the staging tables."""

    def __init__(self, session: Session, files: SurveyFiles, progress: Progress) -> None:
        self.session = session
        self.files = files
        self.progress = progress
        self.done = 0
        self.total: int | None = None

    def tick(self, rows: int) -> None:
        self.done += rows
        self.progress("reading", self.done, self.total)

    def stage(self) -> tuple[int, bool]:
        """Stage everything; returns (srid, single_file)."""
        info = read_info(self.files.geometry)
        srid = file_crs(info, self.files.crs)
        names = [str(n) for n in info.get("fields", [])]
        parcel_at = _columns(names, PARCEL_COLUMNS)
        _missing_columns(parcel_at, REQUIRED_PARCEL_COLUMNS, PARCEL_COLUMNS, "图形文件")
        single = self.files.attributes is None
        unit_at = _columns(names, UNIT_COLUMNS) if single else {}
        if single:
            _missing_columns(unit_at, REQUIRED_UNIT_COLUMNS, UNIT_COLUMNS, "图形文件")
        self.total = int(info.get("features") or 0) or None
        raw = self.session.connection().connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute(STAGE_DDL)
            parcel_columns = [c for c in PARCEL_COLUMNS if c in parcel_at]
            unit_columns = [c for c in UNIT_COLUMNS if c in unit_at]
            row_number = 0
            for geometries, values in feature_batches(self.files.geometry, info):
                first = row_number + 1
                row_number += len(geometries)
                parcels = (
                    (first + i, *(_text(v[parcel_at[c]]) for c in parcel_columns), wkb)
                    for i, (wkb, v) in enumerate(zip(geometries, values, strict=True)))
                _copy_rows(cursor, "survey_parcels_in", ["row", *parcel_columns, "wkb"],
                           parcels, self.tick)
                if single:
                    units = ((first + i, *(_text(v[unit_at[c]]) for c in unit_columns))
                             for i, v in enumerate(values) if _text(v[unit_at["code"]]))
                    _copy_rows(cursor, "survey_units_in", ["row", *unit_columns], units,
                               lambda _: None)
            if not single:
                assert self.files.attributes is not None
                self._stage_csv(cursor)
        return srid, single

    def _stage_csv(self, cursor: Any) -> None:
        path = self.files.attributes
        assert path is not None
        try:
            handle = path.open(encoding=self.files.encoding, newline="")
        except OSError as exc:
            raise InvalidInput("UNREADABLE_FILE", f"无法读取属性表：{path.name}",
                               f"cannot read the attribute table {path.name}") from exc
        with handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except (StopIteration, UnicodeDecodeError, csv.Error) as exc:
                raise InvalidInput("UNREADABLE_FILE", f"属性表为空或编码错误：{path.name}",
                                   f"the attribute table {path.name} is empty or not "
                                   f"{self.files.encoding}") from exc
            unit_at = _columns(header, UNIT_COLUMNS)
            _missing_columns(unit_at, REQUIRED_UNIT_COLUMNS, UNIT_COLUMNS, "属性表")
            columns = [c for c in UNIT_COLUMNS if c in unit_at]
            width = len(header)

            def rows() -> Iterator[tuple[Any, ...]]:
                try:
                    for line, values in enumerate(reader, start=2):  # line 1 is the header
                        if not any(v.strip() for v in values):
                            continue
                        values = values + [""] * (width - len(values))
                        yield (line, *(_text(values[unit_at[c]]) for c in columns))
                except (UnicodeDecodeError, csv.Error) as exc:
                    raise InvalidInput("UNREADABLE_FILE", f"属性表编码或格式错误：{path.name}",
                                       f"the attribute table {path.name} is not valid CSV "
                                       f"in {self.files.encoding}: {exc}") from exc

            _copy_rows(cursor, "survey_units_in", ["row", *columns], rows(), self.tick)


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
        checked AS (
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
    session.execute(text("ANALYZE parcels"))  # see SEED_ROWS
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
    reject = "CASE " + " ".join(f"WHEN {cond} THEN '{code}'"
                                for code, _, cond in UNIT_CHECKS) + " END"
    bad_field = "CASE " + " ".join(f"WHEN {cond} THEN '{name}'"
                                   for _, name, cond in UNIT_CHECKS if name) + " END"
    others = ", ".join(f"i.{c}" for c in UNIT_COLUMNS if c != "code")
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
              FROM survey_units_in i)
        SELECT s.*, left(s.code, 19) AS parcel_code,
               fp.row AS parcel_row, fp.key AS parcel_key, fp.reject AS parcel_reject,
               rp.id AS register_parcel_id, eu.id AS existing_id,
               {reject} AS reject, {bad_field} AS bad_field
          FROM s
          LEFT JOIN (SELECT DISTINCT ON (code) code, row, key, reject FROM survey_parcels
                      ORDER BY code, row) fp ON fp.code = left(s.code, 19)
          LEFT JOIN parcels rp ON rp.code = left(s.code, 19) AND rp.ended_at IS NULL
          LEFT JOIN units eu ON eu.code = s.code AND s.copies = 1
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


# ---------------------------------------------------------------------- storing


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


# ---------------------------------------------------------------------- the report


def _message(reject: str, **values: Any) -> tuple[str, str]:
    zh, en = MESSAGES[reject]
    return zh.format(**values), en.format(**values)


_GEOMETRY_REASONS_ZH = (("Self-intersection", "自相交"), ("Ring Self-intersection", "环自相交"),
                        ("Too few points", "顶点过少"),
                        ("Hole lies outside shell", "内环在外环之外"),
                        ("Nested shells", "外环嵌套"), ("Interior is disconnected", "内部不连通"))


def _parcel_finding(row: Any, srid: int, scope: str | None) -> Finding:
    code: str = row.reject
    details: dict[str, Any] = dict(row.detail or {})
    values: dict[str, Any] = {"key": row.key, "county": row.code[:6], "scope": scope,
                              "srid": srid, "rows": "", "type": row.geometry_type,
                              "system": row.land_use_system, "code": row.land_use_code,
                              "layer": row.layer, "field": "ZDMJ", "value": row.declared_area}
    if code == "DUPLICATE_CODE":
        details["rows"] = list(row.copies_rows)
        values["rows"] = ", ".join(map(str, row.copies_rows))
    elif code == "INVALID_GEOMETRY":
        reason = row.reason or "invalid"
        zh = next((z for e, z in _GEOMETRY_REASONS_ZH if reason.startswith(e)), reason)
        details["reason"] = reason
        return Finding("reject", "parcel", row.row, row.key, code,
                       f"几何图形无效：{zh}（{reason}）", f"invalid geometry: {reason}", details)
    elif code == "NOT_A_POLYGON":
        details["type"] = row.geometry_type
    elif code == "PARCEL_OVERLAP":
        if "other_row" in details:
            values["other_zh"] = f"文件第 {details['other_row']} 行的宗地 {details['other']}"
            values["other_en"] = f"parcel {details['other']} in row {details['other_row']}"
        else:
            values["other_zh"] = f"现势宗地 {details['other']}"
            values["other_en"] = f"current parcel {details['other']}"
        values["overlap_m2"] = details["overlap_m2"]
    message_zh, message_en = _message(code, **values)
    return Finding("reject", "parcel", row.row, row.key, code, message_zh, message_en, details)


def _unit_finding(row: Any, scope: str | None) -> Finding:
    code: str = row.reject
    details: dict[str, Any] = {}
    values: dict[str, Any] = {"key": row.key, "county": row.code[:6], "scope": scope,
                              "rows": "", "parcel": row.code[:19], "value": row.kind,
                              "parcel_row": row.parcel_row, "parcel_reject": row.parcel_reject}
    if code == "DUPLICATE_CODE":
        details["rows"] = list(row.copies_rows)
        values["rows"] = ", ".join(map(str, row.copies_rows))
    elif code == "PARCEL_REJECTED":
        details.update(parcel_row=row.parcel_row, parcel_reject=row.parcel_reject)
    elif code == "INVALID_ATTRIBUTE":
        column = UNIT_COLUMNS[row.bad_field][0]
        value = getattr(row, row.bad_field)
        details.update(field=column, value=value)
        values.update(field=column, value=value if value is not None else "（空）")
    message_zh, message_en = _message(code, **values)
    return Finding("reject", "unit", row.row, row.key, code, message_zh, message_en, details)


def _difference(source: str, row: Any) -> Finding:
    fields = list(row.fields)
    zh, en = _message("DIFFERS_FROM_REGISTER", fields=", ".join(fields))
    return Finding("difference", source, row.row, row.key, "DIFFERS_FROM_REGISTER", zh, en,
                   {"fields": fields})


def collect_findings(session: Session, srid: int, scope: str | None,
                     single_file: bool) -> list[Finding]:
    parcels = session.execute(text("""
        SELECT s.row, s.key, s.code, s.reject, s.detail, s.layer, s.land_use_system,
               s.land_use_code, s.declared_area,
               CASE WHEN s.reject = 'INVALID_GEOMETRY' THEN ST_IsValidReason(s.raw) END
                   AS reason,
               CASE WHEN s.raw IS NOT NULL THEN GeometryType(s.raw) END AS geometry_type,
               (SELECT array_agg(x.row ORDER BY x.row) FROM survey_parcels x
                 WHERE x.code = s.code) AS copies_rows
          FROM survey_parcels s WHERE s.reject IS NOT NULL ORDER BY s.row""")).all()
    units = session.execute(text("""
        SELECT s.*, (SELECT array_agg(x.row ORDER BY x.row) FROM survey_units x
                      WHERE x.code = s.code) AS copies_rows
          FROM survey_units s WHERE s.reject IS NOT NULL ORDER BY s.row""")).all()
    parcel_diff, unit_diff = differences(session)
    rejects = [_parcel_finding(r, srid, scope) for r in parcels]
    unit_rejects = [_unit_finding(r, scope) for r in units]
    found = ([*rejects, *unit_rejects]
             + [_difference("parcel", r) for r in parcel_diff]
             + [_difference("unit", r) for r in unit_diff])
    if not single_file:
        return found
    # One file: a feature is one row. Report it once, with its first failure: its parcel's
    # own, else its unit's, else "no importable unit".
    by_row: dict[tuple[str, int], Finding] = {}
    rank = {"parcel": 0, "unit": 1}
    for f in sorted(found, key=lambda f: (f.finding, f.row, rank[f.source]
                                         + (2 if f.code == "NO_VALID_UNIT" else 0))):
        key = (f.finding, f.row)
        if key not in by_row:
            by_row[key] = Finding(f.finding, "feature", f.row, f.key, f.code, f.message_zh,
                                  f.message_en, f.details)
    return list(by_row.values())


def _counts(session: Session, inserted: tuple[int, int], findings: list[Finding]) -> dict[str,
                                                                                          int]:
    row = session.execute(text("""
        SELECT (SELECT count(*) FROM survey_parcels) AS parcel_rows,
               (SELECT count(*) FROM survey_parcels WHERE reject IS NOT NULL) AS parcel_rejects,
               (SELECT count(*) FROM survey_parcels WHERE reject IS NULL
                   AND existing_id IS NOT NULL) AS parcels_existing,
               (SELECT count(*) FROM survey_units) AS unit_rows,
               (SELECT count(*) FROM survey_units WHERE reject IS NOT NULL) AS unit_rejects,
               (SELECT count(*) FROM survey_units WHERE reject IS NULL
                   AND existing_id IS NOT NULL) AS units_existing""")).one()
    return {"parcel_rows": row.parcel_rows, "parcels_created": inserted[0],
            "parcels_existing": row.parcels_existing, "parcels_rejected": row.parcel_rejects,
            "unit_rows": row.unit_rows, "units_created": inserted[1],
            "units_existing": row.units_existing, "units_rejected": row.unit_rejects,
            "rejects": sum(1 for f in findings if f.finding == "reject"),
            "differences": sum(1 for f in findings if f.finding == "difference")}


# ---------------------------------------------------------------------- jobs and the whole run

IMPORTERS = (Role.CLERK,)


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def job_lock_key(job_id: int) -> str:
    """The advisory lock held by a job's runner while it lives (JOB-1)."""
    return f"{_JOB_LOCK_PREFIX}{job_id}"


_JOB_LOCK_PREFIX = "registry.import-job:"
ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
INTERRUPTED = {"code": "INTERRUPTED",
               "messageZh": "导入进程在完成前中断，未导入任何数据；可重试或重新导入",
               "messageEn": "the import stopped before it finished (its process ended); "
                            "nothing was imported: retry it (when retryable) or import the "
                            "file again"}


# JOB-3: failures that are not the files' fault; a job failed so may run again (RESUME-2).
RETRYABLE_FAILURES = frozenset({"INTERRUPTED", "INTERNAL", "DATABASE_UNAVAILABLE",
                                "CONCURRENT_UPDATE", "STORAGE_UNAVAILABLE"})


def is_final(error_code: str | None) -> bool:
    """JOB-3: is an outcome (None: succeeded) final?"""
    return error_code not in RETRYABLE_FAILURES


class JobClaim:
    """JOB-1: a job id drawn before the job exists (or `job_id`, an existing job to run again),
    and its lock, held by a transaction of its own until `release` (or until the process dies,
    which ends the transaction). An existing job's lock held by another runner: JOB_RUNNING."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int | None = None) -> None:
        self._session = sessions()
        try:
            # Idle for as long as the job runs: a server-wide idle timeout must not end it.
            self._session.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
            if job_id is None:
                self.job_id = int(self._session.execute(text(
                    "SELECT nextval(pg_get_serial_sequence('import_jobs', 'id'))")).scalar_one())
                self._session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": job_lock_key(self.job_id)})
            else:
                self.job_id = job_id
                if not self._session.scalar(
                        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": job_lock_key(job_id)}):
                    raise DomainError("JOB_RUNNING", "该导入任务正在运行",
                                      "this import job is running", {"job": job_id})
        except BaseException:
            self._session.close()
            raise

    def release(self) -> None:
        self._session.close()  # rolls back: the lock goes with the transaction


_MARK_INTERRUPTED = text("""
    UPDATE import_jobs
       SET state = 'failed', phase = 'failed', finished_at = :now, updated_at = :now,
           error = :error
     WHERE state IN ('queued', 'running')
       AND (CAST(:job_id AS bigint) IS NULL OR id = :job_id)
       AND CASE WHEN state IN ('queued', 'running')  -- evaluated in this order: lock no other
                THEN pg_try_advisory_xact_lock(hashtextextended(:prefix || id, 0))
                ELSE false END
    RETURNING id
""").bindparams(bindparam("error", type_=JSONB))


def mark_interrupted(session: Session, now: datetime, job_id: int | None = None) -> list[int]:
    """JOB-1: the queued or running jobs (all, or `job_id`) whose runner is gone, marked
    failed with INTERRUPTED; their ids."""
    return list(session.scalars(_MARK_INTERRUPTED, {
        "now": now, "error": INTERRUPTED, "job_id": job_id, "prefix": _JOB_LOCK_PREFIX}))


def files_digest(files: SurveyFiles) -> tuple[str, int]:
    """The SHA-256 a job records for its files (the geometry's, or both chained) and their
    total size."""
    sha, size = file_digest(files.geometry)
    if files.attributes is not None:
        extra, extra_size = file_digest(files.attributes)
        sha = hashlib.sha256((sha + extra).encode()).hexdigest()
        size += extra_size
    return sha, size


def create_job(session: Session, principal: Principal | None, files: SurveyFiles,
               now: datetime, *, job_id: int, display_name: str | None = None,
               inputs: dict[str, Any] | None = None) -> ImportJob:
    """A queued job for `principal` (a clerk of a county, or an admin), under the id its
    runner claimed (JOB-1: there is no job without a claim), naming the files it keeps
    (RESUME-1), if any."""
    actor = require(principal, *IMPORTERS)
    sha, size = files_digest(files)
    job = ImportJob(id=job_id, kind="survey", state=JobState.QUEUED, phase="queued",
                    file_name=(display_name or files.geometry.name)[:256], file_sha256=sha,
                    file_bytes=size, rows_done=0, counts={}, created_by=actor.user_id,
                    username=actor.username, county_code=actor.county_code, created_at=now,
                    updated_at=now, inputs=inputs, attempts=1)
    session.add(job)
    session.flush()
    return job


class JobTracker:
    """Writes a job's progress in short transactions of its own, so pollers see it move."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int,
                 clock: Callable[[], datetime], progress: Progress | None = None,
                 every_seconds: float = 0.5) -> None:
        self.sessions = sessions
        self.job_id = job_id
        self.clock = clock
        self.progress = progress
        self.every = every_seconds
        self._last = 0.0
        self._phase = ""

    def _update(self, **values: Any) -> None:
        with transaction(self.sessions) as session:
            job = session.get(ImportJob, self.job_id, with_for_update=True)
            assert job is not None
            for name, value in values.items():
                setattr(job, name, value)
            job.updated_at = self.clock()

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)
        moment = time.monotonic()
        if phase != self._phase or moment - self._last >= self.every:
            self._phase, self._last = phase, moment
            self._update(phase=phase, rows_done=done, rows_total=total)

    def start(self) -> None:
        self._update(state=JobState.RUNNING, phase="reading", started_at=self.clock())

    def finish(self, session: Session, summary: ImportSummary) -> None:
        """The outcome, written by the import's own transaction (JOB-2)."""
        job = session.get(ImportJob, self.job_id, with_for_update=True)
        assert job is not None
        job.state, job.phase, job.counts = JobState.SUCCEEDED, "done", summary.counts
        job.inputs = None  # JOB-3: final
        job.finished_at = job.updated_at = self.clock()
        session.add_all(
            ImportFinding(job_id=self.job_id, seq=i, finding=f.finding, source=f.source,
                          row=f.row, key=f.key[:200], code=f.code, message_zh=f.message_zh,
                          message_en=f.message_en, details=f.details)
            for i, f in enumerate(summary.findings[:MAX_FINDINGS_KEPT], start=1))
        session.flush()

    def fail(self, error: DomainError) -> None:
        final = {"inputs": None} if is_final(error.code) else {}  # JOB-3
        self._update(state=JobState.FAILED, phase="failed", finished_at=self.clock(),
                     error={"code": error.code, "messageZh": error.message_zh,
                            "messageEn": error.message_en}, **final)


def run_import(session: Session, principal: Principal, files: SurveyFiles, now: datetime,
               progress: Progress, job_id: int | None = None,
               request_id: str | None = None) -> ImportSummary:
    """IMPORT-2..6 in one transaction (the caller's); see the module docstring."""
    actor = require(principal, *IMPORTERS)
    scope = actor.county_code
    # Compiling these one-off statements costs more than running them.
    session.execute(text("SET LOCAL jit = off"))
    counties = sorted(county_codes(session))
    stager = Stager(session, files, progress)
    srid, single = stager.stage()
    rows = stager.done
    progress("checking", rows, rows)
    session.execute(text("ANALYZE survey_parcels_in"))
    classify_parcels(session, srid, scope, counties)
    check_overlaps(session)
    classify_units(session, scope, counties)
    findings = collect_findings(session, srid, scope, single)
    progress("inserting", rows, rows)
    inserted = insert_good_rows(session, now, actor.user_id)
    counts = _counts(session, inserted, findings)
    session.add(AuditEntry(user_id=actor.user_id, username=actor.username,
                           request_id=request_id, operation="importSurvey",
                           target=files.geometry.name[:200],
                           details={"job": job_id, **{k: counts[k] for k in (
                               "parcels_created", "units_created", "rejects",
                               "differences")}}))
    session.flush()
    return ImportSummary(counts=counts, findings=findings)


def import_survey(sessions: sessionmaker[Session], principal: Principal | None,
                  files: SurveyFiles, clock: Callable[[], datetime],
                  progress: Progress | None = None, claim: JobClaim | None = None,
                  request_id: str | None = None, display_name: str | None = None
                  ) -> tuple[int, ImportSummary]:
    """The whole run: a job (claimed and created, unless `claim` names one created already),
    the import with the job's outcome (JOB-2), the claim released last (JOB-1)."""
    actor = require(principal, *IMPORTERS)
    created = claim is not None
    claim = claim or JobClaim(sessions)
    try:
        if not created:
            with translate_database_errors(), transaction(sessions) as session:
                create_job(session, actor, files, clock(), job_id=claim.job_id,
                           display_name=display_name)
        tracker = JobTracker(sessions, claim.job_id, clock, progress)
        tracker.start()
        try:
            with translate_database_errors(), transaction(sessions) as session:
                summary = run_import(session, actor, files, clock(), tracker, claim.job_id,
                                     request_id)
                tracker.finish(session, summary)
        except DomainError as exc:
            tracker.fail(exc)
            raise
        except Exception:
            tracker.fail(DomainError("INTERNAL", "导入时发生内部错误",
                                     "internal error during import"))
            raise
        return claim.job_id, summary
    finally:
        claim.release()
