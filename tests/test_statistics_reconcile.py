"""Completion figures equal a brute-force count of the register, after a seeded random mix of
registrations through the real workflow services, for every county, the city and every day.

The brute force reads the raw rows (units, rights, cases, transitions) and applies the
definitions of docs/statistics.md to instants — "as of D" is the state just before midnight at
the end of D, China time — independently of the SQL that keeps the ledger (STAT-1, STAT-2).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from registry.db.units import UnitKind
from registry.runtime import Runtime
from registry.services.statistics import MEASURES, completion
from registry.services.timezone import CHINA
from tests.world import World, start_clock


def end_of(day: date) -> datetime:
    """The instant "as of `day`" refers to: midnight at its end, China time (exclusive)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=CHINA)


class Register:
    """The raw rows, read once."""

    def __init__(self, runtime: Runtime) -> None:
        with runtime.engine.connect() as conn:
            self.units = conn.execute(text(
                "SELECT id, county_code, township_code, kind::text AS kind, created_at"
                " FROM units")).mappings().all()
            rights = conn.execute(text(
                "SELECT unit_id, kind::text AS kind, status::text AS status, begun_at,"
                " ended_at, lapses_at, predecessor_id, application_id FROM rights"
                " WHERE status <> 'provisional'")).mappings().all()
            cases = conn.execute(text(
                "SELECT au.unit_id, a.id, a.kind::text AS kind, a.submitted_at FROM applications a"
                " JOIN application_units au ON au.application_id = a.id")).mappings().all()
            transitions = conn.execute(text(
                "SELECT application_id, to_state::text AS to_state, at"
                " FROM application_transitions")).mappings().all()
        self.rights: dict[int, list[Any]] = defaultdict(list)
        for r in rights:
            self.rights[r["unit_id"]].append(r)
        self.cases: dict[int, list[Any]] = defaultdict(list)
        for c in cases:
            self.cases[c["unit_id"]].append(c)
        self.transitions: dict[int, list[Any]] = defaultdict(list)
        for t in transitions:
            self.transitions[t["application_id"]].append(t)

    def first_at(self, application_id: int, states: set[str]) -> datetime | None:
        times = [t["at"] for t in self.transitions[application_id] if t["to_state"] in states]
        return min(times) if times else None

    def measures(self, unit: Any, at: datetime) -> dict[str, bool]:
        rights = self.rights[unit["id"]]
        titles = [r for r in rights if r["kind"] == "title"]
        terminated = [r for r in titles if r["status"] == "terminated"]
        firsts = [r for r in titles if r["predecessor_id"] is None]

        def cancelled() -> bool:
            for x in terminated:
                if x["ended_at"] < at and not any(
                        x["ended_at"] <= f["begun_at"] < at for f in firsts):
                    return True
            return False

        def in_force(begin: datetime, end: datetime | None) -> bool:
            return begin < at and (end is None or end >= at)

        due = unit["created_at"] < at and not cancelled()
        recorded = due and any(in_force(r["begun_at"], r["ended_at"]) for r in titles)
        certified = False
        for f in firsts:
            printed = self.first_at(f["application_id"], {"certified"})
            ends = [x["ended_at"] for x in terminated if x["ended_at"] >= f["begun_at"]]
            if printed is not None and in_force(printed, min(ends) if ends else None):
                certified = recorded
        in_progress = due and not recorded and any(
            in_force(c["submitted_at"],
                     self.first_at(c["id"], {"recorded", "refused", "rejected", "withdrawn"}))
            for c in self.cases[unit["id"]] if c["kind"] == "first")
        disputed = due and any(
            in_force(o["begun_at"], min((t for t in (o["ended_at"], o["lapses_at"]) if t),
                                        default=None))
            for o in rights if o["kind"] == "objection")
        return {"due": due, "recorded": recorded, "certified": certified,
                "in_progress": in_progress, "disputed": disputed}

    def count(self, day: date, kind: str) -> dict[tuple[str, str], Counter[str]]:
        at = end_of(day)
        found: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for unit in self.units:
            if unit["kind"] != kind:
                continue
            for measure, yes in self.measures(unit, at).items():
                found[(unit["county_code"], unit["township_code"])][measure] += int(yes)
        return found


def figures(f: Any) -> dict[str, int]:
    return {m: getattr(f, m) for m in MEASURES}


@pytest.mark.parametrize("seed", [7, 2026])
def test_completion_equals_a_brute_force_count(runtime: Runtime, seed: int) -> None:
    clock = start_clock()
    world = World.build(runtime, clock, seed)
    first_day = clock().astimezone(CHINA).date()
    world.run(260)
    world.finish_open_cases()
    last_day = clock().astimezone(CHINA).date() + timedelta(days=20)  # lapses ahead

    register = Register(runtime)
    kinds_seen = Counter(u["kind"] for u in register.units)
    assert kinds_seen["rural_house"] > 20 and kinds_seen["parking_space"] > 3
    events = Counter()
    day = first_day - timedelta(days=1)
    while day <= last_day:
        for kind in (UnitKind.RURAL_HOUSE, UnitKind.PARKING_SPACE, UnitKind.INFRASTRUCTURE):
            expected = register.count(day, kind.value)
            with runtime.sessions() as session:
                city = completion(session, day, kind)
                by_county = {c: completion(session, day, kind, c) for c in world.staff}
            for county, report in by_county.items():
                for part in report.parts:
                    assert figures(part) == {m: expected.get((county, part.code), Counter())[m]
                                             for m in MEASURES}, (day, kind, part.code)
                want = Counter()
                for (c, _), counts in expected.items():
                    if c == county:
                        want.update(counts)
                assert figures(report.total) == {m: want[m] for m in MEASURES}, (day, county)
            everything = Counter()
            for counts in expected.values():
                everything.update(counts)
            assert figures(city.total) == {m: everything[m] for m in MEASURES}, (day, kind)
            events.update({m for m in MEASURES if everything[m]})
        day += timedelta(days=1)
    # the mix exercised every measure at some point
    assert set(events) == set(MEASURES), events
