"""The natural-resource registration case (自然资源登记业务), from the pre-delimited unit to the
register, and the change, cancellation and correction of a registered unit.

- NRCASE-2 The path of each kind (STEPS; any other move is `ILLEGAL_TRANSITION`):
  首次登记  predelimited → noticed (通告) → surveyed (地籍调查) → reviewed (审核)
            → published (公告) → recorded (登簿);
  变更/更正  opened → surveyed → reviewed → published → recorded;
  注销      opened → reviewed → published → recorded.
  A review that does not pass sends the case back to where its survey started (noticed /
  opened).
- NRCASE-3 Who takes each step: clerks (受理人员) pre-delimit, notice, survey, publish and
  receive objections; reviewers review and answer objections; registrars record. The reviewer
  is not who opened the case, and the registrar not who reviewed it (`SEPARATION_OF_DUTIES`).
  Everything is limited to the unit's county (ACCESS-2).
- NRCASE-4 A unit has at most one open case (`NR_CASE_OPEN`); change, cancellation and
  correction start only on a registered unit (`NR_UNIT_NOT_REGISTERED`).
- NRCASE-5 The 公告 runs NATURAL_RESOURCE_NOTICE_WORKING_DAYS working days from its first day
  (NRCODE-4). An objection is received only on a day of the notice (`NR_OBJECTION_OUTSIDE_PERIOD`);
  recording waits until the notice has ended (`NR_NOTICE_PERIOD_RUNNING`) and every objection
  is answered (`NR_OBJECTION_UNANSWERED`). An objection upheld sends the case back to
  `surveyed`: the survey is redone, reviewed and published again.
- NRCASE-6 A first registration needs its ownership (权属状况) from the survey
  (`NR_OWNERSHIP_REQUIRED`); a change or correction proposes a new description of the unit,
  checked as a new unit's is (NRUNIT-5..7) when proposed and again by the database when
  recorded.
- NRCASE-7 Recording writes one register entry in the unit's county chain (EntryType NR_*),
  whose body `natural_resource` holds the unit as recorded (code, name, type, level, authority,
  status, areas, the geometry's digest), its ownership, the areas of each resource type and the
  real-estate rights linked inside it at that moment (holders masked): what `registry verify`
  compares the tables against (VERIFY-7). A first registration marks the pre-delimited row
  registered; a change, correction or cancellation ends the current row and adds the new
  version (NRUNIT-3), and ends the ownership row it replaces.
- NRCASE-8 The survey's results are documents (要件, DOC-8 in services/documents.py): a first
  registration, change or correction moves to surveyed only while at least one current
  (not removed or replaced) `survey_result` document (不动产权籍调查成果) is linked to the case
  (`MISSING_DOCUMENTS`, `details.missing` listing the kinds lacking as DOC-5 does). The case's
  documents are added, removed and replaced only until it is recorded (`DOCUMENT_FROZEN`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from registry.codes.natural_resources import notice_period_end
from registry.db.access import Role
from registry.db.natural_resources import (
    Exercise,
    NaturalCase,
    NaturalCaseKind,
    NaturalCaseState,
    NaturalCaseStep,
    NaturalObjection,
    NaturalOwnership,
    NaturalUnit,
    NaturalUnitStatus,
    Owner,
)
from registry.db.register import EntryType
from registry.services.access import Principal, audit, require, require_county
from registry.services.errors import DomainError, InvalidInput
from registry.services.natural_resources.units import (
    UnitDescription,
    check_description,
    current_unit,
    new_unit,
    predelimit_unit,
)
from registry.services.numbers import next_number
from registry.services.register import append_entry
from registry.services.timezone import local_date

S = NaturalCaseState
K = NaturalCaseKind


@dataclass(frozen=True)
class Step:
    label_zh: str
    roles: tuple[Role, ...]
    moves: dict[NaturalCaseKind, tuple[NaturalCaseState, NaturalCaseState]]
    not_by: tuple[str, ...] = ()  # case columns naming who may not take this step


STEPS: dict[str, Step] = {
    "notice": Step("发布首次登记通告", (Role.CLERK,), {K.FIRST: (S.PREDELIMITED, S.NOTICED)}),
    "survey": Step("录入地籍调查成果", (Role.CLERK,), {
        K.FIRST: (S.NOTICED, S.SURVEYED), K.CHANGE: (S.OPENED, S.SURVEYED),
        K.CORRECTION: (S.OPENED, S.SURVEYED)}),
    "review": Step("审核", (Role.REVIEWER,), {
        K.FIRST: (S.SURVEYED, S.REVIEWED), K.CHANGE: (S.SURVEYED, S.REVIEWED),
        K.CORRECTION: (S.SURVEYED, S.REVIEWED), K.CANCELLATION: (S.OPENED, S.REVIEWED)},
        not_by=("created_by",)),
    "publish": Step("公告", (Role.CLERK,), {
        kind: (S.REVIEWED, S.PUBLISHED) for kind in NaturalCaseKind}),
    "record": Step("登簿", (Role.REGISTRAR,), {
        kind: (S.PUBLISHED, S.RECORDED) for kind in NaturalCaseKind}, not_by=("reviewed_by",)),
}
# Where a review that does not pass sends the case (NRCASE-2).
REVIEW_RETURNS = {K.FIRST: S.NOTICED, K.CHANGE: S.OPENED, K.CORRECTION: S.OPENED,
                  K.CANCELLATION: S.OPENED}
OPEN = [s for s in NaturalCaseState if s is not S.RECORDED]


@dataclass(frozen=True)
class OwnershipInput:
    """权属状况 as the survey establishes it."""

    owner: Owner
    duty_body: str  # 所有者职责履行主体（代表行使主体）
    exercise: Exercise
    duty_content: str = ""
    agent_body: str | None = None  # 代理履行主体
    agent_content: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"owner": self.owner.value, "duty_body": self.duty_body,
                "exercise": self.exercise.value, "duty_content": self.duty_content,
                "agent_body": self.agent_body, "agent_content": self.agent_content}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OwnershipInput:
        return cls(owner=Owner(data["owner"]), duty_body=data["duty_body"],
                   exercise=Exercise(data["exercise"]), duty_content=data["duty_content"],
                   agent_body=data["agent_body"], agent_content=data["agent_content"])


def _checked_ownership(data: OwnershipInput) -> OwnershipInput:
    duty_body = data.duty_body.strip()
    if not duty_body:
        raise InvalidInput("REQUIRED_FIELD", "所有者职责履行主体不能为空",
                           "the body performing the owner's duties is required",
                           field="dutyBody")
    agent = (data.agent_body or "").strip() or None
    if (data.exercise is Exercise.ENTRUSTED) != (agent is not None):
        raise InvalidInput("NR_AGENT_MISMATCH", "委托代理行使须且只须填写代理履行主体",
                           "an agent is named exactly when ownership is exercised by entrustment")
    return OwnershipInput(owner=data.owner, duty_body=duty_body, exercise=data.exercise,
                          duty_content=data.duty_content.strip(), agent_body=agent,
                          agent_content=data.agent_content.strip())


# ------------------------------------------------------------------------- opening a case


def _case_number(session: Session, county_code: str, now: datetime) -> str:
    year = local_date(now).year
    serial = next_number(session, f"nr-case:{county_code}:{year}")
    return f"ZR{county_code}{year}{serial:06d}"


def _log(session: Session, case: NaturalCase, previous: NaturalCaseState | None,
         principal: Principal, now: datetime, note: str = "") -> None:
    session.add(NaturalCaseStep(case_id=case.id, from_state=None if previous is None
                                else previous.value, to_state=case.state.value, at=now,
                                by_user=principal.user_id, note=note))


def _no_open_case(session: Session, unit_code: str) -> None:
    open_case = session.scalar(select(NaturalCase.number).where(
        NaturalCase.unit_code == unit_code, NaturalCase.state.in_(OPEN)))
    if open_case is not None:
        raise DomainError("NR_CASE_OPEN", f"登记单元{unit_code}已有在办业务{open_case}",
                          f"unit {unit_code} already has the open case {open_case}",
                          {"case": open_case})


def predelimit(session: Session, principal: Principal | None, code: str,
               data: UnitDescription, pattern: str, now: datetime,
               request_id: str | None = None) -> NaturalCase:
    """预划登记单元: the unit drawn and a first-registration case opened for it."""
    actor = require(principal, Role.CLERK)
    unit = predelimit_unit(session, actor, code, data, pattern, now)
    case = NaturalCase(number=_case_number(session, unit.county_code, now), kind=K.FIRST,
                       state=S.PREDELIMITED, county_code=unit.county_code, unit_code=unit.code,
                       unit_id=unit.id, proposed={}, reason="", created_at=now,
                       created_by=actor.user_id)
    session.add(case)
    session.flush()
    _log(session, case, None, actor, now)
    # The case number, not the unit code, names the target: a 15-digit unit code looks like
    # a legacy ID number to PII-3's scrubber and would be masked in the log.
    audit(session, actor, "predelimitNaturalUnit", case.number, request_id)
    return case


def open_case(session: Session, principal: Principal | None, unit_code: str,
              kind: NaturalCaseKind, reason: str, now: datetime,
              description: UnitDescription | None = None,
              ownership: OwnershipInput | None = None,
              request_id: str | None = None) -> NaturalCase:
    """变更/注销/更正登记 of a registered unit (NRCASE-4, NRCASE-6)."""
    actor = require(principal, Role.CLERK)
    if kind is K.FIRST:
        raise InvalidInput("ILLEGAL_KIND", "首次登记从预划登记单元开始",
                           "a first registration starts with predelimitNaturalUnit")
    unit = current_unit(session, unit_code, lock=True)
    require_county(actor, unit.county_code)
    if unit.status is not NaturalUnitStatus.REGISTERED:
        raise DomainError("NR_UNIT_NOT_REGISTERED", f"登记单元{unit.code}未登簿或已注销",
                          f"unit {unit.code} is not registered", {"status": unit.status.value})
    _no_open_case(session, unit.code)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("REASON_REQUIRED", f"{kind.label_zh}须填写登记原因",
                           f"a {kind.value} needs a reason")
    proposed: dict[str, Any] = {}
    if kind in (K.CHANGE, K.CORRECTION):
        if description is None and ownership is None:
            raise InvalidInput("NOTHING_PROPOSED", f"{kind.label_zh}须提出变更内容",
                               f"a {kind.value} proposes a new description or ownership")
        if description is not None:
            if description.county_code != unit.county_code:
                raise InvalidInput("NR_COUNTY_CHANGE", "登记单元不能改变所在县",
                                   "a unit does not move to another county")
            checked, _ = check_description(session, actor, description)
            proposed["unit"] = checked.as_json()
        if ownership is not None:
            proposed["ownership"] = _checked_ownership(ownership).as_json()
    case = NaturalCase(number=_case_number(session, unit.county_code, now), kind=kind,
                       state=S.OPENED, county_code=unit.county_code, unit_code=unit.code,
                       unit_id=unit.id, proposed=proposed, reason=reason, created_at=now,
                       created_by=actor.user_id)
    session.add(case)
    session.flush()
    _log(session, case, None, actor, now, reason)
    audit(session, actor, f"openNaturalCase:{kind.value}", case.number, request_id)
    return case


# ---------------------------------------------------------------------------- the steps


def lock_case(session: Session, number: str) -> NaturalCase:
    case = session.scalar(select(NaturalCase).where(NaturalCase.number == number.strip())
                          .with_for_update())
    if case is None:
        raise DomainError("NR_CASE_NOT_FOUND", f"自然资源登记业务不存在：{number}",
                          f"no natural-resource case {number}", {"number": number})
    return case


def _move(session: Session, principal: Principal | None, number: str, action: str,
          now: datetime, note: str = "",
          work: Callable[[NaturalCase, Principal], None] | None = None,
          to_state: Callable[[NaturalCase], NaturalCaseState] | None = None) -> NaturalCase:
    """Take `action` on the case (NRCASE-2, NRCASE-3), running `work` before the move; the
    case moves to the step's state, or to `to_state` (a review that does not pass)."""
    step = STEPS[action]
    actor = require(principal, *step.roles)
    case = lock_case(session, number)
    require_county(actor, case.county_code)
    move = step.moves.get(case.kind)
    if move is None or case.state is not move[0]:
        raise DomainError("ILLEGAL_TRANSITION",
                          f"业务当前状态为“{case.state.label_zh}”，不能{step.label_zh}",
                          f"cannot {action} a {case.kind.value} case in state "
                          f"{case.state.value}", {"state": case.state.name, "action": action})
    for column in step.not_by:
        if getattr(case, column) == actor.user_id:
            raise DomainError("SEPARATION_OF_DUTIES", "同一人不能既受理又审核、既审核又登簿",
                              f"you already acted on this case ({column.removesuffix('_by')});"
                              " another person must take this step", {"conflict": column})
    if work is not None:
        work(case, actor)
    previous = case.state
    case.state = move[1] if to_state is None else to_state(case)
    _log(session, case, previous, actor, now, note)
    session.flush()
    audit(session, actor, f"naturalCase:{action}", case.number, None)
    return case


