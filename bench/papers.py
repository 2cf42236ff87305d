"""Benchmark (issue 14): printing 1,000 certificates with their parcel maps (宗地图).

    python bench/papers.py                  # 1,000 prints (a few minutes)
    python bench/papers.py --quick          # 100 prints
    python bench/papers.py --workers 0      # without the parallel run

A private PostgreSQL + PostGIS and `weed mini` (DevStack, durable settings: fsync on), migrated,
filled by bench/registry_data.py (jittered 40 m grid of quadrilaterals, so every house has its
eight neighbours on the map) with the certificates and register entries recording would have
written (bench/verify.py's `add_register`). The batch is rural-house titles (农房, the bulk of a
bureau's printing), each certificate printed once on blank paper by its county's registrar.

Measured in the same run:
- (a) baseline: `typesetter().pdf("certificate", data)` N times with one constant `data` —
  the data `render_paper` gives the template for one real certificate, map and print block
  (QR code) included;
- (b) the real path: `print_paper` for N distinct certificates, each in its own transaction
  (record read, map from PostGIS, compile, PAdES signature, PDF stored in S3, rows, commit);
- where the time goes: the same path on a further sample with each step timed (the record
  read, the map, the QR code, the compile, the signature, the store; the rest is locks,
  lookups, rows and the commit);
- memory: the process's RSS every 100 prints, and its peak;
- (c) optionally (--workers W) W client processes, each with its own session, printing N
  further certificates between them, as a bureau's batch could run, beside W processes
  compiling the constant data (the baseline at the same parallelism).

Budget: (b) ≥ 0.5 × (a), memory flat over the batch.
Results: bench/results/papers.json (ignored) and bench/results/papers.md (committed).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import select  # noqa: E402

from registry.config import Settings  # noqa: E402

RSS_EVERY = 100
WARM_UP = 5
# "Memory flat": after the first RSS_EVERY prints, RSS grows by at most this much to the end.
FLAT_BOUND_MB = 16.0


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """VmRSS and VmHWM (peak) of a process, MB."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def machine_busy_s() -> float:
    """CPU seconds all processes of the machine have used (/proc/stat, every core)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return os.getloadavg()[0]


def tree_state() -> str:
    """The commit measured, and whether the papers' code had uncommitted changes."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()

    changed = git("status", "--porcelain", "--", "registry/papers", "registry/services/papers.py")
    return git("rev-parse", "--short", "HEAD") + (
        f" with {len(changed.splitlines())} uncommitted changes under registry/papers and "
        "registry/services/papers.py" if changed else "")


# ---------------------------------------------------------------------- the register


def build_register(workdir: Path, units: int) -> tuple[Any, dict[str, Any]]:
    """A private stack with a migrated register of `units` units, their titles certified."""
    from registry_data import load
    from verify import add_register

    from registry.devstack import DevStack
    from registry.migrations import upgrade

    stack = DevStack(workdir / "stack")
    stack.start()
    assert stack.postgres is not None and stack.s3 is not None
    stack.postgres.ensure_database("bench")
    url = stack.postgres.url("bench")
    upgrade(url)
    started = time.perf_counter()
    timings = {"load": load(url, units), "register": add_register(url)}
    timings["load_s"] = round(time.perf_counter() - started, 1)
    return stack, timings


def settings_for(stack: Any, key_files: tuple[Path, Path]) -> Settings:
    assert stack.postgres is not None and stack.s3 is not None
    credentials = stack.s3.credentials
    return Settings(database_url=SecretStr(stack.postgres.url("bench")),
                    s3_endpoint=stack.s3.endpoint,
                    s3_access_key=SecretStr(credentials.access_key),
                    s3_secret_key=SecretStr(credentials.secret_key), s3_bucket="papers",
                    database_pool_size=2, papers_signing_key=str(key_files[0]),
                    papers_signing_cert=str(key_files[1]), ledger_expiry_sweep_seconds=0)


def registrars(runtime: Any) -> dict[str, Any]:
    """One registrar per county (the printer of its certificates), as principals."""
    from registry.db.access import Role
    from registry.db.session import transaction
    from registry.services.access import Principal, create_user

    found: dict[str, Any] = {}
    with transaction(runtime.sessions) as session:
        from registry_data import SEATS
        for county in SEATS:
            user, _ = create_user(session, f"bench-{county}-registrar", [Role.REGISTRAR],
                                  county, f"{county} registrar")
            found[county] = Principal(user.id, user.username, frozenset({Role.REGISTRAR}),
                                      county)
    return found


