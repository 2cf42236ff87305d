"""The register (登记簿): appending hash-chained entries, and verifying the chains.

REGISTER-1 and REGISTER-2 are stated in registry/db/register.py; CHAIN-1..3 in
services/chain.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry.db.register import ChainHead, EntryType, RegisterEntry
from registry.services.chain import GENESIS, ChainBreak, first_break, link_hash


def entry_content(entry_type: str, county_code: str, seq: int, recorded_at: datetime,
                  unit_codes: list[str], application_number: str | None,
                  body: dict[str, Any]) -> dict[str, Any]:
    """What an entry's hash covers: everything it says, including where and when."""
    return {"type": entry_type, "county": county_code, "seq": seq,
            "recorded_at": recorded_at.isoformat(), "units": sorted(unit_codes),
            "application": application_number, "body": body}


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
                            application_number, body)
    digest = link_hash(head.hash, content)
    entry = RegisterEntry(county_code=county_code, seq=seq, application_id=application_id,
                          recorded_at=recorded_at, recorded_by=recorded_by,
                          entry_type=entry_type.value, unit_codes=sorted(unit_codes),
                          payload=content, prev_hash=head.hash, hash=digest)
    session.add(entry)
    head.seq, head.hash = seq, digest
    session.flush()
    return entry


def _entries(session: Session, county_code: str) -> Iterator[tuple[int, str, str, Any]]:
    rows = session.execute(
        select(RegisterEntry.seq, RegisterEntry.prev_hash, RegisterEntry.hash,
               RegisterEntry.payload, RegisterEntry.entry_type, RegisterEntry.county_code,
               RegisterEntry.unit_codes, RegisterEntry.recorded_at)
        .where(RegisterEntry.county_code == county_code).order_by(RegisterEntry.seq)
        .execution_options(yield_per=1000))
    for row in rows:
        payload = row.payload
        # The columns beside the payload must say what the hashed payload says.
        if (payload.get("seq") != row.seq or payload.get("type") != row.entry_type
                or payload.get("county") != row.county_code
                or payload.get("units") != list(row.unit_codes)
                or not _same_instant(payload.get("recorded_at"), row.recorded_at)):
            payload = {"columns_disagree_with_payload": payload}
        yield row.seq, row.prev_hash, row.hash, payload


def _same_instant(text_value: object, value: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(text_value)) == value
    except ValueError:
        return False


def verify_register(session: Session) -> list[tuple[str, int, ChainBreak | None]]:
    """Each county's chain: (county, entries checked, first break or None)."""
    results = []
    counties = session.scalars(select(RegisterEntry.county_code).distinct()
                               .order_by(RegisterEntry.county_code)).all()
    for county in counties:
        count = 0

        def counted(county: str = county) -> Iterator[tuple[int, str, str, Any]]:
            nonlocal count
            for item in _entries(session, county):
                count += 1
                yield item

        found = first_break(f"register:{county}", counted())
        head = session.get(ChainHead, county)
        if found is None and head is not None and head.seq != count:
            found = ChainBreak(f"register:{county}", count + 1,
                               f"chain head says {head.seq} entries, {count} found")
        results.append((county, count, found))
    return results
