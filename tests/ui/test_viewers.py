"""Viewer pieces on their own: page rendering limits, hit boxes, cell references, text hits, the email view."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from PySide6.QtCore import Qt

from app.documents import DocumentDetail, DocumentSummary
from app.search import SearchService
from index.query import QueryParser
from ui.highlight import HitFinder, snippet_segments
from ui.viewers.email import EmailViewer
from ui.viewers.pdf_render import BAND_PIXELS, MAX_SIDE, PdfOpenError, PdfRenderer
from ui.viewers.sheet import parse_cell
from ui.viewers.text import TextPane, compose_parts


class _Search:
    """Just the part of SearchService a HitFinder uses."""

    parser = QueryParser()


def finder(query: str) -> HitFinder:
    return HitFinder.for_query(_Search(), query)  # type: ignore[arg-type]


def test_hit_finder_marks_what_the_search_marks() -> None:
    f = finder('"checks payable" résumé')
    text = "Please make CHECKS   payable to the Resume office"
    spans = f.spans(text)
    assert [text[a:b] for a, b in spans] == ["CHECKS   payable", "Resume"]
    assert not finder("type:pdf") and finder("type:pdf").spans(text) == []
    assert finder('"unclosed').spans(text) == []  # a malformed query marks nothing
    assert snippet_segments("a &amp; <mark>b</mark> c") == [("a & ", False), ("b", True), (" c", False)]
    assert SearchService  # the real service hands its parser the same way


def test_pdf_pages_render_in_bands_and_never_beyond_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=2000, height=3000)
    page.insert_text((100, 200), "Reservation Rate per Dt delivered", fontsize=40)
    doc.save(path)
    renderer = PdfRenderer(path)
    try:
        assert renderer.page_sizes() == [(2000.0, 3000.0)]
        banded = renderer.render(0, 2.0)  # 4000 × 6000 px: rendered in bands
        assert (banded.width(), banded.height()) == (4000, 6000) and 4000 * 6000 > BAND_PIXELS
        capped = renderer.render(0, 10.0)
        assert max(capped.width(), capped.height()) <= MAX_SIDE
        assert banded.pixelColor(2000, 5900).name() == "#ffffff"
        hits = renderer.hits(finder('"rate per dt"'))
        assert len(hits) == 1 and hits[0].page == 0
        box = hits[0].boxes[0]
        assert 100 <= box.left() < 1000 and 150 < box.top() < 210
        assert renderer.thumbnail(0, 72).width() == 72
    finally:
        renderer.close()


def test_a_damaged_or_encrypted_pdf_is_refused_with_a_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nnot really")
    with pytest.raises(PdfOpenError):
        PdfRenderer(broken)
    locked = tmp_path / "locked.pdf"
    doc = pymupdf.open()
    doc.new_page()
    doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    with pytest.raises(PdfOpenError, match="encrypted"):
        PdfRenderer(locked)


def test_cell_references() -> None:
    assert parse_cell("C14") == (14, 3)
    assert parse_cell("Sheet1!AB2") == (2, 28)
    assert parse_cell("$A$1") == (1, 1)
    assert parse_cell("page 3") is None


def test_text_pane_steps_through_hits_even_after_wide_characters(qtbot) -> None:
    pane = TextPane()
    qtbot.addWidget(pane)
    text, starts = compose_parts(
        [
            {"ordinal": 0, "kind": "page", "label": "1", "text": "😀 emoji first, then the needle"},
            {"ordinal": 1, "kind": "page", "label": "2", "text": "another needle here"},
        ]
    )
    pane.set_content(text, finder("needle"))
    assert len(pane.spans) == 2 and starts[1] > 0
    assert pane.step_hit(+1) == (1, 2)
    assert pane.textCursor().selectedText() == "needle"
    assert pane.step_hit(+1) == (2, 2)
    assert pane.textCursor().selectedText() == "needle"
    assert pane.step_hit(+1) == (1, 2)  # wraps


class _Documents:
    def __init__(self, children: list[DocumentSummary]) -> None:
        self.children = children

    def summaries(self, ids: list[int]) -> list[DocumentSummary]:
        return [c for c in self.children if c.id in ids]


def summary(doc_id: int, title: str, doc_type: str) -> DocumentSummary:
    return DocumentSummary(
        doc_id,
        title,
        doc_type,
        "ok",
        "",
        "0" * 64,
        2048,
        None,
        [f"/leak/{title}"],
        None,
        0,
        "unreviewed",
        False,
    )


def test_email_view_shows_headers_body_and_opens_attachments(qtbot) -> None:
    attachment = summary(8, "invoice.pdf", "pdf")
    detail = DocumentDetail(
        summary=summary(7, "Payment", "eml"),
        metadata={},
        warnings=[],
        page_count=None,
        author=None,
        date_source=None,
        extractor="email",
        extractor_version="1",
        children=[8],
        sources=[],
        attempts=[],
        email={
            "from": "Jane <jane@example.com>",
            "to": ["Bob <bob@example.com>"],
            "cc": [],
            "date": "2001-05-02T10:00:00",
            "subject": "Payment due",
        },
        parts=[
            {
                "ordinal": 0,
                "kind": "body",
                "label": "body",
                "text": "Please make checks payable to Panda.",
                "needs_ocr": False,
            }
        ],
    )
    viewer = EmailViewer(_Documents([attachment]))  # type: ignore[arg-type]
    qtbot.addWidget(viewer)
    viewer.show()
    hits: list[tuple[int, int]] = []
    viewer.hits_changed.connect(lambda c, t: hits.append((c, t)))
    viewer.show_document(detail, finder('"checks payable"'), None)
    assert "Payment due" in viewer.headers.text() and "jane@example.com" in viewer.headers.text()
    assert hits[-1] == (1, 1)
    assert viewer.attachments.count() == 1 and "invoice.pdf" in viewer.attachments.item(0).text()
    with qtbot.waitSignal(viewer.open_document) as opened:
        rect = viewer.attachments.visualItemRect(viewer.attachments.item(0))
        qtbot.mouseClick(viewer.attachments.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [8]


def test_history_describes_every_audited_action_in_words() -> None:
    from app.review.service import AuditEntry
    from ui.review.history import describe

    def line(action: str, **detail: object) -> str:
        return describe(AuditEntry(1, "2026-01-01T00:00:00", "ana", action, 7, detail))

    assert line("redaction_add", page=2, rect=[0, 0, 10, 10], term=None) == "drew a redaction on page 2"
    assert line("redaction_add", page=None, rect=[], term="Panda") == "redacted every “Panda”"
    assert line("redaction_remove", redaction=3) == "removed a redaction"
    assert "kept follow-up (the bundle's)" in line("conflict_resolve", kept="follow_up", choice="bundle")
    assert line("unlock", status="ok").startswith("unlocked it with a password")
    assert line("status", old="unreviewed", new="not_relevant") == "status unreviewed → not relevant"
