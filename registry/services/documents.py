"""Documents (要件): two upload paths ending in the same Document, requirements, freezing.

Paths: (a) a GraphQL multipart upload, already spooled by the web server, is hashed in place
and handed to `upload`; (b) `request_upload` hands out a presigned PUT for a declared size and
SHA-256, and `complete_upload` checks what landed before it goes the same way as (a).

Rules enforced here (and where else):
- DOC-1 Originals are never modified. The key is the configured prefix + the content's SHA-256;
  an object is put only while no row names its content (a leftover of the same name, from a
  failed attempt, is simply written again: same key, same bytes), and is never overwritten with
  other bytes nor deleted while a row names it. The rows are append-only (migration 0006).
- DOC-2 No row points to a missing object. Objects are put, checksum-verified by the server
  (`x-amz-checksum-sha256`), before the rows naming them are inserted, in a transaction that
  holds an advisory lock on the hash; `storage check --repair` takes the same lock and checks
  again before deleting (services/storage_check.py). S3 failing at any point is
  STORAGE_UNAVAILABLE and rolls the rows back; objects put before the failure are orphans,
  which no row names, for the repair to remove.
- DOC-3 Bad input changes nothing: access, links, state, size, type, pixels and pages are all
  checked (storage/scans.py, pass 1) before the first write to the bucket. Decoding (pass 2)
  runs while the original is being PUT; if it finds the file damaged, the original this
  request created is deleted again before DAMAGED_FILE is answered (no one else can link the
  same content meanwhile: the hash's lock is held).
- DOC-4 Identical content is stored once: a second upload finds the file row and links it.
- DOC-5 A case is accepted only with every kind its kind requires (`require_documents`, called
  by take_step; the database checks it too). The requirements are rows an admin edits.
- DOC-6 The documents of a recorded case are frozen: nothing is added, removed or replaced
  (DOCUMENT_FROZEN; the database checks it too, and waits for a recording in progress).
- DOC-8 A natural-resource case (自然资源登记业务, `Target.natural_case_number`) carries
  documents too, its survey results (地籍调查成果) first: linked to the case alone, in the case's
  county (ACCESS-2), and frozen once it is recorded (DOC-6). An unknown case is
  NR_CASE_NOT_FOUND; naming it beside an application, unit or parcel is LINK_MISMATCH. The
  survey step requires them (`require_natural_documents`, NRCASE-8 in
  services/natural_resources/procedure.py).
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from registry.config import Settings
from registry.db.access import Role
from registry.db.applications import (
    OPEN_STATES,
    Application,
    ApplicationKind,
    ApplicationState,
    ApplicationUnit,
)
from registry.db.documents import (
    Document,
    DocumentKind,
    DocumentRequirement,
    FilePage,
    PendingUpload,
    StoredFile,
)
from registry.db.natural_resources import NaturalCase, NaturalCaseState
from registry.db.spatial import Parcel
from registry.db.units import Unit
from registry.services.access import Principal, audit, require, require_county
from registry.services.codes import parse_unit_code
from registry.services.document_reads import DOCUMENT_JSON, FROM
from registry.services.errors import DomainError, Forbidden, InvalidInput, NotFound
from storage import StorageUnavailable, Store
from storage.scans import (
    MIB,
    Limits,
    Page,
    Scan,
    ScanAhead,
    ScanRefused,
    inspect,
    process_budget,
)
from storage.spool import Spooled, TooLarge, b64_of, spool

log = logging.getLogger(__name__)

FROZEN_STATES = frozenset({ApplicationState.RECORDED, ApplicationState.CERTIFIED})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
UPLOADERS = (Role.CLERK,)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class DocumentConfig:
    """What the documents service takes from Settings."""

    prefix: str = "documents/"
    max_bytes: int = 256 * 1024 * 1024
    limits: Limits = field(default_factory=Limits)
    url_expiry: timedelta = timedelta(minutes=5)
    upload_expiry: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> DocumentConfig:
        return cls(prefix=settings.documents_prefix, max_bytes=settings.document_max_bytes,
                   limits=Limits(max_pixels=settings.document_max_pixels,
                                 max_pages=settings.document_max_pages,
                                 thumbnail_px=settings.document_thumbnail_px,
                                 budget=process_budget(worker_decode_budget(settings),
                                                        settings.document_decode_gate)),
                   url_expiry=timedelta(seconds=settings.document_url_expiry_seconds),
                   upload_expiry=timedelta(seconds=settings.upload_url_expiry_seconds))

    # Keys: only the configured prefix, content hashes and server-made ids (never client text).
    def original_key(self, sha256: str) -> str:
        return f"{self.prefix}originals/{sha256[:2]}/{sha256}"

    def thumbnail_key(self, sha256: str, page: int) -> str:
        return f"{self.prefix}thumbnails/{sha256}/p{page:05d}.jpg"

    def incoming_key(self, upload_id: str) -> str:
        return f"{self.prefix}incoming/{upload_id}"


def content_lock_key(sha256: str) -> str:
    """The advisory lock that guards the objects of one content hash (DOC-2)."""
    return f"registry.document:{sha256}"


def worker_decode_budget(settings: Settings) -> int:
    """SCAN-5 per process: the service's decode budget shared equally by its workers."""
    return max(16 * MIB, settings.document_decode_memory_mb * MIB // settings.web_workers)


def lock_content(session: Session, sha256: str) -> None:
    """Held until the transaction ends: one writer (or repairer) of a content at a time."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": content_lock_key(sha256)})


@contextmanager
def storage_errors() -> Iterator[None]:
    """S3 unreachable or refusing: STORAGE_UNAVAILABLE (the transaction rolls back)."""
    try:
        yield
    except StorageUnavailable as exc:
        log.warning("object storage unavailable: %s", exc)
        raise DomainError("STORAGE_UNAVAILABLE", "文件存储暂不可用，请稍后重试",
                          "the document store is unavailable; try again later",
                          {"retryable": True}) from exc


def file_too_large(limit: int) -> DomainError:
    return DomainError("FILE_TOO_LARGE", f"文件超过大小上限（{limit} 字节）",
                       f"the file is larger than the limit of {limit} bytes", {"limit": limit})


def spool_upload(chunks: Iterator[bytes] | Sequence[bytes], limit: int) -> Spooled:
    """A stream spooled to a temporary file while hashed; FILE_TOO_LARGE past `limit`."""
    try:
        return spool(chunks, limit)
    except TooLarge as exc:
        raise file_too_large(limit) from exc


# --------------------------------------------------------------------------- links


@dataclass(frozen=True)
class Target:
    """What a new document belongs to: a case and/or a unit or a parcel, or a
    natural-resource case alone (DOC-8)."""

    application_number: str | None = None
    unit_code: str | None = None
    parcel_code: str | None = None
    natural_case_number: str | None = None


@dataclass(frozen=True)
class Links:
    county_code: str
    application: Application | None
    unit_id: int | None
    parcel_id: int | None
    natural_case: NaturalCase | None = None


def _check_case_open(application: Application) -> None:
    """DOC-6, and no documents for cases that ended without being recorded."""
    if application.state in FROZEN_STATES:
        raise DomainError("DOCUMENT_FROZEN", f"业务{application.number}已登簿，要件不得增删或替换",
                          f"case {application.number} is recorded; its documents are frozen",
                          {"application": application.number})
    if application.state not in OPEN_STATES:
        raise DomainError("CASE_CLOSED",
                          f"业务{application.number}已办结（{application.state.label_zh}）",
                          f"case {application.number} is closed ({application.state.value})",
                          {"application": application.number})


def _check_natural_case_open(case: NaturalCase) -> None:
    """DOC-6 and DOC-8: a recorded natural-resource case's documents are frozen."""
    if case.state is NaturalCaseState.RECORDED:
        raise DomainError("DOCUMENT_FROZEN",
                          f"自然资源登记业务{case.number}已登簿，要件不得增删或替换",
                          f"natural-resource case {case.number} is recorded; its documents are "
                          "frozen", {"natural_case": case.number})


def _natural_case_for_share(session: Session, *, number: str | None = None,
                            case_id: int | None = None) -> NaturalCase:
    # FOR SHARE: a recording (FOR UPDATE, procedure.lock_case) waits for this upload, or this
    # upload for it.
    query = select(NaturalCase).with_for_update(read=True)
    query = (query.where(NaturalCase.number == number) if number is not None
             else query.where(NaturalCase.id == case_id))
    case = session.scalar(query)
    if case is None:
        raise DomainError("NR_CASE_NOT_FOUND", f"自然资源登记业务不存在：{number}",
                          f"no natural-resource case {number}", {"number": number})
    return case


def _case_for_share(session: Session, application_id: int) -> Application:
    # FOR SHARE: a recording (FOR UPDATE) waits for this upload, or this upload for it.
    application = session.scalar(select(Application).where(Application.id == application_id)
                                 .with_for_update(read=True))
    assert application is not None
    return application


def resolve_target(session: Session, actor: Principal, target: Target) -> Links:
    """The rows a new document will link to, checked for scope, state and consistency."""
    number = (target.application_number or "").strip()[:32] or None
    unit_code = (target.unit_code or "").strip() or None
    parcel_code = (target.parcel_code or "").strip().upper()[:19] or None
    natural_number = (target.natural_case_number or "").strip()[:32] or None
    if not (number or unit_code or parcel_code or natural_number):
        raise InvalidInput("DOCUMENT_TARGET_REQUIRED", "要件须关联业务、不动产单元或宗地",
                           "a document belongs to a case, a unit or a parcel: name one")
    if natural_number:  # DOC-8
        if number or unit_code or parcel_code:
            raise InvalidInput("LINK_MISMATCH", "自然资源登记业务的要件只关联该业务",
                               "a natural-resource case's document links to that case alone")
        natural_case = _natural_case_for_share(session, number=natural_number)
        require_county(actor, natural_case.county_code)
        _check_natural_case_open(natural_case)
        return Links(county_code=natural_case.county_code, application=None, unit_id=None,
                     parcel_id=None, natural_case=natural_case)
    if unit_code and parcel_code:
        raise InvalidInput("UNIT_OR_PARCEL", "要件关联不动产单元或宗地，不能同时关联两者",
                           "link a document to a unit or to a parcel, not both")
    application = None
    counties: set[str] = set()
    if number:
        # FOR SHARE: a recording (FOR UPDATE) waits for this upload, or this upload for it.
        application = session.scalar(select(Application).where(Application.number == number)
                                     .with_for_update(read=True))
        if application is None:
            raise NotFound("业务", "application", number)
        require_county(actor, application.county_code)
        counties.add(application.county_code)
    unit_id = parcel_id = None
    if unit_code:
        code = parse_unit_code(session, unit_code).code
        unit = session.scalar(select(Unit).where(Unit.code == code))
        if unit is None:
            raise NotFound("不动产单元", "unit", code)
        require_county(actor, unit.county_code)
        counties.add(unit.county_code)
        unit_id = unit.id
        if application is not None and session.scalar(
                select(ApplicationUnit.unit_id).where(
                    ApplicationUnit.application_id == application.id,
                    ApplicationUnit.unit_id == unit.id)) is None:
            raise InvalidInput("LINK_MISMATCH", f"不动产单元{code}不属于业务{number}",
                               f"unit {code} is not part of case {number}")
    if parcel_code:
        parcel = session.scalar(select(Parcel).where(Parcel.code == parcel_code,
                                                     Parcel.ended_at.is_(None)))
        if parcel is None:
            raise NotFound("宗地", "parcel", parcel_code)
        require_county(actor, parcel.county_code)
        counties.add(parcel.county_code)
        parcel_id = parcel.id
        if application is not None and session.scalar(
                select(Unit.id).join(ApplicationUnit, ApplicationUnit.unit_id == Unit.id)
                .where(ApplicationUnit.application_id == application.id,
                       Unit.parcel_id == parcel.id).limit(1)) is None:
            raise InvalidInput("LINK_MISMATCH", f"宗地{parcel_code}不属于业务{number}",
                               f"parcel {parcel_code} carries no unit of case {number}")
    if application is not None:
        _check_case_open(application)
    return Links(county_code=counties.pop(), application=application, unit_id=unit_id,
                 parcel_id=parcel_id)


def _links_of(session: Session, actor: Principal, county_code: str,
              application_id: int | None, unit_id: int | None,
              parcel_id: int | None, nr_case_id: int | None) -> Links:
    """The links of an existing document or upload, checked again (scope, DOC-6)."""
    require_county(actor, county_code)
    application = _case_for_share(session, application_id) if application_id else None
    if application is not None:
        _check_case_open(application)
    natural_case = (_natural_case_for_share(session, case_id=nr_case_id) if nr_case_id
                    else None)
    if natural_case is not None:
        _check_natural_case_open(natural_case)
    return Links(county_code=county_code, application=application, unit_id=unit_id,
                 parcel_id=parcel_id, natural_case=natural_case)


# --------------------------------------------------------------------------- storing


def _scan_refused(exc: ScanRefused) -> DomainError:
    messages = {
        "UNSUPPORTED_TYPE": "文件类型不受支持（仅限JPEG、PNG、TIFF、PDF）",
        "IMAGE_TOO_LARGE": "图像像素过多（可能是解压炸弹）",
        "TOO_MANY_PAGES": "页数超过上限",
        "DAMAGED_FILE": "文件已损坏或不完整，无法读取",
    }
    return DomainError(exc.code, messages.get(exc.code, "文件无法处理"), exc.reason,
                       exc.details)


def _store_original(store: Store, key: str, spooled: Spooled, media_type: str,
                    source_key: str | None, reader: BinaryIO) -> None:
    """Put (or copy) the original.

    Called only when no file row names this content. An object left under the key by an
    earlier, failed attempt is not asked about first (a round trip per upload): the key is
    the content's hash, so writing it again writes the same bytes, or repairs a damaged one."""
    if source_key is not None:  # verified where it landed: copied inside the store
        store.copy(source_key, key)
        copied = store.stat(key)
        if copied is None or copied.size != spooled.size:
            raise StorageUnavailable(f"copy to {key} did not arrive whole")
        return
    reader.seek(0)
    store.put(key, reader, spooled.size, sha256_b64=spooled.sha256_b64,
              content_type=media_type)


def _put_thumbnail(store: Store, key: str, page: Page) -> None:
    assert page.thumbnail is not None and page.thumbnail_sha256 is not None
    store.put(key, io.BytesIO(page.thumbnail), len(page.thumbnail),
              sha256_b64=b64_of(page.thumbnail_sha256), content_type="image/jpeg")


def _render(render: Callable[[], Scan]) -> Scan:
    try:
        return render()
    except ScanRefused as exc:
        raise _scan_refused(exc) from exc


def _take_back(store: Store, key: str) -> None:
    """Delete what this request put, so that a refused file leaves the bucket as it was."""
    try:
        store.delete(key)
    except StorageUnavailable as gone:
        log.warning("could not take back %s: %s", key, gone)


def _put_file(session: Session, store: Store, config: DocumentConfig, spooled: Spooled,
              media_type: str, render: Callable[[], Scan], now: datetime,
              source_key: str | None) -> StoredFile:
    """Put the original and its thumbnails (DOC-1), and the rows naming them, which commit
    only after every put is confirmed (DOC-2).

    The thumbnails are decoded while the original goes to the store, and each is put as soon
    as the decoding is done, while the original may still be on its way. If decoding finds
    the file damaged (DOC-3), the original is taken back before the refusal."""
    sha = spooled.sha256
    key = config.original_key(sha)
    with ThreadPoolExecutor(2, thread_name_prefix="registry-put") as pool, \
            ExitStack() as stack:
        reader = spooled.second_reader() if source_key is None else spooled.file
        scan: Scan | None = None
        if reader is None:  # one handle only: decode first, then store
            scan = _render(render)
            reader = spooled.file
        elif reader is not spooled.file:
            stack.enter_context(reader)
        putting = pool.submit(_store_original, store, key, spooled, media_type, source_key,
                              reader)
        if scan is None:
            try:
                scan = _render(render)
            except DomainError:
                if putting.exception() is None:
                    _take_back(store, key)
                raise
        if putting.done():
            putting.result()  # the store already failed: no thumbnail is put
        puts = [putting, *(pool.submit(_put_thumbnail, store, config.thumbnail_key(sha, p.number),
                                       p) for p in scan.pages if p.thumbnail is not None)]
        try:
            session.execute(insert(StoredFile).values(
                sha256=sha, size=spooled.size, media_type=scan.media_type,
                page_count=scan.page_count, object_key=key,
                created_at=now).on_conflict_do_nothing())
            session.execute(insert(FilePage).values([
                {"file_sha256": sha, "page_no": p.number, "width": p.width,
                 "height": p.height,
                 "thumbnail_key": config.thumbnail_key(sha, p.number) if p.thumbnail
                 else None,
                 "thumbnail_sha256": p.thumbnail_sha256,
                 "thumbnail_size": p.thumbnail_size}
                for p in scan.pages]).on_conflict_do_nothing())
        finally:
            for done in puts:
                done.result()  # raises StorageUnavailable: the rows roll back
    # What was inserted (or, after a race, the same content as the row that won).
    return StoredFile(sha256=sha, size=spooled.size, media_type=scan.media_type,
                      page_count=scan.page_count, object_key=key, created_at=now)


def _stored_file(session: Session, store: Store, config: DocumentConfig, spooled: Spooled,
                 now: datetime, source_key: str | None = None,
                 ahead: ScanAhead | None = None) -> StoredFile:
    """The file row for this content: found (DOC-4) or made after checking it (DOC-3).
    `ahead` is the decoding begun while the file arrived (UPLOAD-5), if any."""
    lock_content(session, spooled.sha256)
    found = session.get(StoredFile, spooled.sha256)
    if found is not None:
        if ahead is not None:
            ahead.discard()
        return found
    try:  # pass 1: nothing written yet
        inspection = ahead.inspection() if ahead is not None else None
        if ahead is not None and inspection is not None:
            render = ahead.scan
        else:
            inspection = inspect(spooled.file, config.limits)
            render = inspection.render
    except ScanRefused as exc:
        raise _scan_refused(exc) from exc
    with storage_errors():
        return _put_file(session, store, config, spooled, inspection.media_type, render, now,
                         source_key)


def store_content(session: Session, store: Store, config: DocumentConfig, content: bytes,
                  now: datetime) -> StoredFile:
    """A file the registry made itself (a printed paper), stored like a scan: content-addressed,
    checked, deduplicated (DOC-3, DOC-4); STORAGE_UNAVAILABLE when the store fails."""
    spooled = spool_upload([content], config.max_bytes)
    try:
        return _stored_file(session, store, config, spooled, now)
    finally:
        spooled.file.close()


def _clean_name(name: str | None) -> str:
    """The client's file name, for people only: no directories, no control characters."""
    if not name:
        return ""
    base = PureWindowsPath(PurePosixPath(name).name).name
    return "".join(c for c in base if c.isprintable())[:255]


def _add_document(session: Session, actor: Principal, links: Links, kind: DocumentKind,
                  stored: StoredFile, file_name: str, now: datetime) -> Document:
    document = Document(file_sha256=stored.sha256, kind=kind, county_code=links.county_code,
                        application_id=links.application.id if links.application else None,
                        unit_id=links.unit_id, parcel_id=links.parcel_id,
                        nr_case_id=links.natural_case.id if links.natural_case else None,
                        file_name=_clean_name(file_name), uploaded_by=actor.user_id,
                        uploaded_at=now, removal_reason="")
    session.add(document)
    session.flush()
    return document


def _audit_details(document: Document, stored: StoredFile,
                   links: Links) -> dict[str, object]:
    # No file name: it may carry a person's name (personal data never reaches the logs).
    return {"kind": document.kind.value, "sha256": stored.sha256, "size": stored.size,
            "media_type": stored.media_type, "pages": stored.page_count,
            "application": links.application.number if links.application else None,
            "unit_id": links.unit_id, "parcel_id": links.parcel_id,
            "natural_case": links.natural_case.number if links.natural_case else None}


def _lock_document(session: Session, document_id: int) -> Document:
    document = session.scalar(select(Document).where(Document.id == document_id)
                              .with_for_update())
    if document is None:
        raise NotFound("要件", "document", str(document_id))
    return document


def _replace(session: Session, actor: Principal, old: Document, new: Document,
             now: datetime) -> None:
    old.removed_at = now
    old.removed_by = actor.user_id
    old.removal_reason = f"replaced by document {new.id}"
    old.replaced_by_id = new.id
    session.flush()


def _replaced_links(session: Session, actor: Principal,
                    document_id: int) -> tuple[Document, Links]:
    old = _lock_document(session, document_id)
    links = _links_of(session, actor, old.county_code, old.application_id, old.unit_id,
                      old.parcel_id, old.nr_case_id)
    if old.removed_at is not None:
        raise DomainError("DOCUMENT_REMOVED", "该要件已被删除或替换",
                          f"document {old.id} was removed or replaced already")
    return old, links


def upload(session: Session, principal: Principal | None, store: Store,
           config: DocumentConfig, spooled: Spooled, *, kind: DocumentKind | None,
           target: Target | None, file_name: str, now: datetime,
           request_id: str | None = None, replaces: int | None = None,
           ahead: ScanAhead | None = None) -> Document:
    """Path (a): a spooled upload becomes a Document (DOC-1..4, DOC-6); `ahead` is its
    decoding, if that began while it arrived."""
    actor = require(principal, *UPLOADERS)
    old = None
    if replaces is not None:
        old, links = _replaced_links(session, actor, replaces)
        kind = old.kind
    else:
        assert kind is not None and target is not None
        links = resolve_target(session, actor, target)
    if spooled.size > config.max_bytes:
        raise file_too_large(config.max_bytes)
    if spooled.size == 0:
        raise DomainError("DAMAGED_FILE", "文件为空", "the file is empty")
    stored = _stored_file(session, store, config, spooled, now, ahead=ahead)
    document = _add_document(session, actor, links, kind, stored, file_name, now)
    if old is not None:
        _replace(session, actor, old, document, now)
    details = _audit_details(document, stored, links)
    if old is not None:
        details["replaces"] = old.id
    audit(session, actor, "replaceDocument" if old else "uploadDocument",
          f"document:{document.id}", request_id, details)
    return document


# --------------------------------------------------------------------------- presigned path


@dataclass(frozen=True)
class UploadTicket:
    upload: PendingUpload
    url: str


def request_upload(session: Session, principal: Principal | None, store: Store,
                   config: DocumentConfig, *, kind: DocumentKind | None,
                   target: Target | None, size: int, sha256: str, file_name: str,
                   now: datetime, request_id: str | None = None,
                   replaces: int | None = None) -> UploadTicket:
    """Path (b), first half: a presigned PUT for exactly these bytes (size and SHA-256)."""
    actor = require(principal, *UPLOADERS)
    sha = sha256.strip().lower()
    if not _SHA256.match(sha):
        raise InvalidInput("INVALID_CHECKSUM", "SHA-256 须为64位十六进制",
                           "sha256 must be 64 hexadecimal digits")
    if size <= 0:
        raise InvalidInput("INVALID_SIZE", "文件大小须大于0", "size must be above 0")
    if size > config.max_bytes:
        raise file_too_large(config.max_bytes)
    if replaces is not None:
        old, links = _replaced_links(session, actor, replaces)
        kind = old.kind
    else:
        assert kind is not None and target is not None
        links = resolve_target(session, actor, target)
    upload_id = secrets.token_hex(16)
    pending = PendingUpload(
        id=upload_id, object_key=config.incoming_key(upload_id), size=size, sha256=sha,
        kind=kind, county_code=links.county_code,
        application_id=links.application.id if links.application else None,
        unit_id=links.unit_id, parcel_id=links.parcel_id,
        nr_case_id=links.natural_case.id if links.natural_case else None, replaces_id=replaces,
        file_name=_clean_name(file_name), requested_by=actor.user_id, requested_at=now,
        expires_at=now + config.upload_expiry)
    session.add(pending)
    session.flush()
    url = store.presigned_put_url(pending.object_key, config.upload_expiry, b64_of(sha),
                                  request_date=now)
    audit(session, actor, "requestUpload", f"upload:{upload_id}", request_id,
          {"kind": kind.value, "size": size, "sha256": sha})
    return UploadTicket(upload=pending, url=url)


def complete_upload(session: Session, principal: Principal | None, store: Store,
                    config: DocumentConfig, upload_id: str, now: datetime,
                    request_id: str | None = None) -> Document:
    """Path (b), second half: what landed is measured and hashed before it is linked."""
    actor = require(principal, *UPLOADERS)
    pending = session.scalar(select(PendingUpload).where(PendingUpload.id == upload_id[:32])
                             .with_for_update())
    if pending is None:
        raise NotFound("上传", "upload", upload_id[:32])
    if pending.requested_by != actor.user_id:
        raise Forbidden("only who requested an upload completes it", "只能完成本人申请的上传")
    if pending.document_id is not None:  # completed before: the same answer again
        done = session.get(Document, pending.document_id)
        assert done is not None
        return done
    if now > pending.expires_at:
        raise DomainError("UPLOAD_EXPIRED", "上传已过期，请重新申请",
                          "the upload expired; request a new one")
    old = None
    if pending.replaces_id is not None:
        old, links = _replaced_links(session, actor, pending.replaces_id)
    else:
        links = _links_of(session, actor, pending.county_code, pending.application_id,
                          pending.unit_id, pending.parcel_id, pending.nr_case_id)
    with storage_errors():
        landed = store.stat(pending.object_key)
        if landed is None:
            raise DomainError("UPLOAD_NOT_RECEIVED", "尚未收到上传的文件",
                              "nothing has been uploaded to the URL yet")
        if landed.size != pending.size:
            raise DomainError("SIZE_MISMATCH", "收到的文件大小与申请不符",
                              f"received {landed.size} bytes, expected {pending.size}",
                              {"expected": pending.size, "received": landed.size})
        try:
            spooled = spool(store.iter_chunks(pending.object_key), pending.size,
                            expected_size=pending.size)
        except TooLarge as exc:
            raise DomainError("SIZE_MISMATCH", "收到的文件大小与申请不符",
                              "received more bytes than declared") from exc
    with spooled:
        if spooled.sha256 != pending.sha256 or spooled.size != pending.size:
            raise DomainError("CHECKSUM_MISMATCH", "收到的文件与申请的SHA-256不符",
                              "the uploaded bytes do not have the declared SHA-256")
        stored = _stored_file(session, store, config, spooled, now,
                              source_key=pending.object_key)
    document = _add_document(session, actor, links, pending.kind, stored, pending.file_name,
                             now)
    if old is not None:
        _replace(session, actor, old, document, now)
    pending.completed_at = now
    pending.document_id = document.id
    session.flush()
    audit(session, actor, "completeUpload", f"document:{document.id}", request_id,
          {**_audit_details(document, stored, links), "upload": pending.id})
    try:  # the staging copy is no longer needed; if this fails it is an orphan for repair
        store.delete(pending.object_key)
    except StorageUnavailable as exc:
        log.warning("could not delete %s after completion: %s", pending.object_key, exc)
    return document


# --------------------------------------------------------------------------- removal


def remove_document(session: Session, principal: Principal | None, document_id: int,
                    reason: str, now: datetime, request_id: str | None = None) -> Document:
    """Mark a document removed (it stays, with who and why); DOC-6 for recorded cases."""
    actor = require(principal, *UPLOADERS)
    document, _ = _replaced_links(session, actor, document_id)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("REASON_REQUIRED", "须填写理由", "removing a document needs a reason")
    document.removed_at = now
    document.removed_by = actor.user_id
    document.removal_reason = reason[:500]
    session.flush()
    audit(session, actor, "removeDocument", f"document:{document.id}", request_id,
          {"kind": document.kind.value})
    return document


# --------------------------------------------------------------------------- requirements


def required_kinds(session: Session, kind: ApplicationKind) -> list[DocumentKind]:
    return list(session.scalars(select(DocumentRequirement.document_kind)
                                .where(DocumentRequirement.application_kind == kind)
                                .order_by(DocumentRequirement.document_kind)))


def missing_kinds(session: Session, application_ids: Sequence[int]) -> dict[int, list[str]]:
    """For each case, the required kinds it does not carry (one statement for all)."""
    rows = session.execute(text("""
        SELECT a.id, r.document_kind::text AS kind
          FROM applications a
          JOIN document_requirements r ON r.application_kind = a.kind
         WHERE a.id = ANY(:ids)
           AND NOT EXISTS (SELECT 1 FROM documents d
                            WHERE d.application_id = a.id AND d.kind = r.document_kind
                              AND d.removed_at IS NULL)
         ORDER BY a.id, r.document_kind
    """), {"ids": list(application_ids)}).all()
    found: dict[int, list[str]] = {i: [] for i in application_ids}
    for row in rows:
        found[row.id].append(row.kind)
    return found


def require_documents(session: Session, application: Application) -> None:
    """DOC-5: called at acceptance, under the case's row lock."""
    missing = missing_kinds(session, [application.id])[application.id]
    if missing:
        raise DomainError("MISSING_DOCUMENTS",
                          f"业务{application.number}缺少要件："
                          f"{'、'.join(DocumentKind(k).label_zh for k in missing)}",
                          f"case {application.number} lacks documents: {', '.join(missing)}",
                          {"missing": [DocumentKind(k).name for k in missing]})


# What a natural-resource case's survey step requires (NRCASE-8); the others carry none.
NATURAL_SURVEY_KINDS: tuple[DocumentKind, ...] = (DocumentKind.SURVEY_RESULT,)


def missing_natural_kinds(session: Session, case_id: int,
                          kinds: Sequence[DocumentKind] = NATURAL_SURVEY_KINDS) -> list[str]:
    """The kinds a natural-resource case does not carry as current documents."""
    present = set(session.scalars(select(Document.kind).where(
        Document.nr_case_id == case_id, Document.removed_at.is_(None),
        Document.kind.in_(list(kinds)))))
    return sorted(k.value for k in kinds if k not in present)


def require_natural_documents(session: Session, case: NaturalCase,
                              kinds: Sequence[DocumentKind] = NATURAL_SURVEY_KINDS) -> None:
    """NRCASE-8: called by the survey step, under the case's row lock; MISSING_DOCUMENTS with
    `details.missing` as DOC-5's."""
    missing = missing_natural_kinds(session, case.id, kinds)
    if missing:
        raise DomainError("MISSING_DOCUMENTS",
                          f"自然资源登记业务{case.number}缺少要件："
                          f"{'、'.join(DocumentKind(k).label_zh for k in missing)}",
                          f"natural-resource case {case.number} lacks documents: "
                          f"{', '.join(missing)}",
                          {"missing": [DocumentKind(k).name for k in missing]})


def set_requirements(session: Session, principal: Principal | None, kind: ApplicationKind,
                     document_kinds: Sequence[DocumentKind],
                     request_id: str | None = None) -> list[DocumentKind]:
    """Replace what a kind of case requires (admin only; cases already accepted keep theirs)."""
    actor = require(principal, Role.ADMIN)
    wanted = sorted(set(document_kinds))
    before = required_kinds(session, kind)
    session.execute(delete(DocumentRequirement)
                    .where(DocumentRequirement.application_kind == kind))
    session.add_all(DocumentRequirement(application_kind=kind, document_kind=k) for k in wanted)
    session.flush()
    audit(session, actor, "setDocumentRequirements", kind.value, request_id,
          {"before": [k.value for k in before], "after": [k.value for k in wanted]})
    return wanted


def all_requirements(session: Session) -> dict[ApplicationKind, list[DocumentKind]]:
    table: dict[ApplicationKind, list[DocumentKind]] = {k: [] for k in ApplicationKind}
    for row in session.execute(select(DocumentRequirement).order_by(
            DocumentRequirement.application_kind, DocumentRequirement.document_kind)).scalars():
        table[row.application_kind].append(row.document_kind)
    return table


# --------------------------------------------------------------------------- reading

# The natural-resource case a document links to (DOC-8), beside what document_reads gives.
_NATURAL_JSON = (f"({DOCUMENT_JSON})::jsonb || jsonb_build_object("
                 "'natural_case_number', c.number, 'natural_case_state', c.state)")
_NATURAL_FROM = FROM + " LEFT JOIN nr_cases c ON c.id = d.nr_case_id"


def document_row(session: Session, document_id: int) -> dict[str, Any] | None:
    """One document as the API shows it, with its natural-resource case if any."""
    row = session.execute(text(f"SELECT {_NATURAL_JSON} AS doc {_NATURAL_FROM}"
                               " WHERE d.id = :id"), {"id": document_id}).first()
    return row.doc if row else None


def documents_of_natural_cases(session: Session, numbers: Sequence[str],
                               include_removed: bool = False) -> dict[str, list[dict[str, Any]]]:
    """The documents of each natural-resource case, by case number (one statement for all);
    scope is the caller's, as in document_reads."""
    removed = "" if include_removed else " AND d.removed_at IS NULL"
    rows = session.execute(text(
        f"SELECT c.number AS owner, {_NATURAL_JSON} AS doc {_NATURAL_FROM}"
        f" WHERE c.number = ANY(:numbers){removed} ORDER BY owner, d.uploaded_at, d.id"),
        {"numbers": list(numbers)}).all()
    found: dict[str, list[dict[str, Any]]] = {n: [] for n in numbers}
    for row in rows:
        found[row.owner].append(row.doc)
    return found
