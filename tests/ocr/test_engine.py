"""OCR below the pipeline: languages, text-layer judgement, rotated and skewed images, TIFF pages, PDFs."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from app.extract import ocr
from app.extract.base import ExtractContext, Extraction, Part
from app.extract.image import ImageExtractor
from app.extract.pdf import PdfExtractor
from tests.ocr.samples import LINES, caesar, scanned_pdf, squash, text_image


def ctx(tmp_path: Path, **kw: object) -> ExtractContext:
    return ExtractContext(work_dir=tmp_path, **kw)  # type: ignore[arg-type]


# -- languages and the contract --------------------------------------------------------------------------


def test_english_is_installed_with_the_project() -> None:
    assert "eng" in ocr.installed_languages()
    assert "osd" not in ocr.installed_languages()
    assert ocr.unavailable_reason("eng") is None
    assert ocr.tesseract_version().startswith("Tesseract 5")


def test_language_specs() -> None:
    assert ocr.normalize_languages("eng, deu+eng") == "eng+deu"
    assert ocr.normalize_languages(["fra", "eng"]) == "fra+eng"
    with pytest.raises(ValueError):
        ocr.normalize_languages("eng;rm -rf")
    reason = ocr.unavailable_reason("eng+xyz")
    assert reason and "xyz" in reason and "installed: " in reason


def test_engine_id_changes_with_languages() -> None:
    assert ocr.engine_id("eng") == ocr.engine_id("eng")
    assert ocr.engine_id("eng") != ocr.engine_id("eng+xyz")


def test_part_words_survive_json_and_old_results_still_load() -> None:
    words = (("Panda", 100, 200, 300, 260, 91, 0), ("Int", 320, 200, 400, 260, 88, 0))
    ex = Extraction(doc_type="image", parts=(Part("page", "1", "Panda Int", origin="ocr", words=words),))
    back = Extraction.from_json(ex.to_json())
    assert back == ex
    blank = Extraction(doc_type="image", parts=(Part("page", "1", "", origin="ocr", words=()),))
    assert Extraction.from_json(blank.to_json()).parts[0].words == ()
    old = {"doc_type": "pdf", "parts": [{"kind": "page", "label": "1", "text": "x", "needs_ocr": True}]}
    part = Extraction.from_json(old).parts[0]
    assert part.origin == "text" and part.words is None and part.needs_ocr


# -- which text layers are bad -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "\n".join(LINES * 3),
        "Sehr geehrte Damen und Herren, die Rechnung für den Auftrag ist beigefügt und wir bitten um Zahlung "
        "innerhalb von dreißig Tagen auf das angegebene Konto der Gesellschaft.",
        "Договор поставки № 17 между ООО «Ромашка» и компанией Panda International подписан в Москве.",
        "本合同由双方于二零一七年签订，付款条件为三十天。本合同由双方签订。",
        "Name Amount Date\nSmith 1,200.00 2019-03-01\nJones 3,400.50 2019-03-02\nBrown 980.10 2019-03-04\n"
        * 4,
        "Page 3",
    ],
)
def test_good_text_layers_pass(text: str) -> None:
    assert ocr.text_layer_problem(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "\x01\x02\x02\x03\x04\x05\x06\x03\x02\x07\x08 \x01\x02\x03\x04\x05\x06\x07\x05\x03\x08 " * 10,
        "\ufffd\ufffd\ufffd \ufffd\ufffd\ufffd\ufffd \ufffd\ufffd " * 20,
        "!\"#$ %&'()* +,-./ !#$% &'( )*+, -./!" * 10,
        caesar("\n".join(LINES * 3)),
    ],
)
def test_garbled_text_layers_are_caught(text: str) -> None:
    assert ocr.text_layer_problem(text) == "garbled"


def test_whitespace_only_layer_is_empty() -> None:
    assert ocr.text_layer_problem(" \n\t \n") == "empty"


def test_ocr_replaces_a_garbled_layer_only_when_the_layer_disagrees() -> None:
    page = "\n".join(LINES)
    assert ocr.prefer_ocr(caesar(page), page, 90.0)
    assert not ocr.prefer_ocr(page + "\x01\x02\x03", page, 90.0)  # the layer was fine after all
    assert not ocr.prefer_ocr(caesar(page), page, 20.0)  # the OCR is no better


# -- images ----------------------------------------------------------------------------------------------


def test_rotated_image_is_read_upright_with_boxes_on_the_image_as_shown(tmp_path: Path) -> None:
    upright = text_image()
    path = tmp_path / "turned.png"
    upright.rotate(90, expand=True, fillcolor=255).save(path)  # a page scanned sideways
    ex = ImageExtractor().extract(path, ctx(tmp_path, ocr_languages="eng"))
    (part,) = ex.parts
    assert part.origin == "ocr" and not part.needs_ocr
    assert "quarterly shipment report for panda international" in squash(part.text)
    assert ex.metadata["ocr_turned_pages"] == ["1"]
    # "Panda" sits in the top line of the upright page; turned 90° counter-clockwise, that line runs up
    # the left side of the image as stored, which is where its box must be.
    panda = next(w for w in part.words or () if w[0].startswith("Panda"))
    _, x0, y0, x1, y1, conf, _ = panda
    assert conf > 60
    assert x1 < 3500 and y1 - y0 > x1 - x0  # left third, and taller than wide (the word runs upwards)


def test_skewed_scan_is_straightened(tmp_path: Path) -> None:
    path = tmp_path / "skewed.jpg"
    text_image().rotate(-6, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC).save(
        path, quality=90
    )
    ex = ImageExtractor().extract(path, ctx(tmp_path, ocr_languages="eng"))
    text = squash(ex.parts[0].text)
    assert "signed contract to the legal department" in text


def test_multipage_tiff_gives_one_page_per_frame(tmp_path: Path) -> None:
    first = text_image(("Meridian Holdings first frame",))
    second = text_image(("Second frame mentions Panda International",))
    path = tmp_path / "fax.tif"
    first.save(path, save_all=True, append_images=[second], compression="tiff_deflate")
    ex = ImageExtractor().extract(path, ctx(tmp_path, ocr_languages="eng"))
    assert [p.label for p in ex.parts] == ["1", "2"]
    assert ex.metadata["page_count"] == 2
    assert "meridian holdings" in squash(ex.parts[0].text)
    assert "panda international" in squash(ex.parts[1].text)
    assert "panda" not in squash(ex.parts[0].text)


def test_image_without_ocr_is_listed_as_waiting(tmp_path: Path) -> None:
    path = tmp_path / "page.webp"
    text_image().convert("RGB").save(path)
    ex = ImageExtractor().extract(path, ctx(tmp_path))
    assert ex.doc_type == "image" and ex.metadata["image_format"] == "WEBP"
    assert [p.needs_ocr for p in ex.parts] == [True] and ex.metadata["needs_ocr_pages"] == ["1"]


def test_cached_pages_are_not_recognised_again(tmp_path: Path) -> None:
    path = tmp_path / "page.png"
    text_image().save(path)
    engine = ocr.get_engine("eng")
    before = engine.pages_recognised
    known = {1: ("Text from the cache", 90.0)}
    ex = ImageExtractor().extract(path, ctx(tmp_path, ocr_languages="eng", ocr_known=known))
    assert engine.pages_recognised == before
    assert ex.parts[0].text == "Text from the cache" and ex.parts[0].words is None


# -- PDFs --------------------------------------------------------------------------------------------------


def test_scanned_pdf_page_is_ocrd(tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "scan.pdf")
    ex = PdfExtractor().extract(path, ctx(tmp_path, ocr_languages="eng"))
    (part,) = ex.parts
    assert part.origin == "ocr" and not part.needs_ocr and part.words
    assert "meridian holdings" in squash(part.text)
    assert ex.metadata["ocr_pages"] == ["1"] and "needs_ocr_pages" not in ex.metadata


def test_garbled_text_layer_is_detected_and_replaced(tmp_path: Path) -> None:
    lines = LINES * 2
    path = scanned_pdf(tmp_path / "garbled.pdf", lines, layer=caesar("\n".join(lines)))
    with pymupdf.open(path) as doc:
        assert "Sdqgd" in doc[0].get_text()  # the layer really is garbage
    ex = PdfExtractor().extract(path, ctx(tmp_path, ocr_languages="eng"))
    (part,) = ex.parts
    assert ex.metadata["garbled_text_pages"] == ["1"]
    assert part.origin == "ocr"
    assert "panda international" in squash(part.text) and "sdqgd" not in squash(part.text)


def test_garbled_layer_without_ocr_is_flagged(tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "garbled.pdf", LINES * 2, layer=caesar("\n".join(LINES * 2)))
    ex = PdfExtractor().extract(path, ctx(tmp_path))
    assert ex.parts[0].needs_ocr and ex.parts[0].origin == "text"
    assert ex.metadata["needs_ocr_pages"] == ["1"]


def test_stamp_on_a_scan_is_kept_beside_the_ocr_text(tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "stamped.pdf", layer="CONFIDENTIAL-000123 produced under subpoena")
    ex = PdfExtractor().extract(path, ctx(tmp_path, ocr_languages="eng"))
    text = squash(ex.parts[0].text)
    assert "meridian holdings" in text and "confidential-000123" in text


def test_text_pdfs_are_left_alone(tmp_path: Path) -> None:
    from tests.ocr.samples import text_page_pdf

    path = tmp_path / "text.pdf"
    with text_page_pdf() as doc:
        doc.save(path)
    engine = ocr.get_engine("eng")
    before = engine.pages_recognised
    ex = PdfExtractor().extract(path, ctx(tmp_path, ocr_languages="eng"))
    assert engine.pages_recognised == before
    assert ex.parts[0].origin == "text" and "ocr_engine" not in ex.metadata


CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "real"


@pytest.mark.parametrize("source", ["blank", "photo"])
def test_image_with_nothing_legible_is_read_as_no_text(tmp_path: Path, source: str) -> None:
    if source == "blank":
        path = tmp_path / "blank.png"
        Image.new("RGB", (800, 600), "white").save(path)
    else:  # the picture attached to a real email of the corpus (a logo: no words in it)
        from email import policy
        from email.parser import BytesParser

        message = BytesParser(policy=policy.default).parse(
            (CORPUS / "eml" / "tika_testEmailWithPNGAtt.eml").open("rb")
        )
        attachment = next(message.iter_attachments())
        path = tmp_path / attachment.get_filename()
        path.write_bytes(attachment.get_content())
    ex = ImageExtractor().extract(path, ctx(tmp_path, ocr_languages="eng"))
    assert [p.needs_ocr for p in ex.parts] == [False]
    assert len(ex.parts[0].text) < 20  # nothing, or a few specks read as letters; never an error
