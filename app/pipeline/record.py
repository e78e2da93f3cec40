"""Turning a worker's result into rows: document fields, parts, cells, email headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from app.extract.base import Extraction, clean_meta
from db.models import Cell, Document, Email, Part, utcnow

_DOCS = Document.__table__
# Built once; the columns it sets are the parameters' keys (other than the id it matches).
_UPDATE_DOCUMENT = update(_DOCS).where(_DOCS.c.id == bindparam("doc_id_"))

if TYPE_CHECKING:
    from app.pipeline.workers import Result

# Which metadata field gives a document its date, in order of preference.
DATE_FIELDS = ("date", "created", "modified")


def record_result(session: Session, doc_id: int, revision: int, doc_type: str, result: Result) -> int | None:
    """Store one extraction outcome on document `doc_id` (replacing any earlier text of it).

    `revision` and `doc_type` are the document's as queued. Returns its new revision, or None when the
    document is no longer in the case (nothing is written then).
    """
    values: dict[str, Any] = {
        "status": result.status,
        "reason": result.reason,
        "doc_type": result.doc_type or doc_type,
        "extractor": result.extractor,
        "extractor_version": result.extractor_version,
        "extracted_at": utcnow(),
        "revision": (revision or 0) + 1,
    }
    extraction = result.extraction
    part_rows: list[dict[str, Any]] = []
    if extraction is not None:
        meta = clean_meta(extraction.metadata)
        values["warnings"] = list(extraction.warnings)
        if extraction.warnings and not result.reason:
            values["reason"] = "; ".join(extraction.warnings)[:2000]
        values["metadata"] = meta  # the column behind `Document.meta`
        title = extraction.title or meta.get("title")
        values["title"] = str(title)[:1000] if title else None
        page_count = meta.get("page_count")
        values["page_count"] = int(page_count) if isinstance(page_count, int | float) else None
        author = meta.get("author") or meta.get("from")
        values["author"] = str(author)[:500] if author else None
        for key in DATE_FIELDS:
            value = meta.get(key)
            if isinstance(value, str) and value[:4].isdigit():
                values["date"], values["date_source"] = value, key
                break
        part_rows = _part_rows(doc_id, extraction)
        values["text_chars"] = sum(len(row["text"]) for row in part_rows)
        values["needs_ocr"] = any(row["needs_ocr"] for row in part_rows)
    if revision:  # text only exists once a result has been recorded
        _clear_text(session, doc_id)
    updated = session.execute(_UPDATE_DOCUMENT, {"doc_id_": doc_id, **values}).rowcount
    if not updated:
        return None
    if extraction is not None:
        _store_parts(session, doc_id, extraction, part_rows)
        if extraction.doc_type == "email":
            _store_email(session, doc_id, meta)
    return values["revision"]


def record_indexed(session: Session, revisions: Mapping[int, int]) -> None:
    """Which revision of each document the search index holds (`Document.indexed_revision`), in one
    statement executed for every document."""
    if revisions:
        session.execute(
            _UPDATE_DOCUMENT,
            [{"doc_id_": doc_id, "indexed_revision": rev} for doc_id, rev in revisions.items()],
        )


def _clear_text(session: Session, doc_id: int) -> None:
    part_ids = select(Part.id).where(Part.document_id == doc_id)
    session.execute(delete(Cell).where(Cell.part_id.in_(part_ids)))
    session.execute(delete(Part).where(Part.document_id == doc_id))
    session.execute(delete(Email).where(Email.document_id == doc_id))


def _part_rows(doc_id: int, extraction: Extraction) -> list[dict[str, Any]]:
    return [
        {
            "document_id": doc_id,
            "ordinal": ordinal,
            "kind": part.kind,
            "label": part.label,
            "text": part.text,
            "needs_ocr": part.needs_ocr,
            "origin": part.origin if part.origin in ("text", "ocr") else "text",
        }
        for ordinal, part in enumerate(extraction.parts)
    ]


def _store_parts(
    session: Session, doc_id: int, extraction: Extraction, part_rows: list[dict[str, Any]]
) -> None:
    if part_rows:
        session.execute(Part.__table__.insert(), part_rows)
    if any(p.cells for p in extraction.parts):
        ids = dict(
            (ordinal, part_id)
            for ordinal, part_id in session.execute(
                select(Part.ordinal, Part.id).where(Part.document_id == doc_id)
            )
        )
        for ordinal, part in enumerate(extraction.parts):
            if not part.cells:
                continue
            rows = [{"part_id": ids[ordinal], "row": c.row, "col": c.col, "text": c.text} for c in part.cells]
            for start in range(0, len(rows), 20_000):
                session.execute(Cell.__table__.insert(), rows[start : start + 20_000])


def _store_email(session: Session, doc_id: int, meta: dict[str, Any]) -> None:
    def as_list(value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [str(value)]

    session.execute(
        insert(Email.__table__).values(
            document_id=doc_id,
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
