"""Benchmark: survey import with every check, against a plain COPY of the same rows, and the
completion query over the imported data. Starts its own private PostgreSQL (nothing else).

    .venv/bin/python bench/survey_import.py --quick          # 20,000 rows, under a minute
    .venv/bin/python bench/survey_import.py --rows 1000000   # the budget run

Budget: import ≥ 5,000 rows/s with every check; completion query p50 ≤ 50 ms.
Writes bench/results/survey_import.json (ignored by git) and survey_import.md (committed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import text  # noqa: E402

from registry.db.session import make_engine, make_session_factory, transaction  # noqa: E402
from registry.db.units import UnitKind  # noqa: E402
from registry.devstack import PostgresServer  # noqa: E402
from registry.migrations import upgrade  # noqa: E402
from registry.services.access import authenticate, create_user  # noqa: E402
from registry.services.statistics import completion, today  # noqa: E402
from registry.services.survey_import import SurveyFiles, import_survey  # noqa: E402
from registry.services.survey_import.reading import (  # noqa: E402
    _text,
    feature_batches,
    read_info,
)

RESULTS = ROOT / "bench" / "results"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def backend_peak_mb(conn: Any) -> float | None:
    """The largest VmHWM of the database's client backends (readable as root or as their
    owner): the pooled connection that ran the import is one of them, whichever it was."""
    pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                             " AND backend_type = 'client backend'")).scalars().all()
    peaks = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(peaks) if peaks else None


def plain_copy(engine: Any, files: SurveyFiles) -> float:
    """The physical limit: read the same file, COPY the same rows into a table without
    constraints, indexes or checks. Returns seconds."""
    info = read_info(files.geometry)
    names = [str(n) for n in info["fields"]]
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE plain_copy (row int, "
                          + ", ".join(f'"{n}" text' for n in names) + ", wkb bytea)"))
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                "COPY plain_copy (row, " + ", ".join(f'"{n}"' for n in names)
                + ", wkb) FROM STDIN") as copy:
            row = 0
            for geometries, values in feature_batches(files.geometry, info):
                for wkb, value in zip(geometries, values, strict=True):
                    row += 1
                    copy.write_row((row, *(_text(v) for v in value), wkb))
    return time.perf_counter() - started


def completion_latency(sessions: Any, runs: int) -> dict[str, float]:
    day = today(datetime.now(UTC))
    timings: list[float] = []
    counties = ["511902", "511903", "511921", "511922", "511923"]
    with sessions() as session:
        completion(session, day)  # warm
        for i in range(runs):
            county = None if i % 2 == 0 else counties[i % len(counties)]
            started = time.perf_counter()
            completion(session, day, UnitKind.RURAL_HOUSE, county)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"runs": runs, "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
            "max_ms": round(timings[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 rows")
    parser.add_argument("--format", choices=["gpkg", "geojson"], default="gpkg",
                        help="GeoPackage with unit columns, or GeoJSON + CSV")
    parser.add_argument("--no-reimport", action="store_true",
                        help="skip the second (no-op) import")
    args = parser.parse_args()
    rows = 20_000 if args.quick else args.rows
    command = "python bench/survey_import.py " + " ".join(sys.argv[1:])

    work = Path(tempfile.mkdtemp(prefix="bench-survey-"))
    os.chmod(work, 0o755)  # as root the postgres OS user must reach its data directory
    server = PostgresServer(work / "pg", password=secrets.token_hex(16),
                            fast_and_unsafe=False)
    result: dict[str, Any] = {"command": command, "rows": rows, "format": args.format,
                              "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                              "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "load_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        started = time.perf_counter()
        path = work / ("survey.gpkg" if args.format == "gpkg" else "survey.geojson")
        # in a process of its own, so that the peak RSS measured here is the importer's
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate_survey.py"), "--rows",
                        str(rows), "--format", args.format, "--out", str(path)], check=True,
                       stdout=subprocess.DEVNULL)
        files = SurveyFiles(path, path.with_suffix(".csv") if args.format == "geojson"
                            else None)
        result["generate_s"] = round(time.perf_counter() - started, 2)
        result["file_mb"] = round(sum(p.stat().st_size for p in work.glob("survey.*"))
                                  / 1e6, 1)
        print(f"generated {rows} rows ({result['file_mb']} MB) in {result['generate_s']} s",
              flush=True)

        server.start()
        server.ensure_database("registry")
        url = server.url("registry")
        upgrade(url)
        engine = make_engine(url, pool_size=3)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            _, token = create_user(session, "bench-admin", ["admin"])
            admin_principal = authenticate(session, token)
        assert admin_principal is not None

        copy_s = plain_copy(engine, files)
        result["plain_copy"] = {"seconds": round(copy_s, 2),
                                "rows_per_s": round(rows / copy_s)}
        print(f"plain COPY: {copy_s:.1f} s, {rows / copy_s:,.0f} rows/s", flush=True)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE plain_copy"))

        phases: dict[str, float] = {}
        last = {"phase": "", "at": time.perf_counter()}

        def progress(phase: str, done: int, total: int | None) -> None:
            if phase != last["phase"]:
                now = time.perf_counter()
                if last["phase"]:
                    phases[last["phase"]] = round(now - last["at"], 2)
                last.update(phase=phase, at=now)

        started = time.perf_counter()
        _, summary = import_survey(sessions, admin_principal, files,
                                   lambda: datetime.now(UTC), progress)
        import_s = time.perf_counter() - started
        phases[last["phase"]] = round(time.perf_counter() - last["at"], 2)
        with engine.connect() as conn:
            units = conn.execute(text("SELECT count(*) FROM units")).scalar_one()
            server_peak = backend_peak_mb(conn)
        assert summary.counts["units_created"] == rows == units, summary.counts
        assert summary.counts["rejects"] == 0, summary.findings[:5]
        result["import"] = {"seconds": round(import_s, 2), "rows_per_s": round(rows / import_s),
                            "phases_s": phases, "counts": summary.counts,
                            "client_peak_rss_mb": round(peak_rss_mb(), 1)}
        print(f"import with every check: {import_s:.1f} s, {rows / import_s:,.0f} rows/s "
              f"(phases {phases}); client peak RSS {peak_rss_mb():.0f} MB", flush=True)

        if not args.no_reimport:
            started = time.perf_counter()
            _, again = import_survey(sessions, admin_principal, files,
                                     lambda: datetime.now(UTC), lambda *a: None)
            reimport_s = time.perf_counter() - started
            assert again.counts["units_created"] == 0 == again.counts["differences"]
            result["reimport_noop"] = {"seconds": round(reimport_s, 2),
                                       "rows_per_s": round(rows / reimport_s)}
            print(f"re-import (no-op): {reimport_s:.1f} s", flush=True)

        result["completion"] = completion_latency(sessions, 200)
        with sessions() as session:
            city = completion(session, today(datetime.now(UTC))).total
        assert city.due == rows, city
        result["completion"]["city_due"] = city.due
        print(f"completion query: {result['completion']}", flush=True)
        result["server_backend_peak_rss_mb"] = round(server_peak, 1) if server_peak else None
        result["client_peak_rss_mb"] = round(peak_rss_mb(), 1)
        result["import_vs_copy_pct"] = round(100 * copy_s / import_s, 1)
        result["load_after"] = [round(x, 2) for x in os.getloadavg()]
        result["budget"] = {
            "import_rows_per_s_min": 5000,
            "import_ok": result["import"]["rows_per_s"] >= 5000,
            "completion_p50_ms_max": 50,
            "completion_ok": result["completion"]["p50_ms"] <= 50,
        }
        engine.dispose()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "survey_import.json").write_text(json.dumps(result, indent=2, ensure_ascii=False)
                                                + "\n", encoding="utf-8")
    write_markdown(result)
    print(json.dumps(result["budget"]))


def write_markdown(r: dict[str, Any]) -> None:
    imp, copy = r["import"], r["plain_copy"]
    lines = [
        "# Survey import benchmark",
        "",
        f"Command: `{r['command']}` ({r['started_at']}, {r['machine']}, "
        f"{r['format']}, {r['rows']:,} rural houses, file {r['file_mb']} MB)",
        "",
        "| what | seconds | rows/s |",
        "|---|---:|---:|",
        f"| plain COPY into an unconstrained table (physical limit) | {copy['seconds']} | "
        f"{copy['rows_per_s']:,} |",
        f"| import with every check (staging, checks, inserts, triggers) | {imp['seconds']} | "
        f"{imp['rows_per_s']:,} |",
    ]
    if "reimport_noop" in r:
        lines.append(f"| re-import of the same file (no-op) | {r['reimport_noop']['seconds']} |"
                     f" {r['reimport_noop']['rows_per_s']:,} |")
    c = r["completion"]
    lines += [
        "",
        f"import ÷ COPY = {r['import_vs_copy_pct']} % (rows/s of the import with every check "
        "over rows/s of the plain COPY, same file, same run)",
        f"Load average (1, 5, 15 min) at start {r['load_before']}, at end {r['load_after']} "
        f"({os.cpu_count()} cores shared with other work)",
        "",
        f"Import phases (s): {imp['phases_s']}",
        f"Peak RSS: importer process {r['client_peak_rss_mb']} MB; its PostgreSQL backend "
        f"{r['server_backend_peak_rss_mb']} MB.",
        "",
        f"Completion query (city or one county, as of today, {c['runs']} runs): "
        f"p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, max {c['max_ms']} ms "
        f"(city due = {c['city_due']:,}).",
        "",
        f"Budget: import ≥ 5,000 rows/s — {'met' if r['budget']['import_ok'] else 'NOT met'}; "
        f"completion p50 ≤ 50 ms — {'met' if r['budget']['completion_ok'] else 'NOT met'}.",
        "",
    ]
    (RESULTS / "survey_import.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
