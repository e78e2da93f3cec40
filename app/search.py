"""Search over a case: the query language, hits with snippets and locations, facets, reindex and verify.

Whoosh finds and ranks documents; the case store supplies everything else: snippets and hit locations
(page, sheet cell, email part) come from the stored text, and review fields (tags, review status, notes)
are looked up at query time so that they are always current without touching the index.
"""

from __future__ import annotations

import html
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from whoosh import query as Q

from app.case import Case
from app.documents import display_title
from app.pipeline.record import record_indexed
from db.models import Cell, Document, Email, Part, Source
from index import rank
from index.query import (
    DocSetQuery,
    ParsedQuery,
    QueryError,
    QueryParser,
    StoreQuery,
    matched_expansion_words,
    matching_docnums,
    needle_patterns,
    replace_store_leaves,
)
from index.schema import IndexDoc
from index.store import Health, IndexUnavailable, SearchIndex

log = logging.getLogger(__name__)

__all__ = ["QueryError", "SearchService", "SearchResults", "Hit", "IndexUnavailable"]

SORTS = {"relevance", "date", "-date", "name", "-name"}
FACET_FIELDS = ("type", "year", "folder", "state")
MAX_LOCATIONS = 50
SNIPPET_CONTEXT = 90

StoreResolver = Callable[[Session, StoreQuery], set[int]]


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


class _Columns:
    """Per-searcher caches: index docnum → document id and facet values (as codes into label lists).

    Read straight from the column files: going through whoosh's per-document column readers took most of
    a second at 100,000 documents, on the way to a case's first search.
    """

    def __init__(self, searcher: Any) -> None:
        reader = searcher.reader()
        count = reader.doc_count_all()
        self.ids = _id_column(reader, count)
        self.codes: dict[str, np.ndarray] = {}
        self.labels: dict[str, list[str]] = {}
        for name in FACET_FIELDS:
            self.codes[name], self.labels[name] = _column_codes(reader, name, count)
        self._docnum_of: dict[int, int] | None = None
        self._sort_keys: dict[str, np.ndarray] = {}

    def sort_keys(self, searcher: Any, name: str) -> np.ndarray:
        """Index docnum → the rank of its `name` value (sortdate, name) in byte order, read once."""
        keys = self._sort_keys.get(name)
        if keys is None:
            reader = searcher.reader()
            codes, labels = _column_codes(reader, name, reader.doc_count_all())
            order = sorted(range(len(labels)), key=lambda i: labels[i].encode("utf-8"))
            ranks = np.empty(len(labels), dtype=np.int64)
            ranks[order] = np.arange(len(labels))
            keys = ranks[codes] if len(labels) else codes
            self._sort_keys[name] = keys
        return keys

    @property
    def docnum_of(self) -> dict[int, int]:
        """Document id → index docnum (only store-backed fields and filters need it)."""
        if self._docnum_of is None:
            self._docnum_of = {doc_id: n for n, doc_id in enumerate(self.ids.tolist()) if doc_id}
        return self._docnum_of


def _column_codes(reader: Any, name: str, count: int) -> tuple[np.ndarray, list[str]]:
    """One column of every document as (codes, labels): document n holds labels[codes[n]].

    An empty index has no segments, hence no column readers: every array is empty then.
    """
    index: dict[bytes, int] = {}
    codes = np.zeros(count, dtype=np.int64)
    if count:
        for segment, offset in reader.leaf_readers():
            n = segment.doc_count_all()
            values = _raw_column(segment, name, n)
            if values is None:
                values = list(segment.column_reader(name, translate=False))
            codes[offset : offset + n] = np.fromiter(
                (index.setdefault(v, len(index)) for v in values), np.int64, n
            )
    field = reader.schema[name]
    labels = [field.from_bytes(v) if isinstance(v, bytes) else str(v) for v in index]
    return codes, labels


