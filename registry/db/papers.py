"""Printed papers and the blank-form stock they are printed on (registry/services/papers.py
states the rules PRINT-1..5 and STOCK-1..3)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.codes import CertificateKind
from registry.db.base import Base
from registry.db.types import enum_column


class SerialState(StrEnum):
    """印刷序列号 of a blank form: in stock, used by a print, or voided (spoilt, replaced)."""

    IN_STOCK = "in_stock"
    ISSUED = "issued"
    VOIDED = "voided"


class PrintMode(StrEnum):
    FULL = "full"  # the whole paper on blank paper
    OVERLAY = "overlay"  # 套打: only the values, onto a pre-printed blank form


def _certificate_kind() -> Enum:
    # The same type as certificates.kind (member names: 'right', 'proof').
    return Enum(CertificateKind, name="certificate_kind", validate_strings=True,
                create_type=False,
                values_callable=lambda members: [m.name.lower() for m in members])


class FormBatch(Base):
    """A batch of blank forms received from the form maker: serials first..first+count-1."""

    __tablename__ = "form_batches"
    __table_args__ = (CheckConstraint("count BETWEEN 1 AND 100000", name="count_range"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    kind: Mapped[CertificateKind] = mapped_column(_certificate_kind())
    first_serial: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class FormSerial(Base):
    """One pre-printed serial and where it went (STOCK-1)."""

    __tablename__ = "form_serials"
    __table_args__ = (
        CheckConstraint("(state = 'voided') = (void_reason IS NOT NULL)",
                        name="void_has_reason"),
        Index("ix_form_serials_batch_state", "batch_id", "state"),
    )

    serial: Mapped[str] = mapped_column(String(32), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("form_batches.id"))
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    kind: Mapped[CertificateKind] = mapped_column(_certificate_kind())
    state: Mapped[SerialState] = mapped_column(enum_column(SerialState, "form_serial_state"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str | None] = mapped_column(Text)


class PrintedPaper(Base):
    """A print of a certificate or proof (PRINT-1..5): its PDF, content-addressed in the
    bucket like the scans (document_files), the serial it used, and whether it still stands."""

    __tablename__ = "printed_papers"
    __table_args__ = (
        CheckConstraint("(voided_at IS NULL) = (void_reason IS NULL)", name="void_complete"),
        CheckConstraint("mode = 'full' OR serial IS NOT NULL", name="overlay_has_serial"),
        # PRINT-2: one standing print per certificate; PRINT-3: a serial is printed on once.
        Index("uq_printed_papers_standing", "certificate_id", unique=True,
              postgresql_where=text("voided_at IS NULL")),
        Index("uq_printed_papers_serial", "serial", unique=True,
              postgresql_where=text("serial IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    mode: Mapped[PrintMode] = mapped_column(enum_column(PrintMode, "print_mode"))
    serial: Mapped[str | None] = mapped_column(ForeignKey("form_serials.serial"))
    file_sha256: Mapped[str] = mapped_column(ForeignKey("document_files.sha256"))
    verification_code: Mapped[str] = mapped_column(String(16))
    record_sha256: Mapped[str] = mapped_column(String(64))  # PRINT-5
    printed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    printed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(Text)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("printed_papers.id"))


class IssuedPaperKind(StrEnum):
    """Papers read from the register rather than printed for a certificate (EXTRACT-1,
    QUERY-1..4 in registry/services/register_papers.py)."""

    REGISTER_EXTRACT = "register_extract"  # 不动产登记簿（查询摘录）
    QUERY_RESULT = "query_result"  # 不动产登记查询结果证明
    NATURAL_REGISTER = "natural_register"  # 自然资源登记簿 (its pages)
    NATURAL_NOTICE = "natural_notice"  # 自然资源首次登记通告 / 登记公告
    NATURAL_CERTIFICATE = "natural_certificate"  # 自然资源所有权证书 (optional, per authority)

    @property
    def label_zh(self) -> str:
        return {IssuedPaperKind.REGISTER_EXTRACT: "不动产登记簿",
                IssuedPaperKind.QUERY_RESULT: "不动产登记查询结果证明",
                IssuedPaperKind.NATURAL_REGISTER: "自然资源登记簿",
                IssuedPaperKind.NATURAL_NOTICE: "自然资源登记通告（公告）",
                IssuedPaperKind.NATURAL_CERTIFICATE: "自然资源所有权证书"}[self]


class IssuedPaper(Base):
    """A register extract or query result certificate: numbered gaplessly per county and year,
    its signed PDF content-addressed in the bucket, what was asked (`request`, with ID numbers
    masked as printed) and the digest of what it says (`record_sha256`)."""

    __tablename__ = "issued_papers"
    __table_args__ = (
        CheckConstraint("(unit_id IS NULL) OR (party_id IS NULL)", name="one_subject"),
        CheckConstraint("kind = 'register_extract' OR purpose IS NOT NULL",
                        name="query_has_purpose"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[IssuedPaperKind] = mapped_column(
        enum_column(IssuedPaperKind, "issued_paper_kind"))
    number: Mapped[str] = mapped_column(String(64), unique=True)
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    purpose: Mapped[str | None] = mapped_column(Text)  # 查询目的
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    file_sha256: Mapped[str] = mapped_column(ForeignKey("document_files.sha256"))
    verification_code: Mapped[str] = mapped_column(String(16))
    record_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
