"""Reference data in the API: the division tree (行政区划) and land-use codes."""

from __future__ import annotations

from enum import Enum

import strawberry

from registry.api.context import Info
from registry.db.reference import DivisionLevel as DbDivisionLevel
from registry.services.reference import DivisionInfo

DivisionLevel = strawberry.enum(
    Enum("DivisionLevel", {m.name: m.value for m in DbDivisionLevel}),  # type: ignore[misc]
    description="行政区划级别 division level",
)


@strawberry.type(description="行政区划 an administrative division (GB/T 2260 and below)")
class Division:
    code: str
    name: str
    level: DivisionLevel  # type: ignore[valid-type]
    parent_code: str | None

    @strawberry.field(description="下级区划 the divisions directly below this one")
    def children(self, info: Info) -> list[Division]:
        return [division_from(d) for d in info.context.runtime.reference.children_of(self.code)]

    @strawberry.field(description="上级区划 the division directly above")
    def parent(self, info: Info) -> Division | None:
        if self.parent_code is None:
            return None
        found = info.context.runtime.reference.divisions.get(self.parent_code)
        return division_from(found) if found else None


def division_from(info: DivisionInfo) -> Division:
    return Division(code=info.code, name=info.name,
                    level=DivisionLevel(info.level.value),  # type: ignore[operator]
                    parent_code=info.parent_code)


@strawberry.type(description="土地用途 a land-use code within its classification system")
class LandUse:
    system: str
    code: str
    name: str


@strawberry.type
class ReferenceQuery:
    @strawberry.field(description=(
        "行政区划树 The division tree. Without `parentCode`: the cities the register serves "
        "(巴中市), each with its counties and their townships under `children`. With "
        "`parentCode`: the divisions directly below that code."))
    def divisions(self, info: Info, parent_code: str | None = None) -> list[Division]:
        reference = info.context.runtime.reference
        if parent_code is None:
            found = reference.at_level(DbDivisionLevel.CITY)
        else:
            found = reference.children_of(parent_code)
        return [division_from(d) for d in found]

    @strawberry.field(description="One division by its code, or null.")
    def division(self, info: Info, code: str) -> Division | None:
        found = info.context.runtime.reference.divisions.get(code)
        return division_from(found) if found else None

    @strawberry.field(description="土地用途代码 land-use codes, optionally of one system")
    def land_uses(self, info: Info, system: str | None = None) -> list[LandUse]:
        return [LandUse(system=s, code=c, name=n)
                for (s, c), n in sorted(info.context.runtime.reference.land_use.items())
                if system is None or s == system]
