"""The `registry` command.

    registry serve           serve GraphQL (private PostgreSQL and S3 unless configured)
    registry migrate         migrate the database to the newest schema
    registry check           database, PostGIS, schema and bucket reachable and writable?
    registry export-schema   write graphql/schema.graphql from the code
    registry db-url [--reader]   libpq URL of the database (private stack: superuser/reader)
    registry psql [--reader]     psql on that database
    registry reader-password     set the read-only role registry_reader's password (production)
    registry user add|token|list|disable|enable|revoke   users and their bearer tokens
    registry verify [--save-heads F] [--expect-heads F]   check every hash chain (register
                             per county, ledger), the register's tables against the replayed
                             chain and the ledger's balances; exit 1 on a break or difference
    registry lapse           write down restrictions whose time has run out
    registry import survey   import survey results (parcels and units) with a rejects report
    registry stats completion|chart|target   completion figures, charts, yearly targets
    registry audit holdings  asset audit (清产核资) export as CSV or XLSX
    registry ledger statement ACCOUNT DATE   an account's daily statement (CSV)
    registry ledger expire   record the expiry of pending transfers whose timeout passed
    registry storage check [--repair]   do the bucket and the document rows agree?
    registry exchange send|failed|retry|reconcile|export   the national exchange (汇交)
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy.orm import Session

from registry.config import Settings, get_settings
from registry.db.access import Role
from registry.devstack import DevStackError
from registry.servers import (
    NoPrivateStackHere,
    export_to_environment,
    libpq_url,
    private_libpq_url,
    private_stack_running,
    resolved_settings,
    set_private_reader_password,
    set_reader_password,
)

log = logging.getLogger("registry.cli")
OPERATOR = "registry-cli"  # the name audit entries of command-line changes carry


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` blocks stop what we started."""

    def handler(signum: int, frame: object) -> NoReturn:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.secho(message, fg="red", err=True)
    raise SystemExit(code)


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (so uvicorn could not bind it)."""

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _refuse_busy_port(host: str, port: int) -> None:
    """SERVE-1 A busy port is one line naming it and how to pick another, exit code 2,
    checked before anything is started."""
    if port_in_use(host, port):
        _fail(f"Port {port} on {host} is already in use: choose another with "
              f"`PORT={port + 1} make run` or `registry serve --port {port + 1}`.", code=2)


@click.group()
@click.version_option(package_name="registry")
def cli() -> None:
    """Unified registration of property rights (不动产统一登记): a GraphQL register."""


def main() -> None:
    """Console-script entry point."""
    from pydantic import ValidationError

    _exit_on_sigterm()
    try:
        cli()
    except ValidationError as exc:  # settings from the environment (values never echoed)
        _fail("Configuration error:\n" + "\n".join(
            f"  {'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()))
    except NoPrivateStackHere as exc:  # STACK-1
        _fail(str(exc), code=2)
    except DevStackError as exc:
        _fail(f"Could not start the private PostgreSQL/S3 stack: {exc}\n"
              "Alternatively run the containers described in docker/compose.yaml.")


@cli.command()
@click.option("--host", default=None, help="Interface to bind [HOST, default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [PORT, default 8000].")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="uvicorn worker processes [WEB_WORKERS, default 1]; they share "
                   "DOCUMENT_DECODE_MEMORY_MB.")
@click.option("--demo", is_flag=True,
              help="Create demo users (tokens printed) and, into an empty register, demo data.")
def serve(host: str | None, port: int | None, workers: int | None, demo: bool) -> None:
    """Serve GraphQL at http://HOST:PORT/graphql (GraphiQL in development).

    Without DATABASE_URL / S3_ENDPOINT, starts a private PostgreSQL+PostGIS and S3 server
    under ./var, migrates, loads reference data, and stops them again on Ctrl-C or SIGTERM.
    """
    import uvicorn

    from registry.logs import configure_logging
    from registry.migrations import upgrade
    from registry.runtime import Runtime

    settings = get_settings()
    configure_logging(settings.log_level)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.web_workers
    _refuse_busy_port(host, port)
    with resolved_settings(settings) as resolved:
        assert resolved.database_url is not None
        upgrade(resolved.database_url.get_secret_value())
        set_private_reader_password(settings, resolved)
        runtime = Runtime.from_settings(resolved)
        try:
            runtime.store.ensure_bucket()
        finally:
            runtime.close()
        if demo:
            _load_demo(resolved)
        export_to_environment(resolved)
        gate = _share_decode_budget(workers)
        get_settings.cache_clear()
        if not (settings.database_url and settings.s3_endpoint):
            click.echo(f"Private PostgreSQL/S3 data under {Path(settings.var_dir).resolve()}")
        click.echo(f"GraphQL at http://{host}:{port}/graphql  (Ctrl-C stops everything)")
        sys.stdout.flush()
        try:
            uvicorn.run("registry.app:create_app", factory=True, host=host, port=port,
                        workers=workers, log_config=None, access_log=False,
                        proxy_headers=True, server_header=False)
        finally:
            if gate is not None:
                Path(gate).unlink(missing_ok=True)


def _share_decode_budget(workers: int) -> str | None:
    """SCAN-5 across workers: each gets an equal share of DOCUMENT_DECODE_MEMORY_MB, and with
    more than one, a lock file they all name for the pages larger than a share. The file's
    path, to remove when the workers are gone."""
    os.environ["WEB_WORKERS"] = str(workers)
    if workers == 1 or os.environ.get("DOCUMENT_DECODE_GATE"):
        return None
    fd, gate = tempfile.mkstemp(prefix="registry-decode-", suffix=".lock")
    os.close(fd)
    os.environ["DOCUMENT_DECODE_GATE"] = gate
    return gate


def _load_demo(settings: Settings, per_kind: int = 40) -> None:
    from registry.demo import Papers, ensure_demo_users, load_demo
    from registry.demo_natural_resources import load_natural_demo
    from registry.runtime import Runtime, utc_now

    runtime = Runtime.from_settings(settings)
    try:
        runtime.store.ensure_bucket()
        tokens = ensure_demo_users(runtime.sessions, Path(settings.var_dir) / "demo-tokens.json")
        papers = Papers.from_runtime(runtime)
        made = load_demo(runtime.sessions, papers, utc_now(), per_kind=per_kind,
                         progress=click.echo)
        if made:
            click.echo(f"demo: {made} units with their cases loaded")
        load_natural_demo(runtime.sessions, utc_now(),
                          settings.natural_resource_unit_code_pattern,
                          settings.natural_resource_notice_working_days, papers.store,
                          papers.config, progress=click.echo)
    finally:
        runtime.close()
    click.echo("Demo bearer tokens (Authorization: Bearer …), one per role:")
    shown = ["demo-511923-clerk", "demo-511923-reviewer", "demo-511923-registrar",
             "demo-auditor", "demo-statistician", "demo-trading_center", "demo-admin"]
    for username in shown:
        click.echo(f"  {username:<24} {tokens[username]}")
    click.echo(f"  (all {len(tokens)} demo tokens, for every county: "
               f"{Path(settings.var_dir) / 'demo-tokens.json'})")


@cli.command()
@click.option("--per-kind", type=int, default=40, show_default=True,
              help="Units of each kind per county.")
def demo(per_kind: int) -> None:
    """Load demo users and, into an empty register, demo data (development only)."""
    from registry.migrations import upgrade

    settings = get_settings()
    with resolved_settings(settings) as resolved:
        assert resolved.database_url is not None
        upgrade(resolved.database_url.get_secret_value())
        set_private_reader_password(settings, resolved)
        _load_demo(resolved, per_kind)


@cli.command()
def migrate() -> None:
    """Migrate the database to the newest schema (reference data included); idempotent."""
    from registry.migrations import upgrade

    settings = get_settings()
    with resolved_settings(settings) as resolved:
        assert resolved.database_url is not None
        upgrade(resolved.database_url.get_secret_value())
        set_private_reader_password(settings, resolved)
        click.echo("database migrated to head")


READER_OPTION = click.option(
    "--reader", is_flag=True,
    help="As the read-only role registry_reader (for QGIS, reports) instead of the superuser.")


def _database_url(reader: bool) -> str:
    """The libpq URL `db-url` prints and `psql` opens.

    Private stack (no DATABASE_URL): its superuser `postgres`, or `registry_reader`, each with
    the password kept in VAR_DIR/passwords.json. Configured DATABASE_URL: that URL; with
    --reader, its host/port/database as `registry_reader` without a password (the DBA set it
    with `registry reader-password`; libpq asks, or reads PGPASSWORD / ~/.pgpass).
    """
    settings = get_settings()
    if settings.database_url is None:
        return private_libpq_url(Path(settings.var_dir), reader=reader)
    url = libpq_url(settings.database_url.get_secret_value())
    if not reader:
        return url
    from sqlalchemy.engine import make_url

    # (URL.set(password=None) keeps the password: replace the field itself)
    parsed = make_url(url)._replace(username="registry_reader", password=None)
    return parsed.render_as_string(hide_password=False)


@cli.command("db-url")
@READER_OPTION
def db_url(reader: bool) -> None:
    """Print a libpq URL of the database (for psql, QGIS, pg_dump): see docs/qgis.md."""
    settings = get_settings()
    click.echo(_database_url(reader))
    if settings.database_url is None and not private_stack_running(Path(settings.var_dir)):
        click.echo("(the private stack is not running now: start it with `make run`)", err=True)
    elif settings.database_url is not None and reader:
        click.echo("(password: the one your DBA set with `registry reader-password`)", err=True)


@cli.command("psql", context_settings={"ignore_unknown_options": True})
@READER_OPTION
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def psql(reader: bool, psql_args: tuple[str, ...]) -> None:
    """Open psql on the database (private stack: started for the session if not running)."""
    from registry.devstack import find_pg_bindir

    found = shutil.which("psql")
    if found is None:
        candidate = find_pg_bindir() / "psql"
        found = str(candidate) if candidate.exists() else None
    if found is None:
        _fail("psql not found: sudo apt-get install postgresql-client")
    settings = get_settings()
    if settings.database_url is not None or private_stack_running(Path(settings.var_dir)):
        sys.stdout.flush()
        os.execv(found, [found, _database_url(reader), *psql_args])
    with resolved_settings(settings) as resolved:
        set_private_reader_password(settings, resolved)
        raise SystemExit(subprocess.call([found, _database_url(reader), *psql_args]))


@cli.command("reader-password")
@click.password_option("--password", envvar="READER_PASSWORD",
                       help="The new password [READER_PASSWORD; asked when not given].")
def reader_password(password: str) -> None:
    """Set the read-only role registry_reader's password and let it log in (production).

    Run after `registry migrate` as a role allowed to alter roles. The private stack does this
    by itself at every migrate, with the password kept in VAR_DIR/passwords.json.
    """
    settings = get_settings()
    with resolved_settings(settings) as resolved:
        assert resolved.database_url is not None
        set_reader_password(resolved.database_url.get_secret_value(), password)
    click.echo("registry_reader may log in with the new password")


@cli.command()
def check() -> None:
    """Check the database (PostGIS, schema) and the bucket (reachable, writable)."""
    from sqlalchemy import text

    from registry.migrations import current_revision, head_revision
    from registry.runtime import Runtime
    from storage import StorageUnavailable

    failures: list[str] = []
    with resolved_settings(get_settings()) as resolved:
        runtime = Runtime.from_settings(resolved)
        try:
            try:
                with runtime.engine.connect() as conn:
                    server = conn.execute(text("SHOW server_version")).scalar_one()
                    postgis = conn.execute(
                        text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
                    ).scalar_one_or_none()
                    revision = current_revision(conn)
                click.echo(f"database: PostgreSQL {server}")
                if postgis is None:
                    failures.append("database: the PostGIS extension is not installed "
                                    "(run `registry migrate`)")
                else:
                    click.echo(f"postgis:  {postgis}")
                head = head_revision()
                if revision != head:
                    failures.append(f"schema:   at {revision}, code expects {head} "
                                    "(run `registry migrate`)")
                else:
                    click.echo(f"schema:   at head ({head})")
            except Exception as exc:  # report and go on to check storage as well
                failures.append(f"database: unreachable ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})")
            try:
                runtime.store.ping()
                runtime.store.check_writable()
                click.echo(f"storage:  bucket {resolved.s3_bucket!r} reachable and writable")
            except StorageUnavailable as exc:
                failures.append(f"storage:  {exc}")
        finally:
            runtime.close()
    if failures:
        _fail("\n".join(failures))


@cli.command()
@click.option("--save-heads", "save_heads", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write each county's chain head (county, position, hash) "
                                 "to this JSON file, for a later --expect-heads.")
@click.option("--expect-heads", "expect_heads",
              type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Heads saved earlier: exit 1 if one is missing, moved backwards or differs "
                   "at its saved position (VERIFY-6).")
@click.option("--max-differences", type=click.IntRange(0), default=200, show_default=True,
              help="Differences printed per table (all are counted).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def verify(save_heads: Path | None, expect_heads: Path | None, max_differences: int,
           quiet: bool) -> None:
    """Walk every hash chain — the register of each county, the quota ledger — check that the
    register's tables (rights, holders, parties, certificates, units) say what the replayed
    chain says, and check the ledger's balances; print each chain's head; name every break
    and difference and exit 1 if there is any (VERIFY-1..6 in registry/services/verify.py)."""
    import json

    from tqdm import tqdm

    from registry.services.ledger import (
        ledger_chain_head,
        verify_ledger_balances,
        verify_ledger_chain,
    )
    from registry.services.verify import (
        begin_snapshot,
        derived_differences,
        head_problems,
        heads_document,
        read_heads,
        walk_chains,
        watch_of,
    )

    try:
        saved = read_heads(expect_heads) if expect_heads is not None else []
    except (ValueError, KeyError, TypeError) as exc:
        _fail(f"--expect-heads: {exc}")
    bars: dict[str, Any] = {}

    def progress(phase: str, done: int, total: int | None) -> None:
        if quiet:
            return
        name = "chain" if phase == "chain" else "compare"
        bar = bars.get(name)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[name] = tqdm(total=total, desc=phase,
                                    unit="entries" if name == "chain" else "tables",
                                    unit_scale=True, file=sys.stderr, dynamic_ncols=True)
        bar.set_description_str(phase, refresh=False)
        bar.update(done - bar.n)

    broken = False
    with _session() as session:
        begin_snapshot(session)
        chains = walk_chains(session, watch_of(saved), progress)
        counted: dict[str, int] = {}
        for difference in derived_differences(session, progress):
            counted[difference.table] = counted.get(difference.table, 0) + 1
            if counted[difference.table] <= max_differences:
                click.secho(f"differs: {difference}", fg="red")
        for bar in bars.values():
            bar.close()
        for chain in chains:
            if chain.first_break is None:
                click.echo(f"register {chain.county}: {chain.entries} entries, chain intact")
            else:
                broken = True
                position, reason = chain.first_break
                click.secho(f"register {chain.county}: BROKEN at entry {position}: {reason}",
                            fg="red")
        for chain in chains:
            if chain.head is not None:
                click.echo(f"head {chain.head.county}: position {chain.head.position} "
                           f"hash {chain.head.hash}")
        for problem in head_problems(saved, chains):
            broken = True
            click.secho(problem, fg="red")
        if saved and not head_problems(saved, chains):
            click.echo(f"heads: the {len(saved)} saved heads are all still in their chains")
        if counted:
            broken = True
            click.secho("register tables: " + ", ".join(
                f"{table} {n} differences" for table, n in counted.items())
                + " from what the chain says", fg="red")
        else:
            click.echo("register tables: rights, holders, parties, certificates, units, "
                       "lineage and natural-resource units agree with the chain")
        ledger_break = verify_ledger_chain(session)
        if ledger_break is None:
            length, head = ledger_chain_head(session)
            click.echo(f"ledger: ok ({length} transfers, head {head})")
        else:
            broken = True
            click.secho(f"ledger: BROKEN at transfer {ledger_break.position}: "
                        f"{ledger_break.reason}", fg="red")
        problems = verify_ledger_balances(session)
        for problem in problems:
            click.secho(f"ledger balances: {problem}", fg="red")
        if not problems:
            click.echo("ledger balances: ok (Σdebits = Σcredits; balances match transfers)")
    if save_heads is not None:
        save_heads.write_text(json.dumps(heads_document(chains), indent=2) + "\n",
                              encoding="utf-8")
        click.echo(f"heads saved to {save_heads}")
    if broken or problems:
        raise SystemExit(1)


@cli.command()
def lapse() -> None:
    """Terminate objections, advance notices and seizures whose time has run out."""
    from registry.runtime import utc_now
    from registry.services.registration.recording import record_lapses

    with _session() as session:
        count = record_lapses(session, utc_now())
    click.echo(f"{count} restrictions lapsed")


@cli.group()
def storage() -> None:
    """The document store (要件) in the bucket."""


@storage.command("check")
@click.option("--repair", is_flag=True,
              help="Remove orphans older than the grace period (never referenced objects).")
@click.option("--grace", type=int, default=None,
              help="Seconds an orphan must be old before --repair removes it "
                   "[STORAGE_ORPHAN_GRACE_SECONDS, default 86400].")
@click.option("--jobs", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Objects read back and hashed at a time.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def storage_check(repair: bool, grace: int | None, jobs: int, quiet: bool) -> None:
    """List orphan, missing and corrupted (hash mismatch) objects; exit 1 on missing or
    corrupted ones. Every referenced object is read back and hashed."""
    from datetime import timedelta

    from tqdm import tqdm

    from registry.runtime import Runtime, utc_now
    from registry.services.documents import DocumentConfig
    from registry.services.storage_check import check_storage
    from storage import StorageUnavailable

    bar = tqdm(desc="verified", unit="B", unit_scale=True, file=sys.stderr,
               dynamic_ncols=True, disable=quiet)

    def progress(objects: int, of_objects: int, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(f"{objects}/{of_objects} objects", refresh=False)
        bar.update(done - bar.n)

    with resolved_settings(get_settings()) as resolved:
        runtime = Runtime.from_settings(resolved)
        seconds = grace if grace is not None else resolved.storage_orphan_grace_seconds
        try:
            report = check_storage(runtime.sessions, runtime.store,
                                   DocumentConfig.from_settings(resolved), utc_now(),
                                   repair=repair, grace=timedelta(seconds=seconds), jobs=jobs,
                                   progress=progress)
        except StorageUnavailable as exc:
            _fail(f"storage: {exc}")
        finally:
            bar.close()
            runtime.close()
    for key in report.missing:
        click.secho(f"missing    {key}", fg="red")
    for key in report.corrupted:
        click.secho(f"corrupted  {key}", fg="red")
    removed = set(report.removed)
    for info in report.orphans:
        state = "removed" if info.key in removed else "kept (within grace)" if repair else ""
        click.echo(f"orphan     {info.key} {info.size} bytes {state}".rstrip())
    click.echo(f"{report.checked} objects verified, {len(report.missing)} missing, "
               f"{len(report.corrupted)} corrupted, {len(report.orphans)} orphans"
               f"{f', {len(removed)} removed' if repair else ''}")
    if not report.healthy:
        raise SystemExit(1)


@cli.group()
def papers() -> None:
    """Papers the bureau hands out: certificates and proofs as PDF (registry/papers/)."""


@papers.command("print")
@click.argument("numbers", nargs=-1)
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory the PDFs are written into (created if missing).")
@click.option("--demo-sample", is_flag=True,
              help="One of each paper from the register (a certificate per unit kind and a "
                   "mortgage proof), to look at the templates.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def papers_print(numbers: tuple[str, ...], output: Path, demo_sample: bool,
                 quiet: bool) -> None:
    """Write certificates/proofs NUMBERS (e.g. '川(2026)平昌县不动产权第0000001号') as PDFs into
    OUTPUT, one file per number. Reads the register only."""
    from tqdm import tqdm

    from registry.papers.render import render_paper
    from registry.papers.samples import sample_numbers, unit_of_certificate
    from registry.runtime import Runtime, utc_now
    from registry.services.errors import DomainError

    if not numbers and not demo_sample:
        _fail("name certificate numbers, or --demo-sample", 2)
    with resolved_settings(get_settings()) as resolved:
        runtime = Runtime.from_settings(resolved)
        try:
            with runtime.sessions() as session:
                wanted = list(numbers) or sample_numbers(session)
                if not wanted:
                    _fail("the register holds no certificate yet (try `registry serve --demo`)")
                output.mkdir(parents=True, exist_ok=True)
                for number in tqdm(wanted, desc="papers", unit="paper", file=sys.stderr,
                                   disable=quiet):
                    try:
                        pdf = render_paper(session, number, utc_now(), store=runtime.store).pdf
                    except DomainError as exc:
                        _fail(f"{number}: {exc.code} {exc.message_zh}")
                    path = output / f"{number}.pdf"
                    path.write_bytes(pdf)
                    click.echo(f"{path} {len(pdf)} bytes")
                if demo_sample:  # the register's other papers, of the first sample's unit
                    from registry.services.register_papers import sample_pdfs

                    unit_code = unit_of_certificate(session, wanted[0])
                    for name, pdf in sample_pdfs(session, unit_code, utc_now()).items():
                        path = output / f"{name}-{unit_code}.pdf"
                        path.write_bytes(pdf)
                        click.echo(f"{path} {len(pdf)} bytes")
        finally:
            runtime.close()


@papers.command("print-batch")
@click.option("--as", "username", required=True,
              help="The clerk or registrar printing (their county scope applies).")
@click.option("--county", help="County code (default: the user's county).")
@click.option("--limit", type=click.IntRange(1, 100_000), help="Print at most this many.")
@click.option("--overlay", is_flag=True,
              help="套打: onto the county's blank forms in stock, lowest serial first.")
@click.option("--offset-x-mm", type=float, default=0.0, help="Printer offset (overlay).")
@click.option("--offset-y-mm", type=float, default=0.0, help="Printer offset (overlay).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def papers_print_batch(username: str, county: str | None, limit: int | None, overlay: bool,
                       offset_x_mm: float, offset_y_mm: float, quiet: bool) -> None:
    """缮证 in a batch: print, sign and store every certificate and proof of the county's
    recorded cases that has no standing print yet (PRINT-1..3), each in its own transaction,
    oldest number first. A paper that cannot be printed is reported and skipped; exit 1 if
    any was."""
    from tqdm import tqdm

    from registry.db.papers import PrintMode
    from registry.db.session import transaction
    from registry.runtime import Runtime, utc_now
    from registry.services.errors import DomainError
    from registry.services.papers import (
        PrintRequest,
        PrintSetup,
        next_serial,
        print_paper,
        unprinted_numbers,
    )

    with resolved_settings(get_settings()) as resolved:
        runtime = Runtime.from_settings(resolved)
        try:
            actor = _principal(runtime.sessions, username)
            where = county or actor.county_code
            if where is None:
                _fail("name the county (--county): the user is city-wide", 2)
            setup = PrintSetup.from_settings(resolved, runtime.store)
            with runtime.readers() as session:
                numbers = unprinted_numbers(session, where, limit)
            failed = 0
            for number in tqdm(numbers, desc="缮证", unit="paper", file=sys.stderr,
                               disable=quiet):
                try:
                    with transaction(runtime.sessions) as session:
                        serial = next_serial(session, number) if overlay else None
                        request = PrintRequest(number=number, serial=serial,
                                               mode=PrintMode.OVERLAY if overlay
                                               else PrintMode.FULL,
                                               offset_x_mm=offset_x_mm,
                                               offset_y_mm=offset_y_mm)
                        printed = print_paper(session, actor, setup, request, utc_now())
                        line = f"{number} printed{f' on {printed.serial}' if serial else ''}"
                except DomainError as exc:
                    failed += 1
                    line = f"{number}: {exc.code} {exc.message_zh}"
                    if exc.code in ("NO_SIGNING_KEY", "FORBIDDEN", "OUT_OF_FORMS"):
                        click.echo(line, err=True)
                        raise SystemExit(1) from None
                click.echo(line)
            click.echo(f"{len(numbers) - failed} printed, {failed} not printed")
            if failed:
                raise SystemExit(1)
        finally:
            runtime.close()


@papers.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def papers_verify(file: Path) -> None:
    """Check a paper's PDF: signed by the bureau's key and unchanged since (SIGN-2), a standing
    print of this register, and the register still says what it says (PRINT-5). Exit 1
    otherwise, saying why."""
    from registry.runtime import Runtime
    from registry.services.papers import check_paper

    with resolved_settings(get_settings()) as resolved:
        if not resolved.papers_signing_cert:
            _fail("PAPERS_SIGNING_CERT is not set: the bureau's certificate is needed", 2)
        trusted = Path(resolved.papers_signing_cert).read_bytes()
        runtime = Runtime.from_settings(resolved)
        try:
            with runtime.readers() as session:
                check = check_paper(session, file.read_bytes(), trusted)
        finally:
            runtime.close()
    sig = check.signature
    click.echo(f"signature: {'valid' if sig.valid else 'INVALID'}"
               f"{f' ({sig.problem})' if sig.problem else ''}"
               f"{f', signed by {sig.signer}' if sig.signer else ''}"
               f"{f' at {sig.signed_at.isoformat()}' if sig.signed_at else ''}")
    click.echo(f"paper:     {check.number or 'not a print of this register'} {check.status}")
    if check.matches_register is not None:
        click.echo("register:  " + ("matches" if check.matches_register else
                                    "DIFFERS (the register has changed since it was printed)"))
    if not check.ok:
        raise SystemExit(1)


@papers.command("calibration")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def papers_calibration(output: Path) -> None:
    """Write the calibration page for overlay printing (套打): print it, measure the crosses,
    and give the differences as offsetXMm/offsetYMm when printing."""
    from registry.papers.render import calibration_pdf
    from registry.runtime import utc_now

    output.write_bytes(calibration_pdf(utc_now()))
    click.echo(f"{output}")


@cli.group()
def user() -> None:
    """Users and their bearer tokens."""


@user.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([r.value for r in Role]), help="Repeat for several roles.")
@click.option("--county", default=None, help="County code of the user's scope (none: all).")
@click.option("--name", "display_name", default=None, help="Display name.")
def user_add(username: str, roles: tuple[str, ...], county: str | None,
             display_name: str | None) -> None:
    """Create a user and print their first bearer token (shown only this once)."""
    from registry.services.access import check_scope, create_user
    from registry.services.errors import InvalidInput

    try:
        check_scope(roles, county)  # ACCESS-7, before any server is asked
    except InvalidInput as exc:
        _fail(f"{exc.code}: {exc.message_en} / {exc.message_zh}", code=2)
    with _session() as session:
        _, token = create_user(session, username, roles, county, display_name)
    click.echo(token)


@user.command("token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for.")
def user_token(username: str, label: str) -> None:
    """Issue another bearer token for an existing user and print it."""
    from sqlalchemy import select

    from registry.db.access import User
    from registry.services.access import issue_token

    with _session() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            _fail(f"no such user: {username}")
        click.echo(issue_token(session, user_id, label))


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable a user: every token of theirs stops working, at once in every running worker."""
    _set_disabled(username, True)


