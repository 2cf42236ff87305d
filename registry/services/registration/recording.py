"""Recording (登簿): a reviewed case takes effect in the register, in one transaction.

A right takes effect when recorded (Civil Code §214). Recording:
1. takes the case's step (registrar, not the reviewer: CASE-3) and locks the case;
2. locks its units in id order (the fixed lock order of every writer), writes down lapsed
   restrictions, and checks the preconditions again under those locks (a unit seized since
   submission is refused now, `UNIT_SEIZED`; of two cases racing to register one unit,
   exactly one succeeds, the other gets `ALREADY_REGISTERED`);
3. creates and ends rights: transfer, change and correction make the current title historic
   and create its successor; cancellation terminates it; mortgage, seizure, objection and
   advance notice create restrictions on the current title; their cancellation or release
   terminates them; a split or merge makes new units and carries the rights (splits.py);
4. numbers certificates (title) and proofs (mortgage, objection, advance notice) gaplessly;
5. appends one entry to the county's register chain saying all of this;
6. queues the case's message for the national exchange (EXCHANGE-1, services/exchange).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import CertificateKind
from registry.db.applications import (
    Application,
    ApplicationKind,
    ApplicationParty,
    ApplicationUnit,
    PartyRole,
)
from registry.db.parties import Party
from registry.db.register import Certificate, EntryType
from registry.db.rights import CoOwnership, Right, RightHolder, RightKind, RightStatus
from registry.db.units import Unit, UnitStatus
from registry.services.access import Principal
from registry.services.errors import DomainError
from registry.services.exchange.outbox import write_message
from registry.services.register import append_entry
from registry.services.registration import (
    advance_notices,
    encumbrances,
    replacement,
    seizures,
    splits,
)
from registry.services.registration.applications import (
    ENDS_RESTRICTION,
    HELD_RESTRICTION,
    NEW_TITLE,
    check_preconditions,
    take_step,
)
from registry.services.registration.certificates import issue_certificate, reserve_number
from registry.services.registration.replacement import REPLACES_CERTIFICATE
from registry.services.registration.rights import (
    ADVANCE_NOTICE_LAPSE,
    OBJECTION_LAPSE,
    current_restrictions,
    current_title,
    lapse_due,
    right_summary,
)
from registry.services.timezone import end_of_day

LAPSE_AFTER = {RightKind.OBJECTION: OBJECTION_LAPSE,
               RightKind.ADVANCE_NOTICE: ADVANCE_NOTICE_LAPSE}
# Restrictions that end by themselves at the end of their term's last day (RESIDENCE-2,
# EASEMENT-2, a seizure's term).
TERM_LAPSES = frozenset({RightKind.SEIZURE, RightKind.RESIDENCE, RightKind.EASEMENT})


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class _Recorder:
    """The effects of one case; collects what the register entry will say."""

    def __init__(self, session: Session, application: Application, actor: Principal,
                 now: datetime) -> None:
        self.session = session
        self.application = application
        self.actor = actor
        self.now = now
        self.created: list[dict[str, Any]] = []
        self.ended: list[dict[str, Any]] = []
        self.certificates: list[Certificate] = []
        self.voided: list[dict[str, str]] = []

    def holder_rows(self) -> list[ApplicationParty]:
        return list(self.session.scalars(
            select(ApplicationParty).where(ApplicationParty.application_id
                                           == self.application.id,
                                           ApplicationParty.role == PartyRole.HOLDER)
            .order_by(ApplicationParty.party_id)))

    def end(self, right: Right, status: RightStatus) -> None:
        right.status = status
        right.ended_at = self.now
        right.ended_by_application_id = self.application.id
        self.ended.append({"right": right.id, "kind": right.kind.value,
                           "status": status.value, "certificate": right.certificate_number})

    def create(self, unit: Unit, kind: RightKind, *, burdens: Right | None = None,
               predecessor: Right | None = None, with_holders: bool = True) -> Right:
        terms = self.application.terms
        co_ownership = CoOwnership(terms.get("co_ownership") or CoOwnership.NONE.value)
        lapse = LAPSE_AFTER.get(kind)
        lapses_at = self.now + lapse if lapse else None
        if kind in TERM_LAPSES and terms.get("term_end"):
            end = date.fromisoformat(terms["term_end"])
            lapses_at = end_of_day(end)
        right = Right(
            unit_id=unit.id, kind=kind, status=RightStatus.CURRENT,
            right_type=(terms.get("right_type") if kind is RightKind.TITLE
                        else encumbrances.RESTRICTION_RIGHT_TYPE.get(kind)),
            right_nature=terms.get("right_nature") if kind is RightKind.TITLE else None,
            co_ownership=co_ownership if with_holders else CoOwnership.NONE,
            begun_at=self.now, term_start=_date(terms.get("term_start")),
            term_end=_date(terms.get("term_end")), lapses_at=lapses_at,
            burdened_right_id=burdens.id if burdens else None,
            predecessor_id=predecessor.id if predecessor else None,
            amount=Decimal(terms["amount"]) if terms.get("amount") else None,
            authority=terms.get("authority"), document_no=terms.get("document_no"),
            application_id=self.application.id,
            note=terms.get("right_note", self.application.note),
            priority_at=((predecessor.priority_at if predecessor else self.now)
                         if kind is RightKind.MORTGAGE else None),
            seizure_type=seizures.EFFECTIVE if kind is RightKind.SEIZURE else None,
            **encumbrances.right_columns(kind, terms))
        if kind is RightKind.SEIZURE:  # SEIZURE-1: effective, renewed, or waiting in line
            if predecessor is not None:
                right.seizure_type = seizures.RENEWED
            else:
                for column, value in seizures.new_seizure_state(
                        self.session, unit, self.now).items():
                    setattr(right, column, value)
        certificate_kind = (CertificateKind.RIGHT if kind is RightKind.TITLE
                            else CertificateKind.PROOF if kind in HELD_RESTRICTION.values()
                            else None)
        reserved = None
        if certificate_kind is not None:
            reserved = reserve_number(self.session, unit.county_code, certificate_kind,
                                      self.now)
            right.certificate_number = reserved.number
        self.session.add(right)
        self.session.flush()
        holders: list[tuple[Party, RightHolder]] = []
        if with_holders:
            for row in self.holder_rows():
                holder = RightHolder(right_id=right.id, party_id=row.party_id,
                                     share_numerator=row.share_numerator,
                                     share_denominator=row.share_denominator)
                self.session.add(holder)
                party = self.session.get(Party, row.party_id)
                assert party is not None
                holders.append((party, holder))
        if reserved is not None:
            self.certificates.append(
                issue_certificate(self.session, reserved, right, self.application, self.now))
        self.session.flush()
        self.created.append({"unit": unit.code, **right_summary(
            right, holders, terms.get("dominant_unit_code"))})
        return right

    def apply(self, unit: Unit) -> None:
        kind = self.application.kind
        title = current_title(self.session, unit.id)
        if kind is ApplicationKind.FIRST:
            self.create(unit, RightKind.TITLE)
            unit.status = UnitStatus.REGISTERED
        elif kind in NEW_TITLE:
            assert title is not None
            if kind is ApplicationKind.CHANGE:
                self._require_same_holders(title)
            self.end(title, RightStatus.HISTORIC)
            self.session.flush()  # RIGHT-1: the old title stops being current first
            self.create(unit, RightKind.TITLE, predecessor=title)
            self._complete_notice()
        elif kind is ApplicationKind.CANCELLATION:
            assert title is not None
            for restriction in current_restrictions(self.session, unit.id, self.now):
                self.end(restriction, RightStatus.TERMINATED)
            self.end(title, RightStatus.TERMINATED)
            unit.status = UnitStatus.CANCELLED
        elif kind in REPLACES_CERTIFICATE:  # CERT-3: the same right, a new paper
            assert title is not None
            self.voided.append(replacement.void_replaced(self.session, self.application,
                                                         self.now, self.actor))
            self.end(title, RightStatus.HISTORIC)
            self.session.flush()  # RIGHT-1: the old title stops being current first
            self.create(unit, RightKind.TITLE, predecessor=title)
        elif kind is ApplicationKind.SEIZURE_RENEWAL:  # SEIZURE-3
            old = self.session.get(Right, self.application.target_right_id)
            assert old is not None
            self.end(old, RightStatus.HISTORIC)
            self.create(unit, RightKind.SEIZURE, burdens=title, predecessor=old,
                        with_holders=False)
        elif kind in encumbrances.SUCCEEDS_MORTGAGE:  # MORTGAGE-3
            old = self.session.get(Right, self.application.target_right_id)
            assert old is not None
            self.end(old, RightStatus.HISTORIC)
            self.create(unit, RightKind.MORTGAGE, burdens=title, predecessor=old)
        elif kind in HELD_RESTRICTION:
            self.create(unit, HELD_RESTRICTION[kind], burdens=title)
            self._complete_notice()
        elif kind is ApplicationKind.SEIZURE:
            self.create(unit, RightKind.SEIZURE, burdens=title, with_holders=False)
        elif kind in ENDS_RESTRICTION:
            target = self.session.get(Right, self.application.target_right_id)
            assert target is not None
            self.end(target, RightStatus.TERMINATED)
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(kind)

    def _complete_notice(self) -> None:
        """ADVANCE-1: the advance notice this transfer or mortgage completes ends with it."""
        if (self.application.kind in advance_notices.COMPLETES_NOTICE
                and self.application.target_right_id is not None):
            notice = self.session.get(Right, self.application.target_right_id)
            assert notice is not None
            self.end(notice, RightStatus.TERMINATED)

    def _require_same_holders(self, title: Right) -> None:
        current = set(self.session.scalars(select(RightHolder.party_id)
                                           .where(RightHolder.right_id == title.id)))
        applied = {row.party_id for row in self.holder_rows()}
        if current != applied:
            raise DomainError("HOLDERS_MUST_MATCH",
                              "变更登记不改变权利人；改变权利人请办理转移登记",
                              "a change registration keeps the holders; use a transfer")


def _promote(session: Session, unit: Unit, now: datetime) -> None:
    """SEIZURE-2: the next waiting seizure takes effect, with its own register entry."""
    promoted = seizures.promote_next(session, unit, now)
    if promoted is None:
        return
    waiting, successor = promoted
    case = session.get(Application, waiting.application_id)
    assert case is not None
    append_entry(session, unit.county_code, EntryType.SEIZURE_EFFECTIVE, [unit.code],
                 {"ended": [{"right": waiting.id, "kind": waiting.kind.value,
                             "status": waiting.status.value, "certificate": None}],
                  "created": [{"unit": unit.code, **right_summary(successor, [])}],
                  "reason": "the seizure ahead of it ended"},
                 recorded_at=now, recorded_by=None, application_id=case.id,
                 application_number=case.number)


def record_lapses(session: Session, now: datetime, unit_ids: list[int] | None = None) -> int:
    """Write down lapsed restrictions (RESTRICT-1), one register entry per lapsed right; a
    lapsed seizure lets the next waiting one take effect (SEIZURE-2). Units are locked first,
    in id order, as every writer does."""
    if unit_ids is None:
        due = sorted(set(session.scalars(select(Right.unit_id).where(
            Right.status == RightStatus.CURRENT, Right.lapses_at <= now))))
        if not due:
            return 0
        session.execute(select(Unit.id).where(Unit.id.in_(due)).order_by(Unit.id)
                        .with_for_update())
        unit_ids = due
    lapsed = lapse_due(session, now, unit_ids)
    for right in lapsed:
        unit = session.get(Unit, right.unit_id)
        assert unit is not None and right.lapses_at is not None
        append_entry(session, unit.county_code, EntryType.LAPSE, [unit.code],
                     {"ended": [{"right": right.id, "kind": right.kind.value,
                                 "status": right.status.value,
                                 "certificate": right.certificate_number}],
                      "effective_at": right.lapses_at.isoformat(),
                      "reason": "lapsed by law or by its term"},
                     recorded_at=now, recorded_by=None)
        if right.kind is RightKind.SEIZURE:
            _promote(session, unit, now)
    return len(lapsed)


def record(session: Session, principal: Principal | None, number: str, now: datetime,
           request_id: str | None = None) -> Application:
    """登簿. See the module docstring for what happens, in this order."""
    application = take_step(session, principal, number, "record", now, request_id)
    assert principal is not None
    application.recorded_at = now
    units = list(session.scalars(
        select(Unit).join(ApplicationUnit, ApplicationUnit.unit_id == Unit.id)
        .where(ApplicationUnit.application_id == application.id)
        .order_by(Unit.id).with_for_update(of=Unit)))
    record_lapses(session, now, [u.id for u in units])
    check_preconditions(session, application.kind, units, now, application.target_right_id)
    seizures.check_submission(session, application.kind, units[0], application.terms,
                              application.target_right_id, now, at_recording=True)
    if application.kind in REPLACES_CERTIFICATE:
        replacement.check_at_recording(application, now)
    if application.kind in splits.KINDS:
        splits.check_at_recording(session, application, units, now)
    named = [u.code for u in units]
    if application.kind in splits.KINDS:  # SPLIT-4..7
        effects = splits.record(session, application, units, principal, now)
        named += effects.new_units
        body: dict[str, Any] = {
            "created": effects.created, "ended": effects.ended, "voided": effects.voided,
            "lineage": {"units": effects.unit_lineage, "parcels": effects.parcel_lineage}}
    else:
        recorder = _Recorder(session, application, principal, now)
        for unit in units:
            recorder.apply(unit)
        body = {"created": recorder.created, "ended": recorder.ended,
                **({"voided": recorder.voided} if recorder.voided else {})}
    if application.terms.get("dominant_unit_code"):  # EASEMENT-2: both units' registers
        named.append(application.terms["dominant_unit_code"])
    entry = append_entry(session, application.county_code, EntryType.of(application.kind),
                         named, {"registration_type": application.registration_type, **body},
                         recorded_at=now, recorded_by=principal.user_id,
                         application_id=application.id, application_number=application.number)
    write_message(session, application, entry, now)  # EXCHANGE-1: the same transaction
    if application.kind is ApplicationKind.SEIZURE_RELEASE:
        for unit in units:
            _promote(session, unit, now)
    session.flush()
    return application
