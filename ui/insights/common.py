"""Small pieces the insights windows share: the search term for an entity, the documents of the current
results, and turning expected errors into one line."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from app.insights.batch import BatchError
from app.insights.graph import GraphError
from app.insights.service import SEARCH_FIELDS, InsightsError
from app.search import SearchService
from ui.errors import user_message

KIND_LABELS = {
    "person": "Person",
    "org": "Organisation",
    "company": "Company",
    "place": "Place",
    "email": "Email address",
    "phone": "Phone number",
    "iban": "IBAN",
    "bic": "BIC",
    "money": "Amount",
    "date": "Date",
    "url": "URL",
    "ip": "IP address",
    "reference": "Reference",
}
PAGE = 5_000
# Called on the main thread, returns the work (run on a lane) that lists the current results' documents
# (None: the whole case).
ScopeIds = Callable[[], Callable[[], "list[int] | None"]]
_DATED = re.compile(r"(?:^|\s)dated:\S+")
_OR = re.compile(r"\bOR\b")


def known_message(exc: BaseException) -> str | None:
    """The reporter's one line for an expected error (a refused correction, a bad file), else None."""
    if isinstance(exc, InsightsError | GraphError | BatchError):
        return str(exc)
    return user_message(exc)


def entity_query(kind: str, name: str, value: str = "") -> str:
    """The search that finds an entity's documents: `company:"Panda International"`, `dated:2001-05-14`."""
    if kind == "date":
        return f"dated:{value or name}"
    field = kind if kind in SEARCH_FIELDS else "entity"
    text = " ".join((name or value).replace('"', " ").split())
    return f'{field}:"{text}"'


def with_dated(query: str, term: str) -> str:
    """`query` with its time-line term (`dated:…`) replaced by `term`."""
    rest = _DATED.sub(" ", query or "").strip()
    if not rest or rest == "*":
        return term
    if _OR.search(rest) and not _enclosed(rest):
        rest = f"({rest})"  # `a OR b dated:…` would date only b
    return f"{rest} {term}"


def result_ids(
    search: SearchService, text: str, filters: dict[str, Sequence[Any]] | None
) -> list[int] | None:
    """Every document of the current results, or None when they are the whole case."""
    text = (text or "").strip()
    if not filters:
        return None if text in ("", "*") else search.matching_ids(text)
    ids: list[int] = []
    offset = 0
    while True:
        page = search.search(
            text, limit=PAGE, offset=offset, facets=False, snippets=False, filters=dict(filters)
        )
        ids.extend(h.id for h in page.hits)
        offset += PAGE
        if offset >= page.total or not page.hits:
            return sorted(set(ids))


def _enclosed(query: str) -> bool:
    """Whether one pair of parentheses holds the whole query: `(a OR b)`, not `(a) OR (b)`."""
    if not (query.startswith("(") and query.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(query):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(query) - 1:
            return False
    return True
