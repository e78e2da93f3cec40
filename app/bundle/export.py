"""Exporting a selection of documents as a bundle: one ZIP with originals, text, review data and a manifest.

Layout (format version 1):

    manifest.json                     every other file with its SHA-256 and size; creator, time, case id
    tags.json, relations.json         the tag and relation vocabularies used by the selection
    documents/<sha256>/document.json  metadata, tags, review status, notes, links, audit entries
    documents/<sha256>/text.txt       the extracted text
    documents/<sha256>/<file name>    the original bytes (or the scrubbed copy)
    documents.csv                     one row per document, for a spreadsheet
    index.html                        a static, script-free listing that opens each original
    scrub-report.json                 with --scrub: what was removed per file, and what no scrubber removes
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from app.bundle.html import render_index
from app.bundle.scrub import GENERAL_WARNINGS, Redaction, redact_text, scrub
from app.case import Case
from app.documents import display_title
from db.models import AuditEntry, Document, DocumentTag, Link, Note, Part, Relation, Source, Tag, utcnow

FORMAT = "dossier-bundle"
FORMAT_VERSION = 1


class BundleError(Exception):
    """A bundle cannot be written or read as asked; str() is for the reporter."""


@dataclass
class ExportReport:
    path: Path
    documents: int
    files: int
    bytes: int
    scrubbed: bool
    scrub_report: dict[str, Any] = field(default_factory=dict)
    external_links: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path)}


def safe_file_name(name: str, fallback: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[^\w.\- ()]+", "_", base).strip(" .") or fallback
    return base[:120]


def csv_cell(value: Any) -> str:
    """Text for a spreadsheet cell: no formula injection (=, +, -, @ at the start are neutralised)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t") else text


