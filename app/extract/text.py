"""Plain text and delimited text (CSV/TSV), with encoding detection.

The encoding is decided in this order: byte-order mark, strict UTF-8, charset-normalizer's best guess,
then Windows-1252 with replacement. `decode_bytes` is shared with the HTML and email extractors.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from pathlib import Path

from charset_normalizer import from_bytes

from app.extract.base import Cell, ExtractContext, Extraction, Part
from app.extract.errors import CorruptError

log = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# charset-normalizer looks at this much of a file; the rest is decoded with its verdict.
_DETECT_SAMPLE = 1 << 20
_FALLBACK_ENCODING = "cp1252"
# Share of undecodable characters still accepted: a declared charset is trusted with a few stray
# bytes (mail often has one); undeclared UTF-8 must be nearly clean before it beats detection.
_STRAY_BYTES_DECLARED = 0.01
_STRAY_BYTES_UNDECLARED = 0.001
# Tie-breaker between candidates that decode a sample identically: the encodings documents use most.
_PREFERRED = ("cp1252", "cp1251", "cp866", "cp500", "koi8_r", "cp1250", "iso8859_15", "cp437", "cp850")
# Bytes per character at most, for the encodings a BOM announces (bounds how much is read).
_BYTES_PER_CHAR = {"utf-32": 4, "utf-16": 2}
_SNIFF_SAMPLE = 32 * 1024
_SNIFF_DELIMITERS = ",;\t|"


def bom_encoding(data: bytes) -> str | None:
    """The encoding announced by a byte-order mark at the start of `data`, if any."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def guess_encoding(data: bytes, final: bool = True) -> str:
    """Best encoding for `data`: BOM, then strict UTF-8, then charset-normalizer, then cp1252.

    `final=False` means `data` was cut from a longer file (a split UTF-8 sequence at its end is fine).
    """
    announced = bom_encoding(data)
    if announced:
        return announced
    sample = data[:_DETECT_SAMPLE]
    sample_final = final and len(sample) == len(data)
    if _is_utf8(data, final) or _mostly_decodes(sample, "utf-8", _STRAY_BYTES_UNDECLARED, sample_final):
        return "utf-8"
    try:
        detected = _detect(sample)
    except Exception as exc:  # detection is a heuristic; never let it fail an import
        log.debug("charset detection failed: %s", type(exc).__name__)
        detected = None
    return (detected and canonical_encoding(detected)) or _FALLBACK_ENCODING


def _detect(sample: bytes) -> str | None:
    """charset-normalizer's verdict; among equally good candidates, the most common encoding wins."""
    results = list(from_bytes(sample))
    if not results:
        return None
    best = results[0]
    tied: list[str] = []
    for match in results:
        if match.chaos == best.chaos and match.coherence == best.coherence:
            tied.extend(match.could_be_from_charset or [match.encoding])
    for encoding in _PREFERRED:
        if encoding in tied:
            return encoding
    return best.encoding


def decode_bytes(data: bytes, declared: str | None = None, final: bool = True) -> tuple[str, str]:
    """Decode `data` leniently; returns (text, encoding used).

    A declared charset (email, HTML meta) is trusted when Python knows it and it decodes cleanly,
    otherwise detection decides. `final=False` drops a multi-byte sequence cut at the end.
    """
    encoding = None
    if declared:
        encoding = canonical_encoding(declared)
        if encoding and not _mostly_decodes(data, encoding, _STRAY_BYTES_DECLARED, final):
            encoding = None
    if encoding is None:
        encoding = guess_encoding(data, final)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(data, final=final), encoding


# Labels found in the wild mapped to the superset Python should use (as browsers do).
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "iso-8859-11": "cp874",
    "x-sjis": "cp932",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "big5": "big5hkscs",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-mac-roman": "mac-roman",
}


def canonical_encoding(label: str) -> str | None:
    """Python's codec name for a charset label (with common supersets), or None if unknown."""
    cleaned = label.strip().strip("\"'").lower()
    cleaned = _SUPERSETS.get(cleaned, cleaned)
    try:
        info = codecs.lookup(cleaned)
    except (LookupError, ValueError):
        return None
    # Byte-to-byte codecs ("base64", "zlib", …) are not text encodings.
    if getattr(info, "_is_text_encoding", True) is False:
        return None
    return info.name


