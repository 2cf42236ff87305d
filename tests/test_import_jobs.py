"""Import jobs outlive nothing: a job whose process died says so (JOB-1), and a job's rows and
outcome commit together (JOB-2). The process that dies here is a real one, killed with
SIGKILL: PostgreSQL, not the registry, notices it has gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from starlette.testclient import TestClient

from registry.app import create_app
from registry.config import Settings
from registry.db.session import transaction
from registry.db.spatial import Parcel
from registry.db.statistics import ImportJob, JobState
from registry.db.units import Unit
from registry.runtime import Runtime
from registry.services.access import Principal, authenticate
from registry.services.survey_import import (
    JobClaim,
    SurveyFiles,
    create_job,
    import_survey,
    job_lock_key,
    mark_interrupted,
)
from tests.conftest import GraphQLClient, Users
from tests.operations import operation
from tests.survey_files import box
from tests.test_cli import server_env
from tests.test_import_survey import COUNTY, flawed_batch

# Runs an import in a process of its own and stops, for good, just before the good rows are
# inserted: the moment a crash costs the most work.
STOPPED_IMPORT = """
import sys, time
from pathlib import Path
from registry.config import Settings
from registry.db.session import transaction
from registry.runtime import Runtime, utc_now
from registry.services.access import Principal, authenticate
from registry.services.survey_import import SurveyFiles, import_survey

runtime = Runtime.from_settings(Settings())
with transaction(runtime.sessions) as session:
    clerk = authenticate(session, sys.argv[1])

def progress(phase, done, total):
    if phase == "inserting":
        print("inserting", flush=True)
        time.sleep(600)

import_survey(runtime.sessions, clerk, SurveyFiles(Path(sys.argv[2]), Path(sys.argv[3])),
              utc_now, progress)
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    batch = flawed_batch(box(COUNTY, 39))  # seven units on six parcels would be imported
    return batch.write_geojson(tmp_path / "zd.geojson"), batch.write_csv(tmp_path / "dy.csv")


Running = tuple[subprocess.Popen[str], dict[str, str]]


@pytest.fixture
def stopped_import(settings: Settings, users: Users,
                   files: tuple[Path, Path]) -> Iterator[Running]:
    clerk = users.add("pc-clerk", "clerk", county=COUNTY)
    token = clerk["Authorization"].removeprefix("Bearer ")
    process = subprocess.Popen(
        [sys.executable, "-c", STOPPED_IMPORT, token, str(files[0]), str(files[1])],
        env={**os.environ, **server_env(settings)}, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "inserting", "the import did not start"
        yield process, clerk
    finally:
        process.kill()
        process.wait()


def count(runtime: Runtime, model: Any) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def a_clerk(runtime: Runtime, users: Users) -> Principal:
    token = users.add("pc-clerk", "clerk", county=COUNTY)["Authorization"]
    with transaction(runtime.sessions) as session:
        return authenticate(session, token.removeprefix("Bearer "))


def job_of(runtime: Runtime) -> ImportJob:
    with runtime.sessions() as session:
        return session.scalars(select(ImportJob)).one()


def poll(gql: GraphQLClient, job_id: int, headers: dict[str, str]) -> dict[str, Any]:
    return gql.data(operation("SurveyImportJob"), {"id": str(job_id)},
                    headers)["surveyImportJob"]


def wait_until_postgres_notices_the_runner_gone(runtime: Runtime, job_id: int) -> None:
    """The killed process's socket is closed by the kernel, but its backend ends (and frees the
    job's lock) a moment later, on its own schedule: wait for that, not for a fixed time."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with runtime.sessions() as session:  # rolled back on close: the lock goes with it
            if session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
                              {"k": job_lock_key(job_id)}):
                return
        time.sleep(0.05)
    raise AssertionError("PostgreSQL kept the killed runner's lock for 30 s")


def test_an_import_whose_process_is_killed_says_interrupted_and_imported_nothing(
        gql: GraphQLClient, runtime: Runtime,
        stopped_import: Running) -> None:
    process, clerk = stopped_import
    job_id = job_of(runtime).id
    alive = poll(gql, job_id, clerk)
    assert alive["state"] == "RUNNING" and alive["error"] is None  # a slow step is not death

    process.send_signal(signal.SIGKILL)
    process.wait()
    wait_until_postgres_notices_the_runner_gone(runtime, job_id)
    gone = poll(gql, job_id, clerk)
    assert gone["state"] == "FAILED" and gone["phase"] == "FAILED", gone
    assert gone["error"]["code"] == "INTERRUPTED" and gone["finishedAt"] is not None
    row = job_of(runtime)
    assert row.state == JobState.FAILED and row.error is not None
    assert row.error["code"] == "INTERRUPTED"
    assert count(runtime, Parcel) == 0 and count(runtime, Unit) == 0  # JOB-2: nothing landed


def test_the_service_marks_jobs_of_a_dead_process_when_it_starts_and_leaves_live_ones(
        runtime: Runtime, users: Users, files: tuple[Path, Path]) -> None:
    clerk = a_clerk(runtime, users)
    live, dead = JobClaim(runtime.sessions), JobClaim(runtime.sessions)
    try:
        with transaction(runtime.sessions) as session:
            for claim in (live, dead):
                create_job(session, clerk, SurveyFiles(*files), runtime.clock(),
                           job_id=claim.job_id)
        dead.release()  # what PostgreSQL does when the runner's process dies

        with TestClient(create_app(runtime=runtime)):
            pass

        with runtime.sessions() as session:
            states = {job.id: job.state for job in session.scalars(select(ImportJob))}
        assert states == {live.job_id: JobState.QUEUED, dead.job_id: JobState.FAILED}
    finally:
        live.release()
    with transaction(runtime.sessions) as session:  # now its runner is gone too
        assert mark_interrupted(session, runtime.clock()) == [live.job_id]
        assert mark_interrupted(session, runtime.clock()) == []  # failed jobs stay as they are


def test_a_finished_job_is_never_marked_interrupted(
        runtime: Runtime, users: Users, files: tuple[Path, Path]) -> None:
    clerk = a_clerk(runtime, users)
    job_id, summary = import_survey(runtime.sessions, clerk, SurveyFiles(*files),
                                    runtime.clock)
    with transaction(runtime.sessions) as session:
        assert mark_interrupted(session, runtime.clock()) == []
    job = job_of(runtime)
    assert (job.id, job.state, job.counts) == (job_id, JobState.SUCCEEDED, summary.counts)
    assert count(runtime, Unit) == summary.counts["units_created"] == 7  # JOB-2: both landed
