"""Running a reporter's query over a case: parse, resolve store-backed fields, rank, page, facets, and
hits with snippets and locations.

Loaded by `SearchService` at its first query, so that an import (and the index process) never loads the
query side: the query parser, the ranking arrays (numpy) and Whoosh's query classes.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session
from whoosh import query as Q

from app.documents import display_title
from app.search import FACET_FIELDS, MAX_LOCATIONS, SNIPPET_CONTEXT, SORTS, Hit, SearchResults
from db.models import Cell, Document, Part, Source
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

if TYPE_CHECKING:
    from app.search import SearchService


class QueryRunner:
    """The query side of one `SearchService`: its parser and its per-searcher column cache."""

    def __init__(self, service: SearchService) -> None:
        self.service = service
        self.parser = QueryParser()
        self._columns: tuple[int, _Columns] | None = None

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
        with self.service.index.searcher() as searcher:
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
        with self.service.index.searcher() as searcher:
            columns = self._column_cache(searcher)
            q = self._resolve_store_leaves(parsed, columns)
            return sorted(columns.ids[matching_docnums(searcher, q)].tolist())

    def _column_cache(self, searcher: Any) -> _Columns:
        if self._columns is None or self._columns[0] != self.service.index.generation:
            self._columns = (self.service.index.generation, _Columns(searcher))
        return self._columns[1]

    def _resolve_store_leaves(self, parsed: ParsedQuery, columns: _Columns) -> Q.Query:
        if not parsed.store_leaves:
            return parsed.query
        resolved: dict[StoreQuery, DocSetQuery] = {}
        with self.service.case.reader() as s:
            for leaf in parsed.store_leaves:
                resolver = self.service.store_resolvers.get(leaf.fieldname)
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
            elif name in self.service.store_resolvers:
                with self.service.case.reader() as s:
                    ids: set[int] = set()
                    for v in values:
                        ids |= self.service.store_resolvers[name](s, StoreQuery(name, str(v)))
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
        with self.service.case.reader() as s:
            for name, facet in self.service.store_facets.items():
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
        with self.service.case.reader() as s:
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
