"""The one-line messages of the errors bundles, OCR and unlocking raise (the rest go to ui/errors.py)."""

from __future__ import annotations

from app.bundle.export import BundleError
from app.ocr import OcrError
from app.unlock import UnlockError
from ui.errors import user_message


class Refused(Exception):
    """A request the app's own windows turn down before calling a service; str() is for people."""


def known_message(exc: BaseException) -> str | None:
    """The message to show for an expected error, or None for a bug (which the error reporter shows)."""
    if isinstance(exc, (BundleError, OcrError, UnlockError, Refused)):
        return str(exc)
    return user_message(exc)
