"""The whole run: the stages in order (reading.py, checking.py, inserting.py, report.py) in one
transaction (`run_import`), inside a job (`import_survey`: the job's claim, its creation unless
it exists already, its outcome written by that same transaction, JOB-1/2 in jobs.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from registry.db.access import AuditEntry
from registry.db.session import transaction
from registry.services.access import Principal, require
from registry.services.codes import county_codes
from registry.services.database_errors import translate_database_errors
from registry.services.errors import DomainError
from registry.services.survey_import.checking import (
    check_overlaps,
    classify_parcels,
    classify_units,
)
from registry.services.survey_import.inserting import insert_good_rows
from registry.services.survey_import.jobs import IMPORTERS, JobClaim, JobTracker, create_job
from registry.services.survey_import.reading import Progress, Stager, SurveyFiles
from registry.services.survey_import.report import ImportSummary, collect_findings, summary_counts


def run_import(session: Session, principal: Principal, files: SurveyFiles, now: datetime,
               progress: Progress, job_id: int | None = None,
               request_id: str | None = None) -> ImportSummary:
    """IMPORT-2..6 (stated in checking.py) in one transaction (the caller's)."""
    actor = require(principal, *IMPORTERS)
    scope = actor.county_code
    # Compiling these one-off statements costs more than running them.
    session.execute(text("SET LOCAL jit = off"))
    counties = sorted(county_codes(session))
    stager = Stager(session, files, progress)
    srid, single = stager.stage()
    rows = stager.done
    progress("checking", rows, rows)
    session.execute(text("ANALYZE survey_parcels_in"))
    classify_parcels(session, srid, scope, counties)
    check_overlaps(session)
    classify_units(session, scope, counties)
    findings = collect_findings(session, srid, scope, single)
    progress("inserting", rows, rows)
    inserted = insert_good_rows(session, now, actor.user_id)
    counts = summary_counts(session, inserted, findings)
    session.add(AuditEntry(user_id=actor.user_id, username=actor.username,
                           request_id=request_id, operation="importSurvey",
                           target=files.geometry.name[:200],
                           details={"job": job_id, **{k: counts[k] for k in (
                               "parcels_created", "units_created", "rejects",
                               "differences")}}))
    session.flush()
    return ImportSummary(counts=counts, findings=findings)


def import_survey(sessions: sessionmaker[Session], principal: Principal | None,
                  files: SurveyFiles, clock: Callable[[], datetime],
                  progress: Progress | None = None, claim: JobClaim | None = None,
                  request_id: str | None = None, display_name: str | None = None
                  ) -> tuple[int, ImportSummary]:
    """The whole run: a job (claimed and created, unless `claim` names one created already),
    the import with the job's outcome (JOB-2), the claim released last (JOB-1)."""
    actor = require(principal, *IMPORTERS)
    created = claim is not None
    claim = claim or JobClaim(sessions)
    try:
        if not created:
            with translate_database_errors(), transaction(sessions) as session:
                create_job(session, actor, files, clock(), job_id=claim.job_id,
                           display_name=display_name)
        tracker = JobTracker(sessions, claim.job_id, clock, progress)
        tracker.start()
        try:
            with translate_database_errors(), transaction(sessions) as session:
                summary = run_import(session, actor, files, clock(), tracker, claim.job_id,
                                     request_id)
                tracker.finish(session, summary)
        except DomainError as exc:
            tracker.fail(exc)
            raise
        except Exception:
            tracker.fail(DomainError("INTERNAL", "导入时发生内部错误",
                                     "internal error during import"))
            raise
        return claim.job_id, summary
    finally:
        claim.release()
