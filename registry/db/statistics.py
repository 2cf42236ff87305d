"""Completion statistics (登记完成率) and survey imports (权籍调查成果入库): the tables behind them.

Rules enforced by the database (migration 0004), stated once here:
- STAT-1 What each measure means is defined once, by the SQL function `completion_state_of`:
  for every unit, the days on which it is due, recorded, certified, in progress and disputed,
  as multiranges of local (China) dates. See docs/statistics.md for the definitions in words.
- STAT-2 `completion_unit_state` holds each unit's current multiranges and `completion_ledger`
  the sum of their changes (+1 where a range starts, −1 where it ends) per township, unit kind
  and day, and again per month. Triggers keep both up to date in the same statement that
  changes a unit, a right, a case or a case's transitions; so a figure "as of D" is the sum of
  the ledger's rows up to D — never a scan of the units.
- STAT-3 A target is a fraction in (0, 1] per county, year and unit kind; one per key.
- IMPORT-1 A job's findings (rejects and differences) are kept with it, numbered in order.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import DATEMULTIRANGE, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
from registry.db.types import enum_column
from registry.db.units import UnitKind


class Grain(StrEnum):
    DAY = "day"
    MONTH = "month"


class CompletionTarget(Base):
    """年度目标: the share of due units a county is to have recorded by the end of a year."""

    __tablename__ = "completion_targets"
    __table_args__ = (
        CheckConstraint("target > 0 AND target <= 1", name="target_is_a_fraction"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
    )

    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"),
                                             primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, "unit_kind"),
                                           primary_key=True)
    target: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CompletionUnitState(Base):
    """STAT-2: each unit's measures as multiranges of days (what the ledger last counted)."""

    __tablename__ = "completion_unit_state"

    unit_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12))
    township_code: Mapped[str] = mapped_column(String(12))
    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, "unit_kind"))
    due: Mapped[Any] = mapped_column(DATEMULTIRANGE)
    recorded: Mapped[Any] = mapped_column(DATEMULTIRANGE)
    certified: Mapped[Any] = mapped_column(DATEMULTIRANGE)
    in_progress: Mapped[Any] = mapped_column(DATEMULTIRANGE)
    disputed: Mapped[Any] = mapped_column(DATEMULTIRANGE)


class CompletionLedger(Base):
    """STAT-2: net changes of each measure per township, kind and day (or month)."""

    __tablename__ = "completion_ledger"
    __table_args__ = (CheckConstraint("grain IN ('day', 'month')", name="grain_known"),)

    kind: Mapped[UnitKind] = mapped_column(enum_column(UnitKind, "unit_kind"),
                                           primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    township_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    due: Mapped[int] = mapped_column(BigInteger)
    recorded: Mapped[int] = mapped_column(BigInteger)
    certified: Mapped[int] = mapped_column(BigInteger)
    in_progress: Mapped[int] = mapped_column(BigInteger)
    disputed: Mapped[int] = mapped_column(BigInteger)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ImportJob(Base):
    """One survey import: who, which file, how far it got, what it counted."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[JobState] = mapped_column(enum_column(JobState, "import_job_state"))
    phase: Mapped[str] = mapped_column(String(32), default="queued")
    file_name: Mapped[str] = mapped_column(String(256))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_bytes: Mapped[int] = mapped_column(BigInteger)
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # RESUME-1: the input files kept in the object store while the job may still be retried
    # ({"geometry": {"key", "name"}, "attributes": … | null, "crs": …}); null once final.
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    attempts: Mapped[int] = mapped_column(Integer, server_default="1", default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    county_code: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())


class ImportFinding(Base):
    """IMPORT-1: a row refused (reject) or already registered differently (difference)."""

    __tablename__ = "import_findings"
    __table_args__ = (CheckConstraint("finding IN ('reject', 'difference')",
                                      name="finding_known"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # parcel | unit | feature
    row: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(64))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