def export_bundle(
    case: Case,
    out_path: Path,
    doc_ids: Sequence[int],
    *,
    creator: str,
    with_children: bool = False,
    scrubbed: bool = False,
    redact_terms: Sequence[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    if not doc_ids:
        raise BundleError("nothing to export: the selection is empty")
    out_path = Path(out_path)
    if out_path.exists() and out_path.is_dir():
        raise BundleError(f"{out_path} is a folder; give a file name such as story.dossier.zip")
    if not out_path.parent.is_dir():
        raise BundleError(f"the folder {out_path.parent} does not exist; choose an existing folder")
    with case.reader() as s:
        ids = _selection(s, doc_ids, with_children)
        docs = {d.id: d for d in s.scalars(select(Document).where(Document.id.in_(ids)))}
        sha_of = {d.id: d.sha256 for d in docs.values()}
        tmp = out_path.with_name(out_path.name + ".part")
        entries: list[dict[str, Any]] = []
        scrub_report: dict[str, Any] = {"warnings": list(GENERAL_WARNINGS), "files": {}} if scrubbed else {}
        tag_names: set[str] = set()
        relations: set[str] = set()
        rows: list[dict[str, Any]] = []
        external = 0
        total_bytes = 0
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:

                def put(name: str, data: bytes, *, compress: bool = True) -> None:
                    nonlocal total_bytes
                    zf.writestr(
                        name, data, compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
                    )
                    entries.append(
                        {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                    )
                    total_bytes += len(data)

                for n, doc_id in enumerate(sorted(ids), 1):
                    doc = docs[doc_id]
                    record = _document_record(s, doc, sha_of)
                    external += sum(1 for link in record["links"] if link["external"])
                    tag_names.update(record["tags"])
                    relations.update(link["relation"] for link in record["links"])
                    folder = f"documents/{doc.sha256}"
                    text = "\n\n".join(
                        t
                        for t in s.scalars(
                            select(Part.text).where(Part.document_id == doc_id).order_by(Part.ordinal)
                        )
                        if t
                    )
                    original_name = safe_file_name(doc.file_name, "original")
                    original = case.blob_path(doc.sha256).read_bytes()
                    if scrubbed:
                        redactions = _redactions(s, doc_id) + [
                            Redaction(page=None, term=t) for t in redact_terms
                        ]
                        result = scrub(original, doc.doc_type, redactions)
                        text = redact_text(text, [r.term for r in redactions if r.term])
                        record["scrubbed"] = True
                        scrub_report["files"][doc.sha256] = {
                            "title": display_title(doc),
                            "removed": result.removed,
                            "warnings": result.warnings,
                            "original_exported": result.data is not None,
                        }
                        # A publication copy carries no provenance: no source paths, metadata or audit trail.
                        record["metadata"] = {}
                        record["paths"] = []
                        record["audit"] = []
                        original = result.data
                    if original is not None:
                        record["original"] = f"{folder}/{original_name}"
                        put(record["original"], original, compress=False)
                    else:
                        record["original"] = None
                    put(f"{folder}/text.txt", text.encode("utf-8"))
                    put(
                        f"{folder}/document.json",
                        json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"),
                    )
                    rows.append(record)
                    if on_progress:
                        on_progress(n, len(ids))
                tags = [
                    {"name": t.name, "color": t.color, "description": t.description}
                    for t in s.scalars(select(Tag).where(Tag.name.in_(sorted(tag_names))))
                ]
                put("tags.json", json.dumps({"tags": tags}, ensure_ascii=False, indent=1).encode())
                rels = [
                    {"name": r.name, "description": r.description}
                    for r in s.scalars(select(Relation).where(Relation.name.in_(sorted(relations))))
                ]
                put("relations.json", json.dumps({"relations": rels}, ensure_ascii=False, indent=1).encode())
                put("documents.csv", _documents_csv(rows))
                put(
                    "index.html",
                    render_index(rows, creator=creator, scrubbed=scrubbed, report=scrub_report).encode(
                        "utf-8"
                    ),
                )
                if scrubbed:
                    put("scrub-report.json", json.dumps(scrub_report, ensure_ascii=False, indent=1).encode())
                manifest = {
                    "format": FORMAT,
                    "format_version": FORMAT_VERSION,
                    "created_at": utcnow().isoformat(timespec="seconds") + "Z",
                    "creator": creator,
                    "source_case_id": "" if scrubbed else str(case.setting("case_id", "")),
                    "documents": len(rows),
                    "scrubbed": scrubbed,
                    "files": entries,
                }
                zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
            tmp.replace(out_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return ExportReport(out_path, len(rows), len(entries) + 1, total_bytes, scrubbed, scrub_report, external)


def _selection(s: Any, doc_ids: Sequence[int], with_children: bool) -> list[int]:
    ids = set(int(i) for i in doc_ids)
    found = set(s.scalars(select(Document.id).where(Document.id.in_(ids))))
    missing = sorted(ids - found)
    if missing:
        raise BundleError(f"no document with id {missing[0]} in this case")
    if with_children:
        frontier = list(found)
        while frontier:
            frontier = [
                i
                for i in s.scalars(select(Document.id).where(Document.parent_id.in_(frontier)))
                if i not in found
            ]
            found.update(frontier)
    return sorted(found)


def _document_record(s: Any, doc: Document, sha_of: dict[int, str]) -> dict[str, Any]:
    tags = list(
        s.scalars(
            select(Tag.name)
            .join(DocumentTag, DocumentTag.tag_id == Tag.id)
            .where(DocumentTag.document_id == doc.id)
        )
    )
    status_entry = s.scalar(
        select(AuditEntry)
        .where(AuditEntry.document_id == doc.id, AuditEntry.action == "status")
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    notes = [
        {
            "uid": n.uid,
            "author": n.author,
            "text": n.text,
            "page": n.page,
            "cell": n.cell,
            "quote": n.quote,
            "created_at": n.created_at.isoformat(timespec="seconds"),
            "updated_at": n.updated_at.isoformat(timespec="seconds"),
        }
        for n in s.scalars(select(Note).where(Note.document_id == doc.id).order_by(Note.id))
    ]
    links = []
    for link in s.scalars(
        select(Link).where(or_(Link.source_id == doc.id, Link.target_id == doc.id)).order_by(Link.id)
    ):
        src_sha = sha_of.get(link.source_id) or s.scalar(
            select(Document.sha256).where(Document.id == link.source_id)
        )
        dst_sha = sha_of.get(link.target_id) or s.scalar(
            select(Document.sha256).where(Document.id == link.target_id)
        )
        links.append(
            {
                "uid": link.uid,
                "source_sha256": src_sha,
                "target_sha256": dst_sha,
                "relation": link.relation,
                "note": link.note,
                "created_by": link.created_by,
                "created_at": link.created_at.isoformat(timespec="seconds"),
                # Outside the selection: kept as a reference by SHA-256 only.
                "external": link.source_id not in sha_of or link.target_id not in sha_of,
            }
        )
    audit = [
        {"at": a.at.isoformat(timespec="seconds"), "actor": a.actor, "action": a.action, "detail": a.detail}
        for a in s.scalars(select(AuditEntry).where(AuditEntry.document_id == doc.id).order_by(AuditEntry.id))
    ]
    paths = list(s.scalars(select(Source.path).where(Source.document_id == doc.id).order_by(Source.id)))
    parent_sha = sha_of.get(doc.parent_id) if doc.parent_id else None
    if doc.parent_id and parent_sha is None:
        parent_sha = s.scalar(select(Document.sha256).where(Document.id == doc.parent_id))
    return {
        "sha256": doc.sha256,
        "id": doc.id,
        "title": display_title(doc),
        "file_name": doc.file_name,
        "type": doc.doc_type,
        "date": doc.date,
        "size": doc.size,
        "status": doc.status,
        "reason": doc.reason,
        "parent_sha256": parent_sha,
        "paths": paths,
        "metadata": doc.meta or {},
        "tags": sorted(tags),
        "review_status": doc.review_status,
        "review_status_at": status_entry.at.isoformat(timespec="microseconds") if status_entry else None,
        "review_status_by": status_entry.actor if status_entry else None,
        "notes": notes,
        "links": links,
        "audit": audit,
    }


def _redactions(s: Any, doc_id: int) -> list[Redaction]:
    from db.models import RedactionArea

    return [
        Redaction(
            page=r.page,
            rect=(r.x0, r.y0, r.x1, r.y1) if None not in (r.x0, r.y0, r.x1, r.y1) else None,  # type: ignore[arg-type]
            term=r.term,
        )
        for r in s.scalars(select(RedactionArea).where(RedactionArea.document_id == doc_id))
    ]


def _documents_csv(rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(["id", "title", "type", "date", "paths", "sha256", "tags", "status", "notes"])
    for r in rows:
        writer.writerow(
            [
                csv_cell(v)
                for v in (
                    r["id"],
                    r["title"],
                    r["type"],
                    r["date"],
                    "; ".join(r["paths"]),
                    r["sha256"],
                    "; ".join(r["tags"]),
                    r["review_status"],
                    len(r["notes"]),
                )
            ]
        )
    # UTF-8 with a byte-order mark: spreadsheet programs then read accents and CJK correctly.
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
