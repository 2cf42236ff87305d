"""GeoJSON in, valid MultiPolygons out: the checks every parcel geometry passes before storage.

- GEOM-1 Input is a GeoJSON Polygon or MultiPolygon (a Feature is unwrapped), with its CRS
  stated: EPSG:4490 (CGCS2000 geographic) or a CGCS2000 3-degree Gauss–Krüger zone
  (EPSG:4513–4533 zone-prefixed, 4534–4554 central-meridian labelled).
- GEOM-2 It is valid by OGC rules and not empty; otherwise `INVALID_GEOMETRY` says why and where
  (in the input's coordinates).
- GEOM-3 Read in the stated CRS, it must fall inside the city's extent (with a margin); coordinates
  that only make sense in another CRS (e.g. metres sent as degrees) are `WRONG_CRS`.
"""

from __future__ import annotations

import json
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.spatial import STORAGE_SRID
from registry.services.errors import InvalidInput

GEOGRAPHIC_SRID = 4490
ZONE_SRIDS = frozenset(range(4513, 4555))
ACCEPTED_SRIDS = frozenset({GEOGRAPHIC_SRID}) | ZONE_SRIDS
# 巴中市 spans about 106.3–107.8°E, 31.2–32.8°N; a margin keeps border parcels in.
CITY_EXTENT = (106.0, 31.0, 108.2, 33.1)
MAX_VERTICES = 100_000


def _invalid(reason_en: str, reason_zh: str, **details: Any) -> InvalidInput:
    return InvalidInput("INVALID_GEOMETRY", f"几何图形无效：{reason_zh}",
                        f"invalid geometry: {reason_en}", reason=reason_en, **details)


def parse_geojson(geojson: Any) -> MultiPolygon:
    """GEOM-1 and GEOM-2: a valid, non-empty MultiPolygon in the input's own coordinates."""
    if isinstance(geojson, str):
        try:
            geojson = json.loads(geojson)
        except ValueError as exc:
            raise _invalid("not JSON", "不是有效的JSON") from exc
    if not isinstance(geojson, dict):
        raise _invalid("expected a GeoJSON object", "应为GeoJSON对象")
    if geojson.get("type") == "Feature":
        geojson = geojson.get("geometry") or {}
    kind = geojson.get("type") if isinstance(geojson, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise _invalid(f"expected Polygon or MultiPolygon, got {kind!r}",
                       f"应为面（Polygon/MultiPolygon），实际为 {kind!r}")
    try:
        geometry = shape(geojson)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError,
            shapely.errors.GEOSException) as exc:
        raise _invalid(f"malformed coordinates ({exc})", "坐标格式错误") from exc
    if geometry.is_empty:
        raise _invalid("empty geometry", "图形为空")
    if shapely.get_num_coordinates(geometry) > MAX_VERTICES:
        raise _invalid(f"more than {MAX_VERTICES} vertices", f"顶点数超过{MAX_VERTICES}")
    if not shapely.is_valid(geometry):
        reason = shapely.is_valid_reason(geometry)  # e.g. "Self-intersection[500 3500]"
        where = reason[reason.find("[") + 1:reason.rfind("]")] if "[" in reason else None
        raise _invalid(reason, f"{_reason_zh(reason)}（位置 {where}）" if where else reason,
                       location=where)
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    return geometry


def _reason_zh(reason: str) -> str:
    for en, zh in (("Self-intersection", "自相交"), ("Ring Self-intersection", "环自相交"),
                   ("Too few points", "顶点过少"), ("Hole lies outside shell", "内环在外环之外"),
                   ("Nested shells", "外环嵌套"), ("Interior is disconnected", "内部不连通"),
                   ("Duplicate Rings", "重复的环"), ("Invalid Coordinate", "坐标无效")):
        if reason.startswith(en):
            return zh
    return reason


def check_srid(srid: int) -> None:
    if srid not in ACCEPTED_SRIDS:
        raise InvalidInput(
            "WRONG_CRS", f"不支持的坐标系 EPSG:{srid}（应为CGCS2000：4490或3度带4513–4554）",
            f"unsupported CRS EPSG:{srid}: use CGCS2000 (EPSG:4490 or a 3-degree zone "
            "4513–4554)", srid=srid)


def _plausible_bounds(srid: int) -> tuple[float, float, float, float]:
    """Coordinates outside these cannot be meant in `srid` (and would make PROJ fail)."""
    if srid == GEOGRAPHIC_SRID:
        return (-180.0, -90.0, 180.0, 90.0)
    if srid <= 4533:  # zone-prefixed: x = zone * 1e6 + 500 000 ± …; zones 25..45
        zone = srid - 4513 + 25
        return (zone * 1e6, 0.0, zone * 1e6 + 1e6, 1e7)
    return (0.0, 0.0, 1e6, 1e7)


def _wrong_crs(srid: int, bounds: tuple[float, ...]) -> InvalidInput:
    return InvalidInput(
        "WRONG_CRS",
        f"按 EPSG:{srid} 解读，坐标不在巴中市范围内，请核对坐标系",
        f"read as EPSG:{srid}, the coordinates fall outside 巴中市 — is the CRS right?",
        srid=srid, extent=[round(b, 6) for b in bounds])


def to_storage(session: Session, geometry: MultiPolygon, srid: int) -> str:
    """GEOM-3, then the geometry as EWKT in the register's CRS (STORAGE_SRID)."""
    check_srid(srid)
    x0, y0, x1, y1 = _plausible_bounds(srid)
    minx, miny, maxx, maxy = geometry.bounds
    if not (minx >= x0 and maxx <= x1 and miny >= y0 and maxy <= y1):
        raise _wrong_crs(srid, geometry.bounds)
    west, south, east, north = CITY_EXTENT
    row = session.execute(
        text("""
            WITH g AS (SELECT ST_SetSRID(ST_GeomFromText(:wkt), :srid) AS geom)
            SELECT ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax, ST_YMax(e) AS ymax,
                   ST_AsEWKT(ST_Multi(ST_Transform(geom, :storage))) AS stored
              FROM g, LATERAL (SELECT ST_Transform(geom, 4490)::box2d AS e) AS extent
        """),
        {"wkt": geometry.wkt, "srid": srid, "storage": STORAGE_SRID},
    ).one()
    inside = (row.xmin >= west and row.xmax <= east and row.ymin >= south and row.ymax <= north)
    if not inside:
        raise _wrong_crs(srid, (row.xmin, row.ymin, row.xmax, row.ymax))
    return str(row.stored)
