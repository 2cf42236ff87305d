"""Court-commissioned seizures (嘱托查封): the effective seizure, the queue of waiting seizures
(轮候查封) behind it, renewal (续封). The bureau records what the court's notice says and does
not review its merits; the court's document is required (document requirements: court_order).

- SEIZURE-1 查封类型 [sure]: 1 查封 (effective), 2 轮候查封 (waiting), 5 续封 (a renewed
  seizure; effective). A seizure recorded while another stands effective on the unit is a
  waiting seizure: status PROVISIONAL (临时), no lapse time, its term (the court's, default
  3 years: the longest a seizure of real estate may last) kept for when it takes effect.
  `seizureType: WAITING` asked for on a unit with no effective seizure is refused
  (NO_EFFECTIVE_SEIZURE).
- SEIZURE-2 When the effective seizure ends (released, or lapsed at its term), the first
  waiting seizure (by recording time) takes effect by itself, in the same transaction: it
  becomes historic and a successor stands effective from that moment, its term counted from
  then; a register entry (轮候查封生效) says so. The unit row is locked first, so of two ends
  racing, exactly one promotes one waiting seizure.
- SEIZURE-3 A renewal (续封, `SEIZURE_RENEWAL`, `targetRightId` the effective seizure, a new
  `termEnd` after the old, the court and its document) replaces it with a successor of type 5
  that lapses at the new term; the queue behind it stays.
- SEIZURE-4 A waiting seizure can itself be released (SEIZURE_RELEASE naming it); it leaves
  the queue.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.applications import Application, ApplicationKind
from registry.db.rights import Right, RightKind, RightStatus
from registry.db.units import Unit
from registry.services.errors import DomainError, InvalidInput
from registry.services.registration.rights import current_title
from registry.services.timezone import end_of_day, local_date

EFFECTIVE, WAITING, RENEWED = 1, 2, 5
DEFAULT_TERM = timedelta(days=3 * 365)


def effective_seizure(session: Session, unit_id: int, now: datetime) -> Right | None:
    return session.scalar(select(Right).where(
        Right.unit_id == unit_id, Right.kind == RightKind.SEIZURE,
        Right.status == RightStatus.CURRENT,
        (Right.lapses_at.is_(None)) | (Right.lapses_at > now)).order_by(Right.id).limit(1))


def waiting_seizures(session: Session, unit_id: int) -> list[Right]:
    """The queue, first in line first."""
    return list(session.scalars(select(Right).where(
        Right.unit_id == unit_id, Right.kind == RightKind.SEIZURE,
        Right.status == RightStatus.PROVISIONAL).order_by(Right.begun_at, Right.id)))


def check_submission(session: Session, kind: ApplicationKind, unit: Unit, terms: dict[str, Any],
                     target_right_id: int | None, now: datetime,
                     at_recording: bool = False) -> None:
    """SEIZURE-1 at submission (by recording, the seizure ahead may have ended: the waiting
    one then simply takes effect), SEIZURE-3 at submission and again at recording."""
    if (kind is ApplicationKind.SEIZURE and terms.get("seizure_type") == WAITING
            and not at_recording and effective_seizure(session, unit.id, now) is None):
        raise DomainError("NO_EFFECTIVE_SEIZURE", "该单元无现势查封，不能办理轮候查封",
                          "a waiting seizure needs an effective seizure ahead of it",
                          {"unit": unit.code})
    if kind is ApplicationKind.SEIZURE_RENEWAL:
        current = effective_seizure(session, unit.id, now)
        if current is None or current.id != target_right_id:
            raise DomainError("TARGET_NOT_CURRENT", "指定的查封不是该单元的现势查封",
                              f"right {target_right_id} is not the effective seizure of "
                              f"unit {unit.code}", {"unit": unit.code})
        end = terms.get("term_end")
        if not end or (current.term_end is not None
                       and date.fromisoformat(end) <= current.term_end):
            raise InvalidInput("INVALID_TERM", "续封须填写晚于原查封期限的新期限",
                               "a renewal gives a new termEnd after the current one")


def new_seizure_state(session: Session, unit: Unit, now: datetime) -> dict[str, Any]:
    """SEIZURE-1: the columns of a seizure recorded now — effective, or waiting in line."""
    if effective_seizure(session, unit.id, now) is None:
        return {"status": RightStatus.CURRENT, "seizure_type": EFFECTIVE}
    return {"status": RightStatus.PROVISIONAL, "seizure_type": WAITING, "lapses_at": None,
            "term_start": None, "term_end": None}


def waiting_term(application: Application) -> timedelta:
    """How long a waiting seizure lasts once it takes effect: the court's term as given
    (end − start, or end − the day it was recorded), else three years."""
    terms = application.terms
    if not terms.get("term_end"):
        return DEFAULT_TERM
    start = (date.fromisoformat(terms["term_start"]) if terms.get("term_start")
             else local_date(application.recorded_at or application.submitted_at))
    return date.fromisoformat(terms["term_end"]) - start


def court_case(session: Session, seizure: Right) -> Application:
    """The court's seizure case behind a seizure, also when a split or merge carried it onto
    a new unit (SPLIT-6: the carried seizure's own case is the split)."""
    right: Right | None = seizure
    while right is not None:
        application = session.get(Application, right.application_id)
        assert application is not None
        if application.kind is ApplicationKind.SEIZURE or right.predecessor_id is None:
            return application
        right = session.get(Right, right.predecessor_id)
    raise AssertionError(seizure.id)  # pragma: no cover - the loop returns


def promote_next(session: Session, unit: Unit, now: datetime) -> tuple[Right, Right] | None:
    """SEIZURE-2: if no seizure stands effective, the first waiting one takes effect now.
    Returns (the waiting seizure, its effective successor); the caller writes the entry.
    The unit must be locked by the caller."""
    if effective_seizure(session, unit.id, now) is not None:
        return None
    queue = waiting_seizures(session, unit.id)
    if not queue:
        return None
    waiting = queue[0]
    application = court_case(session, waiting)
    start = local_date(now)
    end = start + waiting_term(application)
    title = current_title(session, unit.id)
    # It ended because its own case took effect: the successor and the entry name that case.
    waiting.status, waiting.ended_at = RightStatus.HISTORIC, now
    waiting.ended_by_application_id = waiting.application_id
    session.flush()
    successor = Right(
        unit_id=unit.id, kind=RightKind.SEIZURE, status=RightStatus.CURRENT,
        co_ownership=waiting.co_ownership, begun_at=now, term_start=start, term_end=end,
        lapses_at=end_of_day(end),
        burdened_right_id=title.id if title is not None else waiting.burdened_right_id,
        predecessor_id=waiting.id, authority=waiting.authority,
        document_no=waiting.document_no, application_id=waiting.application_id,
        note=waiting.note, seizure_type=EFFECTIVE)
    session.add(successor)
    session.flush()
    return waiting, successor
