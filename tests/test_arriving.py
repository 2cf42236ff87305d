"""Reading a file while it arrives (storage/arriving.py) and decoding it meanwhile
(storage/scans.py, ScanAhead)."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image

from storage.arriving import Abandoned, ArrivingFile
from storage.scans import Limits, ScanAhead, ScanRefused, process
from storage.spool import scratch_file


@pytest.fixture
def arriving() -> Iterator[ArrivingFile]:
    with scratch_file(1000) as file:
        yield ArrivingFile(file)


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run `work` in a thread; its result (or exception) lands in the list."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(work())
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def still_waiting(thread: threading.Thread) -> bool:
    thread.join(0.2)
    return thread.is_alive()


def test_a_reader_waits_for_the_bytes_it_asks_for_and_reads_them_whole(
        arriving: ArrivingFile) -> None:
    reader = arriving.reader()
    arriving.write(b"\xff\xd8")
    thread, out = in_thread(lambda: reader.read(6))
    assert still_waiting(thread)  # ARRIVE-1: 2 of 6 bytes are in
    arriving.write(b"\xff\xe0")
    assert still_waiting(thread)
    arriving.write(b"\x00\x10rest")
    thread.join(5)
    assert out == [b"\xff\xd8\xff\xe0\x00\x10"]  # one full read, not a short one
    assert reader.read(2) == b"re"
    reader.close()


def test_the_end_of_a_file_is_known_only_once_it_is_complete(arriving: ArrivingFile) -> None:
    reader = arriving.reader()
    arriving.write(b"abc")
    thread, out = in_thread(lambda: reader.seek(0, os.SEEK_END))
    assert still_waiting(thread)
    arriving.write(b"def")
    arriving.complete()
    thread.join(5)
    assert out == [6]
    reader.seek(4)
    assert reader.read(100) == b"ef"  # at the end: what there is
    assert reader.read(1) == b""
    reader.seek(0)
    assert reader.read() == b"abcdef"
    reader.close()


def test_an_abandoned_file_wakes_its_readers_with_an_error(arriving: ArrivingFile) -> None:
    reader = arriving.reader()
    arriving.write(b"abc")
    thread, out = in_thread(lambda: reader.read(10))
    assert still_waiting(thread)
    arriving.abandon()
    thread.join(5)
    assert len(out) == 1 and isinstance(out[0], Abandoned)  # ARRIVE-2
    reader.close()


def test_a_reader_keeps_its_own_descriptor(arriving: ArrivingFile) -> None:
    arriving.write(b"kept")
    arriving.complete()
    reader = arriving.reader()
    arriving.file.close()  # the request ended; the reader's bytes are still its own
    assert reader.read() == b"kept"  # ARRIVE-3
    reader.close()


def jpeg(size: tuple[int, int] = (900, 1200)) -> bytes:
    page = Image.effect_noise(size, 40).convert("RGB")
    out = io.BytesIO()
    page.save(out, format="JPEG", quality=85)
    return out.getvalue()


def feed(arriving: ArrivingFile, data: bytes, chunk: int = 4096,
         pause: float = 0.0005) -> None:
    for start in range(0, len(data), chunk):
        arriving.write(data[start:start + chunk])
        time.sleep(pause)
    arriving.complete()


def test_decoding_while_it_arrives_gives_what_decoding_afterwards_gives(
        arriving: ArrivingFile) -> None:
    data = jpeg()
    with ThreadPoolExecutor(1) as pool:
        ahead = ScanAhead(arriving, Limits(), pool)
        feed(arriving, data)
        inspection = ahead.inspection()
        assert inspection is not None and inspection.media_type == "image/jpeg"
        scan = ahead.scan()
    expected = process(io.BytesIO(data), Limits())
    assert scan == expected  # same pages, sizes and thumbnail bytes


def test_a_damaged_file_is_refused_the_same_way(arriving: ArrivingFile) -> None:
    data = jpeg()[:30_000]  # cut off in the middle of its pixels
    with ThreadPoolExecutor(1) as pool:
        ahead = ScanAhead(arriving, Limits(), pool)
        feed(arriving, data)
        assert ahead.inspection() is not None  # its header is whole
        with pytest.raises(ScanRefused) as refused:
            ahead.scan()
    assert refused.value.code == "DAMAGED_FILE"


def test_pixel_limits_hold_before_anything_is_decoded(arriving: ArrivingFile) -> None:
    with ThreadPoolExecutor(1) as pool:
        ahead = ScanAhead(arriving, Limits(max_pixels=500_000), pool)
        feed(arriving, jpeg())
        with pytest.raises(ScanRefused) as refused:
            ahead.inspection()
    assert refused.value.code == "IMAGE_TOO_LARGE"


def test_when_the_pool_is_busy_the_caller_decodes_itself(arriving: ArrivingFile) -> None:
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait)  # the only thread is taken
        ahead = ScanAhead(arriving, Limits(), pool)
        feed(arriving, jpeg())
        assert ahead.inspection() is None  # cancelled before it started: nobody waits
        release.set()


def test_a_decoding_no_longer_needed_stops(arriving: ArrivingFile) -> None:
    with ThreadPoolExecutor(1) as pool:
        ahead = ScanAhead(arriving, Limits(), pool)
        data = jpeg()
        arriving.write(data[:len(data) // 2])
        assert ahead.inspection() is not None
        ahead.discard()  # e.g. the same content is stored already
        with pytest.raises(ScanRefused):  # its reader was woken, not left waiting
            ahead.scan()
