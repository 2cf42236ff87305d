"""Register extracts and query result certificates in the API (EXTRACT-1..3, QUERY-1..4 in
registry/services/register_papers.py), and their PDFs by HTTP."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.api.context import Info
from registry.api.validation import IdType
from registry.codes import IdType as CodesIdType
from registry.db.documents import StoredFile
from registry.db.papers import IssuedPaper, IssuedPaperKind
from registry.db.units import Unit
from registry.papers.query_result import RequesterKind
from registry.services.access import Principal, require, require_county
from registry.services.errors import NotFound
from registry.services.papers import PRINTERS, PrintSetup
from registry.services.register_papers import (
    PartySubject,
    QueryRequest,
    Requester,
    print_query_result,
    print_register_extract,
)

IssuedPaperKindEnum = strawberry.enum(
    IssuedPaperKind, name="IssuedPaperKind",
    description="REGISTER_EXTRACT 不动产登记簿 / QUERY_RESULT 不动产登记查询结果证明 / "
                "NATURAL_REGISTER 自然资源登记簿 / NATURAL_NOTICE 自然资源登记通告（公告） / "
                "NATURAL_CERTIFICATE 自然资源所有权证书")
RequesterKindEnum = strawberry.enum(
    RequesterKind, name="RequesterKind",
    description="查询人类别: HOLDER 权利人 (everything on their own property) / AUTHORITY "
                "国家机关 (everything) / INTERESTED 利害关系人 (natural state and whether "
                "restrictions exist)")


@strawberry.type(description="登记簿或查询结果证明 A paper read from the register, signed; its "
                             "PDF at `path`")
class IssuedPaperType:
    id: strawberry.ID
    kind: IssuedPaperKindEnum  # type: ignore[valid-type]
    number: str
    unit_code: str | None
    as_of: datetime = strawberry.field(description="the register as it stood at this moment")
    purpose: str | None
    verification_code: str
    sha256: str
    size: int
    issued_at: datetime
    path: str = strawberry.field(description="GET it with the bearer token: "
                                             "/papers/issued/{id}.pdf")


@strawberry.input(description="查询人 Who asks")
class RequesterInput:
    name: str
    id_type: IdType  # type: ignore[valid-type]
    id_number: str
    kind: RequesterKindEnum  # type: ignore[valid-type]


@strawberry.input(description="以权利人查询 The party asked about")
class QueriedPartyInput:
    name: str
    id_type: IdType  # type: ignore[valid-type]
    id_number: str


@strawberry.input(description="查询申请: a unit or a party (one of them), who asks and why")
class QueryResultInput:
    requester: RequesterInput
    purpose: str = strawberry.field(description="查询目的, 2–200 characters")
    unit_code: str | None = None
    party: QueriedPartyInput | None = None


def issued_paper_type(session: Session, paper: IssuedPaper) -> IssuedPaperType:
    stored = session.get(StoredFile, paper.file_sha256)
    unit_code = (session.scalar(select(Unit.code).where(Unit.id == paper.unit_id))
                 if paper.unit_id is not None else None)
    assert stored is not None
    return IssuedPaperType(
        id=strawberry.ID(str(paper.id)), kind=paper.kind, number=paper.number,
        unit_code=unit_code, as_of=paper.as_of, purpose=paper.purpose,
        verification_code=paper.verification_code, sha256=paper.file_sha256,
        size=stored.size, issued_at=paper.issued_at, path=f"/papers/issued/{paper.id}.pdf")


def issued_file(session: Session, principal: Principal | None, paper_id: int) -> StoredFile:
    """The PDF of an issued paper, for the staff of its county."""
    actor = require(principal, *PRINTERS)
    paper = session.get(IssuedPaper, paper_id)
    if paper is None:
        raise NotFound("登记簿/查询结果证明", "issued paper", str(paper_id))
    require_county(actor, paper.county_code)
    stored = session.get(StoredFile, paper.file_sha256)
    assert stored is not None
    return stored


@strawberry.type
class RegisterPapersMutation:
    @strawberry.mutation(description="打印登记簿 Every page of a unit's register with its history, "
                                     "as of the end of `asOf` (China time; now when omitted): "
                                     "numbered, signed, stored")
    async def print_register_extract(self, info: Info, unit_code: str,
                                     as_of: date | None = None) -> IssuedPaperType:
        ctx = info.context
        runtime = ctx.runtime

        def work(session: Session) -> IssuedPaperType:
            setup = PrintSetup.from_settings(runtime.settings, runtime.store)
            paper = print_register_extract(session, ctx.principal, setup, unit_code, as_of,
                                           runtime.clock(), ctx.request_id)
            return issued_paper_type(session, paper)

        return await ctx.run(work)

    @strawberry.mutation(description="出具查询结果证明 What the register holds now for a unit or a "
                                     "party, told as the requester's kind allows; numbered, "
                                     "audited, signed, stored")
    async def print_query_result(self, info: Info, input: QueryResultInput) -> IssuedPaperType:
        ctx = info.context
        runtime = ctx.runtime
        r = input.requester
        query = QueryRequest(
            requester=Requester(name=r.name, id_type=CodesIdType(r.id_type.value),
                                id_number=r.id_number, kind=RequesterKind(r.kind)),
            purpose=input.purpose, unit_code=input.unit_code,
            party=PartySubject(name=input.party.name,
                               id_type=CodesIdType(input.party.id_type.value),
                               id_number=input.party.id_number) if input.party else None)

        def work(session: Session) -> IssuedPaperType:
            setup = PrintSetup.from_settings(runtime.settings, runtime.store)
            paper = print_query_result(session, ctx.principal, setup, query, runtime.clock(),
                                       ctx.request_id)
            return issued_paper_type(session, paper)

        return await ctx.run(work)
