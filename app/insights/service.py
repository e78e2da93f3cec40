"""Entities of a case: computed after import, searched, counted, listed, and corrected by reviewers.

Entities are derived data: `refresh()` recomputes them for documents whose revision changed (as link
suggestions are), in batches, each one transaction. What a reviewer decides about an entity — a better name,
"these two spellings are one company", "this is not an entity" — is stored in `entity_corrections` under the
entity's (kind, normalised value) and copied onto the derived rows after every refresh, so it survives
re-extraction, re-import and reindex. Every correction is one transaction with its audit entry.

The search fields `email:`, `phone:`, `iban:`, `entity:` … are answered from these tables at query time,
like `tag:`; merged spellings answer for each other and hidden entities match nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.case import Case
from app.documents import part_texts
from app.insights import entities as ent
from app.insights import ner
from app.insights.finds import DocFinds, document_finds, meta_text
from app.settings import reviewer_name
from db.models import (
    AuditEntry,
    CaseSetting,
    Document,
    DocumentEntity,
    DocumentInsights,
    Entity,
    EntityCorrection,
    Mention,
    Part,
    utcnow,
)
from index.analysis import fold

log = logging.getLogger(__name__)

BATCH = 200
PASSAGE = 70  # characters either side of a mention
# Search fields answered from the entity tables (`date:` is the index's document date, so dates have none).
SEARCH_FIELDS = {
    "entity": None,
    "person": "person",
    "org": "org",
    "company": "company",
    "place": "place",
    "email": "email",
    "phone": "phone",
    "iban": "iban",
    "bic": "bic",
    "money": "money",
    "url": "url",
    "ip": "ip",
    "reference": "reference",
}
FACET_KINDS = ("person", "org", "company", "place", "email", "phone", "iban", "money", "reference")
FACET_TOP = 10
DEFAULT_PHONE_REGION = "US"
SORTS = {"documents", "-documents", "mentions", "-mentions", "name", "-name", "kind", "-kind"}


def _upsert_insights() -> Any:
    stmt = sqlite_insert(DocumentInsights.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["document_id"],
        set_={
            "revision": stmt.excluded.revision,
            "version": stmt.excluded.version,
            "text_date": stmt.excluded.text_date,
        },
    )


# Built once, executed with many rows (a statement built per batch is compiled again each time).
_UPSERT_INSIGHTS = _upsert_insights()
_ADD_ENTITY = sqlite_insert(Entity.__table__).on_conflict_do_nothing(index_elements=["kind", "value"])


class InsightsError(ValueError):
    """An entity action that cannot be done as asked; str() is for the reporter."""


@dataclass(frozen=True)
class EntityRow:
    id: int
    kind: str
    value: str
    name: str  # the reviewer's label, else the display form
    display: str
    label: str | None
    hidden: bool
    documents: int
    mentions: int
    aliases: list[dict[str, Any]] = field(default_factory=list)  # entities merged into this one

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EntityTable:
    total: int
    rows: list[EntityRow]
    kinds: dict[str, int]  # entities per kind (with the same filters, before paging)

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "kinds": self.kinds, "entities": [r.to_json() for r in self.rows]}


@dataclass(frozen=True)
class MentionInfo:
    document_id: int
    entity_id: int  # the entity as shown (after merges)
    kind: str
    value: str
    name: str
    text: str  # as written
    location: str  # "page 3", "Sheet1", "from" …
    part: int | None
    field: str | None
    start: int
    end: int
    before: str
    after: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _json_ids(ids: Iterable[int]) -> str:
    if not isinstance(ids, set | frozenset):
        ids = set(ids)
    return json.dumps(sorted(ids if all(type(i) is int for i in ids) else {int(i) for i in ids}))


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _pattern(text_: str, prefix: bool) -> str:
    """A LIKE pattern from a reporter's wildcard text (`*@enron.com`, `jeff*`)."""
    out = _like_escape(text_).replace("*", "%").replace("?", "_")
    return out + "%" if prefix and not out.endswith("%") else out


