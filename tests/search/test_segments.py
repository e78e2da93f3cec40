"""An import's index passes leave their segments beside the others until they pile up; merging (which
rewrites every posting it takes) comes after, once the import is searchable."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
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


def _content(ix: SearchIndex) -> dict[tuple[str, bytes], list[tuple[str, float, bytes]]]:
    """Every term's postings as (document id, weight, encoded value), whatever segment holds them."""
    out: dict[tuple[str, bytes], list[tuple[str, float, bytes]]] = {}
    with ix.searcher() as s:
        for reader, _base in s.reader().leaf_readers():
            ids = reader.column_reader("id")
            for field, term in reader.all_terms():
                postings = reader.postings(field, term)
                while postings.is_active():
                    if not reader.is_deleted(postings.id()):
                        # a field without values reads None from an inlined list, b"" from a block
                        entry = (ids[postings.id()], postings.weight(), postings.value() or b"")
                        out.setdefault((field, term), []).append(entry)
                    postings.next()
    return {key: sorted(value) for key, value in out.items()}


def test_a_shared_pass_writes_what_one_writer_writes(real_case, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(store.threading, "active_count", lambda: 1)  # pytest's own threads aside
    docs = _docs(real_case, 24)
    alone, shared = SearchIndex(tmp_path / "alone"), SearchIndex(tmp_path / "shared")
    for ix in (alone, shared):
        ix.open()
        ix.write(docs[:5], importing=True)  # already indexed: replaced by the pass below
    alone.write(docs, importing=True)
    assert shared.write(docs, importing=True, writers=3) == 24
    assert len(shared.ix._segments()) == 4  # the first pass's, this writer's and two helpers'
    assert shared.doc_count() == alone.doc_count() == 24
    assert shared.indexed_ids() == set(range(1, 25))
    assert _content(shared) == _content(alone)
    assert not list((tmp_path / "shared").glob("*.tmp"))  # no helper left files behind


def test_a_failed_helper_leaves_its_documents_to_the_writer(real_case, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(store.threading, "active_count", lambda: 1)
    docs = _docs(real_case, 12)
    alone = SearchIndex(tmp_path / "alone")
    alone.open()
    alone.write(docs, importing=True)
    segment_of, parent = store._segment_of, os.getpid()

    def failing_in_helpers(ix, docs):  # noqa: ANN001, ANN202
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        return segment_of(ix, docs)

    monkeypatch.setattr(store, "_segment_of", failing_in_helpers)
    shared = SearchIndex(tmp_path / "shared")
    shared.open()
    assert shared.write(docs, importing=True, writers=2) == 12
    assert len(shared.ix._segments()) == 2  # the helper's documents were written here instead
    assert _content(shared) == _content(alone)


def test_a_pass_is_not_shared_by_a_process_with_threads(real_case, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(store.threading, "active_count", lambda: 3)  # forking would copy only this one
    ix = SearchIndex(tmp_path / "index")
    ix.open()
    ix.write(_docs(real_case, 12), importing=True, writers=2)
    assert _segment_sizes(ix) == [12]


def test_a_rebuild_pauses_the_cyclic_collector_and_resumes_it(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The rebuild's pool holds millions of lists that are never in a cycle: the collector is paused while
    the writer fills and commits, and resumes afterwards, also when the rebuild fails."""
    import gc

    seen: list[bool] = []
    fill = store._fill

    def watching(writer, docs, delete_ids, **kwargs):  # noqa: ANN001, ANN202
        seen.append(gc.isenabled())
        return fill(writer, docs, delete_ids, **kwargs)

    monkeypatch.setattr(store, "_fill", watching)
    index = store.SearchIndex(tmp_path / "index")
    assert gc.isenabled()
    assert index.rebuild([]) == 0
    assert seen == [False] and gc.isenabled()

    def failing(writer, docs, delete_ids, **kwargs):  # noqa: ANN001, ANN202
        raise OSError("disk full")

    monkeypatch.setattr(store, "_fill", failing)
    with pytest.raises(OSError):
        index.rebuild([])
    assert gc.isenabled()
