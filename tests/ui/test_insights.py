"""Insights through the real main window: the entity table (sort, filter, rename, merge, hide), a document's
mentions, entity facets, the time line (drag a range), graphs (zoom, pan, click, export), batch search, the
phone region and the NER note.

One case is created and filled through the menus for the module with real corpus files: the Enron emails
kept as HTML (real senders, phone numbers, amounts), a few EML files and an MBOX (senders → recipients),
and an Enron PDF.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

from app.insights.timeline import timeline
from db.models import AuditEntry
from tests.ui.conftest import create_case_through_menu, import_through_menu, make_window, pump_until
from ui.document_view import TAB_DOCUMENT, TAB_TEXT
from ui.insights import InsightsCommands
from ui.insights.batch import BatchSearchDialog
from ui.insights.entities import EntityWindow, MentionsPane
from ui.insights.graph import GraphWindow
from ui.insights.timeline import TimelineWindow
from ui.main_window import MainWindow
from ui.workspace import Workspace

EML = (
    "spamscope_mail_test_3.eml",
    "spamscope_mail_test_17.eml",
    "tika_testThunderbirdEml.eml",
    "tika_testLotusEml.eml",
    "tika_testGroupWiseEml.eml",
)
PDF = "real/pdf/enron_AggieNight2001.pdf"
PHONE = "+1 713-646-3490"  # in two of the Enron emails


@pytest.fixture(scope="module")
def window(
    qapp: QApplication, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MainWindow]:
    folder = tmp_path_factory.mktemp("insights")
    monkeypatch = pytest.MonkeyPatch()
    window, _reporter = make_window(folder / "settings.ini")
    files = [
        *sorted((corpus / "real" / "html").glob("enron_email_*")),
        *(corpus / "real" / "eml" / name for name in EML),
        corpus / "real" / "mbox" / "tika_complex.mbox",
        corpus / PDF,
    ]
    try:
        create_case_through_menu(window, folder / "case", monkeypatch)
        import_through_menu(window, files, monkeypatch)
        window.activateWindow()
        yield window
    finally:
        monkeypatch.undo()
        window.close()


def _ws(window: MainWindow) -> Workspace:
    assert window.workspace is not None
    return window.workspace


def _insights(window: MainWindow) -> InsightsCommands:
    return window.insights


def _search(qtbot, window: MainWindow, query: str) -> int:
    ws = _ws(window)
    with qtbot.waitSignal(ws.search.searched, timeout=30_000) as blocker:
        ws.search.set_query(query)
    return blocker.args[0].total


def _expect_search(qtbot, window: MainWindow, action) -> tuple[str, int]:  # noqa: ANN001
    """Run `action`, which should search the workspace; (the query, how many results)."""
    ws = _ws(window)
    with qtbot.waitSignal(ws.search.searched, timeout=30_000) as blocker:
        action()
    return ws.bar.text(), blocker.args[0].total


def _entities(qtbot, window: MainWindow) -> EntityWindow:
    window.actions["entities"].trigger()
    dialog = _insights(window).dialogs["entities"]
    assert isinstance(dialog, EntityWindow)
    qtbot.waitUntil(lambda: dialog.table_data is not None, timeout=30_000)
    return dialog


def _reload(qtbot, dialog: EntityWindow, change) -> None:  # noqa: ANN001
    with qtbot.waitSignal(dialog.loaded, timeout=30_000):
        change()


def _row_of(dialog: EntityWindow, name: str) -> int:
    for i in range(dialog.table.rowCount()):
        row = dialog.row(i)
        if row is not None and row.name == name:
            return i
    raise AssertionError(f"{name!r} is not in the entity table")


def _names(dialog: EntityWindow) -> list[str]:
    rows = (dialog.row(i) for i in range(dialog.table.rowCount()))
    return sorted(r.name for r in rows if r is not None)


def _double_click(qtbot, view, pos: QPoint) -> None:  # noqa: ANN001
    """A reporter's double-click: a click, then the double-click event (QTest sends only the second)."""
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def _double_click_row(qtbot, table, row: int) -> None:  # noqa: ANN001
    _double_click(qtbot, table, table.visualItemRect(table.item(row, 0)).center())


