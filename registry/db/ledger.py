"""The indicator trading ledger (指标台账): accounts, quota lots, transfers (TigerBeetle style).

Quantities are exact integers in a stated sub-unit (never floats):
- area and paddy area: 1 = 0.0001 亩 (万分之一亩); 1 亩 = 2000/3 m² exactly;
- grain capacity: 1 = 1 kg;
- money (trade prices and fees): 1 = 1 分 (fen).

Rules the database itself enforces (migration 0005):
- LEDGER-2 Balance columns are never negative, and an account with `no_overdraft` never has
  debits (posted + pending) above its posted credits (CHECK `no_overdraft`). Every quota account
  except an issuance account has `no_overdraft` (CHECK `quota_holders_no_overdraft`).
- LEDGER-3 Transfers, lots and remembered refusals are append-only (registry_forbid_change);
  on accounts only the four balance columns may change.
- LEDGER-4 Both accounts of a transfer hold the same quota type and dimension (composite
  foreign keys on (account, quota_type, dimension)).
- LEDGER-5 A pending transfer is resolved (posted, voided or expired) at most once (unique
  `pending_id`).
- LEDGER-6 The chain position `seq` is unique; `hash` links to `prev_hash` (checked by
  `registry verify`, see services/ledger/__init__.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base
from registry.db.types import enum_column


class QuotaType(StrEnum):
    """指标类型."""

    LINKAGE_SURPLUS = "linkage_surplus"  # 城乡建设用地增减挂钩节余指标 (area)
    FARMLAND_BALANCE = "farmland_balance"  # 耕地占补平衡指标 (area, paddy area, grain capacity)
    CONSTRUCTION_PLAN = "construction_plan"  # 新增建设用地计划指标 (area)
    FUNDS = "funds"  # 资金结算 trade prices and fees (money), not a quota


class Dimension(StrEnum):
    """指标维度, each in its own sub-unit."""

    AREA = "area"  # 面积, 0.0001 亩
    PADDY_AREA = "paddy_area"  # 水田面积, 0.0001 亩
    GRAIN_CAPACITY = "grain_capacity"  # 粮食产能, kg
    MONEY = "money"  # 金额, 分


# Which dimensions each quota type has (the funds "type" has money only).
DIMENSIONS: dict[QuotaType, tuple[Dimension, ...]] = {
    QuotaType.LINKAGE_SURPLUS: (Dimension.AREA,),
    QuotaType.FARMLAND_BALANCE: (Dimension.AREA, Dimension.PADDY_AREA, Dimension.GRAIN_CAPACITY),
    QuotaType.CONSTRUCTION_PLAN: (Dimension.AREA,),
    QuotaType.FUNDS: (Dimension.MONEY,),
}


class HolderKind(StrEnum):
    """账户持有人类别."""

    ISSUANCE = "issuance"  # 指标来源 one per source document; may go negative
    COUNTY = "county"  # 县（区）指标库
    PROJECT = "project"  # 用地项目
    ESCROW = "escrow"  # 交易中心挂牌托管
    BUYER = "buyer"  # 竞得人/购买方
    FEE = "fee"  # 交易中心服务费收入 (money)
    RETIRED = "retired"  # 已核销 where written-off quota goes


class TransferKind(StrEnum):
    """How a transfer moves balances (two-phase, TigerBeetle style)."""

    SINGLE = "single"  # posted at once
    PENDING = "pending"  # reserved: pending debits/credits
    POST = "post"  # posts a pending transfer
    VOID = "void"  # releases a pending transfer
    EXPIRE = "expire"  # released because its timeout passed


class TransferCode(StrEnum):
    """业务类型 of a transfer."""

    ISSUE = "issue"  # 入库 a lot issued from its source into a county
    LIST = "list"  # 挂牌 county → trading-center escrow
    DELIST = "delist"  # 撤牌 escrow → county
    TRADE = "trade"  # 成交 escrow → buyer
    PRICE = "price"  # 成交价款 buyer → seller (money)
    FEE = "fee"  # 交易服务费 buyer → trading center (money)
    WRITE_OFF = "write_off"  # 核销 consumed by a land-supply batch or project
    REVOKE = "revoke"  # 撤销 back to the source
    CORRECTION = "correction"  # 更正 fixes a mistake by a new transfer


class LedgerAccount(Base):
    """指标账户: one holder × quota type × dimension. Only the balance columns ever change."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("holder_kind", "holder_id", "quota_type", "dimension",
                         name="uq_ledger_accounts_holder"),
        UniqueConstraint("id", "quota_type", "dimension", name="uq_ledger_accounts_asset"),
        CheckConstraint("debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 "
                        "AND credits_posted >= 0", name="balances_not_negative"),
        CheckConstraint("NOT no_overdraft OR debits_posted + debits_pending <= credits_posted",
                        name="no_overdraft"),
        CheckConstraint("no_overdraft OR holder_kind = 'issuance' OR quota_type = 'funds'",
                        name="quota_holders_no_overdraft"),
        CheckConstraint(
            "(quota_type = 'funds') = (dimension = 'money') AND "
            "(dimension IN ('area', 'money') OR quota_type = 'farmland_balance')",
            name="dimension_of_type"),
        CheckConstraint("holder_id <> '' AND length(holder_id) <= 128", name="holder_id_format"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    holder_kind: Mapped[HolderKind] = mapped_column(enum_column(HolderKind, "ledger_holder_kind"))
    holder_id: Mapped[str] = mapped_column(String(128))
    holder_name: Mapped[str] = mapped_column(String(256))
    county_code: Mapped[str | None] = mapped_column(String(12), ForeignKey("divisions.code"),
                                                    index=True)
    quota_type: Mapped[QuotaType] = mapped_column(enum_column(QuotaType, "ledger_quota_type"))
    dimension: Mapped[Dimension] = mapped_column(enum_column(Dimension, "ledger_dimension"))
    no_overdraft: Mapped[bool] = mapped_column(Boolean)
    debits_pending: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    debits_posted: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    credits_pending: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    credits_posted: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerLot(Base):
    """指标批次: quota issued by one accepted project (or plan document). Append-only.

    Its state (入库 in stock → 挂牌 listed → 成交 traded → 核销 written off / 撤销 revoked) and its
    holder are not stored here: they follow from the lot's transfers (services/ledger/__init__.py).
    """

    __tablename__ = "ledger_lots"
    __table_args__ = (
        CheckConstraint("quota_type <> 'funds'", name="quota_type_is_quota"),
        CheckConstraint("area > 0", name="area_positive"),
        CheckConstraint(
            "(quota_type = 'farmland_balance') = "
            "(paddy_area IS NOT NULL AND grain_capacity IS NOT NULL)",
            name="farmland_dimensions"),
        CheckConstraint("paddy_area >= 0 AND paddy_area <= area AND grain_capacity >= 0",
                        name="farmland_amounts"),
        CheckConstraint("vintage_year BETWEEN 1990 AND 2200", name="vintage_year_range"),
        CheckConstraint("project_name <> '' AND acceptance_doc_no <> ''", name="source_named"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    quota_type: Mapped[QuotaType] = mapped_column(enum_column(QuotaType, "ledger_quota_type"))
    project_name: Mapped[str] = mapped_column(String(256))  # 项目名称
    acceptance_doc_no: Mapped[str] = mapped_column(String(128), index=True)  # 验收（下达）文号
    vintage_year: Mapped[int] = mapped_column(Integer)  # 指标年份
    county_code: Mapped[str] = mapped_column(String(12), ForeignKey("divisions.code"),
                                             index=True)
    source_parcels: Mapped[list[str]] = mapped_column(ARRAY(String(19)))  # 来源宗地代码
    area: Mapped[int] = mapped_column(BigInteger)  # 0.0001 亩
    paddy_area: Mapped[int | None] = mapped_column(BigInteger)  # 0.0001 亩
    grain_capacity: Mapped[int | None] = mapped_column(BigInteger)  # kg
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))


class LedgerTransfer(Base):
    """指标流水: one immutable movement from a debit to a credit account; hash-chained."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        ForeignKeyConstraint(["debit_account_id", "quota_type", "dimension"],
                             ["ledger_accounts.id", "ledger_accounts.quota_type",
                              "ledger_accounts.dimension"],
                             name="fk_ledger_transfers_debit_account"),
        ForeignKeyConstraint(["credit_account_id", "quota_type", "dimension"],
                             ["ledger_accounts.id", "ledger_accounts.quota_type",
                              "ledger_accounts.dimension"],
                             name="fk_ledger_transfers_credit_account"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        CheckConstraint("(kind IN ('post', 'void', 'expire')) = (pending_id IS NOT NULL)",
                        name="resolution_names_pending"),
        CheckConstraint("expires_at IS NULL OR kind = 'pending'", name="only_pending_expires"),
        CheckConstraint("seq > 0", name="seq_positive"),
        Index("ix_ledger_transfers_debit", "debit_account_id", "seq"),
        Index("ix_ledger_transfers_credit", "credit_account_id", "seq"),
        Index("ix_ledger_transfers_lot", "lot_id", "seq",
              postgresql_where=text("lot_id IS NOT NULL")),
        Index("ix_ledger_transfers_group", "linked_group",
              postgresql_where=text("linked_group IS NOT NULL")),
        Index("ix_ledger_transfers_expiry", "expires_at",
              postgresql_where=text("expires_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # the client's idempotency key
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)  # chain position, gapless
    kind: Mapped[TransferKind] = mapped_column(enum_column(TransferKind, "ledger_transfer_kind"))
    code: Mapped[TransferCode] = mapped_column(enum_column(TransferCode, "ledger_transfer_code"))
    debit_account_id: Mapped[int] = mapped_column(BigInteger)
    credit_account_id: Mapped[int] = mapped_column(BigInteger)
    quota_type: Mapped[QuotaType] = mapped_column(enum_column(QuotaType, "ledger_quota_type"))
    dimension: Mapped[Dimension] = mapped_column(enum_column(Dimension, "ledger_dimension"))
    amount: Mapped[int] = mapped_column(BigInteger)
    pending_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_transfers.id"),
                                                         unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ledger_lots.id"))
    linked_group: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerRejection(Base):
    """A refused transfer id, remembered so a retry with the same id gets the same answer.

    Nothing else of a refused transfer is kept: it moved nothing. (TigerBeetle's
    `id_already_failed`: to try again after fixing the cause, use a new id.)
    """

    __tablename__ = "ledger_rejections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
