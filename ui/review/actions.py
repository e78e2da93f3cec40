"""Review actions (tag, status, notes, links, suggestions) run on the io lane; `changed` says which documents.

Every write goes through here, for the open document and for a selection of results alike, so the panel and
the results list refresh from one signal. A refused action (a `ReviewError`) reaches the error reporter as a
one-line message; nothing is changed then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.review.service import ReviewService
from ui.tasks import Tasks

log = logging.getLogger(__name__)


class ReviewActions(QObject):
    """Asynchronous writes to the review service; emits `changed(doc_ids)` once each one is committed."""

    changed = Signal(list)  # document ids whose tags, status, notes or links changed
    deleted = Signal(list)  # document ids removed from the case (the chosen ones and what was inside them)
    done = Signal(str, object)  # action name, its result (tests and the status bar listen)

    def __init__(
        self,
        review: ReviewService,
        tasks: Tasks,
        parent: QObject | None = None,
        delete_document: Callable[[int], list[int]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.review = review
        self.tasks = tasks
        self._delete_document = delete_document

    def add_tag(self, name: str, doc_ids: Sequence[int], color: str | None = None) -> None:
        ids = list(doc_ids)
        self._run("add_tag", lambda: self.review.add_tag(name, ids, color=color), ids)

    def remove_tag(self, name: str, doc_ids: Sequence[int]) -> None:
        ids = list(doc_ids)
        self._run("remove_tag", lambda: self.review.remove_tag(name, ids), ids)

    def set_tag_color(self, name: str, color: str, doc_ids: Sequence[int] = ()) -> None:
        self._run("set_tag_color", lambda: self.review.set_tag_color(name, color), list(doc_ids))

    def set_status(self, status: str, doc_ids: Sequence[int]) -> None:
        ids = list(doc_ids)
        self._run("set_status", lambda: self.review.set_status(status, ids), ids)

    def add_note(self, doc_id: int, text: str, page: int | None = None, cell: str | None = None) -> None:
        self._run("add_note", lambda: self.review.add_note(doc_id, text, page=page, cell=cell), [doc_id])

    def edit_note(self, doc_id: int, note_id: int, text: str) -> None:
        self._run("edit_note", lambda: self.review.edit_note(note_id, text), [doc_id])

    def delete_note(self, doc_id: int, note_id: int) -> None:
        self._run("delete_note", lambda: self.review.delete_note(note_id), [doc_id])

    def add_link(self, source_id: int, target_id: int, relation: str, note: str = "") -> None:
        def work() -> Any:
            if relation not in self.review.relations():
                self.review.add_relation(relation)
            return self.review.add_link(source_id, target_id, relation, note)

        self._run("add_link", work, [source_id, target_id])

    def remove_link(self, link_id: str, doc_ids: Sequence[int]) -> None:
        self._run("remove_link", lambda: self.review.remove_link(link_id), list(doc_ids))

    def accept_suggestion(self, suggestion_id: int, doc_ids: Sequence[int]) -> None:
        self._run("accept_suggestion", lambda: self.review.accept_suggestion(suggestion_id), list(doc_ids))

    def dismiss_suggestion(self, suggestion_id: int, doc_ids: Sequence[int]) -> None:
        self._run("dismiss_suggestion", lambda: self.review.dismiss_suggestion(suggestion_id), list(doc_ids))

    def delete_documents(self, doc_ids: Sequence[int]) -> None:
        """Remove documents from the store and the index (audited); the caller has asked for confirmation."""
        if self._delete_document is None:
            raise RuntimeError("deleting documents is not available here")
        delete = self._delete_document
        ids = list(doc_ids)

        def work() -> list[int]:
            removed: list[int] = []
            for doc_id in ids:
                if doc_id not in removed:
                    removed += delete(doc_id)
            return removed

        def finished(result: Any, error: BaseException | None) -> None:
            if error is not None:
                raise error
            self.deleted.emit(list(result))
            self.done.emit("delete_documents", result)

        self.tasks.run("io", work, finished)

    def _run(self, name: str, work: Callable[[], Any], doc_ids: list[int]) -> None:
        def finished(result: Any, error: BaseException | None) -> None:
            if error is not None:
                raise error  # the task runner hands it to the error reporter
            log.debug("%s done for %d document(s)", name, len(doc_ids))
            self.changed.emit(doc_ids)
            self.done.emit(name, result)

        self.tasks.run("io", work, finished)
