"""Email: EML (RFC 822/MIME), MBOX mailboxes and Outlook MSG.

MIME is walked without recursion and with a depth counter, so a hostile 1,000-level nesting costs
nothing: the raw message is split on boundary lines and each part's headers are parsed with the
standard library (`policy.default`, falling back to `compat32` when a header is broken). Attachments,
embedded messages and mailbox messages become children written to `ctx.work_dir` under generated names.
"""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

from app.extract.base import Child, ExtractContext, Extraction, MetaValue, Part
from app.extract.errors import CorruptError, EncryptedError
from app.extract.html import decode_html_bytes, html_to_text
from app.extract.text import canonical_encoding, decode_bytes

log = logging.getLogger(__name__)

# extract-msg and the RTF de-encapsulator log every oddity of a damaged file at WARNING/ERROR.
for _noisy in ("extract_msg", "RTFDE", "olefile"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)

# Stop walking a message after this many MIME entities (a million tiny parts is an attack, not mail).
_MAX_ENTITIES = 100_000
# A header block (and an mbox message's headers kept for metadata) is read up to this size.
_MAX_HEADER_BYTES = 1 << 20
# mbox is read in pieces of at most this size, so a file without newlines cannot exhaust memory.
_MBOX_CHUNK = 1 << 20

# A header line (or a continuation line), as the standard library's feed parser recognises one.
_HEADER_LINE = re.compile(rb"(?:[\x21-\x39\x3b-\x7e]*:|[ \t])[^\n]*(?:\n|\Z)")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_SURROGATES = re.compile("[\udc80-\udcff]")
_NON_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
# An mbox "From " separator: sender, then a date with a time of day (asctime or similar).
_MBOX_SEPARATOR = re.compile(rb"From \S*\s.*\b\d{1,2}:\d{2}")
_ENVELOPE_LINE = re.compile(rb"From [^\s:]")  # not "From : someone", a header with a stray space
_MBOX_STRICT_SEPARATOR = re.compile(
    rb"From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} "
)
_ADDRESS_HEADERS = ("to", "cc", "bcc")
# Subject/From/Date with their continuation lines, for the metadata of each mbox message.
_SUMMARY_HEADER = re.compile(
    rb"^(subject|from|date)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE
)
_ENCRYPTED_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime", "multipart/encrypted")
_WORD = re.compile(r"\w+")
# A delimiter line immediately followed by a Content- header: how a part starts.
_BOUNDARY_LINE = re.compile(rb"^--([^\r\n]{1,200}?)[ \t]*\r?\n[Cc][Oo][Nn][Tt][Ee][Nn][Tt]-", re.MULTILINE)
_BOUNDARY_SCAN = 1 << 16
# Share of words an HTML alternative may add to its text/plain sibling and still count as a copy.
_ALTERNATIVE_NEW_WORDS = 0.2
_HEADER_BLOCK_FIELDS = (
    ("From", "from"),
    ("To", "to"),
    ("Cc", "cc"),
    ("Date", "date"),
    ("Subject", "subject"),
)


# --------------------------------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------------------------------


class _ChildWriter:
    """Writes children under generated names in `ctx.work_dir`, within the member and byte limits."""

    def __init__(self, ctx: ExtractContext, warnings: list[str], noun: str) -> None:
        self.work_dir = ctx.work_dir
        self.limits = ctx.limits
        self.warnings = warnings
        self.noun = noun
        self.children: list[Child] = []
        self.total_bytes = 0
        self.full = False
        self._counter = 0

    def admits(self, size: int, name: str) -> bool:
        """Whether a child of (about) `size` bytes may still be written; warns when it may not."""
        if self.full:
            return False
        if len(self.children) >= self.limits.max_members:
            self._stop(f"only the first {self.limits.max_members:,} {self.noun}s were kept")
            return False
        if size > self.limits.max_member_bytes:
            self.warnings.append(
                f"{self.noun} {name!r} skipped: larger than {self.limits.max_member_bytes:,} bytes"
            )
            return False
        if self.total_bytes + size > self.limits.max_total_bytes:
            self._stop(f"{self.noun}s beyond {self.limits.max_total_bytes:,} bytes in total were skipped")
            return False
        return True

    def next_path(self, suffix: str) -> tuple[str, Path]:
        """A fresh generated name (relative to the work folder) and its absolute path."""
        self._counter += 1
        relative = f"{self._counter:06d}{suffix}"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return relative, self.work_dir / relative

    def write(
        self, data: bytes, name: str, relation: str, suffix: str, metadata: dict[str, MetaValue]
    ) -> None:
        if not self.admits(len(data), name):
            return
        relative, target = self.next_path(suffix)
        target.write_bytes(data)
        self.add(Child(path=relative, name=name, relation=relation, metadata=metadata), len(data))

    def add(self, child: Child, size: int) -> None:
        self.children.append(child)
        self.total_bytes += size

    def _stop(self, warning: str) -> None:
        self.full = True
        self.warnings.append(warning)


