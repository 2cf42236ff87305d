"""Rights others hold on a titled unit beyond the mortgage's amount: the right of residence
(居住权), the easement (地役权), the maximum-amount mortgage (最高额抵押) and mortgage rank (顺位).
Submission (applications.py) and recording (recording.py) call this module; the rules of these
kinds are stated and checked here, once.

- RESIDENCE-1 A right of residence (Civil Code §366–371) is held by natural persons only
  (RESIDENCE_HOLDER_NOT_PERSON), on a house (rural house or other building unit; not land,
  a road or a parking space: RESIDENCE_NOT_A_HOUSE), granted by the title's holders (they are
  the case's 义务人). It has a term or is for life (no `termEnd`).
- RESIDENCE-2 It is neither transferable nor inheritable: a transfer of the house keeps it
  standing on the unit (restrictions stand on the unit, not on one title), and no case moves
  it to another holder. It ends by cancellation (e.g. the holder's death, with the document)
  or at its term (written down by `registry lapse`).
- EASEMENT-1 An easement (权利类型 19) is recorded on the servient unit (供役地, the case's unit)
  for the benefit of the dominant unit (需役地, `dominantUnitCode`), another unit of the same
  county with a current title. Its holders are the dominant title's holders and its 义务人 the
  servient title's holders (applied for jointly, 实施细则 §60): neither is typed in. Its purpose
  (利用目的) is required.
- EASEMENT-2 The easement is shown on both units' registers: on the servient unit as its
  right, on the dominant unit as an easement it benefits from; the register entry names both
  units. It ends by cancellation or at its term.
- MORTGAGE-1 A mortgage is ordinary (一般抵押: 被担保债权数额 `amount` > 0) or maximum-amount
  (最高额抵押, Civil Code §420–424: 最高债权额 `maxAmount` > 0 and 债权确定期间 `claimsStart`…
  `claimsEnd`; `amount` may be left out).
- MORTGAGE-2 Rank (顺位, Civil Code §414): among the mortgages standing on a unit, by the time
  they were recorded (`priority_at`); rank 1 is the oldest standing. A released mortgage frees
  its rank: the later ones move up. Rank is computed when read (reads.RIGHT_JSON, papers),
  never stored.
- MORTGAGE-3 A mortgage change (抵押权变更: amount, term, ceiling or claims period; at least
  one, NOTHING_TO_CHANGE otherwise) or transfer (抵押权转移, with the debt, to the holders
  named) replaces the mortgage named by `targetRightId` with a successor: the old one becomes
  historic, the new one keeps what was not changed, its holders (change) or takes the new
  ones (transfer), keeps its rank (`priority_at`), and gets a new proof. A change is applied
  for by mortgagee and mortgagors (the title's holders are 义务人); a transfer by the old and
  new mortgagees (the old are 义务人). Only a mortgage is transferred this way: a right of
  residence never is (RESIDENCE_NOT_TRANSFERABLE, RESIDENCE-2).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.applications import ApplicationKind
from registry.db.parties import PartyKind
from registry.db.rights import MortgageMode, Right, RightKind, RightStatus
from registry.db.units import Unit, UnitKind
from registry.services.errors import DomainError, InvalidInput, NotFound

if TYPE_CHECKING:
    from registry.services.registration.applications import ApplicationInput

# The national 权利类型 a restriction carries (19 地役权 [sure]; 居住权 has none seen [unsure]).
RESTRICTION_RIGHT_TYPE = {RightKind.EASEMENT: 19}
HOUSES = frozenset({UnitKind.RURAL_HOUSE})
# Kinds whose holders are taken from the register rather than typed in (EASEMENT-1,
# MORTGAGE-3).
HOLDERS_FROM_REGISTER = frozenset({ApplicationKind.EASEMENT, ApplicationKind.MORTGAGE_CHANGE})
# Kinds whose 义务人 are the holders of the (servient) unit's current title.
TITLE_HOLDERS_ARE_OBLIGORS = frozenset({ApplicationKind.TRANSFER, ApplicationKind.MORTGAGE,
                                        ApplicationKind.RESIDENCE, ApplicationKind.EASEMENT,
                                        ApplicationKind.MORTGAGE_CHANGE})
# MORTGAGE-3: kinds that replace the mortgage named by targetRightId with a successor.
SUCCEEDS_MORTGAGE = frozenset({ApplicationKind.MORTGAGE_CHANGE,
                               ApplicationKind.MORTGAGE_TRANSFER})
MORTGAGE_TERMS = ("amount", "term_start", "term_end", "max_amount", "claims_start",
                  "claims_end")


def check_terms(data: ApplicationInput) -> None:
    """RESIDENCE-1, EASEMENT-1, MORTGAGE-1: what each kind's application must say."""
    kind = data.kind
    if kind is ApplicationKind.RESIDENCE and any(
            h.party.kind is not PartyKind.PERSON for h in data.holders):
        raise InvalidInput("RESIDENCE_HOLDER_NOT_PERSON", "居住权人须为自然人",
                           "a right of residence is held by natural persons only")
    if kind is ApplicationKind.EASEMENT:
        if not data.dominant_unit_code:
            raise InvalidInput("DOMINANT_UNIT_REQUIRED", "地役权登记须指明需役地不动产单元",
                               "an easement names the dominant unit (dominantUnitCode)")
        if not (data.purpose or "").strip():
            raise InvalidInput("PURPOSE_REQUIRED", "地役权登记须填写利用目的",
                               "an easement states its purpose", field="purpose")
    if kind is ApplicationKind.MORTGAGE:
        mode = data.mortgage_mode or MortgageMode.GENERAL
        if mode is MortgageMode.GENERAL and (data.amount is None or data.amount <= 0):
            raise InvalidInput("INVALID_AMOUNT", "一般抵押须填写大于0的被担保债权数额",
                               "an ordinary mortgage needs a secured amount above 0")
        if mode is MortgageMode.MAXIMUM:
            if data.max_amount is None or data.max_amount <= 0:
                raise InvalidInput("INVALID_AMOUNT", "最高额抵押须填写大于0的最高债权额",
                                   "a maximum-amount mortgage needs maxAmount above 0")
            if data.claims_start is None or data.claims_end is None or (
                    data.claims_end < data.claims_start):
                raise InvalidInput("INVALID_TERM", "最高额抵押须填写债权确定期间（起止日期）",
                                   "a maximum-amount mortgage needs claimsStart ≤ claimsEnd")
    elif kind is ApplicationKind.MORTGAGE_CHANGE:
        if data.mortgage_mode is not None:
            raise InvalidInput("TERMS_NOT_EXPECTED", "抵押方式不能变更",
                               "a mortgage change keeps its mode (mortgageMode)")
        if all(getattr(data, name) is None for name in MORTGAGE_TERMS):
            raise InvalidInput("NOTHING_TO_CHANGE", "抵押权变更须填写变更后的数额、期限或"
                               "最高债权额、债权确定期间",
                               "a mortgage change names what changes")
        for name in ("amount", "max_amount"):
            value = getattr(data, name)
            if value is not None and value <= 0:
                raise InvalidInput("INVALID_AMOUNT", "数额须大于0", f"{name} must be above 0")
    elif data.mortgage_mode or data.max_amount or data.claims_start or data.claims_end:
        raise InvalidInput("TERMS_NOT_EXPECTED", "只有抵押登记填写抵押方式和最高债权额",
                           "mortgage terms are given only on a mortgage application")


