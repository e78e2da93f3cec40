"""One import of the shared corpus per test session, reused by the extraction and search tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from app.extract.base import Limits
from app.pipeline.importer import ImportOptions, ImportSummary
from app.services import Services, build_services
from db.models import Document, Part, Source


@dataclass
class CorpusCase:
    services: Services
    summary: ImportSummary

    def doc_by_sha(self, sha: str) -> Document | None:
        with self.services.case.reader() as s:
            return s.scalar(select(Document).where(Document.sha256 == sha))

    def family_text(self, doc_id: int) -> str:
        """The text of a document and all its descendants (mbox messages, attachments, members)."""
        ids = list(self.family_ids(doc_id))
        with self.services.case.reader() as s:
            texts = s.scalars(select(Part.text).where(Part.document_id.in_(ids)))
            meta = [str(d.title or "") for d in s.scalars(select(Document).where(Document.id.in_(ids)))]
            return "\n".join([*texts, *meta])

    def family_ids(self, doc_id: int) -> set[int]:
        """A document and everything found inside it, by provenance (a child may also exist elsewhere)."""
        with self.services.case.reader() as s:
            ids = {doc_id}
            frontier = {doc_id}
            while frontier:
                children = set(
                    s.scalars(select(Source.document_id).where(Source.parent_document_id.in_(frontier)))
                )
                frontier = children - ids
                ids |= children
            return ids


def import_corpus(case_dir: Path, roots: list[Path], *, timeout_s: float = 60.0) -> CorpusCase:
    services = build_services(case_dir, create=True)
    options = ImportOptions(workers=2, limits=Limits(timeout_s=timeout_s, memory_mb=2048))
    summary = services.import_paths(roots, options)
    return CorpusCase(services, summary)
