"""PyMuPDF behind the PDF viewer: page sizes, page images, thumbnails and hit boxes.

A `PdfRenderer` is only ever used from the render lane's thread (ui/tasks.py): PyMuPDF is not thread-safe
and holds the GIL while it renders. So big pages are rendered in bands of at most `BAND_PIXELS`, each one a
short call, and the main thread gets the GIL back between them; no page is rendered with a side above
`MAX_SIDE` pixels.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

from app.ocr import hit_boxes
from ui.highlight import HitFinder

log = logging.getLogger(__name__)

MAX_SIDE = 10_000  # pixels, either side of a rendered page
BAND_PIXELS = 2_000_000  # pixels rendered per PyMuPDF call


@dataclass(frozen=True)
class PageHit:
    """One hit on a page: its boxes (one per line it spans) in page points, rotation applied."""

    page: int  # 0-based
    boxes: tuple[QRectF, ...]
    ocr: bool = False  # found in the OCR words of a scan, not in a text layer

    @property
    def top(self) -> float:
        return min(b.top() for b in self.boxes)

    @property
    def left(self) -> float:
        return min(b.left() for b in self.boxes)


class PdfOpenError(Exception):
    """The file cannot be shown as a PDF (damaged, encrypted); the message is for the reporter."""


class PdfRenderer:
    """One open PDF; every method must run on the render lane's thread."""

    def __init__(self, path: Path, password: str | None = None) -> None:
        try:
            self.doc = pymupdf.open(path)
        except Exception as exc:  # PyMuPDF raises several kinds for damaged files
            raise PdfOpenError(f"this PDF cannot be displayed: {exc}") from exc
        if self.doc.needs_pass and password:
            self.doc.authenticate(password)  # the password a reporter gave for it in this session
        if self.doc.is_encrypted:
            self.doc.close()
            raise PdfOpenError(
                "this PDF is encrypted; its pages cannot be displayed (File → Enter Password… opens it)"
            )
        if not self.doc.is_pdf and self.doc.page_count == 0:
            self.doc.close()
            raise PdfOpenError("this file has no pages to display")

    def page_sizes(self) -> list[tuple[float, float]]:
        """(width, height) of each page in points, as displayed (rotation applied)."""
        return [(p.rect.width, p.rect.height) for p in self.doc]

    def render(self, index: int, scale: float) -> QImage:
        """Page `index` at `scale` pixels per point (reduced so that no side exceeds MAX_SIDE)."""
        page = self.doc[index]
        rect = page.rect
        scale = min(scale, MAX_SIDE / max(rect.width, rect.height, 1.0))
        width, height = max(1, round(rect.width * scale)), max(1, round(rect.height * scale))
        matrix = pymupdf.Matrix(scale, scale)
        if page.rotation or width * height <= BAND_PIXELS:
            return _to_qimage(page.get_pixmap(matrix=matrix, alpha=False, annots=True))
        image = QImage(width, height, QImage.Format.Format_RGB888)
        image.fill(0xFFFFFF)
        band_points = max(1.0, BAND_PIXELS / width / scale)
        painter = QPainter(image)
        try:
            top = rect.y0
            while top < rect.y1:
                bottom = min(rect.y1, top + band_points)
                clip = pymupdf.Rect(rect.x0, top, rect.x1, bottom)
                pix = page.get_pixmap(matrix=matrix, clip=clip, alpha=False, annots=True)
                painter.drawImage(0, round((top - rect.y0) * scale), _to_qimage(pix))
                top = bottom
        finally:
            painter.end()
        return image

    def thumbnail(self, index: int, width: int) -> QImage:
        page = self.doc[index]
        zoom = width / max(page.rect.width, 1.0)
        return _to_qimage(page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False))

    def hits(self, finder: HitFinder) -> list[PageHit]:
        """Every hit of the query on every page, in reading order."""
        if not finder:
            return []
        out: list[PageHit] = []
        for page in self.doc:
            out += page_hits(page, finder)
        return out

    def ocr_hits(
        self, pages: dict[int, list[Any]], finder: HitFinder, text_hits: Sequence[PageHit] = ()
    ) -> list[PageHit]:
        """Hits on OCR'd pages (1-based page → `app.ocr.WordBox`es), boxes scaled to the displayed page;
        a hit the page's text layer already boxed at the same place (a stamp over a scan) is left out."""
        if not finder:
            return []
        out = []
        for number in sorted(pages):
            index = number - 1
            if not 0 <= index < self.doc.page_count:
                continue
            rect = self.doc[index].rect
            known = [b for h in text_hits if h.page == index for b in h.boxes]
            for boxes in hit_boxes(pages[number], finder.spans):
                shown = tuple(
                    QRectF(x0 * rect.width, y0 * rect.height, (x1 - x0) * rect.width, (y1 - y0) * rect.height)
                    for x0, y0, x1, y1 in boxes
                )
                if not any(box.intersects(k) for box in shown for k in known):
                    out.append(PageHit(index, shown, ocr=True))
        return out

    def redaction_boxes(self, redactions: list[dict[str, Any]]) -> list[tuple[int, int, QRectF]]:
        """(redaction id, 0-based page, box as displayed) for stored redactions: rectangles, and every
        match of a term redaction, as the scrubbed export will burn them in."""
        out: list[tuple[int, int, QRectF]] = []
        for red in redactions:
            if red.get("rect"):
                index = int(red["page"]) - 1
                if 0 <= index < self.doc.page_count:
                    out.append((red["id"], index, self._shown(self.doc[index], pymupdf.Rect(*red["rect"]))))
            elif red.get("term"):
                for page in self.doc:
                    for rect in page.search_for(red["term"]):
                        out.append((red["id"], page.number, self._shown(page, rect)))
        return out

    def to_page_rect(self, index: int, shown: QRectF) -> tuple[float, float, float, float]:
        """A box drawn on the displayed page → the page's own coordinates (as redactions are stored)."""
        page = self.doc[index]
        rect = pymupdf.Rect(shown.left(), shown.top(), shown.right(), shown.bottom())
        if page.rotation:
            rect = rect * page.derotation_matrix
        rect.normalize()
        return (round(rect.x0, 2), round(rect.y0, 2), round(rect.x1, 2), round(rect.y1, 2))

    @staticmethod
    def _shown(page: pymupdf.Page, rect: pymupdf.Rect) -> QRectF:
        shown = rect * page.rotation_matrix if page.rotation else pymupdf.Rect(rect)
        shown.normalize()
        return QRectF(shown.x0, shown.y0, shown.width, shown.height)

    def close(self) -> None:
        self.doc.close()


