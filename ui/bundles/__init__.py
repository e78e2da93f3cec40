"""Bundles, redactions, OCR and passwords in the app: menu commands and their windows.

`install(window)` adds the commands to the main window's menus (File: Export Bundle…, Merge Bundle…, Enter
Password…; Review: Merge Conflicts…, Redact Term in Selection…; Tools: OCR Languages…, Run OCR on Waiting
Pages) and, whenever a case opens, gives its document view what it needs from the case (OCR word boxes,
redactions, session passwords: ui/viewers/redact.py). Every command calls the same services as the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QInputDialog, QMenu

from app import ocr
from ui.bundles.dialogs import ConflictsDialog, ExportDialog, MergeDialog
from ui.bundles.messages import known_message
from ui.bundles.tools import OcrLanguagesDialog, PasswordPrompt, default_folder, ocr_job
from ui.importing import ImportDialog, ImportJob
from ui.viewers.redact import CasePages

if TYPE_CHECKING:
    from ui.main_window import MainWindow
    from ui.workspace import Workspace

log = logging.getLogger(__name__)

WRITES = ("merge_bundle", "merge_conflicts", "enter_password", "redact_term", "ocr_languages", "run_ocr")


def install(window: MainWindow) -> BundleCommands:
    return BundleCommands(window)


class BundleCommands(QObject):
    """The commands and windows of bundles, redactions, OCR and passwords for one main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.pages: CasePages | None = None
        self.dialogs: dict[str, QDialog] = {}
        self.ocr: ImportJob | None = None
        menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions() if a.menu()}
        file_menu, review, tools = menus["File"], menus["Review"], menus["Tools"]
        from ui.main_window import Command

        def add(
            menu: QMenu, command: Command, slot: Callable[[], Any], before: QAction | None = None
        ) -> QAction:
            action = window._add(menu, command, slot)
            action.setEnabled(False)  # until a case opens (the window enables its case commands then)
            if before is not None:
                menu.removeAction(action)
                menu.insertAction(before, action)
            return action

        entries = file_menu.actions()
        quit_at = entries.index(window.actions["quit"])
        before = entries[quit_at - 1] if quit_at > 0 else window.actions["quit"]  # the separator above Quit
        first = add(file_menu, Command("export_bundle", "&Export Bundle…", ("Ctrl+E",)), self.export, before)
        file_menu.insertSeparator(first)
        add(file_menu, Command("merge_bundle", "&Merge Bundle…"), self.merge, before)
        add(file_menu, Command("enter_password", "Enter &Password…"), self.ask_password, before)

        review.addSeparator()
        add(review, Command("merge_conflicts", "Merge &Conflicts…"), self.show_conflicts)
        add(review, Command("redact_term", "Redact Term in &Selection…"), self.redact_term)

        tools_first = tools.actions()[0] if tools.actions() else None
        appearance = next((a for a in tools.actions() if a.menu() is not None), None)
        anchor = appearance or tools_first
        add(tools, Command("ocr_languages", "OCR &Languages…"), self.ocr_languages, anchor)
        run = add(tools, Command("run_ocr", "Run &OCR on Waiting Pages"), self.run_ocr, anchor)
        run.setToolTip("Read the text of scanned pages and images that were imported without OCR")
        if anchor is not None:
            tools.insertSeparator(anchor)
        window.case_opened.connect(self._case_opened)
        window.case_closed.connect(self._case_closed)

    # -- the open case ---------------------------------------------------------------------------------
    @property
    def workspace(self) -> Workspace | None:
        return self.window.workspace

    def _case_opened(self, _path: Any) -> None:
        session, ws = self.window.session, self.window.workspace
        if session is None or ws is None:
            return
        self.pages = CasePages(session.services)
        ws.document.pdf.pages = self.pages
        ws.document.metadata.unlock_requested.connect(self.ask_password)
        ws.document.metadata.ocr_requested.connect(lambda doc_id: self.run_ocr([doc_id]))
        if session.read_only:
            for name in WRITES:
                self.window.actions[name].setEnabled(False)
        close = session.close

        def close_session() -> None:  # an OCR run stops like an import when the case closes
            if self.ocr is not None:
                self.ocr.cancel()
            close()

        session.close = close_session  # type: ignore[method-assign]

    def _case_closed(self) -> None:
        for dialog in self.dialogs.values():
            dialog.close()
            dialog.deleteLater()
        self.dialogs.clear()
        self.pages = None
        self.ocr = None

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    def _show(self, name: str, dialog: QDialog) -> QDialog:
        old = self.dialogs.pop(name, None)
        if old is not None:
            old.close()
            old.deleteLater()
        self.dialogs[name] = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def _open(self, doc_id: int) -> None:
        if self.workspace is not None:
            self.workspace.open_document(doc_id)

    def _refresh(self, doc_ids: Sequence[int] = ()) -> None:
        """Run the search again and show the open document anew if the work changed it."""
        ws = self.workspace
        if ws is None:
            return
        ws.search.run()
        open_id = ws.open_doc_id()
        if open_id is not None and (not doc_ids or open_id in doc_ids):
            ws.open_document(open_id)

    # -- bundles -------------------------------------------------------------------------------------
    def export(self) -> None:
        session, ws = self.window.session, self.workspace
        if session is None or ws is None:
            return
        dialog = ExportDialog(
            session.services,
            session.tasks,
            selected_ids=ws.search.selected_ids(),
            current_query=ws.model.request.text,
            current_filters=ws.model.request.search_filters(),
            current_total=ws.model.total,
            default_folder=default_folder(session.path),
            parent=self.window,
        )
        dialog.finished_export.connect(
            lambda report: self._status(f"Exported {report.documents:,} document(s)")
        )
        self._show("export", dialog)

    def merge(self) -> None:
        session = self.window.session
        if session is None:
            return
        dialog = MergeDialog(
            session.services, session.tasks, default_folder=default_folder(session.path), parent=self.window
        )
        dialog.merged.connect(lambda _report: self._refresh())
        dialog.show_conflicts.connect(self.show_conflicts)
        self._show("merge", dialog)

    def show_conflicts(self) -> None:
        session = self.window.session
        if session is None:
            return
        dialog = ConflictsDialog(session.services, session.tasks, self.window)
        dialog.decided.connect(session.actions.changed)
        dialog.open_document.connect(self._open)
        self._show("conflicts", dialog)

    # -- redactions ----------------------------------------------------------------------------------
    def redact_term(self) -> None:
        session, ws, pages = self.window.session, self.workspace, self.pages
        if session is None or ws is None or pages is None:
            return
        ids = ws.target_ids()
        if not ids:
            self._status("Open a document or select results first")
            return
        what = f"the {len(ids)} selected documents" if len(ids) > 1 else "this document"
        term, ok = QInputDialog.getText(
            self.window,
            "Redact a term",
            f"Black out every match of this text in {what}\n(burned in when exported with Scrub):",
        )
        term = term.strip()
        if not ok or not term:
            return

        def done(count: int | None, error: BaseException | None) -> None:
            if error is not None:
                message = known_message(error)
                if message is None:
                    raise error
                self._status(f"Not redacted: {message}")
                return
            self._status(f"“{term}” will be redacted in {count} document(s)")
            if ws is self.workspace:
                ws.document.pdf.load_redactions()

        session.tasks.run("io", lambda: pages.add_term(ids, term), done)

    # -- OCR -----------------------------------------------------------------------------------------
    def ocr_languages(self) -> None:
        session = self.window.session
        if session is None:
            return
        dialog = OcrLanguagesDialog(session.services, session.tasks, self.window)
        dialog.saved.connect(lambda langs: self._status(f"This case now reads scans in: {langs}"))
        self._show("ocr_languages", dialog)

    def run_ocr(self, doc_ids: Sequence[int] | None = None) -> None:
        """OCR these documents, or every document with pages waiting for OCR, with the import window."""
        session = self.window.session
        if session is None or session.read_only:
            return
        if session.import_job.running or session.tasks.is_busy("job"):
            self._status("An import or index job is running; wait for it to end.")
            return
        services = session.services
        chosen = list(doc_ids or [])
        job = ocr_job(
            services,
            session.tasks,
            lambda: (
                ocr.select_documents(services.case, chosen) if chosen else ocr.select_documents(services.case)
            ),
        )
        job.finished.connect(lambda summary, error: self._ocr_finished(summary, error, chosen))
        self.ocr = job
        dialog = ImportDialog(job, self.window)
        dialog.setObjectName("ocrDialog")
        dialog.open_document.connect(self._open)
        self._show("ocr", dialog)
        job.start([])

    def _ocr_finished(self, summary: Any, error: BaseException | None, doc_ids: list[int]) -> None:
        if error is not None:
            message = known_message(error)
            if message is None:
                raise error
            self._status(message)
            return
        if summary is not None:
            self._status(
                f"OCR finished: {summary.ocr_pages:,} page(s) read, {summary.ocr_cached:,} from the cache"
            )
        self._refresh(doc_ids)

    # -- passwords -----------------------------------------------------------------------------------
    def ask_password(self, doc_id: int | None = None) -> None:
        session, ws = self.window.session, self.workspace
        if session is None or ws is None:
            return
        doc_id = doc_id if doc_id is not None else ws.open_doc_id()
        if doc_id is None:
            self._status("Open the encrypted document first")
            return
        summary = session.services.documents.detail(doc_id).summary
        if summary.status != "encrypted":
            self._status(f"{summary.title} is not encrypted")
            return
        prompt = PasswordPrompt(session.services, session.tasks, doc_id, summary.title, self.window)
        prompt.setWindowModality(Qt.WindowModality.WindowModal)
        prompt.unlocked.connect(self._unlocked)
        self._show("password", prompt)

    def _unlocked(self, doc_id: int, password: str) -> None:
        if self.pages is not None:
            self.pages.passwords[doc_id] = password  # in memory: the viewer can show the pages this session
        self._status("Unlocked: the document's text is extracted and searchable")
        ws = self.workspace
        if ws is not None:
            ws.search.run()
            ws.open_document(doc_id)
