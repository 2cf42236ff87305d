"""Bearer tokens, roles and county scope; tokens shown once and stored hashed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select, text, update

from registry.config import Settings
from registry.db.access import ApiToken
from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.access import TokenCache, issue_token
from tests.conftest import GraphQLClient, Users
from tests.snapshot import snapshot
from tests.test_cli import run_registry, server_env

ME = "{ me { username roles countyCode } }"


def test_a_token_identifies_its_user(gql: GraphQLClient, users: Users) -> None:
    headers = users.add("tj-clerk", "clerk", "reviewer", county="511921")
    assert gql.data(ME, headers=headers)["me"] == {
        "username": "tj-clerk", "roles": ["CLERK", "REVIEWER"], "countyCode": "511921"}


def test_without_a_token_or_with_a_wrong_one_the_caller_is_unauthenticated(
        gql: GraphQLClient, users: Users) -> None:
    users.add("someone", "clerk")
    assert gql.error_codes(ME) == ["UNAUTHENTICATED"]
    assert gql.error_codes(ME, headers={"Authorization": "Bearer rg_made-up"}) == [
        "UNAUTHENTICATED"]
    assert gql.error_codes(ME, headers={"Authorization": "Basic dXNlcjpwdw=="}) == [
        "UNAUTHENTICATED"]


def refused_within(gql: GraphQLClient, headers: dict[str, str], seconds: float = 10) -> bool:
    """The token is refused within `seconds`: well inside the token cache's 30 s lifetime, so
    only the change's notification (ACCESS-5) can have made it so."""
    deadline = time.monotonic() + seconds
    while gql.error_codes(ME, headers=headers) != ["UNAUTHENTICATED"]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_token_revoked_by_any_means_stops_working_at_once(
        gql: GraphQLClient, users: Users, runtime: Runtime) -> None:
    headers = users.add("leaver", "clerk")
    assert gql.data(ME, headers=headers)["me"]["username"] == "leaver"  # now cached
    with transaction(runtime.sessions) as session:  # an admin's SQL, not our code
        session.execute(update(ApiToken).values(revoked_at=text("now()")))
    assert refused_within(gql, headers)


def test_cli_revoke_and_disable_take_effect_in_the_running_service(
        settings: Settings, gql: GraphQLClient, users: Users, runtime: Runtime) -> None:
    env = server_env(settings)
    leaked = users.add("pc-clerk", "clerk", county="511923")
    spare = issue_spare_token(runtime, "pc-clerk")
    assert gql.data(ME, headers=leaked)["me"]["username"] == "pc-clerk"
    revoked = run_registry("user", "revoke", "pc-clerk", "--label", "initial", env=env)
    assert revoked.returncode == 0 and "1 token(s) of pc-clerk revoked" in revoked.stdout
    assert refused_within(gql, leaked)
    assert gql.data(ME, headers=spare)["me"]["username"] == "pc-clerk"  # labelled: kept

    assert run_registry("user", "disable", "pc-clerk", env=env).returncode == 0
    assert refused_within(gql, spare)
    assert run_registry("user", "enable", "pc-clerk", env=env).returncode == 0
    assert gql.data(ME, headers=spare)["me"]["username"] == "pc-clerk"
    with runtime.sessions() as session:
        trail = session.execute(text(
            "SELECT username, operation FROM audit_log WHERE target = 'user:pc-clerk' "
            "ORDER BY id")).all()
    assert [tuple(row) for row in trail] == [("registry-cli", "revokeTokens"),
                                             ("registry-cli", "disableUser"),
                                             ("registry-cli", "enableUser")]


def test_cli_access_changes_to_an_unknown_user_fail_and_change_nothing(
        settings: Settings, runtime: Runtime) -> None:
    before = snapshot(runtime)
    for command in (["disable", "nobody"], ["enable", "nobody"], ["revoke", "nobody"]):
        result = run_registry("user", *command, env=server_env(settings))
        assert result.returncode == 1 and "NOT_FOUND" in result.stderr, result
    assert snapshot(runtime) == before


def test_a_lookup_that_began_before_a_clear_is_not_kept() -> None:
    cache = TokenCache()
    began = cache.generation  # a lookup reads the database …
    cache.clear()  # … while a revocation is announced …
    cache.put("digest", None, began)  # … and must not bring back what it read
    assert cache.get("digest") == (False, None)
    cache.put("digest", None, cache.generation)
    assert cache.get("digest") == (True, None)


def issue_spare_token(runtime: Runtime, username: str) -> dict[str, str]:
    from registry.db.access import User

    with transaction(runtime.sessions) as session:
        user_id = session.scalars(select(User.id).where(User.username == username)).one()
        return {"Authorization": f"Bearer {issue_token(session, user_id, 'spare')}"}


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
    assert me == {"username": "nj-registrar", "roles": ["REGISTRAR"], "countyCode": "511922"}

    refused = subprocess.run([registry, "user", "add", "x", "--role", "clerk", "--county",
                              "110105"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "UNKNOWN_COUNTY" in refused.stderr
