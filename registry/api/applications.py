"""Applications (登记业务) in the API: submit, then one mutation per workflow step.

Who sees a party's full ID number in `parties`: registry.services.pii (PII-1).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

from registry.api.context import Info
from registry.api.document_types import Document, DocumentKindEnum, application_documents
from registry.api.ids import int_id
from registry.api.loaders import loader
from registry.api.pagination import Edge, PageInfo, page_size
from registry.api.parties import Party, PartyInput, parse_share
from registry.api.rights import CoOwnershipEnum, MortgageModeEnum
from registry.codes import CertificateKind
from registry.db.access import Role
from registry.db.applications import ApplicationKind, ApplicationState, PartyRole
from registry.db.register import CertificateStatus
from registry.db.rights import CoOwnership, MortgageMode
from registry.services.access import (
    REGISTER_READERS,
    Principal,
    counties_to_read,
    require_county,
)
from registry.services.documents import missing_kinds
from registry.services.geometry import GEOGRAPHIC_SRID
from registry.services.pii import party_id_number
from registry.services.reads import (
    ApplicationFilter,
    application_page,
    application_tree,
    encode_cursor,
)
from registry.services.registration.applications import STEPS, submit, take_step
from registry.services.registration.applications import ApplicationInput as ApplicationData
from registry.services.registration.applications import HolderInput as HolderData
from registry.services.registration.certificates import certify
from registry.services.registration.recording import record
from registry.services.registration.splits import SplitPart as SplitPartData

ApplicationKindEnum = strawberry.enum(ApplicationKind, name="ApplicationKind",
                                      description="登记业务类型")
ApplicationStateEnum = strawberry.enum(ApplicationState, name="ApplicationState",
                                       description="业务状态")
PartyRoleEnum = strawberry.enum(PartyRole, name="PartyRole",
                                description="holder 权利人 / obligor 义务人")
CertificateKindEnum = strawberry.enum(
    CertificateKind, name="CertificateKind",
    description="证书种类 RIGHT 不动产权证书 (title) / PROOF 不动产登记证明 (mortgage, objection, "
                "advance notice)")
CertificateStatusEnum = strawberry.enum(
    CertificateStatus, name="CertificateStatus",
    description="证书状态 ISSUED 已编号 (number assigned at recording) / PRINTED 已缮证发证 / "
                "VOIDED 已作废 (explains a gap in the serials)")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.type(description="A party in its own case; the ID number in full only as PII-1 "
                              "allows (registry/services/pii.py), masked otherwise")
class CaseParty:
    role: PartyRoleEnum  # type: ignore[valid-type]
    party: Party
    share: str | None


@strawberry.type(description="One step of a case: who, when, why")
class Transition:
    from_state: ApplicationStateEnum | None  # type: ignore[valid-type]
    to_state: ApplicationStateEnum  # type: ignore[valid-type]
    actor: str
    at: datetime
    reason: str
    request_id: str | None


@strawberry.type(description="证书的现行打印件 The standing print of a certificate: a signed "
                             "PDF stored with the case (printPaper)")
class StandingPrint:
    id: strawberry.ID
    serial: str | None = strawberry.field(description="印刷序列号 of the form it went onto")
    verification_code: str
    sha256: str
    size: int
    printed_at: datetime
    path: str = strawberry.field(description="GET it with the bearer token: /papers/{id}.pdf")


@strawberry.type(description="不动产权证书 / 不动产登记证明")
class Certificate:
    number: str
    kind: CertificateKindEnum  # type: ignore[valid-type]
    status: CertificateStatusEnum  # type: ignore[valid-type]
    issued_at: datetime
    printed_at: datetime | None
    right_id: strawberry.ID
    print: StandingPrint | None = strawberry.field(
        description="its standing print (none before printPaper, or after its form was voided)")


def _standing_print(p: dict[str, Any] | None) -> StandingPrint | None:
    if p is None:
        return None
    return StandingPrint(id=strawberry.ID(str(p["id"])), serial=p["serial"],
                         verification_code=p["verification_code"], sha256=p["sha256"],
                         size=p["size"], printed_at=_dt(p["printed_at"]),  # type: ignore[arg-type]
                         path=f"/papers/{p['id']}.pdf")


@strawberry.type(description="登记业务 an application and where it stands")
class Application:
    id: strawberry.ID
    number: str = strawberry.field(description="业务号")
    kind: ApplicationKindEnum  # type: ignore[valid-type]
    registration_type: int = strawberry.field(description="登记类型 100–900")
    state: ApplicationStateEnum  # type: ignore[valid-type]
    county_code: str
    unit_codes: list[str]
    parties: list[CaseParty]
    terms: JSON = strawberry.field(description="what was applied for (type, term, amount …)")
    target_right_id: strawberry.ID | None
    submitted_at: datetime
    recorded_at: datetime | None
    note: str
    transitions: list[Transition]
    certificates: list[Certificate]

    @strawberry.field(description="要件 the case's documents, oldest first (removed and "
                                  "replaced ones too when asked)")
    async def documents(self, info: Info, include_removed: bool = False) -> list[Document]:
        return await application_documents(info, int(self.id), include_removed)

    @strawberry.field(description="缺少的要件 kinds its kind requires that it does not carry "
                                  "yet; acceptance needs this empty")
    async def missing_document_kinds(
            self, info: Info) -> list[DocumentKindEnum]:  # type: ignore[valid-type]
        missing = await loader(info, "missing-documents", missing_kinds).load(int(self.id))
        return [DocumentKindEnum(k) for k in missing or []]

    @classmethod
    def from_row(cls, row: dict[str, Any], principal: Principal | None) -> Application:
        return cls(
            id=strawberry.ID(str(row["id"])), number=row["number"],
            kind=ApplicationKind(row["kind"]), registration_type=row["registration_type"],
            state=ApplicationState(row["state"]), county_code=row["county_code"],
            unit_codes=list(row["unit_codes"]),
            parties=[CaseParty(role=PartyRole(p["role"]),
                               party=Party.from_row(p, id_number=party_id_number(
                                   principal, p, row["county_code"])),
                               share=(f"{p['share_numerator']}/{p['share_denominator']}"
                                      if p["share_numerator"] is not None else None))
                     for p in row["parties"]],
            terms=row["terms"],
            target_right_id=(strawberry.ID(str(row["target_right_id"]))
                             if row["target_right_id"] else None),
            submitted_at=_dt(row["submitted_at"]),  # type: ignore[arg-type]
            recorded_at=_dt(row["recorded_at"]), note=row["note"],
            transitions=[Transition(
                from_state=ApplicationState(t["from_state"]) if t["from_state"] else None,
                to_state=ApplicationState(t["to_state"]), actor=t["actor"],
                at=_dt(t["at"]), reason=t["reason"],  # type: ignore[arg-type]
                request_id=t["request_id"]) for t in row["transitions"]],
            certificates=[Certificate(number=c["number"], kind=CertificateKind[c["kind"].upper()],
                                      status=CertificateStatus(c["status"]),
                                      issued_at=_dt(c["issued_at"]),  # type: ignore[arg-type]
                                      printed_at=_dt(c["printed_at"]),
                                      right_id=strawberry.ID(str(c["right_id"])),
                                      print=_standing_print(c["print"]))
                          for c in row["certificates"]])


@strawberry.type
class ApplicationEdge(Edge[Application]):
    pass


@strawberry.type(description="A page of applications, newest first")
class ApplicationConnection:
    edges: list[ApplicationEdge]
    page_info: PageInfo


@strawberry.input
class ApplicationFilterInput:
    county_code: str | None = None
    state: ApplicationStateEnum | None = None  # type: ignore[valid-type]
    kind: ApplicationKindEnum | None = None  # type: ignore[valid-type]
    unit_code: str | None = None


def application_filter(f: ApplicationFilterInput,
                       counties: list[str] | None) -> ApplicationFilter:
    """The read model's filter for `f`, in the caller's `counties` (ACCESS-2; also used by
    the compiled reads, registry/api/compiled)."""
    return ApplicationFilter(counties=counties,
                             state=ApplicationState(f.state).value if f.state else None,
                             kind=ApplicationKind(f.kind).value if f.kind else None,
                             unit_code=f.unit_code)


@strawberry.input(description="A holder of the right applied for")
class HolderInput:
    party: PartyInput
    share: str | None = strawberry.field(default=None,
                                         description="按份共有份额, exact: 1/3 or 0.5")


@strawberry.input(description="分割 one part of a split: an outline for a unit of land, an "
                              "area (and a space number) for a unit in a building; for a "
                              "merge, optionally the merged parcel's surveyed outline")
class SplitPartInput:
    geometry: JSON | None = strawberry.field(default=None,
                                             description="GeoJSON Polygon or MultiPolygon")
    crs: int = strawberry.field(default=GEOGRAPHIC_SRID,
                                description="EPSG code of `geometry` (CGCS2000)")
    area: Decimal | None = strawberry.field(default=None,
                                            description="建筑面积 / 车位面积 m², 2 decimals")
    space_no: str | None = strawberry.field(default=None, description="车位编号")
    location: str | None = strawberry.field(default=None,
                                            description="坐落 (the old unit's when omitted)")

    def to_data(self) -> SplitPartData:
        return SplitPartData(geometry=self.geometry, crs=self.crs, area=self.area,
                             space_no=self.space_no, location=self.location)


@strawberry.input(description="An application (申请) for one kind of registration")
class ApplicationInput:
    kind: ApplicationKindEnum  # type: ignore[valid-type]
    unit_codes: list[str]
    holders: list[HolderInput] = strawberry.field(default_factory=list)
    co_ownership: CoOwnershipEnum | None = None  # type: ignore[valid-type]
    right_type: int | None = None
    right_nature: int | None = None
    term_start: date | None = None
    term_end: date | None = None
    amount: Decimal | None = strawberry.field(default=None, description="抵押: secured amount")
    authority: str | None = strawberry.field(default=None, description="查封机关")
    document_no: str | None = strawberry.field(default=None, description="文书号")
    target_right_id: strawberry.ID | None = strawberry.field(
        default=None, description="the mortgage, seizure, right of residence or easement to end")
    note: str = ""
    dominant_unit_code: str | None = strawberry.field(
        default=None, description="地役权: the dominant unit (需役地) the easement serves")
    purpose: str | None = strawberry.field(default=None, description="地役权: 利用目的")
    mortgage_mode: MortgageModeEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="抵押方式 (GENERAL when omitted)")
    max_amount: Decimal | None = strawberry.field(default=None,
                                                  description="最高额抵押: 最高债权额 (元)")
    claims_start: date | None = strawberry.field(default=None,
                                                 description="最高额抵押: 债权确定期间 start")
    claims_end: date | None = None
    certificate_number: str | None = strawberry.field(
        default=None, description="换证/补证: the certificate replaced")
    loss_notice_on: date | None = strawberry.field(
        default=None, description="补证: the day the loss notice (遗失声明) was published")
    loss_notice_medium: str | None = strawberry.field(
        default=None, description="补证: where it was published")
    waiting_seizure: bool = strawberry.field(
        default=False, description="轮候查封 asked for explicitly (a seizure recorded while "
                                   "another stands is one anyway)")
    parts: list[SplitPartInput] = strawberry.field(
        default_factory=list, description="分割: the parts (two or more); 合并: at most one")
    release_right_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="分割/合并: mortgages released in the same case")

    def to_data(self) -> ApplicationData:
        return ApplicationData(
            kind=ApplicationKind(self.kind), unit_codes=self.unit_codes,
            holders=[HolderData(h.party.to_data(), parse_share(h.share)) for h in self.holders],
            co_ownership=CoOwnership(self.co_ownership) if self.co_ownership else None,
            right_type=self.right_type, right_nature=self.right_nature,
            term_start=self.term_start, term_end=self.term_end, amount=self.amount,
            authority=self.authority, document_no=self.document_no,
            target_right_id=_int_id(self.target_right_id), note=self.note,
            dominant_unit_code=self.dominant_unit_code, purpose=self.purpose,
            mortgage_mode=MortgageMode(self.mortgage_mode) if self.mortgage_mode else None,
            max_amount=self.max_amount, claims_start=self.claims_start,
            claims_end=self.claims_end, certificate_number=self.certificate_number,
            loss_notice_on=self.loss_notice_on, loss_notice_medium=self.loss_notice_medium,
            waiting_seizure=self.waiting_seizure,
            parts=[p.to_data() for p in self.parts],
            release_right_ids=[_int_id(i) for i in self.release_right_ids])  # type: ignore[misc]


def _int_id(value: strawberry.ID | None) -> int | None:
    return None if value is None else int_id(value)


async def _read_back(info: Info, work: Callable[[Any], Any]) -> Application:
    """Run a workflow service and return the case as it now stands, in one transaction."""

    def both(session: Any) -> dict[str, Any]:
        application = work(session)
        row = application_tree(session, application.number)
        assert row is not None
        return row

    return Application.from_row(await info.context.run(both), info.context.principal)


async def _step(info: Info, number: str, action: str, reason: str = "") -> Application:
    ctx = info.context
    ctx.require(*STEPS[action].roles)
    now = ctx.runtime.clock()
    return await _read_back(info, lambda s: take_step(s, ctx.principal, number, action, now,
                                                      ctx.request_id, reason))


@strawberry.type
class ApplicationQuery:
    @strawberry.field(description="业务查询 A case by its business number.")
    async def application(self, info: Info, number: str) -> Application | None:
        actor = info.context.require(*REGISTER_READERS)
        row = await info.context.read(application_tree, number.strip()[:32])
        if row is None:
            return None
        require_county(actor, row["county_code"])
        return Application.from_row(row, actor)

    @strawberry.field(description="业务列表 Cases, newest first, in pages.")
    async def applications(self, info: Info, filter: ApplicationFilterInput | None = None,
                           first: int | None = None,
                           after: str | None = None) -> ApplicationConnection:
        actor = info.context.require(*REGISTER_READERS)
        size = page_size(info, first)
        f = filter or ApplicationFilterInput()
        counties = counties_to_read(actor, f.county_code)
        query = application_filter(f, counties)
        page = await info.context.read(application_page, query, size, after)
        edges = [ApplicationEdge(cursor=encode_cursor({"id": row["id"]}),
                                 node=Application.from_row(row, actor)) for row in page.items]
        return ApplicationConnection(
            edges=edges, page_info=PageInfo(has_next_page=page.has_next,
                                            end_cursor=edges[-1].cursor if edges else None))


@strawberry.type
class ApplicationMutation:
    @strawberry.mutation(description="申请 Submit an application (clerk, for the applicant).")
    async def submit_application(self, info: Info, input: ApplicationInput) -> Application:
        ctx = info.context
        ctx.require(Role.CLERK)
        data = input.to_data()
        now = ctx.runtime.clock()
        days = ctx.runtime.settings.loss_notice_working_days
        return await _read_back(info, lambda s: submit(s, ctx.principal, data, now,
                                                       ctx.request_id, days))

    @strawberry.mutation(description="受理 Accept a submitted case (clerk).")
    async def accept_application(self, info: Info, number: str) -> Application:
        return await _step(info, number, "accept")

    @strawberry.mutation(description="不予受理 Refuse a submitted case, with the reason (clerk).")
    async def refuse_application(self, info: Info, number: str, reason: str) -> Application:
        return await _step(info, number, "refuse", reason)

    @strawberry.mutation(description="审核 Review an accepted case (reviewer, not the acceptor).")
    async def review_application(self, info: Info, number: str,
                                 comment: str = "") -> Application:
        return await _step(info, number, "review", comment)

    @strawberry.mutation(description="不予登记 Reject an accepted or reviewed case, with reason.")
    async def reject_application(self, info: Info, number: str, reason: str) -> Application:
        return await _step(info, number, "reject", reason)

    @strawberry.mutation(description="登簿 Record a reviewed case in the register (registrar, "
                                     "not the reviewer); rights take effect now.")
    async def record_application(self, info: Info, number: str) -> Application:
        ctx = info.context
        ctx.require(Role.REGISTRAR)
        now = ctx.runtime.clock()
        return await _read_back(info, lambda s: record(s, ctx.principal, number, now,
                                                       ctx.request_id))

    @strawberry.mutation(description="缮证发证 Print and hand over the certificates.")
    async def certify_application(self, info: Info, number: str) -> Application:
        ctx = info.context
        ctx.require(*STEPS["certify"].roles)
        now = ctx.runtime.clock()
        return await _read_back(info, lambda s: certify(s, ctx.principal, number, now,
                                                        ctx.request_id))

    @strawberry.mutation(description="撤回 Withdraw an open case, with the reason (clerk).")
    async def withdraw_application(self, info: Info, number: str, reason: str) -> Application:
        return await _step(info, number, "withdraw", reason)
