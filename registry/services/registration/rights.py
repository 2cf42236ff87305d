"""What the register says now about a unit: its current title and restrictions.

"Current" means status current and, for restrictions that lapse by law, not yet lapsed
(RESTRICT-1: an objection lapses 15 days after it is recorded unless a lawsuit follows, Civil
Code §220; an advance notice 90 days after it is recorded, §221 — a simplification of "90 days
after the main registration became possible"; a seizure at the end of its term). Reads apply
the lapse at once; `lapse_due` also writes it down (terminated, with a register entry), and runs
before every recording and from `registry lapse`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry.db.rights import RESTRICTIONS, Right, RightHolder, RightKind, RightStatus
from registry.db.units import Unit
from registry.services.errors import DomainError

OBJECTION_LAPSE = timedelta(days=15)
ADVANCE_NOTICE_LAPSE = timedelta(days=90)


def current_title(session: Session, unit_id: int) -> Right | None:
    return session.scalar(select(Right).where(Right.unit_id == unit_id,
                                              Right.kind == RightKind.TITLE,
                                              Right.status == RightStatus.CURRENT))


def current_restrictions(session: Session, unit_id: int, now: datetime,
                         kind: RightKind | None = None) -> list[Right]:
    kinds = [kind] if kind is not None else sorted(RESTRICTIONS)
    return list(session.scalars(
        select(Right).where(Right.unit_id == unit_id, Right.kind.in_(kinds),
                            Right.status == RightStatus.CURRENT,
                            or_(Right.lapses_at.is_(None), Right.lapses_at > now))
        .order_by(Right.id)))


def holders_of(session: Session, right_id: int) -> list[RightHolder]:
    return list(session.scalars(select(RightHolder).where(RightHolder.right_id == right_id)
                                .order_by(RightHolder.party_id)))


def require_not_seized(session: Session, unit: Unit, now: datetime) -> None:
    """A seized unit can be neither transferred nor mortgaged (UNIT_SEIZED)."""
    seizures = current_restrictions(session, unit.id, now, RightKind.SEIZURE)
    if seizures:
        seizure = seizures[0]
        raise DomainError("UNIT_SEIZED", f"不动产单元已被查封（{seizure.authority}）：{unit.code}",
                          f"unit {unit.code} is seized by {seizure.authority}",
                          {"unit": unit.code, "authority": seizure.authority,
                           "document_no": seizure.document_no})


def lapse_due(session: Session, now: datetime, unit_ids: list[int] | None = None) -> list[Right]:
    """Terminate restrictions whose time has run out; returns them (locked, updated)."""
    query = (select(Right).where(Right.status == RightStatus.CURRENT,
                                 Right.lapses_at <= now).order_by(Right.id).with_for_update())
    if unit_ids is not None:
        query = query.where(Right.unit_id.in_(unit_ids))
    lapsed = list(session.scalars(query))
    for right in lapsed:
        right.status = RightStatus.TERMINATED
        right.ended_at = right.lapses_at
    session.flush()
    return lapsed
