"""What a paper prints, read from the register (PAPER-2).

- PAPER-2 A certificate (不动产权证书) or proof (不动产登记证明) prints the register as it stands
  for its right: the fields of the national 2015 templates (../shared/domain.md §12), each taken
  from one column or code list named here, never typed in by the printer. Only a certificate of
  a recorded right that is still current (its number issued, not voided) is printed
  (NOT_PRINTABLE otherwise). Holders
  are printed by name (the 2015 record page carries no ID number), in the order they were named.

Choices where the national templates leave room:
- 面积: the parcel's area (宗地面积, computed by PostGIS), and for a building its floor area (房屋
  建筑面积) or a parking space's area, as `共有宗地面积 …㎡/房屋建筑面积 …㎡`.
- 用途: the parcel's land use (its name in the classification it was recorded in), and for a
  house 住宅.
- 权利其他状况: the unit's attributes (幢号, 层数, 结构; 车库, 层, 车位号; 设施类别, 管理单位).
- 使用期限: the right's term (`起 … 止 …`); a homestead or a title without a term prints 长期.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import CertificateKind
from registry.codes.rights import right_nature_label, right_type_label
from registry.db.parties import Party
from registry.db.reference import LandUseCode
from registry.db.register import Certificate, CertificateStatus, IssuingAuthority
from registry.db.rights import (
    CoOwnership,
    MortgageMode,
    Right,
    RightHolder,
    RightKind,
    RightStatus,
)
from registry.db.spatial import Parcel
from registry.db.units import Unit, UnitKind
from registry.services.errors import DomainError, NotFound
from registry.services.registration.encumbrances import mortgage_rank
from registry.services.timezone import local_date


@dataclass(frozen=True)
class Holder:
    name: str
    share: str  # "1/2" for 按份共有, "" otherwise


@dataclass(frozen=True)
class PaperRecord:
    """The fields of a certificate or proof, as printed."""

    kind: str  # "certificate" | "proof"
    title: str  # 不动产权证书 / 不动产登记证明
    number: str
    authority: str  # 登记机构
    issued_on: date
    holders: list[Holder]
    co_ownership: str  # 共有情况
    location: str  # 坐落
    unit_code: str  # 不动产单元号
    right_type: str  # 权利类型 (certificate) / 证明权利或事项 (proof)
    right_nature: str
    use: str
    area: str
    term: str
    other: list[str]  # 权利其他状况 (certificate) / 其他 (proof)
    note: str  # 附记
    obligors: list[str] = field(default_factory=list)  # 义务人 (proof)
    parcel_id: int = 0
    unit_kind: str = ""

    def as_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["issued_on"] = f"{self.issued_on.year}年{self.issued_on.month}月{self.issued_on.day}日"
        return data


def _area(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}㎡"


def _term(right: Right) -> str:
    if right.term_start is None and right.term_end is None:
        return "长期"
    start = right.term_start.isoformat() if right.term_start else ""
    end = right.term_end.isoformat() if right.term_end else "长期"
    return f"{start}起{end}止"


def _holders(session: Session, right: Right) -> list[Holder]:
    rows = session.execute(
        select(Party.name, RightHolder.share_numerator, RightHolder.share_denominator)
        .join(RightHolder, RightHolder.party_id == Party.id)
        .where(RightHolder.right_id == right.id)
        .order_by(Party.id)).all()
    shares = right.co_ownership is CoOwnership.SHARES
    return [Holder(name=r.name, share=f"{r.share_numerator}/{r.share_denominator}"
                   if shares and r.share_denominator else "") for r in rows]


def unit_other(unit: Unit) -> list[str]:
    if unit.kind is UnitKind.RURAL_HOUSE:
        parts = [f"幢号：{unit.building_no}" if unit.building_no else "",
                 f"总层数：{unit.floors}" if unit.floors else "",
                 f"房屋结构：{unit.structure}" if unit.structure else ""]
    elif unit.kind is UnitKind.PARKING_SPACE:
        parts = [f"车库：{unit.garage}" if unit.garage else "",
                 f"所在层：{unit.level}" if unit.level is not None else "",
                 f"车位号：{unit.space_no}" if unit.space_no else "",
                 "人防车位" if unit.civil_defence else ""]
    elif unit.kind is UnitKind.INFRASTRUCTURE:
        parts = [f"设施类别：{unit.category.label_zh}" if unit.category is not None else "",
                 f"管理单位：{unit.managing_body}" if unit.managing_body else ""]
    else:
        parts = []
    return [p for p in parts if p]


def _use_and_area(session: Session, unit: Unit, parcel: Parcel) -> tuple[str, str]:
    land_use = session.scalar(select(LandUseCode.name).where(
        LandUseCode.system == parcel.land_use_system, LandUseCode.code == parcel.land_use_code))
    use = land_use or parcel.land_use_code
    area = f"宗地面积{_area(parcel.area)}"
    if unit.kind is UnitKind.RURAL_HOUSE:
        use = f"{use}/住宅"
        if unit.floor_area is not None:
            area += f"/房屋建筑面积{_area(unit.floor_area)}"
    elif unit.kind is UnitKind.PARKING_SPACE and unit.space_area is not None:
        area = f"共有宗地面积{_area(parcel.area)}/车位面积{_area(unit.space_area)}"
    return use, area


def proof_other(session: Session, right: Right) -> list[str]:
    """其他 on a proof: what the register says of this kind of right beyond its holders."""
    other = [f"被担保债权数额：{right.amount:,.2f}元"] if right.amount is not None else []
    if right.kind is RightKind.MORTGAGE:
        mode = right.mortgage_mode or MortgageMode.GENERAL
        other.insert(0, f"抵押方式：{mode.label_zh}")
        if mode is MortgageMode.MAXIMUM:
            other.append(f"最高债权额：{right.max_amount:,.2f}元")
            other.append(f"债权确定期间：{right.claims_start}起{right.claims_end}止")
        other.append(f"债务履行期限：{_term(right)}")
        rank = mortgage_rank(session, right)
        if rank is not None:
            other.append(f"抵押顺位：第{rank}顺位")
    elif right.kind is RightKind.RESIDENCE:
        other.append("居住期限：" + (_term(right) if right.term_end else "终身（至居住权人死亡）"))
        other.append("居住权不得转让、继承")
    elif right.kind is RightKind.EASEMENT:
        dominant = session.get(Unit, right.dominant_unit_id)
        other.append(f"需役地不动产单元号：{dominant.code if dominant else ''}")
        other.append(f"供役地不动产单元号：{session.get(Unit, right.unit_id).code}")  # type: ignore[union-attr]
        other.append(f"利用目的：{right.purpose or ''}")
        other.append(f"地役权期限：{_term(right)}")
    return other


def paper_record(session: Session, number: str) -> PaperRecord:
    """PAPER-2: the record of certificate `number` (NOT_FOUND, NOT_PRINTABLE)."""
    certificate = session.scalars(select(Certificate).where(
        Certificate.number == number)).one_or_none()
    if certificate is None:
        raise NotFound("证书", "certificate", number)
    if certificate.status is CertificateStatus.VOIDED:
        raise DomainError("NOT_PRINTABLE", "证书已作废，不能打印", "the certificate is voided",
                          {"number": number, "status": certificate.status.name})
    right = session.get(Right, certificate.right_id)
    assert right is not None
    if right.status is not RightStatus.CURRENT:
        raise DomainError("NOT_PRINTABLE", "证书所载权利已非现势，不能打印",
                          "the certificate's right is no longer current",
                          {"number": number, "status": right.status.name})
    unit = session.get(Unit, right.unit_id)
    assert unit is not None
    parcel = session.get(Parcel, unit.parcel_id)
    assert parcel is not None
    authority = session.get(IssuingAuthority, unit.county_code)
    use, area = _use_and_area(session, unit, parcel)
    holders = _holders(session, right)
    proof = certificate.kind is CertificateKind.PROOF
    other = unit_other(unit)
    obligors: list[str] = []
    if proof:
        burdened = session.get(Right, right.burdened_right_id) if right.burdened_right_id else None
        obligors = [h.name for h in _holders(session, burdened)] if burdened else []
        other = proof_other(session, right)
    return PaperRecord(
        kind="proof" if proof else "certificate", title=certificate.kind.label_zh,
        number=certificate.number,
        authority=f"{authority.name}不动产登记机构" if authority else certificate.authority,
        issued_on=local_date(certificate.issued_at), holders=holders,
        co_ownership=right.co_ownership.label_zh, location=unit.location, unit_code=unit.code,
        right_type=(right.kind.label_zh if proof else right_type_label(right.right_type)),
        right_nature=right_nature_label(right.right_nature), use=use, area=area,
        term=_term(right), other=other, note=right.note or "", obligors=obligors,
        parcel_id=parcel.id, unit_kind=unit.kind.label_zh)
