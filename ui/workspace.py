"""The workspace of an open case: search bar over facets | results | document | review panel.

It builds the parts for one `CaseSession`, handing each only the services it needs, and joins their signals:
a result opens in the document view and the review panel; links and attachments open other documents; review
actions refresh the rows they touched. Review commands apply to the selected results when several are selected,
otherwise to the open document.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QInputDialog,
    QListView,
    QMenu,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.document_view import DocumentView
from ui.facets import FacetPanel
from ui.highlight import HitFinder
from ui.results import ResultsModel, ResultSource
from ui.results_delegate import ResultDelegate
from ui.review.panel import STATUSES, ReviewPanel
from ui.search_bar import SearchBar
from ui.search_controller import SearchController
from ui.session import CaseSession
from ui.settings import SPLIT_SEARCH, SPLIT_WORKSPACE, Settings

log = logging.getLogger(__name__)


class Workspace(QWidget):
    """Search, results, document and review of one case."""

    status_message = Signal(str)

    def __init__(self, session: CaseSession, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self._restored = False
        services = session.services
        self.bar = SearchBar(settings.search_history(), self)
        self.facets = FacetPanel(self)
        self.model = ResultsModel(ResultSource(services.search, services.review), session.tasks, self)
        self.results = QListView(self)
        self.results.setObjectName("results")
        self.results.setModel(self.model)
        self.results.setItemDelegate(ResultDelegate(self.results))
        self.results.setUniformItemSizes(True)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.results.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.results.customContextMenuRequested.connect(self._results_menu)
        self.document = DocumentView(services.documents, session.originals, session.tasks, parent=self)
        self.review = ReviewPanel(services.review, session.actions, services.search, session.tasks, self)
        self.search = SearchController(
            services.search, self.model, self.bar, self.facets, self.results, settings, self
        )
        self._build()
        self._wire()

    def _build(self) -> None:
        self.search_split = QSplitter(Qt.Orientation.Horizontal, self)
        self.search_split.setObjectName("searchSplit")
        self.search_split.addWidget(self.facets)
        self.search_split.addWidget(self.results)
        self.search_split.setStretchFactor(1, 1)
        self.search_split.setSizes([170, 360])
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 8, 0, 0)
        left_layout.setSpacing(6)
        left_layout.addWidget(self.bar)
        left_layout.addWidget(self.search_split, 1)
        self.main_split = QSplitter(Qt.Orientation.Horizontal, self)
        self.main_split.setObjectName("workspaceSplit")
        self.main_split.addWidget(left)
        self.main_split.addWidget(self.document)
        self.main_split.addWidget(self.review)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setCollapsible(1, False)
        self.main_split.setSizes([540, 500, 250])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.main_split)

    def _wire(self) -> None:
        self.search.open_requested.connect(self.open_document)
        self.document.open_document.connect(lambda doc_id: self.open_document(doc_id))
        self.review.open_document.connect(lambda doc_id: self.open_document(doc_id))
        self.review.go_to_anchor.connect(self.document.go_to)
        self.document.anchor_changed.connect(lambda: self.review.set_anchor(self.document.anchor()))
        self.document.status_message.connect(self.status_message)
        self.session.actions.changed.connect(self._review_changed)
        self.session.actions.deleted.connect(self._documents_deleted)
        self.session.import_job.finished.connect(lambda *_: self.search.run())
        self.session.maintenance.finished.connect(
            lambda name, *_: self.search.run() if name == "reindex" else None
        )

    # -- navigation --------------------------------------------------------------------------------
    def start(self) -> None:
        """List every document of the case (an empty query)."""
        self.search.run()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Give the columns their default widths the first time the workspace has its real size."""
        super().resizeEvent(event)
        width = event.size().width()
        if not self._restored and width >= 600:
            self._restored = True
            review = max(250, int(width * 0.2))
            left = min(560, int(width * 0.37))
            self.main_split.setSizes([left, width - left - review, review])
            self.search_split.setSizes([170, left - 170])

    def open_document(
        self, doc_id: int, finder: HitFinder | None = None, location: dict[str, Any] | None = None
    ) -> None:
        """Show a document in the viewer and the review panel (from a result, a link, an attachment)."""
        self.document.show_document(doc_id, finder if finder is not None else self.search.finder, location)
        self.review.show_document(doc_id)
        self.review.set_anchor(self.document.anchor())
        self.search.select_document(doc_id)

    def open_doc_id(self) -> int | None:
        return self.document.detail.summary.id if self.document.detail is not None else None

    # -- review commands ---------------------------------------------------------------------------
    def target_ids(self) -> list[int]:
        """The selected results when several are selected, otherwise the open document."""
        selected = self.search.selected_ids()
        if len(selected) > 1:
            return selected
        open_id = self.open_doc_id()
        return [open_id] if open_id is not None else selected

    def set_status(self, status: str) -> None:
        ids = self.target_ids()
        if ids:
            self.session.actions.set_status(status, ids)
            label = next((label for s, label, _ in STATUSES if s == status), status)
            self.status_message.emit(
                f"Marked {len(ids)} document(s) {label.lower()}"
                if len(ids) > 1
                else f"Marked {label.lower()}"
            )

    def tag(self) -> None:
        """`t`: the tag field for the open document, or a tag prompt for a selection of results."""
        ids = self.target_ids()
        if len(ids) > 1:
            self.prompt_bulk_tag(ids)
        elif ids:
            self.review.focus_tags()

    def prompt_bulk_tag(self, ids: list[int]) -> None:
        dialog = QInputDialog(self)
        dialog.setObjectName("bulkTagDialog")
        dialog.setWindowTitle("Tag documents")
        dialog.setLabelText(f"Tag the {len(ids)} selected documents with:")
        dialog.setComboBoxEditable(True)
        dialog.setComboBoxItems([t.name for t in self.session.services.review.list_tags()])
        dialog.setTextValue("")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(lambda name: self._bulk_tag(name, ids))
        dialog.open()

    def _bulk_tag(self, name: str, ids: list[int]) -> None:
        if name.strip():
            self.session.actions.add_tag(name.strip(), ids)
            self.status_message.emit(f"Tagged {len(ids)} document(s) “{name.strip()}”")

    def _review_changed(self, doc_ids: list[int]) -> None:
        self.model.refresh_review(doc_ids)
        open_id = self.open_doc_id()
        if open_id is not None and open_id in doc_ids:
            self.document.refresh_metadata()

    def delete_documents(self) -> None:
        """Delete the selected results (or the open document) from the case, after asking."""
        ids = self.target_ids()
        if not ids or self.session.read_only:
            return
        what = f"these {len(ids)} documents" if len(ids) > 1 else "this document"
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Delete from case",
            f"Delete {what} from the case, with everything found inside them (attachments, archive members),"
            " their tags, notes and links?",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("deleteConfirm")
        box.setInformativeText(
            "The search index forgets them; the deletion is recorded in the audit history. "
            "Importing the files again brings the documents back, without their review."
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(
            lambda button: self.session.actions.delete_documents(ids) if button is delete else None
        )
        box.open()

    def _documents_deleted(self, doc_ids: list[int]) -> None:
        open_id = self.open_doc_id()
        if open_id is not None and open_id in doc_ids:
            self.document.clear()
            self.review.clear()
        self.search.run()
        self.status_message.emit(f"Deleted {len(doc_ids)} document(s) from the case")

    def _results_menu(self, pos: QPoint) -> None:
        ids = self.search.selected_ids()
        if not ids:
            return
        menu = QMenu(self)
        count = f" {len(ids)} documents" if len(ids) > 1 else ""
        tag = QAction(f"Tag{count}…", menu)
        tag.triggered.connect(lambda: self.prompt_bulk_tag(ids) if len(ids) > 1 else self.tag())
        menu.addAction(tag)
        mark = menu.addMenu(f"Mark{count} as")
        for status, label, key in STATUSES:
            action = QAction(label + (f"\t{key}" if key else ""), mark)
            action.triggered.connect(lambda _c=False, s=status: self.session.actions.set_status(s, ids))
            mark.addAction(action)
        menu.addSeparator()
        copy = QAction("Copy document id" + ("s" if len(ids) > 1 else ""), menu)
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(" ".join(map(str, ids))))
        menu.addAction(copy)
        if not self.session.read_only:
            menu.addSeparator()
            delete = QAction(f"Delete{count} from Case…", menu)
            delete.triggered.connect(self.delete_documents)
            menu.addAction(delete)
        menu.exec(self.results.viewport().mapToGlobal(pos))

    # -- layout memory -----------------------------------------------------------------------------
    def save_layout(self) -> None:
        self.settings.set(SPLIT_WORKSPACE, self.main_split.saveState())
        self.settings.set(SPLIT_SEARCH, self.search_split.saveState())

    def restore_layout(self) -> None:
        for key, split in ((SPLIT_WORKSPACE, self.main_split), (SPLIT_SEARCH, self.search_split)):
            state = self.settings.get(key)
            if not state.isEmpty():
                self._restored = split.restoreState(state) or self._restored
