"""Cases recorded through the services (as the API calls them), for the exchange's tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from registry.codes import IdType
from registry.db.applications import ApplicationKind
from registry.db.parties import PartyKind
from registry.db.rights import CoOwnership, MortgageMode
from registry.db.session import transaction
from registry.db.units import UnitKind
from registry.demo import attach_papers
from registry.runtime import Runtime
from registry.services.parties import PartyInput
from registry.services.registration.applications import (
    ApplicationInput,
    HolderInput,
    submit,
    take_step,
)
from registry.services.registration.recording import record
from tests.bureau import credit_code, resident_id
from tests.world import World, start_clock


def person(name: str) -> HolderInput:
    return HolderInput(PartyInput(PartyKind.PERSON, name, IdType.RESIDENT_ID, resident_id()))


def bank() -> HolderInput:
    return HolderInput(PartyInput(PartyKind.ENTERPRISE, "巴中农商银行", IdType.CREDIT_CODE,
                                  credit_code("91")))


class Office:
    """Two or more counties' staff recording cases of every common kind, one at a time."""

    def __init__(self, runtime: Runtime, counties: tuple[str, ...] = ("511923", "511921"),
                 seed: int = 1) -> None:
        self.world = World.build(runtime, start_clock(), seed, counties=counties)
        self.runtime = runtime

    @property
    def clock(self):
        return self.world.clock

    def new_unit(self, county: str, kind: UnitKind = UnitKind.RURAL_HOUSE) -> str:
        return self.world.new_unit(county, kind)

    def case(self, county: str, data: ApplicationInput, *, rolled_back: bool = False) -> str:
        """Submit, scan the papers, accept, review and record; returns the 业务号."""
        staff = self.world.staff[county]
        now = self.clock()
        with transaction(self.runtime.sessions) as session:
            number = submit(session, staff.clerk, data, now).number
        papers = self.world.papers

        def accept(session: Session) -> None:
            attach_papers(session, staff.clerk, self.runtime.store, papers, number, now)
            take_step(session, staff.clerk, number, "accept", now)

        with transaction(self.runtime.sessions) as session:
            accept(session)
        with transaction(self.runtime.sessions) as session:
            take_step(session, staff.reviewer, number, "review", now)
        if rolled_back:  # recorded, then the transaction fails before its commit
            with self.runtime.sessions() as session, session.begin():
                record(session, staff.registrar, number, now)
                session.rollback()
            return number
        with transaction(self.runtime.sessions) as session:
            record(session, staff.registrar, number, now)
        self.clock.advance(hours=1)
        return number

    def first(self, county: str, kind: UnitKind = UnitKind.RURAL_HOUSE) -> tuple[str, str]:
        code = self.new_unit(county, kind)
        holder = (self.world.holder(kind) if kind is UnitKind.INFRASTRUCTURE
                  else person("王大山"))
        number = self.case(county, ApplicationInput(
            ApplicationKind.FIRST, [code], holders=(holder,), co_ownership=CoOwnership.SOLE))
        return code, number

    def transfer(self, county: str, code: str) -> str:
        return self.case(county, ApplicationInput(
            ApplicationKind.TRANSFER, [code], holders=(person("李小河"),),
            co_ownership=CoOwnership.SOLE))

    def mortgage(self, county: str, code: str) -> str:
        return self.case(county, ApplicationInput(
            ApplicationKind.MORTGAGE, [code], holders=(bank(),), co_ownership=CoOwnership.SOLE,
            amount=Decimal("300000.00"), term_start=date(2026, 1, 1),
            term_end=date(2036, 1, 1), mortgage_mode=MortgageMode.GENERAL))

    def seizure(self, county: str, code: str) -> str:
        return self.case(county, ApplicationInput(
            ApplicationKind.SEIZURE, [code], authority="平昌县人民法院",
            document_no="(2026)川1923执100号", term_start=date(2026, 1, 1),
            term_end=date(2028, 12, 31)))

    def objection(self, county: str, code: str) -> str:
        return self.case(county, ApplicationInput(
            ApplicationKind.OBJECTION, [code], holders=(person("赵异议"),),
            co_ownership=CoOwnership.SOLE, note="权属有争议"))

    def cancellation(self, county: str, code: str) -> str:
        return self.case(county, ApplicationInput(ApplicationKind.CANCELLATION, [code],
                                                  note="房屋灭失"))
