"""What every viewer offers the document view: show a document, step through hits, say where the reader is.

A viewer gets the document's detail, a `HitFinder` for the query that led to it and the hit location the search
reported (`{"kind": "page", "page": 3}`, `{"kind": "cell", "sheet": "Sheet1", "cell": "C14"}`…). It reports
`hits_changed(current, total)` (current is 1-based, 0 when no hit is selected) and `anchor_changed()` when
the page or cell under the reader changes, so notes can be anchored there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from app.documents import DocumentDetail
from ui.highlight import HitFinder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Anchor:
    """Where in a document a note belongs: a page, a sheet cell, or the document as a whole."""

    page: int | None = None
    cell: str | None = None

    @property
    def label(self) -> str:
        if self.cell:
            return self.cell
        if self.page is not None:
            return f"page {self.page}"
        return "the whole document"

    def __bool__(self) -> bool:
        return self.page is not None or bool(self.cell)


class Viewer(QWidget):
    """Base class of the viewers; subclasses implement `show_document` and hit stepping."""

    hits_changed = Signal(int, int)
    anchor_changed = Signal()
    open_document = Signal(int)
    status_message = Signal(str)

    def show_document(
        self, detail: DocumentDetail, finder: HitFinder, location: dict[str, Any] | None
    ) -> None:
        raise NotImplementedError

    def next_hit(self) -> None:
        """Select the next hit (wrapping around); no-op without hits."""

    def previous_hit(self) -> None:
        """Select the previous hit (wrapping around); no-op without hits."""

    def anchor(self) -> Anchor:
        return Anchor()

    def go_to(self, anchor: Anchor) -> None:
        """Show the page or cell a note is anchored to (no-op where the viewer has no such place)."""

    def release(self) -> None:
        """Let go of files and pending work before the viewer is replaced."""


def step(current: int, total: int, delta: int) -> int:
    """The next index in a ring of `total` hits (-1 → the first or last)."""
    if total <= 0:
        return -1
    if current < 0:
        return 0 if delta > 0 else total - 1
    return (current + delta) % total
