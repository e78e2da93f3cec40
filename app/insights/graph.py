"""Graphs of a case for Gephi and friends: who wrote to whom, and which documents mention which entities.

`correspondents()` joins email senders to their To/Cc/Bcc recipients (edge weight = messages);
`document_entities()` links a selection of documents to the entities they mention (weight = mentions).
Both honour reviewers' entity corrections: merged addresses are one node, hidden ones are left out.
`write_graph()` writes GEXF 1.3 or GraphML by the file's extension, as small hand-written XML.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import select

from app.case import Case
from app.documents import display_title
from app.insights.entities import KINDS, person_name
from db.models import Document, DocumentEntity, Email, Entity

FORMATS = {".gexf": "gexf", ".graphml": "graphml"}
# Dates connect everything to everything; they are left out of entity graphs unless asked for.
DEFAULT_ENTITY_KINDS = tuple(k for k in KINDS if k != "date")


class GraphError(ValueError):
    """A graph that cannot be made or written as asked; str() is for the reporter."""


@dataclass
class Node:
    id: str
    label: str
    kind: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Edge:
    source: str
    target: str
    weight: float
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    name: str
    directed: bool
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "directed": self.directed,
            "nodes": [n.__dict__ for n in self.nodes.values()],
            "edges": [e.__dict__ for e in self.edges],
        }


# -- correspondents -----------------------------------------------------------------------------------


def _addresses(values: Iterable[str | None]) -> list[tuple[str, str]]:
    """(address, name) pairs from header values (names may be empty)."""
    out = []
    for name, addr in getaddresses([v for v in values if v]):
        addr = addr.strip().strip("<>").lower()
        if "@" in addr:
            out.append((addr, (person_name(name) or "") if name else ""))
    return out


def correspondents(case: Case, doc_ids: Iterable[int] | None = None) -> Graph:
    """Senders → recipients over the case's emails (or those among `doc_ids`); weight = messages."""
    graph = Graph(name="correspondents", directed=True)
    wanted = set(int(i) for i in doc_ids) if doc_ids is not None else None
    with case.reader() as s:
        emails = [
            e
            for e in s.scalars(select(Email).order_by(Email.document_id))
            if wanted is None or e.document_id in wanted
        ]
        canon, hidden = _email_corrections(s)
    names: dict[str, Counter[str]] = defaultdict(Counter)
    sent: Counter[str] = Counter()
    received: Counter[str] = Counter()
    weights: Counter[tuple[str, str]] = Counter()

    def node_of(addr: str, name: str) -> str | None:
        if addr in hidden:
            return None
        key, label = canon.get(addr, (addr, None))
        if label:
            names[key][label] += 1000  # a reviewer's name wins
        if name:
            names[key][name] += 1
        return key

    for e in emails:
        senders = [n for n in (node_of(a, nm) for a, nm in _addresses([e.sender])) if n]
        recipients: set[str] = set()
        for values in (e.to, e.cc, e.bcc):
            for addr, nm in _addresses(values or []):
                node = node_of(addr, nm)
                if node:
                    recipients.add(node)
        for sender in senders[:1]:
            sent[sender] += 1
            for r in recipients:
                if r != sender:
                    weights[(sender, r)] += 1
                    received[r] += 1
    for key in set(sent) | set(received):
        label = names[key].most_common(1)[0][0] if names[key] else key
        graph.nodes[key] = Node(
            id=key,
            label=label,
            kind="address",
            attrs={"address": key, "sent": sent[key], "received": received[key]},
        )
    for (a, b), w in sorted(weights.items()):
        graph.edges.append(Edge(a, b, float(w), {"messages": w}))
    return graph


def _email_corrections(s: Any) -> tuple[dict[str, tuple[str, str | None]], set[str]]:
    """address → (node key, reviewer's name) after merges, and hidden addresses."""
    rows = s.execute(
        select(
            Entity.id,
            Entity.kind,
            Entity.value,
            Entity.display,
            Entity.label,
            Entity.hidden,
            Entity.merged_into,
        ).where(
            (Entity.kind == "email") | Entity.id.in_(select(Entity.merged_into).where(Entity.kind == "email"))
        )
    ).all()
    by_id = {r[0]: r for r in rows}
    canon: dict[str, tuple[str, str | None]] = {}
    hidden: set[str] = set()
    for _eid, kind, value, _display, label, is_hidden, merged_into in rows:
        if kind != "email":
            continue
        target = by_id.get(merged_into) if merged_into else None
        if is_hidden or (target is not None and target[5]):
            hidden.add(value)
        elif target is not None:
            key = target[2] if target[1] == "email" else f"{target[1]}:{target[2]}"
            canon[value] = (key, target[4] or target[3])
        elif label:
            canon[value] = (value, label)
    return canon, hidden


