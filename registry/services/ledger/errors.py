"""The ledger's refusal codes, each with its Chinese and English message.

`remembered` says whether a refusal depends on the ledger's state at the time (balances, lot
states, pending transfers, accounts): such a refusal is remembered under the transfer's id, so a
retry with the same id and body gets the same answer (IDEMPOTENCY-1 in engine.py). A
refusal that follows from the body alone needs no memory: it is found again every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry.services.errors import DomainError


@dataclass(frozen=True)
class Refusal:
    code: str
    message_zh: str
    message_en: str
    remembered: bool


_CATALOG = [
    Refusal("INSUFFICIENT_QUOTA", "余额不足：不得透支", "insufficient balance: no overdraft", True),
    Refusal("ID_CONFLICT", "该编号已用于内容不同的另一笔业务",
            "this id was already used with a different body", False),
    Refusal("UNKNOWN_ACCOUNT", "账户不存在", "no such account", True),
    Refusal("QUOTA_TYPE_MISMATCH", "借贷双方（或指标批次）的指标类型或维度不一致",
            "the accounts (or the lot) differ in quota type or dimension", True),
    Refusal("TRANSFER_NOT_PENDING", "所引用的业务不是待确认业务，或已确认/撤回",
            "the referenced transfer is not pending (unknown, or already posted or voided)",
            True),
    Refusal("PENDING_EXPIRED", "待确认业务已超时失效", "the pending transfer has expired", True),
    Refusal("PENDING_MISMATCH", "确认/撤回的内容与待确认业务不一致",
            "the post or void does not match its pending transfer", True),
    Refusal("LINKED_EVENT_FAILED", "同组关联业务中另一笔失败，本笔未执行",
            "another transfer of its linked group failed, so this one was not applied", False),
    Refusal("LINKED_GROUP_OPEN", "批次最后一笔不能标记为关联（关联组未结束）",
            "the batch ends inside a linked group (the last transfer is marked linked)", False),
    Refusal("INVALID_AMOUNT", "数量必须是1至10^15之间的整数",
            "the amount must be an integer from 1 to 10^15", False),
    Refusal("SAME_ACCOUNT", "借方与贷方不能是同一账户",
            "the debit and credit accounts must differ", False),
    Refusal("INVALID_TRANSFER", "业务内容不完整或字段组合无效",
            "the transfer is incomplete or combines fields that do not go together", False),
    Refusal("INVALID_DETAILS", "附加信息无效", "the details are invalid", False),
    Refusal("UNKNOWN_LOT", "指标批次不存在", "no such quota lot", True),
    Refusal("UNKNOWN_TRANSFER", "所更正的业务不存在", "the corrected transfer does not exist",
            True),
    Refusal("INVALID_LOT_STATE", "指标批次当前状态不允许此业务",
            "the lot's current state does not allow this", True),
    Refusal("LOT_NOT_HELD", "借方账户未持有该指标批次", "the debit account does not hold the lot",
            True),
    Refusal("LOT_BUSY", "该指标批次有待确认业务", "the lot has a pending transfer", True),
    Refusal("LOT_AMOUNT_MISMATCH", "数量与指标批次不一致（批次整体流转）",
            "the amount differs from the lot's (a lot moves whole)", True),
    Refusal("LOT_DIMENSIONS_INCOMPLETE", "指标批次各维度须在同一关联组内同时流转",
            "every dimension of the lot must move in the same linked group, alike", False),
    Refusal("ACCOUNT_NOT_ALLOWED", "此类业务不能使用该类账户",
            "this kind of transfer cannot use an account of this kind", True),
    Refusal("PRICE_MISMATCH", "成交价款与亩单价×面积不符",
            "the price does not equal price per 亩 × area", True),
    Refusal("TRADE_LINK_REQUIRED", "价款须与该批次的成交业务在同一关联组",
            "a price must be linked with its lot's trade in the same group", False),
]
REFUSALS: dict[str, Refusal] = {r.code: r for r in _CATALOG}


def refusal(code: str, details: Mapping[str, Any] | None = None) -> DomainError:
    """The DomainError for a catalogued refusal code."""
    known = REFUSALS[code]
    return DomainError(code, known.message_zh, known.message_en, details)
