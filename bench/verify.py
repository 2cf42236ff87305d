"""Benchmark: `registry verify` on a city-sized register (budget: 2,000,000 units ≤ 10 min).

The register is bench/registry_data.py's (N units, ~70 % with a current title, 10 % of those
mortgaged), plus what that generator leaves out because it loads tables directly: the register
entries and certificates recording would have written. Entries are generated here, streamed
out of the database in (county, right) order and back in with COPY: one `first` entry per
title, one `mortgage` entry per mortgage, payload version 2 built with the real
`entry_content` and hashed with the real `link_hash` (CHAIN-2), so the chain is what recording
writes. Certificates are one INSERT … SELECT from the rights. Then `registry verify --quiet`
runs as an operator runs it (a subprocess) and is timed, with its peak memory.

    python bench/verify.py                   # 200,000 units
    python bench/verify.py --units 2000000   # the budget's size
    python bench/verify.py --quick           # 20,000 units

Results: bench/results/verify.md (and verify.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from registry_data import load  # noqa: E402

from registry.devstack import DevStack  # noqa: E402
from registry.migrations import upgrade  # noqa: E402
from registry.services.chain import GENESIS, link_hash  # noqa: E402
from registry.services.register import entry_content  # noqa: E402

RIGHTS = """
SELECT r.id, r.kind::text, r.right_type, r.right_nature, r.co_ownership::text,
       r.certificate_number, r.burdened_right_id, r.begun_at, r.note, u.code, u.county_code,
       a.id AS application_id, a.number, a.submitted_by,
       (SELECT json_agg(json_build_object(
                  'party', p.id, 'name', p.name, 'id_type', p.id_type::text,
                  'id_number', p.id_number,
                  'share', rh.share_numerator || '/' || rh.share_denominator) ORDER BY p.id)
          FROM right_holders rh JOIN parties p ON p.id = rh.party_id
         WHERE rh.right_id = r.id) AS holders
  FROM rights r JOIN units u ON u.id = r.unit_id JOIN applications a ON a.id = r.application_id
 ORDER BY u.county_code, r.id
"""

CERTIFICATES = """
INSERT INTO certificates (number, kind, authority, year, serial, right_id, application_id,
                          status, issued_at)
SELECT r.certificate_number, CASE WHEN r.kind = 'title' THEN 'right' ELSE 'proof' END
         ::certificate_kind,
       m[3], m[2]::int, m[5]::bigint, r.id, r.application_id, 'issued', r.begun_at
  FROM rights r
 CROSS JOIN LATERAL regexp_match(r.certificate_number,
                                 '^(.)\\((\\d{4})\\)(.+)(不动产权|不动产证明)第(\\d+)号$') m
 WHERE r.certificate_number IS NOT NULL
"""


def add_register(url: str) -> dict[str, float]:
    """The entries and certificates recording would have written for the generated rights."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    plain = url.replace("+psycopg", "")
    heads: dict[str, tuple[int, str]] = {}
    count = 0
    with psycopg.connect(plain) as reader, psycopg.connect(plain) as writer:
        with reader.cursor(name="rights") as rows, writer.cursor().copy(
                "COPY register_entries (county_code, seq, application_id, recorded_at,"
                " recorded_by, entry_type, unit_codes, payload, prev_hash, hash)"
                " FROM STDIN") as copy:
            rows.itersize = 5000
            rows.execute(RIGHTS)
            for (right_id, kind, right_type, right_nature, co_ownership, certificate, burdens,
                 begun_at, note, unit, county, application_id, number, recorded_by,
                 holders) in rows:
                seq, previous = heads.get(county, (0, GENESIS))
                seq += 1
                created = {
                    "unit": unit, "right": right_id, "kind": kind, "status": "current",
                    "right_type": right_type, "right_nature": right_nature,
                    "co_ownership": co_ownership, "certificate": certificate,
                    "predecessor": None, "burdens": burdens, "amount": None,
                    "authority": None, "document_no": None, "note": note,
                    "term": [None, None], "lapses_at": None, "holders": holders or []}
                entry_type = "first" if kind == "title" else kind
                content = entry_content(entry_type, county, seq, begun_at, [unit], number,
                                        {"registration_type": 100 if kind == "title" else 200,
                                         "created": [created], "ended": []},
                                        recorded_by, application_id)
                digest = link_hash(previous, content)
                copy.write_row((county, seq, application_id, begun_at, recorded_by,
                                entry_type, [unit], json.dumps(content, ensure_ascii=False),
                                previous, digest))
                heads[county] = (seq, digest)
                count += 1
        timings["entries_generate_copy_s"] = time.perf_counter() - started
        for county, (seq, digest) in heads.items():
            writer.execute("INSERT INTO register_chain_heads (county_code, seq, hash)"
                           " VALUES (%s, %s, %s)", (county, seq, digest))
        step = time.perf_counter()
        writer.execute(CERTIFICATES)
        timings["certificates_s"] = time.perf_counter() - step
        writer.commit()
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE register_entries")
        conn.execute("VACUUM ANALYZE certificates")
    timings["entries"] = count
    return timings


