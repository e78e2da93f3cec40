"""OCR as the case sees it: its language setting, (re-)running OCR on documents, and OCR word boxes.

Where OCR happens: in the extraction workers, during import (app/extract/pdf.py, app/extract/image.py,
app/extract/ocr.py), under the same per-file limits as any extraction. Running it later (`ocr`) is a
re-extraction of the chosen documents through the same importer, so results are stored, cached and
indexed exactly as at import. The OCR cache (`ocr_cache`, keyed by content hash, page, languages and
engine) is written by the importer thread only; it hands cached pages to the workers with each task.

Word boxes for the viewer: `page_words()` and `hit_boxes()` give boxes as fractions of the page as
displayed (multiply by the rendered page's width and height: points for a PDF page with its rotation
applied, pixels for an image with its EXIF orientation applied).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from app.extract import ocr as engine
from db.models import Document, OcrCache, Part

if TYPE_CHECKING:
    from app.case import Case
    from app.pipeline.importer import ImportOptions, ImportSummary, Progress
    from app.services import Services

SETTING = "ocr_languages"  # case setting: the languages OCR uses unless an import says otherwise
OCR_TYPES = ("pdf", "image")


class OcrError(Exception):
    """An OCR request that cannot be carried out; the message is meant for the reporter."""


# -- languages ---------------------------------------------------------------------------------------


def case_languages(case: Case) -> str:
    """The case's OCR languages ("eng+deu"), English when none were set."""
    value = case.setting(SETTING)
    try:
        return engine.normalize_languages(value) or engine.DEFAULT_LANGUAGES
    except ValueError:
        return engine.DEFAULT_LANGUAGES


def set_case_languages(case: Case, spec: str) -> str:
    """Store the case's OCR languages after checking that each one is installed. Returns them."""
    try:
        langs = engine.normalize_languages(spec)
    except ValueError as exc:
        raise OcrError(str(exc)) from exc
    if not langs:
        raise OcrError("give at least one language, e.g. eng or eng+deu")
    reason = engine.unavailable_reason(langs)
    if reason:
        raise OcrError(reason)
    case.set_setting(SETTING, langs)
    return langs


@dataclass(frozen=True)
class LanguageInfo:
    installed: list[str]
    case_default: str
    engine: str  # "Tesseract 5.5.4", or why there is none
    available: bool
    tessdata: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def language_info(case: Case | None = None) -> LanguageInfo:
    reason = engine.unavailable_reason(engine.DEFAULT_LANGUAGES)
    installed = engine.installed_languages()
    try:
        version = engine.tesseract_version()
    except ImportError as exc:
        version = f"not installed ({exc})"
    folder = engine.tessdata_dir()
    return LanguageInfo(
        installed=installed,
        case_default=case_languages(case) if case is not None else engine.DEFAULT_LANGUAGES,
        engine=version,
        available=reason is None or bool(installed),
        tessdata=str(folder) if folder else "",
    )


# -- running OCR on documents -------------------------------------------------------------------------


def select_documents(case: Case, ids: Sequence[int] = (), *, everything: bool = False) -> list[int]:
    """Which documents an `ocr` run takes.

    Given ids (or a query's): those that are PDFs or images. Otherwise the documents with pages still
    waiting for OCR (imported with OCR off or unavailable, or stopped by the time limit); with
    `everything`, also every document that already has OCR'd pages (to read them in other languages).
    """
    with case.reader() as s:
        if ids:
            found = dict(s.execute(select(Document.id, Document.doc_type).where(Document.id.in_(ids))).all())
            missing = [i for i in ids if i not in found]
            if missing:
                raise OcrError(f"no document #{missing[0]} in this case")
            return sorted(i for i in ids if found[i] in OCR_TYPES)
        has_ocr = select(Part.document_id).where(Part.origin == "ocr")
        q = select(Document.id).where(Document.status != "pending")
        if everything:
            q = q.where(or_(Document.needs_ocr.is_(True), Document.id.in_(has_ocr)))
        else:
            q = q.where(Document.needs_ocr.is_(True))
        return sorted(s.scalars(q))


def run_ocr(
    services: Services,
    doc_ids: Sequence[int],
    options: ImportOptions | None = None,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> ImportSummary:
    """OCR (again) these documents: each is extracted anew with OCR on; cached pages are not re-read."""
    from dataclasses import replace

    from app.pipeline.importer import Importer, ImportOptions

    options = replace(options or ImportOptions(), ocr=True)
    services.search.ensure_index()
    importer = Importer(
        services.case, options, index=services.search.import_sink(), on_progress=on_progress, cancel=cancel
    )
    summary = importer.rerun(list(doc_ids))
    try:
        services.search.index.write([], merge=True)
    except Exception:  # the index stays usable unmerged
        pass
    return summary


# -- word boxes for the viewer -------------------------------------------------------------------------


@dataclass(frozen=True)
class WordBox:
    """One OCR'd word; x0…y1 are fractions (0-1) of the displayed page's width and height."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    line: int
    confidence: int


def page_words(case: Case, doc_id: int) -> dict[int, list[WordBox]]:
    """The OCR words of each OCR'd page of a document (1-based page → words in reading order)."""
    scale = float(engine.COORD_SCALE)
    with case.reader() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            return {}
        pages = {
            int(label): text
            for label, text in s.execute(
                select(Part.label, Part.text).where(Part.document_id == doc_id, Part.origin == "ocr")
            )
            if label.isdigit()
        }
        if not pages:
            return {}
        rows = s.execute(
            select(OcrCache.page, OcrCache.text, OcrCache.words)
            .where(OcrCache.sha256 == doc.sha256, OcrCache.page.in_(list(pages)))
            .order_by(OcrCache.created_at.desc())
        ).all()
    out: dict[int, list[WordBox]] = {}
    exact: set[int] = set()
    for page, text, words in rows:  # newest first
        # Several readings of a page (languages, engine versions): the one whose text is the page's,
        # else the newest.
        if page in exact:
            continue
        matches = pages[page].startswith(text) if text else not pages[page]
        if matches or page not in out:
            out[page] = [
                WordBox(
                    str(w[0]), w[1] / scale, w[2] / scale, w[3] / scale, w[4] / scale, int(w[6]), int(w[5])
                )
                for w in words or ()
            ]
        if matches:
            exact.add(page)
    return out


def hit_boxes(
    words: Sequence[WordBox], spans: Callable[[str], list[tuple[int, int]]]
) -> list[list[tuple[float, float, float, float]]]:
    """Boxes of each hit on a page: `spans(text)` gives the matched ranges of the page's words joined
    by single spaces (e.g. `ui.highlight.HitFinder.spans`); a hit spanning lines gets a box per line."""
    if not words:
        return []
    starts: list[int] = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w.text) + 1
    text = " ".join(w.text for w in words)
    out = []
    for start, end in spans(text):
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, end - 1) - 1
        lines: dict[int, list[float]] = {}
        for w in words[max(first, 0) : last + 1]:
            box = lines.get(w.line)
            if box is None:
                lines[w.line] = [w.x0, w.y0, w.x1, w.y1]
            else:
                box[0], box[1] = min(box[0], w.x0), min(box[1], w.y0)
                box[2], box[3] = max(box[2], w.x1), max(box[3], w.y1)
        if lines:
            out.append([tuple(b) for b in lines.values()])  # type: ignore[misc]
    return out
