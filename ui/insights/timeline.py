"""The time line: documents per day, month or year as a histogram drawn with QPainter.

`TimelineChart` draws `app.insights.timeline.Timeline` buckets; each bar is stacked by where its documents'
dates came from (the email's Date, document metadata, a date in the text), so a guess is told from a fact.
Dragging across bars (or clicking one) selects a range; `TimelineWindow` then filters the workspace search
with `dated:FIRST/LAST`, the same term the CLI's search takes.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.insights.timeline import Bucket, Timeline, timeline
from app.services import Services
from ui.insights.common import ScopeIds, known_message
from ui.tasks import Tasks

log = logging.getLogger(__name__)

SOURCE_COLORS = {"email": "#3b7dd8", "text": "#e8a33d"}  # metadata:* share one colour
METADATA_COLOR = "#52a675"
SOURCE_LABELS = {"email": "email Date", "text": "a date in the text"}


def source_label(source: str) -> str:
    if source.startswith("metadata:"):
        return f"metadata ({source.split(':', 1)[1]})"
    return SOURCE_LABELS.get(source, source)


def source_color(source: str) -> QColor:
    return QColor(SOURCE_COLORS.get(source, METADATA_COLOR))


def legend(sources: dict[str, int]) -> list[tuple[str, str]]:
    """(colour, label) per colour of the bars: the metadata fields, which share one, in a single entry."""
    meta = {s.split(":", 1)[1]: n for s, n in sources.items() if s.startswith("metadata:")}
    entries: list[tuple[str, str]] = []
    for source, count in sources.items():
        if not source.startswith("metadata:"):
            entries.append((source_color(source).name(), f"{source_label(source)}: {count:,}"))
        elif len(meta) == 1:
            entries.append((METADATA_COLOR, f"{source_label(source)}: {count:,}"))
        elif meta:
            fields = ", ".join(f"{name} {n:,}" for name, n in meta.items())
            entries.append((METADATA_COLOR, f"metadata: {sum(meta.values()):,} ({fields})"))
            meta = {}
    return entries


class TimelineChart(QWidget):
    """Bars per bucket; drag to select a range of buckets."""

    range_selected = Signal(str, str)  # first and last bucket keys

    MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 44, 34, 10

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timelineChart")
        self.setMouseTracking(True)
        self.setMinimumSize(360, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.buckets: list[Bucket] = []
        self.selection: tuple[int, int] | None = None
        self._press: int | None = None

    def sizeHint(self) -> QSize:
        return QSize(760, 300)

    def set_buckets(self, buckets: list[Bucket]) -> None:
        self.buckets = list(buckets)
        self.selection = None
        self.update()

    # -- geometry ----------------------------------------------------------------------------------
    def plot_rect(self) -> QRectF:
        return QRectF(
            self.MARGIN_LEFT,
            self.MARGIN_TOP,
            max(1, self.width() - self.MARGIN_LEFT - 10),
            max(1, self.height() - self.MARGIN_TOP - self.MARGIN_BOTTOM),
        )

    def bar_rect(self, index: int) -> QRectF:
        plot = self.plot_rect()
        width = plot.width() / max(1, len(self.buckets))
        return QRectF(plot.left() + index * width, plot.top(), width, plot.height())

    def index_at(self, x: float) -> int | None:
        if not self.buckets:
            return None
        plot = self.plot_rect()
        width = plot.width() / len(self.buckets)
        return max(0, min(len(self.buckets) - 1, int((x - plot.left()) // width)))

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        palette = self.palette()
        text_color = palette.color(QPalette.ColorRole.WindowText)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        plot = self.plot_rect()
        if not self.buckets:
            painter.setPen(muted)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No dated documents")
            return
        peak = max(b.count for b in self.buckets) or 1
        if self.selection is not None:
            lo, hi = sorted(self.selection)
            band = self.bar_rect(lo).united(self.bar_rect(hi))
            highlight = QColor(palette.color(QPalette.ColorRole.Highlight))
            highlight.setAlpha(60)
            painter.fillRect(band, highlight)
        gap = 1.0 if self.bar_rect(0).width() > 4 else 0.0
        for i, b in enumerate(self.buckets):
            rect = self.bar_rect(i)
            y = plot.bottom()
            for source, count in b.sources.items():
                h = plot.height() * count / peak
                painter.fillRect(
                    QRectF(rect.left() + gap, y - h, max(1.0, rect.width() - 2 * gap), h),
                    source_color(source),
                )
                y -= h
        # axes: the peak on the left, a few bucket keys along the bottom
        painter.setPen(QPen(muted))
        painter.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
        painter.setPen(text_color)
        metrics = QFontMetrics(self.font())
        painter.drawText(
            QRectF(0, plot.top() - 2, self.MARGIN_LEFT - 6, metrics.height()),
            Qt.AlignmentFlag.AlignRight,
            f"{peak:,}",
        )
        painter.drawText(
            QRectF(0, plot.bottom() - metrics.height(), self.MARGIN_LEFT - 6, metrics.height()),
            Qt.AlignmentFlag.AlignRight,
            "0",
        )
        label_width = metrics.horizontalAdvance(self.buckets[0].key) + 16
        step = max(1, int(label_width // max(1.0, self.bar_rect(0).width())) + 1)
        for i in range(0, len(self.buckets), step):
            rect = self.bar_rect(i)
            painter.drawText(
                QRectF(rect.left(), plot.bottom() + 4, label_width, metrics.height()),
                Qt.AlignmentFlag.AlignLeft,
                self.buckets[i].key,
            )

    # -- mouse -------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = self.index_at(event.position().x())
            if self._press is not None:
                self.selection = (self._press, self._press)
                self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().x())
        if self._press is not None and index is not None:
            self.selection = (self._press, index)
            self.update()
        elif index is not None and self.plot_rect().contains(event.position()):
            b = self.buckets[index]
            sources = "<br>".join(f"{source_label(s)}: {n:,}" for s, n in b.sources.items())
            QToolTip.showText(
                event.globalPosition().toPoint(),
                f"<b>{html.escape(b.key)}</b>: {b.count:,} document{'s' if b.count != 1 else ''}"
                + (f"<br>{sources}" if sources else ""),
                self,
            )

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        end = self.index_at(event.position().x())
        start, self._press = self._press, None
        if end is None:
            return
        lo, hi = sorted((start, end))
        self.selection = (lo, hi)
        self.update()
        self.range_selected.emit(self.buckets[lo].key, self.buckets[hi].key)


class TimelineWindow(QDialog):
    """The chart with its bucket size, scope and date sources; a selected range filters the search."""

    filter_requested = Signal(str)  # the `dated:` term to put into the search
    loaded = Signal(object)  # Timeline (tests wait on it)

    def __init__(
        self, services: Services, tasks: Tasks, scope_ids: ScopeIds, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.scope_ids = scope_ids
        self.data: Timeline | None = None
        self.setObjectName("timelineWindow")
        self.setWindowTitle("Time Line")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.by = QComboBox(self)
        self.by.setObjectName("timelineBy")
        for value, label in (("day", "Per day"), ("month", "Per month"), ("year", "Per year")):
            self.by.addItem(label, value)
        self.by.setCurrentIndex(1)
        self.scope = QComboBox(self)
        self.scope.setObjectName("timelineScope")
        self.scope.addItem("The whole case", False)
        self.scope.addItem("The current results", True)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setAutoDefault(False)
        self.refresh_button.clicked.connect(self.reload)
        self.by.currentIndexChanged.connect(lambda _i: self.reload())
        self.scope.currentIndexChanged.connect(lambda _i: self.reload())
        top = QHBoxLayout()
        top.addWidget(QLabel("Documents", self))
        top.addWidget(self.by)
        top.addWidget(QLabel("of", self))
        top.addWidget(self.scope)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        self.chart = TimelineChart(self)
        self.chart.range_selected.connect(self._range_selected)
        self.sources = QLabel(self)
        self.sources.setObjectName("timelineSources")
        self.sources.setWordWrap(True)
        self.sources.setTextFormat(Qt.TextFormat.RichText)
        self.hint = QLabel(
            "Drag across the bars (or click one) to show only those documents in the search.", self
        )
        self.hint.setEnabled(False)
        self.message = QLabel(self)
        self.message.setObjectName("timelineMessage")
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.sources)
        layout.addWidget(self.hint)
        layout.addWidget(self.message)
        self.resize(820, 420)

    def reload(self) -> None:
        by = str(self.by.currentData())
        scope = self.scope_ids() if self.scope.currentData() else (lambda: None)
        case = self.services.case
        self.message.setText("Counting…")
        self.tasks.run(
            "search", lambda: timeline(case, by, scope()), self._loaded, supersede=f"timeline-{id(self)}"
        )

    def _loaded(self, data: Timeline | None, error: BaseException | None) -> None:
        if error is not None or data is None:
            message = known_message(error) if error is not None else "no time line"
            if message is None and error is not None:
                raise error
            self.message.setText(f"<b style='color:#c92a2a'>Not shown:</b> {html.escape(message or '')}")
            return
        self.data = data
        self.message.setText("")
        self.chart.set_buckets(data.buckets)
        swatches = " &nbsp; ".join(
            f"<span style='color:{color}'>■</span> {html.escape(label)}"
            for color, label in legend(data.sources)
        )
        self.sources.setText(
            f"{data.dated:,} dated document{'s' if data.dated != 1 else ''}, {data.undated:,} undated. "
            f"Dated by: {swatches or 'nothing'}"
        )
        self.loaded.emit(data)

    def _range_selected(self, first: str, last: str) -> None:
        if self.data is not None:
            term = self.data.query_for(first, last)
            self.message.setText(f"Searching {html.escape(term)}")
            self.filter_requested.emit(term)