def read_bounded(path: Path, max_chars: int) -> tuple[bytes, bool]:
    """Read at most enough bytes for `max_chars` characters; returns (data, truncated)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        per_char = _BYTES_PER_CHAR.get(bom_encoding(head) or "", 1)
        budget = max_chars * per_char + len(head)
        data = head + fh.read(max(budget - len(head), 0))
        truncated = bool(fh.read(1))
    return data, truncated


def read_text(path: Path, ctx: ExtractContext, warnings: list[str]) -> tuple[str, str]:
    """The file's text within `max_text_chars`, and the encoding it was read with."""
    limit = ctx.limits.max_text_chars
    data, truncated = read_bounded(path, limit)
    text, encoding = decode_bytes(data, final=not truncated)
    if len(text) > limit:
        text = text[:limit]
        truncated = True
    if truncated:
        warnings.append(f"text truncated at {limit:,} characters")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, encoding


class TextExtractor:
    """Plain text: one body part, with the encoding it was read in."""

    name = "text"
    version = "1"
    doc_types = ("text",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        try:
            text, encoding = read_text(path, ctx, warnings)
        except OSError as exc:
            raise CorruptError(f"text file cannot be read: {exc.strerror or exc}") from exc
        return Extraction(
            doc_type="text",
            parts=(Part(kind="body", label="body", text=text),),
            metadata={"encoding": encoding},
            warnings=tuple(warnings),
        )


class CsvExtractor:
    """CSV/TSV: one sheet part with every non-empty cell, or plain text if it does not parse."""

    name = "csv"
    version = "1"
    doc_types = ("csv", "tsv")

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        doc_type = "tsv" if _is_tsv(path, ctx) else "csv"
        try:
            text, encoding = read_text(path, ctx, warnings)
        except OSError as exc:
            raise CorruptError(f"{doc_type.upper()} file cannot be read: {exc.strerror or exc}") from exc
        delimiter = "\t" if doc_type == "tsv" else _sniff_delimiter(text)
        label = Path(ctx.name_hint).stem if ctx.name_hint else "Sheet1"
        label = label or "Sheet1"
        metadata: dict[str, str | int] = {"encoding": encoding, "delimiter": delimiter}
        try:
            part, rows = _sheet(text, delimiter, label, ctx.limits.max_cells, warnings)
        except csv.Error as exc:
            log.info("delimited text did not parse; keeping it as plain text: %s", exc)
            warnings.append(f"not parseable as {doc_type.upper()} ({exc}); kept as plain text")
            part, rows = Part(kind="body", label="body", text=text), 0
        if rows:
            metadata["row_count"] = rows
        return Extraction(doc_type=doc_type, parts=(part,), metadata=metadata, warnings=tuple(warnings))


def _is_tsv(path: Path, ctx: ExtractContext) -> bool:
    name = (ctx.name_hint or path.name).lower()
    return name.endswith((".tsv", ".tab"))


def _sniff_delimiter(text: str) -> str:
    """The delimiter csv.Sniffer sees in the first lines; a comma when it cannot tell."""
    sample = text[:_SNIFF_SAMPLE]
    cut = sample.rfind("\n")
    if cut > 0:
        sample = sample[:cut]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_SNIFF_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _sheet(text: str, delimiter: str, label: str, max_cells: int, warnings: list[str]) -> tuple[Part, int]:
    """Parse delimited `text` into one sheet Part (cells 1-based) and the number of rows read."""
    csv.field_size_limit(max(len(text), 131072))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    cells: list[Cell] = []
    lines: list[str] = []
    row_number = 0
    for row_number, row in enumerate(reader, start=1):
        while row and not row[-1].strip():
            row.pop()
        lines.append("\t".join(value.replace("\t", " ").replace("\n", " ") for value in row))
        for col, value in enumerate(row, start=1):
            if value.strip():
                cells.append(Cell(row_number, col, value))
        if len(cells) >= max_cells:
            del cells[max_cells:]
            warnings.append(f"sheet '{label}' truncated at {max_cells:,} cells")
            break
    return Part(kind="sheet", label=label, text="\n".join(lines), cells=tuple(cells)), row_number


def _is_utf8(data: bytes, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")(errors="strict").decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_decodes(data: bytes, encoding: str, tolerance: float, final: bool) -> bool:
    """Whether `data` decodes in `encoding` with at most `tolerance` (a fraction) of bad characters."""
    try:
        codecs.getincrementaldecoder(encoding)(errors="strict").decode(data, final=final)
        return True
    except UnicodeDecodeError:
        pass
    except LookupError:
        return False
    decoded = codecs.getincrementaldecoder(encoding)(errors="replace").decode(data, final=final)
    bad = decoded.count("\ufffd") - _utf8_replacements(data)
    return bad <= len(decoded) * tolerance


def _utf8_replacements(data: bytes) -> int:
    """U+FFFD characters genuinely present in the data (as UTF-8), not produced by decoding."""
    return data.count(b"\xef\xbf\xbd")
