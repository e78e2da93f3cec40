"""Entities over the real corpus (imported once per session by `real_case`): real senders, phone numbers
and amounts in the mail (EML, MBOX) and in the Enron emails kept as HTML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from email.utils import parseaddr
from pathlib import Path

import pytest
from sqlalchemy import select

from app.insights.graph import correspondents, write_graph
from app.insights.timeline import timeline
from db.models import Document, DocumentEntity, Email, Entity, Source


def _emails(services) -> list[Email]:  # noqa: ANN001
    with services.case.reader() as s:
        return list(s.scalars(select(Email).order_by(Email.document_id)))


def test_mail_senders_are_searchable_and_graphed(real_case, tmp_path: Path) -> None:
    services = real_case.services
    emails = _emails(services)
    if not emails:
        pytest.skip("no email documents were extracted (no EML/MBOX extractor in this tree)")
    assert services.insights.stale_ids() == []
    senders = [(e.document_id, parseaddr(e.sender or "")[1].lower()) for e in emails]
    senders = [(doc_id, addr) for doc_id, addr in senders if "@" in addr and "." in addr.split("@")[1]]
    assert len(senders) >= 5
    for doc_id, addr in senders:
        assert doc_id in services.search.matching_ids(f"email:{addr}"), addr
    graph = correspondents(services.case)
    assert len(graph.nodes) >= 5 and len(graph.edges) >= 3
    assert all(e.weight >= 1 for e in graph.edges)
    root = ET.parse(write_graph(graph, tmp_path / "mail.gexf")).getroot()
    assert len(root.findall(".//{http://gexf.net/1.3}node")) == len(graph.nodes)
    # Emails are dated by their Date header on the time line.
    line = timeline(services.case, "year", [doc_id for doc_id, _ in senders])
    assert line.sources.get("email", 0) >= len(senders) // 2


def test_enron_mail_has_people_phones_and_amounts(real_case) -> None:
    services = real_case.services
    with services.case.reader() as s:
        enron = set(
            s.scalars(
                select(Source.document_id)
                .join(Document, Document.id == Source.document_id)
                .where(Source.path.like("%/enron_email_%"), Document.status == "ok")
            )
        )
        if not enron:
            pytest.skip("the Enron emails (HTML) were not extracted in this tree")
        kinds = {
            kind: {doc for doc, k in rows if k == kind}
            for rows in [
                s.execute(
                    select(DocumentEntity.document_id, Entity.kind)
                    .join(Entity, Entity.id == DocumentEntity.entity_id)
                    .where(DocumentEntity.document_id.in_(enron))
                ).all()
            ]
            for kind in ("person", "phone", "money", "email", "company", "date")
        }
    for kind in ("person", "phone", "money", "company", "date"):
        assert kinds[kind], f"no {kind} found in the Enron emails"
    # Phone numbers are E.164 and found by any way of writing them.
    table = services.insights.entity_table(kind="phone", doc_ids=enron, limit=5)
    phone = table.rows[0]
    assert phone.value.startswith("+") and phone.value[1:].isdigit()
    national = phone.display.split(" ", 1)[1]
    assert set(services.search.matching_ids(f'phone:"{national}"')) & enron
    amounts = services.insights.entity_table(kind="money", doc_ids=enron, limit=5).rows
    assert all(r.value.split(" ")[0].isalpha() for r in amounts)