def issue_notice(session: Session, principal: Principal | None, number: str, notice_no: str,
                 now: datetime) -> NaturalCase:
    """首次登记通告 issued by the county government (its document number)."""
    notice_no = notice_no.strip()
    if not notice_no:
        raise InvalidInput("REQUIRED_FIELD", "通告文号不能为空", "the notice's number is required",
                           field="noticeNo")

    def work(case: NaturalCase, _: Principal) -> None:
        case.proposed = {**case.proposed, "notice_no": notice_no,
                         "noticed_on": local_date(now).isoformat()}
    return _move(session, principal, number, "notice", now, notice_no, work)


def record_survey(session: Session, principal: Principal | None, number: str,
                  ownership: OwnershipInput | None, note: str, now: datetime) -> NaturalCase:
    """地籍调查成果: the ownership found (required for a first registration: NRCASE-6), and
    the survey results scanned onto the case beforehand (NRCASE-8)."""
    from registry.services.documents import require_natural_documents

    checked = None if ownership is None else _checked_ownership(ownership)

    def work(case: NaturalCase, _: Principal) -> None:
        require_natural_documents(session, case)  # NRCASE-8, under the case's row lock
        if checked is None and case.kind is K.FIRST:
            raise InvalidInput("NR_OWNERSHIP_REQUIRED", "首次登记须录入权属状况",
                               "a first registration needs the ownership from the survey")
        proposed = dict(case.proposed)
        if checked is not None:
            proposed["ownership"] = checked.as_json()
        proposed["survey_note"] = note.strip()
        case.proposed = proposed
    return _move(session, principal, number, "survey", now, note.strip(), work)


