"""Where a document's original bytes are, and a read-only named copy of them for "Open original".

Blobs are stored under their hash with no name or extension, so other programs could not tell what they are;
`named_copy()` puts a copy under the document's own (sanitised) name in the case's tmp/originals folder.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
from pathlib import Path

from app.case import Case
from app.documents import DocumentDetail

log = logging.getLogger(__name__)

EXTENSIONS = {
    "pdf": ".pdf",
    "docx": ".docx",
    "doc": ".doc",
    "xlsx": ".xlsx",
    "xls": ".xls",
    "pptx": ".pptx",
    "ppt": ".ppt",
    "odt": ".odt",
    "ods": ".ods",
    "odp": ".odp",
    "rtf": ".rtf",
    "csv": ".csv",
    "tsv": ".tsv",
    "text": ".txt",
    "html": ".html",
    "eml": ".eml",
    "email": ".eml",
    "msg": ".msg",
    "mbox": ".mbox",
    "zip": ".zip",
    "7z": ".7z",
}
_UNSAFE = re.compile(r"[\x00-\x1f/\\:*?\"<>|]+")


def safe_name(name: str, doc_type: str, doc_id: int) -> str:
    """A file name safe on any file system, with an extension other programs recognise."""
    base = _UNSAFE.sub("_", os.path.basename(name.replace("\\", "/"))).strip(" .") or f"document-{doc_id}"
    stem, ext = os.path.splitext(base)
    if not ext and doc_type in EXTENSIONS:
        ext = EXTENSIONS[doc_type]
    return stem[:120] + ext[:16]


class Originals:
    """Paths of originals in a case (the blob store is never written here)."""

    def __init__(self, case: Case) -> None:
        self.case = case

    def path(self, detail: DocumentDetail) -> Path:
        return self.case.blob_path(detail.summary.sha256)

    def named_copy(self, detail: DocumentDetail) -> Path:
        """Copy the original to tmp/originals/<id>/<name> (once) and make it read-only; returns the copy."""
        source = self.path(detail)
        if not source.is_file():
            raise FileNotFoundError(2, "the original is missing from the case", str(source))
        name = detail.sources[0]["name"] if detail.sources else ""
        target = (
            self.case.tmp_dir
            / "originals"
            / str(detail.summary.id)
            / safe_name(name, detail.summary.type, detail.summary.id)
        )
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target.chmod(stat.S_IRUSR | stat.S_IWUSR)
            partial = target.with_name(target.name + ".part")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
            target.chmod(stat.S_IRUSR | stat.S_IRGRP)
        return target
