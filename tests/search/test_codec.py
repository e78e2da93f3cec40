"""Segments written with rare terms' postings inlined hold exactly the postings of Whoosh's own codec,
merge, read back through Whoosh and through our ranking, and name Whoosh's plain codec."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PostingsWriter

from db.models import Part
from index import rank, store
from index.codec import INLINE_LIMIT, WriteCodec
from index.schema import build_schema

FIELDS = ("content", "title", "ident", "id", "type")


def _index(path: Path, texts: list[str], codec: W3Codec, *, optimize: bool):  # noqa: ANN202
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    for start in range(0, len(texts), 60):  # several segments, merged at the end when asked
        writer = ix.writer(codec=codec)
        for i, text in enumerate(texts[start : start + 60], start):
            writer.add_document(id=str(i), content=text, title=text[:80], ident=text, type="pdf")
        writer.commit(merge=False)
    if optimize:
        writer = ix.writer(codec=codec)
        writer.commit(optimize=True)
    return ix


def _postings(ix) -> dict[tuple[str, bytes], list]:  # noqa: ANN001
    out = {}
    with ix.searcher() as s:
        reader = s.reader()
        for field in FIELDS:
            for term in reader.lexicon(field):
                m = reader.postings(field, term)
                kind = "positions" if field in ("content", "title") else "weight"
                out[(field, term)] = list(m.items_as(kind))
    return out


def test_inlined_postings_equal_whoosh_blocks(real_case, tmp_path: Path) -> None:
    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text).order_by(Part.id)) if t][:180]
    for optimize in (False, True):
        plain = _index(tmp_path / f"plain-{optimize}", texts, W3Codec(), optimize=optimize)
        ours = _index(tmp_path / f"ours-{optimize}", texts, WriteCodec(), optimize=optimize)
        expected = _postings(plain)
        assert _postings(ours) == expected and len(expected) > 5000
        segments = ours._segments()
        assert len(segments) == (1 if optimize else 3)
        assert all(type(seg.codec()) is W3Codec for seg in segments)  # readable without index.codec
        kinds = {True: 0, False: 0}
        with ours.searcher() as s:
            for sub, _ in s.reader().leaf_readers():
                for field in ("content", "ident"):
                    for term in list(sub.lexicon(field))[::5]:
                        info = sub.term_info(field, term)
                        kinds[info.is_inlined()] += 1
                        assert info.is_inlined() == (info.doc_frequency() < INLINE_LIMIT)
                        # Our ranking reads both kinds to the arrays Whoosh's own matchers give.
                        ids, weights = zip(*sub.postings(field, term).items_as("weight"), strict=True)
                        got = rank.postings(sub, field, term)
                        assert got.ids.tolist() == list(ids) and got.weights.tolist() == list(weights)
        assert kinds[True] > 50 and kinds[False] > 5
        plain.close()
        ours.close()


class _MendedPostingsWriter(W3PostingsWriter):
    """Whoosh's postings writer with its inlining able to run (it calls the term info's `set_inline`,
    which is called `set_inlined`; a format without values gets an empty one per posting)."""

    def finish_postings(self):  # noqa: ANN201
        if not self.written() and len(self._ids) < self._inlinelimit:
            terminfo = self._terminfo
            terminfo.add_block(self)
            values = self._values if len(self._values) == len(self._ids) else [b""] * len(self._ids)
            terminfo.set_inlined(self._ids, self._weights, values)
            self._terminfo = None
            return terminfo
        return super().finish_postings()


class _StepByStep(WriteCodec):
    """The same codec with Whoosh's own field writer: every term through start_term/add/finish_term and
    a postings writer."""

    def field_writer(self, storage, segment):  # noqa: ANN001, ANN201
        return W3FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):  # noqa: ANN001, ANN201
        return _MendedPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=INLINE_LIMIT,
        )


def _segment_files(ix) -> dict[str, bytes]:  # noqa: ANN001
    (segment,) = ix._segments()
    store = segment.open_compound_file(ix.storage)
    prefix = segment.segment_id()
    return {name.replace(prefix, ""): store.open_file(name).read() for name in store.list()}


def _one_segment(path: Path, texts: list[str], codec: W3Codec):  # noqa: ANN202
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    writer = ix.writer(codec=codec)
    for i, text in enumerate(texts):
        writer.add_document(id=str(i), content=text, title=text[:80], ident=text, type="pdf")
    writer.commit()
    return ix


def test_terms_inlined_in_one_step_are_the_bytes_whoosh_writes(real_case, tmp_path: Path) -> None:
    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text).order_by(Part.id)) if t][:150]
    pairs = [
        # one writer's segment…
        (
            _one_segment(tmp_path / "step", texts, _StepByStep()),
            _one_segment(tmp_path / "fused", texts, WriteCodec()),
        ),
        # …and three merged into one (postings read back from segments)
        (
            _index(tmp_path / "step-merged", texts, _StepByStep(), optimize=True),
            _index(tmp_path / "fused-merged", texts, WriteCodec(), optimize=True),
        ),
    ]
    for step, fused in pairs:
        expected = _segment_files(step)
        assert _segment_files(fused) == expected
        assert len(expected[".trm"]) > 100_000
        step.close()
        fused.close()


def _pooled(path: Path, texts: list[str], *, grouped: bool, spill_at: int | None = None, optimize: bool):  # noqa: ANN202
    """Segments written by index.store's writer (postings grouped by term) or by Whoosh's own writer
    and pool, both with our codec; `spill_at` (bytes) makes the pool spill sorted runs to disk."""
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    for start in range(0, len(texts), 60):
        writer = store._writer(ix, 64) if grouped else ix.writer(codec=WriteCodec())
        runs: list[str] = []
        if spill_at is not None:
            writer.pool.limit = spill_at
            writer.pool._add_run = lambda path, pool=writer.pool, runs=runs: (
                runs.append(path),
                type(pool)._add_run(pool, path),
            )
        for i, text in enumerate(texts[start : start + 60], start):
            writer.add_document(id=str(i), content=text, title=text[:80], ident=text, type="pdf")
        writer.commit(merge=False)
        assert bool(runs) == (spill_at is not None)  # spilled, then merged back
    if optimize:  # the merge adds the segments' postings to the pool posting by posting
        writer = store._writer(ix, 64) if grouped else ix.writer(codec=WriteCodec())
        writer.commit(optimize=True)
    return ix


def test_postings_grouped_by_term_are_the_bytes_of_whoosh_pool(real_case, tmp_path: Path) -> None:
    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text).order_by(Part.id)) if t][:150]
    for name, options in {
        "one": {"optimize": False},
        "merged": {"optimize": True},
        "spilled": {"optimize": True, "spill_at": 200_000},
    }.items():
        ours = _pooled(
            tmp_path / f"grouped-{name}", texts[:60] if name == "one" else texts, grouped=True, **options
        )
        plain = _pooled(
            tmp_path / f"whoosh-{name}", texts[:60] if name == "one" else texts, grouped=False, **options
        )
        expected = _segment_files(plain)
        assert _segment_files(ours) == expected
        assert len(expected[".trm"]) > 50_000
        ours.close()
        plain.close()


def test_grouped_pool_gives_postings_in_whoosh_order(tmp_path: Path) -> None:
    from whoosh.filedb.filestore import FileStorage

    pool = store._GroupedPostingPool(FileStorage(str(tmp_path)), None)
    items = [
        ("content", b"zeta", 4, 1.0, b"a"),
        ("content", b"alpha", 7, 2.0, b"b"),
        ("content", b"alpha", 2, 1.0, b"c"),  # out of document order: sorted back
        ("author", b"zeta", 1, 1.0, None),
        ("content", b"alpha", 9, 1.0, b"d"),
    ]
    for item in items:
        pool.add(item)
    assert list(pool.iter_postings()) == sorted(items, key=lambda item: item[:3])
    spilled = store._GroupedPostingPool(FileStorage(str(tmp_path)), None)
    spilled.limit = 1  # every posting spills: the runs merge back to the same order
    for item in items:
        spilled.add(item)
    assert spilled.runs and list(spilled.iter_postings()) == sorted(items, key=lambda item: item[:3])


def test_the_grouped_pool_counts_the_memory_it_holds(real_case, tmp_path: Path) -> None:
    """The writer's pool spills at its limit by what it counts: what it counts is what it holds (so a
    2 GB rebuild pool holds about 2 GB, as Whoosh's pool does, not half as much again)."""
    import gc
    import tracemalloc

    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text).order_by(Part.id)) if t][:400]
    (tmp_path / "ix").mkdir()
    ix = whoosh_index.create_in(str(tmp_path / "ix"), build_schema())
    writer = store._writer(ix, 100_000)
    pool = writer.pool
    assert isinstance(pool, store._GroupedPostingPool)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        groups_before = len(pool._groups)
        for i, text in enumerate(texts):
            writer.add_document(id=str(i), content=text, title=text[:80], ident=text, type="pdf")
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        writer.cancel()
    assert len(pool._groups) - groups_before > 10_000 and not pool.runs
    assert 0.8 < pool.currentsize / held < 1.25, (pool.currentsize, held)
