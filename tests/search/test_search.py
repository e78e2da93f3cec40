"""The query language, snippets, locations, facets and paging over synthetic documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.pipeline.importer import ImportOptions
from app.search import QueryError
from app.services import build_services

DOCS = {
    "work-order.json": {
        "doc_type": "pdf",
        "title": "Work order WO-2017-0413",
        "metadata": {"author": "Li Wei", "created": "2017-03-02T10:00:00"},
        "parts": [
            {
                "kind": "page",
                "label": "1",
                "text": "Work order WO-2017-0413 for the payment of the tower contract.",
            },
            {
                "kind": "page",
                "label": "2",
                "text": "Signed by Panda International. Purchase order PO 4500012345.",
            },
        ],
    },
    "other-order.json": {
        "doc_type": "pdf",
        "title": "Work order WO-2017-0414",
        "metadata": {"created": "2015-06-01T09:00:00"},
        "parts": [
            {"kind": "page", "label": "1", "text": "WO 2017 0413 is mentioned loosely; draft contract."}
        ],
    },
    "sheet.json": {
        "doc_type": "xlsx",
        "title": "Ledger",
        "metadata": {"modified": "2013-01-05T00:00:00"},
        "parts": [
            {
                "kind": "sheet",
                "label": "Payments",
                "text": "Date\tAmount\tAccount\n20.02.2022\t15000\tDE89 3704 0044 0532 0130 00",
                "cells": [
                    {"row": 1, "col": 1, "text": "Date"},
                    {"row": 2, "col": 1, "text": "20.02.2022"},
                    {"row": 2, "col": 2, "text": "15000"},
                    {"row": 2, "col": 3, "text": "DE89 3704 0044 0532 0130 00"},
                ],
            }
        ],
    },
    "mail.json": {
        "doc_type": "email",
        "title": "Re: Huawei contract",
        "metadata": {
            "from": "Zhang San <zhang@huawei.com>",
            "to": ["Jane Roe <jane@example.org>"],
            "date": "2014-07-09T08:30:00+00:00",
            "subject": "Re: Huawei contract",
        },
        "parts": [
            {"kind": "headers", "label": "headers", "text": "From: Zhang San <zhang@huawei.com>"},
            {
                "kind": "body",
                "label": "body",
                "text": "The résumé of the contractor is attached. 拉丁美洲和加勒比",
            },
        ],
    },
    "russian.json": {
        "doc_type": "text",
        "title": "Отчёт",
        "parts": [{"kind": "body", "label": "body", "text": "Годовой отчёт о платежах компании"}],
    },
}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("search")
    leak = root / "leak" / "orders"
    leak.mkdir(parents=True)
    for name, data in DOCS.items():
        (leak / name).write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    services = build_services(root / "case", create=True)
    services.import_paths(
        [root / "leak"], ImportOptions(workers=1, extractor="tests.fixtures.bad_extractors:JsonFixture")
    )
    yield services
    services.close()


def titles(services, query: str, **kw) -> set[str]:  # noqa: ANN001
    return {h.title for h in services.search.search(query, limit=50, **kw).hits}


def test_words_must_all_match(services) -> None:
    assert titles(services, "tower contract") == {"Work order WO-2017-0413"}
    assert titles(services, "contract") == {
        "Work order WO-2017-0413",
        "Work order WO-2017-0414",
        "Re: Huawei contract",
    }


def test_or_not_and_grouping(services) -> None:
    assert titles(services, "tower OR draft") == {"Work order WO-2017-0413", "Work order WO-2017-0414"}
    assert titles(services, "contract NOT draft") == {"Work order WO-2017-0413", "Re: Huawei contract"}
    assert titles(services, "contract -draft -tower") == {"Re: Huawei contract"}
    assert titles(services, "(tower OR résumé) AND contract") == {
        "Work order WO-2017-0413",
        "Re: Huawei contract",
    }


def test_phrase_and_proximity(services) -> None:
    assert titles(services, '"Panda International"') == {"Work order WO-2017-0413"}
    assert titles(services, '"International Panda"') == set()
    assert titles(services, '"payment contract"~5') == {"Work order WO-2017-0413"}
    assert titles(services, '"payment contract"') == set()


def test_prefix_wildcard_fuzzy(services) -> None:
    assert "Re: Huawei contract" in titles(services, "contr*")
    assert titles(services, "Huawai~") == {"Re: Huawei contract"}
    assert titles(services, "t?wer") == {"Work order WO-2017-0413"}


def test_identifiers_match_exactly(services) -> None:
    assert titles(services, "WO-2017-0413") == {"Work order WO-2017-0413"}
    assert titles(services, "WO-2017-0414") == {"Work order WO-2017-0414"}
    assert titles(services, "PO 4500012345") == {"Work order WO-2017-0413"}
    assert titles(services, "20.02.2022") == {"Ledger"}
    assert titles(services, "DE89 3704 0044 0532 0130 00") == {"Ledger"}
    assert titles(services, "zhang@huawei.com") == {"Re: Huawei contract"}


def test_fields(services) -> None:
    assert titles(services, "from:*@huawei.com") == {"Re: Huawei contract"}
    assert titles(services, "to:jane") == {"Re: Huawei contract"}
    assert titles(services, "type:email") == {"Re: Huawei contract"}
    assert titles(services, "type:spreadsheet") == {"Ledger"}
    assert titles(services, "author:wei") == {"Work order WO-2017-0413"}
    assert titles(services, "title:ledger") == {"Ledger"}
    assert titles(services, "path:orders type:pdf") == {"Work order WO-2017-0413", "Work order WO-2017-0414"}
    assert titles(services, "status:unreviewed type:text") == {"Отчёт"}


def test_date_ranges(services) -> None:
    assert titles(services, "date:[2014 to 2016]") == {"Work order WO-2017-0414", "Re: Huawei contract"}
    assert titles(services, "from:*@huawei.com date:[2012 to 2016] type:email") == {"Re: Huawei contract"}
    assert len(titles(services, "imported:[2020 to now]")) == len(DOCS)


def test_non_english(services) -> None:
    assert titles(services, "resume") == {"Re: Huawei contract"}
    assert titles(services, "отчёт") == {"Отчёт"}
    assert titles(services, "拉丁美洲") == {"Re: Huawei contract"}
    assert titles(services, "美洲和加") == {"Re: Huawei contract"}


def test_snippets_and_locations(services) -> None:
    hit = services.search.search('"Panda International"').hits[0]
    assert "<mark>Panda International</mark>" in hit.snippet
    assert hit.locations == [{"kind": "page", "page": 2, "label": "page 2"}]
    cell = services.search.search("DE89 3704 0044 0532 0130 00").hits[0]
    assert {"kind": "cell", "sheet": "Payments", "cell": "C2", "label": "Payments!C2"} in cell.locations
    mail = services.search.search("résumé").hits[0]
    assert mail.locations == [{"kind": "body", "label": "body"}]
    assert "<mark>résumé</mark>" in mail.snippet


def test_facets_sorting_paging(services) -> None:
    res = services.search.search("*", limit=2, sort="date")
    assert res.total == len(DOCS)
    assert res.facets["type"]["pdf"] == 2
    assert res.facets["year"]["2017"] == 1
    assert res.facets["status"] == {"unreviewed": len(DOCS)}
    assert res.facets["state"] == {"ok": len(DOCS)}
    dated = [h.date for h in services.search.search("*", limit=10, sort="date").hits if h.date]
    assert dated == sorted(dated)
    page2 = services.search.search("*", limit=2, offset=2, sort="name")
    names = [h.title.casefold() for h in services.search.search("*", limit=10, sort="name").hits]
    assert [h.title.casefold() for h in page2.hits] == names[2:4]
    filtered = services.search.search("*", filters={"type": ["pdf"]})
    assert filtered.total == 2


@pytest.mark.parametrize("query", ["a AND (b", '"unclosed', "(", ")", "date:[2099 to 1]"])
def test_malformed_queries_explain(services, query: str) -> None:
    with pytest.raises(QueryError) as err:
        services.search.search(query)
    assert str(err.value) and "\n" not in str(err.value)


def test_reindex_and_verify(services) -> None:
    before = titles(services, "contract")
    assert services.search.verify().ok
    assert services.search.reindex() == len(DOCS)
    assert titles(services, "contract") == before
    assert services.search.verify().ok


def test_damaged_index_is_rebuilt(services) -> None:
    index_dir = services.case.index_dir
    services.search.index.close()
    for f in index_dir.glob("*.seg"):
        f.write_bytes(b"garbage")
    for f in index_dir.glob("_MAIN_*.toc"):
        f.write_bytes(b"garbage")
    assert services.search.index.health().state == "damaged"
    services.search.ensure_index()
    assert services.search.index.health().state == "ok"
    assert titles(services, "WO-2017-0413") == {"Work order WO-2017-0413"}


def test_empty_case_searches_and_facets_to_nothing(tmp_path) -> None:  # noqa: ANN001
    services = build_services(tmp_path / "case", create=True)
    try:
        services.search.ensure_index()
        for query in ("*", "contract", "contr*", "status:relevant", "tag:x"):
            res = services.search.search(query, filters={"type": ["pdf"]} if query == "*" else None)
            assert (res.total, res.hits) == (0, [])
            assert not any(res.facets.values())
        assert services.search.search("*", facets=False, snippets=False).total == 0
        assert services.search.matching_ids("contract") == []
    finally:
        services.close()


def test_the_query_side_loads_at_the_first_query_after_its_hooks(services) -> None:  # noqa: ANN001
    """`Services` registers the review and entity fields in a hook run before the first query; a hook that
    fails fails that query and runs again at the next one, rather than leaving those fields unanswered."""
    from app.search import SearchService

    search = SearchService(services.case)
    calls: list[int] = []

    def hook() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("not yet")

    search.before_first_query.append(hook)
    with pytest.raises(RuntimeError):
        search.search("contract")
    assert search.search("contract").total > 0 and len(calls) == 2
    search.search("contract")
    assert len(calls) == 2
    assert {"tag", "status", "entities"} <= set(services.search.search("contract").facets)


def test_segments_are_read_in_place_in_a_process_without_the_query_side(services) -> None:  # noqa: ANN001
    """Opening an index (the health check at open, the index process's merges) reads each part of a
    compound segment in place, not copied into memory, before any query has loaded `index.query`."""
    probe = """
import sys
from pathlib import Path
from index.store import SearchIndex
from whoosh.filedb.structfile import BufferFile
opened = []
init = BufferFile.__init__
def spy(self, *args, **kwargs):
    init(self, *args, **kwargs)
    opened.append(type(self.file).__name__)
BufferFile.__init__ = spy
health = SearchIndex(Path(sys.argv[1])).health()
print(health.state, sorted(set(opened)), "index.query" in sys.modules)
"""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", probe, str(services.case.index_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "['_MemoryFile']", "False"]
