"""Benchmark: 三调 land-cover import and the resource-type areas of a registration unit, against
the naive PostGIS baseline measured in the same run. Starts its own private PostgreSQL.

    .venv/bin/python bench/natural_resources.py --quick              # 20,000 polygons
    .venv/bin/python bench/natural_resources.py                      # 200,000 polygons

The layer: a tessellation of 南江县 land (EPSG:4545) into jittered quadrilaterals of about 70 m
(shared, jittered grid nodes: neighbours share edges, nothing overlaps, nothing is left out),
each with a random DLBM of the seeded classes, written as one GeoPackage. The unit: a wavy,
star-shaped polygon of UNIT_VERTICES vertices over about a third of the layer, so that its
boundary cuts some thousands of polygons.

Measured: `import_land_cover` (rows/s, phases), then `resource_areas` (NRAREA-1: ST_Intersection
only where ST_Covers fails) against `plain_intersection_areas` (ST_Intersection on every
candidate), each the median of several runs; both results and an independent shapely
computation must agree (≤ 0.01 ha per type). Budget: ours at least 0.8× the baseline's speed.
Writes bench/results/natural_resources.json and natural_resources.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
from sqlalchemy import text  # noqa: E402

from registry.codes.natural_resources import ResourceType  # noqa: E402
from registry.db.natural_resources import (  # noqa: E402
    NaturalUnit,
    NaturalUnitStatus,
    RegistrationLevel,
)
from registry.db.session import make_engine, make_session_factory, transaction  # noqa: E402
from registry.devstack import PostgresServer  # noqa: E402
from registry.migrations import upgrade  # noqa: E402
from registry.services.access import authenticate, create_user  # noqa: E402
from registry.services.natural_resources.areas import (  # noqa: E402
    ResourceAreas,
    plain_intersection_areas,
    resource_areas,
)
from registry.services.natural_resources.land_cover import import_land_cover  # noqa: E402

RESULTS = ROOT / "bench" / "results"
COUNTY = "511922"  # 南江县
SEAT = (389_900.0, 3_581_300.0)  # tests/bureau.py SEATS
CELL = 70.0  # m
JITTER = 15.0  # m, each grid node; < CELL / 4 keeps every quadrilateral simple and convex-ish
UNIT_VERTICES = 4000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def side_of(count: int) -> int:
    return math.ceil(math.sqrt(count))


def backend_peak_mb(engine: Any) -> float | None:
    """VmHWM of the pool's PostgreSQL backend (the importer's connection, pool_size=1)."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def generate(path: Path, count: int, rng: np.random.Generator) -> None:
    """The tessellation as a GeoPackage."""
    import pyogrio.raw

    side = side_of(count)
    nodes = np.stack(np.meshgrid(np.arange(side + 1), np.arange(side + 1), indexing="xy"),
                     axis=-1).astype(float) * CELL
    nodes += rng.uniform(-JITTER, JITTER, size=nodes.shape)
    nodes[0, :, 1] = 0.0  # straight outer edges
    nodes[-1, :, 1] = side * CELL
    nodes[:, 0, 0] = 0.0
    nodes[:, -1, 0] = side * CELL
    nodes += np.array([SEAT[0] + 2000.0, SEAT[1] + 2000.0])
    index = np.arange(count)
    gx, gy = index % side, index // side
    rings = np.stack([nodes[gy, gx], nodes[gy, gx + 1], nodes[gy + 1, gx + 1],
                      nodes[gy + 1, gx], nodes[gy, gx]], axis=1)
    polygons = shapely.polygons(rings)
    classes = np.array(["0301", "0305", "0307", "0401", "0404", "1101", "1103", "1106",
                        "1108", "1206", "0101", "0103", "0201", "0702", "1003", "1104"],
                       dtype=object)
    dlbm = rng.choice(classes, size=count)
    bsm = np.array([f"{COUNTY}{i:010d}" for i in range(count)], dtype=object)
    pyogrio.raw.write(str(path), shapely.to_wkb(polygons), [dlbm, bsm], ["DLBM", "BSM"],
                      driver="GPKG", geometry_type="Polygon", crs="EPSG:4545")


