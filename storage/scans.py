"""Scan processing: what a file really is, how many pages it has, a thumbnail per page.

Pillow decodes JPEG, PNG and TIFF; pypdf (pure Python) reads a PDF's structure. Pure: reads
only the file handed in; thumbnails are JPEG bytes in memory (a few kilobytes a page, at most
`max_pages` of them), so no temporary file is made.

- SCAN-1 The type comes from the content: magic bytes pick the one decoder allowed to parse the
  file, and the parse must succeed. File names and declared content types are never consulted;
  anything else is UNSUPPORTED_TYPE.
- SCAN-2 Limits are checked from headers before any pixel is decoded: at most `max_pages`
  pages (TOO_MANY_PAGES), at most `max_pixels` per page (IMAGE_TOO_LARGE), so decompression
  bombs never reach a decoder. Decoding errors found later are DAMAGED_FILE.
- SCAN-3 One page at a time: a multi-page TIFF is decoded page after page, each released before
  the next; JPEG is decoded at reduced scale (draft). Memory is bounded by one page, not by
  the file.
- SCAN-4 Derived images apply the EXIF orientation (a PDF page's /Rotate), and a page's width
  and height are those of the upright image (a phone photo with Orientation 6 held upright
  reports portrait sizes); originals are never touched.
- SCAN-5 Decoded pixels are bounded per process, not per request: before a page is decoded it
  reserves, from the process's `DecodeBudget`, the bytes its pixels will take (from pass 1's
  sizes: width × height × Pillow's bytes per pixel — four, the most, for a TIFF's pages,
  whose modes are not read yet — at the JPEG draft's scale, plus the reduced copy), and
  waits, first come first served, while the reservations of other decodes leave too little
  (one larger than the whole budget waits until it runs alone). A service of several worker
  processes shares one budget: each worker holds an equal share, and a page larger than a
  worker's share also takes the service-wide gate (an exclusive `flock` on a file all the
  workers name), so the service holds at most one such page plus the other workers' shares.
  PNG cannot be decoded
  reduced, so a mode conversion is done band by band, never as a second full-size copy; the
  decoded page is closed and the allocator's free memory returned to the system
  (`malloc_trim`) before the reservation ends. A decode that still reads a file as it arrives
  (`ScanAhead`) takes a reservation above an eighth of the budget only once the last byte is
  in, so a slow sender holds at most that much of it for each read-ahead thread.
- PDF thumbnails: a scanned PDF page carries its scan as an image; the largest image of each
  page is thumbnailed. Pages drawn only with text or vector graphics get no thumbnail — that
  needs a PDF renderer (pdfium, poppler), which has no pure-Python form.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import io
import math
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from PIL import Image, UnidentifiedImageError

from storage.arriving import ArrivingFile

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff",
               "PDF": "application/pdf"}
# Bytes handed to a decoder at a time (Pillow's default is 64 KiB). Fewer, larger blocks mean
# fewer times a decoding thread must take the interpreter lock back from the request threads.
DECODE_BLOCK = 1024 * 1024
# Errors Pillow raises on files that claim a format but do not hold it.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                  IndexError, KeyError, TypeError, ZeroDivisionError)
# EXIF orientation (tag 0x0112) → the transposition that puts the image upright.
_UPRIGHT = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
            4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
            6: [Image.Transpose.ROTATE_270], 7: [Image.Transpose.TRANSVERSE],
            8: [Image.Transpose.ROTATE_90]}
_QUARTER_TURNS = frozenset({5, 6, 7, 8})  # orientations that swap width and height


MIB = 1024 * 1024
DECODE_MEMORY = 384 * MIB  # the DOCUMENT_DECODE_MEMORY_MB default (SCAN-5)
BAND_BYTES = 16 * MIB  # a band of a page converted at a time (SCAN-5)
TRIM_BYTES = 16 * MIB  # after a decode this large, free memory goes back to the system


def _malloc_trim() -> Callable[[], None]:
    """glibc's malloc_trim(0), or nothing where there is none. Pillow's 16 MiB blocks come
    from the decoding thread's arena; freed, they stay the process's until trimmed."""
    if not sys.platform.startswith("linux"):
        return lambda: None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl and others
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def trimmed() -> None:
        trim(0)

    return trimmed


_trim = _malloc_trim()


class DecodeBudget:
    """SCAN-5: the bytes of decoded pixels this process may hold at once, shared by every
    decoding thread; reservations are granted in the order they were asked for."""

    def __init__(self, capacity: int, gate: str | None = None) -> None:
        if capacity <= 0:
            raise ValueError("a decode budget needs a positive capacity")
        self.capacity = capacity
        self.gate = gate  # the service-wide lock file for decodes above `capacity`
        self.in_use = 0
        self.peak = 0  # the most reserved at once so far (for tests and benchmarks)
        self._changed = threading.Condition()
        self._queue: deque[object] = deque()

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[int]:
        """Hold `nbytes` (at most the whole budget) while the block runs; yields the amount
        held. On the way out, memory freed by a large decode is returned to the system."""
        held = max(0, min(nbytes, self.capacity))
        ticket = object()
        with self._changed:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self.in_use + held > self.capacity:
                    self._changed.wait()
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()  # the next in line may fit now
            self.in_use += held
            self.peak = max(self.peak, self.in_use)
        gate = _take_gate(self.gate) if self.gate and nbytes > self.capacity else None
        try:
            yield held
        finally:
            if gate is not None:
                os.close(gate)  # releases the flock
            if held >= TRIM_BYTES:
                _trim()
            with self._changed:
                self.in_use -= held
                self._changed.notify_all()


def _take_gate(path: str) -> int:
    """SCAN-5's service-wide gate: an exclusive flock on `path`, held by the returned fd."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


