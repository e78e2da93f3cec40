"""Starting the app: the first run offers to create or open a case; layout and recent cases are remembered."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog

from app.cli import main as cli_main
from tests.ui.conftest import create_case_through_menu, make_window
from ui.settings import GEOMETRY, KEYS, RECENT_CASES, SPLIT_WORKSPACE, Key, Settings


def test_first_run_offers_new_and_open_then_remembers_the_case(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, _ = make_window(tmp_path / "settings.ini")
    qtbot.addWidget(window)
    assert window.stack.currentWidget() is window.welcome
    assert window.welcome.new_button.isVisible() and window.welcome.open_button.isVisible()
    assert not window.actions["import_folder"].isEnabled()  # nothing to import into yet

    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "case"))
    )
    with qtbot.waitSignal(window.case_opened, timeout=30_000):
        qtbot.mouseClick(window.welcome.new_button, Qt.MouseButton.LeftButton)
    assert (tmp_path / "case" / "case.db").is_file()
    assert window.workspace is not None and window.actions["import_folder"].isEnabled()
    assert window.windowTitle().startswith("case")
    window.workspace.main_split.setSizes([400, 600, 280])
    window.close()

    settings = Settings.at(tmp_path / "settings.ini")
    assert settings.recent_cases() == [tmp_path / "case"]
    assert not settings.get(GEOMETRY).isEmpty() and not settings.get(SPLIT_WORKSPACE).isEmpty()

    again, _ = make_window(tmp_path / "settings.ini")
    qtbot.addWidget(again)
    assert again.welcome.recent.item(0).text().startswith("case")
    with qtbot.waitSignal(again.case_opened, timeout=30_000):
        again.welcome.recent.itemClicked.emit(again.welcome.recent.item(0))
    assert again.workspace.main_split.sizes()[2] == pytest.approx(280, abs=30)


def test_a_folder_that_is_not_a_case_is_refused_with_a_message(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, reporter = make_window(tmp_path / "settings.ini")
    qtbot.addWidget(window)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(tmp_path / "photos"))
    )
    with qtbot.waitSignal(reporter.shown, timeout=30_000) as shown:
        window.actions["open_case"].trigger()
    assert "not a Dossier case" in shown.args[0]
    assert window.stack.currentWidget() is window.welcome
    with qtbot.waitSignal(reporter.shown, timeout=30_000) as shown:
        window.actions["new_case"].trigger()
    assert "not empty" in shown.args[0]
    for widget in QApplication.topLevelWidgets():
        if widget.inherits("QMessageBox"):
            widget.close()


def test_a_second_window_on_the_same_case_opens_it_read_only(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = make_window(tmp_path / "one.ini")
    qtbot.addWidget(first)
    create_case_through_menu(first, tmp_path / "case", monkeypatch)
    second, _ = make_window(tmp_path / "two.ini")
    qtbot.addWidget(second)
    with qtbot.waitSignal(second.case_opened, timeout=30_000):
        second.open_case(tmp_path / "case")
    assert second.session.read_only
    assert "read-only" in second.case_label.text()
    assert not second.actions["import_folder"].isEnabled() and not second.actions["tag"].isEnabled()


def test_main_without_a_subcommand_runs_the_app(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python main.py --case DIR` opens the app on that case (closed again here once it shows)."""
    import sys
    import threading

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    seen: list[str] = []

    def close_when_open() -> None:
        for widget in QApplication.topLevelWidgets():
            if widget.objectName() == "mainWindow" and widget.isVisible():
                if getattr(widget, "workspace", None) is not None:
                    seen.append(widget.windowTitle())
                    widget.close()
                    return
        QTimer.singleShot(50, close_when_open)

    QTimer.singleShot(50, close_when_open)
    assert cli_main(["--case", str(tmp_path / "leak")]) == 0
    assert seen == ["leak — Dossier"]
    assert (tmp_path / "leak" / "case.db").is_file()


def test_settings_are_a_declared_registry(tmp_path: Path) -> None:
    settings = Settings.at(tmp_path / "s.ini")
    with pytest.raises(KeyError):
        settings.get(Key("window/other", str, "", "not declared"))
    for i in range(14):
        settings.remember_case(tmp_path / f"case{i}")
    settings.remember_case(tmp_path / "case3")
    recent = settings.recent_cases()
    assert recent[0] == tmp_path / "case3" and len(recent) == 10 and len(set(recent)) == 10
    settings.set(RECENT_CASES, [str(tmp_path / "only")])
    settings.sync()
    assert Settings.at(tmp_path / "s.ini").recent_cases() == [tmp_path / "only"]  # one item survives INI
    assert all(k.doc for k in KEYS.values())
    assert isinstance(settings.get(GEOMETRY), QByteArray)


def test_dark_palette_when_asked_or_when_the_system_is_dark(qapp) -> None:
    from PySide6.QtCore import Qt as QtNS

    from ui.theme import Theme, is_dark

    theme = Theme(qapp, "dark")
    try:
        theme.apply()
        assert is_dark(qapp.palette())
        theme.apply("light")
        assert not is_dark(qapp.palette())
        theme.apply("system")
        assert is_dark(qapp.palette()) == (qapp.styleHints().colorScheme() == QtNS.ColorScheme.Dark)
        assert qapp.style().baseStyle().name().lower() == "fusion"
    finally:
        theme.apply("light")