@user.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Enable a disabled user again (their tokens that were not revoked work again)."""
    _set_disabled(username, False)


def _set_disabled(username: str, disabled: bool) -> None:
    from registry.runtime import utc_now
    from registry.services.access import set_user_disabled

    with _session() as session:
        set_user_disabled(session, username, disabled, utc_now(), OPERATOR)
    click.echo(f"{username} {'disabled' if disabled else 'enabled'}")


@user.command("revoke")
@click.argument("username")
@click.option("--label", default=None, help="Only the tokens with this label (default: all).")
def user_revoke(username: str, label: str | None) -> None:
    """Revoke a user's tokens (e.g. one that leaked); issue a new one with `user token`."""
    from registry.runtime import utc_now
    from registry.services.access import revoke_tokens

    with _session() as session:
        count = revoke_tokens(session, username, utc_now(), OPERATOR, label)
    click.echo(f"{count} token(s) of {username} revoked")


@user.command("list")
def user_list() -> None:
    """Users, their roles and county scope."""
    from sqlalchemy import select

    from registry.db.access import User

    with _session() as session:
        for row in session.scalars(select(User).order_by(User.username)):
            scope = row.county_code or "all counties"
            state = " (disabled)" if row.disabled_at else ""
            click.echo(f"{row.username:<24} {','.join(sorted(row.roles)):<32} {scope}{state}")


