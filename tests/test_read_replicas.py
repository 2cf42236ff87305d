"""Read replicas (REPLICA-1..4 in registry/db/replicas.py) against a real streaming standby.

The standby (tests/conftest.py `standby`) is a pg_basebackup of the test cluster, streaming
from it. That a read was answered by the standby is shown by pausing its replay
(pg_wal_replay_pause()): a row written on the primary meanwhile is invisible there only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from starlette.testclient import TestClient

from registry.app import create_app
from registry.config import Settings
from registry.db.replicas import (
    AFTER_HEADER,
    ReadRoute,
    Standbys,
    end_of_records,
    format_lsn,
    parse_lsn,
)
from registry.devstack import LOOPBACK, PostgresStandby
from registry.runtime import Runtime
from tests.bureau import Bureau, person, square
from tests.conftest import PG_PASSWORD, PG_USER, GraphQLClient, Users, standby_url

WAIT_MS = 300
UNIT = "query($code: String!) { unit(code: $code) { code } }"
CASE = "query($number: String!) { application(number: $number) { number state } }"
CREATE_PARCEL = """mutation($input: ParcelInput!) {
  createParcel(input: $input) { parcel { code } }
}"""
TOKEN = re.compile(r"[0-9A-F]{1,8}/[0-9A-F]{1,8}")


@pytest.fixture
def settings(settings: Settings, standby: PostgresStandby, database_url: str) -> Settings:
    """This test's database with the standby's copy of it as DATABASE_READ_URL."""
    dbname = database_url.rsplit("/", 1)[1]
    return settings.model_copy(update={
        "database_read_url": SecretStr(standby_url(standby, dbname)),
        "read_after_wait_ms": WAIT_MS, "replica_retry_seconds": 1.0})


def _standby(standby: PostgresStandby) -> psycopg.Connection[Any]:
    return psycopg.connect(host=LOOPBACK, port=standby.port, user=PG_USER,
                           password=PG_PASSWORD, dbname="postgres", autocommit=True)


@contextmanager
def replay_paused(standby: PostgresStandby) -> Iterator[None]:
    """The standby stops replaying WAL (its data stand still) until the block ends."""
    with _standby(standby) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        while conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() != ("paused",):
            time.sleep(0.01)
        try:
            yield
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")


def replayed(standby: PostgresStandby, token: str, timeout: float = 30.0) -> None:
    """Wait until the standby has replayed `token`."""
    deadline = time.monotonic() + timeout
    with _standby(standby) as conn:
        while not conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                               (token,)).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, f"the standby did not replay {token}"
            time.sleep(0.02)


def post(client: TestClient, query: str, variables: dict[str, Any], headers: dict[str, str],
         after: str | None = None) -> tuple[dict[str, Any], Any]:
    """A GraphQL POST; its JSON body and its headers."""
    sent = {**headers, **({AFTER_HEADER: after} if after is not None else {})}
    response = client.post("/graphql", json={"query": query, "variables": variables},
                           headers=sent)
    assert response.status_code == 200, response.text
    return response.json(), response.headers


def found_unit(client: TestClient, code: str, headers: dict[str, str],
               after: str | None = None) -> bool:
    body, _ = post(client, UNIT, {"code": code}, headers, after)
    if body.get("errors"):
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"], body
        return False
    return body["data"]["unit"] is not None


def new_unit(client: TestClient, bureau: Bureau) -> tuple[str, str]:
    """A parcel and a rural house on it, made through the API; the unit's code and the token
    of the last mutation."""
    parcel = bureau.create_parcel("JC", "0702")["parcel"]["code"]
    body, headers = post(client, """mutation($input: UnitInput!) {
      createUnit(input: $input) { code } }""", {"input": {
        "parcelCode": parcel, "kind": "RURAL_HOUSE", "buildingNo": 1, "unitNo": 1,
        "house": {"floors": 2, "structure": "砖混", "floorArea": "126.50"}}}, bureau.clerk)
    assert "errors" not in body, body
    return body["data"]["createUnit"]["code"], headers[AFTER_HEADER]


def submit(client: TestClient, bureau: Bureau, code: str) -> tuple[str, str]:
    """A first-registration case of unit `code`: its number and the mutation's token."""
    body, headers = post(client, """mutation($input: ApplicationInput!) {
      submitApplication(input: $input) { number } }""", {"input": {
        "kind": "FIRST", "unitCodes": [code], "holders": [{"party": person("王大山")}]}},
        bureau.clerk)
    assert "errors" not in body, body
    return body["data"]["submitApplication"]["number"], headers[AFTER_HEADER]


