"""The search bar: the query field (syntax help on hover, history, inline errors), sort order and a summary.

It only collects input: `submitted(text)` when the reporter presses Enter, `sort_changed(sort)` when the order
changes. Whoever runs the search calls `show_error()` or `show_summary()` with the outcome.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QStyle,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ui import icons

log = logging.getLogger(__name__)

SORTS = (
    ("relevance", "Relevance"),
    ("-date", "Newest first"),
    ("date", "Oldest first"),
    ("name", "Name A–Z"),
)

SYNTAX_ROWS = (
    ("contract payment", "both words"),
    ("contract OR agreement", "either word"),
    ("contract NOT draft, contract -draft", "the first without the second"),
    ("(contract OR agreement) AND panda", "grouping"),
    ('"Panda International"', "the exact phrase"),
    ('"payment contract"~5', "words within five positions"),
    ("contr*, c?ntract, Huawai~", "prefix, wildcard, fuzzy"),
    ("WO-2017-0413, jane@example.com", "a reference or address, whole"),
    ("title:budget, author:smith", "words in one field"),
    ("from:*@huawei.com, to:jane", "email senders and recipients"),
    ("type:pdf, type:email, type:spreadsheet", "kind of document"),
    ("path:invoices, sha256:3a7bd3…", "source path words, content hash"),
    ("date:2001, date:[2012 to 2016]", "the document's own date"),
    ("status:relevant, tag:contracts, note:word", "review status, tags, notes"),
)


def syntax_help_html() -> str:
    rows = "".join(f"<tr><td><code>{q}</code></td><td>&nbsp;{what}</td></tr>" for q, what in SYNTAX_ROWS)
    return (
        "<b>Query language</b><table cellspacing='2'>"
        f"{rows}</table><p>Accents and case do not matter. "
        "Press <b>/</b> or <b>Ctrl+F</b> to search, <b>↓</b> for recent searches.</p>"
    )


class SearchBar(QWidget):
    """Query field, help button, sort order, inline error and result summary."""

    submitted = Signal(str)
    sort_changed = Signal(str)

    def __init__(self, history: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QLineEdit(self)
        self.field.setObjectName("searchField")
        self.field.setPlaceholderText('Search the case: words, "phrases", type:pdf, tag:…')
        self.field.setClearButtonEnabled(True)
        self.field.setToolTip(syntax_help_html())
        self.field.addAction(
            icons.standard(QStyle.StandardPixmap.SP_FileDialogContentsView),
            QLineEdit.ActionPosition.LeadingPosition,
        )
        self.field.returnPressed.connect(self._submit)
        self.field.textEdited.connect(lambda _t: self.show_error(None))
        self.field.installEventFilter(self)

        self._history = QStringListModel(history or [], self)
        self.completer = QCompleter(self._history, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setMaxVisibleItems(12)
        self.field.setCompleter(self.completer)

        self.help_button = QToolButton(self)
        self.help_button.setText("?")
        self.help_button.setToolTip(syntax_help_html())
        self.help_button.setAutoRaise(True)
        self.help_button.clicked.connect(self._show_help)

        self.sort = QComboBox(self)
        self.sort.setObjectName("sortOrder")
        for value, label in SORTS:
            self.sort.addItem(label, value)
        self.sort.setToolTip("Order of the results")
        self.sort.currentIndexChanged.connect(lambda _i: self.sort_changed.emit(self.sort_value()))

        self.error = QLabel(self)
        self.error.setObjectName("searchError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e03131;")
        self.error.hide()
        self.summary = QLabel(self)
        self.summary.setObjectName("searchSummary")
        self.summary.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.summary.setEnabled(False)  # muted text

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(self.field, 1)
        row.addWidget(self.help_button)
        status = QHBoxLayout()
        status.setContentsMargins(2, 0, 0, 0)
        status.addWidget(self.summary, 1)
        status.addWidget(QLabel("Sort:", self))
        status.addWidget(self.sort)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addLayout(status)

    # -- public ------------------------------------------------------------------------------------
    def text(self) -> str:
        return self.field.text()

    def set_text(self, text: str) -> None:
        self.field.setText(text)

    def sort_value(self) -> str:
        return str(self.sort.currentData())

    def focus(self) -> None:
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def set_history(self, history: list[str]) -> None:
        self._history.setStringList(history)

    def show_error(self, message: str | None) -> None:
        """An inline one-line error under the field (None clears it)."""
        self.error.setText(f"⚠ {message}" if message else "")
        self.error.setVisible(bool(message))
        self.field.setStyleSheet(
            "QLineEdit { border: 1px solid #e03131; border-radius: 3px; padding: 2px; }" if message else ""
        )

    def show_summary(self, text: str) -> None:
        self.summary.setText(text)

    # -- internals ---------------------------------------------------------------------------------
    def _submit(self) -> None:
        if self.completer.popup().isVisible():
            self.completer.popup().hide()
        self.submitted.emit(self.field.text().strip())

    def _show_help(self) -> None:
        QToolTip.showText(
            self.help_button.mapToGlobal(self.help_button.rect().bottomLeft()),
            syntax_help_html(),
            self.help_button,
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """↓ in an empty (or unchanged) field lists the recent searches."""
        if watched is self.field and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_Down and not self.completer.popup().isVisible():
                self.completer.setCompletionPrefix("" if not self.field.text() else self.field.text())
                if self.completer.completionCount() == 0:
                    self.completer.setCompletionPrefix("")
                self.completer.complete()
                return True
        return super().eventFilter(watched, event)
