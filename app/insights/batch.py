"""Batch search: a CSV of search terms in, one report row per term out (counts and matching ids).

The terms file has a header row. `term` is required; optional columns refine it:

| column      | meaning                                                                          |
|-------------|----------------------------------------------------------------------------------|
| `phrase`    | yes/true/1: the words as an exact phrase                                         |
| `fuzzy`     | 1 or 2: each word may be that many edits away (`Huawai` finds Huawei)            |
| `proximity` | N: with `phrase`, the words within N positions of each other                     |
| `field`     | search one field only: title, subject, author, from, to, cc, path, email, …      |
| `query`     | a query in the full query language, used as it is instead of `term`             |

The report has `term, query, documents, hits, documents_with_family, ids, error`: documents matching,
occurrences of the words in their text (blank when the query has no words to count, e.g. `tag:`), the
matching documents together with their attachments/containers, and the ids. A term that is not a valid
query gets its `error` and the batch goes on.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from db.models import Document, Part
from index.analysis import fold
from index.query import MAX_EXPANSIONS, QueryError, needle_patterns

CELL_LIMIT = 32_767  # characters a spreadsheet cell holds (Excel, LibreOffice)
COLUMNS = ("term", "query", "documents", "hits", "documents_with_family", "ids", "error")
_TRUE = {"1", "y", "yes", "true", "x", "phrase", "ja", "oui", "si", "sí"}
_SPECIAL = re.compile(r"[\"():*?~^\[\]{}+\-\\/!]")
_OPERATORS = {"and", "or", "not", "to"}


class BatchError(ValueError):
    """A terms file that cannot be read; str() is for the reporter."""


@dataclass(frozen=True)
class BatchTerm:
    term: str
    phrase: bool = False
    fuzzy: int = 0
    proximity: int = 0
    field: str = ""
    query: str = ""  # a full query given as is

    def to_query(self) -> str:
        if self.query.strip():
            return self.query.strip()
        words = self.term.replace('"', " ").split()
        if not words:
            raise QueryError("the term is empty")
        if self.phrase or self.proximity:
            if self.fuzzy:
                raise QueryError("fuzzy applies to single words, not phrases (use proximity for phrases)")
            body = '"' + " ".join(words) + '"' + (f"~{self.proximity}" if self.proximity else "")
            return f"{self.field}:{body}" if self.field else body
        parts = []
        for w in words:
            plain = not _SPECIAL.search(w) and w.lower() not in _OPERATORS
            if self.fuzzy:
                if not plain:
                    raise QueryError(f"fuzzy applies to plain words, not {w!r}")
                parts.append(f"{w}~{self.fuzzy}")
            else:
                parts.append(w if plain else '"' + w + '"')
        body = " ".join(parts)
        if self.field:
            return f"{self.field}:{body}" if len(parts) == 1 else f"{self.field}:({body})"
        return body


@dataclass(frozen=True)
class BatchResult:
    term: str
    query: str
    documents: int
    hits: int | None
    documents_with_family: int
    ids: list[int]
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def row(self) -> list[str]:
        return [
            self.term,
            self.query,
            str(self.documents),
            "" if self.hits is None else str(self.hits),
            str(self.documents_with_family),
            ids_cell(self.ids),
            self.error,
        ]


def ids_cell(ids: Sequence[int], limit: int = CELL_LIMIT) -> str:
    """The ids separated by spaces; a list longer than a spreadsheet cell holds is cut, with a marker
    saying how many were left out (the full list is in the JSON report and the app)."""
    full = " ".join(map(str, ids))
    if len(full) <= limit:
        return full
    kept: list[str] = []
    size = 0
    for n, doc_id in enumerate(ids):
        word = str(doc_id)
        marker = f" … {len(ids) - n - 1:,} more ids left out"
        if size + len(word) + 1 + len(marker) + 12 > limit:  # room for a marker with a longer count
            break
        kept.append(word)
        size += len(word) + 1
    left = len(ids) - len(kept)
    return " ".join(kept) + f" … {left:,} more ids left out"


def _int(value: str, name: str, line: int, allowed: range) -> int:
    value = (value or "").strip().lower()
    if not value or value in ("0", "no", "n", "false"):
        return 0
    if value in _TRUE:
        return 1
    try:
        number = int(value)
    except ValueError:
        raise BatchError(f"line {line}: {name} must be a number, not {value!r}") from None
    if number not in allowed:
        raise BatchError(f"line {line}: {name} must be {allowed.start} to {allowed.stop - 1}, not {number}")
    return number


def parse_terms(text: str) -> list[BatchTerm]:
    """Read a terms CSV (comma, semicolon or tab separated; header row required)."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise BatchError("the terms file is empty")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower() for h in next(reader)]
    if "term" not in header and "query" not in header:
        raise BatchError("the terms file needs a header row with a `term` (or `query`) column")
    unknown = [h for h in header if h and h not in ("term", "phrase", "fuzzy", "proximity", "field", "query")]
    if unknown:
        raise BatchError(f"unknown column {unknown[0]!r}: use term, phrase, fuzzy, proximity, field, query")
    terms = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, row, strict=False))
        field = (cells.get("field") or "").strip().lower().rstrip(":")
        if field and not re.fullmatch(r"[a-z_]+", field):
            raise BatchError(f"line {line}: field must be a field name such as title or from, not {field!r}")
        terms.append(
            BatchTerm(
                term=(cells.get("term") or "").strip(),
                phrase=(cells.get("phrase") or "").strip().lower() in _TRUE,
                fuzzy=_int(cells.get("fuzzy", ""), "fuzzy", line, range(0, 3)),
                proximity=_int(cells.get("proximity", ""), "proximity", line, range(0, 101)),
                field=field,
                query=(cells.get("query") or "").strip(),
            )
        )
    if not terms:
        raise BatchError("the terms file has a header but no terms")
    return terms


