"""A reporter's query language on top of Whoosh's parser.

Words (all must match), OR, NOT / -word, parentheses, "exact phrases", "proximity"~5, prefix and wildcard
(contr*), fuzzy (Huawai~), fields (title: author: from: to: cc: subject: type: path: sha256: tag: status:
note: date: imported:), and identifiers (WO-2017-0413, PO 4500012345, 20.02.2022, IBANs, email addresses)
matched whole. Malformed input raises `QueryError` with a one-line explanation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from whoosh import query as Q
from whoosh.qparser import (
    FuzzyTermPlugin,
    GtLtPlugin,
    MultifieldParser,
    PlusMinusPlugin,
)
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.qparser.syntax import AndGroup
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from index.analysis import IDENT_RE, fold, normalise_ident
from index.rank import postings, reader_cache
from index.schema import INSIGHT_FIELDS, STORE_FIELDS, build_schema

# Bounded term expansion: prefix, wildcard and fuzzy queries keep the most frequent matching terms.
MAX_EXPANSIONS = 64

# type: aliases a reporter would type.
TYPE_ALIASES = {
    "email": ("email", "eml", "msg"),
    "mail": ("email", "eml", "msg"),
    "spreadsheet": ("xlsx", "xls", "ods", "csv", "tsv"),
    "excel": ("xlsx", "xls"),
    "word": ("docx", "doc", "odt", "rtf"),
    "document": ("docx", "doc", "odt", "rtf", "pdf", "text", "html"),
    "presentation": ("pptx", "ppt", "odp"),
    "archive": ("zip", "7z", "tar", "gzip", "bzip2", "xz"),
    "text": ("text",),
    "txt": ("text",),
}

FIELD_ALIASES = {"sender": "from", "recipient": "to", "filename": "path", "hash": "sha256", "kind": "type"}

SEARCH_FIELDS = ("content", "title")


class QueryError(ValueError):
    """A query the parser cannot make sense of; str() is a one-line explanation."""


class BoundedExpansion:
    """Mixin: expand to at most MAX_EXPANSIONS terms, the most frequent first.

    Expansions are cached on the reader, which lives as long as one searcher generation: walking the term
    dictionary (and, for fuzzy terms, computing edit distances) is the costly part, and a query expands
    several times (ranking, counting, marking the matched words).
    """

    def _expansion_key(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.field(), self.text)  # type: ignore[attr-defined]

    def _btexts(self, ixreader: IndexReader):  # noqa: ANN202
        cache = reader_cache(ixreader, "expansions")
        key = self._expansion_key()
        cached = cache.get(key)
        if cached is not None:
            return cached
        terms = list(super()._btexts(ixreader))  # type: ignore[misc]
        if len(terms) > MAX_EXPANSIONS:
            field = self.field()  # type: ignore[attr-defined]
            terms.sort(key=lambda t: ixreader.doc_frequency(field, t), reverse=True)
            terms = terms[:MAX_EXPANSIONS]
        cache[key] = terms
        return terms

    def docs(self, searcher: Searcher):  # noqa: ANN201
        terms = [t for t in self._btexts(searcher.reader()) if t]
        return iter(union_ids(searcher.reader(), self.field(), terms).tolist())  # type: ignore[attr-defined]


class BoundedPrefix(BoundedExpansion, Q.Prefix):
    pass


class BoundedWildcard(BoundedExpansion, Q.Wildcard):
    pass


class BoundedFuzzy(BoundedExpansion, Q.FuzzyTerm):
    def _expansion_key(self) -> tuple[Any, ...]:
        return (*super()._expansion_key(), self.maxdist, self.prefixlength)


def posting_ids(reader: IndexReader, fieldname: str, btext: bytes) -> np.ndarray:
    """One term's document numbers within a segment reader, ascending, deleted documents left out."""
    return postings(reader, fieldname, btext).ids


def union_ids(reader: IndexReader, fieldname: str, btexts: list[bytes]) -> np.ndarray:
    """Documents holding any of the terms, ascending."""
    parts = [posting_ids(reader, fieldname, t) for t in btexts]
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)


