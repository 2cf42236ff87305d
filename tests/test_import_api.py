"""Survey import through GraphQL (a job to poll, findings in pages) and through the CLI (a
progress bar, a report file)."""

from __future__ import annotations

import base64
import csv
import time
from pathlib import Path
from typing import Any

import pytest

from registry.config import Settings
from registry.runtime import Runtime
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.survey_files import SurveyBatch, box
from tests.test_cli import run_registry, server_env
from tests.test_import_survey import COUNTY, EXPECTED, flawed_batch, pc


def encoded(path: Path) -> dict[str, str]:
    return {"name": path.name, "contentBase64": base64.b64encode(path.read_bytes()).decode()}


def poll(gql: GraphQLClient, job_id: str, headers: dict[str, str],
         **variables: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = gql.data(operation("SurveyImportJob"), {"id": job_id, **variables},
                       headers)["surveyImportJob"]
        if job["state"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    batch = flawed_batch(box(COUNTY, 39))  # nothing in the register there: row 8 imports
    return batch.write_geojson(tmp_path / "zd.geojson"), batch.write_csv(tmp_path / "dy.csv")


def test_import_through_graphql_returns_a_job_to_poll(
        gql: GraphQLClient, users: Users, files: tuple[Path, Path]) -> None:
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    started = gql.data(operation("ImportSurvey"), {"input": {
        "geometry": encoded(files[0]), "attributes": encoded(files[1])}}, clerk)["importSurvey"]
    assert started["fileName"] == "zd.geojson" and len(started["fileSha256"]) == 64
    job = poll(gql, started["id"], clerk, first=5)
    assert job["state"] == "SUCCEEDED" and job["phase"] == "DONE", job
    assert job["counts"]["unitsCreated"] == 7 and job["counts"]["parcelsCreated"] == 6
    assert job["rowsDone"] == job["rowsTotal"] or job["rowsDone"] >= 14
    expected = [e for e in EXPECTED if e[1] != 8 or e[0] != "parcel"]
    expected = [e for e in expected if not (e[0] == "unit" and e[1] == 10)]
    codes, after = [], None
    while True:
        page = poll(gql, started["id"], clerk, finding="REJECT", first=4,
                    after=after)["findings"]
        codes += [(e["node"]["source"], e["node"]["row"], e["node"]["code"])
                  for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert codes == [(source.upper(), row, code) for source, row, code in expected]

    other = users.add("other-clerk", "clerk", county=COUNTY)
    assert gql.error_codes(operation("SurveyImportJob"), {"id": started["id"]},
                           other) == ["FORBIDDEN"]
    admin = users.add("admin", "admin")
    assert poll(gql, started["id"], admin)["state"] == "SUCCEEDED"


def test_a_failed_import_says_why_on_the_job(gql: GraphQLClient, users: Users,
                                             tmp_path: Path) -> None:
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    bad = tmp_path / "broken.geojson"
    bad.write_text("{not json", encoding="utf-8")
    started = gql.data(operation("ImportSurvey"), {"input": {"geometry": encoded(bad)}},
                       clerk)["importSurvey"]
    job = poll(gql, started["id"], clerk)
    assert job["state"] == "FAILED" and job["error"]["code"] == "UNREADABLE_FILE"


@pytest.mark.parametrize("upload, code", [
    ({"name": "survey.shp", "contentBase64": "AAAA"}, "UNSUPPORTED_FILE"),
    ({"name": "survey.geojson", "contentBase64": "not base64!"}, "BAD_BASE64"),
    ({"name": "survey.geojson",
      "contentBase64": base64.b64encode(b" " * (10 * 1024 * 1024 + 1)).decode()},
     "FILE_TOO_LARGE"),
])
def test_upload_refusals_change_nothing(gql: GraphQLClient, users: Users, runtime: Runtime,
                                        upload: dict[str, str], code: str) -> None:
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    state = snapshot(runtime)
    assert gql.error_codes(operation("ImportSurvey"), {"input": {"geometry": upload}},
                           clerk) == [code]
    assert snapshot(runtime) == state


def test_cli_import_writes_the_report_and_is_idempotent(
        settings: Settings, users: Users, files: tuple[Path, Path], tmp_path: Path) -> None:
    users.add("pc-clerk", "clerk", county=COUNTY)
    env = server_env(settings)
    report = tmp_path / "report.csv"
    args = ("import", "survey", str(files[0]), "--attributes", str(files[1]), "--user",
            "pc-clerk", "--report", str(report))
    first = run_registry(*args, env=env)
    assert first.returncode == 0, first.stderr
    assert "units 7 created" in first.stdout
    assert "rows" in first.stderr and "reading" in first.stderr  # the progress bar
    with report.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["source"], int(r["row"]), r["code"]) for r in rows][:3] == [
        ("parcel", 4, "INVALID_CODE"), ("parcel", 5, "INVALID_GEOMETRY"),
        ("parcel", 6, "PARCEL_OVERLAP")]
    assert rows[0]["message_zh"].startswith("代码格式错误")
    again = run_registry(*args, env=env)
    assert again.returncode == 0 and "units 0 created, 7 already registered" in again.stdout


def test_cli_import_refuses_an_unknown_user(settings: Settings,
                                            files: tuple[Path, Path]) -> None:
    result = run_registry("import", "survey", str(files[0]), "--user", "nobody",
                          env=server_env(settings))
    assert result.returncode == 1 and "no such (enabled) user" in result.stderr


def test_one_parcel_many_spaces(gql: GraphQLClient, users: Users, tmp_path: Path) -> None:
    """A garage parcel carries as many parking spaces as the CSV lists."""
    batch = SurveyBatch()
    batch.parcel(pc(1, "GX"), box(COUNTY, 0), land_use="0701", QSGC="-12", ZZGC="-3")
    for n in range(1, 31):
        batch.space(pc(1, "GX") + f"F0001{n:04d}", f"B1-{n:03d}")
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    started = gql.data(operation("ImportSurvey"), {"input": {
        "geometry": encoded(batch.write_geojson(tmp_path / "garage.geojson")),
        "attributes": encoded(batch.write_csv(tmp_path / "spaces.csv"))}},
        clerk)["importSurvey"]
    job = poll(gql, started["id"], clerk)
    assert job["counts"]["unitsCreated"] == 30 and job["counts"]["rejects"] == 0
