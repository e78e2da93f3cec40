"""OCR in the app: the case's languages (Tools → OCR Languages…), Run OCR on a scan imported without it (with
the progress window), then the hit boxed on the rendered scan from the OCR word positions, walked with n/p.

The scan is real/pdf-scanned/tika_testOCR.pdf from the corpus: an image-only page whose known text is found
only by OCR.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from app import ocr
from app.ocr import WordBox
from index.query import QueryParser
from tests.ocr.samples import LINES, text_image
from tests.ui.conftest import create_case_through_menu, import_through_menu, make_window
from ui.bundles.tools import OcrLanguagesDialog
from ui.highlight import HitFinder
from ui.importing import ImportDialog
from ui.main_window import MainWindow
from ui.viewers.pdf_render import PdfRenderer
from ui.workspace import Workspace

SCAN = "real/pdf-scanned/tika_testOCR.pdf"
PHRASE = "Happy New Year 2003"


@pytest.fixture(scope="module")
def window(
    qapp: QApplication, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MainWindow]:
    folder = tmp_path_factory.mktemp("ocr-ui")
    monkeypatch = pytest.MonkeyPatch()
    window, _reporter = make_window(folder / "settings.ini")
    try:
        create_case_through_menu(window, folder / "case", monkeypatch)
        import_through_menu(window, [corpus / SCAN], monkeypatch)  # OCR off: the page waits for it
        window.activateWindow()
        yield window
    finally:
        monkeypatch.undo()
        window.close()


def _ws(window: MainWindow) -> Workspace:
    assert window.workspace is not None
    return window.workspace


def test_installed_languages_are_listed_and_the_case_languages_set(qtbot, window: MainWindow) -> None:
    services = window.session.services
    window.actions["ocr_languages"].trigger()
    dialog = window.bundles.dialogs["ocr_languages"]
    assert isinstance(dialog, OcrLanguagesDialog) and dialog.isVisible()
    installed = ocr.language_info(services.case).installed
    assert "eng" in installed and dialog.languages.count() >= len(installed)
    assert dialog.ticked() == ["eng"]
    assert "Tesseract" in dialog.heading.text()
    for i in range(dialog.languages.count()):
        dialog.languages.item(i).setCheckState(Qt.CheckState.Unchecked)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: "Not changed" in dialog.message.text(), timeout=10_000)  # none ticked: refused
    assert dialog.isVisible()
    eng = next(
        i
        for i in range(dialog.languages.count())
        if dialog.languages.item(i).data(Qt.ItemDataRole.UserRole) == "eng"
    )
    dialog.languages.item(eng).setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(dialog.saved, timeout=10_000) as saved:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert saved.args == ["eng"] and ocr.case_languages(services.case) == "eng"
    assert not dialog.isVisible()


def test_run_ocr_then_hits_are_boxed_on_the_scan(qtbot, window: MainWindow) -> None:
    ws = _ws(window)
    services = window.session.services
    waiting = ocr.select_documents(services.case)
    assert len(waiting) == 1
    doc_id = waiting[0]
    ws.open_document(doc_id)
    assert "Run OCR" in ws.document.metadata.toHtml()  # offered where the reader sees the missing text
    assert services.search.search(f'"{PHRASE}"').total == 0

    ws.document.metadata.anchorClicked.emit(QUrl(f"ocr:{doc_id}"))
    dialog = window.bundles.dialogs["ocr"]
    assert isinstance(dialog, ImportDialog) and dialog.isVisible() and dialog.windowTitle() == "OCR"
    job = window.bundles.ocr
    assert job is not None
    qtbot.waitUntil(lambda: not job.running, timeout=300_000)
    assert job.summary is not None and job.summary.ocr_pages >= 1
    assert "OCR done" in dialog.heading.text()
    assert ocr.select_documents(services.case) == []

    # search through the bar: the result says the hit was read by OCR; the scan shows it boxed
    ws.bar.field.clear()
    qtbot.keyClicks(ws.bar.field, f'"{PHRASE}"')
    with qtbot.waitSignal(ws.search.searched, timeout=30_000):
        qtbot.keyClick(ws.bar.field, Qt.Key.Key_Return)
    assert ws.model.total == 1
    assert any(loc.get("ocr") for loc in ws.model.row_at(0).hit.locations)
    index = ws.model.index(0)
    qtbot.mouseClick(
        ws.results.viewport(), Qt.MouseButton.LeftButton, pos=ws.results.visualRect(index).center()
    )
    pdf = ws.document.pdf
    qtbot.waitUntil(
        lambda: ws.document.kind == "pdf" and pdf.rendered_page == 0 and bool(pdf.hits), timeout=30_000
    )
    assert all(h.ocr for h in pdf.hits) and pdf.canvas.current is not None
    box = pdf.hits[0].boxes[0]
    width, height = pdf.sizes[0]
    assert 0 <= box.left() < box.right() <= width and 0 <= box.top() < box.bottom() <= height
    assert box.width() > width * 0.2  # the four words of the phrase, on the scan
    assert "OCR" in pdf.info.text()
    total = len(pdf.hits)
    assert ws.document.hit_label.text() == f"1 of {total}"
    window.actions["next_hit"].trigger()  # n walks the OCR hits like any other
    assert ws.document.hit_label.text() == f"{2 if total > 1 else 1} of {total}"
    window.actions["previous_hit"].trigger()
    assert ws.document.hit_label.text() == f"1 of {total}"


def test_a_photographed_page_is_shown_with_its_hits_boxed(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _ws(window)
    services = window.session.services
    photo = tmp_path / "photo.png"
    text_image(LINES).save(photo)
    import_through_menu(window, [photo], monkeypatch)  # OCR off again
    waiting = ocr.select_documents(services.case)
    assert len(waiting) == 1
    window.actions["run_ocr"].trigger()  # Tools → Run OCR on Waiting Pages
    job = window.bundles.ocr
    assert job is not None
    qtbot.waitUntil(lambda: not job.running, timeout=300_000)
    assert job.summary is not None and job.summary.ocr_pages == 1
    finder = HitFinder.for_query(services.search, '"Meridian Holdings"')
    ws.open_document(waiting[0], finder)
    pdf = ws.document.pdf
    qtbot.waitUntil(
        lambda: ws.document.kind == "pdf" and pdf.rendered_page == 0 and bool(pdf.hits), timeout=30_000
    )
    assert len(pdf.hits) == 1 and pdf.hits[0].ocr
    assert not pdf.redact_button.isVisible()  # rectangles are for PDF pages
    width, height = pdf.sizes[0]
    box = pdf.hits[0].boxes[0]
    assert box.top() > height * 0.2 and box.right() < width  # the second line of the picture


def test_ocr_boxes_are_scaled_to_the_page_and_not_doubled_under_a_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "stamped.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=400)
    page.insert_text((60, 60), "Bates 000123", fontsize=12)  # the text layer: a stamp
    doc.save(path)
    doc.close()
    finder = HitFinder.for_query(_Parser(), "bates OR meridian")  # type: ignore[arg-type]
    # OCR read the stamp (where the text layer has it) and a line of the scan below it
    words = {
        1: [
            WordBox("Bates", 0.1, 0.12, 0.2, 0.16, 1, 90),
            WordBox("000123", 0.21, 0.12, 0.3, 0.16, 1, 90),
            WordBox("Meridian", 0.1, 0.5, 0.3, 0.55, 2, 90),
        ]
    }
    renderer = PdfRenderer(path)
    try:
        text_hits = renderer.hits(finder)
        assert len(text_hits) == 1 and not text_hits[0].ocr
        ocr_hits = renderer.ocr_hits(words, finder, text_hits)
        assert len(ocr_hits) == 1 and ocr_hits[0].ocr
        box = ocr_hits[0].boxes[0]
        assert (round(box.left()), round(box.top()), round(box.width()), round(box.height())) == (
            60,
            200,
            120,
            20,
        )
    finally:
        renderer.close()


class _Parser:
    """What a HitFinder needs of the search service: its query parser."""

    parser = QueryParser()
