"""OpenDocument text, spreadsheets and presentations (ODT, ODS, ODP): text, cells, metadata.

content.xml, styles.xml and meta.xml are read with the hardened lxml parser of `office` (no entity
expansion, no DTD, no network); spreadsheets are streamed row by row so huge sheets keep memory bounded.
Password-protected packages are opened when one of `ctx.passwords` fits (AES-CBC or Blowfish, PBKDF2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from lxml import etree

from app.extract.base import Cell, ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError, EncryptedError, TooLargeError
from app.extract.office import (
    MIB,
    TextBudget,
    iso_date,
    open_zip,
    parse_xml_bytes,
    read_member,
    row_text,
    xml_size_cap,
)

log = logging.getLogger(__name__)

_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
_PRESENTATION = "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"
_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
_META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
_DC = "http://purl.org/dc/elements/1.1/"
_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


T_P, T_H, T_S, T_TAB = _q(_TEXT, "p"), _q(_TEXT, "h"), _q(_TEXT, "s"), _q(_TEXT, "tab")
T_LINE_BREAK, T_NOTE, T_LIST = _q(_TEXT, "line-break"), _q(_TEXT, "note"), _q(_TEXT, "list")
T_NOTE_CITATION, T_NOTE_BODY = _q(_TEXT, "note-citation"), _q(_TEXT, "note-body")
T_TRACKED, T_DELETION = _q(_TEXT, "tracked-changes"), _q(_TEXT, "deletion")
ANNOTATION, ANNOTATION_END = _q(_OFFICE, "annotation"), _q(_OFFICE, "annotation-end")
TABLE, ROW = _q(_TABLE, "table"), _q(_TABLE, "table-row")
CELL, COVERED_CELL = _q(_TABLE, "table-cell"), _q(_TABLE, "covered-table-cell")
PAGE, NOTES = _q(_DRAW, "page"), _q(_PRESENTATION, "notes")
DC_CREATOR, DC_DATE = _q(_DC, "creator"), _q(_DC, "date")

# Elements whose content is never document text (declarations, forms, change metadata).
_NO_TEXT = frozenset(
    {
        _q(_TEXT, "sequence-decls"),
        _q(_TEXT, "variable-decls"),
        _q(_TEXT, "user-field-decls"),
        _q(_OFFICE, "forms"),
        _q(_TEXT, "change-start"),
        _q(_TEXT, "change-end"),
        _q(_TEXT, "change"),
        _q(_OFFICE, "change-info"),
        ANNOTATION_END,
        _q(_TABLE, "table-columns"),
        _q(_TABLE, "table-column"),
        _q(_TABLE, "table-header-columns"),
        _q(_DRAW, "page-thumbnail"),
        _q(_TABLE, "named-expressions"),
        _q(_TABLE, "database-ranges"),
        _q(_TABLE, "calculation-settings"),
        _q(_TABLE, "content-validations"),
        _q(_TABLE, "dde-links"),
        _q(_TABLE, "shapes"),
    }
)
_BLOCKS = frozenset({T_P, T_H, T_LIST, TABLE})
_SVG = "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
# Alternative text of shapes and images: a line of its own.
_ALT_TEXT = frozenset({_q(_SVG, "title"), _q(_SVG, "desc")})
# Fields whose cached value in a page header/footer is a layout placeholder ("???", "Page 1 / 99").
_HEADER_FIELDS = frozenset(
    _q(_TEXT, name)
    for name in ("sheet-name", "title", "date", "time", "page-number", "page-count", "file-name", "subject")
)
_HEADER_TAGS = tuple(
    _q(_STYLE, name)
    for name in ("header", "header-left", "header-first", "footer", "footer-left", "footer-first")
)
_MAX_SPACES = 100
_MAX_COLUMNS = 16_384
_MAX_ROWS = 1_048_576

_BODY_TYPES = {
    "text": "odt",
    "spreadsheet": "ods",
    "presentation": "odp",
    "drawing": "odp",
}
_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.text-template": "odt",
    "application/vnd.oasis.opendocument.text-master": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.spreadsheet-template": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.presentation-template": "odp",
    "application/vnd.oasis.opendocument.graphics": "odp",
}


class OdfExtractor:
    """ODT body/headers/notes/comments, ODS sheets with cells, ODP slides with notes; meta.xml metadata."""

    name = "odf"
    version = "1"
    doc_types = ("odt", "ods", "odp")

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        with open_zip(path, "OpenDocument file", ctx, warnings) as zf:
            package = _OdfPackage(zf, ctx, warnings)
            doc_type = package.doc_type()
            label = doc_type.upper()
            package.label = label
            package.unlock(ctx.passwords)
            budget = TextBudget(ctx.limits.max_text_chars, warnings)
            if doc_type == "ods":
                parts = _spreadsheet_parts(package, budget)
            else:
                content = package.required_xml("content.xml")
                if doc_type == "odp":
                    parts = _presentation_parts(content, ctx, budget, warnings)
                else:
                    parts = _text_parts(content, budget)
            if doc_type != "odp":
                headers = _header_lines(package)
                if headers:
                    parts.append(Part("headers", "headers", budget.take("\n".join(headers), "headers")))
            metadata = _metadata(package.xml("meta.xml"))
            if package.encrypted:
                metadata["encrypted"] = True
            if any(name.lower().startswith("basic/") for name in zf.namelist()):
                metadata["has_macros"] = True
        title = metadata.get("title")
        return Extraction(
            doc_type=doc_type,
            title=str(title) if title else None,
            parts=tuple(parts),
            metadata=metadata,
            warnings=tuple(warnings),
        )


# --------------------------------------------------------------------------------------------------------
# The package: type, encryption, parts
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Encryption:
    """The manifest's encryption-data of one package entry."""

    algorithm: str
    iv: bytes
    salt: bytes
    iterations: int
    key_size: int
    start_key: str
    checksum_type: str
    checksum: bytes
    derivation: str


