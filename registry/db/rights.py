"""Rights, restrictions and their holders (LA_RRR): what the register says about a unit.

Rules enforced by the database (migration 0003):
- RIGHT-1 A unit has at most one current title right (所有权/使用权).
- RIGHT-2 A restriction (mortgage, seizure, objection, advance notice) burdens a title right;
  a title right burdens nothing.
- RIGHT-3 Co-ownership: `sole` has exactly one holder without a share; `joint` two or more
  without shares; `shares` every holder has a share and the shares sum to exactly 1
  (fractions, checked at commit: a deferred constraint trigger).
- RIGHT-4 Status 权属状态 follows the lifespan: provisional and current rights have no end;
  historic and terminated ones have `ended_at`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
from registry.db.types import enum_column


class RightKind(StrEnum):
    TITLE = "title"  # 所有权/使用权 (certificate 不动产权证书)
    MORTGAGE = "mortgage"  # 抵押权 (proof 不动产登记证明)
    SEIZURE = "seizure"  # 查封
    OBJECTION = "objection"  # 异议
    ADVANCE_NOTICE = "advance_notice"  # 预告登记
    RESIDENCE = "residence"  # 居住权 (Civil Code §366–371; proof)
    EASEMENT = "easement"  # 地役权 (权利类型 19; on the servient unit, proof)

    @property
    def label_zh(self) -> str:
        """The kind of right as users read it (messages)."""
        return RIGHT_KIND_LABEL_ZH[self]


RIGHT_KIND_LABEL_ZH: dict[RightKind, str] = {
    RightKind.TITLE: "所有权/使用权", RightKind.MORTGAGE: "抵押权", RightKind.SEIZURE: "查封",
    RightKind.OBJECTION: "异议登记", RightKind.ADVANCE_NOTICE: "预告登记",
    RightKind.RESIDENCE: "居住权", RightKind.EASEMENT: "地役权",
}


RESTRICTIONS = frozenset({RightKind.MORTGAGE, RightKind.SEIZURE, RightKind.OBJECTION,
                          RightKind.ADVANCE_NOTICE, RightKind.RESIDENCE, RightKind.EASEMENT})


class MortgageMode(StrEnum):
    """抵押方式 (national codes 1, 2; Civil Code §420–424 for the maximum-amount mortgage)."""

    GENERAL = "general"  # 1 一般抵押: 被担保债权数额
    MAXIMUM = "maximum"  # 2 最高额抵押: 最高债权额 and 债权确定期间

    @property
    def code(self) -> int:
        return 1 if self is MortgageMode.GENERAL else 2

    @property
    def label_zh(self) -> str:
        return "一般抵押" if self is MortgageMode.GENERAL else "最高额抵押"


class RightStatus(StrEnum):
    """权属状态 (national codes 0–3)."""

    PROVISIONAL = "provisional"  # 0 临时
    CURRENT = "current"  # 1 现势
    HISTORIC = "historic"  # 2 历史
    TERMINATED = "terminated"  # 3 终止


class CoOwnership(StrEnum):
    """共有方式 (national codes 0–3)."""

    SOLE = "sole"  # 0 单独所有
    JOINT = "joint"  # 1 共同共有
    SHARES = "shares"  # 2 按份共有
    NONE = "none"  # restrictions held by an authority (seizure), no co-ownership

    @property
    def label_zh(self) -> str:
        """共有情况 as a certificate prints it."""
        return CO_OWNERSHIP_LABEL_ZH[self]


CO_OWNERSHIP_LABEL_ZH: dict[CoOwnership, str] = {
    CoOwnership.SOLE: "单独所有", CoOwnership.JOINT: "共同共有", CoOwnership.SHARES: "按份共有",
    CoOwnership.NONE: "",
}


class Right(Base):
    __tablename__ = "rights"
    __table_args__ = (
        Index("uq_rights_one_current_title", "unit_id", unique=True,
              postgresql_where=text("kind = 'title' AND status = 'current'")),
        CheckConstraint("(kind = 'title') = (burdened_right_id IS NULL)",
                        name="restriction_burdens_title"),
        CheckConstraint("(status IN ('provisional', 'current')) = (ended_at IS NULL)",
                        name="lifespan_matches_status"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint("(kind::text = 'easement') = (dominant_unit_id IS NOT NULL)",
                        name="easement_has_dominant_unit"),
        CheckConstraint("(kind = 'mortgage') = (mortgage_mode IS NOT NULL)",
                        name="mortgage_has_mode"),
        CheckConstraint("mortgage_mode IS DISTINCT FROM 'maximum' OR (max_amount > 0"
                        " AND claims_start IS NOT NULL AND claims_end >= claims_start)",
                        name="maximum_mortgage_terms"),
        CheckConstraint("(kind::text = 'mortgage') = (priority_at IS NOT NULL)",
                        name="mortgage_has_priority"),
        CheckConstraint("(kind::text = 'seizure') = (seizure_type IS NOT NULL)",
                        name="seizure_has_type"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[RightKind] = mapped_column(enum_column(RightKind, "right_kind"))
    status: Mapped[RightStatus] = mapped_column(enum_column(RightStatus, "right_status"))
    right_type: Mapped[int | None] = mapped_column(Integer)  # 权利类型 code (6 = 宅基地/房屋)
    right_nature: Mapped[int | None] = mapped_column(Integer)  # 权利性质 (101 划拨 …)
    co_ownership: Mapped[CoOwnership] = mapped_column(enum_column(CoOwnership, "co_ownership"))
    begun_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # 登簿时间
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    term_start: Mapped[date | None] = mapped_column(Date)  # 使用期限
    term_end: Mapped[date | None] = mapped_column(Date)
    lapses_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    burdened_right_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"), index=True)
    predecessor_id: Mapped[int | None] = mapped_column(ForeignKey("rights.id"))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))  # 被担保债权数额 (元)
    authority: Mapped[str | None] = mapped_column(String(128))  # 查封机关 (court)
    document_no: Mapped[str | None] = mapped_column(String(128))  # 文书号
    certificate_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    ended_by_application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    # 地役权: the dominant unit (需役地) it serves, and what for (利用目的); also 居住权's purpose
    dominant_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    purpose: Mapped[str | None] = mapped_column(Text)
    # 抵押: 抵押方式; for a maximum-amount mortgage 最高债权额 and 债权确定期间
    mortgage_mode: Mapped[MortgageMode | None] = mapped_column(
        enum_column(MortgageMode, "mortgage_mode"))
    max_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    claims_start: Mapped[date | None] = mapped_column(Date)
    claims_end: Mapped[date | None] = mapped_column(Date)
    # 抵押: the time its rank counts from (MORTGAGE-2: kept through change and transfer)
    priority_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # 查封类型 (1 查封, 2 轮候查封, 3 预查封, 4 轮候预查封, 5 续封): SEIZURE-1..4
    seizure_type: Mapped[int | None] = mapped_column(SmallInteger)


class RightHolder(Base):
    """A holder of a right; `share` = numerator/denominator when held by shares (按份共有)."""

    __tablename__ = "right_holders"
    __table_args__ = (
        CheckConstraint(
            "(share_numerator IS NULL AND share_denominator IS NULL) OR"
            " (share_numerator > 0 AND share_denominator > 0"
            " AND share_numerator <= share_denominator)",
            name="share_is_a_fraction"),
    )

    right_id: Mapped[int] = mapped_column(ForeignKey("rights.id"), primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True,
                                          index=True)
    share_numerator: Mapped[int | None] = mapped_column(BigInteger)
    share_denominator: Mapped[int | None] = mapped_column(BigInteger)
