"""Survey result files (权籍调查成果) as a surveying contractor delivers them: parcels as GeoJSON
or GeoPackage features, units as a CSV joined by code — with deliberate mistakes."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon, shape

from tests.bureau import SEATS

PARCEL_FIELDS = ["ZDDM", "TDYT", "ZL", "QSGC", "ZZGC"]
UNIT_FIELDS = ["BDCDYH", "DYLX", "ZL", "FWJG", "ZCS", "JZMJ", "SSLB", "GLDW", "ZMJZ", "CK",
               "SZC", "CWH", "CWMJ"]


def box(county: str, slot: int, size: float = 20.0, dx: float = 0.0) -> list[list[float]]:
    """A square ring on a grid near the county seat, far from tests.bureau's grid."""
    x0, y0 = SEATS[county]
    x = x0 + (slot % 40) * 50.0 + dx
    y = y0 - 5000.0 - (slot // 40) * 50.0
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


def bowtie(county: str, slot: int) -> list[list[float]]:
    x0, y0 = box(county, slot)[0]
    return [[x0, y0], [x0 + 20, y0 + 20], [x0 + 20, y0], [x0, y0 + 20], [x0, y0]]


@dataclass
class SurveyBatch:
    parcels: list[dict[str, Any]] = field(default_factory=list)  # props + "ring"
    units: list[dict[str, Any]] = field(default_factory=list)

    def parcel(self, code: str, ring: list[list[float]] | None, land_use: str = "0702",
               **props: Any) -> None:
        self.parcels.append({"ZDDM": code, "TDYT": land_use, "ZL": "巴中市某村",
                             "ring": ring, **props})

    def house(self, code: str, floors: Any = 2, area: Any = "120.50") -> None:
        self.units.append({"BDCDYH": code, "DYLX": "农房", "FWJG": "砖混", "ZCS": floors,
                           "JZMJ": area})

    def space(self, code: str, number: str) -> None:
        self.units.append({"BDCDYH": code, "DYLX": "车位", "CK": "滨江地下车库", "SZC": -1,
                           "CWH": number, "CWMJ": "12.50"})

    def road(self, code: str) -> None:
        self.units.append({"BDCDYH": code, "DYLX": "基础设施", "SSLB": "道路",
                           "GLDW": "平昌县交通运输局", "ZMJZ": "3800000.00"})

    # ------------------------------------------------------------------ writing

    def write_geojson(self, path: Path, srid: int = 4545, with_units: bool = False) -> Path:
        features = []
        units = {u["BDCDYH"][:19]: u for u in self.units} if with_units else {}
        for p in self.parcels:
            props = {k: v for k, v in p.items() if k != "ring"}
            if with_units:
                props.update({k: v for k, v in units.get(p["ZDDM"], {}).items()})
            geometry = ({"type": "Polygon", "coordinates": [p["ring"]]}
                        if p["ring"] is not None else None)
            features.append({"type": "Feature", "properties": props, "geometry": geometry})
        path.write_text(json.dumps({
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}},
            "features": features}, ensure_ascii=False), encoding="utf-8")
        return path

    def write_csv(self, path: Path) -> Path:
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=UNIT_FIELDS)
            writer.writeheader()
            for unit in self.units:
                writer.writerow(unit)
        return path

    def write_gpkg(self, path: Path) -> Path:
        """One layer: each feature a parcel with its (first) unit's columns."""
        import pyogrio.raw

        units = {}
        for u in self.units:
            units.setdefault(u["BDCDYH"][:19], u)
        names = PARCEL_FIELDS + [f for f in UNIT_FIELDS if f != "ZL"]
        columns: dict[str, list[Any]] = {n: [] for n in names}
        geometries = []
        for p in self.parcels:
            row = {**units.get(p["ZDDM"], {}), **p}
            for n in names:
                value = row.get(n)
                columns[n].append("" if value is None else str(value))
            ring = p["ring"]
            geometries.append(shapely.to_wkb(Polygon(ring)) if ring is not None else None)
        pyogrio.raw.write(str(path), np.array(geometries, dtype=object),
                          [np.array(columns[n], dtype=object) for n in names], names,
                          driver="GPKG", geometry_type="Polygon", crs="EPSG:4545")
        return path


def area_of(ring: list[list[float]]) -> float:
    return float(shape({"type": "Polygon", "coordinates": [ring]}).area)
