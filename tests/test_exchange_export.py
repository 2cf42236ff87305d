"""EXCHANGE-12: the full export as of a day, in XML, CSV and GeoPackage."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pyogrio
from lxml import etree

from registry.db.units import UnitKind
from registry.runtime import Runtime
from registry.services.exchange.export import export
from tests.exchange_support import Office


def test_export_in_every_format(runtime: Runtime, tmp_path: Path) -> None:
    office = Office(runtime, counties=("511923", "511921"))
    house, _ = office.first("511923")
    office.first("511923", UnitKind.PARKING_SPACE)
    office.mortgage("511923", house)
    office.first("511921")
    day = office.clock().date()

    counts = export(runtime.sessions, tmp_path / "all.xml", "xml", day)
    assert counts["KTT_ZDJBXX"] == 3 and counts["QLF_QL_DYAQ"] == 1
    assert counts["QLT_FW_FDCQ_YZ"] == 3 and counts["DJT_DJ_SL"] == 4
    root = etree.parse(str(tmp_path / "all.xml")).getroot()
    assert len(root) == sum(counts.values())
    assert {e.get("QSZT") for e in root.iter("QLT_FW_FDCQ_YZ")} == {"1"}

    one = export(runtime.sessions, tmp_path / "csv", "csv", day, county="511923")
    assert one["KTT_ZDJBXX"] == 2
    with (tmp_path / "csv" / "ZTT_GY_QLR.csv").open(encoding="utf-8") as handle:
        holders = list(csv.DictReader(handle))
    assert {h["QLRMC"] for h in holders} == {"王大山", "巴中农商银行"}
    assert {h["ZJZL"] for h in holders} == {"1", "7"}

    before = export(runtime.sessions, tmp_path / "before.xml", "xml", date(2025, 1, 1))
    assert before == {}  # nothing existed yet

    gpkg = tmp_path / "all.gpkg"
    counts = export(runtime.sessions, gpkg, "gpkg", day)
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert {"KTT_ZDJBXX", "QLT_FW_FDCQ_YZ", "ZTT_GY_QLR"} <= layers
    info = pyogrio.read_info(gpkg, layer="KTT_ZDJBXX")
    assert info["crs"] == "EPSG:4490" and info["features"] == 3
    bounds = pyogrio.read_bounds(gpkg, layer="KTT_ZDJBXX")[1]
    assert 106 < bounds[0].min() < 108 and 31 < bounds[1].min() < 33  # lon/lat of Bazhong
