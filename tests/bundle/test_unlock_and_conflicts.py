"""Service methods behind the app's windows: unlocking an encrypted document, deciding merge conflicts."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pymupdf
import pytest
from sqlalchemy import func, select

from app.bundle.export import BundleError
from app.bundle.merge import conflict_values, list_conflicts, settle_conflict
from app.cli import main as cli_main
from app.pipeline.importer import ImportOptions
from app.services import build_services
from app.unlock import UnlockError
from db.models import AuditEntry, Document, ExtractionAttempt


def _locked_pdf(path: Path, text: str, password: str) -> Path:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text, fontsize=12)
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password + "-owner")
    doc.close()
    return path


def test_unlock_with_a_wrong_then_a_right_password(tmp_path: Path) -> None:
    leak = tmp_path / "leak"
    leak.mkdir()
    _locked_pdf(leak / "locked.pdf", "Offshore account of Meridian Holdings", "s3cret")
    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths([leak], ImportOptions(workers=1, ocr=False))
        with services.case.reader() as s:
            doc = s.scalar(select(Document))
            doc_id, revision, sha = doc.id, doc.revision, doc.sha256
            attempts = s.scalar(select(func.count(ExtractionAttempt.id)))
        assert doc.status == "encrypted"
        blob = services.case.blob_path(sha)

        with pytest.raises(UnlockError, match="wrong password"):
            services.unlock(doc_id, "guess")
        with services.case.reader() as s:
            doc = s.get(Document, doc_id)
            assert (doc.status, doc.revision) == ("encrypted", revision)
            assert s.scalar(select(func.count(ExtractionAttempt.id))) == attempts
            assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "unlock")) == 0
        assert services.search.search('"Meridian Holdings"').total == 0

        report = services.unlock(doc_id, "s3cret")
        assert report.status == "ok" and report.parts == 1
        assert [h.id for h in services.search.search('"Meridian Holdings"').hits] == [doc_id]
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == sha  # the original is as it was
        with services.case.reader() as s:
            entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "unlock"))
            assert entry.document_id == doc_id and "s3cret" not in str(entry.detail)

        with pytest.raises(UnlockError, match="not encrypted"):
            services.unlock(doc_id, "s3cret")


def test_unlock_command(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = str(tmp_path / "case")
    xls = corpus / "hostile/encrypted/poi_password.xls"
    assert cli_main(["--case", case, "import", "--no-ocr", str(xls)]) == 0
    capsys.readouterr()
    assert cli_main(["--case", case, "unlock", "1", "--password", "nope"]) == 1
    assert "wrong password" in capsys.readouterr().err
    assert cli_main(["--case", case, "unlock", "1", "--password", "password"]) == 0
    assert "Unlocked #1: ok" in capsys.readouterr().out
    assert cli_main(["--case", case, "search", '"most commercial mail servers"']) == 0
    assert "poi_password.xls" in capsys.readouterr().out


def _pdf(path: Path, text: str) -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text, fontsize=12)
    doc.save(path)
    doc.close()


def test_conflicts_are_decided_keep_local_or_take_theirs(tmp_path: Path) -> None:
    leak = tmp_path / "leak"
    leak.mkdir()
    _pdf(leak / "memo.pdf", "Work order WO-2017-0413 for the tower.")
    _pdf(leak / "invoice.pdf", "Invoice 2017-5531 pays for WO-2017-0413.")
    mine = build_services(tmp_path / "mine", create=True)
    theirs = build_services(tmp_path / "theirs", create=True)
    try:
        mine.review.reviewer, theirs.review.reviewer = "Ana", "Bo"
        for services in (mine, theirs):
            services.import_paths([leak], ImportOptions(workers=1, ocr=False))
        ids = {d.title: d.id for d in mine.documents.iter_summaries()}
        mine.review.set_status("relevant", list(ids.values()))
        time.sleep(1.1)  # their decisions are the later ones
        theirs.review.set_status("not_relevant", [d.id for d in theirs.documents.iter_summaries()])
        bundle = tmp_path / "theirs.dossier.zip"
        theirs.export_bundle(bundle, [d.id for d in theirs.documents.iter_summaries()])
        report = mine.merge_bundle(bundle)
        assert len(report.conflicts) == 2
        conflicts = list_conflicts(mine.case)
        assert [conflict_values(c) for c in conflicts] == [("relevant", "not_relevant")] * 2
        first, second = conflicts

        assert settle_conflict(mine.case, first["id"], "local", reviewer="Ana") == "relevant"
        assert settle_conflict(mine.case, second["id"], "theirs", reviewer="Ana") == "not_relevant"
        statuses = {d.id: d.review_status for d in mine.documents.iter_summaries()}
        assert statuses[first["document_id"]] == "relevant"
        assert statuses[second["document_id"]] == "not_relevant"
        assert list_conflicts(mine.case) == []
        actions = [e.action for e in mine.review.audit(first["document_id"])]
        assert actions[:2] == ["conflict_resolve", "status"]
        assert not mine.merge_bundle(bundle).changed  # decided conflicts do not come back
        assert list_conflicts(mine.case) == []
        with pytest.raises(BundleError, match="decided already"):
            settle_conflict(mine.case, first["id"], "theirs", reviewer="Ana")
        with pytest.raises(BundleError):
            settle_conflict(mine.case, second["id"], "mine", reviewer="Ana")
    finally:
        mine.close()
        theirs.close()
