"""The register (登记簿): appending hash-chained entries (verifying them: services/verify.py).

REGISTER-1 and REGISTER-2 are stated in registry/db/register.py; CHAIN-1..3 in
services/chain.py; what `registry verify` checks beyond the links (VERIFY-1..6) in
services/verify.py.

- REGISTER-3 An entry's payload is versioned. Version 1 (no `v` key; entries written before
  issue 13) covers type, county, seq, recorded_at, units, application number and body.
  Version 2 (`"v": 2`) also covers the entry's `recorded_by` and `application_id` columns,
  which readers show. Old entries keep their payload and hash as written; every new entry is
  written at PAYLOAD_VERSION.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.db.register import ChainHead, EntryType, RegisterEntry
from registry.services.chain import GENESIS, link_hash

PAYLOAD_VERSION = 2  # REGISTER-3


def entry_content(entry_type: str, county_code: str, seq: int, recorded_at: datetime,
                  unit_codes: list[str], application_number: str | None,
                  body: dict[str, Any], recorded_by: int | None = None,
                  application_id: int | None = None) -> dict[str, Any]:
    """What an entry's hash covers: everything it says, including where, when, by whom and
    for which case (REGISTER-3, version 2)."""
    return {"v": PAYLOAD_VERSION, "type": entry_type, "county": county_code, "seq": seq,
            "recorded_at": recorded_at.isoformat(), "units": sorted(unit_codes),
            "application": application_number, "application_id": application_id,
            "recorded_by": recorded_by, "body": body}


def append_entry(session: Session, county_code: str, entry_type: EntryType,
                 unit_codes: list[str],
                 body: dict[str, Any], recorded_at: datetime, recorded_by: int | None,
                 application_id: int | None = None,
                 application_number: str | None = None) -> RegisterEntry:
    """Append one entry to the county's chain (REGISTER-2: the head row is locked meanwhile)."""
    session.execute(
        text("INSERT INTO register_chain_heads (county_code, seq, hash) "
             "VALUES (:county, 0, :genesis) ON CONFLICT (county_code) DO NOTHING"),
        {"county": county_code, "genesis": GENESIS})
    head = session.execute(select(ChainHead).where(ChainHead.county_code == county_code)
                           .with_for_update()).scalar_one()
    seq = head.seq + 1
    content = entry_content(entry_type.value, county_code, seq, recorded_at, unit_codes,
                            application_number, body, recorded_by, application_id)
    digest = link_hash(head.hash, content)
    entry = RegisterEntry(county_code=county_code, seq=seq, application_id=application_id,
                          recorded_at=recorded_at, recorded_by=recorded_by,
                          entry_type=entry_type.value, unit_codes=sorted(unit_codes),
                          payload=content, prev_hash=head.hash, hash=digest)
    session.add(entry)
    head.seq, head.hash = seq, digest
    session.flush()
    return entry
