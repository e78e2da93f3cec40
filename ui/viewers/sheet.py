"""The spreadsheet viewer: a grid per sheet (tabs below, as in a spreadsheet), hit cells marked and selectable.

A sheet's cells are read on the io lane when its tab is first shown (`DocumentService.cells`); the grid is a
sparse model over them. The hit cell the search reported is selected and scrolled to; `next_hit` and
`previous_hit` walk the matching cells of the sheet, then of the next sheet that has any.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTabBar, QTableView, QVBoxLayout, QWidget

from app.documents import DocumentDetail, DocumentService
from app.extract.base import column_letters
from ui.highlight import HitFinder
from ui.tasks import Tasks
from ui.theme import accent_colors
from ui.viewers.base import Anchor, Viewer, step

log = logging.getLogger(__name__)

MAX_SHOWN_CHARS = 1000
_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def parse_cell(ref: str) -> tuple[int, int] | None:
    """ "C14" (or "Sheet1!C14") → (row 14, column 3), 1-based; None when it is not a cell reference."""
    m = _CELL.match(ref.rsplit("!", 1)[-1].strip())
    if not m:
        return None
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + (ord(ch) - 64)
    return int(m.group(2)), col


@dataclass(frozen=True)
class SheetData:
    """One sheet's non-empty cells and the ones matching the query, in reading order."""

    cells: dict[tuple[int, int], str]
    rows: int
    cols: int
    hits: list[tuple[int, int]]


def load_sheet(documents: DocumentService, doc_id: int, ordinal: int, finder: HitFinder) -> SheetData:
    """Read a sheet and find its hit cells (runs on the io lane)."""
    cells = {(r, c): t for r, c, t in documents.cells(doc_id, ordinal)}
    rows = max((r for r, _ in cells), default=0)
    cols = max((c for _, c in cells), default=0)
    hits = sorted(rc for rc, text in cells.items() if finder.matches(text)) if finder else []
    return SheetData(cells, rows, cols, hits)


class SheetModel(QAbstractTableModel):
    """A sparse grid over a sheet's cells; headers are column letters and row numbers."""

    def __init__(self, data: SheetData, parent: Any = None) -> None:
        super().__init__(parent)
        self.sheet = data
        self._hits = set(data.hits)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else max(self.sheet.rows, 1)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else max(self.sheet.cols, 1)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        key = (index.row() + 1, index.column() + 1)
        if role == Qt.ItemDataRole.DisplayRole:
            text = self.sheet.cells.get(key)
            if text is None:
                return None
            return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…"
        if role == Qt.ItemDataRole.ToolTipRole:
            text = self.sheet.cells.get(key, "")
            return text if len(text) > 40 else None
        if role == Qt.ItemDataRole.BackgroundRole and key in self._hits:
            return accent_colors().mark
        if role == Qt.ItemDataRole.ForegroundRole and key in self._hits:
            return accent_colors().mark_text
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        return column_letters(section + 1) if orientation == Qt.Orientation.Horizontal else str(section + 1)


