"""Plain or extracted text with the query's hits marked and a cursor that steps from hit to hit.

`TextPane` is the widget (also used for an email's body and the "Text" tab of every document);
`TextViewer` shows a document's parts one after another under a heading per page, slide or section.
"""

from __future__ import annotations

import bisect
import logging
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QFont, QFontDatabase, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QVBoxLayout, QWidget

from app.documents import DocumentDetail
from ui.highlight import HitFinder
from ui.theme import accent_colors
from ui.viewers.base import Anchor, Viewer, step

log = logging.getLogger(__name__)

PART_HEADINGS = {"page": "Page", "slide": "Slide", "sheet": "Sheet", "notes": "Notes", "headers": "Headers"}


def utf16_index(text: str) -> list[int] | None:
    """Code points → UTF-16 units, or None when they are the same (no characters outside the BMP)."""
    if all(ord(ch) <= 0xFFFF for ch in text):
        return None
    out, pos = [], 0
    for ch in text:
        out.append(pos)
        pos += 2 if ord(ch) > 0xFFFF else 1
    out.append(pos)
    return out


class TextPane(QPlainTextEdit):
    """Read-only text with marked hits; `step_hit(±1)` moves the selection and scrolls to it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont))
        self.document().setDocumentMargin(12)
        self.spans: list[tuple[int, int]] = []
        self.current = -1
        self._units: list[int] | None = None

    def set_content(self, text: str, finder: HitFinder, monospace: bool = False) -> None:
        if monospace:
            self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setPlainText(text)
        self._units = utf16_index(text)
        self.spans = [(self._unit(a), self._unit(b)) for a, b in finder.spans(text)]
        self.current = -1
        self._paint_marks()

    def step_hit(self, delta: int) -> tuple[int, int]:
        self.current = step(self.current, len(self.spans), delta)
        self._paint_marks()
        if self.current >= 0:
            start, end = self.spans[self.current]
            cursor = self.textCursor()
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            self.setTextCursor(cursor)
            self.centerCursor()
            QTimer.singleShot(0, self, self.centerCursor)  # again once a new text is laid out
        return self.current + 1, len(self.spans)

    def select_first_hit_after(self, position: int) -> tuple[int, int]:
        """Select the first hit at or after a document position (the start of a part)."""
        if not self.spans:
            return 0, 0
        starts = [s for s, _ in self.spans]
        self.current = min(bisect.bisect_left(starts, position), len(self.spans) - 1) - 1
        return self.step_hit(+1)

    def unit(self, index: int) -> int:
        """The document position (UTF-16 units) of a character index of the text last set."""
        return self._unit(index)

    def _unit(self, index: int) -> int:
        return self._units[index] if self._units is not None else index

    def _paint_marks(self) -> None:
        accents = accent_colors(self.palette())
        selections = []
        for i, (start, end) in enumerate(self.spans):
            sel = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            sel.cursor = cursor
            fmt = QTextCharFormat()
            fmt.setBackground(accents.current_hit if i == self.current else accents.mark)
            fmt.setForeground(QColor("#ffffff") if i == self.current else accents.mark_text)
            if i == self.current:
                fmt.setFontWeight(QFont.Weight.Bold)
                fmt.setProperty(QTextFormat.Property.FullWidthSelection, False)
            sel.format = fmt
            selections.append(sel)
        self.setExtraSelections(selections)


class TextViewer(Viewer):
    """A document's text, part after part, with hits marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pane = TextPane(self)
        self.pane.cursorPositionChanged.connect(self.anchor_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pane)
        self._part_starts: list[int] = []
        self._parts: list[dict[str, Any]] = []

    def show_document(
        self, detail: DocumentDetail, finder: HitFinder, location: dict[str, Any] | None
    ) -> None:
        text, starts = compose_parts(detail.parts)
        self._parts = list(detail.parts)
        if not text.strip():
            text = "(no text was extracted from this document)"
            if detail.summary.reason:
                text += f"\n\n{detail.summary.status}: {detail.summary.reason}"
            starts, self._parts = [], []
        self.pane.set_content(text, finder, monospace=detail.summary.type in ("text", "csv", "tsv"))
        self._part_starts = [self.pane.unit(s) for s in starts]
        target = self._part_start_for(location)
        current, total = (
            self.pane.select_first_hit_after(target) if target is not None else self.pane.step_hit(+1)
        )
        self.hits_changed.emit(current, total)

    def next_hit(self) -> None:
        self.hits_changed.emit(*self.pane.step_hit(+1))

    def previous_hit(self) -> None:
        self.hits_changed.emit(*self.pane.step_hit(-1))

    def anchor(self) -> Anchor:
        if not self._part_starts:
            return Anchor()
        index = bisect.bisect_right(self._part_starts, self.pane.textCursor().position()) - 1
        part = self._parts[max(0, index)]
        if part["kind"] in ("page", "slide"):
            label = str(part["label"])
            return Anchor(page=int(label) if label.isdigit() else part["ordinal"] + 1)
        return Anchor()

    def go_to(self, anchor: Anchor) -> None:
        if anchor.page is None:
            return
        for start, part in zip(self._part_starts, self._parts, strict=False):
            if part["kind"] in ("page", "slide") and str(part["label"]) == str(anchor.page):
                cursor = self.pane.textCursor()
                cursor.setPosition(start)
                self.pane.setTextCursor(cursor)
                self.pane.centerCursor()
                return

    def _part_start_for(self, location: dict[str, Any] | None) -> int | None:
        if not location:
            return None
        wanted = str(location.get("page") or location.get("label") or "")
        for start, part in zip(self._part_starts, self._parts, strict=False):
            if str(part["label"]) == wanted:
                return start
        return None


def compose_parts(parts: list[dict[str, Any]]) -> tuple[str, list[int]]:
    """Join parts' text under headings; returns the text and where each part starts in it."""
    chunks: list[str] = []
    starts: list[int] = []
    pos = 0
    several = len(parts) > 1
    for part in parts:
        heading = ""
        if several:
            name = PART_HEADINGS.get(part["kind"])
            label = str(part["label"] or "")
            heading = (
                f"── {name} {label} ──\n" if name and label != name else f"── {label or part['kind']} ──\n"
            )
        chunk = heading + (part["text"] or "").rstrip() + "\n\n"
        starts.append(pos)
        chunks.append(chunk)
        pos += len(chunk)
    return "".join(chunks), starts
