"""Batch search in the app: a terms CSV in (the `batch-search` command's format), one row per term out.

The batch runs on the job lane through `app.insights.batch.batch_search`, a row appearing as each term is
done; Stop ends it after the current term. Double-clicking a row opens its results in the workspace (its
query); Save Report… writes the same CSV as the command.
"""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.insights.batch import BatchResult, BatchTerm, batch_search, read_terms, write_report
from app.services import Services
from ui.insights.common import known_message
from ui.tasks import Tasks

log = logging.getLogger(__name__)

COLUMNS = ("Term", "Documents", "Hits", "With family", "Query / problem")
RESULT_ROLE = Qt.ItemDataRole.UserRole + 1


class BatchSearchDialog(QDialog):
    """Load terms, run them with progress, list counts per term, open a term's results, save the report."""

    search_requested = Signal(str)
    finished_batch = Signal(list)  # list[BatchResult] (tests wait on it)

    def __init__(
        self, services: Services, tasks: Tasks, default_folder: Path, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.default_folder = default_folder
        self.terms: list[BatchTerm] = []
        self.terms_path: Path | None = None
        self.results: list[BatchResult] = []
        self.running = False
        self._stop = threading.Event()
        self.setObjectName("batchSearchDialog")
        self.setWindowTitle("Batch Search")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.heading = QLabel(
            "A CSV file with a header row: <code>term</code>, and optionally <code>phrase</code> (yes/no), "
            "<code>fuzzy</code> (1 or 2), <code>proximity</code>, <code>field</code> (title, from, email …) "
            "or <code>query</code> (a full query used as is).",
            self,
        )
        self.heading.setWordWrap(True)
        self.load_button = self._button("Load Terms…", "batchLoad", self.choose_terms)
        self.run_button = self._button("Run", "batchRun", self.run)
        self.stop_button = self._button("Stop", "batchStop", self.stop)
        self.save_button = self._button("Save Report…", "batchSave", self.save_report)
        self.file_label = QLabel("No terms loaded", self)
        self.file_label.setObjectName("batchFile")
        top = QHBoxLayout()
        top.addWidget(self.load_button)
        top.addWidget(self.file_label, 1)
        top.addWidget(self.run_button)
        top.addWidget(self.stop_button)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("batchProgress")
        self.progress.setFormat("%v of %m terms")
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("batchResults")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 220)
        self.table.itemActivated.connect(lambda item: self.open_row(item.row()))  # double-click, Enter
        self.message = QLabel(self)
        self.message.setObjectName("batchMessage")
        self.message.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Double-click a term to see its results in the workspace.", self), 1)
        bottom.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(bottom)
        self.resize(780, 520)
        self._sync()

    def _button(self, text: str, name: str, slot: Any) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.clicked.connect(lambda _c=False: slot())
        return button

    def _sync(self) -> None:
        self.load_button.setEnabled(not self.running)
        self.run_button.setEnabled(bool(self.terms) and not self.running)
        self.stop_button.setEnabled(self.running)
        self.save_button.setEnabled(bool(self.results) and not self.running)

    def _error(self, prefix: str, error: BaseException) -> None:
        message = known_message(error)
        if message is None:
            raise error
        self.message.setText(f"<b style='color:#c92a2a'>{prefix}:</b> {html.escape(message)}")

    # -- terms -------------------------------------------------------------------------------------
    def choose_terms(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Load search terms",
            str(self.default_folder),
            "CSV files (*.csv *.tsv *.txt);;All files (*)",
        )
        if path:
            self.load_terms(Path(path))

    def load_terms(self, path: Path) -> None:
        try:
            terms = read_terms(path)
        except Exception as exc:
            self._error("Not loaded", exc)
            return
        self.terms, self.terms_path = terms, path
        self.results = []
        self.table.setRowCount(0)
        self.progress.setRange(0, len(terms))
        self.progress.setValue(0)
        self.file_label.setText(f"{path.name}: {len(terms):,} term{'s' if len(terms) != 1 else ''}")
        self.message.setText("")
        self._sync()

    # -- running -----------------------------------------------------------------------------------
    def run(self) -> None:
        if not self.terms or self.running:
            return
        self.running = True
        self._stop.clear()
        self.results = []
        self.table.setRowCount(0)
        self.progress.setRange(0, len(self.terms))
        self.progress.setValue(0)
        busy = self.tasks.is_busy("job")
        self.message.setText("Waiting for the running import or index job to end…" if busy else "Searching…")
        self._sync()
        services, terms, stop, tasks = self.services, list(self.terms), self._stop, self.tasks

        def progress(done: int, total: int, result: BatchResult) -> None:
            tasks.run_on_main(lambda: self._add(done, total, result))

        self.tasks.run(
            "job", lambda: batch_search(services, terms, on_result=progress, cancel=stop.is_set), self._done
        )

    def stop(self) -> None:
        if self.running:
            self._stop.set()
            self.message.setText("Stopping after the current term…")

    def _add(self, done: int, total: int, result: BatchResult) -> None:
        if not self.running:
            return
        row = self.table.rowCount()
        self.table.insertRow(row)
        cells = (
            result.term,
            f"{result.documents:,}",
            "" if result.hits is None else f"{result.hits:,}",
            f"{result.documents_with_family:,}",
            result.error or result.query,
        )
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(RESULT_ROLE, result)
            if column in (1, 2, 3):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == 4 and result.error:
                item.setForeground(Qt.GlobalColor.red)
            self.table.setItem(row, column, item)
        self.progress.setValue(done)

    def _done(self, results: list[BatchResult] | None, error: BaseException | None) -> None:
        self.running = False
        self._sync()
        if error is not None:
            self._error("The batch stopped", error)
            return
        self.results = list(results or [])
        self._sync()
        failed = sum(1 for r in self.results if r.error)
        stopped = len(self.results) < len(self.terms)
        self.message.setText(
            f"{'Stopped after' if stopped else 'Ran'} {len(self.results):,} term(s)"
            + (f"; {failed} could not be searched (see their rows)" if failed else "")
        )
        self.finished_batch.emit(self.results)

    # -- rows and report ---------------------------------------------------------------------------
    def result_at(self, row: int) -> BatchResult | None:
        item = self.table.item(row, 0)
        return item.data(RESULT_ROLE) if item is not None else None

    def open_row(self, row: int) -> None:
        result = self.result_at(row)
        if result is not None and result.query and not result.error:
            self.search_requested.emit(result.query)

    def save_report(self) -> None:
        if not self.results:
            return
        start = self.default_folder / (
            f"{self.terms_path.stem}-report.csv" if self.terms_path else "report.csv"
        )
        path, _ = QFileDialog.getSaveFileName(self, "Save the report", str(start), "CSV files (*.csv)")
        if path:
            self.write(Path(path))

    def write(self, path: Path) -> None:
        results = list(self.results)

        def done(written: Path | None, error: BaseException | None) -> None:
            if error is not None:
                self._error("Not saved", error)
                return
            self.message.setText(f"Report saved to {written}")

        self.tasks.run("io", lambda: write_report(path, results), done)
