"""What searching does: query + facet filters + sort → the results model; history; errors; opening a hit.

The controller joins the search bar, the facet panel and the results list, none of which know each other.
Opening a result asks for the document with the query's `HitFinder` and the hit's first location, so the
viewer can start on the page or cell the search found.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QObject, Signal
from PySide6.QtWidgets import QListView

from app.search import FACET_FIELDS, SearchService
from ui.facets import FacetPanel
from ui.highlight import HitFinder
from ui.results import ResultPage, ResultsModel, SearchRequest
from ui.search_bar import SearchBar
from ui.settings import Settings

log = logging.getLogger(__name__)


class SearchController(QObject):
    """Runs searches from the bar and the facets; `open_requested(doc_id, finder, location)` on a result."""

    open_requested = Signal(int, object, object)  # doc id, HitFinder, location dict | None
    searched = Signal(object)  # ResultPage of the first page (tests wait on it)

    def __init__(
        self,
        search: SearchService,
        model: ResultsModel,
        bar: SearchBar,
        facets: FacetPanel,
        view: QListView,
        settings: Settings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.search_service = search
        self.model = model
        self.bar = bar
        self.facets = facets
        self.view = view
        self.settings = settings
        self.finder = HitFinder()
        self._last_opened: tuple[int, HitFinder] | None = None
        bar.submitted.connect(self.submit)
        bar.sort_changed.connect(lambda _s: self.run())
        facets.filters_changed.connect(lambda _f: self.run())
        model.page_loaded.connect(self._loaded)
        model.failed.connect(self._failed)
        view.activated.connect(lambda index: self.open_row(index.row()))
        view.clicked.connect(lambda index: self.open_row(index.row()))

    # -- searching ---------------------------------------------------------------------------------
    def submit(self, text: str) -> None:
        """A query the reporter entered: remember it, then run it."""
        self.settings.remember_search(text)
        self.bar.set_history(self.settings.search_history())
        self.run()

    def run(self) -> None:
        """(Re)run the search as the bar and the facets now say."""
        text = self.bar.text().strip()
        request = SearchRequest(text=text, filters=self.facets.filters(), sort=self.bar.sort_value())
        self.finder = HitFinder.for_query(self.search_service, text)
        self.bar.show_error(None)
        self.bar.show_summary("Searching…")
        self.model.search(request)

    def _loaded(self, page: ResultPage) -> None:
        self.facets.show_facets(page.facets, self.filterable())
        total = page.total
        what = "document" if total == 1 else "documents"
        scope = " matching" if page.request.text or page.request.filters else " in the case"
        self.bar.show_summary(f"{total:,} {what}{scope} · {page.took_ms:,.0f} ms")
        self.searched.emit(page)

    def filterable(self) -> set[str]:
        """The facet names the search service accepts as filters."""
        return set(FACET_FIELDS) | set(self.search_service.store_resolvers) | {"problems"}

    def _failed(self, message: str) -> None:
        self.bar.show_error(message)
        self.bar.show_summary("")

    # -- results -----------------------------------------------------------------------------------
    def open_row(self, row: int) -> None:
        result = self.model.row_at(row)
        if result is None:
            return
        if self._last_opened == (result.hit.id, self.finder):
            return  # a click that also activates: open once
        self._last_opened = (result.hit.id, self.finder)
        location = primary_location(result.hit.locations)
        self.open_requested.emit(result.hit.id, self.finder, location)

    def step(self, delta: int) -> None:
        """Select and open the next (+1) or previous (-1) result; fetches more rows at the end."""
        count = self.model.rowCount()
        if not count:
            return
        current = self.view.currentIndex().row()
        row = 0 if current < 0 else max(0, min(count - 1, current + delta))
        if row == count - 1 and self.model.canFetchMore():
            self.model.fetchMore()
        index = self.model.index(row)
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.view.scrollTo(index)
        if row != current:
            self.open_row(row)

    def selected_ids(self) -> list[int]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        return [r.hit.id for r in (self.model.row_at(row) for row in rows) if r is not None]

    def select_document(self, doc_id: int) -> None:
        """Make the row of `doc_id` current, if it is loaded (a document opened by a link, say)."""
        self._last_opened = (doc_id, self.finder)
        row = self.model.row_of(doc_id)
        if row is not None:
            index = self.model.index(row)
            self.view.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            self.view.scrollTo(index)
        else:
            self.view.selectionModel().clearSelection()

    def set_query(self, text: str, **_: Any) -> None:
        self.bar.set_text(text)
        self.submit(text)


def primary_location(locations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The hit location to open at: the first page or cell, else the first of any kind."""
    return next(
        (loc for loc in locations if loc.get("kind") in ("page", "cell")), locations[0] if locations else None
    )
