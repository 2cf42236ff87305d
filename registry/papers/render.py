"""A paper as PDF bytes: its record (PAPER-2), its map for a certificate (MAP-…), typeset
(PAPER-1). Reads only; printing a paper into the register's stock is not done here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.papers.parcel_map import ParcelMap, parcel_map
from registry.papers.records import PaperRecord, paper_record
from registry.papers.typeset import typesetter


def map_data(drawn: ParcelMap) -> dict[str, Any]:
    return {"svg": drawn.svg, "parcel_code": drawn.parcel_code,
            "area_m2": f"{drawn.area_m2:.2f}", "srid": drawn.srid,
            "scale_denominator": drawn.scale_denominator,
            "points": [{"label": p.label, "x": f"{p.x:.3f}", "y": f"{p.y:.3f}"}
                       for p in drawn.points]}


def paper_data(session: Session, record: PaperRecord) -> dict[str, Any]:
    """What a template reads: the record and, on a certificate, the 宗地图 of its parcel."""
    data = record.as_data()
    if record.kind == "certificate":
        data["map"] = map_data(parcel_map(session, record.parcel_id))
    return data


def render_paper(session: Session, number: str, created: datetime) -> bytes:
    """Certificate or proof `number` as a PDF (NOT_FOUND, NOT_PRINTABLE, NO_GEOMETRY)."""
    record = paper_record(session, number)
    return typesetter().pdf(record.kind, paper_data(session, record), created=created)
