"""A load-file export for eDiscovery software: a Concordance DAT file, a TEXT folder and a NATIVES folder.

DAT conventions: UTF-8 with a byte-order mark, fields quoted with þ (U+00FE) and separated by the DC4
character (U+0014), one header row; multi-value fields separated by semicolons; newlines inside fields
replaced by ® (U+00AE), as Concordance expects.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.bundle.export import BundleError, _selection, safe_file_name
from app.case import Case
from app.documents import display_title
from db.models import Document, DocumentTag, Email, Part, Source, Tag

QUOTE = "\u00fe"
SEP = "\u0014"
NEWLINE = "\u00ae"
FIELDS = (
    "DOCID",
    "PARENTID",
    "FILENAME",
    "FILETYPE",
    "SHA256",
    "DATE",
    "TITLE",
    "AUTHOR",
    "FROM",
    "TO",
    "CC",
    "SUBJECT",
    "SOURCEPATH",
    "TAGS",
    "REVIEWSTATUS",
    "TEXTPATH",
    "NATIVEPATH",
)


@dataclass
class LoadFileReport:
    path: Path
    documents: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "documents": self.documents, "bytes": self.bytes}


def _field(value: Any) -> str:
    text = "" if value is None else str(value)
    return (
        QUOTE
        + text.replace(QUOTE, "").replace("\r\n", NEWLINE).replace("\n", NEWLINE).replace("\r", NEWLINE)
        + QUOTE
    )


def export_loadfile(
    case: Case, out_dir: Path, doc_ids: Sequence[int], *, with_children: bool = False, prefix: str = "DOSS"
) -> LoadFileReport:
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise BundleError(f"{out_dir} is not empty; choose a new folder for the load file")
    (out_dir / "DATA").mkdir(parents=True, exist_ok=True)
    (out_dir / "TEXT").mkdir(exist_ok=True)
    (out_dir / "NATIVES").mkdir(exist_ok=True)
    total = 0
    with case.reader() as s:
        ids = _selection(s, doc_ids, with_children)
        control = {doc_id: f"{prefix}{n:07d}" for n, doc_id in enumerate(ids, 1)}
        lines = [SEP.join(_field(f) for f in FIELDS)]
        for doc_id in ids:
            doc = s.get(Document, doc_id)
            docid = control[doc_id]
            text = "\n\n".join(
                t
                for t in s.scalars(select(Part.text).where(Part.document_id == doc_id).order_by(Part.ordinal))
                if t
            )
            text_rel = f"TEXT/{docid}.txt"
            (out_dir / text_rel).write_text(text, "utf-8")
            name = safe_file_name(doc.file_name, docid)
            suffix = Path(name).suffix
            native_rel = f"NATIVES/{docid}{suffix}"
            shutil.copyfile(case.blob_path(doc.sha256), out_dir / native_rel)
            total += doc.size + len(text.encode())
            email = s.get(Email, doc_id)
            tags = sorted(
                s.scalars(
                    select(Tag.name)
                    .join(DocumentTag, DocumentTag.tag_id == Tag.id)
                    .where(DocumentTag.document_id == doc_id)
                )
            )
            paths = list(
                s.scalars(select(Source.path).where(Source.document_id == doc_id).order_by(Source.id))
            )
            values = (
                docid,
                control.get(doc.parent_id, ""),
                doc.file_name,
                doc.doc_type,
                doc.sha256,
                doc.date,
                display_title(doc),
                doc.author,
                email.sender if email else "",
                "; ".join(email.to or []) if email else "",
                "; ".join(email.cc or []) if email else "",
                email.subject if email else "",
                "; ".join(paths),
                "; ".join(tags),
                doc.review_status,
                text_rel.replace("/", "\\"),
                native_rel.replace("/", "\\"),
            )
            lines.append(SEP.join(_field(v) for v in values))
    dat = out_dir / "DATA" / "loadfile.dat"
    dat.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", "utf-8")
    return LoadFileReport(out_dir, len(ids), total)