def review(session: Session, principal: Principal | None, number: str, passed: bool,
           opinion: str, now: datetime) -> NaturalCase:
    """审核: passed → reviewed; not passed → back to the survey's start (NRCASE-2)."""
    opinion = opinion.strip()
    if not passed and not opinion:
        raise InvalidInput("REASON_REQUIRED", "审核不通过须填写意见",
                           "a review that does not pass needs an opinion")

    def work(case: NaturalCase, actor: Principal) -> None:
        case.reviewed_by = actor.user_id if passed else None
    if passed:
        return _move(session, principal, number, "review", now, opinion, work)
    return _move(session, principal, number, "review", now, f"审核不通过：{opinion}", work,
                 lambda case: REVIEW_RETURNS[case.kind])


def publish(session: Session, principal: Principal | None, number: str, now: datetime,
            working_days: int, holidays: tuple[date, ...] = ()) -> NaturalCase:
    """公告 from today, for `working_days` working days (NRCASE-5)."""
    first_day = local_date(now)

    def work(case: NaturalCase, _: Principal) -> None:
        case.notice_published_on = first_day
        case.notice_ends_on = notice_period_end(first_day, working_days, holidays)
    return _move(session, principal, number, "publish", now, "", work)


def receive_objection(session: Session, principal: Principal | None, number: str,
                      objector: str, content: str, now: datetime) -> NaturalObjection:
    """异议 received today, within the notice (NRCASE-5)."""
    actor = require(principal, Role.CLERK)
    case = lock_case(session, number)
    require_county(actor, case.county_code)
    objector, content = objector.strip(), content.strip()
    if not objector or not content:
        raise InvalidInput("REQUIRED_FIELD", "异议人和异议内容不能为空",
                           "the objector and the objection are required")
    today = local_date(now)
    if (case.state is not S.PUBLISHED or case.notice_published_on is None
            or case.notice_ends_on is None
            or not case.notice_published_on <= today <= case.notice_ends_on):
        period = (f"{case.notice_published_on}–{case.notice_ends_on}"
                  if case.notice_ends_on else "none")
        raise DomainError("NR_OBJECTION_OUTSIDE_PERIOD", "异议须在公告期内提出",
                          f"objections are received during the notice only ({period})",
                          {"notice_from": str(case.notice_published_on),
                           "notice_to": str(case.notice_ends_on), "today": str(today)})
    objection = NaturalObjection(case_id=case.id, received_on=today, objector=objector,
                                 content=content, received_by=actor.user_id)
    session.add(objection)
    session.flush()
    audit(session, actor, "receiveNaturalObjection", case.number, None)
    return objection