def read_back(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The layer's polygons and their DLBM, for the independent check."""
    import pyogrio.raw

    _, _, wkb, fields = pyogrio.raw.read(str(path), columns=["DLBM"])
    return shapely.from_wkb(wkb), fields[0]


def unit_polygon(side_m: float, rng: np.random.Generator) -> shapely.Polygon:
    """A star-shaped wavy polygon over about a third of the layer's extent."""
    cx, cy = SEAT[0] + 2000.0 + side_m / 2, SEAT[1] + 2000.0 + side_m / 2
    radius = side_m * math.sqrt(1 / (3 * math.pi))
    angle = np.linspace(0, 2 * math.pi, UNIT_VERTICES, endpoint=False)
    wave = np.zeros_like(angle)
    for k in (3, 7, 17, 41, 97):
        wave += rng.uniform(0.01, 0.04) * np.sin(k * angle + rng.uniform(0, 2 * math.pi))
    wave += rng.uniform(-0.004, 0.004, size=angle.shape)
    r = radius * (1 + wave)
    ring = np.column_stack([cx + r * np.cos(angle), cy + r * np.sin(angle)])
    polygon = shapely.Polygon(np.vstack([ring, ring[:1]]))
    assert polygon.is_valid
    return polygon


def shapely_areas(polygons: np.ndarray, dlbm: np.ndarray, unit: shapely.Polygon
                  ) -> dict[str, float]:
    """Independent figures (ha, unrounded) per resource type."""
    from registry.codes.natural_resources import DEFAULT_LAND_COVER_MAPPING

    shapely.prepare(unit)
    hit = shapely.intersects(unit, polygons)
    inside = shapely.covered_by(polygons, unit) & hit
    m2 = np.zeros(len(polygons))
    m2[inside] = shapely.area(polygons[inside])
    cut = hit & ~inside
    m2[cut] = shapely.area(shapely.intersection(polygons[cut], unit))
    totals: dict[str, float] = dict.fromkeys((k.value for k in ResourceType), 0.0)
    for code, area in zip(dlbm[hit], m2[hit], strict=True):
        totals[DEFAULT_LAND_COVER_MAPPING[code][1].value] += area / 1e4
    return totals


def timed(fn: Any, runs: int) -> tuple[list[float], Any]:
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        timings.append(time.perf_counter() - started)
    return timings, result


def as_dict(a: ResourceAreas) -> dict[str, Any]:
    return {"unit_ha": str(a.unit_area_ha), "natural_ha": str(a.natural_resource_ha),
            "uncovered_ha": str(a.uncovered_ha),
            "by_type": {k.value: [str(v.area_ha), v.polygons] for k, v in a.by_type.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polygons", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20,000 polygons")
    parser.add_argument("--runs", type=int, default=5, help="runs of our area query")
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261208)
    parser.add_argument("--generate-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    count = 20_000 if args.quick else args.polygons
    if args.generate_only is not None:
        generate(args.generate_only, count, np.random.default_rng(args.seed))
        return
    command = " ".join(["python bench/natural_resources.py", *sys.argv[1:]])

    work = Path(tempfile.mkdtemp(prefix="bench-nr-"))
    os.chmod(work, 0o755)  # as root the postgres OS user must reach its data directory
    server = PostgresServer(work / "pg", password=secrets.token_hex(16), fast_and_unsafe=False)
    result: dict[str, Any] = {"command": command, "polygons": count,
                              "unit_vertices": UNIT_VERTICES,
                              "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                         f"{platform.python_implementation()} "
                                         f"{platform.python_version()}",
                              "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        started = time.perf_counter()
        path = work / "dltb.gpkg"
        # in a process of its own, so that the peak RSS measured here is the importer's
        subprocess.run([sys.executable, __file__, "--generate-only", str(path), "--polygons",
                        str(count), "--seed", str(args.seed)], check=True)
        side_m = side_of(count) * CELL
        unit = unit_polygon(side_m, np.random.default_rng(args.seed + 1))
        result["generate_s"] = round(time.perf_counter() - started, 2)
        result["file_mb"] = round(path.stat().st_size / 1e6, 1)
        print(f"generated {count:,} polygons ({result['file_mb']} MB, {side_m / 1000:.1f} km "
              f"square) in {result['generate_s']} s", flush=True)

        server.start()
        server.ensure_database("registry")
        url = server.url("registry")
        upgrade(url)
        engine = make_engine(url, pool_size=1)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            _, token = create_user(session, "bench-admin", ["admin"])
            principal = authenticate(session, token)
        assert principal is not None

        phases: dict[str, float] = {}
        last = {"phase": "", "at": time.perf_counter()}

        def progress(phase: str, done: int, total: int | None) -> None:
            if phase != last["phase"]:
                now = time.perf_counter()
                if last["phase"]:
                    phases[last["phase"]] = round(now - last["at"], 2)
                last.update(phase=phase, at=now)

        rss_before = peak_rss_mb()
        started = time.perf_counter()
        with transaction(sessions) as session:
            imported = import_land_cover(session, principal, path, COUNTY,
                                         datetime.now(UTC), progress=progress)
        import_s = time.perf_counter() - started
        phases[last["phase"]] = round(time.perf_counter() - last["at"], 2)
        assert imported.loaded == count and imported.rejected == 0, imported.rejects[:5]
        result["import"] = {"seconds": round(import_s, 2), "rows_per_s": round(count / import_s),
                            "phases_s": phases, "client_peak_rss_mb": round(peak_rss_mb(), 1),
                            "client_peak_rss_before_mb": round(rss_before, 1),
                            "server_backend_peak_rss_mb": backend_peak_mb(engine)}
        print(f"import: {import_s:.1f} s, {count / import_s:,.0f} rows/s (phases {phases})",
              flush=True)

        with transaction(sessions) as session:
            row = NaturalUnit(code="511922220000001", name="米仓山自然保护区", unit_type="22",
                              county_code=COUNTY, level=RegistrationLevel.CITY_COUNTY,
                              authority="南江县自然资源局", geom=f"SRID=4545;MULTIPOLYGON"
                              f"{shapely.MultiPolygon([unit]).wkt[len('MULTIPOLYGON'):]}",
                              status=NaturalUnitStatus.PREDELIMITED)
            session.add(row)
            session.flush()
            unit_id = row.id
        with engine.connect() as conn:
            stats = conn.execute(text("""
                SELECT count(*) FILTER (WHERE ST_Covers(u.geom, l.geom)) AS inside,
                       count(*) FILTER (WHERE NOT ST_Covers(u.geom, l.geom)
                                          AND ST_Intersects(l.geom, u.geom)) AS cut,
                       count(*) AS candidates
                  FROM nr_units u JOIN land_cover l ON l.geom && u.geom AND l.ended_at IS NULL
                 WHERE u.id = :id"""), {"id": unit_id}).one()
        share = round((stats.inside + stats.cut) / count, 3)
        result["unit"] = {"candidates": stats.candidates, "inside": stats.inside,
                          "cut": stats.cut, "share_of_layer": share}
        print(f"unit: {result['unit']}", flush=True)

        with sessions() as session:
            resource_areas(session, unit_id)  # warm the caches
            ours_t, ours = timed(lambda: resource_areas(session, unit_id), args.runs)
            base_t, base = timed(lambda: plain_intersection_areas(session, unit_id),
                                 args.baseline_runs)
        ours_p50, base_p50 = statistics.median(ours_t), statistics.median(base_t)
        polygons, dlbm = read_back(path)
        independent = shapely_areas(polygons, dlbm, unit)
        worst_pg = max(abs(ours.by_type[k].area_ha - base.by_type[k].area_ha)
                       for k in ResourceType)
        worst_shapely = max(abs(float(ours.by_type[k].area_ha) - independent[k.value])
                            for k in ResourceType)
        same_counts = all(ours.by_type[k].polygons == base.by_type[k].polygons
                          for k in ResourceType)
        assert worst_pg <= 0.01 and worst_shapely <= 0.01 and same_counts, (ours, base)
        result["areas"] = {
            "ours_s": [round(t, 3) for t in ours_t], "ours_p50_s": round(ours_p50, 3),
            "baseline_s": [round(t, 3) for t in base_t], "baseline_p50_s": round(base_p50, 3),
            "speed_ratio": round(base_p50 / ours_p50, 2),
            "max_difference_vs_baseline_ha": str(worst_pg),
            "max_difference_vs_shapely_ha": round(worst_shapely, 4),
            "result": as_dict(ours)}
        print(f"areas: ours p50 {ours_p50:.3f} s, baseline p50 {base_p50:.3f} s, "
              f"ours {base_p50 / ours_p50:.1f}× the baseline's speed", flush=True)
        result["budget"] = {"speed_ratio_min": 0.8,
                            "areas_ok": base_p50 / ours_p50 >= 0.8}
        engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "natural_resources.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_markdown(result)
    print(json.dumps(result["budget"]))


def write_markdown(r: dict[str, Any]) -> None:
    imp, a, u = r["import"], r["areas"], r["unit"]
    scale = "full scale" if r["polygons"] >= 200_000 else "reduced scale (`--quick`)" \
        if r["polygons"] == 20_000 else "custom scale"
    labels = {"water": "水流", "wetland": "湿地", "forest": "森林", "grassland": "草原",
              "wasteland": "荒地", "non_resource": "非自然资源"}
    lines = [
        "# Natural resources benchmark: land-cover import and resource-type areas",
        "",
        f"Command: `{r['command']}` ({r['started_at']}, {r['machine']}); {scale}: "
        f"{r['polygons']:,} polygons of ~70 m in 南江县 (EPSG:4545, GeoPackage "
        f"{r['file_mb']} MB).",
        "",
        "## Import (`import_land_cover`, every check, ends the previous layer)",
        "",
        f"{imp['seconds']} s, **{imp['rows_per_s']:,} rows/s**; phases (s): {imp['phases_s']}; "
        f"importer process peak RSS {imp['client_peak_rss_mb']} MB (before the import: "
        f"{imp['client_peak_rss_before_mb']} MB; the layer is read in batches of 20,000); "
        f"its PostgreSQL backend {imp['server_backend_peak_rss_mb']} MB.",
        "",
        "## Areas of a unit",
        "",
        f"Unit: {r['unit_vertices']:,} vertices; {u['candidates']:,} candidate polygons (boxes "
        f"meeting the unit's box); {u['inside']:,} wholly inside and {u['cut']:,} cut by its "
        f"boundary ({u['share_of_layer']:.0%} of the layer).",
        "",
        "| query | runs (s) | p50 (s) |",
        "|---|---|---:|",
        f"| `resource_areas` (ST_Intersection only where not ST_Covers) | "
        f"{', '.join(map(str, a['ours_s']))} | {a['ours_p50_s']} |",
        f"| `plain_intersection_areas` (ST_Intersection on every candidate) | "
        f"{', '.join(map(str, a['baseline_s']))} | {a['baseline_p50_s']} |",
        "",
        f"Ours is **{a['speed_ratio']}×** the baseline's speed (budget ≥ 0.8×: "
        f"{'met' if r['budget']['areas_ok'] else 'NOT met'}). Largest difference per type: "
        f"{a['max_difference_vs_baseline_ha']} ha against the baseline, "
        f"{a['max_difference_vs_shapely_ha']} ha against shapely.",
        "",
        "| type | ha | polygons |",
        "|---|---:|---:|",
        *(f"| {labels[k]} | {v[0]} | {v[1]:,} |" for k, v in a["result"]["by_type"].items()),
        "",
        f"Unit {a['result']['unit_ha']} ha; natural resources {a['result']['natural_ha']} ha; "
        f"uncovered {a['result']['uncovered_ha']} ha.",
        "",
    ]
    (RESULTS / "natural_resources.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
