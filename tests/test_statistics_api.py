"""Completion through GraphQL, the CLI and the chart routes, after a county's real workflow:
figures, target and backlog exact; who may read what; charts valid and naming the counties;
targets set only by an admin, refusals changing nothing."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import text
from starlette.testclient import TestClient

from registry.config import Settings
from registry.runtime import Runtime
from tests.bureau import Bureau, person
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_cli import run_registry, server_env

COUNTIES = {"511902": "巴州区", "511903": "恩阳区", "511921": "通江县", "511922": "南江县",
            "511923": "平昌县"}


@pytest.fixture
def world(gql: GraphQLClient, users: Users) -> dict[str, Any]:
    """平昌县: four rural houses — two recorded (one certified, one under objection), one in
    progress, one not started; and an admin who set the year's target at 0.85."""
    pingchang = Bureau(gql, users, "511923")
    houses = [pingchang.rural_house()["code"] for _ in range(4)]
    first = pingchang.register("FIRST", [houses[0]], holders=[{"party": person("王大山")}])
    pingchang.certify(first["number"])
    pingchang.register("FIRST", [houses[1]], holders=[{"party": person("李小花")}])
    pingchang.register("OBJECTION", [houses[1]], holders=[{"party": person("赵异议")}])
    pingchang.submit("FIRST", [houses[2]], holders=[{"party": person("陈在办")}])
    admin = users.add("city-admin", "admin")
    year = int(gql.data(operation("Completion"), {}, users.add("stat", "statistician"))[
        "completion"]["asOf"][:4])
    gql.data(operation("SetCompletionTarget"),
             {"countyCode": "511923", "year": year, "target": "0.85"}, admin)
    return {"bureau": pingchang, "admin": admin, "year": year, "houses": houses,
            "statistician": users.add("city-stat", "statistician"),
            "auditor": users.add("city-auditor", "auditor")}


EXPECTED_PINGCHANG = {"due": 4, "recorded": 2, "certified": 1, "inProgress": 1, "disputed": 1,
                      "rate": "0.5000", "target": "0.8500", "backlog": 2}


def pick(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: figures[k] for k in EXPECTED_PINGCHANG}


def test_county_and_township_figures(gql: GraphQLClient, world: dict[str, Any]) -> None:
    report = gql.data(operation("Completion"), {"countyCode": "511923"},
                      world["statistician"])["completion"]
    assert report["kind"] == "RURAL_HOUSE"
    assert pick(report["total"]) == EXPECTED_PINGCHANG
    assert report["total"]["name"] == "平昌县" and report["total"]["level"] == "COUNTY"
    parts = {p["code"]: p for p in report["parts"]}
    assert len(parts) == 31 and all(c.startswith("511923") and len(c) == 9 for c in parts)
    assert pick(parts["511923101"]) == EXPECTED_PINGCHANG  # the bureau's township
    assert parts["511923101"]["name"] == "响滩镇"  # the real name at the code (migration 0016)
    assert parts["511923102"]["due"] == 0 and parts["511923102"]["rate"] is None
    assert parts["511923102"]["backlog"] == 0  # ⌈0.85 × 0⌉ − 0


def test_city_total_names_every_county(gql: GraphQLClient, world: dict[str, Any]) -> None:
    report = gql.data(operation("Completion"), {}, world["auditor"])["completion"]
    assert {p["code"]: p["name"] for p in report["parts"]} == COUNTIES
    by_code = {p["code"]: p for p in report["parts"]}
    assert pick(by_code["511923"]) == EXPECTED_PINGCHANG
    assert by_code["511921"]["due"] == 0 and by_code["511921"]["target"] is None
    assert by_code["511921"]["backlog"] is None
    total = report["total"]
    assert (total["code"], total["due"], total["recorded"], total["rate"]) == (
        "511900", 4, 2, "0.5000")
    assert total["target"] is None and total["backlog"] == 2  # the sum of county backlogs


def test_as_of_a_date_before_anything_happened(gql: GraphQLClient,
                                               world: dict[str, Any]) -> None:
    report = gql.data(operation("Completion"), {"countyCode": "511923", "asOf": "2020-01-01"},
                      world["statistician"])["completion"]
    assert report["total"]["due"] == 0 and report["total"]["target"] is None


def test_monthly_series(gql: GraphQLClient, world: dict[str, Any]) -> None:
    series = gql.data(operation("CompletionSeries"), {"year": world["year"]},
                      world["statistician"])["completionSeries"]
    assert 1 <= len(series) <= 12
    assert [s["asOf"][:7] for s in series] == [f"{world['year']}-{m:02d}"
                                              for m in range(1, len(series) + 1)]
    assert series[-1]["total"]["recorded"] == 2 and series[-1]["total"]["due"] == 4


