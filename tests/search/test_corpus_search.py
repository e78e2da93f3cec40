"""Every known-text phrase of the real corpus is found by a phrase search that returns its document."""

from __future__ import annotations

import pytest

from tests.conftest import known_text, real_rows


@pytest.mark.parametrize(
    "row", [r for r in real_rows() if known_text(r["notes"])], ids=lambda r: r["path"].split("/", 1)[1]
)
def test_known_phrase_is_found(real_case, row) -> None:
    doc = real_case.doc_by_sha(row["sha256"])
    assert doc is not None
    phrase = known_text(row["notes"]).replace('"', " ")
    family = real_case.family_ids(doc.id)
    ids = set(real_case.services.search.matching_ids(f'"{phrase}"'))
    assert ids & family, f"{row['path']}: {phrase!r} not found"


def test_index_matches_store(real_case) -> None:
    assert real_case.services.search.verify().ok
