"""The parcel map (宗地图): boundary points, neighbours, scale and the SVG (MAP-1..7).

Parcels are stored through the parcel service, by a 平昌县 clerk, in the register's CRS
(EPSG:4545, x east, y north); each test works in one transaction and rolls it back.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import typst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.session import transaction
from registry.papers.parcel_map import (
    NEIGHBOUR_DISTANCE_M,
    BoundaryPoint,
    ParcelMap,
    parcel_map,
    scale_bar_metres,
)
from registry.runtime import Runtime
from registry.services.access import Principal, authenticate, create_user
from registry.services.errors import DomainError, NotFound
from registry.services.parcels import Layer, ParcelInput, create_parcel

SVG = "{http://www.w3.org/2000/svg}"
# A corner of 平昌县 away from the county seat (EPSG:4545 metres).
E0, N0 = 416_000.0, 3_495_000.0

Ring = Sequence[tuple[float, float]]  # (easting, northing)


@pytest.fixture
def clerk(runtime: Runtime) -> Principal:
    with transaction(runtime.sessions) as session:
        _, token = create_user(session, "map-clerk", ["clerk"], "511923")
    with runtime.sessions() as session:
        found = authenticate(session, token)
    assert found is not None
    return found


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with runtime.sessions() as session:
        yield session
        session.rollback()


_serial = itertools.count(1)


def add_parcel(session: Session, clerk: Principal, *polygons: Ring,
               layer: Layer = Layer.SURFACE) -> tuple[int, str]:
    """A parcel made of `polygons` (exterior rings, given in any orientation); (id, code)."""
    underground = layer is Layer.UNDERGROUND
    code = f"511923101003{'GX' if underground else 'JC'}{next(_serial):05d}"
    coordinates = [[[[e, n] for e, n in [*ring, ring[0]]]] for ring in polygons]
    parcel = create_parcel(session, clerk, ParcelInput(
        code=code, geometry={"type": "MultiPolygon", "coordinates": coordinates}, crs=4545,
        land_use_system="GB/T 21010-2017", land_use_code="0701" if underground else "0702",
        location="平昌县某村", layer=layer,
        elevation_bottom=Decimal("-9") if underground else None,
        elevation_top=Decimal("-1") if underground else None), datetime.now(UTC))
    return parcel.id, parcel.code


def rectangle(e: float, n: float, width: float, height: float) -> list[tuple[float, float]]:
    """Counter-clockwise from the south-west corner, as GeoJSON writers usually give it."""
    return [(e, n), (e + width, n), (e + width, n + height), (e, n + height)]


def coords(drawn: ParcelMap) -> list[tuple[float, float]]:
    """(X northing, Y easting) of each boundary point, in order."""
    return [(p.x, p.y) for p in drawn.points]


def signed_area(points: Sequence[BoundaryPoint]) -> float:
    """Shoelace on (easting, northing): negative for a clockwise ring (north up)."""
    total = 0.0
    for a, b in itertools.pairwise([*points, points[0]]):
        total += a.y * b.x - b.y * a.x
    return total / 2


def svg_root(drawn: ParcelMap) -> ET.Element:
    return ET.fromstring(drawn.svg)


def texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")
            if cls is None or t.get("class") == cls]


# ---------------------------------------------------------------------- boundary points


def test_a_square_is_numbered_clockwise_from_its_north_west_corner(
        session: Session, clerk: Principal) -> None:
    parcel_id, code = add_parcel(session, clerk, rectangle(E0, N0, 20, 20))
    drawn = parcel_map(session, parcel_id)
    assert drawn.parcel_code == code
    assert [p.label for p in drawn.points] == ["J1", "J2", "J3", "J4"]
    # X is the northing, Y the easting (MAP-2).
    assert coords(drawn) == [(N0 + 20, E0), (N0 + 20, E0 + 20), (N0, E0 + 20), (N0, E0)]
    assert drawn.area_m2 == Decimal("400.00")
    assert drawn.srid == 4545


def test_an_l_shape_starts_at_its_north_west_vertex_whatever_the_input_order(
        session: Session, clerk: Principal) -> None:
    # Given clockwise, starting at the south-east corner.
    ell = [(20, 0), (0, 0), (0, 20), (10, 20), (10, 10), (20, 10)]
    parcel_id, _ = add_parcel(session, clerk, [(E0 + e, N0 + n) for e, n in ell])
    drawn = parcel_map(session, parcel_id)
    expected = [(0, 20), (10, 20), (10, 10), (20, 10), (20, 0), (0, 0)]
    assert coords(drawn) == [(N0 + n, E0 + e) for e, n in expected]
    assert drawn.area_m2 == Decimal("300.00")


def test_a_diamond_breaks_the_tie_to_the_north(session: Session, clerk: Principal) -> None:
    """The top and left vertices are equally near the box's NW corner: the top one wins."""
    diamond = [(10, 0), (20, 10), (10, 20), (0, 10)]  # counter-clockwise
    parcel_id, _ = add_parcel(session, clerk, [(E0 + e, N0 + n) for e, n in diamond])
    drawn = parcel_map(session, parcel_id)
    expected = [(10, 20), (20, 10), (10, 0), (0, 10)]
    assert coords(drawn) == [(N0 + n, E0 + e) for e, n in expected]


