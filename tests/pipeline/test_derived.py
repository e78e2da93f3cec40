"""Entities and suggestion features read by the import's workers are exactly what the services compute
from the case store, and the workers, not the refresh after the import, supply them."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from app.pipeline.importer import ImportOptions
from app.services import build_services

TABLES = {
    "document_entities": "SELECT de.document_id, e.kind, e.value, de.count FROM document_entities de "
    "JOIN entities e ON e.id = de.entity_id",
    "mentions": 'SELECT m.document_id, e.kind, e.value, m.part, m.field, m.start, m."end" FROM mentions m '
    "JOIN entities e ON e.id = m.entity_id",
    "document_insights": "SELECT document_id, revision, version, text_date FROM document_insights",
    "document_features": 'SELECT document_id, revision, "references", signature FROM document_features',
    "document_bands": "SELECT document_id, band, value FROM document_bands",
    "suggestions": "SELECT a_id, b_id, kind, detail FROM suggestions",
    "entities": "SELECT kind, value, display FROM entities",
}


def _dump(services) -> dict[str, list[tuple]]:  # noqa: ANN001
    with services.case.reader() as s:
        return {
            name: sorted(map(tuple, s.execute(text(sql)).all()), key=repr) for name, sql in TABLES.items()
        }


def test_worker_derived_data_equals_a_refresh_from_the_store(tmp_path: Path, corpus: Path) -> None:
    services = build_services(tmp_path / "case", create=True)
    sent: list[int] = []
    store = services.insights.store_derived
    services.insights.store_derived = lambda s, items: sent.append(store(s, items)) or sent[-1]  # type: ignore[method-assign]
    roots = [corpus / "real" / name for name in ("pdf", "eml", "mbox", "xlsx", "docx")]
    services.import_paths(roots, ImportOptions(workers=2, ocr=False))
    with services.case.reader() as s:
        ok = s.scalar(text("SELECT count(*) FROM documents WHERE status = 'ok'"))
    assert ok >= 50 and sum(sent) == ok  # every extracted document's entities came from a worker
    imported = _dump(services)
    assert len(imported["mentions"]) > 500 and len(imported["document_bands"]) > 100

    with services.case.transaction() as s:
        for table in ("document_insights", "document_features", "document_bands", "suggestions"):
            s.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names
    services.insights.refresh()
    services.review.refresh_suggestions()
    assert _dump(services) == imported
    services.close()


def test_entities_are_read_after_extraction_and_the_import_is_searchable_first(
    tmp_path: Path, corpus: Path, monkeypatch
) -> None:
    """Workers extract every file first (and what is found inside them); only once the index holds every
    document do they read entities and features (from the text in the store): the import is searchable
    before it is done, and until then extraction and the index's last pass have the cores."""
    from app.pipeline import importer, workers

    kinds: list[str] = []
    submit = workers.WorkerPool.submit

    def recording(self, task):  # noqa: ANN001, ANN202
        kinds.append(task.kind)
        assert (task.kind == "derive") == bool(task.derive)  # extraction tasks carry no rules
        return submit(self, task)

    states: list[tuple[bool, bool]] = []  # (every file extracted, the index holds every document)
    dispatch_derive = importer._Run._dispatch_derive

    def watching(self, pool):  # noqa: ANN001, ANN202
        states.append((self.extracted, self.feeder is not None and self.feeder.drained_at is not None))
        return dispatch_derive(self, pool)

    monkeypatch.setattr(workers.WorkerPool, "submit", recording)
    monkeypatch.setattr(importer._Run, "_dispatch_derive", watching)
    services = build_services(tmp_path / "case", create=True)
    summary = services.import_paths(
        [corpus / "real" / "pdf", corpus / "real" / "eml"], ImportOptions(workers=2, ocr=False)
    )
    ok = summary.by_status["ok"]
    assert kinds.count("derive") == ok and kinds.count("extract") == summary.documents
    last_extract = max(i for i, kind in enumerate(kinds) if kind == "extract")
    assert "derive" not in kinds[:last_extract]  # no entities before every file is extracted
    assert states and all(extracted and searchable for extracted, searchable in states)
    assert summary.searchable_s is not None and 0 < summary.searchable_s <= summary.elapsed
    with services.case.reader() as s:
        with_entities = s.scalar(text("SELECT count(*) FROM document_insights"))
        with_features = s.scalar(text("SELECT count(*) FROM document_features"))
    assert with_entities == with_features == summary.documents
    services.close()


def test_a_derive_task_in_a_worker_answers_what_the_same_functions_give_in_process(tmp_path: Path) -> None:
    from app.pipeline.derive import derive_text
    from app.pipeline.workers import Task, WorkerPool

    parts = [
        [0, "Invoice No. 4471 for WO-2017-0413, paid to DE89370400440532013000 on 20.02.2022."],
        [2, "Call +1 415 555 0132 or write to ops@example.org"],
    ]
    rules = {
        "references": [r"\bWO[-\s]?\d{2,4}[-/]\d{3,6}\b"],
        "features": True,
        "region": "US",
        "entities_version": "v",
    }
    with WorkerPool(1) as pool:
        pool.submit(
            Task(
                task_id=7,
                path="",
                name_hint="",
                work_dir="",
                kind="derive",
                derive=rules,
                parts=parts,
                metadata={"title": "Invoice 4471"},
            )
        )
        results = []
        while not results:
            results = pool.collect(timeout=5)
        # entities wait for nothing a reporter waits for: the worker reads them at the lowest priority
        assert os.getpriority(os.PRIO_PROCESS, pool._workers[0].process.pid) == 19
    (result,) = results
    assert result.kind == "derive" and result.status == "ok"
    expected = derive_text([(0, parts[0][1]), (2, parts[1][1])], {"title": "Invoice 4471"}, rules)
    assert result.derived == expected
    assert {kind for kind, *_ in expected["entities"]["entities"]} >= {"iban", "email", "reference"}


def test_entities_are_stored_batch_by_batch(tmp_path: Path, corpus: Path) -> None:
    """Derived data is committed in batches of the import's size as it arrives, never held to the end."""
    services = build_services(tmp_path / "case", create=True)
    batches: list[int] = []
    store = services.insights.store_derived
    services.insights.store_derived = lambda s, items: batches.append(len(items)) or store(s, items)  # type: ignore[method-assign]
    summary = services.import_paths(
        [corpus / "real" / "pdf"], ImportOptions(workers=2, ocr=False, batch_size=4)
    )
    assert sum(batches) == summary.by_status["ok"] > 20
    # A batch closes after the answers collected at once: up to two per worker beyond its size.
    assert max(batches) <= 4 + 2 * 2 and len(batches) >= summary.by_status["ok"] // 8
    services.close()
