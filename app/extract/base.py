"""The extraction contract: what an extractor receives and what it returns.

Extractors turn one file into plain data. They know neither the database nor the index, and they run in
worker processes, so everything here is a frozen dataclass that survives a trip through JSON
(`Extraction.to_json` / `Extraction.from_json`): the worker→importer channel never carries pickles.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

# Metadata values are JSON scalars or lists of strings; dates are ISO-8601 strings.
MetaValue = str | int | float | bool | list[str] | None


@dataclass(frozen=True)
class Limits:
    """Bounds a hostile file must not push us past. Checked inside extractors and by the supervisor."""

    timeout_s: float = 120.0  # per-file deadline (supervisor)
    memory_mb: int = 2048  # worker address-space cap (supervisor, RLIMIT_AS)
    max_pages: int = 10_000  # PDF / slide count read
    max_text_chars: int = 50_000_000  # extracted text kept per document
    max_cells: int = 2_000_000  # spreadsheet cells kept per document
    max_members: int = 10_000  # archive members / attachments written per container
    max_member_bytes: int = 1 << 30  # one decompressed member
    max_total_bytes: int = 4 << 30  # all members of one container, decompressed
    max_ratio: float = 200.0  # decompressed / compressed, per member (only past 1 MiB)
    max_depth: int = 20  # container nesting (pipeline)
    max_mime_depth: int = 50  # nested MIME multiparts
    max_file_bytes: int = 8 << 30  # a single input file

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Cell:
    """One non-empty spreadsheet cell (1-based row/column) so a hit can point at `Sheet1!C14`."""

    row: int
    col: int
    text: str

    @property
    def ref(self) -> str:
        return f"{column_letters(self.col)}{self.row}"


# One OCR'd word: (text, x0, y0, x1, y1, confidence 0-100, line number). Coordinates are in 1/10,000 of
# the page image's width and height as displayed (see app/extract/ocr.py); line numbers jump by 2 where
# a paragraph starts.
OcrWord = tuple[str, int, int, int, int, int, int]


@dataclass(frozen=True)
class Part:
    """A unit of text a hit can name: a PDF page, a sheet, an email body, a slide, a section."""

    kind: str  # "page" | "sheet" | "slide" | "body" | "section" | "notes" | "headers"
    label: str  # "3", "Sheet1", "body", "Slide 2" …
    text: str
    cells: tuple[Cell, ...] = ()
    needs_ocr: bool = False  # the page shows text that is not in `text` yet (OCR off, unavailable, timed out)
    origin: str = "text"  # whose text `text` is: "text" (the file's own) | "ocr"
    # A fresh OCR reading of this page (the importer caches it), or None when none was made here (no OCR,
    # or the reading came from the case's OCR cache). An empty tuple is a reading that found no words.
    words: tuple[OcrWord, ...] | None = None


@dataclass(frozen=True)
class Child:
    """A file found inside the one being extracted (archive member, attachment, mbox message).

    `path` is relative to the task's work folder, where the extractor wrote the bytes; the importer
    hashes it into the case and sends it through the same pipeline with this document as parent.
    """

    path: str
    name: str  # the member path or attachment file name, as found (display only, never used to write)
    relation: str  # "member" | "attachment" | "message" | "embedded"
    metadata: dict[str, MetaValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Extraction:
    doc_type: str
    title: str | None = None
    parts: tuple[Part, ...] = ()
    metadata: dict[str, MetaValue] = field(default_factory=dict)
    children: tuple[Child, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.parts if p.text)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (what `asdict` gives, built directly: a sheet of a million cells is a million
        small dicts, and the generic recursion costs several times more than the text it carries)."""
        return {
            "doc_type": self.doc_type,
            "title": self.title,
            "parts": [
                {
                    "kind": p.kind,
                    "label": p.label,
                    "text": p.text,
                    "cells": [{"row": c.row, "col": c.col, "text": c.text} for c in p.cells],
                    "needs_ocr": p.needs_ocr,
                    "origin": p.origin,
                    "words": None if p.words is None else [list(w) for w in p.words],
                }
                for p in self.parts
            ],
            "metadata": _plain(self.metadata),
            "children": [
                {"path": c.path, "name": c.name, "relation": c.relation, "metadata": _plain(c.metadata)}
                for c in self.children
            ],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Extraction:
        parts = tuple(
            Part(
                kind=str(p["kind"]),
                label=str(p["label"]),
                text=str(p["text"]),
                cells=tuple(Cell(int(c["row"]), int(c["col"]), str(c["text"])) for c in p.get("cells", ())),
                needs_ocr=bool(p.get("needs_ocr", False)),
                origin=str(p.get("origin") or "text"),
                words=None if p.get("words") is None else tuple(_ocr_word(w) for w in p["words"]),
            )
            for p in data.get("parts", ())
        )
        children = tuple(
            Child(
                path=str(c["path"]),
                name=str(c["name"]),
                relation=str(c["relation"]),
                metadata=dict(c.get("metadata") or {}),
            )
            for c in data.get("children", ())
        )
        return cls(
            doc_type=str(data["doc_type"]),
            title=data.get("title"),
            parts=parts,
            metadata=dict(data.get("metadata") or {}),
            children=children,
            warnings=tuple(str(w) for w in data.get("warnings", ())),
        )

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class ExtractContext:
    """What a worker hands an extractor besides the file itself."""

    # folder for children, created by the extractor that writes one; nothing is written outside it
    work_dir: Path
    name_hint: str = ""  # the file's original name (CSV vs TSV, display); never trusted for type
    limits: Limits = field(default_factory=Limits)
    passwords: tuple[str, ...] = ()
    ocr_languages: str = ""  # "eng+deu": OCR pages without a usable text layer in these; "" = no OCR
    # OCR text already known for pages of this file (the case's OCR cache): page number → (text, confidence)
    ocr_known: dict[int, tuple[str, float]] = field(default_factory=dict)
    ocr_deadline: float = 0.0  # time.monotonic() by which OCR must stop (pages left stay needs_ocr); 0 = none


class Extractor(Protocol):
    """One extractor per format family. Declares what it handles; raises only `ExtractionError`s."""

    name: ClassVar[str]
    version: ClassVar[str]
    doc_types: ClassVar[tuple[str, ...]]  # detected types (see detect.py) this extractor handles

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction: ...


def _plain(metadata: dict[str, MetaValue]) -> dict[str, MetaValue]:
    return {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in metadata.items()}


def _ocr_word(w: Any) -> OcrWord:
    text, x0, y0, x1, y1, conf, line = w
    return (str(text), int(x0), int(y0), int(x1), int(y1), int(conf), int(line))


def column_letters(col: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters or "A"


def clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Keep JSON-safe scalars and short lists; drop empties."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, str):
            out[str(key)] = value[:5000]
        elif isinstance(value, bool | int | float):
            out[str(key)] = value
        elif isinstance(value, list | tuple):
            out[str(key)] = [str(v)[:2000] for v in list(value)[:1000]]
        else:
            out[str(key)] = str(value)[:5000]
    return out
