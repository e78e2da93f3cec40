"""Merging a teammate's bundle: verify everything first, import what is missing, then union review data.

Review data merges so that A→B and B→A converge: tags, notes, links and relations are unions (notes and
links by their uid); a review status that differs goes to the most recent decision, and the other value is
recorded as a conflict the reporter sees (never overwritten silently). Merging the same bundle twice
changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select

from app.bundle.export import FORMAT, FORMAT_VERSION, BundleError, safe_file_name
from app.case import Case
from app.pipeline.importer import Importer, ImportOptions
from db.models import AuditEntry, Document, DocumentTag, Link, MergeConflict, Note, Relation, Tag

CHUNK = 1 << 20


@dataclass
class MergeReport:
    bundle: str
    creator: str
    documents_in_bundle: int
    documents_added: int = 0
    documents_present: int = 0
    originals_missing: int = 0
    tags_added: int = 0
    notes_added: int = 0
    notes_updated: int = 0
    links_added: int = 0
    links_skipped: int = 0  # the other end is not in this case
    statuses_set: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(
            (
                self.documents_added,
                self.tags_added,
                self.notes_added,
                self.notes_updated,
                self.links_added,
                self.statuses_set,
                self.conflicts,
            )
        )

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "changed": self.changed}


def read_verified(bundle: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Open a bundle and check every file against the manifest. Raises BundleError, changing nothing."""
    try:
        zf = zipfile.ZipFile(bundle)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{bundle.name} is not a readable bundle ({exc})") from exc
    with zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except KeyError as exc:
            raise BundleError(f"{bundle.name} has no manifest.json: not a Dossier bundle") from exc
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"the manifest of {bundle.name} is damaged") from exc
        if manifest.get("format") != FORMAT:
            raise BundleError(f"{bundle.name} is not a Dossier bundle")
        if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
            raise BundleError(
                f"{bundle.name} was written by a newer Dossier (format {manifest.get('format_version')})"
            )
        listed = {f["path"]: f for f in manifest.get("files", [])}
        present = set(zf.namelist()) - {"manifest.json"}
        if present - set(listed):
            raise BundleError(
                f"{bundle.name} was tampered with: {sorted(present - set(listed))[0]} is not in the manifest"
            )
        if set(listed) - present:
            raise BundleError(f"{bundle.name} is incomplete: {sorted(set(listed) - present)[0]} is missing")
        for name, entry in listed.items():
            pure = PurePosixPath(name)
            if pure.is_absolute() or ".." in pure.parts:
                raise BundleError(f"{bundle.name} names a file outside the bundle ({name})")
            digest = hashlib.sha256()
            size = 0
            try:
                with zf.open(name) as fh:
                    while chunk := fh.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise BundleError(f"{bundle.name} is damaged: {name} cannot be read") from exc
            if size != entry.get("size") or digest.hexdigest() != entry.get("sha256"):
                raise BundleError(
                    f"{bundle.name} was tampered with or damaged: {name} does not match its checksum"
                )
        records = [json.loads(zf.read(n)) for n in sorted(listed) if n.endswith("/document.json")]
    return manifest, records


def merge_bundle(
    case: Case,
    bundle: Path,
    *,
    reviewer: str,
    index: Any = None,
    on_progress: Callable[[Any], None] | None = None,
) -> MergeReport:
    bundle = Path(bundle)
    manifest, records = read_verified(bundle)
    creator = str(manifest.get("creator") or "unknown")
    report = MergeReport(bundle=bundle.name, creator=creator, documents_in_bundle=len(records))

    with case.reader() as s:
        have = set(
            s.scalars(select(Document.sha256).where(Document.sha256.in_([r["sha256"] for r in records])))
        )
    missing = [r for r in records if r["sha256"] not in have]
    report.documents_present = len(records) - len(missing)
    if missing:
        report.documents_added, report.originals_missing = _import_missing(
            case, bundle, missing, index, on_progress
        )

    with case.transaction() as s:
        ids = dict(
            s.execute(
                select(Document.sha256, Document.id).where(
                    Document.sha256.in_([r["sha256"] for r in records])
                )
            ).all()
        )
        _merge_review(s, records, ids, manifest, report, reviewer)
        if report.changed:
            s.add(
                AuditEntry(
                    actor=reviewer,
                    action="merge",
                    document_id=None,
                    detail={
                        "bundle": bundle.name,
                        "creator": creator,
                        **{k: v for k, v in report.to_json().items() if isinstance(v, int)},
                    },
                )
            )
    return report


