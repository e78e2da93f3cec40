"""Archives: members listed and written under generated names, limits hold, hostile archives end cleanly."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import struct
import tarfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from app.extract.base import ExtractContext, Limits
from app.extract.registry import Outcome, extract_file
from tests.conftest import known_text, manifest, normalise

ARCHIVE_DIRS = ("real/zip/", "real/other-archives/")
SMALL = Limits(max_total_bytes=50 << 20, max_member_bytes=50 << 20)


def _rows(*prefixes: str) -> list[dict[str, str]]:
    try:
        rows = manifest()
    except FileNotFoundError:
        return []
    return [row for row in rows if row["path"].startswith(prefixes)]


def _extract(path: Path, tmp_path: Path, **ctx_args: object) -> tuple[Outcome, Path]:
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    ctx_args.setdefault("name_hint", path.name)
    outcome = extract_file(path, ExtractContext(work_dir=work, **ctx_args))  # type: ignore[arg-type]
    return outcome, work


def _files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def _assert_children_in_work(outcome: Outcome, work: Path) -> None:
    """Every child is a generated name directly inside the work folder, and nothing else was written."""
    assert outcome.extraction is not None
    paths = {child.path for child in outcome.extraction.children}
    assert _files_under(work) == paths
    for rel in paths:
        assert "/" not in rel and rel.startswith("m")


def _incompressible(size: int, seed: int = 0) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are deliberate in some tests
        with zipfile.ZipFile(buf, "w", method) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Real corpus


@pytest.mark.parametrize("row", _rows(*ARCHIVE_DIRS), ids=lambda r: r["path"])
def test_real_archive_extracts(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    outcome, work = _extract(corpus / row["path"], tmp_path)
    assert outcome.status == "ok", outcome.reason
    extraction = outcome.extraction
    assert extraction is not None
    assert extraction.parts[0].kind == "body" and extraction.parts[0].label == "listing"
    assert extraction.children, "every real archive of the corpus has file members"
    for child in extraction.children:
        assert child.name in extraction.text
        assert child.relation == "member"
        assert child.metadata["member_path"] == child.name
        assert child.metadata["size"] == (work / child.path).stat().st_size
    _assert_children_in_work(outcome, work)
    phrase = known_text(row["notes"])
    if phrase:
        assert normalise(phrase) in normalise(extraction.text)


def test_zip_of_documents(corpus: Path, tmp_path: Path) -> None:
    outcome, work = _extract(corpus / "real/zip/tika_test-documents.zip", tmp_path)
    extraction = outcome.extraction
    assert extraction is not None and extraction.doc_type == "zip"
    assert extraction.metadata["member_count"] == 9
    by_name = {c.name: c for c in extraction.children}
    assert (work / by_name["testPDF.pdf"].path).read_bytes().startswith(b"%PDF-")
    assert (work / by_name["testTXT.txt"].path).stat().st_size == 49
    assert by_name["testPDF.pdf"].metadata["mtime"] == "2007-10-01T16:02:26"
    assert extraction.metadata["total_size"] == sum(int(c.metadata["size"]) for c in extraction.children)


def test_7z_of_documents(corpus: Path, tmp_path: Path) -> None:
    outcome, work = _extract(corpus / "real/other-archives/tika_test-documents.7z", tmp_path)
    extraction = outcome.extraction
    assert outcome.status == "ok" and extraction is not None and extraction.doc_type == "7z"
    by_name = {c.name: c for c in extraction.children}
    assert "test-documents/testWORD.doc" in extraction.text
    pdf = by_name["test-documents/testPDF.pdf"]
    assert (work / pdf.path).read_bytes().startswith(b"%PDF-")
    assert str(pdf.metadata["mtime"]).startswith("2007-10-01T")


def test_tgz_is_gzip_whose_child_is_a_tar(corpus: Path, tmp_path: Path) -> None:
    outcome, work = _extract(corpus / "real/other-archives/tika_test-documents.tgz", tmp_path)
    extraction = outcome.extraction
    assert outcome.status == "ok" and extraction is not None and extraction.doc_type == "gzip"
    (child,) = extraction.children
    assert child.name == "test-documents.tar"
    inner, inner_work = _extract(work / child.path, tmp_path / "inner", name_hint=child.name)
    assert inner.status == "ok" and inner.extraction is not None and inner.extraction.doc_type == "tar"
    names = {c.name for c in inner.extraction.children}
    assert any(name.endswith("testPDF.pdf") for name in names)
    _assert_children_in_work(inner, inner_work)


def test_zip_of_zip_returns_the_inner_zip_as_a_child(corpus: Path, tmp_path: Path) -> None:
    outcome, work = _extract(corpus / "real/zip/tika_test-zip-of-zip.zip", tmp_path)
    assert outcome.extraction is not None
    (child,) = outcome.extraction.children
    inner, _ = _extract(work / child.path, tmp_path / "inner", name_hint=child.name)
    assert inner.status == "ok" and inner.extraction is not None
    assert [c.name for c in inner.extraction.children] == ["text.html"]


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("tika_gbk.zip", "审计压缩包文件检索测试/集团邮件审计系统2021年自动巡检需求文档_V4.0.doc"),
        ("tika_testZipEntryNameCharsetShiftSJIS.zip", "文章1.txt"),
    ],
)
def test_legacy_cjk_member_names(corpus: Path, tmp_path: Path, file: str, expected: str) -> None:
    outcome, _ = _extract(corpus / "real/zip" / file, tmp_path)
    assert outcome.extraction is not None
    assert expected in [c.name for c in outcome.extraction.children]
    assert expected in outcome.extraction.text


def test_data_descriptor_zip_with_wrong_directory_offsets(corpus: Path, tmp_path: Path) -> None:
    outcome, work = _extract(corpus / "real/zip/tika_testZip_with_DataDescriptor.zip", tmp_path)
    assert outcome.extraction is not None
    children = outcome.extraction.children
    assert [c.name for c in children] == ["en0", "en1", "en2", "en3", "en4"]
    assert all((work / c.path).read_bytes() == b"\x01\x02\x03\x04" for c in children)


# ---------------------------------------------------------------------------------------------------------
# Hostile corpus


@pytest.mark.parametrize("row", _rows("hostile/zip-traversal/"), ids=lambda r: r["path"])
def test_traversal_archives_write_only_generated_names(
    corpus: Path, tmp_path: Path, row: dict[str, str]
) -> None:
    outcome, work = _extract(corpus / row["path"], tmp_path)
    assert outcome.status == "ok", outcome.reason
    extraction = outcome.extraction
    assert extraction is not None
    _assert_children_in_work(outcome, work)
    assert _files_under(tmp_path) == {f"work/{c.path}" for c in extraction.children}
    warning_text = " ".join(extraction.warnings)
    if "symlink" in row["path"]:
        assert not extraction.children and "symbolic link" in warning_text
        assert "bar" in extraction.text
    else:
        assert "path-traversal" in warning_text
        assert any(".." in c.name or c.name.startswith(("/", "C:")) for c in extraction.children)


@pytest.mark.parametrize(
    ("file", "status", "reason_part"),
    [
        ("recext_10GB.gz.bz2", "too_large", "zip bomb"),
        ("recext_10GB.zip.bz2", "too_large", "zip bomb"),
        ("recext_zbsm.zip", "too_large", "zip bomb"),
        ("tika_droste.zip", "ok", ""),
        ("tika_quine.gz", "ok", ""),
    ],
)
def test_bombs_end_quickly_within_bounded_disk(
    corpus: Path, tmp_path: Path, file: str, status: str, reason_part: str
) -> None:
    path = corpus / "hostile/zip-bomb" / file
    started = time.monotonic()
    outcome, work = _extract(path, tmp_path, limits=SMALL)
    assert time.monotonic() - started < 5
    assert outcome.status == status
    assert reason_part in outcome.reason
    assert sum(p.stat().st_size for p in work.iterdir()) <= SMALL.max_total_bytes
    if outcome.extraction is not None:
        _assert_children_in_work(outcome, work)


def test_quines_yield_a_child_identical_to_the_parent(corpus: Path, tmp_path: Path) -> None:
    """The pipeline dedups by hash: a quine's child has the parent's hash, so recursion stops there."""
    for file in ("tika_droste.zip", "tika_quine.gz"):
        path = corpus / "hostile/zip-bomb" / file
        outcome, work = _extract(path, tmp_path / file, limits=SMALL)
        assert outcome.extraction is not None
        hashes = {
            hashlib.sha256((work / c.path).read_bytes()).hexdigest() for c in outcome.extraction.children
        }
        assert hashlib.sha256(path.read_bytes()).hexdigest() in hashes


def test_overlapping_zip_bomb_is_refused_without_decompressing(corpus: Path, tmp_path: Path) -> None:
    outcome, work = _extract(corpus / "hostile/zip-bomb/recext_zbsm.zip", tmp_path)  # default limits
    assert outcome.status == "too_large"
    assert "overlapping" in outcome.reason and "250" in outcome.reason
    assert not any(work.iterdir())


@pytest.mark.parametrize("file", ["recext_10GB.zip.bz2", "recext_10GB.gz.bz2"])
def test_inner_ten_gigabyte_bombs(corpus: Path, tmp_path: Path, file: str) -> None:
    """The payloads inside the bzip2 wrappers: refused by declared size, ratio, or total, fast."""
    inner = tmp_path / file.removesuffix(".bz2")
    inner.write_bytes(bz2.decompress((corpus / "hostile/zip-bomb" / file).read_bytes()))
    generous = Limits(max_member_bytes=20 << 30, max_total_bytes=50 << 20)
    no_ratio = Limits(max_member_bytes=20 << 30, max_total_bytes=50 << 20, max_ratio=1e9)
    for index, limits in enumerate((Limits(), generous, no_ratio)):
        started = time.monotonic()
        outcome, work = _extract(inner, tmp_path / str(index), limits=limits)
        assert time.monotonic() - started < 5
        assert outcome.status == "too_large", outcome.reason
        assert not any(work.iterdir())
    assert "zip bomb" in _extract(inner, tmp_path / "again", limits=generous)[0].reason


@pytest.mark.parametrize(
    ("file", "status", "reason_part"),
    [
        ("recext_TestDataCorrupt.tar.zip", "ok", ""),
        ("tika_testZIP_corrupted_oom.zip", "corrupt", "past the end"),
        ("yauzl_bad_deflate_stream.zip", "corrupt", "damaged"),
        ("yauzl_data_overflows_file.zip", "ok", ""),
        ("yauzl_invalid_chars_in_name.zip", "ok", ""),
        ("yauzl_multi_disk.zip", "unsupported", "multi-disk"),
        ("yauzl_stored_size_mismatch.zip", "ok", ""),
        ("yauzl_strong_encryption_flag.zip", "encrypted", "strong encryption"),
        ("yauzl_truncated_no_eocd.zip", "ok", ""),
        ("yauzl_unexpected_eof.zip", "corrupt", ""),
        ("zip2_comment_garbage.zip", "ok", ""),
        ("zip2_invalid_offset.zip", "ok", ""),
        ("zip2_invalid_offset2.zip", "corrupt", ""),
        ("zip2_zip64_magic_in_filename_1.zip", "ok", ""),
    ],
)
def test_malformed_zips(corpus: Path, tmp_path: Path, file: str, status: str, reason_part: str) -> None:
    outcome, work = _extract(corpus / "hostile/zip-malformed" / file, tmp_path, limits=SMALL)
    assert outcome.doc_type == "zip"
    assert outcome.status == status, outcome.reason
    assert reason_part in outcome.reason
    if outcome.extraction is not None:
        _assert_children_in_work(outcome, work)
    else:
        assert not any(work.iterdir())


def test_salvaged_and_partly_broken_zips_keep_good_members(corpus: Path, tmp_path: Path) -> None:
    for file, names in [
        ("yauzl_truncated_no_eocd.zip", ["a.txt", "b.txt"]),
        ("yauzl_data_overflows_file.zip", ["b.txt"]),
        ("yauzl_stored_size_mismatch.zip", ["b.txt"]),
    ]:
        outcome, work = _extract(corpus / "hostile/zip-malformed" / file, tmp_path / file)
        assert outcome.extraction is not None
        assert [c.name for c in outcome.extraction.children] == names
        assert outcome.extraction.warnings
        assert (work / outcome.extraction.children[-1].path).read_bytes() == b"bsdf\n"


@pytest.mark.parametrize(
    ("file", "password", "expected_start"),
    [
        ("recext_TestDataEncryptedAES.zip", "TestData", b"Lorem ipsum"),
        ("recext_TestDataEncryptedZipCrypto.zip", "TestData", b"Lorem ipsum"),
        ("zip2_aes_archive.zip", "helloworld", b"Lorem ipsum dolor sit amet"),
        ("tika_full_encrypted.7z", "password", b"test"),
        ("tika_test7Z_protected_passTika.7z", "Tika", b"TEST DATA FOR TIKA"),
    ],
)
def test_encrypted_archives(
    corpus: Path, tmp_path: Path, file: str, password: str, expected_start: bytes
) -> None:
    path = corpus / "hostile/encrypted" / file
    locked, work = _extract(path, tmp_path / "none")
    assert locked.status == "encrypted" and "password required" in locked.reason
    assert not any(work.iterdir())
    if file.endswith(".zip") and "AES" in file.upper():
        assert locked.reason.startswith("AES-encrypted ZIP")
    wrong, _ = _extract(path, tmp_path / "wrong", passwords=("not-it",))
    assert wrong.status == "encrypted" and "none of the given passwords" in wrong.reason
    opened, work = _extract(path, tmp_path / "right", passwords=("not-it", password))
    assert opened.status == "ok", opened.reason
    assert opened.extraction is not None and opened.extraction.children
    for child in opened.extraction.children:
        assert (work / child.path).read_bytes().startswith(expected_start)
    _assert_children_in_work(opened, work)


def test_zip_with_one_encrypted_member_keeps_the_plain_one(corpus: Path, tmp_path: Path) -> None:
    outcome, work = _extract(corpus / "hostile/encrypted/tika_testZipEncrypted.zip", tmp_path)
    assert outcome.status == "ok"
    assert outcome.extraction is not None
    (child,) = outcome.extraction.children
    assert child.name == "unencrypted.txt"
    assert (work / child.path).read_bytes() == b"hello world\r\n"
    assert "encrypted.txt" in outcome.extraction.text
    assert any("encrypted.txt" in w and "password required" in w for w in outcome.extraction.warnings)


# ---------------------------------------------------------------------------------------------------------
# Generated archives


def test_nested_zips_thirty_deep_return_one_child_per_level(tmp_path: Path) -> None:
    data = b"the innermost document"
    name = "leaf.txt"
    for level in range(30):
        data, name = _zip_bytes([(name, data)]), f"level{level}.zip"
    path = tmp_path / name
    path.write_bytes(data)
    for level in range(30):
        outcome, work = _extract(path, tmp_path / f"x{level}")
        assert outcome.status == "ok" and outcome.extraction is not None
        (child,) = outcome.extraction.children
        path = work / child.path
    assert child.name == "leaf.txt"
    assert path.read_bytes() == b"the innermost document"


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 9])
def test_zip_compression_methods(tmp_path: Path, method: int) -> None:
    data = _incompressible(100_000) + b"text " * 50_000
    if method == 9:  # Deflate64: no stdlib writer, so store a Deflate64 stream and relabel the member
        import inflate64

        deflater = inflate64.Deflater()
        raw = bytearray(
            _zip_bytes([("a.bin", deflater.deflate(data) + deflater.flush())], zipfile.ZIP_STORED)
        )
        central = raw.rindex(b"PK\x01\x02")
        for method_at, crc_at in ((8, 14), (central + 10, central + 16)):
            struct.pack_into("<HxxxxL", raw, method_at, 9, zlib.crc32(data))
            struct.pack_into("<L", raw, crc_at + 8, len(data))
        archive = bytes(raw)
    else:
        archive = _zip_bytes([("a.bin", data)], method)
    path = tmp_path / "methods.zip"
    path.write_bytes(archive)
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "ok" and outcome.extraction is not None
    assert not outcome.extraction.warnings
    assert (work / outcome.extraction.children[0].path).read_bytes() == data


def test_member_limit_stops_a_huge_zip_quickly(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(_zip_bytes([(f"f{i:05d}.txt", b"x") for i in range(20_000)], zipfile.ZIP_STORED))
    started = time.monotonic()
    outcome, work = _extract(path, tmp_path, limits=Limits(max_members=10_000))
    assert time.monotonic() - started < 15
    assert outcome.status == "ok" and outcome.extraction is not None
    assert len(outcome.extraction.children) == 10_000
    assert len(list(work.iterdir())) == 10_000
    assert any("20,000 members" in w and "10,000" in w for w in outcome.extraction.warnings)


def test_duplicate_member_names_each_get_their_own_file(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    path.write_bytes(_zip_bytes([("same.txt", b"one"), ("same.txt", b"two"), ("other.txt", b"three")]))
    outcome, work = _extract(path, tmp_path)
    assert outcome.extraction is not None
    children = outcome.extraction.children
    assert [c.name for c in children] == ["same.txt", "same.txt", "other.txt"]
    assert [(work / c.path).read_bytes() for c in children] == [b"one", b"two", b"three"]
    assert any("duplicate" in w for w in outcome.extraction.warnings)


def test_undecodable_utf8_flagged_name_gets_replacement_characters(tmp_path: Path) -> None:
    raw = _zip_bytes([("bad-é-name.txt", b"payload")])
    path = tmp_path / "bad.zip"
    path.write_bytes(raw.replace("é".encode(), b"\xff\xfe"))  # UTF-8 flag still set, bytes now invalid
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "ok" and outcome.extraction is not None
    (child,) = outcome.extraction.children
    assert child.name.startswith("bad-") and "\ufffd" in child.name and child.name.endswith("-name.txt")
    assert (work / child.path).read_bytes() == b"payload"


def test_unflagged_legacy_name_is_read_as_cp437(tmp_path: Path) -> None:
    raw = _zip_bytes([("Xbersicht.txt", b"payload")])
    path = tmp_path / "legacy.zip"
    path.write_bytes(raw.replace(b"Xbersicht", "Übersicht".encode("cp437")))
    outcome, _ = _extract(path, tmp_path)
    assert outcome.extraction is not None
    assert [c.name for c in outcome.extraction.children] == ["Übersicht.txt"]


def test_control_characters_in_names_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ctl.zip"
    path.write_bytes(_zip_bytes([("a\x07b\x1bc.txt", b"x")]))
    outcome, _ = _extract(path, tmp_path)
    assert outcome.extraction is not None
    assert outcome.extraction.children[0].name == "a\ufffdb\ufffdc.txt"


def test_zip_ratio_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zeros.zip"
    path.write_bytes(_zip_bytes([("zeros.bin", bytes(20 << 20))]))
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "too_large"
    assert outcome.reason.startswith("zip bomb") and "200:1" in outcome.reason
    assert not any(work.iterdir())


def test_ratio_bomb_beside_a_good_member_keeps_the_good_one(tmp_path: Path) -> None:
    path = tmp_path / "mixed.zip"
    path.write_bytes(_zip_bytes([("zeros.bin", bytes(20 << 20)), ("note.txt", b"keep me")]))
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "ok" and outcome.extraction is not None
    (child,) = outcome.extraction.children
    assert (work / child.path).read_bytes() == b"keep me"
    assert any("compression ratio over 200:1 — possible zip bomb" in w for w in outcome.extraction.warnings)


def test_member_and_total_limits(tmp_path: Path) -> None:
    members = [(f"r{i}.bin", _incompressible(1_300_000, seed=i)) for i in range(4)]
    path = tmp_path / "big.zip"
    path.write_bytes(_zip_bytes(members))
    outcome, work = _extract(path, tmp_path / "member", limits=Limits(max_member_bytes=1 << 20))
    assert outcome.status == "too_large" and "over the limit" in outcome.reason  # refused by declared size
    assert not any(work.iterdir())
    outcome, work = _extract(path, tmp_path / "total", limits=Limits(max_total_bytes=3 << 20))
    assert outcome.status == "ok" and outcome.extraction is not None
    assert len(outcome.extraction.children) == 2
    assert any("expands to more than" in w for w in outcome.extraction.warnings)
    assert len(list(work.iterdir())) == 2


def test_sizes_are_enforced_while_streaming_not_trusted(tmp_path: Path) -> None:
    """A member that declares 10 bytes but inflates to 3 MB is stopped at the member limit."""
    raw = bytearray(_zip_bytes([("liar.bin", _incompressible(3 << 20))]))
    eocd_at = raw.rindex(b"PK\x05\x06")
    cd_at = struct.unpack("<L", raw[eocd_at + 16 : eocd_at + 20])[0]
    struct.pack_into("<L", raw, 22, 10)  # local header: uncompressed size
    struct.pack_into("<L", raw, cd_at + 24, 10)  # central directory: uncompressed size
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(raw))
    outcome, work = _extract(path, tmp_path, limits=Limits(max_member_bytes=1 << 20))
    assert outcome.status == "too_large" and "larger than 1,048,576 bytes" in outcome.reason
    assert not any(work.iterdir())


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    """A central directory listing the same local header twice: the data would be decompressed twice."""
    raw = _zip_bytes([("a.txt", b"hello " * 100)])
    eocd_at = raw.rindex(b"PK\x05\x06")
    cd_at = struct.unpack("<L", raw[eocd_at + 16 : eocd_at + 20])[0]
    central = raw[cd_at:eocd_at]
    eocd = bytearray(raw[eocd_at:])
    struct.pack_into("<HHL", eocd, 8, 2, 2, len(central) * 2)
    path = tmp_path / "overlap.zip"
    path.write_bytes(raw[:cd_at] + central + central + bytes(eocd))
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "too_large" and "zip bomb" in outcome.reason
    assert not any(work.iterdir())


def test_bad_crc_member_is_kept_and_marked(tmp_path: Path) -> None:
    raw = bytearray(_zip_bytes([("a.txt", b"original text"), ("b.txt", b"fine")], zipfile.ZIP_STORED))
    at = raw.index(b"original text")
    raw[at] = ord("O")
    path = tmp_path / "crc.zip"
    path.write_bytes(bytes(raw))
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "ok" and outcome.extraction is not None
    first, second = outcome.extraction.children
    assert "CRC" in str(first.metadata["damaged"])
    assert (work / first.path).read_bytes() == b"Original text"
    assert "damaged" not in second.metadata


def test_tar_links_devices_and_traversal(tmp_path: Path) -> None:
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        regular = tarfile.TarInfo("docs/report.txt")
        regular.size, regular.mtime = 6, 1_000_000_000
        tar.addfile(regular, io.BytesIO(b"report"))
        for name, kind in [("link", tarfile.SYMTYPE), ("hard", tarfile.LNKTYPE), ("dev", tarfile.CHRTYPE)]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd"
            tar.addfile(info)
        evil = tarfile.TarInfo("../../outside.txt")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
        tar.addfile(_dir_info("emptydir"))
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "ok" and outcome.extraction is not None
    extraction = outcome.extraction
    assert extraction.doc_type == "tar"
    assert [c.name for c in extraction.children] == ["docs/report.txt", "../../outside.txt"]
    assert extraction.children[0].metadata["mtime"] == "2001-09-09T01:46:40+00:00"
    assert {"link", "hard", "dev"} <= set(extraction.text.splitlines())
    warning_text = " ".join(extraction.warnings)
    assert "symbolic link" in warning_text and "hard link" in warning_text and "special file" in warning_text
    assert "path-traversal" in warning_text
    assert _files_under(tmp_path) == {"links.tar"} | {f"work/{c.path}" for c in extraction.children}


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def test_gzip_child_named_from_header_or_file_name(tmp_path: Path) -> None:
    named = tmp_path / "upload.bin"
    with open(named, "wb") as raw, gzip.GzipFile("ledger.csv", "wb", fileobj=raw, mtime=1_000_000_000) as gz:
        gz.write(b"a,b\n1,2\n")
    outcome, work = _extract(named, tmp_path / "named")
    assert outcome.extraction is not None
    (child,) = outcome.extraction.children
    assert child.name == "ledger.csv" and child.metadata["mtime"] == "2001-09-09T01:46:40+00:00"
    assert (work / child.path).read_bytes() == b"a,b\n1,2\n"

    anonymous = tmp_path / "notes.txt.gz"
    anonymous.write_bytes(gzip.compress(b"notes", mtime=0))
    outcome, _ = _extract(anonymous, tmp_path / "anon")
    assert outcome.extraction is not None and outcome.extraction.children[0].name == "notes.txt"


@pytest.mark.parametrize(
    ("suffix", "compress", "doc_type"),
    [(".bz2", bz2.compress, "bzip2"), (".xz", lzma.compress, "xz"), (".tgz", gzip.compress, "gzip")],
)
def test_single_stream_compressors(tmp_path: Path, suffix: str, compress: object, doc_type: str) -> None:
    path = tmp_path / f"data{suffix}"
    path.write_bytes(compress(b"payload " * 1000))  # type: ignore[operator]
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "ok" and outcome.extraction is not None
    assert outcome.extraction.doc_type == doc_type
    (child,) = outcome.extraction.children
    assert child.name == ("data.tar" if suffix == ".tgz" else "data")
    assert (work / child.path).read_bytes() == b"payload " * 1000


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = _incompressible(200_000)
    full = gzip.compress(data)
    path = tmp_path / "cut.log.gz"
    path.write_bytes(full[: len(full) // 2])
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "ok" and outcome.extraction is not None
    (child,) = outcome.extraction.children
    kept = (work / child.path).read_bytes()
    assert 0 < len(kept) < len(data) and data.startswith(kept)
    assert "truncated" in str(child.metadata["damaged"])


def test_garbage_gzip_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "junk.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 100)
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "corrupt"
    assert not any(work.iterdir())


def _seven_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    import py7zr

    with py7zr.SevenZipFile(path, "w") as archive:
        archive.set_encoded_header_mode(False)
        for name, data in members:
            archive.writestr(data, name)


def _rename_in_7z(path: Path, old: str, new: str) -> None:
    """Rewrite a (plain, UTF-16) name in a 7z header and fix the header CRCs: py7zr will not write '../'."""
    raw = bytearray(path.read_bytes())
    old_bytes, new_bytes = old.encode("utf-16-le"), new.encode("utf-16-le")
    assert len(old_bytes) == len(new_bytes)
    at = raw.index(old_bytes)
    raw[at : at + len(old_bytes)] = new_bytes
    next_offset, next_size = struct.unpack("<QQ", raw[12:28])
    header = raw[32 + next_offset : 32 + next_offset + next_size]
    struct.pack_into("<L", raw, 28, zlib.crc32(header))
    struct.pack_into("<L", raw, 8, zlib.crc32(raw[12:32]))
    path.write_bytes(bytes(raw))


def test_7z_traversal_duplicates_and_member_limit(tmp_path: Path) -> None:
    path = tmp_path / "names.7z"
    _seven_zip(path, [("a.txt", b"A"), ("dir/a.txt", b"B"), ("dir/a.txt", b"C"), ("xx/evil.txt", b"D")])
    _rename_in_7z(path, "xx/evil.txt", "../evil.txt")
    outcome, work = _extract(path, tmp_path / "all")
    assert outcome.status == "ok" and outcome.extraction is not None
    children = outcome.extraction.children
    assert [c.name for c in children] == ["a.txt", "dir/a.txt", "dir/a.txt", "../evil.txt"]
    assert [(work / c.path).read_bytes() for c in children] == [b"A", b"B", b"C", b"D"]
    warning_text = " ".join(outcome.extraction.warnings)
    assert "path-traversal" in warning_text and "duplicate" in warning_text
    _assert_children_in_work(outcome, work)

    limited, work = _extract(path, tmp_path / "limited", limits=Limits(max_members=2))
    assert limited.extraction is not None and len(limited.extraction.children) == 2
    assert any("only the first 2" in w for w in limited.extraction.warnings)


def test_7z_ratio_bomb_stops_extraction(tmp_path: Path) -> None:
    path = tmp_path / "zeros.7z"
    _seven_zip(path, [("zeros.bin", bytes(4 << 20))])
    outcome, work = _extract(path, tmp_path)
    assert outcome.status == "too_large" and "zip bomb" in outcome.reason
    assert not any(work.iterdir())
