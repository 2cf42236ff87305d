"""The ledger's vocabulary and the rules a transfer's body and a lot must follow.

What a client sends (TransferInput, parsed from JSON by `transfer_from_json`), what it gets back
(TransferResult), the refusals that follow from the body alone (`shape_refusal`, never
remembered), the lot state machine, and what a transfer's hash covers. The engine
(engine.py) applies them to the ledger's state.

- LOT-1 A transfer naming a lot moves the whole lot (every positive dimension, same code, in
  one linked group), from the account holding it, along the state machine below:
  入库 in_stock → 挂牌 listed → 成交 traded → 核销 written_off, or 撤销 revoked (from in stock).
  A correction moves a lot between holders and keeps its state.
- LOT-2 A price is linked with its lot's trade and equals price per 亩 × area, rounded half up
  to the fen (`trade_total_fen`); a write-off names its consumer and the consumer's parcels.
- CODES-1 Each code debits and credits only the account kinds in DEBIT_KINDS / CREDIT_KINDS,
  and moves quota (issue … revoke) or money (price, fee); a correction may move either.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from registry.db.ledger import (
    Dimension,
    HolderKind,
    QuotaType,
    TransferCode,
    TransferKind,
)
from registry.services.chain import canonical_json
from registry.services.errors import DomainError
from registry.services.ledger.errors import refusal

MAX_AMOUNT = 10**15
MAX_TIMEOUT_SECONDS = 366 * 24 * 3600
MAX_DETAILS_BYTES = 4096
AREA_SUBUNITS_PER_MU = 10_000  # area amounts are in 0.0001 亩


class Action(StrEnum):
    SINGLE = "single"
    PENDING = "pending"
    POST = "post"
    VOID = "void"
    EXPIRE = "expire"  # recorded by the ledger itself (expire_pending), never sent by clients


class LotState(StrEnum):
    """指标批次状态."""

    IN_STOCK = "in_stock"  # 入库
    LISTED = "listed"  # 挂牌
    TRADED = "traded"  # 成交
    WRITTEN_OFF = "written_off"  # 核销
    REVOKED = "revoked"  # 撤销


class TransferStatus(StrEnum):
    POSTED = "posted"
    PENDING = "pending"
    VOIDED = "voided"
    EXPIRED = "expired"
    REFUSED = "refused"


STATUS_OF_KIND = {
    TransferKind.SINGLE: TransferStatus.POSTED,
    TransferKind.POST: TransferStatus.POSTED,
    TransferKind.PENDING: TransferStatus.PENDING,
    TransferKind.VOID: TransferStatus.VOIDED,
    TransferKind.EXPIRE: TransferStatus.EXPIRED,
}
KIND_OF_ACTION = {Action.SINGLE: TransferKind.SINGLE, Action.PENDING: TransferKind.PENDING,
                  Action.POST: TransferKind.POST, Action.VOID: TransferKind.VOID,
                  Action.EXPIRE: TransferKind.EXPIRE}

# LOT-1: the state a code moves a lot to, and the states it may move it from.
TARGET_STATE = {
    TransferCode.ISSUE: LotState.IN_STOCK,
    TransferCode.LIST: LotState.LISTED,
    TransferCode.DELIST: LotState.IN_STOCK,
    TransferCode.TRADE: LotState.TRADED,
    TransferCode.WRITE_OFF: LotState.WRITTEN_OFF,
    TransferCode.REVOKE: LotState.REVOKED,
}
ALLOWED_FROM: dict[TransferCode, frozenset[LotState]] = {
    TransferCode.LIST: frozenset({LotState.IN_STOCK}),
    TransferCode.DELIST: frozenset({LotState.LISTED}),
    TransferCode.TRADE: frozenset({LotState.LISTED}),
    TransferCode.WRITE_OFF: frozenset({LotState.IN_STOCK, LotState.TRADED}),
    TransferCode.REVOKE: frozenset({LotState.IN_STOCK}),
    TransferCode.CORRECTION: frozenset({LotState.IN_STOCK, LotState.LISTED, LotState.TRADED}),
}
_HOLDERS = frozenset({HolderKind.COUNTY, HolderKind.PROJECT, HolderKind.BUYER})
_ANY = frozenset(HolderKind)
# CODES-1: which account kinds each code may debit and credit (lots and bulk quota alike).
DEBIT_KINDS: dict[TransferCode, frozenset[HolderKind]] = {
    TransferCode.ISSUE: frozenset({HolderKind.ISSUANCE}),
    TransferCode.LIST: frozenset({HolderKind.COUNTY, HolderKind.PROJECT}),
    TransferCode.DELIST: frozenset({HolderKind.ESCROW}),
    TransferCode.TRADE: frozenset({HolderKind.ESCROW}),
    TransferCode.WRITE_OFF: _HOLDERS,
    TransferCode.REVOKE: frozenset({HolderKind.COUNTY}),
    TransferCode.PRICE: _HOLDERS,
    TransferCode.FEE: _HOLDERS,
    TransferCode.CORRECTION: _ANY,
}
CREDIT_KINDS: dict[TransferCode, frozenset[HolderKind]] = {
    TransferCode.ISSUE: frozenset({HolderKind.COUNTY}),
    TransferCode.LIST: frozenset({HolderKind.ESCROW}),
    TransferCode.DELIST: frozenset({HolderKind.COUNTY, HolderKind.PROJECT}),
    TransferCode.TRADE: _HOLDERS,
    TransferCode.WRITE_OFF: frozenset({HolderKind.RETIRED}),
    TransferCode.REVOKE: frozenset({HolderKind.ISSUANCE}),
    TransferCode.PRICE: _HOLDERS,
    TransferCode.FEE: frozenset({HolderKind.FEE}),
    TransferCode.CORRECTION: _ANY,
}
# A correction of a lot moves it between holders only, and keeps its state.
LOT_CORRECTION_KINDS = _HOLDERS | {HolderKind.ESCROW}
MONEY_CODES = frozenset({TransferCode.PRICE, TransferCode.FEE, TransferCode.CORRECTION})
QUOTA_CODES = frozenset(TransferCode) - {TransferCode.PRICE, TransferCode.FEE}
CONSUMER_KINDS = frozenset({"land_supply_batch", "project"})


def trade_total_fen(price_per_mu_fen: int, area_subunits: int) -> int:
    """价款 = 亩单价 × 亩数, rounded half up to the fen (area in 0.0001 亩)."""
    return (price_per_mu_fen * area_subunits * 2 + AREA_SUBUNITS_PER_MU) // (
        2 * AREA_SUBUNITS_PER_MU)


@dataclass(frozen=True)
class TransferInput:
    """One transfer as a client sends it. For post/void only `id`, `pending_id` (and `linked`)
    are needed; other fields, when given, must equal the pending transfer's."""

    id: uuid.UUID
    action: Action = Action.SINGLE
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: int | None = None
    code: TransferCode | None = None
    pending_id: uuid.UUID | None = None
    timeout_seconds: int | None = None
    lot_id: uuid.UUID | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "action": self.action.value, "debit": self.debit_account_id,
            "credit": self.credit_account_id, "amount": self.amount,
            "code": self.code.value if self.code else None,
            "pending_id": str(self.pending_id) if self.pending_id else None,
            "timeout": self.timeout_seconds,
            "lot_id": str(self.lot_id) if self.lot_id else None,
            "details": dict(self.details), "linked": self.linked,
        }

    @cached_property
    def body_sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.body()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TransferResult:
    id: uuid.UUID
    status: TransferStatus
    seq: int | None = None
    error: DomainError | None = None
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not TransferStatus.REFUSED


