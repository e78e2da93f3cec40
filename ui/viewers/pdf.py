"""The PDF viewer: one page at a time, rendered in the background, with thumbnails, zoom and marked hits.

Everything PyMuPDF does (opening, page images, thumbnails, finding hit boxes) runs on the render lane; this
widget only paints the images it gets back. A few rendered pages are cached; thumbnails are rendered when
they scroll into view. Hits are boxes on the page (the query's words, as the search marks them in snippets);
`next_hit`/`previous_hit` walk them across pages. On pages read by OCR the hits are boxed from the OCR word
positions, on the scan itself.

With the case's `CasePages` attached (ui/viewers/redact.py), stored redactions are drawn as dark boxes, and
in redaction mode a rectangle dragged on the page becomes a redaction (right-click one to remove it).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QContextMenuEvent,
    QIcon,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.documents import DocumentDetail
from ui import icons
from ui.highlight import HitFinder
from ui.tasks import Tasks
from ui.theme import accent_colors
from ui.viewers.base import Anchor, Viewer, step
from ui.viewers.pdf_render import PageHit, PdfRenderer
from ui.viewers.redact import CasePages

log = logging.getLogger(__name__)

POINT = 96 / 72  # logical pixels per PDF point at 100 %
ZOOMS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
CACHE_PAGES = 6
THUMB_WIDTH = 72
PAGE_MARGIN = 16


class PageCanvas(QWidget):
    """Paints one page image at its display size, with hit boxes and redactions over it.

    In redaction mode a drag draws a rectangle: `drawn(box)` gives it in page points, as displayed.
    """

    drawn = Signal(QRectF)
    menu_requested = Signal(QPointF, QPoint)  # a point on the page (points), the global position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.page_size = QSize(0, 0)  # display size in logical pixels
        self.scale = POINT  # logical pixels per point
        self.hits: list[PageHit] = []
        self.current: PageHit | None = None
        self.redactions: list[QRectF] = []  # boxes in page points, as displayed
        self.redact_mode = False
        self._drag_from: QPointF | None = None
        self._drag_to: QPointF | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    def set_redact_mode(self, on: bool) -> None:
        self.redact_mode = on
        self._drag_from = self._drag_to = None
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.update()

    def to_points(self, pos: QPointF) -> QPointF:
        """A widget position → page points, clamped to the page."""
        w = self.page_size.width() / self.scale if self.scale else 0.0
        h = self.page_size.height() / self.scale if self.scale else 0.0
        x = (pos.x() - PAGE_MARGIN) / self.scale
        y = (pos.y() - PAGE_MARGIN) / self.scale
        return QPointF(max(0.0, min(x, w)), max(0.0, min(y, h)))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.redact_mode and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = self._drag_to = self.to_points(event.position())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self._drag_to = self.to_points(event.position())
            self.update()
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None and event.button() == Qt.MouseButton.LeftButton:
            box = QRectF(self._drag_from, self.to_points(event.position())).normalized()
            self._drag_from = self._drag_to = None
            self.update()
            if box.width() >= 2 and box.height() >= 2:  # a click is not a redaction
                self.drawn.emit(box)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        self.menu_requested.emit(self.to_points(QPointF(event.pos())), event.globalPos())

    def set_page(self, size: QSize, scale: float, hits: list[PageHit], current: PageHit | None) -> None:
        self.page_size, self.scale, self.hits, self.current = size, scale, hits, current
        self.setFixedSize(size.width() + 2 * PAGE_MARGIN, size.height() + 2 * PAGE_MARGIN)
        self.update()

    def set_image(self, image: QImage | None) -> None:
        self.image = image
        self.update()

    def page_rect(self) -> QRect:
        return QRect(PAGE_MARGIN, PAGE_MARGIN, self.page_size.width(), self.page_size.height())

    def box_rect(self, box: QRectF) -> QRectF:
        return QRectF(
            PAGE_MARGIN + box.x() * self.scale,
            PAGE_MARGIN + box.y() * self.scale,
            box.width() * self.scale,
            box.height() * self.scale,
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        page = self.page_rect()
        painter.fillRect(page.translated(2, 3), QColor(0, 0, 0, 40))
        painter.fillRect(page, QColor("#ffffff"))
        if self.image is not None:
            painter.drawImage(page, self.image)
        accents = accent_colors()
        mark = QColor(accents.mark)
        mark.setAlpha(150)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
        for hit in self.hits:
            for box in hit.boxes:
                painter.fillRect(self.box_rect(box).adjusted(-1, -1, 1, 1), mark)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        if self.current is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(accents.current_hit, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for box in self.current.boxes:
                painter.drawRoundedRect(self.box_rect(box).adjusted(-2, -2, 2, 2), 2, 2)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(QColor("#d6336c"), 1.5, Qt.PenStyle.DashLine))
        painter.setBrush(QBrush(QColor(0, 0, 0, 170)))
        for box in self.redactions:
            painter.drawRect(self.box_rect(box))
        if self._drag_from is not None and self._drag_to is not None:
            painter.setBrush(QBrush(QColor(0, 0, 0, 90)))
            painter.drawRect(self.box_rect(QRectF(self._drag_from, self._drag_to).normalized()))
        painter.end()


class PdfViewer(Viewer):
    """Pages of a PDF with page and zoom controls, thumbnails and hit boxes."""

    page_changed = Signal(int)  # 0-based
    unavailable = Signal(str)  # the PDF cannot be displayed (the reason): show its text instead

    def __init__(
        self, tasks: Tasks, original: Callable[[DocumentDetail], Path], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.original = original
        self.renderer: PdfRenderer | None = None
        self.pages: CasePages | None = None  # the case's OCR words, redactions, passwords (optional)
        self.doc_id: int | None = None
        self.doc_type = ""
        self.redaction_boxes: list[tuple[int, int, QRectF]] = []  # (redaction id, page, box)
        self.redaction_terms: dict[int, str] = {}  # redaction id → term, for term redactions
        self.sizes: list[tuple[float, float]] = []
        self.hits: list[PageHit] = []
        self.current_hit = -1
        self.page = 0
        self.zoom = 1.0
        self.fit_width = True
        self.rendered_page: int | None = None  # the page whose image is on the canvas (tests wait on it)
        self._generation = 0
        self._cache: OrderedDict[tuple[int, int], QImage] = OrderedDict()
        self._thumbs_requested: set[int] = set()
        self._initial: dict[str, Any] | None = None
        self._build()

    # -- layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.prev_page_button = self._tool(
            QStyle.StandardPixmap.SP_ArrowUp, "Previous page (PgUp)", lambda: self.go_to_page(self.page - 1)
        )
        self.next_page_button = self._tool(
            QStyle.StandardPixmap.SP_ArrowDown, "Next page (PgDn)", lambda: self.go_to_page(self.page + 1)
        )
        self.page_box = QSpinBox(self)
        self.page_box.setObjectName("pageNumber")
        self.page_box.setMinimum(1)
        self.page_box.setKeyboardTracking(False)
        self.page_box.valueChanged.connect(lambda v: self.go_to_page(v - 1))
        self.page_count_label = QLabel("/ 0", self)
        self.zoom_out_button = self._tool(None, "Zoom out (Ctrl+-)", lambda: self.step_zoom(-1), text="−")
        self.zoom_in_button = self._tool(None, "Zoom in (Ctrl++)", lambda: self.step_zoom(+1), text="+")
        self.zoom_box = QComboBox(self)
        self.zoom_box.setObjectName("zoom")
        self.zoom_box.addItem("Fit width", 0.0)
        for z in ZOOMS:
            self.zoom_box.addItem(f"{round(z * 100)} %", z)
        self.zoom_box.activated.connect(self._zoom_chosen)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 4)
        bar.setSpacing(4)
        for w in (self.prev_page_button, self.next_page_button, self.page_box, self.page_count_label):
            bar.addWidget(w)
        bar.addSpacing(12)
        for w in (self.zoom_out_button, self.zoom_box, self.zoom_in_button):
            bar.addWidget(w)
        self.redact_button = self._tool(None, "", self._redact_toggled, text="Redact")
        self.redact_button.setObjectName("redactMode")
        self.redact_button.setCheckable(True)
        self.redact_button.setToolTip(
            "Redaction mode: drag a rectangle over what must not be published; right-click a redaction "
            "to remove it. Scrubbed exports burn redactions in."
        )
        self.redact_button.hide()
        bar.addSpacing(12)
        bar.addWidget(self.redact_button)
        bar.addStretch(1)
        self.info = QLabel(self)
        self.info.setEnabled(False)
        bar.addWidget(self.info)

        self.thumbs = QListWidget(self)
        self.thumbs.setObjectName("thumbnails")
        self.thumbs.setViewMode(QListView.ViewMode.IconMode)
        self.thumbs.setFlow(QListView.Flow.TopToBottom)
        self.thumbs.setWrapping(False)
        self.thumbs.setMovement(QListView.Movement.Static)
        self.thumbs.setIconSize(QSize(THUMB_WIDTH, round(THUMB_WIDTH * 1.3)))
        self.thumbs.setSpacing(6)
        self.thumbs.setUniformItemSizes(True)
        self.thumbs.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thumbs.setMinimumWidth(THUMB_WIDTH + 24)
        self.thumbs.setMaximumWidth(THUMB_WIDTH + 48)
        self.thumbs.currentRowChanged.connect(lambda row: self.go_to_page(row) if row >= 0 else None)
        self.thumbs.verticalScrollBar().valueChanged.connect(lambda _v: self._thumb_timer.start())
        self._thumb_timer = QTimer(self, singleShot=True, interval=60, timeout=self._request_thumbnails)

        self.canvas = PageCanvas()
        self.canvas.drawn.connect(self._rect_drawn)
        self.canvas.menu_requested.connect(self._canvas_menu)
        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("pageArea")
        self.scroll.setWidget(self.canvas)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.scroll.setBackgroundRole(QPalette.ColorRole.Mid)
        self.scroll.viewport().installEventFilter(self)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.thumbs)
        split.addWidget(self.scroll)
        split.setStretchFactor(1, 1)
        split.setCollapsible(1, False)
        split.setSizes([THUMB_WIDTH + 28, 800])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        keys = (
            (("Ctrl++", "Ctrl+="), lambda: self.step_zoom(+1)),
            (("Ctrl+-",), lambda: self.step_zoom(-1)),
            (("Ctrl+0",), lambda: self.set_zoom(None)),
            (("PgDown",), lambda: self._page_key(+1)),
            (("PgUp",), lambda: self._page_key(-1)),
            (("Esc",), lambda: self.set_redact_mode(False) if self.canvas.redact_mode else None),
        )
        for sequences, slot in keys:
            for sequence in sequences:
                shortcut = QShortcut(
                    QKeySequence(sequence), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut
                )
                shortcut.activated.connect(slot)

    def _page_key(self, direction: int) -> None:
        """PgDn/PgUp scroll the page; at its end they turn to the next or previous page."""
        bar = self.scroll.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() if direction > 0 else bar.value() <= bar.minimum()
        if at_end:
            self.go_to_page(self.page + direction)
            if direction < 0:
                bar.setValue(bar.maximum())
        else:
            bar.setValue(bar.value() + direction * bar.pageStep())

    def _tool(self, pixmap: QStyle.StandardPixmap | None, tip: str, slot: Any, text: str = "") -> QToolButton:
        button = QToolButton(self)
        if pixmap is not None:
            button.setIcon(icons.standard(pixmap))
        if text:
            button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    # -- Viewer ------------------------------------------------------------------------------------
    def show_document(
        self, detail: DocumentDetail, finder: HitFinder, location: dict[str, Any] | None
    ) -> None:
        """Open the original in the background; `unavailable(reason)` if it cannot be displayed."""
        path = self.original(detail)
        self.release()
        self.doc_id = detail.summary.id
        self.doc_type = detail.summary.type
        password = self.pages.password(detail.summary.id) if self.pages is not None else None
        self._generation += 1
        generation = self._generation
        self._initial = location
        self.info.setText("Opening…")

        def opened(
            result: tuple[PdfRenderer, list[tuple[float, float]]] | None, error: BaseException | None
        ) -> None:
            if generation != self._generation:
                if result is not None:
                    self.tasks.run("render", result[0].close)
                return
            if error is not None or result is None:
                self.info.setText("")
                self.unavailable.emit(str(error))
                return
            self.renderer, self.sizes = result
            self._pages_known(finder)

        def open_() -> tuple[PdfRenderer, list[tuple[float, float]]]:
            renderer = PdfRenderer(path, password)
            return renderer, renderer.page_sizes()

        self.tasks.run("render", open_, opened)

    def next_hit(self) -> None:
        self._select_hit(step(self.current_hit, len(self.hits), +1))

    def previous_hit(self) -> None:
        self._select_hit(step(self.current_hit, len(self.hits), -1))

    def anchor(self) -> Anchor:
        return Anchor(page=self.page + 1) if self.sizes else Anchor()

    def go_to(self, anchor: Anchor) -> None:
        if anchor.page is not None:
            self.go_to_page(anchor.page - 1)

    def release(self) -> None:
        self._generation += 1
        if self.renderer is not None:
            self.tasks.run("render", self.renderer.close)
        self.renderer = None
        self.sizes, self.hits, self.current_hit = [], [], -1
        self.redaction_boxes, self.redaction_terms = [], {}
        self.canvas.redactions = []
        self.rendered_page = None
        self._cache.clear()
        self._thumbs_requested.clear()
        self.thumbs.clear()
        self.canvas.set_image(None)

    # -- pages -------------------------------------------------------------------------------------
    def _pages_known(self, finder: HitFinder) -> None:
        count = len(self.sizes)
        self.page_box.blockSignals(True)
        self.page_box.setMaximum(max(1, count))
        self.page_box.blockSignals(False)
        self.page_count_label.setText(f"/ {count}")
        blank = _blank_thumbnail(self.thumbs.iconSize())
        self.thumbs.blockSignals(True)
        for i in range(count):
            item = QListWidgetItem(QIcon(blank), str(i + 1))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.thumbs.addItem(item)
        self.thumbs.blockSignals(False)
        self.info.setText("")
        start = self._initial.get("page") if self._initial and self._initial.get("kind") == "page" else 1
        self.page = -1
        self.go_to_page(int(start) - 1 if isinstance(start, int) else 0)
        self._thumb_timer.start()
        can_redact = self.pages is not None and self.pages.writable and self.doc_type == "pdf"
        self.redact_button.setVisible(can_redact)
        if not can_redact:
            self.set_redact_mode(False)
        self.load_redactions()
        if finder:
            generation, renderer, pages, doc_id = self._generation, self.renderer, self.pages, self.doc_id
            assert renderer is not None

            def find() -> list[PageHit]:
                hits = renderer.hits(finder)
                words = pages.ocr_words(doc_id) if pages is not None and doc_id is not None else {}
                if words:  # pages read by OCR: box the hits on the scan from the OCR word positions
                    hits += renderer.ocr_hits(words, finder, hits)
                    hits.sort(key=lambda h: (h.page, round(h.top), h.left))
                return hits

            self.tasks.run("render", find, lambda hits, error: self._hits_found(generation, hits, error))
        else:
            self.hits_changed.emit(0, 0)

    def _hits_found(self, generation: int, hits: list[PageHit] | None, error: BaseException | None) -> None:
        if generation != self._generation:
            return
        if error is not None:
            log.warning("finding hits in the PDF failed: %s", error)
        self.hits = hits or []
        first = next((i for i, h in enumerate(self.hits) if h.page == self.page), 0 if self.hits else -1)
        self._select_hit(first)

    def go_to_page(self, index: int) -> None:
        if not self.sizes:
            return
        index = max(0, min(index, len(self.sizes) - 1))
        if index == self.page:
            return
        self.page = index
        for widget, value in ((self.page_box, index + 1), (self.thumbs, index)):
            widget.blockSignals(True)
            if widget is self.page_box:
                self.page_box.setValue(value)
            else:
                self.thumbs.setCurrentRow(value)
            widget.blockSignals(False)
        self.prev_page_button.setEnabled(index > 0)
        self.next_page_button.setEnabled(index < len(self.sizes) - 1)
        self.scroll.verticalScrollBar().setValue(0)
        self._layout_page()
        self.page_changed.emit(index)
        self.anchor_changed.emit()

    def _layout_page(self) -> None:
        """Size the canvas for the page at the current zoom; show a cached image or ask for one."""
        if not self.sizes:
            return
        if self.fit_width:
            self.zoom = self._fit_zoom()
        w_pt, h_pt = self.sizes[self.page]
        scale = self.zoom * POINT
        page_hits = [h for h in self.hits if h.page == self.page]
        current = self.hits[self.current_hit] if 0 <= self.current_hit < len(self.hits) else None
        self.canvas.redactions = [box for _, page, box in self.redaction_boxes if page == self.page]
        self.canvas.set_page(
            QSize(round(w_pt * scale), round(h_pt * scale)),
            scale,
            page_hits,
            current if current in page_hits else None,
        )
        self._sync_zoom_box()
        self._request_page()

    def _request_page(self) -> None:
        page, dpr = self.page, self.devicePixelRatioF()
        pixel_scale = self.zoom * POINT * dpr
        key = (page, round(pixel_scale * 1000))
        if key in self._cache:
            self._cache.move_to_end(key)
            self._show_image(page, self._cache[key])
            return
        stale = next((img for (p, _), img in self._cache.items() if p == page), None)
        self.canvas.set_image(stale)  # a blurry page beats a blank one while the sharp one renders
        generation, renderer = self._generation, self.renderer
        if renderer is None:
            return

        def done(image: QImage | None, error: BaseException | None) -> None:
            if generation != self._generation or image is None:
                if error is not None:
                    self.status_message.emit(f"page {page + 1} could not be rendered: {error}")
                return
            self._cache[key] = image
            while len(self._cache) > CACHE_PAGES:
                self._cache.popitem(last=False)
            if page == self.page:
                self._show_image(page, image)

        self.tasks.run(
            "render", lambda: renderer.render(page, pixel_scale), done, supersede=f"pdf-page-{id(self)}"
        )

    def _show_image(self, page: int, image: QImage) -> None:
        self.canvas.set_image(image)
        self.rendered_page = page
        self._scroll_to_current_hit()

    # -- zoom --------------------------------------------------------------------------------------
    def _fit_zoom(self) -> float:
        if not self.sizes:
            return 1.0
        width = self.scroll.viewport().width() - 2 * PAGE_MARGIN - 2
        return max(0.1, width / (self.sizes[self.page][0] * POINT))

    def set_zoom(self, zoom: float | None) -> None:
        """A zoom factor (1.0 = 100 %), or None to fit the page's width."""
        self.fit_width = zoom is None
        if zoom is not None:
            self.zoom = max(0.1, min(zoom, 8.0))
        self._layout_page()

    def step_zoom(self, direction: int) -> None:
        current = self.zoom
        steps = [z for z in ZOOMS if (z > current + 0.01 if direction > 0 else z < current - 0.01)]
        if steps:
            self.set_zoom(steps[0] if direction > 0 else steps[-1])

    def _zoom_chosen(self, index: int) -> None:
        value = float(self.zoom_box.itemData(index) or 0.0)
        self.set_zoom(value or None)

    def _sync_zoom_box(self) -> None:
        self.zoom_box.blockSignals(True)
        if self.fit_width:
            self.zoom_box.setCurrentIndex(0)
        else:
            index = self.zoom_box.findData(self.zoom)
            if index >= 0:
                self.zoom_box.setCurrentIndex(index)
        self.zoom_box.blockSignals(False)
        self.zoom_out_button.setEnabled(self.zoom > ZOOMS[0] + 0.01)
        self.zoom_in_button.setEnabled(self.zoom < ZOOMS[-1] - 0.01)

    def eventFilter(self, watched: Any, event: Any) -> bool:
        if (
            watched is self.scroll.viewport()
            and isinstance(event, QResizeEvent)
            and self.fit_width
            and self.sizes
        ):
            QTimer.singleShot(0, self._layout_page)
        return super().eventFilter(watched, event)

    # -- hits --------------------------------------------------------------------------------------
    def _select_hit(self, index: int) -> None:
        self.current_hit = index
        if 0 <= index < len(self.hits):
            hit = self.hits[index]
            self.info.setText("hit read from the scan (OCR)" if hit.ocr else "")
            if hit.page != self.page:
                self.go_to_page(hit.page)
            else:
                self._layout_page()
        self.hits_changed.emit(index + 1 if index >= 0 else 0, len(self.hits))

    def _scroll_to_current_hit(self) -> None:
        if not (0 <= self.current_hit < len(self.hits)):
            return
        hit = self.hits[self.current_hit]
        if hit.page != self.page:
            return
        box = self.canvas.box_rect(hit.boxes[0])
        self.scroll.ensureVisible(
            round(box.center().x()), round(box.center().y()), 80, self.scroll.viewport().height() // 3
        )

    # -- redactions --------------------------------------------------------------------------------
    def set_redact_mode(self, on: bool) -> None:
        self.redact_button.setChecked(on)
        self.canvas.set_redact_mode(on)
        if on:
            self.status_message.emit("Redaction mode: drag over what must be blacked out in published copies")

    def _redact_toggled(self) -> None:
        self.set_redact_mode(self.redact_button.isChecked())

    def load_redactions(self) -> None:
        """Read this document's redactions and box them on the pages (after any change)."""
        pages, renderer, doc_id, generation = self.pages, self.renderer, self.doc_id, self._generation
        if pages is None or renderer is None or doc_id is None:
            return

        Read = tuple[list[tuple[int, int, QRectF]], dict[int, str]]

        def done(result: Read | None, error: BaseException | None) -> None:
            if generation != self._generation:
                return
            if error is not None:
                log.warning("redactions could not be shown: %s", error)
            self.redaction_boxes, self.redaction_terms = result or ([], {})
            self._layout_page()

        def read() -> Read:
            stored = pages.redactions(doc_id)
            terms = {r["id"]: r["term"] for r in stored if r.get("term")}
            return renderer.redaction_boxes(stored), terms

        self.tasks.run("render", read, done)

    def _rect_drawn(self, box: QRectF) -> None:
        pages, renderer, doc_id, page = self.pages, self.renderer, self.doc_id, self.page
        if pages is None or renderer is None or doc_id is None or not pages.writable:
            return

        def stored(_id: Any, error: BaseException | None) -> None:
            if error is not None:
                self.status_message.emit(f"The redaction was not saved: {error}")
                return
            self.status_message.emit(f"Redaction added on page {page + 1}")
            self.load_redactions()

        def converted(rect: tuple[float, float, float, float] | None, error: BaseException | None) -> None:
            if error is not None or rect is None:
                self.status_message.emit(f"The redaction was not saved: {error}")
                return
            self.tasks.run("io", lambda: pages.add_rect(doc_id, page + 1, rect), stored)

        self.tasks.run("render", lambda: renderer.to_page_rect(page, box), converted)

    def redaction_at(self, point: QPointF) -> int | None:
        """The id of the redaction under a point of the current page (points), if any."""
        for red_id, page, box in self.redaction_boxes:
            if page == self.page and box.adjusted(-1, -1, 1, 1).contains(point):
                return red_id
        return None

    def remove_redaction(self, redaction_id: int) -> None:
        pages = self.pages
        if pages is None or not pages.writable:
            return

        def done(_r: Any, error: BaseException | None) -> None:
            if error is not None:
                self.status_message.emit(f"The redaction was not removed: {error}")
                return
            self.status_message.emit("Redaction removed")
            self.load_redactions()

        self.tasks.run("io", lambda: pages.remove(redaction_id), done)

    def redaction_menu(self, point: QPointF) -> QMenu | None:
        """The right-click menu for a point of the current page (points): "Remove Redaction" over one."""
        red_id = self.redaction_at(point)
        if red_id is None or self.pages is None or not self.pages.writable:
            return None
        menu = QMenu(self)
        term = self.redaction_terms.get(red_id)
        remove = menu.addAction(f"Remove Redaction of “{term}” (every match)" if term else "Remove Redaction")
        remove.triggered.connect(lambda: self.remove_redaction(red_id))
        return menu

    def _canvas_menu(self, point: QPointF, global_pos: QPoint) -> None:
        menu = self.redaction_menu(point)
        if menu is not None:
            menu.exec(global_pos)
            menu.deleteLater()

    # -- thumbnails --------------------------------------------------------------------------------
    def _request_thumbnails(self) -> None:
        if self.renderer is None or not self.thumbs.count():
            return
        viewport = self.thumbs.viewport().rect()
        first = self.thumbs.indexAt(viewport.topLeft() + QPoint(4, 4)).row()
        last = self.thumbs.indexAt(viewport.bottomLeft() + QPoint(4, -4)).row()
        first = max(0, first)
        last = self.thumbs.count() - 1 if last < 0 else last
        wanted = [
            i for i in range(first, min(last + 2, self.thumbs.count())) if i not in self._thumbs_requested
        ]
        if not wanted:
            return
        self._thumbs_requested.update(wanted)
        generation, renderer = self._generation, self.renderer
        width = round(THUMB_WIDTH * self.devicePixelRatioF())

        def done(images: list[tuple[int, QImage]] | None, error: BaseException | None) -> None:
            if generation != self._generation or not images:
                return
            for index, image in images:
                item = self.thumbs.item(index)
                if item is not None:
                    item.setIcon(QIcon(_thumbnail(image, self.devicePixelRatioF())))

        self.tasks.run("render", lambda: [(i, renderer.thumbnail(i, width)) for i in wanted], done)


def _thumbnail(image: QImage, ratio: float) -> QPixmap:
    """A page's thumbnail, a landscape page centred in a portrait page's height so every item keeps the
    list's shape (the page number stays a line under the picture)."""
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    height = round(image.width() * 1.29)
    if image.height() >= height:
        return pixmap
    slot = QPixmap(image.width(), height)
    slot.setDevicePixelRatio(ratio)
    slot.fill(Qt.GlobalColor.transparent)
    painter = QPainter(slot)
    painter.drawPixmap(QPointF(0, (height - image.height()) / 2 / ratio), pixmap)
    painter.end()
    return slot


def _blank_thumbnail(size: QSize) -> QPixmap:
    pixmap = QPixmap(size.width(), round(size.width() * 1.29))
    pixmap.fill(QColor("#f1f3f5"))
    return pixmap
