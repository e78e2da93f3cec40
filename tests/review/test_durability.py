"""Acknowledged review actions survive SIGKILL at random moments, with and without an import running."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.pipeline.importer import ImportOptions
from app.services import build_services
from db.models import Document, DocumentTag, Link, Note, Tag
from tests.fixtures.reliability import record, scale

REPO = Path(__file__).resolve().parents[2]


def _prepare(tmp_path: Path) -> Path:
    leak = tmp_path / "seed"
    leak.mkdir()
    for i in range(6):
        doc = {
            "doc_type": "text",
            "title": f"doc {i}",
            "parts": [{"kind": "body", "label": "body", "text": f"text {i}"}],
        }
        (leak / f"{i}.json").write_text(json.dumps(doc))
    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths(
            [leak], ImportOptions(workers=1, extractor="tests.fixtures.bad_extractors:JsonFixture")
        )
    return tmp_path / "case"


def _kill_run(case: Path, rng: random.Random, import_dir: Path | None) -> tuple[list[str], str | None]:
    """The acknowledged actions of a run killed at a random moment, and the status change it had begun
    without acknowledging (`DO …`; it may have been committed just before the kill), if any."""
    args = [sys.executable, "-m", "tests.review.review_stream", str(case)] + (
        [str(import_dir)] if import_dir else []
    )
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = proc.stdout.readline()  # start the clock once actions flow (start-up time varies with load)
    time.sleep(rng.uniform(0.05, 1.5))
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    # A line cut by the kill was never acknowledged.
    lines = [line for line in (first + out).splitlines() if line.count(" ") >= 3]
    acked = [line for line in lines if line.startswith("ACK ")]
    begun = lines[-1] if lines and lines[-1].startswith("DO ") else None
    return acked, begun


def _check(case: Path, acked: list[str], begun: str | None = None) -> None:
    conn = sqlite3.connect(case / "case.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with build_services(case) as services, services.case.reader() as s:
        for line in acked:
            _, kind, a, b, *rest = line.split(" ")
            if kind == "tag":
                tag_id = s.scalar(select(Tag.id).where(Tag.key == a))
                assert tag_id is not None, line
                assert s.get(DocumentTag, (int(b), tag_id)) is not None, line
            elif kind == "note":
                note = s.get(Note, int(a))
                assert note is not None and note.text == " ".join(rest), line
            elif kind == "link":
                link = s.get(Link, int(a))
                assert link is not None and (link.source_id, link.target_id) == (int(b), int(rest[0])), line
        # The last acknowledged status of each document is its status now.
        last: dict[int, str] = {}
        for line in acked:
            _, kind, a, b, *_ = line.split(" ")
            if kind == "status":
                last[int(b)] = a
        # A status change begun after the last acknowledgement may have been committed before the kill.
        unacknowledged = begun.split(" ")[1:] if begun else []
        for doc_id, status in last.items():
            now = s.get(Document, doc_id).review_status
            assert now == status or unacknowledged == ["status", now, str(doc_id)], (doc_id, status, now)


def _runs(tmp_path: Path, runs: int, with_import: bool, corpus: Path | None = None) -> int:
    rng = random.Random(1234)
    case = _prepare(tmp_path)
    total = 0
    for _ in range(runs):
        acked, begun = _kill_run(case, rng, corpus / "real" / "pdf" if (with_import and corpus) else None)
        total += len(acked)
        _check(case, acked, begun)
    if with_import and corpus:
        with build_services(case) as services:
            summary = services.import_paths([corpus / "real" / "pdf"])
            assert not summary.interrupted
            with services.case.reader() as s:
                shas = s.scalars(select(Document.sha256)).all()
                assert len(shas) == len(set(shas))
                assert s.scalar(select(func.count(Document.id)).where(Document.status == "pending")) == 0
            assert services.search.verify().ok
    return total


def _recorded(tmp_path: Path, runs: int, with_import: bool, corpus: Path | None = None) -> int:
    start = time.monotonic()
    acked = _runs(tmp_path, runs=runs, with_import=with_import, corpus=corpus)
    what = "during an import with review actions" if with_import else "during review actions"
    record(
        "crash",
        f"SIGKILL {what} x{runs}",
        f"{acked} acknowledged actions all there; integrity ok"
        + ("; import resumed, no duplicates, index verified" if with_import else ""),
        time.monotonic() - start,
    )
    return acked


def test_kill_during_review_actions(tmp_path: Path) -> None:
    assert _recorded(tmp_path, scale(3, 20), with_import=False) > 0


def test_kill_during_import_with_review_actions(tmp_path: Path, corpus: Path) -> None:
    # `make reliability` (DOSSIER_RELIABILITY=full): 100 runs.
    assert _recorded(tmp_path, scale(3, 100), with_import=True, corpus=corpus) > 0


@pytest.mark.slow
def test_kill_many_times(tmp_path: Path, corpus: Path) -> None:
    assert _runs(tmp_path / "a", runs=50, with_import=False) > 0
    assert _runs(tmp_path / "b", runs=50, with_import=True, corpus=corpus) > 0