def _id_column(reader: Any, count: int) -> np.ndarray:
    """Index docnum → document id (0 where a document has none)."""
    parts = []
    for segment, _offset in reader.leaf_readers() if count else []:
        values = _raw_column(segment, "id", segment.doc_count_all())
        if values is not None and all(values):
            parts.append(np.array(values, dtype=bytes).astype(np.int64))  # every id is decimal digits
        else:
            codes, labels = _column_codes(segment, "id", segment.doc_count_all())
            parts.append(np.array([int(v) if v else 0 for v in labels], dtype=np.int64)[codes])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _raw_column(segment: Any, name: str, n: int) -> list[bytes] | None:
    """A segment's variable-length column as one bytes value per document, decoded with numpy (whoosh's
    reader walks every document in Python twice). None when it is not such a column."""
    from array import array

    from whoosh.columns import VarBytesColumn

    perdoc = getattr(segment, "_perdoc", None)
    if not isinstance(segment.schema[name].column_type, VarBytesColumn) or perdoc is None:
        return None
    if not perdoc.has_column(name):
        return [b""] * n
    colfile, base, length = perdoc._get_column_file(name)
    raw = bytes(colfile.get(base, length))
    end = length - 1
    lens_code = chr(raw[end])
    offsets = None

    def numbers(code: str, stop: int) -> tuple[np.ndarray, int]:
        size = array(code).itemsize
        start = stop - size * n
        kind = "i" if code.islower() else "u"
        return np.frombuffer(raw, dtype=f">{kind}{size}", count=n, offset=start).astype(np.int64), start

    if lens_code == "X":
        lens_code, offsets_code = chr(raw[end - 2]), chr(raw[end - 1])
        offsets, end = numbers(offsets_code, end - 2)
    lengths, _ = numbers(lens_code, end)
    if offsets is None:
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])) if n else lengths
    return [raw[o : o + ln] for o, ln in zip(offsets.tolist(), lengths.tolist(), strict=True)]


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
        self.parser = QueryParser()
        self._columns: tuple[int, _Columns] | None = None
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

    # -- search ------------------------------------------------------------------------------------
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
        t0 = time.perf_counter()
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}: use relevance, date, -date, name or -name")
        limit = max(0, min(limit, 10_000))
        offset = max(0, offset)
        parsed = self.parser.parse(text) if text and text.strip() not in ("", "*") else ParsedQuery(Q.Every())
        with self.index.searcher() as searcher:
            columns = self._column_cache(searcher)
            q = self._resolve_store_leaves(parsed, columns)
            q = self._apply_filters(q, filters or {}, columns)
            # One evaluation over posting arrays gives the ranked page, the total and the facets
            # (index/rank.py: the scores Whoosh would give, without stepping through every match).
            scored = rank.evaluate(searcher, q)
            docset = scored.docs
            total = len(docset)
            if not limit:
                page = []
            elif sort == "relevance":
                page = rank.top(scored, offset, offset + limit)
            else:
                column = "sortdate" if sort.lstrip("-") == "date" else "name"
                page = _sorted_page(scored, columns.sort_keys(searcher, column), sort, offset, limit)
            reader = searcher.reader()
            expanded = [
                matched_expansion_words(reader, parsed, docnum) if snippets and parsed.expands else []
                for docnum, _ in page
            ]
        hits = self._hits(parsed, page, columns, snippets, expanded) if page else []
        facet_counts = self._facets(docset, columns) if facets else {}
        return SearchResults(
            query=text,
            total=total,
            hits=hits,
            facets=facet_counts,
            offset=offset,
            limit=limit,
            sort=sort,
            took_ms=(time.perf_counter() - t0) * 1000,
        )

    def matching_ids(self, text: str) -> list[int]:
        """Every document id matching a query (bulk tagging and exports by query)."""
        parsed = self.parser.parse(text)
        with self.index.searcher() as searcher:
            columns = self._column_cache(searcher)
            q = self._resolve_store_leaves(parsed, columns)
            return sorted(columns.ids[matching_docnums(searcher, q)].tolist())

    # -- internals ---------------------------------------------------------------------------------
    def _column_cache(self, searcher: Any) -> _Columns:
        if self._columns is None or self._columns[0] != self.index.generation:
            self._columns = (self.index.generation, _Columns(searcher))
        return self._columns[1]

    def _resolve_store_leaves(self, parsed: ParsedQuery, columns: _Columns) -> Q.Query:
        if not parsed.store_leaves:
            return parsed.query
        resolved: dict[StoreQuery, DocSetQuery] = {}
        with self.case.reader() as s:
            for leaf in parsed.store_leaves:
                resolver = self.store_resolvers.get(leaf.fieldname)
                ids = resolver(s, leaf) if resolver else set()
                resolved[leaf] = DocSetQuery(
                    [columns.docnum_of[i] for i in ids if i in columns.docnum_of], label=str(leaf)
                )
        return replace_store_leaves(parsed.query, resolved)

    def _apply_filters(self, q: Q.Query, filters: dict[str, Sequence[str]], columns: _Columns) -> Q.Query:
        clauses: list[Q.Query] = [q]
        for name, values in filters.items():
            values = [v for v in values if v is not None]
            if not values:
                continue
            if name in FACET_FIELDS:
                clauses.append(Q.Or([Q.Term(name, str(v)) for v in values]))
            elif name in self.store_resolvers:
                with self.case.reader() as s:
                    ids: set[int] = set()
                    for v in values:
                        ids |= self.store_resolvers[name](s, StoreQuery(name, str(v)))
                clauses.append(DocSetQuery([columns.docnum_of[i] for i in ids if i in columns.docnum_of]))
            elif name == "problems":
                clauses.append(Q.Not(Q.Term("state", "ok")))
            else:
                raise QueryError(f"unknown filter {name!r}")
        return clauses[0] if len(clauses) == 1 else Q.And(clauses)

    def _facets(self, docset: np.ndarray, columns: _Columns) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for name in FACET_FIELDS:
            out[name] = _count_codes(columns.codes[name][docset], columns.labels[name])
        # Frozen: the entity facets key their shared cache on frozenset(ids), which is then free.
        ids = frozenset(columns.ids[docset].tolist())
        with self.case.reader() as s:
            for name, facet in self.store_facets.items():
                out[name] = facet(s, ids)
        return out

    def _hits(
        self,
        parsed: ParsedQuery,
        page: list[tuple[int, float]],
        columns: _Columns,
        snippets: bool,
        expanded: list[list[str]],
    ) -> list[Hit]:
        ids = [int(columns.ids[docnum]) for docnum, _ in page]
        with self.case.reader() as s:
            docs = {d.id: d for d in s.scalars(select(Document).where(Document.id.in_(ids)))}
            paths: dict[int, list[str]] = {}
            for doc_id, path in s.execute(
                select(Source.document_id, Source.path).where(Source.document_id.in_(ids)).order_by(Source.id)
            ):
                paths.setdefault(doc_id, []).append(path)
            parts: dict[int, list[Any]] = {}
            if snippets:
                for row in s.execute(
                    select(
                        Part.document_id, Part.id, Part.ordinal, Part.kind, Part.label, Part.text, Part.origin
                    )
                    .where(Part.document_id.in_(ids))
                    .order_by(Part.document_id, Part.ordinal)
                ):
                    parts.setdefault(row[0], []).append(row[1:])
            hits = []
            for (_, score), doc_id, words in zip(page, ids, expanded, strict=True):
                doc = docs.get(doc_id)
                if doc is None:  # in the index but no longer in the store: `verify` reports it
                    continue
                snippet, locations = ("", [])
                if snippets:
                    snippet, locations = _snippet_and_locations(
                        s, parts.get(doc_id, []), needle_patterns(parsed, words)
                    )
                hits.append(
                    Hit(
                        id=doc.id,
                        title=display_title(doc),
                        type=doc.doc_type or "unknown",
                        date=doc.date,
                        paths=paths.get(doc_id, []),
                        score=round(float(score), 4) if isinstance(score, int | float) else 0.0,
                        snippet=snippet,
                        locations=locations,
                        status=doc.status,
                        review_status=doc.review_status,
                    )
                )
        return hits

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


