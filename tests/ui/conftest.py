"""Fixtures for the desktop app's tests: the real main window, offscreen, with settings in a temp file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEventLoop, QSettings
from PySide6.QtWidgets import QApplication, QFileDialog

from ui.app import build_window
from ui.errors import ErrorReporter
from ui.main_window import MainWindow
from ui.settings import Settings


def pump_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "the condition") -> None:
    """Process Qt events until `condition()` holds (for module-scoped fixtures, where qtbot is not available)."""
    app = QApplication.instance()
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


@pytest.fixture(autouse=True, scope="session")
def isolated_user_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the user's own QSettings and reviewer name out of the tests."""
    home = tmp_path_factory.mktemp("user-settings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(home))
    mp = pytest.MonkeyPatch()
    mp.setenv("DOSSIER_CONFIG_HOME", str(home / "dossier"))
    yield
    mp.undo()


def make_window(settings_file: Path) -> tuple[MainWindow, ErrorReporter]:
    window, reporter = build_window(Settings.at(settings_file))
    window.resize(1280, 800)
    window.show()
    window.activateWindow()
    pump_until(window.isActiveWindow, 10, "the window to be active")
    return window, reporter


def create_case_through_menu(window: MainWindow, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """File → New Case…, answering the folder dialog with `folder`; returns once the workspace shows."""
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    opened: list[Path] = []
    window.case_opened.connect(opened.append)
    window.actions["new_case"].trigger()
    pump_until(lambda: bool(opened), 60, "the new case to open")


def import_through_menu(
    window: MainWindow, files: list[Path], monkeypatch: pytest.MonkeyPatch, timeout: float = 300
) -> None:
    """File → Import Files…, without OCR (kept for its own tests), waiting for the import to end."""
    if window.actions["import_ocr"].isChecked():
        window.actions["import_ocr"].trigger()
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([str(f) for f in files], ""))
    )
    assert window.session is not None
    job = window.session.import_job
    window.actions["import_files"].trigger()
    assert job.running
    pump_until(lambda: not job.running, timeout, "the import to end")


def corpus_files(corpus: Path, *folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (corpus / folder).rglob("*") if p.is_file())
