"""Page images and PDFs made on the spot for the OCR tests (PyMuPDF's built-in Helvetica: no font files)."""

from __future__ import annotations

from pathlib import Path

import pymupdf
from PIL import Image

LINES = (
    "Quarterly shipment report for Panda International",
    "The invoice was paid to Meridian Holdings in February",
    "Please forward the signed contract to the legal department",
)


def text_page_pdf(
    lines: tuple[str, ...] = LINES, *, width: float = 612, height: float = 300
) -> pymupdf.Document:
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    y = 60.0
    for line in lines:
        page.insert_text((40, y), line, fontsize=14, fontname="helv")
        y += 30
    return doc


def text_image(lines: tuple[str, ...] = LINES, *, dpi: int = 200) -> Image.Image:
    """A grayscale 'scan' of a few lines of text."""
    with text_page_pdf(lines) as doc:
        pix = doc[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def scanned_pdf(path: Path, lines: tuple[str, ...] = LINES, *, layer: str | None = None) -> Path:
    """A PDF page showing `lines` only as an image; `layer`, if given, is an invisible text layer on it
    (what a broken font encoding or a bad OCR layer leaves behind)."""
    image = text_image(lines)
    png = path.with_suffix(".png")
    image.save(png)
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=300)
    page.insert_image(page.rect, filename=str(png))
    if layer is not None:
        y = 60.0
        for line in layer.splitlines():
            page.insert_text((40, y), line, fontsize=14, fontname="helv", render_mode=3)
            y += 30
    doc.save(path)
    doc.close()
    png.unlink()
    return path


def caesar(text: str, shift: int = 3) -> str:
    """Letters moved along the alphabet: what a subset font's private code order looks like as text."""
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - 97 + shift) % 26 + 97))
        elif "A" <= ch <= "Z":
            out.append(chr((ord(ch) - 65 + shift) % 26 + 65))
        else:
            out.append(ch)
    return "".join(out)


def squash(text: str) -> str:
    return " ".join(text.split()).casefold()
