"""Facet filters beside the results: type, year, tag, review status, folder, import state, problems, and the
entity facets (documents per kind of entity, the most frequent names of each kind) the search counts.

The panel shows the counts of the current search and emits `filters_changed` with the ticked values
(`{"type": ("pdf",), "problems": (True,)}`), which is what `SearchService.search(filters=…)` takes. Ticked
values stay listed even when the current results no longer contain them, so they can be unticked.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

log = logging.getLogger(__name__)

GROUPS = (
    ("type", "Type"),
    ("year", "Year"),
    ("tag", "Tag"),
    ("status", "Review status"),
    ("folder", "Folder"),
    ("state", "Import state"),
)
EXPANDED = {"type", "year", "tag", "status", "problems"}
# Facets other services add (named entities…): shown after the built-in groups, folded, when they count anything.
EXTRA_LABELS = {
    "entities": "Entities",
    "person": "People",
    "org": "Organisations",
    "company": "Companies",
    "place": "Places",
    "email": "Email addresses",
    "phone": "Phone numbers",
    "iban": "IBANs",
    "money": "Amounts",
    "reference": "References",
}
# Values of the "entities" group are kinds: "documents mentioning an email address", ….
ENTITY_KIND_LABELS = {
    "person": "People",
    "org": "Organisations",
    "company": "Companies",
    "place": "Places",
    "email": "Email addresses",
    "phone": "Phone numbers",
    "iban": "IBANs",
    "bic": "BICs",
    "money": "Amounts",
    "date": "Dates",
    "url": "URLs",
    "ip": "IP addresses",
    "reference": "References",
}
MAX_VALUES = 15
VALUE_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_LABELS = {
    "unreviewed": "Unreviewed",
    "relevant": "Relevant",
    "not_relevant": "Not relevant",
    "follow_up": "Follow-up",
}
STATE_LABELS = {"ok": "Extracted", "out_of_memory": "Out of memory", "too_large": "Too large"}


def value_label(group: str, value: str) -> str:
    if group == "type":
        return value.upper() if len(value) <= 5 else value.capitalize()
    if group == "status":
        return STATUS_LABELS.get(value, value)
    if group == "state":
        return STATE_LABELS.get(value, value.replace("_", " ").capitalize())
    if group == "year" and value in ("", "none", "None"):
        return "Undated"
    if group == "entities":
        return ENTITY_KIND_LABELS.get(value, value)
    if group == "folder":
        parts = [p for p in value.split(os.sep) if p]
        return os.sep.join(parts[-2:]) if parts else value or "(top level)"
    return value or "(none)"


class FacetPanel(QTreeWidget):
    """A tree of facet groups with tickable values and their counts."""

    filters_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("facets")
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setIndentation(14)
        self.setAlternatingRowColors(False)
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._expanded = set(EXPANDED)
        self._filters: dict[str, tuple[Any, ...]] = {}
        self._building = False
        self.itemChanged.connect(self._item_changed)
        self.itemExpanded.connect(lambda item: self._expanded.add(item.data(0, VALUE_ROLE)))
        self.itemCollapsed.connect(lambda item: self._expanded.discard(item.data(0, VALUE_ROLE)))

    # -- public ------------------------------------------------------------------------------------
    def filters(self) -> dict[str, tuple[Any, ...]]:
        return dict(self._filters)

    def set_filters(self, filters: dict[str, tuple[Any, ...]]) -> None:
        self._filters = {k: tuple(v) for k, v in filters.items() if v}

    def clear_filters(self) -> None:
        if self._filters:
            self._filters = {}
            self._sync_checks()
            self.filters_changed.emit({})

    def show_facets(self, facets: dict[str, dict[str, int]], filterable: set[str] | None = None) -> None:
        """Rebuild the tree from a search's facet counts, keeping ticks and open groups.

        Facets beyond the built-in groups are shown when their name is in `filterable` (the filters the
        search accepts), so every value listed can also be ticked.
        """
        self._building = True
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            for name, label in GROUPS:
                counts = dict(facets.get(name, {}))
                for value in self._filters.get(name, ()):
                    counts.setdefault(str(value), 0)
                if counts:
                    self._add_group(name, label, counts)
            known = {name for name, _ in GROUPS}
            for name, counts in facets.items():
                if (
                    name not in known
                    and filterable
                    and name in filterable
                    and (counts or name in self._filters)
                ):
                    counts = dict(counts)
                    for value in self._filters.get(name, ()):
                        counts.setdefault(str(value), 0)
                    self._add_group(name, EXTRA_LABELS.get(name, name.replace("_", " ").capitalize()), counts)
            problems = sum(n for v, n in facets.get("state", {}).items() if v != "ok")
            self._add_group("problems", "Problems", {"True": problems}, labels={"True": "Only problems"})
        finally:
            self.setUpdatesEnabled(True)
            self._building = False

    def value_item(self, group: str, value: str) -> QTreeWidgetItem | None:
        """The tree item of one facet value (tests and keyboard users tick it)."""
        for i in range(self.topLevelItemCount()):
            top = self.topLevelItem(i)
            if top.data(0, VALUE_ROLE) != group:
                continue
            for j in range(top.childCount()):
                child = top.child(j)
                if str(child.data(0, VALUE_ROLE)) == str(value):
                    return child
        return None

    # -- internals ---------------------------------------------------------------------------------
    def _add_group(
        self, name: str, label: str, counts: dict[str, int], labels: dict[str, str] | None = None
    ) -> None:
        top = QTreeWidgetItem(self, [label, ""])
        top.setData(0, VALUE_ROLE, name)
        top.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = QFont(self.font())
        font.setWeight(QFont.Weight.DemiBold)
        top.setFont(0, font)
        active = {str(v) for v in self._filters.get(name, ())}
        items = (
            sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if name != "year"
            else sorted(counts.items(), reverse=True)
        )
        shown = [kv for kv in items[:MAX_VALUES]] + [kv for kv in items[MAX_VALUES:] if kv[0] in active]
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText)
        for value, count in shown:
            text = (labels or {}).get(value) or value_label(name, value)
            child = QTreeWidgetItem(top, [text, f"{count:,}"])
            child.setData(0, VALUE_ROLE, value)
            child.setFlags(
                Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable
            )
            child.setCheckState(0, Qt.CheckState.Checked if value in active else Qt.CheckState.Unchecked)
            child.setForeground(1, muted)
            child.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if name == "folder":
                child.setToolTip(0, value)
        top.setExpanded(name in self._expanded or bool(active))

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._building or column != 0 or item.parent() is None:
            return
        group = item.parent().data(0, VALUE_ROLE)
        value = item.data(0, VALUE_ROLE)
        if group == "problems":
            value = True
        values = [v for v in self._filters.get(group, ()) if str(v) != str(value)]
        if item.checkState(0) == Qt.CheckState.Checked:
            values.append(value)
        if values:
            self._filters[group] = tuple(values)
        else:
            self._filters.pop(group, None)
        self.filters_changed.emit(self.filters())

    def _sync_checks(self) -> None:
        self._building = True
        try:
            for i in range(self.topLevelItemCount()):
                top = self.topLevelItem(i)
                active = {str(v) for v in self._filters.get(top.data(0, VALUE_ROLE), ())}
                for j in range(top.childCount()):
                    child = top.child(j)
                    on = str(child.data(0, VALUE_ROLE)) in active
                    child.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        finally:
            self._building = False
