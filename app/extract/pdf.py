"""PDF text per page, document metadata, and embedded files, with PyMuPDF; OCR for pages that need it.

A page is OCR'd (when the import asks for OCR) if it has no usable text layer: a scan (images, almost no
text), a scan with a thin text layer (a Bates stamp on a full-page image), or a layer that a broken font
encoding garbled (see `ocr.text_layer_problem`). It is rendered at 300 dpi, bounded to 10,000 px a side.
Pages the case has OCR'd before arrive in `ctx.ocr_known` and are not recognised again.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pymupdf

from app.extract import ocr
from app.extract.base import Child, ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError, EncryptedError

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

# The text page also keeps where images are drawn (as references: nothing is decoded), so the one pass
# over the page's content gives its text and what the OCR check needs; the text is the same.
_TEXT_FLAGS = pymupdf.TEXTFLAGS_TEXT | pymupdf.TEXT_PRESERVE_IMAGES
# A word broken by a hyphen at a line end ("AEP-\nCSW", "agree-\nment") reads, and is found, joined, as
# poppler's pdftotext does. Only letters on both sides: "WO-2017-\n0413" keeps its hyphen. (The hyphen
# comes first so that the search skips to each one; the letter before it is checked behind.)
_LINE_END_HYPHEN = re.compile(r"-(?<=[^\W\d_]-)[ \t]*\n(?=[^\W\d_])")

_NOT_ALNUM = re.compile(r"[\W_]+")
# A page with fewer printable characters than this, but with images on it, is treated as a scan.
_MIN_TEXT_CHARS = 16
# …and one with fewer than this, on a page mostly covered by images, as a scan with a stamp on it.
_SPARSE_TEXT_CHARS = 100
_SPARSE_IMAGE_COVER = 0.5
# Pages are rendered for OCR at most this large (pixels): bounds memory and time for poster-sized pages.
_MAX_OCR_PIXELS = 60_000_000
_PDF_DATE = re.compile(r"D?:?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz+\-])?(\d{2})?'?(\d{2})?")


class PdfExtractor:
    name = "pymupdf"
    version = f"2:{pymupdf.VersionBind}"  # 2: OCR of scans and garbled text layers
    doc_types = ("pdf",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        try:
            doc = pymupdf.open(path, filetype="pdf")
        except Exception as exc:
            raise CorruptError(f"PDF cannot be opened: {_short(exc)}") from exc
        with doc:
            if doc.needs_pass:
                if not _authenticate(doc, ctx.passwords):
                    reason = "none of the given passwords opens it" if ctx.passwords else "password required"
                    raise EncryptedError(f"encrypted PDF: {reason}")
            try:
                page_count = doc.page_count
            except Exception as exc:
                raise CorruptError(f"PDF page tree is damaged: {_short(exc)}") from exc
            if page_count == 0:
                raise CorruptError("PDF has no readable pages")
            metadata = _metadata(doc)
            metadata["page_count"] = page_count
            warnings: list[str] = []
            reasons: dict[int, str] = {}
            parts = _pages(doc, ctx, warnings, reasons)
            garbled = [str(i + 1) for i, why in sorted(reasons.items()) if why == "garbled"]
            if garbled:
                metadata["garbled_text_pages"] = garbled
            if reasons and ctx.ocr_languages:
                _ocr_pages(doc, parts, reasons, ctx, warnings, metadata)
            scanned = [p.label for p in parts if p.needs_ocr]
            if scanned:
                metadata["needs_ocr_pages"] = scanned
            children = _embedded_files(doc, ctx, warnings)
            title = metadata.get("title")
            return Extraction(
                doc_type="pdf",
                title=str(title) if title else None,
                parts=tuple(parts),
                metadata=metadata,
                children=tuple(children),
                warnings=tuple(warnings),
            )


def _authenticate(doc: pymupdf.Document, passwords: tuple[str, ...]) -> bool:
    # An empty user password opens many "protected" PDFs (owner password only).
    for password in ("", *passwords):
        if doc.authenticate(password):
            return True
    return False


def _pages(
    doc: pymupdf.Document, ctx: ExtractContext, warnings: list[str], reasons: dict[int, str] | None = None
) -> list[Part]:
    """Text per page. Pages without a usable text layer are flagged `needs_ocr`, and `reasons` gets why
    (page index → "scan" | "sparse" | "garbled")."""
    reasons = {} if reasons is None else reasons
    parts: list[Part] = []
    budget = ctx.limits.max_text_chars
    count = doc.page_count
    if count > ctx.limits.max_pages:
        warnings.append(f"only the first {ctx.limits.max_pages:,} of {count:,} pages were read")
        count = ctx.limits.max_pages
    failed = 0
    for index in range(count):
        try:
            page = doc.load_page(index)
            textpage = page.get_textpage(flags=_TEXT_FLAGS)
            text = _LINE_END_HYPHEN.sub("", textpage.extractText())
            why = _needs_ocr(page, textpage, text)
            del textpage
            needs_ocr = why is not None
            if why:
                reasons[index] = why
        except Exception as exc:
            failed += 1
            log.debug("page %d unreadable: %s", index + 1, exc)
            parts.append(Part(kind="page", label=str(index + 1), text=""))
            continue
        if budget <= 0:
            text = ""
        elif len(text) > budget:
            text = text[:budget]
            warnings.append(f"text truncated at {ctx.limits.max_text_chars:,} characters (page {index + 1})")
        budget -= len(text)
        parts.append(Part(kind="page", label=str(index + 1), text=text, needs_ocr=needs_ocr))
    if failed:
        if failed == count:
            raise CorruptError(f"no page of the PDF could be read ({failed} damaged)")
        warnings.append(f"{failed} page(s) could not be read")
    return parts


def _needs_ocr(page: pymupdf.Page, textpage: pymupdf.TextPage, text: str) -> str | None:
    """Why this page's text layer is not enough ("scan", "sparse", "garbled"), or None."""
    printable = len(_NOT_ALNUM.sub("", text[:1000]))  # letters and digits (str.isalnum)
    if printable < _SPARSE_TEXT_CHARS:
        cover = _image_cover(page, textpage)
        if cover is not None and printable < _MIN_TEXT_CHARS:
            return "scan"
        if cover is not None and cover >= _SPARSE_IMAGE_COVER:
            return "sparse"
    if ocr.text_layer_problem(text) == "garbled":
        return "garbled"
    return None


