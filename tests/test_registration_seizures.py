"""Court-commissioned seizures (SEIZURE-1..4): a house seized by one court, then by two more
who wait in line (轮候查封); the first is released and the next takes effect by itself with
its term counted from then; a renewal (续封); a waiting seizure released; a lapse and a release
racing promote exactly one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from registry.config import Settings
from registry.db.session import transaction
from registry.runtime import Runtime
from registry.services.access import authenticate
from registry.services.errors import DomainError
from registry.services.registration.recording import record, record_lapses
from tests.bureau import Bureau, person
from tests.clock import Clock
from tests.operations import operation
from tests.snapshot import snapshot
from tests.test_registration_encumbrances import titled
from tests.test_verify import verify


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    runtime.clock = clock = Clock(datetime(2026, 3, 2, 1, 30, tzinfo=UTC))
    return clock


def seize(bureau: Bureau, code: str, court: str, **extra: Any) -> dict[str, Any]:
    return bureau.register("SEIZURE", [code], authority=court,
                           documentNo=f"({court})执{len(court)}号", **extra)


def seizures_of(bureau: Bureau, code: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    unit = bureau.gql.data("""query($code: String!) { unit(code: $code) {
        restrictions { id kind authority termStart termEnd seizureType lapsesAt }
        waitingSeizures { id authority seizureType status } } }""", {"code": code},
                           bureau.clerk)["unit"]
    return ([r for r in unit["restrictions"] if r["kind"] == "SEIZURE"],
            unit["waitingSeizures"])


def test_waiting_seizures_take_effect_in_order(pingchang: Bureau, runtime: Runtime,
                                               clock: Clock, settings: Settings) -> None:
    code = titled(pingchang)
    seize(pingchang, code, "平昌县人民法院", termStart="2026-03-02", termEnd="2029-03-01")
    clock.advance(days=1)
    seize(pingchang, code, "巴中市中级人民法院", termStart="2026-03-03", termEnd="2027-03-02")
    clock.advance(days=1)
    seize(pingchang, code, "通江县人民法院", waitingSeizure=True)
    (effective,), waiting = seizures_of(pingchang, code)
    assert (effective["authority"], effective["seizureType"]) == ("平昌县人民法院", 1)
    assert [(w["authority"], w["seizureType"], w["status"]) for w in waiting] == [
        ("巴中市中级人民法院", 2, "PROVISIONAL"), ("通江县人民法院", 2, "PROVISIONAL")]

    # The first court releases: the next in line takes effect now, for its one-year term.
    clock.advance(days=10)  # 2026-03-14
    pingchang.register("SEIZURE_RELEASE", [code], targetRightId=effective["id"],
                       authority="平昌县人民法院", documentNo="(2026)解1号")
    (now_effective,), still_waiting = seizures_of(pingchang, code)
    assert now_effective["authority"] == "巴中市中级人民法院"
    assert (now_effective["termStart"], now_effective["termEnd"]) == ("2026-03-14",
                                                                      "2027-03-13")
    assert [w["authority"] for w in still_waiting] == ["通江县人民法院"]
    history = [e["entryType"] for e in pingchang.unit(code)["history"]]
    assert history[-2:] == ["SEIZURE_RELEASE", "SEIZURE_EFFECTIVE"]

    # 续封 before it runs out: a new term, the queue stays.
    clock.advance(days=300)
    renewal = pingchang.register("SEIZURE_RENEWAL", [code], targetRightId=now_effective["id"],
                                 authority="巴中市中级人民法院", documentNo="(2027)续1号",
                                 termEnd="2028-03-13")
    (renewed,), queue = seizures_of(pingchang, code)
    assert (renewed["seizureType"], renewed["termEnd"]) == (5, "2028-03-13")
    assert [w["authority"] for w in queue] == ["通江县人民法院"]
    assert renewal["number"]

    # It lapses at its new term; the last waiting seizure takes effect, for three years.
    clock.advance(days=440)  # 2028-03-23
    with transaction(runtime.sessions) as session:
        assert record_lapses(session, clock()) == 1
    (last,), empty = seizures_of(pingchang, code)
    assert last["authority"] == "通江县人民法院" and empty == []
    assert last["termStart"] == "2028-03-23" and last["termEnd"] == "2031-03-23"
    status, out = verify(settings)
    assert status == 0, out


def test_a_waiting_seizure_can_be_released_before_it_takes_effect(
        pingchang: Bureau, clock: Clock) -> None:
    code = titled(pingchang)
    seize(pingchang, code, "平昌县人民法院")
    seize(pingchang, code, "巴州区人民法院")
    _, (waiting,) = seizures_of(pingchang, code)
    pingchang.register("SEIZURE_RELEASE", [code], targetRightId=waiting["id"],
                       authority="巴州区人民法院", documentNo="(2026)解2号")
    (effective,), queue = seizures_of(pingchang, code)
    assert effective["authority"] == "平昌县人民法院" and queue == []


def test_seizure_refusals_change_nothing(pingchang: Bureau, runtime: Runtime,
                                         clock: Clock) -> None:
    code = titled(pingchang)

    def refused(kind: str, **extra: Any) -> list[str]:
        before = snapshot(runtime)
        codes = pingchang.gql.error_codes(operation("SubmitApplication"), {"input": {
            "kind": kind, "unitCodes": [code], **extra}}, pingchang.clerk)
        assert snapshot(runtime) == before
        return codes

    court = {"authority": "平昌县人民法院", "documentNo": "(2026)执1号"}
    assert refused("SEIZURE", waitingSeizure=True, **court) == ["NO_EFFECTIVE_SEIZURE"]
    seize(pingchang, code, "平昌县人民法院", termEnd="2027-01-01")
    (effective,), _ = seizures_of(pingchang, code)
    assert refused("SEIZURE_RENEWAL", targetRightId=effective["id"], termEnd="2026-12-31",
                   **court) == ["INVALID_TERM"]
    assert refused("SEIZURE_RENEWAL", targetRightId=effective["id"],
                   termEnd="2028-01-01") == ["SEIZURE_ORDER_REQUIRED"]
    assert refused("OBJECTION", waitingSeizure=True,
                   holders=[{"party": person("王二")}]) == ["TERMS_NOT_EXPECTED"]


def test_a_lapse_and_a_release_racing_promote_exactly_one(
        pingchang: Bureau, runtime: Runtime, clock: Clock) -> None:
    """The effective seizure's term ends just as its court's release is recorded: the sweep
    and the recording race; one waiting seizure takes effect, the other keeps waiting."""
    code = titled(pingchang)
    seize(pingchang, code, "平昌县人民法院", termEnd="2026-03-02")  # lapses tonight
    seize(pingchang, code, "巴州区人民法院")
    seize(pingchang, code, "通江县人民法院")
    (effective,), _ = seizures_of(pingchang, code)
    release = pingchang.submit("SEIZURE_RELEASE", [code], targetRightId=effective["id"],
                               authority="平昌县人民法院", documentNo="(2026)解3号")["number"]
    pingchang.accept(release)
    pingchang.review(release)
    clock.advance(days=1)  # past the term: the lapse is due
    token = next(iter(pingchang.registrar.values())).split()[-1]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def sweep() -> None:
        start.wait()
        with transaction(runtime.sessions) as session:
            outcomes.append(f"lapsed {record_lapses(session, clock())}")

    def release_it() -> None:
        start.wait()
        try:
            with transaction(runtime.sessions) as session:
                record(session, authenticate(session, token), release, clock())
            outcomes.append("released")
        except DomainError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=sweep), threading.Thread(target=release_it)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (now_effective,), waiting = seizures_of(pingchang, code)
    assert now_effective["authority"] == "巴州区人民法院", outcomes
    assert [w["authority"] for w in waiting] == ["通江县人民法院"], outcomes
    history = [e["entryType"] for e in pingchang.unit(code)["history"]]
    assert history.count("SEIZURE_EFFECTIVE") == 1, (outcomes, history)
