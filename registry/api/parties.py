"""Parties in the API: ID numbers shown as registry.services.pii rules (PII-1, PII-2)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import strawberry

from registry.api.validation import IdType
from registry.codes import IdType as CodesIdType
from registry.db.parties import PartyKind
from registry.services.errors import InvalidInput
from registry.services.parties import PartyInput as PartyData
from registry.services.pii import mask_id_number

PartyKindEnum = strawberry.enum(PartyKind, name="PartyKind",
                                description="权利人类型 kind of party")


@strawberry.type(description="权利人/义务人 a person or organisation; ID numbers are masked")
class Party:
    id: strawberry.ID
    kind: PartyKindEnum  # type: ignore[valid-type]
    name: str
    id_type: IdType  # type: ignore[valid-type]
    id_number: str = strawberry.field(description="masked, e.g. 511923********1234 (in full "
                                                   "only as PII-1 allows)")

    @classmethod
    def from_row(cls, row: dict[str, Any], *, id_number: str | None = None) -> Party:
        """`id_number`: the number as registry.services.pii decided to show it; masked if None."""
        if id_number is None:
            id_number = mask_id_number(row["id_type"], row["id_number"])
        return cls(id=strawberry.ID(str(row["party_id"])), kind=PartyKind(row["kind"]),
                   name=row["name"], id_type=IdType(row["id_type"]),  # type: ignore[operator]
                   id_number=id_number)


@strawberry.type(description="A holder of a right, with the share when held by shares")
class Holder:
    party: Party
    share: str | None = strawberry.field(description="按份共有份额 as an exact fraction, e.g. 1/3")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Holder:
        share = (f"{row['share_numerator']}/{row['share_denominator']}"
                 if row.get("share_numerator") is not None else None)
        return cls(party=Party.from_row(row), share=share)


@strawberry.input(description="A party named in an application; created on first sight")
class PartyInput:
    kind: PartyKindEnum  # type: ignore[valid-type]
    name: str
    id_type: IdType  # type: ignore[valid-type]
    id_number: str
    phone: str | None = None
    address: str | None = None

    def to_data(self) -> PartyData:
        return PartyData(kind=PartyKind(self.kind), name=self.name,
                         id_type=CodesIdType(self.id_type.value), id_number=self.id_number,
                         phone=self.phone, address=self.address)


def parse_share(text: str | None) -> Fraction | None:
    """"1/3", "0.5" → exact fractions; anything else is SHARES_NOT_ONE's cousin."""
    if text is None:
        return None
    try:
        share = Fraction(text.strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise InvalidInput("INVALID_SHARE", f"份额格式无效：{text}",
                           f"invalid share {text!r}: use a fraction like 1/3") from exc
    return share
