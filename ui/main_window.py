"""The main window: menus and keyboard commands, the welcome page or the open case's workspace.

Opening a case runs on a background lane; once it is open, a `CaseSession` (services, task lanes, jobs) and
a `Workspace` are made for it, and both go when it closes. Window geometry, layout and recent cases are kept
in `Settings`. Every command is a `QAction` in a menu, so its shortcut is listed where people look for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QStackedWidget,
    QWidget,
)

from app.pipeline.importer import ImportOptions, ImportSummary, Progress
from app.services import Services
from ui import bundles, icons, insights
from ui.errors import ErrorReporter
from ui.importing import ImportDialog, ProblemsDialog
from ui.search_bar import syntax_help_html
from ui.session import CaseSession, open_case, verify_text
from ui.settings import GEOMETRY, IMPORT_OCR, LAST_IMPORT_DIR, THEME, WINDOW_STATE, Settings
from ui.tasks import Tasks
from ui.theme import Theme
from ui.welcome import WelcomePage
from ui.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """A menu command: its action name, label, shortcuts and whether it needs an open case."""

    name: str
    label: str
    shortcuts: tuple[str, ...] = ()
    needs_case: bool = True


KEYBOARD_HELP = (
    ("/ or Ctrl+F", "search"),
    ("j / k", "next / previous result"),
    ("n / p", "next / previous hit in the document"),
    ("t", "tag (the open document, or the selected results)"),
    ("r / x / f / u", "relevant / not relevant / follow-up / unreviewed"),
    ("Ctrl+Enter", "save the note being written"),
    ("Ctrl+Shift+M", "write a note"),
    ("Ctrl+L", "link the open document to another"),
    ("Ctrl+I", "import a folder"),
    ("Ctrl+E", "export a bundle"),
    ("Ctrl+Shift+E", "the case's entities"),
    ("Shift+Del", "delete from the case (asks first)"),
)


class MainWindow(QMainWindow):
    """Welcome page or workspace, menus, status bar; remembers its geometry and recent cases."""

    case_opened = Signal(Path)
    case_closed = Signal()

    def __init__(
        self,
        settings: Settings,
        reporter: ErrorReporter,
        theme: Theme | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.reporter = reporter
        self.theme = theme
        self.tasks = Tasks(self, on_error=reporter.report)
        self.session: CaseSession | None = None
        self.workspace: Workspace | None = None
        self.import_dialog: ImportDialog | None = None
        self.problems_dialog: ProblemsDialog | None = None
        self.actions: dict[str, QAction] = {}
        self.setWindowTitle("Dossier")
        self.setWindowIcon(icons.app_icon())
        self.setObjectName("mainWindow")
        self.welcome = WelcomePage(self)
        self.welcome.new_requested.connect(self.new_case)
        self.welcome.open_requested.connect(self.choose_case)
        self.welcome.recent_chosen.connect(self.open_case)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.welcome)
        self.setCentralWidget(self.stack)
        self._build_menus()
        self.bundles = bundles.install(self)  # export/merge/conflicts, redactions, OCR, passwords
        self.insights = insights.install(self)  # entities, mentions, time line, graphs, batch search
        self._build_status_bar()
        self._refresh_recent()
        self._case_actions_enabled(False)
        self.resize(1280, 800)
        geometry = settings.get(GEOMETRY)
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
            self.restoreState(settings.get(WINDOW_STATE))

    # -- menus -------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._add(file_menu, Command("new_case", "&New Case…", ("Ctrl+Shift+N",), False), self.new_case)
        self._add(file_menu, Command("open_case", "&Open Case…", ("Ctrl+O",), False), self.choose_case)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._add(file_menu, Command("close_case", "&Close Case", ("Ctrl+W",)), self.close_case)
        file_menu.addSeparator()
        self._add(file_menu, Command("import_folder", "Import &Folder…", ("Ctrl+I",)), self.import_folder)
        self._add(file_menu, Command("import_files", "Import F&iles…", ("Ctrl+Shift+I",)), self.import_files)
        ocr = self._add(file_menu, Command("import_ocr", "Read Scans and Images (&OCR)"), self._ocr_toggled)
        ocr.setCheckable(True)
        ocr.setChecked(self.settings.get(IMPORT_OCR))
        ocr.setToolTip("Recognise the text of scanned pages and images while importing (slower)")
        self._add(file_menu, Command("show_import", "Import &Progress"), self.show_import_dialog)
        self._add(file_menu, Command("problems", "&Problems…"), self.show_problems)
        file_menu.addSeparator()
        self._add(file_menu, Command("quit", "&Quit", ("Ctrl+Q",), False), self.close)

        go = bar.addMenu("&Go")
        self._add(go, Command("find", "&Search", ("/", "Ctrl+F")), self.focus_search)
        go.addSeparator()
        self._add(
            go,
            Command("next_result", "&Next Result", ("J",)),
            lambda: self._in_workspace(lambda w: w.search.step(+1)),
        )
        self._add(
            go,
            Command("previous_result", "&Previous Result", ("K",)),
            lambda: self._in_workspace(lambda w: w.search.step(-1)),
        )
        self._add(
            go,
            Command("next_hit", "Next &Hit", ("N",)),
            lambda: self._in_workspace(lambda w: w.document.next_hit()),
        )
        self._add(
            go,
            Command("previous_hit", "Previous H&it", ("P",)),
            lambda: self._in_workspace(lambda w: w.document.previous_hit()),
        )
        go.addSeparator()
        self._add(
            go,
            Command("open_original", "Open &Original", ("Ctrl+Shift+O",)),
            lambda: self._in_workspace(lambda w: w.document.open_original()),
        )

        review = bar.addMenu("&Review")
        self._add(review, Command("tag", "&Tag…", ("T",)), lambda: self._in_workspace(lambda w: w.tag()))
        review.addSeparator()
        for status, label, key in (
            ("relevant", "Mark &Relevant", "R"),
            ("not_relevant", "Mark &Not Relevant", "X"),
            ("follow_up", "Mark &Follow-up", "F"),
            ("unreviewed", "Mark &Unreviewed", "U"),
        ):
            self._add(
                review,
                Command(f"status_{status}", label, (key,)),
                lambda s=status: self._in_workspace(lambda w: w.set_status(s)),
            )
        review.addSeparator()
        self._add(
            review,
            Command("note", "Write a &Note", ("Ctrl+Shift+M",)),
            lambda: self._in_workspace(lambda w: w.review.focus_note()),
        )
        self._add(
            review,
            Command("link", "&Link to…", ("Ctrl+L",)),
            lambda: self._in_workspace(lambda w: w.review.start_link()),
        )
        review.addSeparator()
        self._add(
            review,
            Command("delete_documents", "&Delete from Case…", ("Shift+Del",)),
            lambda: self._in_workspace(lambda w: w.delete_documents()),
        )

        tools = bar.addMenu("&Tools")
        self._add(tools, Command("reindex", "&Rebuild Search Index"), self.reindex)
        self._add(tools, Command("verify", "&Verify Search Index"), self.verify)
        tools.addSeparator()
        appearance = tools.addMenu("&Appearance")
        group = QActionGroup(self)
        current = self.settings.get(THEME)
        for value, label in (("system", "Follow the &System"), ("light", "&Light"), ("dark", "&Dark")):
            action = QAction(label, self, checkable=True, checked=value == current)
            action.triggered.connect(lambda _c=False, v=value: self.set_theme(v))
            group.addAction(action)
            appearance.addAction(action)
            self.actions[f"theme_{value}"] = action

        help_menu = bar.addMenu("&Help")
        self._add(help_menu, Command("query_help", "&Query Language", (), False), self.show_query_help)
        self._add(help_menu, Command("keys_help", "&Keyboard Shortcuts", (), False), self.show_keys_help)
        self._add(help_menu, Command("about", "&About Dossier", (), False), self.show_about)

    def _add(self, menu: QMenu, command: Command, slot: Callable[[], Any]) -> QAction:
        action = QAction(command.label, self)
        action.setObjectName(command.name)
        if command.shortcuts:
            action.setShortcuts([QKeySequence(s) for s in command.shortcuts])
        action.setProperty("needs_case", command.needs_case)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.actions[command.name] = action
        return action

    def _case_actions_enabled(self, enabled: bool) -> None:
        for action in self.actions.values():
            if action.property("needs_case"):
                action.setEnabled(enabled)
        if enabled and self.session is not None and self.session.read_only:
            for name in ("import_folder", "import_files", "reindex", "tag", "note", "link"):
                self.actions[name].setEnabled(False)

    def _in_workspace(self, command: Callable[[Workspace], Any]) -> None:
        if self.workspace is not None:
            command(self.workspace)

    def _build_status_bar(self) -> None:
        self.job_label = QLabel(self)
        self.job_bar = QProgressBar(self)
        self.job_bar.setMaximumWidth(160)
        self.job_bar.setMaximumHeight(14)
        self.job_bar.setTextVisible(False)
        self.case_label = QLabel(self)
        self.case_label.setEnabled(False)
        status = self.statusBar()
        status.addPermanentWidget(self.job_label)
        status.addPermanentWidget(self.job_bar)
        status.addPermanentWidget(self.case_label)
        self.job_label.hide()
        self.job_bar.hide()

    def _refresh_recent(self) -> None:
        cases = self.settings.recent_cases()
        self.welcome.show_recent(cases)
        self.recent_menu.clear()
        for path in cases:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.open_case(p))
        self.recent_menu.setEnabled(bool(cases))

    # -- cases -------------------------------------------------------------------------------------
    def new_case(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose an empty folder for the new case")
        if folder:
            self.open_case(Path(folder), create=True)

    def choose_case(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a case folder")
        if folder:
            self.open_case(Path(folder))

    def open_case(self, path: Path, create: bool = False) -> None:
        """Open (or create) a case in the background; `case_opened(path)` once its workspace shows."""
        if self.session is not None:
            self.close_case()
        self.statusBar().showMessage(f"{'Creating' if create else 'Opening'} {path}…")
        self.welcome.setEnabled(False)
        self.tasks.run(
            "job",
            lambda: open_case(path, create),
            lambda services, error: self._case_ready(path, services, error),
        )

    def _case_ready(self, path: Path, services: Services | None, error: BaseException | None) -> None:
        self.welcome.setEnabled(True)
        self.statusBar().clearMessage()
        if error is not None or services is None:
            self.reporter.report(error or RuntimeError("the case did not open"), "opening the case")
            return
        self.session = CaseSession(services, on_error=self.reporter.report)
        self.session.import_job.progress.connect(self._job_progress)
        self.session.import_job.finished.connect(self._import_finished)
        self.session.maintenance.progress.connect(lambda done, total: self._show_job("Indexing", done, total))
        self.session.maintenance.finished.connect(self._maintenance_finished)
        self.workspace = Workspace(self.session, self.settings, self)
        self.workspace.status_message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.stack.addWidget(self.workspace)
        self.stack.setCurrentWidget(self.workspace)
        self.workspace.restore_layout()
        self.settings.remember_case(self.session.path)
        self._refresh_recent()
        self.setWindowTitle(f"{self.session.path.name} — Dossier")
        mode = "  ·  read-only: another Dossier has this case open" if self.session.read_only else ""
        self.case_label.setText(f"{self.session.path}{mode}")
        self._case_actions_enabled(True)
        self.workspace.start()
        self.workspace.bar.focus()
        self.case_opened.emit(self.session.path)

    def close_case(self) -> None:
        """Cancel an import, let background work finish, close the case and show the welcome page."""
        if self.session is None:
            return
        session, workspace = self.session, self.workspace
        self.session, self.workspace = None, None
        if workspace is not None:
            workspace.save_layout()
            workspace.document.clear()
        for dialog in (self.import_dialog, self.problems_dialog):
            if dialog is not None:
                dialog.close()
                dialog.deleteLater()
        self.import_dialog = self.problems_dialog = None
        self.setCursor(Qt.CursorShape.WaitCursor)
        try:
            session.close()
        finally:
            self.unsetCursor()
        if workspace is not None:
            self.stack.removeWidget(workspace)
            workspace.deleteLater()
        self.stack.setCurrentWidget(self.welcome)
        self.setWindowTitle("Dossier")
        self.case_label.setText("")
        self.job_label.hide()
        self.job_bar.hide()
        self._case_actions_enabled(False)
        self._refresh_recent()
        self.case_closed.emit()

    # -- import ------------------------------------------------------------------------------------
    def import_folder(self) -> None:
        self._choose_import(
            lambda: [
                QFileDialog.getExistingDirectory(self, "Import a folder", self.settings.get(LAST_IMPORT_DIR))
            ]
        )

    def import_files(self) -> None:
        self._choose_import(
            lambda: QFileDialog.getOpenFileNames(
                self, "Import files, archives or mailboxes", self.settings.get(LAST_IMPORT_DIR)
            )[0]
        )

    def _choose_import(self, choose: Callable[[], list[str]]) -> None:
        """Ask what to import; the import's processes start while the reporter chooses."""
        if self.session is None:
            return
        session = self.session
        session.prepare_import()
        chosen = [Path(p) for p in choose() if p]
        if not chosen or self.session is not session:
            session.cancel_prepared_import()
            return
        self.settings.set(LAST_IMPORT_DIR, str(chosen[0].parent))
        if not self.start_import(chosen):
            session.cancel_prepared_import()

    def start_import(self, paths: list[Path]) -> bool:
        """Import `paths` into the open case on the job lane, showing the import window; False if another
        job runs."""
        if self.session is None:
            return False
        job = self.session.import_job
        if job.running or self.session.tasks.is_busy("job"):
            self.statusBar().showMessage("Another import or index job is running; wait for it to end.", 6000)
            self.show_import_dialog()
            return False
        self.show_import_dialog()
        job.start(paths, ImportOptions(ocr=self.actions["import_ocr"].isChecked()))
        return True

    def _ocr_toggled(self) -> None:
        self.settings.set(IMPORT_OCR, self.actions["import_ocr"].isChecked())

    def show_import_dialog(self) -> None:
        if self.session is None:
            return
        if self.import_dialog is None:
            self.import_dialog = ImportDialog(self.session.import_job, self)
            self.import_dialog.open_document.connect(
                lambda doc_id: self._in_workspace(lambda w: w.open_document(doc_id))
            )
        self.import_dialog.show()
        self.import_dialog.raise_()

    def _job_progress(self, p: Progress) -> None:
        self._show_job("Importing", p.files_done, p.files_total)

    def _show_job(self, what: str, done: int, total: int) -> None:
        self.job_label.setText(f"{what} {done:,}/{total:,}" if total else f"{what}…")
        self.job_bar.setRange(0, max(total, 0))
        self.job_bar.setValue(min(done, total))
        self.job_label.show()
        self.job_bar.show()

    def _import_finished(self, summary: ImportSummary | None, error: BaseException | None) -> None:
        self.job_label.hide()
        self.job_bar.hide()
        if error is not None:
            self.reporter.report(error, "importing")
        elif summary is not None:
            word = "stopped" if summary.interrupted else "finished"
            self.statusBar().showMessage(
                f"Import {word}: {summary.documents:,} documents, {len(summary.failures):,} problems", 10000
            )

    def show_problems(self) -> None:
        if self.session is None:
            return
        dialog = ProblemsDialog(self.session.services.documents.problems(), self)
        dialog.open_document.connect(lambda doc_id: self._in_workspace(lambda w: w.open_document(doc_id)))
        self.problems_dialog = dialog
        dialog.show()

    # -- index maintenance -------------------------------------------------------------------------
    def reindex(self) -> None:
        if self.session is None:
            return
        if self.session.tasks.is_busy("job"):
            self.statusBar().showMessage("An import or index job is running; wait for it to end.", 6000)
            return
        progress = QProgressDialog("Rebuilding the search index from the case…", "", 0, 0, self)
        progress.setObjectName("reindexProgress")
        progress.setWindowTitle("Rebuild Search Index")
        progress.setCancelButton(None)
        progress.setMinimumDuration(0)
        progress.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        maintenance = self.session.maintenance

        def update(done: int, total: int) -> None:
            progress.setMaximum(total)
            progress.setValue(done)

        maintenance.progress.connect(update)
        maintenance.finished.connect(
            lambda *_: (maintenance.progress.disconnect(update), progress.close()),
            Qt.ConnectionType.SingleShotConnection,
        )
        progress.show()
        maintenance.reindex()

    def verify(self) -> None:
        if self.session is not None:
            self.statusBar().showMessage("Verifying the search index…")
            self.session.maintenance.verify()

    def _maintenance_finished(self, name: str, result: Any, error: BaseException | None) -> None:
        self.job_label.hide()
        self.job_bar.hide()
        if error is not None:
            self.reporter.report(
                error, "rebuilding the index" if name == "reindex" else "verifying the index"
            )
            return
        if name == "reindex":
            self.statusBar().showMessage(f"Search index rebuilt: {result:,} documents", 10000)
        else:
            self.statusBar().clearMessage()
            self._info("Verify Search Index", verify_text(result), "verifyResult")

    # -- help and appearance -----------------------------------------------------------------------
    def set_theme(self, preference: str) -> None:
        self.settings.set(THEME, preference)
        if self.theme is not None:
            self.theme.apply(preference)

    def show_query_help(self) -> None:
        self._info("Query Language", syntax_help_html(), "queryHelp")

    def show_keys_help(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in KEYBOARD_HELP)
        self._info("Keyboard Shortcuts", f"<table>{rows}</table>", "keysHelp")

    def show_about(self) -> None:
        self._info(
            "About Dossier",
            "<b>Dossier</b><br>Offline review of leaked documents.<br>GNU AGPL v3 or later.",
            "about",
        )

    def _info(self, title: str, text: str, name: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName(name)
        box.setTextFormat(
            Qt.TextFormat.RichText if text.lstrip().startswith("<") else Qt.TextFormat.PlainText
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()

    # -- focus and closing -------------------------------------------------------------------------
    def focus_search(self) -> None:
        self._in_workspace(lambda w: w.bar.focus())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set(GEOMETRY, self.saveGeometry())
        self.settings.set(WINDOW_STATE, self.saveState())
        self.close_case()
        self.tasks.shutdown()
        self.settings.sync()
        super().closeEvent(event)
