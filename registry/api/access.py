"""The caller's own account: `me`."""

from __future__ import annotations

import strawberry

from registry.api.context import Info
from registry.db.access import Role

RoleEnum = strawberry.enum(
    Role, name="Role",
    description="角色 CLERK 受理 / REVIEWER 审核 / REGISTRAR 登簿 / AUDITOR 资产清查 / "
                "STATISTICIAN 统计 / TRADING_CENTER 产权交易中心 / ADMIN 管理员")


@strawberry.type(description="当前用户 the authenticated caller")
class Me:
    username: str
    roles: list[RoleEnum]  # type: ignore[valid-type]
    county_code: str | None = strawberry.field(description="辖区; null: every county")


@strawberry.type
class AccessQuery:
    @strawberry.field(description="Who the bearer token belongs to (UNAUTHENTICATED without one).")
    def me(self, info: Info) -> Me:
        principal = info.context.require()
        return Me(username=principal.username, roles=sorted(principal.roles),
                  county_code=principal.county_code)
