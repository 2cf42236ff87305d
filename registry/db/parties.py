"""Parties (权利人/义务人): people and organisations that hold or owe rights.

- PARTY-1 One party per (ID type, ID number): the same number is the same party.
- PARTY-2 ID numbers are stored canonical (validated by registry.codes); who sees them in
  full is PII-1..3 in registry/services/pii.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, Identity, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from registry.codes import IdType
from registry.db.base import Base
from registry.db.types import enum_column


class PartyKind(StrEnum):
    """权利人类型 with the national codes in comments."""

    PERSON = "person"  # 1 个人
    ENTERPRISE = "enterprise"  # 2 企业
    PUBLIC_INSTITUTION = "public_institution"  # 3 事业单位
    GOVERNMENT = "government"  # 4 国家机关
    COLLECTIVE = "collective"  # 99 农村集体经济组织
    OTHER = "other"  # 99 其它

    @property
    def label_zh(self) -> str:
        """权利人类型 as users read it (exports)."""
        return PARTY_KIND_LABEL_ZH[self]


PARTY_KIND_LABEL_ZH: dict[PartyKind, str] = {
    PartyKind.PERSON: "个人",
    PartyKind.ENTERPRISE: "企业",
    PartyKind.PUBLIC_INSTITUTION: "事业单位",
    PartyKind.GOVERNMENT: "国家机关",
    PartyKind.COLLECTIVE: "农村集体经济组织",
    PartyKind.OTHER: "其他",
}


class Party(Base):
    __tablename__ = "parties"
    __table_args__ = (UniqueConstraint("id_type", "id_number", name="uq_parties_identity"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[PartyKind] = mapped_column(enum_column(PartyKind, "party_kind"))
    name: Mapped[str] = mapped_column(String(128))
    id_type: Mapped[IdType] = mapped_column(enum_column(IdType, "id_type"))
    id_number: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