def test_lsn_tokens_parse_and_point_at_the_end_of_the_last_record() -> None:
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("0/3000148") or 0) == "0/3000148"
    for bad in ("", "0", "0/", "/1", "0/3000148 ", "G/1", "123456789/0", "0/3000148;1"):
        assert parse_lsn(bad) is None, bad
    segment = 16 * 1024 * 1024
    assert end_of_records("0/3000028", 8192, segment) == "0/3000000"  # after a long header
    assert end_of_records("0/2018", 8192, segment) == "0/2000"  # after a short header
    assert end_of_records("0/2030", 8192, segment) == "0/2030"


def test_a_query_is_answered_by_the_standby_and_a_token_reads_the_own_write(
        client: TestClient, pingchang: Bureau, standby: PostgresStandby) -> None:
    # Mutations go to the primary: the standby is read-only, so each of these would fail there.
    before, token = new_unit(client, pingchang)
    assert TOKEN.fullmatch(token)
    replayed(standby, token)
    assert found_unit(client, before, pingchang.clerk)
    with replay_paused(standby):
        code, token = new_unit(client, pingchang)
        # Without the token: the standby's state, which does not have the new unit yet.
        assert not found_unit(client, code, pingchang.clerk)
        assert found_unit(client, before, pingchang.clerk)
        # With it: the read waits for the standby (at most READ_AFTER_WAIT_MS), then the
        # primary answers and the write is there.
        started = time.monotonic()
        assert found_unit(client, code, pingchang.clerk, after=token)
        assert time.monotonic() - started >= WAIT_MS / 1000
    replayed(standby, token)
    with replay_paused(standby):
        later, _ = new_unit(client, pingchang)
        # The standby has replayed the token: it answers at once, with the first write and
        # without the one made after its replay stopped (so it was the standby answering).
        assert found_unit(client, code, pingchang.clerk, after=token)
        assert not found_unit(client, later, pingchang.clerk, after=token)


def test_sync_reads_are_routed_too(client: TestClient, gql: GraphQLClient, pingchang: Bureau,
                                   standby: PostgresStandby) -> None:
    code = pingchang.rural_house()["code"]
    with replay_paused(standby):
        number, token = submit(client, pingchang, code)
        stale, _ = post(client, CASE, {"number": number}, pingchang.clerk)
        assert stale["data"] is None or stale["data"]["application"] is None, stale
        fresh, _ = post(client, CASE, {"number": number}, pingchang.clerk, after=token)
        assert fresh["data"]["application"]["number"] == number, fresh
    replayed(standby, token)
    assert gql.data(CASE, {"number": number}, pingchang.clerk)["application"]["state"]


def test_the_wait_without_the_async_reader(runtime: Runtime, standby: PostgresStandby) -> None:
    """`Standbys.caught_up`, the wait of sync reads where no async reader runs."""
    assert runtime.standbys is not None
    (item,) = runtime.standbys.items
    assert runtime.standbys.caught_up(item, ReadRoute(after=0))
    far = ReadRoute(after=parse_lsn("FFFFFFFF/0"))
    started = time.monotonic()
    assert not runtime.standbys.caught_up(item, far)
    assert WAIT_MS / 1000 <= time.monotonic() - started < 5
    assert far.primary  # the rest of that request reads the primary


def test_a_token_made_while_the_standby_lags_works_at_once(
        client: TestClient, users: Users, standby: PostgresStandby) -> None:
    """Token lookups read the primary: a user created a moment ago is known."""
    with replay_paused(standby):
        headers = users.add("fresh-clerk", "clerk", county="511923")
        body, _ = post(client, "{ me { username } }", {}, headers)
    assert body == {"data": {"me": {"username": "fresh-clerk"}}}, body


def test_a_standby_down_sends_reads_to_the_primary_and_readyz_says_so(
        client: TestClient, gql: GraphQLClient, pingchang: Bureau,
        standby: PostgresStandby) -> None:
    code, _ = new_unit(client, pingchang)
    number, token = submit(client, pingchang, code)
    replayed(standby, token)
    assert gql.data(CASE, {"number": number}, pingchang.clerk)["application"]  # pooled there
    name = f"replica:{LOOPBACK}:{standby.port}"
    ready = client.get("/readyz").json()
    assert re.fullmatch(r"ok \(lag \d+ bytes\)", ready["checks"][name]), ready
    standby.stop()
    try:
        # No error: the primary answered, first a sync read (its pooled standby connection
        # is dead), then the async reader's.
        assert gql.data(CASE, {"number": number}, pingchang.clerk)["application"]
        assert found_unit(client, code, pingchang.clerk)
        assert found_unit(client, code, pingchang.clerk, after=token)
        later, _ = new_unit(client, pingchang)
        assert found_unit(client, later, pingchang.clerk)
        response = client.get("/readyz")
        assert response.status_code == 200, response.text  # the primary alone can serve
        body = response.json()
        assert body["status"] == "ok"
        assert body["checks"]["database"].startswith("ok")
        assert body["checks"][name] == "unavailable", body
        # Once REPLICA_RETRY_SECONDS have passed it is tried again: still refused, at once.
        time.sleep(1.1)
        started = time.monotonic()
        assert found_unit(client, later, pingchang.clerk)
        assert time.monotonic() - started < 0.95  # not STANDBY_CHECKOUT_SECONDS' wait
        assert gql.data(CASE, {"number": number}, pingchang.clerk)["application"]
    finally:
        standby.start()
    # Back: after REPLICA_RETRY_SECONDS it is tried again, and answers.
    time.sleep(1.1)
    assert re.fullmatch(r"ok \(lag \d+ bytes\)", client.get("/readyz").json()["checks"][name])
    replayed(standby, token)
    with replay_paused(standby):
        newest, _ = new_unit(client, pingchang)
        assert not found_unit(client, newest, pingchang.clerk)  # the standby answers again


