"""Benchmark: the registry's two hot questions against PostGraphile v4 on the same database.

1. `unit(code)` with its parcel, rights and holders (a clerk opening a file);
2. a county's page of 50 units with each unit's current title and holders (a list screen).

Both servers read the same private PostgreSQL, filled by bench/registry_data.py with N units
(200,000 by default). Load: wrk, 8 connections, bodies drawn from random codes and random page
starts. Our server runs as in production (uvicorn, 2 workers, bearer token, county scope, ID
masking); PostGraphile v4 with @graphile/postgis and the connection-filter plugin (so it can
page by `code > x` like our keyset cursor), one Node process, no auth.

    python bench/registry_bench.py                 # 200,000 units, 20 s per measurement
    python bench/registry_bench.py --quick         # 20,000 units, 5 s per measurement

Results: bench/results/registry.json and bench/results/registry.md. Needs `wrk` (Debian) and
Node 20 with npm (PostGraphile is installed into bench/node_modules on first run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from registry_data import load  # noqa: E402

from registry.devstack import DevStack, free_port  # noqa: E402
from registry.migrations import upgrade  # noqa: E402
from registry.services.reads import encode_cursor  # noqa: E402

PEER_TABLES = ("units", "parcels", "rights", "right_holders", "parties", "applications",
               "divisions", "land_use_codes")
OURS_UNIT = """query($code: String!) { unit(code: $code) {
  code kind status location
  parcel { code area layer landUse { code } }
  rights { kind status certificateNumber begunAt
           holders { share party { name idNumber } } } } }"""
PEER_UNIT = """query($code: String!) { unitByCode(code: $code) {
  code kind status location
  parcelByParcelId { code area layer landUseCode }
  rightsByUnitId { nodes { kind status certificateNumber begunAt
    rightHoldersByRightId { nodes { shareNumerator shareDenominator
                                    partyByPartyId { name idNumber } } } } } } }"""
OURS_PAGE = """query($after: String) { units(filter: {countyCode: "511923"}, first: 50,
                                             after: $after) {
  edges { node { code kind status
                 currentTitle { certificateNumber holders { share party { name } } } } }
  pageInfo { hasNextPage endCursor } } }"""
PEER_PAGE = """query($after: String!) { allUnits(first: 50, orderBy: CODE_ASC,
    condition: {countyCode: "511923"}, filter: {code: {greaterThan: $after}}) {
  nodes { code kind status
          rightsByUnitId(condition: {kind: TITLE, status: CURRENT}) { nodes {
            certificateNumber
            rightHoldersByRightId { nodes { shareNumerator shareDenominator
                                            partyByPartyId { name } } } } } }
  pageInfo { hasNextPage endCursor } } }"""


def wait_http(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.post(url, json=body, headers=headers, timeout=5)
            if response.status_code == 200 and "errors" not in response.json():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer {body} correctly")


def wrk(port: int, bodies: Path, seconds: int, connections: int, token: str = "") -> dict:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(BENCH / "wrk_graphql.lua"), f"http://127.0.0.1:{port}", "--",
               str(bodies), token]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def ensure_postgraphile() -> Path:
    binary = BENCH / "node_modules" / ".bin" / "postgraphile"
    if not binary.exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(BENCH)],
                       check=True, cwd=BENCH)
    return binary


def write_bodies(path: Path, query: str, variables: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps({"query": query, "variables": v}) + "\n"
                            for v in variables))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20,000 units, 5 s runs")
    parser.add_argument("--no-peer", action="store_true", help="skip PostGraphile")
    args = parser.parse_args()
    if args.quick:
        args.units, args.seconds = 20_000, 5
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    workdir.chmod(0o755)
    stack = DevStack(workdir / "stack")
    processes: list[subprocess.Popen[bytes]] = []
    report: dict[str, Any] = {"units": args.units, "seconds": args.seconds,
                              "connections": args.connections, "workers": args.workers,
                              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "load_before": round(os.getloadavg()[0], 2)}
    try:
        stack.start()
        assert stack.postgres is not None and stack.s3 is not None
        stack.postgres.ensure_database("bench")
        url = stack.postgres.url("bench")
        upgrade(url)
        print(f"generating {args.units} units …", flush=True)
        report["load"] = load(url, args.units)
        print(report["load"], flush=True)

        import psycopg

        with psycopg.connect(url.replace("+psycopg", "")) as conn:
            codes = [r[0] for r in conn.execute(
                "SELECT code FROM units ORDER BY random() LIMIT 2000")]
            county = [r[0] for r in conn.execute(
                "SELECT code FROM units WHERE county_code = '511923' ORDER BY random()"
                " LIMIT 500")]
        rng = random.Random(1)
        rng.shuffle(codes)
        ours_unit = write_bodies(workdir / "ours_unit.jsonl", OURS_UNIT,
                                 [{"code": c} for c in codes])
        ours_page = write_bodies(workdir / "ours_page.jsonl", OURS_PAGE,
                                 [{"after": encode_cursor({"code": c})} for c in county])
        peer_unit = write_bodies(workdir / "peer_unit.jsonl", PEER_UNIT,
                                 [{"code": c} for c in codes])
        peer_page = write_bodies(workdir / "peer_page.jsonl", PEER_PAGE,
                                 [{"after": c} for c in county])

        # Our server, as in production.
        from registry.db.session import make_engine, make_session_factory, transaction
        from registry.services.access import create_user

        engine = make_engine(url, pool_size=1)
        with transaction(make_session_factory(engine)) as session:
            _, token = create_user(session, "bench-auditor", ["auditor"])
        engine.dispose()
        ours_port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "S3_ENDPOINT": stack.s3.endpoint,
               "S3_ACCESS_KEY": stack.s3.credentials.access_key,  # type: ignore[union-attr]
               "S3_SECRET_KEY": stack.s3.credentials.secret_key,  # type: ignore[union-attr]
               "S3_BUCKET": "bench", "REGISTRY_ENV": "production", "LOG_LEVEL": "WARNING",
               "DATABASE_POOL_SIZE": "8"}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "registry.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(ours_port), "--workers", str(args.workers),
             "--no-access-log", "--log-level", "warning"], env=env, cwd=ROOT))
        headers = {"Authorization": f"Bearer {token}"}
        wait_http(f"http://127.0.0.1:{ours_port}/graphql",
                  {"query": OURS_UNIT, "variables": {"code": codes[0]}}, headers)
        # The same server resolving field by field (COMPILED_READS=false), for the gain.
        resolved_port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "registry.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(resolved_port), "--workers",
             str(args.workers), "--no-access-log", "--log-level", "warning"],
            env={**env, "COMPILED_READS": "false"}, cwd=ROOT))
        wait_http(f"http://127.0.0.1:{resolved_port}/graphql",
                  {"query": OURS_UNIT, "variables": {"code": codes[0]}}, headers)

        peer_port = None
        if not args.no_peer:
            # PostGraphile exposes every table; hide those the two questions do not touch
            # (some of them, e.g. the ledger's self-referencing transfers, trip its naming).
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                for (table,) in conn.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> ALL(%s)", (list(PEER_TABLES),)).fetchall():
                    conn.execute(f"COMMENT ON TABLE \"{table}\" IS E'@omit'")
            postgraphile = ensure_postgraphile()
            peer_port = free_port()
            processes.append(subprocess.Popen(
                [str(postgraphile), "-c", url.replace("postgresql+psycopg", "postgres"),
                 "--port", str(peer_port), "--host", "127.0.0.1", "--disable-query-log",
                 "--append-plugins", "@graphile/postgis,postgraphile-plugin-connection-filter"],
                cwd=BENCH, stdout=subprocess.DEVNULL))
            wait_http(f"http://127.0.0.1:{peer_port}/graphql",
                      {"query": PEER_UNIT, "variables": {"code": codes[0]}}, {})

        runs = [("unit", "registry", ours_port, ours_unit, token),
                ("page", "registry", ours_port, ours_page, token),
                ("unit", "registry-resolved", resolved_port, ours_unit, token),
                ("page", "registry-resolved", resolved_port, ours_page, token)]
        if peer_port:
            runs += [("unit", "postgraphile", peer_port, peer_unit, ""),
                     ("page", "postgraphile", peer_port, peer_page, "")]
        report["results"] = {}
        for question, server, port, bodies, bearer in runs:
            wrk(port, bodies, 3, args.connections, bearer)  # warm up
            result = wrk(port, bodies, args.seconds, args.connections, bearer)
            report["results"][f"{question}/{server}"] = result
            print(f"{question:5} {server:13} {result}", flush=True)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report["load_after"] = round(os.getloadavg()[0], 2)
    write_report(report)


NOTES = """\
Notes
- The two servers do different work for the same answer: ours checks a bearer token (cached),
  the county scope and the unit code and masks ID numbers; PostGraphile serves without auth or
  masking.
