"""Resumable survey imports (RESUME-1, RESUME-2, JOB-3): a job started through the API keeps its
files in the bucket until its outcome is final, so a clerk whose import died with its process
runs it again with one mutation, and it imports once. The process that dies is a real one,
killed with SIGKILL just before the good rows are inserted."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from starlette.testclient import TestClient

from registry.app import create_app
from registry.config import Settings
from registry.db.access import AuditEntry, User
from registry.db.session import transaction
from registry.db.spatial import Parcel
from registry.db.units import Unit
from registry.devstack import free_port
from registry.runtime import Runtime
from registry.services.survey_import import (
    JobClaim,
    SurveyFiles,
    create_job,
    import_survey,
    mark_interrupted,
)
from storage import S3Store, S3StoreConfig
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_cli import server_env
from tests.test_import_api import encoded
from tests.test_import_api import poll as poll_until_done
from tests.test_import_jobs import (
    a_clerk,
    count,
    files,  # noqa: F401  (fixture)
    job_of,
    poll,
    wait_until_postgres_notices_the_runner_gone,
)
from tests.test_import_survey import COUNTY

PREFIX = "imports/"

# What importSurvey does (files kept, then the job), in a process of its own that stops for good
# just before the good rows are inserted.
STOPPED_API_IMPORT = """
import sys, time
from pathlib import Path
from registry.config import Settings
from registry.db.session import transaction
from registry.runtime import Runtime, utc_now
from registry.services.access import authenticate
from registry.services.survey_import.files import keep_files
from registry.services.survey_import import JobClaim, SurveyFiles, create_job, import_survey

runtime = Runtime.from_settings(Settings())
with transaction(runtime.sessions) as session:
    clerk = authenticate(session, sys.argv[1])
files = SurveyFiles(Path(sys.argv[2]), Path(sys.argv[3]))
claim = JobClaim(runtime.sessions)
inputs = keep_files(runtime.store, runtime.settings.import_files_prefix, claim.job_id, files,
                    {"geometry": "zd.geojson", "attributes": "dy.csv"})
with transaction(runtime.sessions) as session:
    create_job(session, clerk, files, utc_now(), job_id=claim.job_id,
               display_name="zd.geojson", inputs=inputs)

def progress(phase, done, total):
    if phase == "inserting":
        print("inserting", flush=True)
        time.sleep(600)

