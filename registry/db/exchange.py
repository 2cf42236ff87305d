"""The national exchange (汇交 / 接入): the outbox of per-recording messages and their attempts.

Rules enforced by the database (migration 0018):
- EXCHANGE-1 One message per recorded case: `exchange_outbox.application_id` is unique, and the
  row is written by the recording transaction itself (services/exchange/outbox.py
  `write_message`, called by services/registration/recording.py), so a recording rolled back
  leaves no message and a recording committed always has one.
- EXCHANGE-2 A message's identity and content never change once written: `message_id`
  (BizMsgID), `body` and `body_sha256` are refused by a trigger on UPDATE; rows are never
  deleted (DELETE and TRUNCATE refused). Only the delivery columns move.
- EXCHANGE-3 Every delivery attempt is kept (`exchange_attempts`, append-only) with the
  platform's answer.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import applications, reference  # noqa: F401 - the tables its keys name
from registry.db.base import Base
from registry.db.types import enum_column


class OutboxState(StrEnum):
    """Where a message stands with the provincial platform."""

    PENDING = "pending"  # 待上报: not acknowledged yet (never tried, or a retry is due)
    ACKNOWLEDGED = "acknowledged"  # 已接收: the platform acknowledged it
    REFUSED = "refused"  # 被拒收: the platform refused it; kept with its answer (EXCHANGE-6)


class AttemptOutcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"  # 2xx with an acknowledgement
    REFUSED = "refused"  # the platform said the message is wrong (4xx / a refusal answer)
    FAILED = "failed"  # down, 5xx, timeout, an answer we could not read: tried again


class OutboxMessage(Base):
    __tablename__ = "exchange_outbox"
    __table_args__ = (
        Index("ix_exchange_outbox_due", "county_code", "entry_seq",
              postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(18), unique=True)  # BizMsgID
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"))
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    application_number: Mapped[str] = mapped_column(String(32), index=True)  # 业务号 YWH
    entry_seq: Mapped[int] = mapped_column(BigInteger)  # the recording's register entry
    entry_hash: Mapped[str] = mapped_column(String(64))
    rec_type: Mapped[str] = mapped_column(String(16))  # RecType 业务编码
    cert_count: Mapped[int] = mapped_column(Integer)
    proof_count: Mapped[int] = mapped_column(Integer)
    row_counts: Mapped[dict[str, Any]] = mapped_column(JSONB)  # table → rows in Data
    body: Mapped[str] = mapped_column(Text)  # the XML message, as validated
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[OutboxState] = mapped_column(enum_column(OutboxState, "outbox_state"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    receipt: Mapped[str | None] = mapped_column(String(128))  # the platform's receipt id
    sent_sha256: Mapped[str | None] = mapped_column(String(64))  # what was acknowledged
    answer: Mapped[str | None] = mapped_column(Text)  # the platform's last answer


class DeliveryAttempt(Base):
    __tablename__ = "exchange_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("exchange_outbox.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[AttemptOutcome] = mapped_column(enum_column(AttemptOutcome,
                                                                "attempt_outcome"))
    http_status: Mapped[int | None] = mapped_column(Integer)
    receipt: Mapped[str | None] = mapped_column(String(128))
    answer: Mapped[str] = mapped_column(Text, default="")
    sent_sha256: Mapped[str] = mapped_column(String(64))
    duration_ms: Mapped[int] = mapped_column(Integer)
