"""The open document's audit history: who did what, when, newest first."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from app.review.service import AuditEntry

log = logging.getLogger(__name__)

STATUS_WORDS = {
    "unreviewed": "unreviewed",
    "relevant": "relevant",
    "not_relevant": "not relevant",
    "follow_up": "follow-up",
}


def describe(entry: AuditEntry) -> str:
    """One readable line for an audit entry."""
    d: dict[str, Any] = entry.detail
    match entry.action:
        case "tag":
            return f"tagged “{d.get('tag')}”"
        case "untag":
            return f"removed the tag “{d.get('tag')}”"
        case "status":
            old, new = (
                STATUS_WORDS.get(d.get("old", ""), d.get("old")),
                STATUS_WORDS.get(d.get("new", ""), d.get("new")),
            )
            return f"status {old} → {new}"
        case "note_add":
            where = (
                f" on page {d['page']}" if d.get("page") else (f" on {d['cell']}" if d.get("cell") else "")
            )
            return f"added a note{where}: {_short(d.get('text'))}"
        case "note_edit":
            return f"edited a note: {_short(d.get('new'))}"
        case "note_delete":
            return f"deleted a note: {_short(d.get('text'))}"
        case "link_add":
            return (
                f"linked {d.get('source')} {str(d.get('relation', '')).replace('_', ' ')} {d.get('target')}"
            )
        case "link_remove":
            return (
                f"unlinked {d.get('source')} {str(d.get('relation', '')).replace('_', ' ')} {d.get('target')}"
            )
        case "suggestion_accept":
            return f"accepted a suggested link to {d.get('other')}"
        case "suggestion_dismiss":
            return f"dismissed a suggested link to {d.get('other')} ({d.get('detail')})"
        case "delete":
            return "deleted the document"
        case "redaction_add":
            if d.get("term"):
                return f"redacted every “{_short(d.get('term'), 40)}”"
            return f"drew a redaction on page {d['page']}" if d.get("page") else "drew a redaction"
        case "redaction_remove":
            return "removed a redaction"
        case "conflict_resolve":
            kept = STATUS_WORDS.get(str(d.get("kept", "")), d.get("kept"))
            side = {"local": " (this case's)", "bundle": " (the bundle's)"}.get(str(d.get("choice", "")), "")
            return f"settled a merge conflict: kept {kept}{side}"
        case "unlock":
            return "unlocked it with a password and read it again"
        case "merge":
            return f"merged the bundle {d.get('bundle')}"
    return entry.action.replace("_", " ")


def _short(text: Any, size: int = 60) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= size else text[: size - 1] + "…"


class HistoryList(QTreeWidget):
    """When | Who | What."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("history")
        self.setColumnCount(3)
        self.setHeaderLabels(["When", "Who", "What"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def show_entries(self, entries: list[AuditEntry]) -> None:
        self.clear()
        for entry in entries:
            item = QTreeWidgetItem([entry.at[:16].replace("T", " "), entry.actor, describe(entry)])
            item.setToolTip(2, describe(entry))
            self.addTopLevelItem(item)
