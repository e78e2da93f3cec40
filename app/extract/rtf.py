"""RTF text and document info, with a small single-pass RTF reader.

Handles code pages (\\ansicpg, font \\fcharset/\\cpg, double-byte \\'hh sequences), \\uN escapes with
\\ucN fallback skipping, \\bin data, and destinations: field instructions, pictures, objects and tables
are skipped; headers/footers, footnotes and comments become their own parts; \\info becomes metadata.
The reader is linear in the input (no backtracking regexes), so malformed files end quickly.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from app.extract.base import ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError

log = logging.getLogger(__name__)

_TOKEN = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # control word with optional numeric parameter
    rb"|\\'([0-9a-fA-F]{2})"  # hex-escaped byte
    rb"|\\(.)"  # control symbol
    rb"|([{}])"  # group
    rb"|([\r\n]+)"  # line breaks in the source carry no meaning
    rb"|([^\\{}\r\n]+)",  # plain text
    re.DOTALL,
)

# Inside a skipped destination only groups and \\bin data matter.
_SKIP_SCAN = re.compile(rb"[{}]|\\(?:bin(-?\d{1,10}) ?|.)", re.DOTALL)
_MAX_DEPTH = 5_000  # deeper groups are read but their state is not stacked
_MAX_BIN = 1 << 31

# fcharset → code page (RTF 1.9.1 spec, \fcharset).
_CHARSET_CODEPAGES = {
    2: "cp1252", 77: "mac_roman", 78: "shift_jis", 79: "mac_korean", 80: "gb2312", 81: "big5",
    128: "cp932", 129: "cp949", 130: "johab", 134: "cp936", 136: "cp950", 161: "cp1253",
    162: "cp1254", 163: "cp1258", 177: "cp1255", 178: "cp1256", 186: "cp1257", 204: "cp1251",
    222: "cp874", 238: "cp1250", 254: "cp437", 255: "cp850",
}  # fmt: skip
_DBCS_LEAD = {
    "cp932": ((0x81, 0x9F), (0xE0, 0xFC)),
    "shift_jis": ((0x81, 0x9F), (0xE0, 0xFC)),
    "cp936": ((0x81, 0xFE),),
    "gb2312": ((0x81, 0xFE),),
    "cp949": ((0x81, 0xFE),),
    "cp950": ((0x81, 0xFE),),
    "big5": ((0x81, 0xFE),),
    "johab": ((0x84, 0xD3), (0xD8, 0xF9)),
}

# Destinations whose content is not document text.
_SKIP = frozenset(
    "fonttbl colortbl stylesheet pict objdata objclass objname objalias objsect objtime fldinst pn pntxta "
    "pntxtb pnseclvl listtable listoverridetable revtbl rsidtbl xmlnstbl filetbl generator latentstyles "
    "themedata colorschememapping datastore ftnsep ftnsepc aftnsep aftnsepc ftncn aftncn atnid atnauthor "
    "atndate atnref atnparent atnicn atntime template xe tc txe rxe bkmkstart bkmkend sp shprslt "
    "nonshppict pgptbl protusertbl userprops docvar mmathPr listpicture fchars lchars wgrffmtfilter "
    "private background falt panose fontemb fontfile fname keycode mmathPict macc datafield formfield "
    "ffname ffdeftext ffformat ffhelptext ffstattext ffentrymcr ffexitmcr passwordhash password "
    "writereservhash writereservation blipuid picprop oldcprops oldpprops oldsprops oldtprops "
    "listname leveltext levelnumbers gridtbl defchp defpap".split()
)
_PART_DESTINATIONS = {
    **dict.fromkeys(("header", "headerl", "headerr", "headerf", "footer", "footerl", "footerr"), "headers"),
    "footerf": "headers",
    "footnote": "footnotes",
    "annotation": "comments",
}
_INFO_TEXT = {
    "title": "title",
    "subject": "subject",
    "author": "author",
    "operator": "last_modified_by",
    "keywords": "keywords",
    "doccomm": "comments",
    "comment": "comments",
    "company": "company",
    "manager": "manager",
    "category": "category",
}
_INFO_DATES = {"creatim": "created", "revtim": "modified", "printim": "printed"}
# \* destinations that hold text we want (everything else behind \* is skipped).
_STARRED_KEEP = frozenset(("shpinst", "listtext", "pntext"))
_OUTPUT_WORDS = {
    "par": "\n",
    "line": "\n",
    "sect": "\n\n",
    "page": "\n",
    "tab": "\t",
    "cell": "\t",
    "nestcell": "\t",
    "row": "\n",
    "nestrow": "\n",
    "emdash": "\u2014",
    "endash": "\u2013",
    "emspace": "\u2003",
    "enspace": "\u2002",
    "qmspace": "\u2005",
    "bullet": "\u2022",
    "lquote": "\u2018",
    "rquote": "\u2019",
    "ldblquote": "\u201c",
    "rdblquote": "\u201d",
    "zwj": "\u200d",
    "zwnj": "\u200c",
}
_OUTPUT_SYMBOLS = {"~": " ", "_": "-", "-": "", "{": "{", "}": "}", "\\": "\\", "\n": "\n", "\r": "\n"}
_PARTS = (("body", "body", "body"), ("headers", "headers", "headers"), ("footnotes", "notes", "footnotes"))
_COMMENTS = ("comments", "notes", "comments")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Group(NamedTuple):
    """Reader state that a group saves and its closing brace restores."""

    dest: str = (
        "body"  # body | headers | footnotes | comments | skip | fonttbl | info | meta:<key> | date:<key>
    )
    uc: int = 1  # characters to skip after \uN
    codepage: str = "cp1252"
    star: bool = False  # a \* was just read: the next destination is optional


@dataclass
class _Reader:
    """One pass over the RTF bytes; fills text buffers per destination and the info metadata."""

    budget: int
    doc_codepage: str = "cp1252"
    default_font: int | None = None
    font_codepages: dict[int, str] = field(default_factory=dict)
    table_font: int | None = None
    out: dict[str, list[str]] = field(default_factory=dict)
    pending: bytearray = field(default_factory=bytearray)
    pending_dest: str = "body"
    pending_codepage: str = "cp1252"
    skip_chars: int = 0
    dates: dict[str, dict[str, int]] = field(default_factory=dict)
    written: int = 0
    truncated: bool = False

    def emit(self, dest: str, text: str) -> None:
        if not text:
            return
        if dest == "body" or dest in ("headers", "footnotes", "comments"):
            if self.written + len(text) > self.budget:
                text = text[: max(self.budget - self.written, 0)]
                self.truncated = True
            self.written += len(text)
        self.out.setdefault(dest, []).append(text)

    def flush(self) -> None:
        if self.pending:
            self.emit(self.pending_dest, _decode(bytes(self.pending), self.pending_codepage))
            self.pending.clear()

    def add_bytes(self, data: bytes, state: _Group) -> None:
        if self.pending and (self.pending_dest != state.dest or self.pending_codepage != state.codepage):
            self.flush()
        self.pending_dest, self.pending_codepage = state.dest, state.codepage
        self.pending.extend(data)


def _decode(data: bytes, codepage: str) -> str:
    try:
        return data.decode(codepage, "replace")
    except LookupError:
        return data.decode("cp1252", "replace")


def _codepage(name: str) -> str:
    try:
        codecs.lookup(name)
    except LookupError:
        return "cp1252"
    return name


def _awaits_trail_byte(data: bytearray, codepage: str) -> bool:
    """True when the last byte is the lead byte of an unfinished double-byte character."""
    ranges = _DBCS_LEAD.get(codepage)
    if not ranges:
        return False
    index = 0
    while index < len(data):
        byte = data[index]
        if any(low <= byte <= high for low, high in ranges):
            if index == len(data) - 1:
                return True
            index += 2
        else:
            index += 1
    return False


def _is_writing(dest: str) -> bool:
    return dest in ("body", "headers", "footnotes", "comments") or dest.startswith("meta:")


class _Parser:
    """Drives the token loop; kept small by dispatching each token kind to a method."""

    def __init__(self, data: bytes, budget: int) -> None:
        self.data = data
        self.reader = _Reader(budget=budget)
        self.state = _Group()
        self.stack: list[_Group] = []
        self.overflow = 0  # group openings past _MAX_DEPTH, not stacked

    def run(self) -> _Reader:
        data, pos, end = self.data, 0, len(self.data)
        while pos < end:
            if self.reader.truncated:
                break
            match = _TOKEN.match(data, pos)
            if match is None:  # a lone backslash at the very end
                break
            pos = match.end()
            word, param, hex_byte, symbol, brace, _newline, text = match.groups()
            if word is not None:
                pos = self.control_word(word.decode("ascii"), param, pos)
            elif hex_byte is not None:
                self.hex_byte(int(hex_byte, 16))
            elif symbol is not None:
                self.control_symbol(symbol.decode("latin-1"))
            elif brace is not None:
                self.group(brace == b"{")
            elif text is not None:
                self.text(text)
        self.reader.flush()
        return self.reader

    # --- token handlers -------------------------------------------------------------------------------

    def group(self, opening: bool) -> None:
        self.reader.flush()
        self.reader.skip_chars = 0
        if opening:
            if len(self.stack) >= _MAX_DEPTH:
                self.overflow += 1
                return
            self.stack.append(self.state)
            if self.state.star:
                self.state = self.state._replace(star=False)
            return
        if self.overflow:
            self.overflow -= 1
        elif self.stack:
            leaving = self.state.dest
            self.state = self.stack.pop()
            if leaving == "fonttbl" and self.state.dest != "fonttbl":
                self.use_default_font()

    def use_default_font(self) -> None:
        """Text before any \\f is in the default font (\\deff), whose code page is now known."""
        reader = self.reader
        font = reader.default_font
        codepage = reader.font_codepages.get(font, reader.doc_codepage) if font is not None else None
        self.state = self.state._replace(codepage=codepage or reader.doc_codepage)

    def text(self, raw: bytes) -> None:
        reader, state = self.reader, self.state
        if reader.skip_chars:
            dropped = min(reader.skip_chars, len(raw))
            reader.skip_chars -= dropped
            raw = raw[dropped:]
            if not raw:
                return
        if not _is_writing(state.dest):
            return
        if reader.pending and _awaits_trail_byte(reader.pending, reader.pending_codepage):
            reader.pending.append(raw[0])  # a double-byte character whose trail byte is plain ASCII
            raw = raw[1:]
        if not raw:
            return
        if raw.isascii():
            reader.flush()
            reader.emit(state.dest, raw.decode("ascii"))
        else:  # raw 8-bit text is in the current code page, like \'hh
            reader.add_bytes(raw, state)

    def hex_byte(self, value: int) -> None:
        reader = self.reader
        if reader.skip_chars:
            reader.skip_chars -= 1
            return
        if _is_writing(self.state.dest):
            reader.add_bytes(bytes((value,)), self.state)

    def control_symbol(self, symbol: str) -> None:
        if symbol == "*":
            self.state = self.state._replace(star=True)
            return
        if self.reader.skip_chars:
            self.reader.skip_chars -= 1
            return
        output = _OUTPUT_SYMBOLS.get(symbol)
        if output is not None and _is_writing(self.state.dest):
            self.reader.flush()
            self.reader.emit(self.state.dest, output)

    def control_word(self, word: str, param: bytes | None, pos: int) -> int:
        """Handle one control word; returns the position to continue from (moved past \\bin data)."""
        value = int(param) if param is not None else None
        if word == "bin":
            return min(pos + max(value or 0, 0), pos + _MAX_BIN, len(self.data))
        if self.state.star:
            self.state = self.state._replace(star=False)
            if word == "ud" and self.state.dest.startswith("upr>"):  # Unicode twin of an \\upr group
                self.state = self.state._replace(dest=self.state.dest[4:])
                return pos
            keep = word in _STARRED_KEEP or (self.state.dest == "info" and word in _INFO_TEXT)
            if not keep:
                return self.skip_group(pos)
        if self.state.dest == "skip":
            return pos
        if self.destination(word):
            return self.skip_group(pos) if self.state.dest == "skip" else pos
        if self.state.dest == "fonttbl":
            self.font_table_word(word, value)
        elif self.state.dest.startswith("date:"):
            if value is not None:
                self.reader.dates.setdefault(self.state.dest[5:], {})[word] = value
        else:
            self.formatting_word(word, value)
        return pos

    def skip_group(self, pos: int) -> int:
        """Jump past the end of the current group (a skipped destination); returns the new position."""
        self.reader.flush()
        self.reader.skip_chars = 0
        data, depth = self.data, 1
        while True:
            match = _SKIP_SCAN.search(data, pos)
            if match is None:
                return len(data)
            pos = match.end()
            token = match.group()
            if token == b"{":
                depth += 1
            elif token == b"}":
                depth -= 1
                if depth == 0:
                    self.group(opening=False)
                    return pos
            elif match.group(1) is not None:  # \\binN: N raw bytes that may contain braces
                pos = min(pos + max(int(match.group(1)), 0), len(data))

    def destination(self, word: str) -> bool:
        """Switch the current group's destination when `word` names one; True when it did."""
        dest = self.state.dest
        if word in _SKIP and word != "fonttbl":
            new = "skip"
        elif word == "fonttbl":
            new = "fonttbl"
        elif word == "info":
            new = "info"
        elif word == "upr":  # {\\upr{ANSI version}{\\*\\ud{Unicode version}}}: only the Unicode one is read
            new = f"upr>{dest}"
        elif dest == "info" and word in _INFO_TEXT:
            new = f"meta:{_INFO_TEXT[word]}"
        elif dest == "info" and word in _INFO_DATES:
            new = f"date:{_INFO_DATES[word]}"
        elif word in _PART_DESTINATIONS and dest != "info":
            new = _PART_DESTINATIONS[word]
        else:
            return False
        self.reader.flush()
        if new.startswith("meta:"):  # a repeated info field (or its Unicode \\ud twin) replaces the first
            self.reader.out.pop(new, None)
        self.state = self.state._replace(dest=new)
        return True

    def font_table_word(self, word: str, value: int | None) -> None:
        reader = self.reader
        if word == "f" and value is not None:
            reader.table_font = value
        elif word in ("fcharset", "cpg") and value is not None and reader.table_font is not None:
            if word == "cpg":
                codepage = _codepage(f"cp{value}")
            elif value in (0, 1):
                codepage = reader.doc_codepage
            else:
                codepage = _CHARSET_CODEPAGES.get(value, reader.doc_codepage)
            if word == "cpg" or reader.table_font not in reader.font_codepages:
                reader.font_codepages[reader.table_font] = codepage

    def formatting_word(self, word: str, value: int | None) -> None:
        reader, state = self.reader, self.state
        if word == "u" and value is not None:
            if _is_writing(state.dest):
                reader.flush()
                reader.emit(state.dest, chr(value + 0x10000 if value < 0 else value))
            reader.skip_chars = state.uc
            return
        if reader.skip_chars:
            reader.skip_chars -= 1
            return
        if word == "uc" and value is not None:
            self.state = state._replace(uc=max(0, min(value, 10)))
        elif word == "ansicpg" and value is not None:
            reader.doc_codepage = _codepage(f"cp{value}")
            self.state = state._replace(codepage=reader.doc_codepage)
        elif word in ("mac", "pc", "pca"):
            reader.doc_codepage = {"mac": "mac_roman", "pc": "cp437", "pca": "cp850"}[word]
            self.state = state._replace(codepage=reader.doc_codepage)
        elif word == "deff" and value is not None:
            reader.default_font = value
        elif word == "f" and value is not None:
            self.state = state._replace(codepage=reader.font_codepages.get(value, reader.doc_codepage))
        elif word == "plain":
            self.use_default_font()
        elif word in _OUTPUT_WORDS and _is_writing(state.dest):
            reader.flush()
            reader.emit(state.dest, _OUTPUT_WORDS[word])