# -- snippets and locations -------------------------------------------------------------------------


def _sorted_page(
    scored: rank.Scored, keys: np.ndarray, sort: str, offset: int, limit: int
) -> list[tuple[int, float]]:
    """A page of matches ordered by a column (date or name); equal values in index order."""
    docs = scored.docs
    key = keys[docs]
    order = np.lexsort((docs, -key if sort.startswith("-") else key))[offset : offset + limit]
    return list(zip(docs[order].tolist(), scored.scores[order].tolist(), strict=True))


def _count_codes(codes: np.ndarray, labels: list[str]) -> dict[str, int]:
    """Label → count, the most frequent first; ties in the order they first occur (as Counter does)."""
    if not len(codes):
        return {}
    present, first, counts = np.unique(codes, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    return {labels[present[i]]: int(counts[i]) for i in order}


def _snippet_and_locations(
    s: Session, parts: Sequence[Any], pattern: Any
) -> tuple[str, list[dict[str, Any]]]:
    """`parts`: the document's (id, ordinal, kind, label, text, origin) rows, in order."""
    from index.analysis import fold

    if pattern is None:
        first = next((p for p in parts if p[4]), None)
        return (html.escape(_shorten(first[4])) if first else ""), []
    snippet = ""
    locations: list[dict[str, Any]] = []
    for part_id, _ordinal, kind, label, text, origin in parts:
        if snippet and len(locations) >= MAX_LOCATIONS:
            break  # nothing more to show: do not fold and search the rest of a long document
        if not text:
            continue
        folded = fold(text)
        match = pattern.search(folded)
        if match is None:
            continue
        if not snippet:
            snippet = _mark(text, folded, pattern, match.start())
        if len(locations) >= MAX_LOCATIONS:
            continue
        if kind == "sheet":
            for row, col, cell_text in s.execute(
                select(Cell.row, Cell.col, Cell.text)
                .where(Cell.part_id == part_id)
                .order_by(Cell.row, Cell.col)
            ):
                if pattern.search(fold(cell_text)):
                    from app.extract.base import column_letters

                    ref = f"{column_letters(col)}{row}"
                    locations.append({"kind": "cell", "sheet": label, "cell": ref, "label": f"{label}!{ref}"})
                    if len(locations) >= MAX_LOCATIONS:
                        break
        elif kind == "page":
            locations.append(
                {"kind": "page", "page": int(label) if label.isdigit() else label, "label": f"page {label}"}
            )
        else:
            locations.append({"kind": kind, "label": label})
        if origin == "ocr" and locations and "ocr" not in locations[-1]:
            locations[-1]["ocr"] = True  # the hit is in OCR text (read from the scan, may hold misreadings)
            locations[-1]["label"] += " (OCR)"
    if not snippet:
        # The match was in metadata (title, author, headers) rather than the text.
        first = next((p for p in parts if p[4]), None)
        snippet = html.escape(_shorten(first[4])) if first else ""
    return snippet, locations


def _mark(text: str, folded: str, pattern: Any, first: int) -> str:
    start = max(0, first - SNIPPET_CONTEXT)
    end = min(len(text), first + SNIPPET_CONTEXT * 2)
    # Start and end on word boundaries so the snippet does not begin mid-word.
    while start > 0 and not text[start - 1].isspace() and first - start < SNIPPET_CONTEXT + 20:
        start -= 1
    while end < len(text) and not text[end].isspace() and end - first < SNIPPET_CONTEXT * 2 + 20:
        end += 1
    out = ["…" if start > 0 else ""]
    pos = start
    for m in pattern.finditer(folded, start, end):
        out.append(html.escape(text[pos : m.start()]))
        out.append("<mark>" + html.escape(text[m.start() : m.end()]) + "</mark>")
        pos = m.end()
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return " ".join("".join(out).split())


def _shorten(text: str, size: int = 240) -> str:
    text = " ".join(text[: size * 2].split())
    return text if len(text) <= size else text[:size].rsplit(" ", 1)[0] + "…"


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
