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
- PDF thumbnails: a scanned PDF page carries its scan as an image; the largest image of each
  page is thumbnailed. Pages drawn only with text or vector graphics get no thumbnail — that
  needs a PDF renderer (pdfium, poppler), which has no pure-Python form.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
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


@dataclass
class Inspection:
    """A file whose type, pages and sizes passed SCAN-1 and SCAN-2; nothing decoded yet."""

    media_type: str
    page_count: int
    _render: Callable[[], Iterator[Page]] = field(repr=False)

    def render(self) -> Scan:
        """Pass 2: decode page by page (SCAN-3) into thumbnails; DAMAGED_FILE if that fails."""
        return Scan(media_type=self.media_type, pages=list(self._render()))


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
            return self._inspection.render()

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

    def render() -> Iterator[Page]:
        with image:
            for number, (width, height) in enumerate(sizes, start=1):
                try:
                    if kind == "TIFF":
                        image.seek(number - 1)  # SCAN-3: this page only
                    orientation = image.getexif().get(0x0112, 1)
                    small = _reduce(image, limits.thumbnail_px)
                except _DECODE_ERRORS as exc:
                    raise ScanRefused("DAMAGED_FILE",
                                      f"page {number} cannot be decoded") from exc
                if orientation in _QUARTER_TURNS:  # SCAN-4: sizes as the page is viewed
                    width, height = height, width
                yield _thumbnailed(_upright(small, orientation), number, width, height)

    return Inspection(MEDIA_TYPES[kind], len(sizes), render)


def _reduce(image: Image.Image, px: int) -> Image.Image:
    """The current page scaled to fit px × px, decoded as cheaply as the format allows."""
    width, height = image.size
    scale = min(1.0, px / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    image.decodermaxblock = DECODE_BLOCK  # type: ignore[attr-defined]
    if image.format == "JPEG" or image.format == "MPO":
        image.draft("L" if image.mode == "L" else "RGB", target)  # DCT scaling: 1/2 … 1/8
    page: Image.Image = image
    if page.mode not in ("L", "RGB"):
        # bilevel, palette, 16-bit, CMYK, alpha …: one page's worth, converted once
        page = page.convert("L" if page.mode in ("1", "I;16", "I;16B", "I;16L", "I", "F", "LA")
                            else "RGB")
    return page.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


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

    def render() -> Iterator[Page]:
        for number, (page, image) in enumerate(zip(pages, images, strict=True), start=1):
            if image is None:
                yield Page(number=number, width=None, height=None)
                continue
            try:
                small = _pdf_thumbnail(page, image, limits.thumbnail_px)
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


def _pdf_thumbnail(page: Any, image: _PdfImage, px: int) -> Image.Image | None:
    if image.filters == ("/DCTDecode",):
        # The stream is a JPEG file: decode it at reduced scale like any JPEG.
        with Image.open(io.BytesIO(image.stream.get_data()), formats=["JPEG"]) as jpeg:
            return _reduce(jpeg, px)
    if image.filters and image.filters[-1] in ("/JPXDecode", "/JBIG2Decode"):
        return None  # Pillow without OpenJPEG / no JBIG2 decoder: no thumbnail, still stored
    decoded = page.images[image.name].image  # pypdf decodes it (size checked in pass 1)
    return _reduce(decoded, px) if decoded is not None else None
