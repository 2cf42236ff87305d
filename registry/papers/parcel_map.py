"""The parcel map (宗地图), drawn from PostGIS: its data, and an SVG a typst template embeds.

Rules, stated once here:
- MAP-1 Boundary points (界址点) are the vertices of each exterior ring, without the ring's
  closing repeat, numbered J1, J2, … clockwise (north up) starting from the vertex nearest the
  north-west corner of that ring's bounding box (ties: the more northerly, then the more
  westerly). The rings of a MultiPolygon follow in their stored order and the numbering goes
  on. Interior rings (holes) are drawn but not numbered.
- MAP-2 Coordinates are in the storage CRS (STORAGE_SRID, metres), rounded to 3 decimals, as
  Chinese surveyors write them: X is the northing (纵坐标), Y the easting (横坐标).
- MAP-3 The area is ST_Area of the stored geometry, rounded to 2 decimals (m²).
- MAP-4 Neighbours (四至) are the current parcels (`ended_at IS NULL`, the rule everywhere in
  the register) of the same layer, other than the parcel itself, that touch it or lie within
  NEIGHBOUR_DISTANCE_M of it; listed by code.
- MAP-5 The scale is the most detailed ratio of the 1-2-5 series, not finer than 1:MIN_SCALE,
  at which the parcel's extent fits the map area less MARGIN_MM on every side; the parcel is
  centred in the map area.
- MAP-6 North is up (SVG y grows downwards, so northings are inverted). The scale bar is the
  longest 1-2-5 length in metres not longer than SCALE_BAR_MAX_MM on paper; its drawn length is
  metres × 1000 / scale denominator millimetres.
- MAP-7 The SVG is self-contained: a viewBox in millimetres, no external resource, text in the
  CJK fonts named by FONT_FAMILY, every text XML-escaped. Neighbours are clipped to the map area.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.services.errors import DomainError, NotFound

NEIGHBOUR_DISTANCE_M = 30.0
MIN_SCALE = 200
SCALE_SERIES = (1, 2, 5)  # the 1-2-5 series of round ratios and lengths
MARGIN_MM = 16.0  # room around the parcel for boundary labels, the north arrow, the scale bar
CAPTION_MM = 14.0  # the caption band below the map area
SCALE_BAR_MAX_MM = 40.0
MIN_MAP_MM = 10.0  # the least room a parcel may be given on paper
NEIGHBOUR_LABEL_LENGTH = 7  # the last characters of a neighbour's code (feature code + serial)

FONT_FAMILY = "Noto Serif CJK SC, Noto Sans CJK SC, WenQuanYi Micro Hei"
LABEL_TEXT_MM = 2.5
CAPTION_TEXT_MM = 3.5
NORTH_TEXT_MM = 3.5
LABEL_OFFSET_MM = 1.2  # from a boundary point to its label's box, along the corner's bisector
# A label's box, in em of the label fonts: advance per character, cap height (above the
# baseline) and descent (the J of the serif face reaches below it).
CHAR_WIDTH_EM = 0.6
CAP_HEIGHT_EM = 0.72
DESCENT_EM = 0.2

PARCEL_FILL = "#fbf0c8"
PARCEL_STROKE_MM = 0.5
NEIGHBOUR_STROKE = "#8c8c8c"
NEIGHBOUR_STROKE_MM = 0.2
POINT_RADIUS_MM = 0.6


@dataclass(frozen=True)
class BoundaryPoint:
    """A boundary point (界址点): its label and coordinates (MAP-2)."""

    label: str  # "J1", "J2", …
    x: float  # 纵坐标 X: northing, metres
    y: float  # 横坐标 Y: easting, metres


@dataclass(frozen=True)
class ParcelMap:
    parcel_code: str
    area_m2: Decimal
    srid: int
    points: list[BoundaryPoint]
    neighbours: list[str]
    scale_denominator: int
    svg: str


@dataclass(frozen=True)
class _Frame:
    """Ground (metres, storage CRS) to paper (millimetres, SVG user units, y down)."""

    west: float
    north: float
    scale: int

    @property
    def mm_per_m(self) -> float:
        return 1000.0 / self.scale

    def to_mm(self, easting: float, northing: float) -> tuple[float, float]:
        return ((easting - self.west) * self.mm_per_m, (self.north - northing) * self.mm_per_m)


# MAP-1, MAP-3: the parcel and its boundary points, in one statement. Each exterior ring is
# made clockwise, its vertices (without the closing one) are rotated to start at the vertex
# nearest the ring's bounding-box north-west corner.
_PARCEL_SQL = text("""
    SELECT p.code, p.layer::text AS layer, ST_SRID(p.geom) AS srid,
           round(ST_Area(p.geom)::numeric, 2) AS area,
           p.geom IS NULL OR ST_IsEmpty(p.geom) AS empty,
           ST_XMin(p.geom) AS xmin, ST_YMin(p.geom) AS ymin,
           ST_XMax(p.geom) AS xmax, ST_YMax(p.geom) AS ymax,
           (SELECT coalesce(json_agg(json_build_array(r.ring, r.e, r.n)
                                     ORDER BY r.ring, r.seq), '[]'::json)
              FROM (SELECT v.ring, v.e, v.n,
                           (v.idx - first_value(v.idx) OVER nw + v.count) % v.count AS seq
                      FROM (SELECT s.ring, d.path[1] AS idx, ST_X(d.geom) AS e,
                                   ST_Y(d.geom) AS n, ST_NPoints(s.shell) - 1 AS count,
                                   ST_XMin(s.shell) AS west, ST_YMax(s.shell) AS north
                              FROM (SELECT poly.path[1] AS ring,
                                           ST_ExteriorRing(ST_ForcePolygonCW(poly.geom)) AS shell
                                      FROM ST_Dump(p.geom) AS poly) AS s,
                                   ST_DumpPoints(s.shell) AS d
                             WHERE d.path[1] < ST_NPoints(s.shell)) AS v
                    WINDOW nw AS (PARTITION BY v.ring
                                  ORDER BY (v.e - v.west) ^ 2 + (v.north - v.n) ^ 2,
                                           v.n DESC, v.e)) AS r) AS points
      FROM parcels p
     WHERE p.id = :id