@dataclass
class _OdfPackage:
    zf: zipfile.ZipFile
    ctx: ExtractContext
    warnings: list[str]
    label: str = "OpenDocument file"
    encrypted: bool = False
    _encryption: dict[str, _Encryption] = field(default_factory=dict)
    _password: str | None = None

    def doc_type(self) -> str:
        """odt/ods/odp from the mimetype member, else from the body element of content.xml."""
        try:
            mimetype = self.zf.read("mimetype")[:100].decode("ascii", "replace").strip()
        except (KeyError, zipfile.BadZipFile, zlib.error, OSError):
            mimetype = ""
        if mimetype in _MIMETYPES:
            return _MIMETYPES[mimetype]
        root = self.xml("content.xml")
        if root is not None:
            body = root.find(_q(_OFFICE, "body"))
            for child in body if body is not None else ():
                kind = etree.QName(child).localname if isinstance(child.tag, str) else ""
                if kind in _BODY_TYPES:
                    return _BODY_TYPES[kind]
        return "odt"

    def unlock(self, passwords: tuple[str, ...]) -> None:
        """Read the manifest; for an encrypted package find the password that opens content.xml."""
        manifest = self._plain_xml("META-INF/manifest.xml")
        if manifest is None:
            return
        self._encryption = _encryption_entries(manifest)
        if "content.xml" not in self._encryption:
            return
        self.encrypted = True
        if not passwords:
            raise EncryptedError(f"encrypted {self.label}: password required")
        raw = self._raw("content.xml")
        for password in passwords:
            if _decrypt(self._encryption["content.xml"], raw, password, self._cap()) is not None:
                self._password = password
                return
        raise EncryptedError(f"encrypted {self.label}: none of the given passwords opens it")

    def stream(self, name: str) -> IO[bytes] | None:
        """A readable stream of a (decrypted) part, or None when absent."""
        info = self._info(name)
        if info is None:
            return None
        if name in self._encryption and self._password is not None:
            return io.BytesIO(self._decrypted(name))
        return self.zf.open(info)

    def required_xml(self, name: str) -> etree._Element:
        root = self.xml(name, required=True)
        if root is None:  # only an encrypted part without its password; unlock() has refused those
            raise EncryptedError(f"encrypted {self.label}: password required")
        return root

    def xml(self, name: str, required: bool = False) -> etree._Element | None:
        """The parsed (decrypted) part; None when absent or unreadable, CorruptError if `required`."""
        if self._info(name) is None:
            if required:
                raise CorruptError(f"{self.label} is damaged: missing {name}")
            return None
        if name in self._encryption:
            if self._password is None:
                return None
            data = self._decrypted(name)
        else:
            data = self._raw(name)
        try:
            return parse_xml_bytes(data, name, self.label, self.warnings)
        except CorruptError as exc:
            if required:
                raise
            self.warnings.append(exc.reason)
            return None

    def _plain_xml(self, name: str) -> etree._Element | None:
        if self._info(name) is None:
            return None
        try:
            return parse_xml_bytes(self._raw(name), name, self.label, self.warnings)
        except CorruptError as exc:
            self.warnings.append(exc.reason)
            return None

    def _decrypted(self, name: str) -> bytes:
        assert self._password is not None
        data = _decrypt(self._encryption[name], self._raw(name), self._password, self._cap())
        if data is None:
            raise CorruptError(f"{self.label} is damaged: {name} does not decrypt with the password")
        return data

    def _info(self, name: str) -> zipfile.ZipInfo | None:
        try:
            return self.zf.getinfo(name)
        except KeyError:
            return None

    def _raw(self, name: str) -> bytes:
        info = self._info(name)
        assert info is not None
        if info.file_size > self._cap():
            raise TooLargeError(
                f"{self.label} part {name} is {info.file_size / MIB:,.0f} MB uncompressed; too large"
            )
        return read_member(self.zf, info, self.label, self.warnings)

    def _cap(self) -> int:
        return xml_size_cap(self.ctx)