@pytest.mark.parametrize("who, county, code", [
    ("clerk", "511923", "FORBIDDEN"),
    ("scoped-statistician", "511923", "FORBIDDEN"),
    ("scoped-statistician", None, "FORBIDDEN"),
    ("anonymous", None, "UNAUTHENTICATED"),
])
def test_who_may_read_completion(gql: GraphQLClient, users: Users, world: dict[str, Any],
                                 who: str, county: str | None, code: str) -> None:
    headers = {"clerk": world["bureau"].clerk,
               "scoped-statistician": users.add("tj-stat", "statistician", county="511921"),
               "anonymous": {}}[who]
    assert gql.error_codes(operation("Completion"), {"countyCode": county}, headers) == [code]


def test_a_county_statistician_reads_their_own_county(gql: GraphQLClient, users: Users,
                                                      world: dict[str, Any]) -> None:
    scoped = users.add("pc-stat", "statistician", county="511923")
    report = gql.data(operation("Completion"), {"countyCode": "511923"}, scoped)["completion"]
    assert report["total"]["due"] == 4
    targets = gql.data(operation("CompletionTargets"), {"year": world["year"]},
                       scoped)["completionTargets"]
    assert targets == [{"countyCode": "511923", "year": world["year"], "kind": "RURAL_HOUSE",
                        "target": "0.8500"}]


def test_setting_a_target_is_audited_and_replaces_the_old_one(
        gql: GraphQLClient, runtime: Runtime, world: dict[str, Any]) -> None:
    set_ = gql.data(operation("SetCompletionTarget"),
                    {"countyCode": "511923", "year": world["year"], "target": "0.9"},
                    world["admin"])["setCompletionTarget"]
    assert set_["target"] == "0.9000"
    report = gql.data(operation("Completion"), {"countyCode": "511923"},
                      world["statistician"])["completion"]
    assert report["total"]["backlog"] == 4 - 2  # ⌈0.9 × 4⌉ = 4
    with runtime.engine.connect() as conn:
        entries = conn.execute(text(
            "SELECT target, details FROM audit_log WHERE operation = 'setCompletionTarget'"
            " ORDER BY id")).all()
    assert [e.details for e in entries] == [{"target": "0.8500", "previous": None},
                                            {"target": "0.9000", "previous": "0.8500"}]


@pytest.mark.parametrize("variables, who, code", [
    ({"countyCode": "511923", "target": "0.9"}, "statistician", "FORBIDDEN"),
    ({"countyCode": "511923", "target": "0.9"}, "auditor", "FORBIDDEN"),
    ({"countyCode": "511923", "target": "1.5"}, "admin", "INVALID_TARGET"),
    ({"countyCode": "511923", "target": "0"}, "admin", "INVALID_TARGET"),
    ({"countyCode": "511923", "target": "0.12345"}, "admin", "INVALID_TARGET"),
    ({"countyCode": "511900", "target": "0.9"}, "admin", "UNKNOWN_COUNTY"),
    ({"countyCode": "511923", "target": "0.9", "year": 1999}, "admin", "INVALID_YEAR"),
])
def test_target_refusals_change_nothing(gql: GraphQLClient, runtime: Runtime,
                                        world: dict[str, Any], variables: dict[str, Any],
                                        who: str, code: str) -> None:
    state = snapshot(runtime)
    headers = {"statistician": world["statistician"], "auditor": world["auditor"],
               "admin": world["admin"]}[who]
    assert gql.error_codes(operation("SetCompletionTarget"),
                           {"year": world["year"], **variables}, headers) == [code]
    assert snapshot(runtime) == state


# --------------------------------------------------------------------------- charts


def svg_text(body: bytes) -> str:
    root = ET.fromstring(body)  # well-formed XML, or this raises
    assert root.tag.endswith("svg")
    return " ".join(t for t in root.itertext())


