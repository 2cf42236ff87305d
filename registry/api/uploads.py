"""Receiving GraphQL multipart requests (upload path (a)): files are spooled and hashed as
their bytes arrive, so the service gets a file whose size and SHA-256 are already known.

Strawberry reads a multipart body through its request adapter's `get_form_data`; this module
provides that method. Compared with Starlette's form parser, which keeps the first megabyte in
memory, then copies it to disk and hands every later chunk to a worker thread, it writes each
chunk once, straight to a temporary file, from the event loop (a write to the page cache of at
most one received chunk), and hashes it on the way: the file is never read back to be hashed.

- UPLOAD-3 A file part is spooled to a temporary file while it is measured and hashed; the
  request closes (deletes) it when it ends, whatever happened.
- UPLOAD-4 A file part larger than DOCUMENT_MAX_BYTES is not kept: the rest of its bytes are
  read and dropped, and the mutation answers FILE_TOO_LARGE (the whole body is also bounded,
  UPLOAD-2 in registry/app.py). Other fields are small: at most FIELD_MAX_BYTES each, at most
  MAX_PARTS parts in all; beyond that, or when the body is not multipart at all, the request is
  refused as unparseable (HTTP 400).
- UPLOAD-5 A JPEG or PNG sent by someone who may upload starts being decoded (pass 1 and
  pass 2 of storage/scans.py) as soon as its first bytes are in, in a thread that reads the
  spooled bytes as they arrive (storage/arriving.py); the service takes up the result. It
  writes nothing anywhere, so the rules about what is checked before the first write to the
  bucket (DOC-3) are unchanged.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import python_multipart
from cross_web.request import FormData, StarletteRequestAdapter
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from registry.config import Settings
from storage.arriving import ArrivingFile
from storage.scans import AHEAD_FORMATS, ScanAhead, sniff
from storage.spool import Spooled, scratch_file

FIELD_MAX_BYTES = 1024 * 1024
MAX_PARTS = 32
STATE_KEY = "received_files"  # in the ASGI scope's state: the files to close at the end


class MultipartRefused(ValueError):
    """The body is not a multipart request we accept (answered as HTTP 400)."""


# Starts decoding a file whose first bytes name a format read front to back (or answers None).
StartAhead = Callable[[ArrivingFile], ScanAhead | None]


@dataclass
class ReceivedFile:
    """A file part of a multipart request: spooled, measured and hashed (UPLOAD-3), or, past
    the size limit, only measured (UPLOAD-4). `ahead` is its decoding, when that could start
    while the bytes were still arriving (UPLOAD-5)."""

    filename: str  # for people only (never used to decide what the file is)
    expected_size: int | None  # the request's Content-Length, an upper bound
    start_ahead: StartAhead | None = field(default=None, repr=False)
    size: int = 0
    too_large: bool = False
    ahead: ScanAhead | None = field(default=None, repr=False)
    _file: BinaryIO | None = field(default=None, repr=False)
    _arriving: ArrivingFile | None = field(default=None, repr=False)
    _digest: Any = field(default_factory=hashlib.sha256, repr=False)
    _sha256: str = ""

    def write(self, data: bytes, limit: int) -> None:
        self.size += len(data)
        if self.too_large:
            return
        if self.size > limit:
            self.too_large = True
            self.close()
            return
        self._digest.update(data)
        if self._file is None:
            self._file = scratch_file(self.expected_size)
            if self.start_ahead is not None and sniff(data[:16]) in AHEAD_FORMATS:
                self._arriving = ArrivingFile(self._file)
                self.ahead = self.start_ahead(self._arriving)
        if self._arriving is not None:
            self._arriving.write(data)
        else:
            self._file.write(data)

    def finish(self) -> None:
        self._sha256 = self._digest.hexdigest()
        if self._arriving is not None:
            self._arriving.complete()
        if self._file is not None:
            self._file.seek(0)

    def spooled(self) -> Spooled:
        """The received bytes for the documents service (closed by the request, not by it)."""
        if self._file is None:  # an empty part: nothing was written
            self._file = scratch_file(0)
        return Spooled(file=self._file, size=self.size, sha256=self._sha256, owned=False)

    def close(self) -> None:
        if self._arriving is not None:
            self._arriving.abandon()  # a decoding still under way stops at its next read
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class _Part:
    name: str = ""
    file: ReceivedFile | None = None
    data: bytearray = field(default_factory=bytearray)
    disposition: bytes = b""


class _Receiver:
    """python-multipart's callbacks, collecting fields and spooling files."""

    def __init__(self, file_limit: int, charset: str, received: list[ReceivedFile],
                 body_size: int | None, start_ahead: StartAhead | None) -> None:
        self.file_limit = file_limit
        self.body_size = body_size
        self.start_ahead = start_ahead
        self.charset = charset
        self.received = received
        self.fields: dict[str, str] = {}
        self.files: dict[str, ReceivedFile] = {}
        self.part = _Part()
        self.parts = 0
        self.header_name = b""
        self.header_value = b""

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished}

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise MultipartRefused(f"more than {MAX_PARTS} parts")
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]
        if len(self.header_value) > FIELD_MAX_BYTES:
            raise MultipartRefused("a part header is too long")

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.part.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.disposition)
        if b"name" not in options:
            raise MultipartRefused('a part without Content-Disposition "name"')
        self.part.name = self._decode(options[b"name"])
        if b"filename" in options:
            self.part.file = ReceivedFile(filename=self._decode(options[b"filename"]),
                                          expected_size=self.body_size,
                                          start_ahead=self.start_ahead)
            self.received.append(self.part.file)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.file is not None:
            self.part.file.write(data[start:end], self.file_limit)
            return
        self.part.data += data[start:end]
        if len(self.part.data) > FIELD_MAX_BYTES:
            raise MultipartRefused(f"field {self.part.name!r} is larger than "
                                   f"{FIELD_MAX_BYTES} bytes")

    def on_part_end(self) -> None:
        if self.part.file is not None:
            self.part.file.finish()
            self.files[self.part.name] = self.part.file
        else:
            self.fields[self.part.name] = self._decode(bytes(self.part.data))

    def _decode(self, value: bytes) -> str:
        try:
            return value.decode(self.charset)
        except UnicodeDecodeError as exc:
            raise MultipartRefused("a field is not valid text") from exc


