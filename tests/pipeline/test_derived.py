"""Entities and suggestion features read by the import's workers are exactly what the services compute
from the case store, and the workers, not the refresh after the import, supply them."""

from __future__ import annotations

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