# --------------------------------------------------------------------------- parsing


def _field_error(index: int, name: str, expected: str) -> DomainError:
    return DomainError("INVALID_BATCH", f"第{index + 1}笔业务的字段{name}无效（应为{expected}）",
                       f"transfer {index + 1}: field {name!r} must be {expected}",
                       {"index": index, "field": name})


def _uuid(value: Any, index: int, name: str, required: bool = False) -> uuid.UUID | None:
    if value is None and not required:
        return None
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise _field_error(index, name, "a UUID string")


def _int(value: Any, index: int, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _field_error(index, name, "an integer")


def transfer_from_json(item: Any, index: int) -> TransferInput:
    """A transfer from its JSON object; a wrong type refuses the whole batch (INVALID_BATCH)."""
    if not isinstance(item, dict):
        raise _field_error(index, "transfer", "an object")
    unknown = set(item) - {"id", "action", "debit_account_id", "credit_account_id", "amount",
                           "code", "pending_id", "timeout_seconds", "lot_id", "details",
                           "linked"}
    if unknown:
        raise _field_error(index, sorted(unknown)[0], "absent (unknown field)")
    try:
        action = Action(item.get("action", "single"))
        code = TransferCode(item["code"]) if item.get("code") is not None else None
    except ValueError as exc:
        raise _field_error(index, "action/code", "one of the listed values") from exc
    if action is Action.EXPIRE:
        raise _field_error(index, "action", "single, pending, post or void")
    details = item.get("details", {})
    if not isinstance(details, dict):
        raise _field_error(index, "details", "an object")
    linked = item.get("linked", False)
    if not isinstance(linked, bool):
        raise _field_error(index, "linked", "true or false")
    transfer_id = _uuid(item.get("id"), index, "id", required=True)
    assert transfer_id is not None
    return TransferInput(
        id=transfer_id, action=action,
        debit_account_id=_int(item.get("debit_account_id"), index, "debit_account_id"),
        credit_account_id=_int(item.get("credit_account_id"), index, "credit_account_id"),
        amount=_int(item.get("amount"), index, "amount"), code=code,
        pending_id=_uuid(item.get("pending_id"), index, "pending_id"),
        timeout_seconds=_int(item.get("timeout_seconds"), index, "timeout_seconds"),
        lot_id=_uuid(item.get("lot_id"), index, "lot_id"), details=details, linked=linked)


# --------------------------------------------------------------------------- shape rules


def _json_only(value: Any, depth: int = 0) -> bool:
    if depth > 6:
        return False
    if value is None or isinstance(value, bool | int):
        return True
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, list):
        return all(_json_only(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_only(v, depth + 1) for k, v in value.items())
    return False  # floats are not exact; anything else is not JSON


def _details_problem(code: TransferCode | None, details: Mapping[str, Any]) -> str | None:
    """Why the details do not fit the code (None: they fit)."""
    if not _json_only(dict(details)):
        return "details hold only strings, integers, booleans, null, lists and objects"
    if len(canonical_json(dict(details)).encode("utf-8")) > MAX_DETAILS_BYTES:
        return f"details exceed {MAX_DETAILS_BYTES} bytes"
    if code is TransferCode.WRITE_OFF:
        from registry.codes.unit_code import check_parcel_code

        consumer = details.get("consumer")
        if not isinstance(consumer, dict) or consumer.get("kind") not in CONSUMER_KINDS:
            return ("a write-off names its consumer: {kind: land_supply_batch|project, name, "
                    "reference, parcels}")
        for key in ("name", "reference"):
            if not isinstance(consumer.get(key), str) or not consumer[key].strip():
                return f"the consumer's {key} is required"
        parcels = consumer.get("parcels")
        if not isinstance(parcels, list) or not parcels or not all(
                isinstance(p, str) and not check_parcel_code(p) for p in parcels):
            return "the consumer's parcels must be valid 19-character parcel codes (宗地代码)"
    if code is TransferCode.PRICE:
        price = details.get("price_per_mu_fen")
        if not isinstance(price, int) or isinstance(price, bool) or price < 0:
            return "a price names price_per_mu_fen, a non-negative integer"
    if code is TransferCode.CORRECTION:
        reason = details.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            return "a correction gives its reason"
        if corrects_of(details) is None:
            return "a correction names the transfer it corrects (corrects: UUID)"
    return None


def corrects_of(details: Mapping[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(details.get("corrects")))
    except ValueError:
        return None


def shape_refusal(t: TransferInput) -> DomainError | None:
    """Refusals that follow from the body alone (never remembered)."""
    if t.action in (Action.SINGLE, Action.PENDING):
        if t.debit_account_id is None or t.credit_account_id is None or t.code is None:
            return refusal("INVALID_TRANSFER", {"reason": "debit, credit and code are required"})
        if t.amount is None or not 1 <= t.amount <= MAX_AMOUNT:
            return refusal("INVALID_AMOUNT", {"amount": t.amount})
        if t.debit_account_id == t.credit_account_id:
            return refusal("SAME_ACCOUNT")
        if t.pending_id is not None:
            return refusal("INVALID_TRANSFER", {"reason": "pending_id is for post and void"})
        if t.action is Action.SINGLE and t.timeout_seconds is not None:
            return refusal("INVALID_TRANSFER", {"reason": "a timeout is for pending transfers"})
        if t.timeout_seconds is not None and not 1 <= t.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            return refusal("INVALID_TRANSFER", {"reason": "timeout_seconds out of range"})
    else:
        if t.pending_id is None:
            return refusal("INVALID_TRANSFER", {"reason": "post and void name pending_id"})
        if t.timeout_seconds is not None or t.lot_id is not None:
            return refusal("INVALID_TRANSFER",
                           {"reason": "post and void take the pending transfer's lot and timeout"})
        if t.amount is not None and not 1 <= t.amount <= MAX_AMOUNT:
            return refusal("INVALID_AMOUNT", {"amount": t.amount})
    problem = _details_problem(t.code if t.action in (Action.SINGLE, Action.PENDING) else None,
                               t.details)
    if problem is not None:
        return refusal("INVALID_DETAILS", {"reason": problem})
    return None


# --------------------------------------------------------------------------- lots


@dataclass
class Position:
    """Where one dimension of a lot is: its state, holder, source account, open pending."""

    state: LotState
    holder: int
    issuer: int
    busy: uuid.UUID | None = None


def lot_amounts(quota_type: QuotaType, area: int, paddy_area: int | None,
                grain_capacity: int | None) -> dict[Dimension, int]:
    """The dimensions a lot moves in (those with a positive amount)."""
    amounts = {Dimension.AREA: area}
    if quota_type is QuotaType.FARMLAND_BALANCE:
        amounts[Dimension.PADDY_AREA] = paddy_area or 0
        amounts[Dimension.GRAIN_CAPACITY] = grain_capacity or 0
    return {d: a for d, a in amounts.items() if a > 0}


def fold_lot_history(rows: Iterable[Any]) -> dict[Dimension, Position]:
    """A lot's positions from its transfers in seq order (kind, code, dimension, debit, credit,
    id, pending_id); money transfers naming the lot are skipped."""
    positions: dict[Dimension, Position] = {}
    for row in rows:
        dimension = Dimension(row.dimension)
        if dimension is Dimension.MONEY:
            continue
        kind, code = TransferKind(row.kind), TransferCode(row.code)
        position = positions.get(dimension)
        if kind is TransferKind.PENDING:
            if position is not None:
                position.busy = row.id
            continue
        if kind in (TransferKind.VOID, TransferKind.EXPIRE):
            if position is not None:
                position.busy = None
            continue
        # single, or post (which carries its pending's code and accounts)
        if code is TransferCode.ISSUE or position is None:
            positions[dimension] = Position(LotState.IN_STOCK, row.credit_account_id,
                                             row.debit_account_id)
            continue
        position.state = TARGET_STATE.get(code, position.state)
        position.holder = row.credit_account_id
        position.busy = None
    return positions


# --------------------------------------------------------------------------- chain


def iso(moment: datetime | None) -> str | None:
    """A timestamp as hashed: UTC, microseconds (what timestamptz keeps)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def chain_payload(row: Any, at: datetime, actor: str) -> dict[str, Any]:
    """What a transfer's hash covers (CHAIN-2): every column but the hashes themselves."""
    return {
        "id": str(row.id), "seq": row.seq, "kind": str(row.kind), "code": str(row.code),
        "debit": row.debit, "credit": row.credit, "quota_type": str(row.quota_type),
        "dimension": str(row.dimension), "amount": row.amount,
        "pending_id": str(row.pending_id) if row.pending_id else None,
        "expires_at": iso(row.expires_at), "lot_id": str(row.lot_id) if row.lot_id else None,
        "linked_group": str(row.linked_group) if row.linked_group else None,
        "details": row.details, "at": iso(at), "actor": actor, "body_sha256": row.body_sha256,
    }