import_survey(runtime.sessions, clerk, files, utc_now, progress, claim=claim)
"""


def kept(runtime: Runtime, job_id: int | str) -> list[str]:
    return sorted(runtime.store.list_keys(f"{PREFIX}{job_id}/"))


@pytest.fixture
def interrupted(settings: Settings, runtime: Runtime, users: Users,
                files: tuple[Path, Path]) -> Iterator[tuple[int, dict[str, str]]]:  # noqa: F811
    """A job started as importSurvey starts one, whose process was killed mid-import."""
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    token = clerk["Authorization"].removeprefix("Bearer ")
    process = subprocess.Popen(
        [sys.executable, "-c", STOPPED_API_IMPORT, token, str(files[0]), str(files[1])],
        env={**os.environ, **server_env(settings)}, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "inserting", "the import did not start"
        job_id = job_of(runtime).id
        process.send_signal(signal.SIGKILL)
        process.wait()
        wait_until_postgres_notices_the_runner_gone(runtime, job_id)
        yield job_id, clerk
    finally:
        process.kill()
        process.wait()


def test_a_clerk_retries_an_interrupted_import_and_it_imports_once(
        gql: GraphQLClient, runtime: Runtime,
        interrupted: tuple[int, dict[str, str]]) -> None:
    job_id, clerk = interrupted
    gone = poll(gql, job_id, clerk)
    assert (gone["state"], gone["error"]["code"]) == ("FAILED", "INTERRUPTED")
    assert gone["retryable"] is True and gone["attempts"] == 1
    assert kept(runtime, job_id) == [f"{PREFIX}{job_id}/attributes.csv",
                                     f"{PREFIX}{job_id}/geometry.geojson"]
    assert count(runtime, Unit) == 0  # JOB-2: the dead attempt imported nothing

    again = gql.data(operation("RetrySurveyImport"), {"id": str(job_id)},
                     clerk)["retrySurveyImport"]
    assert again["attempts"] == 2 and again["retryable"] is False
    assert again["state"] in ("QUEUED", "RUNNING", "SUCCEEDED")
    done = poll_until_done(gql, str(job_id), clerk)
    assert done["state"] == "SUCCEEDED" and done["error"] is None, done
    assert done["counts"]["unitsCreated"] == 7 and done["counts"]["parcelsCreated"] == 6
    assert count(runtime, Unit) == 7 and count(runtime, Parcel) == 6
    assert kept(runtime, job_id) == []  # RESUME-1: final, the files are gone
    assert job_of(runtime).inputs is None
    with runtime.sessions() as session:
        audits = session.scalars(select(AuditEntry.operation).where(
            AuditEntry.operation.in_(("retrySurveyImport", "importSurvey")))).all()
    assert sorted(audits) == ["importSurvey", "retrySurveyImport"]

    # A succeeded job is not run again: nothing changes.
    before = snapshot(runtime)
    assert gql.error_codes(operation("RetrySurveyImport"), {"id": str(job_id)},
                           clerk) == ["JOB_NOT_FAILED"]
    assert snapshot(runtime) == before


def test_retry_refusals_change_nothing(gql: GraphQLClient, runtime: Runtime, users: Users,
                                       interrupted: tuple[int, dict[str, str]]) -> None:
    job_id, clerk = interrupted
    poll(gql, job_id, clerk)  # marks it INTERRUPTED (JOB-1)
    other = users.add("other-clerk", "clerk", county=COUNTY)
    auditor = users.add("auditor", "auditor")
    before = snapshot(runtime)

    def refused(variables: dict[str, Any], headers: dict[str, str]) -> list[str]:
        codes = gql.error_codes(operation("RetrySurveyImport"), variables, headers)
        assert snapshot(runtime) == before
        return codes

    assert refused({"id": str(job_id)}, other) == ["FORBIDDEN"]
    assert refused({"id": str(job_id)}, auditor) == ["FORBIDDEN"]
    assert refused({"id": "999999"}, clerk) == ["NOT_FOUND"]
    assert refused({"id": "x'; drop"}, clerk) == ["NOT_FOUND"]

    # Another runner holds the job (its lock): not run twice.
    holder = JobClaim(runtime.sessions, job_id=job_id)
    try:
        assert refused({"id": str(job_id)}, clerk) == ["JOB_RUNNING"]
    finally:
        holder.release()

    # The kept file altered in the bucket: refused, the job stays retryable.
    key = f"{PREFIX}{job_id}/geometry.geojson"
    original = b"".join(runtime.store.iter_chunks(key))
    tampered = original.replace(b"Polygon", b"Polygon ", 1)
    runtime.store.put(key, _bytes(tampered), len(tampered))
    before = snapshot(runtime)
    assert refused({"id": str(job_id)}, clerk) == ["JOB_FILES_DAMAGED"]
    runtime.store.put(key, _bytes(original), len(original))
    before = snapshot(runtime)

    # The clerk who started it was disabled: an admin may not run it as them.
    with transaction(runtime.sessions) as session:
        user = session.scalars(select(User).where(User.username == "pc-clerk")).one()
        user.disabled_at = runtime.clock()
    admin = users.add("admin", "admin")
    before = snapshot(runtime)
    assert refused({"id": str(job_id)}, admin) == ["FORBIDDEN"]
    assert poll(gql, job_id, admin)["retryable"] is True


def _bytes(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def test_a_job_refused_for_its_files_keeps_nothing_and_cannot_be_retried(
        gql: GraphQLClient, runtime: Runtime, users: Users, tmp_path: Path) -> None:
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    bad = tmp_path / "broken.geojson"
    bad.write_text("{not json", encoding="utf-8")
    started = gql.data(operation("ImportSurvey"), {"input": {"geometry": encoded(bad)}},
                       clerk)["importSurvey"]
    job = poll_until_done(gql, started["id"], clerk)
    assert job["state"] == "FAILED" and job["error"]["code"] == "UNREADABLE_FILE"
    job = poll(gql, int(started["id"]), clerk)
    assert job["retryable"] is False
    _wait_for_no_kept_files(runtime, started["id"])  # dropped after the outcome committed
    before = snapshot(runtime)
    assert gql.error_codes(operation("RetrySurveyImport"), {"id": started["id"]},
                           clerk) == ["JOB_FILES_NOT_KEPT"]
    assert snapshot(runtime) == before


def test_a_succeeded_import_keeps_no_files(gql: GraphQLClient, runtime: Runtime, users: Users,
                                           files: tuple[Path, Path]) -> None:  # noqa: F811
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    started = gql.data(operation("ImportSurvey"), {"input": {
        "geometry": encoded(files[0]), "attributes": encoded(files[1])}}, clerk)["importSurvey"]
    assert poll_until_done(gql, started["id"], clerk)["state"] == "SUCCEEDED"
    _wait_for_no_kept_files(runtime, started["id"])
    assert job_of(runtime).inputs is None and job_of(runtime).attempts == 1


def test_a_command_line_job_keeps_nothing_to_retry(
        gql: GraphQLClient, runtime: Runtime, users: Users,
        files: tuple[Path, Path]) -> None:  # noqa: F811
    clerk_headers = users.add("pc-clerk", "clerk", county=COUNTY)
    with transaction(runtime.sessions) as session:
        from registry.services.access import authenticate

        clerk = authenticate(session, clerk_headers["Authorization"].removeprefix("Bearer "))
    claim = JobClaim(runtime.sessions)
    with transaction(runtime.sessions) as session:
        create_job(session, clerk, SurveyFiles(*files), runtime.clock(), job_id=claim.job_id)
    claim.release()  # its process died
    with transaction(runtime.sessions) as session:
        assert mark_interrupted(session, runtime.clock()) == [claim.job_id]
    before = snapshot(runtime)
    assert gql.error_codes(operation("RetrySurveyImport"), {"id": str(claim.job_id)},
                           clerk_headers) == ["JOB_FILES_NOT_KEPT"]
    assert snapshot(runtime) == before


def test_import_with_the_object_store_down_is_refused_and_changes_nothing(
        runtime: Runtime, users: Users, s3_config: S3StoreConfig,
        files: tuple[Path, Path]) -> None:  # noqa: F811
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    down = S3Store(replace(s3_config, endpoint=f"http://127.0.0.1:{free_port()}"))
    before = snapshot(runtime)
    with TestClient(create_app(runtime=replace(runtime, store=down))) as http:
        codes = GraphQLClient(http).error_codes(operation("ImportSurvey"), {"input": {
            "geometry": encoded(files[0]), "attributes": encoded(files[1])}}, clerk)
    assert codes == ["STORAGE_UNAVAILABLE"]
    assert snapshot(runtime) == before


def test_the_imports_prefix_may_not_hold_or_sit_inside_the_documents_prefix() -> None:
    for documents, imports in (("", "imports/"), ("files/", "files/imports/"),
                               ("files/documents/", "files/")):
        with pytest.raises(ValidationError, match="IMPORT_FILES_PREFIX"):
            Settings(documents_prefix=documents, import_files_prefix=imports)
    assert Settings(documents_prefix="documents/").import_files_prefix == "imports/"


def _wait_for_no_kept_files(runtime: Runtime, job_id: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while kept(runtime, job_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kept(runtime, job_id) == []


def test_a_succeeded_outcome_clears_the_inputs_in_its_own_transaction(
        runtime: Runtime, users: Users, files: tuple[Path, Path]) -> None:  # noqa: F811
    """JOB-3 on the service, whoever runs it."""
    clerk = a_clerk(runtime, users)
    claim = JobClaim(runtime.sessions)
    with transaction(runtime.sessions) as session:
        create_job(session, clerk, SurveyFiles(*files), runtime.clock(), job_id=claim.job_id,
                   inputs={"geometry": {"key": "imports/x/geometry.geojson", "name": "zd"}})
    import_survey(runtime.sessions, clerk, SurveyFiles(*files), runtime.clock, claim=claim)
    assert job_of(runtime).inputs is None
