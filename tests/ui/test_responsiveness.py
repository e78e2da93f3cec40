"""The window never freezes: the event loop keeps turning while the whole real corpus is imported."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from tests.ui.conftest import create_case_through_menu, make_window

TICK_MS = 20
MAX_STALL_MS = 200


class StallMeter:
    """A 20 ms timer on the main thread; the longest gap between two ticks is the worst stall."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.worst = 0.0
        self.ticks = 0

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now
        self.ticks += 1


def test_event_loop_never_stalls_during_an_import(
    qtbot, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, _ = make_window(tmp_path / "settings.ini")
    qtbot.addWidget(window)
    create_case_through_menu(window, tmp_path / "case", monkeypatch)
    if window.actions["import_ocr"].isChecked():
        window.actions["import_ocr"].trigger()
    monkeypatch.setattr(
        "PySide6.QtWidgets.QFileDialog.getExistingDirectory",
        staticmethod(lambda *a, **k: str(corpus / "real")),
    )
    job = window.session.import_job
    meter = StallMeter()
    meter.start()
    window.actions["import_folder"].trigger()
    qtbot.waitUntil(lambda: not job.running, timeout=600_000)
    ws = window.workspace
    qtbot.waitUntil(
        lambda: not ws.model.busy and ws.model.total == job.summary.case_documents, timeout=60_000
    )
    meter.stop()
    print(f"worst stall {meter.worst * 1000:.0f} ms over {meter.ticks} ticks")
    summary = job.summary
    assert summary is not None and summary.documents > 300 and not summary.interrupted
    assert window.import_dialog.problems.topLevelItemCount() == len(summary.failures)
    assert meter.ticks > 50
    assert meter.worst * 1000 < MAX_STALL_MS, f"the event loop stalled for {meter.worst * 1000:.0f} ms"


def test_cancel_stops_the_import_and_keeps_what_was_read(
    qtbot, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, _ = make_window(tmp_path / "settings.ini")
    qtbot.addWidget(window)
    create_case_through_menu(window, tmp_path / "case", monkeypatch)
    if window.actions["import_ocr"].isChecked():
        window.actions["import_ocr"].trigger()
    monkeypatch.setattr(
        "PySide6.QtWidgets.QFileDialog.getExistingDirectory",
        staticmethod(lambda *a, **k: str(corpus / "real")),
    )
    job = window.session.import_job
    window.actions["import_folder"].trigger()
    dialog = window.import_dialog
    qtbot.waitUntil(
        lambda: job.last_progress is not None and job.last_progress.files_done >= 5, timeout=120_000
    )
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not job.running, timeout=120_000)
    summary = job.summary
    assert summary is not None and summary.interrupted
    assert 0 < summary.case_documents < 300
    assert "stopped" in dialog.heading.text()