""")

# MAP-4, MAP-7: the outlines to draw, already on paper (ST_AsSVG inverts y), and the
# neighbours with a label point inside the map area. Neighbours are cut to a box a little
# wider than the map area (the SVG clips them exactly), so a long road costs little.
_DRAWING_SQL = text("""
    WITH me AS (SELECT id, layer, geom FROM parcels WHERE id = :id),
         box AS (SELECT ST_MakeEnvelope(:west, :south, :east, :north, :srid) AS map,
                        ST_MakeEnvelope(:west - :pad, :south - :pad, :east + :pad,
                                        :north + :pad, :srid) AS wide)
    SELECT NULL::text AS code,
           ST_AsSVG(ST_Affine(me.geom, :k, 0, 0, :k, -:west * :k, -:north * :k), 0, 2) AS path,
           NULL::float8 AS label_e, NULL::float8 AS label_n
      FROM me
    UNION ALL
    SELECT n.code,
           ST_AsSVG(ST_Affine(ST_ClipByBox2D(n.geom, box.wide), :k, 0, 0, :k,
                              -:west * :k, -:north * :k), 0, 2),
           ST_X(l.point), ST_Y(l.point)
      FROM me, box, parcels n,
           LATERAL (SELECT ST_PointOnSurface(ST_Intersection(n.geom, box.map)) AS point) AS l
     WHERE n.id <> me.id AND n.ended_at IS NULL AND n.layer = me.layer
       AND ST_DWithin(n.geom, me.geom, :distance)
     ORDER BY code NULLS FIRST
