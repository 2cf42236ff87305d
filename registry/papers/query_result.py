"""What a query result certificate (不动产登记查询结果证明) says (QUERY-1), read from the register
as of the query time (EXTRACT-1).

- QUERY-1 Who is told what (不动产登记资料查询暂行办法 §§14–19 [likely], ../shared/domain.md §12):
  * HOLDER (权利人本人) and AUTHORITY (国家机关, e.g. a court) are told everything the register
    holds for the unit: holders (ID numbers masked, PII-2), right type and nature, certificate
    numbers, and each standing restriction with its holder, amount, authority and document.
  * INTERESTED (利害关系人) are told the unit's natural state and only *whether* it is held in
    common and whether a mortgage, advance notice, objection or seizure stands on it: no
    names, no amounts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes.rights import right_type_label
from registry.db.rights import CoOwnership, Right, RightHolder, RightKind
from registry.db.spatial import Parcel
from registry.db.units import Unit
from registry.papers.extract import RightAsOf, moment, rights_as_of, standing_at


class RequesterKind(StrEnum):
    HOLDER = "holder"  # 权利人本人
    INTERESTED = "interested"  # 利害关系人
    AUTHORITY = "authority"  # 国家机关

    @property
    def label_zh(self) -> str:
        return {RequesterKind.HOLDER: "权利人", RequesterKind.INTERESTED: "利害关系人",
                RequesterKind.AUTHORITY: "国家机关"}[self]


RESTRICTION_ZH = {RightKind.MORTGAGE: "抵押", RightKind.ADVANCE_NOTICE: "预告登记",
                  RightKind.OBJECTION: "异议登记", RightKind.SEIZURE: "查封",
                  RightKind.RESIDENCE: "居住权", RightKind.EASEMENT: "地役权"}


def _restriction(r: RightAsOf) -> str:
    right = r.right
    parts = [RESTRICTION_ZH[right.kind]]
    if r.holders:
        parts.append("权利人：" + "、".join(h["name"] for h in r.holders))
    if right.amount is not None:
        parts.append(f"被担保债权数额：{right.amount:,.2f}元")
    if right.authority:
        parts.append(f"机关：{right.authority}")
    if right.document_no:
        parts.append(f"文书号：{right.document_no}")
    if right.certificate_number:
        parts.append(f"证明号：{right.certificate_number}")
    parts.append(f"登簿时间：{moment(right.begun_at)}")
    return "；".join(parts)


def unit_result(session: Session, unit: Unit, at: datetime,
                told: RequesterKind) -> dict[str, Any]:
    """QUERY-1: what the register says of `unit` at `at`, to a requester of kind `told`."""
    parcel = session.get(Parcel, unit.parcel_id)
    assert parcel is not None
    standing = [r for r in rights_as_of(session, unit.id, at) if r.standing]
    title = next((r for r in standing if r.right.kind is RightKind.TITLE), None)
    restrictions = [r for r in standing if r.right.kind is not RightKind.TITLE]
    rows: list[list[str]] = [["不动产单元号", unit.code], ["坐落", unit.location],
                             ["单元类型", unit.kind.label_zh],
                             ["宗地面积", f"{parcel.area:.2f}㎡"]]
    if unit.floor_area is not None:
        rows.append(["建筑面积", f"{unit.floor_area:.2f}㎡"])
    rows.append(["登记状况", "已登记" if title is not None else "未登记（无现势所有权/使用权）"])
    if told is RequesterKind.INTERESTED:
        if title is not None:
            shared = title.right.co_ownership in (CoOwnership.JOINT, CoOwnership.SHARES)
            rows.append(["是否共有", "是" if shared else "否"])
        for kind, label in RESTRICTION_ZH.items():
            rows.append([f"是否存在{label}",
                         "是" if any(r.right.kind is kind for r in restrictions) else "否"])
        return {"rows": rows}
    if title is not None:
        rows += [["权利人", "、".join(f"{h['name']}（{h['id']}）" + (
                      f" {h['share']}" if h["share"] else "") for h in title.holders)],
                 ["共有情况", title.right.co_ownership.label_zh],
                 ["权利类型", right_type_label(title.right.right_type)],
                 ["不动产权证书号", title.right.certificate_number or ""],
                 ["登簿时间", moment(title.right.begun_at)]]
    rows.append(["限制及他项权利", "\n".join(_restriction(r) for r in restrictions) or "无"])
    return {"rows": rows}


def held_units(session: Session, party_id: int | None, county_code: str,
               at: datetime) -> list[Unit]:
    """The units of the county on which the party held a title standing at `at`
    (QUERY-4: the issuing county's register only), by unit code."""
    if party_id is None:
        return []
    return list(session.scalars(
        select(Unit).join(Right, Right.unit_id == Unit.id)
        .join(RightHolder, RightHolder.right_id == Right.id)
        .where(RightHolder.party_id == party_id, Unit.county_code == county_code,
               Right.kind == RightKind.TITLE, standing_at(at))
        .order_by(Unit.code)))
