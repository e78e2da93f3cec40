"""What one document's text and metadata hold, aggregated by entity: a pure function of the text.

Used in two places with the same result: by the import's worker processes, which read a document's entities
from its extraction while they hold its text (so the work runs in parallel with extraction), and by
`InsightsService.refresh`, which recomputes them from the case store (stale documents, other rules, NER).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from app.insights import entities as ent

MAX_POSITIONS = 50  # mentions kept per entity and document (the count is exact)
# Metadata fields scanned for entities, and address headers read for people and addresses.
META_TEXT_FIELDS = ("title", "subject", "author", "company", "keywords", "description", "comments", "manager")
META_ADDRESS_FIELDS = ("from", "to", "cc", "bcc", "reply_to", "sender")

Position = tuple[int | None, str | None, int, int]  # part ordinal, metadata field, start, end


class DocFinds:
    """What was found in one document, aggregated by entity."""

    __slots__ = ("doc_id", "revision", "counts", "positions", "first_text", "text_date")

    def __init__(self, doc_id: int, revision: int) -> None:
        self.doc_id = doc_id
        self.revision = revision
        self.counts: Counter[tuple[str, str]] = Counter()
        self.positions: dict[tuple[str, str], list[Position]] = defaultdict(list)
        self.first_text: dict[tuple[str, str], str] = {}
        self.text_date: str | None = None

    def add(self, f: ent.Found, part: int | None, fld: str | None) -> None:
        key = (f.kind, f.value)
        if len(f.value) > 500:
            return
        self.counts[key] += 1
        if len(self.positions[key]) < MAX_POSITIONS:
            self.positions[key].append((part, fld, f.start, f.end))
        self.first_text.setdefault(key, f.text)
        if f.kind == "date" and part is not None and self.text_date is None:
            self.text_date = f.value

    # A worker sends these to the importer as JSON: one row per entity.
    def to_json(self) -> dict[str, Any]:
        return {
            "text_date": self.text_date,
            "entities": [
                [
                    kind,
                    value,
                    count,
                    self.first_text[(kind, value)],
                    [list(p) for p in self.positions[(kind, value)]],
                ]
                for (kind, value), count in self.counts.items()
            ],
        }

    @classmethod
    def from_json(cls, doc_id: int, revision: int, data: Mapping[str, Any]) -> DocFinds:
        """Rebuild from `to_json` (the message comes from a worker that parsed hostile input: check types)."""
        out = cls(doc_id, revision)
        text_date = data.get("text_date")
        out.text_date = str(text_date) if isinstance(text_date, str) else None
        for kind, value, count, first, positions in data.get("entities") or ():
            key = (str(kind), str(value))
            if len(key[1]) > 500:
                continue
            out.counts[key] = int(count)
            out.first_text[key] = str(first)
            out.positions[key] = [
                (
                    None if part is None else int(part),
                    None if fld is None else str(fld),
                    int(start),
                    int(end),
                )
                for part, fld, start, end in list(positions)[:MAX_POSITIONS]
            ]
        return out


def meta_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def document_finds(
    item: DocFinds,
    parts: Iterable[tuple[int, str]],
    meta: Mapping[str, Any] | None,
    rules: ent.Rules,
    ner_input: list[tuple[DocFinds, int, str]] | None = None,
) -> DocFinds:
    """Add the entities of a document's parts (ordinal, text) and metadata to `item`.

    With `ner_input`, each scanned part is also queued there for named-entity recognition.
    """
    budget = ent.MAX_SCAN_CHARS
    for ordinal, part_text in parts:
        if budget <= 0:
            break
        if not part_text:
            continue
        part_text = part_text[:budget]
        budget -= len(part_text)
        for f in ent.extract_text(part_text, rules):
            item.add(f, ordinal, None)
        if ner_input is not None:
            ner_input.append((item, ordinal, part_text))
    for key, value in (meta or {}).items():
        if key in META_ADDRESS_FIELDS:
            for f in ent.find_header_people(meta_text(value)):
                item.add(f, None, key)
        elif key in META_TEXT_FIELDS:
            value_text = meta_text(value)
            finds = ent.extract_text(value_text, rules)
            for f in finds:
                item.add(f, None, key)
            if key == "company" and not any(f.kind == "company" for f in finds):
                name = value_text.strip()
                if ent.name_key(name):
                    item.add(ent.Found("org", ent.name_key(name), name, 0, len(name)), None, key)
    return item
