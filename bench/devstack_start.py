"""How long the private stack takes to start and stop (the test session and `make run` wait
for it): PostgreSQL + PostGIS and `weed mini` started together, until both answer — the
cluster a connection, the bucket a signed PUT — against the two started one after the other
(the baseline), in the same run.

    python bench/devstack_start.py [--runs 5]

Results: bench/results/devstack_start.json and .md. Budget (issue 2): both in under 5 s.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from registry.devstack import DevStack, PostgresServer, S3Server  # noqa: E402
from storage import S3Store, S3StoreConfig  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def ready(postgres: PostgresServer, s3: S3Server) -> None:
    """Both answer: a query on the cluster, a signed PUT into a new bucket."""
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user="postgres",
                         dbname="postgres") as conn:
        conn.execute("SELECT 1")
    assert s3.credentials is not None
    store = S3Store(S3StoreConfig(s3.endpoint, s3.credentials.access_key,
                                  s3.credentials.secret_key, "probe"), retries=0)
    deadline = time.monotonic() + 30
    while True:
        try:
            store.ensure_bucket()
            store.put("x", io.BytesIO(b"x"), 1)
            return
        except Exception:  # the gateway answers before its filer is ready
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def together(directory: Path) -> tuple[float, float]:
    started = time.perf_counter()
    stack = DevStack(directory, fast_and_unsafe=True).start()
    assert stack.postgres is not None and stack.s3 is not None
    ready(stack.postgres, stack.s3)
    up = time.perf_counter() - started
    started = time.perf_counter()
    stack.stop()
    return up, time.perf_counter() - started


def one_after_the_other(directory: Path) -> tuple[float, float]:
    started = time.perf_counter()
    postgres = PostgresServer(directory / "postgres", fast_and_unsafe=True)
    postgres.start()
    s3 = S3Server(directory / "s3")
    s3.start()
    ready(postgres, s3)
    up = time.perf_counter() - started
    started = time.perf_counter()
    postgres.stop()
    s3.stop()
    return up, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    figures: dict[str, dict[str, list[float]]] = {}
    for name, start in (("together (DevStack)", together),
                        ("one after the other (baseline)", one_after_the_other)):
        ups, downs = [], []
        for _ in range(args.runs):
            directory = Path(tempfile.mkdtemp(prefix="registry-devstack-"))
            directory.chmod(0o755)  # as root the cluster runs as `postgres`, which must reach it
            try:
                up, down = start(directory)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            ups.append(up)
            downs.append(down)
            print(f"{name}: up {up:.2f} s, down {down:.2f} s", flush=True)
        figures[name] = {"up_s": ups, "down_s": downs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "devstack_start.json").write_text(json.dumps(figures, indent=1))
    lines = ["# Private stack start-up", "",
             f"`python bench/devstack_start.py --runs {args.runs}`: a fresh cluster (initdb "
             "included) and a fresh `weed mini` each run, until a query and a signed PUT "
             "succeed.", "",
             "| how | up: median (max) s | down: median (max) s |", "|---|---:|---:|"]
    for name, f in figures.items():
        lines.append(f"| {name} | {statistics.median(f['up_s']):.2f} ({max(f['up_s']):.2f}) "
                     f"| {statistics.median(f['down_s']):.2f} ({max(f['down_s']):.2f}) |")
    worst = max(figures["together (DevStack)"]["up_s"])
    lines += ["", f"Budget: both up in under 5 s — {'met' if worst < 5 else 'missed'} "
              f"(worst run {worst:.2f} s).", ""]
    (RESULTS / "devstack_start.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