@contextmanager
def _session() -> Iterator[Session]:
    """One transaction on the configured (or private) database, for commands that change data."""
    from registry.db.session import make_engine, make_session_factory, transaction
    from registry.services.database_errors import translate_database_errors
    from registry.services.errors import DomainError

    with resolved_settings(get_settings()) as resolved:
        assert resolved.database_url is not None
        engine = make_engine(resolved.database_url.get_secret_value(), pool_size=1)
        try:
            with translate_database_errors(), transaction(make_session_factory(engine)) as s:
                yield s
        except DomainError as exc:
            _fail(f"{exc.code}: {exc.message_en} / {exc.message_zh}")
        finally:
            engine.dispose()


@contextmanager
def _sessions() -> Iterator[Any]:
    """A session factory on the configured (or private) database, for commands that manage
    their own transactions or only read."""
    from registry.db.session import make_engine, make_session_factory

    with resolved_settings(get_settings()) as resolved:
        assert resolved.database_url is not None
        engine = make_engine(resolved.database_url.get_secret_value(), pool_size=2)
        try:
            yield make_session_factory(engine)
        finally:
            engine.dispose()


def _principal(sessions: Any, username: str) -> Any:
    """The registry user the command acts as (their roles and county scope apply)."""
    from sqlalchemy import select

    from registry.db.access import User
    from registry.services.access import Principal

    with sessions() as session:
        user = session.scalar(select(User).where(User.username == username,
                                                 User.disabled_at.is_(None)))
    if user is None:
        _fail(f"no such (enabled) user: {username}")
    return Principal(user_id=user.id, username=user.username,
                     roles=frozenset(Role(r) for r in user.roles), county_code=user.county_code)


