"""Which database and S3 server a command talks to: the configured ones, or the private stack.

With DATABASE_URL (and S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY) set, those servers are used and
nothing is started. Whatever is not configured is started privately under VAR_DIR (./var):
PostgreSQL+PostGIS and/or `weed mini`, with keys generated once and kept there. A stack that is
already running under VAR_DIR (another `registry` command, e.g. `make run`) is attached to
rather than started twice.

- STACK-1 The private stack is started (or attached to) only in a source checkout — the working
  directory holds pyproject.toml, alembic.ini and registry/ — or under a VAR_DIR set
  explicitly. Anywhere else a command that needs it refuses before creating anything, with one
  line naming the way out (`NoPrivateStackHere`, exit 2 in registry/cli.py): run it in the
  checkout, or set DATABASE_URL and S3_ENDPOINT/S3_ACCESS_KEY/S3_SECRET_KEY (or VAR_DIR).

The private cluster's addresses and passwords are kept in VAR_DIR (registry/devstack.py):
`private_libpq_url` builds the URL `registry db-url` / `registry psql` print and open, and
`set_private_reader_password` gives the read-only role `registry_reader` (migration 0008) the
password kept there after every migrate. A production database's reader password is set by its
DBA (`registry reader-password`, or `ALTER ROLE registry_reader LOGIN PASSWORD …`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from pydantic import SecretStr

from registry.config import Settings
from registry.devstack import (
    LOOPBACK,
    READER,
    SUPERUSER,
    DevStack,
    DevStackError,
    _write_private,
    load_or_create_passwords,
    stop_process_group,
)

log = logging.getLogger(__name__)

DATABASE_NAME = "registry"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_stack(var_dir: Path) -> dict[str, object] | None:
    """The state of a private stack another live process owns under var_dir, if any."""
    state_file = var_dir / "stack.json"
    if not state_file.exists():
        return None
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    owner = state.get("owner_pid")
    if isinstance(owner, int) and owner != os.getpid() and _pid_alive(owner):
        return state
    return None


def _reap_leftovers(var_dir: Path) -> None:
    """Stop a `weed` left behind by a run that was killed before it could clean up.

    (A PostgreSQL left running is found and stopped by PostgresServer.start via pg_ctl.)
    """
    state_file = var_dir / "stack.json"
    if not state_file.exists():
        return
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        state = {}
    weed_pid = state.get("weed_pid")
    if isinstance(weed_pid, int) and _pid_alive(weed_pid):
        log.warning("stopping a weed process (pid %s) left running in %s", weed_pid, var_dir)
        stop_process_group(weed_pid)
    state_file.unlink(missing_ok=True)


def _write_state(var_dir: Path, stack: DevStack) -> None:
    state = {
        "owner_pid": os.getpid(),
        "weed_pid": stack.s3.process.pid if stack.s3 and stack.s3.process else None,
        "database_url": stack.postgres.url(DATABASE_NAME) if stack.postgres else None,
        "s3_endpoint": stack.s3.endpoint if stack.s3 else None,
    }
    _write_private(var_dir / "stack.json", state)  # the URL carries the password: 0600


def private_stack_running(var_dir: Path) -> bool:
    """Is a process serving the private stack under var_dir right now?"""
    return _running_stack(var_dir.resolve()) is not None


def private_libpq_url(var_dir: Path, reader: bool = False) -> str:
    """libpq URL of the private `registry` database: its superuser, or `registry_reader`."""
    var_dir = var_dir.resolve()
    try:
        port = json.loads((var_dir / "ports.json").read_text())["postgres"]
    except (OSError, ValueError, KeyError) as exc:
        raise DevStackError(f"no private PostgreSQL under {var_dir} yet: start it once with "
                            "`make run` (or `registry serve`)") from exc
    user = READER if reader else SUPERUSER
    password = load_or_create_passwords(var_dir / "passwords.json")[user]
    return f"postgresql://{user}:{quote(password, safe='')}@{LOOPBACK}:{port}/{DATABASE_NAME}"


def libpq_url(sqlalchemy_url: str) -> str:
    """The same address without SQLAlchemy's driver suffix (postgresql+psycopg → postgresql)."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    return scheme.split("+")[0] + sep + rest


