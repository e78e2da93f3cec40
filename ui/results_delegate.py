"""Paints one search result: type icon, title, date, review status, tag chips, source path and snippet.

The snippet's `<mark>` words are drawn with the theme's mark colour; everything is elided to the row, so rows
have one fixed height (the list can then lay out 100,000 rows without measuring each).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QTextCharFormat, QTextLayout
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.review.service import TagInfo
from ui import icons
from ui.highlight import snippet_segments
from ui.results import ROW_ROLE, ResultRow
from ui.theme import accent_colors

log = logging.getLogger(__name__)

PAD = 8
ICON = 24
GAP = 6
SNIPPET_LINES = 2
MAX_CHIPS = 4

STATUS_LOOK = {
    "relevant": ("Relevant", QColor("#2b8a3e")),
    "not_relevant": ("Not relevant", QColor("#868e96")),
    "follow_up": ("Follow-up", QColor("#e67700")),
}


def readable_on(color: QColor) -> QColor:
    """Black or white, whichever reads better on `color`."""
    luminance = 0.299 * color.redF() + 0.587 * color.greenF() + 0.114 * color.blueF()
    return QColor("#111111") if luminance > 0.62 else QColor("#ffffff")


def paint_chip(painter: QPainter, x: int, y: int, text: str, color: QColor, font: QFont, max_w: int) -> int:
    """Draw a rounded label at (x, y); returns its width (0 when it does not fit in `max_w`)."""
    fm = QFontMetrics(font)
    w = min(fm.horizontalAdvance(text) + 12, max_w)
    if w < 28:
        return 0
    h = fm.height() + 2
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawRoundedRect(QRectF(x, y, w, h), h / 2, h / 2)
    painter.setPen(readable_on(color))
    painter.setFont(font)
    painter.drawText(
        QRect(x + 6, y, w - 12, h),
        Qt.AlignmentFlag.AlignVCenter,
        fm.elidedText(text, Qt.TextElideMode.ElideRight, w - 12),
    )
    painter.restore()
    return w


class ResultDelegate(QStyledItemDelegate):
    """Draws `ResultRow`s; the row height follows the font so it stays right on HiDPI and large fonts."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        fm = option.fontMetrics
        small = QFontMetrics(_small(option.font))
        height = PAD * 2 + fm.height() + 4 + small.height() + 6 + SNIPPET_LINES * small.lineSpacing()
        return QSize(120, height)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        row = index.data(ROW_ROLE)
        if not isinstance(row, ResultRow):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, opt.widget)
        painter.save()
        try:
            self._paint_row(painter, opt, row)
        finally:
            painter.restore()

    def _paint_row(self, painter: QPainter, opt: QStyleOptionViewItem, row: ResultRow) -> None:
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        palette = opt.palette
        accents = accent_colors(palette)
        text_color = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        muted = QColor(text_color)
        muted.setAlphaF(0.72 if selected else 0.62)
        rect = opt.rect.adjusted(PAD, PAD, -PAD, -PAD)
        font = QFont(opt.font)
        small = _small(font)
        fm, sfm = QFontMetrics(font), QFontMetrics(small)

        icons.for_type(row.hit.type).paint(painter, QRect(rect.left(), rect.top(), ICON, ICON))
        left = rect.left() + ICON + GAP + 2
        width = rect.right() - left

        # line 1: title … date
        date = (row.hit.date or "")[:10]
        date_w = sfm.horizontalAdvance(date) + GAP if date else 0
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        painter.setPen(text_color)
        title_rect = QRect(left, rect.top(), width - date_w, fm.height())
        painter.drawText(
            title_rect,
            Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(bold).elidedText(row.hit.title, Qt.TextElideMode.ElideRight, title_rect.width()),
        )
        if date:
            painter.setFont(small)
            painter.setPen(muted)
            painter.drawText(
                QRect(rect.right() - date_w, rect.top(), date_w, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                date,
            )

        # line 2: review status, tag chips, source path
        y = rect.top() + fm.height() + 4
        x = left
        chip_font = QFont(small)
        chip_font.setPointSizeF(max(6.5, small.pointSizeF() - 0.5))
        if row.review_status in STATUS_LOOK:
            label, color = STATUS_LOOK[row.review_status]
            x += paint_chip(painter, x, y, label, color, chip_font, width // 3) + 4
        if any(loc.get("ocr") for loc in row.hit.locations or ()):  # the hit was read from a scan
            x += paint_chip(painter, x, y, "OCR", QColor("#868e96"), chip_font, width // 4) + 4
        x = self._paint_tags(painter, x, y, row.tags, chip_font, left + width)
        path = row.hit.paths[0] if row.hit.paths else ""
        if path and x < left + width - 40:
            painter.setFont(small)
            painter.setPen(muted)
            avail = left + width - x
            painter.drawText(
                QRect(x, y, avail, sfm.height() + 2),
                Qt.AlignmentFlag.AlignVCenter,
                sfm.elidedText(path, Qt.TextElideMode.ElideMiddle, avail),
            )

        # lines 3–4: the snippet with its marked words
        y += sfm.height() + 6
        self._paint_snippet(
            painter,
            QRectF(left, y, width, SNIPPET_LINES * sfm.lineSpacing()),
            row.hit.snippet,
            small,
            muted if not selected else text_color,
            accents.mark,
            accents.mark_text,
        )

    @staticmethod
    def _paint_tags(
        painter: QPainter, x: int, y: int, tags: tuple[TagInfo, ...], font: QFont, right: int
    ) -> int:
        for tag in tags[:MAX_CHIPS]:
            w = paint_chip(painter, x, y, tag.name, QColor(tag.color), font, min(140, right - x))
            if not w:
                break
            x += w + 4
        if len(tags) > MAX_CHIPS and right - x > 30:
            painter.setFont(font)
            painter.drawText(
                QRect(x, y, 30, QFontMetrics(font).height() + 2),
                Qt.AlignmentFlag.AlignVCenter,
                f"+{len(tags) - MAX_CHIPS}",
            )
            x += 30
        return x + 4 if tags else x

    @staticmethod
    def _paint_snippet(
        painter: QPainter,
        box: QRectF,
        snippet: str,
        font: QFont,
        color: QColor,
        mark: QColor,
        mark_text: QColor,
    ) -> None:
        segments = snippet_segments(snippet)
        text = "".join(s for s, _ in segments)
        if not text:
            return
        formats = []
        pos = 0
        for piece, marked in segments:
            if marked:
                fr = QTextLayout.FormatRange()
                fr.start, fr.length = pos, len(piece)
                fmt = QTextCharFormat()
                fmt.setBackground(mark)
                fmt.setForeground(mark_text)
                fr.format = fmt
                formats.append(fr)
            pos += len(piece)
        layout = QTextLayout(text, font)
        layout.setFormats(formats)
        layout.beginLayout()
        y = 0.0
        for _ in range(SNIPPET_LINES):
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(box.width())
            line.setPosition(QPointF(0, y))
            y += line.height()
        layout.endLayout()
        painter.setPen(color)
        painter.setClipRect(box)
        layout.draw(painter, box.topLeft())


def _small(font: QFont) -> QFont:
    small = QFont(font)
    size = font.pointSizeF()
    if size > 0:
        small.setPointSizeF(max(7.0, size - 1))
    return small
