"""The reporter's path through the real main window: create a case, import, search, read, tag, note, link.

One case is created and filled through the menus for the whole module (File → New Case…, File → Import
Files… with real/pdf and real/xlsx); the tests then drive the workspace through its widgets, keys and signals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QInputDialog, QLabel, QMessageBox

from tests.conftest import known_text, manifest
from tests.ui.conftest import (
    corpus_files,
    create_case_through_menu,
    import_through_menu,
    make_window,
    pump_until,
)
from ui.importing import ImportDialog
from ui.main_window import MainWindow
from ui.workspace import Workspace

PDF_ROW = "real/pdf/enron_AggieNight2001.pdf"
SHEET_ROW = "real/xlsx/poi_ExcelPivotTableSample.xlsx"


def phrase(path: str) -> str:
    row = next(r for r in manifest() if r["path"] == path)
    text = known_text(row["notes"])
    assert text, f"no known text for {path}"
    return text


@dataclass
class Opened:
    window: MainWindow
    folder: Path
    import_notes: list[str]  # what the import window said in place of the time left, in order

    @property
    def ws(self) -> Workspace:
        assert self.window.workspace is not None
        return self.window.workspace


@pytest.fixture(scope="module")
def opened(qapp: QApplication, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Opened]:
    folder = tmp_path_factory.mktemp("workflow")
    monkeypatch = pytest.MonkeyPatch()
    window, _reporter = make_window(folder / "settings.ini")
    notes: list[str] = []
    show_progress = ImportDialog.show_progress

    def noting(dialog: ImportDialog, p) -> None:  # noqa: ANN001
        show_progress(dialog, p)
        notes.append(dialog.eta.text())

    monkeypatch.setattr(ImportDialog, "show_progress", noting)
    try:
        create_case_through_menu(window, folder / "case", monkeypatch)
        import_through_menu(window, corpus_files(corpus, "real/pdf", "real/xlsx"), monkeypatch)
        window.activateWindow()  # the import window stays open beside it, as a reporter would leave it
        pump_until(window.isActiveWindow, 10, "the main window to be active again")
        yield Opened(window, folder, notes)
    finally:
        monkeypatch.undo()
        window.close()


def search(qtbot, ws: Workspace, query: str) -> None:
    """Type a query into the search bar and press Enter; wait for the first page."""
    ws.bar.field.clear()
    qtbot.keyClicks(ws.bar.field, query)
    with qtbot.waitSignal(ws.search.searched, timeout=30_000):
        qtbot.keyClick(ws.bar.field, Qt.Key.Key_Return)


def click_row(qtbot, ws: Workspace, row: int) -> None:
    index = ws.model.index(row)
    ws.results.scrollTo(index)
    qtbot.mouseClick(
        ws.results.viewport(), Qt.MouseButton.LeftButton, pos=ws.results.visualRect(index).center()
    )


def review_done(qtbot, ws: Workspace):
    return qtbot.waitSignal(ws.session.actions.done, timeout=30_000)


def test_import_ends_with_problems_and_reasons(qtbot, opened: Opened) -> None:
    dialog = opened.window.import_dialog
    assert dialog is not None and dialog.isVisible()
    summary = opened.window.session.import_job.summary
    assert summary is not None and summary.documents >= 40 and not summary.interrupted
    assert dialog.problems.topLevelItemCount() == len(summary.failures) >= 1
    for i in range(dialog.problems.topLevelItemCount()):
        item = dialog.problems.topLevelItem(i)
        assert item.text(1) and item.text(2), "every problem has a status and a reason"
    qtbot.waitUntil(lambda: opened.ws.model.total == summary.case_documents, timeout=30_000)  # list refreshed
    # Once every file is extracted the window says entities are being read (the documents are being
    # made searchable meanwhile) instead of a time left.
    assert "reading entities…" in opened.import_notes
    assert opened.import_notes.index("reading entities…") > 0


def test_search_open_pdf_hit_tag_note_and_link(qtbot, opened: Opened) -> None:
    ws = opened.ws
    search(qtbot, ws, f'"{phrase(PDF_ROW)}"')
    assert ws.model.total == 1
    assert "<mark>" in ws.model.row_at(0).hit.snippet

    click_row(qtbot, ws, 0)
    pdf = ws.document.pdf
    qtbot.waitUntil(
        lambda: ws.document.kind == "pdf" and pdf.rendered_page == 0 and len(pdf.hits) >= 1, timeout=30_000
    )
    assert pdf.canvas.image is not None and pdf.canvas.current is not None  # the page, with its hit boxed
    assert ws.document.hit_label.text() == f"1 of {len(pdf.hits)}"
    doc_id = ws.open_doc_id()
    assert doc_id is not None

    # t → the tag field; type a new tag and press Enter
    qtbot.keyClick(ws.results, Qt.Key.Key_T)
    assert ws.review.tags.field.hasFocus()
    qtbot.keyClicks(ws.review.tags.field, "payments")
    with review_done(qtbot, ws):
        qtbot.keyClick(ws.review.tags.field, Qt.Key.Key_Return)
    assert ws.review.tags.names() == ["payments"]
    assert [t.name for t in ws.model.row_at(0).tags] == ["payments"]

    # a note anchored to the page on screen, saved with Ctrl+Enter
    ws.review.focus_note()
    assert ws.review.notes.anchor_box.text() == "Anchor to page 1"
    qtbot.keyClicks(ws.review.notes.editor, "Who cashed these cheques?")
    with review_done(qtbot, ws):
        qtbot.keyClick(ws.review.notes.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    notes = ws.session.services.review.notes(doc_id)
    assert [(n.text, n.page) for n in notes] == [("Who cashed these cheques?", 1)]
    assert ws.review.notes.list.item(0).text().startswith("Who cashed these cheques?")

    # link it to the spreadsheet, found through the link dialog's search
    qtbot.mouseClick(ws.review.links.link_button, Qt.MouseButton.LeftButton)
    dialog = ws.review.link_dialog
    assert dialog is not None
    query = f'"{phrase(SHEET_ROW)}"'
    with qtbot.waitSignal(dialog.searched, timeout=30_000, check_params_cb=lambda text: text == query):
        qtbot.keyClicks(dialog.query, query)
    assert dialog.results.count() == 1 and "poi_ExcelPivotTableSample" in dialog.results.item(0).text()
    target = dialog.chosen()[0]
    dialog.relation.setCurrentText("references")
    with review_done(qtbot, ws):
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    links = ws.session.services.review.links(doc_id).links
    assert [(lk.other_id, lk.relation, lk.direction) for lk in links if not lk.automatic] == [
        (target, "references", "out")
    ]
    assert ws.review.links.links.count() >= 1

    # one click on the link opens the other end
    row = ws.review.links.links.itemWidget(ws.review.links.links.item(0))
    row.findChild(QLabel, "linkLabel").linkActivated.emit(f"doc:{target}")
    assert ws.open_doc_id() == target and ws.document.kind == "sheet"
    assert ws.review.doc_id == target
    back = ws.session.services.review.links(target).links
    assert any(lk.other_id == doc_id and lk.direction == "in" for lk in back)


def test_spreadsheet_hit_cell_is_selected(qtbot, opened: Opened) -> None:
    ws = opened.ws
    search(qtbot, ws, f'"{phrase(SHEET_ROW)}"')
    click_row(qtbot, ws, 0)
    sheet = ws.document.sheet
    qtbot.waitUntil(lambda: sheet.selected_cell() is not None, timeout=30_000)
    location = ws.model.row_at(0).hit.locations[0]
    assert location["kind"] == "cell"
    assert sheet.selected_cell() == location["label"]
    assert sheet.current_sheet() == location["sheet"]
    index = sheet.table.currentIndex()
    assert phrase(SHEET_ROW).lower() in str(index.data()).lower()
    assert ws.review.notes.anchor_box.text() == f"Anchor to {location['label']}"


def test_keys_move_through_results_hits_and_set_status(qtbot, opened: Opened) -> None:
    ws = opened.ws
    search(qtbot, ws, "type:pdf gas")
    assert ws.model.total >= 2
    ws.results.setFocus()
    qtbot.keyClick(ws.results, Qt.Key.Key_J)
    first = ws.open_doc_id()
    assert first == ws.model.row_at(0).hit.id
    qtbot.keyClick(ws.results, Qt.Key.Key_J)
    assert ws.open_doc_id() == ws.model.row_at(1).hit.id
    qtbot.keyClick(ws.results, Qt.Key.Key_K)
    assert ws.open_doc_id() == first

    pdf = ws.document.pdf
    qtbot.waitUntil(lambda: len(pdf.hits) >= 2 and pdf.current_hit == 0, timeout=30_000)
    qtbot.keyClick(ws.results, Qt.Key.Key_N)
    assert pdf.current_hit == 1
    qtbot.keyClick(ws.results, Qt.Key.Key_P)
    qtbot.keyClick(ws.results, Qt.Key.Key_P)
    assert pdf.current_hit == len(pdf.hits) - 1  # wraps around to the last hit
    assert pdf.page == pdf.hits[-1].page

    review = ws.session.services.review
    for key, status in (
        (Qt.Key.Key_R, "relevant"),
        (Qt.Key.Key_F, "follow_up"),
        (Qt.Key.Key_X, "not_relevant"),
    ):
        with review_done(qtbot, ws):
            qtbot.keyClick(ws.results, key)
        assert review.status_of(first) == status
        assert ws.review.status.status() == status
        assert ws.model.row_at(0).review_status == status


def test_bulk_tag_and_status_on_a_selection(qtbot, opened: Opened) -> None:
    ws = opened.ws
    search(qtbot, ws, "type:xlsx")
    count = ws.model.rowCount()
    assert count >= 3
    ws.results.setFocus()
    ws.results.selectAll()
    assert len(ws.target_ids()) == count

    qtbot.keyClick(ws.results, Qt.Key.Key_T)
    dialog = ws.findChild(QInputDialog, "bulkTagDialog")
    assert dialog is not None
    dialog.setTextValue("spreadsheets")
    with review_done(qtbot, ws):
        dialog.accept()
    opened.window.activateWindow()  # what the window manager does when the dialog closes
    qtbot.waitUntil(opened.window.isActiveWindow)
    with review_done(qtbot, ws):
        qtbot.keyClick(ws.results, Qt.Key.Key_F)

    search(qtbot, ws, "tag:spreadsheets status:follow_up")
    assert ws.model.total == count
    assert all("spreadsheets" in [t.name for t in ws.model.row_at(i).tags] for i in range(count))


def test_facet_filter_narrows_the_results(qtbot, opened: Opened) -> None:
    ws = opened.ws
    search(qtbot, ws, "")
    everything = ws.model.total
    item = ws.facets.value_item("type", "xlsx")
    assert item is not None
    with qtbot.waitSignal(ws.search.searched, timeout=30_000):
        item.setCheckState(0, Qt.CheckState.Checked)
    assert 0 < ws.model.total < everything
    assert all(ws.model.row_at(i).hit.type == "xlsx" for i in range(ws.model.rowCount()))
    with qtbot.waitSignal(ws.search.searched, timeout=30_000):
        ws.facets.clear_filters()
    assert ws.model.total == everything


def test_a_malformed_query_is_explained_inline(qtbot, opened: Opened) -> None:
    ws = opened.ws
    ws.bar.field.clear()
    qtbot.keyClicks(ws.bar.field, "(payment OR invoice")
    with qtbot.waitSignal(ws.model.failed, timeout=30_000):
        qtbot.keyClick(ws.bar.field, Qt.Key.Key_Return)
    assert ws.bar.error.isVisible() and ws.bar.error.text()
    assert "(payment OR invoice" in ws.window().settings.search_history()
    assert "parenthesis" in ws.bar.error.text()
    qtbot.keyClicks(ws.bar.field, "x")
    assert not ws.bar.error.isVisible()  # editing clears the error


def test_metadata_tab_and_open_original(qtbot, opened: Opened) -> None:
    ws = opened.ws
    search(qtbot, ws, f'"{phrase(PDF_ROW)}"')
    click_row(qtbot, ws, 0)
    ws.document.tabs.setCurrentIndex(2)
    html = ws.document.metadata.toPlainText()
    detail = ws.document.detail
    assert detail.summary.sha256 in html and detail.summary.paths[0] in html
    assert "Import run" in html and "Status" in html

    opened_urls = []
    ws.document.open_url = opened_urls.append
    opened.window.actions["open_original"].trigger()
    qtbot.waitUntil(lambda: bool(opened_urls), timeout=30_000)
    copy = Path(opened_urls[0].toLocalFile())
    assert copy.name == "enron_AggieNight2001.pdf" and copy.read_bytes()[:4] == b"%PDF"
    ws.document.tabs.setCurrentIndex(0)


def test_pdf_zoom_and_fit_width(qtbot, opened: Opened) -> None:
    ws = opened.ws
    search(qtbot, ws, "type:pdf gas")
    click_row(qtbot, ws, 0)
    pdf = ws.document.pdf
    qtbot.waitUntil(lambda: pdf.rendered_page is not None, timeout=30_000)
    assert pdf.fit_width
    fitted = pdf.canvas.width()
    assert fitted <= pdf.scroll.viewport().width()
    pdf.zoom_box.setCurrentIndex(pdf.zoom_box.findData(2.0))
    pdf.zoom_box.activated.emit(pdf.zoom_box.currentIndex())
    assert not pdf.fit_width and pdf.zoom == 2.0 and pdf.canvas.width() > fitted
    qtbot.mouseClick(pdf.zoom_in_button, Qt.MouseButton.LeftButton)
    assert pdf.zoom == 3.0
    qtbot.waitUntil(
        lambda: (
            pdf.canvas.image is not None and pdf.canvas.image.width() >= pdf.canvas.page_size.width() * 0.99
        ),
        timeout=30_000,
    )
    pdf.set_zoom(None)
    assert pdf.fit_width
    qtbot.waitUntil(lambda: pdf.canvas.width() == fitted, timeout=10_000)  # once the scroll bar has gone
    pdf.go_to_page(1)
    assert pdf.page_box.value() == 2 and pdf.thumbs.currentRow() == 1
    assert ws.review.notes.anchor_box.text() == "Anchor to page 2"


def test_reindex_and_verify_from_the_tools_menu(qtbot, opened: Opened) -> None:
    window, ws = opened.window, opened.ws
    maintenance = window.session.maintenance
    with qtbot.waitSignal(maintenance.finished, timeout=120_000) as done:
        window.actions["reindex"].trigger()
    assert (
        done.args[0] == "reindex"
        and done.args[2] is None
        and done.args[1] == ws.session.services.documents.count()
    )
    with qtbot.waitSignal(maintenance.finished, timeout=120_000) as done:
        window.actions["verify"].trigger()
    assert done.args[0] == "verify" and done.args[1].ok
    box = window.findChild(QMessageBox, "verifyResult")
    assert box is not None and "matches the case" in box.text()
    box.close()
    qtbot.waitUntil(lambda: not ws.model.busy, timeout=30_000)
    search(qtbot, ws, f'"{phrase(PDF_ROW)}"')
    assert ws.model.total == 1  # searching still works on the rebuilt index


def test_delete_from_case_asks_first_then_removes_and_audits(qtbot, opened: Opened) -> None:
    window, ws = opened.window, opened.ws
    services = ws.session.services
    search(qtbot, ws, "type:xlsx")
    click_row(qtbot, ws, 0)
    doc_id = ws.model.row_at(0).hit.id
    qtbot.waitUntil(lambda: ws.open_doc_id() == doc_id, timeout=30_000)
    before = services.documents.count()

    window.actions["delete_documents"].trigger()
    box = ws.findChild(QMessageBox, "deleteConfirm")
    assert box is not None and "Delete this document" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()  # cancelling changes nothing
    assert services.documents.count() == before

    window.actions["delete_documents"].trigger()
    box = ws.findChild(QMessageBox, "deleteConfirm")
    assert box is not None
    delete = next(b for b in box.buttons() if b.text() == "Delete")
    with qtbot.waitSignal(ws.session.actions.deleted, timeout=30_000) as deleted:
        delete.click()
    assert doc_id in deleted.args[0]
    assert services.documents.count() == before - len(deleted.args[0])
    assert ws.open_doc_id() is None
    qtbot.waitUntil(lambda: not ws.model.busy, timeout=30_000)
    search(qtbot, ws, "type:xlsx")
    assert doc_id not in [ws.model.row_at(i).hit.id for i in range(ws.model.rowCount())]
    actions = [e.action for e in services.review.audit()]
    assert "delete" in actions
