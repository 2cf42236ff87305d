"""The 房产分户图 (floor plan) on the 附图 of a house's or parking space's certificate.

- FLOOR-1 Which: for a unit of kind RURAL_HOUSE or PARKING_SPACE, the most recently uploaded
  document of kind FLOOR_PLAN that is not removed (nor replaced) and is linked to the unit
  itself, or only to a case of which the unit is the sole unit. A document linked to a case
  counts once that case is recorded (登簿): a floor plan still under examination, or of a case
  refused, rejected or withdrawn, is not the register's. None: the 附图 shows the 宗地图 alone.
- FLOOR-2 How: the stored original is read back from the bucket and its SHA-256 checked (DOC-1);
  its first page is decoded by the scan rules (SCAN-3..5: only that page, EXIF orientation,
  within the process's decode budget) and scaled to fit FLOOR_PLAN_PX, as JPEG. A file that no
  longer matches its hash, cannot be decoded, or whose first page holds no scanned image (a PDF
  drawn only with vectors) refuses the print (FLOOR_PLAN_UNREADABLE: replace the document with
  a scan); the store unreachable is STORAGE_UNAVAILABLE. The floor plan is drawn, not recorded:
  its bytes are not part of what the paper says of the register (PRINT-5's digest).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, replace

from PIL import Image
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from registry.db.applications import Application, ApplicationState, ApplicationUnit
from registry.db.documents import Document, DocumentKind, StoredFile
from registry.db.units import Unit, UnitKind
from registry.services.documents import storage_errors
from registry.services.errors import DomainError
from storage import Store
from storage.scans import Limits, ScanRefused, inspect
from storage.spool import TooLarge, spool

# Pixels of the long side: 150 mm at about 270 dpi.
FLOOR_PLAN_PX = 1600
UNIT_KINDS = frozenset({UnitKind.RURAL_HOUSE, UnitKind.PARKING_SPACE})
RECORDED = (ApplicationState.RECORDED, ApplicationState.CERTIFIED)
# The upload checked the file against the configured limits already; these only bound the
# decode (the budget) and size the image.
DEFAULT_LIMITS = Limits(max_pixels=1_000_000_000, max_pages=1_000_000,
                        thumbnail_px=FLOOR_PLAN_PX)


@dataclass(frozen=True)
class FloorPlan:
    document_id: int
    sha256: str  # of the stored original
    jpeg: bytes
    width: int  # pixels of the image drawn
    height: int

    def svg(self) -> str:
        """The image wrapped in an SVG (typst's inputs are text; the JPEG passes into the PDF
        as it is)."""
        href = "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode()
        return (f'<svg xmlns="http://www.w3.org/2000/svg" '
                f'xmlns:xlink="http://www.w3.org/1999/xlink" width="{self.width}" '
                f'height="{self.height}" viewBox="0 0 {self.width} {self.height}">'
                f'<image width="{self.width}" height="{self.height}" xlink:href="{href}"/>'
                f'</svg>')


def floor_plan_document(session: Session, unit_id: int) -> Document | None:
    """FLOOR-1: the unit's floor plan document, or None."""
    sole_unit_cases = (select(ApplicationUnit.application_id)
                       .group_by(ApplicationUnit.application_id)
                       .having(func.count() == 1, func.min(ApplicationUnit.unit_id) == unit_id))
    recorded_cases = select(Application.id).where(Application.state.in_(RECORDED))
    return session.scalars(
        select(Document).where(
            Document.kind == DocumentKind.FLOOR_PLAN,
            Document.removed_at.is_(None),
            or_(Document.application_id.is_(None), Document.application_id.in_(recorded_cases)),
            or_(Document.unit_id == unit_id,
                and_(Document.unit_id.is_(None), Document.parcel_id.is_(None),
                     Document.application_id.in_(sole_unit_cases))))
        .order_by(Document.uploaded_at.desc(), Document.id.desc()).limit(1)).one_or_none()


def _unreadable(document: Document, why: str) -> DomainError:
    return DomainError("FLOOR_PLAN_UNREADABLE",
                       f"房产分户图（要件{document.id}）无法读取：请以扫描图像替换该要件",
                       f"the floor plan (document {document.id}) cannot be drawn: {why}",
                       {"documentId": str(document.id)})


def floor_plan(session: Session, store: Store, unit_code: str,
               limits: Limits | None = None) -> FloorPlan | None:
    """FLOOR-1/2: the floor plan to draw for unit `unit_code`, or None. `limits` are the
    service's scan limits (their decode budget is used; the size is FLOOR_PLAN_PX)."""
    unit = session.scalars(select(Unit).where(Unit.code == unit_code)).one_or_none()
    if unit is None or unit.kind not in UNIT_KINDS:
        return None
    document = floor_plan_document(session, unit.id)
    if document is None:
        return None
    stored = session.get(StoredFile, document.file_sha256)
    assert stored is not None
    with storage_errors():
        try:
            spooled = spool(store.iter_chunks(stored.object_key), stored.size,
                            expected_size=stored.size)
        except TooLarge as exc:
            raise _unreadable(document, "the stored file is larger than recorded") from exc
    with spooled:
        if spooled.sha256 != stored.sha256 or spooled.size != stored.size:
            raise _unreadable(document, "the stored file does not match its SHA-256")
        sized = (DEFAULT_LIMITS if limits is None
                 else replace(limits, thumbnail_px=FLOOR_PLAN_PX))
        try:
            page = inspect(spooled.file, sized).first_page()
        except ScanRefused as exc:
            raise _unreadable(document, exc.reason) from exc
    if page.thumbnail is None:
        raise _unreadable(document, "its first page holds no scanned image")
    drawn = _size_of(page.thumbnail)
    return FloorPlan(document_id=document.id, sha256=stored.sha256, jpeg=page.thumbnail,
                     width=drawn[0], height=drawn[1])


def _size_of(jpeg: bytes) -> tuple[int, int]:
    """The pixel size of a JPEG we made (headers only)."""
    with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as image:
        return image.size