def house_titles(runtime: Any) -> list[tuple[str, str]]:
    """(certificate number, county) of every rural-house title, in number order."""
    from registry.codes import CertificateKind
    from registry.db.register import Certificate
    from registry.db.rights import Right
    from registry.db.units import Unit, UnitKind

    with runtime.sessions() as session:
        rows = session.execute(
            select(Certificate.number, Unit.county_code)
            .join(Right, Right.id == Certificate.right_id).join(Unit, Unit.id == Right.unit_id)
            .where(Certificate.kind == CertificateKind.RIGHT,
                   Unit.kind == UnitKind.RURAL_HOUSE)
            .order_by(Unit.county_code, Certificate.number)).all()
    # Round-robin over the counties, so that every slice of the batch is a mix.
    by_county: dict[str, list[str]] = {}
    for number, county in rows:
        by_county.setdefault(county, []).append(number)
    mixed: list[tuple[str, str]] = []
    for i in range(max(len(v) for v in by_county.values())):
        mixed += [(numbers[i], county) for county, numbers in by_county.items()
                  if i < len(numbers)]
    return mixed


# ---------------------------------------------------------------------- the two paths


def print_one(runtime: Any, setup: Any, principal: Any, number: str) -> None:
    from registry.db.session import transaction
    from registry.services.papers import PrintRequest, print_paper

    with transaction(runtime.sessions) as session:
        print_paper(session, principal, setup, PrintRequest(number), runtime.clock())


def constant_data(runtime: Any, number: str) -> dict[str, Any]:
    """What render_paper gives the certificate template for `number`, print block included
    (the same verification code and QR code a print would carry)."""
    from registry.papers.render import PrintInfo, render_paper
    from registry.services.papers import verification_code, verify_url

    code = verification_code()
    with runtime.sessions() as session:
        rendered = render_paper(session, number, runtime.clock(), PrintInfo(
            verification_code=code, verify_url=verify_url("http://127.0.0.1:8000", number,
                                                          code)))
    return rendered.data


def distinct_data(runtime: Any, numbers: list[str]) -> list[dict[str, Any]]:
    """What render_paper gives the template for each of `numbers` (read only: nothing is
    printed or stored; each gets a verification code and QR code of its own)."""
    return [constant_data(runtime, number) for number in numbers]


def timed_loop(count: int, step: Callable[[int], None]) -> dict[str, Any]:
    """`step(i)` for i < count: wall and CPU seconds, RSS every RSS_EVERY steps."""
    samples = [round(rss_mb()[0], 1)]
    cpu, busy, started = cpu_s(), machine_busy_s(), time.perf_counter()
    for i in range(count):
        step(i)
        if (i + 1) % RSS_EVERY == 0 or i + 1 == count:
            samples.append(round(rss_mb()[0], 1))
    seconds = time.perf_counter() - started
    return {"count": count, "seconds": round(seconds, 3),
            "per_s": round(count / seconds, 2), "ms_each": round(1000 * seconds / count, 2),
            "cpu_ms_each": round(1000 * (cpu_s() - cpu) / count, 2),
            "machine_cpu_ms_each": round(1000 * (machine_busy_s() - busy) / count, 2),
            "rss_mb": samples, **memory_trend(samples)}


def memory_trend(samples: list[float]) -> dict[str, Any]:
    """Growth after warm-up: from the first sample after RSS_EVERY steps to the last."""
    after = samples[1:] if len(samples) > 2 else samples
    growth = after[-1] - after[0]
    return {"rss_growth_after_warmup_mb": round(growth, 1),
            "rss_max_mb": max(samples), "flat": growth <= FLAT_BOUND_MB}


# ---------------------------------------------------------------------- where the time goes

STEPS = ("record", "map", "qr", "compile", "sign", "store", "rest incl. commit")


