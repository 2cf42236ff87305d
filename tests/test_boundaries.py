"""Division boundaries (BOUNDARY-1..3, LAYER-1/2): an admin loads 南江县's line from a layer
with the command; a county-level unit leaving it is refused (NRUNIT-5); a bad layer changes
nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from registry.config import Settings
from registry.runtime import Runtime
from tests.bureau import SEATS
from tests.clock import Clock
from tests.conftest import GraphQLClient, Users
from tests.snapshot import snapshot
from tests.test_cli import run_registry, server_env
from tests.test_natural_resources import COUNTY, MONDAY, Office, box, refused

X0, Y0 = SEATS[COUNTY]


@pytest.fixture
def office(gql: GraphQLClient, users: Users, runtime: Runtime) -> Office:
    runtime.clock = Clock(MONDAY)
    return Office(gql, users)


def layer(path: Path, features: list[tuple[dict[str, Any], list[list[float]]]]) -> Path:
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4545"}},
        "features": [{"type": "Feature", "properties": props,
                      "geometry": {"type": "Polygon", "coordinates": [ring]}}
                     for props, ring in features]}, ensure_ascii=False), encoding="utf-8")
    return path


def ring(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def test_a_loaded_county_line_keeps_its_units_inside(office: Office, runtime: Runtime,
                                                     settings: Settings, tmp_path: Path) -> None:
    env = server_env(settings)
    assert run_registry("user", "add", "nr-admin", "--role", "admin",
                        env=env).returncode == 0
    # Two parts of 南江县 (synthetic): south of the seat, split at x0 + 3000.
    south = Y0 - 20_000
    path = layer(tmp_path / "xzq.geojson", [
        ({"XZQDM": COUNTY, "XZQMC": "南江县"}, ring(X0 - 1000, south, X0 + 3000, Y0)),
        ({"XZQDM": COUNTY, "XZQMC": "南江县"}, ring(X0 + 3000, south, X0 + 5200, Y0))])
    done = run_registry("boundaries", "import", str(path), "--label", "示例界线",
                        "--user", "nr-admin", env=env)
    assert done.returncode == 0, done.stderr
    assert f"boundaries loaded for 1 divisions: {COUNTY}" in done.stdout
    with runtime.engine.connect() as conn:
        area, source = conn.execute(text(
            "SELECT round(ST_Area(geom)), source FROM division_boundaries WHERE code = :c"),
            {"c": COUNTY}).one()
    assert area == 6200 * 20_000 and source.startswith("xzq.geojson (sha256 ")
    assert source.endswith(": 示例界线")

    # A unit across the line east of x0 + 5200 is refused; inside, it is pre-delimited.
    assert refused(runtime, office.gql, "PredelimitNaturalUnit", office.clerk,
                   code="511922500000002", input={
                       "name": "某湿地", "unitType": "50", "countyCode": COUNTY,
                       "authority": "南江县自然资源局", "geometry": box(5000, 0, 500, 500),
                       "crs": 4545}) == ["NR_UNIT_OUTSIDE_COUNTY"]
    assert office.predelimit(code="511922500000002", name="某湿地", unitType="50",
                             geometry=box(4000, 0, 500, 500))["state"] == "PREDELIMITED"

    # Bad layers: an unknown division, a clerk, no code column — nothing changes.
    before = snapshot(runtime)
    unknown = layer(tmp_path / "bad.geojson", [({"XZQDM": "999999"}, ring(X0, Y0, X0 + 9,
                                                                          Y0 + 9))])
    failed = run_registry("boundaries", "import", str(unknown), "--user", "nr-admin", env=env)
    assert failed.returncode == 1 and "UNKNOWN_DIVISION" in failed.stderr
    clerk = run_registry("boundaries", "import", str(path), "--user", f"nr-clerk-{COUNTY}",
                         env=env)
    assert clerk.returncode == 1 and "FORBIDDEN" in clerk.stderr
    nameless = layer(tmp_path / "nameless.geojson", [({"名称": "南江县"}, ring(X0, Y0, X0 + 9,
                                                                             Y0 + 9))])
    missing = run_registry("boundaries", "import", str(nameless), "--user", "nr-admin",
                           env=env)
    assert missing.returncode == 1 and "MISSING_COLUMN" in missing.stderr
    assert snapshot(runtime) == before
