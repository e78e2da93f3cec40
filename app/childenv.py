"""The environment of the app's Python children (the fork server and what it forks: extraction workers,
the index process).

The fork server is a fresh interpreter started with `-c`, which puts the current folder first on its
import path. A reporter who runs Dossier from inside a leak (a dump of someone's source code holding an
`app/`, `db/` or `index/` package) would have the workers import that code instead of ours: the leak's
code would run. Children therefore start with `PYTHONSAFEPATH=1` (no current folder on the path) and
with this installation's root first on `PYTHONPATH`, so they load exactly the code the parent runs,
wherever the app is started from. Standard library only; nothing here reads a file.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)


def secure_children() -> None:
    """Set the variables (once: call it before any thread starts, and again before starting children)."""
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if os.environ.get("PYTHONSAFEPATH") == "1" and paths[:1] == [ROOT]:
        return
    os.environ["PYTHONSAFEPATH"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join([ROOT, *(p for p in paths if p != ROOT)])
