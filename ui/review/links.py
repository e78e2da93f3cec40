"""Links of the open document and suggested ones: open the other end with one click, accept or dismiss.

`LinkDialog` finds the other document by search (on the search lane) and asks for the relation.
"""

from __future__ import annotations

import html
import logging

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.review.service import LinkInfo, LinksView, SuggestionInfo
from app.search import Hit, SearchService
from ui import icons
from ui.tasks import Tasks

log = logging.getLogger(__name__)

ID_ROLE = Qt.ItemDataRole.UserRole + 1


def relation_label(relation: str) -> str:
    return relation.replace("_", " ")


class LinkRow(QWidget):
    """ "→ references  Other title" with the title as a link; a × for links a reviewer made."""

    open_clicked = Signal(int)
    remove_clicked = Signal(str)

    def __init__(self, link: LinkInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        arrow = "→" if link.direction == "out" else "←"
        label = QLabel(
            f"{arrow} <span style='opacity:.7'>{html.escape(relation_label(link.relation))}</span> "
            f"<a href='doc:{link.other_id}'>{html.escape(link.other_title)}</a>",
            self,
        )
        label.setObjectName("linkLabel")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.linkActivated.connect(lambda _href: self.open_clicked.emit(link.other_id))
        meta = "found by the import" if link.automatic else f"by {link.created_by}"
        label.setToolTip(
            f"{relation_label(link.relation)} · {meta}" + (f"\n{link.note}" if link.note else "")
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(label, 1)
        if not link.automatic:
            remove = QToolButton(self)
            remove.setText("×")
            remove.setAutoRaise(True)
            remove.setToolTip("Remove this link")
            remove.clicked.connect(lambda: self.remove_clicked.emit(link.id))
            layout.addWidget(remove)


class SuggestionRow(QWidget):
    """A suggested link: the other document (one click opens it), why, and Accept / Dismiss."""

    open_clicked = Signal(int)
    accept_clicked = Signal(int)
    dismiss_clicked = Signal(int)

    def __init__(self, suggestion: SuggestionInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        label = QLabel(
            f"<a href='doc:{suggestion.other_id}'>{html.escape(suggestion.other_title)}</a>"
            f"<br><span style='opacity:.7'>{html.escape(suggestion.kind.replace('_', ' '))}: "
            f"{html.escape(suggestion.detail)}</span>",
            self,
        )
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.linkActivated.connect(lambda _href: self.open_clicked.emit(suggestion.other_id))
        accept = QPushButton("Accept", self)
        accept.setObjectName("acceptSuggestion")
        accept.clicked.connect(lambda: self.accept_clicked.emit(suggestion.id))
        dismiss = QPushButton("Dismiss", self)
        dismiss.setObjectName("dismissSuggestion")
        dismiss.clicked.connect(lambda: self.dismiss_clicked.emit(suggestion.id))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 3, 4, 3)
        layout.addWidget(label, 1)
        layout.addWidget(accept)
        layout.addWidget(dismiss)


class LinksPane(QWidget):
    """The links list, the open suggestions and a "Link to…" button."""

    open_requested = Signal(int)
    link_requested = Signal()
    remove_requested = Signal(str)
    accept_requested = Signal(int)
    dismiss_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.links = QListWidget(self)
        self.links.setObjectName("linksList")
        self.suggestions = QListWidget(self)
        self.suggestions.setObjectName("suggestionsList")
        self.suggestions_label = QLabel("Suggestions", self)
        self.link_button = QPushButton("Link to another document…", self)
        self.link_button.setObjectName("linkButton")
        self.link_button.clicked.connect(self.link_requested)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.links, 2)
        layout.addWidget(self.link_button)
        layout.addWidget(self.suggestions_label)
        layout.addWidget(self.suggestions, 1)
        self.view = LinksView()

    def show_links(self, view: LinksView) -> None:
        self.view = view
        self.links.clear()
        for link in view.links:
            row = LinkRow(link)
            row.open_clicked.connect(self.open_requested)
            row.remove_clicked.connect(self.remove_requested)
            self._add_row(self.links, row, link.other_id)
        if not view.links:
            self._add_placeholder(self.links, "No links yet.")
        self.suggestions.clear()
        open_ones = [s for s in view.suggestions if s.state == "open"]
        for suggestion in open_ones:
            row = SuggestionRow(suggestion)
            row.open_clicked.connect(self.open_requested)
            row.accept_clicked.connect(self.accept_requested)
            row.dismiss_clicked.connect(self.dismiss_requested)
            self._add_row(self.suggestions, row, suggestion.other_id)
        self.suggestions_label.setText(f"Suggestions ({len(open_ones)})")
        self.suggestions.setVisible(bool(open_ones))
        self.suggestions_label.setVisible(bool(open_ones))

    @staticmethod
    def _add_row(target: QListWidget, row: QWidget, other_id: int) -> None:
        item = QListWidgetItem(target)
        item.setData(ID_ROLE, other_id)
        item.setSizeHint(row.sizeHint())
        target.setItemWidget(item, row)

    @staticmethod
    def _add_placeholder(target: QListWidget, text: str) -> None:
        item = QListWidgetItem(text, target)
        item.setFlags(Qt.ItemFlag.NoItemFlags)


class LinkDialog(QDialog):
    """Choose the other document (by search), the relation and an optional note."""

    searched = Signal(str)  # the query whose results are now listed

    def __init__(
        self,
        search: SearchService,
        tasks: Tasks,
        relations: list[str],
        source_id: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Link to another document")
        self.setObjectName("linkDialog")
        self.search = search
        self.tasks = tasks
        self.source_id = source_id
        self.query = QLineEdit(self)
        self.query.setObjectName("linkQuery")
        self.query.setPlaceholderText("Find the other document: words, a title, an id…")
        self.query.textChanged.connect(lambda _t: self._timer.start())
        self._timer = QTimer(self, singleShot=True, interval=250, timeout=self._find)
        self.results = QListWidget(self)
        self.results.setObjectName("linkResults")
        self.results.itemDoubleClicked.connect(lambda _i: self.accept())
        self.results.currentItemChanged.connect(lambda *_: self._update_ok())
        self.relation = QComboBox(self)
        self.relation.setObjectName("linkRelation")
        self.relation.setEditable(True)
        self.relation.addItems([r for r in relations if r not in ("attachment_of", "reply_to")])
        index = self.relation.findText("related")
        self.relation.setCurrentIndex(max(0, index))
        self.note = QLineEdit(self)
        self.note.setObjectName("linkNote")
        self.note.setPlaceholderText("Why are they linked? (optional)")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Link")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Relation:", self.relation)
        form.addRow("Note:", self.note)
        layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(self.results, 1)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.resize(520, 420)
        self._update_ok()
        self._find()

    def chosen(self) -> tuple[int, str, str] | None:
        """(target id, relation, note), or None when nothing is chosen."""
        item = self.results.currentItem()
        if item is None or not item.data(ID_ROLE):
            return None
        return int(item.data(ID_ROLE)), self.relation.currentText().strip().lower(), self.note.text().strip()

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.chosen() is not None)

    def _find(self) -> None:
        text = self.query.text().strip()

        def done(hits: list[Hit] | None, error: BaseException | None) -> None:
            self.results.clear()
            if error is not None:
                item = QListWidgetItem(str(error))
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                self.results.addItem(item)
                self._update_ok()
                return
            for hit in hits or []:
                if hit.id == self.source_id:
                    continue
                item = QListWidgetItem(icons.for_type(hit.type), f"{hit.title}   #{hit.id}")
                item.setData(ID_ROLE, hit.id)
                item.setToolTip("\n".join(hit.paths[:3]))
                self.results.addItem(item)
            if self.results.count():
                self.results.setCurrentRow(0)
            self._update_ok()
            self.searched.emit(text)

        self.tasks.run(
            "search",
            lambda: self.search.search(text, limit=30, facets=False, snippets=False).hits,
            done,
            supersede=f"link-dialog-{id(self)}",
        )