def _select(dialog: EntityWindow, rows: list[int]) -> None:
    dialog.table.clearSelection()
    model = dialog.table.selectionModel()
    for r in rows:
        model.select(
            dialog.table.model().index(r, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )


# -- the entity table --------------------------------------------------------------------------------


def test_entity_table_sorts_filters_and_searches(qtbot, window: MainWindow) -> None:
    _search(qtbot, window, "")
    dialog = _entities(qtbot, window)
    table = dialog.table_data
    assert (
        table is not None and table.total >= 50 and {"email", "person", "phone", "money"} <= set(table.kinds)
    )
    counts = [dialog.row(i).documents for i in range(dialog.table.rowCount())]
    assert counts == sorted(counts, reverse=True)  # most documents first
    assert "spaCy" in dialog.ner.text()  # whether names in running text are found, and how to add a model

    # A click on the Name header sorts by name (by the service, over every entity).
    header = dialog.table.horizontalHeader()
    _reload(qtbot, dialog, lambda: qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(header.sectionViewportPosition(0) + 20, 5)
    ))  # fmt: skip
    names = [dialog.row(i).name.lower() for i in range(dialog.table.rowCount())]
    assert dialog.sort == "name" and names == sorted(names)

    # Filter by kind, then by text.
    _reload(qtbot, dialog, lambda: dialog.kind.setCurrentIndex(dialog.kind.findData("phone")))
    phones = [dialog.row(i) for i in range(dialog.table.rowCount())]
    assert phones and all(r.kind == "phone" for r in phones)
    assert dialog.table_data.total == dialog.table_data.kinds["phone"]
    _reload(qtbot, dialog, lambda: qtbot.keyClicks(dialog.filter, "646"))
    assert [dialog.row(i).name for i in range(dialog.table.rowCount())] == [PHONE]
    assert dialog.table.item(0, 2).text() == "2"

    # A double-click shows the entity's documents in the workspace.
    qtbot.waitExposed(dialog)
    asked: list[str] = []
    dialog.search_requested.connect(asked.append)
    query, total = _expect_search(qtbot, window, lambda: _double_click_row(qtbot, dialog.table, 0))
    assert asked == [f'phone:"{PHONE}"']
    assert query == f'phone:"{PHONE}"' and total == 2
    _reload(qtbot, dialog, lambda: dialog.filter.clear())
    _reload(qtbot, dialog, lambda: dialog.kind.setCurrentIndex(0))

    # "Within the current results": only the entities of the two documents found.
    _reload(qtbot, dialog, lambda: dialog.within.setChecked(True))
    within = dialog.table_data
    assert within is not None and 0 < within.total < table.total
    assert PHONE in _names(dialog)
    # It follows the search while ticked.
    _reload(qtbot, dialog, lambda: _search(qtbot, window, 'person:"Jothi Padmanabhan"'))
    assert "Jothi Padmanabhan" in _names(dialog) and PHONE not in _names(dialog)
    _reload(qtbot, dialog, lambda: dialog.within.setChecked(False))
    dialog.close()