def matched_expansion_words(reader: IndexReader, parsed: ParsedQuery, docnum: int) -> list[str]:
    """The words of the query's prefix, wildcard and fuzzy expansions (not under NOT) that document
    `docnum` holds in its text or title: what it matched, to mark in its snippet."""
    words: list[str] = []
    for segment, offset in reader.leaf_readers():
        local = docnum - offset
        if not 0 <= local < segment.doc_count_all():
            continue
        for q in parsed.expansions:
            if q.field() not in SEARCH_FIELDS:
                continue
            for btext in q._btexts(segment):
                ids = posting_ids(segment, q.field(), btext)
                i = int(np.searchsorted(ids, local))
                if i < len(ids) and ids[i] == local:
                    words.append(btext.decode("utf-8") if isinstance(btext, bytes) else str(btext))
    return words


def live_docnums(reader: IndexReader) -> np.ndarray:
    """Every undeleted document number of `reader`, ascending (cached with the reader)."""
    cache = reader_cache(reader, "live")
    if "all" not in cache:
        count = reader.doc_count_all()
        if reader.has_deletions():
            cache["all"] = np.fromiter(reader.all_doc_ids(), np.int64)
        else:
            cache["all"] = np.arange(count, dtype=np.int64)
    return cache["all"]


def matching_docnums(searcher: Searcher, q: Q.Query) -> np.ndarray:
    """Every document number matching `q`, ascending: the documents `docs_for_query` yields, with set
    operations on arrays where whoosh would step through the matchers one document at a time."""
    if searcher.subsearchers:
        parts = [_docnums(sub, q) + offset for sub, offset in searcher.subsearchers]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)
    return _docnums(searcher, q)


def _docnums(searcher: Searcher, q: Q.Query) -> np.ndarray:
    reader = searcher.reader()
    kind = type(q)
    if isinstance(q, DocSetQuery):
        return q.local_array(searcher)
    if kind is Q.Every and not q.fieldname:
        return live_docnums(reader)
    if kind is Q.Term:
        field = searcher.schema[q.fieldname] if q.fieldname in searcher.schema else None
        if field is None:
            return np.empty(0, np.int64)
        try:
            btext = field.to_bytes(q.text)
        except ValueError:
            return np.empty(0, np.int64)
        if (q.fieldname, btext) not in reader:
            return np.empty(0, np.int64)
        return posting_ids(reader, q.fieldname, btext)
    if isinstance(q, BoundedExpansion):
        return union_ids(reader, q.field(), [t for t in q._btexts(reader) if t])
    if kind is Q.Not:
        return np.setdiff1d(live_docnums(reader), _docnums(searcher, q.query), assume_unique=True)
    if kind is Q.AndNot:
        return np.setdiff1d(_docnums(searcher, q.a), _docnums(searcher, q.b), assume_unique=True)
    if kind is Q.AndMaybe:
        return _docnums(searcher, q.a)
    if kind is Q.Require:
        return np.intersect1d(_docnums(searcher, q.a), _docnums(searcher, q.b), assume_unique=True)
    if kind is Q.And and q.subqueries:
        out = _docnums(searcher, q.subqueries[0])
        for sub in q.subqueries[1:]:
            if not len(out):
                break
            out = np.intersect1d(out, _docnums(searcher, sub), assume_unique=True)
        return out
    if kind in (Q.Or, Q.DisjunctionMax) and not getattr(q, "minmatch", 0):
        parts = [_docnums(searcher, sub) for sub in q.subqueries]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)
    return np.fromiter(q.docs(searcher), np.int64)


class StoreQuery(Q.Query):
    """A leaf answered from the case store (tag:, status:, note:). Replaced by `DocSetQuery` before search."""

    def __init__(self, fieldname: str, text: str, kind: str = "term") -> None:
        self.fieldname = fieldname
        self.text = text
        self.kind = kind  # term | prefix | phrase
        self.boost = 1.0

    def __repr__(self) -> str:
        return f"StoreQuery({self.fieldname!r}, {self.text!r}, {self.kind!r})"

    def __str__(self) -> str:
        return f"{self.fieldname}:{self.text}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreQuery) and (self.fieldname, self.text, self.kind) == (
            other.fieldname,
            other.text,
            other.kind,
        )

    def __hash__(self) -> int:
        return hash((self.fieldname, self.text, self.kind))

    def field(self) -> str:
        return self.fieldname

    def estimate_size(self, ixreader: IndexReader) -> int:
        return 0

    def matcher(self, searcher: Searcher, context=None):  # noqa: ANN001, ANN201
        from whoosh.matching import NullMatcher

        return NullMatcher()


