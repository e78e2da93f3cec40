"""The small rules the insights windows share: the search for an entity, a time-line range in the query,
and the layout of a graph (components apart, every node placed)."""

from __future__ import annotations

import math

from app.insights.graph import Edge, Graph, Node
from ui.insights.common import entity_query, with_dated
from ui.insights.layout import components, layout, trim


def test_entity_query_uses_the_kind_field() -> None:
    assert entity_query("company", "Panda International") == 'company:"Panda International"'
    assert entity_query("phone", "+1 713-646-3490", "+17136463490") == 'phone:"+1 713-646-3490"'
    assert entity_query("date", "2001-05-14", "2001-05-14") == "dated:2001-05-14"
    assert entity_query("person", 'Jeff "the boss" Skilling') == 'person:"Jeff the boss Skilling"'


def test_with_dated_replaces_the_range_and_keeps_the_rest() -> None:
    assert with_dated("", "dated:2001") == "dated:2001"
    assert with_dated("*", "dated:2001") == "dated:2001"
    assert with_dated("enron dated:2001/2002", "dated:2003") == "enron dated:2003"
    assert with_dated("a OR b", "dated:2001") == "(a OR b) dated:2001"
    assert with_dated("(a OR b) dated:2001", "dated:2002") == "(a OR b) dated:2002"
    assert with_dated("(a) OR (b)", "dated:2002") == "((a) OR (b)) dated:2002"


def _graph(edges: list[tuple[str, str]], lonely: tuple[str, ...] = ()) -> Graph:
    g = Graph(name="test", directed=True)
    for a, b in edges:
        for n in (a, b):
            g.nodes.setdefault(n, Node(n, n, "address"))
        g.edges.append(Edge(a, b, 1.0))
    for n in lonely:
        g.nodes[n] = Node(n, n, "address")
    return g


def test_layout_places_every_node_and_keeps_components_apart() -> None:
    star = [("hub", f"leaf{i}") for i in range(12)]
    g = _graph([*star, ("x", "y")], lonely=("alone",))
    assert [len(c) for c in components(list(g.nodes), [(e.source, e.target, 1.0) for e in g.edges])] == [
        13,
        2,
        1,
    ]
    pos = layout(g)
    assert set(pos) == set(g.nodes) and all(math.isfinite(v) for p in pos.values() for v in p)
    assert layout(g) == pos  # the same graph, the same picture
    leaves = [math.dist(pos["hub"], pos[f"leaf{i}"]) for i in range(12)]
    assert min(leaves) > 5  # the star is spread out, not piled on its hub
    assert math.dist(pos["x"], pos["hub"]) > min(leaves)  # another component sits apart
    circle = layout(g, "circle")
    radii = {round(math.hypot(*p), 6) for p in circle.values()}
    assert len(radii) == 1


def test_trim_keeps_the_most_connected_nodes() -> None:
    g = _graph([("hub", f"leaf{i}") for i in range(20)], lonely=("alone",))
    small = trim(g, 5)
    assert len(small.nodes) == 5 and "hub" in small.nodes and "alone" not in small.nodes
    assert all(e.source in small.nodes and e.target in small.nodes for e in small.edges)
