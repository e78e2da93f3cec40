"""Legacy binary Office documents (Word, Excel and PowerPoint 97-2003) read from their OLE2 containers.

DOC follows MS-DOC (FIB → piece table → text pieces), PPT walks MS-PPT records (current edit → persist
directory → slides), XLS goes through xlrd. Encrypted files are decrypted in memory with msoffcrypto-tool
when one of the given passwords fits; summary information becomes metadata.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import olefile
import xlrd

from app.extract.base import Cell, ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError, EncryptedError, TooLargeError, UnsupportedError

log = logging.getLogger(__name__)

# Excel opens files "encrypted" with this built-in password without asking anyone.
_EXCEL_DEFAULT_PASSWORD = "VelvetSweatshop"


# --------------------------------------------------------------------------------------------------
# Shared: OLE container, decryption, summary information, text budget
# --------------------------------------------------------------------------------------------------


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:200]


def _open_ole(source: Path | bytes, what: str) -> olefile.OleFileIO:
    """The OLE2 container of a file (or of decrypted bytes); CorruptError when it cannot be read."""
    try:
        return olefile.OleFileIO(source if isinstance(source, bytes) else str(source))
    except Exception as exc:
        raise CorruptError(f"{what} is damaged: the OLE2 container cannot be read ({_short(exc)})") from exc


def _read_stream(ole: olefile.OleFileIO, name: str, what: str) -> bytes:
    """A whole stream; CorruptError naming it when it is missing or unreadable."""
    if not ole.exists(name):
        raise CorruptError(f"{what} is damaged: missing {name} stream")
    try:
        return ole.openstream(name).read()
    except Exception as exc:
        raise CorruptError(f"{what} is damaged: {name} stream unreadable ({_short(exc)})") from exc


def _decrypt(
    path: Path, passwords: tuple[str, ...], what: str, default: tuple[str, ...] = ()
) -> tuple[bytes, str]:
    """Decrypted OLE bytes of an encrypted DOC/XLS/PPT and the password that opened it.

    EncryptedError when no password opens it.

    `default` passwords (Excel's built-in one) are tried first and do not count as "given".
    """
    import msoffcrypto
    from msoffcrypto.exceptions import InvalidKeyError

    failure = ""  # why the library could not even try a password (unsupported scheme, damaged header)
    for password in (*default, *passwords):
        try:
            with open(path, "rb") as fh:
                office = msoffcrypto.OfficeFile(fh)
                office.load_key(password=password)
                out = io.BytesIO()
                office.decrypt(out)
        except InvalidKeyError:
            continue
        except Exception as exc:
            log.debug("decryption of %s failed: %s", what, exc)
            failure = _short(exc)
            continue
        return out.getvalue(), password
    if not passwords:
        raise EncryptedError(f"encrypted {what}: password required")
    if failure:
        raise EncryptedError(f"encrypted {what}: none of the given passwords opens it ({failure})")
    raise EncryptedError(f"encrypted {what}: none of the given passwords opens it")


def _codepage_encoding(codepage: int | None) -> str:
    """Python codec for a Windows code page number (cp1252 when unknown)."""
    if not isinstance(codepage, int) or codepage in (0, 1252):
        return "cp1252"
    special = {1200: "utf-16-le", 65001: "utf-8", 10000: "mac_roman"}
    encoding = special.get(codepage & 0xFFFF, f"cp{codepage & 0xFFFF}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        return "cp1252"
    return encoding


# Property identifiers (MS-OLEPS 2.25) of SummaryInformation and DocumentSummaryInformation.
_SUMMARY_PROPERTIES = {
    2: "title",
    3: "subject",
    4: "author",
    5: "keywords",
    6: "comments",
    7: "template",
    8: "last_modified_by",
    9: "revision",
    11: "printed",
    12: "created",
    13: "modified",
    18: "creator",
}
_DOCSUMMARY_PROPERTIES = {2: "category", 14: "manager", 15: "company"}
_VT_I2, _VT_I4, _VT_LPSTR, _VT_LPWSTR, _VT_FILETIME = 2, 3, 30, 31, 64
_MAX_PROPERTIES = 1000
_FILETIME_EPOCH = datetime(1601, 1, 1)


def _property_entries(data: bytes) -> dict[int, int]:
    """Property id → absolute offset of its value, for the first section of a property set stream."""
    if len(data) < 48:
        return {}
    section = _u32(data, 44)
    if section + 8 > len(data):
        return {}
    count = min(_u32(data, section + 4), _MAX_PROPERTIES, (len(data) - section - 8) // 8)
    entries: dict[int, int] = {}
    for index in range(count):
        pid, offset = struct.unpack_from("<II", data, section + 8 + 8 * index)
        entries[pid] = section + offset
    return entries


def _property_set(data: bytes, wanted: dict[int, str]) -> dict[str, MetaValue]:
    """The wanted properties of the first section of a property set stream (MS-OLEPS).

    Only scalar strings, integers and FILETIMEs are read, every offset is bounds-checked, and the
    property count is capped, so a damaged stream costs nothing but its metadata.
    """
    entries = _property_entries(data)
    codepage = _property_value(data, entries[1], "cp1252") if 1 in entries else 1252
    encoding = _codepage_encoding(codepage if isinstance(codepage, int) else None)
    out: dict[str, MetaValue] = {}
    for pid, key in wanted.items():
        if pid not in entries:
            continue
        value = _property_value(data, entries[pid], encoding)
        if isinstance(value, datetime):
            iso = _iso(value)
            if iso:
                out[key] = iso
        elif isinstance(value, str) and value:
            out[key] = value[:2000]
        elif isinstance(value, int) and key == "revision":
            out[key] = str(value)
    return out


def _property_value(data: bytes, offset: int, encoding: str) -> str | int | datetime | None:
    """One typed property value (VT_I2, VT_I4, VT_FILETIME, VT_LPSTR, VT_LPWSTR); None for others."""
    if offset + 8 > len(data):
        return None
    vtype = _u16(data, offset)
    if vtype == _VT_I2:
        return struct.unpack_from("<h", data, offset + 4)[0]
    if vtype == _VT_I4:
        return _i32(data, offset + 4)
    if vtype == _VT_FILETIME:
        if offset + 12 > len(data):
            return None
        ticks = struct.unpack_from("<Q", data, offset + 4)[0]
        try:
            return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
        except OverflowError:
            return None
    if vtype in (_VT_LPSTR, _VT_LPWSTR):
        size = min(_u32(data, offset + 4), 1 << 20)  # bytes for LPSTR, characters for LPWSTR
        if vtype == _VT_LPWSTR:
            raw, encoding = data[offset + 8 : offset + 8 + 2 * size], "utf-16-le"
        else:
            raw = data[offset + 8 : offset + 8 + size]
        return raw.decode(encoding, "replace").replace("\x00", "").strip()
    return None


def _iso(value: datetime) -> str | None:
    if value.year >= 1980:
        return value.replace(microsecond=0).isoformat()
    return None


def _summary_metadata(ole: olefile.OleFileIO) -> dict[str, MetaValue]:
    """Normalised metadata from the SummaryInformation / DocumentSummaryInformation streams."""
    out: dict[str, MetaValue] = {}
    for stream, wanted in (
        ("\x05SummaryInformation", _SUMMARY_PROPERTIES),
        ("\x05DocumentSummaryInformation", _DOCSUMMARY_PROPERTIES),
    ):
        try:
            if ole.exists(stream):
                out.update(_property_set(ole.openstream(stream).read(), wanted))
        except Exception as exc:  # damaged property sets only cost us metadata
            log.debug("%s unreadable: %s", stream.lstrip("\x05"), exc)
    return out


def _summary_codepage(ole: olefile.OleFileIO) -> int | None:
    """The code page declared by SummaryInformation (property 1), if any."""
    try:
        data = ole.openstream("\x05SummaryInformation").read()
        entries = _property_entries(data)
        value = _property_value(data, entries[1], "cp1252") if 1 in entries else None
    except Exception:
        return None
    return value if isinstance(value, int) else None


def _ole_metadata(source: Path | bytes) -> dict[str, MetaValue]:
    try:
        ole = olefile.OleFileIO(source if isinstance(source, bytes) else str(source))
    except Exception:
        return {}
    with ole:
        return _summary_metadata(ole)


@dataclass
class _TextBudget:
    """Characters still allowed for one document (Limits.max_text_chars)."""

    remaining: int
    truncated: bool = False

    def take(self, text: str) -> str:
        if len(text) <= self.remaining:
            self.remaining -= len(text)
            return text
        self.truncated = True
        kept = text[: max(self.remaining, 0)]
        self.remaining = 0
        return kept


def _title(metadata: dict[str, MetaValue]) -> str | None:
    title = metadata.get("title")
    return str(title) if title else None


# --------------------------------------------------------------------------------------------------
# DOC (Word 6/95 and Word 97-2003)
# --------------------------------------------------------------------------------------------------

_WORD97_IDENT = 0xA5EC
_WORD6_IDENT = 0xA5DC
_FIB_ENCRYPTED = 0x0100
_FIB_COMPLEX = 0x0004
_FIB_TABLE1 = 0x0200
_FC_COMPRESSED = 0x40000000
_MAX_PIECE_GAP = 1_000_000  # CPs missing between two pieces before the table is deemed broken

# Sub-documents in CP order (MS-DOC 2.3): main text, footnotes, headers, macros, comments, endnotes,
# text boxes, header text boxes. `None` kind = not extracted.
_SUBDOCS: tuple[tuple[str | None, str], ...] = (
    ("body", "body"),
    ("notes", "footnotes"),
    ("headers", "headers"),
    (None, "macros"),
    ("notes", "comments"),
    ("notes", "endnotes"),
    ("section", "text boxes"),
    ("headers", "header text boxes"),
)

# Word 6/95 stores 8-bit text in the code page of the language it was written in.
_LID_CODEPAGES = {
    0x0419: "cp1251", 0x0422: "cp1251", 0x0402: "cp1251", 0x0423: "cp1251", 0x0C1A: "cp1251",
    0x042F: "cp1251", 0x0405: "cp1250", 0x0415: "cp1250", 0x040E: "cp1250", 0x041B: "cp1250",
    0x0424: "cp1250", 0x041A: "cp1250", 0x0418: "cp1250", 0x041C: "cp1250", 0x0408: "cp1253",
    0x041F: "cp1254", 0x040D: "cp1255", 0x0401: "cp1256", 0x0425: "cp1257", 0x0426: "cp1257",
    0x0427: "cp1257", 0x041E: "cp874", 0x0411: "cp932", 0x0804: "cp936", 0x0404: "cp950",
    0x0412: "cp949", 0x042A: "cp1258",
}  # fmt: skip


@dataclass(frozen=True)
class _Fib:
    """The parts of the File Information Block that text extraction needs."""

    n_fib: int
    word6: bool
    flags: int
    lid: int
    fc_min: int
    ccp: tuple[int, ...]  # character counts of the sub-documents, in _SUBDOCS order
    fc_clx: int
    lcb_clx: int

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & _FIB_ENCRYPTED)

    @property
    def table_stream(self) -> str:
        return "1Table" if self.flags & _FIB_TABLE1 else "0Table"


def _u16(data: bytes, offset: int) -> int:
    return struct.unpack_from("<H", data, offset)[0]


def _u32(data: bytes, offset: int) -> int:
    return struct.unpack_from("<I", data, offset)[0]


def _i32(data: bytes, offset: int) -> int:
    return struct.unpack_from("<i", data, offset)[0]


def _parse_fib(word: bytes) -> _Fib:
    """FIB of a Word 6/95 or 97+ WordDocument stream; CorruptError/UnsupportedError otherwise."""
    if len(word) < 0x20:
        raise CorruptError("DOC is damaged: WordDocument stream too short for a FIB")
    ident, n_fib, _, lid = struct.unpack_from("<HHHH", word, 0)
    if ident not in (_WORD97_IDENT, _WORD6_IDENT):
        raise CorruptError(f"DOC is damaged: bad FIB signature 0x{ident:04X}")
    flags = _u16(word, 0x0A)
    fc_min = _u32(word, 0x18)
    if n_fib < 101:
        raise UnsupportedError(f"Word document version {n_fib} (before Word 6) is not supported")
    try:
        if n_fib <= 105:
            ccp = tuple(max(_i32(word, 0x34 + 4 * i), 0) for i in range(8))
            fc_clx, lcb_clx = (_u32(word, 0x160), _u32(word, 0x164)) if len(word) >= 0x168 else (0, 0)
            return _Fib(n_fib, True, flags, lid, fc_min, ccp, fc_clx, lcb_clx)
        return _parse_fib97(word, n_fib, flags, lid, fc_min)
    except struct.error as exc:
        if flags & _FIB_ENCRYPTED:  # encrypted files are judged on the FibBase alone
            return _Fib(n_fib, False, flags, lid, fc_min, (0,) * 8, 0, 0)
        raise CorruptError("DOC is damaged: FIB is truncated") from exc


def _parse_fib97(word: bytes, n_fib: int, flags: int, lid: int, fc_min: int) -> _Fib:
    csw = _u16(word, 0x20)
    pos = 0x22 + 2 * csw
    cslw = _u16(word, pos)
    lw = pos + 2
    pos = lw + 4 * cslw
    cb_fc_lcb = _u16(word, pos)
    fc_lcb = pos + 2
    if cslw < 11 or cb_fc_lcb < 34:
        if flags & _FIB_ENCRYPTED:
            return _Fib(n_fib, False, flags, lid, fc_min, (0,) * 8, 0, 0)
        raise CorruptError("DOC is damaged: FIB has too few fields")
    ccp = tuple(max(_i32(word, lw + 4 * i), 0) for i in range(3, 11))
    fc_clx, lcb_clx = struct.unpack_from("<II", word, fc_lcb + 33 * 8)
    return _Fib(n_fib, False, flags, lid, fc_min, ccp, fc_clx, lcb_clx)


@dataclass(frozen=True)
class _Piece:
    cp_start: int
    cp_end: int
    offset: int  # byte offset in the WordDocument stream
    compressed: bool  # 8-bit text (cp1252, or the Word 6 code page) rather than UTF-16LE


def _piece_table(clx: bytes, word6: bool) -> list[_Piece]:
    """Pieces of the CLX (MS-DOC 2.9.38): skip Prc entries, then read the PlcPcd."""
    pos = 0
    while pos < len(clx):
        kind = clx[pos]
        if kind == 1:  # Prc: property modifiers of fast-saved files, not needed for text
            if pos + 3 > len(clx):
                break
            pos += 3 + struct.unpack_from("<h", clx, pos + 1)[0]
            continue
        if kind != 2 or pos + 5 > len(clx):
            break
        lcb = _u32(clx, pos + 1)
        plc = clx[pos + 5 : pos + 5 + lcb]
        return _pieces(plc, word6)
    raise CorruptError("DOC is damaged: piece table (CLX) not found")


def _pieces(plc: bytes, word6: bool) -> list[_Piece]:
    count = (len(plc) - 4) // 12
    if count < 1:
        raise CorruptError("DOC is damaged: empty piece table")
    cps = struct.unpack_from(f"<{count + 1}I", plc, 0)
    base = 4 * (count + 1)
    pieces: list[_Piece] = []
    for index in range(count):
        start, end = cps[index], cps[index + 1]
        if end <= start:
            continue
        fc = _u32(plc, base + 8 * index + 2)
        if word6:
            pieces.append(_Piece(start, end, fc, True))
        elif fc & _FC_COMPRESSED:
            pieces.append(_Piece(start, end, (fc & ~_FC_COMPRESSED) // 2, True))
        else:
            pieces.append(_Piece(start, end, fc, False))
    if not pieces:
        raise CorruptError("DOC is damaged: piece table has no text pieces")
    return pieces


def _read_pieces(word: bytes, pieces: list[_Piece], cp_limit: int, codepage: str) -> tuple[str, bool]:
    """Text of CPs [0, cp_limit) from the pieces, in CP order; the flag says a piece ran off the stream."""
    chunks: list[str] = []
    position = 0
    short = False
    for piece in sorted(pieces, key=lambda p: p.cp_start):
        if position >= cp_limit:
            break
        if piece.cp_start > position:  # a hole in the CP space: keep later CPs where they belong
            gap = min(piece.cp_start, cp_limit) - position
            if gap > _MAX_PIECE_GAP:
                short = True
                break
            chunks.append(" " * gap)
            position += gap
        start = max(piece.cp_start, position)
        count = min(piece.cp_end, cp_limit) - start
        if count <= 0:
            continue
        skip = start - piece.cp_start
        width = 1 if piece.compressed else 2
        begin = piece.offset + skip * width
        raw = word[begin : begin + count * width]
        if len(raw) < count * width:
            short = True
        text = raw.decode(codepage, "replace") if piece.compressed else raw.decode("utf-16-le", "replace")
        chunks.append(text)
        position += len(text)
        if len(text) < count:
            break
    return "".join(chunks), short


_FIELD_MARK = re.compile("([\x13\x14\x15])")
_CONTROL_CHARS = {c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x07)}
_WORD_CHARS = str.maketrans(
    {
        **_CONTROL_CHARS,
        "\r": "\n",
        "\x0b": "\n",  # line break
        "\x0c": "\n",  # page / section break
        "\x0e": "\n",  # column break
        "\x1e": "-",  # non-breaking hyphen
        "\x1f": None,  # optional hyphen
        "\xa0": " ",
        "\uf0b7": "\u2022",  # Symbol-font bullet
    }
)
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def _strip_field_codes(text: str) -> str:
    """Drop field instructions (0x13 … 0x14), keep field results (0x14 … 0x15); nesting aware."""
    if "\x13" not in text:
        return text.replace("\x14", "").replace("\x15", "")
    out: list[str] = []
    in_result: list[bool] = []
    hidden = 0  # open fields still in their instruction part
    for token in _FIELD_MARK.split(text):
        if token == "\x13":
            in_result.append(False)
            hidden += 1
        elif token == "\x14":
            if in_result and not in_result[-1]:
                in_result[-1] = True
                hidden -= 1
        elif token == "\x15":
            if in_result and not in_result.pop():
                hidden -= 1
        elif hidden == 0:
            out.append(token)
    return "".join(out)


def _clean_word_text(raw: str) -> str:
    """Word's special characters → plain text: fields, paragraph marks, table cell/row marks."""
    text = _strip_field_codes(raw).translate(_WORD_CHARS)
    text = text.replace("\x07\x07", "\t\n").replace("\x07", "\t")  # cell end, then row end
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _doc_codepage(fib: _Fib, ole: olefile.OleFileIO) -> str:
    if not fib.word6:
        return "cp1252"
    codepage = _summary_codepage(ole)
    if isinstance(codepage, int) and codepage not in (1200, 65001, 0):
        encoding = _codepage_encoding(codepage)
    else:
        encoding = _LID_CODEPAGES.get(fib.lid, "cp1252")
    try:
        "".encode(encoding)
    except LookupError:
        return "cp1252"
    return encoding


def _doc_raw_text(fib: _Fib, word: bytes, ole: olefile.OleFileIO, cp_limit: int) -> tuple[str, list[str]]:
    """All sub-document text up to cp_limit CPs, and warnings."""
    warnings: list[str] = []
    codepage = _doc_codepage(fib, ole)
    if fib.lcb_clx == 0 or (fib.word6 and not fib.flags & _FIB_COMPLEX):
        # No piece table (Word 6 "non-complex" file): the text runs contiguously from fcMin.
        if fib.fc_min >= len(word):
            raise CorruptError("DOC is damaged: text start lies beyond the WordDocument stream")
        raw = word[fib.fc_min : fib.fc_min + cp_limit]
        if len(raw) < cp_limit:
            warnings.append("document text is truncated (stream ends early)")
        return raw.decode(codepage, "replace"), warnings
    table = word if fib.word6 else _read_stream(ole, fib.table_stream, "DOC")
    if fib.fc_clx + fib.lcb_clx > len(table):
        raise CorruptError("DOC is damaged: piece table lies beyond the table stream")
    pieces = _piece_table(table[fib.fc_clx : fib.fc_clx + fib.lcb_clx], fib.word6)
    text, short = _read_pieces(word, pieces, cp_limit, codepage)
    if short:
        warnings.append("document text is truncated (the piece table points past the stream)")
    return text, warnings


def _doc_parts(fib: _Fib, raw: str, budget: _TextBudget) -> list[Part]:
    parts: list[Part] = []
    position = 0
    merged: dict[tuple[str, str], list[str]] = {}
    order: list[tuple[str, str]] = []
    for (kind, label), count in zip(_SUBDOCS, fib.ccp, strict=True):
        chunk = raw[position : position + count]
        position += count
        if kind is None or not chunk:
            continue
        text = _clean_word_text(chunk)
        if not text:
            continue
        key = (kind, label)
        if key not in merged:
            merged[key] = []
            order.append(key)
        merged[key].append(text)
    if not fib.ccp[0] and raw:  # FIB counts are unusable: everything the pieces hold is the body
        text = _clean_word_text(raw)
        merged[("body", "body")] = [text] if text else []
        order = [("body", "body")]
    for key in order:
        text = budget.take("\n\n".join(merged[key]))
        if text:
            parts.append(Part(kind=key[0], label=key[1], text=text))
    return parts


class DocExtractor:
    """Word 6/95 and 97-2003 documents: body, footnotes, headers, comments, text boxes; summary info."""

    name = "msdoc"
    version = "1"
    doc_types = ("doc",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        ole, word, fib = _open_doc(path)
        if fib.encrypted:
            ole.close()
            decrypted, _ = _decrypt(path, ctx.passwords, "Word document")
            warnings.append("decrypted with a supplied password")
            ole, word, fib = _open_doc(decrypted)
            if fib.encrypted:
                ole.close()
                raise EncryptedError("encrypted Word document: decryption did not succeed")
        with ole:
            budget = _TextBudget(ctx.limits.max_text_chars)
            declared = sum(fib.ccp)
            cp_limit = min(declared + 1, 2 * ctx.limits.max_text_chars + 1_000_000)
            if declared == 0:
                cp_limit = min(len(word), 2 * ctx.limits.max_text_chars)
            raw, read_warnings = _doc_raw_text(fib, word, ole, cp_limit)
            warnings.extend(read_warnings)
            parts = _doc_parts(fib, raw, budget)
            metadata = _summary_metadata(ole)
        if budget.truncated:
            warnings.append(f"text truncated at {ctx.limits.max_text_chars:,} characters")
        if fib.word6:
            metadata["format_version"] = "Word 6/95"
        return Extraction(
            doc_type="doc",
            title=_title(metadata),
            parts=tuple(parts),
            metadata=metadata,
            warnings=tuple(warnings),
        )


def _open_doc(source: Path | bytes) -> tuple[olefile.OleFileIO, bytes, _Fib]:
    """The container, WordDocument stream and FIB of a DOC; the container is closed when this fails."""
    ole = _open_ole(source, "DOC")
    try:
        word = _read_stream(ole, "WordDocument", "DOC")
        return ole, word, _parse_fib(word)
    except Exception:
        ole.close()
        raise


# --------------------------------------------------------------------------------------------------
# PPT (PowerPoint 97-2003)
# --------------------------------------------------------------------------------------------------

_RT_DOCUMENT = 0x03E8
_RT_SLIDE = 0x03EE
_RT_SLIDE_ATOM = 0x03EF
_RT_NOTES = 0x03F0
_RT_SLIDE_LIST = 0x0FF0
_RT_SLIDE_PERSIST = 0x03F3
_RT_TEXT_HEADER = 0x0F9F
_RT_OUTLINE_TEXT_REF = 0x0F9E
_RT_TEXT_CHARS = 0x0FA0
_RT_TEXT_BYTES = 0x0FA8
_RT_CSTRING = 0x0FBA
_RT_HEADERS_FOOTERS = 0x0FD9
_RT_COMMENT10 = 0x2EE0
_RT_USER_EDIT = 0x0FF5
_RT_PERSIST_DIRECTORY = 0x1772
_PPT_TOKEN_PLAIN = 0xE391C05F
_PPT_TOKEN_ENCRYPTED = 0xF3D1C4DF

_MAX_RECORD_DEPTH = 32
_MAX_RECORDS = 2_000_000
_MAX_USER_EDITS = 10_000
_PPT_CONTROL = str.maketrans({**_CONTROL_CHARS, "\r": "\n", "\x0b": "\n", "\x07": None})


@dataclass(frozen=True)
class _Record:
    offset: int  # of the 8-byte header
    ver: int
    instance: int
    rtype: int
    length: int

    @property
    def body(self) -> int:
        return self.offset + 8

    @property
    def end(self) -> int:
        return self.offset + 8 + self.length

    @property
    def is_container(self) -> bool:
        return self.ver == 0xF


class _RecordReader:
    """Bounded walk over MS-PPT records of one stream (record count and nesting depth are capped)."""

    def __init__(self, stream: bytes) -> None:
        self.stream = stream
        self.visited = 0

    def at(self, offset: int) -> _Record | None:
        if offset < 0 or offset + 8 > len(self.stream):
            return None
        ver_inst, rtype, length = struct.unpack_from("<HHI", self.stream, offset)
        if offset + 8 + length > len(self.stream):
            return None
        return _Record(offset, ver_inst & 0xF, ver_inst >> 4, rtype, length)

    def children(self, start: int, end: int) -> Iterator[_Record]:
        offset = start
        while offset + 8 <= end:
            record = self.at(offset)
            if record is None or record.end > end:
                return
            self.visited += 1
            if self.visited > _MAX_RECORDS:
                raise CorruptError(f"PPT is damaged: more than {_MAX_RECORDS:,} records")
            yield record
            offset = record.end

    def walk(self, parent: _Record, depth: int = 0, context: int = 0) -> Iterator[tuple[_Record, int]]:
        """Descendants of a container in stream order, each with its nearest interesting ancestor type."""
        if depth > _MAX_RECORD_DEPTH:
            return
        for record in self.children(parent.body, parent.end):
            yield record, context
            if record.is_container:
                inner = record.rtype if record.rtype in (_RT_COMMENT10, _RT_HEADERS_FOOTERS) else context
                yield from self.walk(record, depth + 1, inner)


def _atom_text(reader: _RecordReader, record: _Record) -> str:
    data = reader.stream[record.body : record.end]
    if record.rtype == _RT_TEXT_BYTES:
        text = data.decode("latin-1")
    else:
        text = data.decode("utf-16-le", "replace")
    return text.translate(_PPT_CONTROL).strip()


@dataclass
class _SlideEntry:
    """One slide (or notes page) as listed in a SlideListWithText."""

    persist_ref: int
    slide_id: int
    texts: list[str] = field(default_factory=list)


def _slide_list(reader: _RecordReader, document: _Record, instance: int) -> list[_SlideEntry]:
    """Slides (instance 0) or notes (instance 2) of the document, with their outline texts."""
    entries: list[_SlideEntry] = []
    for record in reader.children(document.body, document.end):
        if record.rtype != _RT_SLIDE_LIST or record.instance != instance:
            continue
        for atom in reader.children(record.body, record.end):
            if atom.rtype == _RT_SLIDE_PERSIST and atom.length >= 16:
                ref, _, _, slide_id = struct.unpack_from("<IIiI", reader.stream, atom.body)
                entries.append(_SlideEntry(ref, slide_id))
            elif not entries:
                continue
            elif atom.rtype == _RT_TEXT_HEADER:
                entries[-1].texts.append("")
            elif atom.rtype in (_RT_TEXT_CHARS, _RT_TEXT_BYTES):
                text = _atom_text(reader, atom)
                if entries[-1].texts and not entries[-1].texts[-1]:
                    entries[-1].texts[-1] = text
                else:
                    entries[-1].texts.append(text)
    return entries


def _persist_directory(reader: _RecordReader, current_edit: int) -> tuple[dict[int, int], int | None]:
    """persistId → stream offset, following the UserEditAtom chain (newest wins); and docPersistIdRef."""
    persist: dict[int, int] = {}
    doc_ref: int | None = None
    seen: set[int] = set()
    offset = current_edit
    while offset and offset not in seen and len(seen) < _MAX_USER_EDITS:
        seen.add(offset)
        edit = reader.at(offset)
        if edit is None or edit.rtype != _RT_USER_EDIT or edit.length < 28:
            break
        last_edit, dir_offset, document = struct.unpack_from("<III", reader.stream, edit.body + 8)
        if doc_ref is None:
            doc_ref = document
        directory = reader.at(dir_offset)
        if directory is not None and directory.rtype == _RT_PERSIST_DIRECTORY:
            for key, value in _persist_entries(reader.stream, directory).items():
                persist.setdefault(key, value)
        offset = last_edit
    return persist, doc_ref


def _persist_entries(stream: bytes, directory: _Record) -> dict[int, int]:
    entries: dict[int, int] = {}
    pos = directory.body
    while pos + 4 <= directory.end:
        header = _u32(stream, pos)
        first, count = header & 0xFFFFF, header >> 20
        pos += 4
        for index in range(count):
            if pos + 4 > directory.end:
                break
            entries[first + index] = _u32(stream, pos)
            pos += 4
    return entries


def _scan_top_level(reader: _RecordReader) -> tuple[dict[int, int], _Record | None]:
    """Fallback when the edit chain is damaged: every top-level PersistDirectoryAtom, later ones winning."""
    persist: dict[int, int] = {}
    document: _Record | None = None
    for record in reader.children(0, len(reader.stream)):
        if record.rtype == _RT_PERSIST_DIRECTORY:
            persist.update(_persist_entries(reader.stream, record))
        elif record.rtype == _RT_DOCUMENT and record.is_container:
            document = record
    return persist, document


def _container_texts(reader: _RecordReader, container: _Record, outline: list[str]) -> list[str]:
    """Texts of a slide/notes container in drawing order, resolving references to outline texts."""
    texts: list[str] = []
    used: set[int] = set()
    for record, context in reader.walk(container):
        if record.rtype in (_RT_TEXT_CHARS, _RT_TEXT_BYTES):
            texts.append(_atom_text(reader, record))
        elif record.rtype == _RT_OUTLINE_TEXT_REF and record.length >= 4:
            index = _i32(reader.stream, record.body)
            if 0 <= index < len(outline) and index not in used:
                used.add(index)
                texts.append(outline[index])
        elif record.rtype == _RT_CSTRING and context == _RT_COMMENT10 and record.instance == 1:
            texts.append(_atom_text(reader, record))
        elif record.rtype == _RT_CSTRING and context == _RT_HEADERS_FOOTERS and record.instance in (1, 2):
            texts.append(_atom_text(reader, record))
    texts.extend(text for index, text in enumerate(outline) if index not in used)
    return texts


def _join_texts(texts: list[str]) -> str:
    """Slide text without placeholders ("*" = slide number) and without repeats."""
    seen: set[str] = set()
    kept: list[str] = []
    for text in texts:
        if not text or text == "*" or text in seen:
            continue
        seen.add(text)
        kept.append(text)
    return "\n".join(kept)


def _notes_id_ref(reader: _RecordReader, slide: _Record) -> int | None:
    for record in reader.children(slide.body, slide.end):
        if record.rtype == _RT_SLIDE_ATOM and record.length >= 20:
            return _u32(reader.stream, record.body + 16)
    return None


def _container(reader: _RecordReader, persist: dict[int, int], ref: int, rtype: int) -> _Record | None:
    offset = persist.get(ref)
    record = reader.at(offset) if offset is not None else None
    if record is None or record.rtype != rtype or not record.is_container:
        return None
    return record


def _document_headers(reader: _RecordReader, document: _Record) -> str:
    texts: list[str] = []
    for record in reader.children(document.body, document.end):
        if record.rtype != _RT_HEADERS_FOOTERS:
            continue
        for atom in reader.children(record.body, record.end):
            if atom.rtype == _RT_CSTRING and atom.instance in (1, 2):
                texts.append(_atom_text(reader, atom))
    return _join_texts(texts)


@dataclass(frozen=True)
class _PptStreams:
    document: bytes
    current_user: bytes
    # The edit chain (UserEditAtom, PersistDirectoryAtom) is never encrypted; after decryption it is read
    # from the original stream, because the decrypted copy can garble it.
    edit_chain: bytes | None = None


# Streams that only a PowerPoint 95 (or older) file has.
_PPT95_STREAMS = ("Header", "PersistentStorage Directory", "Text_Content")


def _ppt_streams(ole: olefile.OleFileIO) -> _PptStreams | None:
    """The PowerPoint 97+ streams; dual-storage PowerPoint 95 files keep them in PP97_DUALSTORAGE.

    None for a PowerPoint 95 file without a 97 copy.
    """
    for prefix in ("", "PP97_DUALSTORAGE/"):
        if not ole.exists(prefix + "PowerPoint Document"):
            continue
        current_user = (
            _read_stream(ole, prefix + "Current User", "PPT") if ole.exists(prefix + "Current User") else b""
        )
        valid = len(current_user) >= 20 and _u32(current_user, 12) in (_PPT_TOKEN_PLAIN, _PPT_TOKEN_ENCRYPTED)
        if valid or (not prefix and not any(ole.exists(name) for name in _PPT95_STREAMS)):
            return _PptStreams(_read_stream(ole, prefix + "PowerPoint Document", "PPT"), current_user)
    if not ole.exists("PowerPoint Document"):
        raise CorruptError("PPT is damaged: missing PowerPoint Document stream")
    return None


def _ppt_encrypted(ole: olefile.OleFileIO, streams: _PptStreams | None) -> bool:
    if ole.exists("EncryptedSummary"):
        return True
    token = _u32(streams.current_user, 12) if streams and len(streams.current_user) >= 16 else 0
    return token == _PPT_TOKEN_ENCRYPTED


def _ppt_parts(streams: _PptStreams, ctx: ExtractContext, warnings: list[str]) -> list[Part]:
    reader = _RecordReader(streams.document)
    current_edit = _u32(streams.current_user, 16) if len(streams.current_user) >= 20 else 0
    chain = _RecordReader(streams.edit_chain) if streams.edit_chain is not None else reader
    persist, doc_ref = _persist_directory(chain, current_edit)
    scanned, last_document = _scan_top_level(chain)
    for persist_id, offset in scanned.items():  # objects a damaged edit chain no longer reaches
        persist.setdefault(persist_id, offset)
    document = _container(reader, persist, doc_ref, _RT_DOCUMENT) if doc_ref is not None else None
    if document is None:
        if last_document is None or reader.at(last_document.offset) != last_document:
            raise CorruptError("PPT is damaged: no document container found")
        document = last_document
        warnings.append("edit history is damaged; slides were recovered by scanning the file")
    slides = _slide_list(reader, document, 0)
    notes_by_id = {entry.slide_id: entry for entry in _slide_list(reader, document, 2)}
    if len(slides) > ctx.limits.max_pages:
        warnings.append(f"only the first {ctx.limits.max_pages:,} of {len(slides):,} slides were read")
        slides = slides[: ctx.limits.max_pages]
    budget = _TextBudget(ctx.limits.max_text_chars)
    parts: list[Part] = []
    for number, entry in enumerate(slides, start=1):
        label = f"Slide {number}"
        slide = _container(reader, persist, entry.persist_ref, _RT_SLIDE)
        texts = _container_texts(reader, slide, entry.texts) if slide else entry.texts
        parts.append(Part(kind="slide", label=label, text=budget.take(_join_texts(texts))))
        notes_entry = notes_by_id.get(_notes_id_ref(reader, slide) or -1) if slide else None
        if notes_entry is not None:
            notes = _container(reader, persist, notes_entry.persist_ref, _RT_NOTES)
            notes_texts = _container_texts(reader, notes, notes_entry.texts) if notes else notes_entry.texts
            notes_text = budget.take(_join_texts(notes_texts))
            if notes_text:
                parts.append(Part(kind="notes", label=label, text=notes_text))
    headers = budget.take(_document_headers(reader, document))
    if headers:
        parts.append(Part(kind="headers", label="headers", text=headers))
    if budget.truncated:
        warnings.append(f"text truncated at {ctx.limits.max_text_chars:,} characters")
    return parts


def _ppt95_parts(ole: olefile.OleFileIO, budget: _TextBudget) -> list[Part]:
    """PowerPoint 95 without a 97 copy: only its plain Text_Content stream is readable."""
    if not ole.exists("Text_Content"):
        raise UnsupportedError("PowerPoint 95 (or older) presentation: format not supported")
    raw = _read_stream(ole, "Text_Content", "PPT").decode("cp1252", "replace")
    text = budget.take(raw.translate(_PPT_CONTROL).strip())
    return [Part(kind="body", label="body", text=text)] if text else []


class PptExtractor:
    """PowerPoint 97-2003 slides (outline and drawing text), notes, comments, footers; summary info."""

    name = "msppt"
    version = "1"
    doc_types = ("ppt",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        ole = _open_ole(path, "PPT")
        try:
            streams = _ppt_streams(ole)
            if _ppt_encrypted(ole, streams):
                ole.close()
                decrypted, _ = _decrypt(path, ctx.passwords, "PowerPoint presentation")
                warnings.append("decrypted with a supplied password")
                ole = _open_ole(decrypted, "PPT")
                decrypted = _ppt_streams(ole)
                if decrypted is not None and streams is not None:
                    streams = _PptStreams(decrypted.document, decrypted.current_user, streams.document)
                else:
                    streams = decrypted
            if streams is None:
                parts = _ppt95_parts(ole, _TextBudget(ctx.limits.max_text_chars))
                warnings.append("PowerPoint 95 presentation: plain text only, without slide boundaries")
            else:
                parts = _ppt_parts(streams, ctx, warnings)
            metadata = _summary_metadata(ole)
        finally:
            ole.close()
        metadata["page_count"] = sum(1 for p in parts if p.kind == "slide")
        return Extraction(
            doc_type="ppt",
            title=_title(metadata),
            parts=tuple(parts),
            metadata=metadata,
            warnings=tuple(warnings),
        )


# --------------------------------------------------------------------------------------------------
# XLS (BIFF2-8, via xlrd)
# --------------------------------------------------------------------------------------------------


class _NullLog:
    """xlrd's chatter (warnings about odd records) goes nowhere."""

    def write(self, _text: str) -> None:
        return None

    def flush(self) -> None:
        return None


def _open_workbook(source: Path | bytes) -> xlrd.book.Book:
    common: dict[str, Any] = {
        "formatting_info": False,
        "on_demand": True,
        "ragged_rows": True,
        "logfile": _NullLog(),
        "verbosity": 0,
    }
    if isinstance(source, bytes):
        return xlrd.open_workbook(file_contents=source, **common)
    return xlrd.open_workbook(str(source), **common)


def _number_text(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.15g}"


def _date_text(value: float, datemode: int) -> str:
    try:
        year, month, day, hour, minute, second = xlrd.xldate_as_tuple(value, datemode)
    except Exception:  # out-of-range serials are shown as the number they are
        return _number_text(value)
    if (year, month, day) == (0, 0, 0):
        return f"{hour:02d}:{minute:02d}:{second:02d}"
    if (hour, minute, second) == (0, 0, 0):
        return f"{year:04d}-{month:02d}-{day:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def _cell_text(ctype: int, value: Any, datemode: int) -> str:
    if ctype == xlrd.XL_CELL_TEXT:
        return str(value)
    if ctype == xlrd.XL_CELL_NUMBER:
        return _number_text(float(value))
    if ctype == xlrd.XL_CELL_DATE:
        return _date_text(float(value), datemode)
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if value else "FALSE"
    if ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(int(value), "#ERROR")
    return ""


@dataclass
class _CellBudget:
    remaining: int


def _sheet_part(sheet: Any, label: str, datemode: int, cells: _CellBudget, chars: _TextBudget) -> Part:
    """One worksheet's non-empty cells (1-based) and its text: the sheet name on the first line, then
    each row's non-empty cells tab-separated, one row per line."""
    kept: list[Cell] = []
    lines: list[str] = [chars.take(label)]  # the sheet name is searchable text too
    for row in range(sheet.nrows):
        if cells.remaining <= 0 or chars.remaining <= 0:
            break
        row_texts: list[str] = []
        for col, (ctype, value) in enumerate(zip(sheet.row_types(row), sheet.row_values(row), strict=False)):
            if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                continue
            text = _cell_text(ctype, value, datemode).strip()
            if not text:
                continue
            if cells.remaining <= 0:
                break
            cells.remaining -= 1
            kept.append(Cell(row + 1, col + 1, text))
            row_texts.append(text)
        if row_texts:
            lines.append(chars.take("\t".join(row_texts)))
            chars.take("\n")
    return Part(kind="sheet", label=label, text="\n".join(lines), cells=tuple(kept))


def _xls_parts(
    book: xlrd.book.Book, ctx: ExtractContext, warnings: list[str]
) -> tuple[list[Part], list[str]]:
    """Every worksheet as a Part; also the names of hidden sheets."""
    cells = _CellBudget(ctx.limits.max_cells)
    chars = _TextBudget(ctx.limits.max_text_chars)
    parts: list[Part] = []
    hidden: list[str] = []
    names = [name.replace("\x00", "").strip() or f"Sheet{i + 1}" for i, name in enumerate(book.sheet_names())]
    for index, label in enumerate(names):
        if cells.remaining <= 0 or chars.remaining <= 0:
            warnings.append(f"sheets after '{names[index - 1]}' were not read (limit reached)")
            break
        try:
            sheet = book.sheet_by_index(index)
        except Exception as exc:
            log.debug("sheet %d unreadable: %s", index, exc)
            warnings.append(f"sheet '{label}' could not be read")
            continue
        if getattr(sheet, "visibility", 0):
            hidden.append(label)
        before = cells.remaining
        parts.append(_sheet_part(sheet, label, book.datemode, cells, chars))
        if cells.remaining <= 0 and before > 0 and _sheet_has_more(sheet, parts[-1]):
            warnings.append(f"sheet '{label}' truncated at {ctx.limits.max_cells:,} cells")
        book.unload_sheet(index)
    if chars.truncated:
        warnings.append(f"text truncated at {ctx.limits.max_text_chars:,} characters")
    return parts, hidden


def _sheet_has_more(sheet: Any, part: Part) -> bool:
    if not part.cells:
        return sheet.nrows > 0
    last = part.cells[-1]
    return last.row < sheet.nrows or last.col < sheet.row_len(last.row - 1)


def _xls_error(exc: Exception) -> bool:
    return "encrypted" in str(exc).lower()


class XlsExtractor:
    """Excel 97-2003 (and older BIFF) workbooks: every worksheet's cells; summary info."""

    name = "xlrd"
    version = f"1:{xlrd.__VERSION__}"
    doc_types = ("xls",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        source: Path | bytes = path
        try:
            book = _open_workbook(path)
        except MemoryError as exc:
            raise TooLargeError("workbook too large to load") from exc
        except Exception as exc:
            if not _xls_error(exc):
                raise CorruptError(f"XLS is damaged: {_short(exc)}") from exc
            source, password = _decrypt(
                path, ctx.passwords, "Excel workbook", default=(_EXCEL_DEFAULT_PASSWORD,)
            )
            if password == _EXCEL_DEFAULT_PASSWORD:
                warnings.append("encrypted with Excel's default password; decrypted")
            else:
                warnings.append("decrypted with a supplied password")
            try:
                book = _open_workbook(source)
            except Exception as inner:
                raise CorruptError(f"XLS is damaged after decryption: {_short(inner)}") from inner
        try:
            parts, hidden = _xls_parts(book, ctx, warnings)
        except (struct.error, IndexError, KeyError, ValueError, AssertionError, xlrd.XLRDError) as exc:
            raise CorruptError(f"XLS is damaged: {_short(exc)}") from exc
        finally:
            book.release_resources()
        if not parts:
            warnings.append("workbook has no worksheets (chart sheets or macros only)")
        metadata = _ole_metadata(source)
        metadata["sheet_count"] = len(parts)
        if hidden:
            metadata["hidden_sheets"] = hidden
        return Extraction(
            doc_type="xls",
            title=_title(metadata),
            parts=tuple(parts),
            metadata=metadata,
            warnings=tuple(warnings),
        )
