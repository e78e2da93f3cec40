"""The desktop app's entry point: `run_app(case_dir)` builds the application and its main window.

`main.py` with no subcommand calls it (through app/cli.py); `--case DIR` opens that case, otherwise the
window offers to create a case or open a recent one.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ui import icons
from ui.errors import ErrorReporter, install_excepthook
from ui.main_window import MainWindow
from ui.settings import APPLICATION, ORGANISATION, THEME, Settings
from ui.theme import Theme

log = logging.getLogger(__name__)


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with Dossier's names (QSettings uses them), icon and the Fusion style."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Dossier")
    app.setDesktopFileName("dossier")
    app.setWindowIcon(icons.app_icon())
    return app


def build_window(settings: Settings | None = None) -> tuple[MainWindow, ErrorReporter]:
    """The main window with its error reporter and theme, as `run_app` makes it (tests use this too)."""
    app = make_application()
    settings = settings or Settings()
    theme = Theme(app, settings.get(THEME))
    theme.apply()
    reporter = ErrorReporter(app)
    window = MainWindow(settings, reporter, theme)
    return window, reporter


def run_app(case_dir: Path | None = None) -> int:
    """Run the desktop app until its window closes; returns the exit status."""
    app = make_application()
    window, reporter = build_window()
    install_excepthook(reporter)
    window.show()
    if case_dir is not None:
        case_dir = Path(case_dir).expanduser()
        QTimer.singleShot(0, lambda: window.open_case(case_dir, create=not (case_dir / "case.db").exists()))
    return app.exec()