def test_rename_merge_and_hide_entities(qtbot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    services = window.session.services
    dialog = _entities(qtbot, window)
    _reload(qtbot, dialog, lambda: dialog.kind.setCurrentIndex(dialog.kind.findData("person")))
    _reload(qtbot, dialog, lambda: qtbot.keyClicks(dialog.filter, "porter"))
    spellings = sorted(dialog.row(i).name for i in range(dialog.table.rowCount()))
    assert spellings == ["Gregory J. Porter", "Porter Gregory J."], spellings

    # Merge the two spellings of one man: select both rows, Merge, keep "Gregory J. Porter".
    _select(dialog, [0, 1])
    assert dialog.merge_button.isEnabled()
    chosen: list[list[str]] = []

    def pick(_parent, _title, _label, items, _current, _editable):  # noqa: ANN001, ANN202
        chosen.append(list(items))
        return next(i for i in items if i.startswith("Gregory J. Porter")), True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(pick))
    with qtbot.waitSignal(dialog.changed, timeout=30_000):
        qtbot.mouseClick(dialog.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1 and dialog.row(0) is not None, timeout=30_000)
    qtbot.waitUntil(lambda: dialog.row(0).aliases != [], timeout=30_000)
    merged = dialog.row(0)
    assert merged.name == "Gregory J. Porter" and [a["display"] for a in merged.aliases] == [
        "Porter Gregory J."
    ]
    assert "Porter Gregory J." in dialog.table.item(0, 4).text() and len(chosen[0]) == 2
    assert services.search.matching_ids('person:"Porter Gregory J."') == services.search.matching_ids(
        'person:"Gregory J. Porter"'
    )

    # Rename it.
    _select(dialog, [0])
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Greg Porter (Enron)", True)))
    with qtbot.waitSignal(dialog.changed, timeout=30_000):
        qtbot.mouseClick(dialog.rename_button, Qt.MouseButton.LeftButton)
    dialog.filter.setText("greg porter")
    qtbot.waitUntil(lambda: _names(dialog) == ["Greg Porter (Enron)"], timeout=30_000)

    # Hide it (a false positive, say): gone from the table and from search; Show hidden brings it back.
    _select(dialog, [0])
    with qtbot.waitSignal(dialog.changed, timeout=30_000):
        qtbot.mouseClick(dialog.hide_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 0, timeout=30_000)
    assert services.search.matching_ids('person:"Greg Porter"') == []
    _reload(qtbot, dialog, lambda: dialog.show_hidden.setChecked(True))
    assert dialog.row(0).hidden and dialog.table.item(0, 0).text().endswith("(hidden)")
    _select(dialog, [0])
    assert dialog.unhide_button.isEnabled() and not dialog.hide_button.isEnabled()
    with qtbot.waitSignal(dialog.changed, timeout=30_000):
        qtbot.mouseClick(dialog.unhide_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1 and not dialog.row(0).hidden, timeout=30_000)
    assert services.search.matching_ids('person:"Greg Porter"')

    # Unmerge: the other spelling is an entity of its own again.
    _select(dialog, [0])
    assert dialog.unmerge_button.isEnabled()
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("Porter Gregory J.", True)))
    with qtbot.waitSignal(dialog.changed, timeout=30_000):
        qtbot.mouseClick(dialog.unmerge_button, Qt.MouseButton.LeftButton)
    dialog.filter.setText("porter")
    qtbot.waitUntil(lambda: _names(dialog) == ["Greg Porter (Enron)", "Porter Gregory J."], timeout=30_000)

    # Every correction is in the audit trail, and the corrections are kept by value.
    with services.case.reader() as s:
        actions = {e.action for e in s.query(AuditEntry).filter(AuditEntry.action.like("entity_%"))}
    assert {"entity_merge", "entity_rename", "entity_hide", "entity_unhide", "entity_unmerge"} <= actions
    assert any(c["label"] == "Greg Porter (Enron)" for c in services.insights.corrections())
    dialog.close()


# -- mentions and facets -----------------------------------------------------------------------------


