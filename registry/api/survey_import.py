"""Survey import in the API: files up to 10 MB sent base64-encoded in the mutation, imported in
the background; the job row shows how far it got and what it found.

The files travel as base64 strings (no multipart upload needed); the import itself is the
same as `registry import survey` (registry.services.survey_import).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import shutil
import tempfile
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import strawberry
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from registry.api.context import Info
from registry.api.pagination import Edge, PageInfo, page_size
from registry.db.statistics import ImportFinding, ImportJob, JobState
from registry.runtime import Runtime
from registry.services.database_errors import translate_database_errors
from registry.services.errors import DomainError, InvalidInput, NotFound
from registry.services.reads import decode_cursor, encode_cursor
from registry.services.survey_import import (
    ACTIVE_STATES,
    IMPORTERS,
    JobClaim,
    SurveyFiles,
    create_job,
    import_survey,
    is_final,
    mark_interrupted,
)
from registry.services.survey_import.files import (
    claim_for_retry,
    drop_files,
    fetch_files,
    keep_files,
    load_job,
    reopen_job,
)

MAX_FILE_BYTES = 10 * 1024 * 1024  # per request: larger surveys go through the CLI
log = logging.getLogger(__name__)
_running: set[asyncio.Future[Any]] = set()  # keeps background imports referenced until they end

JobStateEnum = strawberry.enum(JobState, name="ImportJobState")


class FindingKind(StrEnum):
    REJECT = "reject"
    DIFFERENCE = "difference"


FindingKindEnum = strawberry.enum(FindingKind, name="ImportFindingKind")


class FindingSource(StrEnum):
    PARCEL = "parcel"
    UNIT = "unit"
    FEATURE = "feature"


FindingSourceEnum = strawberry.enum(
    FindingSource, name="ImportFindingSource",
    description="发现来源 PARCEL 宗地 (row: feature number) / UNIT 单元 (row: CSV line) / "
                "FEATURE 要素 (one-file import: row is the feature number)")


class ImportPhase(StrEnum):
    """The phases services/survey_import/ reports, in order; FAILED may end any of them."""

    QUEUED = "queued"
    READING = "reading"
    CHECKING = "checking"
    INSERTING = "inserting"
    DONE = "done"
    FAILED = "failed"


ImportPhaseEnum = strawberry.enum(
    ImportPhase, name="ImportPhase",
    description="导入阶段 QUEUED 排队 → READING 读取 → CHECKING 检查 → INSERTING 入库 → DONE 完成, "
                "or FAILED 失败")


@strawberry.type(description="A row refused (reject) or found different from the register")
class ImportFindingItem:
    finding: FindingKindEnum  # type: ignore[valid-type]
    source: FindingSourceEnum  # type: ignore[valid-type]
    row: int
    key: str = strawberry.field(description="the code as given in the file")
    code: str
    message_zh: str
    message_en: str
    details: JSON


@strawberry.type
class ImportFindingEdge(Edge[ImportFindingItem]):
    pass


@strawberry.type
class ImportFindingConnection:
    edges: list[ImportFindingEdge]
    page_info: PageInfo


@strawberry.type(description="导入统计 What an import counted")
class ImportCounts:
    parcel_rows: int
    parcels_created: int
    parcels_existing: int
    parcels_rejected: int
    unit_rows: int
    units_created: int
    units_existing: int
    units_rejected: int
    rejects: int
    differences: int


@strawberry.type(description="An error that stopped a whole import")
class ImportError:
    code: str
    message_zh: str
    message_en: str


@strawberry.type(description="权籍调查成果导入任务 A survey import and how far it got")
class SurveyImportJob:
    id: strawberry.ID
    state: JobStateEnum  # type: ignore[valid-type]
    phase: ImportPhaseEnum  # type: ignore[valid-type]
    file_name: str
    file_sha256: str
    rows_done: int
    rows_total: int | None
    counts: ImportCounts | None
    error: ImportError | None
    attempts: int = strawberry.field(
        description="运行次数 runs so far (retrySurveyImport adds one)")
    retryable: bool = strawberry.field(
        description="可重试 FAILED for a reason other than its files, which are kept: "
                    "retrySurveyImport runs it again")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @strawberry.field(description="Rejects and differences in file order, in pages.")
    async def findings(self, info: Info, finding: FindingKindEnum | None = None,  # type: ignore[valid-type]
                       first: int | None = None,
                       after: str | None = None) -> ImportFindingConnection:
        size = page_size(info, first)
        key = decode_cursor(after, ["seq"])
        job_id = int(self.id)

        def work(session: Any) -> list[ImportFinding]:
            query = select(ImportFinding).where(ImportFinding.job_id == job_id)
            if finding is not None:
                query = query.where(ImportFinding.finding == FindingKind(finding).value)
            if key is not None:
                query = query.where(ImportFinding.seq > int(key["seq"]))
            return list(session.scalars(query.order_by(ImportFinding.seq).limit(size + 1)))

        rows = await info.context.read(work)
        edges = [ImportFindingEdge(cursor=encode_cursor({"seq": r.seq}), node=ImportFindingItem(
            finding=FindingKind(r.finding), source=FindingSource(r.source), row=r.row, key=r.key,
            code=r.code,
            message_zh=r.message_zh, message_en=r.message_en, details=r.details))
            for r in rows[:size]]
        return ImportFindingConnection(
            edges=edges, page_info=PageInfo(has_next_page=len(rows) > size,
                                            end_cursor=edges[-1].cursor if edges else None))

    @classmethod
    def of(cls, job: ImportJob) -> SurveyImportJob:
        return cls(id=strawberry.ID(str(job.id)), state=job.state, phase=ImportPhase(job.phase),
                   file_name=job.file_name, file_sha256=job.file_sha256,
                   rows_done=job.rows_done, rows_total=job.rows_total,
                   counts=ImportCounts(**job.counts) if job.counts else None,
                   error=ImportError(code=job.error["code"], message_zh=job.error["messageZh"],
                                     message_en=job.error["messageEn"]) if job.error else None,
                   attempts=job.attempts,
                   retryable=job.state is JobState.FAILED and job.inputs is not None,
                   created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at)


@strawberry.input(description="A file, base64-encoded (at most 10 MB decoded)")
class SurveyFileInput:
    name: str
    content_base64: str


@strawberry.input(description="权籍调查成果 parcels (GeoJSON or GeoPackage) and, optionally, a "
                              "CSV of units joined by code (docs/survey-import.md)")
class SurveyImportInput:
    geometry: SurveyFileInput
    attributes: SurveyFileInput | None = None
    crs: int | None = strawberry.field(default=None, description="EPSG code, when the file "
                                                                 "names none")


def _decode(upload: SurveyFileInput, folder: Path, allowed: tuple[str, ...]) -> Path:
    suffix = Path(upload.name).suffix.lower()
    if suffix not in allowed:
        raise InvalidInput("UNSUPPORTED_FILE", f"不支持的文件类型：{upload.name}",
                           f"unsupported file type {upload.name} (use {', '.join(allowed)})")
    if len(upload.content_base64) > MAX_FILE_BYTES * 4 // 3 + 8:
        raise InvalidInput("FILE_TOO_LARGE", "文件超过10 MB，请使用命令行导入",
                           "the file exceeds 10 MB: use `registry import survey`",
                           max_bytes=MAX_FILE_BYTES)
    try:
        content = base64.b64decode(upload.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("BAD_BASE64", "文件内容不是有效的base64", "content is not base64"
                           ) from exc
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput("FILE_TOO_LARGE", "文件超过10 MB，请使用命令行导入",
                           "the file exceeds 10 MB: use `registry import survey`",
                           max_bytes=MAX_FILE_BYTES)
    path = folder / f"upload{suffix}"
    if path.exists():
        path = folder / f"attributes{suffix}"
    path.write_bytes(content)
    return path


def _claim(runtime: Runtime) -> JobClaim:
    with translate_database_errors():
        return JobClaim(runtime.sessions)


def _job_id(id: strawberry.ID) -> int:
    if not str(id).isdigit() or len(str(id)) > 18:
        raise NotFound("导入任务", "import job", str(id)[:40])
    return int(str(id))


def _run_in_background(runtime: Runtime, importer: Any, files: SurveyFiles, claim: JobClaim,
                       folder: Path, request_id: str | None) -> None:
    """The import, off the event loop; the claim is released once the outcome is written
    (JOB-1), the kept files dropped once it is final (RESUME-1)."""
    job_id = claim.job_id

    def work() -> None:
        final = False
        try:
            import_survey(runtime.sessions, importer, files, runtime.clock, claim=claim,
                          request_id=request_id)
            final = True
        except DomainError as exc:  # written to the job row for the poller
            final = is_final(exc.code)
        except Exception:  # also written to the job row (as INTERNAL); the trace goes here
            log.exception("survey import job %s failed", job_id)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if final:
            drop_files(runtime.store, runtime.settings.import_files_prefix, job_id)

    future = asyncio.get_running_loop().run_in_executor(None, work)
    _running.add(future)
    future.add_done_callback(_running.discard)


@strawberry.type
class SurveyImportQuery:
    @strawberry.field(description="导入任务 An import job: progress, counts, findings.")
    async def survey_import_job(self, info: Info, id: strawberry.ID) -> SurveyImportJob:
        actor = info.context.require(*IMPORTERS)
        job = await info.context.read(load_job, actor, _job_id(id))
        if job.state in ACTIVE_STATES and await info.context.run(
                mark_interrupted, info.context.runtime.clock(), job.id):  # JOB-1
            job = await info.context.read(load_job, actor, job.id)
        return SurveyImportJob.of(job)


@strawberry.type
class SurveyImportMutation:
    @strawberry.mutation(description="导入权籍调查成果 Import survey results (clerk of the "
                                     "county, or admin); runs in the background: poll "
                                     "surveyImportJob.")
    async def import_survey(self, info: Info, input: SurveyImportInput) -> SurveyImportJob:
        ctx = info.context
        actor = ctx.require(*IMPORTERS)
        runtime, request_id = ctx.runtime, ctx.request_id
        folder = Path(tempfile.mkdtemp(prefix="survey-"))
        claim: JobClaim | None = None
        try:
            geometry = _decode(input.geometry, folder, (".geojson", ".json", ".gpkg"))
            attributes = (_decode(input.attributes, folder, (".csv",))
                          if input.attributes else None)
            files = SurveyFiles(geometry, attributes, crs=input.crs)
            claim = await run_in_threadpool(_claim, runtime)  # JOB-1: before the job exists
            names = {"geometry": input.geometry.name,
                     **({"attributes": input.attributes.name} if input.attributes else {})}
            inputs = await run_in_threadpool(  # RESUME-1: before the job's row commits
                keep_files, runtime.store, runtime.settings.import_files_prefix, claim.job_id,
                files, names)
            try:
                job = await ctx.run(create_job, actor, files, runtime.clock(),
                                    job_id=claim.job_id, display_name=input.geometry.name,
                                    inputs=inputs)
            except BaseException:
                await run_in_threadpool(drop_files, runtime.store,
                                        runtime.settings.import_files_prefix, claim.job_id)
                raise
        except BaseException:
            if claim is not None:
                claim.release()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _run_in_background(runtime, actor, files, claim, folder, request_id)
        return SurveyImportJob.of(job)

    @strawberry.mutation(description="重试导入 Run a FAILED import job again (its creator, or "
                                     "an admin) from the files it kept (retryable: true), as "
                                     "the user who started it; poll surveyImportJob.")
    async def retry_survey_import(self, info: Info, id: strawberry.ID) -> SurveyImportJob:
        ctx = info.context
        caller = ctx.require(*IMPORTERS)
        runtime, request_id = ctx.runtime, ctx.request_id
        job_id = _job_id(id)
        claim, job, importer = await run_in_threadpool(
            _retry_claim, runtime, caller, job_id)
        folder = Path(tempfile.mkdtemp(prefix="survey-"))
        try:
            assert job.inputs is not None  # check_retryable
            files = await run_in_threadpool(fetch_files, runtime.store, job.inputs, folder,
                                            job.file_sha256)
            job = await ctx.run(reopen_job, caller, job_id, runtime.clock(), request_id)
        except BaseException:
            claim.release()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _run_in_background(runtime, importer, files, claim, folder, request_id)
        return SurveyImportJob.of(job)


def _retry_claim(runtime: Runtime, caller: Any, job_id: int) -> Any:
    with translate_database_errors():
        return claim_for_retry(runtime.sessions, caller, job_id, runtime.clock())