# -- documents ↔ entities -----------------------------------------------------------------------------


def document_entities(case: Case, doc_ids: Sequence[int], kinds: Sequence[str] | None = None) -> Graph:
    """Documents and the entities they mention (merged spellings as one node, hidden ones left out)."""
    graph = Graph(name="documents-entities", directed=False)
    kinds = tuple(kinds) if kinds else DEFAULT_ENTITY_KINDS
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise GraphError(f"unknown entity kind {unknown[0]!r}: use {', '.join(KINDS)}")
    ids = sorted(set(int(i) for i in doc_ids))
    if not ids:
        raise GraphError("no documents to graph: give document ids or a query that matches some")
    weights: Counter[tuple[int, int]] = Counter()
    with case.reader() as s:
        docs = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for d in s.scalars(select(Document).where(Document.id.in_(chunk))):
                docs[d.id] = d
            for doc_id, entity_id, count in s.execute(
                select(DocumentEntity.document_id, DocumentEntity.entity_id, DocumentEntity.count).where(
                    DocumentEntity.document_id.in_(chunk)
                )
            ):
                weights[(doc_id, entity_id)] += count
        entity_ids = {e for _, e in weights}
        entities: dict[int, Entity] = {}
        pending = set(entity_ids)
        while pending:
            chunk = list(pending)[:900]
            pending -= set(chunk)
            for e in s.scalars(select(Entity).where(Entity.id.in_(chunk))):
                entities[e.id] = e
                if e.merged_into and e.merged_into not in entities:
                    pending.add(e.merged_into)
    merged: Counter[tuple[int, int]] = Counter()
    for (doc_id, eid), count in weights.items():
        e = entities.get(eid)
        if e is None or e.hidden:
            continue
        c = entities.get(e.merged_into, e) if e.merged_into else e
        if c.hidden or c.kind not in kinds:
            continue
        merged[(doc_id, c.id)] += count
    for doc_id in ids:
        d = docs.get(doc_id)
        if d is not None:
            graph.nodes[f"d{doc_id}"] = Node(
                f"d{doc_id}", display_title(d), "document", {"type": d.doc_type or "", "date": d.date or ""}
            )
    for (doc_id, cid), count in sorted(merged.items()):
        if f"d{doc_id}" not in graph.nodes:
            continue
        c = entities[cid]
        node = graph.nodes.get(f"e{cid}")
        if node is None:
            node = graph.nodes[f"e{cid}"] = Node(
                f"e{cid}", c.label or c.display, c.kind, {"value": c.value, "documents": 0}
            )
        node.attrs["documents"] += 1
        graph.edges.append(Edge(f"d{doc_id}", f"e{cid}", float(count), {"mentions": count}))
    return graph


# -- writers ------------------------------------------------------------------------------------------

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _clean(value: Any) -> str:
    return _XML_BAD.sub("", str(value))


def _attr_type(values: list[Any], graphml: bool) -> str:
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "long" if graphml else "integer"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "double"
    return "string"


def _attr_keys(items: Iterable[Any]) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        for k, v in item.attrs.items():
            seen[k].append(v)
    return dict(seen)


