"""指标台账 in GraphQL: balances, lots, trades, the reconciliation feed, and the mutations the
trading center (role trading_center, or admin) sends. The rules live in services/ledger*.py.

Amounts are exact integers in their dimension's sub-unit, sent and returned as decimal strings
(`Amount`, since GraphQL's Int has 32 bits): area and paddy area in 0.0001 亩, grain capacity in
kg, money in 分. Each quantity also comes in 亩 and m² (areas) or 元 (money) for display.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, NewType, TypeVar

import strawberry
from strawberry.scalars import JSON

from registry.api.context import Info
from registry.api.pagination import PageInfo, page_size
from registry.db.ledger import Dimension as DbDimension
from registry.db.ledger import HolderKind as DbHolderKind
from registry.db.ledger import QuotaType as DbQuotaType
from registry.db.ledger import TransferCode as DbTransferCode
from registry.db.ledger import TransferKind as DbTransferKind
from registry.services import ledger as svc
from registry.services.errors import InvalidInput
from registry.services.ledger import reports
from registry.services.ledger.rules import CONSUMER_KINDS
from registry.services.ledger.rules import Action as DbAction
from registry.services.ledger.rules import LotState as DbLotState
from registry.services.ledger.rules import TransferStatus as DbTransferStatus

T = TypeVar("T")
_DIGITS = re.compile(r"-?[0-9]{1,19}")


def _parse_amount(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise ValueError("an Amount is an integer, written as a decimal string (e.g. \"123456\")")


Amount = NewType("Amount", int)
# Registered in the schema's config (registry/api/schema.py).
SCALARS = {Amount: strawberry.scalar(
    name="Amount", serialize=str, parse_value=_parse_amount,
    description="An exact integer in the dimension's sub-unit (0.0001 亩, kg or 分), as a "
                "decimal string.")}


def _enum(source: type[Enum], name: str, description: str,
          leave_out: frozenset[Any] = frozenset()) -> Any:
    members = {m.name: m.value for m in source if m not in leave_out}
    return strawberry.enum(Enum(name, members), description=description)  # type: ignore[misc]


QuotaType = _enum(DbQuotaType, "QuotaType", "指标类型 (FUNDS: trade prices and fees)")
Dimension = _enum(DbDimension, "QuotaDimension", "指标维度: AREA/PADDY_AREA in 0.0001 亩, "
                  "GRAIN_CAPACITY in kg, MONEY in 分")
HolderKind = _enum(DbHolderKind, "LedgerHolderKind", "账户持有人类别")
TransferKind = _enum(DbTransferKind, "TransferKind", "single, pending, post, void or expire")
TransferCode = _enum(DbTransferCode, "TransferCode", "业务类型")
LotState = _enum(DbLotState, "LotState", "指标批次状态: 入库 → 挂牌 → 成交 → 核销, or 撤销")
ConsumerKind = strawberry.enum(
    Enum("ConsumerKind", {k.upper(): k for k in sorted(CONSUMER_KINDS)}),  # type: ignore[misc]
    description="核销对象 LAND_SUPPLY_BATCH 供地批次 / PROJECT 项目")
TransferStatus = _enum(DbTransferStatus, "TransferStatus", "What became of a transfer")
TransferAction = _enum(DbAction, "TransferAction",
                       "SINGLE posts at once; PENDING reserves; POST/VOID resolve a pending one "
                       "(expiries are recorded by the ledger itself)",
                       leave_out=frozenset({DbAction.EXPIRE}))


def _db(enum: type[T], value: Any) -> T:
    return enum(value.value)  # type: ignore[call-arg]


def _gql(enum: Any, value: Enum) -> Any:
    return enum(value.value)


# --------------------------------------------------------------------------- output types


@strawberry.type(description="An exact quantity with its unit, and its display forms")
class Quantity:
    amount: Amount
    dimension: Dimension  # type: ignore[valid-type]
    unit: str = strawberry.field(description="0.0001亩, kg or 分")
    mu: str | None = strawberry.field(description="亩, exact (areas only)")
    square_metres: str | None = strawberry.field(description="m², to 0.01 (areas only)")
    yuan: str | None = strawberry.field(description="元 (money only)")


def quantity(dimension: DbDimension, amount: int) -> Quantity:
    area = dimension in (DbDimension.AREA, DbDimension.PADDY_AREA)
    money = dimension is DbDimension.MONEY
    return Quantity(amount=amount, dimension=_gql(Dimension, dimension),
                    unit=reports.UNIT_OF[dimension],
                    mu=reports.mu_text(amount) if area else None,
                    square_metres=reports.square_metres_text(amount) if area else None,
                    yuan=reports.yuan_text(amount) if money else None)


@strawberry.type(description="指标账户: one holder × quota type × dimension, with balances")
class LedgerAccount:
    id: int
    holder_kind: HolderKind  # type: ignore[valid-type]
    holder_id: str
    holder_name: str
    county_code: str | None
    quota_type: QuotaType  # type: ignore[valid-type]
    dimension: Dimension  # type: ignore[valid-type]
    no_overdraft: bool
    debits_pending: Amount
    debits_posted: Amount
    credits_pending: Amount
    credits_posted: Amount
    balance: Quantity = strawberry.field(description="posted credits − posted debits")
    available: Quantity = strawberry.field(description="balance − pending debits")

    @classmethod
    def of(cls, a: reports.AccountView) -> LedgerAccount:
        return cls(id=a.id, holder_kind=_gql(HolderKind, a.holder_kind), holder_id=a.holder_id,
                   holder_name=a.holder_name, county_code=a.county_code,
                   quota_type=_gql(QuotaType, a.quota_type),
                   dimension=_gql(Dimension, a.dimension), no_overdraft=a.no_overdraft,
                   debits_pending=a.debits_pending, debits_posted=a.debits_posted,
                   credits_pending=a.credits_pending, credits_posted=a.credits_posted,
                   balance=quantity(a.dimension, a.balance),
                   available=quantity(a.dimension, a.available))


@strawberry.type(description="各县指标余额: balances per county, holder kind and quota type")
class CountyBalance:
    county_code: str
    county_name: str
    holder_kind: HolderKind  # type: ignore[valid-type]
    quota_type: QuotaType  # type: ignore[valid-type]
    accounts: int
    balance: Quantity
    available: Quantity


@strawberry.type(description="指标流水: an immutable transfer, hash-chained")
class LedgerTransfer:
    id: uuid.UUID
    seq: int
    kind: TransferKind  # type: ignore[valid-type]
    code: TransferCode  # type: ignore[valid-type]
    debit_account_id: int
    credit_account_id: int
    quota_type: QuotaType  # type: ignore[valid-type]
    amount: Quantity
    pending_id: uuid.UUID | None
    expires_at: datetime | None
    lot_id: uuid.UUID | None
    linked_group: uuid.UUID | None
    details: JSON
    at: datetime
    actor: str
    hash: str

    @classmethod
    def of(cls, t: reports.TransferView) -> LedgerTransfer:
        return cls(id=t.id, seq=t.seq, kind=_gql(TransferKind, t.kind),
                   code=_gql(TransferCode, t.code), debit_account_id=t.debit_account_id,
                   credit_account_id=t.credit_account_id, quota_type=_gql(QuotaType, t.quota_type),
                   amount=quantity(t.dimension, t.amount), pending_id=t.pending_id,
                   expires_at=t.expires_at, lot_id=t.lot_id, linked_group=t.linked_group,
                   details=t.details, at=t.at, actor=t.actor, hash=t.hash)


@strawberry.type(description="Where one dimension of a lot is")
class LotPosition:
    amount: Quantity
    state: LotState  # type: ignore[valid-type]
    holder_account_id: int
    pending: bool = strawberry.field(description="a pending transfer holds it")


@strawberry.type(description="指标批次: quota issued by one accepted project, and its history")
class Lot:
    id: uuid.UUID
    quota_type: QuotaType  # type: ignore[valid-type]
    project_name: str
    acceptance_doc_no: str
    vintage_year: int
    county_code: str
    source_parcels: list[str]
    state: LotState | None  # type: ignore[valid-type]
    quantities: list[Quantity]
    positions: list[LotPosition]
    history: list[LedgerTransfer] = strawberry.field(
        description="every transfer naming the lot, issuance to write-off, in chain order")

    @classmethod
    def of(cls, v: reports.LotView) -> Lot:
        lot = v.lot
        amounts = svc.lot_amounts(lot.quota_type, lot.area, lot.paddy_area, lot.grain_capacity)
        return cls(id=lot.id, quota_type=_gql(QuotaType, lot.quota_type),
                   project_name=lot.project_name, acceptance_doc_no=lot.acceptance_doc_no,
                   vintage_year=lot.vintage_year, county_code=lot.county_code,
                   source_parcels=list(lot.source_parcels),
                   state=_gql(LotState, v.state) if v.state else None,
                   quantities=[quantity(d, a) for d, a in amounts.items()],
                   positions=[LotPosition(amount=quantity(p.dimension, p.amount),
                                          state=_gql(LotState, p.state),
                                          holder_account_id=p.holder_account_id,
                                          pending=p.pending) for p in v.positions],
                   history=[LedgerTransfer.of(t) for t in v.history])


@strawberry.type(description="成交: a posted trade with its price per 亩, total and fee")
class Trade:
    seq: int
    lot_id: uuid.UUID
    quota_type: QuotaType  # type: ignore[valid-type]
    county_code: str
    area: Quantity
    price_per_mu: Quantity = strawberry.field(description="成交单价 per 亩, in 分")
    total: Quantity = strawberry.field(description="成交总价 = price per 亩 × area")
    fee: Quantity
    buyer_account_id: int
    buyer_name: str
    seller_account_id: int
    seller_name: str
    at: datetime

    @classmethod
    def of(cls, t: reports.TradeView) -> Trade:
        money = DbDimension.MONEY
        return cls(seq=t.seq, lot_id=t.lot_id, quota_type=_gql(QuotaType, t.quota_type),
                   county_code=t.county_code, area=quantity(DbDimension.AREA, t.area),
                   price_per_mu=quantity(money, t.price_per_mu_fen),
                   total=quantity(money, t.total_fen), fee=quantity(money, t.fee_fen),
                   buyer_account_id=t.buyer_account_id, buyer_name=t.buyer_name,
                   seller_account_id=t.seller_account_id, seller_name=t.seller_name, at=t.at)


@strawberry.type(description="A refusal: stable code and messages")
class LedgerError:
    code: str
    message_zh: str
    message_en: str
    details: JSON | None


@strawberry.type(description="What became of one transfer of a batch")
class TransferResult:
    id: uuid.UUID
    status: TransferStatus  # type: ignore[valid-type]
    seq: int | None
    replayed: bool = strawberry.field(description="recorded earlier under this id; nothing new")
    error: LedgerError | None

    @classmethod
    def of(cls, r: svc.TransferResult) -> TransferResult:
        error = None if r.error is None else LedgerError(
            code=r.error.code, message_zh=r.error.message_zh, message_en=r.error.message_en,
            details=r.error.details or None)
        return cls(id=r.id, status=_gql(TransferStatus, r.status), seq=r.seq,
                   replayed=r.replayed, error=error)


# --------------------------------------------------------------------------- pages
# Ledger pages carry their own PageInfo type name so the schema stays valid whatever the
# register's pagination module names its own.


@strawberry.type
class LedgerEventEdge:
    cursor: str
    node: LedgerTransfer


@strawberry.type(description="A page of the reconciliation feed, in chain order")
class LedgerEventConnection:
    edges: list[LedgerEventEdge]
    page_info: PageInfo


@strawberry.type
class LedgerAccountEdge:
    cursor: str
    node: LedgerAccount


@strawberry.type
class LedgerAccountConnection:
    edges: list[LedgerAccountEdge]
    page_info: PageInfo


@strawberry.type
class LotEdge:
    cursor: str
    node: Lot


@strawberry.type
class LotConnection:
    edges: list[LotEdge]
    page_info: PageInfo


@strawberry.type
class TradeEdge:
    cursor: str
    node: Trade


@strawberry.type
class TradeConnection:
    edges: list[TradeEdge]
    page_info: PageInfo


def _cursor(kind: str, key: list[Any]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(kind: str, cursor: str | None) -> list[Any] | None:
    """The key inside an opaque cursor of `kind` (BAD_CURSOR otherwise)."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("BAD_CURSOR", "分页游标无效", "invalid cursor") from exc
    if not isinstance(key, list) or not key or key[0] != kind:
        raise InvalidInput("BAD_CURSOR", "分页游标无效", "invalid cursor")
    return key[1:]


