"""Import Folder… starts the import's processes while the reporter chooses the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import index_process
from app.index_process import IndexProcess
from tests.conftest import known_text, manifest
from tests.ui.conftest import create_case_through_menu, make_window


def test_the_import_processes_start_while_the_folder_is_chosen(
    qtbot, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, indexing_processes: list
) -> None:
    window, _ = make_window(tmp_path / "settings.ini")
    qtbot.addWidget(window)
    case_dir = tmp_path / "case"
    create_case_through_menu(window, case_dir, monkeypatch)
    if window.actions["import_ocr"].isChecked():
        window.actions["import_ocr"].trigger()
    folder = corpus / "real" / "pdf"
    seen: list[IndexProcess] = []

    def choose(*args: object, **kwargs: object) -> str:
        """The folder dialog: open while the index process starts and opens the case."""
        seen.append(index_process._AHEAD[case_dir.absolute()])
        assert index_process.wait_ahead(case_dir, 60)
        return str(folder)

    used = indexing_processes
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getExistingDirectory", staticmethod(choose))
    job = window.session.import_job
    window.actions["import_folder"].trigger()
    qtbot.waitUntil(lambda: not job.running, timeout=300_000)
    assert len(seen) == 1 and used and all(process is seen[0] for process in used)
    assert index_process.take_started(case_dir) is None
    summary = job.summary
    assert summary is not None and summary.documents >= len(list(folder.glob("*.pdf")))
    phrase = next(
        t for r in manifest() if r["path"].startswith("real/pdf/") and (t := known_text(r["notes"]))
    )
    assert window.session.services.search.search(f'"{phrase}"').total >= 1

    # Cancelled: the prepared process ends, and nothing is imported.
    monkeypatch.setattr(
        "PySide6.QtWidgets.QFileDialog.getExistingDirectory",
        staticmethod(lambda *a, **k: seen.append(index_process._AHEAD[case_dir.absolute()]) or ""),
    )
    window.actions["import_folder"].trigger()
    assert len(seen) == 2 and not job.running
    assert index_process.take_started(case_dir) is None
    qtbot.waitUntil(lambda: seen[1]._process is not None and not seen[1]._process.is_alive(), timeout=60_000)
