"""Reference data read once per process: divisions and land-use codes.

They change only through migrations, which are followed by a restart, so the API serves them
from memory instead of asking the database on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.reference import Division, DivisionLevel, LandUseCode


@dataclass(frozen=True)
class DivisionInfo:
    code: str
    name: str
    level: DivisionLevel
    parent_code: str | None


@dataclass
class ReferenceData:
    divisions: dict[str, DivisionInfo]
    children: dict[str | None, tuple[DivisionInfo, ...]]
    land_use: dict[tuple[str, str], str] = field(default_factory=dict)

    @cached_property
    def county_codes(self) -> frozenset[str]:
        return frozenset(code for code, d in self.divisions.items()
                         if d.level is DivisionLevel.COUNTY)

    def at_level(self, level: DivisionLevel) -> tuple[DivisionInfo, ...]:
        return tuple(d for d in self.divisions.values() if d.level is level)

    def children_of(self, code: str) -> tuple[DivisionInfo, ...]:
        return self.children.get(code, ())

    def name_of(self, code: str) -> str | None:
        found = self.divisions.get(code)
        return found.name if found else None


def load_reference_data(session: Session) -> ReferenceData:
    """Read divisions and land-use codes (two statements)."""
    divisions: dict[str, DivisionInfo] = {}
    children: dict[str | None, list[DivisionInfo]] = {}
    for row in session.scalars(select(Division).order_by(Division.code)):
        info = DivisionInfo(row.code, row.name, row.level, row.parent_code)
        divisions[row.code] = info
        children.setdefault(row.parent_code, []).append(info)
    land_use = {(row.system, row.code): row.name for row in session.scalars(select(LandUseCode))}
    return ReferenceData(
        divisions=divisions,
        children={parent: tuple(kids) for parent, kids in children.items()},
        land_use=land_use,
    )
