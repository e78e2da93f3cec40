"""Archives (ZIP, 7z, tar) and single-stream compressors (gzip, bzip2, xz): list members, write them out.

Every regular-file member is streamed into `ctx.work_dir` under a generated name (`m000001`, …) and
returned as a `Child`; its stored path is kept for display only and never used to write. Nested containers
are not opened here: they come back as children and the pipeline sends them through extraction again, so
nesting depth is the pipeline's business. Limits are enforced while bytes flow (declared sizes are never
trusted): member count, bytes per member, bytes per container, and the compression ratio of each member.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import hmac
import io
import logging
import lzma
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import charset_normalizer

from app.extract.base import Child, ExtractContext, Extraction, Limits, MetaValue, Part
from app.extract.errors import CorruptError, EncryptedError, TooLargeError, UnsupportedError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20  # copy buffer and ratio threshold: the ratio is judged once a member passes 1 MiB
_READ = 64 << 10  # compressed bytes fed to a decoder at a time
_MAX_WARNINGS_PER_KIND = 20
_MAX_LZMA_DICT = 1 << 30

_ZIP_LOCAL_SIG = b"PK\x03\x04"
_ZIP_EOCD_SIG = b"PK\x05\x06"
_ZIP_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_ZIP_FLAG_ENCRYPTED = 0x01
_ZIP_FLAG_DESCRIPTOR = 0x08
_ZIP_FLAG_PATCHED = 0x20
_ZIP_FLAG_STRONG = 0x40
_ZIP_FLAG_UTF8 = 0x800
_ZIP_METHOD_AES = 99
_NO_LOCAL_HEADER = "local header is missing"
_ZIP_METHODS = (0, 8, 9, 12, 14)  # stored, deflate, deflate64, bzip2, lzma
_ZIP_METHOD_NAMES = {
    1: "Shrink",
    6: "Implode",
    10: "PKWARE Implode",
    93: "Zstandard",
    95: "XZ",
    96: "JPEG",
    98: "PPMd",
}

_SINGLE_STREAM_SUFFIXES = {
    "gzip": ((".tgz", ".tar"), (".taz", ".tar"), (".gz", ""), (".gzip", ""), (".z", "")),
    "bzip2": ((".tbz2", ".tar"), (".tbz", ".tar"), (".bz2", ""), (".bz", ""), (".bzip2", "")),
    "xz": ((".txz", ".tar"), (".xz", ""), (".lzma", "")),
}
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")


class ArchiveExtractor:
    """Lists an archive's members and writes each regular file out as a child document."""

    name = "archive"
    version = "1"
    doc_types = ("zip", "7z", "tar", "gzip", "bzip2", "xz")

    def extract(self, path: Path, ctx: ExtractContext) -> Extraction:
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        doc_type = _sniff_doc_type(path)
        box = _Container(ctx, path.stat().st_size)
        if doc_type == "zip":
            _extract_zip(path, ctx, box)
        elif doc_type == "7z":
            box = _extract_7z(path, ctx, box)
        elif doc_type == "tar":
            _extract_tar(path, box)
        else:
            _extract_single_stream(path, doc_type, ctx, box)
        return box.finish(doc_type)


def _sniff_doc_type(path: Path) -> str:
    """The container type from its magic bytes (detect.py already chose this extractor)."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    return "zip"


# ---------------------------------------------------------------------------------------------------------
# Shared bookkeeping: children, listing, limits, warnings, refusals


class _Damaged(Exception):
    """A member's stream is broken (bad CRC, bad compressed data, truncated); what was read may be kept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _WrongPassword(Exception):
    """The password check of an encrypted ZIP member failed."""


class _Refusal(Exception):
    """A member was not kept. `category` picks the error raised when nothing at all could be kept."""

    def __init__(self, category: str, warning: str, reason: str, *, stop: bool = False) -> None:
        super().__init__(warning)
        self.category = category  # "bomb" | "too_large" | "encrypted" | "unsupported" | "corrupt"
        self.warning = warning
        self.reason = reason
        self.stop = stop  # the whole container stops here


@dataclass
class _Warnings:
    """Warnings grouped by kind, so an archive of 10,000 symlinks yields a bounded list."""

    items: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, message: str) -> None:
        seen = self.counts.get(kind, 0)
        self.counts[kind] = seen + 1
        if seen < _MAX_WARNINGS_PER_KIND:
            self.items.append(message)

    def collected(self) -> tuple[str, ...]:
        extra = [
            f"… and {count - _MAX_WARNINGS_PER_KIND:,} more warnings of this kind ({kind})"
            for kind, count in self.counts.items()
            if count > _MAX_WARNINGS_PER_KIND
        ]
        return tuple(self.items + extra)