def _domain_errors(work: Any) -> Any:
    from registry.services.errors import DomainError

    try:
        return work()
    except DomainError as exc:
        _fail(f"{exc.code}: {exc.message_en} / {exc.message_zh}")


class PhaseBars:
    """A progress bar per phase of a long import (on stderr), each closed when the next one
    starts; the callback `(phase, rows done, rows total)` the imports report to."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bars: dict[str, Any] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        bar = self.bars.get(phase)
        if bar is None:
            self.close()
            bar = self.bars[phase] = tqdm(total=total, desc=phase, unit="rows",
                                          unit_scale=True, file=sys.stderr,
                                          dynamic_ncols=True)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@cli.group("import")
def import_group() -> None:
    """Bulk imports."""


@import_group.command("survey")
@click.argument("geometry", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--attributes", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="CSV of units joined by BDCDYH (else the features' columns).")
@click.option("--crs", type=int, default=None, help="EPSG code when the file names none.")
@click.option("--encoding", default="utf-8-sig", show_default=True, help="Of the CSV.")
@click.option("--user", "username", required=True,
              help="The registry user importing (a clerk of the county, or an admin).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the report CSV [GEOMETRY.report.csv].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_survey_command(geometry: Path, attributes: Path | None, crs: int | None,
                          encoding: str, username: str, report: Path | None,
                          quiet: bool) -> None:
    """Import survey results (权籍调查成果): parcels from GEOMETRY (GeoJSON or GeoPackage), units
    from --attributes (CSV) — see docs/survey-import.md. Refused rows go to the report; the
    others are imported. Importing the same file again changes nothing."""
    import csv

    from registry.runtime import utc_now
    from registry.services.survey_import import SurveyFiles, import_survey

    files = SurveyFiles(geometry, attributes, crs, encoding)
    report = report or geometry.with_name(geometry.name + ".report.csv")
    progress = PhaseBars(quiet)

    with _sessions() as sessions:
        actor = _principal(sessions, username)
        job_id, summary = _domain_errors(lambda: import_survey(
            sessions, actor, files, utc_now, progress))
    progress.close()
    with report.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["finding", "source", "row", "key", "code", "message_zh",
                         "message_en"])
        for f in summary.findings:
            writer.writerow([f.finding, f.source, f.row, f.key, f.code, f.message_zh,
                             f.message_en])
    c = summary.counts
    click.echo(f"job {job_id}: parcels {c['parcels_created']} created, "
               f"{c['parcels_existing']} already registered, {c['parcels_rejected']} refused; "
               f"units {c['units_created']} created, {c['units_existing']} already registered, "
               f"{c['units_rejected']} refused; {c['differences']} differences")
    click.echo(f"report: {report}")


@cli.group("land-cover")
def land_cover_group() -> None:
    """三调 land cover (地类图斑) for natural-resource registration."""


@land_cover_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--county", required=True, help="County code whose land cover FILE replaces.")
@click.option("--crs", type=int, default=None, help="EPSG code when the file names none.")
@click.option("--user", "--username", "username", required=True,
              help="The registry user importing (a clerk of the county, or an admin).")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the refused features to this CSV (else print them).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def land_cover_import_command(file: Path, county: str, crs: int | None, username: str,
                              rejects_path: Path | None, quiet: bool) -> None:
    """Import FILE (GeoPackage or GeoJSON with DLBM, optionally BSM and QSXZ) as the county's
    current land cover; the county's previous layer is ended. Refused features are reported,
    the others loaded (registry/services/natural_resources/land_cover.py)."""
    import csv

    from registry.db.session import transaction
    from registry.runtime import utc_now
    from registry.services.database_errors import translate_database_errors
    from registry.services.natural_resources.land_cover import import_land_cover

    progress = PhaseBars(quiet)

    def work() -> Any:
        with translate_database_errors(), transaction(sessions) as session:
            return import_land_cover(session, actor, file, county, utc_now(), crs, progress)

    with _sessions() as sessions:
        actor = _principal(sessions, username)
        result = _domain_errors(work)
    progress.close()
    header = ["feature", "bsm", "dlbm", "code", "message_zh", "message_en"]
    rows = [[r.feature, r.bsm or "", r.dlbm or "", r.code, r.message_zh, r.message_en]
            for r in result.rejects]
    if rejects_path is not None:
        with rejects_path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    else:
        for row in rows:
            click.echo("reject " + "\t".join(str(v) for v in row))
    replaced = (f"; layer {result.replaced_layer_id} ended ({result.ended_polygons} polygons)"
                if result.replaced_layer_id is not None else "")
    click.echo(f"layer {result.layer_id} ({result.county_code}, {result.source_crs}): "
               f"{result.features} features, {result.loaded} loaded, "
               f"{result.rejected} refused{replaced}")
    if result.rejected > len(result.rejects):
        click.echo(f"only the first {len(result.rejects)} refusals are listed")
    if rejects_path is not None:
        click.echo(f"rejects: {rejects_path}")


@cli.group()
def boundaries() -> None:
    """Division boundaries (行政区划界线) that natural-resource units are checked against."""


@boundaries.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", type=int, default=None, help="EPSG code when the file names none.")
@click.option("--label", default="", help="What the layer is, kept with it as its source.")
@click.option("--user", "--username", "username", required=True, help="An admin.")
def boundaries_import_command(file: Path, crs: int | None, label: str, username: str) -> None:
    """Load FILE (GeoPackage or GeoJSON, one or more features per county or township, column
    XZQDM / 行政区代码) as the divisions' boundaries (registry/services/boundaries.py)."""
    from registry.db.session import transaction
    from registry.runtime import utc_now
    from registry.services.boundaries import import_boundaries
    from registry.services.database_errors import translate_database_errors

    def work() -> list[str]:
        with translate_database_errors(), transaction(sessions) as session:
            return import_boundaries(session, actor, file, utc_now(), crs, label)

    with _sessions() as sessions:
        actor = _principal(sessions, username)
        codes = _domain_errors(work)
    click.echo(f"boundaries loaded for {len(codes)} divisions: {', '.join(codes)}")


