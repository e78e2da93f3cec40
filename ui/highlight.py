"""Where a query's words are in a text: the same needles the search service marks in its snippets.

`HitFinder.for_query(search, text)` compiles the query's needles once; `spans(text)` then gives the matched
character ranges of any text (accent- and case-folded, so `resume` finds `Résumé`). Viewers use it to mark
hits on PDF pages, in sheet cells and in plain text. `snippet_segments()` splits a `<mark>` snippet.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass

from app.search import QueryError, SearchService
from index.analysis import fold
from index.query import needle_patterns

log = logging.getLogger(__name__)

MAX_SPANS = 5000
_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


@dataclass(frozen=True)
class HitFinder:
    """Matches a compiled needle pattern against folded text; an empty finder matches nothing."""

    pattern: re.Pattern[str] | None = None

    @classmethod
    def for_query(cls, search: SearchService, query: str) -> HitFinder:
        text = query.strip()
        if not text or text == "*":
            return cls()
        try:
            return cls(needle_patterns(search.parser.parse(text)))
        except QueryError:
            return cls()

    def __bool__(self) -> bool:
        return self.pattern is not None

    def spans(self, text: str, limit: int = MAX_SPANS) -> list[tuple[int, int]]:
        if self.pattern is None or not text:
            return []
        out = []
        for m in self.pattern.finditer(fold(text)):
            if m.end() > m.start():
                out.append((m.start(), m.end()))
                if len(out) >= limit:
                    break
        return out

    def matches(self, text: str) -> bool:
        return self.pattern is not None and bool(text) and self.pattern.search(fold(text)) is not None


def snippet_segments(snippet: str) -> list[tuple[str, bool]]:
    """Split an escaped snippet with `<mark>` tags into (plain text, is_marked) pieces."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in _MARK.finditer(snippet):
        if m.start() > pos:
            out.append((html.unescape(snippet[pos : m.start()]), False))
        out.append((html.unescape(m.group(1)), True))
        pos = m.end()
    if pos < len(snippet):
        out.append((html.unescape(snippet[pos:]), False))
    return out
