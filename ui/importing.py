"""Importing from the app: the job (on the job lane, cancellable) and its window (progress, then problems).

`ImportJob.start(paths)` runs `Services.import_paths` on the job lane. The importer's progress callback runs
on that worker thread; it only emits `progress`, which Qt queues to the main thread. Cancel sets the
`threading.Event` the importer watches: it stops dispatching, commits what finished and returns.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.pipeline.importer import ImportOptions, ImportSummary, Progress
from ui.tasks import Tasks

log = logging.getLogger(__name__)

RunImport = Callable[..., ImportSummary]  # Services.import_paths(paths, options, cancel=, on_progress=)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# What the dialog says instead of a time left once every file is extracted.
_PHASE_NOTES = {"analysing": "reading entities…", "finishing": "finishing…"}


class ImportJob(QObject):
    """One import at a time; `progress(Progress)` while it runs, `finished(summary, error)` at the end."""

    started = Signal(list)
    progress = Signal(object)
    finished = Signal(object, object)  # ImportSummary | None, BaseException | None

    def __init__(
        self,
        run_import: RunImport,
        tasks: Tasks,
        options: ImportOptions | None = None,
        parent: QObject | None = None,
        *,
        title: str = "Import",
        verb: str = "Importing",
    ) -> None:
        super().__init__(parent)
        self.title = title  # "Import", "OCR": how its window names the job
        self.verb = verb
        self.run_import = run_import
        self.tasks = tasks
        self.options = options
        self.cancel_event = threading.Event()
        self.running = False
        self.last_progress: Progress | None = None
        self.summary: ImportSummary | None = None
        self.progress.connect(self._remember)

    def start(self, paths: Sequence[Path], options: ImportOptions | None = None) -> None:
        """Import `paths` (with `options`, else the job's own) on the job lane."""
        if self.running:
            raise RuntimeError("an import is already running")
        self.running = True
        self.summary = None
        self.last_progress = None
        self.cancel_event = threading.Event()
        cancel, chosen, chosen_options = self.cancel_event, [Path(p) for p in paths], options or self.options

        def work() -> ImportSummary:
            return self.run_import(chosen, chosen_options, cancel=cancel, on_progress=self.progress.emit)

        self.started.emit(chosen)
        self.tasks.run("job", work, self._done)

    def cancel(self) -> None:
        self.cancel_event.set()

    def _remember(self, progress: Progress) -> None:
        self.last_progress = progress

    def _done(self, summary: ImportSummary | None, error: BaseException | None) -> None:
        self.running = False
        self.summary = summary
        self.finished.emit(summary, error)


class ImportDialog(QDialog):
    """Files, rate, ETA and the current file while an import runs; the problems list when it ends."""

    open_document = Signal(int)

    def __init__(self, job: ImportJob, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setObjectName("importDialog")
        self.setWindowTitle(job.title)
        self.setModal(False)
        self.heading = QLabel(self)
        self.heading.setObjectName("importHeading")
        self.heading.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("importProgress")
        self.bar.setTextVisible(True)
        self.files = QLabel("—", self)
        self.files.setObjectName("importFiles")
        self.counts = QLabel("—", self)
        self.rate = QLabel("—", self)
        self.eta = QLabel("—", self)
        self.current = QLabel("—", self)
        self.current.setObjectName("importCurrent")
        self.current.setTextFormat(Qt.TextFormat.PlainText)
        self.current.setMinimumWidth(420)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Files:", self.files)
        form.addRow("Found:", self.counts)
        form.addRow("Rate:", self.rate)
        form.addRow("Time left:", self.eta)
        form.addRow("Now reading:", self.current)
        self.problems_label = QLabel(self)
        self.problems = QTreeWidget(self)
        self.problems.setObjectName("importProblems")
        self.problems.setHeaderLabels(["File", "Status", "Reason"])
        self.problems.setRootIsDecorated(False)
        self.problems.setUniformRowHeights(True)
        self.problems.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.problems.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.problems.header().resizeSection(0, 320)
        self.problems.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.problems.itemActivated.connect(self._open_problem)
        self.problems_label.hide()
        self.problems.hide()
        self.buttons = QDialogButtonBox(self)
        self.cancel_button = QPushButton(
            "Cancel import" if job.title == "Import" else f"Stop {job.title}", self
        )
        self.cancel_button.setObjectName("cancelImport")
        self.cancel_button.clicked.connect(self._cancel)
        self.close_button = QPushButton("Close", self)
        self.close_button.setObjectName("closeImport")
        self.close_button.clicked.connect(self.accept)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        layout.addWidget(self.bar)
        layout.addLayout(form)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.buttons)
        self.resize(640, 300)
        job.started.connect(self._started)
        job.progress.connect(self.show_progress)
        job.finished.connect(self.show_result)
        if job.running:
            self._started([])

    def _started(self, paths: list[Path]) -> None:
        what = ", ".join(p.name or str(p) for p in paths[:3]) + (
            f" and {len(paths) - 3} more" if len(paths) > 3 else ""
        )
        self.heading.setText(
            f"<b>{self.job.verb} {what or 'files'}</b><br>You can keep working while it runs."
        )
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self.close_button.setText("Hide")
        self.problems.clear()
        self.problems.hide()
        self.problems_label.hide()

    def show_progress(self, p: Progress) -> None:
        if p.phase == "discovering" or p.files_total == 0:
            self.bar.setRange(0, 0)
            self.files.setText(f"looking for files… {p.files_total:,} so far")
        else:
            self.bar.setRange(0, p.files_total)
            self.bar.setValue(min(p.files_done, p.files_total))
            self.files.setText(f"{p.files_done:,} of {p.files_total:,}")
        self.counts.setText(f"{p.documents_new:,} new · {p.duplicates:,} duplicates · {p.failed:,} problems")
        self.rate.setText(
            f"{p.rate:,.1f} files/s · {_size(p.bytes_done / p.elapsed if p.elapsed > 0 else 0)}/s"
        )
        self.eta.setText(_PHASE_NOTES.get(p.phase) or duration(p.eta))
        self.current.setText(
            self.current.fontMetrics().elidedText(
                p.current or "—", Qt.TextElideMode.ElideMiddle, max(200, self.current.width())
            )
        )
        self.current.setToolTip(p.current)

    def show_result(self, summary: ImportSummary | None, error: BaseException | None) -> None:
        self.cancel_button.hide()
        self.close_button.setText("Close")
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        self.eta.setText("—")
        self.current.setText("—")
        if error is not None or summary is None:
            self.heading.setText(
                f"<b>The {self.job.title.lower()} could not run.</b><br>{html.escape(str(error))}"
            )
            return
        state = "stopped; the next import of the same files resumes" if summary.interrupted else "done"
        self.heading.setText(
            f"<b>{self.job.title} {state}</b> in {duration(summary.elapsed)}: {summary.documents:,} documents "
            f"({summary.new:,} new, {summary.duplicates:,} duplicates, {summary.unchanged:,} unchanged), "
            f"{len(summary.failures):,} with problems. The case now holds {summary.case_documents:,} documents."
        )
        if summary.ocr_pages or summary.ocr_cached:
            self.heading.setText(
                self.heading.text()
                + f"<br>Pages read by OCR: {summary.ocr_pages:,} ({summary.ocr_cached:,} more from the OCR cache)."
            )
        self.files.setText(f"{summary.documents:,} documents")
        self.counts.setText(" · ".join(f"{n:,} {status}" for status, n in summary.by_status.items()) or "—")
        self.show_problems(summary.failures)

    def show_problems(self, failures: list[dict[str, Any]]) -> None:
        self.problems.clear()
        for failure in failures:
            item = QTreeWidgetItem(
                [str(failure.get("path", "")), str(failure.get("status", "")), str(failure.get("reason", ""))]
            )
            item.setToolTip(0, str(failure.get("path", "")))
            item.setToolTip(2, str(failure.get("reason", "")))
            item.setData(0, Qt.ItemDataRole.UserRole, failure.get("id"))
            self.problems.addTopLevelItem(item)
        self.problems_label.setText(
            f"<b>Problems ({len(failures)})</b> — double-click one to open it" if failures else "No problems."
        )
        self.problems_label.show()
        self.problems.setVisible(bool(failures))
        if failures:
            self.resize(max(self.width(), 820), max(self.height(), 520))

    def _cancel(self) -> None:
        self.job.cancel()
        self.cancel_button.setEnabled(False)
        self.heading.setText("<b>Stopping…</b> what was read so far is kept.")

    def _open_problem(self, item: QTreeWidgetItem) -> None:
        doc_id = item.data(0, Qt.ItemDataRole.UserRole)
        if doc_id:
            self.open_document.emit(int(doc_id))


def _size(rate: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if rate < 1024 or unit == "GB":
            return f"{rate:,.0f} {unit}" if unit == "B" else f"{rate:,.1f} {unit}"
        rate /= 1024
    return f"{rate:.1f} GB"


class ProblemsDialog(QDialog):
    """Every document of the case that failed or was skipped, with its reason; double-click opens one."""

    open_document = Signal(int)

    def __init__(self, problems: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("problemsDialog")
        self.setWindowTitle("Problems")
        heading = QLabel(
            f"<b>{len(problems):,} documents could not be read fully.</b> Their originals are kept; "
            "the reason says why.",
            self,
        )
        heading.setWordWrap(True)
        self.table = QTreeWidget(self)
        self.table.setHeaderLabels(["File", "Type", "Status", "Reason"])
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.header().resizeSection(0, 330)
        for doc in problems:
            path = doc.paths[0] if doc.paths else doc.title
            item = QTreeWidgetItem([path, doc.type, doc.status, doc.reason])
            item.setToolTip(0, path)
            item.setToolTip(3, doc.reason)
            item.setData(0, Qt.ItemDataRole.UserRole, doc.id)
            self.table.addTopLevelItem(item)
        self.table.itemActivated.connect(self._open)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(860, 480)

    def _open(self, item: QTreeWidgetItem) -> None:
        doc_id = item.data(0, Qt.ItemDataRole.UserRole)
        if doc_id:
            self.open_document.emit(int(doc_id))
