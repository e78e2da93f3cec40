"""Reading documents back out of the case: listings, one document's details and text, problems."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from app.case import Case
from app.extract.base import column_letters
from app.extract.errors import FAILED_STATUSES
from db.models import Cell, Document, Email, ExtractionAttempt, ImportRun, Part, Source


class DocumentNotFound(LookupError):
    def __init__(self, doc_id: int) -> None:
        super().__init__(f"no document with id {doc_id} in this case")
        self.doc_id = doc_id


@dataclass(frozen=True)
class DocumentSummary:
    id: int
    title: str
    type: str
    status: str
    reason: str
    sha256: str
    size: int
    date: str | None
    paths: list[str]
    parent_id: int | None
    depth: int
    review_status: str
    needs_ocr: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DocumentDetail:
    summary: DocumentSummary
    metadata: dict[str, Any]
    warnings: list[str]
    page_count: int | None
    author: str | None
    date_source: str | None
    extractor: str
    extractor_version: str
    children: list[int]
    sources: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    email: dict[str, Any] | None
    parts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self.summary.to_json()
        data.update({k: v for k, v in self.__dict__.items() if k != "summary"})
        return data


def part_texts(s: Any, ids: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
    """The parts with text of these documents, (ordinal, text) in order: what entities and suggestion
    features are read from, by the import's workers and by the refreshes alike."""
    texts: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for doc_id, ordinal, text in s.execute(
        select(Part.document_id, Part.ordinal, Part.text)
        .where(Part.document_id.in_(ids))
        .order_by(Part.document_id, Part.ordinal)
    ):
        if text:
            texts[doc_id].append((ordinal, text))
    return texts


def display_title(doc: Document) -> str:
    return doc.title or doc.file_name or f"document {doc.id}"