class _Container:
    """One archive being extracted: writes children under generated names and enforces the limits."""

    def __init__(self, ctx: ExtractContext, archive_size: int) -> None:
        self.work_dir = ctx.work_dir
        self.limits: Limits = ctx.limits
        self.archive_size = max(archive_size, 1)
        self.children: list[Child] = []
        self.listing: list[str] = []
        self.warnings = _Warnings()
        self.refusals: list[_Refusal] = []
        self.metadata: dict[str, MetaValue] = {}
        self.member_count = 0
        self.total_out = 0  # every decompressed byte, including members later abandoned
        self.kept_bytes = 0
        self._sequence = 0
        self._traversal_names = 0
        self._seen_names: set[str] = set()
        self._duplicate_names = 0

    # -- listing ----------------------------------------------------------------------------------------

    def list_member(self, name: str) -> None:
        """Record a member name for the listing and flag names that would escape a folder."""
        self.member_count += 1
        self.listing.append(name)
        if _is_traversal_name(name):
            self._traversal_names += 1
            if self._traversal_names == 1:
                self.warnings.add(
                    "traversal",
                    f"archive contains path-traversal member names (e.g. '{_short(name)}'); "
                    "they are shown as stored and never used to write files",
                )
        if name in self._seen_names:
            self._duplicate_names += 1
        else:
            self._seen_names.add(name)

    def stop_at_member_limit(self, declared_total: int | None = None) -> None:
        limit = self.limits.max_members
        if declared_total is not None:
            message = f"archive has {declared_total:,} members; only the first {limit:,} were read"
        else:
            message = f"archive has more than {limit:,} members; stopped after {limit:,}"
        self.warnings.add("max_members", message)

    def skip_link(self, name: str, what: str) -> None:
        self.warnings.add("link", f"member '{_short(name)}' is a {what}; not followed or written")

    def discard_children(self) -> None:
        """Delete every child file written so far (a failed password trial)."""
        for child in self.children:
            (self.work_dir / child.path).unlink(missing_ok=True)
        self.children.clear()

    def refuse(self, refusal: _Refusal) -> None:
        self.refusals.append(refusal)
        self.warnings.add(refusal.category, refusal.warning)

    # -- writing ----------------------------------------------------------------------------------------

    def open_child_file(self) -> tuple[str, Path, BinaryIO]:
        """Create a file under a fresh generated name inside the work folder (never derived from the archive).

        Exclusive creation: an existing file or symlink at that name is never opened, only skipped.
        """
        while True:
            self._sequence += 1
            rel = f"m{self._sequence:06d}"
            dest = self.work_dir / rel
            try:
                return rel, dest, open(dest, "xb")  # noqa: SIM115 - the caller closes it
            except FileExistsError:
                continue

    def write_child(
        self,
        name: str,
        chunks: Iterable[bytes],
        *,
        consumed: Callable[[], int] | None = None,
        mtime: str | None = None,
        keep_damaged: bool = True,
    ) -> None:
        """Stream `chunks` into a new child file, enforcing limits; raises `_Refusal` if not kept.

        `consumed` reports the compressed bytes read so far for this member (for the ratio check).
        A `_Damaged` stream keeps what was read (with a warning) when `keep_damaged`, else is refused.
        """
        rel, dest, out_file = self.open_child_file()
        size = 0
        damage: str | None = None
        try:
            with out_file as out:
                try:
                    for chunk in chunks:
                        size += len(chunk)
                        self.total_out += len(chunk)
                        self._check_member(name, size, consumed)
                        out.write(chunk)
                except _Damaged as exc:
                    damage = exc.reason
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        if damage is not None and (not keep_damaged or size == 0):
            dest.unlink(missing_ok=True)
            raise _Damaged(damage)
        self.add_child(rel, name, size, mtime, damage)

    def add_child(self, rel: str, name: str, size: int, mtime: str | None, damage: str | None = None) -> None:
        metadata: dict[str, MetaValue] = {"member_path": name, "size": size}
        if mtime:
            metadata["mtime"] = mtime
        if damage:
            metadata["damaged"] = damage
            self.warnings.add("damaged", f"member '{_short(name)}': {damage}; kept the {size:,} bytes read")
        self.children.append(Child(path=rel, name=name, relation="member", metadata=metadata))
        self.kept_bytes += size

    def _check_member(self, name: str, size: int, consumed: Callable[[], int] | None) -> None:
        limits = self.limits
        if size > limits.max_member_bytes:
            raise _Refusal(
                "too_large",
                f"member '{_short(name)}' is larger than {limits.max_member_bytes:,} bytes; skipped",
                f"member '{_short(name)}' is larger than {limits.max_member_bytes:,} bytes",
            )
        if self.total_out > limits.max_total_bytes:
            raise _Refusal(
                "too_large",
                f"archive expands to more than {limits.max_total_bytes:,} bytes; "
                f"stopped at member '{_short(name)}'",
                f"archive expands to more than {limits.max_total_bytes:,} bytes",
                stop=True,
            )
        if consumed is not None and size > _CHUNK:
            ratio = size / max(consumed(), 1)
            if ratio > limits.max_ratio:
                raise _Refusal(
                    "bomb",
                    f"member '{_short(name)}': compression ratio over {limits.max_ratio:g}:1 — possible zip bomb; "
                    "skipped",
                    f"member '{_short(name)}' expands more than {limits.max_ratio:g}:1",
                )

    # -- result -----------------------------------------------------------------------------------------

    def finish(self, doc_type: str) -> Extraction:
        """The archive's own Extraction, or the error that says why nothing could be kept."""
        if not self.children and self.refusals:
            raise _error_for(self.refusals)
        if self._duplicate_names:
            self.warnings.add("duplicates", f"archive has {self._duplicate_names:,} duplicate member names")
        text = "\n".join(self.listing)
        if len(text) > self.limits.max_text_chars:
            text = text[: self.limits.max_text_chars]
            self.warnings.add(
                "listing", f"member listing truncated at {self.limits.max_text_chars:,} characters"
            )
        metadata: dict[str, MetaValue] = {"member_count": self.member_count, "total_size": self.kept_bytes}
        metadata.update(self.metadata)
        log.debug("%s: %d members listed, %d written", doc_type, self.member_count, len(self.children))
        return Extraction(
            doc_type=doc_type,
            title=None,
            parts=(Part(kind="body", label="listing", text=text),),
            metadata=metadata,
            children=tuple(self.children),
            warnings=self.warnings.collected(),
        )


def _error_for(refusals: list[_Refusal]) -> Exception:
    """Nothing was kept: the most telling refusal becomes the document's status and reason."""
    by_category: dict[str, list[_Refusal]] = {}
    for refusal in refusals:
        by_category.setdefault(refusal.category, []).append(refusal)
    for category in ("bomb", "too_large", "encrypted", "unsupported", "corrupt"):
        found = by_category.get(category)
        if not found:
            continue
        reason = found[0].reason
        if len(found) > 1 and category != "encrypted":
            same = all(refusal.reason == reason for refusal in found)
            reason += f" ({len(found):,} members)" if same else f" (and {len(found) - 1:,} more members)"
        if category == "bomb":
            return TooLargeError(reason if "zip bomb" in reason else f"zip bomb: {reason}")
        if category == "too_large":
            return TooLargeError(reason)
        if category == "encrypted":
            return EncryptedError(reason)
        if category == "unsupported":
            return UnsupportedError(reason)
        return CorruptError(reason)
    return CorruptError("no member could be read")


def _keep_or_refuse(box: _Container, name: str, write: Callable[[], None]) -> bool:
    """Run one member's write; turn damage into a refusal. False when the container must stop."""
    try:
        write()
    except _Damaged as exc:
        box.refuse(_Refusal("corrupt", f"member '{_short(name)}': {exc.reason}; skipped", exc.reason))
    except _Refusal as refusal:
        box.refuse(refusal)
        return not refusal.stop
    return True


# ---------------------------------------------------------------------------------------------------------
# Names, times


def _short(name: str, limit: int = 200) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _clean_name(name: str) -> str:
    """A display name: control characters (NUL included) become U+FFFD, nothing else changes."""
    return _CONTROL_CHARS.sub("\ufffd", name)


def _is_traversal_name(name: str) -> bool:
    posix = name.replace("\\", "/")
    return posix.startswith("/") or bool(_DRIVE_LETTER.match(posix)) or ".." in posix.split("/")


def _decode_names(raw_names: list[bytes], encoding: str | None = None) -> list[str]:
    """Decode names stored without an encoding flag: ASCII, else UTF-8, else one legacy code page per archive.

    `encoding` is the archive's legacy code page when already known; otherwise it is guessed from the names.
    """
    if encoding is None:
        legacy = [raw for raw in raw_names if not raw.isascii() and not _is_utf8(raw)]
        encoding = _guess_legacy_encoding(legacy) if legacy else "cp437"
    decoded = []
    for raw in raw_names:
        if raw.isascii() or _is_utf8(raw):
            decoded.append(raw.decode("utf-8"))
        else:
            decoded.append(raw.decode(encoding, "replace"))
    return [_clean_name(name) for name in decoded]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_CJK_ENCODINGS = ("cp932", "gb18030", "big5", "cp949")


def _guess_legacy_encoding(raw_names: list[bytes]) -> str:
    """Pick the code page of names without the UTF-8 flag: a CJK one when the names read as CJK, else cp437.

    A CJK reading is accepted only when every non-ASCII character is a CJK letter or mark and few of them
    sit alone against Latin letters (accented Latin in cp437 misread as CJK looks like "ni寸o").
    """
    sample = b"\n".join(raw_names[:200])
    readings: dict[str, str] = {}
    for encoding in _CJK_ENCODINGS:
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _reads_as_cjk(text):
            readings[encoding] = text
    if not readings:
        return _western_or_cyrillic(sample)
    if "cp932" in readings and re.search("[\u3041-\u30ff]", readings["cp932"]):
        return "cp932"  # kana: Japanese
    if len(readings) == 1:
        return next(iter(readings))
    return _best_by_charset_normalizer(sample, list(readings)) or next(iter(readings))


