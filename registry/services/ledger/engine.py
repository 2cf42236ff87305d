"""The transfer engine of the ledger: a batch of transfers in one transaction, set-based.

A batch is loaded with a few statements (existing ids, pending transfers, lots with their
history, accounts — each locked in sorted order), evaluated in memory in order, and written with
two (balance deltas and remembered refusals; then the transfers, under the chain lock). The
rules, each enforced here:

- LEDGER-1 Σdebits = Σcredits: every transfer adds its amount to one account's debits and to
  another's credits (pending, posted, or moving pending → posted / released), all in one
  statement of the transaction that records it; no other code changes balances.
- LEDGER-2 no overdraft: an account with `no_overdraft` never has posted + pending debits above
  its posted credits. Checked here (INSUFFICIENT_QUOTA) under row locks, and again by the
  database CHECK `ck_ledger_accounts_no_overdraft`.
- LOCK-ORDER Locks are taken in one global order: pending transfers (by id), lots (by id),
  accounts (by id), then the chain lock; so concurrent batches never deadlock. (A lot operation
  may first open accounts, INSERT … ON CONFLICT; two first uses of the same new holder at once
  can deadlock there, which PostgreSQL detects: CONCURRENT_UPDATE, retried by the callers.)
- IDEMPOTENCY-1 The client's UUID is the key: the same id and body gives the same result (a
  replay writes nothing); the same id with another body is ID_CONFLICT. A refusal that depends
  on the ledger's state is remembered under its id (ledger_rejections).
- IDEMPOTENCY-2 Overlapping retries of one request get the first one's answer. They meet on
  the rows they lock (or on the ids they insert), so the later one runs after the earlier has
  committed, and then either finds its ids taken on insert or is refused by what the earlier
  did (INSUFFICIENT_QUOTA, INVALID_LOT_STATE …). Either way, if an id it looked up as new has
  been recorded meanwhile, it rolls back with CONCURRENT_UPDATE (retryable,
  `raise_if_recorded_meanwhile`), and the retry (run_ledger, the API's `_write`) replays what
  was recorded. Lot operations (ledger/__init__.py `_operation`) and `issue_lot` go
  the same way.
- LINKED-1 Transfers marked `linked` form a group with the next one; a group succeeds or fails
  as a whole (the others get LINKED_EVENT_FAILED); a batch may not end inside a group.
- TWO-PHASE-1 A pending transfer reserves its amount; it is resolved once, by a post, a void, or
  an expiry after its timeout — each a new transfer naming it. Posting or voiding after the
  timeout is PENDING_EXPIRED.
- LOT-1, LOT-2, CODES-1 (rules.py) are checked here against the locked lots and accounts.
- CHAIN-4 Transfers are appended in `seq` order under one lock held until commit, each hashed
  over the previous (services/chain.py); so `seq` is gapless and a reader paging by `seq`
  never misses a transfer that commits later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.ledger import (
    Dimension,
    HolderKind,
    QuotaType,
    TransferCode,
    TransferKind,
)
from registry.services.access import Principal, audit, system_audit
from registry.services.chain import GENESIS, link_hash
from registry.services.errors import DomainError
from registry.services.ledger.errors import REFUSALS, refusal
from registry.services.ledger.rules import (
    ALLOWED_FROM,
    CREDIT_KINDS,
    DEBIT_KINDS,
    KIND_OF_ACTION,
    LOT_CORRECTION_KINDS,
    MONEY_CODES,
    QUOTA_CODES,
    STATUS_OF_KIND,
    TARGET_STATE,
    Action,
    LotState,
    Position,
    TransferInput,
    TransferResult,
    TransferStatus,
    chain_payload,
    corrects_of,
    fold_lot_history,
    iso,
    lot_amounts,
    shape_refusal,
    trade_total_fen,
)

MAX_BATCH = 1000
# pg_advisory_xact_lock key of the transfer chain (any fixed 64-bit number; "ledger" in ASCII).
CHAIN_LOCK_KEY = 0x6C6564676572


def id_list(values: Iterable[Any]) -> str:
    """Ids as one text parameter (`string_to_array(:ids, ',')`): far cheaper to send than an
    array parameter of a thousand elements."""
    return ",".join(str(v) for v in values)


ANY_UUID = "ANY(CAST(string_to_array(:ids, ',') AS uuid[]))"
ANY_BIGINT = "ANY(CAST(string_to_array(:ids, ',') AS bigint[]))"


def concurrent_update() -> DomainError:
    """The retryable refusal of a request that raced another over the same ids or rows."""
    return DomainError("CONCURRENT_UPDATE", "其他业务同时使用了相同编号，请重试",
                       "another batch used the same id at the same time; retry",
                       {"retryable": True})


def raise_if_recorded_meanwhile(session: Session, ids: Iterable[uuid.UUID]) -> None:
    """IDEMPOTENCY-2: before a refusal of ids looked up as new stands, look again (a new
    statement sees what committed meanwhile); if any is recorded now, the refusal answered an
    overlapping retry: CONCURRENT_UPDATE, so the retry replays."""
    wanted = id_list(ids)
    if wanted and session.execute(text(
            f"SELECT EXISTS (SELECT 1 FROM ledger_transfers WHERE id = {ANY_UUID}) "
            f"OR EXISTS (SELECT 1 FROM ledger_rejections WHERE id = {ANY_UUID})"),
            {"ids": wanted}).scalar_one():
        raise concurrent_update()


@dataclass(frozen=True)
class Actor:
    """Who records transfers: a user (principal) or a system caller (e.g. the signed batch feed)."""

    name: str
    principal: Principal | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.username, principal)


def record_audit(session: Session, actor: Actor, operation: str, target: str,
                 request_id: str | None, details: dict[str, Any]) -> None:
    """ACCESS-4 for the ledger: users through `audit`, system callers under their name."""
    if actor.principal is not None:
        audit(session, actor.principal, operation, target, request_id, details)
    else:
        system_audit(session, actor.name, operation, target, request_id, details)


# --------------------------------------------------------------------------- in-memory state


@dataclass
class _Account:
    id: int
    holder_kind: HolderKind
    holder_id: str
    quota_type: QuotaType
    dimension: Dimension
    no_overdraft: bool
    dp: int
    dpo: int
    cp: int
    cpo: int
    original: tuple[int, int, int, int] = (0, 0, 0, 0)

    def delta(self) -> tuple[int, int, int, int]:
        o = self.original
        return (self.dp - o[0], self.dpo - o[1], self.cp - o[2], self.cpo - o[3])


@dataclass
class _Pending:
    id: uuid.UUID
    code: TransferCode
    debit: int
    credit: int
    quota_type: QuotaType
    dimension: Dimension
    amount: int
    expires_at: datetime | None
    lot_id: uuid.UUID | None
    resolution: TransferKind | None = None


@dataclass
class _Lot:
    id: uuid.UUID
    quota_type: QuotaType
    county_code: str
    amounts: dict[Dimension, int]  # positive dimensions only
    positions: dict[Dimension, Position] = field(default_factory=dict)


@dataclass
class _Row:
    """A transfer about to be written."""

    id: uuid.UUID
    kind: TransferKind
    code: TransferCode
    debit: int
    credit: int
    quota_type: QuotaType
    dimension: Dimension
    amount: int
    pending_id: uuid.UUID | None
    expires_at: datetime | None
    lot_id: uuid.UUID | None
    linked_group: uuid.UUID | None
    details: dict[str, Any]
    body_sha256: str
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""


class _Journal:
    """Undo log of one linked group: attribute and dict changes, reverted if the group fails."""

    _MISSING = object()

    def __init__(self) -> None:
        self.entries: list[tuple[Any, Any, Any, bool]] = []

    def set(self, obj: Any, attr: str, value: Any) -> None:
        self.entries.append((obj, attr, getattr(obj, attr), False))
        setattr(obj, attr, value)

    def put(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        self.entries.append((mapping, key, mapping.get(key, self._MISSING), True))
        mapping[key] = value

    def undo(self) -> None:
        for obj, key, old, is_dict in reversed(self.entries):
            if is_dict:
                if old is self._MISSING:
                    del obj[key]
                else:
                    obj[key] = old
            else:
                setattr(obj, key, old)
        self.entries.clear()


# --------------------------------------------------------------------------- the batch


class _Batch:
    def __init__(self, session: Session, inputs: Sequence[TransferInput], now: datetime) -> None:
        self.session = session
        self.inputs = inputs
        self.now = now
        self.accounts: dict[int, _Account] = {}
        self.pendings: dict[uuid.UUID, _Pending] = {}
        self.lots: dict[uuid.UUID, _Lot] = {}
        self.known_transfers: set[uuid.UUID] = set()  # for corrections
        self.stored: dict[uuid.UUID, tuple[str, TransferResult]] = {}
        self.rows: list[_Row] = []
        self.rejections: list[tuple[uuid.UUID, str, str]] = []
        self.results: list[TransferResult | None] = [None] * len(inputs)
        self.seen: dict[uuid.UUID, tuple[str, int]] = {}  # id → (body, index) in this batch

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        s = self.session
        ids = [t.id for t in self.inputs]
        for row in s.execute(text(
                "SELECT id, body_sha256, kind::text AS kind, seq, NULL AS code "
                f"FROM ledger_transfers WHERE id = {ANY_UUID} "
                "UNION ALL SELECT id, body_sha256, NULL, NULL, code "
                f"FROM ledger_rejections WHERE id = {ANY_UUID}"), {"ids": id_list(ids)}):
            if row.code is None:
                result = TransferResult(row.id, STATUS_OF_KIND[TransferKind(row.kind)],
                                        row.seq, replayed=True)
            else:
                result = TransferResult(row.id, TransferStatus.REFUSED,
                                        error=refusal(row.code), replayed=True)
            self.stored[row.id] = (row.body_sha256, result)
        fresh = [t for t in self.inputs if t.id not in self.stored]
        batch_ids = {t.id for t in fresh}
        pending_ids = sorted({t.pending_id for t in fresh if t.pending_id is not None
                              and t.pending_id not in batch_ids})
        if pending_ids:
            self._load_pendings(pending_ids)
        lot_ids = sorted({t.lot_id for t in fresh if t.lot_id is not None}
                         | {p.lot_id for p in self.pendings.values() if p.lot_id is not None})
        if lot_ids:
            self._load_lots(lot_ids)
        corrected = {c for t in fresh if t.code is TransferCode.CORRECTION
                     and (c := corrects_of(t.details)) is not None}
        if corrected:
            self.known_transfers.update(s.scalars(text(
                f"SELECT id FROM ledger_transfers WHERE id = {ANY_UUID}"),
                {"ids": id_list(corrected)}))
        account_ids = {a for t in fresh for a in (t.debit_account_id, t.credit_account_id)
                       if isinstance(a, int)}
        account_ids |= {a for p in self.pendings.values() for a in (p.debit, p.credit)}
        if account_ids:
            self._load_accounts(sorted(account_ids))

    def _load_pendings(self, pending_ids: list[uuid.UUID]) -> None:
        s = self.session
        for row in s.execute(text(
                "SELECT id, kind::text AS kind, code::text AS code, debit_account_id, "
                "credit_account_id, quota_type::text AS quota_type, "
                "dimension::text AS dimension, amount, expires_at, lot_id "
                f"FROM ledger_transfers WHERE id = {ANY_UUID} ORDER BY id FOR UPDATE"),
                {"ids": id_list(pending_ids)}):
            if row.kind != TransferKind.PENDING:
                continue
            self.pendings[row.id] = _Pending(
                row.id, TransferCode(row.code), row.debit_account_id, row.credit_account_id,
                QuotaType(row.quota_type), Dimension(row.dimension), row.amount, row.expires_at,
                row.lot_id)
        if self.pendings:
            # Read after the locks: a resolution committed meanwhile is seen (READ COMMITTED).
            for row in s.execute(text(
                    "SELECT pending_id, kind::text AS kind FROM ledger_transfers "
                    f"WHERE pending_id = {ANY_UUID}"), {"ids": id_list(self.pendings)}):
                self.pendings[row.pending_id].resolution = TransferKind(row.kind)

    def _load_lots(self, lot_ids: list[uuid.UUID]) -> None:
        s = self.session
        for row in s.execute(text(
                "SELECT id, quota_type::text AS quota_type, county_code, area, paddy_area, "
                f"grain_capacity FROM ledger_lots WHERE id = {ANY_UUID} ORDER BY id FOR UPDATE"),
                {"ids": id_list(lot_ids)}):
            quota_type = QuotaType(row.quota_type)
            self.lots[row.id] = _Lot(row.id, quota_type, row.county_code, lot_amounts(
                quota_type, row.area, row.paddy_area, row.grain_capacity))
        if not self.lots:
            return
        history: dict[uuid.UUID, list[Any]] = {lot_id: [] for lot_id in self.lots}
        for row in s.execute(text(
                "SELECT lot_id, kind::text AS kind, code::text AS code, "
                "dimension::text AS dimension, debit_account_id, credit_account_id, id, "
                f"pending_id FROM ledger_transfers WHERE lot_id = {ANY_UUID} "
                "ORDER BY lot_id, seq"), {"ids": id_list(self.lots)}):
            history[row.lot_id].append(row)
        for lot_id, rows in history.items():
            self.lots[lot_id].positions = fold_lot_history(rows)

    def _load_accounts(self, account_ids: list[int]) -> None:
        for row in self.session.execute(text(
                "SELECT id, holder_kind::text AS holder_kind, holder_id, "
                "quota_type::text AS quota_type, dimension::text AS dimension, no_overdraft, "
                "debits_pending, debits_posted, credits_pending, credits_posted "
                f"FROM ledger_accounts WHERE id = {ANY_BIGINT} ORDER BY id FOR UPDATE"),
                {"ids": id_list(account_ids)}):
            balances = (row.debits_pending, row.debits_posted, row.credits_pending,
                        row.credits_posted)
            self.accounts[row.id] = _Account(
                row.id, HolderKind(row.holder_kind), row.holder_id, QuotaType(row.quota_type),
                Dimension(row.dimension), row.no_overdraft, *balances, original=balances)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self) -> None:
        i, n = 0, len(self.inputs)
        while i < n:
            j = i
            while j < n and self.inputs[j].linked:
                j += 1
            if j == n:  # LINKED-1: the batch ends inside a group
                for k in range(i, n):
                    code = "LINKED_GROUP_OPEN" if k == n - 1 else "LINKED_EVENT_FAILED"
                    self.results[k] = TransferResult(self.inputs[k].id, TransferStatus.REFUSED,
                                                     error=refusal(code))
                return
            self._group(list(range(i, j + 1)))
            i = j + 1

    def _group(self, indexes: list[int]) -> None:
        journal = _Journal()
        group_id = self.inputs[indexes[0]].id if len(indexes) > 1 else None
        rows_before, rejections_before = len(self.rows), len(self.rejections)
        for index in indexes:  # IDEMPOTENCY-1: a group refused before is refused the same way
            t = self.inputs[index]
            stored = self.stored.get(t.id)
            if stored is not None and stored[0] == t.body_sha256 and stored[1].error is not None:
                self._fail_group(indexes, index, stored[1].error, journal, rows_before,
                                 rejections_before)
                return
        outcomes: list[tuple[int, TransferResult]] = []
        created: list[int] = []
        for index in indexes:
            outcome = self._one(self.inputs[index], index, journal, group_id)
            if isinstance(outcome, DomainError):
                self._fail_group(indexes, index, outcome, journal, rows_before,
                                 rejections_before)
                return
            outcomes.append((index, outcome))
            if not outcome.replayed:
                created.append(index)
        failure = self._group_rule(created)
        if failure is not None:
            culprit, error = failure
            self._fail_group(indexes, culprit, error, journal, rows_before, rejections_before)
            return
        for index, result in outcomes:
            self.results[index] = result

    def _fail_group(self, indexes: list[int], culprit: int, error: DomainError,
                    journal: _Journal, rows_before: int, rejections_before: int) -> None:
        journal.undo()
        del self.rows[rows_before:]
        del self.rejections[rejections_before:]
        for index in indexes:
            t = self.inputs[index]
            stored = self.stored.get(t.id)
            replayed = stored is not None and stored[0] == t.body_sha256
            if index == culprit:
                self.results[index] = TransferResult(t.id, TransferStatus.REFUSED, error=error,
                                                     replayed=replayed)
                known = REFUSALS.get(error.code)
                if (known is not None and known.remembered and not replayed
                        and t.action is not Action.EXPIRE and t.id not in self.seen):
                    self.rejections.append((t.id, t.body_sha256, error.code))
                    self.seen[t.id] = (t.body_sha256, index)
            elif replayed and stored is not None and stored[1].ok:
                self.results[index] = stored[1]  # recorded earlier: it stays what it was
            else:
                self.results[index] = TransferResult(t.id, TransferStatus.REFUSED,
                                                     error=refusal("LINKED_EVENT_FAILED"))

    def _one(self, t: TransferInput, index: int, journal: _Journal,
             group_id: uuid.UUID | None) -> TransferResult | DomainError:
        """Apply one transfer to the in-memory state; a refusal is returned, not raised."""
        body = t.body_sha256
        stored = self.stored.get(t.id)
        if stored is not None:  # IDEMPOTENCY-1
            if stored[0] != body:
                return refusal("ID_CONFLICT", {"id": str(t.id)})
            return stored[1].error or stored[1]
        earlier = self.seen.get(t.id)
        if earlier is not None:  # the same id earlier in this batch
            first = self.results[earlier[1]]
            if earlier[0] != body or first is None:
                return refusal("ID_CONFLICT", {"id": str(t.id)})
            return first.error or TransferResult(t.id, first.status, replayed=True)
        problem = shape_refusal(t)
        if problem is not None:
            return problem
        journal.put(self.seen, t.id, (body, index))
        if t.action in (Action.SINGLE, Action.PENDING):
            error = self._create(t, journal, group_id, body)
        else:
            error = self._resolve(t, journal, group_id, body)
        if error is not None:
            return error
        return TransferResult(t.id, STATUS_OF_KIND[self.rows[-1].kind])

    def _create(self, t: TransferInput, journal: _Journal, group_id: uuid.UUID | None,
                body: str) -> DomainError | None:
        assert t.debit_account_id is not None and t.credit_account_id is not None
        assert t.amount is not None and t.code is not None
        debit = self.accounts.get(t.debit_account_id)
        credit = self.accounts.get(t.credit_account_id)
        if debit is None or credit is None:
            missing = t.debit_account_id if debit is None else t.credit_account_id
            return refusal("UNKNOWN_ACCOUNT", {"account": missing})
        if (debit.quota_type, debit.dimension) != (credit.quota_type, credit.dimension):
            return refusal("QUOTA_TYPE_MISMATCH", {
                "debit": f"{debit.quota_type}/{debit.dimension}",
                "credit": f"{credit.quota_type}/{credit.dimension}"})
        money = debit.dimension is Dimension.MONEY
        if t.code not in (MONEY_CODES if money else QUOTA_CODES):
            return refusal("ACCOUNT_NOT_ALLOWED", {"reason": f"{t.code} on {debit.quota_type}"})
        if debit.holder_kind not in DEBIT_KINDS[t.code] or \
                credit.holder_kind not in CREDIT_KINDS[t.code]:
            return refusal("ACCOUNT_NOT_ALLOWED", {
                "reason": f"{t.code}: {debit.holder_kind} → {credit.holder_kind}"})
        if t.code is TransferCode.CORRECTION:
            corrects = corrects_of(t.details)
            if corrects not in self.known_transfers and all(r.id != corrects for r in self.rows):
                return refusal("UNKNOWN_TRANSFER", {"corrects": t.details["corrects"]})
        if t.code is TransferCode.PRICE and t.lot_id is None:
            return refusal("TRADE_LINK_REQUIRED")
        pending = t.action is Action.PENDING
        if t.lot_id is not None:
            error = self._lot_rule(t, debit, credit, journal, pending)
            if error is not None:
                return error
        if debit.no_overdraft and debit.dpo + debit.dp + t.amount > debit.cpo:  # LEDGER-2
            return refusal("INSUFFICIENT_QUOTA", {
                "account": debit.id, "available": debit.cpo - debit.dpo - debit.dp,
                "amount": t.amount})
        if pending:
            journal.set(debit, "dp", debit.dp + t.amount)
            journal.set(credit, "cp", credit.cp + t.amount)
        else:
            journal.set(debit, "dpo", debit.dpo + t.amount)
            journal.set(credit, "cpo", credit.cpo + t.amount)
        expires_at = (self.now + timedelta(seconds=t.timeout_seconds)
                      if t.timeout_seconds else None)
        kind = TransferKind.PENDING if pending else TransferKind.SINGLE
        if pending:
            journal.put(self.pendings, t.id, _Pending(
                t.id, t.code, debit.id, credit.id, debit.quota_type, debit.dimension, t.amount,
                expires_at, t.lot_id))
        self.rows.append(_Row(t.id, kind, t.code, debit.id, credit.id, debit.quota_type,
                              debit.dimension, t.amount, None, expires_at, t.lot_id, group_id,
                              dict(t.details), body))
        return None

    def _lot_rule(self, t: TransferInput, debit: _Account, credit: _Account,
                  journal: _Journal, pending: bool) -> DomainError | None:
        """LOT-1 for one transfer naming a lot (completeness is checked per group)."""
        assert t.lot_id is not None and t.code is not None
        lot = self.lots.get(t.lot_id)
        if lot is None:
            return refusal("UNKNOWN_LOT", {"lot": str(t.lot_id)})
        if debit.dimension is Dimension.MONEY:
            if t.code is TransferCode.PRICE:
                price = t.details["price_per_mu_fen"]
                expected = trade_total_fen(price, lot.amounts[Dimension.AREA])
                if t.amount != expected:
                    return refusal("PRICE_MISMATCH", {"expected": expected})
            return None
        if debit.quota_type is not lot.quota_type or debit.dimension not in lot.amounts:
            return refusal("QUOTA_TYPE_MISMATCH", {"lot": str(lot.quota_type)})
        if t.amount != lot.amounts[debit.dimension]:
            return refusal("LOT_AMOUNT_MISMATCH", {"lot_amount": lot.amounts[debit.dimension]})
        position = lot.positions.get(debit.dimension)
        if t.code is TransferCode.ISSUE:
            if position is not None:
                return refusal("INVALID_LOT_STATE", {"state": position.state.name})
            if credit.holder_id != lot.county_code:
                return refusal("ACCOUNT_NOT_ALLOWED", {"reason": "a lot is issued to its county"})
            if pending:
                return refusal("INVALID_TRANSFER", {"reason": "an issue is never pending"})
            journal.put(lot.positions, debit.dimension,
                        Position(LotState.IN_STOCK, credit.id, debit.id))
            return None
        if position is None:
            return refusal("INVALID_LOT_STATE", {"state": "NOT_ISSUED"})
        if position.busy is not None:
            return refusal("LOT_BUSY", {"pending": str(position.busy)})
        if t.code not in ALLOWED_FROM or position.state not in ALLOWED_FROM[t.code]:
            return refusal("INVALID_LOT_STATE", {"state": position.state.name,
                                                 "code": t.code.name})
        if position.holder != debit.id:
            return refusal("LOT_NOT_HELD", {"holder": position.holder})
        if t.code is TransferCode.REVOKE and credit.id != position.issuer:
            return refusal("ACCOUNT_NOT_ALLOWED", {"reason": "a lot is revoked to its source"})
        if t.code is TransferCode.CORRECTION and not {
                debit.holder_kind, credit.holder_kind} <= LOT_CORRECTION_KINDS:
            return refusal("ACCOUNT_NOT_ALLOWED", {"reason": "a lot is corrected between holders"})
        if pending:
            journal.set(position, "busy", t.id)
        else:
            journal.set(position, "state", TARGET_STATE.get(t.code, position.state))
            journal.set(position, "holder", credit.id)
        return None

    def _resolve(self, t: TransferInput, journal: _Journal, group_id: uuid.UUID | None,
                 body: str) -> DomainError | None:
        """TWO-PHASE-1: post, void or expire a pending transfer."""
        assert t.pending_id is not None
        p = self.pendings.get(t.pending_id)
        if p is None:
            return refusal("TRANSFER_NOT_PENDING", {"pending_id": str(t.pending_id)})
        if p.resolution is TransferKind.EXPIRE:
            return refusal("PENDING_EXPIRED", {"pending_id": str(p.id)})
        if p.resolution is not None:
            return refusal("TRANSFER_NOT_PENDING", {"pending_id": str(p.id),
                                                    "resolved": p.resolution.value})
        expired = p.expires_at is not None and self.now >= p.expires_at
        if expired != (t.action is Action.EXPIRE):
            if expired:
                return refusal("PENDING_EXPIRED", {"pending_id": str(p.id),
                                                   "expired_at": iso(p.expires_at)})
            return refusal("TRANSFER_NOT_PENDING", {"reason": "not yet expired"})
        for given, own in ((t.debit_account_id, p.debit), (t.credit_account_id, p.credit),
                           (t.amount, p.amount), (t.code, p.code)):
            if given is not None and given != own:
                return refusal("PENDING_MISMATCH")
        debit, credit = self.accounts[p.debit], self.accounts[p.credit]
        journal.set(debit, "dp", debit.dp - p.amount)
        journal.set(credit, "cp", credit.cp - p.amount)
        kind = KIND_OF_ACTION[t.action]
        if kind is TransferKind.POST:
            journal.set(debit, "dpo", debit.dpo + p.amount)
            journal.set(credit, "cpo", credit.cpo + p.amount)
        journal.set(p, "resolution", kind)
        if p.lot_id is not None and p.dimension is not Dimension.MONEY:
            position = self.lots[p.lot_id].positions[p.dimension]
            journal.set(position, "busy", None)
            if kind is TransferKind.POST:
                journal.set(position, "state", TARGET_STATE.get(p.code, position.state))
                journal.set(position, "holder", p.credit)
        self.rows.append(_Row(t.id, kind, p.code, p.debit, p.credit, p.quota_type, p.dimension,
                              p.amount, p.id, None, p.lot_id, group_id, dict(t.details), body))
        return None

    def _group_rule(self, indexes: list[int]) -> tuple[int, DomainError] | None:
        """LOT-1 across a group: whole lots move alike; a price travels with its trade.

        `indexes` are the group's transfers applied now (replayed members moved nothing).
        """
        moves: dict[uuid.UUID, list[tuple[int, tuple[Any, ...], Dimension]]] = {}
        prices: list[tuple[int, uuid.UUID, Action]] = []
        for index in indexes:
            t = self.inputs[index]
            if t.action is Action.EXPIRE:
                continue
            if t.action in (Action.SINGLE, Action.PENDING):
                assert t.debit_account_id is not None and t.credit_account_id is not None
                lot_id, code, credit = t.lot_id, t.code, t.credit_account_id
                dimension = self.accounts[t.debit_account_id].dimension
                timeout = t.timeout_seconds
            else:
                assert t.pending_id is not None
                p = self.pendings[t.pending_id]
                lot_id, code, dimension, credit, timeout = (p.lot_id, p.code, p.dimension,
                                                            p.credit, None)
            if lot_id is None:
                continue
            if dimension is Dimension.MONEY:
                if code is TransferCode.PRICE:
                    prices.append((index, lot_id, t.action))
                continue
            holder = self.accounts[credit]
            moves.setdefault(lot_id, []).append(
                (index, (t.action, code, timeout, holder.holder_kind, holder.holder_id),
                 dimension))
        for lot_id, moved in moves.items():
            dimensions = sorted(d for _, _, d in moved)
            if dimensions != sorted(self.lots[lot_id].amounts) or len({k for _, k, _ in moved}) > 1:
                return moved[0][0], refusal("LOT_DIMENSIONS_INCOMPLETE", {"lot": str(lot_id)})
        for index, lot_id, action in prices:
            if not any(k[0] is action and k[1] is TransferCode.TRADE
                       for _, k, _ in moves.get(lot_id, [])):
                return index, refusal("TRADE_LINK_REQUIRED", {"lot": str(lot_id)})
        return None

    # ------------------------------------------------------------------ writing
    def _chain_head(self) -> tuple[int, str]:
        """CHAIN-4: take the chain lock (held to commit), then read the head it guards.

        Two statements, so the second sees what the lock's previous holder committed; sent in
        one round trip (psycopg pipeline), since every writer waits behind this lock."""
        connection = self.session.connection().connection.driver_connection
        assert connection is not None
        with connection.cursor() as lock, connection.cursor() as head:
            with connection.pipeline():
                lock.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK_KEY,))
                head.execute("SELECT seq, hash FROM ledger_transfers ORDER BY seq DESC LIMIT 1")
            found = head.fetchone()
        return (found[0], found[1]) if found else (0, GENESIS)

    def write(self, actor: str) -> None:
        """Balances and refusals first; then, under the chain lock, the transfers themselves
        (so the lock every writer waits for covers as little as possible)."""
        s = self.session
        changed = [a for a in self.accounts.values() if a.delta() != (0, 0, 0, 0)]
        remembered = s.execute(text(SETTLE_BALANCES), {
            "at": self.now, "actor": actor,
            "rejections": json.dumps([{"id": str(i), "body": b, "code": c}
                                      for i, b, c in self.rejections]),
            "balances": json.dumps([dict(zip(("id", "dp", "dpo", "cp", "cpo"),
                                             (a.id, *a.delta()), strict=True))
                                    for a in changed]),
        }).scalar_one()
        inserted = 0
        if self.rows:
            seq, previous = self._chain_head()
            for row in self.rows:
                seq += 1
                row.seq, row.prev_hash = seq, previous
                row.hash = previous = link_hash(previous, chain_payload(row, self.now, actor))
            transfers = [{
                "id": str(x.id), "seq": x.seq, "kind": x.kind.value, "code": x.code.value,
                "debit": x.debit, "credit": x.credit, "quota_type": x.quota_type.value,
                "dimension": x.dimension.value, "amount": x.amount,
                "pending_id": str(x.pending_id) if x.pending_id else None,
                "expires_at": iso(x.expires_at), "lot_id": str(x.lot_id) if x.lot_id else None,
                "linked_group": str(x.linked_group) if x.linked_group else None,
                "details": x.details, "body": x.body_sha256, "prev": x.prev_hash,
                "hash": x.hash,
            } for x in self.rows]
            inserted = s.execute(text(APPEND_TRANSFERS), {
                "transfers": json.dumps(transfers, ensure_ascii=False), "at": self.now,
                "actor": actor}).scalar_one()
        if inserted != len(self.rows) or remembered != len(self.rejections):
            # A concurrent batch recorded one of these ids first (after our check): start over.
            raise concurrent_update()  # IDEMPOTENCY-2


# LEDGER-1: both sides of every transfer of the batch change in this one statement; the
# refusals to remember are written with it.
SETTLE_BALANCES = """
WITH new_rejections AS (
    INSERT INTO ledger_rejections (id, body_sha256, code, at, actor)
    SELECT r.id, r.body, r.code, :at, :actor
    FROM jsonb_to_recordset(CAST(:rejections AS jsonb)) AS r(id uuid, body text, code text)
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
), balances AS (
    UPDATE ledger_accounts a SET
        debits_pending = a.debits_pending + v.dp, debits_posted = a.debits_posted + v.dpo,
        credits_pending = a.credits_pending + v.cp, credits_posted = a.credits_posted + v.cpo
    FROM jsonb_to_recordset(CAST(:balances AS jsonb))
        AS v(id bigint, dp bigint, dpo bigint, cp bigint, cpo bigint)
    WHERE a.id = v.id
    RETURNING 1
)
SELECT count(*) FROM new_rejections
"""

# CHAIN-4: the batch's transfers, hashed in seq order, appended under the chain lock.
APPEND_TRANSFERS = """
WITH new_transfers AS (
    INSERT INTO ledger_transfers (id, seq, kind, code, debit_account_id, credit_account_id,
        quota_type, dimension, amount, pending_id, expires_at, lot_id, linked_group, details,
        at, actor, body_sha256, prev_hash, hash)
    SELECT t.id, t.seq, t.kind, t.code, t.debit, t.credit, t.quota_type, t.dimension,
        t.amount, t.pending_id, t.expires_at, t.lot_id, t.linked_group, t.details,
        :at, :actor, t.body, t.prev, t.hash
    FROM jsonb_to_recordset(CAST(:transfers AS jsonb)) AS t(
        id uuid, seq bigint, kind ledger_transfer_kind, code ledger_transfer_code,
        debit bigint, credit bigint, quota_type ledger_quota_type, dimension ledger_dimension,
        amount bigint, pending_id uuid, expires_at timestamptz, lot_id uuid, linked_group uuid,
        details jsonb, body text, prev text, hash text)
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM new_transfers
"""


def create_transfers(session: Session, transfers: Sequence[TransferInput], *, actor: Actor,
                     now: datetime, request_id: str | None = None) -> list[TransferResult]:
    """Apply a batch of transfers in the caller's transaction; one result per transfer, in order.

    Refusals are results, not exceptions (the rest of the batch still applies); only a batch
    that is too large, or a database failure, raises.
    """
    if len(transfers) > MAX_BATCH:
        raise DomainError("BATCH_TOO_LARGE", f"每批最多{MAX_BATCH}笔业务",
                          f"at most {MAX_BATCH} transfers per batch",
                          {"limit": MAX_BATCH, "given": len(transfers)})
    if not transfers:
        return []
    batch = _Batch(session, transfers, now)
    batch.load()
    batch.evaluate()
    fresh = [t.id for t in transfers if t.id not in batch.stored]
    if any(r is not None and not r.ok for r, t in zip(batch.results, transfers, strict=True)
           if t.id not in batch.stored):
        raise_if_recorded_meanwhile(session, fresh)  # IDEMPOTENCY-2, under the batch's locks
    if batch.rows or batch.rejections:
        # Audited first, so the chain lock (taken by write, held to commit) covers less work.
        record_audit(session, actor, "ledger.transfers", f"{len(transfers)} transfers",
                     request_id, {"created": len(batch.rows),
                                  "refusals_remembered": len(batch.rejections),
                                  "first_id": str(batch.rows[0].id) if batch.rows else None})
        session.flush()
        batch.write(actor.name)
    seq_of = {row.id: row.seq for row in batch.rows}
    results: list[TransferResult] = []
    for result in batch.results:
        assert result is not None
        if result.ok and result.seq is None:
            result = TransferResult(result.id, result.status, seq_of.get(result.id),
                                    replayed=result.replayed)
        results.append(result)
    return results


def expire_pending(session: Session, *, actor: Actor, now: datetime,
                   request_id: str | None = None, limit: int = MAX_BATCH) -> list[TransferResult]:
    """TWO-PHASE-1: record an expiry for every pending transfer whose timeout has passed.

    Pending transfers locked by a concurrent post or void are skipped (that request decides).
    """
    due = list(session.scalars(text(
        "SELECT p.id FROM ledger_transfers p WHERE p.expires_at <= :now "
        "AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = p.id) "
        "ORDER BY p.id LIMIT :limit FOR UPDATE OF p SKIP LOCKED"),
        {"now": now, "limit": limit}))
    if not due:
        return []
    expiries = [TransferInput(id=uuid.uuid5(pending_id, "expire"), action=Action.EXPIRE,
                              pending_id=pending_id) for pending_id in due]
    results = create_transfers(session, expiries, actor=actor, now=now, request_id=request_id)
    return [r for r in results if r.ok]
