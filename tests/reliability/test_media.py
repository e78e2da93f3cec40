"""Faults on real filesystems the test mounts (it runs as root; skipped where mounting is not allowed): a small
tmpfs that fills up while originals are copied, batches committed and the index written, and a case on media
remounted read-only. Plus stale locks left by a killed process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.pipeline.importer import ImportFailed, ImportOptions
from app.services import build_services
from db.models import Document
from tests.fixtures.reliability import record, scale
from tests.reliability.test_crash import JSON, _docs

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _remount(where: Path, opts: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{opts}", str(where)], check=True)


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def _fill(mount: Path, leave: int) -> Path:
    """Fill the filesystem but for `leave` bytes."""
    filler = mount / "filler"
    st = os.statvfs(mount)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as fh:
        try:
            fh.truncate(0)
            remaining = max(0, free - leave)
            block = b"\0" * (1 << 20)
            while remaining > 0:
                remaining -= fh.write(block[: min(len(block), remaining)])
        except OSError:
            pass
    return filler


@pytest.mark.parametrize("leave_kb", [48, 160, 400, 900])
def test_disk_full_at_every_stage(tmp_path: Path, leave_kb: int) -> None:
    """A real ENOSPC wherever it falls: copying originals, committing a batch or writing the index."""
    leak = _docs(tmp_path / "leak", scale(150, 600), "full")
    start = time.monotonic()
    with tmpfs(tmp_path / "mnt", "8m") as mnt:
        case = mnt / "case"
        with build_services(case, create=True):
            pass
        filler = _fill(mnt, leave_kb * 1024)
        message = "completed"
        with build_services(case) as services:
            try:
                services.import_paths([leak], ImportOptions(workers=1, extractor=JSON, batch_size=20))
            except ImportFailed as exc:
                message = str(exc)
                assert "full" in message, message
        assert _integrity(case / "case.db") == "ok"
        # Nothing half-written: every stored original matches its hash; no temporary copies left.
        with build_services(case) as services:
            with services.case.reader() as s:
                shas = s.scalars(select(Document.sha256).where(Document.status != "pending")).all()
            for sha in shas:
                blob = services.case.blob_path(sha)
                assert blob.is_file(), sha
            assert not list(services.case.tmp_dir.glob("blob-*"))
        filler.unlink()
        with build_services(case) as services:
            summary = services.import_paths([leak], ImportOptions(workers=1, extractor=JSON))
            assert not summary.interrupted
            with services.case.reader() as s:
                docs = s.scalars(select(Document.sha256)).all()
                pending = s.scalar(select(func.count(Document.id)).where(Document.status == "pending"))
            assert len(docs) == len(set(docs)) == scale(150, 600) and pending == 0
            services.search.ensure_index()
            assert services.search.verify().ok
            assert len(services.search.matching_ids("full*")) == scale(150, 600)
    record(
        "fault",
        f"disk full (tmpfs 8 MB, {leave_kb} KB left)",
        f"{message[:60]}; integrity ok, resumed, index verified",
        time.monotonic() - start,
    )


def test_opening_a_case_on_a_full_disk_says_so(tmp_path: Path) -> None:
    from app.case import CaseError

    start = time.monotonic()
    with tmpfs(tmp_path / "mnt", "4m") as mnt:
        case = mnt / "case"
        with build_services(case, create=True):
            pass
        (case / "case.db-wal").unlink(missing_ok=True)
        filler = _fill(mnt, 0)
        try:
            with build_services(case):
                pass
            outcome = "opened (SQLite needed no new pages)"
        except CaseError as exc:
            assert "full" in str(exc), exc
            outcome = str(exc)[-60:]
        filler.unlink()
        with build_services(case) as services:  # nothing was damaged
            assert services.documents.count() == 0
        assert _integrity(case / "case.db") == "ok"
    record("fault", "open a case on a full disk", outcome, time.monotonic() - start)


def test_case_on_read_only_media(tmp_path: Path) -> None:
    from tests.test_cli import dossier

    start = time.monotonic()
    with tmpfs(tmp_path / "mnt", "32m") as mnt:
        case = mnt / "case"
        with build_services(case, create=True) as services:
            services.import_paths(
                [_docs(tmp_path / "leak", 10, "media")], ImportOptions(workers=1, extractor=JSON)
            )
        _remount(mnt, "ro")
        try:
            found = dossier("--case", str(case), "search", "media*", "--json")
            assert found.returncode == 0 and '"total": 10' in found.stdout.replace(" ", " "), found.stdout[
                :300
            ]
            listed = dossier("--case", str(case), "list", "--json")
            assert listed.returncode == 0
            tagged = dossier("--case", str(case), "tag", "add", "x", "1", check=False)
            assert tagged.returncode == 1 and "not writable" in tagged.stderr, tagged.stderr
            assert len(tagged.stderr.strip().splitlines()) == 1  # one clear line, no traceback
            imported = dossier("--case", str(case), "import", str(tmp_path / "leak"), check=False)
            assert imported.returncode == 1 and "not writable" in imported.stderr, imported.stderr
        finally:
            _remount(mnt, "rw")
    record(
        "fault",
        "case on read-only media",
        f"search/list work; writes refused: {tagged.stderr.strip()[:50]}",
        time.monotonic() - start,
    )


def test_stale_locks_after_a_kill_do_not_block(tmp_path: Path) -> None:
    start = time.monotonic()
    case = tmp_path / "case"
    with build_services(case, create=True) as services:
        services.import_paths([_docs(tmp_path / "a", 10, "lock")], ImportOptions(workers=1, extractor=JSON))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.crash_child", "reindex", str(case)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    proc.stdout.readline()
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    # Whatever the killed writer left behind, plus a lock file as a crashed writer would leave it.
    (case / "index").mkdir(exist_ok=True)
    (case / "index" / "MAIN_WRITELOCK").write_text("12345")
    with build_services(case) as services:
        services.search.ensure_index()
        summary = services.import_paths(
            [_docs(tmp_path / "b", 5, "more")], ImportOptions(workers=1, extractor=JSON)
        )
        assert summary.new == 5
        assert len(services.search.matching_ids("more*")) == 5
        assert services.review.add_tag("after-crash", [1]) == 1
    record(
        "fault",
        "stale case and index locks after SIGKILL",
        "did not block: imported, indexed",
        time.monotonic() - start,
    )
