"""指标台账 The quota ledger's use cases: accounts, lots and their life, chain verification.

Lot operations (issue, list, delist, trade, settle, write off, revoke) build linked groups of
transfers and hand them to the engine (engine.py; the rules are in rules.py). Each
takes the client's operation id: the transfers' ids are derived from it, so a retried operation
finds what it recorded the first time (same request → same result; another request under the
same id → ID_CONFLICT). A refused operation raises its DomainError, so the caller's transaction
rolls back and nothing is recorded.

Rules enforced here:
- ACCOUNT-1 An account is one holder × quota type × dimension; quota accounts of holders never
  overdraw (no_overdraft; the database refuses otherwise), issuance accounts (one per source
  document) may, since their negative balance is what the source has issued.
- READ-1 Readers: trading_center, auditor and admin see everything; other users with a county
  scope see their county's accounts, lots and trades; anyone else is FORBIDDEN.
- WRITE-1 Changes need trading_center or admin, and are audited in the same transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from registry.codes.unit_code import check_parcel_code
from registry.db.ledger import (
    DIMENSIONS,
    Dimension,
    HolderKind,
    LedgerAccount,
    LedgerLot,
    QuotaType,
    TransferCode,
    TransferKind,
)
from registry.db.reference import Division, DivisionLevel
from registry.db.session import transaction
from registry.services.access import Principal, Role, require
from registry.services.chain import GENESIS, ChainBreak, canonical_json, first_break
from registry.services.database_errors import translate_database_errors
from registry.services.errors import DomainError, Forbidden, InvalidInput
from registry.services.ledger.engine import (
    Actor,
    concurrent_update,
    create_transfers,
    expire_pending,
    raise_if_recorded_meanwhile,
    record_audit,
)
from registry.services.ledger.errors import refusal
from registry.services.ledger.reports import lot_views
from registry.services.ledger.rules import (
    ALLOWED_FROM,
    MAX_AMOUNT,
    MAX_TIMEOUT_SECONDS,
    STATUS_OF_KIND,
    Action,
    LotState,
    TransferInput,
    TransferResult,
    chain_payload,
    lot_amounts,
    trade_total_fen,
)

__all__ = [
    "Actor", "ChainBreak", "Consumer", "Holder", "LotSource", "TransferInput", "TransferResult",
    "create_transfers", "expire_all_due", "expire_pending", "verify_ledger_chain",
]

WRITERS = (Role.TRADING_CENTER,)  # admin may do everything (ACCESS-3)
CITY_READERS = (Role.TRADING_CENTER, Role.AUDITOR)
T = TypeVar("T")


# --------------------------------------------------------------------------- access


def require_writer(principal: Principal | None) -> Principal:
    """WRITE-1."""
    return require(principal, *WRITERS)


def reader_scope(principal: Principal | None) -> str | None:
    """READ-1: the county the caller may read (None: every county)."""
    principal = require(principal)
    if principal.has_any(CITY_READERS):
        return None
    if principal.county_code is not None:
        return principal.county_code
    raise Forbidden("the ledger is read by the trading center, auditors and county staff",
                    "指标台账仅限交易中心、审计人员和县级人员查阅")


def require_city_reader(principal: Principal | None) -> Principal:
    """The reconciliation feed is for the trading center, auditors and admins only."""
    return require(principal, *CITY_READERS)


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class Holder:
    """Who holds an account: kind and id (county code, project number, credit code …)."""

    kind: HolderKind
    id: str
    name: str
    county_code: str | None = None


ESCROW = Holder(HolderKind.ESCROW, "trading-center", "巴中市公共资源交易中心（挂牌托管）")
RETIRED = Holder(HolderKind.RETIRED, "written-off", "已核销指标")
FEES = Holder(HolderKind.FEE, "trading-center", "巴中市公共资源交易中心（服务费）")


def _county_name(session: Session, county_code: str) -> str:
    division = session.get(Division, county_code)
    if division is None or division.level is not DivisionLevel.COUNTY:
        raise InvalidInput("UNKNOWN_COUNTY", f"未知的县级区划：{county_code}",
                           f"not a known county: {county_code}")
    return division.name


def county_holder(session: Session, county_code: str) -> Holder:
    return Holder(HolderKind.COUNTY, county_code, _county_name(session, county_code), county_code)


def ensure_accounts(session: Session, holder: Holder, quota_type: QuotaType,
                    dimensions: Sequence[Dimension], now: datetime) -> dict[Dimension, int]:
    """The holder's accounts for these dimensions, opened when missing (ACCOUNT-1)."""
    no_overdraft = holder.kind is not HolderKind.ISSUANCE and quota_type is not QuotaType.FUNDS
    dims = [d.value for d in dimensions]
    session.execute(text(
        "INSERT INTO ledger_accounts (holder_kind, holder_id, holder_name, county_code, "
        "quota_type, dimension, no_overdraft, created_at) "
        "SELECT CAST(:kind AS ledger_holder_kind), :holder, :name, :county, "
        "CAST(:type AS ledger_quota_type), d, :no_overdraft, :now "
        "FROM unnest(CAST(:dims AS ledger_dimension[])) AS d "
        "ON CONFLICT ON CONSTRAINT uq_ledger_accounts_holder DO NOTHING"),
        {"kind": holder.kind.value, "holder": holder.id, "name": holder.name,
         "county": holder.county_code, "type": quota_type.value, "dims": dims,
         "no_overdraft": no_overdraft, "now": now})
    rows = session.execute(text(
        "SELECT id, dimension::text AS dimension FROM ledger_accounts WHERE holder_kind = "
        "CAST(:kind AS ledger_holder_kind) AND holder_id = :holder AND quota_type = "
        "CAST(:type AS ledger_quota_type) AND dimension = ANY(CAST(:dims AS ledger_dimension[]))"),
        {"kind": holder.kind.value, "holder": holder.id, "type": quota_type.value, "dims": dims})
    return {Dimension(row.dimension): row.id for row in rows}