def test_charts_are_valid_png_and_svg_that_name_the_counties(
        client: TestClient, world: dict[str, Any]) -> None:
    headers = world["statistician"]
    svg = client.get("/charts/completion.svg", headers=headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    words = svg_text(svg.content)
    assert all(name in words for name in COUNTIES.values()), words
    assert "50.0%" in words  # 平昌县's rate

    png = client.get("/charts/completion.png", headers=headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    image.verify()
    assert image.format == "PNG" and image.size[0] > 300

    trend = client.get(f"/charts/trend.svg?year={world['year']}", headers=headers)
    assert trend.status_code == 200
    assert all(name in svg_text(trend.content) for name in COUNTIES.values())
    county = client.get("/charts/completion.svg?countyCode=511923", headers=headers)
    assert "响滩镇" in svg_text(county.content)
    trend_png = client.get("/charts/trend.png", headers=headers)
    Image.open(io.BytesIO(trend_png.content)).verify()


def test_a_division_with_nothing_due_is_drawn_as_no_units_due_not_zero_percent() -> None:
    from datetime import date

    from registry.db.units import UnitKind
    from registry.services.charts import NONE_DUE, completion_chart, rate_label
    from registry.services.statistics import Completion, Figures

    done = Figures("511923", "平昌县", "county", due=4, recorded=2)
    empty = Figures("511921", "通江县", "county")
    report = Completion(date(2026, 6, 30), UnitKind.RURAL_HOUSE,
                        Figures("511900", "巴中市", "city", due=4, recorded=2), [done, empty])
    assert (rate_label(done), rate_label(empty)) == ("50.0%", NONE_DUE)
    words = svg_text(completion_chart(report, "svg"))
    assert NONE_DUE in words and "50.0%" in words
    assert " 0.0%" not in f" {words}".replace("\n", " ")
    assert "农房" in words and "rural_house" not in words


def test_chart_png_uses_a_cjk_font() -> None:
    from registry.services.charts import cjk_font

    assert cjk_font() is not None, "install fonts-wqy-microhei (scripts/system-deps.sh)"


@pytest.mark.parametrize("path, who, status, code", [
    ("/charts/completion.png", "anonymous", 401, "UNAUTHENTICATED"),
    ("/charts/completion.png", "clerk", 403, "FORBIDDEN"),
    ("/charts/completion.gif", "statistician", 400, "BAD_CHART"),
    ("/charts/completion.svg?asOf=yesterday", "statistician", 400, "BAD_DATE"),
    ("/charts/completion.svg?countyCode=123456", "statistician", 400, "UNKNOWN_COUNTY"),
])
def test_chart_refusals(client: TestClient, world: dict[str, Any], path: str, who: str,
                        status: int, code: str) -> None:
    headers = {"anonymous": {}, "clerk": world["bureau"].clerk,
               "statistician": world["statistician"]}[who]
    response = client.get(path, headers=headers)
    assert response.status_code == status and response.json()["code"] == code


# --------------------------------------------------------------------------- the CLI


def test_cli_completion_table_csv_xlsx_and_charts(settings: Settings, tmp_path: Path,
                                                  world: dict[str, Any]) -> None:
    env = server_env(settings)
    table = run_registry("stats", "completion", "--county", "511923", env=env)
    assert table.returncode == 0, table.stderr
    assert "平昌县" in table.stdout and "响滩镇" in table.stdout and "0.5000" in table.stdout

    csv_out = run_registry("stats", "completion", "--format", "csv", env=env)
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].startswith("区划代码,名称,应登记,已登簿")
    assert lines[-1].startswith("511900,巴中市,4,2,1,1,1,0.5000,,2")

    workbook_path = tmp_path / "completion.xlsx"
    xlsx = run_registry("stats", "completion", "--format", "xlsx", "--output",
                        str(workbook_path), env=env)
    assert xlsx.returncode == 0, xlsx.stderr
    sheet = load_workbook(workbook_path).active
    rows = [r for r in sheet.iter_rows(values_only=True) if r and r[0]]
    counties = [r for r in rows if str(r[0]) in COUNTIES]
    total = next(r for r in rows if r[0] == "511900")
    for column in range(2, 7):  # due .. disputed: the total is the sum of the counties
        assert total[column] == sum(r[column] for r in counties)
    assert total[2:7] == (4, 2, 1, 1, 1)

    for which, fmt in (("completion", "png"), ("trend", "svg")):
        out = tmp_path / f"{which}.{fmt}"
        result = run_registry("stats", "chart", which, "--format", fmt, "--output", str(out),
                              env=env)
        assert result.returncode == 0, result.stderr
    Image.open(tmp_path / "completion.png").verify()
    assert "南江县" in svg_text((tmp_path / "trend.svg").read_bytes())


def test_cli_target_needs_an_admin(settings: Settings, users: Users,
                                   world: dict[str, Any]) -> None:
    env = server_env(settings)
    refused = run_registry("stats", "target", "511921", str(world["year"]), "0.7", "--user",
                           "city-stat", env=env)
    assert refused.returncode == 1 and "FORBIDDEN" in refused.stderr
    done = run_registry("stats", "target", "511921", str(world["year"]), "0.7", "--user",
                        "city-admin", env=env)
    assert done.returncode == 0, done.stderr