class InsightsService:
    def __init__(self, case: Case, reviewer: str | None = None) -> None:
        self.case = case
        self.reviewer = reviewer or reviewer_name()
        self._generation = 0
        self._stored_by_import = False  # entities stored by an import's batches, corrections still to copy
        self._facet_cache: tuple[frozenset[int], int, float, dict[str, dict[str, int]]] | None = None

    # -- configuration -----------------------------------------------------------------------------
    def rules(self) -> ent.Rules:
        from app.review import suggest

        patterns = self.case.setting("reference_patterns") or suggest.DEFAULT_REFERENCE_PATTERNS
        return ent.Rules(region=self.phone_region(), references=tuple(suggest.compile_patterns(patterns)))

    def version(self) -> str:
        """What the stored entities were computed with; a change makes every document stale."""
        model = ner.model_name()
        region = self.phone_region()
        return (
            ent.RULES_VERSION
            + (f"+ner:{model}" if model else "")
            + (f"+phone:{region}" if region != DEFAULT_PHONE_REGION else "")
        )

    def phone_region(self) -> str:
        """The region national phone numbers (without a country code) are read for: `US` unless set."""
        return str(self.case.setting("phone_region") or DEFAULT_PHONE_REGION).upper()

    def set_phone_region(self, region: str) -> str:
        """Set the case's phone region (ISO 3166 code, e.g. `DE`); audited. Returns the region now set.

        Stored entities were read for the old region, so every document becomes stale and the next
        `refresh()` (after an import, or the `entities` command) reads its numbers again.
        """
        import phonenumbers

        self._writable()
        code = (region or "").strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise InsightsError(
                f"unknown phone region {region!r}: use a two-letter country code such as US, GB, DE or CN"
            )
        old = self.phone_region()
        if code == old:
            return code
        with self.case.transaction() as s:
            s.merge(CaseSetting(key="phone_region", value=code))
            s.add(
                AuditEntry(
                    actor=self.reviewer,
                    action="setting_phone_region",
                    document_id=None,
                    detail={"old": old, "new": code},
                )
            )
        self._changed()
        return code

    @staticmethod
    def ner_status() -> dict[str, Any]:
        """Whether people/organisations/places in running text are found, and how to enable it if not."""
        return ner.status()

    def register(self, search: Any) -> None:
        """Answer the entity search fields and facets from the store (called once by `Services`)."""
        for name, kind in SEARCH_FIELDS.items():
            search.store_resolvers[name] = self._resolver(kind)
        search.store_resolvers["entities"] = self._resolve_has_kind
        search.store_facets["entities"] = lambda s, ids: self._facet_data(s, ids)["entities"]
        for kind in FACET_KINDS:
            search.store_facets[kind] = lambda s, ids, kind=kind: self._facet_data(s, ids).get(kind, {})
        from app.insights.timeline import resolve_dated

        search.store_resolvers["dated"] = resolve_dated

    # -- computing ---------------------------------------------------------------------------------
    def stale_ids(self) -> list[int]:
        """Documents whose entities are missing, older than their text, or from other rules."""
        version = self.version()
        with self.case.reader() as s:
            q = (
                select(Document.id)
                .outerjoin(DocumentInsights, DocumentInsights.document_id == Document.id)
                .where(Document.status != "pending")
                .where(
                    DocumentInsights.document_id.is_(None)
                    | (DocumentInsights.revision != Document.revision)
                    | (DocumentInsights.version != version)
                )
                .order_by(Document.id)
            )
            return list(s.scalars(q))

    def all_ids(self) -> list[int]:
        with self.case.reader() as s:
            return list(
                s.scalars(select(Document.id).where(Document.status != "pending").order_by(Document.id))
            )

    def refresh(
        self, doc_ids: Sequence[int] | None = None, on_progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Compute entities of these documents (default: every stale one). Returns how many were computed."""
        if self.case.read_only:
            return 0
        ids = list(doc_ids) if doc_ids is not None else self.stale_ids()
        if not ids:
            return 0
        rules = self.rules()
        version = self.version()
        use_ner = ner.model_name() is not None
        done = 0
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            found = self._compute(chunk, rules, use_ner)
            with self.case.transaction() as s:
                self._store(s, found, version)
            done += len(chunk)
            if on_progress:
                on_progress(done, len(ids))
        self._finish_refresh()
        return done

    def _finish_refresh(self) -> None:
        with self.case.transaction() as s:
            self._collect_garbage(s)
            self._apply_corrections(s)
        self._stored_by_import = False
        self._generation += 1

    def refresh_after_import(self) -> int:
        """The import's last step: entities the workers did not send are computed, and reviewers'
        corrections copied onto new entities. Entities are derived: a failure is logged, never raised."""
        try:
            done = self.refresh()
            if not done and self._stored_by_import:
                self._finish_refresh()
            return done
        except Exception:
            log.exception("computing entities failed; `entities --refresh` retries")
            return 0

    def worker_rules(self) -> dict[str, Any]:
        """What an import's workers need to read entities (app/pipeline/derive.py). With a spaCy model
        installed, entities are left to `refresh` (one model in one process, not one per worker)."""
        return {
            "region": self.phone_region(),
            "entities_version": "" if ner.model_name() else self.version(),
        }

    def store_derived(self, s: Session, items: Sequence[tuple[int, int, dict[str, Any]]]) -> int:
        """Store entities a worker read from a document (in the importer's transaction). Items from other
        rules, or that cannot be read, are skipped: those documents stay stale for `refresh`."""
        version = self.version()
        found: list[DocFinds] = []
        for doc_id, revision, data in items:
            entities = data.get("entities")
            if not isinstance(entities, dict) or entities.get("version") != version:
                continue
            try:
                found.append(DocFinds.from_json(doc_id, revision, entities))
            except (TypeError, ValueError) as exc:
                log.warning("entities of document %d sent by a worker are unreadable: %s", doc_id, exc)
        if found:
            self._store(s, found, version)
            self._stored_by_import = True
        return len(found)

    def _compute(self, ids: list[int], rules: ent.Rules, use_ner: bool) -> list[DocFinds]:
        with self.case.reader() as s:
            docs = s.execute(
                select(Document.id, Document.revision, Document.status, Document.meta).where(
                    Document.id.in_(ids)
                )
            ).all()
            texts = part_texts(s, ids)
        out: list[DocFinds] = []
        ner_input: list[tuple[DocFinds, int, str]] = []
        for doc_id, revision, status, meta in docs:
            item = DocFinds(doc_id, revision)
            out.append(item)
            if status != "ok":
                continue
            document_finds(item, texts.get(doc_id, ()), meta, rules, ner_input if use_ner else None)
        if ner_input:
            for (item, ordinal, _), names in zip(
                ner_input, ner.find(t for _, _, t in ner_input), strict=True
            ):
                for f in names:
                    item.add(f, ordinal, None)
        return out

    def _store(self, s: Session, found: list[DocFinds], version: str) -> None:
        ids = [d.doc_id for d in found]
        s.execute(delete(Mention).where(Mention.document_id.in_(ids)))
        s.execute(delete(DocumentEntity).where(DocumentEntity.document_id.in_(ids)))
        firsts: dict[tuple[str, str], str] = {}
        for d in found:
            for key, first in d.first_text.items():
                firsts.setdefault(key, first)
        entity_ids = self._ensure_entities(s, firsts)
        doc_rows: list[dict[str, Any]] = []
        mention_rows: list[dict[str, Any]] = []
        for d in found:
            for key, count in d.counts.items():
                eid = entity_ids[key]
                doc_rows.append({"document_id": d.doc_id, "entity_id": eid, "count": count})
                for part, fld, start, end in d.positions[key]:
                    mention_rows.append(
                        {
                            "document_id": d.doc_id,
                            "entity_id": eid,
                            "part": part,
                            "field": fld,
                            "start": start,
                            "end": end,
                        }
                    )
        if doc_rows:
            s.execute(DocumentEntity.__table__.insert(), doc_rows)
        for start in range(0, len(mention_rows), 20_000):
            s.execute(Mention.__table__.insert(), mention_rows[start : start + 20_000])
        s.execute(
            _UPSERT_INSIGHTS,
            [
                {
                    "document_id": d.doc_id,
                    "revision": d.revision,
                    "version": version,
                    "text_date": d.text_date,
                }
                for d in found
            ],
        )

    def _ensure_entities(self, s: Session, firsts: dict[tuple[str, str], str]) -> dict[tuple[str, str], int]:
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, value in firsts:
            by_kind[kind].append(value)
        out: dict[tuple[str, str], int] = {}

        def lookup(kind: str, values: list[str]) -> None:
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                for eid, value in s.execute(
                    select(Entity.id, Entity.value).where(Entity.kind == kind, Entity.value.in_(chunk))
                ):
                    out[(kind, value)] = eid

        for kind, values in by_kind.items():
            lookup(kind, values)
        missing = [key for key in firsts if key not in out]
        if missing:
            rows = [
                {
                    "kind": kind,
                    "value": value,
                    "display": ent.display_for(kind, value, firsts[(kind, value)]),
                    "hidden": False,
                }
                for kind, value in missing
            ]
            s.execute(_ADD_ENTITY, rows)
            again: dict[str, list[str]] = defaultdict(list)
            for kind, value in missing:
                again[kind].append(value)
            for kind, values in again.items():
                lookup(kind, values)
        return out

    def _collect_garbage(self, s: Session) -> None:
        """Drop entities no document mentions any more (their corrections stay, keyed by value)."""
        s.execute(
            text(
                "DELETE FROM entities WHERE id NOT IN (SELECT entity_id FROM document_entities) "
                "AND id NOT IN (SELECT merged_into FROM entities WHERE merged_into IS NOT NULL)"
            )
        )

    def _apply_corrections(self, s: Session) -> None:
        """Copy every reviewer's correction onto the entity rows (after a refresh created new rows)."""
        corrections = {(c.kind, c.value): c for c in s.scalars(select(EntityCorrection))}
        if not corrections:
            return
        keys = set(corrections) | {
            (c.merge_kind, c.merge_value) for c in corrections.values() if c.merge_kind and c.merge_value
        }
        rows: dict[tuple[str, str], Entity] = {}
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, value in keys:
            by_kind[kind].append(value)
        for kind, values in by_kind.items():
            for start in range(0, len(values), 500):
                for e in s.scalars(
                    select(Entity).where(Entity.kind == kind, Entity.value.in_(values[start : start + 500]))
                ):
                    rows[(e.kind, e.value)] = e
        for key, c in corrections.items():
            e = rows.get(key)
            if e is None:
                continue
            e.label, e.hidden = c.label, bool(c.hidden)
            target_key = _final_target(corrections, key)
            if target_key is None:
                e.merged_into = None
                continue
            target = rows.get(target_key)
            if target is None:  # the target's documents are gone: keep it as a name to group under
                target = Entity(
                    kind=target_key[0],
                    value=target_key[1],
                    display=c.merge_display or target_key[1],
                    hidden=False,
                )
                s.add(target)
                s.flush()
                rows[target_key] = target
                tc = corrections.get(target_key)
                if tc is not None:
                    target.label, target.hidden = tc.label, bool(tc.hidden)
            e.merged_into = target.id

    # -- the entity table --------------------------------------------------------------------------
    def entity_table(
        self,
        *,
        kind: str | Sequence[str] | None = None,
        text_filter: str | None = None,
        include_hidden: bool = False,
        sort: str = "-documents",
        limit: int = 200,
        offset: int = 0,
        doc_ids: Iterable[int] | None = None,
    ) -> EntityTable:
        """Entities (merged spellings counted under the entity they were merged into) with counts.

        `doc_ids` counts only within those documents (the entities of a search's results).
        """
        if sort not in SORTS:
            raise InsightsError(f"unknown sort {sort!r}: use {', '.join(sorted(SORTS))}")
        kinds = _kinds(kind)
        params: dict[str, Any] = {}
        where = ["1=1"]
        doc_filter = ""
        if doc_ids is not None:
            params["ids"] = _json_ids(doc_ids)
            doc_filter = "AND de.document_id IN (SELECT value FROM json_each(:ids))"
        member_filter = "" if include_hidden else "AND m.hidden = 0"
        if kinds:
            where.append("c.kind IN (SELECT value FROM json_each(:kinds))")
            params["kinds"] = json.dumps(kinds)
        if not include_hidden:
            where.append("c.hidden = 0")
        if text_filter and text_filter.strip():
            needle = "%" + _like_escape(fold(text_filter.strip())) + "%"
            params["needle"] = needle
            where.append(
                "(lower(c.display) LIKE :needle ESCAPE '\\' OR lower(coalesce(c.label, '')) LIKE :needle "
                "ESCAPE '\\' OR c.value LIKE :needle ESCAPE '\\' OR EXISTS (SELECT 1 FROM entities a "
                "WHERE a.merged_into = c.id AND (lower(a.display) LIKE :needle ESCAPE '\\' OR a.value LIKE "
                ":needle ESCAPE '\\')))"
            )
        order = {
            "documents": "documents ASC, name COLLATE NOCASE ASC",
            "-documents": "documents DESC, mentions DESC, name COLLATE NOCASE ASC",
            "mentions": "mentions ASC, name COLLATE NOCASE ASC",
            "-mentions": "mentions DESC, documents DESC, name COLLATE NOCASE ASC",
            "name": "name COLLATE NOCASE ASC, c.id ASC",
            "-name": "name COLLATE NOCASE DESC, c.id DESC",
            "kind": "c.kind ASC, documents DESC, name COLLATE NOCASE ASC",
            "-kind": "c.kind DESC, documents DESC, name COLLATE NOCASE ASC",
        }[sort]
        counts = f"""
            SELECT coalesce(m.merged_into, m.id) AS cid, count(DISTINCT de.document_id) AS documents,
                   sum(de.count) AS mentions
            FROM document_entities de JOIN entities m ON m.id = de.entity_id
            WHERE 1=1 {member_filter} {doc_filter}
            GROUP BY cid
        """
        base = f"""
            FROM ({counts}) g JOIN entities c ON c.id = g.cid
            WHERE {" AND ".join(where)}
        """
        with self.case.reader() as s:
            total = s.execute(text(f"SELECT count(*) {base}"), params).scalar() or 0
            per_kind = dict(s.execute(text(f"SELECT c.kind, count(*) {base} GROUP BY c.kind"), params).all())
            rows = s.execute(
                text(
                    f"SELECT c.id, c.kind, c.value, coalesce(c.label, c.display) AS name, c.display, c.label, "
                    f"c.hidden, g.documents, g.mentions {base} ORDER BY {order} LIMIT :limit OFFSET :offset"
                ),
                {**params, "limit": max(0, int(limit)), "offset": max(0, int(offset))},
            ).all()
            aliases = self._aliases(s, [r[0] for r in rows])
        return EntityTable(
            total=int(total),
            rows=[
                EntityRow(
                    id=r[0],
                    kind=r[1],
                    value=r[2],
                    name=r[3],
                    display=r[4],
                    label=r[5],
                    hidden=bool(r[6]),
                    documents=int(r[7] or 0),
                    mentions=int(r[8] or 0),
                    aliases=aliases.get(r[0], []),
                )
                for r in rows
            ],
            kinds=dict(sorted(per_kind.items())),
        )

    def _aliases(self, s: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        if not ids:
            return out
        for e in s.scalars(select(Entity).where(Entity.merged_into.in_(ids)).order_by(Entity.id)):
            out[e.merged_into].append(
                {"id": e.id, "kind": e.kind, "value": e.value, "display": e.display, "hidden": e.hidden}
            )
        return out

    def entity(self, ref: int | str) -> EntityRow:
        """One entity by id or `kind:value`, with its counts (merged spellings included)."""
        with self.case.reader() as s:
            e = self._find(s, ref)
            cid = e.merged_into or e.id
        table = self._row(cid)
        if table is not None:
            return table
        with self.case.reader() as s:
            c = s.get(Entity, cid)
            return EntityRow(c.id, c.kind, c.value, c.label or c.display, c.display, c.label, c.hidden, 0, 0)

    def _row(self, cid: int) -> EntityRow | None:
        with self.case.reader() as s:
            row = s.execute(
                text(
                    "SELECT count(DISTINCT de.document_id), sum(de.count) FROM document_entities de "
                    "JOIN entities m ON m.id = de.entity_id WHERE m.id = :id OR m.merged_into = :id"
                ),
                {"id": cid},
            ).one()
            c = s.get(Entity, cid)
            if c is None:
                return None
            return EntityRow(
                c.id,
                c.kind,
                c.value,
                c.label or c.display,
                c.display,
                c.label,
                c.hidden,
                int(row[0] or 0),
                int(row[1] or 0),
                self._aliases(s, [c.id]).get(c.id, []),
            )

    def _find(self, s: Session, ref: int | str) -> Entity:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            e = s.get(Entity, int(ref))
            if e is None:
                raise InsightsError(f"no entity with id {ref}")
            return e
        kind, sep, raw = str(ref).partition(":")
        kind = kind.strip().lower()
        if not sep or kind not in ent.KINDS:
            raise InsightsError(
                f"give an entity id or KIND:VALUE (kinds: {', '.join(ent.KINDS)}), not {ref!r}"
            )
        value = ent.normalise_query(kind, raw.strip().strip('"'), self.rules().region) or raw.strip()
        e = s.scalar(select(Entity).where(Entity.kind == kind, Entity.value == value))
        if e is None:
            raise InsightsError(f"no {kind} entity {raw.strip()!r} in this case")
        return e

    # -- mentions and passages ---------------------------------------------------------------------
    def mentions(self, doc_id: int, *, include_hidden: bool = False) -> list[MentionInfo]:
        """Every entity mention of one document, in reading order, with the passage around it."""
        from app.documents import DocumentNotFound

        with self.case.reader() as s:
            doc = s.get(Document, doc_id)
            if doc is None:
                raise DocumentNotFound(doc_id)
            rows = s.execute(
                select(Mention.part, Mention.field, Mention.start, Mention.end, Entity)
                .join(Entity, Entity.id == Mention.entity_id)
                .where(Mention.document_id == doc_id)
            ).all()
            return self._mention_infos(s, {doc_id: doc}, [(doc_id, *r) for r in rows], include_hidden)

    def entity_mentions(self, ref: int | str, *, limit: int = 200) -> list[MentionInfo]:
        """Where an entity (and what was merged into it) is mentioned across the case, with passages."""
        with self.case.reader() as s:
            e = self._find(s, ref)
            cid = e.merged_into or e.id
            members = list(
                s.scalars(select(Entity.id).where(or_(Entity.id == cid, Entity.merged_into == cid)))
            )
            rows = s.execute(
                select(Mention.document_id, Mention.part, Mention.field, Mention.start, Mention.end, Entity)
                .join(Entity, Entity.id == Mention.entity_id)
                .where(Mention.entity_id.in_(members))
                .order_by(Mention.document_id, Mention.id)
                .limit(max(1, limit))
            ).all()
            docs = {d.id: d for d in s.scalars(select(Document).where(Document.id.in_({r[0] for r in rows})))}
            return self._mention_infos(s, docs, [tuple(r) for r in rows], include_hidden=True)

    def _mention_infos(
        self, s: Session, docs: dict[int, Document], rows: list[tuple[Any, ...]], include_hidden: bool
    ) -> list[MentionInfo]:
        canon_ids = {r[5].merged_into for r in rows if r[5].merged_into}
        canon = (
            {e.id: e for e in s.scalars(select(Entity).where(Entity.id.in_(canon_ids)))} if canon_ids else {}
        )
        parts: dict[tuple[int, int], tuple[str, str, str]] = {}
        wanted = {(r[0], r[1]) for r in rows if r[1] is not None}
        for doc_id in {d for d, _ in wanted}:
            for ordinal, kind, label, part_text in s.execute(
                select(Part.ordinal, Part.kind, Part.label, Part.text).where(Part.document_id == doc_id)
            ):
                if (doc_id, ordinal) in wanted:
                    parts[(doc_id, ordinal)] = (kind, label, part_text or "")
        out: list[MentionInfo] = []
        for doc_id, part, fld, start, end, e in rows:
            shown = canon.get(e.merged_into, e) if e.merged_into else e
            if not include_hidden and (e.hidden or shown.hidden):
                continue
            if part is not None:
                kind, label, source = parts.get((doc_id, part), ("", str(part), ""))
                location = f"page {label}" if kind == "page" else label
            else:
                doc = docs.get(doc_id)
                source = meta_text((doc.meta or {}).get(fld, "")) if doc is not None else ""
                location = fld or ""
            before = _squash(source[max(0, start - PASSAGE) : start])
            after = _squash(source[end : end + PASSAGE])
            out.append(
                MentionInfo(
                    document_id=doc_id,
                    entity_id=shown.id,
                    kind=shown.kind,
                    value=shown.value,
                    name=shown.label or shown.display,
                    text=source[start:end],
                    location=location,
                    part=part,
                    field=fld,
                    start=start,
                    end=end,
                    before=("…" if start > PASSAGE else "") + before,
                    after=after + ("…" if end + PASSAGE < len(source) else ""),
                )
            )
        out.sort(key=lambda m: (m.document_id, -1 if m.part is None else m.part, m.start))
        return out

    # -- corrections (audited) ---------------------------------------------------------------------
    def rename(self, ref: int | str, name: str) -> EntityRow:
        """Give an entity (and the spellings merged into it) the name shown everywhere."""
        self._writable()
        name = " ".join((name or "").split())
        if not name or len(name) > 300:
            raise InsightsError("an entity's name is 1 to 300 characters")
        with self.case.transaction() as s:
            e = self._canonical(s, self._find(s, ref))
            old = e.label or e.display
            c = self._correction(s, e)
            c.label = None if name == e.display else name
            e.label = c.label
            self._audit(s, "entity_rename", e, old=old, new=name)
            cid = e.id
        self._changed()
        return self._row(cid)  # type: ignore[return-value]

    def merge(self, source: int | str, target: int | str) -> EntityRow:
        """Make `source` another spelling of `target`: it is counted, listed and found as `target`."""
        self._writable()
        with self.case.transaction() as s:
            src = self._find(s, source)
            dst = self._canonical(s, self._find(s, target))
            if src.id == dst.id or src.merged_into == dst.id:
                raise InsightsError(f"{src.display!r} is already {dst.label or dst.display!r}")
            members = list(s.scalars(select(Entity).where(Entity.merged_into == src.id)))
            c = self._correction(s, src)
            c.merge_kind, c.merge_value, c.merge_display = dst.kind, dst.value, dst.label or dst.display
            src.merged_into = dst.id
            # What was merged into the source now belongs to the target too (merges never chain).
            for m in members:
                mc = self._correction(s, m)
                mc.merge_kind, mc.merge_value, mc.merge_display = dst.kind, dst.value, c.merge_display
                m.merged_into = dst.id
            for mc in s.scalars(
                select(EntityCorrection).where(
                    EntityCorrection.merge_kind == src.kind, EntityCorrection.merge_value == src.value
                )
            ):
                mc.merge_kind, mc.merge_value, mc.merge_display = dst.kind, dst.value, c.merge_display
            self._audit(
                s,
                "entity_merge",
                src,
                target_kind=dst.kind,
                target_value=dst.value,
                target_name=dst.label or dst.display,
                moved=[m.value for m in members],
            )
            cid = dst.id
        self._changed()
        return self._row(cid)  # type: ignore[return-value]

    def unmerge(self, ref: int | str) -> EntityRow:
        """Undo a merge: the spelling becomes an entity of its own again."""
        self._writable()
        with self.case.transaction() as s:
            e = self._find(s, ref)
            if e.merged_into is None:
                raise InsightsError(f"{e.display!r} is not merged into another entity")
            target = s.get(Entity, e.merged_into)
            c = self._correction(s, e)
            c.merge_kind = c.merge_value = c.merge_display = None
            e.merged_into = None
            self._audit(
                s, "entity_unmerge", e, target_kind=target.kind if target else None,
                target_value=target.value if target else None,
            )  # fmt: skip
            self._drop_if_empty(s, c)
            eid = e.id
        self._changed()
        return self._row(eid)  # type: ignore[return-value]

    def hide(self, refs: Sequence[int | str], hidden: bool = True) -> int:
        """Hide entities (false positives) from search, facets, tables and graphs — or show them again."""
        self._writable()
        changed = 0
        with self.case.transaction() as s:
            for ref in refs:
                e = self._find(s, ref)
                if bool(e.hidden) == hidden:
                    continue
                c = self._correction(s, e)
                c.hidden = e.hidden = hidden
                self._audit(s, "entity_hide" if hidden else "entity_unhide", e)
                self._drop_if_empty(s, c)
                changed += 1
        self._changed()
        return changed

    def unhide(self, refs: Sequence[int | str]) -> int:
        return self.hide(refs, hidden=False)

    def corrections(self) -> list[dict[str, Any]]:
        with self.case.reader() as s:
            return [
                {
                    "kind": c.kind,
                    "value": c.value,
                    "label": c.label,
                    "hidden": c.hidden,
                    "merged_into": {"kind": c.merge_kind, "value": c.merge_value, "name": c.merge_display}
                    if c.merge_kind
                    else None,
                    "updated_at": c.updated_at.isoformat(timespec="seconds"),
                    "updated_by": c.updated_by,
                }
                for c in s.scalars(select(EntityCorrection).order_by(EntityCorrection.id))
            ]

    def _writable(self) -> None:
        if self.case.read_only:
            raise InsightsError("this case is open read-only (another Dossier has it open)")

    def _canonical(self, s: Session, e: Entity) -> Entity:
        return s.get(Entity, e.merged_into) if e.merged_into else e

    def _correction(self, s: Session, e: Entity) -> EntityCorrection:
        c = s.scalar(
            select(EntityCorrection).where(EntityCorrection.kind == e.kind, EntityCorrection.value == e.value)
        )
        if c is None:
            c = EntityCorrection(kind=e.kind, value=e.value, hidden=bool(e.hidden), label=e.label)
            s.add(c)
        c.updated_at, c.updated_by = utcnow(), self.reviewer
        return c

    def _drop_if_empty(self, s: Session, c: EntityCorrection) -> None:
        if not c.label and not c.hidden and not c.merge_kind:
            s.delete(c) if c.id is not None else s.expunge(c)

    def _audit(self, s: Session, action: str, e: Entity, **detail: Any) -> None:
        s.add(
            AuditEntry(
                actor=self.reviewer,
                action=action,
                document_id=None,
                detail={"kind": e.kind, "value": e.value, "name": e.label or e.display, **detail},
            )
        )

    def _changed(self) -> None:
        self._generation += 1
        self._facet_cache = None

    # -- search ------------------------------------------------------------------------------------
    def _resolver(self, kind: str | None) -> Callable[[Session, Any], set[int]]:
        def resolve(s: Session, leaf: Any) -> set[int]:
            return self.documents_matching(s, kind, leaf.text, prefix=leaf.kind == "prefix")

        return resolve

    def documents_matching(
        self, s: Session, kind: str | None, query: str, *, prefix: bool = False
    ) -> set[int]:
        """Documents mentioning an entity of `kind` (any kind when None) that `query` names."""
        matched = self._match(s, kind, query, prefix)
        if not matched:
            return set()
        return self._documents_of(s, matched)

    def _documents_of(self, s: Session, entity_ids: set[int]) -> set[int]:
        ids = _json_ids(entity_ids)
        return set(
            s.execute(
                text(
                    """
                    WITH matched AS (SELECT id, merged_into FROM entities
                                     WHERE id IN (SELECT value FROM json_each(:ids))),
                         canon AS (SELECT DISTINCT coalesce(m.merged_into, m.id) AS id FROM matched m),
                         groups AS (SELECT e.id FROM entities e JOIN canon c
                                    ON (e.id = c.id OR e.merged_into = c.id)
                                    JOIN entities ce ON ce.id = c.id
                                    WHERE e.hidden = 0 AND ce.hidden = 0)
                    SELECT DISTINCT document_id FROM document_entities
                    WHERE entity_id IN (SELECT id FROM groups)
                    """
                ),
                {"ids": ids},
            ).scalars()
        )

    def _match(self, s: Session, kind: str | None, query: str, prefix: bool) -> set[int]:
        query = query.strip().strip('"').strip()
        if not query:
            return set()
        kinds = [kind] if kind else [k for k in ent.KINDS if k != "date"]
        if prefix or "*" in query or "?" in query:
            pattern = _pattern(fold(query), prefix)
            conds = [
                Entity.value.like(pattern, escape="\\"),
                func.lower(Entity.display).like(pattern, escape="\\"),
            ]
            conds.append(func.lower(func.coalesce(Entity.label, "")).like(pattern, escape="\\"))
            if kind in (None, "iban", "bic", "reference"):
                conds.append(Entity.value.like(_pattern(query.replace(" ", "").upper(), prefix), escape="\\"))
            return set(s.scalars(select(Entity.id).where(Entity.kind.in_(kinds), or_(*conds))))
        region = self.rules().region
        found: set[int] = set()
        names: list[str] = []
        for k in kinds:
            value = ent.normalise_query(k, query, region)
            cond = None
            if k == "phone":
                if value:
                    cond = Entity.value == value
                else:
                    digits = re.sub(r"\D", "", query)
                    if len(digits) >= 6 and not re.search(r"[^\d\s()+.\-/]", query):
                        cond = Entity.value.like("%" + digits)
            elif value is None:
                continue
            elif k == "money" and value.startswith("* "):
                cond = Entity.value.like("% " + _like_escape(value[2:]), escape="\\")
            elif k == "url":
                cond = Entity.value.like("%" + _like_escape(value) + "%", escape="\\")
            elif k in ent.NAME_KINDS:
                names.append(k)
                cond = or_(Entity.value == value, Entity.value.like(_like_escape(value) + " %", escape="\\"))
            else:
                cond = Entity.value == value
            if cond is not None:
                found.update(s.scalars(select(Entity.id).where(Entity.kind == k, cond)))
        # Reviewers' names match too (a renamed entity is found by its new name).
        key = ent.name_key(query)
        if key:
            for eid, label in s.execute(
                select(Entity.id, Entity.label).where(Entity.label.is_not(None), Entity.kind.in_(kinds))
            ):
                label_key = ent.name_key(label)
                if label_key == key or label_key.startswith(key + " "):
                    found.add(eid)
        return found

    def _resolve_has_kind(self, s: Session, leaf: Any) -> set[int]:
        """Filter `entities: KIND` (from the kinds facet): documents with a visible entity of that kind."""
        kind = leaf.text.strip().lower()
        return set(
            s.scalars(
                select(DocumentEntity.document_id)
                .join(Entity, Entity.id == DocumentEntity.entity_id)
                .where(Entity.kind == kind, Entity.hidden.is_(False))
                .distinct()
            )
        )

    def _facet_data(self, s: Session, ids: set[int]) -> dict[str, dict[str, int]]:
        key = frozenset(ids)
        cached = self._facet_cache
        if cached and cached[0] == key and cached[1] == self._generation and time.monotonic() - cached[2] < 5:
            return cached[3]
        data: dict[str, dict[str, int]] = {"entities": {}}
        if ids and s.execute(text("SELECT 1 FROM document_entities LIMIT 1")).first() is not None:
            params = {"ids": _json_ids(ids)}
            visible = """
                FROM document_entities de JOIN entities m ON m.id = de.entity_id
                JOIN entities c ON c.id = coalesce(m.merged_into, m.id)
                WHERE de.document_id IN (SELECT value FROM json_each(:ids)) AND m.hidden = 0 AND c.hidden = 0
            """
            kinds = s.execute(
                text(f"SELECT c.kind, count(DISTINCT de.document_id) {visible} GROUP BY c.kind"), params
            ).all()
            data["entities"] = dict(sorted(kinds, key=lambda kv: (-kv[1], kv[0])))
            ranked: dict[str, Counter[str]] = defaultdict(Counter)
            for kind, name, count in s.execute(
                text(
                    f"SELECT c.kind, coalesce(c.label, c.display), count(DISTINCT de.document_id) {visible} "
                    "AND c.kind IN (SELECT value FROM json_each(:kinds)) GROUP BY c.id"
                ),
                {**params, "kinds": json.dumps(FACET_KINDS)},
            ):
                ranked[kind][name] += count
            for kind, counter in ranked.items():
                data[kind] = dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_TOP])
        self._facet_cache = (key, self._generation, time.monotonic(), data)
        return data


def _final_target(
    corrections: dict[tuple[str, str], EntityCorrection], key: tuple[str, str]
) -> tuple[str, str] | None:
    c = corrections.get(key)
    if c is None or not c.merge_kind or not c.merge_value:
        return None
    target = (c.merge_kind, c.merge_value)
    seen = {key}
    while target not in seen:
        seen.add(target)
        nxt = corrections.get(target)
        if nxt is None or not nxt.merge_kind or not nxt.merge_value:
            return target
        target = (nxt.merge_kind, nxt.merge_value)
    return None  # a cycle: leave the entity on its own


def _kinds(kind: str | Sequence[str] | None) -> list[str]:
    if kind is None:
        return []
    kinds = [kind] if isinstance(kind, str) else list(kind)
    kinds = [k.strip().lower() for k in kinds if k and k.strip()]
    unknown = [k for k in kinds if k not in ent.KINDS]
    if unknown:
        raise InsightsError(f"unknown entity kind {unknown[0]!r}: use {', '.join(ent.KINDS)}")
    return kinds


_WS = re.compile(r"\s+")


def _squash(text_: str) -> str:
    return _WS.sub(" ", text_)