def page_hits(page: pymupdf.Page, finder: HitFinder) -> list[PageHit]:
    """Match the query on the page's words (joined by spaces) and box the words each match covers."""
    words = page.get_text("words", sort=False)
    if not words:
        return []
    starts: list[int] = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w[4]) + 1
    text = " ".join(w[4] for w in words)
    rotation = page.rotation_matrix
    out = []
    for start, end in finder.spans(text):
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, end - 1) - 1
        lines: dict[tuple[int, int], pymupdf.Rect] = {}
        for w in words[first : last + 1]:
            key = (w[5], w[6])  # block, line
            box = pymupdf.Rect(w[:4])
            lines[key] = lines[key] | box if key in lines else box
        boxes = []
        for box in lines.values():
            shown = box * rotation if page.rotation else box
            shown.normalize()
            boxes.append(QRectF(shown.x0, shown.y0, shown.width, shown.height))
        if boxes:
            out.append(PageHit(page.number, tuple(boxes)))
    return out


def _to_qimage(pix: pymupdf.Pixmap) -> QImage:
    fmt = QImage.Format.Format_RGB888 if pix.n == 3 else QImage.Format.Format_Grayscale8
    if pix.n not in (1, 3):
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
        fmt = QImage.Format.Format_RGB888
    samples = pix.samples  # kept alive until the image owns a copy
    return QImage(samples, pix.width, pix.height, pix.stride, fmt).copy()
