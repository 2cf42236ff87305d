"""The Document type (要件) and the per-request loaders that attach documents to cases, units
and parcels, and to natural-resource cases (DOC-8).

DOC-7 Links to the bytes are short-lived presigned URLs (DOCUMENT_URL_EXPIRY_SECONDS, five
minutes by default), signed at `runtime.clock()`, and only for readers of the register who may
see the document's county (ACCESS-2, ACCESS-3): anyone else gets FORBIDDEN and no URL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import strawberry

from registry.api.context import Info
from registry.api.loaders import loader
from registry.db.documents import DocumentKind
from registry.services.access import REGISTER_READERS, require_county
from registry.services.document_reads import (
    documents_of_applications,
    documents_of_parcels,
    documents_of_units,
)
from registry.services.documents import documents_of_natural_cases

DocumentKindEnum = strawberry.enum(DocumentKind, name="DocumentKind", description="要件类型")
FROZEN = frozenset({"recorded", "certified"})


def presigned_url(info: Info, county_code: str, key: str) -> str:
    """DOC-7: a GET URL for `key`, only for readers of `county_code`."""
    ctx = info.context
    actor = ctx.require(*REGISTER_READERS)
    require_county(actor, county_code)
    expiry = timedelta(seconds=ctx.runtime.settings.document_url_expiry_seconds)
    return ctx.runtime.store.presigned_get_url(key, expiry, request_date=ctx.runtime.clock())


@strawberry.type(description="One page of a document")
class DocumentPage:
    number: int
    width: int | None = strawberry.field(description="pixels of the scan (none: a PDF page "
                                                     "without a scanned image)")
    height: int | None
    thumbnail_key: strawberry.Private[str | None]
    county_code: strawberry.Private[str]

    @strawberry.field(description="缩略图 a short-lived URL of the page's JPEG thumbnail, "
                                  "upright (EXIF orientation applied); null without one")
    def thumbnail_url(self, info: Info) -> str | None:
        if self.thumbnail_key is None:
            return None
        return presigned_url(info, self.county_code, self.thumbnail_key)


@strawberry.type(description="要件 a scanned document: a stored file of a kind, linked to a case "
                             "and/or a unit or parcel")
class Document:
    id: strawberry.ID
    kind: DocumentKindEnum  # type: ignore[valid-type]
    file_name: str = strawberry.field(description="as uploaded; for people, not for types")
    media_type: str = strawberry.field(description="detected from the content")
    size: int = strawberry.field(description="bytes")
    sha256: str = strawberry.field(description="of the original: verify what you download")
    page_count: int
    uploaded_at: datetime
    uploaded_by: str
    removed_at: datetime | None
    removal_reason: str
    replaced_by_id: strawberry.ID | None
    application_number: str | None
    unit_code: str | None
    parcel_code: str | None
    natural_case_number: str | None = strawberry.field(
        description="the natural-resource case (自然资源登记业务) it belongs to, if any")
    frozen: bool = strawberry.field(description="its case is recorded: no removal or "
                                                "replacement")
    pages: list[DocumentPage]
    county_code: strawberry.Private[str]
    object_key: strawberry.Private[str]

    @strawberry.field(description="原件 a short-lived URL of the original, as uploaded")
    def url(self, info: Info) -> str:
        return presigned_url(info, self.county_code, self.object_key)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Document:
        county = row["county_code"]
        return cls(
            id=strawberry.ID(str(row["id"])), kind=DocumentKind(row["kind"]),
            file_name=row["file_name"], media_type=row["media_type"], size=row["size"],
            sha256=row["sha256"], page_count=row["page_count"],
            uploaded_at=datetime.fromisoformat(row["uploaded_at"]),
            uploaded_by=row["uploaded_by"],
            removed_at=datetime.fromisoformat(row["removed_at"]) if row["removed_at"] else None,
            removal_reason=row["removal_reason"],
            replaced_by_id=(strawberry.ID(str(row["replaced_by_id"]))
                            if row["replaced_by_id"] else None),
            application_number=row["application_number"], unit_code=row["unit_code"],
            parcel_code=row["parcel_code"],
            natural_case_number=row.get("natural_case_number"),
            frozen=(row["application_state"] in FROZEN
                    or row.get("natural_case_state") == "recorded"),
            pages=[DocumentPage(number=p["number"], width=p["width"], height=p["height"],
                                thumbnail_key=p["thumbnail_key"], county_code=county)
                   for p in row["pages"]],
            county_code=county, object_key=row["object_key"])


async def _load(info: Info, name: str, batch: Any, owner_id: int,
                include_removed: bool) -> list[Document]:
    rows = await loader(info, f"{name}:{include_removed}",
                        partial(batch, include_removed=include_removed)).load(owner_id)
    return [Document.from_row(row) for row in rows or []]


async def application_documents(info: Info, application_id: int,
                                include_removed: bool) -> list[Document]:
    return await _load(info, "application-documents", documents_of_applications,
                       application_id, include_removed)


async def unit_documents(info: Info, unit_id: int, include_removed: bool) -> list[Document]:
    return await _load(info, "unit-documents", documents_of_units, unit_id, include_removed)


async def parcel_documents(info: Info, parcel_id: int, include_removed: bool) -> list[Document]:
    return await _load(info, "parcel-documents", documents_of_parcels, parcel_id,
                       include_removed)


async def natural_case_documents(info: Info, number: str,
                                 include_removed: bool) -> list[Document]:
    """The documents of a natural-resource case, by its number (DOC-8)."""
    rows = await loader(info, f"natural-case-documents:{include_removed}",
                        partial(documents_of_natural_cases,
                                include_removed=include_removed)).load(number)
    return [Document.from_row(row) for row in rows or []]
