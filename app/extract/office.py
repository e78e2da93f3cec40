"""DOCX, XLSX/XLSM and PPTX: text, sheet cells, document properties and embedded files.

Every XML part of an OOXML package is read with one hardened lxml parser (no entity expansion, no DTD
loading, no network) and walked directly, which also covers macro-enabled and template variants, text
boxes, content controls and tracked changes. Worksheets are streamed with openpyxl, which parses them through
defusedxml. The package helpers here (`OoxmlPackage`'s XML reading, `TextBudget`, `ChildWriter`, `iso_date`,
`row_text`) are shared with the OpenDocument extractor.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import posixpath
import re
import struct
import warnings as py_warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import olefile
import openpyxl
from lxml import etree

from app.extract.base import Cell, Child, ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError, ExtractionError, TooLargeError, UnsupportedError

log = logging.getLogger(__name__)

MIB = 1 << 20
# Long gaps between filled cells collapse to this many tabs in a sheet's text.
_MAX_TAB_GAP = 32
# Cells (filled or not) a worksheet may make us look at, as a multiple of `Limits.max_cells`.
_SCAN_FACTOR = 4
_MAX_META_CHARS = 10_000
_MAX_CUSTOM_PROPERTIES = 100
_COPY_CHUNK = MIB


def _xml_parser(recover: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        recover=recover,
    )


_STRICT_PARSER = _xml_parser(recover=False)
_RECOVER_PARSER = _xml_parser(recover=True)


# --------------------------------------------------------------------------------------------------------
# Helpers shared with odf.py
# --------------------------------------------------------------------------------------------------------


class TextBudget:
    """The characters of text one document may still keep (`Limits.max_text_chars`)."""

    def __init__(self, limit: int, warnings: list[str]) -> None:
        self.limit = limit
        self.left = limit
        self.exhausted = False
        self._warnings = warnings

    def take(self, text: str, where: str) -> str:
        """Spend the budget on `text`; returns it whole, cut at the limit, or empty once spent."""
        if len(text) <= self.left:
            self.left -= len(text)
            return text
        kept = text[: self.left]
        self.left = 0
        self._exhaust(where)
        return kept

    def spend(self, size: int, where: str) -> bool:
        """Reserve `size` characters; False (and a warning) when they no longer fit."""
        if size <= self.left:
            self.left -= size
            return True
        self._exhaust(where)
        return False

    def _exhaust(self, where: str) -> None:
        if not self.exhausted:
            self.exhausted = True
            self._warnings.append(f"text truncated at {self.limit:,} characters ({where})")


class ChildWriter:
    """Writes embedded files into `ctx.work_dir` under generated names, within the container limits."""

    def __init__(self, ctx: ExtractContext, warnings: list[str]) -> None:
        self._ctx = ctx
        self._warnings = warnings
        self._count = 0
        self._total = 0
        self._next_number = 1
        self.children: list[Child] = []

    @property
    def max_member_bytes(self) -> int:
        return self._ctx.limits.max_member_bytes

    def _room(self, name: str) -> bool:
        if self._count >= self._ctx.limits.max_members:
            self._warnings.append(
                f"embedded file {name!r} skipped: limit of {self._ctx.limits.max_members:,} reached"
            )
            return False
        return True

    def _new_path(self) -> Path:
        self._ctx.work_dir.mkdir(parents=True, exist_ok=True)
        while True:
            relative = f"{self._next_number:06d}.bin"
            self._next_number += 1
            target = self._ctx.work_dir / relative
            if not target.exists():
                return target

    def copy_stream(self, source: IO[bytes], name: str, metadata: dict[str, MetaValue]) -> Path | None:
        """Copy `source` to a new file; None (and a warning) when a size limit stops it."""
        if not self._room(name):
            return None
        limits = self._ctx.limits
        target = self._new_path()
        written = 0
        with open(target, "xb") as out:
            while True:
                chunk = source.read(_COPY_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if written > limits.max_member_bytes or self._total + written > limits.max_total_bytes:
                    break
                out.write(chunk)
        if written > limits.max_member_bytes or self._total + written > limits.max_total_bytes:
            target.unlink()
            self._warnings.append(f"embedded file {name!r} skipped: size limit exceeded")
            return None
        self._register(target, written, name, metadata)
        return target

    def write_bytes(self, data: bytes, name: str, metadata: dict[str, MetaValue]) -> Path | None:
        """Write `data` as a new child; None (and a warning) when a limit stops it."""
        if not self._room(name):
            return None
        limits = self._ctx.limits
        if len(data) > limits.max_member_bytes or self._total + len(data) > limits.max_total_bytes:
            self._warnings.append(f"embedded file {name!r} skipped: size limit exceeded")
            return None
        target = self._new_path()
        with open(target, "xb") as out:
            out.write(data)
        self._register(target, len(data), name, metadata)
        return target

    def discard(self, target: Path) -> None:
        """Forget the child last written to `target` (replaced by what was unwrapped from it)."""
        for index, child in enumerate(self.children):
            if child.path == target.name:
                del self.children[index]
                self._count -= 1
                self._total -= target.stat().st_size
                target.unlink()
                return

    def _register(self, target: Path, size: int, name: str, metadata: dict[str, MetaValue]) -> None:
        self._count += 1
        self._total += size
        self.children.append(Child(path=target.name, name=name, relation="embedded", metadata=metadata))


def iso_date(raw: str | None) -> str | None:
    """An ISO-8601 string for a W3C/ODF date, or None when it does not parse."""
    if not raw:
        return None
    text = raw.strip()
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", text)
    if match:  # fromisoformat accepts at most 6 fractional digits; they are dropped anyway
        text = match.group(1) + match.group(3)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.year <= 1601:  # an unset Windows FILETIME, not a real date
        return None
    return parsed.isoformat(timespec="seconds")


def row_text(cells: Iterable[Cell]) -> str:
    """One sheet row as a line: values tab-separated, empty columns kept as tabs (long gaps shortened)."""
    pieces: list[str] = []
    column = 1
    for cell in cells:
        pieces.append("\t" * min(max(cell.col - column, 0), _MAX_TAB_GAP))
        pieces.append(_one_line(cell.text))
        column = cell.col
    return "".join(pieces)


def _one_line(text: str) -> str:
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")


def own_text(element: etree._Element) -> str:
    """An element's text, with unexpanded entity references left out (their surrounding text kept)."""
    pieces = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str) and child.tail:
            pieces.append(child.tail)
    return "".join(pieces)


