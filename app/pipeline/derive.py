"""Data derived from a document's text: its entities and link-suggestion features (MinHash signature,
reference numbers).

The import's workers compute them from `derive` tasks once every file is extracted (so the documents
are searchable first, and the work runs in parallel instead of on the importer's process); each task
carries a stored document's parts with text and its metadata, read by `app.documents.part_texts` as the
refreshes read them. The importer stores what arrives in its batch transactions; what does not arrive
(a failed document, rules a worker cannot apply such as a spaCy model) is computed afterwards by the
services' own refresh, from the store, with the same functions.

The rules travel with each task as JSON (`DeriveSink.rules()`):
`{"references": [pattern, ...], "region": "US", "entities_version": "...", "features": true}`;
an empty `entities_version` means entities are left to the refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from app.insights import entities as ent
from app.insights.finds import DocFinds, document_finds
from app.patterns import BoundaryFirst
from app.review import features

if TYPE_CHECKING:  # workers import this module: no database library in them
    from sqlalchemy.orm import Session


class DeriveSink(Protocol):
    """The importer's receiver of derived data (built by the services, which own the tables)."""

    def rules(self) -> dict[str, Any]: ...

    def store(self, session: Session, items: Sequence[tuple[int, int, dict[str, Any]]]) -> None:
        """Store (document id, revision, derived) rows inside the importer's batch transaction."""
        ...


@lru_cache(maxsize=8)
def _patterns(patterns: tuple[str, ...]) -> tuple[BoundaryFirst, ...]:
    return tuple(features.compile_patterns(patterns))


def derive_text(
    parts: Sequence[tuple[int, str]], metadata: dict[str, Any], rules: dict[str, Any]
) -> dict[str, Any]:
    """What `rules` ask for, from a document's parts with text ((ordinal, text), in order) and its stored
    metadata: {"entities": …, "features": …}."""
    patterns = _patterns(tuple(str(p) for p in rules.get("references") or ()))
    out: dict[str, Any] = {}
    version = rules.get("entities_version")
    if version:
        finds = document_finds(
            DocFinds(0, 0),
            parts,
            metadata,
            ent.Rules(region=str(rules.get("region") or "US"), references=patterns),
        )
        out["entities"] = {"version": str(version), **finds.to_json()}
    if rules.get("features"):
        sig, refs = features.text_features("\n".join(text for _, text in parts), patterns)
        out["features"] = {"signature": sig.tobytes().hex() if sig is not None else None, "references": refs}
    return out
