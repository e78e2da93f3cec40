"""Insights in the app: entities, mentions, the time line, graphs, batch search and the phone region.

`install(window)` adds an Insights menu (Entities…, Time Line…, Graph…, Batch Search…, Phone Region…,
Names in Running Text…) and, whenever a case opens, a "Mentions" tab to its document view. The windows call
`Services.insights` and the `app.insights` functions the CLI calls; reading runs on the search lane,
corrections on the io lane, batch searches and recomputing entities on the job lane. What a window finds
is searched in the workspace (`entity:`-style fields, `dated:` for a time range).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDialog, QInputDialog, QMenu, QMessageBox

from app.search import SearchService
from ui.insights.common import known_message, result_ids, with_dated
from ui.viewers.base import Anchor

if TYPE_CHECKING:
    from ui.main_window import MainWindow
    from ui.workspace import Workspace

log = logging.getLogger(__name__)

WRITES = ("phone_region",)


def install(window: MainWindow) -> InsightsCommands:
    return InsightsCommands(window)


class InsightsCommands(QObject):
    """The Insights menu and windows of one main window, and the Mentions tab of its document view."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dialogs: dict[str, QDialog] = {}
        self.mentions: Any = None
        from ui.main_window import Command

        bar = window.menuBar()
        help_action = next(
            (a for a in bar.actions() if a.menu() and a.text().replace("&", "") == "Help"), None
        )
        self.menu = QMenu("&Insights", window)
        self.menu.setObjectName("insightsMenu")
        if help_action is not None:
            bar.insertMenu(help_action, self.menu)
        else:
            bar.addMenu(self.menu)

        def add(command: Command, slot: Callable[[], Any], tip: str = "") -> None:
            action = window._add(self.menu, command, slot)
            # Case commands wait for a case to open (the window enables them then).
            action.setEnabled(not command.needs_case)
            if tip:
                action.setToolTip(tip)
                action.setStatusTip(tip)

        add(
            Command("entities", "&Entities…", ("Ctrl+Shift+E",)),
            self.show_entities,
            "People, companies, addresses, numbers … of the case: rename, merge, hide",
        )
        add(Command("timeline", "&Time Line…"), self.show_timeline, "Documents per day, month or year")
        add(Command("graph", "&Graph…"), self.show_graph, "Who wrote to whom; documents and their entities")
        add(Command("batch_search", "&Batch Search…"), self.show_batch, "Search a CSV list of terms at once")
        self.menu.addSeparator()
        add(
            Command("phone_region", "&Phone Region…"),
            self.choose_phone_region,
            "The country of phone numbers written without a country code",
        )
        add(Command("ner_status", "&Names in Running Text…", (), False), self.show_ner_status)
        window.case_opened.connect(self._case_opened)
        window.case_closed.connect(self._case_closed)

    # -- the open case -----------------------------------------------------------------------------
    @property
    def workspace(self) -> Workspace | None:
        return self.window.workspace

    def _case_opened(self, _path: Any) -> None:
        from ui.insights.entities import MentionsPane

        session, ws = self.window.session, self.workspace
        if session is None or ws is None:
            return
        if session.read_only:
            for name in WRITES:
                self.window.actions[name].setEnabled(False)
        pane = MentionsPane(session.services.insights, session.tasks, ws.document)
        self.mentions = pane
        ws.document.tabs.addTab(pane, "Mentions")
        pending: dict[str, int | None] = {"doc": None}

        def load_if_shown() -> None:
            if ws.document.tabs.currentWidget() is pane and pending["doc"] is not None:
                pane.show_document(pending["doc"])
                pending["doc"] = None

        def opened(detail: Any) -> None:
            pending["doc"] = detail.summary.id
            load_if_shown()

        ws.document.opened.connect(opened)
        ws.document.tabs.currentChanged.connect(lambda _i: load_if_shown())
        ws.search.searched.connect(self._searched)
        session.import_job.finished.connect(lambda *_: self._imported())
        close = session.close

        def close_session() -> None:  # a running batch search stops after its term when the case closes
            batch = self.dialogs.get("batch")
            if batch is not None:
                batch.stop()  # type: ignore[attr-defined]
            close()

        session.close = close_session  # type: ignore[method-assign]
        pane.go_to_page.connect(lambda page: ws.document.go_to(Anchor(page=page)))
        pane.go_to_passage.connect(lambda mention: show_passage(ws, mention))
        pane.search_requested.connect(self.search)

    def _case_closed(self) -> None:
        for dialog in self.dialogs.values():
            dialog.close()
            dialog.deleteLater()
        self.dialogs.clear()
        self.mentions = None

    def _show(self, name: str, dialog: QDialog) -> QDialog:
        old = self.dialogs.pop(name, None)
        if old is not None:
            old.close()
            old.deleteLater()
        self.dialogs[name] = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _raise(self, name: str) -> bool:
        """Bring an open window of `name` to the front (it keeps its state: a running batch, a selection)."""
        dialog = self.dialogs.get(name)
        if dialog is None or not dialog.isVisible():
            return False
        dialog.raise_()
        dialog.activateWindow()
        return True

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    # -- the workspace ---------------------------------------------------------------------------------
    def search(self, query: str) -> None:
        """Show `query`'s results in the workspace (facet filters cleared: a fresh search)."""
        ws = self.workspace
        if ws is None:
            return
        ws.facets.set_filters({})
        ws.search.set_query(query)
        self.window.raise_()

    def filter_dates(self, term: str) -> None:
        """Narrow the current search to a time-line range (replacing an earlier one)."""
        ws = self.workspace
        if ws is not None:
            ws.search.set_query(with_dated(ws.bar.text(), term))

    def scope_ids(self) -> Callable[[], list[int] | None]:
        """The work listing the documents of the current results (None when they are the whole case)."""
        ws = self.workspace
        if ws is None:
            return lambda: None
        search: SearchService = ws.session.services.search
        request = ws.model.request
        return lambda: result_ids(search, request.text, request.search_filters())

    def selected_ids(self) -> list[int]:
        ws = self.workspace
        return ws.search.selected_ids() if ws is not None else []

    def _searched(self, _page: Any) -> None:
        """A new search: the entity table follows it when it lists the current results' entities."""
        entities = self.dialogs.get("entities")
        if entities is not None and entities.isVisible() and entities.within.isChecked():  # type: ignore[attr-defined]
            entities.reload()  # type: ignore[attr-defined]

    def _imported(self) -> None:
        """An import ended (its last step computed the new documents' entities): show the new counts."""
        for name in ("entities", "timeline"):
            dialog = self.dialogs.get(name)
            if dialog is not None and dialog.isVisible():
                dialog.reload()  # type: ignore[attr-defined]

    def _changed(self) -> None:
        """Entities changed: the search's facets and the open document's mentions may differ."""
        ws = self.workspace
        if ws is not None:
            ws.search.run()
        if self.mentions is not None and self.mentions.doc_id is not None:
            self.mentions.show_document(self.mentions.doc_id)

    # -- windows -----------------------------------------------------------------------------------
    def show_entities(self) -> None:
        from ui.insights.entities import EntityWindow

        session = self.window.session
        if session is None or self._raise("entities"):
            return
        dialog = EntityWindow(
            session.services.insights, session.tasks, self.scope_ids, session.read_only, self.window
        )
        dialog.search_requested.connect(self.search)
        dialog.changed.connect(self._changed)
        self._show("entities", dialog)
        dialog.reload()

    def show_timeline(self) -> None:
        from ui.insights.timeline import TimelineWindow

        session = self.window.session
        if session is None or self._raise("timeline"):
            return
        dialog = TimelineWindow(session.services, session.tasks, self.scope_ids, self.window)
        dialog.filter_requested.connect(self.filter_dates)
        self._show("timeline", dialog)
        dialog.reload()

    def show_graph(self) -> None:
        from ui.insights.graph import GraphWindow

        session = self.window.session
        if session is None or self._raise("graph"):
            return
        dialog = GraphWindow(session.services, session.tasks, self.scope_ids, self.selected_ids, self.window)
        dialog.search_requested.connect(self.search)
        dialog.open_document.connect(lambda doc_id: self.workspace and self.workspace.open_document(doc_id))
        self._show("graph", dialog)
        dialog.reload()

    def show_batch(self) -> None:
        from ui.insights.batch import BatchSearchDialog

        session = self.window.session
        if session is None or self._raise("batch"):
            return
        dialog = BatchSearchDialog(session.services, session.tasks, session.path.parent, self.window)
        dialog.search_requested.connect(self.search)
        self._show("batch", dialog)

    # -- settings and status -----------------------------------------------------------------------
    def choose_phone_region(self) -> None:
        import phonenumbers

        session = self.window.session
        if session is None or session.read_only:
            return
        insights = session.services.insights
        current = insights.phone_region()
        codes = sorted(phonenumbers.SUPPORTED_REGIONS)
        items = [f"{code}  (+{phonenumbers.country_code_for_region(code)})" for code in codes]
        choice, ok = QInputDialog.getItem(
            self.window,
            "Phone region",
            "Phone numbers written without a country code are read as numbers of:",
            items,
            codes.index(current) if current in codes else 0,
            False,
        )
        if ok and choice:
            self.set_phone_region(choice.split()[0])

    def set_phone_region(self, region: str) -> None:
        """Store the case's phone region, then read the case's phone numbers again (job lane)."""
        session = self.window.session
        if session is None:
            return
        insights, tasks = session.services.insights, session.tasks

        def saved(code: str | None, error: BaseException | None) -> None:
            if error is not None:
                message = known_message(error)
                if message is None:
                    raise error
                self._status(f"Phone region not changed: {message}")
                return
            self._status(
                f"Phone numbers without a country code are read as {code} numbers; re-reading the case…"
            )
            tasks.run("job", insights.refresh, refreshed)

        def refreshed(count: int | None, error: BaseException | None) -> None:
            if error is not None:
                raise error
            self._status(f"Phone region {insights.phone_region()}: {count or 0:,} document(s) read again")
            self._changed()
            entities = self.dialogs.get("entities")
            if entities is not None and entities.isVisible():
                entities.reload()  # type: ignore[attr-defined]

        tasks.run("io", lambda: insights.set_phone_region(region), saved)

    def show_ner_status(self) -> None:
        from app.insights import ner
        from ui.insights.entities import ner_text

        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Names in running text",
            "",
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        box.setObjectName("nerStatusBox")
        region = ""
        if self.window.session is not None:
            region = (
                f"<p>Phone numbers without a country code are read as "
                f"<b>{html.escape(self.window.session.services.insights.phone_region())}</b> numbers "
                f"(Insights → Phone Region…).</p>"
            )
        box.setText(f"<p>{ner_text(ner.status())}</p>{region}")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()


def show_passage(ws: Workspace, mention: Any) -> None:
    """Select a mention in the document view's Text tab (for parts that are not pages: email bodies …)."""
    from ui.document_view import TAB_TEXT
    from ui.viewers.text import compose_parts

    detail = ws.document.detail
    if detail is None or detail.summary.id != mention.document_id:
        return
    index = next((i for i, p in enumerate(detail.parts) if p.get("ordinal") == mention.part), None)
    if index is None:
        return
    text, starts = compose_parts(detail.parts)
    # The part's text follows its heading in the composed text: look for the mention from where it can be.
    at = text.find(mention.text, starts[index] + mention.start)
    if at < 0:
        return
    ws.document.tabs.setCurrentIndex(TAB_TEXT)
    pane = ws.document.text_pane
    # The editor counts UTF-16 units (and may fold line breaks), so find the words from about there.
    cursor = pane.document().find(mention.text, at)
    if cursor.isNull():
        cursor = pane.document().find(mention.text, 0)
    if not cursor.isNull():
        pane.setTextCursor(cursor)
        pane.ensureCursorVisible()
