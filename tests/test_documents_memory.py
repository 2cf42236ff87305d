"""Decoding memory of a served process (storage/scans.py SCAN-5), measured from outside: eight
8900×8900 PNGs of about 250 KB each (inside the pixel limit; Pillow holds 317 MB of pixels for
each) are uploaded at once to a real `registry serve`, and its RSS is read from /proc. The
bound is structural: the decode budget (384 MB by default) admits one such page at a time and
the memory is given back after, so the peak stays below 600 MB of growth however fast or slow
the machine is; without the budget eight pages would be decoded at once (about 2.5 GB)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from bench.documents import large_png  # the benchmark's own file
from registry.runtime import Runtime
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