@contextmanager
def instrumented(times: dict[str, float]) -> Iterator[None]:
    """The print path's steps, each timed into `times` (seconds, summed)."""
    import registry.papers.render as render
    import registry.services.papers as papers

    def timing(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - started
        return wrapped

    real_typesetter = render.typesetter

    class Timed:
        def pdf(self, *args: Any, **kwargs: Any) -> bytes:
            return timing("compile", real_typesetter().pdf)(*args, **kwargs)

    saved = {(render, "paper_record"): render.paper_record,
             (render, "parcel_map"): render.parcel_map, (render, "qr_svg"): render.qr_svg,
             (render, "typesetter"): render.typesetter,
             (papers, "sign_pdf"): papers.sign_pdf, (papers, "store_content"): papers.store_content}
    render.paper_record = timing("record", render.paper_record)  # type: ignore[assignment]
    render.parcel_map = timing("map", render.parcel_map)  # type: ignore[assignment]
    render.qr_svg = timing("qr", render.qr_svg)  # type: ignore[assignment]
    render.typesetter = lambda: Timed()  # type: ignore[assignment]
    papers.sign_pdf = timing("sign", papers.sign_pdf)  # type: ignore[assignment]
    papers.store_content = timing("store", papers.store_content)  # type: ignore[assignment]
    try:
        yield
    finally:
        for (module, name), value in saved.items():
            setattr(module, name, value)


def breakdown(runtime: Any, setup: Any, staff: dict[str, Any],
              sample: list[tuple[str, str]]) -> dict[str, Any]:
    times: dict[str, float] = {}
    started = time.perf_counter()
    with instrumented(times):
        for number, county in sample:
            print_one(runtime, setup, staff[county], number)
    total = time.perf_counter() - started
    measured = sum(times.values())
    times["rest incl. commit"] = total - measured
    return {"sample": len(sample), "ms_each_total": round(1000 * total / len(sample), 2),
            "ms_each": {k: round(1000 * times.get(k, 0.0) / len(sample), 2) for k in STEPS},
            "share": {k: round(times.get(k, 0.0) / total, 3) for k in STEPS}}


# ---------------------------------------------------------------------- parallel clients

_worker: dict[str, Any] = {}


def _worker_init(settings_json: str, staff_json: str, warm: str) -> None:
    """A client process: its own runtime (engine, session, store), fonts and key loaded."""
    from registry.runtime import Runtime
    from registry.services.access import Principal
    from registry.services.papers import PrintSetup

    settings = Settings.model_validate_json(settings_json)
    runtime = Runtime.from_settings(settings)
    _worker["runtime"] = runtime
    _worker["setup"] = PrintSetup.from_settings(settings, runtime.store)
    _worker["staff"] = {county: Principal(p["id"], p["username"], frozenset(p["roles"]), county)
                        for county, p in json.loads(staff_json).items()}
    _worker["data"] = json.loads(warm)
    from registry.papers.typeset import typesetter
    typesetter().pdf("certificate", _worker["data"], created=datetime.now(UTC))


def _worker_print(chunk: list[tuple[str, str]]) -> dict[str, Any]:
    started = time.time()
    for number, county in chunk:
        print_one(_worker["runtime"], _worker["setup"], _worker["staff"][county], number)
    return {"start": started, "end": time.time(), "rss_mb": rss_mb()}


def _worker_compile(count: int) -> dict[str, Any]:
    from registry.papers.typeset import typesetter

    created = datetime.now(UTC)
    started = time.time()
    for _ in range(count):
        typesetter().pdf("certificate", _worker["data"], created=created)
    return {"start": started, "end": time.time(), "rss_mb": rss_mb()}


def parallel(workers: int, settings: Settings, staff: dict[str, Any], data: dict[str, Any],
             batch: list[tuple[str, str]], compiles: int) -> dict[str, Any]:
    staff_json = json.dumps({c: {"id": p.user_id, "username": p.username,
                                 "roles": [r.value for r in p.roles]} for c, p in staff.items()})
    fields = ("database_url", "s3_endpoint", "s3_access_key", "s3_secret_key", "s3_bucket",
              "database_pool_size", "papers_signing_key", "papers_signing_cert",
              "ledger_expiry_sweep_seconds")
    plain = {k: getattr(settings, k) for k in fields}
    settings_json = json.dumps({k: v.get_secret_value() if isinstance(v, SecretStr) else v
                                for k, v in plain.items()})
    context = multiprocessing.get_context("spawn")
    out: dict[str, Any] = {"workers": workers}
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                             initargs=(settings_json, staff_json,
                                       json.dumps(data, ensure_ascii=False, default=str))
                             ) as pool:
        list(pool.map(_worker_compile, [1] * workers))  # every worker up before timing
        for name, fn, parts in (
                ("baseline", _worker_compile, [compiles // workers] * workers),
                ("print", _worker_print, [batch[i::workers] for i in range(workers)])):
            results = list(pool.map(fn, parts))
            seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
            count = compiles if name == "baseline" else len(batch)
            out[name] = {"count": count, "seconds": round(seconds, 3),
                         "per_s": round(count / seconds, 2),
                         "worker_rss_mb": [round(r["rss_mb"][0], 1) for r in results],
                         "worker_peak_rss_mb": [round(r["rss_mb"][1], 1) for r in results]}
    return out


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="prints in the batch")
    parser.add_argument("--sample", type=int, default=100, help="prints timed step by step")
    parser.add_argument("--workers", type=int, default=2,
                        help="client processes for the parallel run (0: none)")
    parser.add_argument("--quick", action="store_true", help="100 prints, sample 20")
    args = parser.parse_args()
    if args.quick:
        args.count, args.sample = 100, 20
    parallel_count = args.count if args.workers else 0
    wanted = WARM_UP + args.count + args.sample + parallel_count
    # registry_data: 1.95 units a grid cell, 0.9 of the cells houses, 0.7 of them titled
    units = max(2000, int(wanted / (0.9 * 0.7 / 1.95) * 1.1) + 500)

    from registry.papers.signing import generate_development_key
    from registry.papers.typeset import typesetter
    from registry.runtime import Runtime
    from registry.services.papers import PrintSetup

    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-papers-"))
    workdir.chmod(0o755)
    report: dict[str, Any] = {
        "command": " ".join(["python", "bench/papers.py", *sys.argv[1:]]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()} ({os.cpu_count()} CPUs), Python "
                   f"{platform.python_version()}",
        "load_before": round(load_average(), 2), "units": units, "tree": tree_state()}
    stack = None
    try:
        print(f"starting the stack and loading {units} units …", flush=True)
        stack, report["register"] = build_register(workdir, units)
        settings = settings_for(stack, generate_development_key(workdir / "signing"))
        runtime = Runtime.from_settings(settings)
        runtime.store.ensure_bucket()
        setup = PrintSetup.from_settings(settings, runtime.store)
        staff = registrars(runtime)
        titles = house_titles(runtime)
        if len(titles) < wanted:
            raise SystemExit(f"only {len(titles)} house titles, {wanted} wanted")
        warm, titles = titles[:WARM_UP], titles[WARM_UP:]
        batch, titles = titles[:args.count], titles[args.count:]
        sample, titles = titles[:args.sample], titles[args.sample:]
        parallel_batch = titles[:parallel_count]
        report["titles"] = len(titles) + len(batch) + len(sample) + WARM_UP

        # One real certificate's data (the first of the batch's kind, printed for warm-up),
        # and the warm-up of both paths: fonts, key, connections, bucket.
        data = constant_data(runtime, warm[0][0])
        report["constant_data"] = {"number": warm[0][0], "json_kb": round(
            len(json.dumps(data, ensure_ascii=False, default=str).encode()) / 1024, 1),
            "map_svg_kb": round(len(data["map"]["svg"].encode()) / 1024, 1),
            "neighbours_on_map": data["map"]["svg"].count('stroke="#8c8c8c"'),
            "boundary_points": len(data["map"]["points"])}
        created = runtime.clock()
        pdf = typesetter().pdf("certificate", data, created=created)
        report["pdf_kb"] = round(len(pdf) / 1024, 1)
        for number, county in warm:
            print_one(runtime, setup, staff[county], number)

        print(f"(a) compiling the certificate {args.count}× with constant data …", flush=True)
        report["baseline"] = timed_loop(args.count, lambda i: typesetter().pdf(
            "certificate", data, created=created))
        print(report["baseline"], flush=True)

        print(f"(a') compiling the certificate with each of {args.count} certificates' own "
              "data …", flush=True)
        own = distinct_data(runtime, [number for number, _ in batch])
        report["baseline_distinct"] = timed_loop(args.count, lambda i: typesetter().pdf(
            "certificate", own[i], created=created))
        own.clear()
        print(report["baseline_distinct"], flush=True)

        print(f"(b) printing {args.count} certificates …", flush=True)
        report["print"] = timed_loop(args.count, lambda i: print_one(
            runtime, setup, staff[batch[i][1]], batch[i][0]))
        print(report["print"], flush=True)

        print(f"where the time goes: {args.sample} more, step by step …", flush=True)
        report["breakdown"] = breakdown(runtime, setup, staff, sample)
        print(report["breakdown"], flush=True)
        report["peak_rss_mb"] = round(rss_mb()[1], 1)

        if args.workers:
            print(f"(c) {args.workers} client processes: {parallel_count} more prints, "
                  f"and {args.count} compiles …", flush=True)
            report["parallel"] = parallel(args.workers, settings, staff, data,
                                          parallel_batch, args.count)
            print(report["parallel"], flush=True)
        with runtime.sessions() as session:
            from sqlalchemy import func

            from registry.db.papers import PrintedPaper
            report["prints_stored"] = session.scalar(select(func.count()).select_from(
                PrintedPaper))
        runtime.close()
    finally:
        report["load_after"] = round(load_average(), 2)
        if stack is not None:
            stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report["ratio"] = round(report["print"]["per_s"] / report["baseline"]["per_s"], 3)
    report["ratio_vs_distinct_compile"] = round(
        report["print"]["per_s"] / report["baseline_distinct"]["per_s"], 3)
    if "parallel" in report:
        p = report["parallel"]
        report["parallel_ratio_vs_single_baseline"] = round(
            p["print"]["per_s"] / report["baseline"]["per_s"], 3)
        report["parallel_ratio_vs_parallel_baseline"] = round(
            p["print"]["per_s"] / p["baseline"]["per_s"], 3)
    write_report(report)


def write_report(report: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "papers.json").write_text(json.dumps(report, indent=2, ensure_ascii=False)
                                         + "\n", encoding="utf-8")
    a, b, d = report["baseline"], report["print"], report["breakdown"]
    lines = [
        "# Printing certificates with maps (issue 14)", "",
        f"Run {report['started']} on {report['machine']}; private PostgreSQL 15 + PostGIS "
        "(durable: fsync on) and `weed mini`. Load average (1 min) before and after: "
        f"{report['load_before']} / {report['load_after']} (above ~1 means other work shared "
        "the two cores).",
        f"Command: `{report['command']}` (at nice 0), tree {report['tree']}.", "",
        f"Register: {report['units']:,} units from bench/registry_data.py, "
        f"{report['titles']:,} rural-house titles; the batch prints distinct ones, each once "
        "(PRINT-2), on blank paper, by its county's registrar, one transaction each. "
        f"Constant data of (a): certificate {report['constant_data']['number']} "
        f"({report['constant_data']['json_kb']} KB of JSON, map SVG "
        f"{report['constant_data']['map_svg_kb']} KB, "
        f"{report['constant_data']['neighbours_on_map']} neighbours drawn, "
        f"{report['constant_data']['boundary_points']} boundary points); "
        f"signed PDF about {report['pdf_kb']} KB before signing.", "",
        "| path | certificates | s | certs/s | ms each | CPU ms each: this process / "
        "machine | RSS growth after first 100, MB | RSS max MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {label} | {r['count']:,} | {r['seconds']} | {r['per_s']} | {r['ms_each']} | "
          f"{r['cpu_ms_each']} / {r['machine_cpu_ms_each']} | "
          f"{r['rss_growth_after_warmup_mb']} | {r['rss_max_mb']} |"
          for label, r in (("(a) compile, constant data", a),
                           ("(a') compile, each certificate's own data",
                            report["baseline_distinct"]),
                           ("**(b) `print_paper`, one client**", b))],
    ]
    p = report.get("parallel")
    if p:
        lines += [
            f"| (a) compile, {p['workers']} processes | {p['baseline']['count']:,} | "
            f"{p['baseline']['seconds']} | {p['baseline']['per_s']} | | | | "
            f"{max(p['baseline']['worker_peak_rss_mb'])} (peak per worker) |",
            f"| (b) `print_paper`, {p['workers']} clients | {p['print']['count']:,} | "
            f"{p['print']['seconds']} | **{p['print']['per_s']}** | | | | "
            f"{max(p['print']['worker_peak_rss_mb'])} (peak per worker) |"]
    lines += [
        "", f"RSS of the bench process every {RSS_EVERY} prints (MB): {b['rss_mb']}; "
        f"while compiling: {a['rss_mb']}; peak of the process {report['peak_rss_mb']} MB.",
        "",
        f"- **Ratio (b) ÷ (a), one client: {report['ratio']}** (budget ≥ 0.5: "
        f"{'met' if report['ratio'] >= 0.5 else 'not met'}). (b) ÷ (a'): "
        f"{report['ratio_vs_distinct_compile']}.",
    ]
    if p:
        lines.append(
            f"- {p['workers']} clients ÷ (a) one process: "
            f"{report['parallel_ratio_vs_single_baseline']}; ÷ (a) with {p['workers']} "
            f"processes: {report['parallel_ratio_vs_parallel_baseline']}.")
    lines += [
        f"- Memory: {'flat' if b['flat'] else 'NOT flat'} — grows "
        f"{b['rss_growth_after_warmup_mb']} MB from print {RSS_EVERY} to the end "
        f"(bound {FLAT_BOUND_MB:g} MB).", "",
        f"Where the time of a print goes ({d['sample']} further prints, each step timed; "
        f"{d['ms_each_total']} ms a print with the timers):", "",
        "| step | ms each | share |", "|---|---:|---:|",
        *[f"| {k} | {d['ms_each'][k]} | {100 * d['share'][k]:.0f} % |" for k in STEPS],
    ]
    path = RESULTS / "papers.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
