"""Jobs (the rows pollers read): who may import, a job's claim (its id and its runner's
advisory lock), its creation, its progress and its outcome, and the jobs whose runner is gone.
run.py runs an import inside a job; files.py keeps a job's files so that it can run again.

Rules enforced here, stated once:
- JOB-1 A queued or running job has a live runner. The runner holds the job's advisory lock
  (`JobClaim`) from before the job's row is committed until its outcome is; PostgreSQL drops
  the lock with the runner's connection when its process dies. A queued or running job whose
  lock is free was interrupted: `mark_interrupted` makes it failed (INTERRUPTED), when it is
  polled and, for all of them, when the service starts.
- JOB-2 The import's rows and the job's outcome (succeeded, counts, findings) commit in one
  transaction, so an interrupted job imported nothing, and a job never says succeeded
  without its rows.
- JOB-3 A job's outcome is final when it succeeded or failed with a code outside
  RETRYABLE_FAILURES (the files' own fault: they would fail again); the transaction writing a
  final outcome clears the job's kept `inputs` (RESUME-1, files.py), and only a job failed
  for a retryable reason may be run again (RESUME-2).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker

from registry.db.access import Role
from registry.db.session import transaction
from registry.db.statistics import ImportFinding, ImportJob, JobState
from registry.services.access import Principal, require
from registry.services.errors import DomainError
from registry.services.survey_import.reading import Progress, SurveyFiles
from registry.services.survey_import.report import ImportSummary

MAX_FINDINGS_KEPT = 100_000  # findings stored with a job; the count is always exact
IMPORTERS = (Role.CLERK,)


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def job_lock_key(job_id: int) -> str:
    """The advisory lock held by a job's runner while it lives (JOB-1)."""
    return f"{_JOB_LOCK_PREFIX}{job_id}"


_JOB_LOCK_PREFIX = "registry.import-job:"
ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
INTERRUPTED = {"code": "INTERRUPTED",
               "messageZh": "导入进程在完成前中断，未导入任何数据；可重试或重新导入",
               "messageEn": "the import stopped before it finished (its process ended); "
                            "nothing was imported: retry it (when retryable) or import the "
                            "file again"}


# JOB-3: failures that are not the files' fault; a job failed so may run again (RESUME-2).
RETRYABLE_FAILURES = frozenset({"INTERRUPTED", "INTERNAL", "DATABASE_UNAVAILABLE",
                                "CONCURRENT_UPDATE", "STORAGE_UNAVAILABLE"})


def is_final(error_code: str | None) -> bool:
    """JOB-3: is an outcome (None: succeeded) final?"""
    return error_code not in RETRYABLE_FAILURES


class JobClaim:
    """JOB-1: a job id drawn before the job exists (or `job_id`, an existing job to run again),
    and its lock, held by a transaction of its own until `release` (or until the process dies,
    which ends the transaction). An existing job's lock held by another runner: JOB_RUNNING."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int | None = None) -> None:
        self._session = sessions()
        try:
            # Idle for as long as the job runs: a server-wide idle timeout must not end it.
            self._session.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
            if job_id is None:
                self.job_id = int(self._session.execute(text(
                    "SELECT nextval(pg_get_serial_sequence('import_jobs', 'id'))")).scalar_one())
                self._session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": job_lock_key(self.job_id)})
            else:
                self.job_id = job_id
                if not self._session.scalar(
                        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": job_lock_key(job_id)}):
                    raise DomainError("JOB_RUNNING", "该导入任务正在运行",
                                      "this import job is running", {"job": job_id})
        except BaseException:
            self._session.close()
            raise

    def release(self) -> None:
        self._session.close()  # rolls back: the lock goes with the transaction


_MARK_INTERRUPTED = text("""
    UPDATE import_jobs
       SET state = 'failed', phase = 'failed', finished_at = :now, updated_at = :now,
           error = :error
     WHERE state IN ('queued', 'running')
       AND (CAST(:job_id AS bigint) IS NULL OR id = :job_id)
       AND CASE WHEN state IN ('queued', 'running')  -- evaluated in this order: lock no other
                THEN pg_try_advisory_xact_lock(hashtextextended(:prefix || id, 0))
                ELSE false END
    RETURNING id
