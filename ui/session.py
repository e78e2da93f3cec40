"""One open case in the app: its services, its own task lanes, review actions, import and maintenance jobs.

`open_case()` runs on a background lane (opening migrates the schema and may rebuild the index);
`CaseSession.close()` cancels an import, waits for the lanes to finish what they are doing, then closes the
case, so no background work ever touches a closed case.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.case import DB_NAME, CaseError
from app.search import IndexUnavailable, VerifyReport
from app.services import Services, build_services, open_for_reading
from ui.importing import ImportJob
from ui.originals import Originals
from ui.review.actions import ReviewActions
from ui.tasks import Tasks

log = logging.getLogger(__name__)


def open_case(path: Path, create: bool = False) -> Services:
    """Open (or create) the case at `path`: writable, or read-only when another Dossier has it."""
    path = Path(path).expanduser().absolute()
    exists = (path / DB_NAME).is_file()
    if create and not exists and path.is_dir() and any(path.iterdir()):
        raise CaseError(f"the folder {path} is not empty; choose an empty folder for a new case")
    if not create and not exists:
        raise CaseError(f"{path} is not a Dossier case (it has no {DB_NAME})")
    services = build_services(path, create=True) if create else open_for_reading(path)
    try:
        services.search.ensure_index()
    except IndexUnavailable as exc:  # searching says why; the rest of the case still works
        log.warning("search index unavailable: %s", exc)
    return services


class MaintenanceJobs(QObject):
    """Reindex and verify on the job lane; `finished(name, result, error)` when one ends."""

    progress = Signal(int, int)  # documents done, total (reindex)
    finished = Signal(str, object, object)

    def __init__(self, services: Services, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks

    def reindex(self) -> None:
        search = self.services.search
        self.tasks.run(
            "job",
            lambda: search.reindex(on_progress=self.progress.emit),
            lambda count, error: self.finished.emit("reindex", count, error),
        )

    def verify(self) -> None:
        self.tasks.run(
            "job",
            self.services.search.verify,
            lambda report, error: self.finished.emit("verify", report, error),
        )


def verify_text(report: VerifyReport) -> str:
    """A reporter-readable account of a verify report."""
    head = (
        f"{report.store_documents:,} documents in the case, {report.index_documents:,} in the search index."
    )
    if report.ok:
        return head + "\n\nThe index matches the case."
    lines = [head, ""]
    for label, ids in (
        ("missing from the index", report.missing_from_index),
        ("in the index but not in the case", report.not_in_store),
        ("indexed at an older revision", report.stale),
    ):
        if ids:
            shown = ", ".join(str(i) for i in ids[:20]) + (" …" if len(ids) > 20 else "")
            lines.append(f"{len(ids):,} {label}: {shown}")
    lines.append("\nTools → Rebuild Search Index repairs this.")
    return "\n".join(lines)


class CaseSession:
    """Everything tied to one open case; `close()` ends it cleanly."""

    def __init__(self, services: Services, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.services = services
        self.tasks = Tasks(on_error=on_error)
        self.actions = ReviewActions(services.review, self.tasks, delete_document=services.delete_document)
        self.import_job = ImportJob(services.import_paths, self.tasks)
        self.maintenance = MaintenanceJobs(services, self.tasks)
        self.originals = Originals(services.case)

    @property
    def path(self) -> Path:
        return self.services.case.root

    @property
    def read_only(self) -> bool:
        return self.services.case.read_only

    def prepare_import(self) -> None:
        """While the reporter chooses what to import, start the import's processes (unless a job runs)."""
        if not self.read_only and not self.import_job.running and not self.tasks.is_busy("job"):
            self.services.prepare_import()

    def cancel_prepared_import(self) -> None:
        """Nothing was chosen: end those processes, without keeping the window waiting."""
        self.services.cancel_prepared_import(wait=False)

    def close(self) -> None:
        self.import_job.cancel()
        self.tasks.shutdown()
        self.services.close()
        log.info("closed case %s", self.path)
