"""Turning a worker's result into rows: document fields, parts, cells, email headers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.extract.base import Extraction, clean_meta
from db.models import Cell, Document, Email, Part, utcnow

if TYPE_CHECKING:
    from app.pipeline.workers import Result

# Which metadata field gives a document its date, in order of preference.
DATE_FIELDS = ("date", "created", "modified")


def record_result(session: Session, doc: Document, result: Result) -> None:
    """Store one extraction outcome on `doc` (replacing any earlier text of it)."""
    doc.status = result.status
    doc.reason = result.reason
    doc.doc_type = result.doc_type or doc.doc_type
    doc.extractor = result.extractor
    doc.extractor_version = result.extractor_version
    doc.extracted_at = utcnow()
    if doc.revision:  # text only exists once a result has been recorded
        _clear_text(session, doc.id)
    doc.revision = (doc.revision or 0) + 1
    extraction = result.extraction
    if extraction is None:
        return
    meta = clean_meta(extraction.metadata)
    if extraction.warnings:
        doc.warnings = list(extraction.warnings)
        if not doc.reason:
            doc.reason = "; ".join(extraction.warnings)[:2000]
    doc.meta = meta
    doc.title = (extraction.title or meta.get("title") or None) and str(
        extraction.title or meta.get("title")
    )[:1000]
    page_count = meta.get("page_count")
    doc.page_count = int(page_count) if isinstance(page_count, int | float) else None
    author = meta.get("author") or meta.get("from")
    doc.author = str(author)[:500] if author else None
    for key in DATE_FIELDS:
        value = meta.get(key)
        if isinstance(value, str) and value[:4].isdigit():
            doc.date, doc.date_source = value, key
            break
    _store_parts(session, doc, extraction)
    if extraction.doc_type == "email":
        _store_email(session, doc, meta)


def _clear_text(session: Session, doc_id: int) -> None:
    part_ids = select(Part.id).where(Part.document_id == doc_id)
    session.execute(delete(Cell).where(Cell.part_id.in_(part_ids)))
    session.execute(delete(Part).where(Part.document_id == doc_id))
    session.execute(delete(Email).where(Email.document_id == doc_id))


def _store_parts(session: Session, doc: Document, extraction: Extraction) -> None:
    total = 0
    needs_ocr = False
    part_rows = []
    for ordinal, part in enumerate(extraction.parts):
        total += len(part.text)
        needs_ocr = needs_ocr or part.needs_ocr
        part_rows.append(
            {
                "document_id": doc.id,
                "ordinal": ordinal,
                "kind": part.kind,
                "label": part.label,
                "text": part.text,
                "needs_ocr": part.needs_ocr,
                "origin": part.origin if part.origin in ("text", "ocr") else "text",
            }
        )
    if part_rows:
        session.execute(Part.__table__.insert(), part_rows)
    if any(p.cells for p in extraction.parts):
        ids = dict(
            (ordinal, part_id)
            for ordinal, part_id in session.execute(
                select(Part.ordinal, Part.id).where(Part.document_id == doc.id)
            )
        )
        for ordinal, part in enumerate(extraction.parts):
            if not part.cells:
                continue
            rows = [{"part_id": ids[ordinal], "row": c.row, "col": c.col, "text": c.text} for c in part.cells]
            for start in range(0, len(rows), 20_000):
                session.execute(Cell.__table__.insert(), rows[start : start + 20_000])
    doc.text_chars = total
    doc.needs_ocr = needs_ocr


def _store_email(session: Session, doc: Document, meta: dict[str, Any]) -> None:
    def as_list(value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [str(value)]

    session.add(
        Email(
            document_id=doc.id,
            message_id=_str_or_none(meta.get("message_id")),
            in_reply_to=_str_or_none(meta.get("in_reply_to")),
            references=as_list(meta.get("references")),
            sender=_str_or_none(meta.get("from")),
            to=as_list(meta.get("to")),
            cc=as_list(meta.get("cc")),
            bcc=as_list(meta.get("bcc")),
            date=_str_or_none(meta.get("date")),
            subject=_str_or_none(meta.get("subject")),
        )
    )


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:2000]
