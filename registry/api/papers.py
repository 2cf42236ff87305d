"""Papers in the API: print a certificate or proof (缮证), the blank-form stock, and the PDF by
HTTP. The rules are PRINT-1..5 and STOCK-1..3 in registry/services/papers.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from registry.api.applications import CertificateKindEnum
from registry.api.auth import principal_for
from registry.api.context import Info
from registry.api.register_papers import issued_file
from registry.api.statistics import error_response
from registry.codes import CertificateKind
from registry.db.applications import Application
from registry.db.documents import StoredFile
from registry.db.papers import FormSerial, PrintedPaper, PrintMode, SerialState
from registry.db.register import Certificate
from registry.runtime import Runtime
from registry.services.access import Principal, require, require_county
from registry.services.documents import storage_errors
from registry.services.errors import DomainError, NotFound
from registry.services.papers import (
    PRINTERS,
    BatchStock,
    PrintRequest,
    PrintSetup,
    PublicCheck,
    print_paper,
    public_check,
    receive_forms,
    stock_report,
    void_serial,
)

PrintModeEnum = strawberry.enum(PrintMode, name="PrintMode",
                                description="FULL 整页打印 on blank paper / OVERLAY 套打 onto a "
                                            "pre-printed form (names its serial)")
SerialStateEnum = strawberry.enum(SerialState, name="FormSerialState",
                                  description="印刷序列号 IN_STOCK 库存 / ISSUED 已用 / "
                                              "VOIDED 作废")


@strawberry.type(description="一次打印 A print of a certificate or proof; its PDF at `path`")
class PrintedPaperType:
    id: strawberry.ID
    certificate_number: str
    mode: PrintModeEnum  # type: ignore[valid-type]
    serial: str | None
    verification_code: str = strawberry.field(description="核验码, printed on the paper")
    sha256: str
    size: int
    printed_at: datetime
    voided_at: datetime | None
    void_reason: str | None
    path: str = strawberry.field(description="GET it with the bearer token: /papers/{id}.pdf")


@strawberry.type(name="FormSerial", description="空白证书的印刷序列号")
class FormSerialType:
    serial: str
    kind: CertificateKindEnum  # type: ignore[valid-type]
    state: SerialStateEnum  # type: ignore[valid-type]
    void_reason: str | None


@strawberry.type(description="一批空白证书 A batch of blank forms and where its serials went")
class FormBatchStock:
    batch_id: strawberry.ID
    county_code: str
    kind: CertificateKindEnum  # type: ignore[valid-type]
    first_serial: str
    received: int
    in_stock: int
    issued: int
    voided: int
    balanced: bool = strawberry.field(description="received = in stock + issued + voided")

    @classmethod
    def of(cls, b: BatchStock) -> FormBatchStock:
        return cls(batch_id=strawberry.ID(str(b.batch_id)), county_code=b.county_code,
                   kind=b.kind, first_serial=b.first_serial, received=b.received,
                   in_stock=b.in_stock, issued=b.issued, voided=b.voided, balanced=b.balanced)


@strawberry.input
class PrintPaperInput:
    number: str = strawberry.field(description="the certificate or proof number")
    mode: PrintModeEnum = PrintMode.FULL  # type: ignore[valid-type]
    serial: str | None = strawberry.field(default=None,
                                          description="the blank form's 印刷序列号 (OVERLAY)")
    reprint_reason: str | None = strawberry.field(
        default=None, description="printing again: why (the standing print is voided)")
    offset_x_mm: float = strawberry.field(default=0.0, description="the printer's offset, right")
    offset_y_mm: float = strawberry.field(default=0.0, description="the printer's offset, down")


@strawberry.input
class ReceiveFormsInput:
    kind: CertificateKindEnum  # type: ignore[valid-type]
    first_serial: str
    count: int
    county_code: str | None = None
    note: str = ""


def _printed(session: Session, printed: PrintedPaper) -> PrintedPaperType:
    number = session.scalar(select(Certificate.number).where(
        Certificate.id == printed.certificate_id))
    stored = session.get(StoredFile, printed.file_sha256)
    assert number is not None and stored is not None
    return PrintedPaperType(
        id=strawberry.ID(str(printed.id)), certificate_number=number, mode=printed.mode,
        serial=printed.serial, verification_code=printed.verification_code,
        sha256=printed.file_sha256, size=stored.size, printed_at=printed.printed_at,
        voided_at=printed.voided_at, void_reason=printed.void_reason,
        path=f"/papers/{printed.id}.pdf")


def _serial(row: FormSerial) -> FormSerialType:
    return FormSerialType(serial=row.serial, kind=row.kind, state=row.state,
                          void_reason=row.void_reason)


@strawberry.type
class PapersQuery:
    @strawberry.field(description="空白证书库存 Blank-form stock per batch (the caller's county, "
                                  "or countyCode)")
    async def form_stock(self, info: Info, county_code: str | None = None
                         ) -> list[FormBatchStock]:
        batches = await info.context.read(stock_report, info.context.principal, county_code)
        return [FormBatchStock.of(b) for b in batches]


@strawberry.type
class PapersMutation:
    @strawberry.mutation(description="打印证书 Print a certificate or proof (clerk or registrar of "
                                     "its county): the PDF is stored, a form serial consumed "
                                     "when one is named; certifyApplication needs it")
    async def print_paper(self, info: Info, input: PrintPaperInput) -> PrintedPaperType:
        ctx = info.context
        runtime = ctx.runtime
        request = PrintRequest(number=input.number, mode=PrintMode(input.mode),
                               serial=input.serial, reprint_reason=input.reprint_reason,
                               offset_x_mm=input.offset_x_mm, offset_y_mm=input.offset_y_mm)

        def work(session: Session) -> PrintedPaperType:
            setup = PrintSetup.from_settings(runtime.settings, runtime.store)
            printed = print_paper(session, ctx.principal, setup, request, runtime.clock(),
                                  ctx.request_id)
            return _printed(session, printed)

        return await ctx.run(work)

    @strawberry.mutation(description="空白证书入库 Receive a batch of blank forms (registrar)")
    async def receive_forms(self, info: Info, input: ReceiveFormsInput) -> FormBatchStock:
        ctx = info.context

        def work(session: Session) -> FormBatchStock:
            batch = receive_forms(session, ctx.principal, CertificateKind(input.kind),
                                  input.first_serial, input.count, ctx.runtime.clock(),
                                  county_code=input.county_code, note=input.note,
                                  request_id=ctx.request_id)
            (stock,) = [s for s in stock_report(session, ctx.principal, batch.county_code)
                        if s.batch_id == batch.id]
            return FormBatchStock.of(stock)

        return await ctx.run(work)

    @strawberry.mutation(description="作废印刷序列号 Void a spoilt blank form; a print on it is "
                                     "voided too (print the certificate again)")
    async def void_form_serial(self, info: Info, serial: str, reason: str) -> FormSerialType:
        ctx = info.context

        def work(session: Session) -> FormSerialType:
            return _serial(void_serial(session, ctx.principal, serial, reason,
                                       ctx.runtime.clock(), ctx.request_id))

        return await ctx.run(work)


def _paper_for(session: Session, principal: Principal | None, paper_id: int) -> StoredFile:
    actor = require(principal, *PRINTERS)
    printed = session.get(PrintedPaper, paper_id)
    if printed is None:
        raise NotFound("打印件", "printed paper", str(paper_id))
    application = session.get(Application, printed.application_id)
    assert application is not None
    require_county(actor, application.county_code)
    stored = session.get(StoredFile, printed.file_sha256)
    assert stored is not None
    return stored


def paper_routes(runtime: Runtime) -> list[Route]:
    """GET /papers/{id}.pdf and /papers/issued/{id}.pdf (Authorization: Bearer …): a print's
    or an issued paper's PDF, to the county's staff; GET /verify/{number}?code=… for anyone."""

    def pdf_route(lookup: Callable[[Session, Principal | None, int], StoredFile],
                  name: str) -> Callable[[Request], Awaitable[Response]]:
        async def pdf(request: Request) -> Response:
            raw = request.path_params["id"]
            try:
                if not raw.isdigit() or len(raw) > 18:
                    raise NotFound("打印件", "printed paper", raw[:40])
                principal = await principal_for(request, runtime)

                def find() -> StoredFile:
                    with runtime.readers() as session:
                        return lookup(session, principal, int(raw))

                stored = await run_in_threadpool(find)
                with storage_errors():
                    chunks = runtime.store.iter_chunks(stored.object_key)
                    first = await run_in_threadpool(next, chunks, b"")
            except DomainError as error:
                return error_response(error)

            async def body():  # type: ignore[no-untyped-def]
                yield first
                while chunk := await run_in_threadpool(next, chunks, b""):
                    yield chunk

            return StreamingResponse(body(), media_type="application/pdf", headers={
                "Content-Length": str(stored.size), "Cache-Control": "private, no-store",
                "Content-Disposition": f'inline; filename="{name}-{raw}.pdf"'})

        return pdf

    async def verify(request: Request) -> Response:
        number, code = request.path_params["number"], request.query_params.get("code", "")

        def look() -> PublicCheck:
            with runtime.readers() as session:
                return public_check(session, number, code)

        try:
            found = await run_in_threadpool(look)
        except DomainError as error:
            return error_response(error)
        body = {"status": found.status, "number": found.number, "title": found.title,
                "unitCode": found.unit_code, "location": found.location,
                "holders": found.holders, "printedOn": found.printed_on}
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_verify_page(body))
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return [Route("/papers/{id}.pdf", pdf_route(_paper_for, "paper"), methods=["GET"]),
            Route("/papers/issued/{id}.pdf", pdf_route(issued_file, "issued"),
                  methods=["GET"]),
            Route("/verify/{number}", verify, methods=["GET"])]


STATUS_ZH = {"VALID": "有效", "VOIDED": "已作废", "REPLACED": "已换发（本件作废）"}


def _verify_page(body: dict[str, object]) -> str:
    """The public check as a person scanning the QR code reads it: no script, no outside
    resource."""
    rows = [("核验结果", STATUS_ZH.get(str(body["status"]), str(body["status"]))),
            ("证书号", body["number"]), ("种类", body["title"]),
            ("不动产单元号", body["unitCode"]), ("坐落", body["location"]),
            ("权利人", "、".join(body["holders"])),  # type: ignore[arg-type]
            ("打印日期", body["printedOn"])]
    cells = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                    for k, v in rows)
    return ("<!doctype html><html lang=\"zh\"><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\"><title>证书核验</title>"
            "<style>body{font-family:sans-serif;margin:1.5em}th{text-align:left;"
            "padding-right:1em}</style><h1>不动产登记证书核验</h1>"
            f"<table>{cells}</table></html>")
