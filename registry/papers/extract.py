"""The register of a unit as it stood at a moment (EXTRACT-1), for the 登记簿 extract and the
query result certificate (registry/papers/query_result.py).

- EXTRACT-1 The register as of T is rebuilt from what the register keeps, never from what a
  clerk types: a right stands at T when it began (登簿) at or before T and had not ended by T
  (`ended_at`, or its term ran out: `lapses_at`); a right begun after T is not shown at all; a
  right ended by T shows its final status (历史 / 终止) and the case that ended it. Entries
  (登记簿记载) are those naming the unit recorded at or before T. The same T gives the same
  pages whenever they are printed, since rights are only ever ended, never rewritten
  (RIGHT-4, REGISTER-1).
- EXTRACT-2 Pages: 宗地 (natural state of the parcel), 房屋/构筑物/车位 (the unit), then one page
  per kind of right that the unit ever had by T (所有权/使用权, 抵押权, 查封, 异议, 预告), each
  entry with 业务号, 登记类型, 登记时间, 登簿人 and 附记, then the log of register entries with
  the first 16 hex digits of each entry's hash. Holders print with ID numbers masked (PII-2: an
  extract is a read of the register, not the owning case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from registry.codes.rights import right_nature_label, right_type_label
from registry.db.access import User
from registry.db.parties import Party
from registry.db.reference import LandUseCode
from registry.db.register import EntryType, RegisterEntry
from registry.db.rights import Right, RightHolder, RightKind, RightStatus
from registry.db.spatial import Parcel
from registry.db.units import Unit
from registry.papers.records import unit_other
from registry.services.pii import mask_id_number
from registry.services.timezone import local_date, local_time

STATUS_ZH = {RightStatus.CURRENT: "现势", RightStatus.HISTORIC: "历史",
             RightStatus.TERMINATED: "终止", RightStatus.PROVISIONAL: "临时"}
# The pages of rights, in the order the register prints them.
RIGHT_PAGES = ((RightKind.TITLE, "所有权/使用权登记信息"), (RightKind.MORTGAGE, "抵押权登记信息"),
               (RightKind.RESIDENCE, "居住权登记信息"), (RightKind.EASEMENT, "地役权登记信息"),
               (RightKind.SEIZURE, "查封登记信息"), (RightKind.OBJECTION, "异议登记信息"),
               (RightKind.ADVANCE_NOTICE, "预告登记信息"))


def moment(value: datetime) -> str:
    """A time as the papers print it: China time, to the second."""
    local = local_time(value)
    return f"{local:%Y-%m-%d %H:%M:%S}"


def stood_at(right: Right, at: datetime) -> bool:
    """EXTRACT-1: did `right` stand at `at`?"""
    if right.begun_at > at:
        return False
    if right.ended_at is not None and right.ended_at <= at:
        return False
    return right.lapses_at is None or right.lapses_at > at


def standing_at(at: datetime) -> ColumnElement[bool]:
    """`stood_at` as SQL, for look-ups over many rights."""
    return and_(Right.begun_at <= at, or_(Right.ended_at.is_(None), Right.ended_at > at),
                or_(Right.lapses_at.is_(None), Right.lapses_at > at))


@dataclass(frozen=True)
class RightAsOf:
    """One right of the unit as the register shows it at T."""

    right: Right
    standing: bool
    holders: list[dict[str, str]]  # name, id (masked), share


def rights_as_of(session: Session, unit_id: int, at: datetime,
                 benefiting: bool = False) -> list[RightAsOf]:
    """Every right of the unit begun by `at` (or, `benefiting`, every easement it is the
    dominant unit of), oldest first, with its holders (two statements)."""
    on = Right.dominant_unit_id if benefiting else Right.unit_id
    rights = list(session.scalars(select(Right).where(
        on == unit_id, Right.begun_at <= at).order_by(Right.begun_at, Right.id)))
    holders: dict[int, list[dict[str, str]]] = {r.id: [] for r in rights}
    if rights:
        rows = session.execute(
            select(RightHolder.right_id, Party.name, Party.id_type, Party.id_number,
                   RightHolder.share_numerator, RightHolder.share_denominator)
            .join(Party, Party.id == RightHolder.party_id)
            .where(RightHolder.right_id.in_(list(holders))).order_by(Party.id)).all()
        for row in rows:
            holders[row.right_id].append({
                "name": row.name, "id": mask_id_number(row.id_type, row.id_number),
                "share": (f"{row.share_numerator}/{row.share_denominator}"
                          if row.share_denominator else "")})
    return [RightAsOf(right=r, standing=stood_at(r, at), holders=holders[r.id])
            for r in rights]


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}元"


def _term(right: Right) -> str:
    if right.term_start is None and right.term_end is None:
        return ""
    start = right.term_start.isoformat() if right.term_start else ""
    end = right.term_end.isoformat() if right.term_end else "长期"
    return f"{start}起{end}止"


def parcel_page(session: Session, parcel: Parcel) -> list[list[str]]:
    land_use = session.scalar(select(LandUseCode.name).where(
        LandUseCode.system == parcel.land_use_system, LandUseCode.code == parcel.land_use_code))
    rows = [["宗地代码", parcel.code], ["坐落", parcel.location],
            ["宗地面积", f"{parcel.area:.2f}㎡"],
            ["用途", f"{land_use or ''}（{parcel.land_use_code}）"],
            ["权利设定方式", parcel.layer.label_zh]]
    if parcel.declared_area is not None:
        rows.append(["申报面积", f"{parcel.declared_area:.2f}㎡"])
    return rows


def unit_page(unit: Unit) -> list[list[str]]:
    rows = [["不动产单元号", unit.code], ["单元类型", unit.kind.label_zh], ["坐落", unit.location]]
    if unit.floor_area is not None:
        rows.append(["建筑面积", f"{unit.floor_area:.2f}㎡"])
    if unit.space_area is not None:
        rows.append(["车位面积", f"{unit.space_area:.2f}㎡"])
    if unit.length_m is not None:
        rows.append(["长度", f"{unit.length_m:.2f}m"])
    if unit.capacity:
        rows.append(["规模", unit.capacity])
    if unit.completion_year:
        rows.append(["建成年份", str(unit.completion_year)])
    rows.extend([part.split("：", 1) for part in unit_other(unit)])
    return rows


@dataclass(frozen=True)
class Recording:
    """Who recorded a case, and how (from its register entry)."""

    number: str
    entry_type: str
    recorded_at: str
    recorder: str


def recordings(session: Session, entries: list[RegisterEntry]) -> dict[int, Recording]:
    """The recording of each case named by `entries`, by application id."""
    users = {u.id: u.display_name for u in session.scalars(select(User).where(
        User.id.in_({e.recorded_by for e in entries if e.recorded_by is not None})))}
    found: dict[int, Recording] = {}
    for e in entries:
        if e.application_id is not None:
            found[e.application_id] = Recording(
                number=str(e.payload.get("application") or ""),
                entry_type=EntryType(e.entry_type).label_zh, recorded_at=moment(e.recorded_at),
                recorder=users.get(e.recorded_by, "") if e.recorded_by else "")
    return found


def _right_entry(r: RightAsOf, made: Recording | None, ended: Recording | None,
                 at: datetime, units: dict[int, str]) -> dict[str, Any]:
    right = r.right
    if r.standing:
        status = STATUS_ZH[RightStatus.CURRENT]
    elif right.ended_at is not None and right.ended_at <= at:
        status = STATUS_ZH[right.status]
    else:  # its term ran out by T, written down (lapse) later or not yet
        status = STATUS_ZH[RightStatus.TERMINATED]
    fields = [["状态", status]]
    if right.kind is RightKind.TITLE:
        fields += [["权利类型", right_type_label(right.right_type)],
                   ["权利性质", right_nature_label(right.right_nature)],
                   ["共有情况", right.co_ownership.label_zh]]
    if right.mortgage_mode is not None:
        fields.append(["抵押方式", right.mortgage_mode.label_zh])
    if right.amount is not None:
        fields.append(["被担保债权数额", _money(right.amount)])
    if right.max_amount is not None:
        fields += [["最高债权额", _money(right.max_amount)],
                   ["债权确定期间", f"{right.claims_start}起{right.claims_end}止"]]
    if right.purpose:
        fields.append(["利用目的", right.purpose])
    if right.kind is RightKind.EASEMENT:
        fields += [["供役地", units.get(right.unit_id, "")],
                   ["需役地", units.get(right.dominant_unit_id or 0, "")]]
    if right.authority:
        fields.append(["机关", right.authority])
    if right.document_no:
        fields.append(["文书号", right.document_no])
    if term := _term(right):
        fields.append(["期限", term])
    if right.certificate_number:
        fields.append(["证书（证明）号", right.certificate_number])
    if ended is not None and not r.standing:
        fields.append(["注销业务号", f"{ended.number}（{ended.entry_type}，{ended.recorded_at}）"])
    elif right.lapses_at is not None and not r.standing:
        fields.append(["失效时间", moment(right.lapses_at)])
    return {
        "holders": [f"{h['name']}（{h['id']}）" + (f" {h['share']}" if h["share"] else "")
                    for h in r.holders],
        "number": made.number if made else "", "entry_type": made.entry_type if made else "",
        "recorded_at": made.recorded_at if made else moment(right.begun_at),
        "recorder": made.recorder if made else "", "note": right.note or "",
        "fields": fields}


def unit_entries(session: Session, unit_code: str, at: datetime) -> list[RegisterEntry]:
    """The register entries naming the unit, recorded at or before `at`, in chain order."""
    return list(session.scalars(select(RegisterEntry).where(
        RegisterEntry.unit_codes.op("@>")(cast([unit_code], ARRAY(String(28)))),
        RegisterEntry.recorded_at <= at)
        .order_by(RegisterEntry.county_code, RegisterEntry.seq)))


def register_pages(session: Session, unit: Unit, at: datetime) -> dict[str, Any]:
    """EXTRACT-1/2: the pages of `unit`'s register as of `at`, as the template reads them."""
    parcel = session.get(Parcel, unit.parcel_id)
    assert parcel is not None
    entries = unit_entries(session, unit.code, at)
    made = recordings(session, entries)
    rights = rights_as_of(session, unit.id, at)
    benefits = rights_as_of(session, unit.id, at, benefiting=True)  # EASEMENT-2
    named = {r.right.unit_id for r in benefits} | {
        r.right.dominant_unit_id for r in rights if r.right.dominant_unit_id}
    units = {u.id: u.code for u in session.scalars(select(Unit).where(Unit.id.in_(named)))}
    units[unit.id] = unit.code
    pages = []
    for title, of_kind in [*((t, [r for r in rights if r.right.kind is k])
                             for k, t in RIGHT_PAGES),
                           ("地役权登记信息（本单元为需役地）", benefits)]:
        if of_kind:
            pages.append({"title": title, "entries": [
                _right_entry(r, made.get(r.right.application_id),
                             made.get(r.right.ended_by_application_id)
                             if r.right.ended_by_application_id else None, at, units)
                for r in of_kind]})
    log = [{"seq": str(e.seq), "number": str(e.payload.get("application") or ""),
            "entry_type": EntryType(e.entry_type).label_zh, "recorded_at": moment(e.recorded_at),
            "hash": e.hash[:16]} for e in entries]
    return {"unit_code": unit.code, "location": unit.location,
            "as_of": moment(at), "as_of_date": local_date(at).isoformat(),
            "parcel": parcel_page(session, parcel), "unit": unit_page(unit),
            "rights": pages, "log": log}
