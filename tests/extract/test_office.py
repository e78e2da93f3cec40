"""DOCX, XLSX/XLSM and PPTX extraction against the shared corpus, plus crafted hostile packages."""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pytest

from app.extract.base import ExtractContext, Extraction, Limits
from app.extract.errors import CorruptError
from app.extract.office import DocxExtractor, PptxExtractor, XlsxExtractor
from app.extract.registry import Outcome, extract_file
from tests.conftest import known_text, manifest, normalise

OFFICE_FORMATS = ("docx", "xlsx", "pptx")
REAL_ROWS = [r for r in manifest() if r["path"].startswith("real/") and r["format"] in OFFICE_FORMATS]
GENERATED_NAME = re.compile(r"^\d{6}\.bin$")


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


@pytest.mark.parametrize("row", REAL_ROWS, ids=[Path(r["path"]).name for r in REAL_ROWS])
def test_real_files_extract_with_known_text(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    extraction = _ok(corpus / row["path"], tmp_path)
    assert extraction.doc_type == row["format"]
    phrase = known_text(row["notes"])
    if phrase:
        assert normalise(phrase) in normalise(extraction.text)
    for child in extraction.children:
        assert GENERATED_NAME.match(child.path)
        assert (tmp_path / "work" / child.path).is_file()


# ---------------------------------------------------------------------------------------------------- DOCX


def test_docx_core_properties(corpus: Path, tmp_path: Path) -> None:
    extraction = _ok(corpus / "real/docx/poi_WordWithAttachments.docx", tmp_path)
    meta = extraction.metadata
    assert extraction.title == "Русский вариант"
    assert meta["author"] == "vbiryukova"
    assert meta["last_modified_by"] == "Yury Batrakov"
    assert meta["created"] == "2008-04-08T05:52:00+00:00"
    assert meta["modified"] == "2008-05-27T16:01:00+00:00"
    assert meta["revision"] == "13"
    assert meta["keywords"] == "к_слово1, к_слово2"
    assert meta["company"] == "Mera"


def test_docx_headers_footnotes_comments_and_tables(corpus: Path, tmp_path: Path) -> None:
    various = _ok(corpus / "real/docx/tika_testWORD_various.docx", tmp_path / "a")
    assert [p.kind for p in various.parts][:1] == ["body"]
    assert "This is the header text." in _part(various, "headers").text
    assert "This is the footer text." in _part(various, "headers").text
    assert "This is a footnote." in _part(various, "footnotes").text
    assert "Row 1 Col 1\tRow 1 Col 2\tRow 1 Col 3" in _part(various, "body").text
    assert "Here is a text box" in _part(various, "body").text
    assert various.metadata["subject"] == "Subject is here"

    commented = _ok(corpus / "real/docx/tika_testComment.docx", tmp_path / "b")
    assert _part(commented, "comments").kind == "notes"
    assert _part(commented, "comments").text.strip()


def test_docx_embedded_files_are_unwrapped_children(corpus: Path, tmp_path: Path) -> None:
    outlook = _ok(corpus / "real/docx/tika_EmbeddedOutlook.docx", tmp_path / "a")
    [message] = outlook.children
    assert message.relation == "embedded"
    assert message.name.endswith(".msg")
    assert (tmp_path / "a/work" / message.path).read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

    pdf = _ok(corpus / "real/docx/tika_testPDFEmbeddingAndEmbedded.docx", tmp_path / "b")
    [document] = pdf.children
    assert (tmp_path / "b/work" / document.path).read_bytes().startswith(b"%PDF-")

    attachments = _ok(corpus / "real/docx/poi_WordWithAttachments.docx", tmp_path / "c")
    assert len(attachments.children) == 5
    assert len({c.path for c in attachments.children}) == 5


def test_docx_external_entity_is_not_fetched_or_expanded(corpus: Path, tmp_path: Path) -> None:
    extraction = _ok(corpus / "hostile/xml-bomb/poi_ExternalEntityInText.docx", tmp_path)
    assert "Here should not be the POI web site" in extraction.text
    assert "poi.apache.org" not in extraction.text
    assert any("DTD" in w for w in extraction.warnings)


def _write_docx(path: Path, body: str, prolog: str = "") -> Path:
    namespace = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        zf.writestr(
            "word/document.xml",
            f'<?xml version="1.0"?>{prolog}<w:document {namespace}><w:body>{body}</w:body></w:document>',
        )
    return path


def test_docx_billion_laughs_is_not_expanded(tmp_path: Path) -> None:
    entities = "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    prolog = f'<!DOCTYPE d [<!ENTITY a0 "aaaaaaaaaa">{entities}]>'
    path = _write_docx(tmp_path / "bomb.docx", "<w:p><w:r><w:t>before &a9; after</w:t></w:r></w:p>", prolog)
    started = time.monotonic()
    outcome = _extract(path, tmp_path)
    assert time.monotonic() - started < 5
    assert outcome.status in ("ok", "corrupt")
    if outcome.extraction is not None:
        assert "aaaa" not in outcome.extraction.text


def test_docx_tracked_changes_and_deleted_text(tmp_path: Path) -> None:
    body = (
        "<w:p><w:r><w:t>kept </w:t></w:r><w:ins><w:r><w:t>inserted</w:t></w:r></w:ins>"
        "<w:del><w:r><w:delText>removed words</w:delText></w:r></w:del></w:p>"
    )
    extraction = _ok(_write_docx(tmp_path / "changes.docx", body), tmp_path)
    assert _part(extraction, "body").text == "kept inserted"
    assert _part(extraction, "tracked deletions").text == "removed words"


def test_docx_damaged_zip_is_salvaged_or_corrupt(corpus: Path, tmp_path: Path) -> None:
    malformed = corpus / "hostile/office-malformed"
    context = ExtractContext(work_dir=tmp_path)
    truncated = DocxExtractor().extract(malformed / "poi_truncated62886.docx", context)
    assert "DX IMPORTADORA" in truncated.text
    assert any("ZIP structure is damaged" in w for w in truncated.warnings)
    with pytest.raises(CorruptError, match="missing word/document.xml"):
        DocxExtractor().extract(malformed / "tika_testWORD_truncated.docx", context)
    fuzzed = PptxExtractor().extract(
        malformed / "poi_clusterfuzz-testcase-minimized-POIXSLFFuzzer-6254434927378432.pptx", context
    )
    assert [p.label for p in fuzzed.parts] == ["Slide 1"]


def test_not_a_zip_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    path.write_bytes(b"This is not a zip file!\n")
    with pytest.raises(CorruptError, match="not a readable ZIP"):
        DocxExtractor().extract(path, ExtractContext(work_dir=tmp_path))


# ---------------------------------------------------------------------------------------------------- XLSX


def test_xlsx_sheets_cells_and_cached_values(corpus: Path, tmp_path: Path) -> None:
    extraction = _ok(corpus / "real/xlsx/poi_ExcelPivotTableSample.xlsx", tmp_path)
    assert [p.label for p in extraction.parts if p.kind == "sheet"] == ["Tabelle1", "Tabelle2", "Tabelle3"]
    first = _part(extraction, "Tabelle1")
    cells = {c.ref: c.text for c in first.cells}
    assert cells["A1"] == "Field1"
    assert cells["C2"] == "2022-01-01"
    assert first.text.splitlines()[0] == "Field1\tField2\tField3\t\tField1\tField2\tField3"
    assert extraction.metadata["author"] == "Axel Richter"
    assert extraction.metadata["created"] == "2015-06-05T18:19:34+00:00"


def test_xlsx_hidden_sheets_comments_headers_and_macros(corpus: Path, tmp_path: Path) -> None:
    kyc = _ok(corpus / "real/xlsx/tika_CVLKRA-KYC_Download_File_Structure_V3.1.xlsx", tmp_path / "a")
    assert kyc.metadata["hidden_sheets"] == ["Country Master (2)"]
    assert kyc.metadata["sheet_count"] == 30
    comment = _ok(corpus / "real/xlsx/tika_testComment.xlsx", tmp_path / "b")
    assert "Here is a comment" in _part(comment, "Sheet1 comments").text
    headers = _ok(corpus / "real/xlsx/tika_testEXCEL_headers_footers.xlsx", tmp_path / "c")
    assert "Footer - For Internal Use Only" in _part(headers, "Sheet1 headers").text
    macro = _ok(corpus / "real/xlsx/tika_testEXCEL_macro.xlsm", tmp_path / "d")
    assert macro.metadata["has_macros"] is True
    textbox = _ok(corpus / "real/xlsx/tika_testEXCEL_textbox.xlsx", tmp_path / "e")
    assert _part(textbox, "Sheet1 drawings").text.strip()


def test_xlsx_embedded_documents(corpus: Path, tmp_path: Path) -> None:
    extraction = _ok(corpus / "real/xlsx/tika_testEXCEL_embeded.xlsx", tmp_path)
    names = sorted(c.name for c in extraction.children)
    assert names == [
        "Microsoft_Office_PowerPoint_Presentation1.pptx",
        "Microsoft_Office_Word_97_-_2003_Document1.doc",
        "Microsoft_Office_Word_Document2.docx",
    ]


def test_xlsx_cell_limit_truncates_with_warning(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "hostile/huge-spreadsheet/poi_bug62181.xlsx"
    extraction = _ok(path, tmp_path, limits=Limits(max_cells=1_000))
    assert sum(len(p.cells) for p in extraction.parts) == 1_000
    assert "sheet 'List 2' truncated at 1,000 cells" in extraction.warnings


@pytest.mark.parametrize("name", ["poi_57893-many-merges.xlsx", "poi_bug62181.xlsx"])
def test_huge_spreadsheets_finish_quickly(corpus: Path, tmp_path: Path, name: str) -> None:
    started = time.monotonic()
    extraction = _ok(corpus / "hostile/huge-spreadsheet" / name, tmp_path)
    assert time.monotonic() - started < 20
    assert extraction.parts[0].kind == "sheet"


@pytest.mark.parametrize("name", ["poi_poc-xmlbomb.xlsx", "poi_poc-xmlbomb-empty.xlsx"])
def test_xlsx_entity_bombs_are_refused(corpus: Path, tmp_path: Path, name: str) -> None:
    outcome = _extract(corpus / "hostile/xml-bomb" / name, tmp_path)
    assert outcome.status == "corrupt"
    assert "entities" in outcome.reason


def test_xlsx_repeated_huge_shared_string_stops_at_text_limit(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "hostile/xml-bomb/poi_poc-shared-strings.xlsx"
    extraction = _ok(path, tmp_path, limits=Limits(max_text_chars=3_000_000))
    assert len(extraction.text) <= 3_000_000
    assert any("text truncated" in w for w in extraction.warnings)


def test_xlsx_schema_with_remote_location_reads_normally(corpus: Path, tmp_path: Path) -> None:
    extraction = _ok(corpus / "hostile/xml-bomb/poi_xxe_in_schema.xlsx", tmp_path)
    assert "Column1" in extraction.text


# ---------------------------------------------------------------------------------------------------- PPTX


def test_pptx_slides_in_order_with_tables_and_comments(corpus: Path, tmp_path: Path) -> None:
    talk = (
        corpus
        / "real/pptx/poi_au.asn.aes.www_conferences_2011_presentations_Fri_20Room4Level4_20930_20Maloney.pptx"
    )
    extraction = _ok(talk, tmp_path / "a")
    assert [p.label for p in extraction.parts] == [f"Slide {n}" for n in range(1, 29)]
    assert extraction.metadata["slide_count"] == 28
    assert extraction.metadata["author"] == "Emily Verstege"

    various = _ok(corpus / "real/pptx/tika_testPPT_various.pptx", tmp_path / "b")
    assert "Row 1 Col 1\tRow 1 Col 2\tRow 1 Col 3" in various.parts[0].text
    commented = _ok(corpus / "real/pptx/tika_testComment.pptx", tmp_path / "c")
    assert "Here is a comment" in commented.parts[0].text


def test_pptx_embedded_documents_and_slide_limit(corpus: Path, tmp_path: Path) -> None:
    embedded = _ok(corpus / "real/pptx/tika_testPPT_embeded.pptx", tmp_path / "a")
    assert len(embedded.children) == 3
    talk = (
        corpus
        / "real/pptx/poi_au.asn.aes.www_conferences_2011_presentations_Fri_20Room4Level4_20930_20Maloney.pptx"
    )
    limited = _ok(talk, tmp_path / "b", limits=Limits(max_pages=3))
    assert len(limited.parts) == 3
    assert "only the first 3 of 28 slides were read" in limited.warnings


def test_encrypted_ooxml_is_not_ours(corpus: Path, tmp_path: Path) -> None:
    outcome = _extract(corpus / "hostile/encrypted/tika_testWORD_protected_passtika.docx", tmp_path)
    assert outcome.doc_type == "ole-encrypted"
    assert outcome.status == "encrypted"


def test_extractors_declare_their_types() -> None:
    assert DocxExtractor.doc_types == ("docx",)
    assert XlsxExtractor.doc_types == ("xlsx",)
    assert PptxExtractor.doc_types == ("pptx",)