def _clean(text: str) -> str:
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # pair up \uN surrogates
    text = _CONTROL_CHARS.sub("", text).replace("\xa0", " ")
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _info_date(parts: dict[str, int]) -> str | None:
    try:
        year, month, day = parts["yr"], parts.get("mo", 1), parts.get("dy", 1)
        hour, minute, second = parts.get("hr", 0), parts.get("min", 0), parts.get("sec", 0)
    except KeyError:
        return None
    if not (1900 < year < 2200 and 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{min(second, 59):02d}"


def _metadata(reader: _Reader) -> dict[str, MetaValue]:
    metadata: dict[str, MetaValue] = {}
    for dest, chunks in reader.out.items():
        if dest.startswith("meta:"):
            value = _clean("".join(chunks))
            if value:
                metadata[dest[5:]] = value[:2000]
    for key, parts in reader.dates.items():
        iso = _info_date(parts)
        if iso:
            metadata[key] = iso
    return metadata


def rtf_to_text(data: bytes, max_chars: int = 50_000_000) -> str:
    """The body text of an RTF document (also used for Outlook messages that carry only an RTF body)."""
    start = len(data) - len(data.lstrip(b"\xef\xbb\xbf \t\r\n"))
    if not data.startswith(b"{\\rtf", start):
        return ""
    reader = _Parser(data[start:], max_chars).run()
    return "\n\n".join(
        t for dest, _kind, _label in _PARTS if (t := _clean("".join(reader.out.get(dest, ()))))
    )


class RtfExtractor:
    """Rich Text Format: body, headers/footers, footnotes, comments; \\info metadata."""

    name = "rtf"
    version = "1"
    doc_types = ("rtf",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        data = path.read_bytes()
        start = len(data) - len(data.lstrip(b"\xef\xbb\xbf \t\r\n"))
        if not data.startswith(b"{\\rtf", start):
            raise CorruptError("RTF is damaged: missing {\\rtf header")
        reader = _Parser(data[start:], ctx.limits.max_text_chars).run()
        parts: list[Part] = []
        for dest, kind, label in (*_PARTS, _COMMENTS):
            text = _clean("".join(reader.out.get(dest, ())))
            if text:
                parts.append(Part(kind=kind, label=label, text=text))
        warnings: list[str] = []
        if reader.truncated:
            warnings.append(f"text truncated at {ctx.limits.max_text_chars:,} characters")
        metadata = _metadata(reader)
        title = metadata.get("title")
        return Extraction(
            doc_type="rtf",
            title=str(title) if title else None,
            parts=tuple(parts),
            metadata=metadata,
            warnings=tuple(warnings),
        )
