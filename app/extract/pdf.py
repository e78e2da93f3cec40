"""PDF text per page, document metadata, and embedded files, with PyMuPDF."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pymupdf

from app.extract.base import Child, ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError, EncryptedError

log = logging.getLogger(__name__)

pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

# A page with fewer printable characters than this, but with images on it, is treated as a scan.
_MIN_TEXT_CHARS = 16
_PDF_DATE = re.compile(r"D?:?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz+\-])?(\d{2})?'?(\d{2})?")


class PdfExtractor:
    name = "pymupdf"
    version = f"1:{pymupdf.VersionBind}"
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
            parts = _pages(doc, ctx, warnings)
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


def _pages(doc: pymupdf.Document, ctx: ExtractContext, warnings: list[str]) -> list[Part]:
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
            text = page.get_text("text", sort=False)
            needs_ocr = _needs_ocr(page, text)
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


def _needs_ocr(page: pymupdf.Page, text: str) -> bool:
    printable = sum(1 for ch in text if ch.isalnum())
    if printable >= _MIN_TEXT_CHARS:
        return False
    try:
        return bool(page.get_images(full=False))
    except Exception:
        return False


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
        (ctx.work_dir / rel).write_bytes(data)
        name = info.get("filename") or info.get("name") or rel
        children.append(Child(path=rel, name=str(name), relation="embedded", metadata={"size": len(data)}))
    if count > ctx.limits.max_members:
        warnings.append(f"only {ctx.limits.max_members:,} of {count:,} embedded files were kept")
    return children


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]
