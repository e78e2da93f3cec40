"""What the PDF viewer needs from the open case beyond the file: OCR word boxes, redactions, passwords.

`CasePages` wraps the services the viewer calls (app/ocr.py for word boxes, app/bundle/redactions.py for
redactions, both reading and writing through the case like the CLI) so the viewer itself stays a widget.
Reads run on the render lane next to the PyMuPDF work that uses them; redaction writes run on the io lane
(the review-write lane) and are committed and audited before the viewer shows them.

Passwords a reporter typed to unlock a document are kept in memory for the session only, so the viewer can
display the pages of a PDF whose text was imported with that password; they are never written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from app.bundle.redactions import add_redaction, list_redactions, remove_redaction
from app.ocr import WordBox, page_words
from app.services import Services

log = logging.getLogger(__name__)


class CasePages:
    """OCR words, redactions and session passwords of the open case's documents."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.passwords: dict[int, str] = {}

    @property
    def writable(self) -> bool:
        return not self.services.case.read_only

    @property
    def reviewer(self) -> str:
        return self.services.review.reviewer

    # render lane
    def ocr_words(self, doc_id: int) -> dict[int, list[WordBox]]:
        return page_words(self.services.case, doc_id)

    def redactions(self, doc_id: int) -> list[dict[str, Any]]:
        return list_redactions(self.services.case, doc_id)

    # io lane
    def add_rect(self, doc_id: int, page: int, rect: Sequence[float]) -> int:
        """A rectangle on page `page` (1-based) in the page's own PDF points; audited."""
        return add_redaction(self.services.case, doc_id, page=page, rect=tuple(rect), reviewer=self.reviewer)

    def add_term(self, doc_ids: Sequence[int], term: str) -> int:
        """Redact every match of `term` in each of these documents; returns how many were added."""
        for doc_id in doc_ids:
            add_redaction(self.services.case, doc_id, term=term, reviewer=self.reviewer)
        return len(doc_ids)

    def remove(self, redaction_id: int) -> None:
        remove_redaction(self.services.case, redaction_id, reviewer=self.reviewer)

    def password(self, doc_id: int) -> str | None:
        return self.passwords.get(doc_id)