def _import_missing(
    case: Case, bundle: Path, missing: list[dict[str, Any]], index: Any, on_progress: Any
) -> tuple[int, int]:
    work = case.tmp_dir / f"bundle-{uuid.uuid4().hex[:8]}"
    labels: dict[str, str] = {}
    no_original = 0
    try:
        with zipfile.ZipFile(bundle) as zf:
            for record in missing:
                if not record.get("original"):
                    no_original += 1
                    continue
                target = work / record["sha256"] / safe_file_name(record.get("file_name") or "", "original")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(record["original"]) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                first = (record.get("paths") or [record.get("file_name") or record["sha256"]])[0]
                labels[str(target)] = f"{bundle.name}//{first}"
        if labels:
            summary = Importer(case, ImportOptions(), index=index, on_progress=on_progress).run(
                [work], labels=labels
            )
            return summary.new, no_original
        return 0, no_original
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _merge_review(
    s: Any,
    records: list[dict[str, Any]],
    ids: dict[str, int],
    manifest: dict[str, Any],
    report: MergeReport,
    reviewer: str,
) -> None:
    tags = {t.key: t for t in s.scalars(select(Tag))}
    relations = set(s.scalars(select(Relation.name)))
    bundle_name, creator = report.bundle, report.creator
    for record in records:
        doc_id = ids.get(record["sha256"])
        if doc_id is None:
            continue
        for name in record.get("tags", []):
            tag = tags.get(name.casefold())
            if tag is None:
                tag = Tag(name=name, key=name.casefold(), created_by=creator)
                s.add(tag)
                s.flush()
                tags[tag.key] = tag
            if s.get(DocumentTag, (doc_id, tag.id)) is None:
                s.add(DocumentTag(document_id=doc_id, tag_id=tag.id, created_by=creator))
                s.add(
                    AuditEntry(
                        actor=creator,
                        action="tag",
                        document_id=doc_id,
                        detail={"tag": name, "merged_from": bundle_name},
                    )
                )
                report.tags_added += 1
        for n in record.get("notes", []):
            existing = s.scalar(select(Note).where(Note.uid == n["uid"]))
            updated = _dt(n["updated_at"])
            if existing is None:
                s.add(
                    Note(
                        uid=n["uid"],
                        document_id=doc_id,
                        author=n["author"],
                        text=n["text"],
                        page=n.get("page"),
                        cell=n.get("cell"),
                        quote=n.get("quote"),
                        created_at=_dt(n["created_at"]),
                        updated_at=updated,
                    )
                )
                s.add(
                    AuditEntry(
                        actor=n["author"],
                        action="note_add",
                        document_id=doc_id,
                        detail={"text": n["text"], "merged_from": bundle_name},
                    )
                )
                report.notes_added += 1
            elif existing.text != n["text"] and updated > existing.updated_at:
                s.add(
                    AuditEntry(
                        actor=n["author"],
                        action="note_edit",
                        document_id=doc_id,
                        detail={"old": existing.text, "new": n["text"], "merged_from": bundle_name},
                    )
                )
                existing.text, existing.updated_at = n["text"], updated
                report.notes_updated += 1
        for link in record.get("links", []):
            if s.scalar(select(Link.id).where(Link.uid == link["uid"])) is not None:
                continue
            src, dst = ids.get(link["source_sha256"]), ids.get(link["target_sha256"])
            if src is None or dst is None:
                src = src or s.scalar(select(Document.id).where(Document.sha256 == link["source_sha256"]))
                dst = dst or s.scalar(select(Document.id).where(Document.sha256 == link["target_sha256"]))
            if src is None or dst is None:
                report.links_skipped += 1
                continue
            if (
                s.scalar(
                    select(Link.id).where(
                        Link.source_id == src, Link.target_id == dst, Link.relation == link["relation"]
                    )
                )
                is not None
            ):
                continue
            if link["relation"] not in relations:
                s.add(Relation(name=link["relation"], description=""))
                s.flush()
                relations.add(link["relation"])
            s.add(
                Link(
                    uid=link["uid"],
                    source_id=src,
                    target_id=dst,
                    relation=link["relation"],
                    note=link.get("note", ""),
                    origin="bundle",
                    created_by=link.get("created_by", creator),
                    created_at=_dt(link["created_at"]),
                )
            )
            s.add(
                AuditEntry(
                    actor=link.get("created_by", creator),
                    action="link_add",
                    document_id=src,
                    detail={"relation": link["relation"], "merged_from": bundle_name},
                )
            )
            report.links_added += 1
        _merge_status(s, doc_id, record, report)


