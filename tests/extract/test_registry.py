"""The extractor registry: declared types match the classes, and a worker loads a format's libraries only
when a file of that format arrives."""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

from app.extract import registry
from app.extract.base import ExtractContext, Limits
from app.pipeline.workers import Result, Task, WorkerPool


def test_declared_types_are_the_classes_own() -> None:
    for spec, declared in registry.EXTRACTORS:
        module_name, _, cls_name = spec.partition(":")
        cls = getattr(importlib.import_module(module_name), cls_name)
        assert tuple(cls.doc_types) == declared, spec
    table = registry.extractors_by_type()
    assert {t for _, types in registry.EXTRACTORS for t in types} == set(table)
    assert type(registry.extractor_for("xlsx")).__name__ == "XlsxExtractor"
    assert registry.extractor_for("wordperfect") is None


def _run(pool: WorkerPool, task: Task) -> Result:
    pool.submit(task)
    results: list = []
    while not results:
        results = pool.collect(1.0)
    return results[0]


def test_a_worker_loads_a_format_when_its_first_file_arrives(corpus: Path, tmp_path: Path) -> None:
    pdf = corpus / "real" / "pdf" / "pdfjs_tracemonkey.pdf"
    xlsx = next((corpus / "real").rglob("*.xlsx"))
    work = str(tmp_path / "w")
    modules = "tests.fixtures.bad_extractors:LoadedModules"
    with WorkerPool(1, replace(Limits(), timeout_s=60)) as pool:
        assert _run(pool, Task(1, str(pdf), pdf.name, work)).status == "ok"
        loaded = set(_run(pool, Task(2, str(pdf), pdf.name, work, extractor=modules)).extraction.text.split())
        assert "app.extract.pdf" in loaded
        assert not loaded & {"app.extract.office", "openpyxl", "app.extract.email", "extract_msg"}

        sheet = _run(pool, Task(3, str(xlsx), xlsx.name, work))
        assert sheet.status == "ok" and sheet.doc_type == "xlsx"
        loaded = set(_run(pool, Task(4, str(pdf), pdf.name, work, extractor=modules)).extraction.text.split())
        assert {"app.extract.office", "openpyxl"} <= loaded


def test_a_file_whose_extractor_cannot_load_is_listed_not_lost(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(
        registry, "_SPEC_BY_TYPE", {**registry._SPEC_BY_TYPE, "text": "app.extract.gone:Gone"}
    )
    registry._load.cache_clear()
    try:
        path = tmp_path / "note.txt"
        path.write_text("plain words\n")
        outcome = registry.extract_file(path, ExtractContext(work_dir=tmp_path / "w"))
    finally:
        registry._load.cache_clear()
    assert (outcome.status, outcome.extractor) == ("unsupported", "none")
    assert "format not supported" in outcome.reason