@cli.group("control-zones")
def control_zones_group() -> None:
    """Public-control zones (生态保护红线, 国土空间规划分区 …) linked to natural-resource units."""


@control_zones_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", required=True,
              type=click.Choice(["ecological_redline", "spatial_plan", "special_protection",
                                 "other"]),
              help="What the layer's zones are; the kind's current zones are replaced.")
@click.option("--crs", type=int, default=None, help="EPSG code when the file names none.")
@click.option("--user", "--username", "username", required=True,
              help="The registry user importing (a clerk without county scope, or an admin).")
def control_zones_import_command(file: Path, kind: str, crs: int | None,
                                 username: str) -> None:
    """Import FILE (GeoPackage or GeoJSON with 区块编号, optionally name, 管制内容, 设置单位,
    划定时间) as the city's current zones of KIND; a bad feature refuses the whole file
    (NRLINK-5 in registry/services/natural_resources/links.py)."""
    from registry.db.natural_resources import ControlZoneKind
    from registry.db.session import transaction
    from registry.runtime import utc_now
    from registry.services.database_errors import translate_database_errors
    from registry.services.natural_resources.links import import_control_zones

    def work() -> int:
        with translate_database_errors(), transaction(sessions) as session:
            return import_control_zones(session, actor, file, ControlZoneKind(kind), utc_now(),
                                        crs)

    with _sessions() as sessions:
        actor = _principal(sessions, username)
        count = _domain_errors(work)
    click.echo(f"{count} {kind} zones imported from {file.name}; the previous ones ended")