# --------------------------------------------------------------------------------------------------
# Headers
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Headers:
    """One header block parsed twice: `modern` (policy.default) and `legacy` (compat32, never raises)."""

    modern: Message | None
    legacy: Message


def _parse_headers(block: bytes, modern: bool) -> _Headers:
    legacy = BytesHeaderParser(policy=policy.compat32).parsebytes(block)
    parsed: Message | None = None
    if modern:
        try:
            parsed = BytesHeaderParser(policy=policy.default).parsebytes(block)
        except Exception as exc:  # a header the modern parser rejects: fall back to compat32
            log.debug("headers need the compat32 parser: %s", type(exc).__name__)
    return _Headers(parsed, legacy)


def _split_headers(entity: memoryview) -> tuple[bytes, memoryview]:
    """Split a MIME entity into its header block and its (still transfer-encoded) body."""
    pos, size = 0, len(entity)
    while pos < size and pos < _MAX_HEADER_BYTES:
        if entity[pos] == 0x0A:
            return bytes(entity[:pos]), entity[pos + 1 :]
        if entity[pos] == 0x0D and pos + 1 < size and entity[pos + 1] == 0x0A:
            return bytes(entity[:pos]), entity[pos + 2 :]
        line = _HEADER_LINE.match(entity, pos)
        if line is None or line.end() == pos:
            break  # not a header line: the body starts here (a missing blank line, as parsers tolerate)
        pos = line.end()
    return bytes(entity[:pos]), entity[pos:]


