"""What the register says now about a unit: its current title and restrictions.

"Current" means status current and, for restrictions that lapse by law, not yet lapsed
(RESTRICT-1: an objection lapses 15 days after it is recorded unless a lawsuit follows, Civil
Code §220; an advance notice 90 days after it is recorded, §221 — a simplification of "90 days
after the main registration became possible"; a seizure at the end of its term). Reads apply
the lapse at once; `lapse_due` also writes it down (terminated, with a register entry), and runs
before every recording and from `registry lapse`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry.db.parties import Party
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


def right_summary(right: Right, holders: Sequence[tuple[Party, RightHolder]],
                   dominant_code: str | None = None) -> dict[str, Any]:
    """What a register entry says of a right it creates (VERIFY-2/3 replay it)."""
    return {
        "right": right.id, "kind": right.kind.value, "status": right.status.value,
        "right_type": right.right_type, "right_nature": right.right_nature,
        "co_ownership": right.co_ownership.value,
        "certificate": right.certificate_number, "predecessor": right.predecessor_id,
        "burdens": right.burdened_right_id,
        "amount": str(right.amount) if right.amount is not None else None,
        "authority": right.authority, "document_no": right.document_no, "note": right.note,
        "term": [str(right.term_start) if right.term_start else None,
                 str(right.term_end) if right.term_end else None],
        "lapses_at": right.lapses_at.isoformat() if right.lapses_at else None,
        "purpose": right.purpose, "dominant_unit": dominant_code,
        "priority_at": right.priority_at.isoformat() if right.priority_at else None,
        "seizure_type": right.seizure_type,
        "mortgage_mode": right.mortgage_mode.value if right.mortgage_mode else None,
        "max_amount": str(right.max_amount) if right.max_amount is not None else None,
        "claims": [str(right.claims_start) if right.claims_start else None,
                   str(right.claims_end) if right.claims_end else None],
        "holders": [{"party": p.id, "name": p.name, "id_type": p.id_type.value,
                     "id_number": p.id_number,
                     "share": (f"{h.share_numerator}/{h.share_denominator}"
                               if h.share_numerator is not None else None)}
                    for p, h in holders],
    }
