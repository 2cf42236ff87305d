"""Lineage (分割/合并) in the API: `derivedFrom` / `derivedInto` on units and parcels, each link
naming the other side, its state and the case that made it (LINEAGE-1 in
registry/db/lineage.py; what a split does: services/registration/splits.py)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import strawberry

from registry.api.context import Info
from registry.api.loaders import loader
from registry.services.reads import lineage


@strawberry.type(description="分割/合并 one link of a unit's or parcel's lineage")
class LineageLink:
    code: str = strawberry.field(description="the unit's or parcel's code on the other side")
    status: str = strawberry.field(description="a unit's 登记状况 (REGISTERED, HISTORIC …); a "
                                               "parcel's CURRENT or HISTORIC")
    application_number: str = strawberry.field(description="业务号 of the split or merge")
    recorded_at: datetime = strawberry.field(description="登簿时间 of that case")


async def links(info: Info, table: str, key: int, side: str) -> list[LineageLink]:
    """The `side` ("from" or "into") links of one unit or parcel, batched per request."""
    found: dict[str, list[dict[str, Any]]] | None = await loader(
        info, f"lineage:{table}", partial(lineage, table=table)).load(key)
    return [LineageLink(code=row["code"], status=row["status"].upper(),
                        application_number=row["application_number"],
                        recorded_at=row["recorded_at"])
            for row in (found or {}).get(side, [])]
