"""The one-pass postings of the text fields are byte for byte those of Whoosh's own token-stream path."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema

from db.models import Part
from index.analysis import IdentTokenizer, WordTokenizer
from index.schema import IdentField, WordsField


def _build(path: Path, schema: Schema, texts: list[str]):  # noqa: ANN202
    path.mkdir()
    ix = whoosh_index.create_in(str(path), schema)
    writer = ix.writer()
    for i, value in enumerate(texts):
        writer.add_document(id=str(i), content=value, title=value[:120], ident=value)
    writer.commit()
    return ix.reader()


def test_one_pass_postings_equal_token_stream_postings(real_case, tmp_path: Path) -> None:
    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text).order_by(Part.id)) if t][:400]
    texts.append(
        "Résumé WO-2017-0413, PO 4500012345; a.b@c.com 熊猫国际 DE89 3704 0044 0532 0130 00\f20.02.2022"
    )
    assert sum(map(len, texts)) > 200_000
    stream = Schema(
        id=ID(stored=True),
        content=TEXT(analyzer=WordTokenizer(), phrase=True),
        title=TEXT(analyzer=WordTokenizer(), phrase=True, field_boost=2.0),
        ident=TEXT(analyzer=IdentTokenizer(), phrase=False),
    )
    one_pass = Schema(
        id=ID(stored=True),
        content=WordsField(phrase=True),
        title=WordsField(phrase=True, field_boost=2.0),
        ident=IdentField(),
    )
    a = _build(tmp_path / "stream", stream, texts)
    b = _build(tmp_path / "one-pass", one_pass, texts)
    for field in ("content", "title", "ident"):
        terms = list(a.lexicon(field))
        assert terms == list(b.lexicon(field)) and len(terms) > 50
        for term in terms:
            pa, pb = a.postings(field, term), b.postings(field, term)
            assert list(pa.items_as("weight")) == list(pb.items_as("weight"))
            if field != "ident":
                pa, pb = a.postings(field, term), b.postings(field, term)
                assert list(pa.items_as("positions")) == list(pb.items_as("positions"))
        for docnum in range(len(texts)):
            assert a.doc_field_length(docnum, field) == b.doc_field_length(docnum, field)


def test_identifiers_scanned_line_by_line_equal_a_scan_of_the_whole_text(real_case) -> None:
    from index.analysis import _HAS_DIGIT, IDENT_RE, identifiers, normalise_ident

    def whole(value: str) -> list[str]:
        found = (
            normalise_ident(m.group(0))
            for m in IDENT_RE.finditer(value)
            if "@" in m.group(0) or _HAS_DIGIT.search(m.group(0))
        )
        return [ident for ident in found if len(ident) >= 4]

    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text)) if t]
    texts.append("PO 4500012345\x0bWO-2017-\r\n0413 x@y.org\u2028DE89 3704 0044 0532 0130 00")
    assert sum(len(whole(t)) for t in texts) > 1000
    for value in texts:
        assert list(identifiers(value)) == whole(value)


def _segment_files(ix) -> dict[str, bytes]:  # noqa: ANN001 - a whoosh index
    """The bytes of the index's single segment, by file kind (postings, terms)."""
    (segment,) = ix._segments()
    storage = segment.open_compound_file(ix.storage) if segment.is_compound() else ix.storage
    out = {}
    for name in storage.list():
        kind = name.rsplit(".", 1)[-1]
        if kind in ("pst", "trm"):
            with storage.open_file(name) as f:
                out[kind] = f.read()
    return out


def test_writer_with_lengths_read_once_writes_the_same_postings(real_case, tmp_path: Path) -> None:
    from index import store
    from index.schema import build_schema

    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text).order_by(Part.id)) if t][:300]
    written = {}
    for name in ("whoosh", "ours"):
        path = tmp_path / name
        path.mkdir()
        ix = whoosh_index.create_in(str(path), build_schema())
        writer = store._writer(ix, 64)
        if name == "whoosh":
            del writer.per_document_reader  # Whoosh's own: the column read for every posting
        else:
            assert "per_document_reader" in vars(writer)  # answered by _SegmentLengths
        for i, text in enumerate(texts):
            writer.add_document(id=str(i), content=text, title=text[:80], ident=text)
        writer.commit()
        written[name] = _segment_files(ix)
        ix.close()
    assert set(written["ours"]) == {"pst", "trm"} and len(written["ours"]["pst"]) > 100_000
    assert written["ours"] == written["whoosh"]


def test_folding_by_runs_equals_the_fold_table_for_every_character(real_case) -> None:
    """`fold` lower-cases ASCII in bytes and sends only non-ASCII runs through the table: every code
    point (surrogates included) and the real corpus's text fold exactly as through the table alone."""
    from index.analysis import FOLD_TABLE, fold

    for start in range(0, 0x110000, 0x1000):
        block = "".join(map(chr, range(start, start + 0x1000)))
        assert fold(block) == block.translate(FOLD_TABLE)
        assert [fold(ch) for ch in block[::7]] == [ch.translate(FOLD_TABLE) for ch in block[::7]]
    with real_case.services.case.reader() as s:
        texts = [t for t in s.scalars(select(Part.text)) if t]
    assert sum(not t.isascii() for t in texts) > 100
    for text in texts:
        assert fold(text) == text.translate(FOLD_TABLE)
