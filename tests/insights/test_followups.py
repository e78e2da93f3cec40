"""The case's phone region (service, command line) and batch-search reports whose id lists outgrow a cell."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.insights.batch import CELL_LIMIT, BatchResult, BatchTerm, batch_search, ids_cell, write_report
from app.insights.service import InsightsError
from app.pipeline.importer import ImportOptions
from db.models import AuditEntry
from tests.insights.conftest import FIXTURE, _doc, _write, by_title, ids

LONDON = _doc("Call sheet", "Ring the London desk on 020 7946 0958 before noon.")


def test_phone_region_reads_national_numbers_for_that_country(services, tmp_path: Path) -> None:
    insights = services.insights
    _write(tmp_path / "more", {"london.json": LONDON})
    services.import_paths([tmp_path / "more"], ImportOptions(workers=1, extractor=FIXTURE))
    sheet = by_title(services, "Call sheet")
    assert insights.phone_region() == "US"
    assert ids(services, "phone:+442079460958") == []  # not a valid US number
    assert insights.set_phone_region("gb") == "GB"
    assert insights.phone_region() == "GB" and services.case.setting("phone_region") == "GB"
    assert sheet in insights.stale_ids()  # read for the old region: recomputed on the next refresh
    insights.refresh()
    assert insights.stale_ids() == []
    assert ids(services, "phone:+442079460958") == [sheet]
    assert ids(services, 'phone:"020 7946 0958"') == [sheet]  # a national query is read for GB too
    with services.case.reader() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "setting_phone_region")).one()
    assert entry.detail == {"old": "US", "new": "GB"} and entry.actor == "Ana"
    with pytest.raises(InsightsError, match="unknown phone region"):
        insights.set_phone_region("Narnia")


def test_phone_region_from_the_command_line(services, capsys: pytest.CaptureFixture[str]) -> None:
    case = str(services.case.root)
    services.close()
    code = main(["--case", case, "entities", "--phone-region", "de", "--kind", "phone", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["phone_region"] == "DE" and "read as DE numbers" in err
    code = main(["--case", case, "entities", "--phone-region", "XX"])
    _, err = capsys.readouterr()
    assert code == 1 and "unknown phone region" in err and "Traceback" not in err


def test_ids_cell_is_cut_to_the_spreadsheet_limit_with_a_marker() -> None:
    few = list(range(1, 50))
    assert ids_cell(few) == " ".join(map(str, few))
    many = list(range(100_000, 110_000))  # 10,000 ids of 7 characters: about 70,000 characters
    cell = ids_cell(many)
    assert len(cell) <= CELL_LIMIT
    kept = cell.split(" … ")[0].split()
    assert kept == [str(i) for i in many[: len(kept)]]
    assert cell.endswith(f" … {len(many) - len(kept):,} more ids left out")
    assert len(kept) > 3000


def test_batch_report_cells_fit_and_progress_is_reported(services, tmp_path: Path) -> None:
    big = BatchResult("everything", "*", 10_000, None, 10_000, list(range(100_000, 110_000)))
    path = write_report(tmp_path / "report.csv", [big])
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert all(len(cell) <= CELL_LIMIT for row in rows for cell in row)
    assert "more ids left out" in rows[1][5] and rows[1][2] == "10000"
    assert big.to_json()["ids"] == big.ids  # the JSON report keeps every id

    seen: list[tuple[int, int, str]] = []
    terms = [BatchTerm("panda"), BatchTerm("canteen"), BatchTerm('"broken')]
    results = batch_search(services, terms, on_result=lambda d, t, r: seen.append((d, t, r.term)))
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)] and len(results) == 3
    stopped = batch_search(
        services, terms, cancel=lambda: len(seen) >= 4, on_result=lambda *a: seen.append(a)
    )
    assert len(stopped) == 1
