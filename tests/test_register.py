"""The register (登记簿) is append-only and hash-chained per county; tampering is found."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from registry.config import Settings
from registry.db.applications import ApplicationKind
from registry.db.natural_resources import NaturalCaseKind
from registry.db.register import EntryType
from registry.runtime import Runtime
from tests.bureau import Bureau, person
from tests.conftest import GraphQLClient, Users
from tests.test_cli import run_registry, server_env


@pytest.fixture
def two_counties(gql: GraphQLClient, users: Users) -> tuple[Bureau, Bureau]:
    pingchang, tongjiang = Bureau(gql, users, "511923"), Bureau(gql, users, "511921")
    for bureau in (pingchang, tongjiang):
        for _ in range(2):
            code = bureau.rural_house()["code"]
            bureau.register("FIRST", [code], holders=[{"party": person("王大山")}])
    return pingchang, tongjiang


def test_every_kind_of_case_has_its_entry_type() -> None:
    """RegisterEntryType names each kind of case recorded, plus what the register writes by
    itself: lapses, and a waiting seizure taking effect (SEIZURE-2); and each kind of
    natural-resource case (NRCASE-7)."""
    natural = {EntryType(f"nr_{kind.value}") for kind in NaturalCaseKind}
    assert len(natural) == len(NaturalCaseKind)
    assert {EntryType.of(kind) for kind in ApplicationKind} == set(EntryType) - {
        EntryType.LAPSE, EntryType.SEIZURE_EFFECTIVE} - natural


@pytest.mark.parametrize("statement", [
    "UPDATE register_entries SET entry_type = 'x'",
    "DELETE FROM register_entries",
    "TRUNCATE register_entries CASCADE",
    "UPDATE application_transitions SET reason = 'rewritten'",
    "DELETE FROM audit_log",
    "DELETE FROM rights",
    "DELETE FROM units",
    "UPDATE rights SET certificate_number = NULL",
])
def test_the_database_refuses_to_rewrite_history(two_counties: object, runtime: Runtime,
                                                 statement: str) -> None:
    with pytest.raises(DBAPIError) as raised, runtime.engine.begin() as conn:
        conn.execute(text(statement))
    assert "APPEND_ONLY" in str(raised.value)


def test_each_county_has_its_own_unbroken_chain(two_counties: object, settings: Settings) -> None:
    result = run_registry("verify", env=server_env(settings))
    assert result.returncode == 0, result.stderr
    assert "register 511921: 2 entries, chain intact" in result.stdout
    assert "register 511923: 2 entries, chain intact" in result.stdout


def test_a_tampered_entry_is_found_at_its_place(two_counties: object, runtime: Runtime,
                                               settings: Settings) -> None:
    # Someone with the database superuser's power disables the guard and edits entry 2.
    with runtime.engine.begin() as conn:
        conn.execute(text("ALTER TABLE register_entries DISABLE TRIGGER USER"))
        conn.execute(text(
            "UPDATE register_entries SET payload = jsonb_set(payload, '{body,created,0,holders,0"
            ",name}', '\"李四\"') WHERE county_code = '511923' AND seq = 2"))
        conn.execute(text("ALTER TABLE register_entries ENABLE TRIGGER USER"))
    result = run_registry("verify", env=server_env(settings))
    assert result.returncode == 1
    assert "register 511923: BROKEN at entry 2: content does not match its hash" in result.stdout
    assert "register 511921: 2 entries, chain intact" in result.stdout


def test_a_deleted_entry_is_found(two_counties: object, runtime: Runtime,
                                  settings: Settings) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(text("ALTER TABLE register_entries DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM register_entries WHERE county_code = '511921'"
                          " AND seq = 1"))
        conn.execute(text("ALTER TABLE register_entries ENABLE TRIGGER USER"))
    result = run_registry("verify", env=server_env(settings))
    assert result.returncode == 1
    assert "register 511921: BROKEN at entry 2" in result.stdout


def test_entries_link_to_their_predecessor(two_counties: tuple[Bureau, Bureau]) -> None:
    pingchang, _ = two_counties
    code = pingchang.rural_house()["code"]
    pingchang.register("FIRST", [code], holders=[{"party": person("李明")}])
    [entry] = pingchang.unit(code)["history"]
    assert entry["seq"] == 3 and len(entry["hash"]) == 64 and entry["prevHash"] != "0" * 64