def set_reader_password(url: str, password: str) -> None:
    """Let `registry_reader` log in with `password` (the role itself comes from migration 0008)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(READER), sql.Literal(password)))


def set_private_reader_password(configured: Settings, resolved: Settings) -> None:
    """After a migrate on the private cluster: the reader's password is the one kept in var."""
    if configured.database_url is not None or resolved.database_url is None:
        return  # production: the DBA sets it (registry reader-password)
    var_dir = Path(configured.var_dir).resolve()
    password = load_or_create_passwords(var_dir / "passwords.json")[READER]
    set_reader_password(resolved.database_url.get_secret_value(), password)


def _with_private(settings: Settings, database_url: str | None,
                  s3_endpoint: str | None, var_dir: Path) -> Settings:
    update: dict[str, object] = {}
    if database_url is not None:
        update["database_url"] = SecretStr(database_url)
    if s3_endpoint is not None:
        creds = json.loads((var_dir / "s3" / "credentials.json").read_text())
        update.update(s3_endpoint=s3_endpoint, s3_access_key=SecretStr(creds["access_key"]),
                      s3_secret_key=SecretStr(creds["secret_key"]))
    if settings.papers_signing_key is None:  # development: a generated pair, kept in var
        from registry.papers.signing import generate_development_key

        key, cert = generate_development_key(var_dir)
        update.update(papers_signing_key=str(key), papers_signing_cert=str(cert))
    return settings.model_copy(update=update)


def export_to_environment(settings: Settings) -> None:
    """Put the resolved servers into os.environ, for worker processes started after this."""
    if settings.database_url is not None:
        os.environ["DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.s3_endpoint is not None:
        os.environ["S3_ENDPOINT"] = settings.s3_endpoint
    if settings.s3_access_key is not None:
        os.environ["S3_ACCESS_KEY"] = settings.s3_access_key.get_secret_value()
    if settings.s3_secret_key is not None:
        os.environ["S3_SECRET_KEY"] = settings.s3_secret_key.get_secret_value()
    os.environ["S3_BUCKET"] = settings.s3_bucket
    if settings.papers_signing_key and settings.papers_signing_cert:
        os.environ["PAPERS_SIGNING_KEY"] = settings.papers_signing_key
        os.environ["PAPERS_SIGNING_CERT"] = settings.papers_signing_cert


class NoPrivateStackHere(Exception):
    """STACK-1: the private stack is wanted where it has no business (the message says what to
    do instead)."""


def is_checkout(directory: Path) -> bool:
    """Whether `directory` is this project's source checkout (STACK-1)."""
    return all((directory / name).exists()
               for name in ("pyproject.toml", "alembic.ini", "registry"))


def _refuse_outside_checkout(settings: Settings, missing: list[str]) -> None:
    """STACK-1, checked before anything is created."""
    if "var_dir" in settings.model_fields_set or is_checkout(Path.cwd()):
        return
    raise NoPrivateStackHere(
        f"{Path.cwd()} is not a registry checkout, and without {'/'.join(missing)} this would "
        "start a private PostgreSQL/S3 stack in ./var here: run it in the checkout, or set "
        "DATABASE_URL and S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY for your servers.")


@contextmanager
def resolved_settings(settings: Settings) -> Iterator[Settings]:
    """Settings whose database and S3 are reachable for the duration of the block."""
    need_db = settings.database_url is None
    need_s3 = settings.s3_endpoint is None
    if not (need_db or need_s3):
        yield settings
        return
    _refuse_outside_checkout(settings, (["DATABASE_URL"] if need_db else [])
                             + (["S3_ENDPOINT"] if need_s3 else []))
    var_dir = Path(settings.var_dir).resolve()
    running = _running_stack(var_dir)
    if running is not None:
        log.info("attaching to the private stack of process %s", running["owner_pid"])
        yield _with_private(settings,
                            str(running["database_url"]) if need_db else None,
                            str(running["s3_endpoint"]) if need_s3 else None, var_dir)
        return
    _reap_leftovers(var_dir)
    stack = DevStack(var_dir, with_postgres=need_db, with_s3=need_s3)
    stack.start()
    try:
        if stack.postgres is not None:
            stack.postgres.ensure_database(DATABASE_NAME)
        _write_state(var_dir, stack)
        yield _with_private(settings,
                            stack.postgres.url(DATABASE_NAME) if stack.postgres else None,
                            stack.s3.endpoint if stack.s3 else None, var_dir)
    finally:
        (var_dir / "stack.json").unlink(missing_ok=True)
        stack.stop()
