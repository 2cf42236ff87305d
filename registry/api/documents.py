"""Documents (要件) in the API: upload (multipart or presigned PUT), replace, remove, read,
and the table of what each kind of case requires.

Multipart requests must carry a CSRF header (see registry/app.py); the file arrives spooled and
hashed by the app's receiver (registry/api/uploads.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from registry.api.applications import ApplicationKindEnum
from registry.api.context import Info
from registry.api.document_types import Document, DocumentKindEnum
from registry.api.ids import int_id
from registry.api.uploads import ReceivedFile
from registry.db.access import Role
from registry.db.applications import ApplicationKind
from registry.db.documents import DocumentKind
from registry.services.access import REGISTER_READERS, require_county
from registry.services.documents import (
    UPLOADERS,
    DocumentConfig,
    Target,
    all_requirements,
    complete_upload,
    document_row,
    file_too_large,
    remove_document,
    request_upload,
    set_requirements,
    upload,
)
from registry.services.errors import InvalidInput


@strawberry.input(description="What a document belongs to: a case and/or a unit or a parcel, "
                               "or a natural-resource case alone")
class DocumentTargetInput:
    application_number: str | None = None
    unit_code: str | None = None
    parcel_code: str | None = None
    natural_case_number: str | None = strawberry.field(
        default=None, description="自然资源登记业务 (survey results …); named alone")

    def to_data(self) -> Target:
        return Target(application_number=self.application_number, unit_code=self.unit_code,
                      parcel_code=self.parcel_code,
                      natural_case_number=self.natural_case_number)


@strawberry.input(description="A large scan to be PUT straight into the store")
class RequestUploadInput:
    kind: DocumentKindEnum | None = None  # type: ignore[valid-type]
    target: DocumentTargetInput | None = None
    size: int = strawberry.field(description="bytes, exactly")
    sha256: str = strawberry.field(description="hex SHA-256 of the bytes to be PUT")
    file_name: str = ""
    replaces: strawberry.ID | None = strawberry.field(
        default=None, description="a document this one replaces (same kind and links)")


@strawberry.type(description="Where to PUT a large scan: the URL accepts exactly the declared "
                             "bytes until it expires; then call completeUpload")
class UploadTicket:
    upload_id: str
    url: str
    key: str
    method: str
    expires_at: datetime


@strawberry.type(description="What a kind of case must carry before it is accepted")
class DocumentRequirementSet:
    application_kind: ApplicationKindEnum  # type: ignore[valid-type]
    document_kinds: list[DocumentKindEnum]  # type: ignore[valid-type]


def _config(info: Info) -> DocumentConfig:
    return DocumentConfig.from_settings(info.context.runtime.settings)


async def _with_document(info: Info, work: Any) -> Document:
    """Run a documents service and return the document as it now stands."""

    def both(session: Any) -> dict[str, Any]:
        document = work(session)
        row = document_row(session, document.id)
        assert row is not None
        return row

    return Document.from_row(await info.context.run(both, retries=0))  # a stream


def _received(file: Any, limit: int) -> ReceivedFile:
    """An upload as the app's request adapter received it (registry/api/uploads.py: every
    multipart file comes through it), refused if it was over the size limit."""
    assert isinstance(file, ReceivedFile), type(file)
    if file.too_large:
        raise file_too_large(limit)
    return file


@strawberry.type
class DocumentQuery:
    @strawberry.field(description="要件 A document by id.")
    async def document(self, info: Info, id: strawberry.ID) -> Document | None:
        actor = info.context.require(*REGISTER_READERS)
        row = await info.context.read(document_row, int_id(id))
        if row is None:
            return None
        require_county(actor, row["county_code"])
        return Document.from_row(row)

    @strawberry.field(description="要件清单 What each kind of case must carry to be accepted.")
    async def document_requirements(self, info: Info) -> list[DocumentRequirementSet]:
        info.context.require(*REGISTER_READERS)
        table = await info.context.read(all_requirements)
        return [DocumentRequirementSet(application_kind=kind, document_kinds=kinds)
                for kind, kinds in table.items()]


@strawberry.type
class DocumentMutation:
    @strawberry.mutation(description="上传要件 Upload a scan (multipart request; clerk). JPEG, "
                                     "PNG, TIFF or PDF, detected from the content.")
    async def upload_document(self, info: Info, file: Upload,
                              kind: DocumentKindEnum,  # type: ignore[valid-type]
                              target: DocumentTargetInput) -> Document:
        ctx = info.context
        ctx.require(*UPLOADERS)
        config, now = _config(info), ctx.runtime.clock()
        received = _received(file, config.max_bytes)
        return await _with_document(info, lambda s: upload(
            s, ctx.principal, ctx.runtime.store, config, received.spooled(),
            kind=DocumentKind(kind), target=target.to_data(), file_name=received.filename,
            now=now, request_id=ctx.request_id, ahead=received.ahead))

    @strawberry.mutation(description="替换要件 Replace a document with a new scan (multipart; "
                                     "clerk). The old one stays, marked replaced.")
    async def replace_document(self, info: Info, id: strawberry.ID, file: Upload) -> Document:
        ctx = info.context
        ctx.require(*UPLOADERS)
        config, now = _config(info), ctx.runtime.clock()
        received = _received(file, config.max_bytes)
        return await _with_document(info, lambda s: upload(
            s, ctx.principal, ctx.runtime.store, config, received.spooled(), kind=None,
            target=None, file_name=received.filename, now=now, request_id=ctx.request_id,
            replaces=int_id(id), ahead=received.ahead))

    @strawberry.mutation(description="删除要件 Mark a document removed, with the reason (clerk).")
    async def remove_document(self, info: Info, id: strawberry.ID, reason: str) -> Document:
        ctx = info.context
        ctx.require(*UPLOADERS)
        now = ctx.runtime.clock()
        return await _with_document(info, lambda s: remove_document(
            s, ctx.principal, int_id(id), reason, now, ctx.request_id))

    @strawberry.mutation(description="大文件上传 A presigned PUT URL for a large scan (clerk).")
    async def request_upload(self, info: Info, input: RequestUploadInput) -> UploadTicket:
        ctx = info.context
        ctx.require(*UPLOADERS)
        config, now = _config(info), ctx.runtime.clock()
        if input.replaces is None and (input.kind is None or input.target is None):
            raise InvalidInput("DOCUMENT_TARGET_REQUIRED", "须指明要件类型和关联对象",
                               "give kind and target (or the document it replaces)")
        ticket = await ctx.run(lambda s: request_upload(
            s, ctx.principal, ctx.runtime.store, config,
            kind=DocumentKind(input.kind) if input.kind else None,
            target=input.target.to_data() if input.target else None, size=input.size,
            sha256=input.sha256, file_name=input.file_name, now=now,
            request_id=ctx.request_id,
            replaces=int_id(input.replaces) if input.replaces is not None else None))
        return UploadTicket(upload_id=ticket.upload.id, url=ticket.url,
                            key=ticket.upload.object_key, method="PUT",
                            expires_at=ticket.upload.expires_at)

    @strawberry.mutation(description="完成上传 Check what was PUT (size, SHA-256, type) and "
                                     "link it (clerk who requested it).")
    async def complete_upload(self, info: Info, upload_id: str) -> Document:
        ctx = info.context
        ctx.require(*UPLOADERS)
        config, now = _config(info), ctx.runtime.clock()
        return await _with_document(info, lambda s: complete_upload(
            s, ctx.principal, ctx.runtime.store, config, upload_id, now, ctx.request_id))

    @strawberry.mutation(description="设置要件清单 What a kind of case must carry (admin).")
    async def set_document_requirements(
            self, info: Info, application_kind: ApplicationKindEnum,  # type: ignore[valid-type]
            document_kinds: list[DocumentKindEnum],  # type: ignore[valid-type]
    ) -> DocumentRequirementSet:
        ctx = info.context
        ctx.require(Role.ADMIN)
        kind = ApplicationKind(application_kind)
        kinds = await ctx.run(lambda s: set_requirements(
            s, ctx.principal, kind, [DocumentKind(k) for k in document_kinds], ctx.request_id))
        return DocumentRequirementSet(application_kind=kind, document_kinds=kinds)
