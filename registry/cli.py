"""The `registry` command.

    registry serve           serve GraphQL (private PostgreSQL and S3 unless configured)
    registry migrate         migrate the database to the newest schema
    registry check           database, PostGIS, schema and bucket reachable and writable?
    registry export-schema   write graphql/schema.graphql from the code
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import NoReturn

import click

from registry.config import get_settings
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
