"""Benchmark: the register at city scale — the same reads at 200,000 and at 2,000,000 units.

One run: a private PostgreSQL + PostGIS and S3 (DevStack), the migrations, 200,000 units from
bench/registry_data.py (COPY; the parcels' non-overlap trigger PARCEL-2 runs on it), the
completion ledger built for them, VACUUM ANALYZE, then our server as in production (uvicorn,
2 workers, REGISTRY_ENV=production, an auditor's bearer token) and, at that size:

  (a) `unit(code)` (registry_bench's OURS_UNIT): p50/p95 with 1 connection, req/s with 8 (wrk);
  (b) a county's page of 50 (OURS_PAGE): the same;
  (c) completion statistics (graphql/operations/Completion.graphql: the city and each county,
      the statisticians' question): p50/p95 over 200 sequential requests;
  (d) the holdings audit (AuditedHoldings.graphql, 100 holdings of a county or of the city from
      a random unit code): p50/p95 over 50 requests; (d2) HolderSummaries.graphql, the audit's
      per-holder summary (100 holders), over 20 requests;
  (e) the GraphQL pagination walk: a county's whole unit list (Units.graphql, first: 100,
      following endCursor): total seconds, pages, ms per page.

Then the server stops, the register grows to 2,000,000 units (registry_data.append: ids, codes,
certificate serials and a new block of cells north of each county, so nothing collides), the
new units' completion ledger is built, VACUUM ANALYZE, the server restarts and (a)–(e) again.
After each measurement the statements the server ran for one request of each kind are
EXPLAINed (auto_explain with ANALYZE, read from the PostgreSQL log).

    .venv/bin/python bench/scale.py            # 200,000 → 2,000,000 units (~10+ minutes)
    .venv/bin/python bench/scale.py --quick    # 20,000 → 200,000 units (a couple of minutes)
    .venv/bin/python bench/scale.py --experiment "CREATE INDEX …"   # see --help

Budgets (issue 17, item 4): unit and page p50 at the large size ≤ 1.3 × the small size's;
completion p50 ≤ 50 ms. Writes bench/results/scale.{md,json} (an experiment run writes
bench/results/scale-experiment.{md,json} instead).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
OPERATIONS = ROOT / "graphql" / "operations"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from registry_bench import OURS_PAGE, OURS_UNIT, wait_http, write_bodies, wrk  # noqa: E402
from registry_data import SEATS, append, load  # noqa: E402

from registry.devstack import DevStack, free_port  # noqa: E402
from registry.migrations import upgrade  # noqa: E402
from registry.services.reads import encode_cursor  # noqa: E402

COUNTY = "511923"  # the county of registry_bench's page, and the one walked
UNIT_BUDGET = 1.3  # large p50 ≤ 1.3 × small p50, for (a) and (b)
COMPLETION_BUDGET_MS = 50.0
REFRESH_CHUNK = 100_000  # units per completion_refresh call


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


def wrk1(port: int, bodies: Path, seconds: int, token: str) -> dict:
    """registry_bench's wrk() with one connection: wrk needs threads ≤ connections, and that
    wrk() always runs two threads."""
    command = ["wrk", "-t", "1", "-c", "1", "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(BENCH / "wrk_graphql.lua"), f"http://127.0.0.1:{port}", "--",
               str(bodies), token]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def plain(url: str) -> str:
    return url.replace("+psycopg", "")


def summary_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(pct(95), 2), "max_ms": round(ordered[-1], 2),
            "mean_ms": round(statistics.fmean(ordered), 2)}


class Server:
    """Our server as registry_bench runs it (uvicorn, N workers, production settings)."""

    def __init__(self, url: str, stack: DevStack, workers: int) -> None:
        assert stack.s3 is not None
        self.port = free_port()
        self.env = {**os.environ, "DATABASE_URL": url, "S3_ENDPOINT": stack.s3.endpoint,
                    "S3_ACCESS_KEY": stack.s3.credentials.access_key,  # type: ignore[union-attr]
                    "S3_SECRET_KEY": stack.s3.credentials.secret_key,  # type: ignore[union-attr]
                    "S3_BUCKET": "bench", "REGISTRY_ENV": "production", "LOG_LEVEL": "WARNING",
                    "DATABASE_POOL_SIZE": "8"}
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def graphql(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def start(self, probe: dict[str, Any], headers: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "registry.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
             "--no-access-log", "--log-level", "warning"],
            env=self.env, cwd=ROOT, start_new_session=True)
        wait_http(self.graphql, probe, headers, timeout=90)

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):  # workers that outlived their parent
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def post(client: httpx.Client, url: str, query: str, variables: dict[str, Any],
         headers: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post(url, json={"query": query, "variables": variables},
                           headers=headers, timeout=120)
    elapsed = (time.perf_counter() - started) * 1000
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise SystemExit(f"{response.status_code}: {json.dumps(body)[:600]}")
    return elapsed, body["data"]


def sequential(client: httpx.Client, url: str, query: str, variables: list[dict[str, Any]],
               headers: dict[str, str], warm: int, budget_s: float = 150,
               labels: list[str] | None = None) -> dict[str, Any]:
    """The requests one after another; stops early (fewer samples, `n` says) after budget_s.
    With `labels` (one per request), also the figures of each label's requests."""
    for v in variables[:warm]:
        post(client, url, query, v, headers)
    times: list[float] = []
    deadline = time.monotonic() + budget_s
    for v in variables:
        times.append(post(client, url, query, v, headers)[0])
        if time.monotonic() > deadline:
            break
    out: dict[str, Any] = summary_ms(times)
    if labels:
        out["by"] = {label: summary_ms([t for t, x in zip(times, labels, strict=False)
                                        if x == label])
                     for label in dict.fromkeys(labels[:len(times)])}
    return out


