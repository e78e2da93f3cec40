"""The app's remembered state (QSettings "Dossier"/"Dossier"): a small declared registry of keys.

Only the keys declared in `KEYS` are read or written; each has a type, a default and a line saying what it is.
Per-case data (tags, notes…) lives in the case, never here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

log = logging.getLogger(__name__)

ORGANISATION = "Dossier"
APPLICATION = "Dossier"
MAX_RECENT_CASES = 10
MAX_SEARCH_HISTORY = 50


@dataclass(frozen=True)
class Key:
    name: str
    kind: type
    default: Any
    doc: str


GEOMETRY = Key("window/geometry", QByteArray, QByteArray(), "main window position and size")
WINDOW_STATE = Key("window/state", QByteArray, QByteArray(), "toolbars and docks of the main window")
SPLIT_WORKSPACE = Key("layout/workspace", QByteArray, QByteArray(), "search column | document | review panel")
SPLIT_SEARCH = Key("layout/search", QByteArray, QByteArray(), "facet filters | results list")
RECENT_CASES = Key("cases/recent", list, [], "case folders opened lately, newest first")
SEARCH_HISTORY = Key("search/history", list, [], "queries run lately, newest first")
LAST_IMPORT_DIR = Key("import/last_dir", str, "", "the folder the last import was chosen from")
IMPORT_OCR = Key("import/ocr", bool, True, "read scanned pages and images (OCR) when importing")
THEME = Key("appearance/theme", str, "system", "system | light | dark")

KEYS = {
    k.name: k
    for k in (
        GEOMETRY,
        WINDOW_STATE,
        SPLIT_WORKSPACE,
        SPLIT_SEARCH,
        RECENT_CASES,
        SEARCH_HISTORY,
        LAST_IMPORT_DIR,
        IMPORT_OCR,
        THEME,
    )
}


class Settings:
    """Typed access to the declared keys over a QSettings store (the user's, or a file in tests)."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store or QSettings(ORGANISATION, APPLICATION)

    @classmethod
    def at(cls, path: Path) -> Settings:
        """Settings kept in one INI file (tests, screenshots)."""
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def get(self, key: Key) -> Any:
        self._check(key)
        value = self.store.value(key.name, None)
        if value is None:
            return _copy(key.default)
        if key.kind is list:  # INI files hand back a one-element list as a plain string
            return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        if key.kind is bool:
            return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")
        if key.kind is QByteArray:
            return value if isinstance(value, QByteArray) else QByteArray()
        try:
            return key.kind(value)
        except (TypeError, ValueError):
            log.warning("setting %s has an unreadable value; using the default", key.name)
            return _copy(key.default)

    def set(self, key: Key, value: Any) -> None:
        self._check(key)
        self.store.setValue(key.name, value)

    def sync(self) -> None:
        self.store.sync()

    # -- lists kept newest first -------------------------------------------------------------------
    def recent_cases(self) -> list[Path]:
        return [Path(p) for p in self.get(RECENT_CASES) if p]

    def remember_case(self, path: Path) -> None:
        self._push(RECENT_CASES, str(path), MAX_RECENT_CASES)

    def forget_case(self, path: Path) -> None:
        self.set(RECENT_CASES, [p for p in self.get(RECENT_CASES) if p != str(path)])

    def search_history(self) -> list[str]:
        return [q for q in self.get(SEARCH_HISTORY) if q]

    def remember_search(self, query: str) -> None:
        if query.strip():
            self._push(SEARCH_HISTORY, query.strip(), MAX_SEARCH_HISTORY)

    def _push(self, key: Key, item: str, limit: int) -> None:
        items = [x for x in self.get(key) if x != item]
        self.set(key, [item, *items][:limit])

    @staticmethod
    def _check(key: Key) -> None:
        if KEYS.get(key.name) is not key:
            raise KeyError(f"undeclared setting {key.name!r}")


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
