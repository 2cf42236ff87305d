"""三调 land-cover import (NRLAND-2..6) and the resource-type areas of a registration unit
(NRAREA-1..5), against the real database; areas checked against shapely on the same polygons."""

from __future__ import annotations

import csv
import hashlib
import json
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy import text

from registry.codes.natural_resources import ResourceType
from registry.config import Settings
from registry.db.natural_resources import NaturalUnit, NaturalUnitStatus, RegistrationLevel
from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.access import Principal
from registry.services.errors import DomainError
from registry.services.natural_resources.areas import (
    plain_intersection_areas,
    resource_areas,
    resource_areas_of_geometry,
)
from registry.services.natural_resources.land_cover import (
    MAX_REJECTS_KEPT,
    LandCoverImport,
    import_land_cover,
)
from tests.bureau import SEATS
from tests.snapshot import snapshot
from tests.test_cli import run_registry, server_env
from tests.test_import_survey import person as survey_person

COUNTY = "511922"  # 南江县
OTHER = "511921"
X0, Y0 = SEATS[COUNTY][0] + 3000.0, SEATS[COUNTY][1] - 9000.0

TYPE_OF = {"0301": ResourceType.FOREST, "0305": ResourceType.FOREST,
           "0401": ResourceType.GRASSLAND, "1101": ResourceType.WATER,
           "1108": ResourceType.WETLAND, "1206": ResourceType.WASTELAND,
           "0101": ResourceType.NON_RESOURCE, "0702": ResourceType.NON_RESOURCE}


def rect(x: float, y: float, w: float, h: float, county: str = COUNTY) -> Polygon:
    """A rectangle at (x, y) metres from this test's corner of the county."""
    if county == COUNTY:
        return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + h)
    sx, sy = SEATS[county]
    return box(sx + 3000 + x, sy - 9000 + y, sx + 3000 + x + w, sy - 9000 + y + h)


def bowtie(x: float, y: float) -> Polygon:
    return Polygon([(X0 + x, Y0 + y), (X0 + x + 20, Y0 + y + 20), (X0 + x + 20, Y0 + y),
                    (X0 + x, Y0 + y + 20)])


@dataclass
class Feature:
    geometry: Any  # a shapely geometry in EPSG:4545, or None
    props: dict[str, Any]


def feature(geometry: Any, dlbm: Any = "0301", bsm: str | None = None, **more: Any) -> Feature:
    props: dict[str, Any] = {"DLBM": dlbm, **more}
    if bsm is not None:
        props["BSM"] = bsm
    return Feature(geometry, props)


def _to(srid: int, geometry: Any) -> Any:
    if geometry is None or srid == 4545:
        return geometry
    transformer = Transformer.from_crs(4545, srid, always_xy=True)
    return shapely.transform(geometry, lambda xy: np.column_stack(
        transformer.transform(xy[:, 0], xy[:, 1])))


