"""Rights and restrictions in the API (权利、限制)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry

from registry.api.parties import Holder
from registry.db.rights import CoOwnership, RightKind, RightStatus

RightKindEnum = strawberry.enum(RightKind, name="RightKind",
                                description="权利或限制的种类 title right or restriction")
RightStatusEnum = strawberry.enum(RightStatus, name="RightStatus",
                                  description="权属状态 provisional/current/historic/terminated")
CoOwnershipEnum = strawberry.enum(CoOwnership, name="CoOwnership", description="共有方式")


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
            application_number=row["application_number"])