- Both answer each request with one SQL statement that builds the response JSON in
  PostgreSQL. Ours compiles each query text once (registry/api/compiled): the selection
  becomes json_build_object/json_agg subqueries, the resolvers' checks run in Python, and the
  JSON text PostgreSQL returns is passed through to the response (orjson.Fragment), so no
  field is resolved in Python; a compiled query POSTed as JSON is answered past strawberry's
  request handling too (COMPILE-5). It runs on the event loop through an async psycopg pool
  (registry/db/reader.py), as a prepared statement after its fifth run.
- Before compilation (bench/results/registry.md of 2026-11-26) the page of 50 was bound by
  graphql-core's per-field work (about 500 fields, ~5 µs each): 444 req/s, 0.60× PostGraphile;
  the unit 2,802 req/s, 0.85×.
"""


def write_report(report: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "registry.json").write_text(json.dumps(report, indent=1))
    results = report["results"]
    lines = [
        "# Registry read benchmark",
        "",
        f"{report['units']:,} units, wrk with {report['connections']} connections, "
        f"{report['seconds']} s per measurement, our server with {report['workers']} uvicorn "
        "workers (compiled reads, and once more with COMPILED_READS=false: registry-resolved); "
        "PostGraphile v4 (one Node process) on the same database in the same run.",
        f"Run {report['started']} on {os.cpu_count()} CPUs; load average (1 min) before and "
        f"after: {report['load_before']} / {report['load_after']} (above ~1: other work "
        "shared the CPUs).",
        "Command: `python bench/registry_bench.py"
        + (" --quick" if report["units"] == 20_000 else "") + "`",
        "",
        "| question | server | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for key, r in results.items():
        question, server = key.split("/")
        lines.append(f"| {question} | {server} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                     f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} |")
    for question in ("unit", "page"):
        ours, peer = results.get(f"{question}/registry"), results.get(f"{question}/postgraphile")
        resolved = results.get(f"{question}/registry-resolved")
        if ours and peer:
            lines.append("")
            lines.append(f"{question}: registry / PostGraphile = "
                         f"{ours['rps'] / peer['rps']:.2f}× requests per second"
                         + (" (budget ≥ 1.2×: " + ("met" if ours["rps"] >= 1.2 * peer["rps"]
                                                    else "not met") + ")"))
        if ours and resolved:
            lines.append("")
            lines.append(f"{question}: compiled / field by field (registry-resolved, "
                         f"COMPILED_READS=false) = {ours['rps'] / resolved['rps']:.2f}×")
    lines += ["", f"Data load (seconds): {report['load']}", "", NOTES]
    (RESULTS / "registry.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
