"""The caller's own account: `me`."""

from __future__ import annotations

import strawberry

from registry.api.context import Info


@strawberry.type(description="当前用户 the authenticated caller")
class Me:
    username: str
    roles: list[str]
    county_code: str | None = strawberry.field(description="辖区; null: every county")


@strawberry.type
class AccessQuery:
    @strawberry.field(description="Who the bearer token belongs to (UNAUTHENTICATED without one).")
    def me(self, info: Info) -> Me:
        principal = info.context.require()
        return Me(username=principal.username, roles=sorted(r.value for r in principal.roles),
                  county_code=principal.county_code)