def test_mentions_tab_lists_passages_jumps_and_searches(qtbot, window: MainWindow) -> None:
    ws = _ws(window)
    services = window.session.services
    doc_id = services.search.matching_ids(f'phone:"{PHONE}"')[0]
    ws.open_document(doc_id)
    pane = _insights(window).mentions
    assert isinstance(pane, MentionsPane)
    with qtbot.waitSignal(pane.loaded, timeout=30_000):
        ws.document.tabs.setCurrentWidget(pane)
    assert ws.document.tabs.tabText(ws.document.tabs.currentIndex()) == "Mentions"
    tree = pane.tree
    names = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert PHONE in names
    phone = tree.topLevelItem(names.index(PHONE))
    child = phone.child(0)
    assert "[" in child.text(2) and child.text(0) in child.text(2)  # the passage with the mention marked
    assert len(pane.mentions) == len(services.insights.mentions(doc_id))

    # Double-clicking a mention selects it in the Text tab (an email body has no pages).
    phone.setExpanded(True)
    tree.scrollToItem(child)
    _double_click(qtbot, tree, tree.visualItemRect(child).center())
    qtbot.waitUntil(lambda: ws.document.tabs.currentIndex() == TAB_TEXT, timeout=10_000)
    selected = ws.document.text_pane.textCursor().selectedText()
    assert selected == child.text(0)

    # Double-clicking the entity searches it.
    ws.document.tabs.setCurrentWidget(pane)
    tree.scrollToItem(phone)
    query, total = _expect_search(
        qtbot, window, lambda: _double_click(qtbot, tree, tree.visualItemRect(phone).center())
    )
    assert query == f'phone:"{PHONE}"' and total == 2

    # In a PDF, a mention goes to its page.
    pdf_id = next(d.id for d in services.documents.iter_summaries() if d.type == "pdf")
    with qtbot.waitSignal(pane.loaded, timeout=30_000):
        ws.open_document(pdf_id)
    top = tree.topLevelItem(0)
    top.setExpanded(True)
    mention = top.child(0)
    assert mention.text(1) == "page 1"
    pages: list[int] = []
    pane.go_to_page.connect(pages.append)
    _double_click(qtbot, tree, tree.visualItemRect(mention).center())
    assert pages == [1] and ws.document.tabs.currentIndex() == TAB_DOCUMENT


def test_entity_facets_count_and_filter(qtbot, window: MainWindow) -> None:
    ws = _ws(window)
    _search(qtbot, window, "")
    kinds = ws.facets.value_item("entities", "phone")
    assert kinds is not None and kinds.text(0) == "Phone numbers" and int(kinds.text(1)) >= 2
    item = ws.facets.value_item("phone", PHONE)
    assert item is not None and item.text(1) == "2"
    with qtbot.waitSignal(ws.search.searched, timeout=30_000) as blocker:
        item.setCheckState(0, Qt.CheckState.Checked)
    assert blocker.args[0].total == 2
    with qtbot.waitSignal(ws.search.searched, timeout=30_000):
        ws.facets.clear_filters()


# -- time line ---------------------------------------------------------------------------------------


