"""Faults: a full disk while copying and committing, damaged originals and index, leftovers — `doctor`."""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.doctor import run_doctor
from app.pipeline.blobstore import BlobStore
from app.pipeline.importer import ImportFailed
from app.services import build_services
from db.models import Document, ImportRun
from tests.fixtures.reliability import record


@pytest.fixture
def leak(tmp_path: Path, corpus: Path) -> Path:
    root = tmp_path / "leak"
    root.mkdir()
    for pdf in sorted((corpus / "real" / "pdf").glob("enron_*"))[:6]:
        shutil.copy2(pdf, root / pdf.name)
    return root


def test_disk_full_while_copying_is_a_clear_error(
    tmp_path: Path, leak: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add = BlobStore.add_file
    calls = {"n": 0}

    def add_file(self, source, *, move=False):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_add(self, source, move=move)

    monkeypatch.setattr(BlobStore, "add_file", add_file)
    with build_services(tmp_path / "case", create=True) as services:
        with pytest.raises(ImportFailed, match="disk holding the case is full"):
            services.import_paths([leak])
        with services.case.reader() as s:
            assert s.scalar(select(ImportRun.status)) == "failed"
            # Nothing half-written: every committed document is complete or pending (resumable).
            assert set(s.scalars(select(Document.status))) <= {"ok", "pending"}
        assert not list(services.case.tmp_dir.glob("blob-*"))
    monkeypatch.setattr(BlobStore, "add_file", real_add)
    with build_services(tmp_path / "case") as services:
        summary = services.import_paths([leak])
        assert not summary.interrupted
        with services.case.reader() as s:
            assert s.scalar(select(func.count(Document.id)).where(Document.status == "ok")) == 6


def test_disk_full_while_committing_rolls_back(
    tmp_path: Path, leak: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    real_commit = Session.commit
    state = {"n": 0}

    def commit(self):  # noqa: ANN001, ANN202
        state["n"] += 1
        if state["n"] == 2:
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database or disk is full"))
        return real_commit(self)

    with build_services(tmp_path / "case", create=True) as services:
        monkeypatch.setattr(Session, "commit", commit)
        with pytest.raises(ImportFailed, match="disk holding the case is full"):
            services.import_paths([leak])
        monkeypatch.setattr(Session, "commit", real_commit)
        conn = sqlite3.connect(services.case.db_path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        summary = services.import_paths([leak])
        assert summary.case_documents == 6


def test_doctor_repairs_originals_index_and_leftovers(tmp_path: Path, leak: Path) -> None:
    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths([leak])
        doc = next(services.documents.iter_summaries())
        blob = services.case.blob_path(doc.sha256)
        blob.chmod(0o644)
        blob.write_bytes(b"damaged")
        (services.case.tmp_dir / "work").mkdir()
        services.search.index.close()
        for f in services.case.index_dir.glob("*.seg"):
            f.write_bytes(b"garbage")
        report = run_doctor(services)
        failed = {f.check: f for f in report.findings if not f.ok}
        assert set(failed) == {"stored originals", "temporary files", "search index"}
        assert all(f.repaired for f in failed.values()) and report.ok
        assert run_doctor(services).ok and all(f.ok for f in run_doctor(services).findings)
        assert services.search.matching_ids('"Optional Life Insurance Plan"')


def test_second_instance_is_refused_with_a_message(tmp_path: Path) -> None:
    from tests.test_cli import dossier

    with build_services(tmp_path / "case", create=True):
        proc = dossier("--case", str(tmp_path / "case"), "tag", "add", "x", "1", check=False)
        assert proc.returncode == 1 and "open in another Dossier" in proc.stderr
        # Reading still works: the second instance opens the case read-only.
        assert dossier("--case", str(tmp_path / "case"), "list", "--json").returncode == 0


def test_worker_channel_survives_10000_garbled_messages() -> None:
    import json
    import random

    from app.pipeline.workers import Task, decode_result

    rng = random.Random(7)
    task = Task(task_id=42, path="/x", name_hint="x", work_dir="/tmp")
    good = json.dumps(
        {
            "task_id": 42,
            "status": "ok",
            "reason": "",
            "doc_type": "text",
            "extraction": {"doc_type": "text", "parts": [{"kind": "body", "label": "body", "text": "hi"}]},
        }
    ).encode()
    outcomes = set()
    for i in range(10_000):
        kind = i % 4
        if kind == 0:
            payload = rng.randbytes(rng.randint(0, 200))
        elif kind == 1:
            payload = good[: rng.randint(0, len(good) - 1)]
        elif kind == 2:
            payload = bytearray(good)
            for _ in range(rng.randint(1, 5)):
                payload[rng.randrange(len(payload))] = rng.randrange(256)
            payload = bytes(payload)
        else:
            payload = json.dumps(
                rng.choice(
                    [
                        None,
                        [],
                        {},
                        {"task_id": 42},
                        {"task_id": 42, "status": "ok", "extraction": {"parts": "x"}},
                        "x",
                        1.5,
                    ]
                )
            ).encode()
        result = decode_result(task, payload, 0.0)
        assert result.task_id == 42
        outcomes.add(result.status)
    assert "crashed" in outcomes and outcomes <= {"ok", "crashed"}
    assert decode_result(task, good, 0.0).status == "ok"
    record("fault", "worker channel: 10,000 random/truncated messages", f"decoded as {sorted(outcomes)}", 0.0)