def parse_xml_bytes(data: bytes, part: str, label: str, warnings: list[str]) -> etree._Element:
    """Parse one XML part safely; damaged XML is recovered as far as it goes (with a warning)."""
    try:
        root = etree.fromstring(data, _STRICT_PARSER)
    except etree.XMLSyntaxError as exc:
        try:
            root = etree.fromstring(data, _RECOVER_PARSER)
        except etree.XMLSyntaxError:
            root = None
        if root is None:
            raise CorruptError(f"{label} is damaged: {part} is not well-formed XML ({_short(exc)})") from exc
        warnings.append(f"{part} is damaged; its text was recovered up to the damage")
    if root.getroottree().docinfo.internalDTD is not None:
        warnings.append(f"{part} declares a DTD; its entities were not expanded")
    return root


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, warnings: list[str]) -> bytes:
    """A member's bytes; a member that breaks off midway keeps what came out (with a warning)."""
    chunks: list[bytes] = []
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(_COPY_CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        if not chunks:
            raise CorruptError(f"{label} is damaged: {info.filename} cannot be read ({_short(exc)})") from exc
        warnings.append(
            f"{info.filename} is damaged: only its first {sum(map(len, chunks)):,} bytes were read"
        )
    return b"".join(chunks)


def xml_size_cap(ctx: ExtractContext) -> int:
    """Largest uncompressed XML part parsed into a tree (lxml needs several times its size in memory)."""
    return max(64 * MIB, ctx.limits.memory_mb * MIB // 8)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def local_name(tag: Any) -> str:
    """`{namespace}name` → `name`; "" for comments, entities and processing instructions."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


# --------------------------------------------------------------------------------------------------------
# The OOXML package: parts, relationships, properties, embedded files
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relationship:
    kind: str  # last segment of the relationship type: "header", "comments", "slide" …
    target: str  # the part name inside the package, or the URL when external
    rel_id: str
    external: bool


_CORE_TEXT = {
    "title": "title",
    "subject": "subject",
    "creator": "author",
    "keywords": "keywords",
    "description": "description",
    "lastModifiedBy": "last_modified_by",
    "revision": "revision",
    "category": "category",
    "language": "language",
    "contentStatus": "content_status",
    "identifier": "identifier",
    "version": "version",
}
_CORE_DATES = {"created": "created", "modified": "modified", "lastPrinted": "last_printed"}
_APP_TEXT = {"Company": "company", "Application": "creator", "Template": "template", "Manager": "manager"}


class OoxmlPackage:
    """A read-only view of an OOXML ZIP package. `label` ("DOCX" …) starts every error reason."""

    def __init__(self, zf: zipfile.ZipFile, label: str, ctx: ExtractContext, warnings: list[str]) -> None:
        self.zf = zf
        self.label = label
        self.ctx = ctx
        self.warnings = warnings
        self._by_name: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            self._by_name.setdefault(info.filename.replace("\\", "/").lstrip("/").lower(), info)

    def info(self, part: str) -> zipfile.ZipInfo | None:
        return self._by_name.get(part.lstrip("/").lower())

    def has(self, part: str) -> bool:
        return self.info(part) is not None

    def names(self) -> list[str]:
        return [info.filename for info in self._by_name.values()]

    def xml(self, part: str, required: bool = False) -> etree._Element | None:
        """The parsed part, or None when absent (CorruptError instead if `required`)."""
        info = self.info(part)
        if info is None:
            if required:
                raise CorruptError(f"{self.label} is damaged: missing {part}")
            return None
        if info.file_size > xml_size_cap(self.ctx):
            raise TooLargeError(
                f"{self.label} part {info.filename} is {info.file_size / MIB:,.0f} MB uncompressed; too large"
            )
        data = read_member(self.zf, info, self.label, self.warnings)
        if not required:
            try:
                return parse_xml_bytes(data, info.filename, self.label, self.warnings)
            except CorruptError as exc:
                self.warnings.append(exc.reason)
                return None
        return parse_xml_bytes(data, info.filename, self.label, self.warnings)

    def relationships(self, part: str) -> list[Relationship]:
        """The relationships of `part` ("" for the package itself), in file order."""
        folder, base = posixpath.split(part)
        root = self.xml(posixpath.join(folder, "_rels", f"{base}.rels"))
        if root is None:
            return []
        found: list[Relationship] = []
        for element in root:
            if local_name(element.tag) != "Relationship":
                continue
            kind = element.get("Type", "").rstrip("/").rpartition("/")[2]
            target = element.get("Target", "")
            external = element.get("TargetMode", "") == "External"
            if not external:
                target = _resolve_target(folder, target)
            found.append(Relationship(kind, target, element.get("Id", ""), external))
        return found

    def related(self, part: str, kind: str) -> list[str]:
        return [r.target for r in self.relationships(part) if r.kind == kind and not r.external]

    def main_part(self, default: str) -> str:
        for target in self.related("", "officeDocument"):
            if self.has(target):
                return target
        return default

    def properties(self) -> dict[str, MetaValue]:
        """Core, extended (app) and custom document properties, under the normalised keys."""
        metadata: dict[str, MetaValue] = {}
        core = self.xml(self._property_part("core-properties", "docProps/core.xml"))
        if core is not None:
            for element in core:
                name = local_name(element.tag)
                value = own_text(element).strip()
                if not value:
                    continue
                if name in _CORE_TEXT:
                    metadata[_CORE_TEXT[name]] = value[:_MAX_META_CHARS]
                elif name in _CORE_DATES and (when := iso_date(value)):
                    metadata[_CORE_DATES[name]] = when
        app = self.xml(self._property_part("extended-properties", "docProps/app.xml"))
        if app is not None:
            for element in app:
                name = local_name(element.tag)
                value = own_text(element).strip()
                if not value:
                    continue
                if name in _APP_TEXT:
                    metadata[_APP_TEXT[name]] = value[:_MAX_META_CHARS]
                elif name == "TotalTime" and value.isdigit():
                    metadata["total_edit_minutes"] = int(value)
                elif name == "Pages" and value.isdigit() and self.label == "DOCX":
                    metadata["page_count"] = int(value)
        metadata.update(self._custom_properties())
        return metadata

    def _property_part(self, kind: str, default: str) -> str:
        for target in self.related("", kind):
            return target
        return default

    def _custom_properties(self) -> dict[str, MetaValue]:
        root = self.xml(self._property_part("custom-properties", "docProps/custom.xml"))
        found: dict[str, MetaValue] = {}
        if root is None:
            return found
        for element in root:
            name = element.get("name")
            if local_name(element.tag) != "property" or not name:
                continue
            value = " ".join(own_text(v).strip() for v in element if local_name(v.tag)).strip()
            if value:
                found[f"custom:{name[:200]}"] = value[:_MAX_META_CHARS]
            if len(found) >= _MAX_CUSTOM_PROPERTIES:
                break
        return found

    def has_macros(self) -> bool:
        return any(name.lower().endswith("vbaproject.bin") for name in self._by_name)

    def graphic_lines(self, part: str) -> list[str]:
        """Text of the charts and SmartArt diagrams a part refers to."""
        lines: list[str] = []
        for rel in self.relationships(part):
            if rel.external or rel.kind not in ("chart", "diagramData"):
                continue
            root = self.xml(rel.target)
            if root is None:
                continue
            if rel.kind == "chart":
                lines.extend(chart_lines(root))
            else:
                lines.extend(FlowText().block(root))
        return lines

    def embedded_children(self, folder: str, writer: ChildWriter) -> None:
        """Every member under `folder` (e.g. "word/embeddings/") becomes a child, OLE wrappers unwrapped."""
        prefix = folder.lower()
        for key, info in self._by_name.items():
            if not key.startswith(prefix) or info.is_dir():
                continue
            self.embed_member(info, writer)

    def embed_member(self, info: zipfile.ZipInfo, writer: ChildWriter) -> None:
        """Write one member as an embedded child (unwrapped when it is an OLE package object)."""
        name = posixpath.basename(info.filename)
        limits = self.ctx.limits
        if info.file_size > MIB and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
            self.warnings.append(f"embedded file {name!r} skipped: compression ratio exceeds the limit")
            return
        metadata: dict[str, MetaValue] = {"part": info.filename}
        try:
            with self.zf.open(info) as source:
                target = writer.copy_stream(source, name, metadata)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            self.warnings.append(f"embedded file {name!r} cannot be read: {_short(exc)}")
            return
        if target is not None:
            _unwrap_ole_object(target, info.filename, writer, self.warnings)


def _resolve_target(folder: str, target: str) -> str:
    target = unquote(target.replace("\\", "/"))
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, target)).lstrip("/")


def open_zip(path: Path, label: str, ctx: ExtractContext, warnings: list[str]) -> zipfile.ZipFile:
    """Open the ZIP container; one whose central directory is damaged or missing (a truncated file) is
    rebuilt in memory from its local entries, with a warning. CorruptError when nothing can be read.

    A rebuilt package has `filename` None and lives in `fp` (a BytesIO).
    """
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        reason = f"{label} is damaged: not a readable ZIP package ({_short(exc)})"
        rebuilt = _rebuild_zip(path, ctx)
        if rebuilt is None:
            raise CorruptError(reason) from exc
        warnings.append(
            f"ZIP structure is damaged ({_short(exc)}); {len(rebuilt.infolist()):,} part(s) recovered from "
            "the entries that survive"
        )
        return rebuilt
    except (OSError, ValueError, EOFError) as exc:
        raise CorruptError(f"{label} cannot be opened: {_short(exc)}") from exc


_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


def _rebuild_zip(path: Path, ctx: ExtractContext) -> zipfile.ZipFile | None:
    """A ZIP rebuilt (in memory, bounded) from the local entries of a damaged one; None if none survive."""
    cap = xml_size_cap(ctx)
    if path.stat().st_size > cap:
        return None
    data = path.read_bytes()
    if not data.startswith(b"PK\x03\x04"):
        return None
    buffer = io.BytesIO()
    names: set[str] = set()
    total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for name, content in _local_entries(data, cap):
            if name in names or name.endswith("/") or total + len(content) > cap:
                continue
            names.add(name)
            total += len(content)
            out.writestr(name, content)
    if not names:
        return None
    return zipfile.ZipFile(buffer)


def _local_entries(data: bytes, cap: int) -> Iterator[tuple[str, bytes]]:
    """(name, content) of each local ZIP entry found by its signature; a cut-off entry keeps its start."""
    pos = data.find(b"PK\x03\x04")
    while pos >= 0 and pos + _LOCAL_HEADER.size <= len(data):
        _, _, flags, method, _, _, _, packed, _, name_length, extra_length = _LOCAL_HEADER.unpack_from(
            data, pos
        )
        start = pos + _LOCAL_HEADER.size + name_length + extra_length
        raw_name = data[pos + _LOCAL_HEADER.size : pos + _LOCAL_HEADER.size + name_length]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace").replace("\\", "/")
        known_size = packed and not flags & 0x08
        content, consumed = b"", 0
        if method == 8:
            inflater = zlib.decompressobj(-15)
            chunk = data[start : start + packed] if known_size else data[start:]
            try:
                content = inflater.decompress(chunk, cap)
            except zlib.error:
                content = b""
            if inflater.eof:
                consumed = len(chunk) - len(inflater.unused_data)
        elif method == 0 and known_size:
            content = data[start : start + packed]
            consumed = packed
        if name and name.isprintable() and content:
            yield name, content
        pos = data.find(b"PK\x03\x04", max(start + consumed, pos + 4))


# --------------------------------------------------------------------------------------------------------
# Embedded OLE objects: unwrap "Package" (Ole10Native) and PDF (CONTENTS) wrappers to the file inside
# --------------------------------------------------------------------------------------------------------


def _unwrap_ole_object(target: Path, part: str, writer: ChildWriter, warnings: list[str]) -> None:
    """Replace an OLE wrapper just written at `target` by the file it carries, when it carries one."""
    if not olefile.isOleFile(str(target)):
        return
    try:
        with olefile.OleFileIO(str(target)) as ole:
            inner = _ole_payload(ole, part)
    except Exception as exc:  # a damaged wrapper is kept as it is; the pipeline will judge it
        log.debug("OLE object %s not unwrapped: %s", part, type(exc).__name__)
        return
    if inner is None:
        return
    name, data, wrapper = inner
    if len(data) > writer.max_member_bytes:
        return
    writer.discard(target)
    writer.write_bytes(data, name, {"part": part, "ole_wrapper": wrapper})


def _ole_payload(ole: olefile.OleFileIO, part: str) -> tuple[str, bytes, str] | None:
    streams = {"/".join(entry).lower(): "/".join(entry) for entry in ole.listdir()}
    fallback = posixpath.splitext(posixpath.basename(part))[0]
    if "\x01ole10native" in streams:
        if ole.get_size(streams["\x01ole10native"]) > 1 << 31:
            return None
        raw = ole.openstream(streams["\x01ole10native"]).read()
        name, data = _ole10native(raw)
        return (name or fallback, data, "Ole10Native") if data else None
    if "contents" in streams:
        data = ole.openstream(streams["contents"]).read()
        if data.lstrip()[:5] == b"%PDF-":
            return (f"{fallback}.pdf", data, "CONTENTS")
    if "package" in streams:
        data = ole.openstream(streams["package"]).read()
        if data.startswith(b"PK\x03\x04"):
            return (f"{fallback}.zip", data, "Package")
    return None


def _ole10native(raw: bytes) -> tuple[str, bytes]:
    """(original file name or "", payload) of an Ole10Native stream (an OLE "Package" object)."""
    if len(raw) < 4:
        return "", b""
    (declared,) = struct.unpack_from("<I", raw, 0)
    body = raw[4 : 4 + declared] if 0 < declared <= len(raw) - 4 else raw[4:]
    try:
        pos = 2
        label, pos = _c_string(body, pos)
        original, pos = _c_string(body, pos)
        pos += 4
        (temp_length,) = struct.unpack_from("<I", body, pos)
        pos += 4 + temp_length
        (size,) = struct.unpack_from("<I", body, pos)
        pos += 4
        if pos + size > len(body) or temp_length > 4096:
            raise ValueError("payload past the end")
    except (ValueError, struct.error):
        return "", body
    name = re.split(r"[\\/]", original)[-1] or re.split(r"[\\/]", label)[-1]
    return name.strip()[:255], body[pos : pos + size]


def _c_string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\x00", pos, pos + 4096)
    if end < 0:
        raise ValueError("unterminated string")
    return data[pos:end].decode("cp1252", "replace"), end + 1


# --------------------------------------------------------------------------------------------------------
# Walking WordprocessingML and DrawingML into lines of text
# --------------------------------------------------------------------------------------------------------

# Properties and layout elements: no text of their own (a few, like tabs in pPr, would add noise).
_NO_TEXT = frozenset(
    {
        "rPr",
        "pPr",
        "sectPr",
        "tblPr",
        "tblPrEx",
        "trPr",
        "tcPr",
        "tblGrid",
        "sdtPr",
        "sdtEndPr",
        "instrText",
        "delInstrText",
        "fldChar",
        "bodyPr",
        "lstStyle",
        "spPr",
        "nvSpPr",
        "nvGrpSpPr",
        "grpSpPr",
        "nvPicPr",
        "nvGraphicFramePr",
        "nvCxnSpPr",
        "blipFill",
        "style",
        "extLst",
        "xfrm",
        "endParaRPr",
        "footnoteReference",
        "endnoteReference",
        "commentReference",
        "annotationRef",
        "numCache",
    }
)
# Tracked changes whose content is no longer part of the document text.
_REMOVED = frozenset({"del", "moveFrom"})
_BLOCK_IN_INLINE = frozenset({"p", "tbl", "txbxContent", "txBody"})
_NOTES_PLACEHOLDERS = frozenset({"sldNum", "sldImg", "hdr", "ftr", "dt"})


class FlowText:
    """Paragraphs and table rows (cells tab-separated) of a WordprocessingML or DrawingML tree.

    Text removed by tracked changes is gathered in `deleted`; `skip_placeholders` names the slide
    placeholder types (slide number, date …) whose shapes are left out.
    """

    def __init__(self, skip_placeholders: frozenset[str] = frozenset()) -> None:
        self.deleted: list[str] = []
        self._skip_placeholders = skip_placeholders

    def block(self, element: etree._Element) -> list[str]:
        lines: list[str] = []
        self._block(element, lines)
        return lines

    def _block(self, element: etree._Element, lines: list[str]) -> None:
        for child in element:
            name = local_name(child.tag)
            if not name or name in _NO_TEXT:
                continue
            if name == "p":
                self._paragraph(child, lines)
            elif name == "tbl":
                self._table(child, lines)
            elif name == "AlternateContent":
                self._block(_chosen_alternative(child), lines)
            elif name in _REMOVED:
                self._removed(child)
            elif (
                name == "sp"
                and self._skip_placeholders
                and self._placeholder(child) in self._skip_placeholders
            ):
                continue
            else:
                self._block(child, lines)

    def _paragraph(self, paragraph: etree._Element, lines: list[str]) -> None:
        pieces: list[str] = []
        nested: list[str] = []
        self._inline(paragraph, pieces, nested)
        text = "".join(pieces).strip()
        if text:
            lines.append(text)
        lines.extend(nested)

    def _inline(self, element: etree._Element, pieces: list[str], nested: list[str]) -> None:
        for child in element:
            name = local_name(child.tag)
            if not name or name in _NO_TEXT:
                continue
            if name == "t":
                pieces.append(own_text(child))
            elif name == "tab":
                pieces.append("\t")
            elif name in ("br", "cr"):
                pieces.append("\n")
            elif name == "noBreakHyphen":
                pieces.append("-")
            elif name in _REMOVED:
                self._removed(child)
            elif name == "AlternateContent":
                self._inline(_chosen_alternative(child), pieces, nested)
            elif name in _BLOCK_IN_INLINE:
                self._nested_block(child, name, nested)
            else:
                self._inline(child, pieces, nested)

    def _nested_block(self, child: etree._Element, name: str, nested: list[str]) -> None:
        """A paragraph or table met inside a run (a text box): its lines follow the outer paragraph."""
        if name == "p":
            self._paragraph(child, nested)
        elif name == "tbl":
            self._table(child, nested)
        else:
            self._block(child, nested)

    def _table(self, table: etree._Element, lines: list[str]) -> None:
        for row in _descendants_named(table, "tr", stop="tbl"):
            cells = []
            for cell in _descendants_named(row, "tc", stop="tbl"):
                cell_lines: list[str] = []
                self._block(cell, cell_lines)
                cells.append(" ".join(line.replace("\t", " ").replace("\n", " ") for line in cell_lines))
            text = "\t".join(cells).rstrip()
            if text.strip():
                lines.append(text)

    def _removed(self, element: etree._Element) -> None:
        text = "".join(own_text(e) for e in element.iter() if local_name(e.tag) in ("delText", "t")).strip()
        if text:
            self.deleted.append(text)

    @staticmethod
    def _placeholder(shape: etree._Element) -> str | None:
        for element in shape.iter():
            if local_name(element.tag) == "ph":
                return element.get("type", "body")
        return None


def _chosen_alternative(alternate: etree._Element) -> etree._Element:
    """The first mc:Choice of an mc:AlternateContent (else its mc:Fallback): never both, they repeat."""
    for child in alternate:
        if local_name(child.tag) == "Choice":
            return child
    for child in alternate:
        if local_name(child.tag) == "Fallback":
            return child
    return etree.Element("empty")


def _descendants_named(element: etree._Element, name: str, stop: str) -> Iterator[etree._Element]:
    """Descendants called `name`, looking through wrappers (content controls …) but not into `stop`."""
    for child in element:
        child_name = local_name(child.tag)
        if child_name == name:
            yield child
        elif child_name and child_name != stop and child_name not in _NO_TEXT:
            if child_name == "AlternateContent":
                yield from _descendants_named(_chosen_alternative(child), name, stop)
            else:
                yield from _descendants_named(child, name, stop)


def chart_lines(root: etree._Element) -> list[str]:
    """Titles, series names and category labels of a DrawingML chart."""
    lines = FlowText().block(root)
    for cache in root.iter("{*}strCache"):
        for value in cache.iter("{*}v"):
            text = own_text(value).strip()
            if text:
                lines.append(text)
    return lines


def _join(lines: Iterable[str]) -> str:
    return "\n".join(lines)


def _title(metadata: dict[str, MetaValue]) -> str | None:
    title = metadata.get("title")
    return str(title) if title else None


# --------------------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------------------


class DocxExtractor:
    """Word documents (.docx, .docm, .dotx): body, headers/footers, notes, comments, properties, embeddings."""

    name = "ooxml-docx"
    version = "1"
    doc_types = ("docx",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        with open_zip(path, "DOCX", ctx, warnings) as zf:
            package = OoxmlPackage(zf, "DOCX", ctx, warnings)
            main = package.main_part("word/document.xml")
            document = package.xml(main, required=True)
            budget = TextBudget(ctx.limits.max_text_chars, warnings)
            flow = FlowText()
            parts = [_body_part(flow, document, package, main, budget)]
            parts.extend(_docx_side_parts(package, main, flow, budget))
            if flow.deleted:
                parts.append(
                    Part("section", "tracked deletions", budget.take(_join(flow.deleted), "deletions"))
                )
            metadata = package.properties()
            if package.has_macros():
                metadata["has_macros"] = True
            writer = ChildWriter(ctx, warnings)
            package.embedded_children(posixpath.dirname(main) + "/embeddings/", writer)
            for chunk in package.related(main, "aFChunk"):
                info = package.info(chunk)
                if info is not None:
                    package.embed_member(info, writer)
        return Extraction(
            doc_type="docx",
            title=_title(metadata),
            parts=tuple(parts),
            metadata=metadata,
            children=tuple(writer.children),
            warnings=tuple(warnings),
        )


def _body_part(
    flow: FlowText, document: etree._Element, package: OoxmlPackage, main: str, budget: TextBudget
) -> Part:
    body = next((e for e in document if local_name(e.tag) == "body"), document)
    lines = flow.block(body)
    lines.extend(package.graphic_lines(main))
    return Part("body", "body", budget.take(_join(lines), "body"))


def _docx_side_parts(package: OoxmlPackage, main: str, flow: FlowText, budget: TextBudget) -> list[Part]:
    """Headers/footers (one "headers" part, repeats dropped), footnotes, endnotes and comments."""
    relationships = package.relationships(main)
    parts: list[Part] = []
    seen: set[str] = set()
    header_texts: list[str] = []
    for kind in ("header", "footer"):
        for target in sorted(
            {r.target for r in relationships if r.kind == kind and not r.external}, key=_natural
        ):
            root = package.xml(target)
            text = _join(flow.block(root)) if root is not None else ""
            if text and text not in seen:
                seen.add(text)
                header_texts.append(text)
    if header_texts:
        parts.append(Part("headers", "headers", budget.take("\n\n".join(header_texts), "headers")))
    for kind, label in (("footnotes", "footnotes"), ("endnotes", "endnotes"), ("comments", "comments")):
        for target in [r.target for r in relationships if r.kind == kind and not r.external][:1]:
            root = package.xml(target)
            if root is None:
                continue
            text = _join(_notes_lines(root, flow, with_author=kind == "comments"))
            if text:
                parts.append(Part("notes", label, budget.take(text, label)))
    return parts


def _notes_lines(root: etree._Element, flow: FlowText, with_author: bool) -> list[str]:
    lines: list[str] = []
    for note in root:
        if not local_name(note.tag) or _attribute(note, "type") in ("separator", "continuationSeparator"):
            continue
        text = " ".join(flow.block(note)).strip()
        if not text:
            continue
        author = _attribute(note, "author") if with_author else None
        lines.append(f"{author}: {text}" if author else text)
    return lines


def _attribute(element: etree._Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (w:type, type …)."""
    for key, value in element.attrib.items():
        if local_name(key) == name:
            return value
    return None


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


# --------------------------------------------------------------------------------------------------------
# PPTX
# --------------------------------------------------------------------------------------------------------


class PptxExtractor:
    """Presentations (.pptx, .pptm, .ppsx, .potx): one part per slide with tables, charts, notes, comments."""

    name = "ooxml-pptx"
    version = "1"
    doc_types = ("pptx",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        with open_zip(path, "PPTX", ctx, warnings) as zf:
            package = OoxmlPackage(zf, "PPTX", ctx, warnings)
            main = package.main_part("ppt/presentation.xml")
            presentation = package.xml(main, required=True)
            slides = _slide_order(package, main, presentation)
            if len(slides) > ctx.limits.max_pages:
                warnings.append(
                    f"only the first {ctx.limits.max_pages:,} of {len(slides):,} slides were read"
                )
                slides = slides[: ctx.limits.max_pages]
            budget = TextBudget(ctx.limits.max_text_chars, warnings)
            parts: list[Part] = []
            hidden: list[str] = []
            for number, slide in enumerate(slides, start=1):
                root = package.xml(slide)
                if root is None:
                    warnings.append(f"slide {number} could not be read")
                    continue
                if root.get("show") in ("0", "false"):
                    hidden.append(str(number))
                label = f"Slide {number}"
                parts.append(Part("slide", label, budget.take(_slide_text(package, slide, root), label)))
            metadata = package.properties()
            metadata["slide_count"] = len(slides)
            if hidden:
                metadata["hidden_slides"] = hidden
            if package.has_macros():
                metadata["has_macros"] = True
            writer = ChildWriter(ctx, warnings)
            package.embedded_children(posixpath.dirname(main) + "/embeddings/", writer)
        return Extraction(
            doc_type="pptx",
            title=_title(metadata),
            parts=tuple(parts),
            metadata=metadata,
            children=tuple(writer.children),
            warnings=tuple(warnings),
        )


def _slide_order(package: OoxmlPackage, main: str, presentation: etree._Element) -> list[str]:
    """Slide part names in presentation order (by file name when the slide list is missing)."""
    by_id = {r.rel_id: r.target for r in package.relationships(main) if r.kind == "slide" and not r.external}
    ordered: list[str] = []
    for element in presentation.iter("{*}sldId"):
        target = by_id.get(_attribute(element, "id") or "")
        if target and target not in ordered:
            ordered.append(target)
    if not ordered:
        ordered = sorted(set(by_id.values()), key=_natural)
    if not ordered:
        folder = posixpath.dirname(main) + "/slides/"
        ordered = sorted(
            (n for n in package.names() if n.startswith(folder) and n.count("/") == 2 and n.endswith(".xml")),
            key=_natural,
        )
    return ordered


def _slide_text(package: OoxmlPackage, slide: str, root: etree._Element) -> str:
    flow = FlowText()
    sections = [flow.block(root) + package.graphic_lines(slide)]
    for rel in package.relationships(slide):
        if rel.external:
            continue
        if rel.kind == "notesSlide":
            notes = package.xml(rel.target)
            if notes is not None:
                sections.append(FlowText(_NOTES_PLACEHOLDERS).block(notes))
        elif rel.kind == "comments":
            comments = package.xml(rel.target)
            if comments is not None:
                sections.append(_slide_comment_lines(comments))
    return "\n\n".join(_join(lines) for lines in sections if lines)


def _slide_comment_lines(root: etree._Element) -> list[str]:
    lines: list[str] = []
    for comment in root.iter("{*}cm"):
        texts = [own_text(e).strip() for e in comment if local_name(e.tag) == "text"]
        texts.extend(FlowText().block(comment))
        text = " ".join(t for t in texts if t)
        if text:
            lines.append(text)
    return lines


# --------------------------------------------------------------------------------------------------------
# XLSX / XLSM
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SheetEntry:
    name: str
    part: str | None
    state: str
    kind: str  # relationship kind: "worksheet", "chartsheet", "xlMacrosheet" …


class XlsxExtractor:
    """Workbooks (.xlsx, .xlsm, .xltx): cells with cached formula values per sheet, comments, text boxes."""

    name = "openpyxl"
    version = f"1:{openpyxl.__version__}"
    doc_types = ("xlsx",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        with open_zip(path, "XLSX", ctx, warnings) as zf:
            package = OoxmlPackage(zf, "XLSX", ctx, warnings)
            main = package.main_part("xl/workbook.xml")
            if main.lower().endswith(".bin") or package.has("xl/workbook.bin"):
                raise UnsupportedError("Excel binary workbook (XLSB): format not supported; original kept")
            workbook_xml = package.xml(main, required=True)
            sheets = _sheet_entries(package, main, workbook_xml)
            _check_shared_strings(package, main)
            budget = TextBudget(ctx.limits.max_text_chars, warnings)
            # A package rebuilt from a damaged ZIP exists only in memory (`filename` None).
            source = zf.fp if zf.filename is None and zf.fp is not None else path
            parts = _workbook_parts(source, package, sheets, budget)
            parts.extend(_sheet_side_parts(package, sheets, budget))
            metadata = package.properties()
            metadata["sheet_count"] = len(sheets)
            hidden = [s.name for s in sheets if s.state in ("hidden", "veryHidden")]
            if hidden:
                metadata["hidden_sheets"] = hidden
            if package.has_macros():
                metadata["has_macros"] = True
            writer = ChildWriter(ctx, warnings)
            package.embedded_children(posixpath.dirname(main) + "/embeddings/", writer)
        return Extraction(
            doc_type="xlsx",
            title=_title(metadata),
            parts=tuple(parts),
            metadata=metadata,
            children=tuple(writer.children),
            warnings=tuple(warnings),
        )


def _sheet_entries(package: OoxmlPackage, main: str, workbook: etree._Element) -> list[_SheetEntry]:
    """The sheets listed in workbook.xml, in tab order, with their part names."""
    by_id = {r.rel_id: r for r in package.relationships(main) if not r.external}
    entries: list[_SheetEntry] = []
    for sheet in workbook.iter("{*}sheet"):
        rel = by_id.get(_attribute(sheet, "id") or "")
        entries.append(
            _SheetEntry(
                sheet.get("name", ""),
                rel.target if rel else None,
                sheet.get("state", "visible"),
                rel.kind if rel else "",
            )
        )
    return entries


def _check_shared_strings(package: OoxmlPackage, main: str) -> None:
    """openpyxl keeps the whole shared-string table in memory: refuse one that cannot fit."""
    for target in package.related(main, "sharedStrings"):
        info = package.info(target)
        if info is not None and info.file_size > xml_size_cap(package.ctx):
            raise TooLargeError(
                f"XLSX shared-string table is {info.file_size / MIB:,.0f} MB uncompressed; too large"
            )


_CELL_SHEETS = frozenset({"worksheet", "xlMacrosheet", "xlIntlMacrosheet", "dialogsheet"})


def _workbook_parts(
    source: Path | IO[bytes], package: OoxmlPackage, sheets: list[_SheetEntry], budget: TextBudget
) -> list[Part]:
    """One "sheet" part per worksheet (plus its page headers), streamed; stops at the cell and text limits."""
    ctx, warnings = package.ctx, package.warnings
    with py_warnings.catch_warnings(), contextlib.ExitStack() as stack:
        py_warnings.simplefilter("ignore")
        fh = stack.enter_context(open(source, "rb")) if isinstance(source, Path) else source
        workbook = _load_workbook(fh)
        try:
            reader = _SheetReader(workbook)
            cells_left = ctx.limits.max_cells
            parts: list[Part] = []
            readable = [s for s in sheets if s.kind in _CELL_SHEETS and s.part and package.has(s.part)]
            for index, sheet in enumerate(readable):
                if cells_left <= 0 or budget.exhausted:
                    warnings.append(f"{len(readable) - index:,} more sheet(s) not read: limit reached")
                    break
                part, used, headers = _read_sheet(package, reader, sheet, cells_left, budget)
                cells_left -= used
                parts.append(part)
                if headers:
                    parts.append(Part("headers", f"{part.label} headers", budget.take(headers, part.label)))
            return parts
        finally:
            workbook.close()


def _load_workbook(fh: IO[bytes]) -> Any:
    """Open a workbook read-only with cached formula values; a file object, so the name is never checked."""
    try:
        return openpyxl.load_workbook(fh, read_only=True, data_only=True, keep_links=False, keep_vba=False)
    except ExtractionError:
        raise
    except Exception as exc:
        if _defused(exc):
            raise CorruptError(
                "XLSX declares XML entities (possible entity-expansion bomb or external entity); refused to "
                "expand them"
            ) from exc
        if isinstance(exc, KeyError):
            raise CorruptError(f"XLSX is damaged: missing part {_short(exc)}") from exc
        raise CorruptError(f"XLSX cannot be read: {type(exc).__name__}: {_short(exc)}") from exc


def _defused(exc: BaseException | None) -> bool:
    import defusedxml

    while exc is not None:
        if isinstance(exc, defusedxml.DefusedXmlException):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _read_sheet(
    package: OoxmlPackage, reader: _SheetReader, sheet: _SheetEntry, cells_left: int, budget: TextBudget
) -> tuple[Part, int, str | None]:
    """Stream one worksheet's filled cells (no padding to the declared dimension, which may be forged).

    Returns the sheet part, the number of cells kept and the page header/footer text.
    """
    ctx, warnings = package.ctx, package.warnings
    cells: list[Cell] = []
    lines: list[str] = []
    scan_left = max(ctx.limits.max_cells, 1) * _SCAN_FACTOR
    info = package.info(sheet.part or "")
    assert info is not None  # only sheets present in the package are read
    try:
        with package.zf.open(info) as source:
            for row in reader.rows(source):
                scan_left -= max(len(row), 1)
                if len(cells) + len(row) > cells_left:
                    row = row[: cells_left - len(cells)]
                    warnings.append(f"sheet {sheet.name!r} truncated at {ctx.limits.max_cells:,} cells")
                    _add_row(row, cells, lines, budget, sheet.name)
                    break
                if not _add_row(row, cells, lines, budget, sheet.name):
                    warnings.append(f"sheet {sheet.name!r} truncated: text limit reached")
                    break
                if scan_left <= 0:
                    scanned = ctx.limits.max_cells * _SCAN_FACTOR
                    warnings.append(f"sheet {sheet.name!r}: stopped after scanning {scanned:,} cells")
                    break
    except ExtractionError:
        raise
    except Exception as exc:  # a damaged sheet keeps the rows read before the damage
        log.info("worksheet stopped early: %s", type(exc).__name__)
        warnings.append(f"sheet {sheet.name!r} is damaged; read up to the damage ({type(exc).__name__})")
    headers, reader.headers = reader.headers, None
    return Part("sheet", sheet.name, "\n".join(lines), tuple(cells)), len(cells), headers


_COORDINATE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")
_HEADER_CODES = re.compile(r'&(?:"[^"]*"|\d+|K[0-9A-Fa-f]{6}|K\d\d[+-]\d{3}|[A-Za-z])')
_HEADER_SECTIONS = re.compile(r"&[LCR]")


class _SheetReader:
    """Rows of filled cells of one worksheet part, streamed with the hardened lxml parser.

    Shared strings, the date-styled cell formats and the date epoch come from the openpyxl workbook,
    which has read them (through defusedxml); the sheet itself is parsed here because lxml streams
    several times faster than openpyxl's pure-Python cell reader.
    """

    def __init__(self, workbook: Any) -> None:
        # openpyxl keeps these on private attributes in read-only mode; there is no public accessor.
        sheets = workbook.worksheets
        self._strings: list[Any] = (getattr(sheets[0], "_shared_strings", None) or []) if sheets else []
        self._date_styles: set[int] = set(getattr(workbook, "_date_formats", ()) or ())
        self._duration_styles: set[int] = set(getattr(workbook, "_timedelta_formats", ()) or ())
        self._epoch = workbook.epoch
        self.headers: str | None = None

    def rows(self, source: IO[bytes]) -> Iterator[list[Cell]]:
        events = etree.iterparse(
            source,
            events=("end",),
            tag=("{*}row", "{*}headerFooter"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        row_number = 0
        for _, element in events:
            if local_name(element.tag) == "headerFooter":
                self.headers = _header_footer_text(element)
            else:
                number = element.get("r", "")
                row_number = int(number) if number.isdigit() else row_number + 1
                cells = self._cells(element, max(row_number, 1))
                if cells:
                    yield cells
            element.clear()
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]

    def _cells(self, row: etree._Element, row_number: int) -> list[Cell]:
        cells: list[Cell] = []
        column = 0
        namespace = row.tag[: -len("row")]  # "{transitional or strict namespace}"
        for cell in row.iterchildren(f"{namespace}c"):
            match = _COORDINATE.match(cell.get("r", ""))
            column = _column_index(match.group(1)) if match else column + 1
            text = self._value(cell, namespace)
            if text is not None and text.strip():
                cells.append(Cell(row_number, max(column, 1), text))
        return cells

    def _value(self, cell: etree._Element, namespace: str) -> str | None:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            return "".join(
                own_text(t) for t in cell.iter(f"{namespace}t") if t.getparent().tag != f"{namespace}rPh"
            )
        raw = cell.findtext(f"{namespace}v")
        if not raw:
            return None
        if kind == "s":
            return self._shared(raw)
        if kind == "b":
            return "TRUE" if raw.strip() in ("1", "true") else "FALSE"
        if kind in ("str", "e", "d"):
            return raw
        return self._number(raw, cell.get("s", ""))

    def _shared(self, raw: str) -> str | None:
        try:
            value = self._strings[int(raw)]
        except (ValueError, IndexError):
            return None
        return str(value) if value is not None else None

    def _number(self, raw: str, style: str) -> str:
        try:
            number = float(raw)
        except ValueError:
            return raw
        style_id = int(style) if style.isdigit() else 0
        if style_id in self._date_styles or style_id in self._duration_styles:
            from openpyxl.utils.datetime import from_excel

            try:
                moment = from_excel(number, self._epoch, timedelta=style_id in self._duration_styles)
            except (OverflowError, ValueError, TypeError):
                return cell_text(number)
            return cell_text(moment)
        return cell_text(number)


@functools.lru_cache(maxsize=4096)
def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index


def _header_footer_text(element: etree._Element) -> str | None:
    """Page header and footer text of a sheet, formatting codes (&P, &"Arial,Bold" …) removed."""
    texts: list[str] = []
    for child in element:
        raw = own_text(child) if local_name(child.tag) else ""
        for section in _HEADER_SECTIONS.split(raw.replace("&&", "\0")):
            text = _HEADER_CODES.sub(" ", section).replace("\0", "&")
            text = " ".join(text.split())
            if text and text not in texts:
                texts.append(text)
    return "\n".join(texts) or None


def _add_row(
    row_cells: list[Cell], cells: list[Cell], lines: list[str], budget: TextBudget, title: str
) -> bool:
    if not row_cells:
        return True
    line = row_text(row_cells)
    if not budget.spend(len(line) + 1, f"sheet {title!r}"):
        return False
    cells.extend(row_cells)
    lines.append(line)
    return True


def cell_text(value: Any) -> str:
    """A cell value as a reader would expect to search it: 3.0 → "3", dates in ISO form, TRUE/FALSE."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _sheet_side_parts(package: OoxmlPackage, sheets: list[_SheetEntry], budget: TextBudget) -> list[Part]:
    """Per sheet: cell comments ("notes") and text of text boxes, shapes and charts ("section")."""
    parts: list[Part] = []
    for sheet in sheets:
        if not sheet.part or budget.exhausted:
            continue
        comments: list[str] = []
        drawings: list[str] = []
        for rel in package.relationships(sheet.part):
            if rel.external:
                continue
            if rel.kind == "comments":
                root = package.xml(rel.target)
                if root is not None:
                    comments.extend(_cell_comment_lines(root))
            elif rel.kind == "drawing":
                root = package.xml(rel.target)
                if root is not None:
                    drawings.extend(FlowText().block(root))
                    drawings.extend(package.graphic_lines(rel.target))
        if comments:
            label = f"{sheet.name} comments"
            parts.append(Part("notes", label, budget.take(_join(comments), label)))
        if drawings:
            label = f"{sheet.name} drawings"
            parts.append(Part("section", label, budget.take(_join(drawings), label)))
    return parts


def _cell_comment_lines(root: etree._Element) -> list[str]:
    authors = [own_text(a).strip() for a in root.iter("{*}author")]
    lines: list[str] = []
    for comment in root.iter("{*}comment"):
        text = "".join(own_text(t) for t in comment.iter("{*}t")).strip()
        if not text:
            continue
        author_id = comment.get("authorId", "")
        author = authors[int(author_id)] if author_id.isdigit() and int(author_id) < len(authors) else ""
        ref = comment.get("ref", "")
        prefix = f"{ref} ({author})" if author and author not in text else ref
        lines.append(f"{prefix}: {text}" if prefix else text)
    return lines
