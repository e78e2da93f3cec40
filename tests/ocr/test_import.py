"""OCR through the pipeline: import, search, the OCR cache, `--no-ocr`, the `ocr` command, word boxes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.cli import main as cli_main
from app.extract.base import Limits
from app.ocr import hit_boxes, page_words, run_ocr
from app.pipeline.importer import ImportFailed, ImportOptions
from app.services import build_services
from db.models import Document, OcrCache, Part
from tests.conftest import manifest
from tests.ocr.samples import LINES, scanned_pdf, text_image

OCR_ONLY = re.compile(r"known text \(only in the scanned image[^)]*\): (.+)$")


def scanned_rows() -> list[dict[str, str]]:
    rows = []
    for row in manifest():
        m = OCR_ONLY.search(row["notes"])
        if m and row["path"].startswith("real/pdf-scanned/"):
            rows.append({**row, "phrase": m.group(1).strip()})
    return rows


def options(**kw: object) -> ImportOptions:
    return ImportOptions(workers=2, limits=Limits(timeout_s=120, memory_mb=2048), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def scanned_case(tmp_path_factory: pytest.TempPathFactory, corpus: Path):
    rows = scanned_rows()
    assert len(rows) >= 2, "the corpus lists scanned PDFs with OCR-only phrases"
    services = build_services(tmp_path_factory.mktemp("ocr") / "case", create=True)
    summary = services.import_paths([corpus / r["path"] for r in rows], options())
    yield services, summary, rows
    services.close()


def test_known_phrases_of_scanned_pdfs_are_found_by_phrase_search(scanned_case) -> None:
    services, summary, rows = scanned_case
    assert summary.ocr_pages >= len(rows)
    for row in rows:
        results = services.search.search(f'"{row["phrase"]}"')
        hits = [h for h in results.hits if row["path"].split("/")[-1] in " ".join(h.paths)]
        assert hits, f"{row['path']}: {row['phrase']!r} not found"
        assert any(loc.get("ocr") for loc in hits[0].locations), hits[0].locations
        assert "<mark>" in hits[0].snippet


def test_ocr_text_is_stored_per_page_and_cached(scanned_case) -> None:
    services, _, rows = scanned_case
    with services.case.reader() as s:
        enron = s.scalar(select(Document).where(Document.file_name.like("enron_%")))
        origins = list(
            s.scalars(select(Part.origin).where(Part.document_id == enron.id).order_by(Part.ordinal))
        )
        cached = s.scalar(select(func.count(OcrCache.id)).where(OcrCache.sha256 == enron.sha256))
    # Pages 1-3 are scans, 4-8 have a text layer.
    assert origins[:3] == ["ocr"] * 3 and set(origins[3:]) == {"text"}
    assert cached == 3
    assert not enron.needs_ocr and enron.meta["ocr_pages"] == ["1", "2", "3"]


def test_rerun_and_reimport_take_pages_from_the_cache(scanned_case) -> None:
    services, first, rows = scanned_case
    again = run_ocr(services, _ids(services), options())
    assert again.ocr_pages == 0 and again.ocr_cached == first.ocr_pages
    # Deleted and imported again: a new document, the same content, no page recognised twice.
    enron = next(r for r in rows if "enron" in r["path"])
    doc_id = services.search.search(f'"{enron["phrase"]}"').hits[0].id
    services.delete_document(doc_id)
    assert services.search.search(f'"{enron["phrase"]}"').total == 0
    from tests.conftest import CORPUS

    back = services.import_paths([CORPUS / enron["path"]], options())
    assert back.new == 1 and back.ocr_pages == 0 and back.ocr_cached == 3
    assert services.search.search(f'"{enron["phrase"]}"').total == 1
    services.search.reindex()  # the index is rebuilt from stored text: nothing to OCR
    assert services.search.search(f'"{enron["phrase"]}"').total == 1


def test_word_boxes_highlight_hits_on_the_scan(scanned_case) -> None:
    services, _, rows = scanned_case
    tika = next(r for r in rows if "tika" in r["path"])
    hit = services.search.search(f'"{tika["phrase"]}"').hits[0]
    words = page_words(services.case, hit.id)[1]
    needle = tika["phrase"].casefold()

    def spans(text: str) -> list[tuple[int, int]]:
        i = text.casefold().find(needle)
        return [] if i < 0 else [(i, i + len(needle))]

    boxes = hit_boxes(words, spans)
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0][0]
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and x1 - x0 > 0.2


def _ids(services) -> list[int]:
    with services.case.reader() as s:
        return list(s.scalars(select(Document.id)))


# -- through the command line --------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli_main(list(args))
    return code, capsys.readouterr().out


def test_no_ocr_then_the_ocr_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = str(tmp_path / "case")
    scan = scanned_pdf(tmp_path / "scan.pdf")
    image = tmp_path / "photo.png"
    text_image(("Offshore account opened for Meridian Holdings",)).save(image)
    code, out = run_cli(capsys, "--case", case, "import", "--no-ocr", "--json", str(scan), str(image))
    summary = json.loads(out)
    assert code == 0 and summary["ocr_pages"] == 0 and summary["by_type"] == {"pdf": 1, "image": 1}
    code, out = run_cli(capsys, "--case", case, "search", '"Meridian Holdings"', "--json")
    assert json.loads(out)["total"] == 0

    code, out = run_cli(capsys, "--case", case, "ocr", "--json")
    assert code == 0 and json.loads(out)["ocr_pages"] == 2
    code, out = run_cli(capsys, "--case", case, "search", '"Meridian Holdings"', "--json")
    found = json.loads(out)
    assert found["total"] == 2 and {h["type"] for h in found["hits"]} == {"pdf", "image"}
    assert all(h["locations"][0]["ocr"] for h in found["hits"])
    code, out = run_cli(capsys, "--case", case, "ocr")
    assert code == 0 and "No document is waiting for OCR" in out
    code, out = run_cli(capsys, "--case", case, "ocr", "--all", "--json")
    assert json.loads(out)["ocr_pages"] == 0 and json.loads(out)["ocr_cached"] == 2


def test_languages_are_listed_and_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "case"
    scan = scanned_pdf(tmp_path / "scan.pdf", LINES)
    build_services(case, create=True).close()
    code, out = run_cli(capsys, "--case", str(case), "ocr", "--languages", "--json")
    info = json.loads(out)
    assert "eng" in info["installed"] and info["case_default"] == "eng"
    assert run_cli(capsys, "--case", str(case), "ocr", "--set-lang", "eng")[0] == 0
    assert cli_main(["--case", str(case), "ocr", "--set-lang", "xyz"]) == 1
    assert "not installed: xyz" in capsys.readouterr().err
    assert cli_main(["--case", str(case), "import", "--ocr-lang", "eng+xyz", str(scan)]) == 1
    assert "xyz" in capsys.readouterr().err
    with build_services(case) as services, pytest.raises(ImportFailed, match="xyz"):
        services.import_paths([scan], options(ocr_languages="xyz"))
