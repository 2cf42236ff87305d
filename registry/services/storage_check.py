"""`registry storage check`: do the bucket and the rows agree? (DOC-1, DOC-2)

- missing: a row names a key that is not in the bucket;
- corrupted: the object is there but its size or SHA-256 differs from the row's (every
  referenced object is read back and hashed: checksums are verified on read);
- orphan: an object under the documents prefix that no row names and no upload in flight
  expects (left by an upload that failed after a put, or a presigned PUT never completed).

`repair` removes orphans older than the grace period. Each removal takes the content's advisory
lock exclusively and checks again that no row names the key, so an upload linking the same
content at that moment either finishes first (and the object stays) or waits and puts it anew.
Missing and corrupted objects are reported, never "repaired": the original is evidence and only
a person can bring it back.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from registry.db.session import transaction
from registry.services.documents import DocumentConfig, lock_content
from storage import ObjectInfo, Store
from storage.spool import sha256_of

_CONTENT = re.compile(r"(?:originals/[0-9a-f]{2}|thumbnails)/([0-9a-f]{64})(?:/|$)")


@dataclass
class StorageReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    orphans: list[ObjectInfo] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not (self.missing or self.corrupted)


def _referenced(session: Session) -> dict[str, tuple[str, int]]:
    """Every key a row names, with the SHA-256 and size it must have."""
    rows = session.execute(text("""
        SELECT object_key AS key, sha256, size FROM document_files
        UNION ALL
        SELECT thumbnail_key, thumbnail_sha256, thumbnail_size FROM document_pages
         WHERE thumbnail_key IS NOT NULL
    """)).all()
    return {row.key: (row.sha256, int(row.size)) for row in rows}


def _in_flight(session: Session, now: datetime) -> set[str]:
    return set(session.scalars(text(
        "SELECT object_key FROM document_uploads WHERE completed_at IS NULL"
        " AND expires_at > :now"), {"now": now}))


def _still_unreferenced(session: Session, key: str, now: datetime) -> bool:
    return session.scalar(text("""
        SELECT NOT EXISTS (SELECT 1 FROM document_files WHERE object_key = :key)
           AND NOT EXISTS (SELECT 1 FROM document_pages WHERE thumbnail_key = :key)
           AND NOT EXISTS (SELECT 1 FROM document_uploads WHERE object_key = :key
                             AND completed_at IS NULL AND expires_at > :now)
    """), {"key": key, "now": now}) is True


# Called as objects are verified: (objects done, objects to do, bytes done, bytes to do).
Progress = Callable[[int, int, int, int], None]


def _intact(store: Store, key: str, info: ObjectInfo, sha256: str, size: int) -> bool:
    return info.size == size and sha256_of(store.iter_chunks(key)) == (sha256, size)


def check_storage(sessions: sessionmaker[Session], store: Store, config: DocumentConfig,
                  now: datetime, *, repair: bool = False,
                  grace: timedelta = timedelta(hours=24), jobs: int = 4,
                  progress: Progress | None = None) -> StorageReport:
    """The report; `jobs` objects are read back and hashed at a time."""
    report = StorageReport()
    with sessions() as session:
        referenced = _referenced(session)
        in_flight = _in_flight(session, now)
    objects = {info.key: info for info in store.list_objects(config.prefix)}
    present = []
    for key, (sha256, size) in sorted(referenced.items()):
        info = objects.get(key)
        if info is None:
            report.missing.append(key)
        else:
            present.append((key, info, sha256, size))
    total_bytes = sum(info.size for _, info, _, _ in present)
    done_bytes = 0
    with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="registry-check") as pool:
        window: deque[tuple[str, int, Future[bool]]] = deque()  # in order, a few per job

        def settle() -> None:
            nonlocal done_bytes
            key, size, intact = window.popleft()
            report.checked += 1
            done_bytes += size
            if not intact.result():
                report.corrupted.append(key)
            if progress is not None:
                progress(report.checked, len(present), done_bytes, total_bytes)

        for key, info, sha256, size in present:
            if len(window) >= 4 * max(1, jobs):
                settle()
            window.append((key, info.size,
                           pool.submit(_intact, store, key, info, sha256, size)))
        while window:
            settle()
    for key, info in sorted(objects.items()):
        if key not in referenced and key not in in_flight:
            report.orphans.append(info)
    if repair:
        for info in report.orphans:
            age = now - info.last_modified if info.last_modified else timedelta.max
            if age < grace:
                continue
            with transaction(sessions) as session:
                match = _CONTENT.search(info.key)
                if match:
                    lock_content(session, match.group(1))
                if _still_unreferenced(session, info.key, now):
                    store.delete(info.key)
                    report.removed.append(info.key)
    return report
