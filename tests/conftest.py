"""Test infrastructure: real PostgreSQL+PostGIS and a real S3 server, started once per session.

- `services`: a private PostgreSQL cluster (as the `postgres` OS user when we are root) and a
  `weed mini` S3 server, both on loopback, in a temporary directory, stopped at the end.
- The template database is built once by `alembic upgrade head` (pytest-postgresql); each test
  gets a clone (`database_url`), so tests run on the real migrated schema and never see each
  other's rows.
- Each test gets its own bucket (`bucket`), emptied and removed afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from pydantic import SecretStr
from pytest_postgresql import factories
from starlette.testclient import TestClient

from registry.config import Settings
from registry.devstack import LOOPBACK, DevStack, free_port
from registry.migrations import upgrade
from registry.runtime import Runtime
from storage import S3Store, S3StoreConfig

if TYPE_CHECKING:
    from registry.devstack import PostgresStandby
    from registry.services.access import Principal
    from tests.bureau import Bureau

PG_PORT = free_port()
PG_USER = "postgres"
PG_PASSWORD = secrets.token_urlsafe(18)  # the test cluster allows passwords only, as make run


def pg_url(dbname: str) -> str:
    return f"postgresql+psycopg://{PG_USER}:{PG_PASSWORD}@{LOOPBACK}:{PG_PORT}/{dbname}"


def load_schema(host: str, port: int, user: str, dbname: str, password: str | None = None,
                **_: Any) -> None:
    """Template loader: the real migrations, exactly as production runs them."""
    upgrade(f"postgresql+psycopg://{user}:{password or PG_PASSWORD}@{host}:{port}/{dbname}")


@pytest.fixture(scope="session")
def services() -> Iterator[DevStack]:
    directory = Path(tempfile.mkdtemp(prefix="registry-test-"))
    os.chmod(directory, 0o755)  # the postgres OS user must reach its data directory
    stack = DevStack(directory, fast_and_unsafe=True, postgres_port=PG_PORT,
                     postgres_password=PG_PASSWORD)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def standby(services: DevStack) -> Iterator[PostgresStandby]:
    """A hot standby of the test cluster (pg_basebackup -R, then streaming replication), as
    the postgres OS user on a port of its own; stopped and removed after the module that uses
    it (so the rest of the session does not pay for replaying its WAL). Each test's database
    reaches it by replication: `standby_url` waits for that."""
    from registry.devstack import PostgresStandby

    assert services.postgres is not None
    services.postgres.allow_replication()
    directory = Path(tempfile.mkdtemp(prefix="registry-standby-"))
    os.chmod(directory, 0o755)  # the postgres OS user must reach its data directory
    server = PostgresStandby(directory / "postgres", password=PG_PASSWORD,
                             fast_and_unsafe=True, primary=services.postgres)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def standby_url(standby: PostgresStandby, dbname: str, timeout: float = 60.0) -> str:
    """The SQLAlchemy URL of `dbname` on the standby, once replication has brought it there."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(host=LOOPBACK, port=standby.port, user=PG_USER,
                             password=PG_PASSWORD, dbname="postgres", autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (dbname,)).fetchone():
                break
        if time.monotonic() > deadline:
            raise AssertionError(f"{dbname} did not reach the standby in {timeout:.0f} s")
        time.sleep(0.05)
    return f"postgresql+psycopg://{PG_USER}:{PG_PASSWORD}@{LOOPBACK}:{standby.port}/{dbname}"


_template_database = factories.postgresql_noproc(
    host=LOOPBACK, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname="registry_test",
    load=[load_schema]
)


@pytest.fixture(scope="session")
def template_database(request: pytest.FixtureRequest) -> Any:
    request.getfixturevalue("services")  # the server must be up before the template is built
    return request.getfixturevalue("_template_database")


postgresql = factories.postgresql("template_database")


@pytest.fixture
def database_url(postgresql: psycopg.Connection) -> str:
    """URL of this test's own database, cloned from the migrated template."""
    return pg_url(postgresql.info.dbname)


@pytest.fixture
def s3_config(services: DevStack) -> Iterator[S3StoreConfig]:
    """A fresh bucket on the test S3 server, removed with its objects afterwards."""
    assert services.s3 is not None and services.s3.credentials is not None
    config = S3StoreConfig(endpoint=services.s3.endpoint,
                           access_key=services.s3.credentials.access_key,
                           secret_key=services.s3.credentials.secret_key,
                           bucket=f"test-{uuid.uuid4().hex[:20]}")
    store = S3Store(config)
    store.ensure_bucket()
    yield config
    for key in list(store.list_keys()):
        store.delete(key)
    store._client.remove_bucket(config.bucket)


@pytest.fixture(scope="session")
def signing_key_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The bureau's signing key for papers: a development pair, made once per session."""
    from registry.papers.signing import generate_development_key

    return generate_development_key(tmp_path_factory.mktemp("signing"))