def _encryption_entries(manifest: etree._Element) -> dict[str, _Encryption]:
    entries: dict[str, _Encryption] = {}
    for entry in manifest.iter(_q(_MANIFEST, "file-entry")):
        data = entry.find(_q(_MANIFEST, "encryption-data"))
        path = entry.get(_q(_MANIFEST, "full-path"), "")
        if data is None or not path:
            continue
        algorithm = data.find(_q(_MANIFEST, "algorithm"))
        derivation = data.find(_q(_MANIFEST, "key-derivation"))
        start = data.find(_q(_MANIFEST, "start-key-generation"))
        try:
            entries[path] = _Encryption(
                algorithm=_m(algorithm, "algorithm-name"),
                iv=_b64(_m(algorithm, "initialisation-vector")),
                salt=_b64(_m(derivation, "salt")),
                iterations=int(_m(derivation, "iteration-count") or 0),
                key_size=int(_m(derivation, "key-size") or 16),
                start_key=_m(start, "start-key-generation-name") or "SHA1",
                checksum_type=_m(data, "checksum-type"),
                checksum=_b64(_m(data, "checksum")),
                derivation=_m(derivation, "key-derivation-name"),
            )
        except ValueError:
            log.info("unreadable encryption data in the ODF manifest")
            entries[path] = _Encryption("", b"", b"", 0, 16, "", "", b"", "")
    return entries


def _m(element: etree._Element | None, name: str) -> str:
    return "" if element is None else element.get(_q(_MANIFEST, name), "")


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text) if text else b""
    except binascii.Error as exc:
        raise ValueError("bad base64") from exc


def _decrypt(entry: _Encryption, raw: bytes, password: str, cap: int) -> bytes | None:
    """The inflated plain text of an encrypted entry, or None when the password does not fit."""
    if entry.derivation.upper() != "PBKDF2" or entry.iterations <= 0:
        raise EncryptedError("encrypted OpenDocument file: unsupported encryption scheme")
    hashed = "sha256" if "sha256" in entry.start_key.lower() else "sha1"
    start_key = hashlib.new(hashed, password.encode("utf-8")).digest()
    key = hashlib.pbkdf2_hmac("sha1", start_key, entry.salt, entry.iterations, entry.key_size)
    for plain in _deciphered(entry, key, raw):
        if _checksum_matches(entry, plain):
            inflater = zlib.decompressobj(-15)
            try:
                return inflater.decompress(plain, cap)
            except zlib.error:
                return None
    return None


