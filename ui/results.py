"""The results list's data: pages of search hits fetched lazily on the search lane.

`ResultsModel` never holds more rows than the view has scrolled to: the first page (with facets) comes when a
search starts, further pages when the view asks (`canFetchMore`/`fetchMore`), each by
`search(..., offset=len(rows))` on a background lane. 100,000 results cost one page of rows until scrolled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from app.review.service import ReviewService, TagInfo
from app.search import Hit, SearchService
from ui.errors import user_message
from ui.tasks import Tasks

log = logging.getLogger(__name__)

PAGE_SIZE = 50
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class SearchRequest:
    """One search as the reporter set it up: query text, facet filters and sort order."""

    text: str = ""
    filters: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    sort: str = "relevance"

    def search_filters(self) -> dict[str, list[Any]]:
        return {name: list(values) for name, values in self.filters.items() if values}


@dataclass(frozen=True)
class ResultRow:
    hit: Hit
    tags: tuple[TagInfo, ...]
    review_status: str


@dataclass(frozen=True)
class ResultPage:
    request: SearchRequest
    offset: int
    total: int
    rows: list[ResultRow]
    facets: dict[str, dict[str, int]]
    took_ms: float


class ResultSource:
    """Fetches pages of hits together with each hit's tags (called on the search lane)."""

    def __init__(self, search: SearchService, review: ReviewService) -> None:
        self.search = search
        self.review = review

    def page(self, request: SearchRequest, offset: int, limit: int, with_facets: bool) -> ResultPage:
        results = self.search.search(
            request.text,
            limit=limit,
            offset=offset,
            sort=request.sort,
            facets=with_facets,
            filters=request.search_filters(),
        )
        rows = [ResultRow(h, tuple(self.review.tags_of(h.id)), h.review_status) for h in results.hits]
        return ResultPage(request, offset, results.total, rows, results.facets, results.took_ms)

    def review_state(self, doc_ids: list[int]) -> dict[int, tuple[tuple[TagInfo, ...], str]]:
        """Current tags and review status of a few documents (after a review action)."""
        out = {}
        for doc_id in doc_ids:
            try:
                out[doc_id] = (tuple(self.review.tags_of(doc_id)), self.review.status_of(doc_id))
            except LookupError:
                continue
        return out


class ResultsModel(QAbstractListModel):
    """Rows of search hits, loaded a page at a time; `search()` starts over, the view pulls more."""

    page_loaded = Signal(object)  # ResultPage: the first page (total, facets, timing) of a search
    failed = Signal(str)  # a one-line message (a malformed query, say)
    busy_changed = Signal(bool)

    def __init__(self, source: ResultSource, tasks: Tasks, parent: Any = None) -> None:
        super().__init__(parent)
        self.source = source
        self.tasks = tasks
        self.request = SearchRequest()
        self.total = 0
        self._rows: list[ResultRow] = []
        self._row_of: dict[int, int] = {}
        self._generation = 0
        self._fetching = False
        self._busy = False

    # -- searching ---------------------------------------------------------------------------------
    def search(self, request: SearchRequest) -> None:
        """Start `request` over: the current rows stay until the first page of the new one arrives."""
        self._generation += 1
        generation = self._generation
        self.request = request
        self._fetching = True
        self._set_busy(True)
        self.tasks.run(
            "search",
            lambda: self.source.page(request, 0, PAGE_SIZE, True),
            lambda page, error: self._first_page(generation, page, error),
            supersede="results",
        )

    def refresh(self) -> None:
        self.search(self.request)

    def _first_page(self, generation: int, page: ResultPage | None, error: BaseException | None) -> None:
        if generation != self._generation:
            return
        self._fetching = False
        self._set_busy(False)
        if error is not None or page is None:
            self.failed.emit(_message(error))
            return
        self.beginResetModel()
        self._rows = list(page.rows)
        self._row_of = {r.hit.id: i for i, r in enumerate(self._rows)}
        self.total = page.total
        self.endResetModel()
        self.page_loaded.emit(page)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008 - Qt's signature
        return not parent.isValid() and not self._fetching and len(self._rows) < self.total

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008 - Qt's signature
        if not self.canFetchMore(parent):
            return
        self._fetching = True
        generation, request, offset = self._generation, self.request, len(self._rows)
        self.tasks.run(
            "search",
            lambda: self.source.page(request, offset, PAGE_SIZE, False),
            lambda page, error: self._more(generation, offset, page, error),
        )

    def _more(
        self, generation: int, offset: int, page: ResultPage | None, error: BaseException | None
    ) -> None:
        if generation != self._generation:
            return
        self._fetching = False
        if error is not None or page is None:
            self.failed.emit(_message(error))
            return
        if offset != len(self._rows):
            return
        rows = [r for r in page.rows if r.hit.id not in self._row_of]  # the index may move under us
        if not rows:
            self.total = len(self._rows)  # nothing more to show: stop asking
            return
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
        for r in rows:
            self._row_of[r.hit.id] = len(self._rows)
            self._rows.append(r)
        self.endInsertRows()

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    @property
    def busy(self) -> bool:
        return self._busy

    # -- review state of shown rows ----------------------------------------------------------------
    def refresh_review(self, doc_ids: list[int]) -> None:
        """Re-read tags and status of the given documents where they are shown (a small read)."""
        shown = [i for i in doc_ids if i in self._row_of]
        if not shown:
            return
        for doc_id, (tags, status) in self.source.review_state(shown).items():
            row = self._row_of[doc_id]
            self._rows[row] = replace(self._rows[row], tags=tags, review_status=status)
            index = self.index(row)
            self.dataChanged.emit(index, index)

    # -- Qt model ----------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.hit.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(row.hit.paths[:5]) or row.hit.title
        if role == ROW_ROLE:
            return row
        if role == ID_ROLE:
            return row.hit.id
        return None

    def row_at(self, row: int) -> ResultRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, doc_id: int) -> int | None:
        return self._row_of.get(doc_id)

    def ids(self) -> list[int]:
        return [r.hit.id for r in self._rows]


def _message(error: BaseException | None) -> str:
    if error is None:
        return "the search returned nothing"
    message = user_message(error)
    if message is None:
        log.error("search failed", exc_info=error)
        return f"the search failed: {type(error).__name__}: {error}"
    return message
