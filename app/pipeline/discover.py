"""Discovery: the paths a reporter names → the regular files to import, in a stable order.

Symlinks are followed only when their target lies inside one of the roots (the same file reached twice
is then simply a duplicate); a link that leads outside the leak is skipped and reported.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Found:
    path: Path
    size: int
    mtime: float


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def discover(roots: list[Path]) -> Iterator[Found | Skipped]:
    resolved_roots = [r.resolve() for r in roots]
    for root in roots:
        if root.is_file() or (root.is_symlink() and root.resolve().is_file()):
            yield from _entry(root, resolved_roots, top=True)
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=None):
            dirnames.sort()
            for name in sorted(filenames):
                yield from _entry(Path(dirpath) / name, resolved_roots, top=False)
            # Directory symlinks are not descended (os.walk lists them in dirnames): report them.
            for name in list(dirnames):
                full = Path(dirpath) / name
                if full.is_symlink():
                    yield Skipped(full, "symbolic link to a folder: not followed")


def _entry(path: Path, roots: list[Path], *, top: bool) -> Iterator[Found | Skipped]:
    try:
        if path.is_symlink():
            target = path.resolve()
            if not top and not any(target.is_relative_to(r) for r in roots):
                yield Skipped(path, "symbolic link pointing outside the imported folders: not followed")
                return
        st = path.stat()
    except OSError as exc:
        yield Skipped(path, f"cannot read: {exc.strerror or exc}")
        return
    if not stat.S_ISREG(st.st_mode):
        yield Skipped(path, "not a regular file (device, socket or pipe)")
        return
    if not os.access(path, os.R_OK):
        yield Skipped(path, "permission denied")
        return
    yield Found(path, st.st_size, st.st_mtime)