OPENABLE = frozenset({HolderKind.COUNTY, HolderKind.PROJECT, HolderKind.BUYER})


def _check_holder(session: Session, holder: Holder) -> None:
    """A holder a client may name: a county, project or buyer, with a sane id and name."""
    if holder.kind not in OPENABLE:
        raise refusal("ACCOUNT_NOT_ALLOWED", {"reason": "system accounts open themselves"})
    if not holder.id.strip() or len(holder.id) > 128 or not holder.name.strip() or \
            len(holder.name) > 256:
        raise InvalidInput("INVALID_HOLDER", "持有人编号（≤128字）和名称（≤256字）不能为空",
                           "the holder's id (≤ 128 characters) and name (≤ 256) are required")
    if holder.county_code is not None:
        _county_name(session, holder.county_code)
    if holder.kind is HolderKind.COUNTY and holder.county_code != holder.id:
        raise InvalidInput("INVALID_HOLDER", "县级账户的持有人编号即县级区划代码",
                           "a county account's holder id is its county code")


def open_accounts(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
                  holder: Holder, quota_type: QuotaType) -> list[LedgerAccount]:
    """Open a holder's accounts for every dimension of a quota type (idempotent).

    The same holder opened again with the same name and county returns the same accounts;
    with another name or county it is ID_CONFLICT.
    """
    _check_holder(session, holder)
    existing = list(session.scalars(select(LedgerAccount).where(
        LedgerAccount.holder_kind == holder.kind, LedgerAccount.holder_id == holder.id,
        LedgerAccount.quota_type == quota_type)))
    if any(a.holder_name != holder.name or a.county_code != holder.county_code
           for a in existing):
        raise refusal("ID_CONFLICT", {"holder": holder.id})
    dims = DIMENSIONS[quota_type]
    if len(existing) < len(dims):
        ensure_accounts(session, holder, quota_type, dims, now)
        record_audit(session, actor, "ledger.open_accounts", f"{holder.kind}:{holder.id}",
                     request_id, {"quota_type": quota_type.value})
    return list(session.scalars(select(LedgerAccount).where(
        LedgerAccount.holder_kind == holder.kind, LedgerAccount.holder_id == holder.id,
        LedgerAccount.quota_type == quota_type).order_by(LedgerAccount.id)))


