"""Resumable survey imports: the input files of a job started through the API stay in the object
store until its outcome is final, so a job that failed for a reason other than its files (its
process died, the database went away) can be run again without the clerk sending them again.

Rules enforced here, stated once (JOB-3 in jobs.py says which outcomes are final, and clears
`inputs` in the outcome's own transaction):
- RESUME-1 A job started through the API keeps its files under
  `<IMPORT_FILES_PREFIX><job id>/` (keys from configuration and the job id only, never from the
  request): they are stored before the job's row is committed, so a job never names files that
  are not there, and `inputs` names them until the outcome is final. Once it is, the objects are
  deleted after the outcome commits; a deletion that fails is logged and leaves objects that no
  job names (harmless: `drop_files` removes them when called again). Jobs of
  `registry import survey` keep nothing: the files are the operator's, on the operator's disk.
- RESUME-2 `retry_job` runs a failed job again under its own id, and only a failed job whose
  files are kept (JOB_NOT_FAILED, JOB_FILES_NOT_KEPT otherwise), only one runner at a time
  (JOB_RUNNING: the job's lock is taken, JOB-1), as the user who started it (its county scope
  and roles as they are today; FORBIDDEN when that user is disabled), after the kept files are
  read back and their SHA-256 matches the job's (JOB_FILES_DAMAGED otherwise). Until the job is
  reopened nothing changes; reopening counts the attempt and writes an audit entry in one
  transaction. An interrupted attempt imported nothing (JOB-2), so a retry never imports twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from registry.db.access import Role
from registry.db.session import transaction
from registry.db.statistics import ImportJob, JobState
from registry.services.access import Principal, audit, principal_of_user, require
from registry.services.documents import storage_errors
from registry.services.errors import DomainError, Forbidden, NotFound
from registry.services.survey_import.jobs import (
    IMPORTERS,
    JobClaim,
    files_digest,
    mark_interrupted,
)
from registry.services.survey_import.reading import SurveyFiles
from storage import StorageUnavailable, Store

log = logging.getLogger(__name__)
ROLES = ("geometry", "attributes")


def job_prefix(prefix: str, job_id: int) -> str:
    return f"{prefix}{job_id}/"


def keep_files(store: Store, prefix: str, job_id: int, files: SurveyFiles,
               names: dict[str, str]) -> dict[str, Any]:
    """RESUME-1: store the job's files (before its row is committed); the job's `inputs`.
    STORAGE_UNAVAILABLE, with nothing left behind that could be removed, when the store fails."""
    inputs: dict[str, Any] = {"crs": files.crs, "geometry": None, "attributes": None}
    try:
        with storage_errors():
            for role, path in (("geometry", files.geometry), ("attributes", files.attributes)):
                if path is None:
                    continue
                key = f"{job_prefix(prefix, job_id)}{role}{path.suffix.lower()}"
                with path.open("rb") as handle:
                    store.put(key, handle, path.stat().st_size,
                              content_type="application/octet-stream")
                inputs[role] = {"key": key, "name": names.get(role, path.name)[:256]}
    except DomainError:
        drop_files(store, prefix, job_id)
        raise
    return inputs


def drop_files(store: Store, prefix: str, job_id: int) -> None:
    """RESUME-1: remove a job's kept files (its outcome is final). Never raises: a store that
    is down leaves them, logged, for a later call."""
    try:
        for key in list(store.list_keys(job_prefix(prefix, job_id))):
            store.delete(key)
    except StorageUnavailable as exc:
        log.warning("import job %s: kept files not removed: %s", job_id, exc)


def fetch_files(store: Store, inputs: dict[str, Any], folder: Path,
                expected_sha256: str) -> SurveyFiles:
    """RESUME-2: the kept files, read back into `folder` and checked against the job's digest."""
    paths: dict[str, Path | None] = {"geometry": None, "attributes": None}
    with storage_errors():
        for role in ROLES:
            kept = inputs.get(role)
            if kept is None:
                continue
            if store.stat(kept["key"]) is None:
                raise _damaged(kept["key"], "missing")
            path = folder / Path(kept["key"]).name
            with path.open("wb") as handle:
                for chunk in store.iter_chunks(kept["key"]):
                    handle.write(chunk)
            paths[role] = path
    geometry = paths["geometry"]
    if geometry is None:
        raise _damaged("geometry", "missing")
    files = SurveyFiles(geometry, paths["attributes"], crs=inputs.get("crs"))
    if files_digest(files)[0] != expected_sha256:
        raise _damaged(inputs["geometry"]["key"], "digest differs")
    return files


