"""What the ledger answers: balances per account and per county, a lot's history, trades with
their prices, the reconciliation feed, and daily statements (CSV).

Every function takes the reader's county scope (services/ledger/__init__.py `reader_scope`, READ-1):
None reads everything; a county code limits the answer to that county.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from fractions import Fraction
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from registry.codes.area import AreaUnit, round_decimal, to_square_metres
from registry.db.ledger import (
    Dimension,
    HolderKind,
    LedgerLot,
    QuotaType,
    TransferCode,
    TransferKind,
)
from registry.services.errors import Forbidden, NotFound
from registry.services.ledger.errors import refusal
from registry.services.ledger.rules import (
    AREA_SUBUNITS_PER_MU,
    LotState,
    fold_lot_history,
    lot_amounts,
)

# Statements follow the calendar day in China (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8), "CST")
UNIT_OF = {Dimension.AREA: "0.0001亩", Dimension.PADDY_AREA: "0.0001亩",
           Dimension.GRAIN_CAPACITY: "kg", Dimension.MONEY: "分"}


# --------------------------------------------------------------------------- quantities


def mu_text(subunits: int) -> str:
    """An area in 亩, exactly (sub-units are 0.0001 亩): 123456 → "12.3456"."""
    return str(round_decimal(Fraction(subunits, AREA_SUBUNITS_PER_MU), 4))


def square_metres_text(subunits: int) -> str:
    """An area in m², rounded to 0.01 m² for display (1 亩 = 2000/3 m² exactly)."""
    exact = to_square_metres(Fraction(subunits, AREA_SUBUNITS_PER_MU), AreaUnit.MU)
    return str(round_decimal(exact, 2))


def yuan_text(fen: int) -> str:
    """分 → 元 with two decimals, exactly."""
    return str(round_decimal(Fraction(fen, 100), 2))


def _forbid_other_county(scope: str | None, county_code: str | None) -> None:
    if scope is not None and county_code != scope:
        raise Forbidden(f"outside your county ({scope})", f"超出本人辖区（{scope}）")


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class AccountView:
    id: int
    holder_kind: HolderKind
    holder_id: str
    holder_name: str
    county_code: str | None
    quota_type: QuotaType
    dimension: Dimension
    no_overdraft: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def balance(self) -> int:
        """Posted balance: credits − debits (an issuance account's is negative: issued)."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What may still be debited: posted balance less pending debits."""
        return self.balance - self.debits_pending


def account_view(row: Any) -> AccountView:
    return AccountView(row.id, HolderKind(row.holder_kind), row.holder_id, row.holder_name,
                       row.county_code, QuotaType(row.quota_type), Dimension(row.dimension),
                       row.no_overdraft, row.debits_pending, row.debits_posted,
                       row.credits_pending, row.credits_posted)


_ACCOUNT_COLUMNS = (
    "id, holder_kind::text AS holder_kind, holder_id, holder_name, county_code, "
    "quota_type::text AS quota_type, dimension::text AS dimension, no_overdraft, "
    "debits_pending, debits_posted, credits_pending, credits_posted")


def accounts(session: Session, scope: str | None, *, county_code: str | None = None,
             holder_kind: HolderKind | None = None, quota_type: QuotaType | None = None,
             after_id: int = 0, first: int = 20) -> list[AccountView]:
    """Accounts with their balances, by id, `first` + 1 of them (the extra one says "more")."""
    if scope is not None:
        _forbid_other_county(scope, county_code or scope)
        county_code = scope
    rows = session.execute(text(
        f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id > :after "
        "AND (CAST(:county AS text) IS NULL OR county_code = :county) "
        "AND (CAST(:kind AS text) IS NULL OR holder_kind::text = :kind) "
        "AND (CAST(:type AS text) IS NULL OR quota_type::text = :type) "
        "ORDER BY id LIMIT :limit"),
        {"after": after_id, "county": county_code,
         "kind": holder_kind.value if holder_kind else None,
         "type": quota_type.value if quota_type else None, "limit": first + 1})
    return [account_view(r) for r in rows]


def account(session: Session, scope: str | None, account_id: int) -> AccountView:
    row = session.execute(text(f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_accounts WHERE id = :id"),
                          {"id": account_id}).first()
    if row is None:
        raise refusal("UNKNOWN_ACCOUNT", {"account": account_id})
    _forbid_other_county(scope, row.county_code)
    return account_view(row)


def account_by_key(session: Session, key: str) -> int:
    """An account id from its id or its key `kind/holder/quota_type/dimension` (CLI)."""
    if key.isdigit():
        return int(key)
    parts = key.split("/")
    if len(parts) == 4:
        found = session.scalar(text(
            "SELECT id FROM ledger_accounts WHERE holder_kind::text = :k AND holder_id = :h "
            "AND quota_type::text = :q AND dimension::text = :d"),
            dict(zip("khqd", parts, strict=True)))
        if found is not None:
            return int(found)
    raise refusal("UNKNOWN_ACCOUNT", {"account": key})


@dataclass(frozen=True)
class CountyBalance:
    county_code: str
    county_name: str
    holder_kind: HolderKind
    quota_type: QuotaType
    dimension: Dimension
    accounts: int
    balance: int
    available: int


def county_balances(session: Session, scope: str | None) -> list[CountyBalance]:
    """Balances summed per county × holder kind × quota type × dimension."""
    rows = session.execute(text(
        "SELECT a.county_code, d.name, a.holder_kind::text AS holder_kind, "
        "a.quota_type::text AS quota_type, a.dimension::text AS dimension, count(*) AS n, "
        "sum(a.credits_posted - a.debits_posted) AS balance, "
        "sum(a.credits_posted - a.debits_posted - a.debits_pending) AS available "
        "FROM ledger_accounts a JOIN divisions d ON d.code = a.county_code "
        "WHERE CAST(:scope AS text) IS NULL OR a.county_code = :scope "
        "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 3, 4, 5"), {"scope": scope})
    return [CountyBalance(r.county_code, r.name, HolderKind(r.holder_kind),
                          QuotaType(r.quota_type), Dimension(r.dimension), r.n, int(r.balance),
                          int(r.available)) for r in rows]


# --------------------------------------------------------------------------- transfers, lots


@dataclass(frozen=True)
class TransferView:
    id: uuid.UUID
    seq: int
    kind: TransferKind
    code: TransferCode
    debit_account_id: int
    credit_account_id: int
    quota_type: QuotaType
    dimension: Dimension
    amount: int
    pending_id: uuid.UUID | None
    expires_at: datetime | None
    lot_id: uuid.UUID | None
    linked_group: uuid.UUID | None
    details: dict[str, Any]
    at: datetime
    actor: str
    hash: str


_TRANSFER_COLUMNS = (
    "id, seq, kind::text AS kind, code::text AS code, debit_account_id, credit_account_id, "
    "quota_type::text AS quota_type, dimension::text AS dimension, amount, pending_id, "
    "expires_at, lot_id, linked_group, details, at, actor, hash")


def transfer_view(row: Any) -> TransferView:
    return TransferView(row.id, row.seq, TransferKind(row.kind), TransferCode(row.code),
                        row.debit_account_id, row.credit_account_id, QuotaType(row.quota_type),
                        Dimension(row.dimension), row.amount, row.pending_id, row.expires_at,
                        row.lot_id, row.linked_group, row.details, row.at, row.actor, row.hash)


def events(session: Session, after_seq: int, first: int) -> list[TransferView]:
    """The reconciliation feed: transfers after `after_seq` in chain order, `first` + 1 of them.

    Paging by seq never skips a transfer (CHAIN-4: seq order is commit order)."""
    rows = session.execute(text(
        f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE seq > :after "
        "ORDER BY seq LIMIT :limit"), {"after": after_seq, "limit": first + 1})
    return [transfer_view(r) for r in rows]


@dataclass(frozen=True)
class LotPosition:
    dimension: Dimension
    amount: int
    state: LotState
    holder_account_id: int
    pending: bool


@dataclass(frozen=True)
class LotView:
    lot: LedgerLot
    positions: list[LotPosition]
    history: list[TransferView]

    @property
    def state(self) -> LotState | None:
        """The lot's state (every dimension moves together, so the area's state is the lot's)."""
        area = [p for p in self.positions if p.dimension is Dimension.AREA]
        return area[0].state if area else None


def lot_view(session: Session, lot_id: uuid.UUID, scope: str | None) -> LotView:
    """A lot from issuance to write-off: where each dimension is, and every transfer naming it
    (prices and fees included) in chain order."""
    lot = session.get(LedgerLot, lot_id)
    if lot is None:
        raise NotFound("指标批次", "quota lot", str(lot_id))
    _forbid_other_county(scope, lot.county_code)
    return lot_views(session, [lot])[0]


def lot_views(session: Session, found: list[LedgerLot]) -> list[LotView]:
    """Views of several lots with one query for all their transfers."""
    history: dict[uuid.UUID, list[Any]] = {lot.id: [] for lot in found}
    if found:
        for row in session.execute(text(
                f"SELECT {_TRANSFER_COLUMNS} FROM ledger_transfers WHERE lot_id = ANY(:lots) "
                "ORDER BY seq"), {"lots": list(history)}):
            history[row.lot_id].append(row)
    views = []
    for lot in found:
        rows = history[lot.id]
        amounts = lot_amounts(lot.quota_type, lot.area, lot.paddy_area, lot.grain_capacity)
        positions = [LotPosition(d, amounts[d], p.state, p.holder, p.busy is not None)
                     for d, p in fold_lot_history(rows).items()]
        views.append(LotView(lot, positions, [transfer_view(r) for r in rows]))
    return views


def lots(session: Session, scope: str | None, *, county_code: str | None = None,
         after: tuple[datetime, uuid.UUID] | None = None, first: int = 20) -> list[LotView]:
    """Lots newest first (keyset on created_at, id), `first` + 1 of them."""
    if scope is not None:
        _forbid_other_county(scope, county_code or scope)
        county_code = scope
    query = select(LedgerLot).order_by(LedgerLot.created_at.desc(), LedgerLot.id.desc())
    if county_code is not None:
        query = query.where(LedgerLot.county_code == county_code)
    if after is not None:
        query = query.where(tuple_(LedgerLot.created_at, LedgerLot.id) < tuple_(*after))
    return lot_views(session, list(session.scalars(query.limit(first + 1))))


# --------------------------------------------------------------------------- trades


@dataclass(frozen=True)
class TradeView:
    seq: int  # of the price transfer
    price_transfer_id: uuid.UUID
    lot_id: uuid.UUID
    quota_type: QuotaType
    county_code: str
    area: int  # 0.0001 亩
    price_per_mu_fen: int
    total_fen: int
    fee_fen: int
    buyer_account_id: int
    buyer_name: str
    seller_account_id: int
    seller_name: str
    at: datetime


def trades(session: Session, scope: str | None, *, after_seq: int | None = None,
           first: int = 20) -> list[TradeView]:
    """Posted trades (成交), newest first, with price per 亩, total and fee; `first` + 1."""
    rows = session.execute(text(
        "SELECT p.seq, p.id, p.lot_id, l.quota_type::text AS quota_type, l.county_code, l.area, "
        "CAST(coalesce(pend.details, p.details) ->> 'price_per_mu_fen' AS bigint) AS price, "
        "p.amount AS total, p.debit_account_id, b.holder_name AS buyer, p.credit_account_id, "
        "s.holder_name AS seller, p.at, "
        "(SELECT coalesce(sum(f.amount), 0) FROM ledger_transfers f WHERE "
        " f.linked_group = p.linked_group AND f.code = 'fee' AND f.kind = p.kind) AS fee "
        "FROM ledger_transfers p JOIN ledger_lots l ON l.id = p.lot_id "
        "JOIN ledger_accounts b ON b.id = p.debit_account_id "
        "JOIN ledger_accounts s ON s.id = p.credit_account_id "
        "LEFT JOIN ledger_transfers pend ON pend.id = p.pending_id "
        "WHERE p.code = 'price' AND p.kind IN ('single', 'post') "
        "AND (CAST(:scope AS text) IS NULL OR l.county_code = :scope) "
        "AND (CAST(:after AS bigint) IS NULL OR p.seq < :after) "
        "ORDER BY p.seq DESC LIMIT :limit"),
        {"scope": scope, "after": after_seq, "limit": first + 1})
    return [TradeView(r.seq, r.id, r.lot_id, QuotaType(r.quota_type), r.county_code, r.area,
                      r.price, r.total, int(r.fee), r.debit_account_id, r.buyer,
                      r.credit_account_id, r.seller, r.at) for r in rows]


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class StatementLine:
    seq: int
    at: datetime
    transfer_id: uuid.UUID
    kind: TransferKind
    code: TransferCode
    counterparty_account_id: int
    debit: int
    credit: int
    balance: int


@dataclass(frozen=True)
class Statement:
    """日对账单: one account's posted movements on one day (China time), opening → closing."""

    account: AccountView
    day: date
    opening: int
    lines: list[StatementLine]

    @property
    def closing(self) -> int:
        return self.lines[-1].balance if self.lines else self.opening

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        a = self.account
        writer.writerow(["line", "account_id", "date", "unit", "seq", "time", "transfer_id",
                         "kind", "code", "counterparty_account_id", "debit", "credit",
                         "balance"])
        head = [a.id, self.day.isoformat(), UNIT_OF[a.dimension]]
        writer.writerow(["opening", *head, "", "", "", "", "", "", "", "", self.opening])
        for line in self.lines:
            writer.writerow(["movement", *head, line.seq,
                             line.at.astimezone(CHINA).isoformat(timespec="seconds"),
                             line.transfer_id, line.kind.value, line.code.value,
                             line.counterparty_account_id, line.debit, line.credit,
                             line.balance])
        writer.writerow(["closing", *head, "", "", "", "", "", "",
                         sum(x.debit for x in self.lines), sum(x.credit for x in self.lines),
                         self.closing])
        return out.getvalue()


def statement(session: Session, scope: str | None, account_id: int, day: date) -> Statement:
    """Opening balance at 00:00 China time, each posted movement of the day, closing balance.

    Posted movements only (single transfers and posts of pending ones): pending reservations
    do not change the posted balance until they are posted."""
    view = account(session, scope, account_id)
    start = datetime.combine(day, time(0), CHINA)
    end = start + timedelta(days=1)
    movement = (
        "SELECT seq, at, id, kind::text AS kind, code::text AS code, "
        "CASE WHEN debit_account_id = :a THEN credit_account_id ELSE debit_account_id END "
        "AS other, CASE WHEN debit_account_id = :a THEN amount ELSE 0 END AS debit, "
        "CASE WHEN credit_account_id = :a THEN amount ELSE 0 END AS credit "
        "FROM ledger_transfers WHERE (debit_account_id = :a OR credit_account_id = :a) "
        "AND kind IN ('single', 'post')")
    params = {"a": account_id, "start": start, "end": end}
    opening = session.scalar(text(
        f"SELECT coalesce(sum(credit - debit), 0) FROM ({movement} AND at < :start) m"), params)
    balance = int(opening or 0)
    lines = []
    for r in session.execute(text(f"{movement} AND at >= :start AND at < :end ORDER BY seq"),
                             params):
        balance += r.credit - r.debit
        lines.append(StatementLine(r.seq, r.at, r.id, TransferKind(r.kind), TransferCode(r.code),
                                   r.other, r.debit, r.credit, balance))
    return Statement(view, day, int(opening or 0), lines)