def _int_key(key: list[Any] | None) -> int | None:
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], int):
        raise InvalidInput("BAD_CURSOR", "分页游标无效", "invalid cursor")
    return int(key[0])


# --------------------------------------------------------------------------- queries


@strawberry.type
class LedgerQuery:
    @strawberry.field(description="指标账户与余额 Accounts with balances, by id.")
    async def ledger_accounts(self, info: Info, county_code: str | None = None,
                              holder_kind: HolderKind | None = None,  # type: ignore[valid-type]
                              quota_type: QuotaType | None = None,  # type: ignore[valid-type]
                              first: int | None = None,
                              after: str | None = None) -> LedgerAccountConnection:
        scope = svc.reader_scope(info.context.principal)
        size = page_size(info, first)
        after_id = _int_key(_uncursor("account", after)) or 0
        found = await info.context.read(
            reports.accounts, scope, county_code=county_code,
            holder_kind=_db(DbHolderKind, holder_kind) if holder_kind else None,
            quota_type=_db(DbQuotaType, quota_type) if quota_type else None,
            after_id=after_id, first=size)
        edges = [LedgerAccountEdge(cursor=_cursor("account", [a.id]), node=LedgerAccount.of(a))
                 for a in found[:size]]
        return LedgerAccountConnection(edges=edges, page_info=PageInfo(
            has_next_page=len(found) > size, end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description="One account with its balances.")
    async def ledger_account(self, info: Info, id: int) -> LedgerAccount:
        scope = svc.reader_scope(info.context.principal)
        return LedgerAccount.of(await info.context.read(reports.account, scope, id))

    @strawberry.field(description="各县指标余额 Balances summed per county.")
    async def ledger_county_balances(self, info: Info) -> list[CountyBalance]:
        scope = svc.reader_scope(info.context.principal)
        rows = await info.context.read(reports.county_balances, scope)
        return [CountyBalance(county_code=r.county_code, county_name=r.county_name,
                              holder_kind=_gql(HolderKind, r.holder_kind),
                              quota_type=_gql(QuotaType, r.quota_type), accounts=r.accounts,
                              balance=quantity(r.dimension, r.balance),
                              available=quantity(r.dimension, r.available)) for r in rows]

    @strawberry.field(description="指标批次 A lot, with its history from issuance on.")
    async def ledger_lot(self, info: Info, id: uuid.UUID) -> Lot:
        scope = svc.reader_scope(info.context.principal)
        return Lot.of(await info.context.read(reports.lot_view, id, scope))

    @strawberry.field(description="Lots, newest first.")
    async def ledger_lots(self, info: Info, county_code: str | None = None,
                          first: int | None = None, after: str | None = None) -> LotConnection:
        scope = svc.reader_scope(info.context.principal)
        size = page_size(info, first)
        key = _uncursor("lot", after)
        keyset = None
        if key is not None:
            try:
                keyset = (datetime.fromisoformat(key[0]), uuid.UUID(key[1]))
            except (ValueError, IndexError, TypeError) as exc:
                raise InvalidInput("BAD_CURSOR", "分页游标无效", "invalid cursor") from exc
        found = await info.context.read(reports.lots, scope, county_code=county_code,
                                        after=keyset, first=size)
        edges = [LotEdge(cursor=_cursor("lot", [v.lot.created_at.isoformat(), str(v.lot.id)]),
                         node=Lot.of(v)) for v in found[:size]]
        return LotConnection(edges=edges, page_info=PageInfo(
            has_next_page=len(found) > size, end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description="成交记录 Posted trades, newest first, with prices.")
    async def ledger_trades(self, info: Info, first: int | None = None,
                            after: str | None = None) -> TradeConnection:
        scope = svc.reader_scope(info.context.principal)
        size = page_size(info, first)
        found = await info.context.read(reports.trades, scope,
                                        after_seq=_int_key(_uncursor("trade", after)), first=size)
        edges = [TradeEdge(cursor=_cursor("trade", [t.seq]), node=Trade.of(t))
                 for t in found[:size]]
        return TradeConnection(edges=edges, page_info=PageInfo(
            has_next_page=len(found) > size, end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description=(
        "对账流水 The reconciliation feed: every transfer in chain order, after a cursor. "
        "Pass the last endCursor to continue; a page never skips a transfer."))
    async def ledger_events(self, info: Info, after: str | None = None,
                            first: int | None = None) -> LedgerEventConnection:
        svc.require_city_reader(info.context.principal)
        size = page_size(info, first)
        after_seq = _int_key(_uncursor("event", after)) or 0
        found = await info.context.read(reports.events, after_seq, size)
        edges = [LedgerEventEdge(cursor=_cursor("event", [t.seq]), node=LedgerTransfer.of(t))
                 for t in found[:size]]
        return LedgerEventConnection(edges=edges, page_info=PageInfo(
            has_next_page=len(found) > size, end_cursor=edges[-1].cursor if edges else None))


# --------------------------------------------------------------------------- inputs


@strawberry.input(description="One transfer; for POST/VOID only id and pendingId are needed")
class TransferInput:
    id: uuid.UUID = strawberry.field(description="the client's idempotency key")
    action: TransferAction = strawberry.field(  # type: ignore[valid-type]
        default_factory=lambda: TransferAction.SINGLE)  # type: ignore[attr-defined]
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: Amount | None = None
    code: TransferCode | None = None  # type: ignore[valid-type]
    pending_id: uuid.UUID | None = None
    timeout_seconds: int | None = None
    lot_id: uuid.UUID | None = None
    details: JSON | None = None
    linked: bool = strawberry.field(default=False,
                                    description="linked with the next: all succeed or none")

    def to_service(self) -> svc.TransferInput:
        details = self.details if self.details is not None else {}
        if not isinstance(details, dict):
            raise InvalidInput("INVALID_DETAILS", "附加信息须为对象", "details must be an object")
        return svc.TransferInput(
            id=self.id, action=_db(DbAction, self.action),
            debit_account_id=self.debit_account_id, credit_account_id=self.credit_account_id,
            amount=self.amount, code=_db(DbTransferCode, self.code) if self.code else None,
            pending_id=self.pending_id, timeout_seconds=self.timeout_seconds,
            lot_id=self.lot_id, details=details, linked=self.linked)


@strawberry.input(description="An account holder: kind and id (county code, project number, "
                              "unified social credit code …)")
class AccountHolderInput:
    kind: HolderKind  # type: ignore[valid-type]
    id: str
    name: str
    county_code: str | None = None

    def to_service(self) -> svc.Holder:
        return svc.Holder(_db(DbHolderKind, self.kind), self.id, self.name, self.county_code)


@strawberry.input(description="入库: an accepted project's quota. Amounts in sub-units.")
class IssueLotInput:
    lot_id: uuid.UUID = strawberry.field(description="the client's idempotency key")
    quota_type: QuotaType  # type: ignore[valid-type]
    project_name: str
    acceptance_doc_no: str = strawberry.field(description="验收（下达）文号")
    vintage_year: int
    county_code: str
    source_parcels: list[str] = strawberry.field(description="来源宗地代码 (19 characters)")
    area: Amount
    paddy_area: Amount | None = None
    grain_capacity: Amount | None = None


@strawberry.input(description="成交: the lot to the buyer; price per 亩 × area, and a fee")
class TradeLotInput:
    trade_id: uuid.UUID = strawberry.field(description="the client's idempotency key")
    lot_id: uuid.UUID
    buyer: AccountHolderInput
    price_per_mu_fen: Amount
    fee_fen: Amount = strawberry.field(default=0)
    timeout_seconds: int | None = strawberry.field(
        default=None, description="pending until settled, or void after this many seconds")


@strawberry.input(description="核销: what consumes the quota, and its parcels")
class WriteOffInput:
    operation_id: uuid.UUID
    lot_id: uuid.UUID
    consumer_kind: ConsumerKind  # type: ignore[valid-type]
    consumer_name: str
    consumer_reference: str = strawberry.field(description="供地批次号 / 项目编号")
    parcels: list[str]


# --------------------------------------------------------------------------- mutations


async def _write(info: Info, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A ledger change in one transaction as the caller (WRITE-1), retried if it raced."""
    principal = svc.require_writer(info.context.principal)
    context = info.context
    kwargs.update(actor=svc.Actor.of(principal), now=context.runtime.clock(),
                  request_id=context.request_id)
    return await context.run(work, *args, **kwargs)  # RETRY-2: races are retried there


def _then_lot(operation: Callable[..., Any]) -> Callable[..., reports.LotView]:
    """Run a lot operation, then read the lot in the same transaction."""

    def work(session: Any, *, lot_id: uuid.UUID, **kwargs: Any) -> reports.LotView:
        operation(session, lot_id=lot_id, **kwargs)
        return reports.lot_view(session, lot_id, None)

    return work


@strawberry.type
class LedgerMutation:
    @strawberry.mutation(description="开户 Open a holder's accounts for a quota type (idempotent).")
    async def open_ledger_accounts(self, info: Info, holder: AccountHolderInput,
                                   quota_type: QuotaType,  # type: ignore[valid-type]
                                   ) -> list[LedgerAccount]:
        def work(session: Any, **kwargs: Any) -> list[reports.AccountView]:
            opened = svc.open_accounts(session, **kwargs)
            return [reports.account(session, None, a.id) for a in opened]

        found = await _write(info, work, holder=holder.to_service(),
                             quota_type=_db(DbQuotaType, quota_type))
        return [LedgerAccount.of(a) for a in found]

    @strawberry.mutation(description="入库 Issue a lot from an accepted project into its county.")
    async def issue_lot(self, info: Info, input: IssueLotInput) -> Lot:
        source = svc.LotSource(
            quota_type=_db(DbQuotaType, input.quota_type), project_name=input.project_name,
            acceptance_doc_no=input.acceptance_doc_no, vintage_year=input.vintage_year,
            county_code=input.county_code, source_parcels=tuple(input.source_parcels),
            area=input.area, paddy_area=input.paddy_area, grain_capacity=input.grain_capacity)
        return Lot.of(await _write(info, _then_lot(svc.issue_lot), lot_id=input.lot_id,
                                   source=source))

    @strawberry.mutation(description="挂牌 List a lot: its holder hands it to the escrow.")
    async def list_lot(self, info: Info, operation_id: uuid.UUID, lot_id: uuid.UUID) -> Lot:
        return Lot.of(await _write(info, _then_lot(svc.list_lot), operation_id=operation_id,
                                   lot_id=lot_id))

    @strawberry.mutation(description="撤牌 Take a listed lot back to whoever listed it.")
    async def delist_lot(self, info: Info, operation_id: uuid.UUID, lot_id: uuid.UUID) -> Lot:
        return Lot.of(await _write(info, _then_lot(svc.delist_lot), operation_id=operation_id,
                                   lot_id=lot_id))

    @strawberry.mutation(description=(
        "成交 Trade a listed lot: quota to the buyer, price and fee from the buyer, linked "
        "(all or nothing); with timeoutSeconds it stays pending until settleTrade."))
    async def trade_lot(self, info: Info, input: TradeLotInput) -> Lot:
        return Lot.of(await _write(
            info, _then_lot(svc.trade_lot), trade_id=input.trade_id, lot_id=input.lot_id,
            buyer=input.buyer.to_service(), price_per_mu_fen=input.price_per_mu_fen,
            fee_fen=input.fee_fen, timeout_seconds=input.timeout_seconds))

    @strawberry.mutation(description="Post (post: true) or void a pending trade, all its parts.")
    async def settle_trade(self, info: Info, operation_id: uuid.UUID, trade_id: uuid.UUID,
                           post: bool) -> list[TransferResult]:
        found = await _write(info, svc.settle_trade, operation_id=operation_id,
                             trade_id=trade_id, post=post)
        return [TransferResult.of(r) for r in found]

    @strawberry.mutation(description="核销 Write a lot off against the land supply consuming it.")
    async def write_off_lot(self, info: Info, input: WriteOffInput) -> Lot:
        consumer = svc.Consumer(input.consumer_kind.value, input.consumer_name,
                                input.consumer_reference, tuple(input.parcels))
        return Lot.of(await _write(info, _then_lot(svc.write_off_lot),
                                   operation_id=input.operation_id, lot_id=input.lot_id,
                                   consumer=consumer))

    @strawberry.mutation(description="撤销 Revoke an in-stock lot back to its source.")
    async def revoke_lot(self, info: Info, operation_id: uuid.UUID, lot_id: uuid.UUID,
                         reason: str) -> Lot:
        return Lot.of(await _write(info, _then_lot(svc.revoke_lot), operation_id=operation_id,
                                   lot_id=lot_id, reason=reason))

    @strawberry.mutation(description=(
        "Record transfers (at most 1,000): one result per transfer, in order. Refusals are "
        "results with a code; the rest of the batch still applies, except within a linked "
        "group."))
    async def post_transfers(self, info: Info,
                             transfers: list[TransferInput]) -> list[TransferResult]:
        inputs = [t.to_service() for t in transfers]
        return [TransferResult.of(r) for r in await _write(info, svc.create_transfers, inputs)]

    @strawberry.mutation(description="Record the expiry of pending transfers whose time is up.")
    async def expire_pending_transfers(self, info: Info) -> list[TransferResult]:
        return [TransferResult.of(r) for r in await _write(info, svc.expire_pending)]


__all__ = ["LedgerMutation", "LedgerQuery"]
