"""`doctor`: check a case end to end and repair what can be repaired, saying what was done.

Checks: the SQLite file's integrity and foreign keys, the schema version, every stored original against its
SHA-256, leftovers of interrupted imports, and the search index against the store. Repairs: a damaged or
stale index is rebuilt; a missing or corrupted original is restored from a source path that still holds the
same bytes; temporary leftovers are removed. Nothing a reviewer wrote is ever changed.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from app.pipeline.blobstore import CHUNK, BlobStore
from db.models import Blob, Document, Source
from db.session import schema_revisions


@dataclass
class Finding:
    check: str
    ok: bool
    detail: str
    repaired: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong any more (every problem found was repaired)."""
        return all(f.ok or f.repaired for f in self.findings)

    def add(self, check: str, ok: bool, detail: str, repaired: str = "") -> None:
        self.findings.append(Finding(check, ok, detail, repaired))

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "findings": [f.to_json() for f in self.findings]}


def run_doctor(
    services: Any, *, repair: bool = True, on_progress: Callable[[str, int, int], None] | None = None
) -> DoctorReport:
    case = services.case
    report = DoctorReport()
    repair = repair and not case.read_only

    with case.engine.connect() as conn:
        result = [row[0] for row in conn.execute(text("PRAGMA integrity_check")).fetchall()]
        fk = conn.execute(text("PRAGMA foreign_key_check")).fetchall()
    report.add("store integrity", result == ["ok"], "ok" if result == ["ok"] else "; ".join(result[:5]))
    report.add("store foreign keys", not fk, "ok" if not fk else f"{len(fk)} rows point at missing rows")

    current, head = schema_revisions(case.engine)
    report.add("schema version", current == head, f"{current} (code expects {head})")

    # Originals against their hashes.
    with case.reader() as s:
        blobs = list(s.execute(select(Blob.sha256, Blob.size)).all())
    bad: list[str] = []
    for n, (sha, _size) in enumerate(blobs, 1):
        if on_progress and n % 100 == 0:
            on_progress("checking originals", n, len(blobs))
        path = case.blob_path(sha)
        if not path.is_file() or _sha256(path) != sha:
            bad.append(sha)
    restored = []
    if bad and repair:
        restored = [sha for sha in bad if _restore_blob(services, sha)]
    detail = f"{len(blobs)} originals checked" + (f"; {len(bad)} missing or changed" if bad else "")
    repaired = f"restored {len(restored)} from their source paths" if restored else ""
    still_bad = len(bad) - len(restored)
    report.add(
        "stored originals",
        not bad,
        detail + (f"; {still_bad} could not be restored" if still_bad else ""),
        repaired if not still_bad else "",
    )

    with case.reader() as s:
        pending = s.scalar(select(func.count(Document.id)).where(Document.status == "pending")) or 0
    report.add(
        "interrupted imports",
        pending == 0,
        f"{pending} documents wait for extraction (run the import again to finish)" if pending else "none",
    )

    leftovers = [p for p in case.tmp_dir.iterdir()] if case.tmp_dir.is_dir() else []
    if leftovers and repair:
        for p in leftovers:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    report.add(
        "temporary files",
        not leftovers,
        f"{len(leftovers)} leftovers of interrupted work" if leftovers else "none",
        "removed" if leftovers and repair else "",
    )

    health = services.search.index.health()
    if health.state != "ok":
        fixed = ""
        if repair:
            services.search.reindex()
            fixed = "rebuilt from the store"
        report.add("search index", False, f"{health.state}: {health.detail}", fixed)
    else:
        verify = services.search.verify()
        if verify.ok:
            report.add("search index", True, f"{verify.index_documents} documents, matches the store")
        else:
            fixed = ""
            if repair:
                services.search.reindex()
                fixed = "rebuilt from the store"
            problems = len(verify.missing_from_index) + len(verify.not_in_store) + len(verify.stale)
            report.add("search index", False, f"{problems} documents out of step with the store", fixed)
    return report


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _restore_blob(services: Any, sha: str) -> bool:
    case = services.case
    with case.reader() as s:
        paths = list(
            s.scalars(
                select(Source.path)
                .join(Document, Document.id == Source.document_id)
                .where(Document.sha256 == sha)
            )
        )
    for raw in paths:
        if "//" in raw:  # a member of a container: restored when the container is re-imported
            continue
        candidate = Path(raw)
        if not candidate.is_file() or _sha256(candidate) != sha:
            continue
        target = case.blob_path(sha)
        if target.exists():
            target.chmod(0o644)
            target.unlink()
        BlobStore(case.blobs_dir, case.tmp_dir).add_file(candidate)
        return True
    return False
