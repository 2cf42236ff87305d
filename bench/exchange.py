"""Benchmark: the national exchange (汇交) — messages built and sent, and the full export.

1. N cases (default 1,000) recorded through the services in two counties (每个 recording
   queues its message in its own transaction: EXCHANGE-1): a mix of first registrations,
   mortgages and transfers, as tests/exchange_support.py records them.
2. Messages built: every recorded case's message built again (facts read, XML, XSD
   validation) in one transaction that is rolled back → messages/s built.
3. Sent: the outbox delivered to the fake provincial platform (registry/services/exchange/
   fake_platform.py) while it fails every third request and restarts once → messages/s
   acknowledged; then `reconcile` must report zero differences (the issue's judge).
4. Export: bench/registry_data.py's register of U units (default 50,000) exported as CSV, XML
   and GeoPackage → rows/s (budget ≥ 20,000 rows/s), with the process's peak RSS.

    python bench/exchange.py             # 1,000 cases, 50,000 units
    python bench/exchange.py --quick     # 100 cases, 5,000 units

Results: bench/results/exchange.md (and exchange.json).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
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
from registry.db.applications import Application, ApplicationState  # noqa: E402
from registry.db.register import RegisterEntry  # noqa: E402
from registry.devstack import DevStack  # noqa: E402
from registry.migrations import upgrade  # noqa: E402
from registry.runtime import Runtime, utc_now  # noqa: E402
from registry.services.exchange.export import export  # noqa: E402
from registry.services.exchange.fake_platform import FakePlatform, PlatformState  # noqa: E402
from registry.services.exchange.messages import build  # noqa: E402
from registry.services.exchange.outbox import current_mapping  # noqa: E402
from registry.services.exchange.reconcile import reconcile  # noqa: E402
from registry.services.exchange.sender import SenderConfig, send_round  # noqa: E402

COUNTIES = ("511923", "511921")


def settings_for(stack: DevStack, database: str) -> Settings:
    assert stack.postgres is not None and stack.s3 is not None
    assert stack.s3.credentials is not None
    return Settings(database_url=SecretStr(stack.postgres.url(database)),
                    s3_endpoint=stack.s3.endpoint,
                    s3_access_key=SecretStr(stack.s3.credentials.access_key),
                    s3_secret_key=SecretStr(stack.s3.credentials.secret_key),
                    s3_bucket="bench-exchange", database_pool_size=4,
                    ledger_expiry_sweep_seconds=0)


def record_cases(runtime: Runtime, cases: int) -> dict[str, Any]:
    from tests.exchange_support import Office

    office = Office(runtime, counties=COUNTIES, seed=7)
    rng = random.Random(7)
    titled: dict[str, list[str]] = {c: [] for c in COUNTIES}
    started = time.perf_counter()
    kinds: dict[str, int] = {}
    for i in range(cases):
        county = COUNTIES[i % 2]
        roll = rng.random()
        if roll < 0.7 or len(titled[county]) < 3:
            code, _ = office.first(county)
            titled[county].append(code)
            kind = "first"
        elif roll < 0.9:
            office.mortgage(county, titled[county].pop(rng.randrange(len(titled[county]))))
            kind = "mortgage"
        else:
            office.transfer(county, titled[county][rng.randrange(len(titled[county]))])
            kind = "transfer"
        kinds[kind] = kinds.get(kind, 0) + 1
        if (i + 1) % 100 == 0:
            print(f"  {i + 1} cases recorded", flush=True)
    seconds = time.perf_counter() - started
    return {"cases": cases, "kinds": kinds, "record_s": round(seconds, 1),
            "cases_per_s": round(cases / seconds, 1)}


def build_again(runtime: Runtime) -> dict[str, Any]:
    mapping = current_mapping()
    with runtime.sessions() as session, session.begin():
        cases = list(session.scalars(select(Application).where(
            Application.state == ApplicationState.RECORDED).order_by(Application.id)))
        started = time.perf_counter()
        size = 0
        for case in cases:
            entry = session.scalars(select(RegisterEntry).where(
                RegisterEntry.application_id == case.id,
                RegisterEntry.entry_type == case.kind.value)).one()
            size += len(build(session, mapping, case, utc_now(), entry).body)
        seconds = time.perf_counter() - started
        session.rollback()
    return {"built": len(cases), "build_s": round(seconds, 2),
            "built_per_s": round(len(cases) / seconds, 1),
            "mean_message_bytes": round(size / max(1, len(cases)))}


def send_all(runtime: Runtime, expected: int) -> dict[str, Any]:
    platform = FakePlatform(PlatformState(token="bench", fail_every=3)).start()
    config = SenderConfig(url=platform.url, token="bench", timeout=5, retry_seconds=0,
                          max_backoff_seconds=0, batch=50)
    started = time.perf_counter()
    rounds = attempts = 0
    restarted = False
    try:
        while len(platform.state.received) < expected and rounds < 10_000:
            rounds += 1
            if not restarted and len(platform.state.received) >= expected // 2:
                platform.stop()  # the platform restarts once, keeping what it stored
                attempts += send_round(runtime.sessions, config, utc_now).attempted
                platform.start()
                restarted = True
            attempts += send_round(runtime.sessions, config, utc_now).attempted
        seconds = time.perf_counter() - started
    finally:
        platform.stop()
    with runtime.sessions() as session:
        differences = reconcile(session)
    return {"acknowledged": len(platform.state.received), "attempts": attempts,
            "platform_requests": platform.state.requests, "rounds": rounds,
            "send_s": round(seconds, 2),
            "sent_per_s": round(len(platform.state.received) / seconds, 1),
            "reconcile_differences": len(differences),
            "differences_sample": [d.__dict__ for d in differences[:5]]}


class RssSampler:
    """The process's resident memory sampled every 50 ms: how much an export adds."""

    def __init__(self) -> None:
        self.baseline = self.rss_mb()
        self.peak = self.baseline
        self.running = False

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def start(self) -> RssSampler:
        import threading

        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.rss_mb())
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return round(self.peak - self.baseline, 1)