def test_a_multipolygon_numbers_each_ring_in_turn(session: Session, clerk: Principal) -> None:
    parcel_id, _ = add_parcel(session, clerk, rectangle(E0, N0, 10, 10),
                              rectangle(E0 + 30, N0 - 5, 10, 10))
    drawn = parcel_map(session, parcel_id)
    assert [p.label for p in drawn.points] == [f"J{i}" for i in range(1, 9)]
    assert coords(drawn)[0] == (N0 + 10, E0)
    assert coords(drawn)[4] == (N0 + 5, E0 + 30)
    assert signed_area(drawn.points[:4]) < 0 and signed_area(drawn.points[4:]) < 0
    assert drawn.area_m2 == Decimal("200.00")


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(e=st.integers(-5_000, 5_000), n=st.integers(-5_000, 5_000),
       width=st.floats(1, 300), height=st.floats(1, 300), angle=st.floats(0, 360),
       clockwise=st.booleans())
def test_any_rectangle_is_numbered_clockwise_from_its_north_west_vertex(
        runtime: Runtime, clerk: Principal, e: int, n: int, width: float, height: float,
        angle: float, clockwise: bool) -> None:
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    ring = [(E0 + e + u * cos - v * sin, N0 + n + u * sin + v * cos)
            for u, v in rectangle(0, 0, width, height)]
    with runtime.sessions() as session:
        parcel_id, _ = add_parcel(session, clerk, ring[::-1] if clockwise else ring)
        drawn = parcel_map(session, parcel_id)
        session.rollback()
    points = drawn.points
    assert len(points) == 4
    assert signed_area(points) < 0
    west, north = min(p.y for p in points), max(p.x for p in points)

    def from_nw(p: BoundaryPoint) -> float:
        return math.hypot(p.y - west, north - p.x)

    assert all(from_nw(points[0]) <= from_nw(p) + 1e-6 for p in points)
    assert abs(float(drawn.area_m2) - width * height) <= 0.01 + 1e-6 * width * height


# ---------------------------------------------------------------------- neighbours


def test_neighbours_are_current_parcels_of_the_layer_nearby(
        session: Session, clerk: Principal) -> None:
    parcel_id, _ = add_parcel(session, clerk, rectangle(E0, N0, 20, 20))
    _, touching = add_parcel(session, clerk, rectangle(E0 + 20, N0, 20, 20))
    _, near = add_parcel(session, clerk, rectangle(E0, N0 - 45, 20, 20))  # 25 m south
    add_parcel(session, clerk, rectangle(E0, N0 + 20 + NEIGHBOUR_DISTANCE_M + 5, 20, 20))
    add_parcel(session, clerk, rectangle(E0 + 500, N0, 20, 20))  # far away
    _, ended = add_parcel(session, clerk, rectangle(E0 - 20, N0, 20, 20))  # west, historic
    session.execute(text("UPDATE parcels SET ended_at = now() WHERE code = :code"),
                    {"code": ended})
    add_parcel(session, clerk, rectangle(E0 + 5, N0 + 5, 10, 10),
               layer=Layer.UNDERGROUND)  # a garage under it: another layer

    drawn = parcel_map(session, parcel_id)
    assert drawn.neighbours == sorted([touching, near])
    labels = texts(svg_root(drawn), "neighbour-label")
    assert touching[-7:] in labels and ended[-7:] not in labels


def test_a_lone_parcel_has_no_neighbours(session: Session, clerk: Principal) -> None:
    parcel_id, _ = add_parcel(session, clerk, rectangle(E0, N0, 20, 20))
    assert parcel_map(session, parcel_id).neighbours == []


# ---------------------------------------------------------------------- scale and SVG


@pytest.mark.parametrize(("side", "width_mm", "scale"), [
    (20, 160, 200), (100, 160, 1000), (100, 80, 5000), (600, 160, 10000)])
