"""The supervisor contains extractors that hang, crash or eat memory; the import goes on."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from app.case import Case
from app.documents import DocumentService
from app.extract.base import Limits
from app.pipeline import workers
from app.pipeline.importer import Importer, ImportOptions
from app.pipeline.workers import PoolStarter, Task, WorkerPool, decode_result


def _import_with(tmp_path: Path, extractor: str, limits: Limits, files: int = 2) -> list:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(files):
        (src / f"f{i}.txt").write_text(f"file number {i}\n")
    with Case.open(tmp_path / "case", create=True) as case:
        options = ImportOptions(workers=2, limits=limits, extractor=extractor)
        summary = Importer(case, options).run([src])
        docs = list(DocumentService(case).iter_summaries())
    assert summary.documents == files
    return docs


def test_hanging_parser_times_out_and_import_goes_on(tmp_path: Path) -> None:
    docs = _import_with(tmp_path, "tests.fixtures.bad_extractors:SleepForever", Limits(timeout_s=1.5))
    assert {d.status for d in docs} == {"timeout"}
    assert all("longer than 1.5 s" in d.reason for d in docs)


def test_crashing_parser_is_marked_crashed(tmp_path: Path) -> None:
    docs = _import_with(tmp_path, "tests.fixtures.bad_extractors:Abort", Limits(timeout_s=20))
    assert {d.status for d in docs} == {"crashed"}
    assert all("SIGABRT" in d.reason for d in docs)


def test_memory_hog_hits_the_cap(tmp_path: Path) -> None:
    docs = _import_with(tmp_path, "tests.fixtures.bad_extractors:Hog", Limits(timeout_s=30, memory_mb=400))
    assert {d.status for d in docs} == {"out_of_memory"}


def test_workers_recover_after_a_crash(tmp_path: Path) -> None:
    docs = _import_with(tmp_path, "tests.fixtures.bad_extractors:Echo", Limits(timeout_s=20), files=5)
    assert {d.status for d in docs} == {"ok"}


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'{"task_id": 99}',
        b'{"task_id": 1, "status": "ok", "extraction": {"parts": 5}}',
        bytes(range(256)),
    ],
)
def test_garbled_worker_messages_become_crashed(payload: bytes) -> None:
    task = Task(task_id=1, path="/nonexistent", name_hint="x", work_dir="/tmp")
    result = decode_result(task, payload, 0.1)
    assert result.task_id == 1
    assert result.status == "crashed"


def test_pool_replaces_killed_worker(tmp_path: Path) -> None:
    blob = tmp_path / "a.txt"
    blob.write_text("hello there")
    work = tmp_path / "w"
    work.mkdir()
    with WorkerPool(1, replace(Limits(), timeout_s=10)) as pool:
        pool.submit(Task(1, str(blob), "a.txt", str(work), extractor="tests.fixtures.bad_extractors:Abort"))
        results = []
        while not results:
            results = pool.collect(1.0)
        assert results[0].status == "crashed"
        pool.submit(Task(2, str(blob), "a.txt", str(work), extractor="tests.fixtures.bad_extractors:Echo"))
        results = []
        while not results:
            results = pool.collect(1.0)
        assert results[0].status == "ok"
        assert "hello there" in results[0].extraction.text
    assert hashlib.sha256(blob.read_bytes()).hexdigest()


def test_pool_started_in_the_background_extracts(tmp_path: Path) -> None:
    blob = tmp_path / "a.txt"
    blob.write_text("started while the importer hashed")
    starter = PoolStarter(1, replace(Limits(), timeout_s=10))
    try:
        pool = starter.get()
        assert starter.ready()
        pool.submit(Task(1, str(blob), "a.txt", str(tmp_path / "w")))
        results = []
        while not results:
            results = pool.collect(1.0)
        assert results[0].status == "ok"
        assert "started while the importer hashed" in results[0].extraction.text
    finally:
        starter.close()
    assert not pool._workers  # closed: every worker stopped and released


def test_pool_that_cannot_start_fails_the_import_with_its_error(tmp_path: Path, monkeypatch) -> None:
    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(workers, "WorkerPool", refuse)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("nothing lost")
    with Case.open(tmp_path / "case", create=True) as case:
        with pytest.raises(OSError, match="Too many open files"):
            Importer(case, ImportOptions(workers=1)).run([src])
        # The file hashed and registered before the pool failed stays pending: the next import resumes it.
        monkeypatch.undo()
        summary = Importer(case, ImportOptions(workers=1)).run([src])
        docs = list(DocumentService(case).iter_summaries())
    assert summary.by_status.get("ok") == 1
    assert [d.status for d in docs] == ["ok"]


def test_extraction_crosses_the_channel_whole() -> None:
    import json
    from dataclasses import asdict

    from app.extract.base import Cell, Child, Extraction, Part

    ex = Extraction(
        "xlsx",
        "Budget",
        parts=(
            Part(
                "sheet", "Sheet1", "WO-2017-0413 42", cells=(Cell(14, 3, "WO-2017-0413"), Cell(14, 4, "42"))
            ),
            Part("page", "2", "scan", needs_ocr=True, origin="ocr", words=(("scan", 1, 2, 3, 4, 91, 1),)),
            Part("page", "3", "", words=()),
        ),
        metadata={"author": "J. Doe", "keywords": ["a", "b"], "page_count": 3, "created": None},
        children=(Child("c0", "chart.bin", "embedded", {"size": 12}),),
        warnings=("a warning",),
    )
    data = ex.to_json()
    assert json.dumps(data) == json.dumps(asdict(ex))  # the same message as the generic conversion
    assert Extraction.from_json(json.loads(json.dumps(data))) == ex
