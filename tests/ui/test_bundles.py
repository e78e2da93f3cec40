"""Bundles and redactions through the real main window: draw and remove redactions on a PDF page, redact a
term across a selection, export (scrubbed, by tag, as a load file), merge a teammate's bundle (and refuse a
tampered one), decide the review-status conflicts the merge listed. Also: email dates shown readably.

One case is created and filled through the menus for the module with real corpus files; a teammate's case is
made with the same services the CLI uses, and its bundle merged through File → Merge Bundle….
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication, QInputDialog

from app.bundle.redactions import list_redactions
from app.pipeline.importer import ImportOptions
from app.services import build_services
from tests.ui.conftest import create_case_through_menu, import_through_menu, make_window, pump_until
from ui.bundles.dialogs import ConflictsDialog, ExportDialog, MergeDialog
from ui.main_window import MainWindow
from ui.viewers.email import readable_date
from ui.workspace import Workspace

PDF = "real/pdf/enron_AggieNight2001.pdf"
OTHER_PDF = "real/pdf/enron_W4_20-1.pdf"
EML = "real/eml/spamscope_mail_test_2.eml"  # Date: Sun, 29 Nov 2015 09:45:18 +0100


@pytest.fixture(scope="module")
def window(
    qapp: QApplication, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MainWindow]:
    folder = tmp_path_factory.mktemp("bundles")
    monkeypatch = pytest.MonkeyPatch()
    window, _reporter = make_window(folder / "settings.ini")
    try:
        create_case_through_menu(window, folder / "case", monkeypatch)
        import_through_menu(window, [corpus / PDF, corpus / OTHER_PDF, corpus / EML], monkeypatch)
        window.activateWindow()
        yield window
    finally:
        monkeypatch.undo()
        window.close()


def _ws(window: MainWindow) -> Workspace:
    assert window.workspace is not None
    return window.workspace


def _doc_id(window: MainWindow, name: str) -> int:
    assert window.session is not None
    return next(
        d.id
        for d in window.session.services.documents.iter_summaries()
        if d.paths and d.paths[0].endswith(name.rsplit("/", 1)[-1])
    )


def _open_pdf(qtbot, window: MainWindow, doc_id: int) -> None:
    ws = _ws(window)
    ws.open_document(doc_id)
    pdf = ws.document.pdf
    qtbot.waitUntil(lambda: ws.document.kind == "pdf" and pdf.rendered_page == 0, timeout=30_000)


def _drag(qtbot, widget, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(widget, start + (end - start) * (step / 5))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=end)


def test_draw_and_remove_a_redaction_on_a_pdf_page(qtbot, window: MainWindow) -> None:
    ws = _ws(window)
    services = window.session.services
    doc_id = _doc_id(window, PDF)
    _open_pdf(qtbot, window, doc_id)
    pdf = ws.document.pdf
    assert pdf.redact_button.isVisible() and not pdf.canvas.redact_mode
    qtbot.mouseClick(pdf.redact_button, Qt.MouseButton.LeftButton)
    assert pdf.canvas.redact_mode
    canvas = pdf.canvas
    top_left = canvas.page_rect().topLeft()
    scale = canvas.scale
    # from (100, 150) to (300, 200) in page points
    start = top_left + QPoint(round(100 * scale), round(150 * scale))
    end = top_left + QPoint(round(300 * scale), round(200 * scale))
    _drag(qtbot, canvas, start, end)
    qtbot.waitUntil(lambda: len(pdf.redaction_boxes) == 1, timeout=10_000)
    stored = list_redactions(services.case, doc_id)
    assert len(stored) == 1 and stored[0]["page"] == 1
    x0, y0, x1, y1 = stored[0]["rect"]
    assert abs(x0 - 100) < 2 and abs(y0 - 150) < 2 and abs(x1 - 300) < 2 and abs(y1 - 200) < 2
    assert len(canvas.redactions) == 1  # drawn on the page
    # a click is not a redaction
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=start)
    assert len(list_redactions(services.case, doc_id)) == 1

    red_id = pdf.redaction_at(QPointF(200, 175))
    assert red_id == stored[0]["id"] and pdf.redaction_at(QPointF(20, 20)) is None
    # right-click on the box → "Remove Redaction"; elsewhere on the page there is no menu
    assert pdf.redaction_menu(QPointF(20, 20)) is None
    menu = pdf.redaction_menu(QPointF(200, 175))
    assert menu is not None and [a.text() for a in menu.actions()] == ["Remove Redaction"]
    menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: not pdf.redaction_boxes, timeout=10_000)
    assert list_redactions(services.case, doc_id) == [] and canvas.redactions == []
    assert [e.action for e in services.review.audit(doc_id)][:2] == ["redaction_remove", "redaction_add"]
    qtbot.mouseClick(pdf.redact_button, Qt.MouseButton.LeftButton)
    assert not canvas.redact_mode


def test_redact_a_term_across_the_selection_then_export_scrubbed(
    qtbot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ws = _ws(window)
    services = window.session.services
    doc_id, other_id = _doc_id(window, PDF), _doc_id(window, OTHER_PDF)
    _open_pdf(qtbot, window, doc_id)
    pdf = ws.document.pdf
    monkeypatch.setattr(ws, "target_ids", lambda: [doc_id, other_id])  # two results selected
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("Astros", True)))
    window.actions["redact_term"].trigger()
    qtbot.waitUntil(lambda: len(pdf.redaction_boxes) >= 2, timeout=10_000)  # every match, boxed
    assert all(r["term"] == "Astros" for r in list_redactions(services.case, other_id))
    monkeypatch.undo()

    services.review.add_tag("story/astros", [doc_id])
    window.actions["export_bundle"].trigger()
    dialog = window.bundles.dialogs["export"]
    assert isinstance(dialog, ExportDialog) and dialog.isVisible()
    dialog.tag_box.setCurrentText("story/astros")
    dialog.tag_radio.setChecked(True)
    dialog.scrub_box.setChecked(True)
    out = tmp_path / "publish.dossier.zip"
    dialog.out_edit.setText(str(out))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=60_000)
    assert "Exported 1 document" in dialog.summary.text()
    assert dialog.warnings.isVisible() and dialog.warnings.count() >= 1  # what no scrubber removes
    assert any("watermark" in dialog.warnings.item(i).text() for i in range(dialog.warnings.count()))
    with zipfile.ZipFile(out) as zf:
        assert "scrub-report.json" in zf.namelist()
        name = next(n for n in zf.namelist() if n.lower().endswith(".pdf"))
        extracted = zf.read(name.rsplit("/", 1)[0] + "/text.txt").decode()
        assert "Astros" not in extracted and "Aggies" in extracted
        with pymupdf.open(stream=zf.read(name), filetype="pdf") as doc:
            text = doc[0].get_text()
    assert "Astros" not in text and "Aggies" in text  # burned in: the text underneath is gone
    dialog.close()


def test_export_results_as_a_load_file_and_refusals(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.actions["export_bundle"].trigger()
    dialog = window.bundles.dialogs["export"]
    assert isinstance(dialog, ExportDialog)
    dialog.query_radio.setChecked(True)
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert "Not exported" in dialog.summary.text() and dialog.report is None  # no query typed
    qtbot.keyClicks(dialog.query_edit, "nothingmatchesthisword")
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    assert "selection is empty" in dialog.summary.text()

    dialog.results_radio.setChecked(True)  # every current result: the whole case
    dialog.loadfile_box.setChecked(True)
    assert not dialog.scrub_box.isEnabled()
    out = tmp_path / "for-lawyers"
    dialog.out_edit.setText(str(out))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=60_000)
    assert dialog.report.documents == _ws(window).model.total >= 3
    assert (out / "DATA" / "loadfile.dat").is_file()
    dialog.close()


def _teammates_bundle(tmp_path: Path, corpus: Path) -> Path:
    """A teammate's case with the same PDF, marked not relevant after us; exported as a bundle."""
    with build_services(tmp_path / "teammate", create=True) as theirs:
        theirs.review.reviewer = "Bo"
        theirs.import_paths(
            [corpus / PDF, corpus / "real/pdf/enron_DirDepos-1.pdf"], ImportOptions(workers=1, ocr=False)
        )
        ids = [d.id for d in theirs.documents.iter_summaries()]
        theirs.review.set_status("not_relevant", ids)
        theirs.review.add_tag("from-bo", ids)
        bundle = tmp_path / "bo.dossier.zip"
        theirs.export_bundle(bundle, ids)
    return bundle


