"""The reliability suite: a quick version in `make test`, the full one in `make reliability`.

Tests marked `reliability` (and `slow`) run only in the full suite; `DOSSIER_RELIABILITY=full` raises the
counts and sizes of the others. Every test records what it tried; the table is printed at the end.
"""

from __future__ import annotations

import pytest

from tests.fixtures.reliability import FULL, RECORDS


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: the full reliability suite, run by `make reliability`")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if not RECORDS:
        return
    tr = terminalreporter
    tr.section(f"reliability ({'full' if FULL else 'quick'}): what was tried and what survived")
    rows = [("area", "case", "outcome", "status / reason", "time s", "peak MB")]
    for r in RECORDS:
        status = r.status.replace("\n", " ")
        status = status if len(status) <= 70 else status[:67] + "..."
        rows.append(
            (r.area, r.case, r.outcome, status, f"{r.seconds:.1f}", f"{r.peak_mb:.0f}" if r.peak_mb else "-")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        tr.write_line("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            tr.write_line("  ".join("-" * w for w in widths))
    failed = sum(r.outcome != "survived" for r in RECORDS)
    tr.write_line(f"{len(RECORDS)} cases, {len(RECORDS) - failed} survived, {failed} failed")
