"""Scan processing on its own (storage/scans.py): type from content, pages, thumbnails upright,
limits checked before decoding. Files are generated here, small."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pypdf
import pytest
from PIL import Image

from storage.scans import Limits, ScanRefused, process, sniff


def image(fmt: str, size: tuple[int, int] = (120, 170), mode: str = "RGB",
          **save: object) -> io.BytesIO:
    out = io.BytesIO()
    Image.new(mode, size, "white" if mode != "1" else 1).save(out, format=fmt, **save)
    out.seek(0)
    return out


def tiff(pages: int, size: tuple[int, int] = (80, 100), mode: str = "L") -> io.BytesIO:
    frames = [Image.new(mode, size, (i * 40) % 255) for i in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:],
                   compression="tiff_deflate")
    out.seek(0)
    return out


def png_header_only(width: int, height: int) -> io.BytesIO:
    """A PNG that claims width × height pixels but carries almost no data (a bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return io.BytesIO(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                      + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("fmt", "media_type"), [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("TIFF", "image/tiff"),
    ("PDF", "application/pdf")])
def test_each_accepted_type_is_recognised_from_its_content(fmt: str, media_type: str) -> None:
    scan = process(image(fmt), Limits())
    assert scan.media_type == media_type and scan.page_count == 1
    [page] = scan.pages
    assert (page.width, page.height) == (120, 170)
    assert page.thumbnail is not None and page.thumbnail[:3] == b"\xff\xd8\xff"


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("scan.jpg", b"not really")
    return out.getvalue()


@pytest.mark.parametrize("content", [
    b"<!DOCTYPE html><html><body>scan</body></html>",
    zip_bytes(),
    image("GIF").getvalue(),
    image("BMP").getvalue(),
    b"",
    b"%!PS-Adobe-3.0\n",
], ids=["html", "zip", "gif", "bmp", "empty", "postscript"])
def test_anything_else_is_unsupported_whatever_it_is_called(content: bytes) -> None:
    assert sniff(content[:16]) is None
    with pytest.raises(ScanRefused) as refused:
        process(io.BytesIO(content), Limits())
    assert refused.value.code == "UNSUPPORTED_TYPE"


def test_a_file_that_only_starts_like_a_jpeg_is_damaged() -> None:
    with pytest.raises(ScanRefused) as refused:
        process(io.BytesIO(b"\xff\xd8\xff" + b"<html>" * 50), Limits())
    assert refused.value.code == "DAMAGED_FILE"
    truncated = image("JPEG", (300, 300)).getvalue()[:400]
    with pytest.raises(ScanRefused) as refused:
        process(io.BytesIO(truncated), Limits())
    assert refused.value.code == "DAMAGED_FILE"


def test_a_multi_page_tiff_gets_a_thumbnail_per_page() -> None:
    scan = process(tiff(5, (90, 120)), Limits(thumbnail_px=60))
    assert scan.media_type == "image/tiff" and scan.page_count == 5
    assert [p.number for p in scan.pages] == [1, 2, 3, 4, 5]
    for page in scan.pages:
        assert page.thumbnail is not None
        with Image.open(io.BytesIO(page.thumbnail)) as thumbnail:
            assert thumbnail.size == (45, 60)
    assert len({p.thumbnail_sha256 for p in scan.pages}) == 5  # each page its own


def test_a_bilevel_fax_tiff_is_thumbnailed() -> None:
    scan = process(image("TIFF", (200, 280), "1", compression="group4"), Limits())
    assert scan.pages[0].thumbnail is not None


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_is_applied_to_sizes_and_thumbnail_not_the_original(
        orientation: int) -> None:
    landscape = Image.new("RGB", (400, 200), "white")  # a phone photo, stored sideways
    exif = landscape.getexif()
    exif[0x0112] = orientation  # 6: rotate 90° clockwise to view, 8: counter-clockwise
    data = io.BytesIO()
    landscape.save(data, format="JPEG", exif=exif)
    original = data.getvalue()
    scan = process(data, Limits(thumbnail_px=100))
    page = scan.pages[0]
    assert (page.width, page.height) == (200, 400)  # as viewed, upright
    with Image.open(io.BytesIO(page.thumbnail or b"")) as thumbnail:
        assert thumbnail.size == (50, 100)  # upright
    assert data.getvalue() == original


def test_too_many_pixels_are_refused_before_decoding() -> None:
    # Far past Pillow's own bomb threshold: refused at open.
    with pytest.raises(ScanRefused) as refused:
        process(png_header_only(60_000, 60_000), Limits())
    assert refused.value.code == "IMAGE_TOO_LARGE"
    # Past our configured limit, below Pillow's: refused from the header.
    with pytest.raises(ScanRefused) as refused:
        process(png_header_only(2_000, 2_000), Limits(max_pixels=1_000_000))
    assert refused.value.code == "IMAGE_TOO_LARGE"
    assert refused.value.details["width"] == 2_000


def test_a_large_page_deep_in_a_tiff_is_found_before_any_thumbnail() -> None:
    frames = [Image.new("L", (50, 50)), Image.new("L", (50, 50)), Image.new("L", (1200, 1000))]
    data = io.BytesIO()
    frames[0].save(data, format="TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(ScanRefused) as refused:
        process(data, Limits(max_pixels=1_000_000))
    assert refused.value.code == "IMAGE_TOO_LARGE" and refused.value.details["page"] == 3


def test_page_count_is_limited() -> None:
    with pytest.raises(ScanRefused) as refused:
        process(tiff(4), Limits(max_pages=3))
    assert refused.value.code == "TOO_MANY_PAGES"


def scanned_pdf(pages: int, size: tuple[int, int] = (120, 170), mode: str = "RGB") -> io.BytesIO:
    frames = [Image.new(mode, size, "white") for _ in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, format="PDF", save_all=True, append_images=frames[1:])
    out.seek(0)
    return out


def test_a_scanned_pdf_has_its_page_count_and_a_thumbnail_per_page() -> None:
    scan = process(scanned_pdf(3), Limits())
    assert scan.media_type == "application/pdf" and scan.page_count == 3
    assert all(p.thumbnail is not None and p.width == 120 for p in scan.pages)
    scan = process(scanned_pdf(1, mode="L"), Limits())
    assert scan.pages[0].thumbnail is not None  # a Flate-coded grey scan


def test_a_pdf_page_without_a_scan_has_no_thumbnail_but_counts() -> None:
    writer = pypdf.PdfWriter()
    for _ in range(2):
        writer.add_blank_page(595, 842)
    data = io.BytesIO()
    writer.write(data)
    scan = process(data, Limits())
    assert scan.page_count == 2
    assert [p.thumbnail for p in scan.pages] == [None, None]


def test_a_rotated_pdf_page_gives_an_upright_thumbnail() -> None:
    reader = pypdf.PdfReader(scanned_pdf(1, (100, 200)))
    writer = pypdf.PdfWriter()
    writer.add_page(reader.pages[0]).rotate(90)
    data = io.BytesIO()
    writer.write(data)
    scan = process(data, Limits(thumbnail_px=100))
    with Image.open(io.BytesIO(scan.pages[0].thumbnail or b"")) as thumbnail:
        assert thumbnail.size == (100, 50)


def test_pdf_limits_and_damage() -> None:
    with pytest.raises(ScanRefused) as refused:
        process(scanned_pdf(1, (1500, 1000)), Limits(max_pixels=1_000_000))
    assert refused.value.code == "IMAGE_TOO_LARGE"
    with pytest.raises(ScanRefused) as refused:
        process(scanned_pdf(4), Limits(max_pages=3))
    assert refused.value.code == "TOO_MANY_PAGES"
    with pytest.raises(ScanRefused) as refused:
        process(io.BytesIO(b"%PDF-1.7\n" + b"garbage " * 100), Limits())
    assert refused.value.code == "DAMAGED_FILE"