def _image_cover(page: pymupdf.Page, textpage: pymupdf.TextPage) -> float | None:
    """The fraction of the page the largest image drawn on it covers; None when it draws no image."""
    try:
        infos = textpage.extractIMGINFO()
        if not infos:
            return None
        area = abs(page.rect)
        boxes = [pymupdf.Rect(info["bbox"]) & page.rect for info in infos]
    except Exception:
        return None
    return max((abs(b) / area for b in boxes if area), default=0.0)


def _ocr_pages(
    doc: pymupdf.Document,
    parts: list[Part],
    reasons: dict[int, str],
    ctx: ExtractContext,
    warnings: list[str],
    metadata: dict[str, MetaValue],
) -> None:
    """OCR the flagged pages in place: each part gets the page's OCR text (or keeps its layer)."""
    engine: ocr.OcrEngine | None = None
    done: list[str] = []
    rotated: list[str] = []
    for index, why in sorted(reasons.items()):
        part = parts[index]
        page_no = index + 1
        known = ctx.ocr_known.get(page_no)
        words = None
        if known is not None:
            ocr_text, confidence = known
        else:
            if ctx.ocr_deadline and time.monotonic() >= ctx.ocr_deadline:
                _stopped(warnings, page_no, len(reasons))
                break
            if engine is None:
                try:
                    engine = ocr.get_engine(ctx.ocr_languages)
                except ocr.OcrUnavailable as exc:
                    warnings.append(f"pages were not OCR'd: {exc}")
                    break
            try:
                image, dpi = _render(doc, index)
            except Exception as exc:
                warnings.append(f"page {page_no} could not be rendered for OCR: {_short(exc)}")
                continue
            result = engine.recognize(image, dpi=dpi, deadline=ctx.ocr_deadline)
            del image
            if not result.complete:
                _stopped(warnings, page_no, len(reasons))
                break
            words, ocr_text, confidence = result.words, ocr.words_to_text(result.words), result.confidence
            if result.rotation or result.skew:
                rotated.append(str(page_no))
        parts[index] = _with_ocr(part, why, ocr_text, confidence, words)
        done.append(str(page_no))
    if done:
        ocr_labels = [p.label for p in parts if p.origin == "ocr"]
        if ocr_labels:
            metadata["ocr_pages"] = ocr_labels
        metadata["ocr_languages"] = ocr.normalize_languages(ctx.ocr_languages)
        metadata["ocr_engine"] = ocr.tesseract_version()
    if rotated:
        metadata["ocr_turned_pages"] = rotated