def _deciphered(entry: _Encryption, key: bytes, raw: bytes) -> Iterator[bytes]:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    name = entry.algorithm.lower()
    if "aes" in name and "cbc" in name:
        if len(raw) % 16 or len(entry.iv) != 16:
            return
        decryptor = Cipher(algorithms.AES(key), modes.CBC(entry.iv)).decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        padding = plain[-1] if plain else 0
        if 1 <= padding <= 16:
            yield plain[:-padding]
        yield plain
    elif "blowfish" in name:
        try:
            from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
        except ImportError:  # older cryptography releases
            Blowfish = algorithms.Blowfish  # type: ignore[attr-defined]  # noqa: N806
        for mode in (modes.CFB8(entry.iv), modes.CFB(entry.iv)):
            decryptor = Cipher(Blowfish(key), mode).decryptor()
            yield decryptor.update(raw) + decryptor.finalize()
    else:
        raise EncryptedError(f"encrypted OpenDocument file: unsupported cipher {entry.algorithm[-40:]!r}")


def _checksum_matches(entry: _Encryption, plain: bytes) -> bool:
    kind = entry.checksum_type.lower()
    if not entry.checksum:
        return True
    if "sha256" in kind:
        digest = hashlib.sha256(plain[:1024] if "1k" in kind else plain).digest()
    else:
        digest = hashlib.sha1(plain[:1024] if "1k" in kind else plain).digest()
    return digest == entry.checksum


# --------------------------------------------------------------------------------------------------------
# Text flow: paragraphs, lists, tables, frames; notes, comments and deletions gathered on the side
# --------------------------------------------------------------------------------------------------------


class _Flow:
    """Lines of an ODF subtree; footnotes, comments and tracked deletions are gathered separately."""

    def __init__(self, skip: frozenset[str] = frozenset()) -> None:
        self._skip = _NO_TEXT | skip
        self.notes: list[str] = []
        self.comments: list[str] = []
        self.deleted: list[str] = []

    def block(self, element: etree._Element) -> list[str]:
        lines: list[str] = []
        for child in element:
            self._element(child, lines)
        return lines

    def _element(self, element: etree._Element, lines: list[str]) -> None:
        tag = element.tag
        if not isinstance(tag, str) or tag in self._skip or tag == NOTES:
            return
        if tag in (T_P, T_H):
            self._paragraph(element, lines)
        elif tag == TABLE:
            self._table(element, lines)
        elif tag == T_TRACKED:
            for deletion in element.iter(T_DELETION):
                text = " ".join(self.block(deletion)).strip()
                if text:
                    self.deleted.append(text)
        elif tag == ANNOTATION:
            self.annotation(element, "")
        else:
            for child in element:
                self._element(child, lines)

    def _paragraph(self, paragraph: etree._Element, lines: list[str]) -> None:
        pieces: list[str] = []
        nested: list[str] = []
        self.inline(paragraph, pieces, nested)
        text = "".join(pieces).strip()
        if text:
            lines.append(text)
        lines.extend(nested)

    def inline(self, element: etree._Element, pieces: list[str], nested: list[str]) -> None:
        """Text of a paragraph's content; paragraphs met inside it (text boxes) go to `nested`."""
        if element.text:
            pieces.append(element.text)
        for child in element:
            tag = child.tag
            if isinstance(tag, str) and tag not in self._skip:
                if tag == T_S:
                    pieces.append(" " * _count(child.get(_q(_TEXT, "c")), _MAX_SPACES))
                elif tag == T_TAB:
                    pieces.append("\t")
                elif tag == T_LINE_BREAK:
                    pieces.append("\n")
                elif tag == T_NOTE:
                    self._note(child)
                elif tag == ANNOTATION:
                    self.annotation(child, "")
                elif tag in _BLOCKS:
                    self._element(child, nested)
                elif tag in _ALT_TEXT:
                    alt = "".join(child.itertext()).strip()
                    if alt:
                        nested.append(alt)
                else:
                    self.inline(child, pieces, nested)
            if child.tail:  # also the text after an unexpanded entity reference
                pieces.append(child.tail)

    def _table(self, table: etree._Element, lines: list[str]) -> None:
        for row in _rows(table):
            cells = [
                " ".join(self.block(cell)).replace("\t", " ")
                for cell in row
                if cell.tag in (CELL, COVERED_CELL)
            ]
            text = "\t".join(cells).rstrip()
            if text.strip():
                lines.append(text)

    def _note(self, note: etree._Element) -> None:
        citation = note.find(T_NOTE_CITATION)
        body = note.find(T_NOTE_BODY)
        text = " ".join(self.block(body)) if body is not None else ""
        if text.strip():
            mark = "".join(citation.itertext()).strip() if citation is not None else ""
            self.notes.append(f"[{mark}] {text}" if mark else text)

    def annotation(self, annotation: etree._Element, where: str) -> None:
        """A comment: "where (author): text"."""
        text = " ".join(self.block(annotation)).strip()
        if not text:
            return
        creator = annotation.find(DC_CREATOR)
        author = (creator.text or "").strip() if creator is not None else ""
        prefix = " ".join(p for p in (where, f"({author})" if author else "") if p)
        self.comments.append(f"{prefix}: {text}" if prefix else text)


