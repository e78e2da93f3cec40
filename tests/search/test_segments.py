"""An import's index passes leave their segments beside the others until they pile up; merging (which
rewrites every posting it takes) comes after, once the import is searchable."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from db.models import Part
from index import store
from index.schema import IndexDoc
from index.store import SearchIndex


def _docs(real_case, count: int) -> list[IndexDoc]:  # noqa: ANN001
    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text).order_by(Part.id)) if t and len(t) > 200][:count]
    return [
        IndexDoc(
            id=i,
            content=text,
            title=text[:60],
            doc_type="pdf",
            state="ok",
            sha256=f"{i:064x}",
            paths=(f"/leak/{i}.pdf",),
            folder="/leak",
        )
        for i, text in enumerate(texts, 1)
    ]


def _segment_sizes(ix: SearchIndex) -> list[int]:
    return sorted(seg.doc_count_all() for seg in ix.ix._segments())


def test_import_passes_merge_only_once_segments_pile_up(real_case, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(store, "IMPORT_MAX_SEGMENTS", 6)
    docs = _docs(real_case, 9)
    ix = SearchIndex(tmp_path / "index")
    ix.open()
    for doc in docs[:6]:
        ix.write([doc], importing=True)
    assert _segment_sizes(ix) == [1] * 6  # no pass merged
    ix.write([docs[6]], importing=True)  # six segments already: Whoosh's policy merges the small ones
    assert len(_segment_sizes(ix)) < 6
    ix.write(docs[7:], importing=True)
    assert sum(_segment_sizes(ix)) == ix.doc_count() == 9
    assert ix.indexed_ids() == set(range(1, 10))


def test_other_writes_merge_as_whoosh_does(real_case, tmp_path: Path) -> None:  # noqa: ANN001
    docs = _docs(real_case, 7)
    ix = SearchIndex(tmp_path / "index")
    ix.open()
    for doc in docs[:6]:
        ix.write([doc], importing=True)
    assert len(_segment_sizes(ix)) == 6
    ix.write([docs[6]])  # a write outside an import: Whoosh's policy at once
    assert len(_segment_sizes(ix)) < 7
    assert ix.indexed_ids() == set(range(1, 8))


def test_small_segments_are_merged_as_an_import_ends(real_case, tmp_path: Path) -> None:  # noqa: ANN001
    docs = _docs(real_case, 8)
    ix = SearchIndex(tmp_path / "index")
    ix.open()
    for doc in docs:
        ix.write([doc], importing=True)
    assert len(_segment_sizes(ix)) == 8
    ix.merge_small_segments()  # Whoosh's policy, step after step, until it merges no more
    sizes = _segment_sizes(ix)
    assert len(sizes) < 8 and sum(sizes) == 8
    ix.merge_small_segments()
    assert _segment_sizes(ix) == sizes  # nothing left to merge
    assert ix.indexed_ids() == set(range(1, 9))
