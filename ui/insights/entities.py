"""The case's entities in a table, and one document's mentions in the document view.

`EntityWindow` lists `InsightsService.entity_table()` (sorted by the service, a header click re-sorts; filtered
by kind and text; within the current results or the whole case) and applies the reviewer's corrections —
rename, merge, unmerge, hide, unhide — through the same service as the `entity` command, on the io lane; each is
audited and kept by value (a merge can be undone: Unmerge). A double-click searches the entity in the workspace. `MentionsPane` is the
document view's "Mentions" tab: the open document's entities with the passage around each.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.insights import KINDS
from app.insights.service import EntityRow, EntityTable, InsightsService, MentionInfo
from ui.insights.common import KIND_LABELS, ScopeIds, entity_query, known_message
from ui.tasks import Tasks

log = logging.getLogger(__name__)

LIMIT = 2_000  # rows listed at once; the filter narrows the rest
SHORT_BEFORE = 30  # characters of a passage shown before the mention (the tooltip has all of it)
COLUMNS = ("Name", "Kind", "Documents", "Mentions", "Also written")
SORT_OF_COLUMN = {0: "name", 1: "kind", 2: "documents", 3: "mentions"}
ROW_ROLE = Qt.ItemDataRole.UserRole + 1


def ner_text(status: dict[str, Any]) -> str:
    """One paragraph on named-entity recognition: the model in use, or how to add one."""
    if status.get("available"):
        return (
            f"People, organisations and places in running text are found with the spaCy model "
            f"<b>{html.escape(str(status.get('model')))}</b>."
        )
    how = html.escape(str(status.get("how_to") or ""))
    for code in (".venv/bin/pip install spacy", ".venv/bin/python -m spacy download en_core_web_sm"):
        how = how.replace(f"`{code}`", f"<code>{code}</code>")
    return (
        f"<b>No spaCy model is installed</b>, so names in running text are not found. {how.replace('`', '')}"
    )


class EntityWindow(QDialog):
    """Entities with counts; rename, merge, hide; double-click searches."""

    search_requested = Signal(str)  # a query for the workspace
    changed = Signal()  # a correction was saved (searches and facets may differ now)
    loaded = Signal(object)  # EntityTable (tests wait on it)

    def __init__(
        self,
        insights: InsightsService,
        tasks: Tasks,
        scope_ids: ScopeIds,
        read_only: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.insights = insights
        self.tasks = tasks
        self.scope_ids = scope_ids
        self.read_only = read_only
        self.sort = "-documents"
        self.table_data: EntityTable | None = None
        self.setObjectName("entityWindow")
        self.setWindowTitle("Entities")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)

        self.kind = QComboBox(self)
        self.kind.setObjectName("entityKind")
        self.kind.addItem("All kinds", None)
        for kind in KINDS:
            self.kind.addItem(KIND_LABELS.get(kind, kind), kind)
        self.filter = QLineEdit(self)
        self.filter.setObjectName("entityFilter")
        self.filter.setPlaceholderText("Filter by name…")
        self.filter.setClearButtonEnabled(True)
        self.within = QCheckBox("Within the current results", self)
        self.within.setObjectName("entityWithin")
        self.show_hidden = QCheckBox("Show hidden", self)
        self.show_hidden.setObjectName("entityShowHidden")
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.reload)
        self.filter.textChanged.connect(lambda _t: self._debounce.start())
        self.kind.currentIndexChanged.connect(lambda _i: self.reload())
        self.within.toggled.connect(lambda _b: self.reload())
        self.show_hidden.toggled.connect(lambda _b: self.reload())
        top = QHBoxLayout()
        top.addWidget(self.kind)
        top.addWidget(self.filter, 1)
        top.addWidget(self.within)
        top.addWidget(self.show_hidden)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("entityTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Interactive)
        header.setSortIndicatorShown(True)
        header.setSectionsClickable(True)
        header.setSortIndicator(2, Qt.SortOrder.DescendingOrder)
        header.sectionClicked.connect(self._header_clicked)
        self.table.itemActivated.connect(lambda item: self.search_row(item.row()))  # double-click, Enter
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.summary = QLabel(self)
        self.summary.setObjectName("entitySummary")
        self.message = QLabel(self)
        self.message.setObjectName("entityMessage")
        self.message.setWordWrap(True)
        self.search_button = self._button("Search", "entitySearch", lambda: self.search_row(self._current()))
        self.rename_button = self._button("Rename…", "entityRename", self.rename_selected)
        self.merge_button = self._button("Merge", "entityMerge", self.merge_selected)
        self.merge_button.setToolTip("Select two (or more) spellings of one name, then merge them into one")
        self.unmerge_button = self._button("Unmerge…", "entityUnmerge", self.unmerge_selected)
        self.unmerge_button.setToolTip("Make a spelling merged into this entity an entity of its own again")
        self.hide_button = self._button("Hide", "entityHide", lambda: self.hide_selected(True))
        self.hide_button.setToolTip("A false positive: hidden from search, facets, tables and graphs")
        self.unhide_button = self._button("Unhide", "entityUnhide", lambda: self.hide_selected(False))
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        for button in (
            self.search_button,
            self.rename_button,
            self.merge_button,
            self.unmerge_button,
            self.hide_button,
            self.unhide_button,
        ):
            buttons.addWidget(button)

        self.ner = QLabel(self)
        self.ner.setObjectName("nerStatus")
        self.ner.setWordWrap(True)
        self.ner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ner.setText(ner_text(insights.ner_status()))
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.ner)
        self.resize(820, 560)
        self._selection_changed()

    def _button(self, text: str, name: str, slot: Callable[[], Any]) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAutoDefault(False)
        button.clicked.connect(lambda _c=False: slot())
        return button

    # -- loading -----------------------------------------------------------------------------------
    def reload(self) -> None:
        kind = self.kind.currentData()
        text = self.filter.text().strip() or None
        hidden = self.show_hidden.isChecked()
        sort = self.sort
        within = self.within.isChecked()
        scope = self.scope_ids() if within else (lambda: None)
        insights = self.insights
        self.summary.setText("Loading…")

        def work() -> EntityTable:
            return insights.entity_table(
                kind=kind,
                text_filter=text,
                include_hidden=hidden,
                sort=sort,
                limit=LIMIT,
                doc_ids=scope(),
            )

        self.tasks.run("search", work, self._loaded, supersede=f"entities-{id(self)}")

    def _loaded(self, table: EntityTable | None, error: BaseException | None) -> None:
        if error is not None or table is None:
            self._failed(error)
            return
        self.table_data = table
        self.table.setRowCount(0)
        self.table.setRowCount(len(table.rows))
        muted = QBrush(self.palette().color(QPalette.ColorRole.PlaceholderText))
        for r, row in enumerate(table.rows):
            also = ", ".join(a["display"] for a in row.aliases)
            cells = (
                row.name,
                KIND_LABELS.get(row.kind, row.kind),
                f"{row.documents:,}",
                f"{row.mentions:,}",
                also,
            )
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setData(ROW_ROLE, row)
                if c in (2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row.hidden:
                    item.setForeground(muted)
                    if c == 0:
                        item.setText(f"{row.name} (hidden)")
                if c == 0 and row.value != row.name:
                    item.setToolTip(f"{row.kind}: {row.value}")
                self.table.setItem(r, c, item)
        if self.kind.currentData() is None:  # the kinds' counts, as the other filters leave them
            for i in range(1, self.kind.count()):
                kind = self.kind.itemData(i)
                count = table.kinds.get(kind, 0)
                label = KIND_LABELS.get(kind, kind)
                self.kind.setItemText(i, f"{label} ({count:,})" if count else label)
        shown = len(table.rows)
        more = f" (the first {shown:,}; filter to see others)" if table.total > shown else ""
        self.summary.setText(f"{table.total:,} entities{more}")
        self._selection_changed()
        self.loaded.emit(table)

    def _failed(self, error: BaseException | None) -> None:
        message = known_message(error) if error is not None else None
        if error is not None and message is None:
            raise error
        self.message.setText(f"<b style='color:#c92a2a'>Not done:</b> {html.escape(message or '')}")

    # -- selection and commands --------------------------------------------------------------------
    def row(self, index: int) -> EntityRow | None:
        item = self.table.item(index, 0)
        return item.data(ROW_ROLE) if item is not None else None

    def selected(self) -> list[EntityRow]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [r for r in (self.row(i) for i in rows) if r is not None]

    def _current(self) -> int:
        return self.table.currentRow()

    def _selection_changed(self) -> None:
        rows = self.selected()
        writable = not self.read_only
        self.search_button.setEnabled(len(rows) == 1)
        self.rename_button.setEnabled(writable and len(rows) == 1)
        self.merge_button.setEnabled(writable and len(rows) >= 2)
        self.unmerge_button.setEnabled(writable and len(rows) == 1 and bool(rows[0].aliases))
        self.hide_button.setEnabled(writable and any(not r.hidden for r in rows))
        self.unhide_button.setEnabled(writable and any(r.hidden for r in rows))

    def search_row(self, index: int) -> None:
        row = self.row(index)
        if row is not None:
            self.search_requested.emit(entity_query(row.kind, row.name, row.value))

    def _header_clicked(self, column: int) -> None:
        key = SORT_OF_COLUMN.get(column)
        if key is None:
            return
        if self.sort.lstrip("-") == key:
            self.sort = key if self.sort.startswith("-") else f"-{key}"
        else:
            self.sort = f"-{key}" if key in ("documents", "mentions") else key
        order = Qt.SortOrder.DescendingOrder if self.sort.startswith("-") else Qt.SortOrder.AscendingOrder
        self.table.horizontalHeader().setSortIndicator(column, order)
        self.reload()

    def rename_selected(self) -> None:
        rows = self.selected()
        if len(rows) != 1:
            return
        row = rows[0]
        name, ok = QInputDialog.getText(
            self, "Rename entity", f"The name shown for {row.name!r}:", text=row.name
        )
        if ok and name.strip() and name.strip() != row.name:
            self._write(lambda: self.insights.rename(row.id, name.strip()), f"Renamed to {name.strip()!r}")

    def merge_selected(self) -> None:
        rows = self.selected()
        if len(rows) < 2:
            return
        names = [f"{r.name}  ({KIND_LABELS.get(r.kind, r.kind)}, {r.documents:,} documents)" for r in rows]
        best = max(range(len(rows)), key=lambda i: rows[i].documents)
        choice, ok = QInputDialog.getItem(
            self,
            "Merge entities",
            "These are spellings of one name. Keep which as the name?",
            names,
            best,
            False,
        )
        if not ok or choice not in names:
            return
        target = rows[names.index(choice)]
        sources = [r for r in rows if r.id != target.id]
        insights = self.insights

        def work() -> EntityRow:
            result = None
            for source in sources:
                result = insights.merge(source.id, target.id)
            assert result is not None
            return result

        self._write(work, f"Merged {len(sources)} spelling(s) into {target.name!r}")

    def unmerge_selected(self) -> None:
        rows = self.selected()
        if len(rows) != 1 or not rows[0].aliases:
            return
        aliases = rows[0].aliases
        names = [str(a["display"]) for a in aliases]
        choice, ok = QInputDialog.getItem(
            self, "Unmerge", f"Which spelling is not {rows[0].name!r}?", names, 0, False
        )
        if ok and choice in names:
            alias = aliases[names.index(choice)]
            self._write(
                lambda: self.insights.unmerge(int(alias["id"])), f"{choice!r} is an entity of its own again"
            )

    def hide_selected(self, hidden: bool) -> None:
        rows = [r for r in self.selected() if r.hidden != hidden]
        if rows:
            ids = [r.id for r in rows]
            what = "Hid" if hidden else "Showing again:"
            self._write(
                lambda: self.insights.hide(ids, hidden),
                f"{what} {len(ids)} entit{'y' if len(ids) == 1 else 'ies'}",
            )

    def _write(self, work: Callable[[], Any], done_text: str) -> None:
        def done(_result: Any, error: BaseException | None) -> None:
            if error is not None:
                self._failed(error)
                return
            self.message.setText(done_text)
            self.changed.emit()
            self.reload()

        self.tasks.run("io", work, done)


class MentionsPane(QWidget):
    """The entities of the open document with the passage around each mention.

    Double-clicking an entity searches it; double-clicking a mention goes to its page (or selects it in the
    Text tab).
    """

    go_to_page = Signal(int)  # page number (1-based)
    go_to_passage = Signal(object)  # a MentionInfo in a part that is not a page: show it in the text
    search_requested = Signal(str)
    loaded = Signal(int)  # document id (tests wait on it)

    def __init__(self, insights: InsightsService, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.insights = insights
        self.tasks = tasks
        self.doc_id: int | None = None
        self.mentions: list[MentionInfo] = []
        self.setObjectName("mentionsPane")
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("mentions")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Entity", "Where", "Passage"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.tree.itemActivated.connect(self._activated)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.note = QLabel(
            "Double-click an entity to search for it, a mention to go to it (right-click: both).", self
        )
        self.note.setEnabled(False)
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.note)

    def show_document(self, doc_id: int) -> None:
        self.doc_id = doc_id
        self.tree.clear()
        insights = self.insights
        self.tasks.run(
            "search",
            lambda: insights.mentions(doc_id),
            lambda mentions, error: self._loaded(doc_id, mentions, error),
            supersede=f"mentions-{id(self)}",
        )

    def clear(self) -> None:
        self.doc_id = None
        self.mentions = []
        self.tree.clear()

    def _loaded(self, doc_id: int, mentions: list[MentionInfo] | None, error: BaseException | None) -> None:
        if doc_id != self.doc_id:
            return
        if error is not None:
            message = known_message(error)
            if message is None:
                raise error
            self.note.setText(message)
            return
        self.mentions = mentions or []
        self.tree.clear()
        groups: dict[int, QTreeWidgetItem] = {}
        counts: dict[int, int] = {}
        for m in self.mentions:
            top = groups.get(m.entity_id)
            if top is None:
                top = QTreeWidgetItem(self.tree, [m.name, KIND_LABELS.get(m.kind, m.kind), ""])
                top.setData(0, ROW_ROLE, m)
                groups[m.entity_id] = top
            counts[m.entity_id] = counts.get(m.entity_id, 0) + 1
            before = m.before if len(m.before) <= SHORT_BEFORE else "…" + m.before[-SHORT_BEFORE:].lstrip()
            child = QTreeWidgetItem(top, [m.text, m.location, f"{before}[{m.text}]{m.after}"])
            child.setData(0, ROW_ROLE, m)
            child.setToolTip(2, f"{m.before}{m.text}{m.after}")
        for eid, top in groups.items():
            top.setText(2, f"{counts[eid]} mention{'s' if counts[eid] != 1 else ''}")
        if not self.mentions:
            QTreeWidgetItem(self.tree, ["(no entities found in this document)", "", ""])
        self.tree.resizeColumnToContents(0)
        self.tree.setColumnWidth(0, min(self.tree.columnWidth(0), 240))
        self.tree.resizeColumnToContents(1)
        self.loaded.emit(doc_id)

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        """An entity row searches the entity; a mention row goes to the mention."""
        if item.parent() is None:
            self.search(item)
        else:
            self.go_to(item)

    def go_to(self, item: QTreeWidgetItem) -> None:
        m = item.data(0, ROW_ROLE)
        if not isinstance(m, MentionInfo):
            return
        number = m.location.split(" ", 1)[1] if m.location.startswith("page ") else ""
        if number.isdigit():
            self.go_to_page.emit(int(number))
        elif m.part is not None:
            self.go_to_passage.emit(m)

    def search(self, item: QTreeWidgetItem) -> None:
        m = item.data(0, ROW_ROLE)
        if isinstance(m, MentionInfo):
            self.search_requested.emit(entity_query(m.kind, m.name, m.value))

    def _menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        m = item.data(0, ROW_ROLE) if item is not None else None
        if not isinstance(m, MentionInfo):
            return
        menu = QMenu(self)
        if item.parent() is not None and (m.part is not None):
            menu.addAction("Go to this mention", lambda: self.go_to(item))
        menu.addAction(f"Search for {m.name[:60]}", lambda: self.search(item))
        menu.exec(self.tree.viewport().mapToGlobal(pos))
