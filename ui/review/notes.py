"""Notes on the open document: the list (click one to go to its page or cell) and an editor (Ctrl+Enter saves).

A new note is anchored to where the reader is (the current page or selected cell) unless "Anchor" is unticked.
The widget asks through signals; the panel performs the writes.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.review.service import NoteInfo
from ui.viewers.base import Anchor

log = logging.getLogger(__name__)

NOTE_ROLE = Qt.ItemDataRole.UserRole + 1


def note_anchor(note: NoteInfo) -> Anchor:
    return Anchor(page=note.page, cell=note.cell)


class NotesPane(QWidget):
    """List of notes over an editor; `save_requested(text, anchor)` when the reporter saves one."""

    save_requested = Signal(str, object)  # text, Anchor
    edit_requested = Signal(int, str)  # note id, new text
    delete_requested = Signal(int)
    go_to_requested = Signal(object)  # Anchor

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setObjectName("notesList")
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(2)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.itemClicked.connect(self._clicked)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("noteEditor")
        self.editor.setPlaceholderText("Add a note…  (Ctrl+Enter saves)")
        self.editor.setTabChangesFocus(True)
        self.editor.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 14)
        self.anchor_box = QCheckBox(self)
        self.anchor_box.setObjectName("noteAnchor")
        self.anchor_box.setChecked(True)
        self.save_button = QPushButton("Save note", self)
        self.save_button.setObjectName("saveNote")
        self.save_button.clicked.connect(self.save)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(keys), self.editor, context=Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.save)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.anchor_box, 1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.editor)
        layout.addLayout(row)
        self.anchor = Anchor()
        self.reviewer = ""
        self.set_anchor(Anchor())

    def show_notes(self, notes: list[NoteInfo], reviewer: str) -> None:
        self.reviewer = reviewer
        self.list.clear()
        for note in notes:
            where = note_anchor(note)
            meta = f"{note.author} · {note.created_at[:16].replace('T', ' ')}"
            if where:
                meta += f" · {where.label}"
            item = QListWidgetItem(f"{note.text}\n{meta}")
            item.setData(NOTE_ROLE, note)
            item.setToolTip(
                f"<p>{html.escape(note.text)}</p><p><i>{html.escape(meta)}</i></p>"
                + ("<p>Click to go there.</p>" if where else "")
            )
            self.list.addItem(item)
        if not notes:
            item = QListWidgetItem("No notes yet.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(item)

    def set_anchor(self, anchor: Anchor) -> None:
        """Where a new note would be anchored (the viewer's current page or cell)."""
        self.anchor = anchor
        self.anchor_box.setText(f"Anchor to {anchor.label}" if anchor else "Note on the whole document")
        self.anchor_box.setEnabled(bool(anchor))

    def focus(self) -> None:
        self.editor.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def save(self) -> None:
        text = self.editor.toPlainText().strip()
        if not text:
            return
        anchor = self.anchor if self.anchor_box.isChecked() else Anchor()
        self.editor.clear()
        self.save_requested.emit(text, anchor)

    def _clicked(self, item: QListWidgetItem) -> None:
        note = item.data(NOTE_ROLE)
        if isinstance(note, NoteInfo) and note_anchor(note):
            self.go_to_requested.emit(note_anchor(note))

    def _menu(self, pos: object) -> None:
        item = self.list.itemAt(pos)  # type: ignore[arg-type]
        note = item.data(NOTE_ROLE) if item is not None else None
        if not isinstance(note, NoteInfo):
            return
        menu = QMenu(self)
        own = note.author == self.reviewer
        edit = QAction("Edit…", menu, enabled=own)
        edit.triggered.connect(lambda: self._edit(note))
        delete = QAction("Delete", menu, enabled=own)
        delete.triggered.connect(lambda: self.delete_requested.emit(note.id))
        if not own:
            edit.setToolTip("Only the author can edit a note")
        menu.addActions([edit, delete])
        menu.exec(self.list.viewport().mapToGlobal(pos))  # type: ignore[arg-type]

    def _edit(self, note: NoteInfo) -> None:
        text, ok = QInputDialog.getMultiLineText(self, "Edit note", "Note:", note.text)
        if ok and text.strip() and text.strip() != note.text:
            self.edit_requested.emit(note.id, text.strip())