def export_rates(stack: DevStack, units: int, workdir: Path) -> dict[str, Any]:
    from registry_data import load

    assert stack.postgres is not None
    stack.postgres.ensure_database("bench_export")
    url = stack.postgres.url("bench_export")
    upgrade(url)
    print(f"generating {units} units for the export …", flush=True)
    load(url, units)
    runtime = Runtime.from_settings(settings_for(stack, "bench_export"))
    out: dict[str, Any] = {"units": units}
    try:
        for fmt in ("csv", "xml", "gpkg"):
            target = workdir / f"export.{fmt}"
            sampler = RssSampler().start()
            started = time.perf_counter()
            counts = export(runtime.sessions, target, fmt, utc_now().date())
            seconds = time.perf_counter() - started
            growth = sampler.stop()
            rows = sum(counts.values())
            out[fmt] = {"rows": rows, "seconds": round(seconds, 2),
                        "rows_per_s": round(rows / seconds),
                        "rss_growth_mb": growth}
            print(f"  {fmt}: {out[fmt]}", flush=True)
    finally:
        runtime.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.units = 100, 5_000
    workdir = Path(tempfile.mkdtemp(prefix="registry-bench-exchange-"))
    workdir.chmod(0o755)
    stack = DevStack(workdir / "stack")
    report: dict[str, Any] = {"command": " ".join(["python", "bench/exchange.py",
                                                   *sys.argv[1:]])}
    try:
        stack.start()
        assert stack.postgres is not None
        stack.postgres.ensure_database("bench")
        upgrade(stack.postgres.url("bench"))
        runtime = Runtime.from_settings(settings_for(stack, "bench"))
        runtime.store.ensure_bucket()
        try:
            print(f"recording {args.cases} cases …", flush=True)
            report["record"] = record_cases(runtime, args.cases)
            print(report["record"], flush=True)
            report["build"] = build_again(runtime)
            print(report["build"], flush=True)
            report["send"] = send_all(runtime, args.cases)
            print(report["send"], flush=True)
        finally:
            runtime.close()
        report["export"] = export_rates(stack, args.units, workdir)
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    write_report(report)
    if report["send"]["reconcile_differences"]:
        raise SystemExit("reconcile found differences")


def write_report(report: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "exchange.json").write_text(json.dumps(report, indent=2, default=str) + "\n",
                                           encoding="utf-8")
    record, built, sent, exp = (report["record"], report["build"], report["send"],
                                report["export"])
    lines = [
        "# The national exchange (汇交)", "",
        f"`{report['command']}` on this machine (2 shared cores, private PostgreSQL with fsync"
        " off).", "",
        "| cases recorded | recorded/s | messages built/s | mean message bytes | sent/s "
        "(1/3 failing, 1 restart) | attempts | reconcile differences |",
        "|---|---|---|---|---|---|---|",
        f"| {record['cases']} ({record['kinds']}) | {record['cases_per_s']} | "
        f"{built['built_per_s']} | {built['mean_message_bytes']} | {sent['sent_per_s']} | "
        f"{sent['attempts']} | {sent['reconcile_differences']} |", "",
        f"Export of a generated register of {exp['units']} units (budget ≥ 20,000 rows/s):", "",
        "| format | rows | seconds | rows/s | RSS growth during the export, MB |",
        "|---|---|---|---|---|",
        *(f"| {fmt} | {exp[fmt]['rows']} | {exp[fmt]['seconds']} | {exp[fmt]['rows_per_s']} | "
          f"{exp[fmt]['rss_growth_mb']} |" for fmt in ("csv", "xml", "gpkg")), ""]
    (RESULTS / "exchange.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
