"""Entities through the real pipeline (synthetic documents): search fields, facets, the entity table,
per-document mentions, and reviewers' corrections surviving reindex, re-import and recomputation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select

from app.insights.service import InsightsError
from app.pipeline.importer import ImportOptions
from db.models import AuditEntry, DocumentEntity, DocumentInsights, Entity, Mention
from tests.insights.conftest import FIXTURE, _doc, _write, by_title, ids


def entity_id(services, kind: str, value: str) -> int:  # noqa: ANN001
    with services.case.reader() as s:
        return s.scalar(select(Entity.id).where(Entity.kind == kind, Entity.value == value))


def test_import_computes_entities_and_search_fields(services) -> None:
    wire, reply, contract = (
        by_title(services, t) for t in ("Wire instructions", "RE: Wire instructions", "Supply contract")
    )
    assert services.insights.stale_ids() == []
    assert ids(services, "email:jeff.skilling@enron.com") == sorted([wire, reply])
    assert ids(services, "email:JEFF.Skilling@Enron.com") == sorted([wire, reply])
    assert ids(services, "email:*@enron.com") == sorted([wire, reply])
    assert ids(services, "email:klay*") == sorted([wire, reply])
    assert ids(services, "phone:+17138536161") == [wire]
    assert ids(services, 'phone:"(713) 853-6161"') == [wire]
    assert ids(services, "phone:713-853-6161") == [wire]
    assert ids(services, "iban:DE89370400440532013000") == [wire]
    assert ids(services, 'iban:"DE89 3704 0044 0532 0130 00"') == [wire]
    assert ids(services, "bic:COBADEFFXXX") == [wire]
    assert ids(services, 'money:"USD 1,500,000"') == sorted([wire, reply])  # $1.5 million is the same
    assert ids(services, 'entity:"Panda International"') == sorted([wire, reply])
    assert ids(services, 'company:"Panda International Limited"') == [reply]  # Ltd. == Limited
    assert ids(services, 'entity:"熊猫国际有限公司"') == [contract]
    assert ids(services, 'person:"Kenneth Lay"') == sorted([wire, reply])  # "Lay, Kenneth" in To:
    assert ids(services, "reference:WO-2017-0413") == [contract]
    assert ids(services, "ip:10.20.30.40") == [contract]
    assert ids(services, "url:enron.com") == [wire]
    assert ids(services, "entity:nobody@nowhere.org") == []
    # Entity fields combine with words and other fields.
    assert ids(services, "email:klay@enron.com AND confirmed") == [reply]
    assert ids(services, "payment -email:klay@enron.com") == []


def test_facets_count_documents_by_kind_and_value(services) -> None:
    facets = services.search.search("*").facets
    assert facets["entities"]["email"] == 2
    assert facets["entities"]["company"] == 3
    assert facets["email"]["jeff.skilling@enron.com"] == 2
    assert facets["phone"] == {"+1 713-853-6161": 1}
    assert facets["iban"] == {"DE89 3704 0044 0532 0130 00": 1}
    narrowed = services.search.search("confirmed").facets
    assert narrowed["email"] == {"jeff.skilling@enron.com": 1, "klay@enron.com": 1}
    # A facet value is a filter the app can apply as is.
    wire = by_title(services, "Wire instructions")
    assert [h.id for h in services.search.search("*", filters={"phone": ["+1 713-853-6161"]}).hits] == [wire]
    assert len(services.search.search("*", filters={"entities": ["iban"]}).hits) == 1


def test_entity_table_sort_filter_and_mentions_with_passages(services) -> None:
    insights = services.insights
    table = insights.entity_table(kind="email")
    assert [r.name for r in table.rows][:2] == ["jeff.skilling@enron.com", "klay@enron.com"]
    assert table.rows[0].documents == 2 and table.kinds == {"email": table.total}
    by_name = insights.entity_table(kind=["company"], sort="name")
    names = [r.name for r in by_name.rows]
    assert names == sorted(names, key=str.casefold)
    assert {
        "Panda International Co., Ltd.",
        "Panda International Limited",
        "Panda Intl Ltd",
        "熊猫国际有限公司",
    } <= set(names)
    assert [r.name for r in insights.entity_table(text_filter="acme").rows] == ["Acme Holdings GmbH"]
    wire = by_title(services, "Wire instructions")
    mentions = insights.mentions(wire)
    iban = next(m for m in mentions if m.kind == "iban")
    assert iban.text == "DE89 3704 0044 0532 0130 00" and iban.location == "1"
    assert iban.before.endswith("Panda International Co., Ltd., IBAN ") and iban.after.startswith(", BIC")
    sender = next(m for m in mentions if m.field == "from" and m.kind == "person")
    assert sender.name == "Jeff Skilling" and sender.location == "from"
    only_within = insights.entity_table(kind="email", doc_ids=[wire])
    assert {r.name for r in only_within.rows} == {
        "jeff.skilling@enron.com",
        "klay@enron.com",
        "sara.shackleton@enron.com",
        "mark.frevert@enron.com",
    }
    with pytest.raises(InsightsError, match="unknown entity kind"):
        insights.entity_table(kind="planet")


def test_rename_merge_hide_persist_across_reindex_reimport_and_recompute(services, tmp_path: Path) -> None:
    insights = services.insights
    wire, reply, contract = (
        by_title(services, t) for t in ("Wire instructions", "RE: Wire instructions", "Supply contract")
    )
    panda = entity_id(services, "company", "panda international co ltd")
    intl = entity_id(services, "company", "panda intl ltd")
    limited = "company:Panda International Limited"

    row = insights.merge(intl, panda)
    insights.merge(limited, panda)
    assert row.documents == 2 and {a["display"] for a in insights.entity(panda).aliases} == {
        "Panda Intl Ltd",
        "Panda International Limited",
    }
    insights.rename(panda, "Panda International (HK)")
    insights.hide(["phone:+17138536161", "ip:10.20.30.40"])

    def check(*extra: int) -> None:
        panda_docs = sorted([wire, reply, contract, *extra])
        assert ids(services, 'entity:"Panda Intl"') == panda_docs  # either spelling
        assert ids(services, 'entity:"Panda International (HK)"') == panda_docs
        assert ids(services, "phone:+17138536161") == [] and ids(services, "ip:10.20.30.40") == []
        table = insights.entity_table(kind="company")
        merged = next(r for r in table.rows if r.name == "Panda International (HK)")
        assert merged.documents == len(panda_docs) and len(merged.aliases) == 2
        assert "Panda Intl Ltd" not in {r.name for r in table.rows}
        assert "phone" not in services.search.search("*").facets["entities"]
        assert all(m.kind != "phone" for m in insights.mentions(wire))

    check()
    services.search.reindex()
    check()
    # Re-import the same leak plus a new document naming the merged and the hidden entities.
    _write(tmp_path / "leak", {"later.json": _doc("Later", "Panda Intl Ltd again; phone (713) 853-6161.")})
    services.import_paths([tmp_path / "leak"], ImportOptions(workers=1, extractor=FIXTURE))
    later = by_title(services, "Later")
    check(later)
    # Recompute everything from nothing: the corrections are keyed by value, not by row.
    with services.case.transaction() as s:
        for table in (Mention, DocumentEntity, DocumentInsights, Entity):
            s.execute(delete(table))
    assert insights.refresh() == len(insights.all_ids())
    check(later)
    actions = [a.action for a in services.review.audit() if a.action.startswith("entity_")]
    assert (
        actions.count("entity_merge") == 2
        and "entity_rename" in actions
        and actions.count("entity_hide") == 2
    )
    with services.case.reader() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "entity_rename"))
        assert entry.actor == "Ana" and entry.detail["new"] == "Panda International (HK)"

    # Undo: unhide and unmerge bring the old state back.
    insights.unhide(["phone:+17138536161"])
    assert ids(services, "phone:+17138536161") == sorted([wire, later])
    insights.unmerge("company:Panda Intl Ltd")
    assert ids(services, 'entity:"Panda Intl"') == sorted([contract, later])
    with pytest.raises(InsightsError, match="not merged"):
        insights.unmerge("company:Panda Intl Ltd")
    with pytest.raises(InsightsError, match="already"):
        insights.merge("company:Panda International Limited", panda)
    with pytest.raises(InsightsError, match="no entity"):
        insights.rename(999_999, "x")


def test_text_date_fallback_and_stale_detection(services) -> None:
    memo = by_title(services, "Memo")
    with services.case.reader() as s:
        assert s.get(DocumentInsights, memo).text_date == "2002-03-14"
    assert services.insights.refresh() == 0  # nothing changed since the import
