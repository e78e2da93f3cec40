"""Every hostile file ends with a status and a readable reason; the import completes; originals unchanged."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from db.models import Document
from tests.conftest import CORPUS, manifest

HOSTILE = [r for r in manifest() if r["path"].startswith("hostile/")] if CORPUS.is_dir() else []


@pytest.fixture(scope="module")
def hostile_case(tmp_path_factory: pytest.TempPathFactory, corpus):  # noqa: ANN001, ANN201
    from tests.corpus_case import import_corpus

    case = import_corpus(tmp_path_factory.mktemp("hostile") / "case", [corpus / "hostile"], timeout_s=45.0)
    yield case
    case.services.close()


def test_import_completes_and_every_file_has_a_status(hostile_case) -> None:
    summary = hostile_case.summary
    assert not summary.interrupted
    with hostile_case.services.case.reader() as s:
        rows = s.execute(select(Document.sha256, Document.status, Document.reason)).all()
    by_sha = {sha: (status, reason) for sha, status, reason in rows}
    for row in HOSTILE:
        status, reason = by_sha[row["sha256"]]
        assert status != "pending", row["path"]
        if status != "ok":
            assert reason and "Traceback" not in reason and len(reason) < 600, row["path"]
            assert "/blobs/" not in reason, row["path"]  # reasons name the problem, not our storage


@pytest.mark.parametrize(
    ("name", "statuses"),
    [
        ("zip-bomb/recext_zbsm.zip", {"too_large"}),
        ("zip-bomb/recext_10GB.zip.bz2", {"too_large"}),
        ("encrypted/tika_testPDF_protected.pdf", {"encrypted", "ok"}),
        ("encrypted/pypdf_libreoffice-writer-password.pdf", {"encrypted"}),
        ("encrypted/tika_testWORD_protected_passtika.docx", {"encrypted"}),
        ("xml-bomb/poi_poc-xmlbomb.xlsx", {"corrupt", "ok"}),
        ("zip-traversal/recext_zip-slip.zip", {"ok"}),
    ],
)
def test_expected_outcomes(hostile_case, name: str, statuses: set[str]) -> None:
    row = next(r for r in HOSTILE if r["path"] == f"hostile/{name}")
    doc = hostile_case.doc_by_sha(row["sha256"])
    assert doc.status in statuses, (doc.status, doc.reason)


def test_traversal_members_never_escape(hostile_case, tmp_path_factory) -> None:  # noqa: ANN001
    case_root = hostile_case.services.case.root
    # Everything the import wrote lives inside the case folder.
    for path in case_root.rglob("*"):
        assert path.resolve().is_relative_to(case_root.resolve())
    assert not list(case_root.rglob("tmp/work/*"))


def test_hostile_originals_unchanged(hostile_case) -> None:
    for row in HOSTILE:
        assert hashlib.sha256((CORPUS / row["path"]).read_bytes()).hexdigest() == row["sha256"]
        blob = hostile_case.services.case.blob_path(row["sha256"])
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == row["sha256"]


def test_a_leak_holding_our_package_names_runs_none_of_its_code(tmp_path, corpus) -> None:  # noqa: ANN001
    """A reporter runs the import from inside a leaked source tree that has `app/`, `db/` and `index/`
    packages: the workers and the index process load Dossier's code, never the leak's."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    leak = tmp_path / "leak"
    ran = tmp_path / "leak-code-ran"
    for package in ("app", "app/pipeline", "app/extract", "db", "index"):
        (leak / package).mkdir(parents=True)
        (leak / package / "__init__.py").write_text(f"open({str(ran)!r}, 'a').write({package!r} + '\\n')\n")
    for pdf in sorted((corpus / "real" / "pdf").glob("*.pdf"))[:2]:
        shutil.copy(pdf, leak / pdf.name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    proc = subprocess.run(
        [sys.executable, str(repo / "main.py"), "--case", str(tmp_path / "case"), "import", ".", "--json"],
        cwd=leak,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert not ran.exists(), ran.read_text()
    summary = json.loads(proc.stdout)
    assert summary["by_type"]["pdf"] == 2 and summary["by_status"] == {"ok": summary["documents"]}
