"""Segments written with rare terms' postings inlined hold exactly the postings of Whoosh's own codec,
merge, read back through Whoosh and through our ranking, and name Whoosh's plain codec."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from db.models import Part
from index import rank
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