@pytest.fixture
def settings(database_url: str, s3_config: S3StoreConfig,
             signing_key_files: tuple[Path, Path]) -> Settings:
    return Settings(database_url=SecretStr(database_url), s3_endpoint=s3_config.endpoint,
                    s3_access_key=SecretStr(s3_config.access_key),
                    s3_secret_key=SecretStr(s3_config.secret_key), s3_bucket=s3_config.bucket,
                    database_pool_size=4,
                    papers_signing_key=str(signing_key_files[0]),
                    papers_signing_cert=str(signing_key_files[1]),
                    ledger_expiry_sweep_seconds=0,  # tests that want the sweep turn it on
                    # COMPILE-1 on every compiled query of every test: also resolved field
                    # by field, and the two answers compared (registry/app.py).
                    compiled_reads_check=True)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    from registry.app import create_app

    with TestClient(create_app(runtime=runtime)) as test_client:
        yield test_client


class GraphQLClient:
    """Posts GraphQL operations the way a front end does."""

    def __init__(self, http: TestClient) -> None:
        self.http = http

    def __call__(self, query: str, variables: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self.http.post("/graphql", json={"query": query, "variables": variables or {}},
                                  headers=headers or {})
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        """The `data` of a query that must succeed."""
        body = self(query, variables, headers)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def error_codes(self, query: str, variables: dict[str, Any] | None = None,
                    headers: dict[str, str] | None = None) -> list[str]:
        """The `extensions.code` of every error of a query that must fail."""
        body = self(query, variables, headers)
        assert body.get("errors"), body
        return [e["extensions"]["code"] for e in body["errors"]]

    def upload(self, query: str, variables: dict[str, Any], files: dict[str, tuple[str, Any]],
               headers: dict[str, str] | None = None, csrf: bool = True,
               status: int = 200) -> dict[str, Any]:
        """A GraphQL multipart request (the spec front ends use): `files` maps a variable name
        to (file name, bytes or file object); the CSRF header is sent unless told not to."""
        mapping = {str(i): [f"variables.{name}"] for i, name in enumerate(files)}
        operations = {"query": query, "variables": {**variables, **dict.fromkeys(files)}}
        parts = {str(i): (file_name, content, "application/octet-stream")
                 for i, (file_name, content) in enumerate(files.values())}
        sent = {**(headers or {}), **({"X-Registry-CSRF": "1"} if csrf else {})}
        response = self.http.post("/graphql", data={"operations": json.dumps(operations),
                                                    "map": json.dumps(mapping)},
                                  files=parts, headers=sent)
        assert response.status_code == status, response.text
        return response.json()


@pytest.fixture
def gql(client: TestClient) -> GraphQLClient:
    return GraphQLClient(client)


class Users:
    """Creates users in the test database and returns the headers their front end would send."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def add(self, username: str, *roles: str, county: str | None = None) -> dict[str, str]:
        from registry.db.session import transaction
        from registry.services.access import create_user

        with transaction(self.runtime.sessions) as session:
            _, token = create_user(session, username, roles, county)
        return {"Authorization": f"Bearer {token}"}


def principal(runtime: Runtime, username: str) -> Principal:
    """An existing user as a service sees the caller of a request."""
    from sqlalchemy import select

    from registry.db.access import User
    from registry.services.access import principal_of_user

    with runtime.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        assert user_id is not None, username
        found = principal_of_user(session, user_id)
    assert found is not None
    return found


@pytest.fixture
def users(runtime: Runtime) -> Users:
    return Users(runtime)


@pytest.fixture
def pingchang(gql: GraphQLClient, users: Users) -> Bureau:
    """平昌县's registration office: a clerk, a reviewer and a registrar (tests/bureau.py)."""
    from tests.bureau import Bureau  # it builds on this module

    return Bureau(gql, users, "511923")


@pytest.fixture
def number(pingchang: Bureau) -> str:
    """A first-registration case of a rural house, submitted and open for documents."""
    from tests.bureau import person

    code = pingchang.rural_house()["code"]
    return str(pingchang.submit("FIRST", [code], holders=[{"party": person("王大山")}])["number"])


@contextmanager
def serving(runtime: Runtime, var_dir: Path,
            started: list[subprocess.Popen[str]] | None = None) -> Iterator[str]:
    """`registry serve` (a subprocess, as `make run` starts it) on this test's database and
    bucket, with VAR_DIR for whatever it keeps; yields its base URL. The process is appended
    to `started`, when given (to read its memory, say)."""
    from tests.test_serve import REGISTRY, stop, wait_until_serving

    settings = runtime.settings
    assert settings.database_url is not None
    port = free_port()
    env = {**os.environ, "VAR_DIR": str(var_dir), "PORT": str(port),
           "DATABASE_URL": settings.database_url.get_secret_value(),
           "S3_ENDPOINT": settings.s3_endpoint, "S3_BUCKET": settings.s3_bucket,
           "S3_ACCESS_KEY": settings.s3_access_key.get_secret_value(),
           "S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
           "PAPERS_SIGNING_KEY": settings.papers_signing_key or "",
           "PAPERS_SIGNING_CERT": settings.papers_signing_cert or ""}
    process = subprocess.Popen([REGISTRY, "serve"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    if started is not None:
        started.append(process)
    try:
        wait_until_serving(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture
def served_url(runtime: Runtime) -> Iterator[str]:
    """`registry serve` on this test's database and bucket; yields the /graphql URL."""
    var_dir = Path(tempfile.mkdtemp(prefix="registry-served-")) / "var"
    try:
        with serving(runtime, var_dir) as base:
            yield f"{base}/graphql"
    finally:
        shutil.rmtree(var_dir.parent, ignore_errors=True)
