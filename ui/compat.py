"""Work-arounds for known defects of the Qt binding, applied once when the ui package is imported.

PySide6 6.12 on CPython before 3.12 drops one reference to `None` on every call of a method that returns
nothing (`label.setText(…)`, `widget.resize(…)`…) and on some conversions to `None`, `True` or `False`. After
some thousands of calls the count reaches zero and the interpreter aborts ("none_dealloc: deallocating None",
"bool_dealloc"). From CPython 3.12 on these objects are immortal and the defect is harmless; here we give them
the same effectively unbounded count CPython 3.12 gives them.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

AFFECTED_FROM = (6, 12)
IMMORTAL_COUNT = 1 << 40  # far more calls than any session makes; None is never freed anyway


def binding_version() -> tuple[int, ...]:
    import PySide6

    return tuple(int(p) for p in PySide6.__version__.split(".")[:2] if p.isdigit())


SINGLETONS = (None, True, False)


def keep_none_alive() -> bool:
    """Raise the reference counts of None, True and False where the binding leaks them; True when needed."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if binding_version() < AFFECTED_FROM:
        return False
    for obj in SINGLETONS:
        count = ctypes.c_ssize_t.from_address(id(obj))
        if count.value < IMMORTAL_COUNT // 2:
            count.value += IMMORTAL_COUNT
    log.debug(
        "PySide6 %s on CPython %s: None, True, False made immortal", binding_version(), sys.version.split()[0]
    )
    return True
