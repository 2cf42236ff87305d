"""Scanned documents (要件): stored files, their pages, documents linking them to cases,
units and parcels, the kinds each kind of case requires, and large uploads in flight.

Rules enforced by the database (migration 0006):
- DOC-1 A stored file is named by its SHA-256 and never changes or disappears: `document_files`
  and `document_pages` refuse UPDATE and DELETE; objects are put once under a key derived from
  the hash (see services/documents.py).
- DOC-5 A document links to an application and/or to a unit or a parcel, or to a
  natural-resource case alone (CHECK `links_somewhere`, `unit_or_parcel`, `nr_case_alone`;
  migration 0017 for the natural-resource case).
- DOC-6 The documents of a recorded (or certified) case, real-estate or natural-resource, are
  frozen: no document is added to it, removed from it or replaced (trigger, `DOCUMENT_FROZEN`).
  Documents are never deleted; removal and replacement are marked on the row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.applications import ApplicationKind
from registry.db.base import Base
from registry.db.types import enum_column

SHA256_CHECK = "~ '^[0-9a-f]{64}$'"


class DocumentKind(StrEnum):
    """要件类型."""

    APPLICATION_FORM = "application_form"  # 申请书
    ID_PROOF = "id_proof"  # 身份证明
    TITLE_SOURCE = "title_source"  # 权属来源证明材料
    SURVEY_RESULT = "survey_result"  # 不动产权籍调查成果
    SITE_PHOTO = "site_photo"  # 现场照片
    COURT_ORDER = "court_order"  # 法院裁定书、协助执行通知书
    CONTRACT = "contract"  # 合同（买卖、抵押 …）
    FLOOR_PLAN = "floor_plan"  # 房产分户图 (printed on the certificate's 附图, registry/papers)
    OTHER = "other"  # 其他

    @property
    def label_zh(self) -> str:
        """要件名称 as users read it."""
        return DOCUMENT_KIND_LABEL_ZH[self]


DOCUMENT_KIND_LABEL_ZH: dict[DocumentKind, str] = {
    DocumentKind.APPLICATION_FORM: "申请书",
    DocumentKind.ID_PROOF: "身份证明",
    DocumentKind.TITLE_SOURCE: "权属来源证明材料",
    DocumentKind.SURVEY_RESULT: "不动产权籍调查成果",
    DocumentKind.SITE_PHOTO: "现场照片",
    DocumentKind.COURT_ORDER: "法院裁定书、协助执行通知书",
    DocumentKind.CONTRACT: "合同",
    DocumentKind.FLOOR_PLAN: "房产分户图",
    DocumentKind.OTHER: "其他",
}


class StoredFile(Base):
    """One original as stored in the bucket, whatever number of documents link to it (DOC-1)."""

    __tablename__ = "document_files"
    __table_args__ = (
        CheckConstraint(f"sha256 {SHA256_CHECK}", name="sha256_is_hex"),
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("page_count >= 1", name="has_pages"),
    )

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer)
    object_key: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FilePage(Base):
    """A page of a stored file and its thumbnail (none for a PDF page without a scan)."""

    __tablename__ = "document_pages"
    __table_args__ = (
        CheckConstraint("page_no >= 1", name="page_no_positive"),
        CheckConstraint(f"thumbnail_sha256 IS NULL OR thumbnail_sha256 {SHA256_CHECK}",
                        name="thumbnail_sha256_is_hex"),
        CheckConstraint("(thumbnail_key IS NULL) = (thumbnail_sha256 IS NULL)"
                        " AND (thumbnail_key IS NULL) = (thumbnail_size IS NULL)",
                        name="thumbnail_complete"),
    )

    file_sha256: Mapped[str] = mapped_column(ForeignKey("document_files.sha256"),
                                             primary_key=True)
    page_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    thumbnail_key: Mapped[str | None] = mapped_column(Text)
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    thumbnail_size: Mapped[int | None] = mapped_column(BigInteger)


class Document(Base):
    """要件: a stored file of a kind, linked to a case and/or a unit or parcel, or to a
    natural-resource case."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("application_id IS NOT NULL OR unit_id IS NOT NULL"
                        " OR parcel_id IS NOT NULL OR nr_case_id IS NOT NULL",
                        name="links_somewhere"),
        CheckConstraint("unit_id IS NULL OR parcel_id IS NULL", name="unit_or_parcel"),
        CheckConstraint("nr_case_id IS NULL OR (application_id IS NULL AND unit_id IS NULL"
                        " AND parcel_id IS NULL)", name="nr_case_alone"),
        CheckConstraint("(removed_at IS NULL) = (removed_by IS NULL)", name="removal_complete"),
        CheckConstraint("replaced_by_id IS NULL OR removed_at IS NOT NULL",
                        name="replaced_means_removed"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    file_sha256: Mapped[str] = mapped_column(ForeignKey("document_files.sha256"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind, "document_kind"))
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"),
                                                       index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcels.id"), index=True)
    nr_case_id: Mapped[int | None] = mapped_column(ForeignKey("nr_cases.id"), index=True)
    # As the client named it; shown to people, never used for keys or types (SCAN-1).
    file_name: Mapped[str] = mapped_column(String(255), default="")
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removal_reason: Mapped[str] = mapped_column(Text, default="")
    replaced_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", name="fk_documents_replaced_by_id_documents"))


class DocumentRequirement(Base):
    """A kind of document that a kind of case must carry before it is accepted (DOC-5).

    Data, not code: seeded by the migration, edited by an admin (setDocumentRequirements).
    """

    __tablename__ = "document_requirements"

    application_kind: Mapped[ApplicationKind] = mapped_column(
        enum_column(ApplicationKind, "application_kind"), primary_key=True)
    document_kind: Mapped[DocumentKind] = mapped_column(
        enum_column(DocumentKind, "document_kind"), primary_key=True)


class PendingUpload(Base):
    """A presigned PUT handed out and not yet completed (`requestUpload` → `completeUpload`)."""

    __tablename__ = "document_uploads"
    __table_args__ = (
        CheckConstraint(f"sha256 {SHA256_CHECK}", name="sha256_is_hex"),
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("(completed_at IS NULL) = (document_id IS NULL)",
                        name="completion_complete"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, unguessable
    object_key: Mapped[str] = mapped_column(Text, unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind, "document_kind"))
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    parcel_id: Mapped[int | None] = mapped_column(ForeignKey("parcels.id"))
    nr_case_id: Mapped[int | None] = mapped_column(ForeignKey("nr_cases.id"))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    file_name: Mapped[str] = mapped_column(String(255), default="")
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