def _rows(table: etree._Element) -> Iterator[etree._Element]:
    """Rows of a table, through header-row and row-group wrappers but not into nested tables."""
    for child in table:
        if child.tag == ROW:
            yield child
        elif isinstance(child.tag, str) and child.tag != TABLE and child.tag not in _NO_TEXT:
            yield from _rows(child)


def _count(raw: str | None, cap: int) -> int:
    try:
        return min(max(int(raw or 1), 1), cap)
    except ValueError:
        return 1


def _side_parts(flow: _Flow, budget: TextBudget, prefix: str = "") -> list[Part]:
    parts: list[Part] = []
    for kind, label, lines in (
        ("notes", "footnotes", flow.notes),
        ("notes", "comments", flow.comments),
        ("section", "tracked deletions", flow.deleted),
    ):
        if lines:
            full = f"{prefix}{label}"
            parts.append(Part(kind, full, budget.take("\n".join(lines), full)))
    return parts


# --------------------------------------------------------------------------------------------------------
# ODT, ODP, ODS
# --------------------------------------------------------------------------------------------------------


def _office_body(content: etree._Element, kinds: tuple[str, ...]) -> etree._Element | None:
    body = content.find(_q(_OFFICE, "body"))
    if body is None:
        return None
    for kind in kinds:
        found = body.find(_q(_OFFICE, kind))
        if found is not None:
            return found
    return body


def _text_parts(content: etree._Element, budget: TextBudget) -> list[Part]:
    body = _office_body(content, ("text",))
    flow = _Flow()
    lines = flow.block(body) if body is not None else []
    return [Part("body", "body", budget.take("\n".join(lines), "body")), *_side_parts(flow, budget)]


def _presentation_parts(
    content: etree._Element, ctx: ExtractContext, budget: TextBudget, warnings: list[str]
) -> list[Part]:
    body = _office_body(content, ("presentation", "drawing"))
    pages = list(body.iter(PAGE)) if body is not None else []
    if len(pages) > ctx.limits.max_pages:
        warnings.append(f"only the first {ctx.limits.max_pages:,} of {len(pages):,} slides were read")
        pages = pages[: ctx.limits.max_pages]
    flow = _Flow()
    parts: list[Part] = []
    for number, page in enumerate(pages, start=1):
        sections = [flow.block(page)]
        notes = page.find(NOTES)
        if notes is not None:
            sections.append(flow.block(notes))
        text = "\n\n".join("\n".join(lines) for lines in sections if lines)
        label = f"Slide {number}"
        parts.append(Part("slide", label, budget.take(text, label)))
    parts.extend(_side_parts(flow, budget))
    return parts