@cli.group()
def stats() -> None:
    """Completion statistics (登记完成率)."""


KINDS = ["rural_house", "infrastructure", "parking_space"]


def _as_of(value: str | None) -> Any:
    from datetime import date

    from registry.runtime import utc_now
    from registry.services.statistics import today

    if value is None:
        return today(utc_now())
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"--as-of must be a date YYYY-MM-DD, not {value!r}")


@stats.command("completion")
@click.option("--county", default=None, help="County code (default: the city and its counties).")
@click.option("--as-of", "as_of", default=None, help="Date YYYY-MM-DD [today].")
@click.option("--kind", type=click.Choice(KINDS), default="rural_house", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "xlsx"]), default="table",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (required for xlsx; csv and table default to stdout).")
def stats_completion(county: str | None, as_of: str | None, kind: str, fmt: str,
                     output: Path | None) -> None:
    """Due, recorded, certified, in progress, disputed, rate, target and backlog (欠帐)."""
    from registry.db.units import UnitKind
    from registry.services.statistics import completion
    from registry.services.statistics_export import render_completion

    day = _as_of(as_of)
    if fmt == "xlsx" and output is None:
        _fail("--format xlsx needs --output FILE")
    with _sessions() as sessions, sessions() as session:
        report = _domain_errors(lambda: completion(session, day, UnitKind(kind), county))
    data = render_completion(report, fmt)
    if output is None:
        click.echo(data.decode("utf-8-sig") if isinstance(data, bytes) else data, nl=False)
    else:
        output.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        click.echo(f"wrote {output}")