def audit_label(i: int) -> str:
    return ("county" if i % 2 else "city") + (", from a cursor" if i % 4 >= 2 else ", first page")


def samples(url: str, size: int) -> dict[str, list[Any]]:
    import psycopg

    with psycopg.connect(plain(url)) as conn:
        # TABLESAMPLE: ORDER BY random() over 2,000,000 rows would dominate the setup
        fraction = min(100.0, 100.0 * 20_000 / max(size, 1))
        codes = [r[0] for r in conn.execute(
            f"SELECT code FROM units TABLESAMPLE SYSTEM ({fraction}) ORDER BY random()"
            " LIMIT 2000")]
        county = [r[0] for r in conn.execute(
            f"SELECT code FROM units TABLESAMPLE SYSTEM ({fraction})"
            " WHERE county_code = %s ORDER BY random() LIMIT 500", (COUNTY,))]
        parties = [r[0] for r in conn.execute(
            f"SELECT id FROM parties TABLESAMPLE SYSTEM ({fraction}) ORDER BY random()"
            " LIMIT 100")]
    return {"codes": codes, "county": county, "parties": parties}


def measure(server: Server, token: str, url: str, size: int, seconds: int,
            workdir: Path) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    picked = samples(url, size)
    rng = random.Random(size)
    codes, county = picked["codes"], picked["county"]
    rng.shuffle(codes)
    out: dict[str, Any] = {}
    unit_bodies = write_bodies(workdir / f"unit-{size}.jsonl", OURS_UNIT,
                               [{"code": c} for c in codes])
    page_bodies = write_bodies(workdir / f"page-{size}.jsonl", OURS_PAGE,
                               [{"after": encode_cursor({"code": c})} for c in county])
    for name, bodies in (("unit", unit_bodies), ("page", page_bodies)):
        wrk1(server.port, bodies, 3, token)  # warm up
        one = wrk1(server.port, bodies, seconds, token)
        wrk(server.port, bodies, 2, 8, token)  # warm up
        eight = wrk(server.port, bodies, seconds, 8, token)
        out[name] = {"c1": one, "c8": eight}
        print(f"  ({name}) 1 conn p50 {one['p50_ms']:.2f} ms p95 {one['p95_ms']:.2f} ms; "
              f"8 conns {eight['rps']:.0f} req/s, errors {one['errors'] + eight['errors']}",
              flush=True)
    counties = [None, *SEATS]
    with httpx.Client() as client:
        completion = operation("Completion")
        out["completion"] = sequential(
            client, server.graphql, completion,
            [{"countyCode": counties[i % len(counties)]} for i in range(200)], headers, 12)
        _, data = post(client, server.graphql, completion, {}, headers)
        out["completion"]["city_due"] = data["completion"]["total"]["due"]
        out["completion"]["city_recorded"] = data["completion"]["total"]["recorded"]
        print(f"  (c) completion {out['completion']}", flush=True)

        audit = operation("AuditedHoldings")
        audit_vars = [{"filter": {"countyCode": COUNTY} if i % 2 else None, "first": 100,
                       "after": encode_cursor({"code": rng.choice(county if i % 2 else codes),
                                               "party": 0})
                       if i % 4 >= 2 else None} for i in range(50)]
        out["audit"] = sequential(client, server.graphql, audit, audit_vars, headers, 4,
                                  labels=[audit_label(i) for i in range(50)])
        print(f"  (d) audited holdings {out['audit']}", flush=True)

        summaries = operation("HolderSummaries")
        summary_vars = [{"filter": {"countyCode": COUNTY} if i % 2 else None, "first": 100,
                         "after": encode_cursor({"party": rng.choice(picked["parties"])})
                         if i % 4 >= 2 else None} for i in range(20)]
        out["holder_summaries"] = sequential(client, server.graphql, summaries, summary_vars,
                                             headers, 2, budget_s=90,
                                             labels=[audit_label(i) for i in range(20)])
        print(f"  (d2) holder summaries {out['holder_summaries']}", flush=True)

        out["walk"] = walk(client, server.graphql, headers)
        print(f"  (e) walk {out['walk']}", flush=True)
    return out


