"""Errors in the app: expected ones become a short message, unexpected ones are logged and shown, never fatal.

`ErrorReporter.report(exc)` is the one place an exception reaches the reporter. Project errors (a bad query, a
locked case, a refused review action) carry a message meant for people and are shown as it. Anything else is a
bug: it is logged with its traceback and shown in a dialog with the details folded away; the app keeps running.
`install_excepthook()` routes exceptions escaping Qt slots (and Python threads) to the reporter.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.bundle.export import BundleError
from app.case import CaseError
from app.documents import DocumentNotFound
from app.insights.batch import BatchError
from app.insights.graph import GraphError
from app.insights.service import InsightsError
from app.ocr import OcrError
from app.pipeline.importer import ImportFailed
from app.review.service import ReviewError
from app.search import IndexUnavailable, QueryError
from app.unlock import UnlockError

log = logging.getLogger(__name__)

USER_ERRORS: tuple[type[BaseException], ...] = (
    BatchError,
    BundleError,
    CaseError,
    DocumentNotFound,
    GraphError,
    ImportFailed,
    IndexUnavailable,
    InsightsError,
    OcrError,
    QueryError,
    ReviewError,
    UnlockError,
)


def user_message(exc: BaseException) -> str | None:
    """The one-line message of an expected error, or None for a bug."""
    if isinstance(exc, USER_ERRORS):
        return str(exc)
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return None


class ErrorReporter(QObject):
    """Shows errors as non-blocking message boxes over the active window; at most a few at a time."""

    shown = Signal(str)  # the message shown (tests and the status bar listen)
    _from_thread = Signal(object)

    MAX_OPEN = 3

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open: list[QMessageBox] = []
        self._from_thread.connect(self.report, Qt.ConnectionType.QueuedConnection)

    def report(self, exc: BaseException, context: str = "") -> None:
        message = user_message(exc)
        if message is not None:
            log.info("%s%s", f"{context}: " if context else "", message)
            self._show(QMessageBox.Icon.Warning, context or "Dossier", message, "")
            return
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.error("unexpected error%s\n%s", f" ({context})" if context else "", details)
        text = f"Something went wrong{f' while {context}' if context else ''}: {type(exc).__name__}: {exc}"
        self._show(QMessageBox.Icon.Critical, "Unexpected error", text, details)

    def report_from_any_thread(self, exc: BaseException) -> None:
        self._from_thread.emit(exc)

    def _show(self, icon: QMessageBox.Icon, title: str, text: str, details: str) -> None:
        self.shown.emit(text)
        if QApplication.instance() is None:
            return
        self._open = [box for box in self._open if box.isVisible()]
        if len(self._open) >= self.MAX_OPEN:
            return  # a storm of the same error: the log has them all
        parent: QWidget | None = QApplication.activeWindow()
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if details:
            box.setInformativeText("The app keeps running. The details are in the log.")
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        self._open.append(box)
        box.show()


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


def install_excepthook(reporter: ErrorReporter) -> ExceptHook:
    """Send uncaught exceptions (Qt slots, Python threads) to `reporter`; returns the previous hook."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, exc, tb)
            return
        if exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        if threading.current_thread() is threading.main_thread():
            reporter.report(exc)
        else:
            reporter.report_from_any_thread(exc)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            reporter.report_from_any_thread(args.exc_value)

    sys.excepthook = hook
    threading.excepthook = thread_hook
    return previous
