"""The metadata tab: status and reason, hashes, every source path with its import run, attempts, fields."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QTextBrowser, QWidget

from app.documents import DocumentDetail
from ui.viewers.email import human_size

log = logging.getLogger(__name__)

REVIEW_LABELS = {
    "unreviewed": "Unreviewed",
    "relevant": "Relevant",
    "not_relevant": "Not relevant",
    "follow_up": "Follow-up",
}


def _e(value: Any) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return html.escape("" if value is None else str(value))


def _mtime(value: Any) -> str:
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OSError):
        return ""


class MetadataView(QTextBrowser):
    """Renders a `DocumentDetail` as tidy tables; a parent link opens that document."""

    open_document = Signal(int)
    unlock_requested = Signal(int)  # "Enter password…" on an encrypted document
    ocr_requested = Signal(int)  # "Run OCR" on a document with pages waiting for OCR

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metadata")
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._link)

    def show_detail(self, detail: DocumentDetail) -> None:
        self.setHtml(metadata_html(detail, self.palette()))

    def _link(self, url: QUrl) -> None:
        if url.scheme() == "doc" and url.path().isdigit():
            self.open_document.emit(int(url.path()))
        elif url.scheme() == "unlock" and url.path().isdigit():
            self.unlock_requested.emit(int(url.path()))
        elif url.scheme() == "ocr" and url.path().isdigit():
            self.ocr_requested.emit(int(url.path()))


def metadata_html(detail: DocumentDetail, palette: QPalette) -> str:
    s = detail.summary
    muted = palette.color(QPalette.ColorRole.PlaceholderText).name()
    status = _e(s.status) + (f" — {_e(s.reason)}" if s.reason else "")
    if s.status == "encrypted":
        status += f" &nbsp;<a href='unlock:{s.id}'>Enter password…</a>"
    rows: list[tuple[str, str]] = [
        ("Title", _e(s.title)),
        ("Type", _e(s.type)),
        ("Status", status),
        ("Review status", _e(REVIEW_LABELS.get(s.review_status, s.review_status))),
        ("Size", _e(human_size(s.size))),
        (
            "Date",
            _e(s.date)
            + (
                f" <span style='color:{muted}'>({_e(detail.date_source)})</span>"
                if detail.date_source
                else ""
            ),
        ),
        ("Pages", _e(detail.page_count)),
        ("Author", _e(detail.author)),
        ("Extractor", _e(f"{detail.extractor} {detail.extractor_version}".strip())),
        ("Document id", str(s.id)),
    ]
    if s.needs_ocr:
        rows.append(
            (
                "Text layer",
                f"some pages have no text layer (OCR needed) &nbsp;<a href='ocr:{s.id}'>Run OCR</a>",
            )
        )
    if s.parent_id:
        rows.append(("Found inside", f"<a href='doc:{s.parent_id}'>document {s.parent_id}</a>"))
    if detail.children:
        rows.append(("Contains", f"{len(detail.children)} document(s)"))
    out = [_section("Document"), _table(rows, muted)]
    out += [_section("Hashes"), _table([("SHA-256", f"<code>{_e(s.sha256)}</code>")], muted)]
    sources = [
        (
            _e(src.get("path")),
            _e(src.get("relation")),
            _e(human_size(int(src.get("size") or 0))),
            _e(_mtime(src.get("mtime"))),
            _e(f"#{src.get('run_id')} · {src.get('run_started') or ''} · {src.get('run_user') or ''}"),
        )
        for src in detail.sources
    ]
    out += [
        _section(f"Sources ({len(sources)})"),
        _grid(("Path", "Found as", "Size", "Modified", "Import run"), sources, muted),
    ]
    attempts = [
        (
            _e(a.get("at")),
            _e(f"{a.get('extractor')} {a.get('extractor_version') or ''}"),
            _e(a.get("status")),
            _e(a.get("reason")),
            _e(f"{a.get('duration_s') or 0:.2f} s"),
        )
        for a in detail.attempts
    ]
    if attempts:
        out += [
            _section("Extraction attempts"),
            _grid(("When", "Extractor", "Status", "Reason", "Took"), attempts, muted),
        ]
    if detail.warnings:
        out += [
            _section("Warnings"),
            "<ul>" + "".join(f"<li>{_e(w)}</li>" for w in detail.warnings) + "</ul>",
        ]
    if detail.metadata:
        fields = [(_e(k), _e(v)) for k, v in sorted(detail.metadata.items())]
        out += [_section("Metadata fields"), _table(fields, muted)]
    if detail.email:
        fields = [(_e(k), _e(v)) for k, v in detail.email.items() if v]
        out += [_section("Email headers"), _table(fields, muted)]
    return "<html><body style='margin:8px'>" + "".join(out) + "</body></html>"


def _section(title: str) -> str:
    return f"<h3 style='margin-top:14px;margin-bottom:4px'>{_e(title)}</h3>"


def _table(rows: list[tuple[str, str]], muted: str) -> str:
    body = "".join(
        f"<tr><td style='color:{muted};padding-right:14px' valign='top'>{k}</td><td>{v}</td></tr>"
        for k, v in rows
        if v
    )
    return f"<table cellspacing='0' cellpadding='2'>{body}</table>"


def _grid(headers: tuple[str, ...], rows: list[tuple[str, ...]], muted: str) -> str:
    head = "".join(f"<th align='left' style='color:{muted};padding-right:12px'>{h}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='padding-right:12px' valign='top'>{c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table cellspacing='0' cellpadding='3'><tr>{head}</tr>{body}</table>"