def _is_hangul(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3"


def _is_cjk_char(char: str) -> bool:
    return (
        "\u4e00" <= char <= "\u9fff"
        or "\u3040" <= char <= "\u30ff"
        or _is_hangul(char)
        or "\u3000" <= char <= "\u303f"
        or "\uff01" <= char <= "\uff9f"
        or "\u3400" <= char <= "\u4dbf"
    )


def _reads_as_cjk(text: str) -> bool:
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii or not all(_is_cjk_char(c) for c in non_ascii):
        return False
    runs = re.findall(r"[^\x00-\x7f]+", text)
    lonely = len(
        re.findall(
            r"(?:(?<=[A-Za-z])[^\x00-\x7f](?![^\x00-\x7f]))|(?:(?<![^\x00-\x7f])[^\x00-\x7f](?=[A-Za-z]))",
            text,
        )
    )
    return lonely <= len(runs) // 4


def _western_or_cyrillic(sample: bytes) -> str:
    """cp437 (the ZIP default) unless the names clearly read as Russian in cp866."""
    best = _best_by_charset_normalizer(sample, ["cp437", "cp866"])
    return best if best == "cp866" else "cp437"


def _best_by_charset_normalizer(sample: bytes, encodings: list[str]) -> str | None:
    best = charset_normalizer.from_bytes(sample, cp_isolation=encodings).best()
    if best is None:
        return None
    found = best.encoding.replace("_", "").lower()
    for encoding in encodings:
        if encoding.replace("_", "").lower() == found:
            return encoding
    return None


def _iso_utc(timestamp: float) -> str | None:
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None


def _iso_local(date_time: tuple[int, ...]) -> str | None:
    """A ZIP/DOS timestamp (local time, no zone) as ISO-8601; None for the empty or invalid ones."""
    try:
        stamp = datetime(*date_time[:6])  # type: ignore[misc]
    except (TypeError, ValueError):
        return None
    if stamp.year <= 1980 and stamp.month == 1 and stamp.day == 1 and not any(date_time[3:6]):
        return None
    return stamp.isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------------------
# ZIP


@dataclass
class _ZipEntry:
    """One member as the central directory (or, when salvaging, its local header) describes it."""

    raw_name: bytes
    flags: int
    method: int
    crc: int
    compress_size: int
    file_size: int
    header_offset: int
    date_time: tuple[int, ...]
    extra: bytes = b""
    create_system: int = 0
    external_attr: int = 0
    name: str = ""
    data_start: int = -1
    local_problem: str | None = None
    local_name_differs: bool = False

    @property
    def unix_mode(self) -> int:
        return (self.external_attr >> 16) if self.create_system == 3 else 0

    @property
    def is_dir(self) -> bool:
        if self.raw_name.endswith((b"/", b"\\")):
            return True
        return bool(stat.S_ISDIR(self.unix_mode)) or (bool(self.external_attr & 0x10) and self.file_size == 0)

    @property
    def special_kind(self) -> str | None:
        """'symbolic link', 'device file' … for Unix members that are not regular files."""
        mode = self.unix_mode
        if stat.S_ISLNK(mode):
            return "symbolic link"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return "device file"
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            return "special file"
        return None


def _extract_zip(path: Path, ctx: ExtractContext, box: _Container) -> None:
    size = box.archive_size
    with open(path, "rb") as fh:
        _refuse_multi_disk(_zip_eocd(fh, size))
        entries, comment = _zip_directory(fh, size, box)
        names = _zip_names(entries)
        for entry, name in zip(entries, names, strict=True):
            entry.name = name
            _locate_data(fh, entry, size)
        _repair_offsets(fh, entries, size, box)
        bombs = _overlapping(entries)
        if comment:
            box.metadata["comment"] = comment
        passwords = _PasswordRing(ctx.passwords)
        for index, entry in enumerate(entries):
            if not _zip_member(fh, entry, index in bombs, passwords, box):
                break


def _zip_eocd(fh: BinaryIO, size: int) -> tuple[int, int, int] | None:
    """(this disk, central directory disk, central directory offset) from the last end record, if any."""
    fh.seek(max(0, size - (1 << 16) - 22))
    tail = fh.read()
    at = tail.rfind(_ZIP_EOCD_SIG)
    if at < 0 or len(tail) - at < 22:
        return None
    disk, cd_disk = struct.unpack("<2H", tail[at + 4 : at + 8])
    (cd_offset,) = struct.unpack("<L", tail[at + 16 : at + 20])
    return disk, cd_disk, cd_offset


def _refuse_multi_disk(eocd: tuple[int, int, int] | None) -> None:
    """Split (spanned) archives: one part alone cannot be read reliably."""
    if eocd is None:
        return
    disk, cd_disk, _ = eocd
    if disk not in (0, 0xFFFF) or cd_disk not in (0, 0xFFFF):
        raise UnsupportedError("multi-disk (split) ZIP archive: only one part is present")


def _zip_directory(fh: BinaryIO, size: int, box: _Container) -> tuple[list[_ZipEntry], str]:
    """Members from the central directory, or recovered from local headers when it is unreadable."""
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            comment = zf.comment
    except Exception as exc:  # zipfile raises assorted errors on damaged directories
        problem = str(exc) or type(exc).__name__
        entries = _salvage_local_headers(fh, size, box.limits.max_members)
        if not entries:
            if "not a zip file" in problem.lower():
                raise CorruptError("ZIP is truncated: no central directory") from exc
            raise CorruptError(f"ZIP is damaged: {_short(problem)}") from exc
        box.warnings.add(
            "salvage",
            f"ZIP central directory is unreadable ({_short(problem)}); "
            f"{len(entries):,} members recovered from local headers",
        )
        return entries, ""
    if len(infos) > box.limits.max_members:
        box.stop_at_member_limit(len(infos))
        del infos[box.limits.max_members :]
    return [_entry_from_info(info) for info in infos], _decode_comment(comment)


def _entry_from_info(info: zipfile.ZipInfo) -> _ZipEntry:
    encoding = "utf-8" if info.flag_bits & _ZIP_FLAG_UTF8 else "cp437"
    return _ZipEntry(
        raw_name=info.orig_filename.encode(encoding, "surrogateescape"),
        flags=info.flag_bits,
        method=info.compress_type,
        crc=info.CRC,
        compress_size=info.compress_size,
        file_size=info.file_size,
        header_offset=info.header_offset,
        date_time=tuple(info.date_time),
        extra=info.extra,
        create_system=info.create_system,
        external_attr=info.external_attr,
    )


def _decode_comment(comment: bytes) -> str:
    if not comment:
        return ""
    text = comment.decode("utf-8") if _is_utf8(comment) else comment.decode("cp437")
    return _clean_name(text.strip())[:10_000]


def _salvage_local_headers(fh: BinaryIO, size: int, limit: int) -> list[_ZipEntry]:
    """Walk local headers from the start while their sizes are known (no central directory needed)."""
    entries: list[_ZipEntry] = []
    pos = 0
    while pos + _ZIP_LOCAL_HEADER.size <= size and len(entries) < limit:
        fh.seek(pos)
        head = fh.read(_ZIP_LOCAL_HEADER.size)
        if len(head) < _ZIP_LOCAL_HEADER.size or not head.startswith(_ZIP_LOCAL_SIG):
            break
        _, _, flags, method, dos_time, dos_date, crc, csize, usize, nlen, elen = _ZIP_LOCAL_HEADER.unpack(
            head
        )
        raw_name = fh.read(nlen)
        extra = fh.read(elen)
        csize, usize = _zip64_local_sizes(extra, csize, usize)
        if flags & _ZIP_FLAG_DESCRIPTOR and csize == 0:
            break  # sizes only in a trailing descriptor: the member's end cannot be found safely
        data_end = pos + _ZIP_LOCAL_HEADER.size + nlen + elen + csize
        entries.append(
            _ZipEntry(
                raw_name=raw_name,
                flags=flags,
                method=method,
                crc=crc,
                compress_size=csize,
                file_size=usize,
                header_offset=pos,
                date_time=_dos_date_time(dos_date, dos_time),
                extra=extra,
            )
        )
        if data_end > size:
            break
        pos = data_end
        if flags & _ZIP_FLAG_DESCRIPTOR:
            fh.seek(pos)
            pos += 16 if fh.read(4) == b"PK\x07\x08" else 12
    return entries


def _zip64_local_sizes(extra: bytes, csize: int, usize: int) -> tuple[int, int]:
    if csize != 0xFFFFFFFF and usize != 0xFFFFFFFF:
        return csize, usize
    data = _extra_fields(extra).get(0x0001, b"")
    if len(data) >= 16:
        usize, csize = struct.unpack("<QQ", data[:16])
    return csize, usize


def _dos_date_time(dos_date: int, dos_time: int) -> tuple[int, ...]:
    return (
        (dos_date >> 9) + 1980,
        (dos_date >> 5) & 0xF,
        dos_date & 0x1F,
        dos_time >> 11,
        (dos_time >> 5) & 0x3F,
        (dos_time & 0x1F) * 2,
    )


def _extra_fields(extra: bytes) -> dict[int, bytes]:
    fields: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[pos : pos + 4])
        data = extra[pos + 4 : pos + 4 + length]
        if len(data) < length:
            break
        fields.setdefault(tag, data)
        pos += 4 + length
    return fields