""").bindparams(bindparam("error", type_=JSONB))


def mark_interrupted(session: Session, now: datetime, job_id: int | None = None) -> list[int]:
    """JOB-1: the queued or running jobs (all, or `job_id`) whose runner is gone, marked
    failed with INTERRUPTED; their ids."""
    return list(session.scalars(_MARK_INTERRUPTED, {
        "now": now, "error": INTERRUPTED, "job_id": job_id, "prefix": _JOB_LOCK_PREFIX}))


def files_digest(files: SurveyFiles) -> tuple[str, int]:
    """The SHA-256 a job records for its files (the geometry's, or both chained) and their
    total size."""
    sha, size = file_digest(files.geometry)
    if files.attributes is not None:
        extra, extra_size = file_digest(files.attributes)
        sha = hashlib.sha256((sha + extra).encode()).hexdigest()
        size += extra_size
    return sha, size


def create_job(session: Session, principal: Principal | None, files: SurveyFiles,
               now: datetime, *, job_id: int, display_name: str | None = None,
               inputs: dict[str, Any] | None = None) -> ImportJob:
    """A queued job for `principal` (a clerk of a county, or an admin), under the id its
    runner claimed (JOB-1: there is no job without a claim), naming the files it keeps
    (RESUME-1), if any."""
    actor = require(principal, *IMPORTERS)
    sha, size = files_digest(files)
    job = ImportJob(id=job_id, kind="survey", state=JobState.QUEUED, phase="queued",
                    file_name=(display_name or files.geometry.name)[:256], file_sha256=sha,
                    file_bytes=size, rows_done=0, counts={}, created_by=actor.user_id,
                    username=actor.username, county_code=actor.county_code, created_at=now,
                    updated_at=now, inputs=inputs, attempts=1)
    session.add(job)
    session.flush()
    return job


class JobTracker:
    """Writes a job's progress in short transactions of its own, so pollers see it move."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int,
                 clock: Callable[[], datetime], progress: Progress | None = None,
                 every_seconds: float = 0.5) -> None:
        self.sessions = sessions
        self.job_id = job_id
        self.clock = clock
        self.progress = progress
        self.every = every_seconds
        self._last = 0.0
        self._phase = ""

    def _update(self, **values: Any) -> None:
        with transaction(self.sessions) as session:
            job = session.get(ImportJob, self.job_id, with_for_update=True)
            assert job is not None
            for name, value in values.items():
                setattr(job, name, value)
            job.updated_at = self.clock()

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)
        moment = time.monotonic()
        if phase != self._phase or moment - self._last >= self.every:
            self._phase, self._last = phase, moment
            self._update(phase=phase, rows_done=done, rows_total=total)

    def start(self) -> None:
        self._update(state=JobState.RUNNING, phase="reading", started_at=self.clock())

    def finish(self, session: Session, summary: ImportSummary) -> None:
        """The outcome, written by the import's own transaction (JOB-2)."""
        job = session.get(ImportJob, self.job_id, with_for_update=True)
        assert job is not None
        job.state, job.phase, job.counts = JobState.SUCCEEDED, "done", summary.counts
        job.inputs = None  # JOB-3: final
        job.finished_at = job.updated_at = self.clock()
        session.add_all(
            ImportFinding(job_id=self.job_id, seq=i, finding=f.finding, source=f.source,
                          row=f.row, key=f.key[:200], code=f.code, message_zh=f.message_zh,
                          message_en=f.message_en, details=f.details)
            for i, f in enumerate(summary.findings[:MAX_FINDINGS_KEPT], start=1))
        session.flush()

    def fail(self, error: DomainError) -> None:
        final = {"inputs": None} if is_final(error.code) else {}  # JOB-3
        self._update(state=JobState.FAILED, phase="failed", finished_at=self.clock(),
                     error={"code": error.code, "messageZh": error.message_zh,
                            "messageEn": error.message_en}, **final)
