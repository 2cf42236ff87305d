"""关联信息 of natural-resource units (NRLINK-1..6): real-estate rights found live inside a unit,
licences entered by a clerk, public-control zones imported from a layer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from registry.config import Settings
from registry.db.natural_resources import (
    ControlZone,
    ControlZoneKind,
    LicenceKind,
    NaturalLink,
    NaturalUnit,
    NaturalUnitStatus,
    RegistrationLevel,
)
from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.access import Principal
from registry.services.errors import DomainError
from registry.services.natural_resources.links import (
    LicenceLinkInput,
    add_licence_link,
    control_zone_links,
    end_licence_link,
    import_control_zones,
    licence_links,
    link_snapshot,
    real_estate_links,
)
from registry.services.pii import mask_id_number
from tests.bureau import Bureau, organisation, person, resident_id
from tests.conftest import Users, principal
from tests.snapshot import snapshot

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
MAIN = "511923220000001"
SMALL = "511923220000002"


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    return (f"SRID=4545;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))")


def parcel_box(runtime: Runtime, unit_code: str) -> tuple[float, float, float, float]:
    with runtime.sessions() as session:
        row = session.execute(text(
            "SELECT ST_XMin(p.geom) AS x0, ST_YMin(p.geom) AS y0, ST_XMax(p.geom) AS x1,"
            " ST_YMax(p.geom) AS y1 FROM units u JOIN parcels p ON p.id = u.parcel_id"
            " WHERE u.code = :code"), {"code": unit_code}).one()
    return row.x0, row.y0, row.x1, row.y1


def add_unit(runtime: Runtime, code: str, geom: str,
             status: NaturalUnitStatus = NaturalUnitStatus.REGISTERED) -> None:
    with transaction(runtime.sessions) as session:
        session.add(NaturalUnit(
            code=code, name=f"平昌县自然保护区{code[-1]}", unit_type="22", county_code="511923",
            level=RegistrationLevel.CITY_COUNTY, authority="平昌县自然资源局", geom=geom,
            location="平昌县", status=status))


class Estate:
    """Three houses of 平昌县 with their rights, and two natural-resource units: MAIN holds
    house A whole and half of house B; SMALL holds house C; nothing holds house D."""

    def __init__(self, pingchang: Bureau, runtime: Runtime) -> None:
        self.ids = {name: resident_id() for name in ("王大山", "李四", "张三", "赵六")}
        self.codes: dict[str, str] = {}
        for label, name in (("A", "王大山"), ("B", "李四"), ("C", "张三"), ("D", "赵六")):
            code = pingchang.rural_house()["code"]
            self.codes[label] = code
            pingchang.register("FIRST", [code],
                               holders=[{"party": person(name, self.ids[name])}],
                               rightType=6, rightNature=203)
        self.bank = organisation("巴中农村商业银行")
        pingchang.register("MORTGAGE", [self.codes["A"]], holders=[{"party": self.bank}],
                           amount="1000.00", termStart="2026-01-01", termEnd="2027-01-01")
        a = parcel_box(runtime, self.codes["A"])
        b = parcel_box(runtime, self.codes["B"])
        c = parcel_box(runtime, self.codes["C"])
        assert b[0] > a[2] and c[0] > b[2], "houses lie side by side, west to east"
        # A whole, the western half of B
        add_unit(runtime, MAIN, box(a[0] - 5, a[1] - 5, (b[0] + b[2]) / 2, a[3] + 5))
        add_unit(runtime, SMALL, box(c[0] - 1, c[1] - 1, c[2] + 1, c[3] + 1))


@pytest.fixture
def estate(pingchang: Bureau, runtime: Runtime) -> Estate:
    return Estate(pingchang, runtime)


def test_the_links_are_the_rights_on_the_parcels_the_unit_covers(
        estate: Estate, runtime: Runtime) -> None:
    clerk = principal(runtime, "511923-clerk")
    with runtime.sessions() as session:
        links = real_estate_links(session, clerk, MAIN)
    assert [(link.unit_code, link.right_kind.value) for link in links] == [
        (estate.codes["A"], "title"), (estate.codes["A"], "mortgage"),
        (estate.codes["B"], "title")]
    title_a, mortgage_a, title_b = links
    assert title_a.parcel_area_m2 == Decimal("400.00") == title_a.overlap_m2
    assert title_b.parcel_area_m2 == Decimal("400.00")
    assert title_b.overlap_m2 == Decimal("200.00")  # the straddling house: half inside
    assert title_a.right_type == 6
    assert title_a.right_type_label == "宅基地使用权/房屋（构筑物）所有权"
    assert mortgage_a.right_type_label == "抵押权"
    assert [h.name for h in title_a.holders] == ["王大山"]
    assert [h.name for h in mortgage_a.holders] == ["巴中农村商业银行"]
    assert title_a.authority.endswith("不动产登记机构") and title_a.county_code == "511923"
    assert title_a.recorded_at is not None and title_a.certificate_number
    # a register read: even the clerk of the rights' county sees numbers masked (PII-2)
    assert title_a.holders[0].id_number == mask_id_number("RESIDENT_ID", estate.ids["王大山"])
    assert mortgage_a.holders[0].id_number != estate.bank["idNumber"]
    with runtime.sessions() as session:
        small = real_estate_links(session, clerk, SMALL)
    assert [(link.unit_code, link.overlap_m2) for link in small] == [
        (estate.codes["C"], Decimal("400.00"))]
    assert estate.codes["D"] not in {link.unit_code for link in links + small}


def test_a_unit_that_only_touches_a_parcel_links_nothing(estate: Estate,
                                                        runtime: Runtime) -> None:
    d = parcel_box(runtime, estate.codes["D"])
    add_unit(runtime, "511923220000003", box(d[2], d[1], d[2] + 10, d[3]),
             NaturalUnitStatus.PREDELIMITED)
    with runtime.sessions() as session:
        assert real_estate_links(session, principal(runtime, "511923-clerk"),
                                 "511923220000003") == []


def test_holders_numbers_are_masked_outside_their_county_and_in_the_snapshot(
        estate: Estate, runtime: Runtime, users: Users) -> None:
    users.add("bazhou-clerk", "clerk", county="511902")
    users.add("city-auditor", "auditor")
    full = estate.ids["王大山"]
    masked = mask_id_number("RESIDENT_ID", full)
    assert masked != full
    for name in ("bazhou-clerk", "city-auditor"):
        with runtime.sessions() as session:
            links = real_estate_links(session, principal(runtime, name), MAIN)
        numbers = [h.id_number for link in links for h in link.holders]
        assert numbers[0] == masked and full not in numbers
        assert estate.bank["idNumber"] not in numbers
    with runtime.sessions() as session:
        stored = link_snapshot(session, MAIN)
    body = json.dumps(stored, ensure_ascii=False)  # plain JSON
    assert [link["unit_code"] for link in stored] == [estate.codes["A"]] * 2 + [
        estate.codes["B"]]
    assert stored[0]["holders"][0] == {"name": "王大山", "kind": "person",
                                       "id_type": "RESIDENT_ID", "id_number": masked,
                                       "share_numerator": None, "share_denominator": None}
    assert stored[2]["overlap_m2"] == "200.00"
    for number in estate.ids.values():
        assert number not in body
    assert estate.bank["idNumber"] not in body


def test_a_missing_unit_is_a_coded_error(estate: Estate, runtime: Runtime) -> None:
    with runtime.sessions() as session, pytest.raises(DomainError) as caught:
        real_estate_links(session, principal(runtime, "511923-clerk"), "511923229999999")
    assert caught.value.code == "NR_UNIT_NOT_FOUND"


@contextmanager
def counted(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)


def test_one_right_and_several_cost_the_same_statements(estate: Estate,
                                                         runtime: Runtime) -> None:
    clerk = principal(runtime, "511923-clerk")
    with runtime.sessions() as session, counted(runtime) as one:
        assert len(real_estate_links(session, clerk, SMALL)) == 1
    with runtime.sessions() as session, counted(runtime) as several:
        assert len(real_estate_links(session, clerk, MAIN)) == 3
    assert len(one) == len(several) <= 3  # BEGIN, the unit, the rights with their holders
    with runtime.sessions() as session, counted(runtime) as snap:
        link_snapshot(session, MAIN)
    assert len(snap) == len(one)


# ---------------------------------------------------------------------- licences


def licence(**overrides: Any) -> LicenceLinkInput:
    data: dict[str, Any] = {
        "kind": LicenceKind.WATER_ABSTRACTION, "licence_no": "取水(川巴)字[2024]第0012号",
        "holder": "平昌县自来水公司", "location": "巴河平昌段", "valid_from": date(2024, 1, 1),
        "valid_to": date(2029, 12, 31), "authority": "巴中市水利局",
        "details": {"quantity": "120万m³/年"}}
    data.update(overrides)
    return LicenceLinkInput(**data)


@pytest.fixture
def units_only(runtime: Runtime, users: Users) -> Principal:
    """MAIN alone, on empty land; the clerk of 平昌县."""
    users.add("pc-clerk", "clerk", county="511923")
    add_unit(runtime, MAIN, box(414_000, 3_493_000, 414_100, 3_493_100))
    return principal(runtime, "pc-clerk")


def refused(runtime: Runtime, code: str, call: Any) -> DomainError:
    """`call(session)` is refused with `code` and changes nothing."""
    before = snapshot(runtime)
    with pytest.raises(DomainError) as caught, transaction(runtime.sessions) as session:
        call(session)
    assert caught.value.code == code, caught.value
    assert snapshot(runtime) == before
    return caught.value


def test_licence_links_are_entered_refused_and_ended(runtime: Runtime, users: Users,
                                                     units_only: Principal) -> None:
    clerk = units_only
    with transaction(runtime.sessions) as session:
        link_id = add_licence_link(session, clerk, MAIN, licence(), NOW).id
    with runtime.sessions() as session:
        [link] = licence_links(session, MAIN)
        assert (link.id, link.kind, link.holder, link.entered_by) == (
            link_id, LicenceKind.WATER_ABSTRACTION, "平昌县自来水公司", clerk.user_id)
        assert link.details == {"quantity": "120万m³/年"} and link.ended_at is None

    refused(runtime, "NR_UNIT_NOT_FOUND",
            lambda s: add_licence_link(s, clerk, "511923229999999", licence(), NOW))
    refused(runtime, "LICENCE_NO_REQUIRED",
            lambda s: add_licence_link(s, clerk, MAIN, licence(licence_no="  "), NOW))
    error = refused(runtime, "INVALID_PERIOD", lambda s: add_licence_link(
        s, clerk, MAIN, licence(valid_from=date(2025, 1, 1), valid_to=date(2024, 12, 31)), NOW))
    assert error.details == {"valid_from": "2025-01-01", "valid_to": "2024-12-31"}
    error = refused(runtime, "LINK_EXISTS",
                    lambda s: add_licence_link(s, clerk, MAIN, licence(), NOW))
    assert error.details["link_id"] == link_id
    users.add("tj-clerk", "clerk", county="511921")
    other = principal(runtime, "tj-clerk")
    refused(runtime, "FORBIDDEN", lambda s: add_licence_link(s, other, MAIN, licence(), NOW))
    refused(runtime, "FORBIDDEN", lambda s: end_licence_link(s, other, link_id, NOW))
    users.add("pc-auditor", "auditor")
    refused(runtime, "FORBIDDEN", lambda s: add_licence_link(
        s, principal(runtime, "pc-auditor"), MAIN, licence(licence_no="X-1"), NOW))
    # the same number for another kind is another licence
    with transaction(runtime.sessions) as session:
        add_licence_link(session, clerk, MAIN, licence(kind=LicenceKind.DISCHARGE), NOW)

    with transaction(runtime.sessions) as session:
        ended = end_licence_link(session, clerk, link_id, NOW)
        assert ended.ended_at == NOW
    refused(runtime, "LINK_ENDED", lambda s: end_licence_link(s, clerk, link_id, NOW))
    refused(runtime, "NOT_FOUND", lambda s: end_licence_link(s, clerk, 999_999, NOW))
    with runtime.sessions() as session:
        assert [x.kind for x in licence_links(session, MAIN)] == [LicenceKind.DISCHARGE]
        history = licence_links(session, MAIN, include_ended=True)
        assert {(x.kind, x.ended_at) for x in history} == {
            (LicenceKind.WATER_ABSTRACTION, NOW), (LicenceKind.DISCHARGE, None)}
    # once ended, the licence may be entered again (a renewed licence); the old row stays
    with transaction(runtime.sessions) as session:
        add_licence_link(session, clerk, MAIN, licence(), NOW)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(NaturalLink)) == 3


def test_a_cancelled_unit_takes_no_licence(runtime: Runtime, units_only: Principal) -> None:
    add_unit(runtime, SMALL, box(414_200, 3_493_000, 414_300, 3_493_100),
             NaturalUnitStatus.CANCELLED)
    refused(runtime, "NR_UNIT_NOT_FOUND",
            lambda s: add_licence_link(s, units_only, SMALL, licence(), NOW))


# ---------------------------------------------------------------------- control zones


def square_ring(x0: float, y0: float, size: float) -> list[list[float]]:
    return [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]


def zone_layer(path: Path, features: list[tuple[dict[str, Any], Any]],
               srid: int = 4545) -> Path:
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}},
        "features": [{"type": "Feature", "properties": props, "geometry": geometry}
                     for props, geometry in features]}, ensure_ascii=False), encoding="utf-8")
    return path


def redline(block: str, ring: list[list[float]], **extra: Any) -> tuple[dict[str, Any], Any]:
    return ({"区块编号": block, "名称": f"红线{block}", "管制内容": "禁止开发性、生产性建设活动",
             "设置单位": "四川省人民政府", "划定时间": "2018-07-20", **extra},
            {"type": "Polygon", "coordinates": [ring]})


@pytest.fixture
def city_clerk(runtime: Runtime, users: Users) -> Principal:
    users.add("city-clerk", "clerk")
    return principal(runtime, "city-clerk")


def test_control_zones_are_imported_and_intersected(
        runtime: Runtime, units_only: Principal, city_clerk: Principal,
        tmp_path: Path) -> None:
    # MAIN is 414000..414100 × 3493000..3493100 (1 ha)
    layer = zone_layer(tmp_path / "redline.geojson", [
        redline("HX-01", square_ring(414_050, 3_493_000, 100)),  # half of MAIN
        redline("HX-02", square_ring(414_000, 3_493_000, 10)),  # 100 m² inside MAIN
        redline("HX-03", square_ring(415_000, 3_493_000, 100)),  # elsewhere
    ])
    with transaction(runtime.sessions) as session:
        assert import_control_zones(session, city_clerk, layer,
                                    ControlZoneKind.ECOLOGICAL_REDLINE, NOW) == 3
    with runtime.sessions() as session:
        zones = control_zone_links(session, MAIN)
    assert [(z.block_no, z.overlap_ha) for z in zones] == [
        ("HX-01", Decimal("0.50")), ("HX-02", Decimal("0.01"))]
    assert zones[0].kind is ControlZoneKind.ECOLOGICAL_REDLINE
    assert (zones[0].name, zones[0].content, zones[0].authority, zones[0].designated_on) == (
        "红线HX-01", "禁止开发性、生产性建设活动", "四川省人民政府", date(2018, 7, 20))

    # a plan layer of another kind stays beside the red line; a new red line replaces the old
    plan = zone_layer(tmp_path / "plan.geojson", [
        ({"QKBH": "GH-1", "GZNR": "生态保护区"}, {"type": "Polygon", "coordinates": [
            square_ring(413_900, 3_492_900, 300)]})])
    again = zone_layer(tmp_path / "redline2.geojson", [
        redline("HX-09", square_ring(414_000, 3_493_000, 100))])
    later = datetime(2026, 12, 9, tzinfo=UTC)
    with transaction(runtime.sessions) as session:
        assert import_control_zones(session, city_clerk, plan, ControlZoneKind.SPATIAL_PLAN,
                                    later) == 1
        assert import_control_zones(session, city_clerk, again,
                                    ControlZoneKind.ECOLOGICAL_REDLINE, later) == 1
    with runtime.sessions() as session:
        zones = control_zone_links(session, MAIN)
        assert [(z.kind, z.block_no, z.overlap_ha, z.designated_on) for z in zones] == [
            (ControlZoneKind.ECOLOGICAL_REDLINE, "HX-09", Decimal("1.00"), date(2018, 7, 20)),
            (ControlZoneKind.SPATIAL_PLAN, "GH-1", Decimal("1.00"), None)]
        history = session.execute(select(ControlZone.block_no, ControlZone.ended_at)
                                  .order_by(ControlZone.id)).all()
    assert [(b, e is not None) for b, e in history] == [
        ("HX-01", True), ("HX-02", True), ("HX-03", True), ("GH-1", False), ("HX-09", False)]


def test_a_bad_layer_stores_nothing(runtime: Runtime, units_only: Principal,
                                    city_clerk: Principal, tmp_path: Path) -> None:
    good = redline("HX-01", square_ring(414_000, 3_493_000, 100))
    bowtie = [[414_000, 3_493_000], [414_100, 3_493_100], [414_100, 3_493_000],
              [414_000, 3_493_100], [414_000, 3_493_000]]
    with transaction(runtime.sessions) as session:
        import_control_zones(session, city_clerk, zone_layer(tmp_path / "ok.geojson", [good]),
                             ControlZoneKind.ECOLOGICAL_REDLINE, NOW)
    kind = ControlZoneKind.ECOLOGICAL_REDLINE

    def importing(name: str, features: list[tuple[dict[str, Any], Any]],
                  who: Principal = city_clerk, srid: int = 4545) -> Any:
        layer = zone_layer(tmp_path / name, features, srid)
        return lambda s: import_control_zones(s, who, layer, kind, NOW)

    error = refused(runtime, "INVALID_GEOMETRY",
                    importing("bowtie.geojson", [good, redline("HX-02", bowtie)]))
    assert error.details["row"] == 2
    error = refused(runtime, "INVALID_GEOMETRY", importing("line.geojson", [good, (
        {"区块编号": "HX-3"}, {"type": "LineString", "coordinates": [[414_000, 3_493_000],
                                                                   [414_100, 3_493_100]]})]))
    assert error.details["row"] == 2
    refused(runtime, "MISSING_COLUMN", importing("nocol.geojson", [(
        {"名称": "无编号"}, good[1])]))
    refused(runtime, "MISSING_COLUMN", importing("blank.geojson", [good, redline(
        "", square_ring(414_200, 3_493_000, 50))]))
    refused(runtime, "BAD_DATE", importing("date.geojson", [redline(
        "HX-1", square_ring(414_000, 3_493_000, 100), 划定时间="去年")]))
    refused(runtime, "WRONG_CRS", importing("far.geojson", [redline(
        "HX-1", square_ring(600_000, 3_493_000, 100))]))
    refused(runtime, "EMPTY_FILE", importing("empty.geojson", []))
    refused(runtime, "FORBIDDEN", importing("scoped.geojson", [good], who=units_only))
    with runtime.sessions() as session:
        assert [z.block_no for z in control_zone_links(session, MAIN)] == ["HX-01"]


def test_a_geopackage_layer_with_vendor_column_names(runtime: Runtime, units_only: Principal,
                                                    city_clerk: Principal,
                                                    tmp_path: Path) -> None:
    import numpy as np
    import pyogrio.raw
    import shapely
    from shapely.geometry import Polygon

    path = tmp_path / "special.gpkg"
    rings = [square_ring(414_000, 3_493_000, 50), square_ring(414_500, 3_493_000, 50)]
    pyogrio.raw.write(
        str(path), np.array([shapely.to_wkb(Polygon(r)) for r in rings], dtype=object),
        [np.array(["TS-1", "TS-2"], dtype=object), np.array(["水源地", "湿地"], dtype=object),
         np.array(["2020-05-01", "2021-01-01"], dtype="datetime64[D]")],
        ["BSM", "GZNR", "HDSJ"], driver="GPKG", geometry_type="Polygon", crs="EPSG:4545")
    with transaction(runtime.sessions) as session:
        assert import_control_zones(session, city_clerk, path,
                                    ControlZoneKind.SPECIAL_PROTECTION, NOW) == 2
    with runtime.sessions() as session:
        [zone] = control_zone_links(session, MAIN)
    assert (zone.block_no, zone.content, zone.designated_on, zone.overlap_ha) == (
        "TS-1", "水源地", date(2020, 5, 1), Decimal("0.25"))


def test_the_command_imports_a_red_line_layer(runtime: Runtime, settings: Settings,
                                              units_only: Principal, users: Users,
                                              tmp_path: Path) -> None:
    from tests.test_cli import run_registry, server_env

    users.add("city-cli-clerk", "clerk")
    layer = zone_layer(tmp_path / "redline.geojson", [
        redline("HX-01", square_ring(414_050, 3_493_000, 100))])
    env = server_env(settings)
    done = run_registry("control-zones", "import", str(layer), "--kind", "ecological_redline",
                        "--user", "city-cli-clerk", env=env)
    assert done.returncode == 0, done.stderr
    assert "1 ecological_redline zones imported from redline.geojson" in done.stdout
    with runtime.sessions() as session:
        assert [(z.block_no, z.overlap_ha) for z in control_zone_links(session, MAIN)] == [
            ("HX-01", Decimal("0.50"))]
    before = snapshot(runtime)
    scoped = run_registry("control-zones", "import", str(layer), "--kind", "ecological_redline",
                          "--user", "pc-clerk", env=env)
    assert scoped.returncode == 1 and "FORBIDDEN" in scoped.stderr
    assert snapshot(runtime) == before
