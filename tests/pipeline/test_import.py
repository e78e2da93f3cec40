"""Import behaviour on real PDFs: dedup, provenance, re-runs, interruption and resume."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.case import Case, CaseError
from app.pipeline.importer import ImportFailed, ImportOptions
from app.services import build_services
from db.models import Document, ExtractionAttempt, ImportRun, Source


@pytest.fixture
def leak(tmp_path: Path, corpus: Path) -> Path:
    """A small leak: real PDFs, one of them twice under another name, one in a sub-folder."""
    root = tmp_path / "leak"
    (root / "sub").mkdir(parents=True)
    pdfs = sorted((corpus / "real" / "pdf").glob("enron_*"))[:8]
    for pdf in pdfs:
        shutil.copy2(pdf, root / pdf.name)
    shutil.copy2(pdfs[0], root / "sub" / "copy-of-first.pdf")
    return root


def test_import_dedups_and_keeps_provenance(tmp_path: Path, leak: Path) -> None:
    with build_services(tmp_path / "case", create=True) as services:
        summary = services.import_paths([leak], ImportOptions(workers=2))
        assert summary.new == 8
        assert summary.duplicates == 1
        assert summary.by_status == {"ok": 8}
        with services.case.reader() as s:
            assert s.scalar(select(func.count(Document.id))) == 8
            first = s.scalar(select(Source.document_id).where(Source.path.like("%copy-of-first.pdf")))
            paths = list(s.scalars(select(Source.path).where(Source.document_id == first)))
            assert len(paths) == 2
            run = s.get(ImportRun, summary.run_id)
            assert run.status == "completed" and run.counts["new"] == 8
            assert s.scalar(select(func.count(ExtractionAttempt.id))) == 8


def test_second_run_adds_nothing(tmp_path: Path, leak: Path) -> None:
    with build_services(tmp_path / "case", create=True) as services:
        first = services.import_paths([leak])
        second = services.import_paths([leak])
    assert second.new == 0 and second.documents == 0
    assert second.unchanged == 9
    assert second.elapsed < first.elapsed


def test_changed_file_is_read_again(tmp_path: Path, leak: Path) -> None:
    with build_services(tmp_path / "case", create=True) as services:
        services.import_paths([leak])
        target = leak / "sub" / "copy-of-first.pdf"
        target.write_bytes(target.read_bytes() + b"\n% appended\n")
        again = services.import_paths([leak])
    assert again.new == 1 and again.unchanged == 8


def test_interrupted_import_resumes_without_duplicates(tmp_path: Path, leak: Path) -> None:
    cancel = threading.Event()

    def on_progress(p) -> None:  # noqa: ANN001
        if p.files_done >= 2:
            cancel.set()

    with build_services(tmp_path / "case", create=True) as services:
        first = services.import_paths(
            [leak], ImportOptions(workers=1), cancel=cancel, on_progress=on_progress
        )
        assert first.interrupted
        second = services.import_paths([leak])
        assert not second.interrupted
        with services.case.reader() as s:
            assert s.scalar(select(func.count(Document.id))) == 8
            assert s.scalar(select(func.count(Document.id)).where(Document.status != "ok")) == 0
            runs = list(s.scalars(select(ImportRun.status).order_by(ImportRun.id)))
    assert runs == ["interrupted", "completed"]


def test_stopping_while_entities_are_read_leaves_them_to_the_next_import(tmp_path: Path, leak: Path) -> None:
    """Ctrl-C after extraction does not wait for the entities still to read; the next import reads them."""
    cancel = threading.Event()

    def on_progress(p) -> None:  # noqa: ANN001
        if p.phase == "analysing":
            cancel.set()

    def missing(services) -> tuple[int, int]:  # noqa: ANN001
        with services.case.reader() as s:
            return (
                len(services.insights.stale_ids()),
                s.scalar(
                    text(
                        "SELECT count(*) FROM documents d LEFT JOIN document_features f "
                        "ON f.document_id = d.id WHERE f.document_id IS NULL"
                    )
                ),
            )

    with build_services(tmp_path / "case", create=True) as services:
        first = services.import_paths(
            [leak], ImportOptions(workers=1, ocr=False), cancel=cancel, on_progress=on_progress
        )
        assert first.interrupted and first.by_status == {"ok": 8}  # every file was extracted
        stale_entities, no_features = missing(services)
        assert stale_entities > 0 and no_features > 0
        again = services.import_paths([leak])
        assert again.new == 0 and not again.interrupted
        assert missing(services) == (0, 0)


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with (
        build_services(tmp_path / "case", create=True) as services,
        pytest.raises(ImportFailed, match="not found"),
    ):
        services.import_paths([tmp_path / "nope"])


def test_second_writer_is_refused(tmp_path: Path) -> None:
    with Case.open(tmp_path / "case", create=True), pytest.raises(CaseError, match="open in another Dossier"):
        Case.open(tmp_path / "case")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_file_is_listed(tmp_path: Path, leak: Path) -> None:
    bad = leak / "locked.txt"
    bad.write_text("secret")
    bad.chmod(0)
    with build_services(tmp_path / "case", create=True) as services:
        summary = services.import_paths([leak])
    assert any(f["path"].endswith("locked.txt") and f["status"] == "skipped" for f in summary.failures)


def test_symlink_outside_roots_is_skipped(tmp_path: Path, leak: Path, corpus: Path) -> None:
    os.symlink(corpus / "real" / "pdf" / "enron_AggieNight2001.pdf", leak / "outside.pdf")
    with build_services(tmp_path / "case", create=True) as services:
        summary = services.import_paths([leak])
    assert any(
        "outside" in f["path"] and "outside the imported folders" in f["reason"] for f in summary.failures
    )


class _SlowSink:
    """An index sink whose passes last until released, recording what each pass held."""

    def __init__(self) -> None:
        self.passes: list[list[int]] = []
        self.writers: list[int] = []
        self.started = threading.Semaphore(0)
        self.release = threading.Semaphore(0)

    def index_documents(self, doc_ids, writers=1):  # noqa: ANN001, ANN201
        self.passes.append(list(doc_ids))
        self.writers.append(writers)
        self.started.release()
        assert self.release.acquire(timeout=10)
        return {i: 1 for i in doc_ids}

    def settle(self) -> None:
        self.passes.append(["settle"])


def test_index_passes_follow_each_other_and_gather_what_was_committed_meanwhile() -> None:
    from app.pipeline import importer as importer_module
    from app.pipeline.importer import _IndexFeeder

    sink = _SlowSink()
    feeder = _IndexFeeder(sink)
    feeder.add([1, 2])
    assert sink.started.acquire(timeout=5)  # the first commit is indexed at once
    feeder.add([3])
    feeder.add([4, 3])
    feeder.extraction_ended()  # while a pass runs: not searchable yet
    assert feeder.drained_at is None
    sink.release.release()
    assert sink.started.acquire(timeout=5)  # the next pass starts when this one ends
    assert feeder.drained_at is None
    sink.release.release()
    deadline = time.monotonic() + 5
    while feeder.drained_at is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feeder.drained_at is not None  # everything handed over is in the index
    feeder.close()
    # …and only then are the passes' segments folded together, once
    assert sink.passes == [[1, 2], [3, 4], ["settle"]]
    assert feeder.take_indexed() == {1: 1, 2: 1, 3: 1, 4: 1}
    # a pass taken once extraction has ended may use every core
    assert sink.writers == [1, importer_module.INDEX_WRITERS_ONCE_EXTRACTED]


def test_while_files_are_extracted_passes_keep_a_gap_and_gather_what_was_committed(monkeypatch) -> None:
    from app.pipeline import importer as importer_module

    monkeypatch.setattr(importer_module, "MIN_PASS_GAP_S", 0.6)

    class TimedSink:
        def __init__(self) -> None:
            self.passes: list[tuple[float, list[int]]] = []

        def index_documents(self, doc_ids, writers=1):  # noqa: ANN001, ANN201
            self.passes.append((time.monotonic(), list(doc_ids)))
            return {i: 1 for i in doc_ids}

    sink = TimedSink()
    feeder = importer_module._IndexFeeder(sink)
    feeder.add([1])
    deadline = time.monotonic() + 5
    while not sink.passes and time.monotonic() < deadline:
        time.sleep(0.005)
    for doc_id in (2, 3, 4):  # committed one after another while the gap runs
        feeder.add([doc_id])
        time.sleep(0.01)
    while len(sink.passes) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    (first, ids1), (second, ids2) = sink.passes
    assert ids1 == [1] and ids2 == [2, 3, 4]  # one pass for what the gap gathered
    assert second - first >= 0.6
    feeder.extraction_ended()  # from now on no gap: the rest is indexed at once
    feeder.add([5])
    feeder.close()
    assert sink.passes[-1][1] == [5] and sink.passes[-1][0] - second < 0.6


def test_when_extraction_is_about_to_end_the_next_pass_waits_for_it(monkeypatch) -> None:
    from app.pipeline import importer as importer_module

    monkeypatch.setattr(importer_module, "MIN_PASS_GAP_S", 0.3)

    class TimedSink:
        def __init__(self) -> None:
            self.passes: list[tuple[float, list[int], int]] = []

        def index_documents(self, doc_ids, writers=1):  # noqa: ANN001, ANN201
            self.passes.append((time.monotonic(), list(doc_ids), writers))
            return {i: 1 for i in doc_ids}

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 5
        while len(sink.passes) < count and time.monotonic() < deadline:
            time.sleep(0.005)

    sink = TimedSink()
    feeder = importer_module._IndexFeeder(sink)
    feeder.add([1])
    wait_for(1)
    feeder.winding_down(True)  # only the files in the workers' hands are left
    feeder.add([2])
    time.sleep(0.45)  # past one gap: still held for the end of extraction
    assert len(sink.passes) == 1
    feeder.add([3])
    feeder.extraction_ended()
    wait_for(2)
    assert sink.passes[1][1:] == ([2, 3], importer_module.INDEX_WRITERS_ONCE_EXTRACTED)
    assert sink.passes[1][0] - sink.passes[0][0] < 0.6
    feeder.close()

    # …but not for longer than two gaps (a slow file, an OCR'd scan, may be the last)
    sink = TimedSink()
    feeder = importer_module._IndexFeeder(sink)
    feeder.add([1])
    wait_for(1)
    feeder.winding_down(True)
    feeder.add([2])
    wait_for(2)
    assert 0.55 <= sink.passes[1][0] - sink.passes[0][0] < 2.0
    assert sink.passes[1][1:] == ([2], 1)
    feeder.close()


def test_extraction_is_about_to_end_when_the_files_left_take_less_than_a_gap() -> None:
    from types import SimpleNamespace

    from app.pipeline import importer as importer_module

    ending = importer_module._Run._ending_soon
    now = time.monotonic()
    run = SimpleNamespace(files_total=240, files_done=120, first_dispatch=now - 1.5, queue=[1, 2])
    assert not ending(run, False)  # 120 files left at 80 a second: 1.5 s
    run.files_done = 170
    assert ending(run, False)  # 70 left at 113 a second: 0.6 s, less than a gap
    run = SimpleNamespace(files_total=5000, files_done=4, first_dispatch=now - 0.1, queue=[1])
    assert not ending(run, False)  # too few files done to trust the rate
    assert ending(SimpleNamespace(**{**run.__dict__, "queue": []}), True)  # only the workers' files left


def test_an_index_that_cannot_settle_still_takes_documents() -> None:
    from app.pipeline.importer import _IndexFeeder

    class FailingSettle:
        def __init__(self) -> None:
            self.indexed: list[int] = []

        def index_documents(self, doc_ids, writers=1):  # noqa: ANN001, ANN201
            self.indexed += doc_ids
            return {i: 1 for i in doc_ids}

        def settle(self) -> None:
            raise OSError("No space left on device")

    sink = FailingSettle()
    feeder = _IndexFeeder(sink)
    feeder.add([1])
    feeder.extraction_ended()
    deadline = time.monotonic() + 5
    while feeder.drained_at is None and time.monotonic() < deadline:
        time.sleep(0.01)
    feeder.add([2])  # a late commit (a resumed document) is still indexed
    feeder.close()
    assert sink.indexed == [1, 2]


def test_every_free_worker_gets_a_file_while_files_wait(tmp_path: Path, corpus: Path, monkeypatch) -> None:
    """Whenever the importer waits for results, each worker holds as many files as it may (the one it
    reads and the next), unless no file is left to take: workers never idle behind the hashing."""
    from app.pipeline import importer as importer_module
    from app.pipeline.workers import WorkerPool

    pdfs = sorted((corpus / "real" / "pdf").glob("*.pdf"))
    assert len(pdfs) >= 20
    taken: list[Path] = []
    starved: list[tuple[int, int]] = []
    take, collect = importer_module._Run._take_file, WorkerPool.collect

    def counting_take(self, item):  # noqa: ANN001, ANN202
        taken.append(item.path)
        return take(self, item)

    def watching_collect(self, timeout):  # noqa: ANN001, ANN202
        if self.idle and len(taken) < len(pdfs):
            starved.append((self.idle, len(taken)))
        return collect(self, timeout)

    monkeypatch.setattr(importer_module, "EARLY_QUEUE_MAX", 0)  # no file is taken before the pool is up
    monkeypatch.setattr(importer_module._Run, "_take_file", counting_take)
    monkeypatch.setattr(WorkerPool, "collect", watching_collect)
    with build_services(tmp_path / "case", create=True) as services:
        summary = services.import_paths(pdfs, ImportOptions(workers=2, ocr=False))
    assert summary.new >= len(pdfs) and len(taken) == len(pdfs)
    assert starved == []


_FIRST_FILE_SCRIPT = """
import json, sys
from pathlib import Path
import app.pipeline.importer as importer
from app.pipeline.importer import ImportOptions
from app.services import build_services

LATE = ("numpy", "app.searching", "index.query", "index.rank", "app.review.service", "app.insights.service",
        "app.pipeline.derive")
seen = {}
dispatch = importer._Run._dispatch

def first(self, pool, item):
    seen.setdefault("loaded", [m for m in LATE if m in sys.modules])
    return dispatch(self, pool, item)

importer._Run._dispatch = first
with build_services(Path(sys.argv[1]), create=True) as services:
    summary = services.import_paths([Path(sys.argv[2])], ImportOptions(workers=1, ocr=False))
    results = services.search.search("tag:checked OR the", limit=1)
    print(json.dumps({"loaded": seen["loaded"], "new": summary.new, "facets": sorted(results.facets)}))
"""


def test_an_import_loads_no_query_review_or_entity_code_before_its_first_file(
    tmp_path: Path, leak: Path
) -> None:
    """What an import loads before it sends its first file to a worker is start-up time of every import;
    the query side, review and insights come later (the derive rules once every file is extracted), and a
    search afterwards still answers the review and entity fields and facets."""
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _FIRST_FILE_SCRIPT, str(tmp_path / "case"), str(leak)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] == [] and out["new"] > 0
    assert {"tag", "status", "entities", "type"} <= set(out["facets"])
