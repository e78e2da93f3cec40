"""`build_services(case_dir)` → the one object graph the CLI and the desktop app share."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from app.case import Case
from app.documents import DocumentService
from app.pipeline.importer import Importer, ImportOptions, ImportSummary, Progress


class Services:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.documents = DocumentService(case)

    def import_paths(
        self,
        paths: Iterable[Path | str],
        options: ImportOptions | None = None,
        *,
        cancel: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ImportSummary:
        importer = Importer(self.case, options, index=None, on_progress=on_progress, cancel=cancel)
        return importer.run(paths)

    def close(self) -> None:
        self.case.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_services(case_dir: Path | str, *, create: bool = False, read_only: bool = False) -> Services:
    return Services(Case.open(case_dir, create=create, read_only=read_only))
