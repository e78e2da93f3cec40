"""Relevance ranking with array operations over Whoosh's own postings.

Whoosh's matchers step through the postings one document at a time in Python, scoring each: a word held
by 40,000 of 100,000 documents, or a prefix expanding to a few hundred words, costs half a second or more.
Here each term's posting blocks are decoded into arrays (document numbers, weights) and scored at once with
the same BM25F formula, statistics and query semantics Whoosh uses, so the page of results is the one
`Searcher.search` would return (scores agree to the last bits of a float; ties go to the lower document
number, as in Whoosh's collector). The same evaluation gives the whole matching set for the total and the
facets.

Prefix, wildcard and fuzzy terms score as the sum of the scores of the words they expand to, which is what
Whoosh's default union gives; on segments under 5,000 documents Whoosh switches to a preloaded union that
scores every match 1.0, which would make a document's rank depend on how the index happens to be split.

Query nodes this module does not know are evaluated through their own Whoosh matcher, stepped in Python:
slower, never different. The index stays Whoosh's; nothing here writes it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pickle import loads
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching import FilterMatcher, ListMatcher
from whoosh.reading import IndexReader
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

EMPTY_IDS = np.empty(0, np.int64)
EMPTY_SCORES = np.empty(0, np.float64)
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


@dataclass(frozen=True)
class Scored:
    """Matching documents (ascending document numbers) and their scores."""

    docs: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.docs)


NOTHING = Scored(EMPTY_IDS, EMPTY_SCORES)


@dataclass
class Postings:
    ids: np.ndarray  # ascending document numbers within the segment, deleted ones left out
    weights: np.ndarray  # float64: term frequency × field boost
    values: list[bytes] | None = None  # the format's value per posting (positions), when asked for


def evaluate(searcher: Searcher, q: Q.Query) -> Scored:
    """Every document matching `q` with the score `searcher.search(q)` gives it."""
    if searcher.subsearchers:
        parts = [(_Segment(sub, searcher).evaluate(q), offset) for sub, offset in searcher.subsearchers]
        parts = [(p, o) for p, o in parts if len(p)]
        if not parts:
            return NOTHING
        return Scored(
            np.concatenate([p.docs + o for p, o in parts]), np.concatenate([p.scores for p, _ in parts])
        )
    return _Segment(searcher, searcher).evaluate(q)


def top(scored: Scored, start: int, stop: int) -> list[tuple[int, float]]:
    """Hits start…stop-1 in rank order: score descending, then document number ascending."""
    n = len(scored)
    stop = min(stop, n)
    if start >= stop:
        return []
    scores = scored.scores
    if stop < n // 4:
        # Only the best `stop` need sorting: everything scoring above the stop-th score, and its ties.
        kth = np.partition(scores, n - stop)[n - stop]
        chosen = np.flatnonzero(scores >= kth)
    else:
        chosen = np.arange(n)
    order = np.lexsort((scored.docs[chosen], -scores[chosen]))[start:stop]
    picked = chosen[order]
    return list(zip(scored.docs[picked].tolist(), scores[picked].tolist(), strict=True))


# -- one segment ------------------------------------------------------------------------------------------


def reader_cache(reader: IndexReader, name: str) -> dict[Any, Any]:
    """A dict that lives and dies with `reader` (a new searcher generation starts empty)."""
    caches = reader.__dict__.setdefault("_dossier_caches", {})
    return caches.setdefault(name, {})


class _Segment:
    """Evaluates a query over one atomic (segment) searcher, with the statistics of the whole index."""

    def __init__(self, searcher: Searcher, top_searcher: Searcher) -> None:
        self.searcher = searcher
        self.top = top_searcher
        self.reader = searcher.reader()
        self.schema = searcher.schema

    def evaluate(self, q: Q.Query) -> Scored:
        method = _HANDLERS.get(type(q))
        if method is None:
            from index.query import BoundedExpansion, DocSetQuery

            if isinstance(q, BoundedExpansion):
                return self._expansion(q)
            if isinstance(q, DocSetQuery):
                docs = q.local_array(self.searcher)
                return Scored(docs, np.full(len(docs), float(q.boost)))
            return self._stepped(q)
        return method(self, q)

    # leaves
    def _term(self, q: Q.Term) -> Scored:
        if q.fieldname not in self.schema:
            return NOTHING
        field = self.schema[q.fieldname]
        try:
            btext = field.to_bytes(q.text)
        except ValueError:
            return NOTHING
        return self._term_scores(q.fieldname, btext, q.boost)

    def _term_scores(self, fieldname: str, btext: bytes, boost: float = 1.0) -> Scored:
        if (fieldname, btext) not in self.reader:
            return NOTHING
        p = postings(self.reader, fieldname, btext)
        scores = self._bm25(fieldname, btext, p)
        if boost != 1.0:
            scores = scores * boost
        return Scored(p.ids, scores)

    def _bm25(self, fieldname: str, btext: bytes, p: Postings) -> np.ndarray:
        field = self.schema[fieldname]
        weighting = self.top.weighting
        if not field.scorable or not hasattr(weighting, "K1"):
            if not field.scorable:
                return p.weights
            return np.array([self._scorer_score(fieldname, btext, i) for i in p.ids.tolist()])
        idf = self.top.idf(fieldname, btext)
        avgfl = self.top.avg_field_length(fieldname) or 1
        b = weighting._field_B.get(fieldname, weighting.B)
        k1 = weighting.K1
        tf = p.weights
        fl = field_lengths(self.reader, fieldname)[p.ids]
        return idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl / avgfl)))

    def _scorer_score(self, fieldname: str, btext: bytes, docnum: int) -> float:
        m = self.searcher.postings(fieldname, btext)
        m.skip_to(docnum)
        return float(m.score())

    def _expansion(self, q: Any) -> Scored:
        # MultiTerm.matcher: one term is that term's query; several are an Or of their terms (each scored
        # by the searcher's weighting: "constant score" does not reach the term matchers).
        words = [w for w in q._btexts(self.reader) if w]
        if not words:
            return NOTHING
        if len(words) == 1:
            return self._term_scores(q.field(), words[0])
        parts = [self._term_scores(q.field(), w) for w in words]
        return _boosted(_union(parts), q.boost)

    def _phrase(self, q: Q.Phrase) -> Scored:
        fieldname = q.fieldname
        if fieldname not in self.schema:
            return NOTHING
        field = self.schema[fieldname]
        if not field.format or not field.format.supports("positions"):
            return self._stepped(q)  # raises Whoosh's own error
        words: list[bytes] = []
        for word in q.words:
            try:
                btext = field.to_bytes(word)
            except ValueError:
                return NOTHING
            if (fieldname, btext) not in self.reader:
                return NOTHING
            words.append(btext)
        if not words:
            return NOTHING
        lists = [postings(self.reader, fieldname, w, values=True) for w in words]
        candidates = lists[0].ids
        for p in lists[1:]:
            candidates = np.intersect1d(candidates, p.ids, assume_unique=True)
            if not len(candidates):
                return NOTHING
        decode = field.format.decode_positions
        where = [np.searchsorted(p.ids, candidates) for p in lists]
        keep = []
        for n in range(len(candidates)):
            positions = [decode(p.values[int(w[n])]) for p, w in zip(lists, where, strict=True)]  # type: ignore[index]
            if _spans_match(positions, q.slop):
                keep.append(n)
        if not keep:
            return NOTHING
        chosen = np.array(keep, dtype=np.int64)
        docs = candidates[chosen]
        total = np.zeros(len(docs))
        for p, w, btext in zip(lists, where, words, strict=True):
            sub = Postings(p.ids[w[chosen]], p.weights[w[chosen]])
            total = total + self._bm25(fieldname, btext, sub)
        return _boosted(Scored(docs, total), q.boost)

    def _every(self, q: Q.Every) -> Scored:
        if q.fieldname and q.fieldname != "*":
            return self._stepped(q)
        docs = _live(self.reader)
        return Scored(docs, np.full(len(docs), float(q.boost)))

    # compounds
    def _and(self, q: Q.And) -> Scored:
        subs = q.subqueries
        if not subs:
            return NOTHING
        if len(subs) == 1:
            return self.evaluate(subs[0])
        positive = [s for s in subs if not isinstance(s, Q.Not)]
        negative = [s for s in subs if isinstance(s, Q.Not)]
        if not positive:
            positive, negative = negative[:1], negative[1:]
        out: Scored | None = None
        for sub in positive:
            part = self.evaluate(sub)
            out = part if out is None else _intersect_sum(out, part)
            if not len(out):
                return NOTHING
        assert out is not None
        for sub in negative:
            # x AND NOT y: Whoosh intersects x with the inverse of y, whose score is 1.0 a document.
            excluded = self.evaluate(sub.query)
            keep = ~np.isin(out.docs, excluded.docs, assume_unique=True)
            out = Scored(out.docs[keep], out.scores[keep] + 1.0)
            if not len(out):
                return NOTHING
        return _boosted(out, q.boost)

    def _or(self, q: Q.Or) -> Scored:
        if getattr(q, "minmatch", 0) or getattr(q, "scale", None):
            return self._stepped(q)
        subs = q.subqueries
        if not subs:
            return NOTHING
        if len(subs) == 1:
            return self.evaluate(subs[0])
        return _boosted(_union([self.evaluate(s) for s in subs]), q.boost)

    def _not(self, q: Q.Not) -> Scored:
        child = self.evaluate(q.query)
        docs = np.setdiff1d(_live(self.reader), child.docs, assume_unique=True)
        return Scored(docs, np.ones(len(docs)))

    def _and_not(self, q: Q.AndNot) -> Scored:
        a = self.evaluate(q.a)
        if not len(a):
            return NOTHING
        b = self.evaluate(q.b)
        keep = ~np.isin(a.docs, b.docs, assume_unique=True)
        return Scored(a.docs[keep], a.scores[keep])

    def _and_maybe(self, q: Q.AndMaybe) -> Scored:
        a = self.evaluate(q.a)
        if not len(a):
            return NOTHING
        b = self.evaluate(q.b)
        scores = a.scores.copy()
        common, ia, ib = np.intersect1d(a.docs, b.docs, assume_unique=True, return_indices=True)
        scores[ia] += b.scores[ib]
        return Scored(a.docs, scores)

    def _require(self, q: Q.Require) -> Scored:
        a = self.evaluate(q.a)
        if not len(a):
            return NOTHING
        b = self.evaluate(q.b)
        keep = np.isin(a.docs, b.docs, assume_unique=True)
        return Scored(a.docs[keep], a.scores[keep])

    def _stepped(self, q: Q.Query) -> Scored:
        """Any other query: its own matcher, stepped one document at a time."""
        m = q.matcher(self.searcher, self.top.context())
        ids: list[int] = []
        scores: list[float] = []
        while m.is_active():
            ids.append(m.id())
            scores.append(m.score())
            m.next()
        if not ids:
            return NOTHING
        docs = np.array(ids, dtype=np.int64)
        out = np.array(scores, dtype=np.float64)
        if len(docs) > 1 and np.any(np.diff(docs) <= 0):
            docs, index = np.unique(docs, return_index=True)
            out = out[index]
        return Scored(docs, out)


_HANDLERS: dict[type, Any] = {
    Q.Term: _Segment._term,
    Q.Phrase: _Segment._phrase,
    Q.Every: _Segment._every,
    Q.And: _Segment._and,
    Q.Or: _Segment._or,
    Q.Not: _Segment._not,
    Q.AndNot: _Segment._and_not,
    Q.AndMaybe: _Segment._and_maybe,
    Q.Require: _Segment._require,
    type(Q.NullQuery): lambda self, q: NOTHING,
}


# -- set operations on scored arrays ------------------------------------------------------------------------


def _boosted(s: Scored, boost: float) -> Scored:
    return s if boost == 1.0 or not len(s) else Scored(s.docs, s.scores * boost)


def _union(parts: list[Scored]) -> Scored:
    parts = [p for p in parts if len(p)]
    if not parts:
        return NOTHING
    if len(parts) == 1:
        return parts[0]
    docs = np.concatenate([p.docs for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    # Each part is ascending: a stable sort merges the runs, and equal documents stay in the order of the
    # parts, whose scores are then summed in that order (as Whoosh's union adds its sides).
    order = np.argsort(docs, kind="stable")
    docs, scores = docs[order], scores[order]
    starts = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
    if len(starts) == len(docs):
        return Scored(docs, scores)
    return Scored(docs[starts], np.add.reduceat(scores, starts))


def _intersect_sum(a: Scored, b: Scored) -> Scored:
    docs, ia, ib = np.intersect1d(a.docs, b.docs, assume_unique=True, return_indices=True)
    return Scored(docs, a.scores[ia] + b.scores[ib])


def _spans_match(positions: list[list[int]], slop: int) -> bool:
    """Whoosh's ordered SpanNear2 (mindist 1) over the words' positions: is there a match?"""
    from bisect import bisect_left

    spans = [(p, p) for p in positions[0]]
    for word in positions[1:]:
        if not spans:
            return False
        starts = word  # ascending
        found: set[tuple[int, int]] = set()
        for start, end in spans:
            j = bisect_left(starts, start)
            while j < len(starts):
                b = starts[j]
                j += 1
                if b > end + slop:
                    break
                # b >= start here (ordered); distance from the span's end, 0 when it overlaps
                dist = 0 if start <= b <= end else b - end
                if 1 <= dist <= slop:
                    found.add((start, b))
        spans = sorted(found)
    return bool(spans)


# -- reading postings and lengths ----------------------------------------------------------------------------


# Posting lists kept per segment reader, up to this many postings in all.
MAX_CACHED_POSTINGS = 4_000_000


def postings(reader: IndexReader, fieldname: str, btext: bytes, *, values: bool = False) -> Postings:
    """One term's postings in one segment as arrays (cached with the reader)."""
    cache = reader_cache(reader, "postings")
    key = (fieldname, btext)
    hit = cache.get(key)
    if hit is not None and (hit.values is not None or not values):
        return hit
    p = _read_postings(reader, fieldname, btext, values)
    held = cache.get("_size", 0) + len(p.ids)
    if held > MAX_CACHED_POSTINGS:
        cache.clear()
        held = len(p.ids)
    cache[key] = p
    cache["_size"] = held
    return p