def phases(url: str) -> dict[str, float]:
    """The same work in-process, timed phase by phase (where the time goes)."""
    from sqlalchemy import text

    from registry.db.session import make_engine, make_session_factory
    from registry.services.verify import DERIVED_CHECKS, begin_snapshot, walk_chains

    timings: dict[str, float] = {}
    engine = make_engine(url, pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            begin_snapshot(session)
            step = time.perf_counter()
            walk_chains(session)
            timings["chain_walk_s"] = round(time.perf_counter() - step, 2)
            for name, sql in DERIVED_CHECKS:
                step = time.perf_counter()
                found = sum(1 for _ in session.execute(text(sql)))
                assert found == 0, (name, found)
                timings[f"compare_{name}_s"] = round(time.perf_counter() - step, 2)
                if os.environ.get("BENCH_EXPLAIN") == name:
                    for (line,) in session.execute(text("EXPLAIN ANALYZE " + sql)):
                        print(line)
    finally:
        engine.dispose()
    return timings


def run_verify(env: dict[str, str], *args: str) -> tuple[float, int, str, str, list[int]]:
    """Run `registry verify`; its wall time, exit code, output and its resident memory (MB)
    sampled every 0.5 s from /proc (the verify process itself, not the database)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([str(Path(sys.executable).parent / "registry"), "verify",
                                    *args], env=env, stdout=out, stderr=err, text=True)
        samples: list[int] = []
        while process.poll() is None:
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
                samples.append(int(status.split("VmRSS:")[1].split()[0]) // 1024)
            except (OSError, IndexError):
                pass
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return seconds, process.returncode, out.read(), err.read(), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20,000 units")
    args = parser.parse_args()
    if args.quick:
        args.units = 20_000
    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-verify-"))
    workdir.chmod(0o755)
    stack = DevStack(workdir / "stack")
    report: dict[str, Any] = {"units": args.units, "command": " ".join(
        ["python", "bench/verify.py", *sys.argv[1:]])}
    try:
        stack.start()
        assert stack.postgres is not None and stack.s3 is not None
        stack.postgres.ensure_database("bench")
        url = stack.postgres.url("bench")
        upgrade(url)
        print(f"generating {args.units} units …", flush=True)
        report["load"] = load(url, args.units)
        print(report["load"], flush=True)
        print("generating register entries and certificates …", flush=True)
        report["register"] = add_register(url)
        print(report["register"], flush=True)
        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            report["rows"] = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                              for t in ("units", "rights", "right_holders", "parties",
                                        "certificates", "register_entries")}
            report["database_mb"] = round(conn.execute(
                "SELECT pg_database_size(current_database())").fetchone()[0] / 2**20)
        env = {**os.environ, "DATABASE_URL": url, "S3_ENDPOINT": stack.s3.endpoint,
               "S3_ACCESS_KEY": stack.s3.credentials.access_key,  # type: ignore[union-attr]
               "S3_SECRET_KEY": stack.s3.credentials.secret_key,  # type: ignore[union-attr]
               "S3_BUCKET": "bench", "LOG_LEVEL": "WARNING"}
        seconds, code, stdout, stderr, rss = run_verify(env, "--quiet")
        print(stdout, stderr, flush=True)
        if code != 0:
            raise SystemExit(f"verify failed on the generated register:\n{stdout}")
        report["verify_s"] = round(seconds, 1)
        report["verify_peak_rss_mb"] = max(rss, default=0)
        report["verify_rss_mb_quartiles"] = [rss[len(rss) * q // 4] for q in range(4)] + [
            rss[-1]] if rss else []
        report["phases"] = phases(url)
        print(report["phases"], flush=True)
        entries = report["rows"]["register_entries"]
        report["entries_per_s"] = round(entries / seconds)
        report["units_per_s"] = round(args.units / seconds)
        report["extrapolated_2m_units_s"] = round(2_000_000 / report["units_per_s"])
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    write_report(report)


def write_report(report: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if report["units"] == 200_000 else f"-{report['units']}"
    (RESULTS / f"verify{suffix}.json").write_text(json.dumps(report, indent=2) + "\n",
                                                  encoding="utf-8")
    rows = report.get("rows", {})
    lines = [
        "# registry verify at scale", "",
        f"`{report['command']}` on this machine (2 cores, Debian 12, PostgreSQL 15 private "
        "cluster with fsync off, as bench/registry_data.py runs it).", "",
        "| units | register entries | rights | holders | certificates | verify s | entries/s |"
        " units/s | peak RSS of verify MB |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {report['units']:,} | {rows.get('register_entries', 0):,} | "
        f"{rows.get('rights', 0):,} | {rows.get('right_holders', 0):,} | "
        f"{rows.get('certificates', 0):,} | {report.get('verify_s')} | "
        f"{report.get('entries_per_s', 0):,} | {report.get('units_per_s', 0):,} | "
        f"{report.get('verify_peak_rss_mb')} |", "",
        f"Extrapolated to 2,000,000 units at the same rate: "
        f"{report.get('extrapolated_2m_units_s')} s (budget 600 s).", "",
        f"Resident memory of the verify process over its run (start, ¼, ½, ¾, end), MB: "
        f"{report.get('verify_rss_mb_quartiles')}.", "",
        f"Where the time goes (the same work in-process): {report.get('phases')}.", "",
        f"Data load (not part of the budget): {report.get('load')}; register entries and "
        f"certificates: {report.get('register')}; database {report.get('database_mb')} MB.",
    ]
    path = RESULTS / f"verify{suffix}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