def _header_lines(package: _OdfPackage) -> list[str]:
    """Page header/footer text of the master pages in styles.xml, repeats dropped."""
    styles = package.xml("styles.xml")
    if styles is None:
        return []
    flow = _Flow(skip=_HEADER_FIELDS)
    lines: list[str] = []
    for master in styles.iter(_q(_STYLE, "master-page")):
        for child in master:
            if child.tag in _HEADER_TAGS:
                for line in flow.block(child):
                    if line not in lines:
                        lines.append(line)
    return lines


@dataclass
class _SheetState:
    name: str
    cells: list[Cell] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    row: int = 1
    truncated: bool = False


def _spreadsheet_parts(package: _OdfPackage, budget: TextBudget) -> list[Part]:
    """Stream content.xml row by row: each table becomes a "sheet" part with its filled cells."""
    source = package.stream("content.xml")
    if source is None:
        raise CorruptError(f"{package.label} is damaged: missing content.xml")
    warnings = package.warnings
    cells_left = package.ctx.limits.max_cells
    flow = _Flow()
    parts: list[Part] = []
    sheet: _SheetState | None = None
    events = etree.iterparse(
        source,
        events=("start", "end"),
        tag=(TABLE, ROW),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    damaged = False
    try:
        with source:
            for event, element in events:
                if _inside_cell(element):
                    continue  # a table nested in a cell: read as part of that cell
                if element.tag == TABLE:
                    if event == "start":
                        sheet = _SheetState(element.get(_q(_TABLE, "name"), f"Sheet{len(parts) + 1}"))
                    elif sheet is not None:
                        parts.append(Part("sheet", sheet.name, "\n".join(sheet.lines), tuple(sheet.cells)))
                        sheet = None
                        _drop(element)
                    continue
                if event != "end" or sheet is None:
                    continue
                if not sheet.truncated:
                    added, filled = _add_row(element, sheet, cells_left, flow, budget, warnings)
                    cells_left -= added
                    if filled and cells_left <= 0 and not sheet.truncated:
                        sheet.truncated = True
                        warnings.append(
                            f"sheet {sheet.name!r} truncated at {package.ctx.limits.max_cells:,} cells"
                        )
                _drop(element)
    except (etree.XMLSyntaxError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        damaged = True
        warnings.append(f"content.xml is damaged; sheets read up to the damage ({str(exc)[:120]})")
    if sheet is not None:
        parts.append(Part("sheet", sheet.name, "\n".join(sheet.lines), tuple(sheet.cells)))
    if damaged and not parts:
        raise CorruptError(f"{package.label} is damaged: content.xml cannot be read")
    parts.extend(_side_parts(flow, budget))
    return parts


def _inside_cell(element: etree._Element) -> bool:
    return any(ancestor.tag in (CELL, COVERED_CELL) for ancestor in element.iterancestors())


def _drop(element: etree._Element) -> None:
    """Free a processed element and the siblings before it (keeps iterparse memory flat)."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _add_row(
    row: etree._Element,
    sheet: _SheetState,
    cells_left: int,
    flow: _Flow,
    budget: TextBudget,
    warnings: list[str],
) -> tuple[int, bool]:
    """Add one (possibly repeated) row's filled cells; returns (cells added, whether the row has any)."""
    repeat = _count(row.get(_q(_TABLE, "number-rows-repeated")), _MAX_ROWS)
    template = _row_template(row, sheet, flow)
    added = 0
    if template:
        for offset in range(repeat):
            number = sheet.row + offset
            cells = [Cell(number, column, text) for column, text in template[: cells_left - added]]
            if not cells:
                break  # cell limit: the caller warns
            line = row_text(cells)
            if not budget.spend(len(line) + 1, f"sheet {sheet.name!r}"):
                sheet.truncated = True
                warnings.append(f"sheet {sheet.name!r} truncated: text limit reached")
                break
            sheet.cells.extend(cells)
            sheet.lines.append(line)
            added += len(cells)
    sheet.row += repeat
    return added, bool(template)


def _row_template(row: etree._Element, sheet: _SheetState, flow: _Flow) -> list[tuple[int, str]]:
    """(column, text) of the filled cells of one row; comments go to `flow.comments`."""
    template: list[tuple[int, str]] = []
    column = 1
    for cell in row:
        if cell.tag not in (CELL, COVERED_CELL):
            continue
        repeat = _count(cell.get(_q(_TABLE, "number-columns-repeated")), _MAX_COLUMNS)
        text = _cell_text(cell, flow)
        for annotation in cell.iter(ANNOTATION):
            flow.annotation(annotation, f"{sheet.name}!{_ref(sheet.row, column)}")
        if text:
            template.extend((column + offset, text) for offset in range(repeat))
        column += repeat
        if column > _MAX_COLUMNS:
            break
    return template


def _cell_text(cell: etree._Element, flow: _Flow) -> str:
    paragraphs: list[str] = []
    for paragraph in cell.iterchildren(T_P, T_H):
        pieces: list[str] = []
        nested: list[str] = []
        probe = _Flow()
        probe.inline(paragraph, pieces, nested)
        flow.notes.extend(probe.notes)
        paragraphs.append("".join(pieces).strip())
    text = "\n".join(p for p in paragraphs if p)
    if text:
        return text
    value_type = cell.get(_q(_OFFICE, "value-type"))
    attribute = {
        "float": "value",
        "percentage": "value",
        "currency": "value",
        "date": "date-value",
        "time": "time-value",
        "boolean": "boolean-value",
        "string": "string-value",
    }.get(value_type or "")
    return (cell.get(_q(_OFFICE, attribute)) or "").strip() if attribute else ""


def _ref(row: int, column: int) -> str:
    from app.extract.base import column_letters

    return f"{column_letters(column)}{row}"


# --------------------------------------------------------------------------------------------------------
# meta.xml
# --------------------------------------------------------------------------------------------------------

_META_TEXT = {
    _q(_DC, "title"): "title",
    _q(_DC, "subject"): "subject",
    _q(_DC, "description"): "description",
    _q(_META, "initial-creator"): "author",
    DC_CREATOR: "last_modified_by",
    _q(_META, "generator"): "creator",
    _q(_DC, "language"): "language",
    _q(_META, "editing-cycles"): "revision",
    _q(_META, "editing-duration"): "editing_duration",
    _q(_META, "printed-by"): "printed_by",
}
_META_DATES = {
    _q(_META, "creation-date"): "created",
    DC_DATE: "modified",
    _q(_META, "print-date"): "last_printed",
}


def _metadata(root: etree._Element | None) -> dict[str, MetaValue]:
    """meta.xml → normalised keys (`meta:initial-creator` is the author, `dc:creator` the last editor)."""
    metadata: dict[str, MetaValue] = {}
    meta = root.find(_q(_OFFICE, "meta")) if root is not None else None
    if meta is None:
        return metadata
    keywords: list[str] = []
    for element in meta:
        tag = element.tag
        value = "".join(element.itertext()).strip() if isinstance(tag, str) else ""
        if tag in _META_TEXT and value:
            metadata[_META_TEXT[tag]] = value[:10_000]
        elif tag in _META_DATES and (when := iso_date(value)):
            metadata[_META_DATES[tag]] = when
        elif tag == _q(_META, "keyword") and value:
            keywords.append(value)
        elif tag == _q(_META, "document-statistic"):
            pages = element.get(_q(_META, "page-count"), "")
            if pages.isdigit():
                metadata["page_count"] = int(pages)
        elif tag == _q(_META, "template"):
            template = element.get("{http://www.w3.org/1999/xlink}title") or element.get(
                "{http://www.w3.org/1999/xlink}href"
            )
            if template:
                metadata["template"] = template[:1000]
        elif tag == _q(_META, "user-defined") and value:
            name = element.get(_q(_META, "name"), "")
            if name and sum(k.startswith("custom:") for k in metadata) < 100:
                metadata[f"custom:{name[:200]}"] = value[:10_000]
    if keywords:
        metadata["keywords"] = ", ".join(keywords)
    return metadata
