"""Users, their API tokens, and the audit trail of every change (访问控制与审计)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
from registry.db.types import enum_column


class Role(StrEnum):
    """角色. A user may hold several."""

    CLERK = "clerk"  # 受理人员: parcels, units, applications, acceptance
    REVIEWER = "reviewer"  # 审核人员
    REGISTRAR = "registrar"  # 登簿人员: records in the register, issues certificates
    AUDITOR = "auditor"  # 资产清查: reads every county, writes nothing
    STATISTICIAN = "statistician"  # 统计人员: aggregated figures only
    TRADING_CENTER = "trading_center"  # 产权交易中心: the quota ledger
    ADMIN = "admin"  # 管理员

    @property
    def label_zh(self) -> str:
        """The role as users read it (messages)."""
        return ROLE_LABEL_ZH[self]


ROLE_LABEL_ZH: dict[Role, str] = {
    Role.CLERK: "受理人员", Role.REVIEWER: "审核人员", Role.REGISTRAR: "登簿人员",
    Role.AUDITOR: "资产清查人员", Role.STATISTICIAN: "统计人员",
    Role.TRADING_CENTER: "产权交易中心", Role.ADMIN: "管理员",
}


class User(Base):
    """A person or system that calls the API; `county_code` NULL means every county."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    roles: Mapped[list[Role]] = mapped_column(ARRAY(enum_column(Role, "user_role")))
    county_code: Mapped[str | None] = mapped_column(String(12), ForeignKey("divisions.code"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """审计日志: who changed what, when, under which request id. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
