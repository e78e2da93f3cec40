"""Ranking over posting arrays gives the documents, scores and order Whoosh's own search gives."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh.fields import ID, Schema
from whoosh.query import Every

from db.models import Part
from index import rank
from index.query import QueryParser, matching_docnums
from index.schema import WordsField

from ..conftest import known_text, real_rows


def _check(searcher, q) -> int:  # noqa: ANN001
    """Our matches are the query's documents (array set operations) with Whoosh's scores, in Whoosh's order.

    Whoosh's own search is the reference for scores and order, with limit=None: its bounded collector can
    miss documents under a boosted group (its block-quality bounds ignore the boost). Which documents match
    is checked against `matching_docnums`, since Whoosh's AndNot over several segments can let through a
    document the NOT part holds.
    """
    scored = rank.evaluate(searcher, q)
    assert scored.docs.tolist() == matching_docnums(searcher, q).tolist()
    expected = [(hit.docnum, hit.score) for hit in searcher.search(q, limit=None, optimize=False)]
    got = rank.top(scored, 0, len(scored))
    ours = dict(got)
    common = [(d, s) for d, s in expected if d in ours]
    assert len(common) == len(got)  # Whoosh's extra documents are the AndNot leak only
    for doc, score in common:
        assert abs(ours[doc] - score) <= 1e-9 * max(1.0, abs(score))
    # Same order, up to documents whose scores differ only in the last bits of a float.
    theirs = [round(s, 9) for _, s in common]
    kept = {d for d, _ in common}
    assert [round(s, 9) for d, s in got if d in kept] == theirs
    return len(got)


def _default_unions(monkeypatch) -> None:  # noqa: ANN001
    # On segments under 5,000 documents Whoosh ORs three or more expanded words (prefix, fuzzy) with a
    # preloaded union that scores every match 1.0, and with a scored union elsewhere; we always score, so
    # that a document's rank does not depend on how the index happens to be segmented.
    monkeypatch.setattr(Q.Or, "matcher_type", Q.Or.DEFAULT_MATCHER)


def _queries(real_case) -> list[str]:  # noqa: ANN001
    with real_case.services.case.reader() as s:
        text = " ".join(t for t in s.scalars(select(Part.text).limit(3000)) if t)
    words = [w for w, _ in Counter(re.findall(r"[a-z]{4,}", text.lower())).most_common(400)]
    common, middling = words[:30], words[150:200]
    phrases = [f'"{k}"' for k in (known_text(r["notes"]) for r in real_rows()) if k and " " in k][:25]
    queries = [
        *common[:10],
        *middling[:10],
        *(f"{a} {b}" for a, b in zip(common[:10], middling[:10], strict=True)),
        *(f"{a} OR {b}" for a, b in zip(common[10:16], middling[10:16], strict=True)),
        *(f"{a} -{b}" for a, b in zip(common[16:22], common[22:28], strict=True)),
        *(f"{w[:4]}*" for w in middling[20:30]),
        *(f"{w[:-1]}x~" for w in middling[30:36]),
        *phrases,
        f'"{common[0]} {common[1]}"~6',
        f"({common[0]} OR {common[2]}) AND NOT {middling[0]}",
        f"NOT {common[3]}",
        f"{common[4]}^3 {middling[4]}",
        f"title:{common[5]}",
        "type:pdf",
        f"type:email {common[6]}",
        "date:[2001 to 2003]",
        "WO-2017-0413",
        "*",
    ]
    return queries


def test_ranking_equals_whoosh_on_the_corpus(real_case, monkeypatch) -> None:  # noqa: ANN001
    _default_unions(monkeypatch)
    search = real_case.services.search
    parser = QueryParser()
    checked = 0
    with search.index.searcher() as searcher:
        for text in _queries(real_case):
            q = parser.parse(text).query if text != "*" else Every()
            checked += bool(_check(searcher, q))
    assert checked > 60


def test_ranking_across_segments_with_deleted_documents(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    _default_unions(monkeypatch)
    schema = Schema(
        id=ID(stored=True, unique=True), content=WordsField(phrase=True), title=WordsField(field_boost=2.0)
    )
    ix = whoosh_index.create_in(str(tmp_path), schema)
    texts = [
        "the contract pays for the work order",
        "work order WO 17 for the pipeline contract contract",
        "an email forwards the spreadsheet of the contract",
        "payment contract for the pipeline",
    ]
    for batch in range(3):  # three segments
        writer = ix.writer()
        for i, value in enumerate(texts * 40):
            writer.add_document(
                id=f"{batch}-{i}", content=f"{value} batch{batch} n{i % 7}", title=value[: 10 + i % 20]
            )
        writer.commit(merge=False)
    writer = ix.writer()
    for i in range(0, 160, 3):
        writer.delete_by_term("id", f"1-{i}")
    writer.commit(merge=False)
    parser = QueryParser()
    with ix.searcher() as searcher:
        assert len(searcher.subsearchers) >= 3 and searcher.reader().has_deletions()
        for text in ("contract", "work order", '"the contract"', "pipe*", "contract -email", "n3 OR batch1"):
            q = parser.parse(text).query
            assert _check(searcher, q)


def test_top_orders_ties_by_document_number() -> None:
    import numpy as np

    scored = rank.Scored(np.array([2, 5, 7, 9, 11]), np.array([1.0, 3.0, 1.0, 3.0, 2.0]))
    assert rank.top(scored, 0, 5) == [(5, 3.0), (9, 3.0), (11, 2.0), (2, 1.0), (7, 1.0)]
    assert rank.top(scored, 1, 3) == [(9, 3.0), (11, 2.0)]
    assert rank.top(scored, 5, 9) == []