def walk(client: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, Any]:
    query = operation("Units")
    after: str | None = None
    times: list[float] = []
    units = 0
    started = time.perf_counter()
    while True:
        elapsed, data = post(client, url, query, {"filter": {"countyCode": COUNTY},
                                                   "first": 100, "after": after}, headers)
        times.append(elapsed)
        connection = data["units"]
        units += len(connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    total = time.perf_counter() - started
    return {"county": COUNTY, "units": units, "pages": len(times), "total_s": round(total, 2),
            "first_page_ms": round(times[0], 2),
            **{k: v for k, v in summary_ms(times).items() if k != "n"}}


def refresh_completion(url: str, first_unit_id: int) -> dict[str, float]:
    """registry_data COPYs units and rights with session_replication_role = replica, which
    skips the completion triggers (STAT-2) too: build the ledger for the new units as the
    migration does for existing ones, with `completion_refresh`, in chunks."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(plain(url), autocommit=True) as conn:
        row = conn.execute("SELECT max(id) FROM units").fetchone()
        last = int(row[0]) if row and row[0] is not None else 0
        for low in range(first_unit_id, last + 1, REFRESH_CHUNK):
            conn.execute("SELECT completion_refresh(ARRAY(SELECT id FROM units"
                         " WHERE id BETWEEN %s AND %s))", (low, low + REFRESH_CHUNK - 1))
        refresh = time.perf_counter() - started
        step = time.perf_counter()
        conn.execute("VACUUM ANALYZE completion_unit_state")
        conn.execute("VACUUM ANALYZE completion_ledger")
        ledger = conn.execute("SELECT count(*) FROM completion_ledger").fetchone()
    return {"completion_refresh_s": round(refresh, 2),
            "vacuum_analyze_s": round(time.perf_counter() - step, 2),
            "units": last - first_unit_id + 1, "ledger_rows": ledger[0] if ledger else 0}


def facts(url: str) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(plain(url)) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM units), (SELECT count(*) FROM parcels),"
            " (SELECT count(*) FROM rights), (SELECT count(*) FROM parties),"
            " (SELECT count(*) FROM units WHERE county_code = %s),"
            " pg_database_size(current_database())", (COUNTY,)).fetchone()
    assert row is not None
    return {"units": row[0], "parcels": row[1], "rights": row[2], "parties": row[3],
            "county_units": row[4], "database_mb": round(row[5] / 2**20)}


# ------------------------------------------------------------------ plans (auto_explain)

PLAN_QUESTIONS = ("unit", "page", "completion", "audit", "audit_after", "audit_county_after",
                  "holder_summaries", "holder_summaries_county", "walk")


def explain_requests(url: str, server: Server, stack: DevStack, token: str,
                     picked: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    """Restart the server with auto_explain (ANALYZE) on for the bench database, send one
    request of each kind, and return the plans the PostgreSQL log shows for each."""
    import psycopg

    assert stack.postgres is not None
    log_file = stack.postgres.log_file
    settings = {"session_preload_libraries": "auto_explain",
                "auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on",
                "auto_explain.log_buffers": "on", "auto_explain.log_nested_statements": "on"}
    headers = {"Authorization": f"Bearer {token}"}
    database = plain(url).rsplit("/", 1)[1].split("?")[0]
    plans: dict[str, list[dict[str, Any]]] = {}
    with psycopg.connect(plain(url), autocommit=True) as conn:
        for key, value in settings.items():
            conn.execute(f'ALTER DATABASE "{database}" SET {key} = \'{value}\'')
    codes, county = picked["codes"], picked["county"]
    audit, summaries = operation("AuditedHoldings"), operation("HolderSummaries")
    try:
        server.start({"query": OURS_UNIT, "variables": {"code": codes[0]}}, headers)
        requests = {
            "unit": (OURS_UNIT, {"code": codes[1]}),
            "page": (OURS_PAGE, {"after": encode_cursor({"code": county[0]})}),
            "completion": (operation("Completion"), {}),
            "audit": (audit, {"first": 100}),
            "audit_after": (audit, {"first": 100,
                                    "after": encode_cursor({"code": codes[2], "party": 0})}),
            "audit_county_after": (audit, {"first": 100, "filter": {"countyCode": COUNTY},
                                           "after": encode_cursor({"code": county[1],
                                                                   "party": 0})}),
            "holder_summaries": (summaries, {"first": 100}),
            "holder_summaries_county": (summaries, {"first": 100,
                                                    "filter": {"countyCode": COUNTY}}),
            "walk": (operation("Units"), {"filter": {"countyCode": COUNTY}, "first": 100,
                                          "after": encode_cursor({"code": county[2]})}),
        }
        with httpx.Client() as client:
            for name, (query, variables) in requests.items():
                post(client, server.graphql, query, variables, headers)  # warm (token, pool)
                time.sleep(0.3)
                offset = log_file.stat().st_size
                post(client, server.graphql, query, variables, headers)
                time.sleep(0.5)  # the log is written by the backend, after the response
                with log_file.open("rb") as f:
                    f.seek(offset)
                    plans[name] = parse_plans(f.read().decode(errors="replace"))
    finally:
        server.stop()
        with psycopg.connect(plain(url), autocommit=True) as conn:
            for key in settings:
                conn.execute(f'ALTER DATABASE "{database}" RESET {key}')
    return plans


def parse_plans(log: str) -> list[dict[str, Any]]:
    """auto_explain's entries in a piece of the log: duration, query text, plan; slowest first."""
    out = []
    for chunk in re.split(r"\n(?=\S.*LOG:\s+duration: )", "\n" + log):
        match = re.search(r"LOG:\s+duration: ([\d.]+) ms\s+plan:\n(.*)", chunk, re.S)
        if match is None:
            continue
        # other log lines (another backend's) may follow the plan
        lines = [x for x in match[2].splitlines() if not re.match(r"^\d{4}-\d\d-\d\d ", x)]
        first = next((n for n, x in enumerate(lines) if "(cost=" in x), len(lines))
        query = " ".join(x.strip() for x in lines[:first]).removeprefix("Query Text: ")
        plan = "\n".join(x.removeprefix("\t") for x in lines[first:])
        out.append({"ms": float(match[1]), "query": query, "plan": plan})
    out.sort(key=lambda p: -p["ms"])
    return out


# ------------------------------------------------------------------ the run


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = next((x.split()[1] for x in Path("/proc/meminfo").read_text().splitlines()
                   if x.startswith("MemTotal")), "0")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "registry", "alembic"],
                           capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "cpu_model": model,
            "memory_gb": round(int(memory) / 2**20, 1), "python": platform.python_version(),
            "git": git + (" + uncommitted changes under registry/, alembic/" if dirty else "")}