def test_timeline_shows_sources_and_a_dragged_range_filters_the_search(qtbot, window: MainWindow) -> None:
    ws = _ws(window)
    _search(qtbot, window, "")
    window.actions["timeline"].trigger()
    dialog = _insights(window).dialogs["timeline"]
    assert isinstance(dialog, TimelineWindow)
    qtbot.waitUntil(lambda: dialog.data is not None, timeout=30_000)
    with qtbot.waitSignal(dialog.loaded, timeout=30_000):
        dialog.by.setCurrentIndex(dialog.by.findData("year"))
    data = dialog.data
    expected = timeline(window.session.services.case, "year")
    assert [b.key for b in data.buckets] == [b.key for b in expected.buckets]
    assert "email Date" in dialog.sources.text() and f"{expected.dated:,} dated" in dialog.sources.text()
    assert "a date in the text" in dialog.sources.text()  # the Enron HTML emails are dated by their text
    keys = [b.key for b in data.buckets]
    first, last = keys.index("2001"), keys.index("2002")
    chart = dialog.chart
    dialog.show()
    qtbot.waitExposed(dialog)

    def drag() -> None:
        start = chart.bar_rect(first).center().toPoint()
        end = chart.bar_rect(last).center().toPoint()
        qtbot.mousePress(chart, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(chart, end)
        qtbot.mouseRelease(chart, Qt.MouseButton.LeftButton, pos=end)

    query, total = _expect_search(qtbot, window, drag)
    assert query == "dated:2001/2002"
    assert total == data.buckets[first].count + data.buckets[last].count
    assert chart.selection == (first, last)
    # A second range replaces the first, and words already in the bar stay.
    query, _ = _expect_search(qtbot, window, lambda: ws.search.set_query("enron dated:2001/2002"))
    single = chart.bar_rect(first).center().toPoint()
    query, total = _expect_search(
        qtbot, window, lambda: qtbot.mouseClick(chart, Qt.MouseButton.LeftButton, pos=single)
    )
    assert query == "enron dated:2001"
    # The current results only.
    with qtbot.waitSignal(dialog.loaded, timeout=30_000):
        dialog.scope.setCurrentIndex(1)
    assert dialog.data.dated == total
    dialog.close()
    _search(qtbot, window, "")


# -- graphs ------------------------------------------------------------------------------------------


def _wheel(view, steps: int) -> None:  # noqa: ANN001
    center = QPointF(view.viewport().rect().center())
    event = QWheelEvent(
        center,
        QPointF(view.viewport().mapToGlobal(center.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


def test_graph_draws_zooms_pans_searches_and_exports(
    qtbot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ws = _ws(window)
    _search(qtbot, window, "")
    window.actions["graph"].trigger()
    dialog = _insights(window).dialogs["graph"]
    assert isinstance(dialog, GraphWindow)
    qtbot.waitUntil(lambda: dialog.drawn is not None, timeout=60_000)
    drawn = dialog.drawn
    assert drawn.full.name == "correspondents" and len(drawn.full.nodes) >= 10 and drawn.full.edges
    assert set(dialog.items) == set(drawn.shown.nodes)
    positions = {tuple(round(c) for c in p) for p in drawn.positions.values()}
    assert len(positions) > len(drawn.positions) // 2  # laid out, not piled up
    dialog.show()
    qtbot.waitExposed(dialog)

    # Zoom with the wheel, pan by dragging the background.
    view = dialog.view
    before = view.zoom()
    _wheel(view, 5)
    assert view.zoom() == pytest.approx(before * 1.2**5)
    _wheel(view, -1)
    assert view.zoom() == pytest.approx(before * 1.2**4)
    bars = (view.horizontalScrollBar(), view.verticalScrollBar())
    assert any(b.maximum() > b.minimum() for b in bars)  # zoomed in past the window's edges
    corner = QPoint(view.viewport().width() // 2, view.viewport().height() // 2)
    while view.itemAt(corner) is not None:
        corner += QPoint(3, 3)
    start_values = [b.value() for b in bars]
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=corner)
    qtbot.mouseMove(view.viewport(), corner + QPoint(-60, -60))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=corner + QPoint(-60, -60))
    assert [b.value() for b in bars] != start_values

    # Click the busiest sender: the workspace searches that address.
    sender = max(drawn.shown.nodes.values(), key=lambda n: n.attrs.get("sent", 0))
    view.fit()
    view.centerOn(dialog.items[sender.id])
    point = dialog.node_center(sender.id).toPoint()
    query, total = _expect_search(
        qtbot, window, lambda: qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    )
    assert query == f"email:{sender.id}" and total >= sender.attrs["sent"]

    # Export the whole graph for Gephi.
    out = tmp_path / "mail.gexf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        qtbot.mouseClick(dialog.gexf_button, Qt.MouseButton.LeftButton)
    root = ET.parse(out).getroot()
    assert len(root.findall(".//{http://gexf.net/1.3}node")) == len(drawn.full.nodes)
    out_ml = tmp_path / "mail"  # no extension: the button's format is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out_ml), "")))
    with qtbot.waitSignal(dialog.exported, timeout=30_000):
        qtbot.mouseClick(dialog.graphml_button, Qt.MouseButton.LeftButton)
    assert ET.parse(tmp_path / "mail.graphml").getroot().tag.endswith("graphml")
    # A folder that cannot be written: a message in the window, not a traceback.
    blocked = tmp_path / "file.txt"
    blocked.write_text("not a folder", "utf-8")
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(blocked / "g.gexf"), ""))
    )
    qtbot.mouseClick(dialog.gexf_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Not exported" in dialog.summary.text(), timeout=30_000)

    # Documents ↔ entities of the current results (the address's emails); a document node opens it.
    with qtbot.waitSignal(dialog.loaded, timeout=60_000):
        dialog.how.setCurrentIndex(dialog.how.findData("circle"))
    with qtbot.waitSignal(dialog.loaded, timeout=60_000):
        dialog.mode.setCurrentIndex(dialog.mode.findData("entities"))
    drawn = dialog.drawn
    docs = [n for n in drawn.shown.nodes.values() if n.kind == "document"]
    assert len(docs) == total and any(n.kind == "email" for n in drawn.shown.nodes.values())
    doc = docs[0]
    view.centerOn(dialog.items[doc.id])
    point = dialog.node_center(doc.id).toPoint()
    with qtbot.waitSignal(ws.document.opened, timeout=30_000) as opened:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert opened.args[0].summary.id == int(doc.id[1:])

    # Nothing selected: the window says what to do instead of drawing nothing.
    ws.results.clearSelection()
    dialog.scope.setCurrentIndex(dialog.scope.findData("selected"))
    assert "Select some results" in dialog.summary.text() and not dialog.gexf_button.isEnabled()
    dialog.close()
    _search(qtbot, window, "")


# -- batch search ------------------------------------------------------------------------------------


def test_batch_search_runs_a_terms_file_and_opens_a_row(
    qtbot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    terms = tmp_path / "terms.csv"
    terms.write_text(
        "term,phrase,fuzzy,field\nakingump.com,,,\nGregory Porter,yes,,\nEnrn,,1,\nharris,,,from\nEnron Corp,yes,1,\n",
        "utf-8",
    )
    window.actions["batch_search"].trigger()
    dialog = _insights(window).dialogs["batch"]
    assert isinstance(dialog, BatchSearchDialog)
    assert not dialog.run_button.isEnabled()
    # A file that is not a terms file: a message in the window, nothing loaded.
    bad = tmp_path / "bad.csv"
    bad.write_text("name,age\nx,1\n", "utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(bad), "")))
    qtbot.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
    assert "term" in dialog.message.text() and not dialog.terms
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(terms), "")))
    qtbot.mouseClick(dialog.load_button, Qt.MouseButton.LeftButton)
    assert len(dialog.terms) == 5 and "5 terms" in dialog.file_label.text()

    with qtbot.waitSignal(dialog.finished_batch, timeout=60_000) as done:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    results = done.args[0]
    assert dialog.table.rowCount() == 5 and dialog.progress.value() == 5
    by_term = {r.term: r for r in results}
    services = window.session.services
    assert by_term["akingump.com"].documents == len(services.search.matching_ids('"akingump.com"')) > 0
    assert by_term["Enrn"].query == "Enrn~1" and by_term["Enrn"].documents > 0  # fuzzy finds Enron
    assert by_term["Enron Corp"].error and dialog.table.item(4, 4).text() == by_term["Enron Corp"].error
    assert dialog.table.item(0, 1).text() == str(by_term["akingump.com"].documents)

    # A row opens its results in the workspace.
    query, total = _expect_search(qtbot, window, lambda: _double_click_row(qtbot, dialog.table, 0))
    assert query == by_term["akingump.com"].query and total == by_term["akingump.com"].documents

    # The report is the command's CSV.
    report = tmp_path / "report.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(report), "")))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: report.exists() and "saved" in dialog.message.text(), timeout=30_000)
    with open(report, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:4] == ["term", "query", "documents", "hits"] and len(rows) == 6
    dialog.close()
    _search(qtbot, window, "")


# -- phone region and NER ----------------------------------------------------------------------------


def test_phone_region_and_ner_note(qtbot, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    services = window.session.services
    offered: list[str] = []

    def pick(_parent, _title, _label, items, current, _editable):  # noqa: ANN001, ANN202
        offered.append(items[current])
        return next(i for i in items if i.startswith("GB ")), True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(pick))
    window.actions["phone_region"].trigger()
    assert offered == ["US  (+1)"]
    qtbot.waitUntil(lambda: "read again" in window.statusBar().currentMessage(), timeout=60_000)
    assert services.insights.phone_region() == "GB" and services.insights.stale_ids() == []
    window.actions["ner_status"].trigger()
    box = window.findChild(QMessageBox, "nerStatusBox")
    assert box is not None and "spaCy" in box.text() and "GB" in box.text()
    box.close()
    # Back to US for the other tests' numbers.
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("US  (+1)", True)))
    window.actions["phone_region"].trigger()
    qtbot.waitUntil(lambda: services.insights.phone_region() == "US", timeout=30_000)
    pump_until(lambda: not window.session.tasks.is_busy("job"), 60, "the entities to be read again")