def _zip_names(entries: list[_ZipEntry]) -> list[str]:
    """Display names: UTF-8 when flagged, the Info-ZIP Unicode path when present, else a guessed code page."""
    names: list[str | None] = []
    unflagged: list[bytes] = []
    for entry in entries:
        name = _flagged_or_unicode_name(entry)
        names.append(name)
        if name is None:
            unflagged.append(entry.raw_name)
    guessed = iter(_decode_names(unflagged))
    return [name if name is not None else next(guessed) for name in names]


def _flagged_or_unicode_name(entry: _ZipEntry) -> str | None:
    if entry.flags & _ZIP_FLAG_UTF8:
        return _clean_name(entry.raw_name.decode("utf-8", "replace"))
    unicode_path = _extra_fields(entry.extra).get(0x7075)
    if unicode_path and len(unicode_path) > 5 and unicode_path[0] == 1:
        (name_crc,) = struct.unpack("<L", unicode_path[1:5])
        if name_crc == zlib.crc32(entry.raw_name):
            return _clean_name(unicode_path[5:].decode("utf-8", "replace"))
    return None


def _locate_data(fh: BinaryIO, entry: _ZipEntry, size: int) -> None:
    """Read the local header to find where the member's data starts; note what is wrong with it."""
    entry.local_problem = None
    head = _local_header_at(fh, entry.header_offset, size)
    if head is None:
        entry.local_problem = _NO_LOCAL_HEADER
        return
    fields = _ZIP_LOCAL_HEADER.unpack(head)
    nlen, elen = fields[9], fields[10]
    entry.data_start = entry.header_offset + _ZIP_LOCAL_HEADER.size + nlen + elen
    if entry.data_start + entry.compress_size > size:
        entry.local_problem = "member data extends past the end of the file"
        return
    if entry.is_dir:
        return
    # Readers take the data location from the local header; a different name there is only suspicious.
    entry.local_name_differs = fh.read(nlen) != entry.raw_name


def _repair_offsets(fh: BinaryIO, entries: list[_ZipEntry], size: int, box: _Container) -> None:
    """Members whose directory offset points nowhere are looked up, by name, among the local headers."""
    missing = [entry for entry in entries if entry.local_problem == _NO_LOCAL_HEADER]
    if not missing:
        return
    offsets: dict[bytes, list[int]] = {}
    for found in _salvage_local_headers(fh, size, box.limits.max_members):
        offsets.setdefault(found.raw_name, []).append(found.header_offset)
    repaired = 0
    for entry in missing:
        candidates = offsets.get(entry.raw_name)
        if candidates:
            entry.header_offset = candidates.pop(0)
            _locate_data(fh, entry, size)
            repaired += entry.local_problem is None
    if repaired:
        box.warnings.add(
            "salvage",
            f"ZIP central directory has wrong offsets; {repaired:,} members found by their local headers",
        )


def _local_header_at(fh: BinaryIO, offset: int, size: int) -> bytes | None:
    if offset < 0 or offset + _ZIP_LOCAL_HEADER.size > size:
        return None
    fh.seek(offset)
    head = fh.read(_ZIP_LOCAL_HEADER.size)
    return head if head.startswith(_ZIP_LOCAL_SIG) else None


def _overlapping(entries: list[_ZipEntry]) -> set[int]:
    """Indexes of members whose header+data ranges overlap another's (the non-recursive zip bomb)."""
    spans = sorted(
        (entry.header_offset, entry.data_start + entry.compress_size, index)
        for index, entry in enumerate(entries)
        if entry.local_problem is None and entry.data_start >= 0
    )
    bad: set[int] = set()
    furthest_end, furthest_index = -1, -1
    for start, end, index in spans:
        if start < furthest_end:
            bad.update((index, furthest_index))
        if end > furthest_end:
            furthest_end, furthest_index = end, index
    return bad


def _zip_member(
    fh: BinaryIO, entry: _ZipEntry, overlaps: bool, passwords: _PasswordRing, box: _Container
) -> bool:
    """List one member and write it out if it is a readable regular file. False: stop the container."""
    name = entry.name
    if entry.is_dir:
        return True
    box.list_member(name)
    special = entry.special_kind
    if special:
        box.skip_link(name, special)
        return True
    if entry.local_name_differs:
        box.warnings.add(
            "local_name", f"member '{_short(name)}': local header name differs from the central directory"
        )
    refusal = _zip_refusal_before_reading(entry, overlaps, box.limits)
    if refusal is not None:
        box.refuse(refusal)
        return True
    mtime = _zip_mtime(entry)
    if entry.flags & _ZIP_FLAG_ENCRYPTED:
        return _keep_or_refuse(
            box, name, lambda: _write_encrypted_zip_member(fh, entry, mtime, passwords, box)
        )
    reader = _RawReader(fh, entry.data_start, entry.compress_size)
    chunks = _zip_plain_chunks(entry, reader.read)
    return _keep_or_refuse(
        box, name, lambda: box.write_child(name, chunks, consumed=reader.consumed, mtime=mtime)
    )