def answer_objection(session: Session, principal: Principal | None, objection_id: int,
                     answer: str, upheld: bool, now: datetime) -> NaturalObjection:
    """异议处理: answered by a reviewer; upheld sends the case back to surveyed (NRCASE-5)."""
    actor = require(principal, Role.REVIEWER)
    objection = session.get(NaturalObjection, objection_id, with_for_update=True)
    if objection is None:
        raise DomainError("NR_OBJECTION_NOT_FOUND", f"异议不存在：{objection_id}",
                          f"no objection {objection_id}", {"id": objection_id})
    case = session.get(NaturalCase, objection.case_id, with_for_update=True)
    assert case is not None
    require_county(actor, case.county_code)
    if objection.answered_at is not None:
        raise DomainError("NR_OBJECTION_ANSWERED", "该异议已处理", "already answered")
    answer = answer.strip()
    if not answer:
        raise InvalidInput("REQUIRED_FIELD", "处理意见不能为空", "the answer is required")
    objection.answer, objection.upheld = answer, upheld
    objection.answered_at, objection.answered_by = now, actor.user_id
    if upheld and case.state is S.PUBLISHED:
        previous, case.state = case.state, S.SURVEYED
        case.notice_published_on = case.notice_ends_on = None
        case.reviewed_by = None
        _log(session, case, previous, actor, now, f"异议成立：{answer}")
    session.flush()
    audit(session, actor, "answerNaturalObjection", case.number, None)
    return objection


