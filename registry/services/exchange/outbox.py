"""The outbox: the recording transaction writes the case's message (EXCHANGE-1, stated in
registry/db/exchange.py, where its unique key enforces it).

`write_message` is called by `recording.record` after the register entry is appended, in the
same transaction: a recording rolled back takes its message with it, a committed one always has
exactly one (unique per application). Ordering per county is the register's: `entry_seq` is
the seq of the recording's entry in the county's chain, and the chain head's row lock
serialises recordings of one county, so seq order is commit order.
"""

from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy.orm import Session

from registry.db.applications import Application
from registry.db.exchange import OutboxMessage, OutboxState
from registry.db.register import RegisterEntry
from registry.services.exchange.mapping import Mapping, load_mapping
from registry.services.exchange.messages import build

MAPPING_FILE_VARIABLE = "EXCHANGE_MAPPING_FILE"


def current_mapping() -> Mapping:
    """The mapping file named by EXCHANGE_MAPPING_FILE (read once), else the shipped one."""
    return load_mapping(os.environ.get(MAPPING_FILE_VARIABLE) or None)


def write_message(session: Session, application: Application, entry: RegisterEntry,
                  now: datetime, mapping: Mapping | None = None) -> OutboxMessage:
    """The case's message, built, validated (EXCHANGE-7) and queued (EXCHANGE-1)."""
    built = build(session, mapping or current_mapping(), application, now, entry)
    row = OutboxMessage(
        message_id=built.message_id, county_code=application.county_code,
        application_id=application.id, application_number=application.number,
        entry_seq=entry.seq, entry_hash=entry.hash, rec_type=built.rec_type,
        cert_count=built.cert_count, proof_count=built.proof_count,
        row_counts=built.row_counts, body=built.body, body_sha256=built.body_sha256,
        created_at=now, state=OutboxState.PENDING, attempts=0, next_attempt_at=now)
    session.add(row)
    session.flush()
    return row