def gexf(graph: Graph) -> str:
    node_attrs = _attr_keys(graph.nodes.values())
    edge_attrs = _attr_keys(graph.edges)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gexf xmlns="http://gexf.net/1.3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd" version="1.3">',
        f"  <meta><creator>Dossier</creator><description>{escape(_clean(graph.name))}</description></meta>",
        f'  <graph defaultedgetype="{"directed" if graph.directed else "undirected"}" mode="static">',
        '    <attributes class="node">',
        '      <attribute id="kind" title="kind" type="string"/>',
    ]
    for key, values in node_attrs.items():
        out.append(
            f"      <attribute id={quoteattr('n_' + key)} title={quoteattr(key)} "
            f'type="{_attr_type(values, False)}"/>'
        )
    out.append("    </attributes>")
    if edge_attrs:
        out.append('    <attributes class="edge">')
        for key, values in edge_attrs.items():
            out.append(
                f"      <attribute id={quoteattr('e_' + key)} title={quoteattr(key)} "
                f'type="{_attr_type(values, False)}"/>'
            )
        out.append("    </attributes>")
    out.append("    <nodes>")
    for n in graph.nodes.values():
        out.append(f"      <node id={quoteattr(_clean(n.id))} label={quoteattr(_clean(n.label))}>")
        out.append("        <attvalues>")
        out.append(f'          <attvalue for="kind" value={quoteattr(_clean(n.kind))}/>')
        for k, v in n.attrs.items():
            out.append(f"          <attvalue for={quoteattr('n_' + k)} value={quoteattr(_value(v))}/>")
        out.append("        </attvalues>")
        out.append("      </node>")
    out.append("    </nodes>")
    out.append("    <edges>")
    for i, e in enumerate(graph.edges):
        head = (
            f'      <edge id="{i}" source={quoteattr(_clean(e.source))} target={quoteattr(_clean(e.target))} '
            f'weight="{e.weight:g}"'
        )
        if not e.attrs:
            out.append(head + "/>")
            continue
        out.append(head + "><attvalues>")
        for k, v in e.attrs.items():
            out.append(f"        <attvalue for={quoteattr('e_' + k)} value={quoteattr(_value(v))}/>")
        out.append("      </attvalues></edge>")
    out.append("    </edges>")
    out.append("  </graph>")
    out.append("</gexf>")
    return "\n".join(out) + "\n"


def graphml(graph: Graph) -> str:
    node_attrs = _attr_keys(graph.nodes.values())
    edge_attrs = _attr_keys(graph.edges)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
        '  <key id="label" for="node" attr.name="label" attr.type="string"/>',
        '  <key id="kind" for="node" attr.name="kind" attr.type="string"/>',
        '  <key id="weight" for="edge" attr.name="weight" attr.type="double"/>',
    ]
    for key, values in node_attrs.items():
        out.append(
            f'  <key id={quoteattr("n_" + key)} for="node" attr.name={quoteattr(key)} '
            f'attr.type="{_attr_type(values, True)}"/>'
        )
    for key, values in edge_attrs.items():
        out.append(
            f'  <key id={quoteattr("e_" + key)} for="edge" attr.name={quoteattr(key)} '
            f'attr.type="{_attr_type(values, True)}"/>'
        )
    out.append(
        f'  <graph id={quoteattr(_clean(graph.name))} edgedefault="{"directed" if graph.directed else "undirected"}">'
    )
    for n in graph.nodes.values():
        out.append(f"    <node id={quoteattr(_clean(n.id))}>")
        out.append(f'      <data key="label">{escape(_clean(n.label))}</data>')
        out.append(f'      <data key="kind">{escape(_clean(n.kind))}</data>')
        for k, v in n.attrs.items():
            out.append(f"      <data key={quoteattr('n_' + k)}>{escape(_value(v))}</data>")
        out.append("    </node>")
    for e in graph.edges:
        out.append(f"    <edge source={quoteattr(_clean(e.source))} target={quoteattr(_clean(e.target))}>")
        out.append(f'      <data key="weight">{e.weight:g}</data>')
        for k, v in e.attrs.items():
            out.append(f"      <data key={quoteattr('e_' + k)}>{escape(_value(v))}</data>")
        out.append("    </edge>")
    out.append("  </graph>")
    out.append("</graphml>")
    return "\n".join(out) + "\n"


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return _clean(v)


def write_graph(graph: Graph, path: Path | str) -> Path:
    """Write GEXF (`.gexf`) or GraphML (`.graphml`) to `path`, atomically."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise GraphError(f"write the graph to a .gexf or .graphml file, not {path.name!r}")
    data = gexf(graph) if fmt == "gexf" else graphml(graph)
    if path.parent and not path.parent.exists():
        raise GraphError(f"no folder {path.parent}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(data, "utf-8")
    os.replace(tmp, path)
    return path
