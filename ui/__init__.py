"""The desktop app (PySide6): the only package that imports Qt."""

from ui.compat import keep_none_alive

keep_none_alive()