# ------------------------------------------------------------------------------ recording

StateOfUnit = Callable[[Session, NaturalUnit], dict[str, Any]]


def _geometry_digest(session: Session, unit_id: int) -> str:
    return str(session.execute(text(
        "SELECT md5(ST_AsBinary(geom)) FROM nr_units WHERE id = :id"), {"id": unit_id}
    ).scalar_one())


def unit_record(session: Session, unit: NaturalUnit) -> dict[str, Any]:
    """The unit as a register entry records it (compared by VERIFY-7)."""
    session.refresh(unit)  # the computed area
    def number(value: Any) -> str | None:
        return None if value is None else str(value)
    return {"code": unit.code, "name": unit.name, "unit_type": unit.unit_type,
            "level": unit.level.value, "authority": unit.authority, "status": unit.status.value,
            "area_ha": str(unit.area_ha), "state_area_ha": number(unit.state_area_ha),
            "collective_area_ha": number(unit.collective_area_ha),
            "disputed_area_ha": number(unit.disputed_area_ha), "location": unit.location,
            "bounds": [unit.bound_east, unit.bound_south, unit.bound_west, unit.bound_north],
            "geometry_md5": _geometry_digest(session, unit.id)}


def _current_ownership(session: Session, unit_code: str) -> NaturalOwnership | None:
    return session.scalar(select(NaturalOwnership).where(
        NaturalOwnership.unit_code == unit_code, NaturalOwnership.ended_at.is_(None))
        .with_for_update())


def _replace_ownership(session: Session, case: NaturalCase, data: dict[str, Any] | None,
                       now: datetime, end_only: bool = False) -> NaturalOwnership | None:
    current = _current_ownership(session, case.unit_code)
    if data is None and not end_only:
        return current
    if current is not None:
        current.ended_at = now
        session.flush()
    if end_only or data is None:
        return None
    owned = OwnershipInput.from_json(data)
    row = NaturalOwnership(unit_code=case.unit_code, owner=owned.owner,
                           duty_body=owned.duty_body, exercise=owned.exercise,
                           duty_content=owned.duty_content, agent_body=owned.agent_body,
                           agent_content=owned.agent_content, case_id=case.id, begun_at=now)
    session.add(row)
    session.flush()
    return row


def ownership_record(row: NaturalOwnership | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"owner": row.owner.value, "duty_body": row.duty_body,
            "exercise": row.exercise.value, "duty_content": row.duty_content,
            "agent_body": row.agent_body, "agent_content": row.agent_content}


