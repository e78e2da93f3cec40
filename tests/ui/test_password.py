"""Encrypted documents in the app: "Enter password…" re-extracts a document; a wrong password changes nothing.

Real encrypted files from ../shared/corpus/hostile/encrypted (their passwords are in MANIFEST.tsv) are imported
through the menus; the reporter then unlocks them from the metadata tab and from File → Enter Password….
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from sqlalchemy import func, select

from db.models import ExtractionAttempt
from tests.ui.conftest import create_case_through_menu, import_through_menu, make_window, pump_until
from ui.bundles.tools import PasswordPrompt
from ui.main_window import MainWindow

PDF = "hostile/encrypted/pypdf_libreoffice-writer-password.pdf"  # password=openpassword
XLS = "hostile/encrypted/poi_password.xls"  # password=password; "After most commercial mail servers"


@pytest.fixture(scope="module")
def window(
    qapp: QApplication, corpus: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MainWindow]:
    folder = tmp_path_factory.mktemp("passwords")
    monkeypatch = pytest.MonkeyPatch()
    window, _reporter = make_window(folder / "settings.ini")
    try:
        create_case_through_menu(window, folder / "case", monkeypatch)
        import_through_menu(window, [corpus / PDF, corpus / XLS], monkeypatch)
        window.activateWindow()
        yield window
    finally:
        monkeypatch.undo()
        window.close()


def _doc_id(window: MainWindow, name: str) -> int:
    assert window.session is not None
    return next(
        d.id
        for d in window.session.services.documents.iter_summaries()
        if d.paths and d.paths[0].endswith(name)
    )


def _prompt(qtbot, window: MainWindow) -> PasswordPrompt:
    qtbot.waitUntil(lambda: isinstance(window.bundles.dialogs.get("password"), PasswordPrompt), timeout=5_000)
    prompt = window.bundles.dialogs["password"]
    assert isinstance(prompt, PasswordPrompt) and prompt.isVisible()
    return prompt


def _submit(qtbot, prompt: PasswordPrompt, password: str) -> None:
    prompt.edit.clear()
    qtbot.keyClicks(prompt.edit, password)
    prompt.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not prompt.running, timeout=60_000)


def test_wrong_then_right_password_from_the_metadata_tab(qtbot, window: MainWindow, corpus: Path) -> None:
    ws = window.workspace
    assert ws is not None and window.session is not None
    services = window.session.services
    doc_id = _doc_id(window, PDF.rsplit("/", 1)[-1])
    blob = services.case.blob_path(services.documents.detail(doc_id).summary.sha256)
    before = hashlib.sha256(blob.read_bytes()).hexdigest()
    ws.open_document(doc_id)
    assert ws.document.detail is not None and ws.document.detail.summary.status == "encrypted"
    assert "Enter password" in ws.document.metadata.toHtml()

    ws.document.metadata.anchorClicked.emit(QUrl(f"unlock:{doc_id}"))  # the reporter clicks the link
    prompt = _prompt(qtbot, window)
    with services.case.reader() as s:
        attempts = s.scalar(
            select(func.count(ExtractionAttempt.id)).where(ExtractionAttempt.document_id == doc_id)
        )
    _submit(qtbot, prompt, "not-the-password")
    assert prompt.isVisible() and "wrong password" in prompt.message.text()
    assert services.documents.detail(doc_id).summary.status == "encrypted"
    with services.case.reader() as s:
        assert attempts == s.scalar(
            select(func.count(ExtractionAttempt.id)).where(ExtractionAttempt.document_id == doc_id)
        ), "a wrong password records nothing"

    _submit(qtbot, prompt, "openpassword")
    qtbot.waitUntil(lambda: not prompt.isVisible(), timeout=10_000)
    detail = services.documents.detail(doc_id)
    assert detail.summary.status == "ok" and any(p["text"] for p in detail.parts)
    assert (
        hashlib.sha256(blob.read_bytes()).hexdigest() == before == detail.summary.sha256
    )  # original untouched
    # the viewer shows the pages with the password given in this session
    pdf = ws.document.pdf
    qtbot.waitUntil(lambda: ws.document.kind == "pdf" and pdf.rendered_page == 0, timeout=30_000)
    assert [e.action for e in services.review.audit(doc_id)][0] == "unlock"


def test_office_file_unlocked_from_the_file_menu_becomes_searchable(qtbot, window: MainWindow) -> None:
    ws = window.workspace
    assert ws is not None and window.session is not None
    services = window.session.services
    doc_id = _doc_id(window, XLS.rsplit("/", 1)[-1])
    assert services.search.search('"most commercial mail servers"').total == 0
    ws.open_document(doc_id)
    window.actions["enter_password"].trigger()
    prompt = _prompt(qtbot, window)
    assert prompt.doc_id == doc_id
    _submit(qtbot, prompt, "password")
    qtbot.waitUntil(lambda: not prompt.isVisible(), timeout=10_000)
    assert services.documents.detail(doc_id).summary.status == "ok"
    hits = services.search.search('"most commercial mail servers"').hits
    assert [h.id for h in hits] == [doc_id]
    # a document that is not encrypted: the command says so instead of asking
    window.bundles.dialogs.pop("password").deleteLater()
    window.actions["enter_password"].trigger()
    pump_until(lambda: "not encrypted" in window.statusBar().currentMessage(), 5, "the status message")
    assert "password" not in window.bundles.dialogs