def _with_ocr(part: Part, why: str, ocr_text: str, confidence: float, words: tuple | None) -> Part:
    layer = part.text
    if why == "garbled":
        if ocr.prefer_ocr(layer, ocr_text, confidence):
            return Part(part.kind, part.label, ocr_text, needs_ocr=False, origin="ocr", words=words)
        return Part(part.kind, part.label, layer, needs_ocr=False, origin="text", words=words)
    # A scan: its OCR text, plus whatever the thin text layer says that the OCR did not read (a Bates
    # number, a stamp in invisible text), so nothing the file itself said is lost.
    text = ocr_text
    extra = layer.strip()
    if extra and not _covered(extra, ocr_text):
        text = f"{ocr_text}\n\n{extra}" if ocr_text else extra
    return Part(part.kind, part.label, text, needs_ocr=False, origin="ocr", words=words)


def _covered(layer: str, ocr_text: str) -> bool:
    seen = set(ocr_text.casefold().split())
    return all(token in seen for token in layer.casefold().split())


def _render(doc: pymupdf.Document, index: int) -> tuple[Image.Image, int]:
    """Page `index` as displayed (rotation applied), grayscale, at OCR_DPI within the pixel bounds."""
    from PIL import Image

    page = doc.load_page(index)
    rect = page.rect
    zoom = ocr.OCR_DPI / 72.0
    longest = max(rect.width, rect.height, 1.0)
    zoom = min(zoom, ocr.MAX_SIDE / longest)
    area = max(rect.width * rect.height, 1.0)
    zoom = min(zoom, (_MAX_OCR_PIXELS / area) ** 0.5)
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY, alpha=False)
    image = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    return image, max(1, round(zoom * 72))


def _stopped(warnings: list[str], page_no: int, total: int) -> None:
    warnings.append(
        f"OCR stopped at page {page_no} (of {total} to OCR): the per-file time limit; "
        "run `ocr` on this document to finish (pages done are kept)"
    )


def _metadata(doc: pymupdf.Document) -> dict[str, MetaValue]:
    raw = doc.metadata or {}
    out: dict[str, MetaValue] = {}
    for key in ("title", "author", "subject", "keywords", "creator", "producer"):
        value = (raw.get(key) or "").strip()
        if value:
            out[key] = value
    for key, target in (("creationDate", "created"), ("modDate", "modified")):
        iso = pdf_date_to_iso(raw.get(key) or "")
        if iso:
            out[target] = iso
    fmt = raw.get("format")
    if fmt:
        out["pdf_version"] = fmt
    if raw.get("encryption"):
        out["encryption"] = raw["encryption"]
    return out


def pdf_date_to_iso(value: str) -> str | None:
    """`D:20011015093000-05'00'` → `2001-10-15T09:30:00-05:00`; None when unparseable."""
    m = _PDF_DATE.match(value.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, tz, tzh, tzm = m.groups()
    try:
        y, mo, d = int(year), int(month or 1), int(day or 1)
        h, mi, s = int(hour or 0), int(minute or 0), int(second or 0)
    except ValueError:
        return None
    if not (1900 < y < 2200 and 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
        return None
    iso = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{min(s, 59):02d}"
    if tz in ("Z", "z"):
        iso += "+00:00"
    elif tz in ("+", "-") and tzh:
        iso += f"{tz}{int(tzh):02d}:{int(tzm or 0):02d}"
    return iso


def _embedded_files(doc: pymupdf.Document, ctx: ExtractContext, warnings: list[str]) -> list[Child]:
    children: list[Child] = []
    try:
        count = doc.embfile_count()
    except Exception:
        return children
    written = 0
    for index in range(min(count, ctx.limits.max_members)):
        try:
            info = doc.embfile_info(index)
            if int(info.get("size") or 0) > ctx.limits.max_member_bytes:
                warnings.append(f"embedded file {index + 1} skipped: larger than the member limit")
                continue
            data = doc.embfile_get(index)
        except Exception as exc:
            warnings.append(f"embedded file {index + 1} unreadable: {_short(exc)}")
            continue
        if len(data) > ctx.limits.max_member_bytes:
            warnings.append(f"embedded file {index + 1} skipped: larger than the member limit")
            continue
        written += 1
        rel = f"embedded-{written:05d}.bin"
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        (ctx.work_dir / rel).write_bytes(data)
        name = info.get("filename") or info.get("name") or rel
        children.append(Child(path=rel, name=str(name), relation="embedded", metadata={"size": len(data)}))
    if count > ctx.limits.max_members:
        warnings.append(f"only {ctx.limits.max_members:,} of {count:,} embedded files were kept")
    return children


def _short(exc: BaseException) -> str:
    """A library message for the reporter: without our storage paths, which mean nothing to them."""
    text = str(exc).strip() or type(exc).__name__
    text = re.sub(
        r"(Failed to open file )?'?/[^\s']*/blobs/[0-9a-f]{2}/[0-9a-f]{64}'?",
        "damaged or unreadable file structure",
        text,
    )
    return text[:200]