def _damaged(key: str, why: str) -> DomainError:
    return DomainError("JOB_FILES_DAMAGED", "导入任务保存的文件缺失或已损坏，请重新导入",
                       f"the import's kept files are {why}: import the files again",
                       {"key": key, "reason": why})


def load_job(session: Session, principal: Principal, job_id: int) -> ImportJob:
    """The job, if it is the caller's (or the caller is an admin)."""
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFound("导入任务", "import job", str(job_id))
    if Role.ADMIN not in principal.roles and job.created_by != principal.user_id:
        raise Forbidden("not your import job", "不是本人的导入任务")
    return job


def check_retryable(job: ImportJob) -> None:
    """RESUME-2's conditions on the job's row."""
    if job.state is not JobState.FAILED:
        raise DomainError("JOB_NOT_FAILED", "只能重试失败的导入任务",
                          "only a failed import job can be retried",
                          {"state": job.state.name})
    if job.inputs is None:
        raise DomainError("JOB_FILES_NOT_KEPT",
                          "该导入任务未保存文件（文件本身有误，或由命令行导入），请重新导入",
                          "this job kept no files (they were refused, or the command line "
                          "imported them): import the files again",
                          {"error": (job.error or {}).get("code")})


def claim_for_retry(sessions: sessionmaker[Session], principal: Principal | None,
                    job_id: int, now: datetime) -> tuple[JobClaim, ImportJob, Principal]:
    """RESUME-2 up to the files: the job's lock, the job (checked) and whom to run it as.
    Changes nothing but marking a dead runner's job INTERRUPTED (JOB-1)."""
    caller = require(principal, *IMPORTERS)
    with transaction(sessions) as session:
        job = load_job(session, caller, job_id)
        if job.state in (JobState.QUEUED, JobState.RUNNING):
            mark_interrupted(session, now, job_id)
            session.refresh(job)
        check_retryable(job)
    claim = JobClaim(sessions, job_id=job_id)  # JOB_RUNNING when another runner has it
    try:
        with transaction(sessions) as session:
            job = load_job(session, caller, job_id)
            check_retryable(job)  # as it is now that we hold the lock
            importer = (principal_of_user(session, job.created_by)
                        if job.created_by is not None else None)
            if importer is None:
                raise Forbidden("the user who started this import is disabled",
                                "导入人的账户已停用，无法重试")
            session.expunge(job)
        return claim, job, importer
    except BaseException:
        claim.release()
        raise


def reopen_job(session: Session, principal: Principal, job_id: int, now: datetime,
               request_id: str | None) -> ImportJob:
    """RESUME-2: the failed job queued again, its attempt counted and audited."""
    job = session.get(ImportJob, job_id, with_for_update=True)
    assert job is not None
    check_retryable(job)
    previous = (job.error or {}).get("code")
    job.state, job.phase, job.error = JobState.QUEUED, "queued", None
    job.rows_done, job.rows_total, job.started_at, job.finished_at = 0, None, None, None
    job.attempts += 1
    job.updated_at = now
    audit(session, principal, "retrySurveyImport", str(job_id), request_id,
          {"attempt": job.attempts, "previousError": previous})
    session.flush()
    return job