def record(session: Session, principal: Principal | None, number: str, now: datetime,
           natural_state: StateOfUnit | None = None) -> NaturalCase:
    """登簿 (NRCASE-5, NRCASE-7). `natural_state` adds what the entry records beside the unit
    and its ownership (areas by resource type, linked rights): procedure does not compute them
    itself, so that this module stays about the case."""
    today = local_date(now)

    def work(case: NaturalCase, actor: Principal) -> None:
        if case.notice_ends_on is None or today <= case.notice_ends_on:
            raise DomainError("NR_NOTICE_PERIOD_RUNNING",
                              f"公告期至{case.notice_ends_on}，期满后方可登簿",
                              f"the notice runs until {case.notice_ends_on}; record after it",
                              {"notice_to": str(case.notice_ends_on), "today": str(today)})
        pending = session.scalar(select(func.count()).select_from(NaturalObjection).where(
            NaturalObjection.case_id == case.id, NaturalObjection.answered_at.is_(None)))
        if pending:
            raise DomainError("NR_OBJECTION_UNANSWERED", f"尚有{pending}件异议未处理",
                              f"{pending} objection(s) not answered", {"pending": pending})
        unit = _apply(session, case, actor, now)
        case.recorded_by, case.recorded_at = actor.user_id, now
        ownership = _current_ownership(session, unit.code)
        body = {"natural_resource": {
            "case": case.number, "kind": case.kind.value, "reason": case.reason,
            "unit": unit_record(session, unit), "ownership": ownership_record(ownership),
            **(natural_state(session, unit) if natural_state is not None else {})}}
        append_entry(session, case.county_code, EntryType(f"nr_{case.kind.value}"), [], body,
                     now, actor.user_id)
    return _move(session, principal, number, "record", now, "", work)


def _apply(session: Session, case: NaturalCase, actor: Principal,
           now: datetime) -> NaturalUnit:
    """What recording does to the unit and its ownership (NRCASE-7)."""
    unit = session.get(NaturalUnit, case.unit_id, with_for_update=True)
    assert unit is not None
    if case.kind is K.FIRST:
        unit.status = NaturalUnitStatus.REGISTERED
        session.flush()
        _replace_ownership(session, case, case.proposed.get("ownership"), now)
        return unit
    if unit.ended_at is not None:  # cannot happen while NRCASE-4 holds; refuse, do not guess
        raise DomainError("NR_UNIT_CHANGED", "登记单元已被其他业务变更",
                          "the unit was changed by another case", {"unit": unit.code})
    unit.ended_at = now
    session.flush()
    if case.kind is K.CANCELLATION:
        description = UnitDescription.from_json(_description_of(session, unit))
        successor = new_unit(session, actor, unit.code, description,
                             _stored_geometry(session, unit.id), NaturalUnitStatus.CANCELLED,
                             now, predecessor=unit)
        _replace_ownership(session, case, None, now, end_only=True)
    else:
        proposed = case.proposed.get("unit")
        if proposed is not None:
            description, stored = check_description(session, actor,
                                                    UnitDescription.from_json(proposed))
        else:
            description = UnitDescription.from_json(_description_of(session, unit))
            stored = _stored_geometry(session, unit.id)
        successor = new_unit(session, actor, unit.code, description, stored,
                             NaturalUnitStatus.REGISTERED, now, predecessor=unit)
        _replace_ownership(session, case, case.proposed.get("ownership"), now)
    case.unit_id = successor.id
    return successor


def _stored_geometry(session: Session, unit_id: int) -> str:
    return str(session.execute(text("SELECT ST_AsEWKT(geom) FROM nr_units WHERE id = :id"),
                               {"id": unit_id}).scalar_one())


def _description_of(session: Session, unit: NaturalUnit) -> dict[str, Any]:
    """The unit's own description, in UnitDescription's JSON (geometry: GeoJSON in 4545)."""
    geometry = session.execute(text(
        "SELECT ST_AsGeoJSON(geom)::json FROM nr_units WHERE id = :id"), {"id": unit.id}
    ).scalar_one()
    def number(value: Any) -> str | None:
        return None if value is None else str(value)
    return {"name": unit.name, "unit_type": unit.unit_type, "county_code": unit.county_code,
            "level": unit.level.value, "authority": unit.authority, "geometry": geometry,
            "crs": 4545, "location": unit.location,
            "bounds": [unit.bound_east, unit.bound_south, unit.bound_west, unit.bound_north],
            "state_area_ha": number(unit.state_area_ha),
            "collective_area_ha": number(unit.collective_area_ha),
            "disputed_area_ha": number(unit.disputed_area_ha)}
