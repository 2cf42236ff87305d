"""Benchmark: ingesting scanned documents (要件) through both upload paths.

    .venv/bin/python bench/documents.py            # 200 A4 scans + a 200 MB multi-page TIFF
    .venv/bin/python bench/documents.py --quick    # 20 scans + a 52 MB TIFF, under a minute
                                                   # (prints; writes only the .json)
    .venv/bin/python bench/documents.py --large-pngs 8   # decode memory only (SCAN-5):
                                                   # 8 PNGs of 8900×8900 at once, ~2 min

Starts its own PostgreSQL+PostGIS and `weed mini` in a temporary directory, generates A4
300 dpi JPEG scans of 1–3 MB (noise, so they do not compress away) and an uncompressed RGB
multi-page TIFF, then measures in the same run:

- baseline: the same bytes PUT to S3 with the minio SDK alone (one object per scan);
- path (a): `uploadDocument` as a GraphQL multipart request to a real `registry serve`;
- path (b): `requestUpload`, a PUT to the presigned URL, `completeUpload`.

Both paths include everything the registry does: spooling and hashing, type detection,
thumbnails, the checksum-verified PUTs, the rows. Each path and level of concurrency runs
against its own server, database and bucket (so no run is served by another's deduplication);
the three methods take turns in blocks of 20 scans, so that the load of the shared machine
weighs on them alike: one request at a time, then several in flight (as are the baseline's
PUTs), the client on the same machine. The server (`registry serve`: one worker process, two
when requests overlap) has its RSS read from /proc (VmHWM, reset through clear_refs before the
scans and before the TIFF). Writes bench/results/documents.json and .md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2 as httpx
from minio import Minio
from PIL import Image, ImageDraw, TiffImagePlugin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.devstack import LOOPBACK, DevStack, free_port  # noqa: E402
from storage.scans import _reduce  # noqa: E402 - the server's own reduction, for the floor

RESULTS = ROOT / "bench" / "results"
A4_300DPI = (2480, 3508)
WARM_UP = 2  # scans sent before timing starts (one per worker), not counted
CHUNK = 1024 * 1024
THUMBNAIL_PX = 320  # the DOCUMENT_THUMBNAIL_PX default

UPLOAD = """mutation U($file: Upload!, $kind: DocumentKind!, $target: DocumentTargetInput!) {
  uploadDocument(file: $file, kind: $kind, target: $target) { id pageCount sha256 } }"""
REQUEST = """mutation R($input: RequestUploadInput!) {
  requestUpload(input: $input) { uploadId url } }"""
COMPLETE = """mutation C($id: String!) { completeUpload(uploadId: $id) { id pageCount sha256 } }"""


# --------------------------------------------------------------------------- data


def generate_scans(directory: Path, count: int) -> list[Path]:
    """A4 300 dpi colour JPEGs of 1–3 MB: paper with noise, a unique mark on each page."""
    directory.mkdir(parents=True, exist_ok=True)
    noise = Image.merge("RGB", [Image.effect_noise(A4_300DPI, s) for s in (30, 32, 34)])
    paper = Image.new("RGB", A4_300DPI, (245, 243, 238))
    paths = []
    for i in range(count):
        alpha = 0.3 + 0.45 * (i % 20) / 19  # ≈ 1.0 … 2.9 MB
        page = Image.blend(paper, noise, alpha)
        draw = ImageDraw.Draw(page)
        draw.rectangle((150, 150 + i, 1200, 260 + i), fill=(20, 20, 20))
        draw.text((200, 400), f"scan {i:05d}", fill=(0, 0, 0))
        path = directory / f"scan-{i:05d}.jpg"
        page.save(path, format="JPEG", quality=75, dpi=(300, 300))
        paths.append(path)
    return paths


def generate_tiff(path: Path, megabytes: int) -> tuple[int, int]:
    """An uncompressed RGB multi-page A4 TIFF of about `megabytes`, written page by page."""
    page_bytes = A4_300DPI[0] * A4_300DPI[1] * 3
    pages = max(1, round(megabytes * 1_000_000 / page_bytes))
    noise = Image.merge("RGB", [Image.effect_noise(A4_300DPI, 30) for _ in range(3)])
    paper = Image.new("RGB", A4_300DPI, (245, 243, 238))
    with TiffImagePlugin.AppendingTiffWriter(str(path), new=True) as tiff:
        for i in range(pages):
            page = Image.blend(paper, noise, 0.2 + 0.05 * i)
            page.save(tiff, format="TIFF", dpi=(300, 300))
            tiff.newFrame()
    return pages, path.stat().st_size


LARGE_PNG_SIDE = 8900  # 79.2 M pixels: inside the 80 M pixel limit (DOCUMENT_MAX_PIXELS)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def large_png(side: int = LARGE_PNG_SIDE, mark: str = "") -> bytes:
    """An RGB PNG of side × side pixels of one paper colour: about 250 KB at 8900, since
    deflate squeezes equal rows away, while decoding it takes what the pixels take (Pillow
    holds four bytes a pixel: 317 MB). Written a row at a time, so making it costs no
    memory; `mark`, in a tEXt chunk, gives each file its own content and SHA-256 (DOC-4
    would store a second copy of the same content only once)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    deflate = zlib.compressobj(9)
    row = b"\x00" + b"\xf5\xf3\xee" * side  # filter type 0, then the pixels
    data = b"".join([*(deflate.compress(row) for _ in range(side)), deflate.flush()])
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"tEXt", b"Comment\x00" + mark.encode("latin-1"))
            + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b""))


