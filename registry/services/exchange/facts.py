"""What the register says about one recorded case, as flat facts keyed by mapping.py's sources.

The facts are read inside the recording transaction (after the register entry is appended),
so they are exactly what was recorded. Each function returns (table name, facts) pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.access import User
from registry.db.applications import (
    Application,
    ApplicationKind,
    ApplicationParty,
    ApplicationState,
    ApplicationUnit,
    PartyRole,
    Transition,
)
from registry.db.documents import DOCUMENT_KIND_LABEL_ZH, Document, StoredFile
from registry.db.lineage import UnitLineage
from registry.db.parties import Party
from registry.db.reference import Division
from registry.db.register import ENTRY_TYPE_LABEL_ZH, EntryType, RegisterEntry
from registry.db.rights import Right, RightHolder, RightKind, RightStatus
from registry.db.spatial import Parcel
from registry.db.units import Unit, UnitKind
from registry.services.exchange.mapping import (
    AREA_UNIT_M2,
    RESTRICTION_TABLE,
    TITLE_TABLE,
)

Rows = list[tuple[str, dict[str, Any]]]
# Cases whose natural state (parcel, building, unit) the message carries: those that create or
# change it; the others name the unit by its code only.
NATURAL_STATE = frozenset({ApplicationKind.FIRST, ApplicationKind.CHANGE,
                           ApplicationKind.CORRECTION, ApplicationKind.SPLIT,
                           ApplicationKind.MERGE})
STEP_LABEL = {ApplicationState.ACCEPTED: "受理", ApplicationState.REVIEWED: "审核",
              ApplicationState.RECORDED: "登簿"}
AJZT_RECORDED = 2  # 案件状态: 1 办理中, 2 已办结 [likely]


def share_text(numerator: int | None, denominator: int | None) -> str | None:
    return f"{numerator}/{denominator}" if numerator and denominator else None


def unit_facts(unit: Unit, parcel: Parcel) -> dict[str, Any]:
    building = (f"{unit.code[:19]}F{unit.code[20:24]}" if unit.code[19] == "F" else None)
    return {
        "unit_code": unit.code, "parcel_code": parcel.code, "feature_code": parcel.code[12:14],
        "location": unit.location or parcel.location, "parcel_area": parcel.area,
        "area_unit": AREA_UNIT_M2, "land_use_code": parcel.land_use_code,
        "layer": parcel.layer, "unit_kind": unit.kind.value, "building_code": building,
        "floors": unit.floors or (1 if unit.kind is UnitKind.PARKING_SPACE else None),
        "underground_floors": abs(unit.level) if unit.level and unit.level < 0 else 0,
        "structure": unit.structure, "unit_no": int(unit.code[24:28]),
        "space_no": unit.space_no, "floor_area": unit.floor_area or unit.space_area,
        "category": unit.category.value if unit.category else None,
    }


def natural_state_rows(unit: Unit, parcel: Parcel, title: Right | None,
                       base: dict[str, Any]) -> Rows:
    facts = {**base, **unit_facts(unit, parcel),
             "title_right_type": title.right_type if title else None,
             "right_nature": title.right_nature if title else None,
             "status": title.status if title else None}
    rows: Rows = [("KTT_ZDJBXX", facts)]
    if facts["building_code"] and unit.kind in (UnitKind.RURAL_HOUSE, UnitKind.PARKING_SPACE):
        rows += [("KTT_FW_ZRZ", facts), ("KTT_FW_H", facts)]
    return rows


def right_table(right: Right, unit: Unit) -> str:
    if right.kind is RightKind.TITLE:
        if unit.kind is UnitKind.INFRASTRUCTURE and unit.code[19] != "F":
            return TITLE_TABLE["land"]
        return TITLE_TABLE[unit.kind.value]
    return RESTRICTION_TABLE[right.kind.value]


class CaseFacts:
    """Reads the facts of one recorded case (a handful of statements)."""

    def __init__(self, session: Session, application: Application,
                 entry: RegisterEntry) -> None:
        self.session = session
        self.application = application
        self._holders: dict[int, list[tuple[Party, RightHolder]]] = {}
        self._parties: dict[PartyRole, list[tuple[Party, ApplicationParty]]] = {}
        self.authority_name = session.scalar(
            select(Division.name).where(Division.code == application.county_code)) or ""
        self.registrar = session.scalar(
            select(User.display_name).where(User.id == application.recorded_by)) or ""
        # The rights the recording's register entry names (a primary-key lookup: rights has
        # no index on the case that created or ended them, and needs none).
        body = entry.payload.get("body", {})
        ids = {item["right"] for part in ("created", "ended") for item in body.get(part, [])
               if isinstance(item, dict) and item.get("right")}
        touched = [r for r in session.scalars(select(Right).where(Right.id.in_(ids))
                                              .order_by(Right.id))
                   if application.id in (r.application_id, r.ended_by_application_id)]
        self.created = [r for r in touched if r.application_id == application.id]
        self.ended = [r for r in touched if r.ended_by_application_id == application.id]
        unit_ids = set(session.scalars(select(ApplicationUnit.unit_id).where(
            ApplicationUnit.application_id == application.id)))
        unit_ids |= {r.unit_id for r in touched}
        self.units = {u.id: u for u in session.scalars(
            select(Unit).where(Unit.id.in_(unit_ids)).order_by(Unit.id))}
        self.parcels = {p.id: p for p in session.scalars(select(Parcel).where(
            Parcel.id.in_({u.parcel_id for u in self.units.values()})))}
        self.predecessors = list(session.scalars(
            select(Unit.code).join(UnitLineage, UnitLineage.predecessor_id == Unit.id)
            .where(UnitLineage.application_id == application.id).order_by(Unit.code)))

    def base(self) -> dict[str, Any]:
        a = self.application
        return {"ywh": a.number, "registration_type": a.registration_type,
                "authority_name": self.authority_name, "registrar": self.registrar,
                "recorded_at": a.recorded_at, "note": a.note}

    def holders(self, right: Right) -> list[tuple[Party, RightHolder]]:
        if right.id not in self._holders:
            self._holders[right.id] = self._read_holders(right)
        return self._holders[right.id]

    def parties(self, role: PartyRole) -> list[tuple[Party, ApplicationParty]]:
        if role not in self._parties:
            self._parties[role] = self._read_parties(role)
        return self._parties[role]

    def _read_holders(self, right: Right) -> list[tuple[Party, RightHolder]]:
        return list(self.session.execute(
            select(Party, RightHolder).join(RightHolder, RightHolder.party_id == Party.id)
            .where(RightHolder.right_id == right.id).order_by(Party.id)).all())

    def _read_parties(self, role: PartyRole) -> list[tuple[Party, ApplicationParty]]:
        return list(self.session.execute(
            select(Party, ApplicationParty)
            .join(ApplicationParty, ApplicationParty.party_id == Party.id)
            .where(ApplicationParty.application_id == self.application.id,
                   ApplicationParty.role == role).order_by(Party.id)).all())

    def right_facts(self, right: Right, unit: Unit) -> dict[str, Any]:
        base = self.base()
        holders = self.holders(right)
        obligors = self.parties(PartyRole.OBLIGOR)
        dominant = (self.session.get(Unit, right.dominant_unit_id)
                    if right.dominant_unit_id else None)
        ended_case = (self.session.get(Application, right.application_id)
                      if right.application_id != self.application.id else None)
        return {
            **base, **unit_facts(unit, self.parcels[unit.parcel_id]),
            "right_type": right.right_type, "right_nature": right.right_nature,
            "status": right.status, "term_start": right.term_start,
            "term_end": right.term_end, "certificate_number": right.certificate_number,
            "amount": right.amount, "max_amount": right.max_amount,
            "mortgage_mode": right.mortgage_mode, "court": right.authority,
            "seizure_type": right.seizure_type, "document_no": right.document_no,
            "purpose": right.purpose, "notice_kind": self.application.terms.get("notice_kind"),
            "holders": "、".join(p.name for p, _ in holders) or None,
            "obligors": "、".join(p.name for p, _ in obligors) or None,
            "dominant_unit_code": dominant.code if dominant else None,
            "note": right.note or base["note"], "ended_kind": right.kind.value,
            "ended_ywh": ended_case.number if ended_case else base["ywh"],
            "reason": self.application.note or ENTRY_TYPE_LABEL_ZH[
                EntryType.of(self.application.kind)],
        }

    def rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every exchange row the case touched, in a fixed order."""
        a = self.application
        if a.kind in NATURAL_STATE:
            titles = {r.unit_id: r for r in self.created if r.kind is RightKind.TITLE}
            for unit in self.units.values():
                if unit.id in titles or a.kind is not ApplicationKind.FIRST:
                    yield from natural_state_rows(unit, self.parcels[unit.parcel_id],
                                                  titles.get(unit.id), self.base())
        for right in [*self.ended, *self.created]:
            unit = self.units[right.unit_id]
            facts = self.right_facts(right, unit)
            yield right_table(right, unit), facts
            if right in self.created:
                for position, (party, holder) in enumerate(self.holders(right), 1):
                    yield "ZTT_GY_QLR", {
                        **facts, "party_name": party.name, "id_type": party.id_type,
                        "id_number": party.id_number, "party_kind": party.kind,
                        "co_ownership": right.co_ownership,
                        "share": share_text(holder.share_numerator, holder.share_denominator),
                        "holds_paper": 1 if position == 1 else 0, "position": position}
            elif right.status is RightStatus.TERMINATED:
                yield "QLF_QL_ZXDJ", facts
        yield from self.process_rows()

    def process_rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        a = self.application
        base = self.base()
        steps = list(self.session.scalars(select(Transition).where(
            Transition.application_id == a.id).order_by(Transition.id)))
        accepted = next((t for t in steps if t.to_state is ApplicationState.ACCEPTED), None)
        first_unit = next(iter(self.units.values()), None)
        yield "DJT_DJ_SL", {
            **base, "kind_label": ENTRY_TYPE_LABEL_ZH[EntryType.of(a.kind)],
            "right_type": a.terms.get("right_type"),
            "acceptor": accepted.actor_name if accepted else None,
            "accepted_at": accepted.at if accepted else None, "submitted_at": a.submitted_at,
            "location": first_unit.location if first_unit else None,
            "case_state": AJZT_RECORDED}
        for role in (PartyRole.HOLDER, PartyRole.OBLIGOR):
            for party, row in self.parties(role):
                yield "DJF_DJ_SQR", {
                    **base, "party_name": party.name, "id_type": party.id_type,
                    "id_number": party.id_number, "party_kind": party.kind,
                    "role": role.value,
                    "share": share_text(row.share_numerator, row.share_denominator)}
        for document, pages in self.session.execute(
                select(Document, StoredFile.page_count)
                .join(StoredFile, StoredFile.sha256 == Document.file_sha256)
                .where(Document.application_id == a.id, Document.removed_at.is_(None))
                .order_by(Document.id)).all():
            yield "DJF_DJ_SJ", {
                **base, "document_label": DOCUMENT_KIND_LABEL_ZH[document.kind],
                "document_kind": document.kind.value, "pages": pages,
                "received_at": document.uploaded_at, "sha256": document.file_sha256}
        position = 0
        for step in steps:
            if step.to_state in STEP_LABEL:
                position += 1
                yield "DJF_DJ_SH", {**base, "step_label": STEP_LABEL[step.to_state],
                                    "position": position, "actor": step.actor_name,
                                    "at": step.at, "reason": step.reason or None}
