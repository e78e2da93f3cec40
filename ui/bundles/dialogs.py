"""Export, merge and merge-conflict windows: the app's side of bundles (app/bundle/*, via `Services`).

Exports and merges run on the job lane (they read or write the whole selection); progress callbacks only
emit a signal, which Qt queues to the main thread. A refused bundle (damaged, tampered, not a bundle) or an
export that cannot be written is shown in the window as the service's one-line message.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.bundle.merge import conflict_values, list_conflicts, settle_conflict
from app.services import Services
from ui.bundles.messages import Refused, known_message
from ui.review.panel import STATUSES
from ui.tasks import Tasks

log = logging.getLogger(__name__)

STATUS_LABELS = {status: label for status, label, _ in STATUSES}


class _Progress(QObject):
    """Carries progress from a worker thread to the main thread (queued)."""

    changed = Signal(int, int)


def _browse_row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


# -- export ------------------------------------------------------------------------------------------


class ExportDialog(QDialog):
    """Choose what to export (results, a tag, a query), how (with children, scrubbed, load file), where."""

    finished_export = Signal(object)  # the export report

    def __init__(
        self,
        services: Services,
        tasks: Tasks,
        *,
        selected_ids: list[int],
        current_query: str,
        current_filters: dict[str, list[Any]],
        current_total: int,
        default_folder: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.selected_ids = selected_ids
        self.current_query = current_query
        self.current_filters = current_filters
        self.report: Any = None
        self.running = False
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export Bundle")
        self._progress = _Progress(self)
        self._progress.changed.connect(self._show_progress)

        self.choice = QButtonGroup(self)
        self.selected_radio = QRadioButton(f"The selected results ({len(selected_ids):,})", self)
        self.selected_radio.setObjectName("exportSelected")
        self.selected_radio.setEnabled(bool(selected_ids))
        shown = f"the search {current_query}" if current_query else "every document"
        self.results_radio = QRadioButton(f"All current results ({current_total:,}): {shown}", self)
        self.results_radio.setObjectName("exportResults")
        self.tag_radio = QRadioButton("Documents tagged", self)
        self.tag_radio.setObjectName("exportTag")
        self.tag_box = QComboBox(self)
        self.tag_box.setObjectName("exportTagName")
        self.tag_box.addItems([t.name for t in services.review.list_tags()])
        self.tag_radio.setEnabled(self.tag_box.count() > 0)
        self.query_radio = QRadioButton("Documents matching", self)
        self.query_radio.setObjectName("exportQuery")
        self.query_edit = QLineEdit(self)
        self.query_edit.setObjectName("exportQueryText")
        self.query_edit.setPlaceholderText("a search, e.g. tag:contracts AND date:2017")
        self.query_edit.textEdited.connect(lambda _t: self.query_radio.setChecked(True))
        self.tag_box.activated.connect(lambda _i: self.tag_radio.setChecked(True))
        for button in (self.selected_radio, self.results_radio, self.tag_radio, self.query_radio):
            self.choice.addButton(button)
        (self.selected_radio if len(selected_ids) > 1 else self.results_radio).setChecked(True)

        self.children_box = QCheckBox("Include attachments and archive members", self)
        self.children_box.setObjectName("exportChildren")
        self.scrub_box = QCheckBox(
            "Scrub for publication (remove metadata, burn in redactions; text only where no scrubber exists)",
            self,
        )
        self.scrub_box.setObjectName("exportScrub")
        self.terms_edit = QLineEdit(self)
        self.terms_edit.setObjectName("exportRedactTerms")
        self.terms_edit.setPlaceholderText("also black out these terms (comma-separated)")
        self.terms_edit.setEnabled(False)
        self.scrub_box.toggled.connect(self._scrub_toggled)
        self.loadfile_box = QCheckBox("Concordance load file (a folder with DAT, TEXT and NATIVES)", self)
        self.loadfile_box.setObjectName("exportLoadFile")
        self.loadfile_box.toggled.connect(self._format_toggled)

        self.out_edit = QLineEdit(str(default_folder / "export.dossier.zip"), self)
        self.out_edit.setObjectName("exportPath")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)

        self.bar = QProgressBar(self)
        self.bar.setObjectName("exportProgress")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.summary = QLabel(self)
        self.summary.setObjectName("exportSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings = QListWidget(self)
        self.warnings.setObjectName("scrubWarnings")
        self.warnings.hide()

        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setObjectName("exportStart")
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)

        form = QFormLayout()
        tag_row = QHBoxLayout()
        tag_row.addWidget(self.tag_radio)
        tag_row.addWidget(self.tag_box, 1)
        query_row = QHBoxLayout()
        query_row.addWidget(self.query_radio)
        query_row.addWidget(self.query_edit, 1)
        what = QVBoxLayout()
        for w in (self.selected_radio, self.results_radio):
            what.addWidget(w)
        what.addLayout(tag_row)
        what.addLayout(query_row)
        form.addRow("Export:", what)
        options = QVBoxLayout()
        for w in (self.children_box, self.scrub_box, self.terms_edit, self.loadfile_box):
            options.addWidget(w)
        form.addRow("Options:", options)
        form.addRow("Save to:", _browse_row(self.out_edit, browse))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addWidget(self.summary)
        layout.addWidget(self.warnings, 1)
        layout.addWidget(self.buttons)
        self.resize(680, 420)

    def _scrub_toggled(self, on: bool) -> None:
        self.terms_edit.setEnabled(on)
        if on:
            self.loadfile_box.setChecked(False)

    def _format_toggled(self, on: bool) -> None:
        path = self.out_edit.text().strip()
        if on:
            self.scrub_box.setChecked(False)
            if path.endswith(".dossier.zip"):
                self.out_edit.setText(path[: -len(".dossier.zip")] + "-loadfile")
        elif path and not path.endswith(".zip"):
            self.out_edit.setText(path + ".dossier.zip")
        self.scrub_box.setEnabled(not on)

    def _browse(self) -> None:
        if self.loadfile_box.isChecked():
            chosen = QFileDialog.getExistingDirectory(self, "Folder for the load file", self.out_edit.text())
        else:
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Save the bundle as", self.out_edit.text(), "Dossier bundles (*.dossier.zip *.zip)"
            )
        if chosen:
            self.out_edit.setText(chosen)

    def start(self) -> None:
        if self.running:
            return
        out = self.out_edit.text().strip()
        if not out:
            self._fail("choose where to save the export")
            return
        out_path = Path(out).expanduser()
        loadfile = self.loadfile_box.isChecked()
        with_children = self.children_box.isChecked()
        scrubbed = self.scrub_box.isChecked()
        terms = [t.strip() for t in self.terms_edit.text().split(",") if t.strip()] if scrubbed else []
        # the widgets are read here, on the main thread; the work below only uses these values
        select = self._selection_snapshot()
        services, progress = self.services, self._progress

        def work() -> Any:
            ids = select()
            if not ids:
                raise Refused("nothing to export: the selection is empty")
            if loadfile:
                from app.bundle.loadfile import export_loadfile

                return export_loadfile(services.case, out_path, ids, with_children=with_children)
            return services.export_bundle(
                out_path,
                ids,
                with_children=with_children,
                scrubbed=scrubbed,
                redact_terms=terms,
                on_progress=progress.changed.emit,
            )

        self.running = True
        self.export_button.setEnabled(False)
        self.bar.setRange(0, 0)
        self.summary.setText(
            "Waiting for the import or index job to end…" if self.tasks.is_busy("job") else "Exporting…"
        )
        self.warnings.clear()
        self.warnings.hide()
        self.tasks.run("job", work, self._done)

    def _selection_snapshot(self) -> Callable[[], list[int]]:
        state = {
            "selected": self.selected_radio.isChecked(),
            "tag": self.tag_radio.isChecked(),
            "query": self.query_radio.isChecked(),
        }
        tag, query = self.tag_box.currentText(), self.query_edit.text()

        def select() -> list[int]:
            return _select_from(self.services, state, tag, query, self)

        return select

    def _show_progress(self, done: int, total: int) -> None:
        if not self.running:  # a late report from the worker, after the result
            return
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.summary.setText(f"Exporting… {done:,} of {total:,} documents")

    def _done(self, report: Any, error: BaseException | None) -> None:
        self.running = False
        self.export_button.setEnabled(True)
        self.bar.setRange(0, 1)
        if error is not None:
            message = known_message(error)
            if message is None:
                raise error
            self.bar.setValue(0)
            self._fail(message)
            return
        self.bar.setValue(1)
        self.report = report
        lines = [f"<b>Exported {report.documents:,} document(s)</b> to {html.escape(str(report.path))}"]
        if hasattr(report, "bytes"):
            lines[0] += f" ({report.bytes:,} bytes)"
        if getattr(report, "external_links", 0):
            lines.append(
                f"{report.external_links} link(s) to documents outside the selection kept by SHA-256"
            )
        warnings: list[str] = []
        if getattr(report, "scrubbed", False):
            files = report.scrub_report.get("files", {})
            removed = sum(len(info["removed"]) for info in files.values())
            text_only = sum(1 for info in files.values() if not info["original_exported"])
            lines.append(
                f"Scrubbed: {removed} kind(s) of metadata or content removed across {len(files)} file(s)"
            )
            if text_only:
                lines.append(f"{text_only} file(s) exported as text only (no scrubber for their format)")
            for info in files.values():
                warnings += [f"{info['title']}: {w}" for w in info["warnings"]]
            warnings += list(report.scrub_report.get("warnings", []))
        self.summary.setText("<br>".join(lines))
        if warnings:
            self.warnings.addItems(["⚠ " + w for w in warnings])
            self.warnings.show()
        self.finished_export.emit(report)

    def _fail(self, message: str) -> None:
        self.summary.setText(f"<b style='color:#c92a2a'>Not exported:</b> {html.escape(message)}")


def _select_from(
    services: Services, state: dict[str, bool], tag: str, query: str, dialog: ExportDialog
) -> list[int]:
    search = services.search
    if state["selected"]:
        return list(dialog.selected_ids)
    filters: dict[str, list[Any]] = {}
    if state["tag"]:
        text = f'tag:"{tag}"'
    elif state["query"]:
        text = query.strip()
        if not text:
            raise Refused("type the search whose documents to export")
    else:
        text, filters = dialog.current_query, dialog.current_filters
    search.ensure_index()
    if text and not filters:
        return search.matching_ids(text)
    total = search.search(text, limit=1, facets=False, snippets=False, filters=filters).total
    return [
        h.id
        for h in search.search(text, limit=max(total, 1), facets=False, snippets=False, filters=filters).hits
    ]


# -- merge -------------------------------------------------------------------------------------------


class MergeDialog(QDialog):
    """Choose a bundle, merge it (verified first), then read what changed and any conflicts."""

    merged = Signal(object)  # MergeReport
    show_conflicts = Signal()

    def __init__(
        self, services: Services, tasks: Tasks, *, default_folder: Path, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.default_folder = default_folder
        self.report: Any = None
        self.running = False
        self.setObjectName("mergeDialog")
        self.setWindowTitle("Merge Bundle")
        self._progress = _Progress(self)
        self._progress.changed.connect(self._show_progress)
        intro = QLabel(
            "Every file of the bundle is checked against its manifest first: a damaged or tampered bundle is "
            "refused and nothing changes. Then missing documents are imported and tags, notes, links and "
            "review statuses are merged.",
            self,
        )
        intro.setWordWrap(True)
        self.path_edit = QLineEdit(self)
        self.path_edit.setObjectName("mergePath")
        self.path_edit.setPlaceholderText("a .dossier.zip from a teammate")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        self.bar = QProgressBar(self)
        self.bar.setObjectName("mergeProgress")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.summary = QLabel(self)
        self.summary.setObjectName("mergeSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(self)
        self.merge_button = self.buttons.addButton("Merge", QDialogButtonBox.ButtonRole.ActionRole)
        self.merge_button.setObjectName("mergeStart")
        self.conflicts_button = self.buttons.addButton(
            "Show Conflicts…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.conflicts_button.setObjectName("mergeShowConflicts")
        self.conflicts_button.hide()
        close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.merge_button.clicked.connect(self.start)
        self.conflicts_button.clicked.connect(self.show_conflicts)
        close.clicked.connect(self.reject)
        form = QFormLayout()
        form.addRow("Bundle:", _browse_row(self.path_edit, browse))
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addWidget(self.summary, 1)
        layout.addWidget(self.buttons)
        self.resize(620, 300)

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Merge a bundle", str(self.default_folder), "Dossier bundles (*.dossier.zip *.zip)"
        )
        if chosen:
            self.path_edit.setText(chosen)

    def start(self) -> None:
        if self.running:
            return
        text = self.path_edit.text().strip()
        bundle = Path(text).expanduser() if text else None
        if bundle is None or not bundle.is_file():
            self._fail(f"bundle not found: {text}" if text else "choose the bundle to merge")
            return
        services, progress = self.services, self._progress

        def work() -> Any:
            return services.merge_bundle(
                bundle, on_progress=lambda p: progress.changed.emit(p.files_done, p.files_total)
            )

        self.running = True
        self.merge_button.setEnabled(False)
        self.conflicts_button.hide()
        self.bar.setRange(0, 0)
        waiting = self.tasks.is_busy("job")
        self.summary.setText(
            "Waiting for the import or index job to end…"
            if waiting
            else "Checking the bundle against its manifest…"
        )
        self.tasks.run("job", work, self._done)

    def _show_progress(self, done: int, total: int) -> None:
        if total and self.running:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
            self.summary.setText(f"Importing the documents this case lacks… {done:,} of {total:,}")

    def _done(self, report: Any, error: BaseException | None) -> None:
        self.running = False
        self.merge_button.setEnabled(True)
        self.bar.setRange(0, 1)
        if error is not None:
            message = known_message(error)
            if message is None:
                raise error
            self.bar.setValue(0)
            self._fail(message + " Nothing was changed.")
            return
        self.bar.setValue(1)
        self.report = report
        self.summary.setText(merge_report_html(report))
        self.conflicts_button.setVisible(bool(report.conflicts))
        self.merged.emit(report)

    def _fail(self, message: str) -> None:
        self.summary.setText(f"<b style='color:#c92a2a'>Refused:</b> {html.escape(message)}")


def merge_report_html(report: Any) -> str:
    """What a merge did, for people."""
    who = html.escape(f"{report.bundle} from {report.creator}")
    if not report.changed:
        return f"<b>Nothing to merge:</b> this case already has everything in {who}."
    lines = [
        f"<b>Merged {who}</b>",
        f"{report.documents_added:,} new document(s) ({report.documents_present:,} already here), "
        f"{report.tags_added:,} tag(s), {report.notes_added:,} note(s) (+{report.notes_updated:,} updated), "
        f"{report.links_added:,} link(s), {report.statuses_set:,} review status(es)",
    ]
    if report.links_skipped:
        lines.append(f"{report.links_skipped:,} link(s) point to documents not in this case")
    if report.originals_missing:
        lines.append(
            f"{report.originals_missing:,} document(s) came without their original (scrubbed bundle)"
        )
    if report.conflicts:
        lines.append(
            f"<b>{len(report.conflicts):,} review status conflict(s)</b>: the most recent decision was kept; "
            "Review → Merge Conflicts… lets you choose."
        )
    return "<br>".join(lines)


# -- conflicts ---------------------------------------------------------------------------------------


class ConflictsDialog(QDialog):
    """Open review-status conflicts from merges; keep this case's value or take the bundle's."""

    decided = Signal(list)  # document ids whose status may have changed
    open_document = Signal(int)

    def __init__(self, services: Services, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.conflicts: list[dict[str, Any]] = []
        self.setObjectName("conflictsDialog")
        self.setWindowTitle("Merge Conflicts")
        self.heading = QLabel(self)
        self.heading.setWordWrap(True)
        self.table = QTreeWidget(self)
        self.table.setObjectName("conflictsTable")
        self.table.setHeaderLabels(["Document", "This case", "Bundle", "Now", "From"])
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemActivated.connect(self._open)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.keep_button = QPushButton("Keep Local", self)
        self.keep_button.setObjectName("keepLocal")
        self.keep_button.setToolTip("Keep this case's review status and close the conflict")
        self.take_button = QPushButton("Take Theirs", self)
        self.take_button.setObjectName("takeTheirs")
        self.take_button.setToolTip("Take the bundle's review status and close the conflict")
        self.keep_button.clicked.connect(lambda: self.decide("local"))
        self.take_button.clicked.connect(lambda: self.decide("theirs"))
        buttons = QDialogButtonBox(self)
        buttons.addButton(self.keep_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.take_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close).clicked.connect(self.reject)
        if services.case.read_only:
            self.keep_button.setEnabled(False)
            self.take_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(760, 380)
        self.reload()

    def reload(self) -> None:
        self.conflicts = list_conflicts(self.services.case)
        titles = {}
        for c in self.conflicts:
            try:
                titles[c["document_id"]] = self.services.documents.detail(c["document_id"]).summary.title
            except Exception:  # a deleted document: its id is enough
                titles[c["document_id"]] = f"document {c['document_id']}"
        self.table.clear()
        for c in self.conflicts:
            local, theirs = conflict_values(c)
            item = QTreeWidgetItem(
                [
                    titles[c["document_id"]],
                    STATUS_LABELS.get(local, local),
                    STATUS_LABELS.get(theirs, theirs),
                    STATUS_LABELS.get(c["kept"], c["kept"]),
                    f"{c['bundle']} ({c['bundle_creator']})",
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, c["id"])
            item.setToolTip(0, "Double-click to open the document")
            self.table.addTopLevelItem(item)
        self.heading.setText(
            f"<b>{len(self.conflicts)} open conflict(s).</b> A merge kept the most recent decision; choose "
            "which review status each document should have."
            if self.conflicts
            else "<b>No open conflicts.</b> Merges found no differing review statuses left to decide."
        )
        if self.conflicts:
            self.table.setCurrentItem(self.table.topLevelItem(0))
        self._selection_changed()

    def _selection_changed(self) -> None:
        enabled = bool(self.table.selectedItems()) and not self.services.case.read_only
        self.keep_button.setEnabled(enabled)
        self.take_button.setEnabled(enabled)

    def selected_conflicts(self) -> list[dict[str, Any]]:
        ids = {item.data(0, Qt.ItemDataRole.UserRole) for item in self.table.selectedItems()}
        return [c for c in self.conflicts if c["id"] in ids]

    def decide(self, choice: str) -> None:
        chosen = self.selected_conflicts()
        if not chosen:
            return
        case, reviewer = self.services.case, self.services.review.reviewer

        def work() -> list[int]:
            for c in chosen:
                settle_conflict(case, c["id"], choice, reviewer=reviewer)
            return [c["document_id"] for c in chosen]

        def done(doc_ids: list[int] | None, error: BaseException | None) -> None:
            self.reload()
            if error is not None:
                message = known_message(error)
                if message is None:
                    raise error
                self.heading.setText(f"<b style='color:#c92a2a'>Not decided:</b> {html.escape(message)}")
                return
            self.decided.emit(doc_ids or [])

        self.tasks.run("io", work, done)

    def _open(self, item: QTreeWidgetItem) -> None:
        conflict_id = item.data(0, Qt.ItemDataRole.UserRole)
        for c in self.conflicts:
            if c["id"] == conflict_id:
                self.open_document.emit(int(c["document_id"]))
