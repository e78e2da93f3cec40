"""During an import the index is written by a child process; the store records what it indexed."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from app.index_process import IndexProcess, IndexProcessError
from app.pipeline.importer import ImportOptions
from app.services import build_services
from db.models import Document

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "real"
FILES = ["pdf/enron_AggieNight2001.pdf", "docx/poi_SampleDoc.docx", "csv/datasets_airport-codes.csv"]


def _leak(tmp_path: Path) -> Path:
    src = tmp_path / "leak"
    src.mkdir()
    for i in range(30):  # enough documents for several store batches
        (src / f"note{i:02}.txt").write_text(f"Memo {i}: payment for work order WO-2017-{i:04} approved.\n")
    for rel in FILES:
        if (CORPUS / rel).is_file():
            shutil.copy(CORPUS / rel, src / Path(rel).name)
    return src


@contextmanager
def _child(case_dir: Path) -> Iterator[IndexProcess]:
    """An index process for `case_dir`, closed when the block ends."""
    process = IndexProcess(case_dir)
    try:
        yield process
    finally:
        process.close()


def _indexed_state(services) -> tuple[int, list[tuple[int, int, int]]]:  # noqa: ANN001
    with services.case.reader() as s:
        rows = s.execute(select(Document.id, Document.revision, Document.indexed_revision)).all()
    return len(rows), [tuple(r) for r in rows]


def test_import_indexes_through_the_child_and_records_revisions(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    original = IndexProcess.index

    def counting(self, ids, writers=1):  # noqa: ANN001, ANN202
        calls.append(len(ids))
        return original(self, ids, writers)

    monkeypatch.setattr(IndexProcess, "index", counting)
    with build_services(tmp_path / "case", create=True) as services:
        summary = services.import_paths([_leak(tmp_path)], ImportOptions(workers=2, batch_size=5, ocr=False))
        assert calls and sum(calls) == summary.documents  # every document went through the child
        count, rows = _indexed_state(services)
        assert count == summary.documents
        assert all(indexed == revision for _, revision, indexed in rows)
        assert services.search.verify().ok
        hits = services.search.search('"WO-2017-0007"')
        assert hits.total == 1
        assert services.search.search("Aggie").total >= 1


def test_a_failing_child_falls_back_to_indexing_in_process(tmp_path: Path, monkeypatch) -> None:
    def broken(self, ids, writers=1):  # noqa: ANN001, ANN202
        raise IndexProcessError("the index process exited (code -9)")

    monkeypatch.setattr(IndexProcess, "index", broken)
    with build_services(tmp_path / "case", create=True) as services:
        summary = services.import_paths([_leak(tmp_path)], ImportOptions(workers=2, batch_size=5, ocr=False))
        count, rows = _indexed_state(services)
        assert count == summary.documents
        assert all(indexed == revision for _, revision, indexed in rows)
        assert services.search.search('"WO-2017-0012"').total == 1


def test_a_child_that_dies_is_reported(tmp_path: Path) -> None:
    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths([_leak(tmp_path)], ImportOptions(workers=1, ocr=False))
        with _child(services.case.root) as process:
            assert set(process.index([1, 2])) == {1, 2}
            process._process.kill()
            process._process.join(5)
            with pytest.raises(IndexProcessError, match="index process"):
                process.index([3])


def test_the_child_starts_before_it_is_asked(tmp_path: Path) -> None:
    """`start` forks and opens the case in the background, so the first commit finds the child ready."""
    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths([_leak(tmp_path)], ImportOptions(workers=1, ocr=False))
        with _child(services.case.root) as process:
            process.start()
            assert process._starter is not None
            process._starter.join(30)
            assert process._process is not None and process._process.is_alive()  # before any request
            assert set(process.index([1, 2])) == {1, 2}


def test_a_child_that_cannot_start_is_reported(tmp_path: Path, monkeypatch) -> None:
    def no_fork(self) -> None:  # noqa: ANN001
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(IndexProcess, "_start", no_fork)
    process = IndexProcess(tmp_path)
    process.start()
    process._starter.join(10)
    process.prepare()  # as an import does once the case exists: the failure is the first pass's to report
    with pytest.raises(IndexProcessError, match="could not start: Resource temporarily unavailable"):
        process.index([1])
    process.close()


def test_the_child_merges_small_segments_when_asked(tmp_path: Path) -> None:
    """An import's passes leave their segments; `merge` (asked once the import is searchable) folds the
    small ones together in the child, and every document stays findable."""
    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths([_leak(tmp_path)], ImportOptions(workers=1, ocr=False))
        services.search.reindex()  # one segment
        with _child(services.case.root) as process:
            for doc_id in range(1, 7):  # six passes: six more segments
                assert set(process.index([doc_id])) == {doc_id}
            services.search.index.changed()
            assert len(services.search.index.ix.refresh()._segments()) == 7
            process.merge()
        services.search.index.close()
        assert len(services.search.index.ix._segments()) < 7
        assert services.search.verify().ok
        assert services.search.search('"WO-2017-0007"').total == 1


def test_a_child_started_ahead_of_the_case_serves_the_import(tmp_path: Path, indexing_processes) -> None:
    """The import command starts the index process before the case exists (its libraries load while the
    importer's do); the import takes that child, which opens the case at its first request."""
    from app import index_process

    case_dir = tmp_path / "case"
    index_process.start_ahead(case_dir)
    ahead = index_process._AHEAD[case_dir.absolute()]
    used = indexing_processes
    with build_services(case_dir, create=True) as services:
        summary = services.import_paths([_leak(tmp_path)], ImportOptions(workers=2, batch_size=5, ocr=False))
        assert used and all(process is ahead for process in used)
        assert index_process.take_started(case_dir) is None  # taken by the import
        count, rows = _indexed_state(services)
        assert count == summary.documents and all(indexed == rev for _, rev, indexed in rows)
        assert services.search.search('"WO-2017-0007"').total == 1
    assert not ahead._process.is_alive()  # closed with the import


def test_an_import_prepared_while_the_reporter_chooses_takes_the_ready_child(
    tmp_path: Path, indexing_processes
) -> None:
    """The app prepares the import while its folder dialog is open: the index process starts and opens
    the case and its index; the import then indexes through that child. One that no import takes ends
    when asked to, or when the case closes; a read-only case prepares nothing."""
    from app import index_process

    used = indexing_processes
    case_dir = tmp_path / "case"
    leak = _leak(tmp_path)
    with build_services(case_dir, create=True) as services:
        services.prepare_import()
        ahead = index_process._AHEAD[case_dir.absolute()]
        assert index_process.wait_ahead(case_dir, 60)  # started, and it answered "open"
        assert any(services.case.index_dir.glob("_MAIN_*.toc"))  # opened by the child, before any import
        assert ahead._process.is_alive()
        summary = services.import_paths([leak], ImportOptions(workers=2, batch_size=5, ocr=False))
        assert used and all(process is ahead for process in used)
        assert index_process.take_started(case_dir) is None
        assert not ahead._process.is_alive()  # closed with the import
        count, rows = _indexed_state(services)
        assert count == summary.documents and all(indexed == rev for _, rev, indexed in rows)
        assert services.search.search('"WO-2017-0007"').total == 1

        services.prepare_import()  # and the reporter cancels the dialog
        unused = index_process._AHEAD[case_dir.absolute()]
        assert index_process.wait_ahead(case_dir, 60)
        services.cancel_prepared_import(wait=False)
        assert index_process.take_started(case_dir) is None
        unused._process.join(30)
        assert not unused._process.is_alive()

        services.prepare_import()  # the case closes with the dialog open
        closed_with_case = index_process._AHEAD[case_dir.absolute()]
    assert index_process.take_started(case_dir) is None
    assert closed_with_case._process is None or not closed_with_case._process.is_alive()

    with build_services(case_dir, read_only=True) as reader:
        reader.prepare_import()
        assert index_process.take_started(case_dir) is None


def test_a_prepared_child_opens_the_case_before_its_first_pass(tmp_path: Path) -> None:
    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths([_leak(tmp_path)], ImportOptions(workers=1, ocr=False))
        shutil.rmtree(services.case.index_dir)
        with _child(services.case.root) as process:
            process.prepare()  # not waited for: the child opens the case and its index meanwhile
            deadline = time.monotonic() + 30
            while not any(services.case.index_dir.glob("_MAIN_*.toc")) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert any(services.case.index_dir.glob("_MAIN_*.toc"))  # before any pass was asked for
            assert set(process.index([1, 2])) == {1, 2}  # the answer to "open" is not taken for this one
            assert set(process.index([3])) == {3}
        with _child(tmp_path / "no-case") as process:
            process.prepare()  # fails in the child; the failure shows at the first pass, as its own
            with pytest.raises(IndexProcessError, match="no case"):
                process.index([1])


def test_the_child_shares_a_pass_among_writers_when_asked(tmp_path: Path) -> None:
    from index.store import SHARE_MIN_DOCS

    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths([_leak(tmp_path)], ImportOptions(workers=1, ocr=False))
        shutil.rmtree(services.case.index_dir)
        with services.case.reader() as s:
            ids = list(s.scalars(select(Document.id)))
        assert len(ids) >= SHARE_MIN_DOCS
        with _child(services.case.root) as process:
            assert set(process.index(ids, writers=2)) == set(ids)
        services.search.index.changed()
        # the child (one thread) forked a helper: two segments, every document once
        assert len(services.search.index.ix.refresh()._segments()) == 2
        assert services.search.index.indexed_ids() == set(ids)
        assert services.search.search("WO-2017-0007").total == 1
