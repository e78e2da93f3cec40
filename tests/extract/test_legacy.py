"""Legacy Office extractors (DOC, XLS, PPT) on the shared corpus: text, metadata, encryption, hostile files."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from app.extract.base import ExtractContext, Limits
from app.extract.legacy import _clean_word_text, _date_text, _number_text, _strip_field_codes
from app.extract.registry import Outcome, extract_file
from tests.conftest import known_text, manifest, normalise

FORMATS = ("doc", "xls", "ppt")
ROWS = manifest()
REAL = [r for r in ROWS if r["path"].startswith("real/") and r["format"] in FORMATS]
ENCRYPTED = [r for r in ROWS if r["path"].startswith("hostile/encrypted/") and r["format"] in FORMATS]
MALFORMED = [r for r in ROWS if r["path"].startswith("hostile/office-malformed/") and r["format"] in FORMATS]
HUGE = [r for r in ROWS if r["path"].startswith("hostile/huge-spreadsheet/") and r["format"] == "xls"]


def _ids(rows: list[dict[str, str]]) -> list[str]:
    return [Path(r["path"]).name for r in rows]


def run(path: Path, tmp_path: Path, **kwargs: object) -> Outcome:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return extract_file(path, ExtractContext(work_dir=work, **kwargs))  # type: ignore[arg-type]


def _password(notes: str) -> str:
    match = re.search(r"password=(\S+?)[\s;)]", notes + " ")
    assert match, notes
    return match.group(1)


@pytest.mark.parametrize("row", REAL, ids=_ids(REAL))
def test_real_files_extract_with_known_text(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    outcome = run(corpus / row["path"], tmp_path)
    assert outcome.status == "ok", outcome.reason
    assert outcome.doc_type == row["format"]
    assert outcome.extraction is not None
    phrase = known_text(row["notes"])
    if phrase:
        assert normalise(phrase) in normalise(outcome.extraction.text)
    assert list(tmp_path.joinpath("work").iterdir()) == []  # nothing written


def test_doc_with_dat_extension_is_detected_by_content(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/doc/enron_word_document_with_dat_extension.dat", tmp_path)
    assert (outcome.doc_type, outcome.status) == ("doc", "ok")
    assert outcome.extraction and outcome.extraction.title == "Enron Running Club"


def test_doc_metadata_and_parts(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/doc/enron_List_of_EGM_Netting_Agmts.doc", tmp_path)
    extraction = outcome.extraction
    assert extraction is not None
    meta = extraction.metadata
    assert meta["author"] == "Chris Swinford"
    assert meta["last_modified_by"] == "nflores"
    assert meta["company"] == "Enron Corp"
    assert meta["created"] == "2002-01-16T17:53:00"
    assert meta["modified"] == "2002-01-16T20:35:00"
    kinds = {(p.kind, p.label) for p in extraction.parts}
    assert ("body", "body") in kinds and ("headers", "headers") in kinds
    assert "PRELIMINARY LIST" in next(p.text for p in extraction.parts if p.kind == "headers")
    body = extraction.parts[0].text
    assert "\x07" not in body and "\r" not in body and "\x13" not in body
    assert "Amoco Production Company\tCrude" in body  # table cells become tab-separated


def test_word6_fast_saved_document(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/doc/poi_cn.orthodox.www_divenbog_APRIL_30-APRIL.DOC", tmp_path)
    extraction = outcome.extraction
    assert extraction is not None
    assert extraction.title == "30  APRIL  (V - 13)"
    assert extraction.metadata["format_version"] == "Word 6/95"
    assert extraction.metadata["author"] == "Andrew M. Janos"
    assert "Saint James, after the Descent of the Holy Spirit" in extraction.text


def test_doc_field_codes_are_dropped_and_results_kept(corpus: Path, tmp_path: Path) -> None:
    outcome = run(
        corpus
        / "real/doc/poi_au.edu.utas.www_data_assets_word_doc_0003_154335_International-Travel-Approval-Request-Form.doc",
        tmp_path,
    )
    assert outcome.extraction is not None
    text = outcome.extraction.text
    assert "FORMTEXT" not in text and "HYPERLINK" not in text
    assert "http://www.utas.edu.au/docs/fin_services/insurance/travel.html" in text
    assert any(p.kind == "headers" and "Page 1 of 2" in p.text for p in outcome.extraction.parts)


def test_doc_text_limit_truncates_with_warning(corpus: Path, tmp_path: Path) -> None:
    outcome = run(
        corpus / "real/doc/enron_Enron_ISDA_9_21_01.doc", tmp_path, limits=Limits(max_text_chars=5000)
    )
    assert outcome.status == "ok" and outcome.extraction is not None
    assert len(outcome.extraction.text) <= 5000
    assert any("truncated" in w for w in outcome.extraction.warnings)


def test_truncated_doc_ends_cleanly(corpus: Path, tmp_path: Path) -> None:
    data = (corpus / "real/doc/enron_Enron_ISDA_9_21_01.doc").read_bytes()
    for size in (512, 4096, 60_000, 120_000):
        cut = tmp_path / f"cut_{size}.doc"
        cut.write_bytes(data[:size])
        outcome = run(cut, tmp_path)
        assert outcome.status in ("ok", "corrupt", "unsupported"), outcome.reason
        if outcome.status != "ok":
            assert outcome.reason and "Error:" not in outcome.reason


def test_ppt_slides_notes_and_metadata(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/ppt/enron_ubswe.ppt", tmp_path)
    extraction = outcome.extraction
    assert extraction is not None
    slides = [p for p in extraction.parts if p.kind == "slide"]
    assert [p.label for p in slides] == [f"Slide {n}" for n in range(1, 8)]
    assert slides[0].text.startswith("Credit Risk Control at UBSW Energy LLC")
    assert "Agenda" in slides[1].text  # text stored in the slide's own drawing
    assert extraction.metadata["page_count"] == 7
    assert extraction.metadata["author"] == "Joel Flora"
    assert extraction.title == "Process R- Engineering Workshop"
    assert "Click to edit Master" not in extraction.text


def test_ppt_dual_storage_powerpoint95(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/ppt/enron_2002PlanLayPres.ppt", tmp_path)
    assert outcome.extraction is not None
    slides = [p for p in outcome.extraction.parts if p.kind == "slide"]
    assert len(slides) >= 5
    assert "Table of Contents" in slides[1].text


def test_xls_cells_dates_numbers_and_sheets(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/xls/enron_Select_Energy.xls", tmp_path)
    extraction = outcome.extraction
    assert extraction is not None
    assert [(p.kind, p.label) for p in extraction.parts] == [
        ("sheet", "Live"),
        ("sheet", "Expired"),
        ("sheet", "New"),
    ]
    live = extraction.parts[0]
    cells = {c.ref: c.text for c in live.cells}
    assert cells["A1"] == "DEAL #"
    assert cells["A2"] == "415867.1"
    assert cells["D2"] == "2000-09-19"  # a date cell as an ISO date
    assert cells["G2"] == "70" and cells["H2"] == "102000"  # integers without ".0"
    assert live.text.splitlines()[1].startswith("DEAL #\tEOL #\tCOUNTERPARTY")
    assert not any(c.text.endswith(".0") for c in live.cells)
    assert extraction.metadata["author"] == "Sharen Cason"
    assert extraction.metadata["created"] == "2002-02-01T15:01:06"


def test_xls_without_worksheets_is_ok_with_warning(corpus: Path, tmp_path: Path) -> None:
    outcome = run(corpus / "real/xls/enron_Trader_Products_5-30-01_EM.xls", tmp_path)
    assert outcome.status == "ok" and outcome.extraction is not None
    assert outcome.extraction.warnings


@pytest.mark.parametrize("row", HUGE, ids=_ids(HUGE))
def test_huge_spreadsheets_finish_quickly(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    started = time.monotonic()
    outcome = run(corpus / row["path"], tmp_path)
    assert outcome.status == "ok", outcome.reason
    assert time.monotonic() - started < 15
    phrase = known_text(row["notes"])
    if phrase:
        assert outcome.extraction and normalise(phrase) in normalise(outcome.extraction.text)


def test_cell_limit_truncates_with_warning(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "hostile/huge-spreadsheet/enron_EOL_All_Swa-1.xls"
    outcome = run(path, tmp_path, limits=Limits(max_cells=1000))
    assert outcome.status == "ok" and outcome.extraction is not None
    assert sum(len(p.cells) for p in outcome.extraction.parts) == 1000
    assert "sheet 'Results' truncated at 1,000 cells" in outcome.extraction.warnings


@pytest.mark.parametrize("row", ENCRYPTED, ids=_ids(ENCRYPTED))
def test_encrypted_without_password(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    outcome = run(corpus / row["path"], tmp_path)
    if _password(row["notes"]) == "VelvetSweatshop":  # Excel's built-in password: opens like Excel does
        assert outcome.status == "ok", outcome.reason
        assert outcome.extraction and outcome.extraction.warnings
    else:
        assert outcome.status == "encrypted"
        assert outcome.reason.endswith("password required")


@pytest.mark.parametrize("row", ENCRYPTED, ids=_ids(ENCRYPTED))
def test_encrypted_with_passwords(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    path = corpus / row["path"]
    wrong = run(path, tmp_path, passwords=("not-it",))
    if _password(row["notes"]) != "VelvetSweatshop":
        assert (wrong.status, wrong.reason.split(": ")[-1]) == (
            "encrypted",
            "none of the given passwords opens it",
        )
    outcome = run(path, tmp_path, passwords=("not-it", _password(row["notes"])))
    assert outcome.status == "ok", outcome.reason
    assert outcome.extraction is not None and outcome.extraction.text.strip()
    match = re.search(r"known text after decryption: (.*?) \(verified", row["notes"])
    if match:
        assert normalise(match.group(1)) in normalise(outcome.extraction.text)


def test_encrypted_ppt_notes_after_decryption(corpus: Path, tmp_path: Path) -> None:
    outcome = run(
        corpus / "hostile/encrypted/poi_Password_Protected-hello.ppt", tmp_path, passwords=("hello",)
    )
    assert outcome.extraction is not None
    parts = {(p.kind, p.label): p.text for p in outcome.extraction.parts}
    assert "This is a protected document" in parts[("slide", "Slide 1")]
    assert "we have some notes" in parts[("notes", "Slide 1")]


@pytest.mark.parametrize("row", MALFORMED, ids=_ids(MALFORMED))
def test_malformed_files_end_with_a_clear_status(corpus: Path, tmp_path: Path, row: dict[str, str]) -> None:
    started = time.monotonic()
    outcome = run(corpus / row["path"], tmp_path)
    assert time.monotonic() - started < 10
    assert outcome.status in ("ok", "corrupt", "unsupported")
    if outcome.status != "ok":
        assert outcome.reason.startswith(("DOC is damaged", "XLS is damaged", "PPT is damaged")), (
            outcome.reason
        )


def test_strip_field_codes_keeps_results_of_nested_fields() -> None:
    raw = "See \x13 HYPERLINK \x13 REF x \x14inner\x15 \x14the site\x15 now\x13 PAGE \x15."
    assert _strip_field_codes(raw) == "See the site now."


def test_clean_word_text_maps_special_characters() -> None:
    raw = "Title\r\ra\x07b\x07\x07c\x07d\x07\x07line\x0bbreak\x0cnext\x1e1\x1fx\x02"
    assert _clean_word_text(raw) == "Title\n\na\tb\nc\td\nline\nbreak\nnext-1x"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (-12.0, "-12"),
        (0.1, "0.1"),
        (12.300000000000001, "12.3"),
        (1e20, "1e+20"),
        (2.5e-7, "2.5e-07"),
    ],
)
def test_number_text(value: float, text: str) -> None:
    assert _number_text(value) == text


def test_date_text() -> None:
    assert _date_text(36788.0, 0) == "2000-09-19"
    assert _date_text(36788.5, 0) == "2000-09-19T12:00:00"
    assert _date_text(0.25, 0) == "06:00:00"
    assert _date_text(-5.0, 0) == "-5"