class StreamingRequestAdapter(StarletteRequestAdapter):
    """Strawberry's Starlette adapter, with multipart bodies received by `_Receiver` (files
    up to DOCUMENT_MAX_BYTES, read from `settings` at each request). `scan_ahead` says, for
    this request, how to start decoding a file as it arrives, if at all."""

    def __init__(self, request: Request, settings: Settings,
                 scan_ahead: Callable[[Request], StartAhead | None]) -> None:
        super().__init__(request)
        self.settings = settings
        self.scan_ahead = scan_ahead

    async def get_form_data(self) -> FormData:
        request = self._request
        _, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if not boundary:
            raise MultipartRefused("no multipart boundary")
        charset = params.get(b"charset", b"utf-8").decode("latin-1")
        try:
            charset = codecs.lookup(charset).name
        except LookupError:
            charset = "latin-1"
        received: list[ReceivedFile] = request.scope.setdefault("state", {}).setdefault(
            STATE_KEY, [])
        declared = request.headers.get("content-length", "")
        receiver = _Receiver(self.settings.document_max_bytes, charset, received,
                             int(declared) if declared.isdigit() else None,
                             self.scan_ahead(request))
        parser = python_multipart.MultipartParser(boundary, receiver.callbacks())
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        except python_multipart.exceptions.FormParserError as exc:
            raise MultipartRefused("not a well-formed multipart body") from exc
        return FormData(files=receiver.files, form=receiver.fields)


def close_received(scope: dict[str, Any]) -> None:
    """UPLOAD-3: delete the temporary files of this request's uploads."""
    for received in scope.get("state", {}).pop(STATE_KEY, []):
        received.close()