class DocumentService:
    def __init__(self, case: Case) -> None:
        self.case = case

    def count(self) -> int:
        with self.case.reader() as s:
            return s.scalar(select(func.count(Document.id))) or 0

    def iter_summaries(
        self, ids: Sequence[int] | None = None, batch: int = 1000
    ) -> Iterator[DocumentSummary]:
        """Every document (or the given ids) in id order, fetched in batches to keep memory flat."""
        with self.case.reader() as s:
            last = 0
            while True:
                q = select(Document).where(Document.id > last).order_by(Document.id).limit(batch)
                if ids is not None:
                    q = q.where(Document.id.in_(list(ids)))
                docs = list(s.scalars(q))
                if not docs:
                    return
                paths = self._paths(s, [d.id for d in docs])
                for d in docs:
                    yield self._summary(d, paths.get(d.id, []))
                last = docs[-1].id
                if ids is not None and len(docs) < batch:
                    return

    def summaries(self, ids: Sequence[int]) -> list[DocumentSummary]:
        order = {doc_id: i for i, doc_id in enumerate(ids)}
        found = list(self.iter_summaries(ids))
        return sorted(found, key=lambda d: order[d.id])

    def problems(self) -> list[DocumentSummary]:
        with self.case.reader() as s:
            docs = list(
                s.scalars(select(Document).where(Document.status.in_(FAILED_STATUSES)).order_by(Document.id))
            )
            paths = self._paths(s, [d.id for d in docs])
            return [self._summary(d, paths.get(d.id, [])) for d in docs]

    def detail(self, doc_id: int, *, with_parts: bool = True) -> DocumentDetail:
        with self.case.reader() as s:
            doc = s.get(Document, doc_id)
            if doc is None:
                raise DocumentNotFound(doc_id)
            sources = [
                {
                    "path": src.path,
                    "name": src.name,
                    "size": src.size,
                    "mtime": src.mtime,
                    "relation": src.relation,
                    "parent_id": src.parent_document_id,
                    "run_id": src.run_id,
                    "found_at": src.found_at.isoformat(timespec="seconds"),
                }
                for src in s.scalars(select(Source).where(Source.document_id == doc_id).order_by(Source.id))
            ]
            runs = {
                r.id: r
                for r in s.scalars(select(ImportRun).where(ImportRun.id.in_([x["run_id"] for x in sources])))
            }
            for src in sources:
                run = runs.get(src["run_id"])
                src["run_started"] = run.started_at.isoformat(timespec="seconds") if run else None
                src["run_user"] = run.user if run else None
            attempts = [
                {
                    "run_id": a.run_id,
                    "extractor": a.extractor,
                    "extractor_version": a.extractor_version,
                    "status": a.status,
                    "reason": a.reason,
                    "duration_s": a.duration_s,
                    "at": a.started_at.isoformat(timespec="seconds"),
                }
                for a in s.scalars(
                    select(ExtractionAttempt)
                    .where(ExtractionAttempt.document_id == doc_id)
                    .order_by(ExtractionAttempt.id)
                )
            ]
            email = s.get(Email, doc_id)
            children = list(
                s.scalars(select(Document.id).where(Document.parent_id == doc_id).order_by(Document.id))
            )
            parts: list[dict[str, Any]] = []
            if with_parts:
                for p in s.scalars(select(Part).where(Part.document_id == doc_id).order_by(Part.ordinal)):
                    parts.append(
                        {
                            "ordinal": p.ordinal,
                            "kind": p.kind,
                            "label": p.label,
                            "text": p.text,
                            "needs_ocr": p.needs_ocr,
                            "origin": p.origin,
                        }
                    )
            return DocumentDetail(
                summary=self._summary(doc, [x["path"] for x in sources]),
                metadata=dict(doc.meta or {}),
                warnings=list(doc.warnings or []),
                page_count=doc.page_count,
                author=doc.author,
                date_source=doc.date_source,
                extractor=doc.extractor,
                extractor_version=doc.extractor_version,
                children=children,
                sources=sources,
                attempts=attempts,
                email=None
                if email is None
                else {
                    "from": email.sender,
                    "to": email.to,
                    "cc": email.cc,
                    "bcc": email.bcc,
                    "date": email.date,
                    "subject": email.subject,
                    "message_id": email.message_id,
                    "in_reply_to": email.in_reply_to,
                    "references": email.references,
                },
                parts=parts,
            )

    def text(self, doc_id: int) -> str:
        with self.case.reader() as s:
            if s.get(Document, doc_id) is None:
                raise DocumentNotFound(doc_id)
            texts = s.scalars(select(Part.text).where(Part.document_id == doc_id).order_by(Part.ordinal))
            return "\n\n".join(t for t in texts if t)

    def cells(self, doc_id: int, part_ordinal: int) -> list[tuple[int, int, str]]:
        """(row, col, text) of one sheet, for the grid viewer."""
        with self.case.reader() as s:
            part_id = s.scalar(
                select(Part.id).where(Part.document_id == doc_id, Part.ordinal == part_ordinal)
            )
            if part_id is None:
                return []
            return [
                (r, c, t)
                for r, c, t in s.execute(select(Cell.row, Cell.col, Cell.text).where(Cell.part_id == part_id))
            ]

    @staticmethod
    def cell_ref(sheet: str, row: int, col: int) -> str:
        return f"{sheet}!{column_letters(col)}{row}"

    @staticmethod
    def _paths(s: Any, ids: list[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = defaultdict(list)
        if not ids:
            return out
        for doc_id, path in s.execute(
            select(Source.document_id, Source.path).where(Source.document_id.in_(ids)).order_by(Source.id)
        ):
            out[doc_id].append(path)
        return out

    @staticmethod
    def _summary(d: Document, paths: list[str]) -> DocumentSummary:
        return DocumentSummary(
            id=d.id,
            title=display_title(d),
            type=d.doc_type or "unknown",
            status=d.status,
            reason=d.reason,
            sha256=d.sha256,
            size=d.size,
            date=d.date,
            paths=paths,
            parent_id=d.parent_id,
            depth=d.depth,
            review_status=d.review_status,
            needs_ocr=d.needs_ocr,
        )
