"""The document pane: a viewer chosen by type, the extracted text, the metadata, and "Open original".

`show_document(doc_id, finder, location)` reads the document's detail (one small query) and hands it to the
viewer for its kind: PDF pages, a spreadsheet grid, an email, or text for the rest. Hit stepping, note anchors
and "open this other document" requests pass through to whoever listens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.documents import DocumentDetail, DocumentService
from ui import icons
from ui.highlight import HitFinder
from ui.originals import Originals
from ui.tasks import Tasks
from ui.viewers.base import Anchor, Viewer
from ui.viewers.email import EmailViewer
from ui.viewers.metadata import MetadataView
from ui.viewers.pdf import PdfViewer
from ui.viewers.sheet import SheetViewer
from ui.viewers.text import TextPane, TextViewer, compose_parts
from ui.widgets import ElidedLabel

log = logging.getLogger(__name__)

TAB_DOCUMENT, TAB_TEXT, TAB_METADATA = 0, 1, 2


def viewer_kind(detail: DocumentDetail) -> str:
    """ "email", "pdf", "sheet" or "text": which viewer shows this document."""
    if detail.email is not None:
        return "email"
    if detail.summary.type in ("pdf", "image"):  # pages or a picture, with hits boxed on the scan
        return "pdf"
    if any(p["kind"] == "sheet" for p in detail.parts):
        return "sheet"
    return "text"


class DocumentView(QWidget):
    """Header (title, hit stepper, open original) over tabs: Document | Text | Metadata."""

    opened = Signal(object)  # DocumentDetail, once shown
    open_document = Signal(int)  # a link, attachment or parent asks to open another document
    hits_changed = Signal(int, int)
    anchor_changed = Signal()
    status_message = Signal(str)

    def __init__(
        self,
        documents: DocumentService,
        originals: Originals,
        tasks: Tasks,
        open_url: Callable[[QUrl], Any] = QDesktopServices.openUrl,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.documents = documents
        self.originals = originals
        self.tasks = tasks
        self.open_url = open_url
        self.detail: DocumentDetail | None = None
        self.finder = HitFinder()
        self.location: dict[str, Any] | None = None
        self.kind = ""
        self._text_shown_for: int | None = None

        self.pdf = PdfViewer(tasks, originals.path, self)
        self.sheet = SheetViewer(documents, tasks, self)
        self.email = EmailViewer(documents, self)
        self.text = TextViewer(self)
        self.viewers: dict[str, Viewer] = {
            "pdf": self.pdf,
            "sheet": self.sheet,
            "email": self.email,
            "text": self.text,
        }
        self.pdf.unavailable.connect(self._pdf_unavailable)
        for viewer in self.viewers.values():
            viewer.hits_changed.connect(self._viewer_hits)
            viewer.anchor_changed.connect(self.anchor_changed)
            viewer.open_document.connect(self.open_document)
            viewer.status_message.connect(self.status_message)
        self._build()

    # -- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.icon = QLabel(self)
        self.icon.setFixedSize(28, 28)
        self.title = ElidedLabel(parent=self)
        self.title.setObjectName("documentTitle")
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() + 2)
        font.setWeight(QFont.Weight.DemiBold)
        self.title.setFont(font)
        self.subtitle = ElidedLabel(Qt.TextElideMode.ElideMiddle, self)
        self.subtitle.setEnabled(False)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)

        self.prev_hit_button = self._tool(
            QStyle.StandardPixmap.SP_ArrowLeft, "Previous hit (p)", self.previous_hit
        )
        self.next_hit_button = self._tool(QStyle.StandardPixmap.SP_ArrowRight, "Next hit (n)", self.next_hit)
        self.hit_label = QLabel(self)
        self.hit_label.setObjectName("hitCounter")
        self.hit_label.setMinimumWidth(70)
        self.hit_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_button = QToolButton(self)
        self.open_button.setIcon(icons.standard(QStyle.StandardPixmap.SP_DialogOpenButton))
        self.open_button.setText("Open original")
        self.open_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.open_button.setAutoRaise(True)
        self.open_button.setObjectName("openOriginal")
        self.open_button.setToolTip("Open a read-only copy of the original file in its usual program")
        self.open_button.clicked.connect(self.open_original)

        header = QHBoxLayout()
        header.setContentsMargins(10, 8, 10, 4)
        header.setSpacing(8)
        header.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        header.addLayout(titles, 1)
        header.addWidget(self.prev_hit_button)
        header.addWidget(self.hit_label)
        header.addWidget(self.next_hit_button)
        self.header = QWidget(self)
        self.header.setLayout(header)
        corner = QWidget(self)
        corner_layout = QHBoxLayout(corner)
        corner_layout.setContentsMargins(0, 0, 6, 2)
        corner_layout.addWidget(self.open_button)

        self.stack = QStackedWidget(self)
        for viewer in self.viewers.values():
            self.stack.addWidget(viewer)
        self.text_pane = TextPane(self)
        self.text_pane.setObjectName("extractedText")
        self.metadata = MetadataView(self)
        self.metadata.open_document.connect(self.open_document)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("documentTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.stack, "Document")
        self.tabs.addTab(self.text_pane, "Text")
        self.tabs.addTab(self.metadata, "Metadata")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.tabs.setCornerWidget(corner, Qt.Corner.TopRightCorner)

        self.placeholder = QLabel(
            "Open a result to read it here.\n\nj / k move through the results, n / p through the hits.", self
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)
        self.body = QStackedWidget(self)
        self.body.addWidget(self.placeholder)
        content = QWidget(self)
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(0)
        content_layout.addWidget(self.header)
        content_layout.addWidget(self.tabs, 1)
        self.body.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.body)
        self._set_hits(0, 0)

    def _tool(self, pixmap: QStyle.StandardPixmap, tip: str, slot: Callable[[], None]) -> QToolButton:
        button = QToolButton(self)
        button.setIcon(icons.standard(pixmap))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    # -- showing -----------------------------------------------------------------------------------
    def show_document(
        self, doc_id: int, finder: HitFinder | None = None, location: dict[str, Any] | None = None
    ) -> None:
        """Show a document, selecting the hit at `location` (the search's first hit location) if given."""
        detail = self.documents.detail(doc_id)
        self.detail, self.finder, self.location = detail, finder or HitFinder(), location
        self._text_shown_for = None
        s = detail.summary
        self.icon.setPixmap(icons.for_type(s.type).pixmap(28, 28))
        self.title.setText(s.title)
        where = s.paths[0] if s.paths else ""
        state = "" if s.status == "ok" else f" · {s.status}: {s.reason}"
        self.subtitle.setText(f"{s.type.upper()}{state} · {where}")
        self.body.setCurrentIndex(1)
        self._show_in(viewer_kind(detail))
        self.metadata.show_detail(detail)
        if self.tabs.currentIndex() == TAB_TEXT:
            self._fill_text()
        self.opened.emit(detail)

    def _show_in(self, kind: str) -> None:
        assert self.detail is not None
        if self.kind and self.kind != kind:
            self.viewers[self.kind].release()
        self.kind = kind
        viewer = self.viewers[kind]
        self.stack.setCurrentWidget(viewer)
        self._set_hits(0, 0)
        viewer.show_document(self.detail, self.finder, self.location)

    def _pdf_unavailable(self, reason: str) -> None:
        self.status_message.emit(reason)
        if self.detail is not None and self.kind == "pdf":
            self._show_in("text")

    def clear(self) -> None:
        if self.kind:
            self.viewers[self.kind].release()
        self.detail, self.kind = None, ""
        self.body.setCurrentIndex(0)

    def refresh_metadata(self) -> None:
        """Re-read the detail after a review action changed its status."""
        if self.detail is not None:
            self.detail = self.documents.detail(self.detail.summary.id)
            self.metadata.show_detail(self.detail)

    # -- hits and anchors --------------------------------------------------------------------------
    def next_hit(self) -> None:
        if self.detail is None:
            return
        if self.tabs.currentIndex() == TAB_TEXT:
            self._set_hits(*self.text_pane.step_hit(+1))
        else:
            self.viewers[self.kind].next_hit()

    def previous_hit(self) -> None:
        if self.detail is None:
            return
        if self.tabs.currentIndex() == TAB_TEXT:
            self._set_hits(*self.text_pane.step_hit(-1))
        else:
            self.viewers[self.kind].previous_hit()

    def anchor(self) -> Anchor:
        return self.viewers[self.kind].anchor() if self.detail is not None and self.kind else Anchor()

    def go_to(self, anchor: Anchor) -> None:
        if self.detail is None or not anchor:
            return
        self.tabs.setCurrentIndex(TAB_DOCUMENT)
        self.viewers[self.kind].go_to(anchor)

    def current_viewer(self) -> Viewer | None:
        return self.viewers.get(self.kind)

    def _viewer_hits(self, current: int, total: int) -> None:
        if self.sender() is self.viewers.get(self.kind) and self.tabs.currentIndex() != TAB_TEXT:
            self._set_hits(current, total)

    def _set_hits(self, current: int, total: int) -> None:
        self.hit_label.setText(f"{current} of {total}" if total else "no hits")
        self.prev_hit_button.setEnabled(total > 0)
        self.next_hit_button.setEnabled(total > 0)
        self.hits_changed.emit(current, total)

    def _tab_changed(self, index: int) -> None:
        if index == TAB_TEXT:
            self._fill_text()
        elif index == TAB_DOCUMENT and self.detail is not None:
            viewer = self.viewers[self.kind]
            if viewer is self.text or viewer is self.email:
                pane = viewer.pane if viewer is self.text else viewer.body
                self._set_hits(pane.current + 1, len(pane.spans))

    def _fill_text(self) -> None:
        if self.detail is None:
            return
        if self._text_shown_for != self.detail.summary.id:
            text, _ = compose_parts(self.detail.parts)
            self.text_pane.set_content(text or "(no text was extracted from this document)", self.finder)
            self._text_shown_for = self.detail.summary.id
            self._set_hits(*self.text_pane.step_hit(+1))
        else:
            self._set_hits(self.text_pane.current + 1, len(self.text_pane.spans))

    # -- original ----------------------------------------------------------------------------------
    def open_original(self) -> None:
        """Copy the original (on the io lane) under its own name, then open it in its usual program."""
        if self.detail is None:
            return
        detail = self.detail
        self.status_message.emit("Preparing the original…")

        def done(path: Any, error: BaseException | None) -> None:
            if error is not None:
                raise error
            self.status_message.emit(f"Opened {path.name} (a read-only copy)")
            self.open_url(QUrl.fromLocalFile(str(path)))

        self.tasks.run("io", lambda: self.originals.named_copy(detail), done)
