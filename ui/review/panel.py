"""The review panel of the open document: status, tags, notes, links and suggestions, history.

It reads the document's review state directly (a few small queries) and writes through `ReviewActions`
(on the io lane); when an action for the shown document is committed it reads the state again.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.review.service import ReviewService
from app.search import SearchService
from ui.review.actions import ReviewActions
from ui.review.history import HistoryList
from ui.review.links import LinkDialog, LinksPane
from ui.review.notes import NotesPane
from ui.review.tags import TagEditor
from ui.tasks import Tasks
from ui.viewers.base import Anchor

log = logging.getLogger(__name__)

STATUSES = (
    ("relevant", "Relevant", "r"),
    ("not_relevant", "Not relevant", "x"),
    ("follow_up", "Follow-up", "f"),
    ("unreviewed", "Unreviewed", "u"),
)
STATUS_COLORS = {"relevant": "#2b8a3e", "not_relevant": "#868e96", "follow_up": "#e67700", "unreviewed": ""}


def _dot(color: str) -> QIcon:
    """A small filled circle (an empty ring for "no colour") as a status marker."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if color:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
    else:
        painter.setPen(QColor("#adb5bd"))
        painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


class StatusButtons(QWidget):
    """Four exclusive buttons for the review status; `chosen(status)` when the reporter clicks one."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for i, (status, label, key) in enumerate(STATUSES):
            button = QToolButton(self)
            button.setObjectName(f"status_{status}")
            button.setText(label + (f"  ({key})" if key else ""))
            button.setIcon(_dot(STATUS_COLORS[status]))
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setToolTip(f"Mark as {label.lower()}" + (f" ({key})" if key else ""))
            button.clicked.connect(lambda _c=False, s=status: self.chosen.emit(s))
            self.group.addButton(button)
            self.buttons[status] = button
            layout.addWidget(button, i // 2, i % 2)

    def show_status(self, status: str) -> None:
        button = self.buttons.get(status)
        if button is not None:
            button.setChecked(True)

    def status(self) -> str:
        return next((s for s, b in self.buttons.items() if b.isChecked()), "unreviewed")


class ReviewPanel(QWidget):
    """Review of one document; `open_document(id)` and `go_to_anchor(anchor)` ask the workspace to navigate."""

    open_document = Signal(int)
    go_to_anchor = Signal(object)

    def __init__(
        self,
        review: ReviewService,
        actions: ReviewActions,
        search: SearchService,
        tasks: Tasks,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.review = review
        self.actions = actions
        self.search = search
        self.tasks = tasks
        self.doc_id: int | None = None
        self.link_dialog: LinkDialog | None = None
        self._build()
        actions.changed.connect(self._changed)

    def _build(self) -> None:
        title = QLabel("Review", self)
        font = QFont(self.font())
        font.setWeight(QFont.Weight.DemiBold)
        font.setPointSizeF(font.pointSizeF() + 1)
        title.setFont(font)
        self.status = StatusButtons(self)
        self.status.chosen.connect(self.set_status)
        self.tags = TagEditor(self)
        self.tags.add_requested.connect(self.add_tag)
        self.tags.remove_requested.connect(lambda name: self.actions.remove_tag(name, self._ids()))
        self.tags.color_requested.connect(
            lambda name, color: self.actions.set_tag_color(name, color, self._ids())
        )
        self.notes = NotesPane(self)
        self.notes.save_requested.connect(self._save_note)
        self.notes.edit_requested.connect(
            lambda note_id, text: self.actions.edit_note(self.doc_id or 0, note_id, text)
        )
        self.notes.delete_requested.connect(
            lambda note_id: self.actions.delete_note(self.doc_id or 0, note_id)
        )
        self.notes.go_to_requested.connect(self.go_to_anchor)
        self.links = LinksPane(self)
        self.links.open_requested.connect(self.open_document)
        self.links.link_requested.connect(self.start_link)
        self.links.remove_requested.connect(lambda link_id: self.actions.remove_link(link_id, self._ids()))
        self.links.accept_requested.connect(lambda sid: self.actions.accept_suggestion(sid, self._ids()))
        self.links.dismiss_requested.connect(lambda sid: self.actions.dismiss_suggestion(sid, self._ids()))
        self.history = HistoryList(self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("reviewTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.notes, "Notes")
        self.tabs.addTab(self.links, "Links")
        self.tabs.addTab(self.history, "History")

        tags_label = QLabel("Tags", self)
        tags_label.setEnabled(False)
        content = QWidget(self)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(self.status)
        layout.addWidget(tags_label)
        layout.addWidget(self.tags)
        layout.addWidget(self.tabs, 1)
        empty = QLabel("Open a document to tag it,\nannotate it and link it.", self)
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setEnabled(False)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(empty)
        self.stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

    # -- showing -----------------------------------------------------------------------------------
    def show_document(self, doc_id: int) -> None:
        self.doc_id = doc_id
        self.stack.setCurrentIndex(1)
        self.refresh()

    def clear(self) -> None:
        self.doc_id = None
        self.stack.setCurrentIndex(0)

    def refresh(self) -> None:
        """Read the shown document's review state again (small queries)."""
        if self.doc_id is None:
            return
        doc_id = self.doc_id
        self.status.show_status(self.review.status_of(doc_id))
        self.tags.show_tags(self.review.tags_of(doc_id), self.review.list_tags())
        notes = self.review.notes(doc_id)
        self.notes.show_notes(notes, self.review.reviewer)
        view = self.review.links(doc_id)
        self.links.show_links(view)
        self.history.show_entries(self.review.audit(doc_id, limit=200))
        open_suggestions = sum(1 for s in view.suggestions if s.state == "open")
        self.tabs.setTabText(0, f"Notes ({len(notes)})" if notes else "Notes")
        links = len(view.links) + open_suggestions
        self.tabs.setTabText(1, f"Links ({links})" if links else "Links")

    def set_anchor(self, anchor: Anchor) -> None:
        self.notes.set_anchor(anchor)

    def focus_tags(self) -> None:
        self.tags.focus()

    def focus_note(self) -> None:
        self.tabs.setCurrentWidget(self.notes)
        self.notes.focus()

    # -- actions -----------------------------------------------------------------------------------
    def add_tag(self, name: str) -> None:
        if self.doc_id is not None:
            self.actions.add_tag(name, [self.doc_id])

    def set_status(self, status: str) -> None:
        if self.doc_id is not None:
            self.actions.set_status(status, [self.doc_id])

    def start_link(self) -> None:
        """Open the link dialog (non-blocking); the link is made when it is accepted."""
        if self.doc_id is None:
            return
        source = self.doc_id
        dialog = LinkDialog(self.search, self.tasks, self.review.relations(), source, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._link_chosen(source, dialog))
        dialog.destroyed.connect(lambda: setattr(self, "link_dialog", None))
        self.link_dialog = dialog
        dialog.open()

    def _link_chosen(self, source: int, dialog: LinkDialog) -> None:
        choice = dialog.chosen()
        if choice is not None:
            target, relation, note = choice
            self.actions.add_link(source, target, relation or "related", note)

    def _save_note(self, text: str, anchor: Anchor) -> None:
        if self.doc_id is not None:
            self.actions.add_note(self.doc_id, text, page=anchor.page, cell=anchor.cell)

    def _ids(self) -> list[int]:
        return [self.doc_id] if self.doc_id is not None else []

    def _changed(self, doc_ids: list[int]) -> None:
        if self.doc_id is not None and (self.doc_id in doc_ids or not doc_ids):
            self.refresh()