@stats.command("chart")
@click.argument("which", type=click.Choice(["completion", "trend"]))
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]), default="png",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--county", default=None, help="County code (default: the city).")
@click.option("--as-of", "as_of", default=None, help="Date YYYY-MM-DD [today] (completion).")
@click.option("--year", type=int, default=None, help="Year of the trend [this year].")
@click.option("--kind", type=click.Choice(KINDS), default="rural_house", show_default=True)
def stats_chart(which: str, fmt: str, output: Path, county: str | None, as_of: str | None,
                year: int | None, kind: str) -> None:
    """Write a chart: completion (rate against target per county) or trend (monthly)."""
    from registry.db.units import UnitKind
    from registry.services.charts import completion_chart, trend_chart
    from registry.services.statistics import completion, completion_series

    day = _as_of(as_of)
    with _sessions() as sessions, sessions() as session:
        if which == "completion":
            report = _domain_errors(lambda: completion(session, day, UnitKind(kind), county))
            body = completion_chart(report, fmt)  # type: ignore[arg-type]
        else:
            series = _domain_errors(lambda: completion_series(
                session, year or day.year, day, UnitKind(kind), county))
            body = trend_chart(series, fmt)  # type: ignore[arg-type]
    output.write_bytes(body)
    click.echo(f"wrote {output}")


@stats.command("target")
@click.argument("county")
@click.argument("year", type=int)
@click.argument("target")
@click.option("--kind", type=click.Choice(KINDS), default="rural_house", show_default=True)
@click.option("--user", "username", required=True, help="An admin.")
def stats_target(county: str, year: int, target: str, kind: str, username: str) -> None:
    """Set COUNTY's TARGET (a fraction, e.g. 0.85) for YEAR."""
    from registry.db.session import transaction
    from registry.db.units import UnitKind
    from registry.runtime import utc_now
    from registry.services.statistics import set_target

    with _sessions() as sessions:
        actor = _principal(sessions, username)

        def work() -> None:
            with transaction(sessions) as session:
                set_target(session, actor, county, year, target, utc_now(), UnitKind(kind))

        _domain_errors(work)
    click.echo(f"target of {county} for {year}: {target}")


@cli.group()
def audit() -> None:
    """Asset audit (清产核资)."""


@audit.command("holdings")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--user", "username", required=True, help="An auditor (or admin).")
@click.option("--county", default=None)
@click.option("--unit-kind", type=click.Choice(KINDS), default=None)
@click.option("--holder-kind", "holder_kinds", multiple=True,
              type=click.Choice(["person", "enterprise", "public_institution", "government",
                                 "collective", "other"]))
@click.option("--restricted", type=click.Choice(["mortgaged", "seized", "any"]), default=None)
def audit_holdings(fmt: str, output: Path, username: str, county: str | None,
                   unit_kind: str | None, holder_kinds: tuple[str, ...],
                   restricted: str | None) -> None:
    """Export holdings by current title (ID numbers masked) with a 合计 totals row."""
    from registry.runtime import utc_now
    from registry.services.access import counties_to_read, require
    from registry.services.audit_holdings import (
        AUDIT_READERS,
        HoldingFilter,
        iter_holdings,
        write_csv,
        write_xlsx,
    )

    with _sessions() as sessions:
        actor = _principal(sessions, username)

        def work() -> Any:
            require(actor, *AUDIT_READERS)
            f = HoldingFilter(counties=counties_to_read(actor, county), unit_kind=unit_kind,
                              holder_kinds=list(holder_kinds) or None, restricted=restricted)
            with sessions() as session:
                rows = iter_holdings(session, f, utc_now())
                if fmt == "csv":
                    with output.open("w", encoding="utf-8-sig", newline="") as handle:
                        return write_csv(rows, handle)
                with output.open("wb") as binary:
                    return write_xlsx(rows, binary)

        totals = _domain_errors(work)
    click.echo(f"wrote {output}: {totals.holdings} holdings")