def _skip_envelope(data: bytes) -> int:
    """Offset past a BOM, leading blank lines and an mbox "From " envelope line, if present."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while data[pos : pos + 1] in (b"\r", b"\n"):
        pos += 1
    if _ENVELOPE_LINE.match(data, pos):
        newline = data.find(b"\n", pos)
        pos = len(data) if newline < 0 else newline + 1
    return pos


def _fix_surrogates(text: str) -> str:
    """Raw 8-bit bytes in a header arrive as surrogate escapes: decode them by detection."""
    if not _SURROGATES.search(text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"))[0]


def _decode_words(raw: str) -> str:
    """Decode RFC 2047 encoded words leniently (unknown charsets fall back to detection)."""
    raw = _fix_surrogates(raw)
    if "=?" not in raw:
        return raw
    try:
        chunks = decode_header(raw)
    except Exception:
        return raw
    out = []
    for chunk, charset in chunks:
        out.append(chunk if isinstance(chunk, str) else decode_bytes(chunk, charset)[0])
    return "".join(out)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _header_text(headers: _Headers, name: str) -> str | None:
    raw = headers.legacy.get(name)
    if raw is None:
        return None
    value: str | None = None
    if headers.modern is not None and not _SURROGATES.search(str(raw)) and "=?" not in str(raw):
        try:
            value = str(headers.modern.get(name, ""))
        except Exception:
            value = None
    if value is None:
        value = _decode_words(str(raw))
    return _clean(value) or None


def _format_address(name: str, address: str) -> str:
    name, address = _clean(name).strip("\"' "), address.strip()
    if name and address and name != address:
        return f"{name} <{address}>"
    return address or name


def _addresses(headers: _Headers, name: str) -> list[str]:
    raws = [str(v) for v in headers.legacy.get_all(name) or ()]
    if not raws:
        return []
    if headers.modern is not None and not any(_SURROGATES.search(r) for r in raws):
        try:
            found = [
                _format_address(address.display_name, address.addr_spec)
                for header in headers.modern.get_all(name) or ()
                for address in header.addresses
            ]
            if not any(_SURROGATES.search(a) for a in found):  # else: an unknown charset, decode leniently
                return [a for a in found if a]
        except Exception:
            pass
    pairs = getaddresses([_fix_surrogates(r) for r in raws])
    return [a for a in (_format_address(_decode_words(n), addr) for n, addr in pairs) if a]


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _message_metadata(headers: _Headers) -> dict[str, MetaValue]:
    metadata: dict[str, MetaValue] = {}
    senders = _addresses(headers, "from")
    if senders:
        metadata["from"] = ", ".join(senders)
    for name in _ADDRESS_HEADERS:
        found = _addresses(headers, name)
        if found:
            metadata[name] = found
    date = _iso_date(_header_text(headers, "date"))
    if date:
        metadata["date"] = date
    subject = _header_text(headers, "subject")
    if subject:
        metadata["subject"] = subject
    for key, header in (("message_id", "message-id"), ("in_reply_to", "in-reply-to")):
        value = _header_text(headers, header)
        if value:
            metadata[key] = value
    references = _MESSAGE_ID.findall(_header_text(headers, "references") or "")
    if references:
        metadata["references"] = references
    return metadata


def headers_block(metadata: dict[str, MetaValue], raw_date: str | None = None) -> str:
    """A readable From/To/Cc/Date/Subject block for the "headers" part."""
    lines = []
    for label, key in _HEADER_BLOCK_FIELDS:
        value = raw_date if key == "date" and raw_date else metadata.get(key)
        if isinstance(value, list):
            value = ", ".join(value)
        if value:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# MIME
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entity:
    headers: Message  # compat32 view: content type, disposition, filename, transfer encoding
    body: memoryview
    depth: int
    alternative_html: bool  # an HTML rendering of a text/plain sibling (kept only if it says more)


def _content_type(headers: Message) -> str:
    try:
        return headers.get_content_type()
    except Exception:
        return "text/plain"


def _split_multipart(body: memoryview, boundary: str | None) -> list[memoryview] | None:
    """The parts between `--boundary` lines (preamble and epilogue dropped); None if none is found."""
    if not boundary:
        return None
    marker = boundary.encode("utf-8", "surrogateescape")
    delimiter = re.compile(rb"^--" + re.escape(marker) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    parts: list[memoryview] = []
    start: int | None = None
    found = False
    for match in delimiter.finditer(body):
        found = True
        if start is not None:
            parts.append(body[start : _before_newline(body, match.start(), start)])
        if match.group(1):
            # A close delimiter; parts that follow it anyway (a nested multipart reusing the outer
            # boundary closes early) are still read rather than lost.
            start = None
            continue
        start = match.end() + 1 if body[match.end() : match.end() + 1] == b"\n" else match.end()
    if start is not None:
        parts.append(body[start:])  # no closing delimiter: the last part runs to the end
    return parts if found else None


def _guess_boundary(body: memoryview) -> str | None:
    """The boundary actually used when the declared one never appears: a "--token" line heading a part."""
    found = _BOUNDARY_LINE.search(body[:_BOUNDARY_SCAN])
    return found.group(1).decode("utf-8", "surrogateescape") if found else None


def _before_newline(body: memoryview, end: int, start: int) -> int:
    """`end` moved back over the line break that belongs to the following delimiter."""
    if end > start and body[end - 1] == 0x0A:
        end -= 1
        if end > start and body[end - 1] == 0x0D:
            end -= 1
    return end


def _entity(raw: memoryview, depth: int, alternative_html: bool) -> _Entity:
    block, body = _split_headers(raw)
    return _Entity(_parse_headers(block, modern=False).legacy, body, depth, alternative_html)


def _walk(top: _Entity, limits_depth: int, warnings: list[str]) -> Iterator[_Entity]:
    """Yield the leaf entities of a MIME tree in document order, iteratively and depth-bounded."""
    stack = [top]
    visited = 0
    depth_warned = False
    while stack:
        entity = stack.pop()
        visited += 1
        if visited > _MAX_ENTITIES:
            warnings.append(f"message has more than {_MAX_ENTITIES:,} MIME parts; the rest were skipped")
            return
        if _content_type(entity.headers).partition("/")[0] != "multipart":
            yield entity
            continue
        if entity.depth >= limits_depth:
            if not depth_warned:
                warnings.append(f"MIME parts nested deeper than {limits_depth} levels were skipped")
                depth_warned = True
            continue
        try:
            boundary = entity.headers.get_boundary()
        except Exception:
            boundary = None
        parts = _split_multipart(entity.body, boundary)
        if parts is None:
            guessed = _guess_boundary(entity.body)
            parts = _split_multipart(entity.body, guessed) if guessed else None
            if parts is not None:
                warnings.append("MIME boundary did not match the declared one; parts split on the one found")
        if parts is None:
            yield entity  # a multipart without usable boundaries: read its body as text
            continue
        children = [_entity(part, entity.depth + 1, entity.alternative_html) for part in parts]
        if _content_type(entity.headers) == "multipart/alternative" and any(
            _is_plain_body(c) for c in children
        ):
            children = [_Entity(c.headers, c.body, c.depth, True) for c in children]
        stack.extend(reversed(children))


def _disposition(headers: Message) -> str | None:
    try:
        return headers.get_content_disposition()
    except Exception:
        return None


def _filename(headers: Message) -> str | None:
    try:
        name = headers.get_filename()
    except Exception:
        return None
    if not name:
        return None
    return _clean(_decode_words(str(name))) or None


def _is_body_text(entity: _Entity) -> bool:
    """Inline text/plain or text/html (or a multipart whose boundaries are missing: read as text)."""
    content_type = _content_type(entity.headers)
    return (
        (content_type in ("text/plain", "text/html") or content_type.startswith("multipart/"))
        and _disposition(entity.headers) != "attachment"
        and _filename(entity.headers) is None
    )


def _is_plain_body(entity: _Entity) -> bool:
    return _is_body_text(entity) and _content_type(entity.headers) == "text/plain"


def _transfer_encoding(headers: Message) -> str:
    return str(headers.get("content-transfer-encoding", "")).strip().lower()


def _decoded_size_estimate(entity: _Entity) -> int:
    size = len(entity.body)
    return size * 3 // 4 if _transfer_encoding(entity.headers) == "base64" else size


def _decode_transfer(body: memoryview, encoding: str) -> bytes:
    """Undo the Content-Transfer-Encoding leniently (stray characters and bad padding tolerated)."""
    if encoding == "base64":
        cleaned = _NON_BASE64.sub(b"", body)
        cleaned = cleaned[: len(cleaned) - 1] if len(cleaned) % 4 == 1 else cleaned
        try:
            return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return b""
    if encoding == "quoted-printable":
        return binascii.a2b_qp(bytes(body))
    if encoding in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return _uudecode(bytes(body))
    return bytes(body)


def _uudecode(data: bytes) -> bytes:
    out = bytearray()
    inside = False
    for line in data.splitlines():
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`"):
            break
        try:
            out += binascii.a2b_uu(line)
        except binascii.Error:
            continue
    return bytes(out)


def _charset(headers: Message) -> str | None:
    try:
        return headers.get_content_charset()
    except Exception:
        return None


def _words_covered(text: str, reference: str) -> bool:
    """Whether (nearly) every word of `text` also occurs in `reference`.

    An HTML alternative normally repeats its text/plain sibling and is dropped; when it says more
    (some senders put different content in each), its text is kept so nothing goes unsearched.
    """
    words = set(_WORD.findall(text.casefold()))
    if not words:
        return True
    missing = words - set(_WORD.findall(reference.casefold()))
    return len(missing) <= len(words) * _ALTERNATIVE_NEW_WORDS


def _entity_text(entity: _Entity) -> str:
    """Text of a text/plain or text/html leaf, charset decoded leniently."""
    payload = _decode_transfer(entity.body, _transfer_encoding(entity.headers))
    charset = _charset(entity.headers)
    if _content_type(entity.headers) == "text/html":
        if charset and canonical_encoding(charset):
            return html_to_text(decode_bytes(payload, charset)[0])[0]
        return html_to_text(decode_html_bytes(payload)[0])[0]
    return decode_bytes(payload, charset)[0].replace("\r\n", "\n")


class _MimeReader:
    """Collects the body text and writes attachments of one parsed message."""

    def __init__(self, ctx: ExtractContext, warnings: list[str]) -> None:
        self.ctx = ctx
        self.warnings = warnings
        self.writer = _ChildWriter(ctx, warnings, "attachment")
        self.texts: list[str] = []
        self.alternatives: list[_Entity] = []

    def read(self, top: _Entity) -> str:
        for entity in _walk(top, self.ctx.limits.max_mime_depth, self.warnings):
            if _is_body_text(entity):
                if _content_type(entity.headers) == "text/html" and entity.alternative_html:
                    self.alternatives.append(entity)
                else:
                    self.texts.append(_entity_text(entity))
            else:
                self._attachment(entity)
        body = "\n\n".join(t.strip("\r\n") for t in self.texts if t.strip())
        for entity in self.alternatives:
            html_text = _entity_text(entity)
            if not _words_covered(html_text, body):
                body = f"{body}\n\n{html_text}" if body else html_text
        return body

    def _attachment(self, entity: _Entity) -> None:
        content_type = _content_type(entity.headers)
        is_message = content_type in ("message/rfc822", "message/global")
        name = _filename(entity.headers)
        if not self.writer.admits(_decoded_size_estimate(entity), name or content_type):
            return
        data = _decode_transfer(entity.body, _transfer_encoding(entity.headers))
        if not data and not name:
            return  # an empty inline part carries nothing
        if is_message and not name:
            subject = _header_text(
                _parse_headers(_split_headers(memoryview(data))[0], modern=True), "subject"
            )
            name = f"{subject or 'message'}.eml"
        metadata: dict[str, MetaValue] = {"content_type": content_type, "size": len(data)}
        if name:
            metadata["filename"] = name
        suffix = ".eml" if is_message else ".bin"
        display = name or f"attachment{mimetypes.guess_extension(content_type) or suffix}"
        self.writer.write(data, display, "attachment", suffix, metadata)


def extract_eml_bytes(data: bytes, ctx: ExtractContext) -> Extraction:
    """Parse one RFC 822 message (bytes) into headers and body parts plus attachment children."""
    warnings: list[str] = []
    raw = memoryview(data)[_skip_envelope(data) :]
    block, body = _split_headers(raw)
    headers = _parse_headers(block, modern=True)
    if not len(headers.legacy) and not bytes(body[:4096]).strip():
        raise CorruptError("email has neither headers nor a body")
    metadata = _message_metadata(headers)
    if _content_type(headers.legacy) in _ENCRYPTED_TYPES:
        warnings.append("message body is encrypted (S/MIME or PGP); only its headers are readable")
    reader = _MimeReader(ctx, warnings)
    text = reader.read(_Entity(headers.legacy, body, 0, False))
    text = _bounded(text, ctx.limits.max_text_chars, warnings)
    subject = metadata.get("subject")
    parts = [
        Part(kind="headers", label="headers", text=headers_block(metadata, _header_text(headers, "date")))
    ]
    parts.append(Part(kind="body", label="body", text=text))
    return Extraction(
        doc_type="email",
        title=str(subject) if subject else None,
        parts=tuple(parts),
        metadata=metadata,
        children=tuple(reader.writer.children),
        warnings=tuple(warnings),
    )


def _bounded(text: str, limit: int, warnings: list[str]) -> str:
    if len(text) > limit:
        warnings.append(f"text truncated at {limit:,} characters")
        return text[:limit]
    return text


class EmlExtractor:
    """RFC 822 / MIME message: headers part, body part, attachments and attached messages as children."""

    name = "email"
    version = "1"
    doc_types = ("eml",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CorruptError(f"email cannot be read: {exc.strerror or exc}") from exc
        return extract_eml_bytes(data, ctx)


# --------------------------------------------------------------------------------------------------
# MBOX
# --------------------------------------------------------------------------------------------------


class _MboxSplitter:
    """Streams an mbox and writes each message to its own .eml child as it goes."""

    def __init__(self, ctx: ExtractContext, warnings: list[str]) -> None:
        self.writer = _ChildWriter(ctx, warnings, "message")
        self.limits = ctx.limits
        self.warnings = warnings
        self.count = 0
        self._out: BinaryIO | None = None
        self._relative = ""
        self._target: Path | None = None
        self._size = 0
        self._head = bytearray()
        self._in_headers = True
        self._oversized = False

    def split(self, source: BinaryIO) -> None:
        """Split `source` into message children; an open child file is closed whatever happens."""
        try:
            self._split(source)
        finally:
            if self._out is not None:
                self._out.close()

    def _split(self, source: BinaryIO) -> None:
        first = True
        at_line_start = True
        pending_blank = b""
        while not self.writer.full:
            chunk = source.readline(_MBOX_CHUNK)
            if not chunk:
                break
            starts_line = at_line_start
            at_line_start = chunk.endswith(b"\n")
            if starts_line and chunk.startswith(b"From ") and self._is_separator(chunk, first, pending_blank):
                pending_blank = b""
                self._finish()
                self._begin()
                first = False
                continue
            first = False
            if pending_blank:
                self._write(pending_blank)
                pending_blank = b""
            if starts_line and at_line_start and chunk.strip(b"\r\n") == b"":
                pending_blank = chunk  # dropped if a separator follows: it belongs to the separator
                continue
            if self._out is None and not self.writer.full:
                if not chunk.strip():
                    continue
                self._begin()  # text before any separator (or a file without one) is a message too
            self._write(chunk)
        self._finish()

    def _is_separator(self, line: bytes, first: bool, pending_blank: bytes) -> bool:
        if first or _MBOX_STRICT_SEPARATOR.match(line):
            return True
        return bool(pending_blank) and bool(_MBOX_SEPARATOR.match(line))

    def _begin(self) -> None:
        if not self.writer.admits(0, "message"):
            return
        self._relative, self._target = self.writer.next_path(".eml")
        self._out = open(self._target, "wb")
        self._size = 0
        self._head = bytearray()
        self._in_headers = True
        self._oversized = False

    def _write(self, chunk: bytes) -> None:
        if self._out is None or self._oversized:
            return
        self._size += len(chunk)
        if self._size > self.limits.max_member_bytes:
            self._oversized = True
            return
        if self._in_headers:
            if chunk.strip(b"\r\n") == b"" or len(self._head) > _MAX_HEADER_BYTES:
                self._in_headers = False
            else:
                self._head += chunk
        self._out.write(chunk)

    def _finish(self) -> None:
        if self._out is None or self._target is None:
            return
        self._out.close()
        self._out = None
        self.count += 1
        if self._oversized or self._size == 0:
            self._target.unlink(missing_ok=True)
            if self._oversized:
                self.warnings.append(
                    f"message {self.count:,} skipped: larger than {self.limits.max_member_bytes:,} bytes"
                )
            return
        if not self.writer.admits(self._size, f"message {self.count:,}"):
            self._target.unlink(missing_ok=True)
            return
        metadata = _mbox_message_metadata(bytes(self._head))
        subject = metadata.get("subject")
        name = f"{subject}.eml" if subject else f"message {self.count:06d}.eml"
        self.writer.add(
            Child(path=self._relative, name=name, relation="message", metadata=metadata), self._size
        )


def _mbox_message_metadata(block: bytes) -> dict[str, MetaValue]:
    """subject/from/date of one mailbox message (compat32 only: fast); broken headers lose only these."""
    try:
        headers = _Headers(None, _summary_headers(block))
        metadata: dict[str, MetaValue] = {}
        subject = _header_text(headers, "subject")
        if subject:
            metadata["subject"] = subject
        senders = _addresses(headers, "from")
        if senders:
            metadata["from"] = ", ".join(senders)
        date = _iso_date(_header_text(headers, "date"))
        if date:
            metadata["date"] = date
    except Exception as exc:
        log.info("mbox message headers unreadable: %s", type(exc).__name__)
        return {}
    return metadata


def _summary_headers(block: bytes) -> Message:
    """Just the Subject/From/Date headers of a header block, found without a full parse (mbox speed)."""
    found = Message(policy=policy.compat32)
    for match in _SUMMARY_HEADER.finditer(block):
        name = match.group(1).decode("ascii").title()
        if name not in found:
            found[name] = match.group(2).decode("utf-8", "surrogateescape").strip()
    return found


class MboxExtractor:
    """Mailbox: each message streamed into its own .eml child; the container keeps a short summary."""

    name = "mbox"
    version = "1"
    doc_types = ("mbox",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        splitter = _MboxSplitter(ctx, warnings)
        try:
            with open(path, "rb") as source:
                splitter.split(source)
        except OSError as exc:
            raise CorruptError(f"mailbox cannot be read: {exc.strerror or exc}") from exc
        kept = len(splitter.writer.children)
        if kept == 0 and splitter.count == 0:
            raise CorruptError("mailbox holds no messages")
        summary = f"Mailbox with {splitter.count:,} message{'s' if splitter.count != 1 else ''}"
        if kept != splitter.count:
            summary += f" ({kept:,} kept)"
        return Extraction(
            doc_type="mbox",
            parts=(Part(kind="body", label="summary", text=summary + "."),),
            metadata={"message_count": splitter.count},
            children=tuple(splitter.writer.children),
            warnings=tuple(warnings),
        )


# --------------------------------------------------------------------------------------------------
# MSG
# --------------------------------------------------------------------------------------------------

# Fields worth reading from Outlook items that are not mail (contacts, appointments, tasks).
_ITEM_FIELDS = (
    ("Name", "displayName"),
    ("Company", "companyName"),
    ("Job title", "jobTitle"),
    ("Department", "departmentName"),
    ("E-mail", "email1EmailAddress"),
    ("E-mail 2", "email2EmailAddress"),
    ("E-mail 3", "email3EmailAddress"),
    ("Business phone", "businessTelephoneNumber"),
    ("Home phone", "homeTelephoneNumber"),
    ("Mobile phone", "mobileTelephoneNumber"),
    ("Business address", "workAddress"),
    ("Home address", "homeAddress"),
    ("Web page", "businessHomePage"),
    ("Location", "location"),
    ("Start", "startDate"),
    ("End", "endDate"),
    ("Organizer", "organizer"),
    ("Required attendees", "requiredAttendees"),
    ("Optional attendees", "optionalAttendees"),
    ("Task start", "taskStartDate"),
    ("Task due", "taskDueDate"),
    ("Task owner", "taskOwner"),
    ("Task status", "taskStatus"),
    ("Percent complete", "percentComplete"),
)
_RECIPIENT_KEYS = {
    "TO": "to",
    "CC": "cc",
    "BCC": "bcc",
    "ORGANIZER": "to",
    "SENDABLE_REQUIRED_ATTENDEE": "to",
    "SENDABLE_OPTIONAL_ATTENDEE": "cc",
    "SENDABLE_RESOURCE_OBJECT": "bcc",
}
# Windows code pages (PR_INTERNET_CPID / PR_MESSAGE_CODEPAGE) without a "cpNNN" codec name.
_CODE_PAGES = {
    20127: "cp1252",
    20866: "koi8-r",
    21866: "koi8-u",
    28591: "cp1252",
    50220: "iso2022-jp",
    50221: "iso2022-jp",
    50222: "iso2022-jp",
    51932: "euc-jp",
    51949: "euc-kr",
    52936: "hz",
    54936: "gb18030",
    65000: "utf-7",
    65001: "utf-8",
}
_PR_INTERNET_CPID = "3FDE0003"
_PR_MESSAGE_CODEPAGE = "3FFD0003"
_PR_ATTACH_SIZE = "0E200003"
_PR_HTML = "__substg1.0_10130102"


def _safe(read: Any, default: Any = None) -> Any:
    """Read one extract-msg property; a damaged property yields `default` instead of failing the file."""
    try:
        value = read()
    except Exception as exc:
        log.debug("MSG property unreadable: %s", type(exc).__name__)
        return default
    return default if value is None else value


def _open_msg(path: Path) -> Any:
    import extract_msg
    from extract_msg.enums import ErrorBehavior

    # Tolerate a broken attachment, RTF body or named-property stream, but not a damaged OLE
    # structure: olefile's "incorrect" defects (double references, bad chains) mean a corrupt file.
    tolerated = ErrorBehavior.SUPPRESS_ALL & ~ErrorBehavior.OLE_DEFECT_INCORRECT
    options = {"delayAttachments": True, "errorBehavior": tolerated}
    try:
        msg = extract_msg.openMsg(str(path), strict=False, **options)
    except Exception as exc:
        raise CorruptError(f"MSG is damaged: {_short(exc)}") from exc
    encoding = _msg_code_page_encoding(msg)
    if encoding is None:
        return msg
    msg.close()
    try:
        return extract_msg.openMsg(str(path), strict=False, overrideEncoding=encoding, **options)
    except Exception as exc:
        raise CorruptError(f"MSG is damaged: {_short(exc)}") from exc


def _msg_code_page_encoding(msg: Any) -> str | None:
    """For a non-Unicode MSG, the code page it declares when extract-msg guessed another one."""
    if _safe(lambda: msg.areStringsUnicode, True):
        return None
    for prop in (_PR_MESSAGE_CODEPAGE, _PR_INTERNET_CPID):
        code_page = _safe(lambda p=prop: msg.getPropertyVal(p))
        if isinstance(code_page, int) and code_page > 0:
            encoding = canonical_encoding(_CODE_PAGES.get(code_page, f"cp{code_page}"))
            current = canonical_encoding(str(_safe(lambda: msg.stringEncoding, "")))
            if encoding and encoding != current:
                return encoding
            return None
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _text_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.name.replace("_", " ").lower()
    if isinstance(value, (list, tuple)):
        return "; ".join(_text_value(v) for v in value)
    return _clean(str(value))


def _msg_recipients(msg: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for recipient in _safe(lambda: msg.recipients, []):
        kind = getattr(_safe(lambda r=recipient: r.type), "name", "TO")
        key = _RECIPIENT_KEYS.get(str(kind), "to")
        name = str(_safe(lambda r=recipient: r.name, ""))
        address = str(_safe(lambda r=recipient: r.email, ""))
        formatted = _format_address(name, address)
        if formatted:
            found.setdefault(key, []).append(formatted)
    return found


def _msg_metadata(msg: Any) -> dict[str, MetaValue]:
    metadata: dict[str, MetaValue] = {}
    sender = _clean(str(_safe(lambda: msg.sender, "")))
    if sender:
        # "Name <addr>" is normalised; a bare display name ("Allison, Timothy B.") is kept whole.
        name, address = parseaddr(sender) if "<" in sender else ("", "")
        metadata["from"] = _format_address(name, address) if address else sender
    metadata.update(_msg_recipients(msg))
    date = _safe(lambda: msg.date)
    if isinstance(date, datetime):
        metadata["date"] = date.isoformat()
    subject = _clean(str(_safe(lambda: msg.subject, "")))
    if subject:
        metadata["subject"] = subject
    for key, attribute in (("message_id", "messageId"), ("in_reply_to", "inReplyTo")):
        value = _clean(str(_safe(lambda a=attribute: getattr(msg, a), "")))
        if value:
            metadata[key] = value
    header = _safe(lambda: msg.header)
    references = _MESSAGE_ID.findall(str(_safe(lambda: header.get("References", ""), ""))) if header else []
    if references:
        metadata["references"] = references
    return metadata


def _msg_body(msg: Any) -> str:
    """Plain body; else the HTML body as text; else the RTF body as text."""
    body = _safe(lambda: msg.body, "")
    if isinstance(body, bytes):
        body = decode_bytes(body)[0]
    if isinstance(body, str) and body.strip():
        return body.replace("\r\n", "\n")
    html = _safe(lambda: msg.getStream(_PR_HTML))
    if isinstance(html, bytes) and html.strip():
        return html_to_text(html)[0]
    rtf = _safe(lambda: msg.rtfBody)
    if isinstance(rtf, bytes) and rtf.strip():
        from app.extract.rtf import rtf_to_text

        return _safe(lambda: rtf_to_text(rtf), "")
    return ""


def _msg_item_details(msg: Any) -> str:
    """Contact, appointment and task fields, one "Label: value" per line."""
    lines = []
    for label, attribute in _ITEM_FIELDS:
        if not hasattr(type(msg), attribute):
            continue
        value = _safe(lambda a=attribute: getattr(msg, a))
        if value is None or isinstance(value, (bytes, bool, dict)):
            continue
        text = _text_value(value)
        if text:
            lines.append(f"{label}: {text}")
    return "\n".join(lines)


def _msg_attachments(msg: Any, writer: _ChildWriter, warnings: list[str]) -> None:
    from extract_msg.enums import AttachmentType

    attachments = _safe(lambda: msg.attachments)
    if attachments is None:
        warnings.append("attachments could not be read")
        return
    for attachment in attachments:
        kind = _safe(lambda a=attachment: a.type)
        if kind in (AttachmentType.MSG, AttachmentType.SIGNED_EMBEDDED):
            _msg_embedded(attachment, writer, warnings)
        else:
            _msg_data_attachment(attachment, writer, warnings)


def _attachment_name(attachment: Any) -> str:
    for attribute in ("longFilename", "shortFilename", "displayName", "name"):
        value = _safe(lambda a=attribute: getattr(attachment, a))
        if isinstance(value, str) and value.strip():
            return _clean(value)
    return "attachment"


def _msg_data_attachment(attachment: Any, writer: _ChildWriter, warnings: list[str]) -> None:
    name = _attachment_name(attachment)
    declared = _safe(lambda: attachment.getPropertyVal(_PR_ATTACH_SIZE), 0)
    if not writer.admits(declared if isinstance(declared, int) else 0, name):
        return
    data = _safe(lambda: attachment.data)
    if not isinstance(data, bytes):
        warnings.append(f"attachment {name!r} could not be read")
        return
    content_type = _safe(lambda: attachment.mimetype, "") or "application/octet-stream"
    metadata: dict[str, MetaValue] = {"filename": name, "content_type": str(content_type), "size": len(data)}
    writer.write(data, name, "attachment", ".bin", metadata)


def _msg_embedded(attachment: Any, writer: _ChildWriter, warnings: list[str]) -> None:
    """An attached Outlook item: written as a .msg of its own (or as .eml if that fails)."""
    inner = _safe(lambda: attachment.data)
    if inner is None:
        warnings.append("an embedded message could not be read")
        return
    subject = _clean(str(_safe(lambda: inner.subject, ""))) or "message"
    data = _safe(lambda: inner.exportBytes())
    suffix, content_type = ".msg", "application/vnd.ms-outlook"
    if not isinstance(data, bytes):
        data = _safe(lambda: inner.asEmailMessage().as_bytes(policy=policy.SMTP))
        suffix, content_type = ".eml", "message/rfc822"
    if not isinstance(data, bytes):
        warnings.append(f"embedded message {subject!r} could not be exported")
        return
    name = f"{subject}{suffix}"
    metadata: dict[str, MetaValue] = {"filename": name, "content_type": content_type, "size": len(data)}
    writer.write(data, name, "attachment", suffix, metadata)


class MsgExtractor:
    """Outlook MSG (mail, and also contacts, appointments and tasks) through extract-msg's in-memory API."""

    name = "extract-msg"
    version = "1"
    doc_types = ("msg",)

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        msg = _open_msg(path)
        try:
            return self._extract(msg, ctx)
        finally:
            _safe(msg.close)

    def _extract(self, msg: Any, ctx: ExtractContext) -> Extraction:
        warnings: list[str] = []
        if str(_safe(lambda: msg.classType, "")).upper().startswith(("IPM.NOTE.SMIME", "IPM.NOTE.SECURE")):
            if _safe(lambda: msg.body, "") == "" and not _safe(lambda: msg.attachments):
                raise EncryptedError("encrypted S/MIME message: its content cannot be read")
        metadata = _msg_metadata(msg)
        item_class = _clean(str(_safe(lambda: msg.classType, "")))
        if item_class:
            metadata["message_class"] = item_class
        parts = [Part(kind="headers", label="headers", text=headers_block(metadata))]
        details = _msg_item_details(msg)
        if details:
            parts.append(Part(kind="section", label="details", text=details))
        body = _bounded(_msg_body(msg), ctx.limits.max_text_chars, warnings)
        parts.append(Part(kind="body", label="body", text=body))
        writer = _ChildWriter(ctx, warnings, "attachment")
        _msg_attachments(msg, writer, warnings)
        subject = metadata.get("subject")
        return Extraction(
            doc_type="email",
            title=str(subject) if subject else None,
            parts=tuple(parts),
            metadata=metadata,
            children=tuple(writer.children),
            warnings=tuple(warnings),
        )
