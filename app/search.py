"""Search over a case: the query language, hits with snippets and locations, facets, reindex and verify.

Whoosh finds and ranks documents; the case store supplies everything else: snippets and hit locations
(page, sheet cell, email part) come from the stored text, and review fields (tags, review status, notes)
are looked up at query time so that they are always current without touching the index.

This module holds the service, what the index is written from (`index_docs`, the import sink, reindex,
verify) and the results' types; running a query is `app/searching.py`, loaded at the first query, so
that an import and the index process never load the query parser, ranking and facets.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.case import Case
from app.documents import display_title
from app.pipeline.record import record_indexed
from db.models import Document, Email, Part, Source
from index.schema import IndexDoc
from index.store import Health, IndexUnavailable, SearchIndex

if TYPE_CHECKING:
    from index.query import QueryError, StoreQuery

log = logging.getLogger(__name__)

__all__ = ["QueryError", "SearchService", "SearchResults", "Hit", "IndexUnavailable"]


def __getattr__(name: str) -> Any:
    """`QueryError` (index/query.py) without loading the query side until a query needs it."""
    if name == "QueryError":
        from index.query import QueryError

        return QueryError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SORTS = {"relevance", "date", "-date", "name", "-name"}
FACET_FIELDS = ("type", "year", "folder", "state")
MAX_LOCATIONS = 50
SNIPPET_CONTEXT = 90

StoreResolver = Callable[[Session, "StoreQuery"], set[int]]


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    type: str
    date: str | None
    paths: list[str]
    score: float
    snippet: str  # HTML-escaped text, matches wrapped in <mark>…</mark>
    locations: list[dict[str, Any]]
    status: str  # import status
    review_status: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SearchResults:
    query: str
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    offset: int = 0
    limit: int = 20
    sort: str = "relevance"
    took_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "sort": self.sort,
            "took_ms": round(self.took_ms, 1),
            "hits": [h.to_json() for h in self.hits],
            "facets": self.facets,
        }


@dataclass(frozen=True)
class VerifyReport:
    store_documents: int
    index_documents: int
    missing_from_index: list[int]
    not_in_store: list[int]
    stale: list[int]

    @property
    def ok(self) -> bool:
        return not (self.missing_from_index or self.not_in_store or self.stale)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


@dataclass(frozen=True)
class _ImportSink:
    search: SearchService

    def index_documents(self, doc_ids: Sequence[int], *, writers: int = 1) -> dict[int, int]:
        return self.search.index_documents(doc_ids, defer_revisions=True, writers=writers)

    def settle(self) -> None:
        self.search.merge_segments()


class SearchService:
    def __init__(self, case: Case, index: SearchIndex | None = None) -> None:
        self.case = case
        self.index = index or SearchIndex(case.index_dir, case_id=str(case.setting("case_id", "")))
        self._runner: Any = None  # app.searching.QueryRunner, made at the first query
        self._runner_lock = threading.Lock()
        # Called once before the first query (`Services` registers the review and entity fields so).
        self.before_first_query: list[Callable[[], None]] = []
        self.store_resolvers: dict[str, StoreResolver] = {"status": _resolve_status}
        self.store_facets: dict[str, Callable[[Session, set[int]], dict[str, int]]] = {
            "status": _status_facet
        }
        self._process: Any = None  # app.index_process.IndexProcess while an import writes through it

    @contextmanager
    def index_process(self) -> Iterator[None]:
        """For the duration, `index_documents` writes the index from a child process (an import: see
        app/index_process.py). If the child fails, indexing falls back to this process."""
        if self.case.read_only or self._process is not None:
            yield
            return
        from app.index_process import IndexProcess, take_started

        process = take_started(self.case.root)  # started ahead by the import command, if it was
        if process is None:
            process = IndexProcess(self.case.root)
            process.start()  # ready by the first commit instead of starting then
        process.prepare()  # the case exists now: opened by the child before the first pass needs it
        self._process = process
        try:
            yield
        finally:
            self._process = None
            process.close()  # again, harmless, if a failure closed it already

    # -- the index as an import sink ------------------------------------------------------------------
    def index_documents(
        self, doc_ids: Sequence[int], *, defer_revisions: bool = False, writers: int = 1
    ) -> dict[int, int]:
        """Index (or re-index) these committed documents, then record which revision the index holds.

        Returns {id: revision indexed}. With `defer_revisions` the caller records them (an import writes
        them in its own next transaction instead of waiting here for the store's write lock). `writers`
        > 1 lets the index process share the work among that many processes (this one, with its
        threads, never forks).
        """
        indexed: dict[int, int] = {}
        if self.case.read_only:
            return indexed
        for start in range(0, len(doc_ids), 500):
            chunk = list(doc_ids[start : start + 500])
            revisions = self._index_elsewhere(chunk, writers)
            if revisions is None:
                with self.case.reader() as s:
                    docs, revisions = self.index_docs(s, chunk)
                self.index.write(docs)
            indexed.update(revisions)
            if not defer_revisions:
                with self.case.transaction() as s:
                    record_indexed(s, revisions)
        return indexed

    def merge_segments(self) -> None:
        """Merge the index's small segments, as an import ends (in the index process while one runs)."""
        if self.case.read_only:
            return
        if self._through_process(lambda process: process.merge()) is None:
            self.index.merge_small_segments()

    def import_sink(self) -> _ImportSink:
        """The importer's index sink (`IndexSink` in app/pipeline/importer.py): indexes each committed batch
        on the importer's indexing thread (through the index process while one runs) and hands back the
        revisions indexed; the importer records them in its next transaction, so that thread never waits
        for the write lock the importer holds."""
        return _ImportSink(self)

    def _index_elsewhere(self, ids: list[int], writers: int = 1) -> dict[int, int] | None:
        """Index `ids` through the index process, if one runs: {id: revision}, or None to do it here."""
        return self._through_process(lambda process: process.index(ids, writers))

    def _through_process(self, ask: Callable[[Any], dict[int, int]]) -> dict[int, int] | None:
        """`ask` the index process, if one runs, and see its commit; None to do the work in this process
        (none runs, or it failed: then none is used from now on)."""
        process = self._process
        if process is None:
            return None
        from app.index_process import IndexProcessError

        try:
            answer = ask(process)
        except IndexProcessError as exc:
            log.warning("index process failed (%s); indexing in this process from now on", exc)
            self._process = None
            process.close()
            return None
        self.index.changed()
        return answer

    def index_pending(self) -> int:
        """Index documents the index has not seen at their current revision (after a crash, say)."""
        with self.case.reader() as s:
            ids = list(
                s.scalars(
                    select(Document.id).where(
                        Document.indexed_revision != Document.revision, Document.status != "pending"
                    )
                )
            )
        if ids:
            self.index_documents(ids)
        return len(ids)

    def ensure_index(self, on_progress: Callable[[int, int], None] | None = None) -> Health:
        """At open: rebuild a missing, damaged or outdated index; catch up on unindexed documents."""
        health = self.index.health()
        if health.state == "missing" and self._store_count() == 0:
            if not self.case.read_only:
                self.index.open()  # a new case: an empty index, nothing to rebuild
            return health
        if health.state != "ok":
            log.warning("search index %s (%s): rebuilding from the case store", health.state, health.detail)
            if self.case.read_only:
                raise IndexUnavailable(
                    f"the search index is {health.state}; open the case writable to rebuild it"
                )
            self.index.rebuilding = health.state != "missing" or self._store_count() > 0
            try:
                self.reindex(on_progress)
            finally:
                self.index.rebuilding = False
            return health
        if not self.case.read_only:
            self.index_pending()
        return health

    def reindex(self, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild the whole index from the store into a fresh folder, then swap it in."""
        total = self._store_count()
        done = 0

        def documents() -> Iterable[IndexDoc]:
            nonlocal done
            last = 0
            while True:
                with self.case.reader() as s:
                    ids = list(
                        s.scalars(
                            select(Document.id)
                            .where(Document.id > last, Document.status != "pending")
                            .order_by(Document.id)
                            .limit(500)
                        )
                    )
                    if not ids:
                        return
                    docs, revisions = self.index_docs(s, ids)
                self._pending_revisions.update(revisions)
                yield from docs
                done += len(ids)
                last = ids[-1]
                if on_progress:
                    on_progress(done, total)

        self._pending_revisions: dict[int, int] = {}
        count = self.index.rebuild(documents())
        self._columns = None
        if not self.case.read_only:
            with self.case.transaction() as s:
                s.execute(update(Document).values(indexed_revision=-1))
                record_indexed(s, self._pending_revisions)
        return count

    def verify(self) -> VerifyReport:
        indexed = self.index.indexed_ids()
        with self.case.reader() as s:
            rows = s.execute(
                select(Document.id, Document.revision, Document.indexed_revision).where(
                    Document.status != "pending"
                )
            ).all()
        store_ids = {r[0] for r in rows}
        stale = sorted(r[0] for r in rows if r[0] in indexed and r[1] != r[2])
        return VerifyReport(
            store_documents=len(store_ids),
            index_documents=self.index.doc_count(),
            missing_from_index=sorted(store_ids - indexed),
            not_in_store=sorted(indexed - store_ids),
            stale=stale,
        )

    # -- search (app/searching.py) --------------------------------------------------------------------
    def search(
        self,
        text: str,
        *,
        limit: int = 20,
        offset: int = 0,
        sort: str = "relevance",
        facets: bool = True,
        snippets: bool = True,
        filters: dict[str, Sequence[str]] | None = None,
    ) -> SearchResults:
        return self.queries().search(
            text, limit=limit, offset=offset, sort=sort, facets=facets, snippets=snippets, filters=filters
        )

    def matching_ids(self, text: str) -> list[int]:
        """Every document id matching a query (bulk tagging and exports by query)."""
        return self.queries().matching_ids(text)

    @property
    def parser(self) -> Any:
        """The query parser (index/query.py)."""
        return self.queries().parser

    def queries(self) -> Any:
        """The query side (app/searching.py), loaded at first use."""
        with self._runner_lock:
            if self._runner is None:
                while self.before_first_query:  # a hook that fails is tried again by the next query
                    self.before_first_query[0]()
                    self.before_first_query.pop(0)
                from app.searching import QueryRunner

                self._runner = QueryRunner(self)
            return self._runner

    def _store_count(self) -> int:
        from sqlalchemy import func

        with self.case.reader() as s:
            return s.scalar(select(func.count(Document.id)).where(Document.status != "pending")) or 0

    def index_docs(self, s: Session, ids: list[int]) -> tuple[list[IndexDoc], dict[int, int]]:
        """What the index holds of these documents, read from the store, and the revision each one is at
        (used by every path that writes the index: batches, `reindex`, the index process)."""
        docs = list(s.scalars(select(Document).where(Document.id.in_(ids)).order_by(Document.id)))
        texts: dict[int, list[str]] = {}
        for doc_id, text in s.execute(
            select(Part.document_id, Part.text)
            .where(Part.document_id.in_(ids))
            .order_by(Part.document_id, Part.ordinal)
        ):
            if text:
                texts.setdefault(doc_id, []).append(text)
        paths: dict[int, list[str]] = {}
        for doc_id, path in s.execute(
            select(Source.document_id, Source.path).where(Source.document_id.in_(ids)).order_by(Source.id)
        ):
            paths.setdefault(doc_id, []).append(path)
        emails = {e.document_id: e for e in s.scalars(select(Email).where(Email.document_id.in_(ids)))}
        out: list[IndexDoc] = []
        revisions: dict[int, int] = {}
        for doc in docs:
            meta = doc.meta or {}
            email = emails.get(doc.id)
            header_bits = [
                str(v) if not isinstance(v, list) else " ".join(map(str, v))
                for k, v in meta.items()
                if k
                in (
                    "title",
                    "author",
                    "subject",
                    "keywords",
                    "creator",
                    "company",
                    "last_modified_by",
                    "from",
                    "to",
                    "cc",
                )
            ]
            doc_paths = paths.get(doc.id, [])
            content = "\n".join([display_title(doc), doc.file_name, *header_bits, *texts.get(doc.id, [])])
            out.append(
                IndexDoc(
                    id=doc.id,
                    content=content,
                    title=display_title(doc),
                    doc_type=doc.doc_type or "unknown",
                    state=doc.status,
                    sha256=doc.sha256,
                    paths=tuple(doc_paths),
                    folder=_folder(doc_paths[0]) if doc_paths else "",
                    author=doc.author or "",
                    subject=(email.subject if email else meta.get("subject")) or "",
                    sender=(email.sender if email else "") or "",
                    to=" ".join(email.to or []) if email else "",
                    cc=" ".join(email.cc or []) if email else "",
                    date=_parse_date(doc.date),
                    imported=doc.imported_at,
                )
            )
            revisions[doc.id] = doc.revision
        return out, revisions


# -- store-backed fields ----------------------------------------------------------------------------


def _resolve_status(s: Session, leaf: StoreQuery) -> set[int]:
    value = leaf.text.strip().lower().replace("-", "_").replace(" ", "_")
    q = select(Document.id)
    q = (
        q.where(Document.review_status.like(value + "%"))
        if leaf.kind == "prefix"
        else q.where(Document.review_status == value)
    )
    return set(s.scalars(q))


def _status_facet(s: Session, ids: set[int]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    reviewed = 0
    for doc_id, status in s.execute(
        # Two ranges rather than `!=`, so that SQLite reads the reviewed few from the status index.
        select(Document.id, Document.review_status).where(
            (Document.review_status < "unreviewed") | (Document.review_status > "unreviewed")
        )
    ):
        if doc_id in ids:
            counts[status] += 1
            reviewed += 1
    if len(ids) - reviewed:
        counts["unreviewed"] = len(ids) - reviewed
    return dict(counts.most_common())


def _folder(path: str) -> str:
    container = path.split("//", 1)[0]
    return os.path.dirname(container)


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value[:10])
        except ValueError:
            return None
    return parsed.replace(tzinfo=None) if parsed.tzinfo else parsed
