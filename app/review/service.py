"""Review: tags, review status, notes, links and suggestions, and the audit trail of all of them.

Every action is one transaction that changes the data and appends its audit entry together, committed
(SQLite, `synchronous=FULL`) before the method returns: an acknowledged action survives a crash.
Nothing here touches the search index: `tag:`, `status:` and `note:` are answered from these tables.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.case import Case
from app.documents import DocumentNotFound, display_title
from app.review import suggest
from app.settings import reviewer_name
from db.models import (
    AuditEntry as AuditRow,
)
from db.models import (
    Document,
    DocumentTag,
    Email,
    Link,
    Note,
    Relation,
    Source,
    Suggestion,
    Tag,
    utcnow,
)

log = logging.getLogger(__name__)

REVIEW_STATUSES = ("unreviewed", "relevant", "not_relevant", "follow_up")
TAG_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Documents per link-suggestion pass: candidates whose band values recur across passes are read once per
# pass, so larger passes read far fewer rows; the write lock is held only for the final insert of each.
SUGGEST_BATCH = 1000


class ReviewError(Exception):
    """A review action that cannot be done as asked; str() is for the reporter."""


@dataclass(frozen=True)
class TagInfo:
    id: int
    name: str
    color: str
    description: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class NoteInfo:
    id: int
    document_id: int
    author: str
    text: str
    page: int | None
    cell: str | None
    quote: str | None
    created_at: str
    updated_at: str
    uid: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LinkInfo:
    id: str
    source_id: int
    target_id: int
    other_id: int
    other_title: str
    relation: str
    note: str
    direction: str  # out | in
    automatic: bool
    created_by: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SuggestionInfo:
    id: int
    other_id: int
    other_title: str
    kind: str
    detail: str
    score: float
    state: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LinksView:
    links: list[LinkInfo] = field(default_factory=list)
    suggestions: list[SuggestionInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "links": [x.to_json() for x in self.links],
            "suggestions": [x.to_json() for x in self.suggestions],
        }


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    document_id: int | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _iso(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


class ReviewService:
    def __init__(self, case: Case, reviewer: str | None = None) -> None:
        self.case = case
        self.reviewer = reviewer or reviewer_name()

    # -- plumbing ----------------------------------------------------------------------------------
    def _audit(self, s: Session, action: str, doc_id: int | None = None, **detail: Any) -> None:
        s.add(AuditRow(actor=self.reviewer, action=action, document_id=doc_id, detail=detail))

    def _require_docs(self, s: Session, doc_ids: Iterable[int]) -> list[int]:
        ids = sorted(set(int(i) for i in doc_ids))
        if not ids:
            raise ReviewError("no documents given")
        found = set()
        for start in range(0, len(ids), 900):
            found.update(s.scalars(select(Document.id).where(Document.id.in_(ids[start : start + 900]))))
        missing = [i for i in ids if i not in found]
        if missing:
            raise DocumentNotFound(missing[0])
        return ids

    def _writable(self) -> None:
        if self.case.read_only:
            raise ReviewError("this case is open read-only (another Dossier has it open)")

    # -- tags --------------------------------------------------------------------------------------
    def list_tags(self) -> list[TagInfo]:
        with self.case.reader() as s:
            counts = dict(
                s.execute(
                    select(DocumentTag.tag_id, func.count(DocumentTag.document_id)).group_by(
                        DocumentTag.tag_id
                    )
                ).all()
            )
            return [
                TagInfo(t.id, t.name, t.color, t.description, counts.get(t.id, 0))
                for t in s.scalars(select(Tag).order_by(Tag.key))
            ]

    def tags_of(self, doc_id: int) -> list[TagInfo]:
        with self.case.reader() as s:
            rows = s.scalars(
                select(Tag)
                .join(DocumentTag, DocumentTag.tag_id == Tag.id)
                .where(DocumentTag.document_id == doc_id)
                .order_by(Tag.key)
            )
            return [TagInfo(t.id, t.name, t.color, t.description, 0) for t in rows]

    def _tag(self, s: Session, name: str, *, create: bool, color: str | None = None) -> Tag:
        clean = normalise_tag_name(name)
        tag = s.scalar(select(Tag).where(Tag.key == clean.casefold()))
        if tag is None:
            if not create:
                raise ReviewError(f"no tag named {clean!r}")
            count = s.scalar(select(func.count(Tag.id))) or 0
            tag = Tag(
                name=clean,
                key=clean.casefold(),
                color=_checked_color(color) if color else TAG_COLORS[count % len(TAG_COLORS)],
                created_by=self.reviewer,
            )
            s.add(tag)
            s.flush()
            self._audit(s, "tag_create", None, tag=clean, color=tag.color)
        return tag

    def create_tag(self, name: str, *, color: str | None = None, description: str = "") -> TagInfo:
        self._writable()
        with self.case.transaction() as s:
            tag = self._tag(s, name, create=True, color=color)
            if description:
                tag.description = description
            return TagInfo(tag.id, tag.name, tag.color, tag.description, 0)

    def add_tag(self, name: str, doc_ids: Sequence[int], *, color: str | None = None) -> int:
        self._writable()
        with self.case.transaction() as s:
            ids = self._require_docs(s, doc_ids)
            tag = self._tag(s, name, create=True, color=color)
            have = set(s.scalars(select(DocumentTag.document_id).where(DocumentTag.tag_id == tag.id)))
            new = [i for i in ids if i not in have]
            if new:
                s.execute(
                    DocumentTag.__table__.insert(),
                    [
                        {
                            "document_id": i,
                            "tag_id": tag.id,
                            "created_at": utcnow(),
                            "created_by": self.reviewer,
                        }
                        for i in new
                    ],
                )
                for i in new:
                    self._audit(s, "tag", i, tag=tag.name)
            return len(new)

    def remove_tag(self, name: str, doc_ids: Sequence[int]) -> int:
        self._writable()
        with self.case.transaction() as s:
            ids = self._require_docs(s, doc_ids)
            tag = self._tag(s, name, create=False)
            have = set(
                s.scalars(
                    select(DocumentTag.document_id).where(
                        DocumentTag.tag_id == tag.id, DocumentTag.document_id.in_(ids)
                    )
                )
            )
            if have:
                s.execute(
                    delete(DocumentTag).where(DocumentTag.tag_id == tag.id, DocumentTag.document_id.in_(have))
                )
                for i in sorted(have):
                    self._audit(s, "untag", i, tag=tag.name)
            return len(have)

    def rename_tag(self, old: str, new: str) -> TagInfo:
        """Rename a tag and, with it, its nested tags (`contracts/…`); a bare parent renames its children."""
        self._writable()
        with self.case.transaction() as s:
            old_name, new_name = normalise_tag_name(old), normalise_tag_name(new)
            tag = s.scalar(select(Tag).where(Tag.key == old_name.casefold()))
            children = list(
                s.scalars(
                    select(Tag).where(Tag.key.like(escape_like(old_name.casefold()) + "/%", escape="\\"))
                )
            )
            if tag is None and not children:
                raise ReviewError(f"no tag named {old_name!r}")
            for item in ([tag] if tag else []) + children:
                renamed = new_name + item.name[len(old_name) :]
                clash = s.scalar(select(Tag).where(Tag.key == renamed.casefold()))
                if clash is not None and clash.id != item.id:
                    raise ReviewError(f"a tag named {clash.name!r} exists; merge the two instead")
                item.name, item.key = renamed, renamed.casefold()
            s.flush()
            self._audit(s, "tag_rename", None, old=old_name, new=new_name)
            target = tag or children[0]
            count = s.scalar(select(func.count()).where(DocumentTag.tag_id == target.id)) or 0
            return TagInfo(target.id, target.name, target.color, target.description, count)

    def merge_tags(self, source: str, target: str) -> TagInfo:
        """Move every assignment of `source` to `target`, then delete `source`."""
        self._writable()
        with self.case.transaction() as s:
            src = self._tag(s, source, create=False)
            dst = self._tag(s, target, create=True)
            if src.id == dst.id:
                raise ReviewError("a tag cannot be merged into itself")
            have = set(s.scalars(select(DocumentTag.document_id).where(DocumentTag.tag_id == dst.id)))
            moving = list(s.scalars(select(DocumentTag.document_id).where(DocumentTag.tag_id == src.id)))
            rows = [
                {"document_id": i, "tag_id": dst.id, "created_at": utcnow(), "created_by": self.reviewer}
                for i in moving
                if i not in have
            ]
            if rows:
                s.execute(DocumentTag.__table__.insert(), rows)
            s.execute(delete(DocumentTag).where(DocumentTag.tag_id == src.id))
            self._audit(s, "tag_merge", None, source=src.name, target=dst.name, documents=len(moving))
            s.delete(src)
            count = s.scalar(select(func.count()).where(DocumentTag.tag_id == dst.id)) or 0
            return TagInfo(dst.id, dst.name, dst.color, dst.description, count)

    def set_tag_color(self, name: str, color: str) -> TagInfo:
        self._writable()
        with self.case.transaction() as s:
            tag = self._tag(s, name, create=False)
            old, tag.color = tag.color, _checked_color(color)
            self._audit(s, "tag_color", None, tag=tag.name, old=old, new=tag.color)
            return TagInfo(tag.id, tag.name, tag.color, tag.description, 0)

    # -- review status -----------------------------------------------------------------------------
    def status_of(self, doc_id: int) -> str:
        with self.case.reader() as s:
            status = s.scalar(select(Document.review_status).where(Document.id == doc_id))
            if status is None:
                raise DocumentNotFound(doc_id)
            return status

    def set_status(self, status: str, doc_ids: Sequence[int]) -> int:
        self._writable()
        status = status.strip().lower().replace("-", "_").replace(" ", "_")
        if status not in REVIEW_STATUSES:
            raise ReviewError(f"unknown review status {status!r}; use one of {', '.join(REVIEW_STATUSES)}")
        with self.case.transaction() as s:
            ids = self._require_docs(s, doc_ids)
            changed = 0
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                for doc_id, old in s.execute(
                    select(Document.id, Document.review_status).where(Document.id.in_(chunk))
                ).all():
                    if old != status:
                        self._audit(s, "status", doc_id, old=old, new=status)
                        changed += 1
                s.execute(update(Document).where(Document.id.in_(chunk)).values(review_status=status))
            return changed

    # -- notes -------------------------------------------------------------------------------------
    def add_note(
        self,
        doc_id: int,
        text: str,
        *,
        page: int | None = None,
        cell: str | None = None,
        quote: str | None = None,
    ) -> NoteInfo:
        self._writable()
        text = (text or "").strip()
        if not text:
            raise ReviewError("a note needs some text")
        if page is not None and page < 1:
            raise ReviewError("page numbers start at 1")
        with self.case.transaction() as s:
            self._require_docs(s, [doc_id])
            now = utcnow()
            note = Note(
                uid=str(uuid.uuid4()),
                document_id=doc_id,
                author=self.reviewer,
                text=text,
                page=page,
                cell=cell or None,
                quote=quote or None,
                created_at=now,
                updated_at=now,
            )
            s.add(note)
            s.flush()
            self._audit(s, "note_add", doc_id, note_id=note.id, text=text, page=page, cell=cell, quote=quote)
            return _note_info(note)

    def edit_note(self, note_id: int, text: str) -> NoteInfo:
        self._writable()
        text = (text or "").strip()
        if not text:
            raise ReviewError("a note needs some text (delete it instead)")
        with self.case.transaction() as s:
            note = self._own_note(s, note_id)
            old, note.text, note.updated_at = note.text, text, utcnow()
            self._audit(s, "note_edit", note.document_id, note_id=note.id, old=old, new=text)
            return _note_info(note)

    def delete_note(self, note_id: int) -> None:
        self._writable()
        with self.case.transaction() as s:
            note = self._own_note(s, note_id)
            self._audit(s, "note_delete", note.document_id, note_id=note.id, text=note.text)
            s.delete(note)

    def _own_note(self, s: Session, note_id: int) -> Note:
        note = s.get(Note, note_id)
        if note is None:
            raise ReviewError(f"no note with id {note_id}")
        if note.author != self.reviewer:
            raise ReviewError(f"note {note_id} was written by {note.author}; only its author can change it")
        return note

    def notes(self, doc_id: int) -> list[NoteInfo]:
        with self.case.reader() as s:
            return [
                _note_info(n)
                for n in s.scalars(select(Note).where(Note.document_id == doc_id).order_by(Note.id))
            ]

    # -- links -------------------------------------------------------------------------------------
    def relations(self) -> list[str]:
        with self.case.reader() as s:
            return list(s.scalars(select(Relation.name).order_by(Relation.name)))

    def add_relation(self, name: str, description: str = "") -> None:
        self._writable()
        clean = re.sub(r"\s+", "_", name.strip().lower())
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,59}", clean):
            raise ReviewError("a relation name is a word of letters, digits and underscores")
        with self.case.transaction() as s:
            if s.get(Relation, clean) is None:
                s.add(Relation(name=clean, description=description))
                self._audit(s, "relation_add", None, relation=clean)

    def add_link(
        self, source_id: int, target_id: int, relation: str, note: str = "", *, origin: str = "reviewer"
    ) -> LinkInfo:
        self._writable()
        if source_id == target_id:
            raise ReviewError("a document cannot be linked to itself")
        with self.case.transaction() as s:
            return self._add_link(s, source_id, target_id, relation, note, origin)

    def _add_link(
        self, s: Session, source_id: int, target_id: int, relation: str, note: str, origin: str
    ) -> LinkInfo:
        self._require_docs(s, [source_id, target_id])
        relation = relation.strip().lower()
        if s.get(Relation, relation) is None:
            known = ", ".join(s.scalars(select(Relation.name).order_by(Relation.name)))
            raise ReviewError(f"unknown relation {relation!r}; known: {known} (add one with `relation add`)")
        existing = s.scalar(
            select(Link).where(
                Link.source_id == source_id, Link.target_id == target_id, Link.relation == relation
            )
        )
        if existing is not None:
            raise ReviewError(f"these documents are already linked as {relation} (link {existing.id})")
        link = Link(
            uid=str(uuid.uuid4()),
            source_id=source_id,
            target_id=target_id,
            relation=relation,
            note=note.strip(),
            origin=origin,
            created_by=self.reviewer,
        )
        s.add(link)
        s.flush()
        for doc in (source_id, target_id):
            self._audit(
                s,
                "link_add",
                doc,
                link_id=link.id,
                source=source_id,
                target=target_id,
                relation=relation,
                note=link.note,
            )
        other_title = display_title(s.get(Document, target_id))
        return LinkInfo(
            str(link.id),
            source_id,
            target_id,
            target_id,
            other_title,
            relation,
            link.note,
            "out",
            False,
            self.reviewer,
            _iso(link.created_at),
        )

    def remove_link(self, link_id: str | int) -> None:
        self._writable()
        text = str(link_id)
        if text.startswith("auto:"):
            raise ReviewError(
                "links the import found (attachments, archive members, replies) cannot be removed"
            )
        try:
            key = int(text)
        except ValueError as exc:
            raise ReviewError(f"no link with id {link_id}") from exc
        with self.case.transaction() as s:
            link = s.get(Link, key)
            if link is None:
                raise ReviewError(f"no link with id {link_id}")
            for doc in (link.source_id, link.target_id):
                self._audit(
                    s,
                    "link_remove",
                    doc,
                    link_id=link.id,
                    source=link.source_id,
                    target=link.target_id,
                    relation=link.relation,
                )
            s.delete(link)

    def links(self, doc_id: int) -> LinksView:
        with self.case.reader() as s:
            doc = s.get(Document, doc_id)
            if doc is None:
                raise DocumentNotFound(doc_id)
            out: list[LinkInfo] = []
            titles: dict[int, str] = {}

            def title(i: int) -> str:
                if i not in titles:
                    d = s.get(Document, i)
                    titles[i] = display_title(d) if d else f"document {i}"
                return titles[i]

            for link in s.scalars(
                select(Link).where(or_(Link.source_id == doc_id, Link.target_id == doc_id)).order_by(Link.id)
            ):
                outgoing = link.source_id == doc_id
                other = link.target_id if outgoing else link.source_id
                out.append(
                    LinkInfo(
                        str(link.id),
                        link.source_id,
                        link.target_id,
                        other,
                        title(other),
                        link.relation,
                        link.note,
                        "out" if outgoing else "in",
                        False,
                        link.created_by,
                        _iso(link.created_at),
                    )
                )
            out += self._automatic_links(s, doc, title)
            suggestions = [
                SuggestionInfo(
                    sg.id,
                    sg.b_id if sg.a_id == doc_id else sg.a_id,
                    title(sg.b_id if sg.a_id == doc_id else sg.a_id),
                    sg.kind,
                    sg.detail,
                    sg.score,
                    sg.state,
                )
                for sg in s.scalars(
                    select(Suggestion)
                    .where(or_(Suggestion.a_id == doc_id, Suggestion.b_id == doc_id))
                    .order_by(Suggestion.state != "open", Suggestion.score.desc(), Suggestion.id)
                )
            ]
            return LinksView(out, suggestions)

    def _automatic_links(self, s: Session, doc: Document, title: Any) -> list[LinkInfo]:
        """Links the import knows: containers and their members/attachments, and email replies."""
        out: list[LinkInfo] = []

        def auto(kind: str, source: int, target: int, relation: str, other: int, direction: str) -> LinkInfo:
            return LinkInfo(
                f"auto:{kind}:{source}:{target}",
                source,
                target,
                other,
                title(other),
                relation,
                "",
                direction,
                True,
                "import",
                "",
            )

        relations = {
            r.parent_document_id: r.relation
            for r in s.scalars(
                select(Source).where(Source.document_id == doc.id, Source.parent_document_id.is_not(None))
            )
        }
        for parent_id, rel in relations.items():
            relation = (
                "attachment_of"
                if rel in ("attachment", "embedded")
                else ("message_of" if rel == "message" else "member_of")
            )
            out.append(auto("parent", doc.id, parent_id, relation, parent_id, "out"))
        for child_id, rel in s.execute(
            select(Source.document_id, Source.relation).where(Source.parent_document_id == doc.id)
        ).all():
            relation = (
                "attachment_of"
                if rel in ("attachment", "embedded")
                else ("message_of" if rel == "message" else "member_of")
            )
            out.append(auto("parent", child_id, doc.id, relation, child_id, "in"))
        email = s.get(Email, doc.id)
        if email is not None:
            if email.in_reply_to:
                for other in s.scalars(
                    select(Email.document_id).where(
                        Email.message_id == email.in_reply_to, Email.document_id != doc.id
                    )
                ):
                    out.append(auto("reply", doc.id, other, "reply_to", other, "out"))
            if email.message_id:
                for other in s.scalars(
                    select(Email.document_id).where(
                        Email.in_reply_to == email.message_id, Email.document_id != doc.id
                    )
                ):
                    out.append(auto("reply", other, doc.id, "reply_to", other, "in"))
        return out

    # -- suggestions -------------------------------------------------------------------------------
    def refresh_features(self, doc_ids: Sequence[int] | None = None) -> list[int]:
        """Recompute the suggestion features of changed documents (default: every stale one); their ids."""
        if self.case.read_only:
            return []
        patterns = suggest.compile_patterns(
            self.case.setting("reference_patterns") or suggest.DEFAULT_REFERENCE_PATTERNS
        )
        with self.case.reader() as s:
            ids = list(doc_ids) if doc_ids is not None else suggest.stale_feature_ids(s)
        changed: list[int] = []
        for start in range(0, len(ids), 200):
            with self.case.transaction() as s:
                changed += suggest.refresh_features(s, ids[start : start + 200], patterns)
        return changed

    def reference_patterns(self) -> list[str]:
        return list(self.case.setting("reference_patterns") or suggest.DEFAULT_REFERENCE_PATTERNS)

    def store_derived(self, s: Session, items: Sequence[tuple[int, int, dict[str, Any]]]) -> list[int]:
        """Store suggestion features a worker computed (in the importer's transaction); their ids.
        Items that cannot be read are skipped: those documents stay stale for `refresh_features`."""
        computed = []
        for doc_id, revision, data in items:
            features = data.get("features")
            if not isinstance(features, dict):
                continue
            try:
                raw = features.get("signature")
                sig = np.frombuffer(bytes.fromhex(raw), dtype=np.uint64) if raw else None
                if sig is not None and sig.size != suggest.NUM_PERM:
                    raise ValueError("signature of the wrong size")
                refs = [str(r) for r in features.get("references") or ()]
            except (TypeError, ValueError) as exc:
                log.warning("features of document %d sent by a worker are unreadable: %s", doc_id, exc)
                continue
            computed.append((doc_id, revision, sig, refs))
        suggest.store_features(s, computed)
        return [doc_id for doc_id, _, _, _ in computed]

    def refresh_suggestions(
        self, doc_ids: Sequence[int] | None = None, *, changed: Sequence[int] = ()
    ) -> int:
        """Recompute features of changed documents and propose links involving them.

        `changed`: documents whose features are already stored (an import stores those its workers
        computed, in each batch's transaction) and still need their suggestions.
        """
        if self.case.read_only:
            return 0
        # Features first, then suggestions, so every document's references are read once for the whole
        # list rather than once per batch.
        todo = list(dict.fromkeys([*changed, *self.refresh_features(doc_ids)]))
        if not todo:
            return 0
        with self.case.reader() as s:
            holders = suggest.reference_holders(s)
        created = 0
        for start in range(0, len(todo), SUGGEST_BATCH):
            with self.case.transaction() as s:
                created += suggest.refresh_suggestions(s, todo[start : start + SUGGEST_BATCH], holders)
        return created

    def accept_suggestion(self, suggestion_id: int, relation: str | None = None) -> LinkInfo:
        self._writable()
        with self.case.transaction() as s:
            sg = self._open_suggestion(s, suggestion_id)
            rel = relation or (
                "same_work_order"
                if sg.kind == "reference" and sg.detail.startswith("WO")
                else "references"
                if sg.kind == "reference"
                else "duplicate_of"
            )
            link = self._add_link(s, sg.a_id, sg.b_id, rel, sg.detail, "suggestion")
            sg.state, sg.decided_by, sg.decided_at = "accepted", self.reviewer, utcnow()
            self._audit(s, "suggestion_accept", sg.a_id, suggestion_id=sg.id, other=sg.b_id, relation=rel)
            return link

    def dismiss_suggestion(self, suggestion_id: int) -> None:
        self._writable()
        with self.case.transaction() as s:
            sg = self._open_suggestion(s, suggestion_id)
            sg.state, sg.decided_by, sg.decided_at = "dismissed", self.reviewer, utcnow()
            self._audit(
                s,
                "suggestion_dismiss",
                sg.a_id,
                suggestion_id=sg.id,
                other=sg.b_id,
                kind=sg.kind,
                detail=sg.detail,
            )

    def _open_suggestion(self, s: Session, suggestion_id: int) -> Suggestion:
        sg = s.get(Suggestion, suggestion_id)
        if sg is None:
            raise ReviewError(f"no suggestion with id {suggestion_id}")
        if sg.state != "open":
            raise ReviewError(f"suggestion {suggestion_id} was already {sg.state} by {sg.decided_by}")
        return sg

    # -- audit and deletion ------------------------------------------------------------------------
    def audit(self, doc_id: int | None = None, limit: int = 500) -> list[AuditEntry]:
        with self.case.reader() as s:
            q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if doc_id is not None:
                q = q.where(AuditRow.document_id == doc_id)
            return [
                AuditEntry(r.id, _iso(r.at), r.actor, r.action, r.document_id, dict(r.detail or {}))
                for r in s.scalars(q)
            ]

    def delete_document(self, doc_id: int) -> list[int]:
        """Remove a document and everything found inside it from the case (audited). Returns deleted ids.

        The stored originals stay in blobs/ (content-addressed, possibly shared); the index entries go.
        """
        self._writable()
        with self.case.transaction() as s:
            self._require_docs(s, [doc_id])
            ids = [doc_id]
            frontier = [doc_id]
            while frontier:
                frontier = list(s.scalars(select(Document.id).where(Document.parent_id.in_(frontier))))
                ids += frontier
            for i in ids:
                d = s.get(Document, i)
                self._audit(
                    s,
                    "delete",
                    i,
                    title=display_title(d),
                    sha256=d.sha256,
                    paths=[p for p in s.scalars(select(Source.path).where(Source.document_id == i))],
                )
            s.execute(delete(Document).where(Document.id.in_(ids)))
        return ids


def _note_info(n: Note) -> NoteInfo:
    return NoteInfo(
        n.id,
        n.document_id,
        n.author,
        n.text,
        n.page,
        n.cell,
        n.quote,
        _iso(n.created_at),
        _iso(n.updated_at),
        n.uid,
    )


def normalise_tag_name(name: str) -> str:
    parts = [re.sub(r"\s+", " ", p).strip() for p in (name or "").split("/")]
    parts = [p for p in parts if p]
    if not parts:
        raise ReviewError("a tag needs a name")
    clean = "/".join(parts)
    if len(clean) > 200:
        raise ReviewError("tag names are at most 200 characters")
    return clean


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _checked_color(color: str) -> str:
    color = color.strip()
    if not _COLOR.match(color):
        raise ReviewError(f"colour {color!r} is not #rrggbb")
    return color.lower()


# -- search integration: fields answered from the review tables -------------------------------------


def resolve_tag(s: Session, leaf: Any) -> set[int]:
    """`tag:contracts` matches `contracts` and nested `contracts/…`; `tag:contr*` by prefix."""
    key = normalise_tag_name(leaf.text).casefold() if leaf.text.strip("/ ") else ""
    if leaf.kind == "prefix":
        cond = Tag.key.like(escape_like(key) + "%", escape="\\")
    else:
        cond = or_(Tag.key == key, Tag.key.like(escape_like(key) + "/%", escape="\\"))
    return set(s.scalars(select(DocumentTag.document_id).join(Tag, Tag.id == DocumentTag.tag_id).where(cond)))


def resolve_note(s: Session, leaf: Any) -> set[int]:
    words = [leaf.text] if leaf.kind == "phrase" else leaf.text.split()
    q = select(Note.document_id)
    for w in words:
        q = q.where(func.lower(Note.text).like("%" + escape_like(w.lower()) + "%", escape="\\"))
    return set(s.scalars(q))


def tag_facet(s: Session, ids: set[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, doc_id in s.execute(
        select(Tag.name, DocumentTag.document_id).join(DocumentTag, DocumentTag.tag_id == Tag.id)
    ):
        if doc_id in ids:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