def check_units(session: Session, data: ApplicationInput, units: Sequence[Unit]) -> Unit | None:
    """RESIDENCE-1 and EASEMENT-1 on the units; returns the dominant unit of an easement."""
    if data.kind is ApplicationKind.RESIDENCE:
        for unit in units:
            if unit.kind not in HOUSES:
                raise DomainError("RESIDENCE_NOT_A_HOUSE", f"居住权只能设立在住宅上：{unit.code}",
                                  f"a right of residence is on a house, not {unit.kind.value}",
                                  {"unit": unit.code})
    if data.kind is not ApplicationKind.EASEMENT:
        return None
    assert data.dominant_unit_code is not None
    if len(units) != 1:
        raise InvalidInput("ONE_SERVIENT_UNIT", "地役权登记只指明一个供役地不动产单元",
                           "an easement names one servient unit")
    code = data.dominant_unit_code.strip().upper()
    dominant = session.scalar(select(Unit).where(Unit.code == code))
    if dominant is None:
        raise NotFound("需役地不动产单元", "dominant unit", code[:40])
    if dominant.id == units[0].id or dominant.county_code != units[0].county_code:
        raise DomainError("BAD_DOMINANT_UNIT", "需役地须为同一县区内的另一不动产单元",
                          "the dominant unit is another unit of the same county",
                          {"unit": dominant.code})
    if _title(session, dominant.id) is None:
        raise DomainError("NO_CURRENT_TITLE", f"需役地无现势权利：{dominant.code}",
                          f"dominant unit {dominant.code} has no current title",
                          {"unit": dominant.code})
    return dominant


def _title(session: Session, unit_id: int) -> Right | None:
    return session.scalar(select(Right).where(Right.unit_id == unit_id,
                                              Right.kind == RightKind.TITLE,
                                              Right.status == RightStatus.CURRENT))