def test_a_malformed_token_is_refused_and_changes_nothing(
        client: TestClient, pingchang: Bureau, runtime: Runtime) -> None:
    from registry.db.spatial import Parcel

    def parcels() -> int:
        with runtime.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Parcel)) or 0)

    count = parcels()
    data = {"code": pingchang.parcel_code(), "geometry": square("511923", 900), "crs": 4545,
            "landUseCode": "0702", "location": "巴中市某村"}
    for bad in ("yesterday", "0/", "1/2/3", "0/3000148' OR 1=1"):
        for query, variables in ((CREATE_PARCEL, {"input": data}), (UNIT, {"code": "x"})):
            response = client.post("/graphql", json={"query": query, "variables": variables},
                                   headers={**pingchang.clerk, AFTER_HEADER: bad})
            assert response.status_code == 400, response.text
            assert [e["extensions"]["code"] for e in response.json()["errors"]] == [
                "BAD_READ_AFTER_TOKEN"]
            assert AFTER_HEADER not in response.headers
    assert parcels() == count
    # A query's answer carries no token; a mutation's does.
    _, headers = post(client, UNIT, {"code": "x"}, pingchang.clerk)
    assert AFTER_HEADER not in headers
    body, headers = post(client, CREATE_PARCEL, {"input": data}, pingchang.clerk)
    assert "errors" not in body and TOKEN.fullmatch(headers[AFTER_HEADER])
    assert parcels() == count + 1


def test_without_read_urls_nothing_changes(settings: Settings, pingchang: Bureau) -> None:
    plain = Runtime.from_settings(settings.model_copy(update={"database_read_url": None}))
    try:
        assert plain.standbys is None
        with TestClient(create_app(runtime=plain)) as http:
            body, headers = post(http, CREATE_PARCEL, {"input": {
                "code": pingchang.parcel_code(), "geometry": square("511923", 901),
                "crs": 4545, "landUseCode": "0702", "location": "巴中市某村"}},
                pingchang.clerk, after="not a token")  # ignored, as before
            assert "errors" not in body, body
            assert AFTER_HEADER not in headers
            ready = http.get("/readyz").json()
            assert not [name for name in ready["checks"] if name.startswith("replica")]
    finally:
        plain.close()


def test_standbys_take_turns_and_one_that_failed_is_skipped() -> None:
    standbys = Standbys.from_urls(["postgresql+psycopg://u:p@a:5432/r",
                                   "postgresql+psycopg://u:p@b/r",
                                   "postgresql+psycopg://u:p@a:5432/other"],
                                  pool_size=1, wait_ms=100, retry_seconds=60)
    try:
        first, second, third = standbys.items
        assert [first.name, second.name] == ["a:5432", "b:5432"]
        assert third.name.startswith("a:5432/other")
        assert {standbys.choose().name for _ in range(6)} == {  # type: ignore[union-attr]
            first.name, second.name, third.name}
        standbys.mark_down(second, "refused")
        assert second.reason == "refused" and not second.is_up()
        assert second not in {standbys.choose() for _ in range(6)}
        standbys.mark_down(first, "refused")
        standbys.mark_down(third, "refused")
        assert standbys.choose() is None  # the primary answers
        standbys.mark_up(first)
        assert standbys.choose() is first
    finally:
        standbys.close()


def test_settings_split_and_check_the_read_urls() -> None:
    one = "postgresql+psycopg://u:p@a:5432/registry"
    two = "postgresql+psycopg://u:p@b:5433/registry"
    assert Settings(database_read_url=SecretStr(f" {one} ,{two},")).database_read_urls == [
        one, two]
    assert Settings(database_read_url=SecretStr("")).database_read_urls == []
    assert Settings().database_read_urls == []
    with pytest.raises(ValueError, match="DATABASE_READ_URL") as refused:
        Settings(database_read_url=SecretStr("not a url with secret-pw"))
    assert "secret-pw" not in str(refused.value)