def read_terms(path: Path | str) -> list[BatchTerm]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BatchError(f"no terms file at {path}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return parse_terms(text)


def write_report(path: Path | str, results: Sequence[BatchResult]) -> Path:
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in results:
            writer.writerow(r.row())
    return path


def batch_search(
    services: Any,
    terms: Iterable[BatchTerm],
    *,
    on_result: Callable[[int, int, BatchResult], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> list[BatchResult]:
    """Run every term through the search service; an invalid term is reported in its row.

    `on_result(done, total, result)` is called after each term; when `cancel()` turns true the batch
    stops and returns the rows done so far.
    """
    search = services.search
    search.ensure_index()
    family = _Families(services.case)
    terms = list(terms)
    out: list[BatchResult] = []
    for t in terms:
        if cancel is not None and cancel():
            break
        out.append(_run_term(services, family, t))
        if on_result is not None:
            on_result(len(out), len(terms), out[-1])
    return out


def _run_term(services: Any, family: _Families, t: BatchTerm) -> BatchResult:
    label = t.term or t.query
    try:
        query = t.to_query()
        ids = services.search.matching_ids(query)
        parsed = services.search.parser.parse(query)
        hits = _occurrences(services, parsed, ids)
    except QueryError as exc:
        return BatchResult(label, _safe_query(t), 0, None, 0, [], str(exc))
    return BatchResult(label, query, len(ids), hits, len(family.of(ids)), ids)


def _safe_query(t: BatchTerm) -> str:
    try:
        return t.to_query()
    except QueryError:
        return ""


def _expansions(services: Any, parsed: Any) -> list[str]:
    """Index words a fuzzy/prefix/wildcard query stands for (to count them in the text)."""
    from whoosh import query as Q

    words: list[str] = []
    with services.search.index.searcher() as searcher:
        reader = searcher.reader()
        for leaf in parsed.query.leaves():
            if not isinstance(leaf, Q.FuzzyTerm | Q.Prefix | Q.Wildcard) or leaf.field() != "content":
                continue
            try:
                found = [t.decode("utf-8") if isinstance(t, bytes) else t for t in leaf._btexts(reader)]
            except Exception:  # a field missing from an empty index
                found = []
            words.extend(found[:MAX_EXPANSIONS])
    return words


def _occurrences(services: Any, parsed: Any, ids: list[int]) -> int | None:
    """How often the query's words occur in the text of the matching documents."""
    extra = _expansions(services, parsed) if parsed.expands else []
    pattern = needle_patterns(parsed, extra)
    if pattern is None:
        return None
    total = 0
    with services.case.reader() as s:
        for start in range(0, len(ids), 200):
            for (part_text,) in s.execute(
                select(Part.text).where(Part.document_id.in_(ids[start : start + 200]))
            ):
                if part_text:
                    total += sum(1 for _ in pattern.finditer(fold(part_text)))
    return total


class _Families:
    """Documents together with what they were found in and what was found in them."""

    def __init__(self, case: Any) -> None:
        self.parent: dict[int, int | None] = {}
        self.children: dict[int, list[int]] = defaultdict(list)
        with case.reader() as s:
            for doc_id, parent in s.execute(select(Document.id, Document.parent_id)):
                self.parent[doc_id] = parent
                if parent is not None:
                    self.children[parent].append(doc_id)

    def of(self, ids: Iterable[int]) -> set[int]:
        roots = set()
        for i in ids:
            seen = 0
            while self.parent.get(i) is not None and seen < 64:
                i = self.parent[i]  # type: ignore[assignment]
                seen += 1
            roots.add(i)
        out: set[int] = set()
        frontier = list(roots)
        while frontier:
            i = frontier.pop()
            if i in out:
                continue
            out.add(i)
            frontier.extend(self.children.get(i, ()))
        return out
