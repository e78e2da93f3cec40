"""Link suggestions: documents that share a reference number, and near-duplicate texts (MinHash + LSH).

Features are computed once per document revision (after an import) and kept in `document_features` and
`document_bands`, so finding candidates for one document is an indexed lookup, not a scan of the case.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.documents import part_texts
from app.patterns import BoundaryFirst
from app.review.features import (  # noqa: F401 - the features' API, used through this module too
    BANDS,
    DEFAULT_REFERENCE_PATTERNS,
    MAX_DOCS_PER_REFERENCE,
    NEAR_DUPLICATE_MIN,
    NUM_PERM,
    bands,
    compile_patterns,
    references,
    signature,
    similarities,
    text_features,
)
from db.models import Document, DocumentBand, DocumentFeatures, Suggestion

log = logging.getLogger(__name__)


def stale_feature_ids(s: Session) -> list[int]:
    """Extracted documents whose features are missing or older than their text."""
    q = (
        select(Document.id)
        .outerjoin(DocumentFeatures, DocumentFeatures.document_id == Document.id)
        .where(Document.status != "pending")
        .where((DocumentFeatures.document_id.is_(None)) | (DocumentFeatures.revision != Document.revision))
        .order_by(Document.id)
    )
    return list(s.scalars(q))


def refresh_features(s: Session, doc_ids: Iterable[int], patterns: Sequence[BoundaryFirst]) -> list[int]:
    """Compute features of documents whose text changed since; return the ids recomputed.

    Reads and writes the whole batch at once (no per-document queries, nothing flushed mid-way).
    """
    ids = list(doc_ids)
    if not ids:
        return []
    computed_from = {
        doc_id: revision
        for doc_id, revision in s.execute(
            select(DocumentFeatures.document_id, DocumentFeatures.revision).where(
                DocumentFeatures.document_id.in_(ids)
            )
        )
    }
    stale = [
        (doc_id, revision, status)
        for doc_id, revision, status in s.execute(
            select(Document.id, Document.revision, Document.status).where(Document.id.in_(ids))
        )
        if computed_from.get(doc_id) != revision
    ]
    if not stale:
        return []
    changed = [doc_id for doc_id, _, _ in stale]
    texts = part_texts(s, changed)
    # Everything is computed before the first write, so the transaction holds SQLite's write lock only
    # for the writes (an import storing its batches meanwhile is not held up).
    computed = []
    for doc_id, revision, status in stale:
        text = "\n".join(part for _, part in texts.pop(doc_id, ()))
        sig, refs = text_features(text, patterns) if status == "ok" else (None, [])
        computed.append((doc_id, revision, sig, refs))
    store_features(s, computed)
    return changed


def _upsert_features() -> Any:
    stmt = sqlite_insert(DocumentFeatures.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["document_id"],
        set_={c: stmt.excluded[c] for c in ("revision", "references", "signature")},
    )


# Built once and executed with every row of a batch (no ORM object per document).
_UPSERT_FEATURES = _upsert_features()


def store_features(s: Session, computed: Sequence[tuple[int, int, np.ndarray | None, list[str]]]) -> None:
    """Write (document id, revision, signature, references) rows and their LSH bands."""
    if not computed:
        return
    ids = [doc_id for doc_id, _, _, _ in computed]
    s.execute(delete(DocumentBand).where(DocumentBand.document_id.in_(ids)))
    rows: list[dict[str, object]] = []
    band_rows: list[dict[str, object]] = []
    for doc_id, revision, sig, refs in computed:
        rows.append(
            {
                "document_id": doc_id,
                "revision": revision,
                "references": refs,
                "signature": sig.tobytes() if sig is not None else None,
            }
        )
        if sig is not None:
            band_rows += ({"document_id": doc_id, "band": i, "value": v} for i, v in enumerate(bands(sig)))
    s.execute(_UPSERT_FEATURES, rows)
    if band_rows:
        s.execute(DocumentBand.__table__.insert(), band_rows)


def reference_holders(s: Session) -> dict[str, set[int]]:
    """Every reference of the case → the documents carrying it (one pass over the features)."""
    holders: dict[str, set[int]] = defaultdict(set)
    for doc_id, refs in s.execute(select(DocumentFeatures.document_id, DocumentFeatures.references)):
        for ref in refs or []:
            holders[ref].add(doc_id)
    return holders


def refresh_suggestions(
    s: Session, doc_ids: Sequence[int], holders: dict[str, set[int]] | None = None
) -> int:
    """Create open suggestions involving these documents (existing decisions are kept). Returns new ones.

    `holders` (from `reference_holders`, current for these documents) saves reading every document's
    references again when a long list is done in batches.
    """
    if not doc_ids:
        return 0
    existing = {
        (a, b, kind, detail)
        for a, b, kind, detail in s.execute(
            select(Suggestion.a_id, Suggestion.b_id, Suggestion.kind, Suggestion.detail).where(
                (Suggestion.a_id.in_(doc_ids)) | (Suggestion.b_id.in_(doc_ids))
            )
        )
    }

    rows: list[dict[str, object]] = []  # written with one statement per chunk at the end, not one object each

    def propose(a: int, b: int, kind: str, detail: str, score: float) -> None:
        a, b = min(a, b), max(a, b)
        if a == b or (a, b, kind, detail) in existing:
            return
        existing.add((a, b, kind, detail))
        rows.append({"a_id": a, "b_id": b, "kind": kind, "detail": detail, "score": score, "state": "open"})

    # Shared references: group every document by each reference it carries.
    wanted = set()
    for refs in s.scalars(
        select(DocumentFeatures.references).where(DocumentFeatures.document_id.in_(doc_ids))
    ):
        wanted.update(refs or [])
    if wanted:
        if holders is None:
            holders = reference_holders(s)
        holders = {ref: holders[ref] for ref in wanted if ref in holders}
        touched = set(doc_ids)
        for ref, ids in sorted(holders.items()):
            if 2 <= len(ids) <= MAX_DOCS_PER_REFERENCE:
                for a, b in combinations(sorted(ids), 2):
                    if a in touched or b in touched:
                        propose(a, b, "reference", ref, 1.0)

    # Near-duplicates: candidates share an LSH band; confirm with the signature estimate.
    sigs = dict(
        s.execute(
            select(DocumentFeatures.document_id, DocumentFeatures.signature).where(
                DocumentFeatures.document_id.in_(doc_ids), DocumentFeatures.signature.is_not(None)
            )
        ).all()
    )
    # One query for the bands of the batch, then one per chunk of (band, value) pairs (indexed).
    band_rows = DocumentBand.__table__.c  # plain rows, no ORM loading: a batch reads many of them
    mine: dict[tuple[int, str], list[int]] = defaultdict(list)
    for doc_id, band, value in s.execute(
        select(band_rows.document_id, band_rows.band, band_rows.value).where(
            band_rows.document_id.in_(list(sigs))
        )
    ):
        mine[(band, value)].append(doc_id)
    candidates: dict[int, set[int]] = defaultdict(set)
    pairs = sorted(mine)
    for start in range(0, len(pairs), 400):
        for other, band, value in s.execute(
            select(band_rows.document_id, band_rows.band, band_rows.value).where(
                tuple_(band_rows.band, band_rows.value).in_(pairs[start : start + 400])
            )
        ):
            for doc_id in mine[(band, value)]:
                if other != doc_id:
                    candidates[doc_id].add(other)
    others = sorted({o for found in candidates.values() for o in found} - set(sigs))
    other_sigs: dict[int, bytes | None] = {}
    for start in range(0, len(others), 500):
        other_sigs.update(
            s.execute(
                select(DocumentFeatures.document_id, DocumentFeatures.signature).where(
                    DocumentFeatures.document_id.in_(others[start : start + 500])
                )
            ).all()
        )
    for doc_id, sig in sigs.items():
        # Candidates are symmetric within the batch: such a pair is scored from its lower id only.
        scored = [
            (other, other_sig)
            for other in sorted(candidates.get(doc_id, ()))
            if not (other < doc_id and other in sigs)
            and (other_sig := sigs.get(other) or other_sigs.get(other)) is not None
        ]
        if not scored:
            continue
        for (other, _), score in zip(scored, similarities(sig, [g for _, g in scored]), strict=True):
            if score >= NEAR_DUPLICATE_MIN:
                propose(doc_id, other, "near_duplicate", f"{round(score * 100)}% similar", float(score))
    for start in range(0, len(rows), 20_000):
        s.execute(insert(Suggestion.__table__), rows[start : start + 20_000])
    return len(rows)
