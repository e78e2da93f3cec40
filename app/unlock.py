"""Opening one encrypted document with a password the reporter was given.

`unlock_document(services, doc_id, password)` first tries the password in an extraction worker (the same
sandboxed process and limits as an import), without touching the case. A wrong password raises
`UnlockError` and nothing changes. A right one re-extracts the document through the importer (`rerun`),
so its decrypted text, metadata and what was found inside it are recorded and indexed exactly as an
import would; the original stays as it was stored. The password itself is never written anywhere.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from app.pipeline.importer import Importer, ImportOptions, Progress
from app.pipeline.workers import Result, Task, WorkerPool
from db.models import AuditEntry, Document, Source

if TYPE_CHECKING:
    from app.services import Services

TRIAL_TIMEOUT_S = 60.0


class UnlockError(Exception):
    """The password does not open the document, or the document cannot be unlocked; str() is for people."""


@dataclass(frozen=True)
class UnlockReport:
    document_id: int
    status: str
    reason: str
    parts: int
    children: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def unlock_document(
    services: Services,
    doc_id: int,
    password: str,
    *,
    options: ImportOptions | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> UnlockReport:
    """Re-extract an `encrypted` document with `password`. Raises UnlockError (nothing changed) if it fails."""
    case = services.case
    if case.read_only:
        raise UnlockError("this case is open read-only; unlocking a document needs write access")
    if not password:
        raise UnlockError("give the password")
    with case.reader() as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            raise UnlockError(f"no document #{doc_id} in this case")
        if doc.status != "encrypted":
            raise UnlockError(f"document #{doc_id} is not encrypted (its status is {doc.status})")
        name = s.scalar(select(Source.path).where(Source.document_id == doc_id).limit(1)) or doc.file_name
        sha = doc.sha256
    blob = case.blob_path(sha)
    if not blob.is_file():
        raise UnlockError("the stored original of this document is missing; run doctor")
    options = replace(options or ImportOptions(), passwords=(password,), workers=1)

    trial = _try_password(case.tmp_dir, blob, name, password, options)
    if trial.status == "encrypted":
        raise UnlockError("wrong password: it does not open this document; nothing changed")
    if trial.status != "ok":
        raise UnlockError(
            f"the password was accepted but the document still cannot be read ({trial.status}: "
            f"{trial.reason}); nothing changed"
        )

    services.search.ensure_index()
    importer = Importer(
        case, options, index=services.search.import_sink(), on_progress=on_progress, cancel=cancel
    )
    importer.rerun([doc_id])
    try:
        services.review.refresh_suggestions()
    except Exception:  # derived data; the unlock itself is done
        pass
    services.insights.refresh_after_import()
    with case.transaction() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None
        children = len(doc.children)
        parts = sum(1 for p in doc.parts if p.text)
        s.add(
            AuditEntry(
                actor=services.review.reviewer,
                action="unlock",
                document_id=doc_id,
                detail={"status": doc.status},
            )
        )
        return UnlockReport(doc_id, doc.status, doc.reason or "", parts, children)


def _try_password(tmp_dir: Any, blob: Any, name: str, password: str, options: ImportOptions) -> Result:
    """Extract the document once in a worker with the password, keeping nothing (no OCR: a quick check)."""
    work = tmp_dir / f"unlock-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True, exist_ok=True)
    limits = replace(options.limits, timeout_s=min(options.limits.timeout_s, TRIAL_TIMEOUT_S))
    try:
        with WorkerPool(1, limits) as pool:
            pool.submit(
                Task(task_id=0, path=str(blob), name_hint=name, work_dir=str(work), passwords=(password,))
            )
            while True:
                results = pool.collect(timeout=0.25)
                if results:
                    return results[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)
