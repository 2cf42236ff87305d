"""Survey import (权籍调查成果入库): parcels from a GeoJSON or GeoPackage file, units from a CSV of
attributes joined by code (or from the features' own attributes), checked and stored set-based.

How (design.md §6): the rows are COPYed into temporary staging tables; every check is one SQL
statement over all rows; the good rows go into `parcels` and `units` with one INSERT … SELECT
each, in one transaction. The column mapping is docs/survey-import.md.

One module per stage, in the order of a run (the phases a job reports are reading, checking,
inserting, then done or failed):
- mapping.py: the attribute mapping (column names, required columns, value spellings);
- reading.py: phase `reading`, the files' rows COPYed into the staging tables;
- checking.py: phase `checking`, every check as one statement, differences from the register;
- inserting.py: phase `inserting`, the good rows into `parcels` and `units`;
- report.py: the findings (rejects and differences) and the counts of a run;
- jobs.py: import jobs: claims and their locks, creation, progress, outcomes, interruption;
- run.py: the whole run, `run_import` (one transaction) inside a job (`import_survey`);
- files.py: a job's kept input files and running a failed job again.

Rules, each stated once where it is enforced:
- IMPORT-1 (a job's findings kept with it): registry/db/statistics.py;
- IMPORT-2..6 (checks, collisions, idempotence by code, parcels need units, unit kinds):
  checking.py;
- JOB-1..3 (a live runner per active job, rows and outcome in one transaction, final
  outcomes): jobs.py;
- RESUME-1/2 (kept files, retry): files.py.

The names other code uses are re-exported here. The stage modules import from one another by
module (`registry.services.survey_import.jobs`, …), never from the package itself.
"""

from __future__ import annotations

from registry.services.survey_import.jobs import (
    ACTIVE_STATES,
    IMPORTERS,
    INTERRUPTED,
    MAX_FINDINGS_KEPT,
    RETRYABLE_FAILURES,
    JobClaim,
    JobTracker,
    create_job,
    file_digest,
    files_digest,
    is_final,
    job_lock_key,
    mark_interrupted,
)
from registry.services.survey_import.reading import (
    Progress,
    SurveyFiles,
    feature_batches,
    file_crs,
    read_info,
)
from registry.services.survey_import.report import Finding, ImportSummary
from registry.services.survey_import.run import import_survey, run_import

__all__ = [
    "ACTIVE_STATES", "IMPORTERS", "INTERRUPTED", "MAX_FINDINGS_KEPT", "RETRYABLE_FAILURES",
    "Finding", "ImportSummary", "JobClaim", "JobTracker", "Progress", "SurveyFiles", "create_job",
    "feature_batches", "file_crs", "file_digest", "files_digest", "import_survey", "is_final",
    "job_lock_key", "mark_interrupted", "read_info", "run_import",
]