""")


def parcel_map(session: Session, parcel_id: int, *, width_mm: float = 160,
               height_mm: float = 160) -> ParcelMap:
    """The parcel map of parcel `parcel_id` (current or historic) on a width × height mm sheet.

    Raises NotFound for an unknown parcel and DomainError NO_GEOMETRY for one without geometry.
    """
    map_w, map_h = width_mm - 2 * MARGIN_MM, height_mm - CAPTION_MM - 2 * MARGIN_MM
    if map_w < MIN_MAP_MM or map_h < MIN_MAP_MM:
        raise ValueError(f"a {width_mm} × {height_mm} mm drawing leaves no room for the parcel")
    # One-off statements: compiling them (JIT) costs more than running them.
    session.execute(text("SET LOCAL jit = off"))
    row = session.execute(_PARCEL_SQL, {"id": parcel_id}).one_or_none()
    if row is None:
        raise NotFound("宗地", "parcel", str(parcel_id))
    if row.empty:
        raise DomainError("NO_GEOMETRY", "宗地无图形，无法绘制宗地图",
                          "the parcel has no geometry to draw", {"parcel": row.code})
    vertices: list[tuple[int, float, float]] = [
        (int(ring), float(e), float(n)) for ring, e, n in _json(row.points)]
    points = [BoundaryPoint(label=f"J{i}", x=round(n, 3), y=round(e, 3))
              for i, (_, e, n) in enumerate(vertices, start=1)]

    scale = _round_up(max(MIN_SCALE,
                          (row.xmax - row.xmin) * 1000.0 / map_w,
                          (row.ymax - row.ymin) * 1000.0 / map_h))
    mm_per_m = 1000.0 / scale
    centre_x_mm, centre_y_mm = width_mm / 2, (height_mm - CAPTION_MM) / 2
    west = (row.xmin + row.xmax) / 2 - centre_x_mm / mm_per_m
    north = (row.ymin + row.ymax) / 2 + centre_y_mm / mm_per_m
    frame = _Frame(west=west, north=north, scale=scale)
    east = west + width_mm / mm_per_m
    south = north - (height_mm - CAPTION_MM) / mm_per_m

    drawn = session.execute(_DRAWING_SQL, {
        "id": parcel_id, "west": west, "south": south, "east": east, "north": north,
        "srid": row.srid, "pad": MARGIN_MM / mm_per_m, "k": mm_per_m,
        "distance": NEIGHBOUR_DISTANCE_M}).all()
    parcel_path = drawn[0].path
    neighbours = [(r.code, r.path, None if r.label_e is None else frame.to_mm(r.label_e, r.label_n))
                  for r in drawn[1:]]

    svg = _svg(width_mm=width_mm, height_mm=height_mm, frame=frame, code=row.code,
               area=row.area, parcel_path=parcel_path, vertices=vertices, points=points,
               neighbours=neighbours)
    return ParcelMap(parcel_code=row.code, area_m2=row.area, srid=int(row.srid), points=points,
                     neighbours=[code for code, _, _ in neighbours], scale_denominator=scale,
                     svg=svg)


def _json(value: Any) -> list[Any]:
    return json.loads(value) if isinstance(value, str) else list(value)


def _series() -> Iterator[int]:
    """1, 2, 5, 10, 20, 50, … (MAP-5, MAP-6)."""
    power = 1
    while True:
        for step in SCALE_SERIES:
            yield step * power
        power *= 10


def _round_up(value: float) -> int:
    """The least member of the 1-2-5 series not below `value`."""
    return next(s for s in _series() if s >= value)


def scale_bar_metres(scale: int) -> int:
    """MAP-6: the longest 1-2-5 length (m) whose bar is at most SCALE_BAR_MAX_MM at `scale`."""
    longest = SCALE_BAR_MAX_MM * scale / 1000.0
    length = 1
    for candidate in _series():
        if candidate > longest:
            return length
        length = candidate
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------- SVG


def _n(value: float) -> str:
    """A coordinate in mm, as SVG text."""
    return f"{value:.2f}"


def _text(x: float, y: float, content: str, size: float, *, anchor: str = "start",
          fill: str = "#000", extra: str = "") -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}"{extra}>{escape(content)}</text>')


def _label_placement(vertices: list[tuple[int, float, float]],
                     frame: _Frame) -> list[tuple[float, float, float, float]]:
    """Each boundary point on paper, with the outward bisector (unit, paper axes) of its corner:
    the mean of the outward normals of the two edges that meet there (rings are clockwise, so
    outward is to the left of the direction of travel)."""
    placed: list[tuple[float, float, float, float]] = []
    by_ring: dict[int, list[tuple[float, float]]] = {}
    for ring, e, n in vertices:
        by_ring.setdefault(ring, []).append(frame.to_mm(e, n))
    for ring_points in by_ring.values():
        count = len(ring_points)
        for i, (x, y) in enumerate(ring_points):
            px, py = ring_points[i - 1]
            nx, ny = ring_points[(i + 1) % count]
            # On paper y points down, so "left of travel" (outward) is (dy, -dx).
            first, second = _unit(y - py, -(x - px)), _unit(ny - y, -(nx - x))
            dx, dy = _unit(first[0] + second[0], first[1] + second[1])
            if (dx, dy) == (0.0, 0.0):  # a spike: the edges double back on each other
                dx, dy = first
            placed.append((x, y, dx, dy))
    return placed


def _unit(dx: float, dy: float) -> tuple[float, float]:
    length = math.hypot(dx, dy)
    return (dx / length, dy / length) if length > 1e-9 else (0.0, 0.0)


def _svg(*, width_mm: float, height_mm: float, frame: _Frame, code: str, area: Decimal,
         parcel_path: str, vertices: list[tuple[int, float, float]],
         points: list[BoundaryPoint],
         neighbours: list[tuple[str, str, tuple[float, float] | None]]) -> str:
    map_h = height_mm - CAPTION_MM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm}mm" height="{height_mm}mm" '
        f'viewBox="0 0 {width_mm} {height_mm}" font-family={quoteattr(FONT_FAMILY)}>',
        f'<rect x="0" y="0" width="{width_mm}" height="{height_mm}" fill="#fff"/>',
        f'<defs><clipPath id="map-area"><rect x="0" y="0" width="{width_mm}" '
        f'height="{_n(map_h)}"/></clipPath></defs>',
        '<g id="neighbours" clip-path="url(#map-area)">',
    ]
    for _, path, _ in neighbours:
        if path:
            out.append(f'<path d="{path}" fill="none" stroke="{NEIGHBOUR_STROKE}" '
                       f'stroke-width="{NEIGHBOUR_STROKE_MM}" stroke-linejoin="round"/>')
    for neighbour_code, _, label in neighbours:
        if label is not None:
            out.append(_text(label[0], label[1] + LABEL_TEXT_MM * CAP_HEIGHT_EM / 2,
                             neighbour_code[-NEIGHBOUR_LABEL_LENGTH:], LABEL_TEXT_MM,
                             anchor="middle", fill="#555", extra=' class="neighbour-label"'))
    out.append("</g>")
    out.append(f'<path id="parcel" d="{parcel_path}" fill="{PARCEL_FILL}" fill-rule="evenodd" '
               f'stroke="#000" stroke-width="{PARCEL_STROKE_MM}" stroke-linejoin="round"/>')
    out.append('<g id="boundary-points">')
    for (x, y, dx, dy), point in zip(_label_placement(vertices, frame), points, strict=True):
        out.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{POINT_RADIUS_MM}" fill="#fff" '
                   f'stroke="#000" stroke-width="0.2"/>')
        # The label's box lies along the bisector, wholly beyond the line across it at
        # LABEL_OFFSET_MM from the point: its centre is that far plus the box's half-extent
        # in the bisector's direction.
        half_w = len(point.label) * CHAR_WIDTH_EM * LABEL_TEXT_MM / 2
        half_h = (CAP_HEIGHT_EM + DESCENT_EM) * LABEL_TEXT_MM / 2
        reach = LABEL_OFFSET_MM + abs(dx) * half_w + abs(dy) * half_h
        cx, cy = x + dx * reach, y + dy * reach
        baseline = cy + half_h - DESCENT_EM * LABEL_TEXT_MM
        out.append(_text(cx, baseline, point.label, LABEL_TEXT_MM, anchor="middle",
                         extra=' class="point-label"'))
    out.append("</g>")
    out.extend(_north_arrow(width_mm))
    out.extend(_scale_bar(frame.scale, map_h))
    out.append(f'<rect x="0" y="0" width="{width_mm}" height="{_n(map_h)}" fill="none" '
               f'stroke="#000" stroke-width="0.3"/>')
    out.append(_text(4, map_h + CAPTION_MM / 2 - 0.6, f"宗地代码 {code}", CAPTION_TEXT_MM,
                     extra=' id="caption-code"'))
    out.append(_text(4, map_h + CAPTION_MM - 2.4, f"面积 {area:.2f} m²", CAPTION_TEXT_MM,
                     extra=' id="caption-area"'))
    out.append("</svg>")
    return "\n".join(out)


def _north_arrow(width_mm: float) -> list[str]:
    """MAP-6: a half-filled arrow pointing up, with 北 above it, in the top right corner."""
    x, tip, base, notch, half = width_mm - 9.0, 7.5, 17.0, 15.0, 2.2
    return [
        '<g id="north-arrow">',
        f'<rect x="{x - 4}" y="{tip - 5.5}" width="8" height="{base - tip + 7}" fill="#fff"/>',
        _text(x, tip - 1.5, "北", NORTH_TEXT_MM, anchor="middle"),
        f'<path d="M {x} {tip} L {x - half} {base} L {x} {notch} Z" fill="#000"/>',
        f'<path d="M {x} {tip} L {x + half} {base} L {x} {notch} Z" fill="#fff" '
        'stroke="#000" stroke-width="0.25" stroke-linejoin="round"/>',
        f'<path d="M {x} {tip} L {x - half} {base} L {x} {notch} Z" fill="none" '
        'stroke="#000" stroke-width="0.25" stroke-linejoin="round"/>',
        "</g>",
    ]


def _scale_bar(scale: int, map_h: float) -> list[str]:
    """MAP-6: two segments, black and white, ticks labelled in metres, the ratio below."""
    metres = scale_bar_metres(scale)
    length_mm = metres * 1000.0 / scale
    x0, y0, bar_h = 6.0, map_h - 9.0, 1.2
    half = length_mm / 2
    out = [f'<g id="scale-bar" data-metres="{metres}" data-length-mm="{_n(length_mm)}">',
           # a white ground, so that no neighbour's outline runs through the bar's text
           f'<rect class="scale-ground" x="{_n(x0 - 3)}" y="{_n(y0 - 3.8)}" '
           f'width="{_n(length_mm + 8)}" height="{_n(bar_h + 8.4)}" fill="#fff"/>']
    for i, fill in enumerate(("#000", "#fff")):
        out.append(f'<rect class="scale-segment" x="{_n(x0 + i * half)}" y="{_n(y0)}" '
                   f'width="{_n(half)}" height="{bar_h}" fill="{fill}" stroke="#000" '
                   'stroke-width="0.2"/>')
    for i, value in enumerate((0, metres / 2, metres)):
        out.append(_text(x0 + i * half, y0 - 0.8, f"{value:g}", LABEL_TEXT_MM,
                         anchor="middle", extra=' class="scale-tick"'))
    out.append(_text(x0 + length_mm + 1.8, y0 + bar_h, "m", LABEL_TEXT_MM))
    out.append(_text(x0, y0 + bar_h + 3.6, f"1:{scale}", LABEL_TEXT_MM,
                     extra=' id="scale-ratio"'))
    out.append("</g>")
    return out