class DocSetQuery(Q.Query):
    """Matches a fixed set of index document numbers (from a store lookup)."""

    def __init__(self, docnums: list[int], label: str = "") -> None:
        self.array = np.unique(np.asarray(docnums, dtype=np.int64))
        self.docnums = self.array.tolist()
        self.label = label
        self.boost = 1.0

    def __repr__(self) -> str:
        return f"DocSetQuery({self.label!r}, {len(self.docnums)} docs)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DocSetQuery) and self.docnums == other.docnums

    def __hash__(self) -> int:
        return hash((self.label, len(self.docnums)))

    def estimate_size(self, ixreader: IndexReader) -> int:
        return len(self.docnums)

    def _local(self, searcher: Searcher) -> list[int]:
        return self.local_array(searcher).tolist()

    def local_array(self, searcher: Searcher) -> np.ndarray:
        """The document numbers within `searcher`: a segment's sub-searcher numbers from 0 (the set holds
        numbers of the whole index, as a multi-segment searcher hands each segment the query in turn)."""
        parent = searcher.get_parent() if searcher.has_parent() else None
        offset = (parent._offset_for_subsearcher(searcher) or 0) if parent is not None else 0
        if not offset and parent is None:
            return self.array
        end = offset + searcher.doc_count_all()
        lo, hi = np.searchsorted(self.array, [offset, end])
        return self.array[lo:hi] - offset

    def docs(self, searcher: Searcher, deleting: bool = False):  # noqa: ANN201
        return iter(self._local(searcher))

    def matcher(self, searcher: Searcher, context=None):  # noqa: ANN001, ANN201
        from whoosh.matching import ListMatcher, NullMatcher

        docnums = self._local(searcher)
        if not docnums:
            return NullMatcher()
        return ListMatcher(docnums, all_weights=self.boost)


@dataclass
class ParsedQuery:
    query: Q.Query
    needles: list[str] = field(default_factory=list)  # folded strings to mark in snippets
    ident_needles: list[str] = field(default_factory=list)  # normalised identifiers
    store_leaves: list[StoreQuery] = field(default_factory=list)
    expands: bool = False  # has prefix/wildcard/fuzzy terms: mark the words they matched in each hit
    expansions: list[BoundedExpansion] = field(default_factory=list)  # those not under NOT


_QUOTED = re.compile(r'"[^"]*"')
_FIELD_PREFIX = re.compile(r"[\w]+:$")