def _merge(qtbot, window: MainWindow, bundle: Path) -> MergeDialog:
    window.actions["merge_bundle"].trigger()
    dialog = window.bundles.dialogs["merge"]
    assert isinstance(dialog, MergeDialog) and dialog.isVisible()
    dialog.path_edit.setText(str(bundle))
    qtbot.mouseClick(dialog.merge_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running, timeout=120_000)
    return dialog


def test_merge_refuses_a_tampered_bundle_then_merges_and_conflicts_are_decided(
    qtbot, window: MainWindow, corpus: Path, tmp_path: Path
) -> None:
    ws = _ws(window)
    services = window.session.services
    doc_id = _doc_id(window, PDF)
    services.review.set_status("relevant", [doc_id])
    time.sleep(1.1)  # the teammate decides later
    bundle = _teammates_bundle(tmp_path, corpus)
    documents_before = len(list(services.documents.iter_summaries()))

    tampered = tmp_path / "tampered.dossier.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("text.txt"):
                data = data.replace(b"Aggies", b"Aggiez")
            dst.writestr(item, data)
    dialog = _merge(qtbot, window, tampered)
    assert "Refused" in dialog.summary.text() and "tampered" in dialog.summary.text()
    assert "Nothing was changed" in dialog.summary.text() and dialog.report is None
    assert len(list(services.documents.iter_summaries())) == documents_before

    dialog = _merge(qtbot, window, bundle)
    report = dialog.report
    assert report is not None and report.documents_added == 1 and len(report.conflicts) == 1
    assert "Merged bo.dossier.zip" in dialog.summary.text()
    assert services.documents.detail(doc_id).summary.review_status == "not_relevant"  # the later decision
    qtbot.waitUntil(lambda: ws.model.total == documents_before + 1, timeout=30_000)  # results refreshed

    assert dialog.conflicts_button.isVisible()
    qtbot.mouseClick(dialog.conflicts_button, Qt.MouseButton.LeftButton)
    conflicts = window.bundles.dialogs["conflicts"]
    assert isinstance(conflicts, ConflictsDialog) and conflicts.table.topLevelItemCount() == 1
    row = conflicts.table.topLevelItem(0)
    assert (row.text(1), row.text(2), row.text(3)) == ("Relevant", "Not relevant", "Not relevant")
    with qtbot.waitSignal(conflicts.decided, timeout=10_000):
        qtbot.mouseClick(conflicts.keep_button, Qt.MouseButton.LeftButton)
    assert services.documents.detail(doc_id).summary.review_status == "relevant"
    assert conflicts.table.topLevelItemCount() == 0 and "No open conflicts" in conflicts.heading.text()
    assert [e.action for e in services.review.audit(doc_id)][:2] == ["conflict_resolve", "status"]

    # merging the same bundle again changes nothing, and Review → Merge Conflicts… lists none
    dialog = _merge(qtbot, window, bundle)
    assert "Nothing to merge" in dialog.summary.text()
    window.actions["merge_conflicts"].trigger()
    assert window.bundles.dialogs["conflicts"].table.topLevelItemCount() == 0
    for name in ("merge", "conflicts"):
        window.bundles.dialogs[name].close()


def test_email_dates_are_shown_in_a_readable_local_format(
    qtbot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        ws = _ws(window)
        ws.open_document(_doc_id(window, EML))
        pump_until(lambda: ws.document.kind == "email", 10, "the email view")
        headers = ws.document.email.headers.text()
        assert "Sun 29 Nov 2015, 08:45 (sent 09:45 UTC+01:00)" in headers
        assert readable_date("2001-05-14T16:39:00+00:00") == "Mon 14 May 2001, 16:39"
        assert readable_date("not a date") == "not a date"
    finally:
        monkeypatch.undo()
        time.tzset()
