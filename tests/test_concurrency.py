"""Many registrars at once: certificate numbers stay consecutive and distinct, and a unit is
registered once however many cases race for it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from registry.codes import IdType, parse_certificate_number
from registry.db.applications import ApplicationKind
from registry.db.parties import PartyKind
from registry.db.session import make_engine, make_session_factory, transaction
from registry.runtime import Runtime
from registry.services.errors import DomainError
from registry.services.parties import PartyInput
from registry.services.registration.applications import (
    ApplicationInput,
    HolderInput,
    submit,
    take_step,
)
from registry.services.registration.recording import record
from tests.bureau import Bureau, person, resident_id
from tests.conftest import GraphQLClient, Users, principal


@pytest.fixture
def wide_runtime(runtime: Runtime) -> Iterator[Runtime]:
    """The same database with enough connections for 16 threads."""
    assert runtime.settings.database_url is not None
    engine = make_engine(runtime.settings.database_url.get_secret_value(), pool_size=20)
    yield replace(runtime, engine=engine, sessions=make_session_factory(engine))
    engine.dispose()


def all_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in `count` threads released together; exceptions are results."""
    barrier = threading.Barrier(count)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except DomainError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_sixteen_concurrent_recordings_get_sixteen_consecutive_numbers(
        gql: GraphQLClient, users: Users, wide_runtime: Runtime) -> None:
    pingchang = Bureau(gql, users, "511923")
    numbers = []
    for _ in range(16):
        code = pingchang.rural_house()["code"]
        case = pingchang.submit("FIRST", [code], holders=[{"party": person("王大山")}])
        pingchang.accept(case["number"])
        pingchang.review(case["number"])
        numbers.append(case["number"])
    registrar = principal(wide_runtime, "511923-registrar")
    now = wide_runtime.clock()

    def record_one(i: int) -> str:
        with transaction(wide_runtime.sessions) as session:
            record(session, registrar, numbers[i], now)
        return numbers[i]

    results = all_at_once(16, record_one)
    assert results == numbers  # every recording succeeded
    with wide_runtime.sessions() as session:
        issued = session.execute(text(
            "SELECT number FROM certificates ORDER BY serial")).scalars().all()
    serials = [parse_certificate_number(n).serial for n in issued]
    assert len(set(issued)) == 16
    assert serials == list(range(serials[0], serials[0] + 16))


def test_two_concurrent_first_registrations_of_one_unit_only_one_succeeds(
        gql: GraphQLClient, users: Users, wide_runtime: Runtime) -> None:
    tongjiang = Bureau(gql, users, "511921")
    code = tongjiang.rural_house()["code"]
    clerk = principal(wide_runtime, "511921-clerk")
    now = wide_runtime.clock()

    def apply(i: int) -> str:
        data = ApplicationInput(kind=ApplicationKind.FIRST, unit_codes=[code], holders=[
            HolderInput(PartyInput(PartyKind.PERSON, f"申请人{i}", IdType.RESIDENT_ID,
                                   resident_id("511921", "19800101", 100 + i)))])
        with transaction(wide_runtime.sessions) as session:
            return submit(session, clerk, data, now).number

    outcomes = all_at_once(2, apply)
    succeeded = [o for o in outcomes if isinstance(o, str)]
    failed = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(succeeded) == 1 and [e.code for e in failed] == ["UNIT_HAS_OPEN_CASE"]


def test_racing_recordings_of_one_unit_only_one_succeeds(
        gql: GraphQLClient, users: Users, wide_runtime: Runtime) -> None:
    """Even with two reviewed cases for one unit (the open-case rule bypassed), the register
    records one title: the unit lock and RIGHT-1 decide."""
    nanjiang = Bureau(gql, users, "511922")
    code = nanjiang.rural_house()["code"]
    clerk = principal(wide_runtime, "511922-clerk")
    reviewer = principal(wide_runtime, "511922-reviewer")
    registrar = principal(wide_runtime, "511922-registrar")
    now = wide_runtime.clock()
    numbers = []
    for i in range(2):
        data = ApplicationInput(kind=ApplicationKind.FIRST, unit_codes=[code], holders=[
            HolderInput(PartyInput(PartyKind.PERSON, f"申请人{i}", IdType.RESIDENT_ID,
                                   resident_id("511922", "19800101", 200 + i)))])
        with transaction(wide_runtime.sessions) as session:
            number = submit(session, clerk, data, now).number
        nanjiang.attach_required(number)
        with transaction(wide_runtime.sessions) as session:
            take_step(session, clerk, number, "accept", now)
            take_step(session, reviewer, number, "review", now)
        numbers.append(number)
        # Hide the first case from the open-case rule while the second is submitted.
        state = "withdrawn" if i == 0 else "reviewed"
        with wide_runtime.engine.begin() as conn:
            conn.execute(text("UPDATE applications SET state = CAST(:s AS application_state)"
                              " WHERE number = :n"), {"s": state, "n": numbers[0]})

    def record_one(i: int) -> str:
        with transaction(wide_runtime.sessions) as session:
            record(session, registrar, numbers[i], now)
        return numbers[i]

    outcomes = all_at_once(2, record_one)
    assert sum(isinstance(o, str) for o in outcomes) == 1
    assert [o.code for o in outcomes if isinstance(o, DomainError)] == ["ALREADY_REGISTERED"]


def test_the_database_allows_one_current_title_per_unit(
        gql: GraphQLClient, users: Users, runtime: Runtime) -> None:
    enyang = Bureau(gql, users, "511903")
    code = enyang.rural_house()["code"]
    enyang.register("FIRST", [code], holders=[{"party": person("王大山")}])
    with pytest.raises(DBAPIError) as raised, runtime.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO rights (unit_id, kind, status, co_ownership, begun_at, application_id,"
            " note) SELECT unit_id, 'title', 'current', 'sole', now(), application_id, ''"
            " FROM rights LIMIT 1"))
    assert "uq_rights_one_current_title" in str(raised.value)