def write_geojson(path: Path, features: list[Feature], srid: int | None = 4545) -> Path:
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": f.props,
         "geometry": (shapely.geometry.mapping(_to(srid or 4545, f.geometry))
                      if f.geometry is not None else None)} for f in features]}
    if srid is not None:
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def write_gpkg(path: Path, features: list[Feature], srid: int | None = 4545,
               numeric: tuple[str, ...] = ()) -> Path:
    import pyogrio.raw

    names = list(dict.fromkeys(k for f in features for k in f.props))
    columns = [np.array([int(f.props[n]) for f in features]) if n in numeric
               else np.array(["" if f.props.get(n) is None else str(f.props[n])
                              for f in features], dtype=object) for n in names]
    geometries = np.array([shapely.to_wkb(_to(srid or 4545, f.geometry))
                           if f.geometry is not None else None for f in features],
                          dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "'crs' was not provided" when meant
        pyogrio.raw.write(str(path), geometries, columns, names, driver="GPKG",
                          geometry_type="Unknown", crs=f"EPSG:{srid}" if srid else None)
    return path


def person(runtime: Runtime, username: str, *roles: str, county: str | None = COUNTY
           ) -> Principal:
    return survey_person(runtime, username, *roles, county=county)


@pytest.fixture
def clerk(runtime: Runtime) -> Principal:
    return person(runtime, "nj-land-clerk", "clerk")


def run(runtime: Runtime, principal: Principal, path: Path, county: str = COUNTY,
        crs: int | None = None, now: datetime | None = None) -> LandCoverImport:
    phases: list[str] = []
    with transaction(runtime.sessions) as session:
        result = import_land_cover(session, principal, path, county, now or runtime.clock(),
                                   crs, lambda phase, done, total: phases.append(phase))
    assert phases[0] == "reading" and phases[-1] == "done"
    return result


def stored(runtime: Runtime, layer_id: int) -> list[Any]:
    with runtime.engine.connect() as conn:
        return conn.execute(text("""
            SELECT bsm, dlbm, qsxz, ST_Area(geom) AS area, ST_SRID(geom) AS srid,
                   ST_AsText(ST_Centroid(geom)) AS centroid, GeometryType(geom) AS kind
              FROM land_cover WHERE layer_id = :id ORDER BY id"""), {"id": layer_id}).all()


# ---------------------------------------------------------------------- import


def test_geojson_in_the_register_crs_loads_every_polygon_with_its_area(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    shapes = [rect(0, 0, 100, 50), rect(150, 0, 80, 80), rect(300, 0, 60.5, 40)]
    path = write_geojson(tmp_path / "dltb.geojson", [
        feature(shapes[0], "0301", "511922000001", QSXZ="20"),
        feature(shapes[1], "1101", "511922000002", QSXZ="10"),
        feature(shapes[2], "05h1", "511922000003")])  # codes are matched upper-cased

    result = run(runtime, clerk, path)

    assert (result.features, result.loaded, result.rejected, result.rejects) == (3, 3, 0, [])
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.source_crs == "EPSG:4545" and result.replaced_layer_id is None
    rows = stored(runtime, result.layer_id)
    assert [(r.bsm, r.dlbm, r.qsxz) for r in rows] == [
        ("511922000001", "0301", "20"), ("511922000002", "1101", "10"),
        ("511922000003", "05H1", "")]
    assert [round(r.area, 4) for r in rows] == [round(s.area, 4) for s in shapes]
    assert {r.srid for r in rows} == {4545} and {r.kind for r in rows} == {"MULTIPOLYGON"}
    with runtime.engine.connect() as conn:
        layer = conn.execute(text("SELECT * FROM land_cover_layers WHERE id = :id"),
                             {"id": result.layer_id}).one()
        audit = conn.execute(text("SELECT operation, details FROM audit_log"
                                  " WHERE operation = 'importLandCover'")).one()
    assert (layer.county_code, layer.source_name, layer.sha256, layer.source_crs) == (
        COUNTY, "dltb.geojson", result.sha256, "EPSG:4545")
    assert (layer.features, layer.loaded, layer.rejected, layer.rejects) == (3, 3, 0, [])
    assert layer.imported_by == clerk.user_id and layer.ended_at is None
    assert audit.details["layer"] == result.layer_id and audit.details["loaded"] == 3


def test_geopackage_in_cgcs2000_lon_lat_is_transformed_to_the_register_crs(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    shapes = [rect(0, 0, 100, 100), rect(200, 0, 50, 120)]
    features = [Feature(shapes[0], {"地类编码": "0401", "标识码": "A1"}),
                Feature(shapes[1], {"地类编码": "1206", "标识码": "A2"})]
    path = write_gpkg(tmp_path / "dltb.gpkg", features, srid=4490)

    result = run(runtime, clerk, path)

    assert (result.loaded, result.rejected, result.source_crs) == (2, 0, "EPSG:4490")
    rows = stored(runtime, result.layer_id)
    assert [(r.bsm, r.dlbm) for r in rows] == [("A1", "0401"), ("A2", "1206")]
    for row, shape in zip(rows, shapes, strict=True):
        assert row.srid == 4545
        assert abs(row.area - shape.area) < 0.05  # straight edges in degrees vs metres
        assert shapely.from_wkt(row.centroid).distance(shape.centroid) < 0.01


def test_a_number_column_of_codes_gets_its_leading_zero_back(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "numeric.gpkg", [
        Feature(rect(0, 0, 10, 10), {"DLBM": 301}), Feature(rect(20, 0, 10, 10), {"DLBM": 1101}),
        Feature(rect(40, 0, 10, 10), {"DLBM": 9})], numeric=("DLBM",))

    result = run(runtime, clerk, path)

    assert result.rejected == 0
    assert [r.dlbm for r in stored(runtime, result.layer_id)] == ["0301", "1101", "09"]


def test_bad_features_are_reported_and_the_others_load(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "flawed.geojson", [
        feature(rect(0, 0, 50, 50), "0301", "B1"),  # 1 good
        feature(rect(60, 0, 50, 50), "9999", "B2"),  # 2 unknown code
        feature(bowtie(120, 0), "0301", "B3"),  # 3 self-intersection
        feature(rect(180, 0, 50, 50), "0101", "B4"),  # 4 good
        feature(None, "0301", "B5"),  # 5 no geometry
        feature(shapely.Point(X0, Y0), "0301", "B6"),  # 6 a point
        feature(box(100, 100, 150, 150), "0301", "B7"),  # 7 coordinates nowhere near
        feature(rect(240, 0, 50, 50), None, "B8"),  # 8 no code
    ])

    result = run(runtime, clerk, path)

    assert (result.features, result.loaded, result.rejected) == (8, 2, 6)
    assert [(r.feature, r.bsm, r.code) for r in result.rejects] == [
        (2, "B2", "UNKNOWN_LAND_COVER_CODE"), (3, "B3", "INVALID_GEOMETRY"),
        (5, "B5", "EMPTY_GEOMETRY"), (6, "B6", "NOT_POLYGON"), (7, "B7", "OUTSIDE_CITY"),
        (8, "B8", "UNKNOWN_LAND_COVER_CODE")]
    by_feature = {r.feature: r for r in result.rejects}
    assert by_feature[2].dlbm == "9999" and "9999" in by_feature[2].message_zh
    assert by_feature[3].message_en.startswith("invalid geometry: Self-intersection")
    assert "自相交" in by_feature[3].message_zh and "位置" in by_feature[3].message_zh
    assert "EPSG:4545" in by_feature[7].message_en
    assert [r.bsm for r in stored(runtime, result.layer_id)] == ["B1", "B4"]
    with runtime.engine.connect() as conn:
        kept = conn.execute(text("SELECT rejected, rejects FROM land_cover_layers"
                                 " WHERE id = :id"), {"id": result.layer_id}).one()
    assert kept.rejected == 6
    assert kept.rejects == [r.as_json() for r in result.rejects]
    assert kept.rejects[0] == {"feature": 2, "bsm": "B2", "dlbm": "9999",
                               "code": "UNKNOWN_LAND_COVER_CODE",
                               "message_zh": "未知的地类编码：9999",
                               "message_en": "unknown land-cover code (DLBM): 9999"}


def test_the_stored_rejects_are_capped_and_their_total_kept(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    features = [feature(rect(0, 0, 10, 10), "0301", "GOOD")]
    features += [feature(rect(20 + (i % 100) * 12, (i // 100) * 12, 10, 10), "0000", f"X{i}")
                 for i in range(MAX_REJECTS_KEPT + 3)]
    result = run(runtime, clerk, write_geojson(tmp_path / "many.geojson", features))
    assert (result.loaded, result.rejected, len(result.rejects)) == (
        1, MAX_REJECTS_KEPT + 3, MAX_REJECTS_KEPT)
    assert [r.feature for r in result.rejects] == list(range(2, MAX_REJECTS_KEPT + 2))
    with runtime.engine.connect() as conn:
        kept = conn.execute(text("SELECT rejected, jsonb_array_length(rejects) AS n"
                                 " FROM land_cover_layers WHERE id = :id"),
                            {"id": result.layer_id}).one()
    assert (kept.rejected, kept.n) == (MAX_REJECTS_KEPT + 3, MAX_REJECTS_KEPT)


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, int | None]]:
    good = [feature(rect(0, 0, 10, 10))]
    garbage = tmp_path / "garbage.gpkg"
    garbage.write_bytes(b"not a geopackage at all")
    return {
        "MISSING_COLUMN": (write_geojson(tmp_path / "nocode.geojson",
                                         [Feature(rect(0, 0, 10, 10), {"BSM": "x"})]), None),
        "MISSING_CRS": (write_gpkg(tmp_path / "nocrs.gpkg", good, srid=None), None),
        "WRONG_CRS": (write_gpkg(tmp_path / "mercator.gpkg", good, srid=3857), None),
        "UNREADABLE_FILE": (garbage, None),
        "NO_VALID_FEATURE": (write_geojson(tmp_path / "allbad.geojson",
                                           [feature(rect(0, 0, 10, 10), "9999")]), None),
        "UNKNOWN_COUNTY": (write_geojson(tmp_path / "good.geojson", good), None),
    }


@pytest.mark.parametrize("code", ["MISSING_COLUMN", "MISSING_CRS", "WRONG_CRS",
                                  "UNREADABLE_FILE", "NO_VALID_FEATURE", "UNKNOWN_COUNTY"])
def test_a_file_level_problem_refuses_the_file_and_changes_nothing(
        runtime: Runtime, clerk: Principal, tmp_path: Path, code: str) -> None:
    admin = person(runtime, "nr-admin", "admin", county=None)
    run(runtime, clerk, write_geojson(tmp_path / "first.geojson",
                                      [feature(rect(0, 0, 10, 10))]))
    path, crs = _bad_files(tmp_path)[code]
    before = snapshot(runtime)

    with pytest.raises(DomainError) as refused:
        run(runtime, admin, path, county="511999" if code == "UNKNOWN_COUNTY" else COUNTY,
            crs=crs)

    assert refused.value.code == code
    assert refused.value.message_zh and refused.value.message_en
    assert snapshot(runtime) == before


def test_a_crs_given_for_a_file_without_one_is_used(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "nocrs.gpkg", [feature(rect(0, 0, 10, 10))], srid=None)
    result = run(runtime, clerk, path, crs=4545)
    assert (result.loaded, result.source_crs) == (1, "EPSG:4545")


def test_only_a_clerk_of_the_county_or_an_admin_imports(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    path = write_geojson(tmp_path / "ok.geojson", [feature(rect(0, 0, 10, 10))])
    reviewer = person(runtime, "nj-reviewer", "reviewer")
    before = snapshot(runtime)
    for who, county in ((reviewer, COUNTY), (clerk, OTHER)):
        with pytest.raises(DomainError) as refused:
            run(runtime, who, path, county=county)
        assert refused.value.code == "FORBIDDEN"
    assert snapshot(runtime) == before


def test_a_new_import_ends_the_county_s_previous_layer_and_polygons_only(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    admin = person(runtime, "nr-admin", "admin", county=None)
    other = run(runtime, admin, write_geojson(tmp_path / "other.geojson", [
        feature(rect(0, 0, 30, 30, county=OTHER))]), county=OTHER)
    first = run(runtime, clerk, write_geojson(tmp_path / "v1.geojson", [
        feature(rect(0, 0, 30, 30)), feature(rect(40, 0, 30, 30))]))
    ended_at = runtime.clock() + timedelta(days=1)
    second = run(runtime, clerk, write_geojson(tmp_path / "v2.geojson", [
        feature(rect(0, 0, 70, 30), "0401")]), now=ended_at)

    assert second.replaced_layer_id == first.layer_id and second.ended_polygons == 2
    with runtime.engine.connect() as conn:
        layers = dict(conn.execute(text("SELECT id, ended_at FROM land_cover_layers")).all())
        polygons = conn.execute(text("SELECT layer_id, count(*) AS n, min(ended_at) AS lo,"
                                     " max(ended_at) AS hi FROM land_cover GROUP BY layer_id"
                                     " ORDER BY layer_id")).all()
    assert layers == {other.layer_id: None, first.layer_id: ended_at, second.layer_id: None}
    assert [tuple(p) for p in polygons] == [(other.layer_id, 1, None, None),
                                            (first.layer_id, 2, ended_at, ended_at),
                                            (second.layer_id, 1, None, None)]


# ---------------------------------------------------------------------- areas


def add_unit(session: Any, geometry: Polygon | MultiPolygon, code: str = "511922220000001"
             ) -> int:
    multi = geometry if isinstance(geometry, MultiPolygon) else MultiPolygon([geometry])
    unit = NaturalUnit(code=code, name="米仓山自然保护区", unit_type="22", county_code=COUNTY,
                       level=RegistrationLevel.CITY_COUNTY, authority="南江县自然资源局",
                       geom=f"SRID=4545;{multi.wkt}", status=NaturalUnitStatus.PREDELIMITED)
    session.add(unit)
    session.flush()
    return unit.id


def expected_areas(unit: Polygon, cover: list[tuple[Polygon, str]]) -> dict[str, Any]:
    """What NRAREA-1..4 say, computed by shapely."""
    m2 = dict.fromkeys(ResourceType, 0.0)
    count = dict.fromkeys(ResourceType, 0)
    for polygon, dlbm in cover:
        inside = polygon.intersection(unit).area
        m2[TYPE_OF[dlbm]] += inside
        count[TYPE_OF[dlbm]] += inside > 0.01
    covered = sum(m2.values())
    natural = covered - m2[ResourceType.NON_RESOURCE]
    return {"m2": m2, "count": count, "natural": natural / 1e4,
            "uncovered": max(unit.area - covered, 0) / 1e4, "unit": unit.area / 1e4}


def assert_areas_match(found: Any, want: dict[str, Any]) -> None:
    for kind in ResourceType:
        assert abs(float(found.by_type[kind].area_ha) - want["m2"][kind] / 1e4) <= 0.01, kind
        assert found.by_type[kind].polygons == want["count"][kind], kind
    assert abs(float(found.natural_resource_ha) - want["natural"]) <= 0.01
    assert abs(float(found.uncovered_ha) - want["uncovered"]) <= 0.01
    assert abs(float(found.unit_area_ha) - want["unit"]) <= 0.01


def test_areas_per_resource_type_match_shapely_for_polygons_in_part_and_out(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    unit = Polygon([(X0 + 0, Y0 + 0), (X0 + 600, Y0 - 40), (X0 + 650, Y0 + 420),
                    (X0 + 300, Y0 + 610), (X0 - 30, Y0 + 380)])
    cover = [
        (rect(100, 100, 200, 150), "0301"),  # wholly inside
        (rect(320, 120, 120, 90), "0305"),  # wholly inside, forest too
        (rect(550, 200, 300, 100), "0401"),  # crosses the east edge
        (rect(-200, 300, 250, 200), "1101"),  # crosses the west edge
        (rect(2000, 2000, 100, 100), "1108"),  # outside
        (rect(200, 450, 150, 300), "0101"),  # crosses the north edges
        (rect(100, 300, 50, 50), "1206"),  # inside
    ]
    path = write_geojson(tmp_path / "cover.geojson", [feature(p, d) for p, d in cover])
    run(runtime, clerk, path)
    with transaction(runtime.sessions) as session:
        unit_id = add_unit(session, unit)

    with runtime.sessions() as session:
        found = resource_areas(session, unit_id)
        plain = plain_intersection_areas(session, unit_id)
        by_ewkt = resource_areas_of_geometry(session, f"SRID=4545;{unit.wkt}")
        ewkt_4490 = resource_areas_of_geometry(session, f"SRID=4490;{_to(4490, unit).wkt}")
        with pytest.raises(DomainError) as missing:
            resource_areas(session, unit_id + 1000)

    want = expected_areas(unit, cover)
    assert_areas_match(found, want)
    assert found == plain == by_ewkt
    assert abs(ewkt_4490.unit_area_ha - found.unit_area_ha) <= Decimal("0.01")
    assert found.by_type[ResourceType.WETLAND].polygons == 0  # the one outside
    assert found.by_type[ResourceType.FOREST].polygons == 2
    assert found.natural_resource_ha == round(Decimal(want["natural"]), 2)
    assert found.non_resource_ha == found.by_type[ResourceType.NON_RESOURCE].area_ha
    assert found.uncovered_ha > 0 and missing.value.code == "NOT_FOUND"


def test_areas_ignore_ended_land_cover_and_units(
        runtime: Runtime, clerk: Principal, tmp_path: Path) -> None:
    run(runtime, clerk, write_geojson(tmp_path / "v1.geojson", [
        feature(rect(0, 0, 100, 100), "0301")]))
    run(runtime, clerk, write_geojson(tmp_path / "v2.geojson", [
        feature(rect(0, 0, 100, 100), "0401")]), now=runtime.clock() + timedelta(hours=1))
    with transaction(runtime.sessions) as session:
        unit_id = add_unit(session, rect(0, 0, 100, 100))
    with runtime.sessions() as session:
        found = resource_areas(session, unit_id)
    assert found.area(ResourceType.GRASSLAND) == Decimal("1.00")
    assert found.area(ResourceType.FOREST) == Decimal("0.00")
    assert found.uncovered_ha == Decimal("0.00")


boxes = st.tuples(st.integers(-300, 300), st.integers(-300, 300), st.integers(5, 250),
                  st.integers(5, 250))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(unit_box=boxes, cover=st.lists(st.tuples(boxes, st.sampled_from(sorted(TYPE_OF))),
                                      min_size=0, max_size=8))
def test_areas_of_random_boxes_match_shapely(
        runtime: Runtime, unit_box: tuple[int, int, int, int],
        cover: list[tuple[tuple[int, int, int, int], str]]) -> None:
    unit = rect(*unit_box)
    polygons = [(rect(*b), dlbm) for b, dlbm in cover]
    with runtime.sessions() as session:
        layer = session.execute(text(
            "INSERT INTO land_cover_layers (county_code, source_name, sha256, source_crs,"
            " features, loaded, rejected, rejects) VALUES (:c, 'h', '', 'EPSG:4545', 0, 0, 0,"
            " '[]') RETURNING id"), {"c": COUNTY}).scalar_one()
        for polygon, dlbm in polygons:
            session.execute(text(
                "INSERT INTO land_cover (layer_id, county_code, bsm, dlbm, qsxz, geom)"
                " VALUES (:l, :c, '', :d, '', ST_Multi(ST_GeomFromText(:w, 4545)))"),
                {"l": layer, "c": COUNTY, "d": dlbm, "w": polygon.wkt})
        unit_id = add_unit(session, unit)
        found = resource_areas(session, unit_id)
        assert found == plain_intersection_areas(session, unit_id)
        session.rollback()
    assert_areas_match(found, expected_areas(unit, polygons))


# ---------------------------------------------------------------------- command line


def test_the_command_imports_prints_a_summary_and_writes_the_rejects(
        runtime: Runtime, settings: Settings, tmp_path: Path) -> None:
    person(runtime, "nj-cli-clerk", "clerk")
    path = write_geojson(tmp_path / "dltb.geojson", [
        feature(rect(0, 0, 50, 50), "0301", "C1"), feature(rect(60, 0, 50, 50), "9999", "C2")])
    rejects = tmp_path / "rejects.csv"
    env = server_env(settings)

    done = run_registry("land-cover", "import", str(path), "--county", COUNTY, "--user",
                        "nj-cli-clerk", "--rejects", str(rejects), "--quiet", env=env)

    assert done.returncode == 0, done.stderr
    assert "2 features, 1 loaded, 1 refused" in done.stdout
    with rejects.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [
            ["feature", "bsm", "dlbm", "code", "message_zh", "message_en"],
            ["2", "C2", "9999", "UNKNOWN_LAND_COVER_CODE", "未知的地类编码：9999",
             "unknown land-cover code (DLBM): 9999"]]

    printed = run_registry("land-cover", "import", str(path), "--county", COUNTY,
                           "--username", "nj-cli-clerk", env=env)
    assert printed.returncode == 0, printed.stderr
    assert "reject 2\tC2\t9999\tUNKNOWN_LAND_COVER_CODE" in printed.stdout
    assert "ended (1 polygons)" in printed.stdout

    before = snapshot(runtime)
    no_crs = write_gpkg(tmp_path / "nocrs.gpkg", [feature(rect(0, 0, 10, 10))], srid=None)
    refused = run_registry("land-cover", "import", str(no_crs), "--county", COUNTY, "--user",
                           "nj-cli-clerk", "--quiet", env=env)
    assert refused.returncode == 1
    assert "MISSING_CRS" in refused.stderr
    assert snapshot(runtime) == before
