"""A register built by a seeded random mix of the real workflow services, with a clock.

Counties' staff create rural houses, parking spaces and roads, and move cases through the
workflow (submit, accept, review, record, certify; refuse, reject, withdraw), register
objections (which lapse), transfers and cancellations, while the clock runs on by hours or
days. Everything goes through registry.services, exactly as the API calls it.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from registry.codes import IdType
from registry.db.applications import ApplicationKind
from registry.db.parties import PartyKind
from registry.db.rights import CoOwnership
from registry.db.session import transaction
from registry.db.units import InfrastructureCategory, UnitKind
from registry.demo import attach_papers
from registry.runtime import Runtime
from registry.services.access import Principal, authenticate, create_user
from registry.services.documents import DocumentConfig
from registry.services.errors import DomainError
from registry.services.papers import PrintSetup, print_case
from registry.services.parcels import Layer, ParcelInput, create_parcel
from registry.services.parties import PartyInput
from registry.services.registration.applications import (
    ApplicationInput,
    HolderInput,
    submit,
    take_step,
)
from registry.services.registration.certificates import certify
from registry.services.registration.recording import record
from registry.services.units import (
    InfrastructureInput,
    ParkingSpaceInput,
    RuralHouseInput,
    UnitInput,
    create_unit,
)
from tests.bureau import credit_code, resident_id, square
from tests.clock import Clock

# Townships (cadastral districts) seeded by migration 0001, per county.
TOWNSHIPS_SEEDED = {"511902": ["101", "102", "103"], "511903": ["101", "102"],
                    "511921": ["101", "102", "103"], "511922": ["101", "102"],
                    "511923": ["101", "102", "103"]}


def principal(session: Session, token: str) -> Principal:
    found = authenticate(session, token)
    assert found is not None
    return found


@dataclass
class Staff:
    clerk: Principal
    reviewer: Principal
    registrar: Principal


@dataclass
class World:
    runtime: Runtime
    clock: Clock
    rng: random.Random
    staff: dict[str, Staff] = field(default_factory=dict)
    units: list[tuple[str, str, UnitKind]] = field(default_factory=list)  # (county, code, kind)
    open_cases: dict[str, str] = field(default_factory=dict)  # number → state
    slots: itertools.count[int] = field(default_factory=lambda: itertools.count(0))
    parcel_serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    log: list[str] = field(default_factory=list)

    @property
    def papers(self) -> DocumentConfig:
        return DocumentConfig.from_settings(self.runtime.settings)

    @property
    def printing(self) -> PrintSetup:
        return PrintSetup.from_settings(self.runtime.settings, self.runtime.store)

    @classmethod
    def build(cls, runtime: Runtime, clock: Clock, seed: int,
              counties: tuple[str, ...] = ("511902", "511921", "511923")) -> World:
        world = cls(runtime=runtime, clock=clock, rng=random.Random(seed))
        with transaction(runtime.sessions) as session:
            for county in counties:
                tokens = [create_user(session, f"{role}-{county}-{seed}", [role], county)[1]
                          for role in ("clerk", "reviewer", "registrar")]
                world.staff[county] = Staff(*(principal(session, t) for t in tokens))
        return world

    # ------------------------------------------------------------------ one step

    def _do(self, work: object, *args: object) -> object:
        with transaction(self.runtime.sessions) as session:
            return work(session, *args)  # type: ignore[operator]

    def new_unit(self, county: str, kind: UnitKind) -> str:
        staff = self.staff[county]
        now = self.clock()
        township = self.rng.choice(TOWNSHIPS_SEEDED[county])
        serial = next(self.parcel_serial)

        def work(session: Session) -> str:
            if kind is UnitKind.RURAL_HOUSE:
                feature, land_use, layer, bottom, top = "JC", "0702", Layer.SURFACE, None, None
            elif kind is UnitKind.PARKING_SPACE:
                feature, land_use = "GX", "0701"
                layer, bottom, top = Layer.UNDERGROUND, Decimal("-9"), Decimal("-1")
            else:
                feature, land_use, layer, bottom, top = "GB", "1003", Layer.SURFACE, None, None
            code = f"{county}{township}001{feature}{serial:05d}"
            create_parcel(session, staff.clerk, ParcelInput(
                code=code, geometry=square(county, next(self.slots)), crs=4545,
                land_use_system="GB/T 21010-2017", land_use_code=land_use, location="某村",
                layer=layer, elevation_bottom=bottom, elevation_top=top), now)
            data = UnitInput(parcel_code=code, kind=kind, building_no=1, unit_no=1)
            if kind is UnitKind.RURAL_HOUSE:
                data = UnitInput(parcel_code=code, kind=kind, building_no=1, unit_no=1,
                                 house=RuralHouseInput(2, "砖混", Decimal("120.5")))
            elif kind is UnitKind.PARKING_SPACE:
                data = UnitInput(parcel_code=code, kind=kind, building_no=1, unit_no=1,
                                 parking_space=ParkingSpaceInput("地下车库", -1, "B1-001",
                                                                 Decimal("12.5")))
            else:
                from registry.codes import Fixture

                data = UnitInput(parcel_code=code, kind=kind, fixture=Fixture.NO_FIXTURE,
                                 infrastructure=InfrastructureInput(
                                     InfrastructureCategory.ROAD, "交通运输局",
                                     book_value=Decimal("1000000.00")))
            return create_unit(session, staff.clerk, data, now).code

        code = str(self._do(work))
        self.units.append((county, code, kind))
        return code

    def holder(self, kind: UnitKind) -> HolderInput:
        if kind is UnitKind.INFRASTRUCTURE:
            return HolderInput(PartyInput(PartyKind.GOVERNMENT, "交通运输局", IdType.CREDIT_CODE,
                                          credit_code("11")))
        return HolderInput(PartyInput(PartyKind.PERSON, f"村民{self.rng.randint(1, 999)}",
                                      IdType.RESIDENT_ID, resident_id()))

    def submit_case(self, county: str, kind: ApplicationKind, code: str,
                    unit_kind: UnitKind) -> str | None:
        staff = self.staff[county]
        holders: tuple[HolderInput, ...] = ()
        if kind in (ApplicationKind.FIRST, ApplicationKind.TRANSFER,
                    ApplicationKind.OBJECTION):
            holders = (self.holder(unit_kind),)
        data = ApplicationInput(kind=kind, unit_codes=[code], holders=holders,
                                co_ownership=CoOwnership.SOLE if holders else None)
        try:
            application = self._do(lambda s: submit(s, staff.clerk, data, self.clock()))
        except DomainError as exc:  # e.g. an open case already, or already registered
            self.log.append(f"submit {kind.value} {code}: {exc.code}")
            return None
        number = application.number  # type: ignore[attr-defined]
        self.open_cases[number] = county
        return number

    def advance(self, number: str) -> None:
        """Move an open case one random step along (or off) the workflow."""
        county = self.open_cases[number]
        staff = self.staff[county]
        now = self.clock()

        def state(session: Session) -> str:
            from registry.db.applications import Application

            found = session.query(Application).filter_by(number=number).one()
            return found.state.value

        current = str(self._do(state))
        roll = self.rng.random()
        try:
            if current == "submitted":
                if roll < 0.1:
                    self._do(lambda s: take_step(s, staff.clerk, number, "refuse", now,
                                                 reason="材料不全"))
                else:
                    def accept(s: Session) -> object:
                        attach_papers(s, staff.clerk, self.runtime.store, self.papers, number,
                                      now)
                        return take_step(s, staff.clerk, number, "accept", now)

                    self._do(accept)
            elif current == "accepted":
                if roll < 0.08:
                    self._do(lambda s: take_step(s, staff.reviewer, number, "reject", now,
                                                 reason="不符合"))
                elif roll < 0.12:
                    self._do(lambda s: take_step(s, staff.clerk, number, "withdraw", now,
                                                 reason="申请人撤回"))
                else:
                    self._do(lambda s: take_step(s, staff.reviewer, number, "review", now))
            elif current == "reviewed":
                self._do(lambda s: record(s, staff.registrar, number, now))
            elif current == "recorded":
                def printed_and_certified(s: Session) -> object:
                    print_case(s, staff.registrar, self.printing, number, now)
                    return certify(s, staff.registrar, number, now)

                self._do(printed_and_certified)
        except DomainError as exc:
            refusal = exc.code
            self.log.append(f"{current} {number}: {refusal}")
            if current == "reviewed":  # cannot be recorded any more (e.g. seized): reject
                self._do(lambda s: take_step(s, staff.registrar, number, "reject", now,
                                             reason=refusal))
        if str(self._do(state)) not in ("submitted", "accepted", "reviewed", "recorded"):
            del self.open_cases[number]

    def step(self) -> None:
        roll = self.rng.random()
        county = self.rng.choice(sorted(self.staff))
        if roll < 0.25 or not self.units:
            kind = self.rng.choices([UnitKind.RURAL_HOUSE, UnitKind.PARKING_SPACE,
                                     UnitKind.INFRASTRUCTURE], weights=[6, 2, 1])[0]
            self.new_unit(county, kind)
        elif roll < 0.55:
            county, code, kind = self.rng.choice(self.units)
            self.submit_case(county, ApplicationKind.FIRST, code, kind)
        elif roll < 0.85 and self.open_cases:
            self.advance(self.rng.choice(sorted(self.open_cases)))
        elif roll < 0.91:
            county, code, kind = self.rng.choice(self.units)
            self.submit_case(county, ApplicationKind.OBJECTION, code, kind)
        elif roll < 0.95:
            county, code, kind = self.rng.choice(self.units)
            self.submit_case(county, ApplicationKind.TRANSFER, code, kind)
        else:
            county, code, kind = self.rng.choice(self.units)
            self.submit_case(county, ApplicationKind.CANCELLATION, code, kind)
        # time runs on: mostly hours, sometimes days, sometimes across midnight exactly
        self.clock.advance(hours=self.rng.choice([0, 1, 3, 7, 22.5, 24, 24 * 6, 24 * 17]))

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()

    def finish_open_cases(self, rounds: int = 6) -> None:
        for _ in range(rounds):
            for number in sorted(self.open_cases):
                self.advance(number)
            self.clock.advance(hours=5)


def start_clock() -> Clock:
    return Clock(datetime(2026, 1, 5, 1, 30, tzinfo=UTC))