def _zip_refusal_before_reading(entry: _ZipEntry, overlaps: bool, limits: Limits) -> _Refusal | None:
    name = _short(entry.name)
    if overlaps:
        return _Refusal(
            "bomb",
            f"member '{name}': data overlaps another member's — zip bomb; refused",
            "zip bomb: members have overlapping data ranges",
        )
    if entry.local_problem:
        return _Refusal("corrupt", f"member '{name}': {entry.local_problem}; skipped", entry.local_problem)
    if entry.file_size > limits.max_member_bytes:
        return _Refusal(
            "too_large",
            f"member '{name}' declares {entry.file_size:,} bytes, over the limit of {limits.max_member_bytes:,}; "
            "skipped",
            f"member '{name}' declares {entry.file_size:,} bytes, over the limit of {limits.max_member_bytes:,}",
        )
    if entry.flags & _ZIP_FLAG_STRONG:
        reason = "ZIP uses PKWARE strong encryption, which is not supported"
        return _Refusal("encrypted", f"member '{name}': {reason}", reason)
    if entry.flags & _ZIP_FLAG_PATCHED:
        reason = "ZIP patch data (flag bit 5) is not supported"
        return _Refusal("unsupported", f"member '{name}': {reason}", reason)
    method = _aes_params(entry)[1] if entry.method == _ZIP_METHOD_AES else entry.method
    if method is None:
        reason = "AES extra field is missing or damaged"
        return _Refusal("corrupt", f"member '{name}': {reason}; skipped", reason)
    if method not in _ZIP_METHODS:
        reason = f"ZIP compression {_ZIP_METHOD_NAMES.get(method, f'method {method}')} is not supported"
        return _Refusal("unsupported", f"member '{name}': {reason}; skipped", reason)
    return None


def _zip_mtime(entry: _ZipEntry) -> str | None:
    """Modification time: the UTC extended timestamp or NTFS time when present, else the DOS local time."""
    fields = _extra_fields(entry.extra)
    unix_time = fields.get(0x5455)
    if unix_time and len(unix_time) >= 5 and unix_time[0] & 1:
        (seconds,) = struct.unpack("<l", unix_time[1:5])
        if stamp := _iso_utc(seconds):
            return stamp
    ntfs = fields.get(0x000A)
    if ntfs and len(ntfs) >= 32:
        tag, length = struct.unpack("<HH", ntfs[4:8])
        if tag == 1 and length >= 24:
            (filetime,) = struct.unpack("<Q", ntfs[8:16])
            if filetime and (stamp := _iso_utc((filetime - 116444736000000000) / 10_000_000)):
                return stamp
    return _iso_local(entry.date_time)


class _RawReader:
    """Exactly `size` bytes of stored member data from `offset`, counting what was consumed."""

    def __init__(self, fh: BinaryIO, offset: int, size: int) -> None:
        self._fh = fh
        self._pos = offset
        self._left = size
        self._read = 0

    def read(self, n: int) -> bytes:
        n = min(n, self._left)
        if n <= 0:
            return b""
        self._fh.seek(self._pos)
        data = self._fh.read(n)
        if not data:
            raise _Damaged("member data is truncated")
        self._pos += len(data)
        self._left -= len(data)
        self._read += len(data)
        return data

    def read_exact(self, n: int) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise _Damaged("member data is truncated")
        return data

    def consumed(self) -> int:
        return self._read

    @property
    def left(self) -> int:
        return self._left


def _zip_plain_chunks(
    entry: _ZipEntry, read: Callable[[int], bytes], check_crc: bool = True
) -> Iterator[bytes]:
    """Decompressed chunks (each at most 1 MiB) of an unencrypted member, CRC-checked at the end."""
    crc = 0
    produced = 0
    try:
        for chunk in _decompress(entry.method, read, entry.file_size):
            crc = zlib.crc32(chunk, crc)
            produced += len(chunk)
            yield chunk
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise _Damaged(f"compressed data is damaged ({_short(str(exc), 120)})") from exc
    if check_crc and crc != entry.crc:
        raise _Damaged("CRC mismatch, content may be damaged")


class _Decoder(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int) -> bytes: ...


def _decompress(method: int, read: Callable[[int], bytes], declared_size: int) -> Iterator[bytes]:
    """Bounded-output decoding of one ZIP compression method."""
    if method == 0:
        while chunk := read(_CHUNK):
            yield chunk
        return
    decoder: _Decoder
    read_size = _READ
    if method == 8:
        decoder = _Inflate()
    elif method == 9:
        decoder = _Inflate64()
        read_size = 16 << 10  # this decoder has no output bound: feed it little at a time
    elif method == 12:
        decoder = bz2.BZ2Decompressor()
    elif method == 14:
        decoder = _zip_lzma_decoder(read)
    else:
        raise _Damaged(f"compression method {method} is not supported")
    produced = 0
    while not decoder.eof:
        data = read(read_size) if decoder.needs_input else b""
        out = decoder.decompress(data, _CHUNK)
        if out:
            produced += len(out)
            yield out
        elif not data and decoder.needs_input:
            if produced >= declared_size and method == 14:
                return  # LZMA without an end marker stops at the declared size
            raise _Damaged("compressed data ends early (member is truncated)")


class _Inflate:
    """zlib raw deflate behind the needs_input/eof interface of bz2 and lzma decompressors."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(-15)

    @property
    def eof(self) -> bool:
        return self._z.eof

    @property
    def needs_input(self) -> bool:
        return not self._z.unconsumed_tail

    def decompress(self, data: bytes, max_length: int) -> bytes:
        return self._z.decompress(self._z.unconsumed_tail + data, max_length)


class _Inflate64:
    """Deflate64 (Windows Explorer's method for large members), via the inflate64 package py7zr brings."""

    def __init__(self) -> None:
        try:
            import inflate64
        except ImportError as exc:
            raise _Damaged("Deflate64 decoder is not installed") from exc
        self._inflater = inflate64.Inflater()
        self._pending = bytearray()

    @property
    def eof(self) -> bool:
        return bool(self._inflater.eof) and not self._pending

    @property
    def needs_input(self) -> bool:
        return not self._pending

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if data and not self._inflater.eof:
            self._pending += self._inflater.inflate(data)
        out = bytes(self._pending[:max_length])
        del self._pending[:max_length]
        return out


def _zip_lzma_decoder(read: Callable[[int], bytes]) -> lzma.LZMADecompressor:
    """ZIP's LZMA: a 4-byte version/size prefix, 5 property bytes, then a raw LZMA1 stream."""
    head = read(4)
    if len(head) < 4:
        raise _Damaged("LZMA header is truncated")
    (props_size,) = struct.unpack("<H", head[2:4])
    props = read(props_size)
    if props_size != 5 or len(props) != 5:
        raise _Damaged("LZMA properties are damaged")
    bits, dict_size = props[0], struct.unpack("<L", props[1:5])[0]
    if bits >= 9 * 5 * 5 or dict_size > _MAX_LZMA_DICT:
        raise _Damaged("LZMA properties are out of range")
    lc, rest = bits % 9, bits // 9
    lp, pb = rest % 5, rest // 5
    lzma_filter = {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma_filter])


