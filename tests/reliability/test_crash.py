"""SIGKILL during index commits (imports in small batches, and rebuilds), and a damaged index on disk: the
store stays intact, the import resumes without duplicates, the index is repaired and answers as before."""

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
from db.models import Document
from tests.fixtures.reliability import record, scale

REPO = Path(__file__).resolve().parents[2]
JSON = "tests.fixtures.bad_extractors:JsonFixture"
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
QUERIES = ["alpha", "bravo OR charlie", '"delta echo"', "foxtrot NOT alpha", "batch*"]


def _docs(folder: Path, n: int, prefix: str) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        words = " ".join(WORDS[j] for j in range(len(WORDS)) if (i >> j) & 1 or j == i % len(WORDS))
        doc = {
            "doc_type": "text",
            "title": f"{prefix} {i}",
            "parts": [{"kind": "body", "label": "body", "text": f"{prefix}{i} {words} delta echo"}],
        }
        (folder / f"{prefix}-{i}.json").write_text(json.dumps(doc))
    return folder


def _answers(services) -> dict[str, list[int]]:  # noqa: ANN001
    services.search.ensure_index()  # what the app and every searching command do on open
    return {q: sorted(services.search.matching_ids(q)) for q in QUERIES}


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, dict[str, list[int]]]:
    case = tmp_path / "case"
    with build_services(case, create=True) as services:
        services.import_paths(
            [_docs(tmp_path / "seed", 40, "seed")], ImportOptions(workers=1, extractor=JSON)
        )
        return case, _answers(services)


def _kill_child(args: list[str], delay: float) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_child", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    proc.stdout.readline()  # READY: the case is open
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    return out


def _integrity(case: Path) -> str:
    conn = sqlite3.connect(case / "case.db")
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_kill_during_index_commits(tmp_path: Path, seeded) -> None:  # noqa: ANN001
    case, before = seeded
    new = _docs(tmp_path / "new", scale(60, 200), "batch")
    rng = random.Random(99)
    runs = scale(4, 50)
    start = time.monotonic()
    for n in range(runs):
        mode = "reindex" if n % 2 else "import"
        args = [mode, str(case)] + ([str(new)] if mode == "import" else [])
        _kill_child(args, rng.uniform(0.05, 2.0))
        assert _integrity(case) == "ok"
        with build_services(case) as services:
            # On open the index is checked (and rebuilt if damaged); documents it has not seen are added.
            answers = _answers(services)
            for q, ids in before.items():
                assert set(ids) <= set(answers[q]), q
            assert services.search.verify().ok
    with build_services(case) as services:
        summary = services.import_paths([new], ImportOptions(workers=1, extractor=JSON))
        assert not summary.interrupted
        with services.case.reader() as s:
            shas = s.scalars(select(Document.sha256)).all()
            pending = s.scalar(select(func.count(Document.id)).where(Document.status == "pending"))
        assert len(shas) == len(set(shas)) == 40 + scale(60, 200) and pending == 0
        assert len(services.search.matching_ids("batch*")) == scale(60, 200)
        assert services.search.verify().ok
    record(
        "crash",
        f"SIGKILL during index commit/rebuild x{runs}",
        "integrity ok, resumed without duplicates, index consistent",
        time.monotonic() - start,
    )


@pytest.mark.parametrize("damage", ["garbage segments", "truncated TOC", "missing files", "deleted folder"])
def test_damaged_index_is_detected_and_rebuilt(seeded, damage: str) -> None:  # noqa: ANN001
    case, before = seeded
    start = time.monotonic()
    index = case / "index"
    files = sorted(p for p in index.iterdir() if p.is_file() and not p.name.endswith(".lock"))
    if damage == "garbage segments":
        for f in files:
            if f.suffix == ".seg":
                f.write_bytes(b"\0garbage" * 100)
    elif damage == "truncated TOC":
        for f in files:
            if f.suffix == ".toc":
                f.write_bytes(f.read_bytes()[:10])
    elif damage == "missing files":
        for f in files:
            if f.suffix != ".toc":
                f.unlink()
    else:
        import shutil

        shutil.rmtree(index)
    with build_services(case) as services:
        assert _answers(services) == before
        assert services.search.verify().ok
    record("crash", f"damaged index: {damage}", "detected, rebuilt, same answers", time.monotonic() - start)
