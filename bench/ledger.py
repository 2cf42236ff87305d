"""Ledger throughput: posted transfers per second with 8 concurrent clients.

Scenarios, each against the same private PostgreSQL (started here, durable settings) and the same
accounts, in one run:
- ledger, single      one transfer per call (and transaction) through the ledger engine
- ledger, batch 100   100 transfers per call through the engine (set-based: a few statements)
- baseline, single    plain SQL: UPDATE two balances + INSERT, one transaction per transfer
- baseline, batch 100 the same three statements per transfer, 100 transfers per transaction

The engine does what the baseline does not: idempotency check, row locks in sorted order, a
linked-group/two-phase capable evaluation, the hash chain (one chain lock held to commit), the
audit entry. Transfers move 0.0001–0.0100 亩 between random project accounts (lot-less
corrections), so every one posts and clients collide on accounts now and then.

    python bench/ledger.py            # 15 s per scenario
    python bench/ledger.py --quick    # 3 s per scenario, under 30 s in all

Writes bench/results/ledger.json (all figures) and bench/results/ledger.md (summary).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from registry.db.ledger import Dimension, HolderKind, QuotaType, TransferCode  # noqa: E402
from registry.db.session import make_engine, make_session_factory  # noqa: E402
from registry.devstack import PostgresServer  # noqa: E402
from registry.migrations import upgrade  # noqa: E402
from registry.services import ledger  # noqa: E402
from registry.services.ledger.rules import TransferInput  # noqa: E402

CLIENTS = 8
ACCOUNTS = 1000
FUNDING = 10**12  # sub-units per account: never runs out during a run
RESULTS = ROOT / "bench" / "results"
BUDGET = 2000  # posted transfers per second, in batches, on a 2-core machine

BASELINE_SCHEMA = """
CREATE TABLE bench_accounts (id bigint PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE bench_transfers (id uuid PRIMARY KEY, debit bigint NOT NULL, credit bigint NOT NULL,
                              amount bigint NOT NULL CHECK (amount > 0),
                              at timestamptz NOT NULL DEFAULT now());
"""


def setup(url: str) -> tuple[list[int], str]:
    """Migrate, open 1,000 funded project accounts, and the baseline's tables."""
    upgrade(url)
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    actor = ledger.Actor("bench")
    source = ledger.LotSource(QuotaType.LINKAGE_SURPLUS, "基准测试指标", "BENCH-1", 2025, "511923",
                              ("511923101003JC00012",), area=FUNDING * ACCOUNTS)
    lot = ledger.run_ledger(sessions, ledger.issue_lot, actor=actor, now=now, request_id=None,
                            lot_id=uuid.uuid4(), source=source)
    first = str(uuid.uuid5(lot, "issue/area"))

    def open_all(session: Any) -> list[int]:
        ids = []
        for i in range(ACCOUNTS):
            holder = ledger.Holder(HolderKind.PROJECT, f"P{i:04d}", f"项目{i}", "511923")
            ids.append(ledger.ensure_accounts(session, holder, QuotaType.LINKAGE_SURPLUS,
                                              [Dimension.AREA], now)[Dimension.AREA])
        return ids

    ids = ledger.run_ledger(sessions, open_all)
    with sessions() as session:
        county = session.scalar(text(
            "SELECT id FROM ledger_accounts WHERE holder_kind = 'county' AND holder_id = '511923'"
            " AND quota_type = 'linkage_surplus'"))
    funding = [TransferInput(id=uuid.uuid4(), debit_account_id=county, credit_account_id=a,
                             amount=FUNDING, code=TransferCode.CORRECTION,
                             details={"reason": "基准测试", "corrects": first}) for a in ids]
    results = ledger.run_ledger(sessions, ledger.create_transfers, funding, actor=actor, now=now)
    assert all(r.ok for r in results)
    with engine.begin() as conn:
        conn.execute(text(BASELINE_SCHEMA))
        conn.execute(text("INSERT INTO bench_accounts SELECT g, :f FROM generate_series(1, :n) g"),
                     {"f": FUNDING, "n": ACCOUNTS})
    engine.dispose()
    return ids, first


def _pairs(rng: random.Random, ids: list[int], count: int) -> list[tuple[int, int, int]]:
    out = []
    for _ in range(count):
        debit, credit = rng.sample(ids, 2)
        out.append((debit, credit, rng.randint(1, 100)))
    return out


def client(kind: str, batch: int, seconds: float, url: str, ids: list[int], first: str,
           number: int, start: Any, queue: Any) -> None:
    """One client process: its own engine and connection, posting until time is up."""
    engine = make_engine(url, pool_size=1)
    sessions = make_session_factory(engine)
    rng = random.Random(number * 7919 + batch)
    actor = ledger.Actor(f"bench-{number}")
    details = {"reason": "基准测试", "corrects": first}
    posted = refused = calls = 0
    latencies: list[float] = []
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        work = _pairs(rng, ids, batch)
        began = time.perf_counter()
        if kind == "ledger":
            transfers = [TransferInput(id=uuid.uuid4(), debit_account_id=d, credit_account_id=c,
                                       amount=a, code=TransferCode.CORRECTION, details=details)
                         for d, c, a in work]
            results = ledger.run_ledger(sessions, ledger.create_transfers, transfers,
                                        actor=actor, now=datetime.now(UTC))
            ok = sum(1 for r in results if r.ok)
        else:
            ok = _baseline(engine, work, ids)
        latencies.append(time.perf_counter() - began)
        posted += ok
        refused += len(work) - ok
        calls += 1
    engine.dispose()
    queue.put({"posted": posted, "refused": refused, "calls": calls, "latencies": latencies})


def _baseline(engine: Any, work: list[tuple[int, int, int]], ids: list[int]) -> int:
    """UPDATE two balances + INSERT per transfer; locks in sorted order so batches never
    deadlock (ids map to baseline rows 1..N by position)."""
    index = {account: i + 1 for i, account in enumerate(ids)}
    with engine.begin() as conn:
        rows = sorted({index[d] for d, _, _ in work} | {index[c] for _, c, _ in work})
        if len(work) > 1:
            conn.execute(text("SELECT id FROM bench_accounts WHERE id = ANY(:ids) ORDER BY id "
                              "FOR UPDATE"), {"ids": rows})
        ok = 0
        for debit, credit, amount in work:
            d, c = index[debit], index[credit]
            if len(work) == 1:  # lock both in order, as the engine does
                conn.execute(text("SELECT id FROM bench_accounts WHERE id IN (:a, :b) "
                                  "ORDER BY id FOR UPDATE"), {"a": d, "b": c})
            changed = conn.execute(text(
                "UPDATE bench_accounts SET balance = balance - :x WHERE id = :d AND balance >= :x"),
                {"x": amount, "d": d}).rowcount
            if not changed:
                continue
            conn.execute(text("UPDATE bench_accounts SET balance = balance + :x WHERE id = :c"),
                         {"x": amount, "c": c})
            conn.execute(text("INSERT INTO bench_transfers (id, debit, credit, amount) "
                              "VALUES (:id, :d, :c, :x)"),
                         {"id": uuid.uuid4(), "d": d, "c": c, "x": amount})
            ok += 1
    return ok


def scenario(kind: str, batch: int, seconds: float, url: str, ids: list[int],
             first: str) -> dict[str, Any]:
    context = mp.get_context("fork")
    start = context.Barrier(CLIENTS + 1)
    queue = context.Queue()
    workers = [context.Process(target=client, args=(kind, batch, seconds, url, ids, first, n,
                                                    start, queue)) for n in range(CLIENTS)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    reports = [queue.get(timeout=seconds + 120) for _ in workers]
    elapsed = time.perf_counter() - began
    for worker in workers:
        worker.join(timeout=30)
    latencies = sorted(x for r in reports for x in r["latencies"])
    posted = sum(r["posted"] for r in reports)
    return {
        "kind": kind, "batch": batch, "clients": CLIENTS, "seconds": round(elapsed, 2),
        "posted": posted, "refused": sum(r["refused"] for r in reports),
        "calls": sum(r["calls"] for r in reports),
        "transfers_per_second": round(posted / elapsed, 1),
        "call_p50_ms": round(latencies[len(latencies) // 2] * 1000, 2) if latencies else None,
        "call_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2)
        if latencies else None,
    }


def check(url: str) -> dict[str, Any]:
    """After the run: the chain verifies and Σdebits = Σcredits."""
    engine = make_engine(url, pool_size=1)
    with make_session_factory(engine)() as session:
        chain = ledger.verify_ledger_chain(session)
        problems = ledger.verify_ledger_balances(session)
        count = session.scalar(text("SELECT count(*) FROM ledger_transfers"))
    engine.dispose()
    return {"chain_ok": chain is None, "balance_problems": problems, "transfers": count}


def summary(result: dict[str, Any]) -> str:
    rows = {(s["kind"], s["batch"]): s for s in result["scenarios"]}
    lines = [
        "# Ledger benchmark",
        "",
        f"Run {result['started']} on {result['machine']} ({result['cpus']} CPUs), "
        f"{CLIENTS} client processes, {result['seconds_per_scenario']} s per scenario"
        f"{' (quick)' if result['quick'] else ''}; private PostgreSQL {result['postgres']} "
        "with durable settings (fsync on, synchronous_commit on). Load average (1 min) before "
        f"and after: {result['load_average_1min'][0]} / {result['load_average_1min'][1]} "
        "(anything above ~1 means other work shared the CPUs).",
        "Command: `" + result["command"] + "`",
        "",
        "| scenario | transfers/s | call p50 ms | call p99 ms | posted | refused |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in result["scenarios"]:
        size = "single" if s["batch"] == 1 else f"batch {s['batch']}"
        lines.append(f"| {s['kind']}, {size} | {s['transfers_per_second']:,.0f} | "
                     f"{s['call_p50_ms']} | {s['call_p99_ms']} | {s['posted']:,} | "
                     f"{s['refused']:,} |")
    single = rows[("ledger", 1)]["transfers_per_second"] / rows[("baseline", 1)][
        "transfers_per_second"]
    batch = rows[("ledger", 100)]["transfers_per_second"] / rows[("baseline", 100)][
        "transfers_per_second"]
    batched = rows[("ledger", 100)]["transfers_per_second"]
    lines += [
        "",
        f"- Ledger ÷ plain-SQL baseline: single {single:.2f}×, batch of 100 {batch:.2f}×.",
        f"- Budget ≥ {BUDGET:,} transfers/s in batches: "
        f"{'met' if batched >= BUDGET else 'NOT met'} ({batched:,.0f}/s).",
        f"- After the run: hash chain {'verifies' if result['check']['chain_ok'] else 'BROKEN'}, "
        f"{result['check']['transfers']:,} transfers, balance problems: "
        f"{len(result['check']['balance_problems'])}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per scenario (under 30 s)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per scenario")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    directory = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    os.chmod(directory, 0o755)  # the postgres OS user must reach its data directory
    server = PostgresServer(directory / "postgres", password=secrets.token_hex(16))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = os.getloadavg()[0]
    try:
        server.start()
        server.ensure_database("bench")
        url = server.url("bench")
        print(f"PostgreSQL on port {server.port}; setting up {ACCOUNTS} accounts …", flush=True)
        ids, first = setup(url)
        scenarios = []
        for kind, batch in (("baseline", 1), ("ledger", 1), ("baseline", 100), ("ledger", 100)):
            found = scenario(kind, batch, seconds, url, ids, first)
            print(f"{kind:>8} batch {batch:>3}: {found['transfers_per_second']:>9,.0f} "
                  f"transfers/s (p50 {found['call_p50_ms']} ms per call)", flush=True)
            scenarios.append(found)
        engine = make_engine(url, pool_size=1)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        result = {
            "started": started, "quick": args.quick, "seconds_per_scenario": seconds,
            "command": "python bench/ledger.py" + (" --quick" if args.quick else ""),
            "machine": platform.platform(), "cpus": os.cpu_count(), "postgres": version,
            "clients": CLIENTS, "accounts": ACCOUNTS, "scenarios": scenarios,
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "check": check(url),
        }
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ledger.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    text_summary = summary(result)
    (RESULTS / "ledger.md").write_text(text_summary, encoding="utf-8")
    print(text_summary)


if __name__ == "__main__":
    main()
