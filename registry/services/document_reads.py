"""Read models of documents: one statement per question, for a whole batch of owners.

A document comes with its stored file, its pages and what it links to. Scope (ACCESS-2) is the
caller's job: the owners asked about were read under the caller's county already.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

DOCUMENT_JSON = """
json_build_object(
    'id', d.id, 'kind', d.kind, 'county_code', d.county_code, 'file_name', d.file_name,
    'media_type', f.media_type, 'size', f.size, 'sha256', f.sha256,
    'page_count', f.page_count, 'object_key', f.object_key,
    'uploaded_at', d.uploaded_at,
    'uploaded_by', (SELECT u.username FROM users u WHERE u.id = d.uploaded_by),
    'removed_at', d.removed_at, 'removal_reason', d.removal_reason,
    'replaced_by_id', d.replaced_by_id,
    'application_number', a.number, 'application_state', a.state,
    'unit_code', (SELECT un.code FROM units un WHERE un.id = d.unit_id),
    'parcel_code', (SELECT pa.code FROM parcels pa WHERE pa.id = d.parcel_id),
    'pages', COALESCE((SELECT json_agg(json_build_object(
                'number', p.page_no, 'width', p.width, 'height', p.height,
                'thumbnail_key', p.thumbnail_key) ORDER BY p.page_no)
            FROM document_pages p WHERE p.file_sha256 = d.file_sha256), '[]'::json))
"""

FROM = """
FROM documents d
JOIN document_files f ON f.sha256 = d.file_sha256
LEFT JOIN applications a ON a.id = d.application_id
"""


def _grouped(session: Session, owner_sql: str, ids: Sequence[int],
             include_removed: bool) -> dict[int, list[dict[str, Any]]]:
    removed = "" if include_removed else " AND d.removed_at IS NULL"
    rows = session.execute(text(
        f"SELECT owner, {DOCUMENT_JSON} AS doc {FROM} JOIN ({owner_sql}) o"
        f" ON o.document_id = d.id WHERE TRUE{removed} ORDER BY owner, d.uploaded_at, d.id"),
        {"ids": list(ids)}).all()
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for row in rows:
        found[row.owner].append(row.doc)
    return found


def documents_of_applications(session: Session, ids: Sequence[int],
                              include_removed: bool = False) -> dict[int, list[dict[str, Any]]]:
    return _grouped(session, "SELECT id AS document_id, application_id AS owner FROM documents"
                             " WHERE application_id = ANY(:ids)", ids, include_removed)


def documents_of_units(session: Session, ids: Sequence[int],
                       include_removed: bool = False) -> dict[int, list[dict[str, Any]]]:
    """Linked to the unit itself, or to a case about it."""
    return _grouped(session, """
        SELECT id AS document_id, unit_id AS owner FROM documents WHERE unit_id = ANY(:ids)
        UNION
        SELECT d2.id, au.unit_id FROM documents d2
          JOIN application_units au ON au.application_id = d2.application_id
         WHERE au.unit_id = ANY(:ids) AND d2.unit_id IS NULL AND d2.parcel_id IS NULL
    """, ids, include_removed)


def documents_of_parcels(session: Session, ids: Sequence[int],
                         include_removed: bool = False) -> dict[int, list[dict[str, Any]]]:
    return _grouped(session, "SELECT id AS document_id, parcel_id AS owner FROM documents"
                             " WHERE parcel_id = ANY(:ids)", ids, include_removed)


def document_tree(session: Session, document_id: int) -> dict[str, Any] | None:
    row = session.execute(text(f"SELECT {DOCUMENT_JSON} AS doc {FROM} WHERE d.id = :id"),
                          {"id": document_id}).first()
    return row.doc if row else None
