"""Bearer tokens, roles and county scope; tokens shown once and stored hashed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, text, update

from registry.config import Settings
from registry.db.access import ApiToken
from registry.db.session import transaction
from registry.runtime import Runtime
from tests.conftest import GraphQLClient, Users
from tests.test_cli import server_env

ME = "{ me { username roles countyCode } }"


def test_a_token_identifies_its_user(gql: GraphQLClient, users: Users) -> None:
    headers = users.add("tj-clerk", "clerk", "reviewer", county="511921")
    assert gql.data(ME, headers=headers)["me"] == {
        "username": "tj-clerk", "roles": ["clerk", "reviewer"], "countyCode": "511921"}


def test_without_a_token_or_with_a_wrong_one_the_caller_is_unauthenticated(
        gql: GraphQLClient, users: Users) -> None:
    users.add("someone", "clerk")
    assert gql.error_codes(ME) == ["UNAUTHENTICATED"]
    assert gql.error_codes(ME, headers={"Authorization": "Bearer rg_made-up"}) == [
        "UNAUTHENTICATED"]
    assert gql.error_codes(ME, headers={"Authorization": "Basic dXNlcjpwdw=="}) == [
        "UNAUTHENTICATED"]


def test_a_revoked_token_stops_working(gql: GraphQLClient, users: Users,
                                       runtime: Runtime) -> None:
    headers = users.add("leaver", "clerk")
    assert gql.data(ME, headers=headers)["me"]["username"] == "leaver"
    with transaction(runtime.sessions) as session:
        session.execute(update(ApiToken).values(revoked_at=text("now()")))
    runtime.token_cache.clear()  # otherwise it lapses within the cache's 30 s
    assert gql.error_codes(ME, headers=headers) == ["UNAUTHENTICATED"]


def test_only_the_hash_of_a_token_is_stored(users: Users, runtime: Runtime) -> None:
    token = users.add("hashed", "auditor")["Authorization"].removeprefix("Bearer ")
    with runtime.sessions() as session:
        stored = session.scalars(select(ApiToken.token_sha256)).all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_cli_user_add_prints_a_working_token_and_refuses_unknown_counties(
        settings: Settings, gql: GraphQLClient) -> None:
    registry = str(Path(sys.executable).parent / "registry")
    env = {**os.environ, **server_env(settings)}
    made = subprocess.run([registry, "user", "add", "nj-registrar", "--role", "registrar",
                           "--county", "511922"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("rg_")
    me = gql.data(ME, headers={"Authorization": f"Bearer {token}"})["me"]
    assert me == {"username": "nj-registrar", "roles": ["registrar"], "countyCode": "511922"}

    refused = subprocess.run([registry, "user", "add", "x", "--role", "clerk", "--county",
                              "110105"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "UNKNOWN_COUNTY" in refused.stderr