def phase(name: str, url: str, server: Server, token: str, size: int, seconds: int,
          workdir: Path, stack: DevStack) -> dict[str, Any]:
    picked = samples(url, size)
    probe_code = picked["codes"]
    headers = {"Authorization": f"Bearer {token}"}
    result: dict[str, Any] = {"facts": facts(url), "load_average_before": load_average()}
    print(f"[{name}] {result['facts']}", flush=True)
    server.start({"query": OURS_UNIT, "variables": {"code": probe_code[0]}}, headers)
    try:
        result["figures"] = measure(server, token, url, size, seconds, workdir)
    finally:
        server.stop()
    result["load_average_after"] = load_average()
    print(f"[{name}] plans …", flush=True)
    result["plans"] = explain_requests(url, server, stack, token, picked)
    return result


def explain_file(url: str, path: Path) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement in the file; the comment lines before a
    statement name it."""
    import psycopg

    out = []
    with psycopg.connect(plain(url), autocommit=True) as conn:
        for chunk in re.split(r";\s*\n", path.read_text()):
            lines = chunk.strip().splitlines()
            comments = [x.lstrip("- ").strip() for x in lines if x.startswith("--")]
            numbered = [n for n, x in enumerate(comments) if re.match(r"\d+\.", x)]
            title = " ".join(comments[numbered[-1] if numbered else 0:])
            sql = "\n".join(x for x in lines if not x.startswith("--")).strip()
            if not sql:
                continue
            conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")  # warm the cache alike
            plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))
            found = re.search(r"Execution Time: ([\d.]+) ms", plan)
            out.append({"title": title, "sql": sql, "plan": plan,
                        "ms": float(found[1]) if found else None})
            print(f"  explain: {title[:80]} … {out[-1]['ms']} ms", flush=True)
    return out


def interleaved(sizes: dict[int, tuple[Server, str]], token: str, rounds: int, seconds: int,
                workdir: Path) -> dict[str, Any]:
    """(a) and (b) with one connection at both sizes taking turns, both servers up, so that
    whatever else runs on the machine weighs on both sizes alike; the first size alternates."""
    headers = {"Authorization": f"Bearer {token}"}
    print(f"interleaved: {rounds} rounds …", flush=True)
    for size, (server, url) in sizes.items():
        server.start({"query": OURS_UNIT, "variables": {"code": samples(url, size)["codes"][0]}},
                     headers)
    out: dict[str, Any] = {"rounds": rounds, "seconds": seconds}
    try:
        order = list(sizes)
        p50: dict[str, dict[int, list[float]]] = {"unit": {}, "page": {}}
        for size, (server, _) in sizes.items():
            for question in p50:
                wrk1(server.port, workdir / f"{question}-{size}.jsonl", 2, token)  # warm up
        for number in range(rounds):
            for size in (order if number % 2 == 0 else order[::-1]):
                server = sizes[size][0]
                for question in p50:
                    result = wrk1(server.port, workdir / f"{question}-{size}.jsonl", seconds,
                                  token)
                    p50[question].setdefault(size, []).append(result["p50_ms"])
            print(f"  round {number + 1}: "
                  + "; ".join(f"{q} " + " / ".join(f"{v[-1]:.2f}" for v in p50[q].values())
                              for q in p50), flush=True)
        small, large = order
        for question, by_size in p50.items():
            out[question] = {
                "p50_ms_by_round": {str(k): v for k, v in by_size.items()},
                "median_p50_ms": {str(k): statistics.median(v) for k, v in by_size.items()},
                "ratio_by_round": [round(b / a, 3) for a, b in zip(by_size[small],
                                                                    by_size[large],
                                                                    strict=True)],
            }
            medians = out[question]["median_p50_ms"]
            out[question]["ratio_of_medians"] = round(medians[str(large)]
                                                      / medians[str(small)], 3)
    finally:
        for server, _ in sizes.values():
            server.stop()
    out["load_average_after"] = load_average()
    return out


def run_experiment(url: str, statements: list[str]) -> dict[str, Any]:
    import psycopg

    timings = {}
    with psycopg.connect(plain(url), autocommit=True) as conn:
        for statement in statements:
            started = time.perf_counter()
            conn.execute(statement)
            timings[statement] = round(time.perf_counter() - started, 2)
        conn.execute("ANALYZE")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=200_000, help="units first")
    parser.add_argument("--large", type=int, default=2_000_000, help="units then")
    parser.add_argument("--seconds", type=int, default=10, help="per wrk measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20,000 → 200,000 units, 3 s runs")
    parser.add_argument("--experiment", action="append", default=[], metavar="SQL",
                        help="a separate experiment run: after the large load, measure, run "
                             "SQL (e.g. a CREATE INDEX) and ANALYZE, measure again; writes "
                             "scale-experiment.{md,json}")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds of (a) and (b) at both sizes at the end, 5 s "
                             "each (0: none)")
    parser.add_argument("--explain", type=Path, metavar="FILE",
                        help="after the large measurements (and after the experiment), "
                             "EXPLAIN ANALYZE each statement of FILE (`;` at a line's end)")
    args = parser.parse_args()
    if args.quick:
        args.small, args.large, args.seconds = 20_000, 200_000, 3
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    command = shlex.join(["python", "bench/scale.py", *sys.argv[1:]])

    started = datetime.now(UTC).isoformat(timespec="seconds")
    report: dict[str, Any] = {"command": command, "started": started, "machine": machine(),
                              "small": args.small, "large": args.large,
                              "seconds": args.seconds, "workers": args.workers,
                              "load_average_start": load_average()}
    print(f"load average at start: {report['load_average_start']}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="registry-scale-"))
    workdir.chmod(0o755)
    stack = DevStack(workdir / "stack")
    servers: list[Server] = []
    try:
        stack.start()
        assert stack.postgres is not None and stack.s3 is not None
        stack.postgres.ensure_database("bench")
        url = stack.postgres.url("bench")
        upgrade(url)
        import psycopg

        with psycopg.connect(plain(url)) as conn:
            report["postgres"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]

        print(f"loading {args.small:,} units …", flush=True)
        step = time.perf_counter()
        small_load = load(url, args.small)
        small_load["wall_s"] = time.perf_counter() - step
        small_load["completion"] = refresh_completion(url, 1)
        report["load_small"] = small_load
        print(small_load, flush=True)

        from registry.db.session import make_engine, make_session_factory, transaction
        from registry.services.access import create_user

        engine = make_engine(url, pool_size=1)
        with transaction(make_session_factory(engine)) as session:
            _, token = create_user(session, "bench-auditor", ["auditor"])
        engine.dispose()
        # The large register grows from a copy of the small one, so that both stay for the
        # interleaved measurement at the end.
        step = time.perf_counter()
        with psycopg.connect(plain(stack.postgres.url("postgres")), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench_large TEMPLATE bench")
        report["copy_database_s"] = round(time.perf_counter() - step, 2)
        url_large = stack.postgres.url("bench_large")
        small_server = Server(url, stack, args.workers)
        large_server = Server(url_large, stack, args.workers)
        servers += [small_server, large_server]

        if not args.experiment:
            report["at_small"] = phase("small", url, small_server, token, args.small,
                                       args.seconds, workdir, stack)

        more = args.large - small_load["units"]
        print(f"appending {more:,} units …", flush=True)
        step = time.perf_counter()
        large_load = append(url_large, int(more))
        large_load["wall_s"] = time.perf_counter() - step
        large_load["completion"] = refresh_completion(url_large,
                                                      int(large_load["first_unit_id"]))
        report["load_large"] = large_load
        print(large_load, flush=True)

        report["at_large"] = phase("large", url_large, large_server, token, args.large,
                                   args.seconds, workdir, stack)
        if args.explain:
            report["explain"] = {"at_large": explain_file(url_large, args.explain)}
        if args.experiment:
            report["experiment"] = {"statements": run_experiment(url_large, args.experiment)}
            print(f"experiment: {report['experiment']}", flush=True)
            report["experiment"]["after"] = phase("large + experiment", url_large, large_server,
                                                  token, args.large, args.seconds, workdir,
                                                  stack)
            if args.explain:
                report["explain"]["after the experiment"] = explain_file(url_large,
                                                                         args.explain)
        elif args.rounds:
            report["interleaved"] = interleaved(
                {args.small: (small_server, url), args.large: (large_server, url_large)},
                token, args.rounds, min(args.seconds, 5), workdir)
    finally:
        for each in servers:
            each.stop()
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report["load_average_end"] = load_average()
    write_report(report)


# ------------------------------------------------------------------ the report


def figures(result: dict[str, Any]) -> dict[str, float]:
    f = result["figures"]
    return {
        "(a) unit p50 ms (1 conn)": f["unit"]["c1"]["p50_ms"],
        "(a) unit p95 ms (1 conn)": f["unit"]["c1"]["p95_ms"],
        "(a) unit req/s (8 conns)": f["unit"]["c8"]["rps"],
        "(b) page of 50 p50 ms (1 conn)": f["page"]["c1"]["p50_ms"],
        "(b) page of 50 p95 ms (1 conn)": f["page"]["c1"]["p95_ms"],
        "(b) page of 50 req/s (8 conns)": f["page"]["c8"]["rps"],
        "(c) completion p50 ms": f["completion"]["p50_ms"],
        "(c) completion p95 ms": f["completion"]["p95_ms"],
        "(d) audited holdings (100) p50 ms": f["audit"]["p50_ms"],
        "(d) audited holdings (100) p95 ms": f["audit"]["p95_ms"],
        **{f"(d) audited holdings, {label}: p50 ms": v["p50_ms"]
           for label, v in f["audit"].get("by", {}).items()},
        "(d2) holder summaries (100) p50 ms": f["holder_summaries"]["p50_ms"],
        "(d2) holder summaries (100) p95 ms": f["holder_summaries"]["p95_ms"],
        "(e) walk: pages": f["walk"]["pages"],
        "(e) walk: total s": f["walk"]["total_s"],
        "(e) walk: ms per page p50": f["walk"]["p50_ms"],
        "(e) walk: ms per page p95": f["walk"]["p95_ms"],
        "(e) walk: slowest page ms": f["walk"]["max_ms"],
    }


def budgets(small: dict[str, float], large: dict[str, float]) -> list[tuple[str, str, bool]]:
    unit = large["(a) unit p50 ms (1 conn)"] / small["(a) unit p50 ms (1 conn)"]
    page = large["(b) page of 50 p50 ms (1 conn)"] / small["(b) page of 50 p50 ms (1 conn)"]
    completion = large["(c) completion p50 ms"]
    return [
        (f"unit p50 at large ≤ {UNIT_BUDGET}× small", f"{unit:.2f}×", unit <= UNIT_BUDGET),
        (f"page p50 at large ≤ {UNIT_BUDGET}× small", f"{page:.2f}×", page <= UNIT_BUDGET),
        (f"completion p50 ≤ {COMPLETION_BUDGET_MS:.0f} ms (large)", f"{completion:.1f} ms",
         completion <= COMPLETION_BUDGET_MS),
    ]


def load_lines(name: str, load_: dict[str, Any]) -> list[str]:
    units = load_["units"]
    copy = load_["parcels_copy_with_overlap_check_s"] + load_["other_tables_copy_s"]
    c = load_["completion"]
    rate = c["units"] / max(c["completion_refresh_s"], 1e-9)
    return [
        f"- {name}: {units:,} units — generate {load_['generate_s']:.1f} s; COPY parcels with "
        f"PARCEL-2 {load_['parcels_copy_with_overlap_check_s']:.1f} s; COPY units, parties, "
        f"rights, holders {load_['other_tables_copy_s']:.1f} s; COPY in all {copy:.1f} s = "
        f"**{units / copy:,.0f} units/s**; VACUUM ANALYZE {load_['vacuum_analyze_s']:.1f} s; "
        f"completion ledger (`completion_refresh`, {c['units']:,} units) "
        f"{c['completion_refresh_s']:.1f} s ({rate:,.0f} units/s); wall {load_['wall_s']:.1f} s.",
    ]


def plan_excerpt(plans: list[dict[str, Any]], lines: int = 45) -> str:
    if not plans:
        return "(no plan logged)"
    top = plans[0]
    body = top["plan"].splitlines()
    text = "\n".join(body[:lines]) + ("\n…" if len(body) > lines else "")
    return (f"{len(plans)} statement(s) logged; the slowest, {top['ms']:.2f} ms "
            f"(`{top['query'][:90].strip()}…`, full text in the JSON):\n\n```\n{text}\n```")


def write_report(report: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "scale-experiment" if "experiment" in report else "scale"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    m = report["machine"]
    small_n, large_n = report["small"], report["large"]
    lines = [
        "# City scale: the register at " + f"{small_n:,} and {large_n:,} units",
        "",
        f"Run {report['started']} on {m['platform']}, {m['cpus']} × {m['cpu_model']}, "
        f"{m['memory_gb']} GB; PostgreSQL {report.get('postgres', '?')} (private cluster, "
        f"durable defaults: fsync on); code {m['git']}. Our server: uvicorn, "
        f"{report['workers']} workers, REGISTRY_ENV=production, an auditor's bearer token; "
        f"wrk {report['seconds']} s per measurement.",
        "Command: `" + report["command"] + "`",
        "",
        f"Load average (1, 5, 15 min) at start {report['load_average_start']}, "
        f"at the end {report['load_average_end']}"
        + "".join(f"; {k} measurements before {report[k]['load_average_before']}, after "
                  f"{report[k]['load_average_after']}" for k in ("at_small", "at_large")
                  if k in report)
        + " (2 cores: above ~1, others shared the CPUs).",
        "",
        "## Loads (COPY, the parcels' non-overlap trigger on, as registry_data does)",
        "",
        *load_lines("first load", report["load_small"]),
        *load_lines("grown by `registry_data.append`", report["load_large"]),
        "",
    ]
    if "at_small" in report:
        small, large = figures(report["at_small"]), figures(report["at_large"])
        fs, fl = report["at_small"]["facts"], report["at_large"]["facts"]
        lines += [
            "## Figures",
            "",
            f"Register: {fs['units']:,} → {fl['units']:,} units, {fs['parcels']:,} → "
            f"{fl['parcels']:,} parcels, {fs['rights']:,} → {fl['rights']:,} rights, database "
            f"{fs['database_mb']:,} → {fl['database_mb']:,} MB; the walked county {COUNTY} has "
            f"{fs['county_units']:,} → {fl['county_units']:,} units.",
            "",
            f"| figure | {small_n:,} | {large_n:,} | ratio |",
            "|---|---:|---:|---:|",
        ]
        for key in small:
            ratio = large[key] / small[key] if small[key] else float("nan")
            lines.append(f"| {key} | {small[key]:,.2f} | {large[key]:,.2f} | {ratio:.2f}× |")
        lines += ["", "## Budgets", "", "| budget | measured | met? |", "|---|---:|---|"]
        for name, value, met in budgets(small, large):
            lines.append(f"| {name} | {value} | {'yes' if met else '**no**'} |")
        inter = report.get("interleaved")
        if inter:
            for question in ("unit", "page"):
                ratio = inter[question]["ratio_of_medians"]
                lines.append(f"| {question} p50 at large ≤ {UNIT_BUDGET}× small, interleaved "
                             f"(median of {inter['rounds']} rounds) | {ratio:.2f}× | "
                             f"{'yes' if ratio <= UNIT_BUDGET else '**no**'} |")
            lines += [
                "", "### (a) and (b) interleaved",
                "",
                f"Both registers (two databases of one cluster) and both servers up; "
                f"{inter['rounds']} rounds, each running wrk with one connection for "
                f"{inter['seconds']} s on each question at each size, the size that goes first "
                f"alternating, so that the neighbours' load weighs on both sizes alike. Load "
                f"average after: {inter['load_average_after']}.",
                "",
                f"| question | p50 ms at {small_n:,} by round | p50 ms at {large_n:,} by round "
                "| ratio by round | ratio of medians |",
                "|---|---|---|---|---:|"]
            for question in ("unit", "page"):
                q = inter[question]
                by = q["p50_ms_by_round"]
                lines.append(
                    f"| {question} | {' · '.join(f'{v:.2f}' for v in by[str(small_n)])} | "
                    f"{' · '.join(f'{v:.2f}' for v in by[str(large_n)])} | "
                    f"{' · '.join(f'{v:.2f}' for v in q['ratio_by_round'])} | "
                    f"{q['ratio_of_medians']:.2f}× |")
        c_small = report["at_small"]["figures"]["completion"]
        c_large = report["at_large"]["figures"]["completion"]
        lines += ["", f"Completion answers (city, today): due {c_small['city_due']:,} / "
                      f"recorded {c_small['city_recorded']:,} at {small_n:,}; due "
                      f"{c_large['city_due']:,} / recorded {c_large['city_recorded']:,} at "
                      f"{large_n:,}."]
    else:
        base = figures(report["at_large"])
        after = figures(report["experiment"]["after"])
        lines += [
            "## Experiment (a separate run, not the budget run)",
            "",
            "Statements run by hand on the bench database after the large load "
            f"(seconds): {report['experiment']['statements']}",
            "",
            f"| figure at {large_n:,} | before | after | ratio |",
            "|---|---:|---:|---:|",
        ]
        for key in base:
            ratio = after[key] / base[key] if base[key] else float("nan")
            lines.append(f"| {key} | {base[key]:,.2f} | {after[key]:,.2f} | {ratio:.2f}× |")
    lines += ["", NOTES, "", "## Plans at the large size (auto_explain, ANALYZE)", ""]
    columns = [(k, report[k]["plans"]) for k in ("at_small", "at_large") if k in report]
    if "experiment" in report:
        columns.append(("after the experiment", report["experiment"]["after"]["plans"]))
    lines += ["One request of each kind with auto_explain on; the slowest statement's execution "
              "time in the database (ms):", "",
              "| request | " + " | ".join(name for name, _ in columns) + " |",
              "|---|" + "---:|" * len(columns)]
    for question in PLAN_QUESTIONS:
        cells = [f"{plans[question][0]['ms']:.2f}" if plans.get(question) else "–"
                 for _, plans in columns]
        lines.append(f"| {question} | " + " | ".join(cells) + " |")
    lines.append("")
    plans_key = "at_large" if "experiment" not in report else None
    sections = [("at_large", report["at_large"]["plans"])]
    if plans_key is None:
        sections.append(("after the experiment", report["experiment"]["after"]["plans"]))
    for title, plans in sections:
        for question in PLAN_QUESTIONS:
            lines += [f"### {question} ({title})", "", plan_excerpt(plans.get(question, [])), ""]
    for stage, explained in report.get("explain", {}).items():
        lines += [f"## Hand EXPLAIN ANALYZE ({stage})", ""]
        for item in explained:
            body = item["plan"].splitlines()
            lines += [f"**{item['title']}** — execution {item['ms']} ms", "", "```",
                      *body[:60], *(["…"] if len(body) > 60 else []), "```", ""]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))
    print("\n".join(lines[: lines.index("## Plans at the large size (auto_explain, ANALYZE)")]))


NOTES = """\
Notes
- (a) and (b) are registry_bench's two questions with its bodies (2,000 random unit codes; 500
  random page starts in 平昌县); p50/p95 come from wrk with one connection (registry_bench's
  wrk() runs two threads, which wrk refuses with one connection, so `wrk1` here runs one),
  req/s from registry_bench's wrk() with 8 connections.
