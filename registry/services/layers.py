"""Small polygon layers read whole (GeoPackage or GeoJSON): public-control zones, division
boundaries. A bad feature refuses the whole file — these layers are a few hundred features
that a bureau fixes and sends again, unlike the 三调 land cover, whose rejects are reported
while the rest loads (services/natural_resources/land_cover.py).

- LAYER-1 The file names its CRS (or one is given), one of ACCEPTED_SRIDS; it has features
  and the required columns (`MISSING_CRS`, `WRONG_CRS`, `EMPTY_FILE`, `MISSING_COLUMN`).
- LAYER-2 Every feature is a valid, non-empty Polygon or MultiPolygon, in its CRS and once
  transformed to the register's (`INVALID_GEOMETRY` naming the feature), and lies inside the
  city's extent (`WRONG_CRS`: coordinates that only make sense in another CRS).
Column names match case-insensitively against each column's aliases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import Integer, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA
from sqlalchemy.orm import Session

from registry.db.spatial import STORAGE_SRID
from registry.services.errors import InvalidInput
from registry.services.geometry import CITY_EXTENT
from registry.services.survey_import.reading import _columns as column_indexes
from registry.services.survey_import.reading import feature_batches, file_crs, read_info


@dataclass(frozen=True)
class LayerFeature:
    row: int  # 1-based position in the file
    cells: dict[str, Any]  # canonical column → the raw value (absent columns are missing)
    geom: str  # EWKT in the register's CRS


@dataclass(frozen=True)
class PolygonLayer:
    srid: int  # the file's CRS
    features: list[LayerFeature]


def cell(value: Any) -> str:
    """A cell as text: None and NaN are empty, 3.0 is "3", bytes are UTF-8."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def bad_geometry(row: int, reason_en: str, reason_zh: str) -> InvalidInput:
    return InvalidInput("INVALID_GEOMETRY", f"第 {row} 个要素的几何图形无效：{reason_zh}",
                        f"feature {row}: invalid geometry: {reason_en}", row=row,
                        reason=reason_en)


def checked_wkb(wkb: Any, row: int) -> bytes:
    """LAYER-2 in the file's own CRS."""
    if wkb is None:
        raise bad_geometry(row, "no geometry", "无图形")
    try:
        geometry = shapely.from_wkb(wkb)
    except shapely.errors.GEOSException as exc:
        raise bad_geometry(row, f"malformed ({exc})", "图形格式错误") from exc
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise bad_geometry(row, f"expected Polygon or MultiPolygon, got {geometry.geom_type}",
                           f"应为面，实际为 {geometry.geom_type}")
    if geometry.is_empty:
        raise bad_geometry(row, "empty geometry", "图形为空")
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise bad_geometry(row, reason, reason)
    return bytes(shapely.to_wkb(geometry))


def empty_layer(path: Path) -> InvalidInput:
    return InvalidInput("EMPTY_FILE", f"图层没有要素：{path.name}",
                        f"the layer {path.name} has no features")


TRANSFORM_SQL = text("""
SELECT g.row, ST_AsEWKT(s.geom) AS stored,
       ST_IsValid(s.geom) AS valid, ST_IsValidReason(s.geom) AS reason,
       ST_XMin(e.box) >= :west AND ST_XMax(e.box) <= :east
       AND ST_YMin(e.box) >= :south AND ST_YMax(e.box) <= :north AS inside
  FROM (SELECT w.row, ST_SetSRID(ST_GeomFromWKB(w.wkb), :srid) AS geom
          FROM unnest(:wkbs, :rows) AS w(wkb, row)) AS g,
       LATERAL (SELECT ST_Transform(g.geom, 4490)::box2d AS box) AS e,
       LATERAL (SELECT ST_Multi(ST_Transform(g.geom, :storage)) AS geom) AS s
 ORDER BY g.row
""").bindparams(bindparam("wkbs", type_=ARRAY(BYTEA)), bindparam("rows", type_=ARRAY(Integer)))


def read_polygon_layer(session: Session, path: Path, crs: int | None,
                       aliases: Mapping[str, tuple[str, ...]],
                       required: Mapping[str, str]) -> PolygonLayer:
    """LAYER-1/2: every feature of `path`, checked, its geometry in the register's CRS.
    `required` maps each required canonical column to its name as users read it."""
    info = read_info(path)
    srid = file_crs(info, crs)
    if not int(info.get("features") or 0):
        raise empty_layer(path)
    at = column_indexes([str(n) for n in info.get("fields", [])], dict(aliases))
    missing = [label for column, label in required.items() if column not in at]
    if missing:
        raise InvalidInput("MISSING_COLUMN", f"图层缺少必填列：{'、'.join(missing)}",
                           f"the layer lacks the required columns: {', '.join(missing)}",
                           columns=missing)
    cells: list[dict[str, Any]] = []
    wkbs: list[bytes] = []
    for geometries, values in feature_batches(path, info):
        for wkb, row_values in zip(geometries, values, strict=True):
            wkbs.append(checked_wkb(wkb, len(wkbs) + 1))
            cells.append({c: row_values[i] for c, i in at.items()})
    if not wkbs:
        raise empty_layer(path)
    west, south, east, north = CITY_EXTENT
    stored = session.execute(TRANSFORM_SQL, {
        "wkbs": wkbs, "rows": list(range(1, len(wkbs) + 1)), "srid": srid,
        "storage": STORAGE_SRID, "west": west, "south": south, "east": east,
        "north": north}).all()
    features = []
    for result in stored:
        if not result.inside:
            raise InvalidInput("WRONG_CRS",
                               f"第 {result.row} 个要素不在本市范围内，请检查坐标系（EPSG:{srid}）",
                               f"feature {result.row} lies outside the city in EPSG:{srid}: "
                               "check the CRS", row=result.row, srid=srid)
        if not result.valid:  # valid in its CRS, not once reprojected
            raise bad_geometry(result.row, f"{result.reason} (in EPSG:{STORAGE_SRID})",
                               f"{result.reason}（EPSG:{STORAGE_SRID}）")
        features.append(LayerFeature(result.row, cells[result.row - 1], result.stored))
    return PolygonLayer(srid, features)
