#!/usr/bin/env python3
"""Screenshots of the desktop app's main states, for the README: docs/screenshots/*.png.

Runs the real main window (offscreen unless a display is set) at 1280×800 on a fresh case in a temporary
folder: first run, an import of part of ../shared/corpus (progress, then problems), search results with facets,
a PDF page with its hit marked, a spreadsheet with the hit cell selected, an email, the review panel with tags,
notes and links, the dark palette, and a HiDPI (2×) window in a second process. Then, after a second import (the
Enron emails kept as HTML, a mailbox and a scan): redactions on a PDF page, a scrubbed export, the review-status
conflicts of a teammate's merged bundle, an OCR hit boxed on the scan, an email's mentions, and the Insights
windows (entities, time line, correspondents graph, batch search). Windows other than the main one are saved
on their own, without the main window around them.

    .venv/bin/python bench/ui_screens.py [--out docs/screenshots] [--corpus ../shared/corpus]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")

from PySide6.QtCore import QEventLoop, QPoint, Qt  # noqa: E402
from PySide6.QtGui import QPainter, QPixmap  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from app.pipeline.importer import ImportOptions  # noqa: E402
from app.services import build_services  # noqa: E402
from ui.app import build_window, make_application  # noqa: E402
from ui.errors import install_excepthook  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.settings import Settings  # noqa: E402

log = logging.getLogger("ui_screens")

SIZE = (1280, 800)
IMPORT_FOLDERS = ("real/pdf", "real/xlsx", "real/eml", "real/docx", "real/msg", "hostile/encrypted")
PDF_QUERY = '"Reservation Rate"'
SHEET_QUERY = 'type:xlsx "date of birth"'
EMAIL_QUERY = '"che sia diversamente indicato"'
RESULTS_QUERY = "gas OR power"
MORE_FILES = ("real/mbox/tika_complex.mbox", "real/pdf-scanned/tika_testOCR.pdf")  # and the Enron HTML emails
OCR_QUERY = '"Happy New Year 2003"'  # found only by OCR, on the scan
REDACT_TERM = "Michael Cathey"  # the tariff's signatory, on every page
MENTIONS_QUERY = 'phone:"+1 713-646-3490"'
BATCH_TERMS = (
    "term,phrase,fuzzy,field\n"
    "akingump.com,,,\n"
    "Gregory Porter,yes,,\n"
    "Enrn,,1,\n"
    "Panda International,yes,,\n"
    "reservation rate,yes,,\n"
    "tariff,,,\n"
    "Transco,,,\n"
    "date of birth,yes,,\n"
)


class Shooter:
    """Drives one main window through the states and saves a picture of each."""

    def __init__(self, window: MainWindow, out: Path) -> None:
        self.window = window
        self.app = QApplication.instance()
        self.out = out
        self.taken: list[Path] = []

    def pump(self, seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting for {what}")
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    def shoot(self, name: str, *dialogs: QWidget) -> None:
        """Save the window, with any dialogs drawn over it where the window manager would put them."""
        self.pump(0.4)
        picture = self.window.grab()
        if dialogs:
            painter = QPainter(picture)
            for dialog in dialogs:
                image: QPixmap = dialog.grab()
                x = (picture.width() / picture.devicePixelRatio() - dialog.width()) / 2
                y = (picture.height() / picture.devicePixelRatio() - dialog.height()) / 3
                painter.drawPixmap(QPoint(int(x), int(y)), image)
            painter.end()
        self.save(name, picture)

    def shoot_window(self, name: str, window: QWidget) -> None:
        """Save a window other than the main one on its own (a smaller picture than the whole screen)."""
        self.pump(0.4)
        self.save(name, window.grab())

    def save(self, name: str, picture: QPixmap) -> None:
        path = self.out / f"{name}.png"
        picture.save(str(path))
        self.taken.append(path)
        print(f"  {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")

    def search(self, query: str) -> None:
        ws = self.window.workspace
        assert ws is not None
        ws.bar.set_text(query)
        ws.search.submit(query)
        self.wait(lambda: not ws.model.busy and ws.model.rowCount() > 0, f"results of {query}")

    def open_first(self) -> None:
        ws = self.window.workspace
        assert ws is not None
        ws.results.setCurrentIndex(ws.model.index(0))
        ws.search.open_row(0)
        self.pump(0.3)


def use_ocr(window: MainWindow, wanted: bool) -> None:
    """Tick or untick File → Read Scans and Images (OCR) (off by default here: it is slow and needs an engine)."""
    if window.actions["import_ocr"].isChecked() != wanted:
        window.actions["import_ocr"].trigger()


def shoot_all(out: Path, corpus: Path, workdir: Path, ocr: bool = False) -> list[Path]:
    settings = Settings.at(workdir / "settings.ini")
    window, reporter = build_window(settings)
    install_excepthook(reporter)
    reporter.shown.connect(lambda text: print(f"  (the app reported: {text})"))
    window.resize(*SIZE)
    window.show()
    shot = Shooter(window, out)
    shot.shoot("01-first-run")

    window.open_case(workdir / "panda-leak", create=True)
    shot.wait(lambda: window.workspace is not None, "the case to open")
    ws = window.workspace
    assert ws is not None and window.session is not None
    job = window.session.import_job
    use_ocr(window, ocr)
    window.start_import([corpus / folder for folder in IMPORT_FOLDERS])
    dialog = window.import_dialog
    assert dialog is not None
    shot.wait(lambda: job.last_progress is not None and job.last_progress.files_done >= 25, "import progress")
    shot.shoot("02-import-progress", dialog)
    shot.wait(lambda: not job.running, "the import to end", timeout=600)
    shot.pump(0.5)
    shot.shoot("03-import-problems", dialog)
    dialog.hide()

    shot.search(RESULTS_QUERY)
    year_item = ws.facets.value_item("year", "2002")
    if year_item is not None:  # a ticked facet, as a reporter narrows the results
        year_item.setCheckState(0, Qt.CheckState.Checked)
        shot.wait(lambda: not ws.model.busy, "the narrowed results")
    shot.open_first()
    shot.shoot("04-search-results")
    ws.facets.clear_filters()

    shot.search(PDF_QUERY)
    shot.open_first()
    shot.wait(lambda: ws.document.pdf.rendered_page is not None and ws.document.pdf.hits, "the PDF page")
    ws.document.next_hit()
    shot.wait(lambda: ws.document.pdf.rendered_page == ws.document.pdf.page, "the hit's page")
    shot.shoot("05-pdf-viewer")
    pdf_id = ws.open_doc_id()

    shot.search(SHEET_QUERY)
    shot.open_first()
    shot.wait(lambda: ws.document.sheet.selected_cell() is not None, "the hit cell")
    shot.shoot("06-spreadsheet")
    sheet_id = ws.open_doc_id()

    shot.search(EMAIL_QUERY)
    shot.open_first()
    if ws.document.kind == "email":
        shot.shoot("07-email")
    else:
        print("  (no email view: the email extractor did not give this message its headers)")

    assert pdf_id is not None and sheet_id is not None
    shot.search(PDF_QUERY)
    shot.open_first()
    actions = window.session.actions
    for name in ("tariffs", "pipeline/rates", "follow the money"):
        actions.add_tag(name, [pdf_id])
    actions.set_status("relevant", [pdf_id])
    actions.add_note(
        pdf_id, "Rates on this page differ from the 2001 filing; ask the source which is current.", page=1
    )
    actions.add_note(pdf_id, "Compare with the KYC spreadsheet.", page=2)
    actions.add_link(pdf_id, sheet_id, "references", "same counterparty")
    shot.wait(lambda: not window.session.tasks.is_busy("io"), "the review actions")
    ws.review.refresh()
    ws.review.tabs.setCurrentWidget(ws.review.links)
    shot.pump(0.3)
    ws.review.tabs.setCurrentWidget(ws.review.notes)
    shot.shoot("08-review-panel")

    window.set_theme("dark")
    shot.search(RESULTS_QUERY)
    shot.open_first()
    shot.wait(lambda: ws.document.pdf.rendered_page is not None or ws.document.kind != "pdf", "the document")
    shot.shoot("09-dark-palette")
    window.set_theme("system")
    shoot_more(shot, corpus, workdir, pdf_id, sheet_id)
    window.close()
    return shot.taken


def shoot_more(shot: Shooter, corpus: Path, workdir: Path, pdf_id: int, sheet_id: int) -> None:
    """Redactions, export, merge conflicts, OCR, mentions and the Insights windows, on the same case."""
    window = shot.window
    ws, session = window.workspace, window.session
    assert ws is not None and session is not None
    services = session.services

    # the Enron emails kept as HTML (names, phone numbers, dates in the text), a mailbox (more correspondents)
    # and a scan, imported without OCR (Run OCR reads it below)
    use_ocr(window, False)
    window.start_import(
        sorted((corpus / "real/html").glob("enron_email_*")) + [corpus / f for f in MORE_FILES]
    )
    shot.wait(lambda: not session.import_job.running, "the second import", timeout=600)
    shot.wait(lambda: not session.tasks.is_busy("job"), "the entities of the new documents", timeout=300)
    if window.import_dialog is not None:
        window.import_dialog.hide()

    # redaction mode on the tariff: the signatory's name redacted as a term, then rates of the table dragged over
    shot.search(PDF_QUERY)
    shot.open_first()
    pdf = ws.document.pdf
    shot.wait(lambda: pdf.rendered_page == 0 and pdf.redact_button.isVisible(), "the tariff's first page")
    pages = window.bundles.pages
    assert pages is not None
    pages.add_term([pdf_id], REDACT_TERM)
    pdf.load_redactions()
    shot.wait(lambda: bool(pdf.redaction_boxes), "the term's redactions")
    pdf.set_redact_mode(True)
    shot.pump(0.2)
    canvas = pdf.canvas
    start = canvas.page_rect().topLeft() + QPoint(round(92 * canvas.scale), round(240 * canvas.scale))
    end = canvas.page_rect().topLeft() + QPoint(round(572 * canvas.scale), round(276 * canvas.scale))
    count = len(pdf.redaction_boxes)
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 6):
        QTest.mouseMove(canvas, start + (end - start) * (step / 5))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    shot.wait(lambda: len(pdf.redaction_boxes) > count, "the dragged redaction")
    shot.shoot("11-redaction")
    pdf.set_redact_mode(False)

    # File → Export Bundle…: a scrubbed publication copy of the tagged documents, with its warnings
    window.actions["export_bundle"].trigger()
    export = window.bundles.dialogs["export"]
    export.tag_box.setCurrentText("tariffs")
    export.tag_radio.setChecked(True)
    export.children_box.setChecked(True)
    export.scrub_box.setChecked(True)
    export.terms_edit.setText("Transco, Williams")
    export.out_edit.setText(str(workdir / "tariffs-public.dossier.zip"))
    export.export_button.click()
    shot.wait(lambda: not export.running, "the export", timeout=300)
    if export.report is None:
        raise RuntimeError(f"the export failed: {export.summary.text()}")
    shot.shoot_window("12-export-bundle", export)
    export.close()

    # a teammate decided two of our documents differently, later: merge their bundle, then the conflicts
    actions = session.actions
    actions.set_status("follow_up", [sheet_id])
    shot.wait(lambda: not session.tasks.is_busy("io"), "the review status")
    time.sleep(1.1)  # the teammate decides after us
    sources = [Path(services.documents.detail(i).summary.paths[0]) for i in (pdf_id, sheet_id)]
    bundle = workdir / "from-ana.dossier.zip"
    with build_services(workdir / "teammate", create=True) as theirs:
        theirs.review.reviewer = "Ana"
        theirs.import_paths(sources, ImportOptions(workers=1, ocr=False))
        ids = [d.id for d in theirs.documents.iter_summaries()]
        theirs.review.set_status("not_relevant", ids)
        theirs.export_bundle(bundle, ids)
    window.actions["merge_bundle"].trigger()
    merge = window.bundles.dialogs["merge"]
    merge.path_edit.setText(str(bundle))
    merge.merge_button.click()
    shot.wait(lambda: not merge.running and merge.report is not None, "the merge", timeout=300)
    merge.conflicts_button.click()
    conflicts = window.bundles.dialogs["conflicts"]
    shot.wait(lambda: conflicts.table.topLevelItemCount() > 0, "the conflicts")
    shot.shoot_window("13-merge-conflicts", conflicts)
    conflicts.close()
    merge.close()

    # Tools → Run OCR on Waiting Pages, then the phrase found only by OCR, boxed on the scan
    window.actions["run_ocr"].trigger()
    job = window.bundles.ocr
    assert job is not None
    shot.wait(lambda: not job.running, "the OCR run", timeout=600)
    window.bundles.dialogs["ocr"].hide()
    shot.search(OCR_QUERY)
    shot.open_first()
    shot.wait(lambda: ws.document.pdf.rendered_page == 0 and bool(ws.document.pdf.hits), "the OCR hit")
    shot.shoot("14-ocr-scan")

    # the Mentions tab of an Enron email
    shot.search(MENTIONS_QUERY)
    shot.open_first()
    pane = window.insights.mentions
    assert pane is not None
    ws.document.tabs.setCurrentWidget(pane)
    shot.wait(lambda: pane.mentions != [], "the mentions")
    pane.tree.expandAll()
    shot.shoot("15-mentions")
    ws.document.tabs.setCurrentIndex(0)

    # Insights → Entities…, Time Line…, Graph… of the whole case, Batch Search… of a terms file
    shot.search("")
    window.actions["entities"].trigger()
    entities = window.insights.dialogs["entities"]
    shot.wait(lambda: entities.table_data is not None, "the entity table")
    shot.shoot_window("16-entities", entities)
    entities.close()

    window.actions["timeline"].trigger()
    timeline = window.insights.dialogs["timeline"]
    shot.wait(lambda: timeline.data is not None, "the time line")
    timeline.by.setCurrentIndex(timeline.by.findData("year"))
    shot.wait(lambda: timeline.data is not None and len(timeline.data.buckets[0].key) == 4, "years")
    shot.shoot_window("17-timeline", timeline)
    timeline.close()

    window.actions["graph"].trigger()
    graph = window.insights.dialogs["graph"]
    shot.wait(lambda: graph.drawn is not None, "the graph", timeout=300)
    weights: dict[str, float] = {}
    for edge in graph.drawn.shown.edges:
        for node in (edge.source, edge.target):
            weights[node] = weights.get(node, 0.0) + edge.weight
    graph.view.scale(1.6, 1.6)  # as the wheel zooms, around the busiest correspondent
    graph.view.fitted = False
    graph.view.centerOn(graph.items[max(weights, key=lambda n: weights[n])])
    shot.shoot_window("18-graph", graph)
    graph.close()

    terms = workdir / "terms.csv"
    terms.write_text(BATCH_TERMS, "utf-8")
    window.actions["batch_search"].trigger()
    batch = window.insights.dialogs["batch"]
    batch.load_terms(terms)
    batch.run_button.click()
    shot.wait(lambda: not batch.running and bool(batch.results), "the batch search", timeout=300)
    batch.table.selectRow(0)
    shot.shoot_window("19-batch-search", batch)
    batch.close()


def shoot_hidpi(out: Path, corpus: Path) -> None:
    """The same app at a device pixel ratio of 2, in its own process (the ratio is fixed at start)."""
    env = dict(os.environ, QT_SCALE_FACTOR="2", DOSSIER_SCREENS_HIDPI="1")
    subprocess.run(
        [sys.executable, __file__, "--out", str(out), "--corpus", str(corpus)], env=env, check=True
    )


def shoot_hidpi_here(out: Path, corpus: Path, workdir: Path) -> None:
    settings = Settings.at(workdir / "settings.ini")
    window, reporter = build_window(settings)
    install_excepthook(reporter)
    window.resize(*SIZE)
    window.show()
    shot = Shooter(window, out)
    window.open_case(workdir / "hidpi", create=True)
    shot.wait(lambda: window.workspace is not None, "the case to open")
    assert window.session is not None
    use_ocr(window, False)
    window.start_import([corpus / "real/pdf"])
    shot.wait(lambda: not window.session.import_job.running, "the import", timeout=300)
    if window.import_dialog is not None:
        window.import_dialog.hide()
    ws = window.workspace
    assert ws is not None
    shot.search(PDF_QUERY)
    shot.open_first()
    shot.wait(lambda: ws.document.pdf.rendered_page is not None and ws.document.pdf.hits, "the PDF page")
    ws.document.next_hit()
    shot.wait(lambda: ws.document.pdf.rendered_page == ws.document.pdf.page, "the hit's page")
    shot.shoot("10-hidpi-2x")
    window.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--no-hidpi", action="store_true", help="skip the 2× screenshot")
    parser.add_argument("--ocr", action="store_true", help="import with OCR of scans and images (slower)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DOSSIER_CONFIG_HOME", tempfile.mkdtemp(prefix="dossier-config-"))
    make_application()
    with tempfile.TemporaryDirectory(prefix="dossier-screens-") as tmp:
        if os.environ.get("DOSSIER_SCREENS_HIDPI"):
            shoot_hidpi_here(args.out, args.corpus.resolve(), Path(tmp))
            return 0
        print(f"screenshots into {args.out}:")
        shoot_all(args.out, args.corpus.resolve(), Path(tmp), ocr=args.ocr)
    if not args.no_hidpi:
        shoot_hidpi(args.out, args.corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
