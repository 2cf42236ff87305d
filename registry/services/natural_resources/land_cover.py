"""Import of a 三调 land-cover layer (地类图斑) for one county: a GeoPackage or GeoJSON whose
features carry 地类编码 (DLBM), optionally 标识码 (BSM) and 权属性质 (QSXZ). The areas of a
registration unit's resource types are computed from it (areas.py).

How (design.md §6), as the survey import: the features are read in batches with pyogrio
(registry/services/survey_import/reading.py), COPYed as text and WKB into the temporary staging
table `land_cover_in`; every check is one SQL statement over all staged rows; the good rows go
into `land_cover` with one INSERT … SELECT. All in the caller's transaction.

Rules enforced here, stated once (NRLAND-1, the table's own constraints: db/natural_resources.py):
- NRLAND-2 File-level problems refuse the whole file and change nothing (InvalidInput):
  UNREADABLE_FILE, MISSING_CRS (the file names none and none is given), WRONG_CRS (not a CRS
  of registry/services/geometry.py ACCEPTED_SRIDS), MISSING_COLUMN (no DLBM / 地类编码 column;
  column names match case-insensitively), EMPTY_FILE (no features), NO_VALID_FEATURE (every
  feature refused: a wrong CRS or the wrong file, not a county without land cover),
  UNKNOWN_COUNTY. Only a clerk or an admin imports, and only for a county of their scope
  (ACCESS-2, ACCESS-3).
- NRLAND-3 Every feature is checked; one that fails is not imported and is reported with the
  first check it fails, in the order of CHECKS: EMPTY_GEOMETRY (none or empty), NOT_POLYGON,
  INVALID_GEOMETRY (with PostGIS' ST_IsValidReason), OUTSIDE_CITY (read in the file's CRS the
  feature is not inside 巴中市's extent with its margin — coordinates that cannot be meant in
  that CRS, checked before any reprojection), UNKNOWN_LAND_COVER_CODE (DLBM, trimmed and upper-
  cased, not a class of `land_cover_classes`). A feature valid in its CRS and invalid once
  reprojected to the register's CRS is INVALID_GEOMETRY too. Refused features do not stop the
  import: the others are loaded.
- NRLAND-4 A DLBM read from a numeric column gets back the leading zero the number lost
  (301 → 0301, 9 → 09); a text column is taken as written.
- NRLAND-5 An import replaces the county's land cover: in the same transaction the county's
  current layer and its polygons are ended (`ended_at` = the import's time) and the new layer
  and its polygons become current. Imports of one county are serialised (advisory lock), so a
  county has at most one current layer.
- NRLAND-6 The layer row records the file's name and SHA-256, its CRS, the counts (features,
  loaded, rejected) and the first MAX_REJECTS_KEPT rejects (feature number — 1-based, in file
  order —, BSM, DLBM, code, Chinese and English message); `rejected` is their total.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.db.access import Role
from registry.db.natural_resources import LandCoverLayer
from registry.db.reference import Division, DivisionLevel
from registry.db.spatial import STORAGE_SRID
from registry.services.access import Principal, audit, require, require_county
from registry.services.errors import InvalidInput
from registry.services.geometry import CITY_EXTENT, GEOGRAPHIC_SRID, _reason_zh
from registry.services.survey_import.jobs import file_digest
from registry.services.survey_import.reading import (
    Progress,
    _columns,
    _copy_rows,
    _missing_columns,
    _text,
    feature_batches,
    file_crs,
    read_info,
)

IMPORTERS = (Role.CLERK,)  # and admin (ACCESS-3)
MAX_REJECTS_KEPT = 1000
# canonical → accepted column names (case-insensitive), the first one the one reported
COLUMNS: dict[str, tuple[str, ...]] = {
    "dlbm": ("DLBM", "地类编码"),
    "bsm": ("BSM", "标识码"),
    "qsxz": ("QSXZ", "权属性质"),
}
REQUIRED_COLUMNS = ("dlbm",)

# NRLAND-3: (reject code, SQL condition TRUE when the staged row `s` fails), in order.
CHECKS: list[tuple[str, str]] = [
    ("EMPTY_GEOMETRY", "s.raw IS NULL OR ST_IsEmpty(s.raw)"),
    ("NOT_POLYGON", "GeometryType(s.raw) NOT IN ('POLYGON', 'MULTIPOLYGON')"),
    ("INVALID_GEOMETRY", "NOT ST_IsValid(s.raw)"),
    ("OUTSIDE_CITY", "NOT s.raw @ ST_MakeEnvelope(:ex0, :ey0, :ex1, :ey1, :srid)"),
    ("UNKNOWN_LAND_COVER_CODE", "c.dlbm IS NULL"),
]

MESSAGES: dict[str, tuple[str, str]] = {
    "EMPTY_GEOMETRY": ("图斑没有图形或图形为空", "the feature has no geometry or an empty one"),
    "NOT_POLYGON": ("图斑不是面（Polygon/MultiPolygon）：{reason}",
                    "the feature is not a polygon: {reason}"),
    "INVALID_GEOMETRY": ("图形无效：{reason}", "invalid geometry: {reason}"),
    "OUTSIDE_CITY": ("按 EPSG:{srid} 解读，图斑不在巴中市范围内，请核对坐标系",
                     "read as EPSG:{srid}, the feature falls outside 巴中市 — is the CRS right?"),
    "UNKNOWN_LAND_COVER_CODE": ("未知的地类编码：{dlbm}", "unknown land-cover code (DLBM): {dlbm}"),
}

STAGE_DDL = """
CREATE TEMP TABLE land_cover_in (
    row int, dlbm text, bsm text, qsxz text, wkb bytea
) ON COMMIT DROP
"""


@dataclass(frozen=True)
class LandCoverReject:
    feature: int  # 1-based, in file order
    bsm: str | None
    dlbm: str | None
    code: str
    message_zh: str
    message_en: str

    def as_json(self) -> dict[str, Any]:
        return {"feature": self.feature, "bsm": self.bsm, "dlbm": self.dlbm, "code": self.code,
                "message_zh": self.message_zh, "message_en": self.message_en}


@dataclass(frozen=True)
class LandCoverImport:
    layer_id: int
    county_code: str
    source_crs: str
    sha256: str
    features: int
    loaded: int
    rejected: int  # the total; `rejects` holds the first MAX_REJECTS_KEPT
    rejects: list[LandCoverReject] = field(default_factory=list)
    replaced_layer_id: int | None = None  # the county's layer this one ended
    ended_polygons: int = 0


def _restore_zero(value: str | None) -> str | None:
    """NRLAND-4 for a code read from a number column."""
    if value is None or not value.isdigit():
        return value
    return value.zfill(4) if len(value) == 3 else value.zfill(2) if len(value) == 1 else value


def _stage(session: Session, path: Path, info: dict[str, Any], at: dict[str, int],
           numeric_dlbm: bool, tick: Any) -> int:
    raw = session.connection().connection.driver_connection
    assert raw is not None
    columns = [c for c in COLUMNS if c in at]
    row_number = 0
    with raw.cursor() as cursor:
        cursor.execute(STAGE_DDL)
        for geometries, values in feature_batches(path, info):
            first = row_number + 1
            row_number += len(geometries)

            def rows(first: int = first, geometries: list[Any] = geometries,
                     values: list[Any] = values) -> Iterator[tuple[Any, ...]]:
                for i, (wkb, v) in enumerate(zip(geometries, values, strict=True)):
                    cells = [_text(v[at[c]]) for c in columns]
                    if numeric_dlbm:
                        cells[0] = _restore_zero(cells[0])
                    yield (first + i, *cells, wkb)

            _copy_rows(cursor, "land_cover_in", ["row", *columns, "wkb"], rows(), tick)
    return row_number


def _classify(session: Session, srid: int) -> None:
    """NRLAND-3: the staged rows as `land_cover_checked`, each with its first failed check."""
    west, south, east, north = CITY_EXTENT
    extent = session.execute(text("""
        SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
          FROM (SELECT CAST(ST_Transform(ST_Segmentize(ST_MakeEnvelope(:w, :s, :e, :n, :geo),
                                                       0.01), :srid) AS box2d) AS e) AS t"""),
                             {"w": west, "s": south, "e": east, "n": north,
                              "geo": GEOGRAPHIC_SRID, "srid": srid}).one()
    reject = "CASE " + " ".join(f"WHEN {cond} THEN '{code}'" for code, cond in CHECKS) + " END"
    session.execute(text(f"""
        CREATE TEMP TABLE land_cover_checked ON COMMIT DROP AS
        WITH s AS (
            SELECT i.row, i.bsm, i.qsxz, upper(btrim(i.dlbm)) AS dlbm, i.dlbm AS dlbm_given,
                   CASE WHEN i.wkb IS NOT NULL
                        THEN ST_Force2D(ST_GeomFromWKB(i.wkb, :srid)) END AS raw
              FROM land_cover_in i),
        checked AS (
            SELECT s.*, {reject} AS reject
              FROM s LEFT JOIN land_cover_classes c ON c.dlbm = s.dlbm)
        SELECT row, bsm, qsxz, dlbm, dlbm_given, reject,
               CASE reject WHEN 'INVALID_GEOMETRY' THEN ST_IsValidReason(raw)
                           WHEN 'NOT_POLYGON' THEN GeometryType(raw) END AS reason,
               CASE WHEN reject IS NULL
                    THEN ST_Multi(ST_Transform(raw, {STORAGE_SRID})) END AS geom
          FROM checked"""), {"srid": srid, "ex0": extent.x0, "ey0": extent.y0,
                             "ex1": extent.x1, "ey1": extent.y1})
    if srid != STORAGE_SRID:  # a valid shape can become invalid when reprojected (rare)
        session.execute(text("""
            UPDATE land_cover_checked
               SET reject = 'INVALID_GEOMETRY', reason = ST_IsValidReason(geom), geom = NULL
             WHERE reject IS NULL AND NOT ST_IsValid(geom)"""))


def _rejects(session: Session, srid: int) -> tuple[int, list[LandCoverReject]]:
    total = session.execute(text(
        "SELECT count(*) FROM land_cover_checked WHERE reject IS NOT NULL")).scalar_one()
    rows = session.execute(text(f"""
        SELECT row, bsm, dlbm_given, reject, reason FROM land_cover_checked
         WHERE reject IS NOT NULL ORDER BY row LIMIT {MAX_REJECTS_KEPT}""")).all()
    found = []
    for r in rows:
        zh, en = MESSAGES[r.reject]
        reason = r.reason or ""
        values = {"reason": reason, "srid": srid, "dlbm": r.dlbm_given or "（空）"}
        message_zh = zh.format(**{**values, "reason": _reason_zh(reason)})
        if r.reject == "INVALID_GEOMETRY" and "[" in reason:  # "Self-intersection[x y]"
            message_zh += f"（位置 {reason[reason.find('[') + 1:reason.rfind(']')]}）"
        found.append(LandCoverReject(feature=r.row, bsm=r.bsm, dlbm=r.dlbm_given, code=r.reject,
                                     message_zh=message_zh, message_en=en.format(**values)))
    return int(total), found


def import_land_cover(session: Session, principal: Principal | None, path: Path,
                      county_code: str, now: datetime, crs: int | None = None,
                      progress: Progress | None = None,
                      request_id: str | None = None) -> LandCoverImport:
    """NRLAND-2..6: import `path` as the current land cover of `county_code`, in the caller's
    transaction. `crs` is the EPSG code to assume when the file names none."""
    actor = require(principal, *IMPORTERS)
    require_county(actor, county_code)
    report = progress or (lambda phase, done, total: None)
    known = session.scalar(select(Division.code).where(
        Division.code == county_code, Division.level == DivisionLevel.COUNTY))
    if known is None:
        raise InvalidInput("UNKNOWN_COUNTY", f"未知的县级行政区划代码：{county_code}",
                           f"unknown county code: {county_code}", county=county_code)
    info = read_info(path)
    srid = file_crs(info, crs)
    names = [str(n) for n in info.get("fields", [])]
    at = _columns(names, COLUMNS)
    _missing_columns(at, REQUIRED_COLUMNS, COLUMNS, "图形文件")
    dtypes = [str(d) for d in info.get("dtypes", [])]
    numeric_dlbm = len(dtypes) > at["dlbm"] and dtypes[at["dlbm"]][:3] in ("int", "flo",
                                                                          "uin")
    total = max(int(info.get("features") or 0), 0) or None  # -1: the driver cannot tell
    sha256, _ = file_digest(path)

    session.execute(text("SET LOCAL jit = off"))  # compiling one-off statements costs more
    done = {"rows": 0}

    def tick(rows: int) -> None:
        done["rows"] += rows
        report("reading", done["rows"], total)

    features = _stage(session, path, info, at, numeric_dlbm, tick)
    if features == 0:
        raise InvalidInput("EMPTY_FILE", f"图形文件中没有图斑：{path.name}",
                           f"the file {path.name} has no features")
    report("checking", features, features)
    session.execute(text("ANALYZE land_cover_in"))
    _classify(session, srid)
    rejected, rejects = _rejects(session, srid)
    loaded = features - rejected
    if loaded == 0:
        raise InvalidInput(
            "NO_VALID_FEATURE", f"图形文件中没有可导入的图斑（{rejected} 个均被拒绝）",
            f"no feature of the file can be imported (all {rejected} refused)",
            rejects=[r.as_json() for r in rejects[:20]])

    report("inserting", features, features)
    # NRLAND-5: one import of a county at a time; the UPDATEs below see the last one's commit.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('registry.land_cover.' || :c))"),
                    {"c": county_code})
    replaced = session.execute(text("""
        UPDATE land_cover_layers SET ended_at = :now
         WHERE county_code = :c AND ended_at IS NULL RETURNING id"""),
                               {"now": now, "c": county_code}).scalars().all()
    ended = session.execute(text("""
        UPDATE land_cover SET ended_at = :now WHERE county_code = :c AND ended_at IS NULL"""),
                            {"now": now, "c": county_code}).rowcount
    layer = LandCoverLayer(county_code=county_code, source_name=path.name[:256], sha256=sha256,
                           source_crs=f"EPSG:{srid}", features=features, loaded=loaded,
                           rejected=rejected, rejects=[r.as_json() for r in rejects],
                           imported_at=now, imported_by=actor.user_id)
    session.add(layer)
    session.flush()
    inserted = session.execute(text("""
        INSERT INTO land_cover (layer_id, county_code, bsm, dlbm, qsxz, geom)
        SELECT :layer, :c, coalesce(bsm, ''), dlbm, coalesce(qsxz, ''), geom
          FROM land_cover_checked WHERE reject IS NULL ORDER BY row"""),
                               {"layer": layer.id, "c": county_code}).rowcount
    assert inserted == loaded, (inserted, loaded)
    session.execute(text("ANALYZE land_cover"))
    audit(session, actor, "importLandCover", path.name[:200], request_id,
          {"layer": layer.id, "county": county_code, "features": features, "loaded": loaded,
           "rejected": rejected, "replaced_layer": replaced[0] if replaced else None})
    session.flush()
    report("done", features, features)
    return LandCoverImport(layer_id=layer.id, county_code=county_code,
                           source_crs=f"EPSG:{srid}", sha256=sha256, features=features,
                           loaded=loaded, rejected=rejected, rejects=rejects,
                           replaced_layer_id=replaced[0] if replaced else None,
                           ended_polygons=ended)