def _merge_status(s: Any, doc_id: int, record: dict[str, Any], report: MergeReport) -> None:
    theirs = record.get("review_status") or "unreviewed"
    theirs_at = _dt(record["review_status_at"]) if record.get("review_status_at") else None
    doc = s.get(Document, doc_id)
    mine = doc.review_status
    if theirs == mine or theirs_at is None:
        return
    last = s.scalar(
        select(AuditEntry)
        .where(AuditEntry.document_id == doc_id, AuditEntry.action == "status")
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
    mine_at = last.at if last else None
    if mine_at is None or theirs_at > mine_at:
        doc.review_status = theirs
        # Recorded at the time of the decision, so the other side's merge sees the same order of events.
        s.add(
            AuditEntry(
                at=theirs_at,
                actor=record.get("review_status_by") or report.creator,
                action="status",
                document_id=doc_id,
                detail={"old": mine, "new": theirs, "merged_from": report.bundle},
            )
        )
        report.statuses_set += 1
        kept, other = theirs, mine
        resolution = "bundle"
    else:
        kept, other = mine, theirs
        resolution = "local"
    if mine != "unreviewed" or resolution == "local":
        exists = s.scalar(
            select(MergeConflict.id).where(
                MergeConflict.document_id == doc_id,
                MergeConflict.field == "review_status",
                MergeConflict.kept_value == kept,
                MergeConflict.other_value == other,
            )
        )
        if exists is None:
            s.add(
                MergeConflict(
                    document_id=doc_id,
                    field="review_status",
                    kept_value=kept,
                    other_value=other,
                    resolution=resolution,
                    bundle=report.bundle,
                    bundle_creator=report.creator,
                )
            )
            report.conflicts.append(
                {
                    "document_id": doc_id,
                    "field": "review_status",
                    "kept": kept,
                    "other": other,
                    "resolution": resolution,
                }
            )


def _dt(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=None)


def list_conflicts(case: Case, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    with case.reader() as s:
        q = select(MergeConflict).order_by(MergeConflict.id)
        if not include_resolved:
            q = q.where(MergeConflict.resolved.is_(False))
        return [
            {
                "id": c.id,
                "document_id": c.document_id,
                "field": c.field,
                "kept": c.kept_value,
                "other": c.other_value,
                "resolution": c.resolution,
                "bundle": c.bundle,
                "bundle_creator": c.bundle_creator,
                "at": c.created_at.isoformat(timespec="seconds"),
                "resolved": c.resolved,
            }
            for c in s.scalars(q)
        ]


def resolve_conflict(case: Case, conflict_id: int, *, reviewer: str) -> None:
    with case.transaction() as s:
        c = s.get(MergeConflict, conflict_id)
        if c is None:
            raise BundleError(f"no conflict with id {conflict_id}")
        c.resolved = True
        s.add(
            AuditEntry(
                actor=reviewer,
                action="conflict_resolve",
                document_id=c.document_id,
                detail={"conflict": c.id, "kept": c.kept_value},
            )
        )


def conflict_values(conflict: dict[str, Any]) -> tuple[str, str]:
    """(this case's value, the bundle's value) of a conflict from `list_conflicts`."""
    if conflict["resolution"] == "local":
        return conflict["kept"], conflict["other"]
    return conflict["other"], conflict["kept"]


def settle_conflict(case: Case, conflict_id: int, choice: str, *, reviewer: str) -> str:
    """Decide a review-status conflict: `local` keeps this case's value, `theirs` takes the bundle's.

    The document's status is set to the chosen value (audited as a status change when it changes) and the
    conflict is marked resolved (audited). Returns the status the document now has.
    """
    if choice not in ("local", "theirs"):
        raise BundleError("choose `local` (keep this case's value) or `theirs` (take the bundle's)")
    if case.read_only:
        raise BundleError("this case is open read-only; deciding a conflict needs write access")
    with case.transaction() as s:
        c = s.get(MergeConflict, conflict_id)
        if c is None:
            raise BundleError(f"no conflict with id {conflict_id}")
        if c.resolved:
            raise BundleError(f"conflict {conflict_id} was decided already")
        if c.field != "review_status":
            raise BundleError(f"conflicts on {c.field} cannot be decided here")
        local, theirs = (
            (c.kept_value, c.other_value) if c.resolution == "local" else (c.other_value, c.kept_value)
        )
        value = local if choice == "local" else theirs
        doc = s.get(Document, c.document_id)
        if doc is None:
            raise BundleError(f"the document of conflict {conflict_id} is no longer in this case")
        if doc.review_status != value:
            s.add(
                AuditEntry(
                    actor=reviewer,
                    action="status",
                    document_id=doc.id,
                    detail={"old": doc.review_status, "new": value, "conflict": c.id},
                )
            )
            doc.review_status = value
        # The row now says what was kept, so merging the same bundle again finds this conflict decided.
        c.kept_value, c.other_value = (local, theirs) if choice == "local" else (theirs, local)
        c.resolution = "local" if choice == "local" else "bundle"
        c.resolved = True
        s.add(
            AuditEntry(
                actor=reviewer,
                action="conflict_resolve",
                document_id=c.document_id,
                detail={"conflict": c.id, "kept": value, "choice": choice},
            )
        )
        return value
