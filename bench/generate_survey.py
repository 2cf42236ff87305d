"""Synthetic survey results (权籍调查成果) for the import benchmark: rural homesteads as irregular
quadrilaterals on a jittered grid in EPSG:4545 around each county seat of 巴中市, spread evenly
over the five counties and three townships each, never overlapping (each corner stays in its
own quarter of its grid cell, 2 m from the cell's edge). One rural house (农房) per parcel.

    python bench/generate_survey.py --rows 1000000 --out /tmp/survey.gpkg
    python bench/generate_survey.py --rows 20000 --format geojson --out /tmp/survey.geojson

GeoPackage: one layer, parcel and unit columns on each feature. GeoJSON: parcels only, with
the units in a CSV beside it (FILE.csv).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import shapely

SEATS = {  # county seats in EPSG:4545 (m)
    "511902": (383_600.0, 3_527_000.0),
    "511903": (370_300.0, 3_520_500.0),
    "511921": (429_000.0, 3_532_100.0),
    "511922": (389_900.0, 3_581_300.0),
    "511923": (414_600.0, 3_493_400.0),
}
# Each county's grid extends from its seat in this direction, so no two counties' grids meet
# (the seats of 巴州区 and 恩阳区 are only 15 km apart).
DIRECTION = {"511902": (1, 1), "511903": (-1, -1), "511921": (1, 1), "511922": (1, 1),
             "511923": (1, -1)}
TOWNSHIPS = ("101", "102", "103")  # seeded for every county by migration 0001
CELL = 30.0  # m
MARGIN = 2.0  # m from the cell's edge: neighbours never touch
STRUCTURES = np.array(["砖混", "框架", "土木", "砖木"], dtype=object)


def county_rows(county: str, count: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Rings (count, 5, 2), parcel codes, floor areas for one county."""
    side = math.ceil(math.sqrt(count))
    index = np.arange(count)
    gx, gy = index % side, index // side
    seat_x, seat_y = SEATS[county]
    sx, sy = DIRECTION[county]
    x0 = seat_x + (gx * CELL if sx > 0 else -(gx + 1) * CELL)
    y0 = seat_y + (gy * CELL if sy > 0 else -(gy + 1) * CELL)
    half = CELL / 2
    j = rng.uniform(MARGIN, half - 1.0, size=(count, 8))
    rings = np.empty((count, 5, 2))
    rings[:, 0] = np.column_stack([x0 + j[:, 0], y0 + j[:, 1]])  # SW
    rings[:, 1] = np.column_stack([x0 + CELL - j[:, 2], y0 + j[:, 3]])  # SE
    rings[:, 2] = np.column_stack([x0 + CELL - j[:, 4], y0 + CELL - j[:, 5]])  # NE
    rings[:, 3] = np.column_stack([x0 + j[:, 6], y0 + CELL - j[:, 7]])  # NW
    rings[:, 4] = rings[:, 0]
    codes = []
    for k in range(count):
        township = TOWNSHIPS[k % len(TOWNSHIPS)]
        serial = k // len(TOWNSHIPS)
        codes.append(f"{county}{township}{1 + serial // 99_999:03d}JC{serial % 99_999 + 1:05d}")
    areas = np.round(rng.uniform(60, 260, size=count), 2)
    return rings, codes, areas


def generate(rows: int, seed: int = 2026) -> tuple[np.ndarray, list[str], np.ndarray,
                                                   np.ndarray]:
    rng = np.random.default_rng(seed)
    counties = sorted(SEATS)
    per = [rows // len(counties) + (1 if i < rows % len(counties) else 0)
           for i in range(len(counties))]
    parts = [county_rows(c, n, rng) for c, n in zip(counties, per, strict=True)]
    rings = np.concatenate([p[0] for p in parts])
    codes = [code for p in parts for code in p[1]]
    areas = np.concatenate([p[2] for p in parts])
    floors = rng.integers(1, 4, size=rows)
    return rings, codes, areas, floors


def write_gpkg(path: Path, rings: np.ndarray, codes: list[str], areas: np.ndarray,
               floors: np.ndarray) -> None:
    import pyogrio.raw

    wkb = shapely.to_wkb(shapely.polygons(rings))
    n = len(codes)
    rng = np.random.default_rng(7)
    fields = {
        "ZDDM": np.array(codes, dtype=object),
        "TDYT": np.full(n, "0702", dtype=object),
        "ZL": np.full(n, "巴中市某村", dtype=object),
        "BDCDYH": np.array([c + "F00010001" for c in codes], dtype=object),
        "DYLX": np.full(n, "农房", dtype=object),
        "FWJG": STRUCTURES[rng.integers(0, len(STRUCTURES), size=n)],
        "ZCS": floors.astype(np.int32),
        "JZMJ": areas,
    }
    if path.exists():
        path.unlink()
    pyogrio.raw.write(str(path), wkb, list(fields.values()), list(fields), driver="GPKG",
                      geometry_type="Polygon", crs="EPSG:4545")


def write_geojson_csv(path: Path, rings: np.ndarray, codes: list[str], areas: np.ndarray,
                      floors: np.ndarray) -> Path:
    attributes = path.with_suffix(".csv")
    with path.open("w", encoding="utf-8") as out:
        out.write('{"type":"FeatureCollection","crs":{"type":"name","properties":'
                  '{"name":"urn:ogc:def:crs:EPSG::4545"}},"features":[\n')
        for i, (ring, code) in enumerate(zip(rings, codes, strict=True)):
            feature = {"type": "Feature", "properties": {"ZDDM": code, "TDYT": "0702",
                                                         "ZL": "巴中市某村"},
                       "geometry": {"type": "Polygon",
                                    "coordinates": [np.round(ring, 3).tolist()]}}
            out.write(("," if i else "") + json.dumps(feature, ensure_ascii=False) + "\n")
        out.write("]}\n")
    with attributes.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["BDCDYH", "DYLX", "FWJG", "ZCS", "JZMJ"])
        for code, area, floor in zip(codes, areas, floors, strict=True):
            writer.writerow([code + "F00010001", "农房", "砖混", int(floor), f"{area:.2f}"])
    return attributes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--format", choices=["gpkg", "geojson"], default="gpkg")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    data = generate(args.rows)
    if args.format == "gpkg":
        write_gpkg(args.out, *data)
    else:
        write_geojson_csv(args.out, *data)
    print(f"wrote {args.rows} parcels to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