# -- encrypted ZIP members -----------------------------------------------------------------------------------


class _PasswordRing:
    """The passwords to try, the last one that worked first."""

    def __init__(self, passwords: tuple[str, ...]) -> None:
        self.given = bool(passwords)
        self._order: list[bytes] = []
        for password in passwords:
            for encoding in ("utf-8", "cp437", "cp1252"):
                try:
                    candidate = password.encode(encoding)
                except UnicodeEncodeError:
                    continue
                if candidate not in self._order:
                    self._order.append(candidate)

    def candidates(self) -> list[bytes]:
        return list(self._order)

    def worked(self, password: bytes) -> None:
        self._order.remove(password)
        self._order.insert(0, password)


def _write_encrypted_zip_member(
    fh: BinaryIO, entry: _ZipEntry, mtime: str | None, passwords: _PasswordRing, box: _Container
) -> None:
    """Try each password; a wrong one fails the check bytes (or, rarely, the CRC) and the next is tried."""
    aes = entry.method == _ZIP_METHOD_AES
    kind = "AES-encrypted ZIP" if aes else "encrypted ZIP"
    if aes and _aes_cipher_module() is None:
        reason = "AES-encrypted ZIP: AES decryption is not available"
        raise _Refusal("encrypted", f"member '{_short(entry.name)}': {reason}", reason)
    for password in passwords.candidates():
        reader = _RawReader(fh, entry.data_start, entry.compress_size)
        try:
            chunks = (
                _aes_chunks(entry, reader, password) if aes else _zipcrypto_chunks(entry, reader, password)
            )
            box.write_child(entry.name, chunks, consumed=reader.consumed, mtime=mtime, keep_damaged=False)
        except (_WrongPassword, _Damaged):
            continue
        passwords.worked(password)
        return
    reason = (
        f"{kind}: none of the given passwords opens it" if passwords.given else f"{kind}: password required"
    )
    raise _Refusal(
        "encrypted", f"member '{_short(entry.name)}' is encrypted — {reason.split(': ', 1)[1]}", reason
    )


def _zipcrypto_chunks(entry: _ZipEntry, reader: _RawReader, password: bytes) -> Iterator[bytes]:
    cipher = _ZipCrypto(password)
    header = cipher.decrypt(reader.read_exact(12))
    # The last header byte repeats the CRC's high byte (the time's, when sizes follow in a descriptor).
    expected = (
        (_dos_time(entry) >> 8) & 0xFF if entry.flags & _ZIP_FLAG_DESCRIPTOR else (entry.crc >> 24) & 0xFF
    )
    if header[11] != expected:
        raise _WrongPassword()
    return _zip_plain_chunks(entry, lambda n: cipher.decrypt(reader.read(n)))


