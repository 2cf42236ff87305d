"""Helpers for the ledger tests: a clock the test moves, sessions on the test's database, and
a snapshot of every ledger table to prove that a refusal changed nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.ledger import Dimension, HolderKind, QuotaType
from registry.db.session import make_engine, make_session_factory
from registry.services import ledger
from registry.services.ledger import Actor, Holder, LotSource, run_ledger
from registry.services.ledger import reports as ledger_reports
from registry.services.ledger.rules import TransferInput, TransferResult

PINGCHANG, TONGJIANG = "511923", "511921"
# Synthetic parcel codes in 平昌县 and 通江县 (format-valid, GB/T 37346).
PARCELS = {PINGCHANG: ["511923101003JC00012", "511923101003JC00013"],
           TONGJIANG: ["511921101001JA00001"]}
MU = 10_000  # area sub-units per 亩


@dataclass
class Clock:
    """An injectable clock (Runtime.clock) that only moves when the test says so."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 1, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


LEDGER_TABLES = ("ledger_accounts", "ledger_lots", "ledger_transfers", "ledger_rejections",
                 "audit_log")


@dataclass
class LedgerBed:
    sessions: Any
    clock: Clock
    actor: Actor = field(default_factory=lambda: Actor("test-trading-center"))

    def run(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        """A ledger use case in its own transaction, the way the API calls it."""
        return run_ledger(self.sessions, work, *args, actor=self.actor, now=self.clock(),
                          request_id=None, **kwargs)

    def read(self, sql: str, **params: Any) -> list[Any]:
        with self.sessions() as session:
            return list(session.execute(text(sql), params))

    def transfers(self, transfers: list[TransferInput]) -> list[TransferResult]:
        return self.run(ledger.create_transfers, transfers)

    def issue(self, county: str = PINGCHANG, area_mu: int = 10,
              quota_type: QuotaType = QuotaType.LINKAGE_SURPLUS, paddy: int | None = None,
              grain: int | None = None, lot_id: uuid.UUID | None = None,
              doc: str = "巴市自然资验〔2025〕12号") -> uuid.UUID:
        source = LotSource(quota_type=quota_type, project_name="江口镇拆旧复垦项目",
                           acceptance_doc_no=doc, vintage_year=2025, county_code=county,
                           source_parcels=tuple(PARCELS[county]), area=area_mu * MU,
                           paddy_area=paddy, grain_capacity=grain)
        return self.run(ledger.issue_lot, lot_id=lot_id or uuid.uuid4(), source=source)

    def account(self, kind: HolderKind, holder_id: str, quota_type: QuotaType,
                dimension: Dimension = Dimension.AREA) -> Any:
        rows = self.read(
            "SELECT * FROM ledger_accounts WHERE holder_kind = CAST(:k AS ledger_holder_kind) "
            "AND holder_id = :h AND quota_type = CAST(:q AS ledger_quota_type) "
            "AND dimension = CAST(:d AS ledger_dimension)", k=kind.value, h=holder_id,
            q=quota_type.value, d=dimension.value)
        return rows[0] if rows else None

    def open(self, holder: Holder, quota_type: QuotaType) -> dict[Dimension, int]:
        accounts = self.run(ledger.open_accounts, holder=holder, quota_type=quota_type)
        return {a.dimension: a.id for a in accounts}

    def verify(self) -> tuple[Any, list[str]]:
        """(first chain break or None, balance problems): (None, []) when all is well."""
        with self.sessions() as session:
            return ledger.verify_ledger_chain(session), ledger.verify_ledger_balances(session)

    def snapshot(self) -> dict[str, Any]:
        """Row counts of every ledger table (and the audit log) and every account's balances."""
        counts = {t: self.read(f"SELECT count(*) FROM {t}")[0][0] for t in LEDGER_TABLES}
        balances = [tuple(r) for r in self.read(
            "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted "
            "FROM ledger_accounts ORDER BY id")]
        return {**counts, "balances": balances}


def ledger_bed(database_url: str) -> Iterator[LedgerBed]:
    engine = make_engine(database_url, pool_size=10)
    try:
        yield LedgerBed(make_session_factory(engine), Clock())
    finally:
        engine.dispose()


def buyer(name: str = "巴中城投", holder_id: str = "91511900MA6XXXXXX1") -> Holder:
    return Holder(HolderKind.BUYER, holder_id, name, None)


def positions(session: Session, lot_id: uuid.UUID) -> dict[str, str]:
    """Each dimension's state, e.g. {"area": "listed"}."""
    view = ledger_reports.lot_view(session, lot_id, None)
    return {p.dimension.value: p.state.value for p in view.positions}
