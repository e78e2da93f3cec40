"""Data derived from a document's text, computed in the worker process that extracted it.

A worker holds the text it has just read, so reading the document's entities and its link-suggestion
features (MinHash signature, reference numbers) there costs no second read of the case store, and runs in
parallel with the other workers' extraction instead of on the importer's process after it. The importer
stores what arrives in the same transaction as the document's text; what does not arrive (a failed
document, rules a worker cannot apply such as a spaCy model) is computed afterwards by the services'
own refresh, from the store, with the same functions.

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
