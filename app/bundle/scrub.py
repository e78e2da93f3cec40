"""Publication copies: remove what identifies the source from a document's bytes, and burn in redactions.

Each scrubber takes the original bytes and returns new bytes plus a list of what it removed. Formats with
no scrubber are not exported as originals in a scrubbed bundle (the report says so): a publication copy
must never carry metadata nobody looked at.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser

import pymupdf

# Warnings that apply to every scrubbed bundle: things no scrubber can remove.
GENERAL_WARNINGS = (
    "Printer tracking dots (machine identification codes) in scans and printed pages are not removed.",
    "Visible watermarks, letterheads, stamps and handwriting stay as they are: check every page image.",
    "Text in images is only redacted where a rectangle was drawn over it.",
)

EMAIL_KEEP_HEADERS = {
    "from",
    "to",
    "date",
    "subject",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


@dataclass
class ScrubResult:
    data: bytes | None  # None: this format cannot be scrubbed; do not export the original
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Redaction:
    page: int | None  # 1-based; None = every page (term redactions)
    rect: tuple[float, float, float, float] | None = None
    term: str | None = None


def scrub(data: bytes, doc_type: str, redactions: list[Redaction]) -> ScrubResult:
    if doc_type == "pdf":
        return scrub_pdf(data, redactions)
    if doc_type in ("docx", "xlsx", "pptx"):
        return _with_redaction_warning(scrub_ooxml(data), redactions)
    if doc_type in ("odt", "ods", "odp"):
        return _with_redaction_warning(scrub_odf(data), redactions)
    if doc_type == "email":
        return _with_redaction_warning(scrub_email(data), redactions)
    if doc_type == "image":
        return _with_redaction_warning(scrub_image(data), redactions)
    if doc_type in ("text", "csv", "tsv", "html"):
        result = ScrubResult(data, ["nothing to remove: plain text carries no hidden metadata"])
        if any(r.term for r in redactions):
            result = redact_plain(data, [r.term for r in redactions if r.term])
        return result
    return ScrubResult(
        None, warnings=[f"{doc_type}: no scrubber for this format; original not exported (text only)"]
    )


def _with_redaction_warning(result: ScrubResult, redactions: list[Redaction]) -> ScrubResult:
    if redactions and result.data is not None:
        result.warnings.append(
            "redactions are burned into PDFs only; this original is not exported because it has redactions"
        )
        result.data = None
    return result


# -- PDF --------------------------------------------------------------------------------------------


def scrub_pdf(data: bytes, redactions: list[Redaction]) -> ScrubResult:
    removed: list[str] = []
    warnings: list[str] = []
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:
        return ScrubResult(
            None, warnings=[f"PDF could not be opened for scrubbing ({exc}); original not exported"]
        )
    with doc:
        if doc.needs_pass:
            return ScrubResult(None, warnings=["encrypted PDF: not exported"])
        info = {k: v for k, v in (doc.metadata or {}).items() if v and k not in ("format", "encryption")}
        if info:
            removed.append("document info: " + ", ".join(sorted(info)))
        if doc.get_xml_metadata():
            removed.append("XMP metadata")
        if doc.embfile_count():
            removed.append(f"{doc.embfile_count()} embedded file(s)")
        if _has_javascript(doc):
            removed.append("JavaScript")
        burned = 0
        for red in redactions:
            pages = range(doc.page_count) if red.page is None else [red.page - 1]
            for index in pages:
                if not 0 <= index < doc.page_count:
                    warnings.append(
                        f"redaction on page {red.page} skipped: the document has {doc.page_count} pages"
                    )
                    continue
                page = doc[index]
                rects = []
                if red.rect is not None:
                    rects.append(pymupdf.Rect(*red.rect))
                if red.term:
                    rects += page.search_for(red.term)
                for rect in rects:
                    page.add_redact_annot(rect, fill=(0, 0, 0))
                    burned += 1
        if burned:
            for page in doc:
                page.apply_redactions(images=pymupdf.PDF_REDACT_IMAGE_PIXELS)
            removed.append(f"{burned} redaction(s) burned in (text and image pixels underneath removed)")
        doc.scrub(
            attached_files=True,
            clean_pages=True,
            embedded_files=True,
            hidden_text=True,
            javascript=True,
            metadata=True,
            redactions=True,
            remove_links=False,
            reset_fields=True,
            reset_responses=True,
            thumbnails=True,
            xml_metadata=True,
        )
        doc.set_metadata({})
        out = doc.tobytes(garbage=4, deflate=True, clean=True, no_new_id=True)
    removed.append("annotations' authors, thumbnails, hidden text and form data reset")
    return ScrubResult(out, removed, warnings)


def _has_javascript(doc: pymupdf.Document) -> bool:
    try:
        for xref in range(1, doc.xref_length()):
            obj = doc.xref_object(xref, compressed=True)
            if "/JavaScript" in obj or "/JS" in obj:
                return True
    except Exception:
        return False
    return False


# -- Office Open XML and OpenDocument ---------------------------------------------------------------

_CORE_EMPTY = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)
_APP_FIELDS = re.compile(
    rb"<(Company|Manager|Template|TotalTime|Application|AppVersion|HyperlinkBase|DocSecurity)>.*?</\1>", re.S
)
_RSID = re.compile(rb'\s+w(?:14)?:rsid\w*="[^"]*"')
_AUTHOR_ATTR = re.compile(rb'(w:author|w:initials|authorId|author)="[^"]*"')
_PERSON_PART = re.compile(r"^(word|xl|ppt)/(people|persons/person|commentAuthors)\.xml$")


def scrub_ooxml(data: bytes) -> ScrubResult:
    removed: set[str] = set()
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        names = src.namelist()
    except zipfile.BadZipFile:
        return ScrubResult(None, warnings=["damaged Office file: not exported"])
    out = io.BytesIO()
    with src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in names:
            info = src.getinfo(name)
            if info.file_size > 512 << 20:
                return ScrubResult(None, warnings=[f"part {name} too large to scrub: not exported"])
            body = src.read(name)
            if name == "docProps/core.xml":
                body = _CORE_EMPTY
                removed.add("core properties (author, last modified by, title, dates, revision)")
            elif name == "docProps/app.xml":
                body, n = _APP_FIELDS.subn(b"", body)
                if n:
                    removed.add("application properties (company, manager, template, application)")
            elif name == "docProps/custom.xml":
                body = body.split(b"<Properties", 1)[0] + (
                    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"/>'
                )
                removed.add("custom properties")
            elif _PERSON_PART.match(name):
                body = re.sub(rb'(userId|providerId|name)="[^"]*"', rb'\1=""', body)
                removed.add("people list of comment and revision authors")
            elif name.endswith(".xml"):
                body, n_rsid = _RSID.subn(b"", body)
                body, n_auth = _AUTHOR_ATTR.subn(rb'\1="Author"', body)
                if n_rsid:
                    removed.add("revision session ids (rsid)")
                if n_auth:
                    removed.add("comment and tracked-change authors")
            dst.writestr(info.filename, body, compress_type=zipfile.ZIP_DEFLATED)
    return ScrubResult(out.getvalue(), sorted(removed))


def scrub_odf(data: bytes) -> ScrubResult:
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        names = src.namelist()
    except zipfile.BadZipFile:
        return ScrubResult(None, warnings=["damaged OpenDocument file: not exported"])
    removed = []
    out = io.BytesIO()
    with src, zipfile.ZipFile(out, "w") as dst:
        for name in names:
            body = src.read(name)
            if name == "meta.xml":
                body = (
                    b'<?xml version="1.0" encoding="UTF-8"?><office:document-meta '
                    b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.2">'
                    b"<office:meta/></office:document-meta>"
                )
                removed.append("document metadata (creator, dates, editing time, generator)")
            compress = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            dst.writestr(name, body, compress_type=compress)
    return ScrubResult(out.getvalue(), removed)


# -- email ------------------------------------------------------------------------------------------


def scrub_email(data: bytes) -> ScrubResult:
    msg = BytesParser(policy=policy.compat32).parsebytes(data)
    dropped = sorted({k.lower() for k in msg.keys() if k.lower() not in EMAIL_KEEP_HEADERS})
    for key in set(msg.keys()):
        if key.lower() not in EMAIL_KEEP_HEADERS:
            del msg[key]
    removed = (
        [f"routing and client headers: {', '.join(dropped[:12])}{'…' if len(dropped) > 12 else ''}"]
        if dropped
        else []
    )
    return ScrubResult(
        msg.as_bytes(), removed, ["email attachments are exported as separate documents only if selected"]
    )


# -- images -----------------------------------------------------------------------------------------


def scrub_image(data: bytes) -> ScrubResult:
    if data.startswith(b"\xff\xd8"):
        return _scrub_jpeg(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _scrub_png(data)
    return ScrubResult(None, warnings=["image format without a scrubber: not exported"])


def _scrub_jpeg(data: bytes) -> ScrubResult:
    """Drop APPn (EXIF, XMP, IPTC, ICC) and COM segments; keep the image data byte for byte."""
    out = bytearray(data[:2])
    pos = 2
    removed = set()
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment = data[pos : pos + 2 + length]
        if 0xE1 <= marker <= 0xEF or marker == 0xFE:
            removed.add("EXIF/XMP/IPTC metadata and comments" if marker != 0xFE else "JPEG comment")
        else:
            out += segment
        pos += 2 + length
    out += data[pos:]
    return ScrubResult(bytes(out), sorted(removed))


def _scrub_png(data: bytes) -> ScrubResult:
    out = bytearray(data[:8])
    pos = 8
    removed = set()
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos : pos + 12 + length]
        if kind in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME"):
            removed.add("PNG text, EXIF and time chunks")
        else:
            out += chunk
        pos += 12 + length
        if kind == b"IEND":
            break
    return ScrubResult(bytes(out), sorted(removed))


# -- plain text -------------------------------------------------------------------------------------


def redact_plain(data: bytes, terms: list[str]) -> ScrubResult:
    text = data.decode("utf-8", "replace")
    count = 0
    for term in terms:
        text, n = re.subn(re.escape(term), lambda m: "█" * len(m.group(0)), text, flags=re.IGNORECASE)
        count += n
    return ScrubResult(
        text.encode("utf-8"), [f"{count} occurrence(s) of redacted terms replaced"] if count else []
    )


def redact_text(text: str, terms: list[str]) -> str:
    for term in terms:
        text = re.sub(re.escape(term), lambda m: "█" * len(m.group(0)), text, flags=re.IGNORECASE)
    return text
