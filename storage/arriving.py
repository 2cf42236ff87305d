"""A scratch file that is read while it is still being written.

An upload's bytes are spooled as they come in from the network; a decoder in another thread can
start on them at once instead of waiting for the last byte (storage/scans.py, `ScanAhead`).

- ARRIVE-1 A reader never sees bytes that have not arrived: `read(n)` waits until `n` bytes
  past its position have been written, or the file is complete (then it returns what there is,
  as a file at its end does). Reads are full, as from a regular file, so parsers that read a
  header field by field work unchanged.
- ARRIVE-2 A reader of an abandoned file (the request failed or ended) gets `Abandoned` from its
  next read instead of waiting forever.
- ARRIVE-3 Each reader holds its own descriptor (a duplicate), so closing the writer's file,
  or a descriptor number being reused, never makes a reader read someone else's bytes.
"""

from __future__ import annotations

import os
import threading
from typing import BinaryIO


class Abandoned(OSError):
    """The file will not be completed (ARRIVE-2)."""


class ArrivingFile:
    """Written by one thread (`write`, then `complete` or `abandon`), read by others."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self._size = 0
        self._complete = False
        self._abandoned = False
        self._changed = threading.Condition()
        self._waiting_for: list[int] = []  # the sizes readers wait for (wake them only then)

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.file.flush()  # visible to readers' pread from here on
        with self._changed:
            self._size += len(data)
            if any(end <= self._size for end in self._waiting_for):
                self._changed.notify_all()

    def complete(self) -> None:
        with self._changed:
            self._complete = True
            self._changed.notify_all()

    def abandon(self) -> None:
        with self._changed:
            self._abandoned = True
            self._changed.notify_all()

    def reader(self) -> ArrivingReader:
        return ArrivingReader(self, os.dup(self.file.fileno()))

    def _wait_for(self, end: int | None) -> int:
        """The size once `end` bytes (None: all of them) have arrived, or the file is done."""
        with self._changed:
            while not self._abandoned and not self._complete and (
                    end is None or self._size < end):
                if end is not None:
                    self._waiting_for.append(end)
                try:
                    self._changed.wait()
                finally:
                    if end is not None:
                        self._waiting_for.remove(end)
            if self._abandoned:
                raise Abandoned("the upload was abandoned")
            return self._size


class ArrivingReader:
    """A read-only, seekable view of an ArrivingFile with a position of its own. It has no
    `fileno()`, so no library reads around it (ARRIVE-1)."""

    def __init__(self, source: ArrivingFile, descriptor: int) -> None:
        self._source = source
        self._descriptor = descriptor
        self._position = 0
        self.closed = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._position
        elif whence == os.SEEK_END:
            offset += self._source._wait_for(None)
        if offset < 0:
            raise ValueError("negative seek position")
        self._position = offset
        return offset

    def wait_until_complete(self) -> None:
        """Until every byte has arrived (or `Abandoned`, ARRIVE-2)."""
        self._source._wait_for(None)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            end = self._source._wait_for(None)
        else:
            end = min(self._position + size, self._source._wait_for(self._position + size))
        if end <= self._position:
            return b""
        data = os.pread(self._descriptor, end - self._position, self._position)
        self._position += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._descriptor)

    def __enter__(self) -> ArrivingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
