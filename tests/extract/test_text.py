"""Plain text and CSV/TSV extractors: corpus text, encoding detection, cells, and limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.extract.base import ExtractContext, Extraction, Limits
from app.extract.registry import Outcome, extract_file
from app.extract.text import CsvExtractor, TextExtractor, decode_bytes, guess_encoding
from tests.conftest import known_text, manifest, normalise

ROWS = manifest()
REAL = [r for r in ROWS if r["path"].startswith("real/") and r["format"] in ("txt", "csv")]


def run(path: Path, tmp_path: Path, name_hint: str = "") -> Outcome:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return extract_file(path, ExtractContext(work_dir=work, name_hint=name_hint))


def text_file(tmp_path: Path, data: bytes, limits: Limits | None = None) -> Extraction:
    path = tmp_path / "sample.txt"
    path.write_bytes(data)
    return TextExtractor().extract(path, ExtractContext(work_dir=tmp_path, limits=limits or Limits()))


def csv_file(tmp_path: Path, data: bytes, name: str = "data.csv", limits: Limits | None = None) -> Extraction:
    path = tmp_path / name
    path.write_bytes(data)
    ctx = ExtractContext(work_dir=tmp_path, name_hint=name, limits=limits or Limits())
    return CsvExtractor().extract(path, ctx)


@pytest.mark.parametrize("row", REAL, ids=[Path(r["path"]).name for r in REAL])
def test_real_files_extract_with_known_text(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    path = corpus / row["path"]
    outcome = run(path, tmp_path, name_hint=path.name)
    expected_type = "text" if row["format"] == "txt" else "csv"
    assert (outcome.doc_type, outcome.status) == (expected_type, "ok"), outcome.reason
    assert outcome.extraction is not None and outcome.extraction.text.strip()
    phrase = known_text(row["notes"])
    if phrase:
        assert normalise(phrase) in normalise(outcome.extraction.text)


@pytest.mark.parametrize(
    ("name", "encodings"),
    [
        ("tika_english.cp500.txt", {"cp500", "cp037", "cp1140"}),  # EBCDIC variants decode alike
        ("tika_russian.cp866.txt", {"cp866", "cp1125"}),
        ("tika_testTXT_win-1252.txt", {"cp1252"}),
        ("tika_testTXTNonASCIIUTF8.txt", {"utf-8"}),
        ("tika_multi-language.txt", {"cp1252"}),  # Latin-1 bytes despite its name
    ],
)
def test_encoding_is_detected_and_recorded(
    corpus: Path, tmp_path: Path, name: str, encodings: set[str]
) -> None:
    outcome = run(corpus / "real/txt" / name, tmp_path)
    assert outcome.extraction is not None
    assert outcome.extraction.metadata["encoding"] in encodings
    assert "\ufffd" not in outcome.extraction.text


def test_cp1252_text_keeps_its_accents(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/txt/tika_multi-language.txt", tmp_path)
    assert outcome.extraction is not None and "Port ABC não contabilize" in outcome.extraction.text


def test_bom_decides_before_detection(tmp_path: Path) -> None:
    extraction = text_file(tmp_path, "Größe: 1 м".encode("utf-16"))
    assert extraction.metadata["encoding"] == "utf-16"
    assert extraction.text == "Größe: 1 м"
    assert text_file(tmp_path, b"\xef\xbb\xbfplain").text == "plain"


def test_declared_charset_is_used_unless_it_does_not_fit() -> None:
    assert decode_bytes("Привет, мир".encode("cp1251"), "windows-1251") == ("Привет, мир", "cp1251")
    assert decode_bytes("café".encode("cp1252"), "utf-8")[0] == "café"  # wrong label: detection wins
    assert decode_bytes("鎔".encode("gbk"), "gb2312")[0] == "鎔"  # GB2312 label, GBK bytes
    assert decode_bytes(b"abc", "no-such-charset") == ("abc", "utf-8")
    assert guess_encoding("日本語のテキストです。".encode()) == "utf-8"


def test_text_is_bounded_by_max_text_chars(tmp_path: Path) -> None:
    extraction = text_file(tmp_path, "é".encode() * 1000, Limits(max_text_chars=100))
    assert len(extraction.text) <= 100 and extraction.text.startswith("ééé")
    assert "\ufffd" not in extraction.text  # a UTF-8 sequence cut by the bound is dropped, not garbled
    assert any("truncated at 100 characters" in w for w in extraction.warnings)


def test_csv_cells_point_at_their_cell(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "real/csv/datasets_constituents.csv"
    outcome = run(path, tmp_path, name_hint=path.name)
    assert outcome.extraction is not None
    (sheet,) = outcome.extraction.parts
    assert (sheet.kind, sheet.label) == ("sheet", "datasets_constituents")
    cells = {(c.row, c.col): c.text for c in sheet.cells}
    assert cells[(1, 1)] == "Symbol" and cells[(1, 8)] == "Founded"
    assert cells[(25, 4)] == "Paper & Plastic Packaging Products & Materials"
    assert cells[(25, 5)] == "Warmley, Bristol, United Kingdom"  # quoted comma stays in one cell
    hit = next(c for c in sheet.cells if "Plastic Packaging Products" in c.text)
    assert hit.ref == "D25"
    assert sheet.text.splitlines()[0].split("\t")[:3] == ["Symbol", "Security", "GICS Sector"]
    assert outcome.extraction.metadata["row_count"] == len(sheet.text.splitlines())


def test_csv_delimiter_is_sniffed_and_tsv_uses_tabs(tmp_path: Path) -> None:
    semicolons = csv_file(tmp_path, b"name;amount\nAcme, Inc.;12,50\nGlobex;7\n")
    assert semicolons.metadata["delimiter"] == ";"
    assert {(c.row, c.col, c.text) for c in semicolons.parts[0].cells} >= {
        (2, 1, "Acme, Inc."),
        (2, 2, "12,50"),
    }
    tabs = csv_file(tmp_path, b"a,b\tc\n1,2\t3\n", name="data.tsv")
    assert tabs.doc_type == "tsv" and tabs.metadata["delimiter"] == "\t"
    assert [(c.row, c.col, c.text) for c in tabs.parts[0].cells][:2] == [(1, 1, "a,b"), (1, 2, "c")]


def test_csv_without_name_hint_is_labelled_sheet1(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n")
    extraction = CsvExtractor().extract(path, ExtractContext(work_dir=tmp_path))
    assert extraction.parts[0].label == "Sheet1"


def test_csv_is_bounded_by_max_cells(tmp_path: Path) -> None:
    rows = b"".join(b"%d,%d,%d\n" % (i, i, i) for i in range(1000))
    extraction = csv_file(tmp_path, rows, limits=Limits(max_cells=30))
    assert len(extraction.parts[0].cells) == 30
    assert any("truncated at 30 cells" in w for w in extraction.warnings)


def test_text_that_is_not_really_csv_still_gives_its_text(tmp_path: Path) -> None:
    prose = b'He said "this is not, in any sense, a table.\nNor is this line\x00 here.\n'
    extraction = csv_file(tmp_path, prose)
    assert normalise("this is not in any sense a table.") in normalise(extraction.text)  # commas split cells
    assert "Nor is this line" in extraction.text
