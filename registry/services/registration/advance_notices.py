"""Advance notice to full registration (预告登记转本登记), Civil Code §221 [sure].

- ADVANCE-1 A transfer or mortgage that names a standing advance notice of the unit
  (`targetRightId`) completes it: its holders are exactly the notice's holders
  (NOTICE_HOLDERS_MISMATCH), and recording ends the notice (terminated, ended by this case)
  in the transaction that creates the full right, so the two are linked both ways.
- ADVANCE-2 While an advance notice stands, a transfer or mortgage that does not complete it
  is refused (UNIT_UNDER_ADVANCE_NOTICE): disposal without the notice holder's consent has no
  effect in rem. The notice still lapses 90 days after it was recorded (RESTRICT-1).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from registry.db.applications import ApplicationKind
from registry.db.rights import Right, RightKind
from registry.db.units import Unit
from registry.services.errors import DomainError
from registry.services.registration.rights import current_restrictions, holders_of

COMPLETES_NOTICE = frozenset({ApplicationKind.TRANSFER, ApplicationKind.MORTGAGE})


def check(session: Session, kind: ApplicationKind, unit: Unit, target_right_id: int | None,
          now: datetime) -> Right | None:
    """ADVANCE-1/2 for one unit; the notice the case completes, if any."""
    if kind not in COMPLETES_NOTICE:
        return None
    notices = current_restrictions(session, unit.id, now, RightKind.ADVANCE_NOTICE)
    if target_right_id is None:
        if notices:
            raise DomainError("UNIT_UNDER_ADVANCE_NOTICE",
                              f"该单元已办理预告登记，须由预告权利人办理本登记：{unit.code}",
                              "an advance notice stands: only its holders' full registration "
                              "(naming it as targetRightId) may proceed",
                              {"unit": unit.code, "notice": notices[0].id})
        return None
    found = next((n for n in notices if n.id == target_right_id), None)
    if found is None:
        raise DomainError("TARGET_NOT_CURRENT", "指定的预告登记不是该单元的现势权利",
                          f"right {target_right_id} is not a standing advance notice on unit "
                          f"{unit.code}", {"unit": unit.code})
    return found


def require_same_holders(session: Session, notice: Right, party_ids: Sequence[int]) -> None:
    """ADVANCE-1: the full right goes to exactly the notice's holders."""
    if {h.party_id for h in holders_of(session, notice.id)} != set(party_ids):
        raise DomainError("NOTICE_HOLDERS_MISMATCH", "本登记的权利人须与预告登记的权利人一致",
                          "the full registration's holders are the advance notice's holders",
                          {"notice": notice.id})
