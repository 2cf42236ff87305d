"""Streams to temporary files, hashed and measured on the way, never held in memory whole.

An upload is spooled once, hashed on the way; everything after that — type sniffing,
thumbnails, the PUT — reads the file in chunks.

A file of at most IN_MEMORY_MAX bytes is spooled to anonymous memory (memfd) rather than to
disk: a scan of a few megabytes then costs no inode in the temporary directory (creating and
deleting one per upload is a measurable part of ingesting small scans on ext4). Larger files,
or files of unknown size, go to disk, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1024 * 1024
IN_MEMORY_MAX = 16 * 1024 * 1024


class TooLarge(Exception):
    """More than `limit` bytes arrived (FILE_TOO_LARGE)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass
class Spooled:
    """A seekable file positioned at 0, with its size and SHA-256."""

    file: BinaryIO
    size: int
    sha256: str  # lowercase hex
    owned: bool = True  # we made the temporary file, so we close it

    @property
    def sha256_b64(self) -> str:
        """The digest as `x-amz-checksum-sha256` wants it."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(CHUNK):
            yield chunk
        self.file.seek(0)

    def second_reader(self) -> BinaryIO | None:
        """Another handle on the same bytes with a position of its own, so that one thread
        can PUT the file while another decodes it; None where that is not possible."""
        try:
            descriptor = self.file.fileno()  # a SpooledTemporaryFile moves to disk here
        except (AttributeError, OSError, io.UnsupportedOperation):
            return None
        path = f"/proc/self/fd/{descriptor}"  # Linux: a new open file description
        return open(path, "rb") if os.path.exists(path) else None

    def close(self) -> None:
        if self.owned:
            self.file.close()

    def __enter__(self) -> Spooled:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scratch_file(expected_size: int | None) -> BinaryIO:
    """A new, empty, readable and writable file, deleted when closed: in memory for at most
    IN_MEMORY_MAX expected bytes where the system has memfd (Linux), else on disk."""
    if expected_size is not None and expected_size <= IN_MEMORY_MAX and hasattr(
            os, "memfd_create"):
        descriptor = os.memfd_create("registry-spool", os.MFD_CLOEXEC)
        return open(descriptor, "w+b")
    return tempfile.TemporaryFile(prefix="registry-spool-")


def spool(chunks: Iterable[bytes], limit: int, expected_size: int | None = None) -> Spooled:
    """Write `chunks` to a scratch file while hashing; TooLarge past `limit` bytes."""
    digest = hashlib.sha256()
    size = 0
    file = scratch_file(expected_size)
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise TooLarge(limit)
            digest.update(chunk)
            file.write(chunk)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return Spooled(file=file, size=size, sha256=digest.hexdigest())  # type: ignore[arg-type]


def sha256_of(chunks: Iterable[bytes]) -> tuple[str, int]:
    """SHA-256 (hex) and length of a stream, e.g. an object read back from the store."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        digest.update(chunk)
    return digest.hexdigest(), size


def b64_of(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()
