"""Rights and restrictions in the API (权利、限制)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from registry.api.parties import Holder
from registry.db.rights import CoOwnership, MortgageMode, RightKind, RightStatus

RightKindEnum = strawberry.enum(RightKind, name="RightKind",
                                description="权利或限制的种类 title right or restriction")
RightStatusEnum = strawberry.enum(RightStatus, name="RightStatus",
                                  description="权属状态 provisional/current/historic/terminated")
CoOwnershipEnum = strawberry.enum(CoOwnership, name="CoOwnership", description="共有方式")
MortgageModeEnum = strawberry.enum(MortgageMode, name="MortgageMode", description="抵押方式")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@strawberry.type(description="A right (title) or a restriction on it, with its holders")
class Right:
    id: strawberry.ID
    kind: RightKindEnum  # type: ignore[valid-type]
    status: RightStatusEnum  # type: ignore[valid-type]
    right_type: int | None = strawberry.field(description="权利类型 code (6 = 宅基地/房屋)")
    right_nature: int | None = strawberry.field(description="权利性质 (101 划拨, 102 出让 …)")
    co_ownership: CoOwnershipEnum  # type: ignore[valid-type]
    holders: list[Holder]
    begun_at: datetime = strawberry.field(description="登簿时间: when the register recorded it")
    ended_at: datetime | None
    term_start: date | None
    term_end: date | None
    lapses_at: datetime | None = strawberry.field(
        description="when an objection, advance notice or seizure lapses on its own")
    amount: Decimal | None = strawberry.field(description="抵押: secured amount (元)")
    authority: str | None = strawberry.field(description="查封机关")
    document_no: str | None
    certificate_number: str | None = strawberry.field(
        description="不动产权证书号 (title) or 不动产登记证明号 (mortgage, objection, notice)")
    burdened_right_id: strawberry.ID | None = strawberry.field(
        description="the title right a restriction burdens")
    predecessor_id: strawberry.ID | None = strawberry.field(
        description="the right this one replaced (transfer, change, correction)")
    application_number: str | None
    purpose: str | None = strawberry.field(description="地役权 利用目的")
    dominant_unit_code: str | None = strawberry.field(description="地役权 需役地 unit")
    servient_unit_code: str = strawberry.field(description="the unit the right is on "
                                                            "(供役地 for an easement)")
    mortgage_mode: MortgageModeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="抵押方式 GENERAL 一般抵押 / MAXIMUM 最高额抵押")
    max_amount: Decimal | None = strawberry.field(description="最高额抵押 最高债权额 (元)")
    claims_start: date | None = strawberry.field(description="最高额抵押 债权确定期间 start")
    claims_end: date | None
    rank: int | None = strawberry.field(description=(
        "抵押顺位 among the mortgages standing on the unit, by registration time (1 = first); "
        "none once the mortgage has ended"))
    seizure_type: int | None = strawberry.field(description=(
        "查封类型 1 查封 (effective) / 2 轮候查封 (waiting: status PROVISIONAL until the "
        "seizure ahead ends) / 5 续封"))

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Right:
        return cls(
            id=strawberry.ID(str(row["id"])), kind=RightKind(row["kind"]),
            status=RightStatus(row["status"]), right_type=row["right_type"],
            right_nature=row["right_nature"], co_ownership=CoOwnership(row["co_ownership"]),
            holders=[Holder.from_row(h) for h in row["holders"]],
            begun_at=_dt(row["begun_at"]), ended_at=_dt(row["ended_at"]),  # type: ignore[arg-type]
            term_start=_d(row["term_start"]), term_end=_d(row["term_end"]),
            lapses_at=_dt(row["lapses_at"]),
            amount=Decimal(row["amount"]) if row["amount"] is not None else None,
            authority=row["authority"], document_no=row["document_no"],
            certificate_number=row["certificate_number"],
            burdened_right_id=(strawberry.ID(str(row["burdened_right_id"]))
                               if row["burdened_right_id"] else None),
            predecessor_id=(strawberry.ID(str(row["predecessor_id"]))
                            if row["predecessor_id"] else None),
            application_number=row["application_number"], purpose=row["purpose"],
            dominant_unit_code=row["dominant_unit_code"],
            servient_unit_code=row["servient_unit_code"],
            mortgage_mode=MortgageMode(row["mortgage_mode"]) if row["mortgage_mode"] else None,
            max_amount=Decimal(row["max_amount"]) if row["max_amount"] is not None else None,
            claims_start=_d(row["claims_start"]), claims_end=_d(row["claims_end"]),
            rank=row["rank"], seizure_type=row["seizure_type"])