def _read_postings(reader: IndexReader, fieldname: str, btext: bytes, values: bool) -> Postings:
    if (fieldname, btext) not in reader:
        return Postings(EMPTY_IDS, EMPTY_SCORES, [] if values else None)
    m = reader.postings(fieldname, btext)
    deleted = None
    if isinstance(m, FilterMatcher):
        deleted, m = m._ids, m.child
    vals: list[bytes] | None = [] if values else None
    if isinstance(m, W3LeafMatcher):
        id_blocks: list[np.ndarray] = []
        weight_blocks: list[Any] = []
        while not m._atend:
            count = m._blocklength
            raw = m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)
            data = loads(zlib.decompress(raw) if m._compression else raw)
            id_blocks.append(np.cumsum(np.asarray(data[0], dtype=np.int64)))
            w = data[1]
            if w is None or isinstance(w, float):
                weight_blocks.append(np.full(count, 1.0 if w is None else w))
            else:
                weight_blocks.append(np.asarray(w, dtype=np.float64))
            if vals is not None:
                m._data = data
                m._read_values()
                vals.extend(m._values)
            if m._lastblock:
                break
            m._goto(m._nextoffset)
        ids = np.concatenate(id_blocks) if id_blocks else EMPTY_IDS
        weights = np.concatenate(weight_blocks).astype(np.float64) if weight_blocks else EMPTY_SCORES
    elif isinstance(m, ListMatcher):
        ids = np.asarray(m._ids, dtype=np.int64)
        if m._all_weights is not None:
            weights = np.full(len(ids), float(m._all_weights))
        elif m._weights is not None:
            weights = np.asarray(m._weights, dtype=np.float64)
        else:
            weights = np.ones(len(ids))
        if vals is not None:
            vals.extend(m._values if m._values is not None else [b""] * len(ids))
    elif not m.is_active():
        return Postings(EMPTY_IDS, EMPTY_SCORES, [] if values else None)
    else:
        id_list, weight_list = [], []
        while m.is_active():
            id_list.append(m.id())
            weight_list.append(m.weight())
            if vals is not None:
                vals.append(m.value())
            m.next()
        ids = np.array(id_list, dtype=np.int64)
        weights = np.array(weight_list, dtype=np.float64)
    if deleted:
        keep = ~np.isin(ids, np.fromiter(deleted, np.int64, len(deleted)))
        ids, weights = ids[keep], weights[keep]
        if vals is not None:
            vals = [v for v, k in zip(vals, keep.tolist(), strict=True) if k]
    return Postings(ids, weights, vals)


def field_lengths(reader: IndexReader, fieldname: str) -> np.ndarray:
    """Every document's length in `fieldname` as Whoosh stores it (one byte, decoded), as floats."""
    cache = reader_cache(reader, "field-lengths")
    out = cache.get(fieldname)
    if out is not None:
        return out
    count = reader.doc_count_all()
    perdoc = getattr(reader, "_perdoc", None)
    column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN) if perdoc is not None else None
    if column is not None or not count:
        codes = np.zeros(count, dtype=np.uint8)
        n = min(column._count, count) if column is not None else 0
        if n:
            codes[:n] = np.frombuffer(column._dbfile.get(column._basepos, n), dtype=np.uint8)
        out = _LENGTH_OF_BYTE[codes]
    else:
        out = np.array([float(reader.doc_field_length(i, fieldname, 0) or 0) for i in range(count)])
    cache[fieldname] = out
    return out


def _live(reader: IndexReader) -> np.ndarray:
    from index.query import live_docnums

    return live_docnums(reader)


__all__ = ["Scored", "evaluate", "top", "postings", "field_lengths", "reader_cache"]
