"""A party's holdings (权利人名下的不动产): what the register says a person or body holds."""

from __future__ import annotations

import strawberry

from registry.api.context import Info
from registry.api.parties import Party
from registry.api.rights import Right
from registry.api.validation import IdType
from registry.codes import normalize
from registry.services.access import REGISTER_READERS, visible_counties
from registry.services.reads import party_tree


@strawberry.type(description="A current right held by a party, on a unit")
class Holding:
    unit_code: str
    county_code: str
    right: Right


@strawberry.type(description="A party with the current rights it holds in your counties")
class PartyWithHoldings:
    party: Party
    holdings: list[Holding]


@strawberry.type
class HoldingsQuery:
    @strawberry.field(description="权利人查询 A party by its ID, with its current holdings.")
    async def party(self, info: Info, id_type: IdType,  # type: ignore[valid-type]
                    id_number: str) -> PartyWithHoldings | None:
        actor = info.context.require(*REGISTER_READERS)
        number = normalize(id_number)[:64]
        now = info.context.runtime.clock()
        row = await info.context.read(party_tree, id_type.value, number, now,
                                      visible_counties(actor))
        if row is None:
            return None
        return PartyWithHoldings(
            party=Party.from_row(row),
            holdings=[Holding(unit_code=h["unit_code"], county_code=h["county_code"],
                              right=Right.from_row(h["right"])) for h in row["holdings"]])