class SheetViewer(Viewer):
    """Sheets as tabs under one grid; the hit cell is selected and centred."""

    def __init__(self, documents: DocumentService, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.documents = documents
        self.tasks = tasks
        self.table = QTableView(self)
        self.table.setObjectName("sheetGrid")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setDefaultSectionSize(110)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.tabs = QTabBar(self)
        self.tabs.setObjectName("sheetTabs")
        self.tabs.setShape(QTabBar.Shape.RoundedSouth)
        self.tabs.setDocumentMode(True)
        self.tabs.setExpanding(False)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.empty = QLabel("This sheet is empty.", self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.tabs)
        self.doc_id = 0
        self.finder = HitFinder()
        self.sheets: list[dict[str, Any]] = []  # the sheet parts: ordinal, label, text
        self.loaded: dict[int, SheetData] = {}  # tab index → data
        self._loading: set[int] = set()
        self.current_hit = -1
        self._pending_cell: tuple[int, int] | None = None
        self._pending_hit: int | None = None  # select the first (0) or last (-1) hit once loaded
        self._generation = 0

    # -- Viewer ------------------------------------------------------------------------------------
    def show_document(
        self, detail: DocumentDetail, finder: HitFinder, location: dict[str, Any] | None
    ) -> None:
        self._generation += 1
        self.doc_id, self.finder = detail.summary.id, finder
        self.sheets = [p for p in detail.parts if p["kind"] == "sheet"]
        self.loaded.clear()
        self._loading.clear()
        self.current_hit = -1
        self._pending_cell, self._pending_hit = None, None
        self.tabs.blockSignals(True)
        while self.tabs.count():
            self.tabs.removeTab(0)
        for part in self.sheets:
            index = self.tabs.addTab(str(part["label"]))
            if finder.matches(part["text"] or ""):
                self.tabs.setTabToolTip(index, "has hits")
        self.tabs.blockSignals(False)
        start = 0
        if location and location.get("kind") == "cell":
            start = next((i for i, p in enumerate(self.sheets) if p["label"] == location.get("sheet")), 0)
            self._pending_cell = parse_cell(str(location.get("cell", "")))
        else:
            self._pending_hit = 0
            start = next((i for i, p in enumerate(self.sheets) if finder.matches(p["text"] or "")), 0)
        if self.tabs.currentIndex() == start:
            self._tab_changed(start)
        else:
            self.tabs.setCurrentIndex(start)

    def next_hit(self) -> None:
        self._step(+1)

    def previous_hit(self) -> None:
        self._step(-1)

    def anchor(self) -> Anchor:
        index = self.table.currentIndex()
        sheet = self.current_sheet()
        if not index.isValid() or sheet is None:
            return Anchor()
        return Anchor(cell=DocumentService.cell_ref(sheet, index.row() + 1, index.column() + 1))

    def go_to(self, anchor: Anchor) -> None:
        if not anchor.cell:
            return
        sheet_name = anchor.cell.rsplit("!", 1)[0] if "!" in anchor.cell else self.current_sheet()
        tab = next(
            (i for i, p in enumerate(self.sheets) if p["label"] == sheet_name), self.tabs.currentIndex()
        )
        self._pending_cell = parse_cell(anchor.cell)
        if tab == self.tabs.currentIndex() and tab in self.loaded:
            self._apply_pending()
        else:
            self.tabs.setCurrentIndex(tab)

    def current_sheet(self) -> str | None:
        index = self.tabs.currentIndex()
        return str(self.sheets[index]["label"]) if 0 <= index < len(self.sheets) else None

    def selected_cell(self) -> str | None:
        """The selected cell as "Sheet!A1" (tests and notes)."""
        anchor = self.anchor()
        return anchor.cell

    # -- sheets ------------------------------------------------------------------------------------
    def _tab_changed(self, index: int) -> None:
        if not (0 <= index < len(self.sheets)):
            self.table.setModel(None)
            return
        self.current_hit = -1
        if index in self.loaded:
            self._show_sheet(index)
            return
        if index in self._loading:
            return
        self._loading.add(index)
        generation, ordinal, doc_id, finder = (
            self._generation,
            self.sheets[index]["ordinal"],
            self.doc_id,
            self.finder,
        )
        self.status_message.emit(f"Loading sheet {self.sheets[index]['label']}…")

        def done(data: SheetData | None, error: BaseException | None) -> None:
            if generation != self._generation:
                return
            self._loading.discard(index)
            if error is not None or data is None:
                self.status_message.emit(f"the sheet could not be read: {error}")
                return
            self.loaded[index] = data
            if self.tabs.currentIndex() == index:
                self._show_sheet(index)

        self.tasks.run("io", lambda: load_sheet(self.documents, doc_id, ordinal, finder), done)

    def _show_sheet(self, index: int) -> None:
        data = self.loaded[index]
        old = self.table.model()
        self.table.setModel(SheetModel(data, self.table))
        if old is not None:
            old.deleteLater()
        self.table.setVisible(bool(data.cells))
        self.empty.setVisible(not data.cells)
        self.table.selectionModel().currentChanged.connect(lambda *_: self.anchor_changed.emit())
        self.status_message.emit("")
        self._apply_pending()
        self.anchor_changed.emit()

    def _apply_pending(self) -> None:
        data = self.loaded.get(self.tabs.currentIndex())
        if data is None:
            return
        if self._pending_cell is not None:
            cell, self._pending_cell = self._pending_cell, None
            self.current_hit = data.hits.index(cell) if cell in data.hits else -1
            self._select(cell)
            self._emit_hits(data)
        elif self._pending_hit is not None and data.hits:
            which, self._pending_hit = self._pending_hit, None
            self.current_hit = which % len(data.hits)
            self._select(data.hits[self.current_hit])
            self._emit_hits(data)
        else:
            self._pending_hit = None
            self._emit_hits(data)

    def _select(self, cell: tuple[int, int]) -> None:
        model = self.table.model()
        if model is None:
            return
        index = model.index(cell[0] - 1, cell[1] - 1)
        if not index.isValid():
            return
        self.table.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def _step(self, delta: int) -> None:
        tab = self.tabs.currentIndex()
        data = self.loaded.get(tab)
        if data is None:
            return
        moved = self.current_hit + delta
        if data.hits and 0 <= moved < len(data.hits) or (data.hits and self.current_hit < 0):
            self.current_hit = step(self.current_hit, len(data.hits), delta)
            self._select(data.hits[self.current_hit])
            self._emit_hits(data)
            return
        other = self._next_sheet_with_hits(tab, delta)
        if other is None:
            if data.hits:  # only this sheet has hits: wrap around inside it
                self.current_hit = step(self.current_hit, len(data.hits), delta)
                self._select(data.hits[self.current_hit])
                self._emit_hits(data)
            return
        self._pending_hit = 0 if delta > 0 else -1
        self.tabs.setCurrentIndex(other)

    def _next_sheet_with_hits(self, tab: int, delta: int) -> int | None:
        count = len(self.sheets)
        for k in range(1, count):
            i = (tab + delta * k) % count
            if self.finder.matches(self.sheets[i]["text"] or ""):
                return i
        return None

    def _emit_hits(self, data: SheetData) -> None:
        self.hits_changed.emit(self.current_hit + 1 if self.current_hit >= 0 else 0, len(data.hits))
