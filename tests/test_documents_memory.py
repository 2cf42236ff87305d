"""Decoding memory of a served process (storage/scans.py SCAN-5), measured from outside: eight
8900×8900 PNGs of about 250 KB each (inside the pixel limit; Pillow holds 317 MB of pixels for
each) are uploaded at once to a real `registry serve`, and its RSS is read from /proc. The
bound is structural: the decode budget (384 MB by default) admits one such page at a time and
the memory is given back after, so the peak stays below 600 MB of growth however fast or slow
the machine is; without the budget eight pages would be decoded at once (about 2.5 GB)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from PIL import Image

from bench.documents import large_png  # the benchmark's own file
from registry.runtime import Runtime
from storage import scans
from storage.scans import DecodeBudget, Limits, pixel_bytes, process
from tests.bureau import Bureau, scan
from tests.conftest import serving
from tests.operations import operation

IN_FLIGHT = 8
PEAK_GROWTH_MB = 600  # the budget of issue 13: peak RSS growth with 8 such uploads in flight
HELD_AFTER_MB = 150  # what may stay with the process once they are done

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(),
                                reason="reads and resets RSS through Linux /proc")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (the peak since the last reset) of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


@pytest.fixture
def served(runtime: Runtime) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`registry serve` on this test's database and bucket: (base URL, its process)."""
    var_dir = Path(tempfile.mkdtemp(prefix="registry-memory-")) / "var"
    started: list[subprocess.Popen[str]] = []
    try:
        with serving(runtime, var_dir, started) as base:
            yield base, started[0]
    finally:
        shutil.rmtree(var_dir.parent, ignore_errors=True)


def upload(base: str, headers: dict[str, str], number: str, name: str,
           content: bytes) -> dict[str, Any]:
    operations = {"query": operation("UploadDocument"), "variables": {
        "file": None, "kind": "TITLE_SOURCE", "target": {"applicationNumber": number}}}
    response = httpx.post(f"{base}/graphql", timeout=300,
                          data={"operations": json.dumps(operations),
                                "map": '{"0": ["variables.file"]}'},
                          files={"0": (name, content, "application/octet-stream")},
                          headers={**headers, "X-Registry-CSRF": "1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    document: dict[str, Any] = body["data"]["uploadDocument"]
    return document


def test_eight_large_pngs_at_once_stay_within_the_memory_budget(
        served: tuple[str, subprocess.Popen[str]], pingchang: Bureau, number: str) -> None:
    base, process = served
    clerk = pingchang.clerk
    pngs = [large_png(mark=f"scan {i}") for i in range(IN_FLIGHT)]
    assert all(len(png) < 400_000 for png in pngs)
    # Warm up (imports, pools, a first thumbnail), then measure from the idle process.
    upload(base, clerk, number, "warm-up.jpg", scan("warm-up", (1240, 1754), "JPEG"))
    Path(f"/proc/{process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    idle = memory_mb(process.pid)["VmRSS"]

    with ThreadPoolExecutor(IN_FLIGHT) as clients:
        documents = list(clients.map(
            lambda i: upload(base, clerk, number, f"large-{i}.png", pngs[i]), range(IN_FLIGHT)))
    after = memory_mb(process.pid)

    peak_growth = after["VmHWM"] - idle
    held = after["VmRSS"] - idle
    print(f"server RSS idle {idle:.0f} MB, peak +{peak_growth:.0f} MB, "
          f"held after +{held:.0f} MB")
    assert len({d["sha256"] for d in documents}) == IN_FLIGHT
    for document in documents:
        assert document["mediaType"] == "image/png" and document["pageCount"] == 1
        [page] = document["pages"]
        assert (page["width"], page["height"]) == (8900, 8900)
        thumbnail = httpx.get(page["thumbnailUrl"], timeout=30)
        assert thumbnail.status_code == 200
        assert thumbnail.content.startswith(b"\xff\xd8\xff")  # a JPEG thumbnail, as before
    assert peak_growth <= PEAK_GROWTH_MB, f"peak RSS growth {peak_growth:.0f} MB"
    assert held <= HELD_AFTER_MB, f"{held:.0f} MB still held after the uploads"


# ------------------------------------------------------------------- in process (fast)


def test_the_budget_grants_in_order_and_never_more_than_its_capacity() -> None:
    budget = DecodeBudget(100)
    order: list[str] = []
    with budget.reserve(70):
        waiting = [threading.Thread(target=lambda n=n, name=name: hold(budget, n, name, order))
                   for n, name in ((50, "fifty"), (500, "too large"), (10, "ten"))]
        for thread in waiting:
            thread.start()
            time.sleep(0.05)  # queued in this order
        assert order == []  # fifty does not fit beside seventy; the others wait behind it
    for thread in waiting:
        thread.join()
    assert order == ["fifty", "too large", "ten"]
    assert budget.peak == 100 and budget.in_use == 0  # "too large" held all of it, alone


def test_workers_sharing_a_gate_decode_one_page_larger_than_a_share_at_a_time(
        tmp_path: Path) -> None:
    """Two workers' budgets (as two processes hold them) naming one gate file: pages larger
    than a share never overlap across them; pages within a share do not take the gate."""
    gate = str(tmp_path / "decode.lock")
    workers = [DecodeBudget(100, gate), DecodeBudget(100, gate)]
    inside, most, lock = 0, 0, threading.Lock()

    def oversize(budget: DecodeBudget) -> None:
        nonlocal inside, most
        with budget.reserve(300):
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=oversize, args=(workers[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    with workers[0].reserve(300), workers[1].reserve(60):  # within a share: no gate needed
        assert workers[1].in_use == 60


def hold(budget: DecodeBudget, nbytes: int, name: str, order: list[str]) -> None:
    with budget.reserve(nbytes):
        order.append(name)
        time.sleep(0.01)


def test_concurrent_large_pages_are_decoded_within_the_budget() -> None:
    side = 3000  # 36 MB of pixels (RGB is held as RGBX), and a reduced copy
    weight = scans._decode_bytes("RGB", (side, side), scans._target((side, side), 320))
    budget = DecodeBudget(2 * weight + 1)  # two at a time, never three
    limits = Limits(budget=budget)
    pngs = [large_png(side, mark=str(i)) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        done = list(pool.map(lambda png: process(io.BytesIO(png), limits), pngs))
    assert [s.pages[0].width for s in done] == [side] * 6
    assert budget.peak == 2 * weight > pixel_bytes("RGB", (side, side)) * 2
    assert budget.in_use == 0


@pytest.mark.parametrize("mode", ["P", "RGBA", "LA", "1", "I", "F", "CMYK"])
def test_a_page_converted_band_by_band_is_thumbnailed_as_if_converted_whole(
        mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scans, "BAND_BYTES", 64 * 1024)  # many bands
    page = Image.effect_noise((2017, 1531), 60).convert(mode)
    target = scans._target(page.size, 320)
    whole = page.convert("L" if mode in ("1", "I", "F", "LA") else "RGB").resize(
        target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    assert scans._shrink(page.copy(), target).tobytes() == whole.tobytes()


def test_the_services_decode_budget_is_shared_by_its_workers() -> None:
    from registry.config import Settings
    from registry.services.documents import MIB, DocumentConfig, worker_decode_budget

    assert worker_decode_budget(Settings()) == 384 * MIB  # one worker holds it all
    two = Settings(document_decode_memory_mb=600, web_workers=2)
    assert DocumentConfig.from_settings(two).limits.budget.capacity == 300 * MIB
    assert worker_decode_budget(Settings(document_decode_memory_mb=64, web_workers=8)) == 16 * MIB