_budgets: dict[tuple[int, str | None], DecodeBudget] = {}
_budgets_lock = threading.Lock()


def process_budget(capacity: int = DECODE_MEMORY, gate: str | None = None) -> DecodeBudget:
    """The process's decode budget of this capacity (one per capacity and gate: a process is
    configured with one)."""
    with _budgets_lock:
        return _budgets.setdefault((capacity, gate), DecodeBudget(capacity, gate))


def pixel_bytes(mode: str, size: tuple[int, int]) -> int:
    """What Pillow allocates for an image of this mode and size: one byte a pixel for
    1, L and P, two for I;16, four for everything else (RGB is stored as RGBX)."""
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    return size[0] * size[1] * per_pixel


class ScanRefused(Exception):
    """The file is not a scan we accept; `code` is the client-facing error code."""

    def __init__(self, code: str, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class Limits:
    max_pixels: int = 80_000_000
    max_pages: int = 1000
    thumbnail_px: int = 320
    budget: DecodeBudget = field(default_factory=process_budget, compare=False)


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    width: int | None  # pixels of the scanned image (None: a PDF page without one)
    height: int | None
    thumbnail: bytes | None = field(default=None, repr=False)  # a JPEG
    thumbnail_sha256: str | None = None

    @property
    def thumbnail_size(self) -> int | None:
        return len(self.thumbnail) if self.thumbnail is not None else None


@dataclass(frozen=True)
class Scan:
    """The result of processing one file."""

    media_type: str
    pages: list[Page]

    @property
    def page_count(self) -> int:
        return len(self.pages)


def sniff(head: bytes) -> str | None:
    """The format named by the first bytes (SCAN-1), or None for anything we do not accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head.startswith(b"%PDF-"):
        return "PDF"
    return None


# Waits until every byte of the file being read has arrived (ScanAhead; SCAN-5).
Settle = Callable[[], None]


@contextmanager
def _reserved(limits: Limits, nbytes: int, settle: Settle | None) -> Iterator[int]:
    """SCAN-5: a reservation of the process's budget for one decode."""
    if settle is not None and nbytes > limits.budget.capacity // 8:
        settle()  # a slow sender does not hold a large share of the budget
    with limits.budget.reserve(nbytes) as held:
        yield held


@dataclass
class Inspection:
    """A file whose type, pages and sizes passed SCAN-1 and SCAN-2; nothing decoded yet."""

    media_type: str
    page_count: int
    _render: Callable[[Settle | None], Iterator[Page]] = field(repr=False)

    def render(self, settle: Settle | None = None) -> Scan:
        """Pass 2: decode page by page (SCAN-3) into thumbnails within the process's decode
        budget (SCAN-5); DAMAGED_FILE if that fails. `settle` waits until the whole file is
        there (for a file still arriving)."""
        return Scan(media_type=self.media_type, pages=list(self._render(settle)))

    def first_page(self) -> Page:
        """Pass 2 for page 1 only (SCAN-3..5), e.g. a larger image of it: the other pages
        are never decoded."""
        pages = self._render(None)
        try:
            return next(pages)
        finally:
            pages.close()  # the decoder's image is closed, its reservation ended


def inspect(file: BinaryIO, limits: Limits) -> Inspection:
    """Pass 1 (SCAN-1, SCAN-2): what the file is and whether it is within the limits, from
    headers alone. `render()` then reads the same file object on."""
    file.seek(0)
    kind = sniff(file.read(16))
    file.seek(0)
    if kind is None:
        raise ScanRefused("UNSUPPORTED_TYPE", "not a JPEG, PNG, TIFF or PDF file")
    if kind == "PDF":
        return _inspect_pdf(file, limits)
    return _inspect_image(file, kind, limits)


def process(file: BinaryIO, limits: Limits) -> Scan:
    """Check and thumbnail a seekable file (SCAN-1..4); ScanRefused when it is not acceptable."""
    return inspect(file, limits).render()


# Formats read front to back, so decoding can follow the bytes as they arrive. (A TIFF's
# directory and a PDF's cross-reference table may be at the end of the file.)
AHEAD_FORMATS = frozenset({"JPEG", "PNG"})


class ScanAhead:
    """Pass 1 and pass 2 of a file that is still arriving, run in a thread of `pool`, so that
    decoding overlaps the upload instead of following it. Same rules, same results as
    `inspect(...).render()`, which the caller runs itself when `inspection()` answers None:
    the work had not started yet and is cancelled, so a busy pool never holds anyone up."""

    def __init__(self, source: ArrivingFile, limits: Limits, pool: Executor) -> None:
        self._source = source
        self._limits = limits
        self._inspected = threading.Event()
        self._inspection: Inspection | None = None
        self._refusal: BaseException | None = None
        self._scan = pool.submit(self._run)

    def _run(self) -> Scan:
        with self._source.reader() as reader:
            try:
                self._inspection = inspect(reader, self._limits)  # type: ignore[arg-type]
            except BaseException as exc:
                self._refusal = exc
                raise
            finally:
                self._inspected.set()
            return self._inspection.render(settle=reader.wait_until_complete)

    def inspection(self) -> Inspection | None:
        """Pass 1's result (ScanRefused as in `inspect`), or None: not started, do it yourself."""
        if self._scan.cancel():
            return None
        self._inspected.wait()
        if self._refusal is not None:
            raise self._refusal
        return self._inspection

    def scan(self) -> Scan:
        """Pass 2's result (after `inspection()` answered an Inspection)."""
        return self._scan.result()

    def discard(self) -> None:
        """Not needed after all (the content is stored already): stop at the next read."""
        self._scan.cancel()
        self._source.abandon()


# --------------------------------------------------------------------------- images


def _check_pixels(number: int, width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise ScanRefused("DAMAGED_FILE", f"page {number} has no pixels")
    if width * height > limits.max_pixels:
        raise ScanRefused("IMAGE_TOO_LARGE",
                          f"page {number} has {width}×{height} pixels, more than "
                          f"{limits.max_pixels}", page=number, width=width, height=height,
                          max_pixels=limits.max_pixels)


def _open(file: BinaryIO, kind: str) -> Image.Image:
    try:
        return Image.open(file, formats=[kind])
    except Image.DecompressionBombError as exc:
        raise ScanRefused("IMAGE_TOO_LARGE", str(exc)) from exc
    except _DECODE_ERRORS as exc:
        raise ScanRefused("DAMAGED_FILE", f"not a readable {kind} file") from exc


def _frame_sizes(image: Image.Image, kind: str, limits: Limits) -> list[tuple[int, int]]:
    """Pass 1 (SCAN-2): every page's size, from headers only."""
    if kind != "TIFF":
        return [image.size]  # a PNG's animation frames or a JPEG's MPO extras are not pages
    sizes: list[tuple[int, int]] = []
    while True:
        try:
            image.seek(len(sizes))
        except EOFError:
            return sizes
        except _DECODE_ERRORS as exc:
            raise ScanRefused("DAMAGED_FILE", f"TIFF page {len(sizes) + 1} unreadable") from exc
        sizes.append(image.size)
        if len(sizes) > limits.max_pages:
            raise ScanRefused("TOO_MANY_PAGES", f"more than {limits.max_pages} pages",
                              max_pages=limits.max_pages)


def _inspect_image(file: BinaryIO, kind: str, limits: Limits) -> Inspection:
    image = _open(file, kind)
    try:
        sizes = _frame_sizes(image, kind, limits)
        for number, (width, height) in enumerate(sizes, start=1):
            _check_pixels(number, width, height, limits)
    except BaseException:
        image.close()
        raise

    def render(settle: Settle | None) -> Iterator[Page]:
        if kind == "JPEG":  # one page: decoded at the draft's scale, its size known now
            target = _target(image.size, limits.thumbnail_px)
            _draft(image, target)
            weight = _decode_bytes(image.mode, image.size, target)
        elif kind == "PNG":
            weight = _decode_bytes(image.mode, image.size,
                                   _target(image.size, limits.thumbnail_px))
        else:  # the largest page, converted, at four bytes a pixel (modes are not read yet)
            weight = max(_decode_bytes("RGBA", size, _target(size, limits.thumbnail_px))
                         for size in sizes)
        # One reservation for every page: a TIFF's page is decoded into the buffer of the
        # page before it, which lives until the image is closed (SCAN-3, SCAN-5) — by
        # close(), not by leaving a `with` block, which only closes the file.
        with _reserved(limits, weight, settle):
            try:
                for number, (width, height) in enumerate(sizes, start=1):
                    try:
                        if kind == "TIFF":
                            image.seek(number - 1)  # SCAN-3: this page only
                        orientation = image.getexif().get(0x0112, 1)
                        if kind != "JPEG":
                            target = _target(image.size, limits.thumbnail_px)
                        small = _shrink(image, target)
                    except _DECODE_ERRORS as exc:
                        raise ScanRefused("DAMAGED_FILE",
                                          f"page {number} cannot be decoded") from exc
                    if orientation in _QUARTER_TURNS:  # SCAN-4: sizes as the page is viewed
                        width, height = height, width
                    yield _thumbnailed(_upright(small, orientation), number, width, height)
            finally:
                image.close()

    return Inspection(MEDIA_TYPES[kind], len(sizes), render)


REDUCING_GAP = 3.0  # as Image.resize's reducing_gap: box-reduce to 3× the target, then Lanczos


def _target(size: tuple[int, int], px: int) -> tuple[int, int]:
    """A page of this size scaled to fit px × px."""
    width, height = size
    scale = min(1.0, px / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _draft(image: Image.Image, target: tuple[int, int]) -> None:
    """JPEG: decode at the smallest DCT scale (1/2 … 1/8) still at least `target`."""
    if image.format == "JPEG" or image.format == "MPO":
        image.draft("L" if image.mode == "L" else "RGB", target)


def _factors(size: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    return (int(size[0] / target[0] / REDUCING_GAP) or 1,
            int(size[1] / target[1] / REDUCING_GAP) or 1)


def _band_rows(size: tuple[int, int], factor_y: int) -> int:
    """Rows converted at a time: about BAND_BYTES at four bytes a pixel, a multiple of the
    reduction's factor (so that each band reduces exactly as the whole page would)."""
    rows = max(1, BAND_BYTES // (4 * size[0]))
    return max(factor_y, rows // factor_y * factor_y)


def _decode_bytes(mode: str, size: tuple[int, int], target: tuple[int, int]) -> int:
    """SCAN-5: the most a page's thumbnail holds at once: the decoded page, its reduced copy,
    and a band converted (and its reduction) at a time."""
    factor_x, factor_y = _factors(size, target)
    reduced = pixel_bytes("RGB", (math.ceil(size[0] / factor_x), math.ceil(size[1] / factor_y)))
    band = 0 if mode in ("L", "RGB") else pixel_bytes(  # converted, then reduced
        "RGB", (size[0], min(size[1], _band_rows(size, factor_y))))
    return pixel_bytes(mode, size) + reduced + 2 * band


def _reduce(image: Image.Image, px: int) -> Image.Image:
    """The current page scaled to fit px × px, decoded as cheaply as the format allows."""
    target = _target(image.size, px)
    _draft(image, target)
    return _shrink(image, target)


def _shrink(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """The current page (drafted, if a JPEG) scaled to `target`, in L or RGB. Another mode
    (bilevel, palette, 16-bit, CMYK, alpha …) is converted band by band (SCAN-5); the result
    is the same as converting the whole page and resizing it with reducing_gap."""
    image.decodermaxblock = DECODE_BLOCK  # type: ignore[attr-defined]
    image.load()
    if image.mode in ("L", "RGB"):
        return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    mode = "L" if image.mode in ("1", "I;16", "I;16B", "I;16L", "I", "F", "LA") else "RGB"
    width, height = image.size
    factor_x, factor_y = _factors(image.size, target)
    if factor_x == 1 and factor_y == 1:  # small already: one conversion
        return image.convert(mode).resize(target, Image.Resampling.LANCZOS)
    rows = _band_rows(image.size, factor_y)
    reduced = Image.new(mode, (math.ceil(width / factor_x), math.ceil(height / factor_y)))
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(height, top + rows))).convert(mode)
        reduced.paste(band.reduce((factor_x, factor_y)), (0, top // factor_y))
        del band
    return reduced.resize(target, Image.Resampling.LANCZOS,
                          box=(0, 0, width / factor_x, height / factor_y))


def _upright(image: Image.Image, orientation: object) -> Image.Image:
    """SCAN-4: apply the EXIF orientation to the derived image."""
    for method in _UPRIGHT.get(orientation if isinstance(orientation, int) else 1, []):
        image = image.transpose(method)
    return image


def _thumbnailed(image: Image.Image, number: int, width: int | None,
                 height: int | None) -> Page:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    data = out.getvalue()
    return Page(number=number, width=width, height=height, thumbnail=data,
                thumbnail_sha256=hashlib.sha256(data).hexdigest())


# --------------------------------------------------------------------------- PDF


@dataclass(frozen=True)
class _PdfImage:
    name: str  # its key in the page's /XObject resources
    width: int
    height: int
    stream: Any  # pypdf StreamObject
    filters: tuple[str, ...]


def _pdf_images(page: Any) -> list[_PdfImage]:
    """The image XObjects a page draws directly, with their sizes (headers only)."""
    found: list[_PdfImage] = []
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    xobjects = resources.get("/XObject") if resources is not None else None
    if xobjects is None:
        return found
    for name, reference in xobjects.get_object().items():
        stream = reference.get_object()
        if stream.get("/Subtype") != "/Image":
            continue
        filters = stream.get("/Filter")
        names = ([str(f) for f in filters] if isinstance(filters, list)
                 else [str(filters)] if filters is not None else [])
        found.append(_PdfImage(str(name), int(stream.get("/Width", 0)),
                               int(stream.get("/Height", 0)), stream, tuple(names)))
    return found


def _inspect_pdf(file: BinaryIO, limits: Limits) -> Inspection:
    import pypdf  # only PDFs need it

    try:
        reader = pypdf.PdfReader(file)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ScanRefused("UNSUPPORTED_TYPE", "encrypted PDF")
        pages = list(reader.pages)
        if not pages:
            raise ScanRefused("DAMAGED_FILE", "a PDF without pages")
        if len(pages) > limits.max_pages:
            raise ScanRefused("TOO_MANY_PAGES",
                              f"{len(pages)} pages, more than {limits.max_pages}",
                              max_pages=limits.max_pages)
        images = []
        for number, page in enumerate(pages, start=1):
            on_page = _pdf_images(page)
            for image in on_page:
                _check_pixels(number, image.width, image.height, limits)
            images.append(max(on_page, key=lambda i: i.width * i.height, default=None))
    except ScanRefused:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on malformed files
        raise ScanRefused("DAMAGED_FILE", "not a readable PDF file") from exc

    def render(settle: Settle | None) -> Iterator[Page]:
        for number, (page, image) in enumerate(zip(pages, images, strict=True), start=1):
            if image is None:
                yield Page(number=number, width=None, height=None)
                continue
            try:
                small = _pdf_thumbnail(page, image, limits)
            except ScanRefused:
                raise
            except Exception as exc:
                raise ScanRefused("DAMAGED_FILE",
                                  f"page {number} image cannot be decoded") from exc
            if small is None:
                yield Page(number=number, width=image.width, height=image.height)
                continue
            rotation = int(page.get("/Rotate", 0) or 0) % 360
            if rotation:
                small = small.rotate(-rotation, expand=True)
            yield _thumbnailed(small, number, image.width, image.height)

    return Inspection("application/pdf", len(pages), render)


def _pdf_thumbnail(page: Any, image: _PdfImage, limits: Limits) -> Image.Image | None:
    target = _target((image.width, image.height), limits.thumbnail_px)
    if image.filters == ("/DCTDecode",):
        # The stream is a JPEG file: decode it at reduced scale like any JPEG.
        data = image.stream.get_data()
        jpeg = Image.open(io.BytesIO(data), formats=["JPEG"])
        try:
            target = _target(jpeg.size, limits.thumbnail_px)
            _draft(jpeg, target)
            weight = len(data) + _decode_bytes(jpeg.mode, jpeg.size, target)
            with _reserved(limits, weight, None):
                try:
                    return _shrink(jpeg, target)
                finally:
                    jpeg.close()  # its pixels freed before the reservation ends
        finally:
            jpeg.close()
    if image.filters and image.filters[-1] in ("/JPXDecode", "/JBIG2Decode"):
        return None  # Pillow without OpenJPEG / no JBIG2 decoder: no thumbnail, still stored
    # pypdf decodes the stream to bytes, then to an image (size checked in pass 1): counted
    # as two more full-size copies (SCAN-5).
    size = (image.width, image.height)
    weight = 2 * pixel_bytes("RGB", size) + _decode_bytes("RGB", size, target)
    with _reserved(limits, weight, None):
        decoded = page.images[image.name].image
        if decoded is None:
            return None
        try:
            return _reduce(decoded, limits.thumbnail_px)
        finally:
            decoded.close()
