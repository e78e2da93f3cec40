"""`build_services(case_dir)` → the one object graph the CLI and the desktop app share."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.case import Case, CaseError
from app.documents import DocumentService
from app.search import SearchService

if TYPE_CHECKING:  # the import pipeline is loaded by the commands that import (not by a search)
    from app.insights.service import InsightsService
    from app.pipeline.importer import ImportOptions, ImportSummary, Progress
    from app.review.service import ReviewService

log = logging.getLogger(__name__)


class Services:
    """The services of one case. Review and insights are built (and their code, with numpy, loaded) at
    first use, and the search fields they answer are registered before the first query: an import reaches
    its first file without them."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.documents = DocumentService(case)
        self.search = SearchService(case)
        self.search.before_first_query.append(self._register_search_fields)

    @cached_property
    def review(self) -> ReviewService:
        from app.review.service import ReviewService

        return ReviewService(self.case)

    @cached_property
    def insights(self) -> InsightsService:
        from app.insights.service import InsightsService

        return InsightsService(self.case)

    def _register_search_fields(self) -> None:
        from app.review.service import resolve_note, resolve_tag, tag_facet

        self.search.store_resolvers.update({"tag": resolve_tag, "note": resolve_note})
        self.search.store_facets["tag"] = tag_facet
        self.insights.register(self.search)  # email:, phone:, iban:, entity: …, dated:, entity facets

    def prepare_import(self) -> None:
        """Start the next import's processes now: the app calls this while the reporter chooses what to
        import. The index process (forked from the fork server, which starts with the PDF reader loaded,
        so the workers start at once too) loads its libraries and opens the case and its index; the import
        takes it (`SearchService.index_process`). `cancel_prepared_import` (and `close`) end it if no
        import comes. Folder of 30 PDFs: searchable 1.0 s after the import starts without, 0.6 s with."""
        if self.case.read_only:
            return
        from app.index_process import start_ahead

        start_ahead(self.case.root, open_case=True)

    def cancel_prepared_import(self, *, wait: bool = True) -> None:
        """End what `prepare_import` started, if no import took it (without `wait`, on a thread)."""
        ahead = sys.modules.get("app.index_process")  # not loaded: nothing was started
        if ahead is not None:
            ahead.discard_ahead(self.case.root, wait=wait)

    def import_paths(
        self,
        paths: Iterable[Path | str],
        options: ImportOptions | None = None,
        *,
        cancel: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ImportSummary:
        self.search.ensure_index()
        featured: list[int] = []
        services = self

        class Derived:
            """The importer's derived-data sink: entities and suggestion features read by the workers,
            stored with each batch (what does not arrive is computed by the refreshes below). Asked for
            its rules once every file is extracted, so review and insights load only then."""

            def rules(self) -> dict[str, Any]:
                return {
                    "references": services.review.reference_patterns(),
                    "features": True,
                    **services.insights.worker_rules(),
                }

            def store(self, session: Any, items: Sequence[tuple[int, int, dict[str, Any]]]) -> None:
                services.insights.store_derived(session, items)
                featured.extend(services.review.store_derived(session, items))

        from app.pipeline.importer import Importer

        importer = Importer(
            self.case,
            options,
            index=self.search.import_sink(),
            derive=Derived(),
            on_progress=on_progress,
            cancel=cancel,
        )
        # The index is written beside the import, not inside it; once it holds everything, the index
        # process folds the import's small segments together while the workers read entities.
        with self.search.index_process():
            summary = importer.run(paths)
        if summary.interrupted:
            # Stopped on request: the entities and link suggestions still missing are computed by the
            # next import (or `entities --refresh`) rather than keeping the reporter waiting now.
            return summary
        try:
            self.review.refresh_suggestions(changed=featured)
        except Exception:  # suggestions are derived; a failure must not fail the import
            log.exception("computing link suggestions failed")
        self.insights.refresh_after_import()  # entities of changed documents (logs, never raises)
        return summary

    def export_bundle(self, out_path: Path, doc_ids: list[int], **options: Any) -> Any:
        from app.bundle.export import export_bundle

        return export_bundle(self.case, out_path, doc_ids, creator=self.review.reviewer, **options)

    def merge_bundle(self, bundle: Path, on_progress: Callable[[Progress], None] | None = None) -> Any:
        from app.bundle.merge import merge_bundle

        if self.case.read_only:
            raise CaseError("this case is open read-only; merging needs write access")
        self.search.ensure_index()
        report = merge_bundle(
            self.case,
            bundle,
            reviewer=self.review.reviewer,
            index=self.search.import_sink(),
            on_progress=on_progress,
        )
        if report.documents_added:
            self.review.refresh_suggestions()
            self.insights.refresh_after_import()
        return report

    def unlock(self, doc_id: int, password: str, **options: Any) -> Any:
        """Re-extract an encrypted document with a password (a wrong one changes nothing): app/unlock.py."""
        from app.unlock import unlock_document

        return unlock_document(self, doc_id, password, **options)

    def delete_document(self, doc_id: int) -> list[int]:
        """Delete a document (and what was found inside it) from the store and the index; audited."""
        ids = self.review.delete_document(doc_id)
        self.search.index.write([], delete_ids=ids)
        return ids

    def close(self) -> None:
        self.cancel_prepared_import()
        self.search.index.close()
        self.case.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_services(case_dir: Path | str, *, create: bool = False, read_only: bool = False) -> Services:
    return Services(Case.open(case_dir, create=create, read_only=read_only))


def open_for_reading(case_dir: Path | str) -> Services:
    """Writable when possible (so a damaged index can be rebuilt), read-only when another Dossier has it."""
    try:
        return build_services(case_dir)
    except CaseError as exc:
        if "open in another Dossier" not in str(exc) and "not writable" not in str(exc):
            raise
        return build_services(case_dir, read_only=True)