class QueryParser:
    def __init__(self) -> None:
        schema = build_schema()
        self.schema = schema
        parser = MultifieldParser(list(SEARCH_FIELDS), schema, group=AndGroup)
        parser.add_plugin(FuzzyTermPlugin())
        parser.add_plugin(GtLtPlugin())
        parser.add_plugin(PlusMinusPlugin())
        parser.add_plugin(DateParserPlugin(free=False))
        parser.termclass = Q.Term
        self.parser = parser

    def parse(self, text: str) -> ParsedQuery:
        text = (text or "").strip()
        if not text:
            raise QueryError("the query is empty")
        if text.count('"') % 2:
            raise QueryError('a quotation mark is not closed: add the missing "')
        depth = 0
        for ch in _QUOTED.sub("", text):
            depth += ch == "("
            depth -= ch == ")"
            if depth < 0:
                raise QueryError("a closing parenthesis has no opening one")
        if depth:
            raise QueryError("a parenthesis is not closed: add the missing )")
        prepared = _quote_hyphenated(self._mark_identifiers(_quote_verbatim(text)))
        prepared = re.sub(
            r"(?<![\w])(\w+):",
            lambda m: FIELD_ALIASES.get(m.group(1).lower(), m.group(1).lower()) + ":",
            prepared,
        )
        try:
            q = self.parser.parse(prepared)
        except Exception as exc:  # whoosh's parser errors are not user-facing
            raise QueryError(
                f"cannot read this query ({type(exc).__name__}); check quotes, brackets and field names"
            ) from exc
        parsed = ParsedQuery(query=q)
        parsed.query = self._rewrite(q, parsed)
        if parsed.query is Q.NullQuery:
            raise QueryError("the query has no words to search for")
        return parsed

    # Identifiers typed bare (WO-2017-0413, PO 4500012345) become `ident:"…"` before parsing.
    def _mark_identifiers(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        quoted_spans = [m.span() for m in _QUOTED.finditer(text)]
        for match in IDENT_RE.finditer(text):
            start, end = match.span()
            raw = match.group(0)
            if not (re.search(r"\d", raw) or "@" in raw):
                continue
            inside_quotes = next(((a, b) for a, b in quoted_spans if a <= start < b), None)
            if inside_quotes is not None:
                a, b = inside_quotes
                if text[a + 1 : b - 1].strip() != raw:
                    continue  # part of a longer phrase: the phrase searches words
                if _FIELD_PREFIX.search(text[:a]):
                    continue  # a quoted field value (phone:"713-853-6161")
                start, end = a, b
            elif _FIELD_PREFIX.search(text[:start]) or (start and text[start - 1] in "[:*?~"):
                continue  # a field value (from:joe@x.com, date:[…]) or part of a pattern
            elif end < len(text) and text[end] in "*?~":
                continue
            out.append(text[pos:start])
            out.append(f'ident:"{raw}"')
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def _rewrite(self, q: Q.Query, parsed: ParsedQuery) -> Q.Query:
        """Bound expansions, map aliases, route store fields, collect highlight needles."""
        if (
            isinstance(q, (Q.Term, Q.Prefix, Q.Wildcard, Q.FuzzyTerm, Q.Phrase, Q.Sequence))
            and q.field() in STORE_FIELDS
        ):
            return self._store_leaf(q, parsed)
        if isinstance(q, Q.Sequence):
            words = [self._rewrite(sub, parsed) for sub in q.subqueries]
            return Q.Sequence(words, slop=q.slop, ordered=q.ordered, boost=q.boost)
        if isinstance(q, Q.Phrase):
            if q.fieldname in (*SEARCH_FIELDS, "subject", "author"):
                parsed.needles.append(" ".join(q.words))
            return q
        if isinstance(q, (Q.FuzzyTerm, Q.Prefix, Q.Wildcard)):
            parsed.expands = True
        bounded: BoundedExpansion | None = None
        if isinstance(q, Q.FuzzyTerm):
            bounded = BoundedFuzzy(
                q.fieldname, q.text, boost=q.boost, maxdist=q.maxdist, prefixlength=q.prefixlength
            )
        elif isinstance(q, Q.Prefix):
            bounded = BoundedPrefix(q.fieldname, q.text, boost=q.boost)
        elif isinstance(q, Q.Wildcard):
            bounded = BoundedWildcard(q.fieldname, q.text, boost=q.boost)
        if bounded is not None:
            parsed.expansions.append(bounded)
            return bounded  # type: ignore[return-value]
        if isinstance(q, Q.Term):
            if q.fieldname == "type":
                aliases = TYPE_ALIASES.get(str(q.text).lower())
                if aliases:
                    return Q.Or([Q.Term("type", t) for t in aliases])
                return Q.Term("type", str(q.text).lower())
            if q.fieldname == "ident":
                parsed.ident_needles.append(str(q.text))
            elif q.fieldname in (*SEARCH_FIELDS, "subject", "author"):
                parsed.needles.append(str(q.text))
            return q
        if isinstance(q, Q.Not):
            # Needles under NOT must not be highlighted: rewrite on a throwaway collector (which still
            # hands its store fields, `-tag:x`, to the query for resolving).
            negated = ParsedQuery(query=q.query, store_leaves=parsed.store_leaves)
            return Q.Not(self._rewrite(q.query, negated), boost=q.boost)
        if isinstance(q, Q.AndNot):
            negated = ParsedQuery(query=q.b, store_leaves=parsed.store_leaves)
            return Q.AndNot(self._rewrite(q.a, parsed), self._rewrite(q.b, negated))
        if isinstance(q, (Q.AndMaybe, Q.Require)):
            return q.__class__(self._rewrite(q.a, parsed), self._rewrite(q.b, parsed))
        if isinstance(q, Q.CompoundQuery):
            subs = [self._rewrite(sub, parsed) for sub in q.subqueries]
            return q.__class__(subs, boost=q.boost)
        return q

    def _store_leaf(self, q: Q.Query, parsed: ParsedQuery) -> StoreQuery:
        if isinstance(q, Q.Phrase):
            text, kind = " ".join(q.words), "phrase"
        elif isinstance(q, Q.Sequence):
            text, kind = " ".join(str(getattr(s, "text", "")) for s in q.subqueries), "phrase"
        elif isinstance(q, Q.Prefix):
            text, kind = str(q.text), "prefix"
        elif isinstance(q, Q.Wildcard):
            text, kind = str(q.text).rstrip("*"), "prefix"
        else:
            text, kind = str(q.text), "term"
        leaf = StoreQuery(q.field(), text, kind)
        parsed.store_leaves.append(leaf)
        return leaf


_VERBATIM = re.compile(
    r'"[^"]*"|(?<![\w"])(' + "|".join(INSIGHT_FIELDS) + r')(:)(?!["(\[])([^\s()"]+)', re.IGNORECASE
)


def _quote_verbatim(text: str) -> str:
    """`phone:+1-713-853-6161`, `dated:2001-05/2001-08`: one value, not operators and words (wildcards stay)."""

    def quote(m: re.Match[str]) -> str:
        if m.group(1) is None or re.search(r"[*?]", m.group(3)):
            return m.group(0)
        return f'{m.group(1)}:"{m.group(3)}"'

    return _VERBATIM.sub(quote, text)


_HYPHENATED = re.compile(r'"[^"]*"|(?<![\w-])([^\W\d_][\w]*(?:-[\w]+)+)(?![\w*?~])')


def _quote_hyphenated(text: str) -> str:
    """`e-mail` is one word to a reporter, not `e NOT mail`: quote hyphenated words as phrases."""
    return _HYPHENATED.sub(lambda m: f'"{m.group(1)}"' if m.group(1) else m.group(0), text)


def replace_store_leaves(q: Q.Query, resolved: dict[StoreQuery, DocSetQuery]) -> Q.Query:
    if isinstance(q, StoreQuery):
        return resolved[q]
    if isinstance(q, Q.Not):
        return Q.Not(replace_store_leaves(q.query, resolved), boost=q.boost)
    if isinstance(q, (Q.AndNot, Q.AndMaybe, Q.Require)):
        return q.__class__(replace_store_leaves(q.a, resolved), replace_store_leaves(q.b, resolved))
    if isinstance(q, Q.CompoundQuery):
        return q.__class__([replace_store_leaves(s, resolved) for s in q.subqueries], boost=q.boost)
    return q


def needle_patterns(parsed: ParsedQuery, extra_terms: list[str] = ()) -> re.Pattern[str] | None:  # type: ignore[assignment]
    """One regex over folded text that finds every highlighted word, phrase and identifier."""
    alternatives: list[str] = []
    for needle in [*parsed.needles, *extra_terms]:
        words = [w for w in re.split(r"\W+", fold(needle)) if w]
        if not words:
            continue
        body = r"\W+".join(re.escape(w) for w in words)
        if re.search(r"[\u3040-\u30ff\u3400-\u9fff]", needle):
            alternatives.append(body)
        else:
            alternatives.append(rf"(?<!\w){body}(?!\w)")
    for ident in parsed.ident_needles:
        ident = normalise_ident(ident)
        body = r"[\s#]*".join(re.escape(ch) for ch in ident)
        alternatives.append(rf"(?<!\w){body}(?!\w)")
    if not alternatives:
        return None
    alternatives.sort(key=len, reverse=True)
    return re.compile("|".join(alternatives))