@cli.group("ledger")
def ledger_group() -> None:
    """The quota ledger (指标台账)."""


@ledger_group.command("statement")
@click.argument("account")
@click.argument("day", metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]))
def ledger_statement(account: str, day: object) -> None:
    """Print ACCOUNT's statement for DATE (China time) as CSV: opening, movements, closing.

    ACCOUNT is an account id or `kind/holder/quota_type/dimension`, e.g.
    `county/511923/linkage_surplus/area`.
    """
    from datetime import datetime

    from registry.services.ledger.reports import account_by_key, statement

    assert isinstance(day, datetime)
    with _session() as session:
        click.echo(statement(session, None, account_by_key(session, account), day.date()).csv(),
                   nl=False)


@ledger_group.command("expire")
def ledger_expire() -> None:
    """Record an expiry for every pending transfer whose timeout has passed."""
    from registry.runtime import utc_now
    from registry.services.ledger import Actor, expire_all_due

    with _sessions() as sessions:
        total = _domain_errors(lambda: expire_all_due(sessions, Actor(OPERATOR),
                                                      utc_now))
    click.echo(f"{total} pending transfers expired")


@cli.group("exchange")
def exchange_group() -> None:
    """The national exchange (汇交): the outbox of per-recording messages (docs/exchange.md)."""


def _sender_config() -> Any:
    from registry.services.exchange.sender import SenderConfig

    config = SenderConfig.from_settings(get_settings())
    if config is None:
        _fail("EXCHANGE_URL is not set: nowhere to send to")
    return config


@exchange_group.command("send")
@click.option("--max-rounds", type=click.IntRange(1), default=1000, show_default=True,
              help="Rounds over the counties before giving up on failing messages.")
def exchange_send(max_rounds: int) -> None:
    """Send every due message, county by county in register order (EXCHANGE-8); exit 1 if
    some are still unsent."""
    from registry.runtime import utc_now
    from registry.services.exchange.sender import backlog, send_until_idle

    config = _sender_config()
    with _sessions() as sessions:
        report = send_until_idle(sessions, config, utc_now, max_rounds=max_rounds)
        with sessions() as session:
            left = backlog(session)
    click.echo(f"{report.attempted} attempts: {report.acknowledged} acknowledged, "
               f"{report.refused} refused, {report.failed} failed; {left.unsent} unsent, "
               f"{left.refused} refused in all")
    if left.unsent:
        raise SystemExit(1)


@exchange_group.command("failed")
def exchange_failed() -> None:
    """Messages the platform refused (EXCHANGE-6), with its answer; and those still failing."""
    from sqlalchemy import select

    from registry.db.exchange import OutboxMessage, OutboxState

    with _sessions() as sessions, sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).where(
            (OutboxMessage.state == OutboxState.REFUSED)
            | ((OutboxMessage.state == OutboxState.PENDING) & (OutboxMessage.attempts > 0)))
            .order_by(OutboxMessage.county_code, OutboxMessage.entry_seq)))
        for row in rows:
            click.echo(f"{row.message_id}  {row.application_number}  {row.state.value}  "
                       f"{row.attempts} attempts  {(row.answer or '').strip()[:300]}")
    click.echo(f"{len(rows)} messages", err=True)


@exchange_group.command("retry")
@click.argument("message_ids", nargs=-1, required=True)
def exchange_retry(message_ids: tuple[str, ...]) -> None:
    """Queue refused messages again (after the cause was fixed)."""
    from registry.runtime import utc_now
    from registry.services.exchange.sender import retry_refused

    with _session() as session:
        count = retry_refused(session, list(message_ids), utc_now())
    click.echo(f"{count} messages queued again")


@exchange_group.command("reconcile")
@click.option("--county", default=None, help="One county's code (default: the city).")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Recordings up to this day (default: all).")
def exchange_reconcile(county: str | None, as_of: Any) -> None:
    """List every recording not acknowledged, sent twice or changed after sending
    (EXCHANGE-10); exit 1 if there is any."""
    from registry.services.exchange.reconcile import reconcile

    with _sessions() as sessions, sessions() as session:
        found = reconcile(session, county, as_of.date() if as_of else None)
    for d in found:
        click.echo(f"{d.kind:17} {d.county}  {d.number}  {d.detail}")
    click.echo(f"{len(found)} differences")
    if found:
        raise SystemExit(1)


@exchange_group.command("export")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="The register as it stood at the end of this day.")
@click.option("--format", "fmt", type=click.Choice(["xml", "csv", "gpkg"]), default="xml",
              show_default=True)
@click.option("--county", default=None, help="One county's code (default: the city).")
@click.option("--output", type=click.Path(path_type=Path), required=True,
              help="A file (xml, gpkg) or a directory of one CSV per table (csv).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def exchange_export(as_of: Any, fmt: str, county: str | None, output: Path,
                    quiet: bool) -> None:
    """The full exchange tables (spatial ones with geometry in CGCS2000), streamed."""
    from tqdm import tqdm

    from registry.services.exchange.export import export

    bar = tqdm(desc="rows", unit=" rows", file=sys.stderr, dynamic_ncols=True, disable=quiet)
    with _sessions() as sessions:
        try:
            counts = export(sessions, output, fmt, as_of.date(), county,
                            progress=bar.update)
        finally:
            bar.close()
    for table, count in counts.items():
        click.echo(f"{table:16} {count}")
    click.echo(f"{sum(counts.values())} rows written to {output}")


@cli.command("export-schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("graphql/schema.graphql"), show_default=True)
def export_schema(output: Path) -> None:
    """Write the GraphQL schema (SDL) as the code defines it."""
    from registry.api.schema import schema_sdl

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(schema_sdl(), encoding="utf-8")
    click.echo(f"wrote {output}")


if __name__ == "__main__":
    main()
