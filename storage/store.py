"""The storage interface the services use. Keys are chosen by callers; content is bytes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO, Protocol


class StorageUnavailable(RuntimeError):
    """The object store could not be reached or refused the operation (STORAGE_UNAVAILABLE)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str | None
    last_modified: datetime | None = None


class Store(Protocol):
    """What the registry needs from object storage; S3Store is the implementation."""

    bucket: str

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet."""

    def ping(self) -> None:
        """Raise StorageUnavailable unless the server answers and the bucket exists."""

    def check_writable(self) -> None:
        """Write, read back and delete a probe object; raise StorageUnavailable otherwise."""

    def put(self, key: str, data: BinaryIO, length: int, *, sha256_b64: str | None = None,
            content_type: str = "application/octet-stream") -> None:
        """Store `length` bytes read from `data` under `key` (length -1: unknown, streamed)."""

    def stat(self, key: str) -> ObjectInfo | None:
        """Size and type of `key`, or None when it does not exist."""

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The object's content in chunks, without holding it all in memory."""

    def delete(self, key: str) -> None:
        """Remove `key` (no error when it is already gone)."""

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under `prefix`."""

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under `prefix`, with its size and last-modified time."""

    def copy(self, source: str, target: str) -> None:
        """Copy `source` to `target` inside the bucket, on the server (no bytes pass through us)."""

    def presigned_get_url(self, key: str, expires: timedelta,
                          request_date: datetime | None = None) -> str:
        """A URL anyone holding it may GET until `request_date` (default now) + `expires`."""

    def presigned_put_url(self, key: str, expires: timedelta, sha256_b64: str,
                          request_date: datetime | None = None) -> str:
        """A URL to PUT `key` once; the checksum is signed into it, so other bytes are refused."""