# --------------------------------------------------------------------------- lots


@dataclass(frozen=True)
class LotSource:
    """An accepted project (or plan document) that issues a lot. Amounts in sub-units:
    area and paddy area in 0.0001 亩, grain capacity in kg."""

    quota_type: QuotaType
    project_name: str
    acceptance_doc_no: str
    vintage_year: int
    county_code: str
    source_parcels: tuple[str, ...]
    area: int
    paddy_area: int | None = None
    grain_capacity: int | None = None

    def body(self) -> dict[str, Any]:
        return {"quota_type": self.quota_type.value, "project_name": self.project_name,
                "acceptance_doc_no": self.acceptance_doc_no, "vintage_year": self.vintage_year,
                "county_code": self.county_code, "source_parcels": list(self.source_parcels),
                "area": self.area, "paddy_area": self.paddy_area,
                "grain_capacity": self.grain_capacity}


@dataclass(frozen=True)
class Consumer:
    """What consumes written-off quota (用地跟着项目走): a land-supply batch or a project."""

    kind: str  # land_supply_batch | project
    name: str
    reference: str  # 批次号 / 项目编号
    parcels: tuple[str, ...]

    def as_details(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "reference": self.reference,
                "parcels": list(self.parcels)}


def _sha256(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _check_amount(value: int | None, what: str, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if value is None or isinstance(value, bool) or not low <= value <= MAX_AMOUNT:
        raise refusal("INVALID_AMOUNT", {"field": what, "amount": value})


def _check_source(session: Session, source: LotSource) -> None:
    if source.quota_type is QuotaType.FUNDS:
        raise refusal("QUOTA_TYPE_MISMATCH", {"reason": "funds are not a quota"})
    _county_name(session, source.county_code)
    if not source.project_name.strip() or not source.acceptance_doc_no.strip():
        raise InvalidInput("INVALID_SOURCE", "项目名称和验收文号不能为空",
                           "the project name and acceptance document number are required")
    if len(source.project_name) > 256 or len(source.acceptance_doc_no) > 128:
        raise InvalidInput("INVALID_SOURCE", "项目名称或文号过长",
                           "the project name or document number is too long")
    if not 1990 <= source.vintage_year <= 2200:
        raise InvalidInput("INVALID_SOURCE", "指标年份无效", "the vintage year is out of range")
    _check_amount(source.area, "area")
    farmland = source.quota_type is QuotaType.FARMLAND_BALANCE
    if farmland:
        _check_amount(source.paddy_area, "paddy_area", allow_zero=True)
        _check_amount(source.grain_capacity, "grain_capacity", allow_zero=True)
        assert source.paddy_area is not None
        if source.paddy_area > source.area:
            raise refusal("INVALID_AMOUNT", {"field": "paddy_area",
                                             "reason": "paddy area exceeds the area"})
    elif source.paddy_area is not None or source.grain_capacity is not None:
        raise refusal("QUOTA_TYPE_MISMATCH",
                      {"reason": "only farmland-balance quota has paddy area and grain capacity"})
    needs_parcels = source.quota_type is not QuotaType.CONSTRUCTION_PLAN
    if needs_parcels and not source.source_parcels:
        raise InvalidInput("INVALID_PARCEL_CODE", "复垦或补充耕地项目须列明来源宗地",
                           "a reclamation or farmland project names its source parcels")
    for parcel in source.source_parcels:
        problems = check_parcel_code(parcel, {source.county_code})
        if problems:
            raise InvalidInput("INVALID_PARCEL_CODE", f"来源宗地代码无效：{parcel[:19]}",
                               f"invalid source parcel code: {parcel[:19]}",
                               [{"code": p.code, "messageZh": p.message_zh,
                                 "messageEn": p.message_en} for p in problems])


def _raise_first_refusal(results: Sequence[TransferResult]) -> None:
    refused = [r.error for r in results if r.error is not None]
    culprits = [e for e in refused if e.code != "LINKED_EVENT_FAILED"]
    if culprits or refused:
        raise (culprits or refused)[0]


def issue_lot(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
              lot_id: uuid.UUID, source: LotSource) -> uuid.UUID:
    """入库: an accepted project issues a lot into its county's accounts (one transfer per
    dimension, linked). The lot id is the idempotency key (IDEMPOTENCY-2 for overlapping
    retries)."""
    _check_source(session, source)
    body_sha = _sha256(source.body())
    existing = session.get(LedgerLot, lot_id)
    if existing is not None:
        if existing.body_sha256 != body_sha:
            raise refusal("ID_CONFLICT", {"lot": str(lot_id)})
        return lot_id
    amounts = lot_amounts(source.quota_type, source.area, source.paddy_area,
                          source.grain_capacity)
    dims = list(amounts)
    issuer = Holder(HolderKind.ISSUANCE, source.acceptance_doc_no, source.project_name,
                    source.county_code)
    sources = ensure_accounts(session, issuer, source.quota_type, dims, now)
    county = ensure_accounts(session, county_holder(session, source.county_code),
                             source.quota_type, dims, now)
    inserted = session.scalar(insert(LedgerLot).values(
        id=lot_id, quota_type=source.quota_type, project_name=source.project_name,
        acceptance_doc_no=source.acceptance_doc_no, vintage_year=source.vintage_year,
        county_code=source.county_code, source_parcels=list(source.source_parcels),
        area=source.area, paddy_area=source.paddy_area, grain_capacity=source.grain_capacity,
        body_sha256=body_sha, created_at=now, created_by=actor.name,
    ).on_conflict_do_nothing(index_elements=[LedgerLot.id]).returning(LedgerLot.id))
    if inserted is None:  # IDEMPOTENCY-2: an overlapping retry issued it first; replay that
        raise concurrent_update()
    transfers = [TransferInput(id=uuid.uuid5(lot_id, f"issue/{d}"), debit_account_id=sources[d],
                               credit_account_id=county[d], amount=amounts[d],
                               code=TransferCode.ISSUE, lot_id=lot_id,
                               linked=i < len(dims) - 1)
                 for i, d in enumerate(dims)]
    _raise_first_refusal(create_transfers(session, transfers, actor=actor, now=now,
                                          request_id=request_id))
    record_audit(session, actor, "ledger.issue_lot", str(lot_id), request_id,
                 {"doc": source.acceptance_doc_no, "county": source.county_code})
    return lot_id


@dataclass(frozen=True)
class LotSnapshot:
    lot: LedgerLot
    amounts: dict[Dimension, int]
    holders: dict[Dimension, int]  # dimension → account holding it
    states: dict[Dimension, LotState]
    lister: int | None  # the account that listed it last (area)

    def require(self, code: TransferCode) -> None:
        """A precise refusal before building transfers (the engine checks again, locked)."""
        allowed = ALLOWED_FROM[code]
        if not self.states or any(s not in allowed for s in self.states.values()):
            state = self.states.get(Dimension.AREA)
            raise refusal("INVALID_LOT_STATE", {"state": state.name if state else "NOT_ISSUED",
                                                "code": code.name})


def lot_snapshot(session: Session, lot_id: uuid.UUID) -> LotSnapshot:
    """A lot with where its dimensions are now (unlocked: the engine re-checks under lock)."""
    lot = session.get(LedgerLot, lot_id)
    if lot is None:
        raise refusal("UNKNOWN_LOT", {"lot": str(lot_id)})
    [view] = lot_views(session, [lot])
    lister = None
    for t in view.history:
        if t.code is TransferCode.LIST and t.kind in (TransferKind.SINGLE, TransferKind.POST) \
                and t.dimension is Dimension.AREA:
            lister = t.debit_account_id
    return LotSnapshot(lot, lot_amounts(lot.quota_type, lot.area, lot.paddy_area,
                                        lot.grain_capacity),
                       {p.dimension: p.holder_account_id for p in view.positions},
                       {p.dimension: p.state for p in view.positions}, lister)


def _holder_of(session: Session, account_id: int) -> Holder:
    account = session.get(LedgerAccount, account_id)
    assert account is not None
    return Holder(account.holder_kind, account.holder_id, account.holder_name,
                  account.county_code)


def _operation(session: Session, actor: Actor, now: datetime, request_id: str | None,
               operation: str, operation_id: uuid.UUID, request: dict[str, Any],
               build: Callable[[Callable[[str], uuid.UUID], dict[str, Any]], list[TransferInput]],
               roles: Sequence[str]) -> list[TransferResult]:
    """Run a lot operation once: replays find their transfers by the derived ids, overlapping
    retries too (IDEMPOTENCY-2 in engine.py)."""
    fingerprint = _sha256({"operation": operation, **request})

    def derived(role: str) -> uuid.UUID:
        return uuid.uuid5(operation_id, f"{operation}/{role}")

    recorded = list(session.execute(text(
        "SELECT id, seq, kind::text AS kind, details->>'request' AS request "
        "FROM ledger_transfers WHERE id = ANY(:ids) ORDER BY seq"),
        {"ids": [derived(r) for r in roles]}))
    if recorded:
        if any(r.request != fingerprint for r in recorded):
            raise refusal("ID_CONFLICT", {"operation": str(operation_id)})
        return [TransferResult(r.id, STATUS_OF_KIND[TransferKind(r.kind)], r.seq, replayed=True)
                for r in recorded]
    try:
        transfers = build(derived, {"request": fingerprint})
    except DomainError:  # IDEMPOTENCY-2: refused for what our own first try did?
        raise_if_recorded_meanwhile(session, [derived(r) for r in roles])
        raise
    # The engine looks again itself, before it writes (IDEMPOTENCY-2).
    results = create_transfers(session, transfers, actor=actor, now=now,
                               request_id=request_id)
    _raise_first_refusal(results)
    if all(r.replayed for r in results):  # recorded meanwhile, found by the engine
        return results
    record_audit(session, actor, f"ledger.{operation}", str(request.get("lot_id", "")),
                 request_id, {"operation_id": str(operation_id)})
    return results


def _linked(transfers: list[TransferInput]) -> list[TransferInput]:
    """Mark all but the last as linked (LINKED-1)."""
    return [replace(t, linked=i < len(transfers) - 1) for i, t in enumerate(transfers)]


ROLES = ("area", "paddy_area", "grain_capacity")


def _move_lot(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
              operation: str, operation_id: uuid.UUID, lot_id: uuid.UUID, code: TransferCode,
              target: Callable[[LotSnapshot], Holder], details: dict[str, Any] | None = None,
              ) -> list[TransferResult]:
    """Move every dimension of a lot from its holder to `target`'s accounts, linked."""
    request = {"lot_id": str(lot_id), **(details or {})}

    def build(derived: Callable[[str], uuid.UUID], extra: dict[str, Any]) -> list[TransferInput]:
        snapshot = lot_snapshot(session, lot_id)
        snapshot.require(code)
        to = ensure_accounts(session, target(snapshot), snapshot.lot.quota_type,
                             list(snapshot.amounts), now)
        return _linked([TransferInput(
            id=derived(d.value), debit_account_id=snapshot.holders.get(d, 0),
            credit_account_id=to[d], amount=amount, code=code, lot_id=lot_id,
            details={**extra, **(details or {})}) for d, amount in snapshot.amounts.items()])

    return _operation(session, actor, now, request_id, operation, operation_id, request, build,
                      ROLES)


def list_lot(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
             operation_id: uuid.UUID, lot_id: uuid.UUID) -> list[TransferResult]:
    """挂牌: the holding county hands the lot to the trading center's escrow."""
    return _move_lot(session, actor=actor, now=now, request_id=request_id, operation="list",
                     operation_id=operation_id, lot_id=lot_id, code=TransferCode.LIST,
                     target=lambda _: ESCROW)


def delist_lot(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
               operation_id: uuid.UUID, lot_id: uuid.UUID) -> list[TransferResult]:
    """撤牌: escrow hands a listed lot back to whoever listed it."""

    def lister(snapshot: LotSnapshot) -> Holder:
        assert snapshot.lister is not None  # listed (checked before)
        return _holder_of(session, snapshot.lister)

    return _move_lot(session, actor=actor, now=now, request_id=request_id, operation="delist",
                     operation_id=operation_id, lot_id=lot_id, code=TransferCode.DELIST,
                     target=lister)


def write_off_lot(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
                  operation_id: uuid.UUID, lot_id: uuid.UUID,
                  consumer: Consumer) -> list[TransferResult]:
    """核销: the lot is consumed by a named land-supply batch or project and its parcels."""
    return _move_lot(session, actor=actor, now=now, request_id=request_id,
                     operation="write_off", operation_id=operation_id, lot_id=lot_id,
                     code=TransferCode.WRITE_OFF, target=lambda _: RETIRED,
                     details={"consumer": consumer.as_details()})


def revoke_lot(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
               operation_id: uuid.UUID, lot_id: uuid.UUID, reason: str) -> list[TransferResult]:
    """撤销: an in-stock lot goes back to its source (e.g. the acceptance was withdrawn)."""
    if not reason.strip():
        raise InvalidInput("INVALID_DETAILS", "撤销须说明理由", "a revocation gives its reason")

    def source(snapshot: LotSnapshot) -> Holder:
        lot = snapshot.lot
        return Holder(HolderKind.ISSUANCE, lot.acceptance_doc_no, lot.project_name,
                      lot.county_code)

    return _move_lot(session, actor=actor, now=now, request_id=request_id, operation="revoke",
                     operation_id=operation_id, lot_id=lot_id, code=TransferCode.REVOKE,
                     target=source, details={"reason": reason})


def trade_lot(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
              trade_id: uuid.UUID, lot_id: uuid.UUID, buyer: Holder, price_per_mu_fen: int,
              fee_fen: int = 0, timeout_seconds: int | None = None) -> list[TransferResult]:
    """成交: one linked group — the lot from escrow to the buyer, the price (per 亩 × area,
    buyer → seller) and the fee (buyer → trading center). With a timeout, all of it is pending
    until `settle_trade` posts or voids it, or it expires."""
    _check_holder(session, buyer)
    _check_amount(price_per_mu_fen, "price_per_mu_fen", allow_zero=True)
    _check_amount(fee_fen, "fee_fen", allow_zero=True)
    if timeout_seconds is not None and not 1 <= timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise refusal("INVALID_TRANSFER", {"reason": "timeout_seconds out of range"})
    request = {"lot_id": str(lot_id), "buyer": [buyer.kind.value, buyer.id, buyer.name,
                                                buyer.county_code],
               "price_per_mu_fen": price_per_mu_fen, "fee_fen": fee_fen,
               "timeout_seconds": timeout_seconds}
    action = Action.PENDING if timeout_seconds else Action.SINGLE

    def build(derived: Callable[[str], uuid.UUID], extra: dict[str, Any]) -> list[TransferInput]:
        snapshot = lot_snapshot(session, lot_id)
        snapshot.require(TransferCode.TRADE)
        assert snapshot.lister is not None  # listed
        quota = ensure_accounts(session, buyer, snapshot.lot.quota_type, list(snapshot.amounts),
                                now)
        buyer_money = ensure_accounts(session, buyer, QuotaType.FUNDS, [Dimension.MONEY], now)
        seller = _holder_of(session, snapshot.lister)
        seller_money = ensure_accounts(session, seller, QuotaType.FUNDS, [Dimension.MONEY], now)
        common = {"action": action, "timeout_seconds": timeout_seconds, "lot_id": lot_id}
        transfers = [TransferInput(
            id=derived(d.value), debit_account_id=snapshot.holders.get(d, 0),
            credit_account_id=quota[d], amount=amount, code=TransferCode.TRADE, details=extra,
            **common) for d, amount in snapshot.amounts.items()]
        total = trade_total_fen(price_per_mu_fen, snapshot.amounts[Dimension.AREA])
        if total > 0:
            transfers.append(TransferInput(
                id=derived("price"), debit_account_id=buyer_money[Dimension.MONEY],
                credit_account_id=seller_money[Dimension.MONEY], amount=total,
                code=TransferCode.PRICE,
                details={**extra, "price_per_mu_fen": price_per_mu_fen}, **common))
        if fee_fen > 0:
            fees = ensure_accounts(session, FEES, QuotaType.FUNDS, [Dimension.MONEY], now)
            transfers.append(TransferInput(
                id=derived("fee"), debit_account_id=buyer_money[Dimension.MONEY],
                credit_account_id=fees[Dimension.MONEY], amount=fee_fen, code=TransferCode.FEE,
                details=extra, **common))
        return _linked(transfers)

    return _operation(session, actor, now, request_id, "trade", trade_id, request, build,
                      (*ROLES, "price", "fee"))


def settle_trade(session: Session, *, actor: Actor, now: datetime, request_id: str | None,
                 operation_id: uuid.UUID, trade_id: uuid.UUID,
                 post: bool) -> list[TransferResult]:
    """Post (成交确认) or void (撤回) every pending transfer of a pending trade, linked."""
    trade_roles = (*ROLES, "price", "fee")
    pending_ids = [uuid.uuid5(trade_id, f"trade/{role}") for role in trade_roles]
    request = {"trade_id": str(trade_id), "post": post}

    def build(derived: Callable[[str], uuid.UUID], extra: dict[str, Any]) -> list[TransferInput]:
        found = list(session.execute(text(
            "SELECT id FROM ledger_transfers WHERE id = ANY(:ids) AND kind = 'pending' "
            "ORDER BY seq"), {"ids": pending_ids}))
        if not found:
            raise refusal("TRANSFER_NOT_PENDING", {"trade": str(trade_id)})
        role_of = dict(zip(pending_ids, trade_roles, strict=True))
        return _linked([TransferInput(id=derived(role_of[row.id]),
                                      action=Action.POST if post else Action.VOID,
                                      pending_id=row.id, details=extra) for row in found])

    return _operation(session, actor, now, request_id, "settle", operation_id, request, build,
                      trade_roles)


# --------------------------------------------------------------------------- verification


def verify_ledger_chain(session: Session, batch_size: int = 5000) -> ChainBreak | None:
    """CHAIN-1..4 over every transfer in seq order: the first broken link, or None."""
    result = session.execute(text(
        "SELECT id, seq, kind::text AS kind, code::text AS code, debit_account_id AS debit, "
        "credit_account_id AS credit, quota_type::text AS quota_type, "
        "dimension::text AS dimension, amount, pending_id, expires_at, lot_id, linked_group, "
        "details, at, actor, body_sha256, prev_hash, hash FROM ledger_transfers ORDER BY seq"
    ).execution_options(yield_per=batch_size))
    entries = ((row.seq, row.prev_hash, row.hash, chain_payload(row, row.at, row.actor))
               for row in result)
    found = first_break("ledger", entries)
    result.close()
    return found


def ledger_chain_head(session: Session) -> tuple[int, str]:
    """(number of transfers, hash of the last one): keep the head elsewhere to anchor the chain,
    since a chain alone cannot show that entries were cut off its end."""
    head = session.execute(text(
        "SELECT seq, hash FROM ledger_transfers ORDER BY seq DESC LIMIT 1")).first()
    return (head.seq, head.hash) if head else (0, GENESIS)


def verify_ledger_balances(session: Session) -> list[str]:
    """LEDGER-1 and balance bookkeeping: Σdebits = Σcredits, and every account's balance
    columns equal the sums of its transfers. Returns the problems found (empty: all agree)."""
    problems: list[str] = []
    totals = session.execute(text(
        "SELECT coalesce(sum(debits_posted), 0) AS dpo, coalesce(sum(credits_posted), 0) AS cpo, "
        "coalesce(sum(debits_pending), 0) AS dp, coalesce(sum(credits_pending), 0) AS cp "
        "FROM ledger_accounts")).one()
    if totals.dpo != totals.cpo or totals.dp != totals.cp:
        problems.append(f"Σdebits ≠ Σcredits (posted {totals.dpo} vs {totals.cpo}, "
                        f"pending {totals.dp} vs {totals.cp})")
    for row in session.execute(text(BALANCES_FROM_TRANSFERS)):
        problems.append(f"account {row.id}: stored balances differ from its transfers")
    return problems


# Each account's balances recomputed from the transfers, compared with the stored columns.
BALANCES_FROM_TRANSFERS = """
WITH effect AS (
    SELECT t.debit_account_id AS account,
           CASE t.kind WHEN 'pending' THEN t.amount
                WHEN 'single' THEN 0 ELSE -t.amount END AS dp,
           CASE WHEN t.kind IN ('single', 'post') THEN t.amount ELSE 0 END AS dpo,
           0::bigint AS cp, 0::bigint AS cpo
    FROM ledger_transfers t
    UNION ALL
    SELECT t.credit_account_id, 0, 0,
           CASE t.kind WHEN 'pending' THEN t.amount WHEN 'single' THEN 0 ELSE -t.amount END,
           CASE WHEN t.kind IN ('single', 'post') THEN t.amount ELSE 0 END
    FROM ledger_transfers t
), sums AS (
    SELECT account, sum(dp) AS dp, sum(dpo) AS dpo, sum(cp) AS cp, sum(cpo) AS cpo
    FROM effect GROUP BY account
)
SELECT a.id FROM ledger_accounts a LEFT JOIN sums s ON s.account = a.id
WHERE (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
      IS DISTINCT FROM (coalesce(s.dp, 0), coalesce(s.dpo, 0), coalesce(s.cp, 0),
                        coalesce(s.cpo, 0))
ORDER BY a.id
"""


# --------------------------------------------------------------------------- running


def run_ledger(sessions: sessionmaker[Session], work: Callable[..., T], *args: Any,
               retries: int = 3, **kwargs: Any) -> T:
    """`work(session, …)` in one transaction, retried a few times when it raced another
    (CONCURRENT_UPDATE, retryable); for callers outside a request (CLI, batch feed, tests)."""
    for attempt in range(retries + 1):
        try:
            with translate_database_errors(), transaction(sessions) as session:
                return work(session, *args, **kwargs)
        except DomainError as exc:
            if not exc.details.get("retryable") or attempt == retries:
                raise
    raise AssertionError("unreachable")


def expire_all_due(sessions: sessionmaker[Session], actor: Actor,
                   clock: Callable[[], datetime]) -> int:
    """TWO-PHASE-1 for every pending transfer whose timeout has passed: `expire_pending`, a
    batch per transaction, until none is due; how many expired (`registry ledger expire`, and
    the running service's sweep, registry/sweeper.py)."""
    total = 0
    while batch := run_ledger(sessions, expire_pending, actor=actor, now=clock()):
        total += len(batch)
    return total
