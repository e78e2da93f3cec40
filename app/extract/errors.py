"""The only exceptions an extractor may raise. Each carries the document status it becomes."""

from __future__ import annotations

# Every status a document can end an import with; the reporter reads the reason beside it.
STATUSES = (
    "pending",
    "ok",
    "encrypted",
    "corrupt",
    "unsupported",
    "timeout",
    "out_of_memory",
    "crashed",
    "too_large",
    "skipped",
)
FAILED_STATUSES = frozenset(STATUSES) - {"ok", "pending"}


class ExtractionError(Exception):
    status = "corrupt"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CorruptError(ExtractionError):
    status = "corrupt"


class EncryptedError(ExtractionError):
    status = "encrypted"


class UnsupportedError(ExtractionError):
    status = "unsupported"


class TooLargeError(ExtractionError):
    status = "too_large"
