#!/usr/bin/env python3
"""Dossier: no arguments → the desktop app; a subcommand → the command line (the same services)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    from app.bootstrap import reexec_in_venv

    reexec_in_venv([str(Path(__file__).resolve()), *sys.argv[1:]])

    from app.childenv import secure_children

    secure_children()  # before any thread: the app's children load this code, not the current folder's

    from app.cli import main

    sys.exit(main(sys.argv[1:]))
