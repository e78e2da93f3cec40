"""Icons: small SVGs shipped in assets/icons (document types, the app) and Qt's standard icons for actions."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

log = logging.getLogger(__name__)

ICON_DIR = Path(__file__).resolve().parent.parent / "assets" / "icons"

# detected document type → icon family (app/extract/detect.py holds the type vocabulary)
TYPE_FAMILY = {
    "pdf": "pdf",
    "xlsx": "sheet",
    "xls": "sheet",
    "ods": "sheet",
    "csv": "sheet",
    "tsv": "sheet",
    "eml": "email",
    "msg": "email",
    "mbox": "email",
    "email": "email",
    "docx": "word",
    "doc": "word",
    "odt": "word",
    "rtf": "word",
    "wordperfect": "word",
    "pptx": "slides",
    "ppt": "slides",
    "odp": "slides",
    "zip": "archive",
    "7z": "archive",
    "tar": "archive",
    "gzip": "archive",
    "bzip2": "archive",
    "xz": "archive",
    "image": "image",
    "text": "text",
    "html": "html",
}

TYPE_LABEL = {
    "pdf": "PDF",
    "sheet": "Spreadsheet",
    "email": "Email",
    "word": "Word processing",
    "slides": "Presentation",
    "archive": "Archive",
    "image": "Image",
    "text": "Text",
    "html": "Web page",
    "other": "Other",
}


def type_family(doc_type: str) -> str:
    return TYPE_FAMILY.get(doc_type, "other")


@cache
def named(name: str) -> QIcon:
    """An icon from assets/icons by file stem; an empty icon (and a log line) when missing."""
    path = ICON_DIR / f"{name}.svg"
    if not path.is_file():
        log.warning("missing icon %s", path)
        return QIcon()
    return QIcon(str(path))


def for_type(doc_type: str) -> QIcon:
    return named(f"type-{type_family(doc_type)}")


def app_icon() -> QIcon:
    return named("dossier")


def standard(pixmap: QStyle.StandardPixmap) -> QIcon:
    app = QApplication.instance()
    style = app.style() if isinstance(app, QApplication) else None
    return style.standardIcon(pixmap) if style else QIcon()
