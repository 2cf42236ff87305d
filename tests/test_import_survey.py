"""Survey import: a contractor's file with deliberate mistakes gives the exact rejects report,
the good rows are imported as `surveyed` units, and importing it again changes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.access import Principal, authenticate, create_user
from registry.services.errors import DomainError
from registry.services.statistics import completion
from registry.services.survey_import import SurveyFiles, import_survey
from tests.bureau import Bureau
from tests.conftest import GraphQLClient, Users
from tests.snapshot import snapshot
from tests.survey_files import SurveyBatch, bowtie, box

COUNTY = "511923"
JOB_TABLES = ("import_jobs", "import_findings", "audit_log")


def pc(n: int, feature: str = "JC", county: str = COUNTY) -> str:
    return f"{county}101002{feature}{n:05d}"


def register_state(runtime: Runtime) -> dict[str, str]:
    """Everything but the job and audit rows an import always writes."""
    return {k: v for k, v in snapshot(runtime).items() if k not in JOB_TABLES}


def person(runtime: Runtime, username: str, *roles: str, county: str | None = COUNTY
           ) -> Principal:
    with transaction(runtime.sessions) as session:
        _, token = create_user(session, username, roles, county)
        found = authenticate(session, token)
    assert found is not None
    return found


def flawed_batch(existing_ring: list[list[float]]) -> SurveyBatch:
    b = SurveyBatch()
    b.parcel(pc(1), box(COUNTY, 0))  # 1 good
    b.parcel(pc(2), box(COUNTY, 1))  # 2 good
    b.parcel(pc(3), box(COUNTY, 2))  # 3 good
    b.parcel(pc(4)[:-1], box(COUNTY, 3))  # 4 bad code (18 characters)
    b.parcel(pc(5), bowtie(COUNTY, 4))  # 5 self-intersection
    b.parcel(pc(6), box(COUNTY, 5))  # 6 overlaps 7 ...
    b.parcel(pc(7), box(COUNTY, 5, dx=10.0))  # 7 ... by 10 × 20 m
    b.parcel(pc(8), existing_ring)  # 8 overlaps a parcel of the register
    b.parcel(pc(9, county="511999"), box(COUNTY, 8))  # 9 unknown county
    b.parcel(pc(10), box(COUNTY, 9))  # 10 duplicate ...
    b.parcel(pc(10), box(COUNTY, 10))  # 11 ... of 10
    b.parcel(pc(12), box(COUNTY, 11))  # 12 its only unit is bad
    b.parcel(pc(13, "GX"), box(COUNTY, 12), land_use="0701", QSGC="-9", ZZGC="-1")  # 13
    b.parcel(pc(14, "GB"), box(COUNTY, 13), land_use="1003")  # 14 a road
    unit = "F00010001"
    b.house(pc(1) + unit)  # line 2
    b.house(pc(2) + unit)  # 3
    b.house(pc(3) + unit)  # 4
    b.space(pc(3) + "F00010002", "B1-1")  # 5 a parking space on homestead land
    b.house(pc(4)[:-1] + unit)  # 6 bad code
    for n in (5, 6, 7, 8):  # 7..10 on refused parcels
        b.house(pc(n) + unit)
    b.house(pc(9, county="511999") + unit)  # 11 unknown county
    b.house(pc(10) + unit)  # 12 on a duplicated parcel
    b.house(pc(12) + unit, floors=0)  # 13 no floors
    b.space(pc(13, "GX") + "F00010001", "B1-001")  # 14
    b.space(pc(13, "GX") + "F00010002", "B1-002")  # 15
    b.road(pc(14, "GB") + "W00000000")  # 16
    b.house(pc(99) + unit)  # 17 its parcel is nowhere
    return b


EXPECTED = [
    ("parcel", 4, "INVALID_CODE"),
    ("parcel", 5, "INVALID_GEOMETRY"),
    ("parcel", 6, "PARCEL_OVERLAP"),
    ("parcel", 7, "PARCEL_OVERLAP"),
    ("parcel", 8, "PARCEL_OVERLAP"),
    ("parcel", 9, "UNKNOWN_COUNTY"),
    ("parcel", 10, "DUPLICATE_CODE"),
    ("parcel", 11, "DUPLICATE_CODE"),
    ("parcel", 12, "NO_VALID_UNIT"),
    ("unit", 5, "KIND_MISMATCH"),
    ("unit", 6, "INVALID_CODE"),
    ("unit", 7, "PARCEL_REJECTED"),
    ("unit", 8, "PARCEL_REJECTED"),
    ("unit", 9, "PARCEL_REJECTED"),
    ("unit", 10, "PARCEL_REJECTED"),
    ("unit", 11, "UNKNOWN_COUNTY"),
    ("unit", 12, "PARCEL_REJECTED"),
    ("unit", 13, "INVALID_ATTRIBUTE"),
    ("unit", 17, "UNKNOWN_PARCEL"),
]


@pytest.fixture
def existing_ring(gql: GraphQLClient, users: Users) -> list[list[float]]:
    """A parcel already in the register (created by the county's clerk)."""
    ring = box(COUNTY, 7)
    Bureau(gql, users, COUNTY).create_parcel(
        geometry={"type": "Polygon", "coordinates": [ring]})
    return ring


def reject_keys(findings: list[Any]) -> list[tuple[str, int, str]]:
    return [(f.source, f.row, f.code) for f in findings if f.finding == "reject"]


def test_import_gives_the_exact_rejects_report_and_a_reimport_changes_nothing(
        runtime: Runtime, tmp_path: Path, existing_ring: list[list[float]]) -> None:
    batch = flawed_batch(existing_ring)
    files = SurveyFiles(batch.write_geojson(tmp_path / "zd.geojson"),
                        batch.write_csv(tmp_path / "dy.csv"))
    clerk = person(runtime, "pc-importer", "clerk")
    before_units = _count(runtime, "units")

    job_id, summary = import_survey(runtime.sessions, clerk, files, runtime.clock)

    assert reject_keys(summary.findings) == EXPECTED
    messages = {(f.source, f.row): f for f in summary.findings}
    assert messages[("parcel", 5)].message_en.startswith("invalid geometry: Self-intersection")
    assert "自相交" in messages[("parcel", 5)].message_zh
    assert messages[("parcel", 6)].details == {"other_row": 7, "other": pc(7),
                                               "overlap_m2": "200.00"}
    assert messages[("parcel", 8)].details["overlap_m2"] == "400.00"
    assert "现势宗地" in messages[("parcel", 8)].message_zh
    assert messages[("parcel", 10)].details == {"rows": [10, 11]}
    assert messages[("unit", 13)].details == {"field": "ZCS", "value": "0"}
    assert messages[("unit", 7)].details == {"parcel_row": 5, "parcel_reject": "INVALID_GEOMETRY"}
    assert summary.counts["parcels_created"] == 5 and summary.counts["units_created"] == 6
    assert summary.counts["rejects"] == len(EXPECTED) and summary.counts["differences"] == 0

    with runtime.engine.connect() as conn:
        units = conn.execute(text(
            "SELECT u.code, u.kind::text, u.status::text, u.building_no, u.floors,"
            " u.floor_area::text, u.space_no, u.category::text, u.book_value::text,"
            " p.layer::text, p.area::text, p.elevation_top::text"
            " FROM units u JOIN parcels p ON p.id = u.parcel_id"
            " WHERE u.code LIKE '511923101002%' ORDER BY u.code")).all()
        job = conn.execute(text("SELECT state::text, phase, rows_done, counts"
                                " FROM import_jobs WHERE id = :id"), {"id": job_id}).one()
        stored = conn.execute(text("SELECT count(*) FROM import_findings WHERE job_id = :id"),
                              {"id": job_id}).scalar_one()
        audited = conn.execute(text("SELECT operation, username, details FROM audit_log"
                                    " WHERE operation = 'importSurvey'")).one()
    assert [u[:3] for u in units] == [
        (pc(14, "GB") + "W00000000", "infrastructure", "surveyed"),
        (pc(13, "GX") + "F00010001", "parking_space", "surveyed"),
        (pc(13, "GX") + "F00010002", "parking_space", "surveyed"),
        (pc(1) + "F00010001", "rural_house", "surveyed"),
        (pc(2) + "F00010001", "rural_house", "surveyed"),
        (pc(3) + "F00010001", "rural_house", "surveyed")]
    road, space, _, house = units[:4]
    assert house[3:6] == ("0001", 2, "120.50") and house[9:11] == ("surface", "400.00")
    assert space[6] == "B1-001" and space[9] == "underground" and space[11] == "-1.00"
    assert road[7:9] == ("road", "3800000.00")
    assert _count(runtime, "units") == before_units + 6
    assert job.state == "succeeded" and job.phase == "done" and job.rows_done >= 14
    assert job.counts["units_created"] == 6 and stored == len(EXPECTED)
    assert audited.username == "pc-importer" and audited.details["units_created"] == 6

    # The three rural houses are due now (completion counts them at once).
    with runtime.sessions() as session:
        figures = completion(session, date(2100, 1, 1), county_code=COUNTY).total
    assert figures.due == 3 and figures.recorded == 0

    # Again: nothing registered changes; the same rows are refused; nothing differs.
    state = register_state(runtime)
    _, again = import_survey(runtime.sessions, clerk, files, runtime.clock)
    assert register_state(runtime) == state
    assert reject_keys(again.findings) == EXPECTED
    assert again.counts["parcels_created"] == 0 and again.counts["units_created"] == 0
    assert again.counts["units_existing"] == 6 and again.counts["parcels_existing"] == 5
    assert again.differences == []


def test_a_reimport_reports_differences_and_changes_nothing(
        runtime: Runtime, tmp_path: Path, existing_ring: list[list[float]]) -> None:
    batch = flawed_batch(existing_ring)
    clerk = person(runtime, "pc-importer", "clerk")
    import_survey(runtime.sessions, clerk, SurveyFiles(
        batch.write_geojson(tmp_path / "zd.geojson"), batch.write_csv(tmp_path / "dy.csv")),
        runtime.clock)
    batch.units[0]["ZCS"] = 3  # the survey says three floors now
    batch.units[0]["JZMJ"] = "180.00"
    batch.parcels[1]["ring"] = box(COUNTY, 1, size=22.0)  # parcel 2 redrawn
    batch.units[-2]["GLDW"] = "平昌县公路局"  # the road's managing body
    state = register_state(runtime)
    _, again = import_survey(runtime.sessions, clerk, SurveyFiles(
        batch.write_geojson(tmp_path / "zd2.geojson"), batch.write_csv(tmp_path / "dy2.csv")),
        runtime.clock)
    assert register_state(runtime) == state
    assert [(f.source, f.row, f.details["fields"]) for f in again.differences] == [
        ("parcel", 2, ["geometry"]),
        ("unit", 2, ["floors", "floor_area"]),
        ("unit", 16, ["managing_body"])]
    assert again.differences[1].message_en == (
        "differs from the register in floors, floor_area (the register was not changed)")


def test_a_geopackage_with_unit_columns_imports_the_same_way(
        runtime: Runtime, tmp_path: Path, existing_ring: list[list[float]]) -> None:
    batch = flawed_batch(existing_ring)
    clerk = person(runtime, "pc-importer", "clerk")
    path = batch.write_gpkg(tmp_path / "survey.gpkg")
    _, summary = import_survey(runtime.sessions, clerk, SurveyFiles(path), runtime.clock)
    # one row per feature, reported once with its first failure
    assert reject_keys(summary.findings) == [
        ("feature", 4, "INVALID_CODE"), ("feature", 5, "INVALID_GEOMETRY"),
        ("feature", 6, "PARCEL_OVERLAP"), ("feature", 7, "PARCEL_OVERLAP"),
        ("feature", 8, "PARCEL_OVERLAP"), ("feature", 9, "UNKNOWN_COUNTY"),
        ("feature", 10, "DUPLICATE_CODE"), ("feature", 11, "DUPLICATE_CODE"),
        ("feature", 12, "INVALID_ATTRIBUTE")]
    # each feature carries one unit: the first space of the garage, the road, three houses
    assert summary.counts["units_created"] == 5 and summary.counts["parcels_created"] == 5
    state = register_state(runtime)
    _, again = import_survey(runtime.sessions, clerk, SurveyFiles(path), runtime.clock)
    assert register_state(runtime) == state and again.counts["units_created"] == 0


def test_a_clerk_imports_only_their_county(runtime: Runtime, tmp_path: Path) -> None:
    batch = SurveyBatch()
    batch.parcel(pc(1), box(COUNTY, 0))
    batch.parcel(pc(2, county="511921"), box("511921", 0))
    batch.house(pc(1) + "F00010001")
    batch.house(pc(2, county="511921") + "F00010001")
    clerk = person(runtime, "pc-importer", "clerk")
    _, summary = import_survey(runtime.sessions, clerk, SurveyFiles(
        batch.write_geojson(tmp_path / "zd.geojson"), batch.write_csv(tmp_path / "dy.csv")),
        runtime.clock)
    assert reject_keys(summary.findings) == [("parcel", 2, "OUTSIDE_SCOPE"),
                                             ("unit", 3, "OUTSIDE_SCOPE")]
    assert summary.counts["units_created"] == 1


@pytest.mark.parametrize("roles", [("auditor",), ("statistician",), ("reviewer",)])
def test_only_clerks_and_admins_import_and_a_refusal_changes_nothing(
        runtime: Runtime, tmp_path: Path, roles: tuple[str, ...]) -> None:
    batch = SurveyBatch()
    batch.parcel(pc(1), box(COUNTY, 0))
    batch.house(pc(1) + "F00010001")
    files = SurveyFiles(batch.write_geojson(tmp_path / "zd.geojson"),
                        batch.write_csv(tmp_path / "dy.csv"))
    someone = person(runtime, "not-a-clerk", *roles, county=None)
    state = snapshot(runtime)
    with pytest.raises(DomainError) as refused:
        import_survey(runtime.sessions, someone, files, runtime.clock)
    assert refused.value.code == "FORBIDDEN"
    assert snapshot(runtime) == state


def test_a_file_without_the_required_columns_fails_as_a_whole_and_changes_nothing(
        runtime: Runtime, tmp_path: Path) -> None:
    batch = SurveyBatch()
    batch.parcel(pc(1), box(COUNTY, 0))
    batch.house(pc(1) + "F00010001")
    geojson = batch.write_geojson(tmp_path / "zd.geojson")
    bad_csv = tmp_path / "dy.csv"
    bad_csv.write_text("UNIT,TYPE\nx,y\n", encoding="utf-8")
    clerk = person(runtime, "pc-importer", "clerk")
    state = register_state(runtime)
    with pytest.raises(DomainError) as refused:
        import_survey(runtime.sessions, clerk, SurveyFiles(geojson, bad_csv), runtime.clock)
    assert refused.value.code == "MISSING_COLUMN"
    assert refused.value.details == {"columns": ["BDCDYH", "DYLX"]}
    assert register_state(runtime) == state
    with runtime.engine.connect() as conn:
        job = conn.execute(text("SELECT state::text, error FROM import_jobs")).one()
    assert job.state == "failed" and job.error["code"] == "MISSING_COLUMN"


def test_wrong_crs_is_refused_for_the_file(runtime: Runtime, tmp_path: Path) -> None:
    batch = SurveyBatch()
    batch.parcel(pc(1), box(COUNTY, 0))
    batch.house(pc(1) + "F00010001")
    files = SurveyFiles(batch.write_geojson(tmp_path / "zd.geojson", srid=3857),
                        batch.write_csv(tmp_path / "dy.csv"))
    clerk = person(runtime, "pc-importer", "clerk")
    state = register_state(runtime)
    with pytest.raises(DomainError) as refused:
        import_survey(runtime.sessions, clerk, files, runtime.clock)
    assert refused.value.code == "WRONG_CRS"
    assert register_state(runtime) == state


def test_metres_read_as_degrees_are_outside_the_city(runtime: Runtime, tmp_path: Path) -> None:
    batch = SurveyBatch()
    batch.parcel(pc(1), box(COUNTY, 0))
    batch.house(pc(1) + "F00010001")
    files = SurveyFiles(batch.write_geojson(tmp_path / "zd.geojson", srid=4490),
                        batch.write_csv(tmp_path / "dy.csv"))
    clerk = person(runtime, "pc-importer", "clerk")
    _, summary = import_survey(runtime.sessions, clerk, files, runtime.clock)
    assert reject_keys(summary.findings) == [("parcel", 2 - 1, "OUTSIDE_CITY"),
                                             ("unit", 2, "PARCEL_REJECTED")]


def _count(runtime: Runtime, table: str) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
