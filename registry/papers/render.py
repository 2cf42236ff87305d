"""A paper as PDF bytes: its record (PAPER-2), its map for a certificate (MAP-…) and the unit's
floor plan when one is stored (FLOOR-1/2), typeset (PAPER-1). Reads only; printing a paper into
the register's stock is not done here."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import segno
from sqlalchemy.orm import Session

from registry.db.papers import PrintMode
from registry.papers.floor_plan import floor_plan
from registry.papers.parcel_map import ParcelMap, parcel_map
from registry.papers.records import PaperRecord, paper_record
from registry.papers.typeset import typesetter
from storage import Store
from storage.scans import Limits


@dataclass(frozen=True)
class PrintInfo:
    """How a paper is printed: on blank paper or onto a form (its serial), and its code."""

    mode: PrintMode = PrintMode.FULL
    serial: str | None = None
    verification_code: str | None = None
    verify_url: str | None = None  # drawn as a QR code
    offset_x_mm: float = 0.0
    offset_y_mm: float = 0.0


@dataclass(frozen=True)
class RenderedPaper:
    pdf: bytes
    data: dict[str, Any]  # what the template was given


def qr_svg(text: str) -> str:
    """A QR code (error correction M) as SVG, black on white, with its quiet zone."""
    # A fixed mask pattern: every mask gives a valid code; letting segno score all eight
    # took 12 ms of a print's ~50 (bench/papers.py), choosing one 3 ms.
    code = segno.make(text, error="m", mask=0)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=4, border=4, xmldecl=False, svgns=True)
    return out.getvalue().decode()


def map_data(drawn: ParcelMap) -> dict[str, Any]:
    return {"svg": drawn.svg, "parcel_code": drawn.parcel_code,
            "area_m2": f"{drawn.area_m2:.2f}", "srid": drawn.srid,
            "scale_denominator": drawn.scale_denominator,
            "points": [{"label": p.label, "x": f"{p.x:.3f}", "y": f"{p.y:.3f}"}
                       for p in drawn.points]}


def paper_data(session: Session, record: PaperRecord, store: Store | None = None,
               limits: Limits | None = None) -> dict[str, Any]:
    """What a template reads: the record and, on a certificate, the 宗地图 of its parcel and,
    given the store, the unit's 房产分户图 (FLOOR-1/2) as `map.floor_plan`. Both are drawings
    under "map", so the floor plan's image never enters PRINT-5's digest (which keeps only the
    map's parcel code, area and points); without a store there is no floor plan."""
    data = record.as_data()
    if record.kind == "certificate":
        data["map"] = map_data(parcel_map(session, record.parcel_id))
        plan = (floor_plan(session, store, record.unit_code, limits) if store is not None
                else None)
        if plan is not None:
            data["map"]["floor_plan"] = {"svg": plan.svg(), "document_id": str(plan.document_id),
                                         "width": plan.width, "height": plan.height}
    return data


def render_paper(session: Session, number: str, created: datetime,
                 how: PrintInfo | None = None, store: Store | None = None,
                 limits: Limits | None = None) -> RenderedPaper:
    """Certificate or proof `number` as a PDF (NOT_FOUND, NOT_PRINTABLE, NO_GEOMETRY,
    FLOOR_PLAN_UNREADABLE, STORAGE_UNAVAILABLE): the whole paper, or in overlay mode only its
    values, placed for the pre-printed form. Without `store` no floor plan is drawn; `limits`
    are the service's scan limits, whose decode budget the floor plan's decode shares."""
    how = how or PrintInfo()
    record = paper_record(session, number)
    data = paper_data(session, record, store, limits)
    data["print"] = {"mode": how.mode.value, "serial": how.serial or "",
                     "code": how.verification_code or "",
                     "qr_svg": qr_svg(how.verify_url) if how.verify_url else "",
                     "offset_x_mm": how.offset_x_mm, "offset_y_mm": how.offset_y_mm}
    template = f"{record.kind}_overlay" if how.mode is PrintMode.OVERLAY else record.kind
    return RenderedPaper(pdf=typesetter().pdf(template, data, created=created), data=data)


def calibration_pdf(created: datetime) -> bytes:
    """The calibration page for overlay printing (templates/calibration.typ)."""
    return typesetter().pdf("calibration", {}, created=created)
