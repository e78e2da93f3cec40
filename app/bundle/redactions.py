"""Redactions a reviewer draws (PDF rectangles) or asks for (a term): stored, audited, burned in on export."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.bundle.export import BundleError
from app.case import Case
from db.models import AuditEntry, Document, RedactionArea


def add_redaction(
    case: Case,
    doc_id: int,
    *,
    page: int | None = None,
    rect: tuple[float, ...] | None = None,
    term: str | None = None,
    reviewer: str,
) -> int:
    if rect is None and not term:
        raise BundleError("a redaction is a rectangle on a page (--page and --rect) or a term (--term)")
    if rect is not None and (page is None or page < 1):
        raise BundleError("a rectangle redaction needs the page it is on (--page N, from 1)")
    if rect is not None and (rect[2] <= rect[0] or rect[3] <= rect[1]):
        raise BundleError("the rectangle is empty: give x0,y0,x1,y1 with x1 > x0 and y1 > y0")
    with case.transaction() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            raise BundleError(f"no document with id {doc_id}")
        if rect is not None and doc.doc_type != "pdf":
            raise BundleError("rectangle redactions apply to PDF pages; use --term for other documents")
        area = RedactionArea(document_id=doc_id, page=page, term=term or None, created_by=reviewer)
        if rect is not None:
            area.x0, area.y0, area.x1, area.y1 = (float(v) for v in rect)
        s.add(area)
        s.flush()
        s.add(
            AuditEntry(
                actor=reviewer,
                action="redaction_add",
                document_id=doc_id,
                detail={"page": page, "rect": list(rect or []), "term": term},
            )
        )
        return area.id


def list_redactions(case: Case, doc_id: int) -> list[dict[str, Any]]:
    with case.reader() as s:
        return [
            {
                "id": r.id,
                "page": r.page,
                "rect": [r.x0, r.y0, r.x1, r.y1] if r.x0 is not None else None,
                "term": r.term,
                "created_by": r.created_by,
            }
            for r in s.scalars(
                select(RedactionArea).where(RedactionArea.document_id == doc_id).order_by(RedactionArea.id)
            )
        ]


def remove_redaction(case: Case, redaction_id: int, *, reviewer: str) -> None:
    with case.transaction() as s:
        area = s.get(RedactionArea, redaction_id)
        if area is None:
            raise BundleError(f"no redaction with id {redaction_id}")
        s.add(
            AuditEntry(
                actor=reviewer,
                action="redaction_remove",
                document_id=area.document_id,
                detail={"redaction": redaction_id},
            )
        )
        s.delete(area)