def terms(data: ApplicationInput, dominant: Unit | None) -> dict[str, Any]:
    """What the case keeps of these kinds' terms (read back by `right_columns`)."""
    found: dict[str, Any] = {}
    if data.purpose and data.purpose.strip():
        found["purpose"] = data.purpose.strip()
    if dominant is not None:
        found["dominant_unit_id"] = dominant.id
        found["dominant_unit_code"] = dominant.code
    if data.kind is ApplicationKind.MORTGAGE:
        found["mortgage_mode"] = (data.mortgage_mode or MortgageMode.GENERAL).value
        if data.max_amount is not None:
            found["max_amount"] = str(data.max_amount)
        if data.claims_start is not None and data.claims_end is not None:
            found["claims"] = [data.claims_start.isoformat(), data.claims_end.isoformat()]
    return found


def right_columns(kind: RightKind, case_terms: dict[str, Any]) -> dict[str, Any]:
    """The columns of a right recorded from a case with these terms."""
    claims = case_terms.get("claims") or [None, None]
    columns: dict[str, Any] = {
        "purpose": case_terms.get("purpose"),
        "dominant_unit_id": case_terms.get("dominant_unit_id")
        if kind is RightKind.EASEMENT else None,
        "mortgage_mode": MortgageMode(case_terms.get("mortgage_mode") or "general")
        if kind is RightKind.MORTGAGE else None,
        "max_amount": Decimal(case_terms["max_amount"]) if case_terms.get("max_amount") else None,
        "claims_start": date.fromisoformat(claims[0]) if claims[0] else None,
        "claims_end": date.fromisoformat(claims[1]) if claims[1] else None,
    }
    return columns


# MORTGAGE-2 in SQL: the rank of mortgage `r` among those standing on its unit at :now.
RANK_SQL = """CASE WHEN r.kind = 'mortgage' AND r.status = 'current'
                    AND (r.lapses_at IS NULL OR r.lapses_at > :now) THEN
    (SELECT count(*) FROM rights m
      WHERE m.unit_id = r.unit_id AND m.kind = 'mortgage' AND m.status = 'current'
        AND (m.lapses_at IS NULL OR m.lapses_at > :now)
        AND (m.priority_at, m.id) <= (r.priority_at, r.id)) END"""


def mortgage_rank(session: Session, right: Right) -> int | None:
    """MORTGAGE-2 for one mortgage standing now (None if it does not stand)."""
    if right.kind is not RightKind.MORTGAGE or right.status is not RightStatus.CURRENT:
        return None
    standing = session.execute(select(Right.priority_at, Right.id).where(
        Right.unit_id == right.unit_id, Right.kind == RightKind.MORTGAGE,
        Right.status == RightStatus.CURRENT)).all()
    mine = (right.priority_at, right.id)
    return sum(1 for priority_at, right_id in standing if (priority_at, right_id) <= mine)


def check_target(session: Session, kind: ApplicationKind, unit: Unit,
                 target_right_id: int | None) -> None:
    """MORTGAGE-3: the target of a mortgage change or transfer is a mortgage standing on the
    unit; a right of residence is never transferred (RESIDENCE-2)."""
    target = session.get(Right, target_right_id) if target_right_id is not None else None
    if (kind is ApplicationKind.MORTGAGE_TRANSFER and target is not None
            and target.kind is RightKind.RESIDENCE):
        raise DomainError("RESIDENCE_NOT_TRANSFERABLE", "居住权不得转让",
                          "a right of residence cannot be transferred (Civil Code §369)",
                          {"right": target.id})
    if (target is None or target.unit_id != unit.id or target.kind is not RightKind.MORTGAGE
            or target.status is not RightStatus.CURRENT):
        raise DomainError("TARGET_NOT_CURRENT", "指定的抵押权不是该单元的现势权利",
                          f"right {target_right_id} is not a current mortgage on unit "
                          f"{unit.code}", {"unit": unit.code})


def successor_terms(session: Session, data: ApplicationInput) -> dict[str, Any]:
    """MORTGAGE-3: the successor's terms, the mortgage's own where the case changes nothing."""
    old = session.get(Right, data.target_right_id)
    assert old is not None and old.mortgage_mode is not None
    def given(name: str, current: Any) -> Any:
        value = getattr(data, name) if data.kind is ApplicationKind.MORTGAGE_CHANGE else None
        return current if value is None else value
    claims = (given("claims_start", old.claims_start), given("claims_end", old.claims_end))
    amount, max_amount = given("amount", old.amount), given("max_amount", old.max_amount)
    term = (given("term_start", old.term_start), given("term_end", old.term_end))
    if (term[0] and term[1] and term[1] < term[0]) or (
            claims[0] and claims[1] and claims[1] < claims[0]):
        raise InvalidInput("INVALID_TERM", "期限的终止日早于起始日",
                           "the term ends before it starts")
    return {"mortgage_mode": old.mortgage_mode.value,
            "amount": str(amount) if amount is not None else None,
            "max_amount": str(max_amount) if max_amount is not None else None,
            "claims": [c.isoformat() if c else None for c in claims],
            "term_start": term[0].isoformat() if term[0] else None,
            "term_end": term[1].isoformat() if term[1] else None}
