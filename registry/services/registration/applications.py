"""Applications (登记业务): submission and every step of the workflow except recording.

The workflow (CASE-4): submitted → accepted → reviewed → recorded → certified, with refused
(不予受理, from submitted), rejected (不予登记, from accepted or reviewed) and withdrawn (撤回,
from any open state). Each step names the roles that may take it; any other step is
`ILLEGAL_TRANSITION`. A case is accepted only with the documents its kind requires
(`MISSING_DOCUMENTS`, DOC-5 in services/documents.py). Separation of duties (CASE-3): the
acceptor does not review, the reviewer does not record (`SEPARATION_OF_DUTIES`; the database
checks it too). Every step is a stored transition with actor, time, reason and request id
(CASE-2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.access import Role
from registry.db.applications import (
    OPEN_STATES,
    REGISTRATION_TYPE,
    Application,
    ApplicationKind,
    ApplicationParty,
    ApplicationState,
    ApplicationUnit,
    PartyRole,
    Transition,
)
from registry.db.rights import CoOwnership, MortgageMode, Right, RightKind
from registry.db.units import Unit, UnitKind
from registry.services.access import Principal, audit, require, require_county
from registry.services.codes import parse_unit_code
from registry.services.documents import require_documents
from registry.services.errors import DomainError, InvalidInput, NotFound
from registry.services.numbers import next_number
from registry.services.parties import PartyInput, find_or_create_party
from registry.services.registration import (
    advance_notices,
    encumbrances,
    replacement,
    seizures,
    splits,
)
from registry.services.registration.replacement import REPLACES_CERTIFICATE
from registry.services.registration.rights import (
    current_restrictions,
    current_title,
    holders_of,
    require_not_seized,
)
from registry.services.timezone import local_date

# Kinds that replace or end the title: at most one open case of these per unit.
TITLE_CHANGING = frozenset({ApplicationKind.FIRST, ApplicationKind.TRANSFER,
                            ApplicationKind.CHANGE, ApplicationKind.CANCELLATION,
                            ApplicationKind.CORRECTION, *REPLACES_CERTIFICATE,
                            *splits.KINDS})
# Kinds whose holders are the new title's holders.
NEW_TITLE = frozenset({ApplicationKind.FIRST, ApplicationKind.TRANSFER, ApplicationKind.CHANGE,
                       ApplicationKind.CORRECTION})
# Kinds that create a restriction held by the parties named as holders.
HELD_RESTRICTION = {ApplicationKind.MORTGAGE: RightKind.MORTGAGE,
                    ApplicationKind.OBJECTION: RightKind.OBJECTION,
                    ApplicationKind.ADVANCE_NOTICE: RightKind.ADVANCE_NOTICE,
                    ApplicationKind.RESIDENCE: RightKind.RESIDENCE,
                    ApplicationKind.EASEMENT: RightKind.EASEMENT}
# Kinds that end a restriction named by `target_right_id`.
ENDS_RESTRICTION = {ApplicationKind.MORTGAGE_CANCELLATION: RightKind.MORTGAGE,
                    ApplicationKind.SEIZURE_RELEASE: RightKind.SEIZURE,
                    ApplicationKind.RESIDENCE_CANCELLATION: RightKind.RESIDENCE,
                    ApplicationKind.EASEMENT_CANCELLATION: RightKind.EASEMENT}
# Kinds that name the right they concern by `target_right_id`.
TARGETED = {**ENDS_RESTRICTION, **{k: RightKind.MORTGAGE for k in encumbrances.SUCCEEDS_MORTGAGE},
            ApplicationKind.SEIZURE_RENEWAL: RightKind.SEIZURE}
# Kinds the court commissions: its authority and document are required.
COURT_KINDS = frozenset({ApplicationKind.SEIZURE, ApplicationKind.SEIZURE_RENEWAL})
# 权利类型 when the clerk does not say: by unit kind.
DEFAULT_RIGHT_TYPE = {UnitKind.RURAL_HOUSE: 6, UnitKind.PARKING_SPACE: 4,
                      UnitKind.INFRASTRUCTURE: 4, UnitKind.LAND: 3}


@dataclass(frozen=True)
class HolderInput:
    party: PartyInput
    share: Fraction | None = None


@dataclass(frozen=True)
class ApplicationInput:
    kind: ApplicationKind
    unit_codes: Sequence[str]
    holders: Sequence[HolderInput] = ()
    co_ownership: CoOwnership | None = None
    right_type: int | None = None
    right_nature: int | None = None
    term_start: date | None = None
    term_end: date | None = None
    amount: Decimal | None = None
    authority: str | None = None
    document_no: str | None = None
    target_right_id: int | None = None
    note: str = ""
    dominant_unit_code: str | None = None  # 地役权: 需役地 (EASEMENT-1)
    purpose: str | None = None  # 地役权 利用目的
    mortgage_mode: MortgageMode | None = None  # MORTGAGE-1
    max_amount: Decimal | None = None
    claims_start: date | None = None
    claims_end: date | None = None
    certificate_number: str | None = None  # 换证/补证 (CERT-2)
    loss_notice_on: date | None = None
    loss_notice_medium: str | None = None
    waiting_seizure: bool = False  # 轮候查封 asked for explicitly (SEIZURE-1)
    parts: Sequence[splits.SplitPart] = ()  # 分割 (SPLIT-1), a merge's outline (MERGE-1)
    release_right_ids: Sequence[int] = ()  # mortgages released in a split or merge (SPLIT-3)


@dataclass(frozen=True)
class Step:
    roles: frozenset[Role]
    from_states: frozenset[ApplicationState]
    to_state: ApplicationState
    reason_required: bool = False
    not_by: tuple[str, ...] = field(default=())  # actor columns the taker must differ from
    label_zh: str = ""  # the step as users read it (受理 …); every Chinese message uses it


STEPS: dict[str, Step] = {
    "accept": Step(frozenset({Role.CLERK}), frozenset({ApplicationState.SUBMITTED}),
                   ApplicationState.ACCEPTED, label_zh="受理"),
    "refuse": Step(frozenset({Role.CLERK}), frozenset({ApplicationState.SUBMITTED}),
                   ApplicationState.REFUSED, reason_required=True, label_zh="不予受理"),
    "review": Step(frozenset({Role.REVIEWER}), frozenset({ApplicationState.ACCEPTED}),
                   ApplicationState.REVIEWED, not_by=("accepted_by",), label_zh="审核"),
    "reject": Step(frozenset({Role.REVIEWER, Role.REGISTRAR}),
                   frozenset({ApplicationState.ACCEPTED, ApplicationState.REVIEWED}),
                   ApplicationState.REJECTED, reason_required=True, label_zh="不予登记"),
    "record": Step(frozenset({Role.REGISTRAR}), frozenset({ApplicationState.REVIEWED}),
                   ApplicationState.RECORDED, not_by=("reviewed_by",), label_zh="登簿"),
    "certify": Step(frozenset({Role.REGISTRAR, Role.CLERK}),
                    frozenset({ApplicationState.RECORDED}), ApplicationState.CERTIFIED,
                    label_zh="发证"),
    "withdraw": Step(frozenset({Role.CLERK}), OPEN_STATES, ApplicationState.WITHDRAWN,
                     reason_required=True, label_zh="撤回"),
}
ACTOR_COLUMN = {"accept": "accepted_by", "review": "reviewed_by", "record": "recorded_by"}


def _normalise_holders(data: ApplicationInput) -> CoOwnership:
    """RIGHT-3 at submission: who holds, how, and shares that sum to exactly 1."""
    holders = data.holders
    ids = [(h.party.id_type, h.party.id_number.strip().upper()) for h in holders]
    if len(set(ids)) != len(ids):
        raise InvalidInput("DUPLICATE_HOLDER", "同一权利人重复填写", "a holder is listed twice")
    mode = data.co_ownership or (CoOwnership.SOLE if len(holders) == 1 else None)
    if mode is None:
        raise InvalidInput("CO_OWNERSHIP_REQUIRED",
                           "多个权利人须注明共有方式（共同共有或按份共有）",
                           "several holders: say how they hold (joint or shares)")
    with_share = [h for h in holders if h.share is not None]
    if mode is CoOwnership.SHARES:
        if len(with_share) != len(holders):
            raise InvalidInput("SHARES_NOT_ONE", "按份共有须为每个权利人填写份额",
                               "holding by shares: every holder needs a share")
        if any(not (0 < h.share <= 1) for h in with_share):  # type: ignore[operator]
            raise InvalidInput("SHARES_NOT_ONE", "每个份额须大于0且不超过1",
                               "each share must be above 0 and at most 1")
        total = sum((h.share for h in with_share), Fraction(0))  # type: ignore[misc]
        if total != 1:
            raise InvalidInput("SHARES_NOT_ONE", f"按份共有份额之和为{total}，不等于1",
                               f"the shares sum to {total}, not 1", total=str(total))
    elif with_share:
        raise InvalidInput("SHARES_NOT_ONE", "只有按份共有才填写份额",
                           "shares are given only when holding by shares")
    if mode is CoOwnership.SOLE and len(holders) != 1:
        raise InvalidInput("HOLDERS_INVALID", "单独所有须有且仅有一个权利人",
                           "sole ownership has exactly one holder")
    if mode is CoOwnership.JOINT and len(holders) < 2:
        raise InvalidInput("HOLDERS_INVALID", "共同共有须有两个及以上权利人",
                           "joint ownership needs two or more holders")
    return mode


def _check_terms(data: ApplicationInput) -> None:
    kind = data.kind
    needs_holders = kind in NEW_TITLE or kind is ApplicationKind.MORTGAGE_TRANSFER or (
        kind in HELD_RESTRICTION and kind not in encumbrances.HOLDERS_FROM_REGISTER)
    if needs_holders and not data.holders:
        raise InvalidInput("HOLDERS_REQUIRED", "须填写权利人", "holders are required")
    if not needs_holders and data.holders:
        raise InvalidInput("HOLDERS_NOT_EXPECTED", "该类登记不填写权利人",
                           f"a {kind.value} application names no holders")
    encumbrances.check_terms(data)
    if kind not in splits.KINDS and (data.parts or data.release_right_ids):
        raise InvalidInput("TERMS_NOT_EXPECTED", "只有分割、合并登记填写分割部分或一并注销的抵押权",
                           "parts and releaseRightIds belong to a split or merge")
    if kind in COURT_KINDS and not (data.authority and data.document_no):
        raise InvalidInput("SEIZURE_ORDER_REQUIRED", "查封登记须填写查封机关和文书号",
                           "a seizure needs the ordering authority and its document number")
    if kind in TARGETED and data.target_right_id is None:
        raise InvalidInput("TARGET_REQUIRED",
                           f"须指明所涉的{TARGETED[kind].label_zh}（targetRightId）",
                           f"name the {TARGETED[kind].value} concerned (targetRightId)")
    if data.term_start and data.term_end and data.term_end < data.term_start:
        raise InvalidInput("INVALID_TERM", "期限的终止日早于起始日",
                           "the term ends before it starts")


def check_preconditions(session: Session, kind: ApplicationKind, units: Sequence[Unit],
                        now: datetime, target_right_id: int | None) -> None:
    """What the register must say for this kind of case; checked at submission and again,
    under row locks, at recording."""
    for unit in units:
        title = current_title(session, unit.id)
        if kind is ApplicationKind.FIRST:
            if title is not None:
                raise DomainError("ALREADY_REGISTERED", f"不动产单元已登记：{unit.code}",
                                  f"unit {unit.code} already has a current title",
                                  {"unit": unit.code})
            continue
        if title is None:
            raise DomainError("NO_CURRENT_TITLE", f"不动产单元无现势权利：{unit.code}",
                              f"unit {unit.code} has no current title", {"unit": unit.code})
        if kind in (ApplicationKind.TRANSFER, ApplicationKind.MORTGAGE,
                    ApplicationKind.CANCELLATION, ApplicationKind.ADVANCE_NOTICE,
                    ApplicationKind.CHANGE, ApplicationKind.RESIDENCE,
                    ApplicationKind.EASEMENT, ApplicationKind.MERGE):
            require_not_seized(session, unit, now)
        if kind is ApplicationKind.CANCELLATION and current_restrictions(
                session, unit.id, now, RightKind.MORTGAGE):
            raise DomainError("UNIT_MORTGAGED", f"不动产单元存在抵押，须先注销抵押：{unit.code}",
                              f"unit {unit.code} is mortgaged: cancel the mortgage first",
                              {"unit": unit.code})
        if kind in encumbrances.SUCCEEDS_MORTGAGE:
            encumbrances.check_target(session, kind, unit, target_right_id)
        advance_notices.check(session, kind, unit, target_right_id, now)
        if kind in ENDS_RESTRICTION:
            wanted = ENDS_RESTRICTION[kind]
            ids = {r.id for r in current_restrictions(session, unit.id, now, wanted)}
            if kind is ApplicationKind.SEIZURE_RELEASE:  # SEIZURE-4: or one waiting in line
                ids |= {r.id for r in seizures.waiting_seizures(session, unit.id)}
            if target_right_id not in ids:
                raise DomainError("TARGET_NOT_CURRENT",
                                  f"指定的{wanted.label_zh}不是该单元的现势权利",
                                  f"right {target_right_id} is not a current {wanted.value} "
                                  f"on unit {unit.code}", {"unit": unit.code})


def _load_units(session: Session, actor: Principal, codes: Sequence[str],
                lock: bool = False) -> list[Unit]:
    if not codes:
        raise InvalidInput("UNITS_REQUIRED", "须至少指定一个不动产单元", "name at least one unit")
    parsed = sorted({parse_unit_code(session, code).code for code in codes})
    query = select(Unit).where(Unit.code.in_(parsed)).order_by(Unit.id)
    units = list(session.scalars(query.with_for_update() if lock else query))
    missing = set(parsed) - {u.code for u in units}
    if missing:
        raise NotFound("不动产单元", "unit", sorted(missing)[0])
    counties = {u.county_code for u in units}
    if len(counties) != 1:
        raise InvalidInput("MIXED_COUNTIES", "一件业务的不动产单元须属于同一县区",
                           "all units of one application lie in one county")
    require_county(actor, counties.pop())
    return units


def submit(session: Session, principal: Principal | None, data: ApplicationInput,
           now: datetime, request_id: str | None = None,
           loss_notice_working_days: int = replacement.LOSS_NOTICE_WORKING_DAYS
           ) -> Application:
    """申请: a new case in state `submitted` (CASE-1 numbers it)."""
    actor = require(principal, Role.CLERK)
    # Units are locked (in id order) so that two submissions for one unit are serialised:
    # the second sees the first's open case.
    units = _load_units(session, actor, data.unit_codes, lock=True)
    _check_terms(data)
    mode = _normalise_holders(data) if data.holders else CoOwnership.NONE
    dominant = encumbrances.check_units(session, data, units)
    check_preconditions(session, data.kind, units, now, data.target_right_id)
    if data.kind in TITLE_CHANGING:
        busy = session.scalar(
            select(Application.number).join(ApplicationUnit)
            .where(ApplicationUnit.unit_id.in_([u.id for u in units]),
                   Application.state.in_(OPEN_STATES),
                   Application.kind.in_(TITLE_CHANGING)).limit(1))
        if busy is not None:
            raise DomainError("UNIT_HAS_OPEN_CASE", f"该单元已有在办业务：{busy}",
                              f"the unit already has an open case: {busy}", {"open": busy})
    today = local_date(now)
    county = units[0].county_code
    number = f"{county}-{today.year}-{next_number(session, f'case:{county}:{today.year}'):06d}"
    right_type = data.right_type or (DEFAULT_RIGHT_TYPE[units[0].kind]
                                     if data.kind in NEW_TITLE else None)
    terms = {
        "co_ownership": mode.value, "right_type": right_type, "right_nature": data.right_nature,
        "term_start": data.term_start.isoformat() if data.term_start else None,
        "term_end": data.term_end.isoformat() if data.term_end else None,
        "amount": str(data.amount) if data.amount is not None else None,
        "authority": data.authority, "document_no": data.document_no,
        **encumbrances.terms(data, dominant),
    }
    if data.kind in encumbrances.SUCCEEDS_MORTGAGE:  # MORTGAGE-3
        terms.update(encumbrances.successor_terms(session, data))
    if data.waiting_seizure:
        if data.kind is not ApplicationKind.SEIZURE:
            raise InvalidInput("TERMS_NOT_EXPECTED", "只有查封登记可为轮候查封",
                               "only a seizure can be a waiting seizure")
        terms["seizure_type"] = seizures.WAITING
    seizures.check_submission(session, data.kind, units[0], terms, data.target_right_id, now)
    if data.kind in splits.KINDS:  # SPLIT-1..3, MERGE-1
        terms.update(splits.check_and_terms(session, data.kind, units, data.parts,
                                            data.release_right_ids, now))
    if data.kind in REPLACES_CERTIFICATE:  # CERT-2
        terms.update(replacement.check_and_terms(
            session, data.kind, units[0], replacement.ReplacementInput(
                data.certificate_number, data.loss_notice_on, data.loss_notice_medium),
            now, loss_notice_working_days))
    application = Application(number=number, kind=data.kind,
                              registration_type=REGISTRATION_TYPE[data.kind],
                              state=ApplicationState.SUBMITTED, county_code=county, terms=terms,
                              target_right_id=data.target_right_id, submitted_at=now,
                              submitted_by=actor.user_id, note=data.note.strip())
    session.add(application)
    session.flush()
    session.add_all(ApplicationUnit(application_id=application.id, unit_id=u.id) for u in units)
    named_parties = []
    for holder in data.holders:
        party = find_or_create_party(session, holder.party, today)
        named_parties.append(party.id)
        session.add(ApplicationParty(
            application_id=application.id, party_id=party.id, role=PartyRole.HOLDER,
            share_numerator=holder.share.numerator if holder.share is not None else None,
            share_denominator=holder.share.denominator if holder.share is not None else None))
    if data.kind in advance_notices.COMPLETES_NOTICE and data.target_right_id is not None:
        notice = session.get(Right, data.target_right_id)
        assert notice is not None  # check_preconditions found it standing
        advance_notices.require_same_holders(session, notice, named_parties)
    if data.kind in encumbrances.TITLE_HOLDERS_ARE_OBLIGORS:
        # 义务人: the current holders give the title up, pledge it or grant a right on it.
        title = current_title(session, units[0].id)
        assert title is not None
        for holder in holders_of(session, title.id):
            session.add(ApplicationParty(application_id=application.id,
                                         party_id=holder.party_id, role=PartyRole.OBLIGOR))
    if data.kind in encumbrances.SUCCEEDS_MORTGAGE:  # MORTGAGE-3: the mortgagees
        role = (PartyRole.HOLDER if data.kind is ApplicationKind.MORTGAGE_CHANGE
                else PartyRole.OBLIGOR)
        assert data.target_right_id is not None
        for holder in holders_of(session, data.target_right_id):
            session.add(ApplicationParty(application_id=application.id,
                                         party_id=holder.party_id, role=role))
    if data.kind in REPLACES_CERTIFICATE or data.kind in splits.KINDS:
        # CERT-3, SPLIT-6: the successors have the title's holders
        title = current_title(session, units[0].id)
        assert title is not None
        for holder in holders_of(session, title.id):
            session.add(ApplicationParty(
                application_id=application.id, party_id=holder.party_id,
                role=PartyRole.HOLDER, share_numerator=holder.share_numerator,
                share_denominator=holder.share_denominator))
    if dominant is not None:  # EASEMENT-1: held by the dominant unit's holders
        dominant_title = current_title(session, dominant.id)
        assert dominant_title is not None
        for holder in holders_of(session, dominant_title.id):
            session.add(ApplicationParty(application_id=application.id,
                                         party_id=holder.party_id, role=PartyRole.HOLDER))
    session.add(Transition(application_id=application.id, from_state=None,
                           to_state=ApplicationState.SUBMITTED, actor_id=actor.user_id,
                           actor_name=actor.username, at=now, reason="", request_id=request_id))
    session.flush()
    audit(session, actor, "submitApplication", number, request_id, {"kind": data.kind.value})
    return application


def lock_application(session: Session, number: str) -> Application:
    application = session.scalar(select(Application).where(Application.number == number)
                                 .with_for_update())
    if application is None:
        raise NotFound("业务", "application", number)
    return application


def take_step(session: Session, principal: Principal | None, number: str, action: str,
              now: datetime, request_id: str | None = None, reason: str = "") -> Application:
    """Move a case one step (CASE-2..4). Recording's effects live in recording.py."""
    step = STEPS[action]
    actor = require(principal, *step.roles)
    application = lock_application(session, number)
    require_county(actor, application.county_code)
    if application.state not in step.from_states:
        allowed = ", ".join(sorted(s.value for s in step.from_states))
        raise DomainError("ILLEGAL_TRANSITION",
                          f"业务当前状态为“{application.state.label_zh}”，不能{step.label_zh}",
                          f"cannot {action} a case in state {application.state.value} "
                          f"(allowed from: {allowed})",
                          {"state": application.state.name, "action": action})
    for column in step.not_by:
        if getattr(application, column) == actor.user_id:
            raise DomainError("SEPARATION_OF_DUTIES",
                              "同一人不能既受理又审核、既审核又登簿",
                              f"you already acted on this case ({column.removesuffix('_by')}); "
                              "another person must take this step", {"conflict": column})
    reason = reason.strip()
    if step.reason_required and not reason:
        raise InvalidInput("REASON_REQUIRED", f"{step.label_zh}须填写理由",
                           f"{action} needs a reason")
    if action == "accept":
        require_documents(session, application)  # DOC-5: MISSING_DOCUMENTS
    previous = application.state
    application.state = step.to_state
    if action in ACTOR_COLUMN:
        setattr(application, ACTOR_COLUMN[action], actor.user_id)
    session.add(Transition(application_id=application.id, from_state=previous,
                           to_state=step.to_state, actor_id=actor.user_id,
                           actor_name=actor.username, at=now, reason=reason,
                           request_id=request_id))
    session.flush()
    audit(session, actor, f"{action}Application", number, request_id)
    return application
