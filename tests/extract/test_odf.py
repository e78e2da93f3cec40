"""OpenDocument (ODT, ODS, ODP) extraction against the shared corpus, plus crafted hostile packages."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from app.extract.base import ExtractContext, Extraction, Limits
from app.extract.errors import CorruptError
from app.extract.odf import OdfExtractor
from app.extract.registry import Outcome, extract_file
from tests.conftest import known_text, manifest, normalise

ODF_FORMATS = ("odt", "ods", "odp")
REAL_ROWS = [r for r in manifest() if r["path"].startswith("real/") and r["format"] in ODF_FORMATS]

# MANIFEST phrases that carry neighbouring markup glued on by the tool that recorded them: "%:" comes from
# number-format styles of content.xml, and "borderA" joins a shape's description to the paragraph inside it.
# The words themselves must be present.
PHRASE_AS_EXTRACTED = {
    "%:Record Number": "Record Number",
    "blue background and dark borderA": "blue background and dark border",
}

NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"'
)


def _extract(path: Path, tmp_path: Path, **context: object) -> Outcome:
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    return extract_file(path, ExtractContext(work_dir=work, **context))  # type: ignore[arg-type]


def _ok(path: Path, tmp_path: Path, **context: object) -> Extraction:
    outcome = _extract(path, tmp_path, **context)
    assert outcome.status == "ok", outcome.reason
    assert outcome.extraction is not None
    return outcome.extraction


def _part(extraction: Extraction, label: str):
    return next(p for p in extraction.parts if p.label == label)


def _write_odf(path: Path, mimetype: str, body: str, prolog: str = "") -> Path:
    content = (
        f'<?xml version="1.0"?>{prolog}<office:document-content {NAMESPACES}>'
        f"<office:body>{body}</office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), mimetype)
        zf.writestr("content.xml", content)
        zf.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    return path


@pytest.mark.parametrize("row", REAL_ROWS, ids=[Path(r["path"]).name for r in REAL_ROWS])
def test_real_files_extract_with_known_text(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    extraction = _ok(corpus / row["path"], tmp_path)
    assert extraction.doc_type == row["format"]
    phrase = known_text(row["notes"])
    if phrase:
        phrase = PHRASE_AS_EXTRACTED.get(phrase, phrase)
        assert normalise(phrase) in normalise(extraction.text)


def test_odt_parts_and_metadata(corpus: Path, tmp_path: Path) -> None:
    extraction = _ok(corpus / "real/odt/tika_testODFwithOOo3.odt", tmp_path)
    assert extraction.title == "Apache Tika"
    assert extraction.metadata["author"] == "Bart Hanssens"
    assert extraction.metadata["created"] == "2009-10-05T19:04:01"
    assert extraction.metadata["subject"] == "Test document"
    body = _part(extraction, "body").text
    assert body.startswith("Apache Tika Test Document")
    assert "First item\nSecond item\nThird item" in body
    assert "simple footnote" in _part(extraction, "footnotes").text
    assert "Tika is part of the Lucene project." in _part(extraction, "comments").text
    assert _part(extraction, "tracked deletions").text == "complex"


def test_ods_sheets_cells_headers_and_metadata(corpus: Path, tmp_path: Path) -> None:
    extraction = _ok(corpus / "real/ods/poi_SampleSS.ods", tmp_path)
    sheets = [p for p in extraction.parts if p.kind == "sheet"]
    assert [p.label for p in sheets] == ["First Sheet", "Sheet Number 2", "Sheet3"]
    cells = {c.ref: c.text for c in sheets[1].cells}
    assert cells["A4"] == "I'm in bold blue, on a yellow background"
    assert "A3" not in cells
    assert sheets[1].text.splitlines()[-1] == "1\t10\t2\t13"
    assert extraction.title == "Sample Spreadsheet"
    assert extraction.metadata["author"] == "Nick Burch"
    footer = _ok(corpus / "real/ods/tika_testFooter.ods", tmp_path / "footer")
    headers = _part(footer, "headers").text
    assert "Here is a footer in the center area" in headers
    assert "???" not in headers


def test_encrypted_odt_needs_its_password(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "hostile/encrypted/tika_testODTEncrypted.odt"
    locked = _extract(path, tmp_path / "a")
    assert (locked.status, locked.reason) == ("encrypted", "encrypted ODT: password required")
    wrong = _extract(path, tmp_path / "b", passwords=("wrong",))
    assert (wrong.status, wrong.reason) == (
        "encrypted",
        "encrypted ODT: none of the given passwords opens it",
    )
    opened = _ok(path, tmp_path / "c", passwords=("wrong", "tika"))
    assert "This should be encrypted." in opened.text
    assert opened.metadata["encrypted"] is True


def test_not_a_zip_file_is_corrupt(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "hostile/office-malformed/tika_testODTnotaZipFile.odt"
    with pytest.raises(CorruptError, match="not a readable ZIP"):
        OdfExtractor().extract(path, ExtractContext(work_dir=tmp_path))


def test_odp_slides_with_notes(tmp_path: Path) -> None:
    pages = "".join(
        f'<draw:page draw:name="p{n}"><draw:frame><draw:text-box><text:p>Slide text {n}</text:p>'
        f"</draw:text-box></draw:frame><presentation:notes><draw:frame><draw:text-box>"
        f"<text:p>Speaker note {n}</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>"
        for n in (1, 2)
    )
    path = _write_odf(
        tmp_path / "deck.odp",
        "application/vnd.oasis.opendocument.presentation",
        f"<office:presentation>{pages}</office:presentation>",
    )
    extraction = _ok(path, tmp_path)
    assert extraction.doc_type == "odp"
    assert [(p.kind, p.label, p.text) for p in extraction.parts] == [
        ("slide", "Slide 1", "Slide text 1\n\nSpeaker note 1"),
        ("slide", "Slide 2", "Slide text 2\n\nSpeaker note 2"),
    ]


def test_ods_repeated_cells_stop_at_the_cell_limit(tmp_path: Path) -> None:
    table = (
        '<table:table table:name="S"><table:table-row table:number-rows-repeated="1048576">'
        '<table:table-cell table:number-columns-repeated="16384"><text:p>x</text:p></table:table-cell>'
        "</table:table-row></table:table>"
    )
    path = _write_odf(
        tmp_path / "repeat.ods",
        "application/vnd.oasis.opendocument.spreadsheet",
        f"<office:spreadsheet>{table}</office:spreadsheet>",
    )
    started = time.monotonic()
    extraction = _ok(path, tmp_path, limits=Limits(max_cells=50_000))
    assert time.monotonic() - started < 10
    assert len(extraction.parts[0].cells) == 50_000
    assert "sheet 'S' truncated at 50,000 cells" in extraction.warnings


def test_ods_empty_repeats_are_not_expanded(tmp_path: Path) -> None:
    table = (
        '<table:table table:name="S"><table:table-row table:number-rows-repeated="1048575">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
        "<table:table-row><table:table-cell/><table:table-cell><text:p>last</text:p></table:table-cell>"
        "</table:table-row></table:table>"
    )
    path = _write_odf(
        tmp_path / "sparse.ods",
        "application/vnd.oasis.opendocument.spreadsheet",
        f"<office:spreadsheet>{table}</office:spreadsheet>",
    )
    [sheet] = _ok(path, tmp_path).parts
    assert [(c.ref, c.text) for c in sheet.cells] == [("B1048576", "last")]


def test_odt_billion_laughs_is_not_expanded(tmp_path: Path) -> None:
    entities = "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    prolog = f'<!DOCTYPE d [<!ENTITY a0 "aaaaaaaaaa">{entities}]>'
    path = _write_odf(
        tmp_path / "bomb.odt",
        "application/vnd.oasis.opendocument.text",
        "<office:text><text:p>before &a9; after</text:p></office:text>",
        prolog,
    )
    started = time.monotonic()
    outcome = _extract(path, tmp_path)
    assert time.monotonic() - started < 5
    assert outcome.status in ("ok", "corrupt")
    if outcome.extraction is not None:
        assert "aaaa" not in outcome.extraction.text
