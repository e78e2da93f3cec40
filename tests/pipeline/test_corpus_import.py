"""Every file of the real corpus imports, with its known text, byte-identical originals and provenance."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import CORPUS, known_text, normalise, real_rows

UNSUPPORTED_FORMATS = {"wpd", "pub"}  # real/other: stored and listed, not read


def test_every_real_file_is_accounted_for(real_case) -> None:
    missing, failed = [], []
    for row in real_rows():
        doc = real_case.doc_by_sha(row["sha256"])
        if doc is None:
            missing.append(row["path"])
            continue
        expected = "unsupported" if row["format"] in UNSUPPORTED_FORMATS else "ok"
        if doc.status != expected:
            failed.append(f"{row['path']}: {doc.status} {doc.reason}")
    assert not missing, missing
    assert not failed, failed


@pytest.mark.parametrize(
    "row", [r for r in real_rows() if known_text(r["notes"])], ids=lambda r: r["path"].split("/", 1)[1]
)
def test_known_text_is_extracted(real_case, row) -> None:
    doc = real_case.doc_by_sha(row["sha256"])
    assert doc is not None, row["path"]
    phrase = normalise(known_text(row["notes"]))
    assert phrase in normalise(real_case.family_text(doc.id)), f"{row['path']} lacks {phrase!r}"


def test_originals_are_stored_byte_for_byte(real_case) -> None:
    case = real_case.services.case
    for row in real_rows():
        blob = case.blob_path(row["sha256"])
        assert blob.is_file(), row["path"]
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == row["sha256"]
        # …and the source files were not touched.
        assert hashlib.sha256((CORPUS / row["path"]).read_bytes()).hexdigest() == row["sha256"]


def test_provenance_and_summary(real_case) -> None:
    summary = real_case.summary
    assert summary.new >= len(real_rows()) - 2  # two manifest rows share content with another file
    assert not summary.interrupted
    detail = real_case.services.documents.detail(real_case.doc_by_sha(real_rows()[0]["sha256"]).id)
    assert detail.sources and detail.sources[0]["path"].startswith(str(CORPUS))
    assert detail.attempts and detail.attempts[-1]["extractor"]


def test_containers_have_children(real_case) -> None:
    rows = [r for r in real_rows() if r["path"].startswith(("real/zip/", "real/mbox/"))]
    with_children = [r for r in rows if len(real_case.family_ids(real_case.doc_by_sha(r["sha256"]).id)) > 1]
    assert len(with_children) >= len(rows) - 1


def test_scanned_pages_are_flagged(real_case) -> None:
    """Scanned pages are OCR'd during the import (tests/ocr), or flagged for a later `ocr` run."""
    for row in real_rows():
        if row["path"].startswith("real/pdf-scanned/"):
            doc = real_case.doc_by_sha(row["sha256"])
            assert doc.needs_ocr or doc.meta.get("ocr_pages"), row["path"]


def test_nothing_real_inside_a_container_is_called_damaged(real_case) -> None:
    """Attachments, embedded objects and archive members of real files are read, or listed as unsupported
    with what they are (an embedded chart, a RAR archive), never `corrupt`: a picture without legible
    text is a picture, and an Office file's embedded chart is no damaged spreadsheet."""
    from sqlalchemy import select

    from db.models import Document

    with real_case.services.case.reader() as s:
        rows = s.execute(
            select(Document.file_name, Document.status, Document.reason).where(
                Document.parent_id.is_not(None)
            )
        ).all()
    assert len(rows) > 100
    damaged = [f"{name}: {reason}" for name, status, reason in rows if status in ("corrupt", "crashed")]
    assert not damaged, damaged
    charts = [reason for name, status, reason in rows if name == "oleObject1.bin"]
    assert charts and all("Microsoft Graph chart" in r for r in charts)
