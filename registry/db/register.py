"""The register (登记簿): append-only entries, hash-chained per county; certificates.

- REGISTER-1 Entries are never updated or deleted (triggers refuse UPDATE, DELETE, TRUNCATE).
- REGISTER-2 Entry n of a county carries the hash of entry n−1 of that county (CHAIN-1..3 in
  services/chain.py); `register_chain_heads` holds each chain's last hash and is row-locked while
  an entry is appended, so appends to one county are serialised and the chain has no forks.
- CERT-1 Certificate and proof numbers are unique, and serials are gapless per issuing
  authority, year and kind (row-locked counter in the recording transaction); a number that must
  not be used any more is voided with a reason, never deleted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.codes import CertificateKind
from registry.db.applications import ApplicationKind
from registry.db.base import Base
from registry.db.types import enum_column


class EntryType(StrEnum):
    """What an entry records: the kind of the case recorded, or a lapse written by the register."""

    FIRST = "first"  # 首次登记
    TRANSFER = "transfer"  # 转移登记
    CHANGE = "change"  # 变更登记
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
    CERTIFICATE_REPLACEMENT = "certificate_replacement"  # 换证
    CERTIFICATE_REISSUE = "certificate_reissue"  # 补证
    SEIZURE_RENEWAL = "seizure_renewal"  # 续封
    SPLIT = "split"  # 分割登记
    MERGE = "merge"  # 合并登记
    SEIZURE_EFFECTIVE = "seizure_effective"  # 轮候查封生效: written by the register
    LAPSE = "lapse"  # 失效: a restriction ended by law or by its term
    # 自然资源登记簿 (services/natural_resources/procedure.py): the unit's county's chain.
    NR_FIRST = "nr_first"  # 自然资源首次登记
    NR_CHANGE = "nr_change"  # 自然资源变更登记
    NR_CANCELLATION = "nr_cancellation"  # 自然资源注销登记
    NR_CORRECTION = "nr_correction"  # 自然资源更正登记

    @classmethod
    def of(cls, kind: ApplicationKind) -> EntryType:
        """The entry that records a case of this kind."""
        return cls(kind.value)

    @property
    def label_zh(self) -> str:
        """登记类型 as the register's pages print it."""
        return ENTRY_TYPE_LABEL_ZH[self]


ENTRY_TYPE_LABEL_ZH: dict[EntryType, str] = {
    EntryType.FIRST: "首次登记", EntryType.TRANSFER: "转移登记", EntryType.CHANGE: "变更登记",
    EntryType.CANCELLATION: "注销登记", EntryType.CORRECTION: "更正登记",
    EntryType.MORTGAGE: "抵押权首次登记", EntryType.MORTGAGE_CANCELLATION: "抵押权注销登记",
    EntryType.SEIZURE: "查封登记", EntryType.SEIZURE_RELEASE: "解除查封",
    EntryType.OBJECTION: "异议登记", EntryType.ADVANCE_NOTICE: "预告登记",
    EntryType.RESIDENCE: "居住权登记", EntryType.RESIDENCE_CANCELLATION: "居住权注销登记",
    EntryType.EASEMENT: "地役权首次登记", EntryType.EASEMENT_CANCELLATION: "地役权注销登记",
    EntryType.MORTGAGE_CHANGE: "抵押权变更登记", EntryType.MORTGAGE_TRANSFER: "抵押权转移登记",
    EntryType.CERTIFICATE_REPLACEMENT: "换证", EntryType.CERTIFICATE_REISSUE: "补证",
    EntryType.SEIZURE_RENEWAL: "续封", EntryType.SEIZURE_EFFECTIVE: "轮候查封生效",
    EntryType.LAPSE: "期限届满失效", EntryType.SPLIT: "分割登记", EntryType.MERGE: "合并登记",
    EntryType.NR_FIRST: "自然资源首次登记", EntryType.NR_CHANGE: "自然资源变更登记",
    EntryType.NR_CANCELLATION: "自然资源注销登记", EntryType.NR_CORRECTION: "自然资源更正登记",
}


# The entries of natural-resource registration (entry types nr_*), as every query says it so
# that PostgreSQL uses the partial index below.
NR_ENTRIES = "entry_type LIKE 'nr\\_%'"


class RegisterEntry(Base):
    __tablename__ = "register_entries"
    __table_args__ = (
        UniqueConstraint("county_code", "seq", name="uq_register_entries_county_seq"),
        Index("ix_register_entries_unit_codes", "unit_codes", postgresql_using="gin"),
        # A natural-resource unit's history (its entries name no real-estate unit): 0017.
        # Written as PostgreSQL prints it back, so that autogenerate sees no difference.
        Index("ix_register_entries_nr_unit",
              text("((((payload -> 'body'::text) -> 'natural_resource'::text) -> 'unit'::text)"
                   " ->> 'code'::text)"),
              postgresql_where=text("((entry_type)::text ~~ 'nr\\_%'::text)")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    seq: Mapped[int] = mapped_column(BigInteger)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"),
                                                       index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entry_type: Mapped[str] = mapped_column(String(32))  # an EntryType value
    unit_codes: Mapped[list[str]] = mapped_column(ARRAY(String(28)))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    __tablename__ = "register_chain_heads"

    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"),
                                             primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class IssuingAuthority(Base):
    """Who issues certificates for a county: `川(2026)巴中市不动产权第0000001号`."""

    __tablename__ = "issuing_authorities"

    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"),
                                             primary_key=True)
    province: Mapped[str] = mapped_column(String(1))  # 省份简称
    name: Mapped[str] = mapped_column(String(32))  # 市县名称


class CertificateStatus(StrEnum):
    ISSUED = "issued"  # number assigned when the right is recorded
    PRINTED = "printed"  # 缮证/发证 done
    VOIDED = "voided"  # 作废: explains the gap


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("authority", "year", "kind", "serial",
                         name="uq_certificates_serial"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    # Stored by member name ('right', 'proof'): enum labels stay ASCII for every client.
    kind: Mapped[CertificateKind] = mapped_column(
        Enum(CertificateKind, name="certificate_kind", validate_strings=True,
             values_callable=lambda members: [m.name.lower() for m in members]))
    authority: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(BigInteger)
    right_id: Mapped[int] = mapped_column(ForeignKey("rights.id"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    status: Mapped[CertificateStatus] = mapped_column(
        enum_column(CertificateStatus, "certificate_status"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    printed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(Text)
