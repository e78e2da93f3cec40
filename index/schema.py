"""The Whoosh schema: one index document per case document, nothing stored but the id.

Text is not stored in the index: snippets and hit locations are computed from the text held in the case
store, which keeps the index small and always rebuildable. Review data (tags, review status, notes) is not
indexed either; `tag:`, `status:` and `note:` are answered from the store at query time, so a tag added
to 10,000 documents costs one SQL statement and never a reindex.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from whoosh.fields import DATETIME, ID, TEXT, Schema
from whoosh.system import pack_uint

from index.analysis import AddressTokenizer, IdentTokenizer, PathTokenizer, WordTokenizer, identifiers, words

# Bump when the schema or analysis changes: an index built with another version is rebuilt at open.
SCHEMA_VERSION = 1

# Fields answered from the case store, not the index (declared so the query parser accepts them).
STORE_FIELDS = ("tag", "status", "note")
# Entities (app/insights) and the time line's date range; their values are matched verbatim.
INSIGHT_FIELDS = (
    "entity", "person", "org", "company", "place", "email", "phone", "iban", "bic", "money", "url", "ip",
    "reference", "dated",
)  # fmt: skip
STORE_FIELDS += INSIGHT_FIELDS


class _TermsField(TEXT):
    """A TEXT field that turns a whole value into its postings in one pass.

    Whoosh's own path walks a token stream (a generator, a shared Token object and its attributes, a
    stop-word filter, per-token dictionary updates in Python); for a document's body that costs several
    times the tokenising itself. `terms` gives the value's terms in order; the postings written are the
    same bytes Whoosh's `Positions`/`Frequency` formats produce for that stream with every boost 1.0, and
    queries still go through the analyzer.
    """

    def terms(self, value: str) -> list[str]:
        raise NotImplementedError

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if not isinstance(value, str):
            yield from super().index(value, **kwargs)
            return
        fmt = self.format
        boost = fmt.field_boost
        terms = self.terms(value)
        if fmt.supports("positions"):
            positions: defaultdict[str, list[int]] = defaultdict(list)
            for pos, term in enumerate(terms):
                positions[term].append(pos)
            encode = fmt.encode
            for term, poslist in positions.items():
                freq = len(poslist)
                yield term.encode("utf-8"), freq, freq * boost, encode(poslist)
        else:
            for term, freq in Counter(terms).items():
                yield term.encode("utf-8"), freq, freq * boost, pack_uint(freq)


class WordsField(_TermsField):
    """Text analysed by `WordTokenizer` (content, title, author, subject)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(analyzer=WordTokenizer(), **kwargs)

    def terms(self, value: str) -> list[str]:
        return words(value)


class IdentField(_TermsField):
    """Identifiers kept whole (`IdentTokenizer`)."""

    def __init__(self) -> None:
        super().__init__(analyzer=IdentTokenizer(), phrase=False)

    def terms(self, value: str) -> list[str]:
        return list(identifiers(value))


def build_schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True, sortable=True),
        content=WordsField(phrase=True, multitoken_query="phrase"),
        title=WordsField(phrase=True, field_boost=2.0, multitoken_query="phrase"),
        ident=IdentField(),
        author=WordsField(phrase=True),
        subject=WordsField(phrase=True),
        **{"from": TEXT(analyzer=AddressTokenizer(), phrase=False)},
        to=TEXT(analyzer=AddressTokenizer(), phrase=False),
        cc=TEXT(analyzer=AddressTokenizer(), phrase=False),
        path=TEXT(analyzer=PathTokenizer(), phrase=True),
        type=ID(sortable=True),
        state=ID(sortable=True),
        sha256=ID,
        folder=ID(sortable=True),
        year=ID(sortable=True),
        name=ID(sortable=True),
        date=DATETIME,
        imported=DATETIME,
        sortdate=ID(sortable=True),  # ISO text, "" when undated: sorts without datetime overflow
        **{name: ID for name in STORE_FIELDS},
    )


@dataclass(frozen=True)
class IndexDoc:
    """Everything the index needs about one document (built by the app from the case store)."""

    id: int
    content: str
    title: str
    doc_type: str
    state: str
    sha256: str
    paths: tuple[str, ...]
    folder: str
    author: str = ""
    subject: str = ""
    sender: str = ""
    to: str = ""
    cc: str = ""
    date: datetime | None = None
    imported: datetime | None = None

    def fields(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": str(self.id),
            "content": self.content,
            "title": self.title,
            "ident": self.content,
            "type": self.doc_type or "unknown",
            "state": self.state,
            "sha256": self.sha256,
            "path": "\n".join(self.paths),
            "folder": self.folder,
            "name": self.title.casefold()[:200] or "~",
            "year": str(self.date.year) if self.date else "none",
            "sortdate": self.date.isoformat() if self.date else "",
        }
        for key, value in (
            ("author", self.author),
            ("subject", self.subject),
            ("from", self.sender),
            ("to", self.to),
            ("cc", self.cc),
        ):
            if value:
                out[key] = value
        if self.date:
            out["date"] = self.date
        if self.imported:
            out["imported"] = self.imported
        return out
