"""Tags, notes, review status, links, suggestions and the audit trail, through the services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.documents import DocumentNotFound
from app.pipeline.importer import ImportOptions
from app.review.service import ReviewError
from app.services import build_services

CONTRACT = (
    "This agreement between Panda International and the client covers the tower works described in work "
    "order WO-2017-0413. The contractor shall deliver the steel frame, the cladding and the lifts within "
    "ninety days of signature, and the client shall pay each invoice within thirty days of receipt. "
)


def _doc(title: str, text: str, doc_type: str = "pdf") -> dict:
    return {"doc_type": doc_type, "title": title, "parts": [{"kind": "page", "label": "1", "text": text}]}


DOCS = {
    "contract.json": _doc("Contract 2013/HW/118", CONTRACT * 3),
    "contract-resaved.json": _doc("Contract copy", (CONTRACT * 3).replace("ninety", "ninety (90)")),
    "work-order.json": _doc("Work order", "Work order WO-2017-0413: tower steel frame, 12 tonnes."),
    "invoice.json": _doc("Invoice", "Invoice No. 2017-5531 for PO 4500012345, payment for WO-2017-0413."),
    "unrelated.json": _doc("Memo", "The canteen closes early on Friday for the staff party."),
}


@pytest.fixture
def services(tmp_path: Path):
    leak = tmp_path / "leak"
    leak.mkdir()
    for name, data in DOCS.items():
        (leak / name).write_text(json.dumps(data), "utf-8")
    services = build_services(tmp_path / "case", create=True)
    services.review.reviewer = "Ana"
    services.import_paths(
        [leak], ImportOptions(workers=1, extractor="tests.fixtures.bad_extractors:JsonFixture")
    )
    yield services
    services.close()


def ids(services, query: str) -> list[int]:  # noqa: ANN001
    return services.search.matching_ids(query)


def by_title(services, title: str) -> int:  # noqa: ANN001
    return next(d.id for d in services.documents.iter_summaries() if d.title == title)


def test_tags_add_remove_nested_rename_merge(services) -> None:
    review = services.review
    contract, copy, order = (
        by_title(services, "Contract 2013/HW/118"),
        by_title(services, "Contract copy"),
        by_title(services, "Work order"),
    )
    assert review.add_tag("contracts/panda", [contract, copy]) == 2
    assert review.add_tag("contracts/panda", [contract]) == 0
    assert review.add_tag("Key Evidence", ids(services, "WO-2017-0413"), color="#ff0000") == 4
    assert set(ids(services, "tag:contracts")) == {contract, copy}  # nested tags match their parent
    assert set(ids(services, 'tag:"key evidence"')) == {contract, copy, order, by_title(services, "Invoice")}
    assert review.remove_tag("key evidence", [order]) == 1
    review.rename_tag("contracts", "agreements")  # renames the nested tag with it
    assert {t.name for t in review.list_tags()} == {"agreements/panda", "Key Evidence"}
    assert set(ids(services, "tag:agreements/panda")) == {contract, copy}
    merged = review.merge_tags("agreements/panda", "Key Evidence")
    assert merged.count == 3 and [t.name for t in review.tags_of(copy)] == ["Key Evidence"]
    facets = services.search.search("*").facets
    assert facets["tag"] == {"Key Evidence": 3}
    with pytest.raises(ReviewError):
        review.add_tag("  /  ", [contract])
    with pytest.raises(DocumentNotFound):
        review.add_tag("x", [999_999])


def test_status_in_bulk_and_in_search(services) -> None:
    review = services.review
    targets = ids(services, "tower")
    assert review.set_status("relevant", targets) == len(targets)
    assert review.set_status("relevant", targets) == 0
    assert set(ids(services, "status:relevant")) == set(targets)
    assert services.search.search("*").facets["status"]["relevant"] == len(targets)
    with pytest.raises(ReviewError, match="unknown review status"):
        review.set_status("maybe", targets)


def test_notes_anchors_authors_and_search(services) -> None:
    review = services.review
    order = by_title(services, "Work order")
    note = review.add_note(order, "Weight does not match the invoice", page=1)
    review.add_note(order, "See the lift clause", quote="the lifts")
    cell_note = review.add_note(order, "Total here", cell="Sheet1!C14")
    assert [n.text for n in review.notes(order)] == [
        "Weight does not match the invoice",
        "See the lift clause",
        "Total here",
    ]
    assert cell_note.cell == "Sheet1!C14" and note.page == 1 and note.author == "Ana"
    assert ids(services, "note:invoice") == [order]
    assert ids(services, 'note:"lift clause"') == [order]
    review.edit_note(note.id, "Weight matches after all")
    review.reviewer = "Ben"
    with pytest.raises(ReviewError, match="only its author"):
        review.edit_note(note.id, "hijacked")
    with pytest.raises(ReviewError, match="only its author"):
        review.delete_note(note.id)
    review.reviewer = "Ana"
    review.delete_note(cell_note.id)
    assert len(review.notes(order)) == 2


def test_links_both_ends_and_vocabulary(services) -> None:
    review = services.review
    order, invoice = by_title(services, "Work order"), by_title(services, "Invoice")
    link = review.add_link(invoice, order, "pays_for", "invoice 2017-5531")
    assert [(x.relation, x.direction, x.other_id) for x in review.links(invoice).links] == [
        ("pays_for", "out", order)
    ]
    assert [(x.relation, x.direction, x.other_id) for x in review.links(order).links] == [
        ("pays_for", "in", invoice)
    ]
    with pytest.raises(ReviewError, match="already linked"):
        review.add_link(invoice, order, "pays_for")
    with pytest.raises(ReviewError, match="unknown relation"):
        review.add_link(invoice, order, "bribes")
    review.add_relation("bribes")
    review.add_link(invoice, order, "bribes")
    review.remove_link(link.id)
    assert [x.relation for x in review.links(order).links] == ["bribes"]
    assert {
        "references",
        "pays_for",
        "amends",
        "same_work_order",
        "reply_to",
        "attachment_of",
        "duplicate_of",
        "related",
    } <= set(review.relations())


def test_suggestions_reference_and_near_duplicate(services) -> None:
    review = services.review
    contract, copy = by_title(services, "Contract 2013/HW/118"), by_title(services, "Contract copy")
    order, invoice, memo = (
        by_title(services, "Work order"),
        by_title(services, "Invoice"),
        by_title(services, "Memo"),
    )
    view = review.links(order)
    refs = {(s.other_id, s.detail) for s in view.suggestions if s.kind == "reference"}
    assert (invoice, "WO-2017-0413") in refs and (contract, "WO-2017-0413") in refs
    near = [s for s in review.links(contract).suggestions if s.kind == "near_duplicate"]
    assert [s.other_id for s in near] == [copy] and near[0].score >= 0.8
    assert not review.links(memo).suggestions
    sg = next(s for s in view.suggestions if s.other_id == invoice)
    link = review.accept_suggestion(sg.id)
    assert link.relation == "same_work_order"
    assert any(x.relation == "same_work_order" for x in review.links(invoice).links)
    other = next(s for s in review.links(order).suggestions if s.state == "open")
    review.dismiss_suggestion(other.id)
    with pytest.raises(ReviewError, match="already dismissed"):
        review.accept_suggestion(other.id)
    # Re-running the suggestion pass keeps decisions.
    review.refresh_suggestions(list(range(1, 10)))
    states = {s.id: s.state for s in review.links(order).suggestions}
    assert states[sg.id] == "accepted" and states[other.id] == "dismissed"


def test_audit_trail_and_survival_of_reindex(services) -> None:
    review = services.review
    order = by_title(services, "Work order")
    review.add_tag("hot", [order])
    review.set_status("follow_up", [order])
    review.add_note(order, "call the supplier")
    services.search.reindex()
    assert ids(services, "tag:hot status:follow_up note:supplier") == [order]
    actions = [e.action for e in review.audit(order)]
    assert actions == ["note_add", "status", "tag"]
    assert all(e.actor == "Ana" for e in review.audit(order))
    assert review.audit()[0].action == "note_add"


def test_review_data_survives_reimport(services, tmp_path: Path) -> None:
    order = by_title(services, "Work order")
    services.review.add_tag("hot", [order])
    services.import_paths(
        [tmp_path / "leak"], ImportOptions(workers=1, extractor="tests.fixtures.bad_extractors:JsonFixture")
    )
    assert [t.name for t in services.review.tags_of(order)] == ["hot"]


def test_delete_is_explicit_and_audited(services) -> None:
    memo = by_title(services, "Memo")
    services.review.add_tag("junk", [memo])
    assert services.delete_document(memo) == [memo]
    assert ids(services, "canteen") == []
    assert services.review.audit(memo)[0].action == "delete"
    with pytest.raises(DocumentNotFound):
        services.documents.detail(memo)
