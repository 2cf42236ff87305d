"""Parties: found by their ID, created on first sight (PARTY-1 in registry/db/parties.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.codes import IdType, is_collective_economic_org
from registry.db.parties import Party, PartyKind
from registry.services.codes import parse_party_id
from registry.services.errors import DomainError, InvalidInput

PERSON_ID_TYPES = frozenset({IdType.RESIDENT_ID, IdType.PASSPORT, IdType.HK_MACAO_PERMIT,
                             IdType.TAIWAN_PERMIT})


@dataclass(frozen=True)
class PartyInput:
    kind: PartyKind
    name: str
    id_type: IdType
    id_number: str
    phone: str | None = None
    address: str | None = None


def find_or_create_party(session: Session, data: PartyInput, today: date) -> Party:
    """The party with this ID, created if new. A known ID under another name is refused:
    the same number is the same party, so a different name is a typo until proven otherwise."""
    name = " ".join(data.name.split())
    if not name or len(name) > 128:
        raise InvalidInput("INVALID_NAME", "姓名/名称不能为空，且不超过128字",
                           "a party's name is required (at most 128 characters)")
    number = parse_party_id(data.id_type, data.id_number, today).number
    is_person = data.kind is PartyKind.PERSON
    if is_person != (data.id_type in PERSON_ID_TYPES) and data.id_type is not IdType.OTHER:
        raise InvalidInput("ID_TYPE_MISMATCH", "证件种类与权利人类型不符",
                           f"{data.id_type.value} does not identify a {data.kind.value}")
    if data.kind is PartyKind.COLLECTIVE and data.id_type is IdType.CREDIT_CODE \
            and not is_collective_economic_org(number):
        raise InvalidInput("ID_TYPE_MISMATCH", "农村集体经济组织的统一社会信用代码应以N1–N3开头",
                           "a collective economic organisation's credit code starts N1–N3")
    party = session.scalar(select(Party).where(Party.id_type == data.id_type,
                                               Party.id_number == number))
    if party is None:
        party = Party(kind=data.kind, name=name, id_type=data.id_type, id_number=number,
                      phone=data.phone, address=data.address)
        session.add(party)
        session.flush()
    elif party.name != name:
        raise DomainError("PARTY_NAME_MISMATCH", "该证件号码已登记在另一姓名/名称下，请核对",
                          "this ID number is registered under another name; check both",
                          {"party_id": party.id})
    return party