- (c) is Completion.graphql for the city and each county in turn, sequential over one
  keep-alive connection (httpx), 200 requests after 12 warm-up ones; (d) AuditedHoldings.graphql,
  100 holdings of the city or of 平昌县, from the start or from a random unit code, 50 requests;
  (d2) HolderSummaries.graphql (100 holders, city or county, from the start or a random party),
  20 requests; (e) Units.graphql, first: 100, every page of 平昌县 in order.
- registry_data COPYs units and rights with session_replication_role = replica (the holder
  triggers are skipped because the generator keeps holders consistent); that also skips the
  completion triggers (STAT-2), so the bench builds the completion ledger afterwards with
  `completion_refresh` (what migration 0004 does for existing units), timed apart.
- Why the audit figures grew with the register, until the stop-28 fix of holding_page
  (registry/services/audit_holdings.py; the run of 04:39 measured 749 ms p50 at 2M):
  1. `mortgaged`/`seized` were EXISTS subqueries in the select list, planned as hashed
     SubPlans for every row the join could produce: each request hashed all current mortgages
     and seizures from a seq scan of the whole rights table. Now they are evaluated on the
     page's rows, after the LIMIT (`holdings_sql`).
  2. The keyset condition `(u.code, pa.id) > (:after_code, :after_party)` spans two tables,
     a Join Filter: the scan started at the first unit (page k cost O(k)). Now `u.code >=
     :after_code` stands beside it, an Index Cond.
  3. `u.county_code = ANY(:counties)` was a Filter on the code-ordered scan. For one county
     the scan now reads its code range only (a unit's code begins with its county's code).
     The units list's first page (the walk's slowest) still has that Filter.
  4. Still open: HolderSummaries for a county runs in party order and learns a holder's
     county only after joining holdings → rights → units (190 ms p50 at 2M, 5.9×); the
     generator numbers parties county by county.
"""


if __name__ == "__main__":
    main()
