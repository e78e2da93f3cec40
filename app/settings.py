"""Installation settings (not per case): the reviewer's name, kept in the user's config folder.

`config set reviewer NAME` writes it once per installation; every review action is recorded under it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.case import current_user

KNOWN_KEYS = {"reviewer": "the name your tags, notes and links are recorded under"}


def config_path() -> Path:
    base = os.environ.get("DOSSIER_CONFIG_HOME") or os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "dossier" / "config.json"


def load() -> dict[str, Any]:
    try:
        data = json.loads(config_path().read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def set_value(key: str, value: str) -> None:
    if key not in KNOWN_KEYS:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(KNOWN_KEYS)}")
    data = load()
    data[key] = value
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), "utf-8")
    os.replace(tmp, path)


def reviewer_name() -> str:
    name = str(load().get("reviewer") or "").strip()
    return name or current_user()
