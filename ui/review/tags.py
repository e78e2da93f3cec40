"""Tag chips in their colours, with a field that completes known tag names.

The widget only asks: `add_requested(name)`, `remove_requested(name)`, `color_requested(name, "#rrggbb")`;
the panel performs the action and calls `show_tags()` with the result.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QCompleter,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.review.service import TagInfo
from ui.results_delegate import readable_on
from ui.review.flow import FlowLayout

log = logging.getLogger(__name__)


class TagChip(QFrame):
    """A rounded label in the tag's colour with a × to remove it; right-click to change the colour."""

    remove_clicked = Signal(str)
    color_clicked = Signal(str)

    def __init__(self, tag: TagInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tag = tag
        self.setObjectName("tagChip")
        color = QColor(tag.color)
        text = readable_on(color).name()
        self.setStyleSheet(
            f"#tagChip {{ background: {color.name()}; border-radius: 10px; }}"
            f"#tagChip QLabel, #tagChip QToolButton {{ color: {text}; background: transparent; border: none; }}"
        )
        label = QLabel(tag.name, self)
        label.setToolTip(tag.description or tag.name)
        close = QToolButton(self)
        close.setText("×")
        close.setToolTip(f"Remove the tag {tag.name}")
        close.setCursor(Qt.CursorShape.PointingHandCursor)
        close.clicked.connect(lambda: self.remove_clicked.emit(tag.name))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(9, 1, 3, 1)
        layout.setSpacing(2)
        layout.addWidget(label)
        layout.addWidget(close)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

    def _menu(self, pos: object) -> None:
        menu = QMenu(self)
        colour = QAction("Change colour…", menu)
        colour.triggered.connect(lambda: self.color_clicked.emit(self.tag.name))
        remove = QAction("Remove from this document", menu)
        remove.triggered.connect(lambda: self.remove_clicked.emit(self.tag.name))
        menu.addActions([colour, remove])
        menu.exec(self.mapToGlobal(pos))  # type: ignore[arg-type]


class TagEditor(QWidget):
    """The open document's tags as chips, and an "Add tag…" field with completion."""

    add_requested = Signal(str)
    remove_requested = Signal(str)
    color_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chips = QWidget(self)
        self.flow = FlowLayout(self.chips)
        self.field = QLineEdit(self)
        self.field.setObjectName("tagField")
        self.field.setPlaceholderText("Add a tag…  (t)")
        self.field.setClearButtonEnabled(True)
        self._names = QStringListModel(self)
        completer = QCompleter(self._names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.field.setCompleter(completer)
        self.field.returnPressed.connect(self._add)
        self.empty = QLabel("No tags yet.", self)
        self.empty.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.chips)
        layout.addWidget(self.empty)
        layout.addWidget(self.field)
        self.tags: list[TagInfo] = []

    def show_tags(self, tags: list[TagInfo], known: list[TagInfo]) -> None:
        self.tags = list(tags)
        while self.flow.count():
            item = self.flow.takeAt(0)
            if item is not None and item.widget() is not None:
                old = item.widget()
                old.hide()  # gone from the screen now, deleted when the event loop gets to it
                old.deleteLater()
        for tag in tags:
            chip = TagChip(tag, self.chips)
            chip.remove_clicked.connect(self.remove_requested)
            chip.color_clicked.connect(self._pick_color)
            self.flow.addWidget(chip)
        self.chips.setVisible(bool(tags))
        self.empty.setVisible(not tags)
        self._names.setStringList([t.name for t in known])
        self.chips.updateGeometry()

    def names(self) -> list[str]:
        return [t.name for t in self.tags]

    def focus(self) -> None:
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def _add(self) -> None:
        name = self.field.text().strip()
        if name:
            self.field.clear()
            self.add_requested.emit(name)

    def _pick_color(self, name: str) -> None:
        current = next((QColor(t.color) for t in self.tags if t.name == name), QColor("#2563eb"))
        color = QColorDialog.getColor(current, self, f"Colour of {name}")
        if color.isValid():
            self.color_requested.emit(name, color.name())
