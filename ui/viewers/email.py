"""The email viewer: headers, the body with hits marked, and attachments that open with one click."""

from __future__ import annotations

import html
import logging
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QLabel, QListWidget, QListWidgetItem, QSplitter, QVBoxLayout, QWidget

from app.documents import DocumentDetail, DocumentService
from ui import icons
from ui.highlight import HitFinder
from ui.viewers.base import Viewer
from ui.viewers.text import TextPane, compose_parts

log = logging.getLogger(__name__)

HEADER_FIELDS = (("from", "From"), ("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"), ("date", "Date"))
BODY_KINDS = ("body", "section", "notes")


def readable_date(value: Any) -> str:
    """An email's date in the reader's local time ("Mon 14 May 2001, 23:39"), with the sender's own clock
    time and offset when they differ; text that is not a date is shown as it is."""
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return text
    if when.tzinfo is None:
        return when.strftime("%a %d %b %Y, %H:%M")
    local = when.astimezone()
    shown = local.strftime("%a %d %b %Y, %H:%M")
    if when.utcoffset() != local.utcoffset():
        offset = when.strftime("%z")
        shown += f" (sent {when.strftime('%H:%M')} UTC{offset[:3]}:{offset[3:]})"
    return shown


def header_html(email: dict[str, Any], title: str, muted: str = "#6c757d") -> str:
    subject = html.escape(str(email.get("subject") or title or "(no subject)"))
    rows = []
    for key, label in HEADER_FIELDS:
        value = email.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if key == "date" and value:
            value = readable_date(value)
        if value:
            rows.append(
                f"<tr><td style='padding-right:10px;color:{muted}'>{label}</td>"
                f"<td>{html.escape(str(value))}</td></tr>"
            )
    return f"<div style='font-size:large;font-weight:600;margin-bottom:6px'>{subject}</div><table>{''.join(rows)}</table>"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


class EmailViewer(Viewer):
    """Header block over the body; attachments listed below it, each opening its own document."""

    def __init__(self, documents: DocumentService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.documents = documents
        self.headers = QLabel(self)
        self.headers.setObjectName("emailHeaders")
        self.headers.setTextFormat(Qt.TextFormat.RichText)
        self.headers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headers.setWordWrap(True)
        self.headers.setContentsMargins(12, 10, 12, 10)
        self.body = TextPane(self)
        self.body.setFrameShape(QFrame.Shape.NoFrame)
        self.attachments = QListWidget(self)
        self.attachments.setObjectName("attachments")
        self.attachments.setFlow(QListWidget.Flow.LeftToRight)
        self.attachments.setWrapping(True)
        self.attachments.setSpacing(4)
        self.attachments.setMaximumHeight(90)
        self.attachments.itemClicked.connect(self._open_attachment)
        self.attachments.itemActivated.connect(self._open_attachment)
        self.attachments_label = QLabel("Attachments", self)
        self.attachments_label.setContentsMargins(8, 4, 8, 0)

        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(0)
        top_layout.addWidget(self.headers)
        top_layout.addWidget(line)
        top_layout.addWidget(self.body, 1)
        bottom = QWidget(self)
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.attachments_label)
        bottom_layout.addWidget(self.attachments)
        self.bottom = bottom
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 1)
        split.setCollapsible(0, False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def show_document(
        self, detail: DocumentDetail, finder: HitFinder, location: dict[str, Any] | None
    ) -> None:
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        self.headers.setText(header_html(detail.email or {}, detail.summary.title, muted))
        parts = [p for p in detail.parts if p["kind"] in BODY_KINDS] or [
            p for p in detail.parts if p["kind"] != "headers"
        ]
        text, _ = compose_parts(parts)
        self.body.set_content(text.strip() or "(this message has no text body)", finder)
        self.hits_changed.emit(*self.body.step_hit(+1))
        self.attachments.clear()
        for child in self.documents.summaries(detail.children) if detail.children else []:
            item = QListWidgetItem(icons.for_type(child.type), f"{child.title}  ({human_size(child.size)})")
            item.setData(Qt.ItemDataRole.UserRole, child.id)
            item.setToolTip(f"Open {child.title} ({child.type}, {child.status})")
            self.attachments.addItem(item)
        self.bottom.setVisible(self.attachments.count() > 0)
        self.attachments_label.setText(f"Attachments ({self.attachments.count()})")

    def next_hit(self) -> None:
        self.hits_changed.emit(*self.body.step_hit(+1))

    def previous_hit(self) -> None:
        self.hits_changed.emit(*self.body.step_hit(-1))

    def _open_attachment(self, item: QListWidgetItem) -> None:
        doc_id = item.data(Qt.ItemDataRole.UserRole)
        if doc_id:
            self.open_document.emit(int(doc_id))