def test_the_scale_is_the_most_detailed_round_one_that_fits(
        session: Session, clerk: Principal, side: float, width_mm: float, scale: int) -> None:
    parcel_id, _ = add_parcel(session, clerk, rectangle(E0, N0, side, side))
    drawn = parcel_map(session, parcel_id, width_mm=width_mm, height_mm=width_mm)
    assert drawn.scale_denominator == scale
    circles = [(float(c.get("cx", "")), float(c.get("cy", "")))
               for c in svg_root(drawn).iter(f"{SVG}circle")]
    assert all(0 < x < width_mm and 0 < y < width_mm - 14 for x, y in circles)


def test_the_svg_shows_points_north_scale_and_caption(
        session: Session, clerk: Principal) -> None:
    parcel_id, code = add_parcel(session, clerk, rectangle(E0, N0, 20, 20))
    add_parcel(session, clerk, rectangle(E0 + 20, N0, 20, 20))
    drawn = parcel_map(session, parcel_id)
    root = svg_root(drawn)
    assert root.get("viewBox") == "0 0 160 160"
    assert root.get("width") == "160mm"
    assert root.get("font-family") == "Noto Serif CJK SC, Noto Sans CJK SC, WenQuanYi Micro Hei"
    assert texts(root, "point-label") == ["J1", "J2", "J3", "J4"]
    all_text = texts(root)
    assert "北" in all_text
    assert f"1:{drawn.scale_denominator}" in all_text
    assert f"宗地代码 {code}" in all_text
    assert "面积 400.00 m²" in all_text
    # North up, east right, at the scale: J1 (NW) is left of J2 and above J4, 20 m apart.
    circles = [(float(c.get("cx", "")), float(c.get("cy", "")))
               for c in root.iter(f"{SVG}circle")]
    side_mm = 20 * 1000 / drawn.scale_denominator
    (x1, y1), (x2, y2), _, (x4, y4) = circles
    assert x2 - x1 == pytest.approx(side_mm, abs=0.02) and y2 == pytest.approx(y1)
    assert y4 - y1 == pytest.approx(side_mm, abs=0.02) and x4 == pytest.approx(x1)
    # Self-contained: nothing to fetch.
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", drawn.svg)
    assert "href" not in drawn.svg


def test_the_scale_bar_is_as_long_as_it_says(session: Session, clerk: Principal) -> None:
    for i, side in enumerate((20, 150, 900)):
        parcel_id, _ = add_parcel(session, clerk, rectangle(E0 + 1000 * i, N0, side, side))
        drawn = parcel_map(session, parcel_id)
        bar = next(g for g in svg_root(drawn).iter(f"{SVG}g") if g.get("id") == "scale-bar")
        length_mm = sum(float(r.get("width", "")) for r in bar.iter(f"{SVG}rect")
                        if r.get("class") == "scale-segment")
        ticks = texts(bar, "scale-tick")
        metres = float(ticks[-1])
        assert ticks[0] == "0" and float(ticks[1]) == metres / 2
        assert metres == scale_bar_metres(drawn.scale_denominator)
        assert length_mm == pytest.approx(metres * 1000 / drawn.scale_denominator, abs=0.02)
        assert 10 <= length_mm <= 40


def test_typst_can_embed_the_map(session: Session, clerk: Principal) -> None:
    parcel_id, _ = add_parcel(session, clerk, rectangle(E0, N0, 20, 30))
    drawn = parcel_map(session, parcel_id)
    png = typst.compile(b'#set page(width: auto, height: auto, margin: 0pt)\n'
                        b'#image(bytes(sys.inputs.svg), format: "svg")', format="png", ppi=72,
                        sys_inputs={"svg": drawn.svg})
    assert isinstance(png, bytes)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.width == pytest.approx(160 / 25.4 * 72, abs=2)
    assert image.getextrema()[0] < 64  # something dark was drawn


# ---------------------------------------------------------------------- refusals


def test_a_missing_parcel_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound) as raised:
        parcel_map(session, 987_654_321)
    assert raised.value.code == "NOT_FOUND"
    assert raised.value.details == {"key": "987654321"}


def test_a_parcel_without_geometry_cannot_be_drawn(session: Session, clerk: Principal) -> None:
    parcel_id, code = add_parcel(session, clerk, rectangle(E0, N0, 20, 20))
    # Only by lifting PARCEL-1 (this test's own database) can a parcel lose its geometry.
    session.execute(text("ALTER TABLE parcels DROP CONSTRAINT ck_parcels_geometry_valid"))
    session.execute(text("UPDATE parcels SET geom = 'SRID=4545;MULTIPOLYGON EMPTY'"
                         " WHERE id = :id"), {"id": parcel_id})
    with pytest.raises(DomainError) as raised:
        parcel_map(session, parcel_id)
    assert raised.value.code == "NO_GEOMETRY"
    assert raised.value.details == {"parcel": code}
