"""Applications (登记业务): a case moving through apply → accept → review → record → certify.

Rules enforced by the database (migration 0003):
- CASE-1 The business number is unique; numbers are issued gaplessly per county and year.
- CASE-2 Every change of state is a stored transition (who, when, why, request id); the
  transitions table is append-only.
- CASE-3 Separation of duties: whoever accepted a case does not review it, whoever reviewed it
  does not record it (CHECKs on the actor columns).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
from registry.db.types import enum_column


class ApplicationKind(StrEnum):
    """What is applied for. `REGISTRATION_TYPE` gives the national 登记类型 code."""

    FIRST = "first"  # 首次登记
    TRANSFER = "transfer"  # 转移登记
    CHANGE = "change"  # 变更登记 (holder's name, use …; same holders)
    CANCELLATION = "cancellation"  # 注销登记
    CORRECTION = "correction"  # 更正登记
    MORTGAGE = "mortgage"  # 抵押权首次登记
    MORTGAGE_CANCELLATION = "mortgage_cancellation"  # 抵押权注销登记
    SEIZURE = "seizure"  # 查封登记
    SEIZURE_RELEASE = "seizure_release"  # 解封
    OBJECTION = "objection"  # 异议登记
    ADVANCE_NOTICE = "advance_notice"  # 预告登记
    RESIDENCE = "residence"  # 居住权登记
    RESIDENCE_CANCELLATION = "residence_cancellation"  # 居住权注销登记
    EASEMENT = "easement"  # 地役权首次登记
    EASEMENT_CANCELLATION = "easement_cancellation"  # 地役权注销登记
    MORTGAGE_CHANGE = "mortgage_change"  # 抵押权变更登记
    MORTGAGE_TRANSFER = "mortgage_transfer"  # 抵押权转移登记
    CERTIFICATE_REPLACEMENT = "certificate_replacement"  # 换证 (a damaged certificate)
    CERTIFICATE_REISSUE = "certificate_reissue"  # 补证 (a lost certificate)
    SEIZURE_RENEWAL = "seizure_renewal"  # 续封
    SPLIT = "split"  # 分割登记 (a change registration, 实施细则 §26)
    MERGE = "merge"  # 合并登记 (a change registration, 实施细则 §26)


REGISTRATION_TYPE: dict[ApplicationKind, int] = {
    ApplicationKind.FIRST: 100,
    ApplicationKind.TRANSFER: 200,
    ApplicationKind.CHANGE: 300,
    ApplicationKind.CANCELLATION: 400,
    ApplicationKind.CORRECTION: 500,
    ApplicationKind.OBJECTION: 600,
    ApplicationKind.ADVANCE_NOTICE: 700,
    ApplicationKind.SEIZURE: 800,
    ApplicationKind.SEIZURE_RELEASE: 800,
    # mortgage registrations use the same types on the mortgage right itself
    ApplicationKind.MORTGAGE: 100,
    ApplicationKind.MORTGAGE_CANCELLATION: 400,
    ApplicationKind.RESIDENCE: 100,
    ApplicationKind.RESIDENCE_CANCELLATION: 400,
    ApplicationKind.EASEMENT: 100,
    ApplicationKind.EASEMENT_CANCELLATION: 400,
    ApplicationKind.MORTGAGE_CHANGE: 300,
    ApplicationKind.MORTGAGE_TRANSFER: 200,
    ApplicationKind.CERTIFICATE_REPLACEMENT: 900,  # 其他登记
    ApplicationKind.CERTIFICATE_REISSUE: 900,
    ApplicationKind.SEIZURE_RENEWAL: 800,
    ApplicationKind.SPLIT: 300,
    ApplicationKind.MERGE: 300,
}


class ApplicationState(StrEnum):
    SUBMITTED = "submitted"  # 申请
    ACCEPTED = "accepted"  # 受理
    REVIEWED = "reviewed"  # 审核
    RECORDED = "recorded"  # 登簿
    CERTIFIED = "certified"  # 缮证、发证
    REFUSED = "refused"  # 不予受理
    REJECTED = "rejected"  # 不予登记
    WITHDRAWN = "withdrawn"  # 撤回

    @property
    def label_zh(self) -> str:
        """The state as users read it (已受理 …); the one table every Chinese message uses."""
        return STATE_LABEL_ZH[self]


STATE_LABEL_ZH: dict[ApplicationState, str] = {
    ApplicationState.SUBMITTED: "已申请",
    ApplicationState.ACCEPTED: "已受理",
    ApplicationState.REVIEWED: "已审核",
    ApplicationState.RECORDED: "已登簿",
    ApplicationState.CERTIFIED: "已发证",
    ApplicationState.REFUSED: "不予受理",
    ApplicationState.REJECTED: "不予登记",
    ApplicationState.WITHDRAWN: "已撤回",
}


OPEN_STATES = frozenset({ApplicationState.SUBMITTED, ApplicationState.ACCEPTED,
                         ApplicationState.REVIEWED})


class PartyRole(StrEnum):
    HOLDER = "holder"  # 权利人 of the right applied for (mortgagee, objector, notice holder)
    OBLIGOR = "obligor"  # 义务人 (seller, mortgagor)


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint("reviewed_by IS NULL OR reviewed_by IS DISTINCT FROM accepted_by",
                        name="reviewer_is_not_acceptor"),
        CheckConstraint("recorded_by IS NULL OR recorded_by IS DISTINCT FROM reviewed_by",
                        name="recorder_is_not_reviewer"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # 业务号
    kind: Mapped[ApplicationKind] = mapped_column(enum_column(ApplicationKind,
                                                              "application_kind"))
    registration_type: Mapped[int] = mapped_column(Integer)
    state: Mapped[ApplicationState] = mapped_column(
        enum_column(ApplicationState, "application_state"), index=True)
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"),
                                             index=True)
    # What is asked for: right type, co-ownership, term, amount, authority, … (see services)
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # (rights also point at applications: this key is added after both tables exist)
    target_right_id: Mapped[int | None] = mapped_column(
        ForeignKey("rights.id", use_alter=True, name="fk_applications_target_right_id_rights"))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, default="")


class ApplicationUnit(Base):
    __tablename__ = "application_units"

    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"),
                                                primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)


class ApplicationParty(Base):
    __tablename__ = "application_parties"
    __table_args__ = (
        CheckConstraint(
            "(share_numerator IS NULL AND share_denominator IS NULL) OR"
            " (share_numerator > 0 AND share_denominator > 0"
            " AND share_numerator <= share_denominator)",
            name="share_is_a_fraction"),
    )

    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"),
                                                primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True,
                                          index=True)
    role: Mapped[PartyRole] = mapped_column(enum_column(PartyRole, "party_role"),
                                            primary_key=True)
    share_numerator: Mapped[int | None] = mapped_column(BigInteger)
    share_denominator: Mapped[int | None] = mapped_column(BigInteger)


class Transition(Base):
    """One step of a case, kept forever (CASE-2)."""

    __tablename__ = "application_transitions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    from_state: Mapped[ApplicationState | None] = mapped_column(
        enum_column(ApplicationState, "application_state"))
    to_state: Mapped[ApplicationState] = mapped_column(
        enum_column(ApplicationState, "application_state"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[str | None] = mapped_column(String(64))


class NumberCounter(Base):
    """Row-locked counters for gapless numbers (business numbers, certificate serials)."""

    __tablename__ = "number_counters"

    series: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)
