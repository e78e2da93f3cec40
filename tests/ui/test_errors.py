"""An uncaught exception in a slot is logged and shown in a dialog; the app keeps running."""

from __future__ import annotations

import logging
import sys

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from app.search import QueryError
from ui.errors import ErrorReporter, install_excepthook


@pytest.fixture
def reporter(monkeypatch: pytest.MonkeyPatch) -> ErrorReporter:
    import threading

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    reporter = ErrorReporter()
    install_excepthook(reporter)
    return reporter


def open_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def test_an_exception_in_a_slot_is_logged_shown_and_survived(
    qtbot, reporter: ErrorReporter, caplog: pytest.LogCaptureFixture
) -> None:
    button = QPushButton("boom")
    qtbot.addWidget(button)

    def broken_slot() -> None:
        raise RuntimeError("the slot broke")

    button.clicked.connect(broken_slot)
    caplog.set_level(logging.ERROR, logger="ui.errors")
    with qtbot.waitSignal(reporter.shown, timeout=5_000) as shown:
        button.click()
    assert "RuntimeError: the slot broke" in shown.args[0]
    assert any("the slot broke" in r.getMessage() and "Traceback" in r.getMessage() for r in caplog.records)
    boxes = open_boxes()
    assert boxes and boxes[-1].icon() == QMessageBox.Icon.Critical
    assert "the slot broke" in boxes[-1].detailedText()

    later: list[bool] = []
    QTimer.singleShot(0, lambda: later.append(True))  # the event loop still runs
    qtbot.waitUntil(lambda: bool(later), timeout=5_000)
    for box in open_boxes():
        box.close()


def test_an_expected_error_shows_its_message_without_a_traceback(qtbot, reporter: ErrorReporter) -> None:
    with qtbot.waitSignal(reporter.shown, timeout=5_000) as shown:
        reporter.report(QueryError("a parenthesis is not closed: add the missing )"), "searching")
    assert shown.args[0] == "a parenthesis is not closed: add the missing )"
    box = open_boxes()[-1]
    assert box.icon() == QMessageBox.Icon.Warning and not box.detailedText()
    box.close()


def test_every_project_error_is_a_one_line_message() -> None:
    from app.bundle.export import BundleError
    from app.unlock import UnlockError
    from ui.errors import user_message

    assert user_message(BundleError("the bundle is damaged: 2 files do not match")) == (
        "the bundle is damaged: 2 files do not match"
    )
    assert user_message(UnlockError("wrong password")) == "wrong password"
    assert user_message(RuntimeError("a bug")) is None


def test_an_exception_in_a_thread_is_reported_on_the_main_thread(qtbot, reporter: ErrorReporter) -> None:
    import threading

    def crash() -> None:
        raise OSError(28, "No space left on device")

    with qtbot.waitSignal(reporter.shown, timeout=5_000) as shown:
        thread = threading.Thread(target=crash)
        thread.start()
        thread.join()
    assert "No space left on device" in shown.args[0]
    for box in open_boxes():
        box.close()
