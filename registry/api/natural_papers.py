"""Papers of natural-resource registration in the API: the 自然资源登记簿 of a unit, the
首次登记通告 / 登记公告 of a case and the optional 自然资源所有权证书 (NRPAPER-1..12 in
registry/papers/natural_register.py and registry/services/natural_resources/papers.py). Each
returns the issued paper as register_papers' API does; its PDF at /papers/issued/{id}.pdf."""

from __future__ import annotations

import strawberry
from sqlalchemy.orm import Session

from registry.api.context import Info
from registry.api.register_papers import IssuedPaperType, issued_paper_type
from registry.services.natural_resources.papers import (
    certificate_counties,
    issue_natural_certificate,
    issue_natural_notice,
    issue_natural_register,
)
from registry.services.papers import PrintSetup


@strawberry.type
class NaturalPapersMutation:
    @strawberry.mutation(description="出具自然资源登记簿 Every page of a unit's register as "
                                     "recorded (封面, 权属状况, 自然状况, 关联信息, 附图) with its "
                                     "history: numbered, signed, stored (clerk or registrar)")
    async def issue_natural_register(self, info: Info, unit_code: str,
                                     purpose: str) -> IssuedPaperType:
        ctx = info.context
        runtime = ctx.runtime

        def work(session: Session) -> IssuedPaperType:
            setup = PrintSetup.from_settings(runtime.settings, runtime.store)
            paper = issue_natural_register(session, ctx.principal, setup, unit_code,
                                           runtime.clock(), purpose, ctx.request_id)
            return issued_paper_type(session, paper)

        return await ctx.run(work)

    @strawberry.mutation(description="出具首次登记通告或登记公告 of a case: the 通告 once noticed, "
                                     "the 公告 (with the unit's map) once published; numbered, "
                                     "signed, stored (clerk or registrar)")
    async def issue_natural_notice_paper(self, info: Info, number: str) -> IssuedPaperType:
        ctx = info.context
        runtime = ctx.runtime

        def work(session: Session) -> IssuedPaperType:
            setup = PrintSetup.from_settings(runtime.settings, runtime.store)
            paper = issue_natural_notice(session, ctx.principal, setup, number,
                                         runtime.clock(), ctx.request_id)
            return issued_paper_type(session, paper)

        return await ctx.run(work)

    @strawberry.mutation(description="颁发自然资源所有权证书 of a recorded, registered unit, in a "
                                     "county listed in NATURAL_RESOURCE_CERTIFICATE_COUNTIES "
                                     "(clerk or registrar)")
    async def issue_natural_certificate(self, info: Info, unit_code: str) -> IssuedPaperType:
        ctx = info.context
        runtime = ctx.runtime
        counties = certificate_counties(runtime.settings.natural_resource_certificate_counties)

        def work(session: Session) -> IssuedPaperType:
            setup = PrintSetup.from_settings(runtime.settings, runtime.store)
            paper = issue_natural_certificate(session, ctx.principal, setup, unit_code,
                                              runtime.clock(), counties, ctx.request_id)
            return issued_paper_type(session, paper)

        return await ctx.run(work)