# --------------------------------------------------------------------------- measuring


def processes(pid: int) -> list[int]:
    """The server and its worker processes (uvicorn --workers N forks N children)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [int(child) for child in children]
    return found


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB, summed over the server's processes."""
    rss = hwm = 0
    for each in processes(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == "VmRSS":
                rss += int(value.split()[0])
            elif name == "VmHWM":
                hwm += int(value.split()[0])
    return rss, hwm


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    found = [pid]
    for each in found:
        try:
            for task in Path(f"/proc/{each}/task").iterdir():
                found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their descendants (the waited-for ones
    included), in seconds: a figure the load of other users of the machine does not change.
    This process counts alone: its children are the servers, counted on their own."""
    ticks = 0
    own = os.getpid()
    for pid in {p for root in pids if root != own for p in tree(root)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    seconds = ticks / os.sysconf("SC_CLK_TCK")
    return seconds + (time.process_time() if own in pids else 0.0)


def reset_peak(pid: int) -> None:
    for each in processes(pid):
        Path(f"/proc/{each}/clear_refs").write_text("5")  # VmHWM := VmRSS


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def chunks_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(env: dict[str, str], log: Path, workers: int = 1) -> Server:
    port = free_port()
    registry = Path(sys.executable).parent / "registry"
    with log.open("ab") as out:
        process = subprocess.Popen([str(registry), "serve", "--port", str(port),
                                    "--workers", str(workers)],
                                   env={**os.environ, **env}, stdout=out, stderr=out,
                                   stdin=subprocess.DEVNULL)
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"registry serve exited; see {log}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return Server(process, url, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"registry serve did not become ready; see {log}")


def prepare_case(database_url: str) -> tuple[str, str]:
    """A clerk of 平昌县 (token) and a submitted first-registration case to attach to."""
    from registry.codes import IdType, resident_id_check_char
    from registry.db.applications import ApplicationKind
    from registry.db.parties import PartyKind
    from registry.db.session import make_engine, make_session_factory, transaction
    from registry.db.units import UnitKind
    from registry.services.access import authenticate, create_user
    from registry.services.parcels import ParcelInput, create_parcel
    from registry.services.parties import PartyInput
    from registry.services.registration.applications import ApplicationInput, HolderInput, submit
    from registry.services.units import RuralHouseInput, UnitInput, create_unit

    engine = make_engine(database_url, pool_size=1)
    try:
        sessions = make_session_factory(engine)
        now = datetime.now(UTC)
        with transaction(sessions) as session:
            _, token = create_user(session, "bench-clerk", ["clerk"], "511923")
            clerk = authenticate(session, token)
            x, y = 414_600.0, 3_493_400.0
            ring = [[x, y], [x + 20, y], [x + 20, y + 20], [x, y + 20], [x, y]]
            parcel = create_parcel(session, clerk, ParcelInput(
                code="511923101003JC00001", geometry={"type": "Polygon", "coordinates": [ring]},
                crs=4545, land_use_system="GB/T 21010-2017", land_use_code="0702",
                location="平昌县江口镇"), now)
            unit = create_unit(session, clerk, UnitInput(
                parcel_code=parcel.code, kind=UnitKind.RURAL_HOUSE, building_no=1, unit_no=1,
                house=RuralHouseInput(2, "砖混", Decimal("120"))), now)
            first17 = "51192319800101001"
            holder = PartyInput(PartyKind.PERSON, "王大山", IdType.RESIDENT_ID,
                                first17 + resident_id_check_char(first17))
            case = submit(session, clerk, ApplicationInput(
                kind=ApplicationKind.FIRST, unit_codes=[unit.code],
                holders=[HolderInput(holder)]), now)
            return token, case.number
    finally:
        engine.dispose()


def graphql(client: httpx.Client, url: str, token: str, query: str,
            variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{url}/graphql", json={"query": query, "variables": variables},
                           headers={"Authorization": f"Bearer {token}"})
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def ingest_multipart(client: httpx.Client, url: str, token: str, number: str,
                     path: Path) -> dict[str, Any]:
    operations = {"query": UPLOAD, "variables": {
        "file": None, "kind": "TITLE_SOURCE", "target": {"applicationNumber": number}}}
    with path.open("rb") as handle:
        response = client.post(
            f"{url}/graphql",
            data={"operations": json.dumps(operations), "map": '{"0": ["variables.file"]}'},
            files={"0": (path.name, handle, "application/octet-stream")},
            headers={"Authorization": f"Bearer {token}", "X-Registry-CSRF": "1"})
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]["uploadDocument"]


def ingest_presigned(client: httpx.Client, url: str, token: str, number: str,
                     path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    ticket = graphql(client, url, token, REQUEST, {"input": {
        "kind": "TITLE_SOURCE", "target": {"applicationNumber": number}, "size": size,
        "sha256": sha256_file(path), "fileName": path.name}})["requestUpload"]
    put = client.put(ticket["url"], content=chunks_of(path),
                     headers={"Content-Length": str(size)})
    if put.status_code != 200:
        raise RuntimeError(f"PUT {put.status_code}: {put.text[:300]}")
    return graphql(client, url, token, COMPLETE, {"id": ticket["uploadId"]})["completeUpload"]


def in_flight(concurrency: int, work: Callable[[Path], Any], paths: list[Path]) -> float:
    """Seconds to run `work` over `paths` with `concurrency` of them in flight."""
    started = time.perf_counter()
    if concurrency == 1:
        for path in paths:
            work(path)
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(work, paths))
    return time.perf_counter() - started


class RawPuts:
    """The baseline: each file PUT as one object with the minio SDK, nothing else."""

    def __init__(self, stack: DevStack, bucket: str) -> None:
        assert stack.s3 is not None and stack.s3.credentials is not None
        creds = stack.s3.credentials
        self.client = Minio(stack.s3.endpoint.removeprefix("http://"),
                            access_key=creds.access_key, secret_key=creds.secret_key,
                            secure=False, region="us-east-1")
        self.bucket = bucket
        for attempt in range(100):  # weed answers signed requests a moment after it starts
            try:
                if not self.client.bucket_exists(bucket):
                    self.client.make_bucket(bucket)
                return
            except Exception:
                if attempt == 99:
                    raise
                time.sleep(0.2)

    def __call__(self, path: Path) -> None:
        self.client.fput_object(self.bucket, f"raw/{path.name}", str(path))


class RawPutsWithThumbnails(RawPuts):
    """The floor of the work itself, with no server: PUT the original and, at the same time,
    decode it into its thumbnail (as the server does: same reduction, same JPEG settings),
    and PUT the thumbnail as soon as it is made. Whatever either path costs beyond this is the
    registry's own."""

    def __init__(self, stack: DevStack, bucket: str) -> None:
        super().__init__(stack, bucket)
        self.pool = ThreadPoolExecutor(4)

    def __call__(self, path: Path) -> None:
        putting = self.pool.submit(self.client.fput_object, self.bucket, f"raw/{path.name}",
                                   str(path))
        with Image.open(path) as image:
            small = _reduce(image, THUMBNAIL_PX)
            out = io.BytesIO()
            small.convert("RGB").save(out, format="JPEG", quality=80)
        size = out.tell()
        out.seek(0)
        self.client.put_object(self.bucket, f"thumbs/{path.name}", out, size,
                               content_type="image/jpeg")
        putting.result()


class UploadPath:
    """One upload path on its own `registry serve`, database and bucket."""

    def __init__(self, name: str, concurrency: int, ingest: Any, stack: DevStack,
                 work: Path, round_no: int = 1, workers: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        assert stack.postgres is not None and stack.s3 is not None
        assert stack.s3.credentials is not None
        run = f"{concurrency}-r{round_no}"
        database = f"bench_{name}_{run.replace('-', '_')}"
        stack.postgres.ensure_database(database)
        database_url = stack.postgres.url(database)
        env = {"DATABASE_URL": database_url, "S3_ENDPOINT": stack.s3.endpoint,
               "S3_ACCESS_KEY": stack.s3.credentials.access_key,
               "S3_SECRET_KEY": stack.s3.credentials.secret_key,
               "S3_BUCKET": f"bench-{name}-{run}", "LOG_LEVEL": "WARNING",
               "VAR_DIR": str(work / "var"), **(env or {})}
        self.name = name
        # one per core once requests overlap
        self.workers = workers or (1 if concurrency == 1 else 2)
        self.server = start_server(env, work / f"server-{name}-{run}.log", self.workers)
        self.token, self.number = prepare_case(database_url)
        self.ingest = ingest
        self.client = httpx.Client(timeout=600, limits=httpx.Limits(max_connections=16))
        self.seconds = 0.0

    def __call__(self, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = self.ingest(self.client, self.server.url, self.token,
                                             self.number, path)
        return result

    @property
    def pid(self) -> int:
        return self.server.process.pid

    def close(self) -> None:
        self.client.close()
        self.server.stop()


def cpu_bound(cpu_seconds: float, raw_seconds: float) -> float:
    """The least wall time this CPU could take on this machine, every core busy all along,
    as a multiple of the raw PUT's wall time: no schedule of the same work can beat it."""
    return round(cpu_seconds / (os.cpu_count() or 1) / raw_seconds, 2)


def run_level(concurrency: int, stack: DevStack, scans: list[Path], tiff: Path | None,
              tiff_pages: int, work: Path, block: int, round_no: int = 1) -> dict[str, Any]:
    """Baseline and both paths over the same scans, interleaved block by block, so that
    whatever else the shared machine is doing weighs on all three alike. CPU is counted for
    the client, weed, PostgreSQL and the server together. Each round has fresh servers,
    databases and buckets (nothing is deduplicated from an earlier round); the TIFF is sent
    when given."""
    assert stack.s3 is not None and stack.s3.process is not None
    assert stack.postgres is not None
    postmaster = int((stack.postgres.data_dir / "postmaster.pid").read_text().split()[0])
    raw = RawPuts(stack, f"bench-raw-{concurrency}-r{round_no}")
    floor = RawPutsWithThumbnails(stack, f"bench-floor-{concurrency}-r{round_no}")
    paths = [UploadPath("multipart", concurrency, ingest_multipart, stack, work, round_no),
             UploadPath("presigned", concurrency, ingest_presigned, stack, work, round_no)]
    try:
        figures: dict[str, dict[str, Any]] = {}
        for method in (raw, floor):  # a new bucket's first writes make weed set it up
            in_flight(1, method, scans[:WARM_UP])
        for path in paths:  # imports, pools: one warm-up per worker
            in_flight(path.workers, path, scans[:WARM_UP][:path.workers])
            idle, _ = rss_kib(path.pid)
            reset_peak(path.pid)
            figures[path.name] = {"idle": idle}
        timed = scans[WARM_UP:]
        everyone = [os.getpid(), stack.s3.process.pid, postmaster,
                    *(path.pid for path in paths)]
        wall = dict.fromkeys(["raw", "floor", *(path.name for path in paths)], 0.0)
        cpu = dict(wall)
        for i in range(0, len(timed), block):
            chunk = timed[i:i + block]
            for name, method in (("raw", raw), ("floor", floor),
                                 *((path.name, path) for path in paths)):
                before = cpu_seconds(everyone)
                wall[name] += in_flight(concurrency, method, chunk)
                cpu[name] += cpu_seconds(everyone) - before
        raw_seconds = wall["raw"]
        for path in paths:
            path.seconds = wall[path.name]
        size = sum(p.stat().st_size for p in timed)
        run: dict[str, Any] = {"baseline_raw_put": {
            "scans": len(timed), "bytes": size, "concurrency": concurrency,
            "seconds": round(raw_seconds, 3), "pages_per_s": round(len(timed) / raw_seconds, 2),
            "mb_per_s": round(size / raw_seconds / 1e6, 2),
            "cpu_ms_per_scan": round(cpu["raw"] / len(timed) * 1000, 1),
            "cpu_bound_ratio_to_raw": cpu_bound(cpu["raw"], raw_seconds)},
            "floor_put_and_thumbnail": {
                "seconds": round(wall["floor"], 3),
                "ratio_to_raw": round(wall["floor"] / raw_seconds, 2),
                "cpu_ms_per_scan": round(cpu["floor"] / len(timed) * 1000, 1),
                "cpu_bound_ratio_to_raw": cpu_bound(cpu["floor"], raw_seconds)}}
        for path in paths:
            after, peak = rss_kib(path.pid)
            run[path.name] = {
                "scans": len(timed), "bytes": size, "concurrency": concurrency,
                "workers": path.workers, "seconds": round(path.seconds, 3),
                "pages_per_s": round(len(timed) / path.seconds, 2),
                "mb_per_s": round(size / path.seconds / 1e6, 2),
                "ratio_to_raw": round(path.seconds / raw_seconds, 2),
                "ratio_to_floor": round(path.seconds / wall["floor"], 2),
                "cpu_ms_per_scan": round(cpu[path.name] / len(timed) * 1000, 1),
                "cpu_ratio_to_raw": round(cpu[path.name] / cpu["raw"], 2),
                "cpu_bound_ratio_to_raw": cpu_bound(cpu[path.name], raw_seconds),
                "server_rss_idle_mb": round(figures[path.name]["idle"] / 1024, 1),
                "server_rss_peak_scans_mb": round(peak / 1024, 1),
                "server_rss_after_scans_mb": round(after / 1024, 1),
            }
            if tiff is None:
                continue
            reset_peak(path.pid)
            started = time.perf_counter()
            result = path(tiff)
            tiff_seconds = time.perf_counter() - started
            assert result["pageCount"] == tiff_pages, result
            _, tiff_peak = rss_kib(path.pid)
            run[path.name].update({
                "tiff_seconds": round(tiff_seconds, 3),
                "tiff_pages_per_s": round(tiff_pages / tiff_seconds, 2),
                "server_rss_before_tiff_mb": round(after / 1024, 1),
                "server_rss_peak_tiff_mb": round(tiff_peak / 1024, 1),
                "tiff_rss_growth_mb": round((tiff_peak - after) / 1024, 1),
            })
        return run
    finally:
        floor.pool.shutdown()
        for path in paths:
            path.close()


# --------------------------------------------------------------------------- large PNGs


MEMORY_SECTION = "## Decode memory: concurrent large PNGs (SCAN-5)"
MEMORY_BUDGET_MB = 600  # issue 13: peak RSS growth with 8 such uploads in flight


def sample_peak(pid: int, stop: threading.Event, peak: list[int]) -> None:
    """The largest VmRSS summed over the server's processes, read every 20 ms."""
    while not stop.wait(0.02):
        with suppress(FileNotFoundError, ProcessLookupError):
            peak[0] = max(peak[0], rss_kib(pid)[0])


def run_large_pngs(stack: DevStack, work: Path, count: int, workers: int, label: str,
                   env: dict[str, str]) -> dict[str, Any]:
    """`count` distinct 8900×8900 PNGs sent at once by path (a) to a fresh server: its RSS
    idle (after a warm-up scan), its peak (VmHWM after a reset, and sampled), and what it
    still holds once every upload has answered."""
    name = f"png{workers}{'b' if env else ''}"
    path = UploadPath(name, count, ingest_multipart, stack, work, workers=workers, env=env)
    try:
        pngs = []
        for i in range(count):
            pngs.append(work / f"{name}-large-{i}.png")
            pngs[-1].write_bytes(large_png(mark=f"{name} {i}"))
        warm = work / "scans" / "warm-up.jpg"
        if not warm.exists():
            generate_scans(work / "warm", 1)[0].rename(warm)
        in_flight(workers, path, [warm] * workers)
        idle, _ = rss_kib(path.pid)
        reset_peak(path.pid)
        stop, sampled = threading.Event(), [idle]
        sampler = threading.Thread(target=sample_peak, args=(path.pid, stop, sampled))
        sampler.start()
        try:
            seconds = in_flight(count, path, pngs)
        finally:
            stop.set()
            sampler.join()
        after, peak = rss_kib(path.pid)
        documents = [path(p) for p in pngs]  # answered again: the same stored files
        assert all(d["pageCount"] == 1 for d in documents), documents
        # One process: its VmHWM is the peak. Several: each one's VmHWM is reached at its own
        # moment, so their sum overstates what was held at once; the sampled sum is the peak.
        simultaneous = max(peak, sampled[0]) if workers == 1 else sampled[0]
        return {"label": label, "workers": workers, "uploads": count,
                "png_bytes": pngs[0].stat().st_size, "seconds": round(seconds, 2),
                "idle_mb": round(idle / 1024, 1),
                "peak_growth_mb": round((simultaneous - idle) / 1024, 1),
                "hwm_sum_growth_mb": round((peak - idle) / 1024, 1),
                "held_after_mb": round((after - idle) / 1024, 1)}
    finally:
        path.close()


def large_pngs_main(count: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="registry-bench-documents-"))
    os.chmod(work, 0o755)
    stack = DevStack(work / "stack", fast_and_unsafe=True)
    try:
        stack.start()
        (work / "scans").mkdir()
        runs = [run_large_pngs(stack, work, count, 1, "SCAN-5 (default budget, 384 MB)", {}),
                run_large_pngs(stack, work, count, 1, "no budget (DOCUMENT_DECODE_MEMORY_MB"
                               "=100000: every decode at once)",
                               {"DOCUMENT_DECODE_MEMORY_MB": "100000"}),
                run_large_pngs(stack, work, count, 2, "SCAN-5, two worker processes", {}),
                run_large_pngs(stack, work, count, 2, "two workers, 384 MB each (a budget per "
                               "process, as before: DOCUMENT_DECODE_MEMORY_MB=768)",
                               {"DOCUMENT_DECODE_MEMORY_MB": "768"})]
        write_memory_report(runs, count)
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


def write_memory_report(runs: list[dict[str, Any]], count: int) -> None:
    png = runs[0]["png_bytes"]
    lines = [
        MEMORY_SECTION, "",
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {platform.machine()}, "
        f"{os.cpu_count()} cores — `python bench/documents.py --large-pngs {count}`. "
        f"{count} distinct RGB PNGs of {LARGE_PNG_SIDE}×{LARGE_PNG_SIDE} pixels "
        f"({png / 1000:.0f} KB each; 79.2 M pixels, inside the 80 M limit; 317 MB of pixels "
        "each as Pillow holds them) sent at once through path (a) to a fresh `registry serve`, "
        "after one warm-up scan per worker. Peak growth: for one process, VmHWM after a "
        "reset (or VmRSS sampled every 20 ms, if higher); for several, VmRSS sampled every "
        "20 ms and summed over the processes (what they held at once) — the sum of each "
        "process's own VmHWM is shown too, though those peaks fall at different moments; "
        "held: VmRSS once every upload has answered. Each row has its own server, database "
        "and bucket.", "",
        f"| server | workers | seconds | RSS idle | peak growth | ≤ {MEMORY_BUDGET_MB} MB "
        "| sum of per-process peaks | held after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        met = "met" if run["peak_growth_mb"] <= MEMORY_BUDGET_MB else "missed"
        lines.append(f"| {run['label']} | {run['workers']} | {run['seconds']} | "
                     f"{run['idle_mb']} MB | {run['peak_growth_mb']} MB | {met} | "
                     f"{run['hwm_sum_growth_mb']} MB | {run['held_after_mb']} MB |")
    lines += ["", "DOCUMENT_DECODE_MEMORY_MB is the service's (SCAN-5 in storage/scans.py): "
              "`registry serve --workers N` gives each worker 1/N of it, and a page larger "
              "than a share takes a service-wide gate, so one such page is decoded at a time "
              "across the workers.", ""]
    section = "\n".join(lines)
    print(section)
    report = RESULTS / "documents.md"
    kept = report.read_text().split(MEMORY_SECTION)[0].rstrip("\n") if report.exists() else ""
    report.write_text((kept + "\n\n" if kept else "") + section)


# --------------------------------------------------------------------------- report


def median_of_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each method's figures as the median over the rounds (the TIFF's come from the first
    round, the only one that sends it), with every round's ratio to the raw PUT kept."""
    merged: dict[str, Any] = {}
    for method, first in rounds[0].items():
        each = [figures[method] for figures in rounds]
        merged[method] = {
            key: round(statistics.median(f[key] for f in each), 3)
            if isinstance(value, int | float) and all(key in f for f in each)
            and len({f[key] for f in each}) > 1 else value
            for key, value in first.items()}
        if "ratio_to_raw" in first:
            merged[method]["rounds_ratio_to_raw"] = [f["ratio_to_raw"] for f in each]
    return merged


def by_round(figures: dict[str, Any]) -> str:
    return " · ".join(f"{ratio:.2f}" for ratio in figures["rounds_ratio_to_raw"])


def write_report(results: dict[str, Any], quick: bool) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if quick else ""
    (RESULTS / f"documents{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    tiff = results["tiff"]
    first = results["runs"][0]["baseline_raw_put"]
    lines = [
        "# Documents: ingest benchmark", "",
        f"Run {results['when']} on {results['machine']} — `{results['command']}` "
        f"({results['total_seconds']} s in all). Each figure is the median of "
        f"{results['rounds']} round(s), each on fresh servers, databases and buckets; the "
        "TIFF is sent in the first.", "",
        f"{first['scans']} A4 300 dpi JPEG scans, {first['bytes'] / 1e6:.0f} MB in all "
        f"({first['bytes'] / first['scans'] / 1e6:.2f} MB each on average), one page each; "
        f"one multi-page uncompressed RGB TIFF of {tiff['bytes'] / 1e6:.0f} MB "
        f"({tiff['pages']} pages). Load average when it started: {results['load']}. "
        f"The server (`registry serve`: one worker process for one "
        "request at a time, two for several), PostgreSQL, weed and the client share the same "
        "2 cores.", "",
        "| in flight (workers) | path | seconds | pages/s | MB/s | × raw PUT | ≤ 2× "
        "| × raw PUT by round | × floor | CPU ms/scan (× raw) | CPU bound (× raw PUT) "
        "| server RSS idle → peak | TIFF s | TIFF RSS growth | ≤ 100 MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        raw = run["baseline_raw_put"]
        n = f"{raw['concurrency']} ({run['multipart']['workers']})"
        lines.append(f"| {n} | raw PUT (minio SDK alone) | {raw['seconds']} | "
                     f"{raw['pages_per_s']} | {raw['mb_per_s']} | 1.00 | | | | "
                     f"{raw['cpu_ms_per_scan']} | {raw['cpu_bound_ratio_to_raw']:.2f} "
                     "| | | | |")
        fl = run["floor_put_and_thumbnail"]
        lines.append(f"| {n} | floor: PUT + thumbnail, no server | {fl['seconds']} | | | "
                     f"{fl['ratio_to_raw']:.2f} | | {by_round(fl)} | 1.00 | "
                     f"{fl['cpu_ms_per_scan']} | {fl['cpu_bound_ratio_to_raw']:.2f} | | | | |")
        for name, label in (("multipart", "(a) GraphQL multipart"),
                            ("presigned", "(b) presigned PUT + complete")):
            r = run[name]
            ratio = r["ratio_to_raw"]
            lines.append(
                f"| {n} | {label} | {r['seconds']} | {r['pages_per_s']} | {r['mb_per_s']} | "
                f"{ratio:.2f} | {'met' if ratio <= 2 else 'missed'} | {by_round(r)} | "
                f"{r['ratio_to_floor']:.2f} | "
                f"{r['cpu_ms_per_scan']} ({r['cpu_ratio_to_raw']:.2f}) | "
                f"{r['cpu_bound_ratio_to_raw']:.2f} | "
                f"{r['server_rss_idle_mb']} → {r['server_rss_peak_scans_mb']} MB | "
                f"{r['tiff_seconds']} | {r['tiff_rss_growth_mb']} MB | "
                f"{'met' if r['tiff_rss_growth_mb'] <= 100 else 'missed'} |")
    lines += ["", "Both paths include spooling and hashing, type detection, a thumbnail per "
              "page, the checksum-verified PUTs of original and thumbnails, and the rows; "
              "path (b) also the client's SHA-256 and PUT, two GraphQL round trips, and the "
              "server reading the object back to verify it. The floor is the work itself "
              "without any server: the original PUT while its thumbnail is decoded (same "
              "reduction and JPEG settings), then the thumbnail PUT. CPU bound: the CPU "
              "counted for a method divided by the cores, as a multiple of the raw PUT's wall "
              "time — what that work would take with every core busy all along, which no "
              "schedule of it can beat. Notes: bench/README.md.",
              ""]
    if not quick:  # the committed summary is the full run's; --quick only prints its table
        report = RESULTS / "documents.md"
        text = report.read_text() if report.exists() else ""
        kept = text[text.index(MEMORY_SECTION):] if MEMORY_SECTION in text else ""
        report.write_text("\n".join(lines) + ("\n" + kept if kept else ""))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 scans, a 52 MB TIFF")
    parser.add_argument("--scans", type=int, default=None)
    parser.add_argument("--tiff-mb", type=int, default=None)
    parser.add_argument("--concurrency", default=None,
                        help="requests in flight, comma-separated (default 1,4; quick: 1)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per level, each on fresh servers; figures are medians "
                             "(default 3; quick: 1)")
    parser.add_argument("--large-pngs", type=int, default=None, metavar="N",
                        help="only the decode-memory run: N 8900×8900 PNGs at once (SCAN-5)")
    args = parser.parse_args()
    if args.large_pngs:
        large_pngs_main(args.large_pngs)
        return
    rounds = args.rounds or (1 if args.quick else 3)
    count = args.scans or (20 if args.quick else 200)
    tiff_mb = args.tiff_mb or (52 if args.quick else 200)
    levels = [int(n) for n in (args.concurrency or ("1" if args.quick else "1,4")).split(",")]
    work = Path(tempfile.mkdtemp(prefix="registry-bench-documents-"))
    os.chmod(work, 0o755)  # as root, PostgreSQL runs as `postgres` and must reach its folder
    stack = DevStack(work / "stack", fast_and_unsafe=True)
    try:
        started = time.perf_counter()
        stack.start()
        assert stack.s3 is not None and stack.s3.credentials is not None
        print(f"generating {count + WARM_UP} scans and a {tiff_mb} MB TIFF …", flush=True)
        scans = generate_scans(work / "scans", count + WARM_UP)
        tiff = work / "scans" / "survey.tif"
        tiff_pages, tiff_bytes = generate_tiff(tiff, tiff_mb)
        results: dict[str, Any] = {
            "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "command": " ".join(["python bench/documents.py", *sys.argv[1:]]),
            "tiff": {"pages": tiff_pages, "bytes": tiff_bytes}, "runs": [],
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "rounds": rounds,
        }
        for level in levels:
            figures = []
            for round_no in range(1, rounds + 1):
                print(f"{level} in flight, round {round_no} of {rounds} …", flush=True)
                figures.append(run_level(level, stack, scans, tiff if round_no == 1 else None,
                                         tiff_pages, work, block=10 if args.quick else 20,
                                         round_no=round_no))
            results["runs"].append(median_of_rounds(figures))
        results["total_seconds"] = round(time.perf_counter() - started, 1)
        write_report(results, args.quick)
    finally:
        stack.stop()
        for log in work.glob("server-*.log"):
            text = log.read_text()
            if "Traceback" in text or "ERROR" in text:
                print(f"--- {log.name}\n{text[-3000:]}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
