"""Which extractor handles which detected type, and the one call a worker makes per file.

Extractors are declared here by import path; each class declares the detected types it handles.
Adding a format = writing one module and naming it in `EXTRACTORS`.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.extract.base import ExtractContext, Extraction, Extractor
from app.extract.detect import detect_type
from app.extract.errors import ExtractionError

log = logging.getLogger(__name__)

# (class by import path, the detected types it handles: the class's own `doc_types`, a test checks they
# agree). A worker imports an extractor's module the first time a file of one of its types arrives, so an
# import of PDFs never loads the office, e-mail or archive libraries; `PRELOADED` are imported once, in the
# fork server, before any worker starts.
EXTRACTORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("app.extract.pdf:PdfExtractor", ("pdf",)),
    ("app.extract.image:ImageExtractor", ("image",)),
    ("app.extract.office:DocxExtractor", ("docx",)),
    ("app.extract.office:XlsxExtractor", ("xlsx",)),
    ("app.extract.office:PptxExtractor", ("pptx",)),
    ("app.extract.odf:OdfExtractor", ("odt", "ods", "odp")),
    ("app.extract.legacy:DocExtractor", ("doc",)),
    ("app.extract.legacy:XlsExtractor", ("xls",)),
    ("app.extract.legacy:PptExtractor", ("ppt",)),
    ("app.extract.rtf:RtfExtractor", ("rtf",)),
    ("app.extract.text:TextExtractor", ("text",)),
    ("app.extract.text:CsvExtractor", ("csv", "tsv")),
    ("app.extract.html:HtmlExtractor", ("html",)),
    ("app.extract.email:EmlExtractor", ("eml",)),
    ("app.extract.email:MboxExtractor", ("mbox",)),
    ("app.extract.email:MsgExtractor", ("msg",)),
    ("app.extract.archive:ArchiveExtractor", ("zip", "7z", "tar", "gzip", "bzip2", "xz")),
    ("app.extract.encrypted:EncryptedOfficeExtractor", ("ole-encrypted",)),
)
# The modules every worker has loaded from the start: leaks are mostly PDFs.
PRELOADED = ("app.extract.pdf",)

# Types we recognise but have no extractor for: stored, hashed and listed with this status and reason.
UNREADABLE = {
    "wordperfect": ("unsupported", "WordPerfect document: format not supported; original kept"),
    "publisher": ("unsupported", "Microsoft Publisher document: format not supported; original kept"),
    "ole-chart": (
        "unsupported",
        "embedded Microsoft Graph chart (an OLE object of its Office document): not read; original kept",
    ),
    "ole": ("unsupported", "unrecognised OLE2 compound file; original kept"),
    "binary": ("unsupported", "unrecognised binary file; original kept"),
    "image": ("unsupported", "image without a text layer; original kept"),
    "empty": ("skipped", "empty file (0 bytes)"),
    "rar": ("unsupported", "RAR archive: no free RAR decoder is available; original kept"),
    "wim": ("unsupported", "Windows imaging (WIM) archive: format not supported; original kept"),
    "ace": ("unsupported", "ACE archive: format not supported; original kept"),
    "ar": ("unsupported", "ar archive (e.g. a Debian package): format not supported; original kept"),
    "cab": ("unsupported", "Microsoft Cabinet archive: format not supported; original kept"),
    "ole-encrypted": ("encrypted", "encrypted Office document: password required"),
}


@dataclass(frozen=True)
class Outcome:
    """What a worker reports for one file."""

    doc_type: str
    status: str
    reason: str
    extractor: str
    extractor_version: str
    extraction: Extraction | None


_SPEC_BY_TYPE = {doc_type: spec for spec, doc_types in EXTRACTORS for doc_type in doc_types}


@cache
def _load(spec: str) -> Extractor | None:
    module_name, _, cls_name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:  # a missing optional library disables one format
        log.warning("extractor %s unavailable: %s", spec, exc)
        return None
    instance: Extractor = cls()
    return instance


def extractor_for(doc_type: str) -> Extractor | None:
    """The extractor of a detected type (its module imported on first use), or None."""
    spec = _SPEC_BY_TYPE.get(doc_type)
    return _load(spec) if spec else None


def extractors_by_type() -> dict[str, Extractor]:
    """Every available extractor by the types it handles (imports them all)."""
    table = {doc_type: extractor_for(doc_type) for doc_type in _SPEC_BY_TYPE}
    return {doc_type: extractor for doc_type, extractor in table.items() if extractor is not None}


def extract_file(path: Path, ctx: ExtractContext) -> Outcome:
    """Detect and extract one file. Translates every extractor failure into a status and reason."""
    doc_type = detect_type(path, ctx.name_hint)
    try:
        extractor = extractor_for(doc_type)
    except MemoryError:  # importing its libraries under the worker's memory cap
        return Outcome(doc_type, "out_of_memory", "ran out of memory loading the reader", "none", "", None)
    if extractor is None:
        status, reason = UNREADABLE.get(doc_type, ("unsupported", f"{doc_type}: format not supported"))
        return Outcome(doc_type, status, reason, "none", "", None)
    return run_extractor(extractor, doc_type, path, ctx)


def run_extractor(extractor: Extractor, doc_type: str, path: Path, ctx: ExtractContext) -> Outcome:
    """The error boundary: library exceptions → project statuses with a reason a reporter can read."""
    name, version = extractor.name, extractor.version
    try:
        extraction = extractor.extract(path, ctx)
    except ExtractionError as exc:
        return Outcome(doc_type, exc.status, exc.reason, name, version, None)
    except MemoryError:
        return Outcome(doc_type, "out_of_memory", "ran out of memory while parsing", name, version, None)
    except RecursionError:
        return Outcome(doc_type, "corrupt", "structure nested too deeply to parse", name, version, None)
    except Exception as exc:  # a parser choking on its input: the file is damaged or not what it claims
        reason = f"could not parse {doc_type}: {type(exc).__name__}: {str(exc)[:300]}"
        return Outcome(doc_type, "corrupt", reason, name, version, None)
    return Outcome(extraction.doc_type or doc_type, "ok", "", name, version, extraction)
