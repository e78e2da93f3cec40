"""Content sniffing: a file's type comes from its bytes, not its name.

The name is consulted only where bytes cannot decide (CSV vs TSV vs plain text). Runs in the worker,
because looking inside a ZIP or OLE container already means parsing untrusted structure.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

# The detected-type vocabulary. Extractors declare which of these they handle.
DOC_TYPES = (
    "pdf",
    "docx",
    "xlsx",
    "pptx",
    "odt",
    "ods",
    "odp",
    "doc",
    "xls",
    "ppt",
    "msg",
    "ole-encrypted",  # OOXML/ODF wrapped in an encrypted OLE container
    "rtf",
    "html",
    "eml",
    "mbox",
    "csv",
    "tsv",
    "text",
    "zip",
    "7z",
    "tar",
    "gzip",
    "bzip2",
    "xz",
    "image",
    "wordperfect",
    "rar",
    "wim",
    "ace",
    "ar",
    "cab",
    "publisher",
    "ole-chart",  # a Microsoft Graph chart embedded in an Office file (its own "Workbook" stream is no XLS)
    "ole",
    "empty",
    "binary",
)

_HEAD = 8192
# Class id of Microsoft Graph charts (MSGraph.Chart.8): OLE objects embedded in Office documents.
_MS_GRAPH_CLSID = "00020803-0000-0000-C000-000000000046"
_MBOX_ENVELOPE = re.compile(rb"^From \S+ +(Mon|Tue|Wed|Thu|Fri|Sat|Sun) +\w{3} +\d{1,2} +\d{1,2}:\d{2}")

_EMAIL_HEADER = re.compile(
    rb"^(Return-Path|Received|From|To|Subject|Date|Message-ID|MIME-Version|Delivered-To|X-[A-Za-z-]+"
    rb"|Content-Type|Reply-To|Cc|Sender|DKIM-Signature|Authentication-Results|Thread-Topic|Comments"
    rb"|In-Reply-To|References|Importance|X-Mailer|Organization)\s*:",
    re.IGNORECASE | re.MULTILINE,
)


def detect_type(path: Path, name_hint: str = "") -> str:
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    if not head:
        return "empty"
    name = (name_hint or path.name).lower()

    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06") or head.startswith(b"PK\x07\x08"):
        return _zip_kind(path)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _ole_kind(path)
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and len(head) > 4 and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"\xffWPC"):
        return "wordperfect"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"MSWIM\x00"):
        return "wim"
    if head[7:14] == b"**ACE**":
        return "ace"
    if head.startswith(b"!<arch>\n"):
        return "ar"
    if head.startswith(b"MSCF\x00\x00\x00\x00"):
        return "cab"
    if _is_image(head):
        return "image"
    if head.startswith(b"MZ") and _has_zip_directory(path):
        return "zip"  # a self-extracting archive: the ZIP after the executable stub
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        return "rtf"
    if b"\x00" in head[:4096] and not _looks_utf16(head):
        return "binary"

    text_head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lower = text_head[:1024].lower()
    if text_head.startswith(b"From ") and (_EMAIL_HEADER.search(head) or _MBOX_ENVELOPE.match(text_head)):
        # A single message saved with its envelope line reads as an email; a mailbox holds several.
        if name.endswith(".eml") and text_head.count(b"\nFrom ") == 0:
            return "eml"
        return "mbox"
    if lower.startswith(b"<!doctype html") or lower.startswith(b"<html"):
        return "html"
    if _looks_like_email(head) or (name.endswith((".eml", ".mht")) and _EMAIL_HEADER.search(head)):
        return "eml"
    if b"<html" in lower and (b"<body" in head.lower() or b"<head" in lower):
        return "html"
    if name.endswith((".htm", ".html", ".xhtml")) and b"<" in head:
        return "html"
    if name.endswith(".tsv") or name.endswith(".tab"):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    return "text"


def _looks_utf16(head: bytes) -> bool:
    return head.startswith((b"\xff\xfe", b"\xfe\xff"))


def _looks_like_email(head: bytes) -> bool:
    """At least three RFC 822 header lines at the very top, the first line among them."""
    lines = head.split(b"\n", 40)[:40]
    if not lines or not re.match(rb"^[A-Za-z][A-Za-z0-9-]*\s*:", lines[0]):
        return False
    hits = 0
    for line in lines:
        if not line.strip():
            break
        if _EMAIL_HEADER.match(line):
            hits += 1
    return hits >= 3


def _is_image(head: bytes) -> bool:
    return (
        head.startswith(b"\x89PNG\r\n\x1a\n")
        or head.startswith(b"\xff\xd8\xff")
        or head.startswith((b"GIF87a", b"GIF89a"))
        or head.startswith((b"II*\x00", b"MM\x00*"))
        or (head.startswith(b"BM") and len(head) > 14 and head[6:10] == b"\x00\x00\x00\x00")
        or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")
    )


def _has_zip_directory(path: Path) -> bool:
    """True when the file ends with a ZIP end-of-central-directory record (self-extracting archives)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 66_000))
            return b"PK\x05\x06" in fh.read()
    except OSError:
        return False


def _office_from_local_headers(path: Path) -> str | None:
    """A ZIP whose directory is broken: tell OOXML/ODF packages apart by the entry names near the start."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    if head[30:38] == b"mimetype":
        for kind, marker in (
            ("odt", b"opendocument.text"),
            ("ods", b"opendocument.spreadsheet"),
            ("odp", b"opendocument.presentation"),
        ):
            if marker in head[:200]:
                return kind
    if b"[Content_Types].xml" in head or b"_rels/.rels" in head:
        for kind, marker in (("docx", b"word/"), ("xlsx", b"xl/"), ("pptx", b"ppt/")):
            if marker in head:
                return kind
    return None


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            name_set = set(names[:5000])
            if "mimetype" in name_set:
                try:
                    info = zf.getinfo("mimetype")
                    mimetype = (
                        zf.read("mimetype")[:100].decode("ascii", "replace").strip()
                        if info.file_size < 200
                        else ""
                    )
                except Exception:
                    mimetype = ""
                if "opendocument.text" in mimetype:
                    return "odt"
                if "opendocument.spreadsheet" in mimetype:
                    return "ods"
                if "opendocument.presentation" in mimetype:
                    return "odp"
            if "[Content_Types].xml" in name_set:
                if any(n.startswith("word/") for n in name_set):
                    return "docx"
                if any(n.startswith("xl/") for n in name_set):
                    return "xlsx"
                if any(n.startswith("ppt/") for n in name_set):
                    return "pptx"
            if "content.xml" in name_set and "META-INF/manifest.xml" in name_set:
                return "odt"
    except Exception:
        # A damaged central directory: an Office package if its entries say so, else the archive
        # extractor salvages what it can.
        return _office_from_local_headers(path) or "zip"
    return "zip"


def _ole_kind(path: Path) -> str:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(s) for s in ole.listdir(streams=True, storages=True)}
            clsid = str(ole.root.clsid or "").upper()
    except Exception:
        return "ole"
    if clsid == _MS_GRAPH_CLSID:
        return "ole-chart"
    lowered = {s.lower() for s in streams}
    if "encryptedpackage" in lowered or "encryptioninfo" in lowered:
        return "ole-encrypted"
    if "worddocument" in lowered:
        return "doc"
    if "workbook" in lowered or "book" in lowered:
        return "xls"
    if "powerpoint document" in lowered:
        return "ppt"
    if any(s.startswith("__substg1.0_") for s in lowered):
        return "msg"
    if "quill" in lowered or any(s.startswith("quill/") for s in lowered):
        return "publisher"
    return "ole"
