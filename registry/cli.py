"""The `registry` command.

    registry serve           serve GraphQL (private PostgreSQL and S3 unless configured)
    registry migrate         migrate the database to the newest schema
    registry check           database, PostGIS, schema and bucket reachable and writable?
    registry export-schema   write graphql/schema.graphql from the code
    registry user add|token|list   users and their bearer tokens
    registry verify          check every hash chain of the register
    registry lapse           write down restrictions whose time has run out
    registry storage check [--repair]   do the bucket and the document rows agree?
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click
from sqlalchemy.orm import Session

from registry.config import get_settings
from registry.db.access import Role
from registry.devstack import DevStackError
from registry.servers import export_to_environment, resolved_settings

log = logging.getLogger("registry.cli")


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` blocks stop what we started."""

    def handler(signum: int, frame: object) -> NoReturn:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def _fail(message: str) -> NoReturn:
    click.secho(message, fg="red", err=True)
    raise SystemExit(1)


@click.group()
@click.version_option(package_name="registry")
def cli() -> None:
    """Unified registration of property rights (不动产统一登记): a GraphQL register."""


def main() -> None:
    """Console-script entry point."""
    _exit_on_sigterm()
    try:
        cli()
    except DevStackError as exc:
        _fail(f"Could not start the private PostgreSQL/S3 stack: {exc}\n"
              "Alternatively run the containers described in docker/compose.yaml.")


@cli.command()
@click.option("--host", default=None, help="Interface to bind [HOST, default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [PORT, default 8000].")
@click.option("--workers", type=int, default=1, show_default=True,
              help="uvicorn worker processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
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
    with resolved_settings(settings) as resolved:
        assert resolved.database_url is not None
        upgrade(resolved.database_url.get_secret_value())
        runtime = Runtime.from_settings(resolved)
        try:
            runtime.store.ensure_bucket()
        finally:
            runtime.close()
        export_to_environment(resolved)
        get_settings.cache_clear()
        if not (settings.database_url and settings.s3_endpoint):
            click.echo(f"Private PostgreSQL/S3 data under {Path(settings.var_dir).resolve()}")
        click.echo(f"GraphQL at http://{host}:{port}/graphql  (Ctrl-C stops everything)")
        sys.stdout.flush()
        uvicorn.run("registry.app:create_app", factory=True, host=host, port=port,
                    workers=workers, log_config=None, access_log=False,
                    proxy_headers=True, server_header=False)


@cli.command()
def migrate() -> None:
    """Migrate the database to the newest schema (reference data included); idempotent."""
    from registry.migrations import upgrade

    with resolved_settings(get_settings()) as resolved:
        assert resolved.database_url is not None
        upgrade(resolved.database_url.get_secret_value())
        click.echo("database migrated to head")


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
def verify() -> None:
    """Walk every hash chain (the register of each county); report the first broken link."""
    from registry.services.register import verify_register

    broken = False
    with _session() as session:
        for county, count, found in verify_register(session):
            if found is None:
                click.echo(f"register {county}: {count} entries, chain intact")
            else:
                broken = True
                click.secho(f"register {county}: BROKEN at entry {found.position}: "
                            f"{found.reason}", fg="red")
    if broken:
        raise SystemExit(1)


@cli.command()
def lapse() -> None:
    """Terminate objections, advance notices and seizures whose time has run out."""
    from registry.runtime import utc_now
    from registry.services.recording import record_lapses

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
def storage_check(repair: bool, grace: int | None) -> None:
    """List orphan, missing and corrupted (hash mismatch) objects; exit 1 on missing or
    corrupted ones. Every referenced object is read back and hashed."""
    from datetime import timedelta

    from registry.runtime import Runtime, utc_now
    from registry.services.documents import DocumentConfig
    from registry.services.storage_check import check_storage
    from storage import StorageUnavailable

    with resolved_settings(get_settings()) as resolved:
        runtime = Runtime.from_settings(resolved)
        seconds = grace if grace is not None else resolved.storage_orphan_grace_seconds
        try:
            report = check_storage(runtime.sessions, runtime.store,
                                   DocumentConfig.from_settings(resolved), utc_now(),
                                   repair=repair, grace=timedelta(seconds=seconds))
        except StorageUnavailable as exc:
            _fail(f"storage: {exc}")
        finally:
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
    from registry.services.access import create_user

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
    from registry.db.errors import translate_database_errors
    from registry.db.session import make_engine, make_session_factory, transaction
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