def _dos_time(entry: _ZipEntry) -> int:
    hour, minute, second = entry.date_time[3:6]
    return (hour << 11) | (minute << 5) | (second // 2)


def _make_crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _make_crc_table()


class _ZipCrypto:
    """The traditional PKWARE stream cipher (weak, but still what most password-protected ZIPs use)."""

    def __init__(self, password: bytes) -> None:
        self.k0, self.k1, self.k2 = 305419896, 591751049, 878082192
        for byte in password:
            self._update(byte)

    def _update(self, byte: int) -> None:
        self.k0 = (self.k0 >> 8) ^ _CRC_TABLE[(self.k0 ^ byte) & 0xFF]
        self.k1 = ((self.k1 + (self.k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        self.k2 = (self.k2 >> 8) ^ _CRC_TABLE[(self.k2 ^ (self.k1 >> 24)) & 0xFF]

    def decrypt(self, data: bytes) -> bytes:
        out = bytearray(len(data))
        table = _CRC_TABLE
        k0, k1, k2 = self.k0, self.k1, self.k2
        for i, byte in enumerate(data):
            temp = (k2 | 2) & 0xFFFF
            plain = byte ^ ((temp * (temp ^ 1)) >> 8) & 0xFF
            out[i] = plain
            k0 = (k0 >> 8) ^ table[(k0 ^ plain) & 0xFF]
            k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
            k2 = (k2 >> 8) ^ table[(k2 ^ (k1 >> 24)) & 0xFF]
        self.k0, self.k1, self.k2 = k0, k1, k2
        return bytes(out)


def _aes_params(entry: _ZipEntry) -> tuple[int, int | None, int]:
    """(key strength 1–3, actual compression method, vendor version) from the 0x9901 extra field."""
    data = _extra_fields(entry.extra).get(0x9901, b"")
    if len(data) < 7:
        return 0, None, 0
    version, _vendor, strength, method = struct.unpack("<H2sBH", data[:7])
    return strength, method, version


def _aes_cipher_module() -> Any:
    try:
        from Cryptodome.Cipher import AES  # pycryptodomex, which py7zr depends on
    except ImportError:
        return None
    return AES


def _aes_chunks(entry: _ZipEntry, reader: _RawReader, password: bytes) -> Iterator[bytes]:
    """WinZip AES: PBKDF2-SHA1 keys, AES-CTR (little-endian counter from 1), HMAC-SHA1 over the ciphertext."""
    from Cryptodome.Util import Counter

    strength, method, version = _aes_params(entry)
    if strength not in (1, 2, 3) or method is None:
        raise _Damaged("AES extra field is missing or damaged")
    key_len = 8 + 8 * strength
    salt = reader.read_exact(key_len // 2)
    verifier = reader.read_exact(2)
    derived = hashlib.pbkdf2_hmac("sha1", password, salt, 1000, 2 * key_len + 2)
    if derived[2 * key_len :] != verifier:
        raise _WrongPassword()
    if reader.left < 10:
        raise _Damaged("AES data is truncated")
    aes = _aes_cipher_module()
    counter = Counter.new(128, initial_value=1, little_endian=True)
    cipher = aes.new(derived[:key_len], aes.MODE_CTR, counter=counter)
    mac = hmac.new(derived[key_len : 2 * key_len], digestmod="sha1")
    cipher_left = reader.left - 10

    def read_plain(n: int) -> bytes:
        nonlocal cipher_left
        data = reader.read(min(n, cipher_left))
        cipher_left -= len(data)
        mac.update(data)
        return cipher.decrypt(data)

    # AE-2 stores no CRC (the authentication code replaces it); AE-1 keeps it.
    yield from _zip_plain_chunks(replace(entry, method=method), read_plain, check_crc=version != 2)
    while cipher_left > 0:  # data left after the stream's end still belongs to the authenticated range
        read_plain(_READ)
    if not hmac.compare_digest(mac.digest()[:10], reader.read_exact(10)):
        raise _Damaged("AES authentication code mismatch, content may be damaged")


# ---------------------------------------------------------------------------------------------------------
# 7z


def _extract_7z(path: Path, ctx: ExtractContext, box: _Container) -> _Container:
    import py7zr

    with open(path, "rb") as fh:
        archive, password = _open_7z(py7zr, fh, ctx.passwords)
        with archive:
            content_locked = archive.password_protected and password is None
            if not content_locked:
                _extract_7z_members(py7zr, archive, fh, box, password_trial=False)
                return box
        if not ctx.passwords:
            raise EncryptedError("encrypted 7z: password required")
        return _extract_7z_with_passwords(py7zr, fh, ctx, box.archive_size)


def _open_7z(py7zr: Any, fh: BinaryIO, passwords: tuple[str, ...]) -> tuple[Any, str | None]:
    """Open the archive; when its header is encrypted, the first password that opens it is used."""
    try:
        fh.seek(0)
        return py7zr.SevenZipFile(fh, mode="r"), None
    except py7zr.exceptions.PasswordRequired as exc:
        if not passwords:
            raise EncryptedError("encrypted 7z (file names hidden): password required") from exc
    except py7zr.exceptions.UnsupportedCompressionMethodError as exc:
        raise UnsupportedError(
            f"7z uses a compression method that is not supported: {_short(str(exc))}"
        ) from exc
    except Exception as exc:  # py7zr raises assorted errors on damaged headers
        raise CorruptError(f"7z archive is damaged: {_short(str(exc) or type(exc).__name__)}") from exc
    for password in passwords:
        try:
            fh.seek(0)
            return py7zr.SevenZipFile(fh, mode="r", password=password), password
        except Exception:  # a wrong password yields garbage headers
            continue
    raise EncryptedError("encrypted 7z (file names hidden): none of the given passwords opens it")


def _extract_7z_with_passwords(
    py7zr: Any, fh: BinaryIO, ctx: ExtractContext, archive_size: int
) -> _Container:
    """Content-encrypted 7z: a wrong password fails on the first member, so try each in a fresh container."""
    for password in ctx.passwords:
        box = _Container(ctx, archive_size)
        fh.seek(0)
        with py7zr.SevenZipFile(fh, mode="r", password=password) as archive:
            if _extract_7z_members(py7zr, archive, fh, box, password_trial=True):
                return box
        box.discard_children()
    raise EncryptedError("encrypted 7z: none of the given passwords opens it")


class _SevenZipSink:
    """Receives py7zr's decompressed output for one member and streams it into a child file."""

    def __init__(
        self, box: _Container, name: str, stored_name: str, mtime: str | None, progress: _SevenZipProgress
    ) -> None:
        self.box = box
        self.name = name
        self.stored_name = stored_name
        self.mtime = mtime
        self.progress = progress
        self.rel, self.dest, opened = box.open_child_file()
        self.out: BinaryIO | None = opened  # closed in close() or abandon()
        self.written = 0
        self.discarding = False
        self.child: Child | None = None

    def write(self, data: bytes | bytearray) -> int:
        self.box.total_out += len(data)
        self._check_container()
        if self.discarding:
            return len(data)
        limit = self.box.limits.max_member_bytes
        if self.written + len(data) > limit:
            self.abandon()
            self.discarding = True  # a solid block must be decoded through it: go on without writing
            self.box.refuse(
                _Refusal(
                    "too_large",
                    f"member '{_short(self.name)}' is larger than {limit:,} bytes; skipped",
                    f"member '{_short(self.name)}' is larger than {limit:,} bytes",
                )
            )
            return len(data)
        assert self.out is not None
        self.out.write(data)
        self.written += len(data)
        return len(data)

    def _check_container(self) -> None:
        limits = self.box.limits
        if self.box.total_out > limits.max_total_bytes:
            raise _Refusal(
                "too_large",
                f"archive expands to more than {limits.max_total_bytes:,} bytes; "
                f"stopped at member '{_short(self.name)}'",
                f"archive expands to more than {limits.max_total_bytes:,} bytes",
                stop=True,
            )
        # 7z compresses members together (solid blocks), so the ratio is judged over the whole archive.
        if self.box.total_out > _CHUNK and self.box.total_out / self.box.archive_size > limits.max_ratio:
            raise _Refusal(
                "bomb",
                f"7z archive: compression ratio over {limits.max_ratio:g}:1 — possible zip bomb; "
                f"stopped at member '{_short(self.name)}'",
                f"7z archive expands more than {limits.max_ratio:g}:1",
                stop=True,
            )

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self.written

    def close(self) -> None:
        """py7zr calls this when the member is complete."""
        if self.out is None:
            return
        self.out.close()
        self.out = None
        self.box.add_child(self.rel, self.name, self.written, self.mtime)
        self.child = self.box.children[-1]
        self.progress.completed += 1

    def abandon(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        self.dest.unlink(missing_ok=True)


def _extract_7z_members(
    py7zr: Any, archive: Any, fh: BinaryIO, box: _Container, *, password_trial: bool
) -> bool:
    """List every member and decode the regular files into children. False: a password trial failed.

    py7zr decodes whole folders (solid blocks) in order; each member we keep is registered with a writer
    keyed by a generated id, so the archive's own names never reach the file system.
    """
    from py7zr.io import MemIO, Py7zIO, WriterFactory

    members: dict[str, tuple[str, str, str | None]] = {}  # key → (display name, stored name, mtime)
    progress = _SevenZipProgress()

    class Factory(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            name, stored, mtime = members[filename]
            sink = _SevenZipSink(box, name, stored, mtime, progress)
            progress.current = sink
            return sink  # type: ignore[return-value]  # implements the Py7zIO methods py7zr calls

    factory = Factory()
    worker = archive.worker
    files = list(archive.files)
    if len(files) > box.limits.max_members:
        box.stop_at_member_limit(len(files))
    for index, member in enumerate(files):
        name = _clean_name(str(member.filename))
        if index >= box.limits.max_members or _skip_7z_member(member, name, box):
            worker.register_filelike(member.id, None)
            continue
        key = f"member-{index}"
        members[key] = (name, str(member.filename), _7z_mtime(member))
        worker.register_filelike(member.id, MemIO(key, factory))
    worker.max_extract_size = box.limits.max_total_bytes + _CHUNK
    try:
        fh.seek(archive.afterheader)
        worker.extract(fh, None, parallel=False)
    except _Refusal as refusal:
        progress.abandon_current()
        box.refuse(refusal)
    except Exception as exc:  # py7zr and decoder errors: wrong password, CRC, damaged stream
        progress.abandon_current()
        if password_trial and progress.completed == 0:
            return False
        _note_7z_failure(py7zr, exc, progress, box)
    return True


class _SevenZipProgress:
    """Which member py7zr is writing now, and how many were completed."""

    def __init__(self) -> None:
        self.current: _SevenZipSink | None = None
        self.completed = 0

    def abandon_current(self) -> None:
        if self.current is not None and self.current.out is not None:
            self.current.abandon()


def _skip_7z_member(member: Any, name: str, box: _Container) -> bool:
    """List the member; True when it is not written (directory, link, special file)."""
    if member.is_directory:
        return True
    box.list_member(name)
    if member.is_symlink or member.is_junction:
        box.skip_link(name, "symbolic link" if member.is_symlink else "junction")
        return True
    if member.is_socket:
        box.skip_link(name, "special file")
        return True
    return False


def _7z_mtime(member: Any) -> str | None:
    stamp = member.lastwritetime
    if stamp is None:
        return None
    try:
        return _iso_utc(stamp.totimestamp())
    except (OverflowError, ValueError):
        return None


def _note_7z_failure(py7zr: Any, exc: Exception, progress: _SevenZipProgress, box: _Container) -> None:
    """Extraction stopped on an error: keep what was written, say why the rest is missing."""
    exceptions = py7zr.exceptions
    sink = progress.current
    if isinstance(exc, exceptions.PasswordRequired):
        reason = "encrypted 7z: password required"
        box.refuse(_Refusal("encrypted", f"7z extraction stopped: {reason}", reason))
        return
    if isinstance(exc, exceptions.DecompressionBombError):
        reason = f"archive expands to more than {box.limits.max_total_bytes:,} bytes"
        box.refuse(_Refusal("too_large", f"{reason}; 7z extraction stopped", reason))
        return
    if isinstance(exc, exceptions.UnsupportedCompressionMethodError):
        reason = f"7z uses a compression method that is not supported: {_short(str(exc), 120)}"
        box.refuse(_Refusal("unsupported", reason, reason))
        return
    if isinstance(exc, exceptions.CrcError) and sink is not None and sink.child is not None:
        if len(exc.args) < 3 or exc.args[2] in (None, sink.stored_name):
            sink.child.metadata["damaged"] = "CRC mismatch, content may be damaged"
            box.warnings.add(
                "damaged",
                f"member '{_short(sink.name)}': CRC mismatch, content may be damaged; 7z extraction stopped",
            )
            return
    where = f" at member '{_short(sink.name)}'" if sink is not None else ""
    reason = f"7z data is damaged ({type(exc).__name__}: {_short(str(exc), 120)})"
    box.refuse(_Refusal("corrupt", f"7z extraction stopped{where}: {reason}", reason))


# ---------------------------------------------------------------------------------------------------------
# tar


def _extract_tar(path: Path, box: _Container) -> None:
    try:
        tar = tarfile.open(path, mode="r:", encoding="utf-8", errors="surrogateescape")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorruptError(f"tar archive is damaged: {_short(str(exc) or type(exc).__name__)}") from exc
    names = _TarNames()
    with tar:
        seen = 0
        try:
            for member in tar:
                if seen >= box.limits.max_members:
                    box.stop_at_member_limit()
                    break
                seen += 1
                if not _tar_member(tar, member, names.decode(member.name), box):
                    break
                tar.members.clear()  # the listing is ours; do not hold every header in memory
        except (tarfile.TarError, OSError, EOFError) as exc:
            box.warnings.add("tar", f"tar archive is damaged after {seen:,} members: {_short(str(exc), 120)}")


def _tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, box: _Container) -> bool:
    """List one tar member and write it out if it is a regular file. False: stop the container."""
    if member.isdir():
        return True
    box.list_member(name)
    if member.issym() or member.islnk():
        box.skip_link(name, "symbolic link" if member.issym() else "hard link")
        return True
    if not member.isreg():
        box.skip_link(name, "device or special file")
        return True
    if member.size > box.limits.max_member_bytes:
        limit = box.limits.max_member_bytes
        box.refuse(
            _Refusal(
                "too_large",
                f"member '{_short(name)}' is larger than {limit:,} bytes; skipped",
                f"member '{_short(name)}' is larger than {limit:,} bytes",
            )
        )
        return True
    source = tar.extractfile(member)
    if source is None:
        return True
    mtime = _iso_utc(member.mtime) if member.mtime else None
    return _keep_or_refuse(box, name, lambda: box.write_child(name, _tar_chunks(source), mtime=mtime))


def _tar_chunks(source: io.BufferedReader) -> Iterator[bytes]:
    try:
        while chunk := source.read1(_CHUNK):
            yield chunk
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _Damaged("member data is truncated") from exc


class _TarNames:
    """Tar names are bytes (UTF-8 in practice); a legacy code page is guessed once, from the first such name."""

    def __init__(self) -> None:
        self._legacy: str | None = None

    def decode(self, name: str) -> str:
        raw = name.encode("utf-8", "surrogateescape")  # tarfile decoded with surrogateescape
        if self._legacy is None and not raw.isascii() and not _is_utf8(raw):
            self._legacy = _guess_legacy_encoding([raw])
        return _decode_names([raw], self._legacy or "cp437")[0]


# ---------------------------------------------------------------------------------------------------------
# gzip / bzip2 / xz


class _CountingReader:
    """A read-only file wrapper that counts the compressed bytes a decompressor pulled."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        return None

    @property
    def closed(self) -> bool:
        return False


def _extract_single_stream(path: Path, doc_type: str, ctx: ExtractContext, box: _Container) -> None:
    """A single compressed stream: one child, the payload, named after the header or the file name."""
    with open(path, "rb") as fh:
        header_name, header_mtime = _gzip_header(fh) if doc_type == "gzip" else (None, 0)
        fh.seek(0)
        name = header_name or _payload_name(ctx.name_hint or path.name, doc_type)
        box.list_member(name)
        counter = _CountingReader(fh)
        stream = _open_stream(doc_type, counter)
        mtime = _iso_utc(header_mtime) if header_mtime else None
        chunks = _stream_chunks(stream, doc_type)
        _keep_or_refuse(
            box, name, lambda: box.write_child(name, chunks, consumed=lambda: counter.count, mtime=mtime)
        )


def _open_stream(doc_type: str, raw: _CountingReader) -> gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile:
    if doc_type == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[arg-type]
    if doc_type == "bzip2":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[arg-type]
    return lzma.LZMAFile(raw, mode="rb")  # type: ignore[arg-type]


def _stream_chunks(stream: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile, doc_type: str) -> Iterator[bytes]:
    label = {"gzip": "gzip", "bzip2": "bzip2", "xz": "xz"}[doc_type]
    try:
        while chunk := stream.read1(_CHUNK):  # read1: a later error must not discard what was read
            yield chunk
    except EOFError as exc:
        raise _Damaged(f"{label} stream is truncated") from exc
    except (OSError, zlib.error, lzma.LZMAError, ValueError) as exc:
        raise _Damaged(f"{label} stream is damaged ({_short(str(exc), 120)})") from exc


def _gzip_header(fh: BinaryIO) -> tuple[str | None, int]:
    """The original file name (FNAME) and modification time from a gzip header, when present."""
    head = fh.read(1 << 16)
    if len(head) < 10 or not head.startswith(b"\x1f\x8b"):
        return None, 0
    flags = head[3]
    (mtime,) = struct.unpack("<L", head[4:8])
    pos = 10
    if flags & 0x04:
        if len(head) < pos + 2:
            return None, mtime
        (extra_len,) = struct.unpack("<H", head[pos : pos + 2])
        pos += 2 + extra_len
    if not flags & 0x08:
        return None, mtime
    end = head.find(b"\x00", pos, pos + 1024)
    if end < 0:
        return None, mtime
    raw = head[pos:end]
    name = raw.decode("utf-8") if _is_utf8(raw) else raw.decode("latin-1")
    name = _clean_name(re.split(r"[\\/]", name)[-1]).strip()
    return (name or None), mtime


def _payload_name(archive_name: str, doc_type: str) -> str:
    """'report.csv.gz' → 'report.csv', 'data.tgz' → 'data.tar'."""
    base = re.split(r"[\\/]", archive_name)[-1]
    lowered = base.lower()
    for suffix, replacement in _SINGLE_STREAM_SUFFIXES.get(doc_type, ()):
        if lowered.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + replacement
    return f"{base} (decompressed)" if base else "decompressed"
