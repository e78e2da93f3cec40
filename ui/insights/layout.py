"""Where to draw a graph's nodes: force-directed (Fruchterman–Reingold, per connected component, the
components packed in rows) or a circle.

Pure numpy, no Qt: the graph window computes positions on a background lane, then draws them. Positions
are in a square of side `size` centred on 0, deterministic for the same graph (seeded).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from app.insights.graph import Graph

MAX_NODES = 300  # drawn at once; exports hold the whole graph
SPACING = 70.0  # about the distance between neighbouring nodes, in scene units


def trim(graph: Graph, limit: int = MAX_NODES) -> Graph:
    """The `limit` most connected nodes (by total edge weight) and the edges between them."""
    if len(graph.nodes) <= limit:
        return graph
    strength: Counter[str] = Counter()
    for e in graph.edges:
        strength[e.source] += e.weight
        strength[e.target] += e.weight
    keep = {n for n, _ in sorted(strength.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]}
    if len(keep) < limit:
        keep |= set(sorted(n for n in graph.nodes if n not in keep)[: limit - len(keep)])
    out = Graph(name=graph.name, directed=graph.directed)
    out.nodes = {k: v for k, v in graph.nodes.items() if k in keep}
    out.edges = [e for e in graph.edges if e.source in keep and e.target in keep]
    return out


def circle_layout(ids: Sequence[str], size: float = 1000.0) -> dict[str, tuple[float, float]]:
    n = max(1, len(ids))
    radius = size / 2
    return {
        node: (radius * math.cos(2 * math.pi * i / n), radius * math.sin(2 * math.pi * i / n))
        for i, node in enumerate(ids)
    }


def force_layout(
    ids: Sequence[str],
    edges: Sequence[tuple[str, str, float]],
    size: float = 1000.0,
    iterations: int = 150,
    seed: int = 7,
) -> dict[str, tuple[float, float]]:
    """Fruchterman–Reingold: edges pull (more for heavier ones, logarithmically), every pair pushes."""
    n = len(ids)
    if n == 0:
        return {}
    if n == 1:
        return {ids[0]: (0.0, 0.0)}
    index = {node: i for i, node in enumerate(ids)}
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-size / 2, size / 2, (n, 2))
    pairs = [(index[a], index[b], w) for a, b, w in edges if a in index and b in index and a != b]
    src = np.array([p[0] for p in pairs], dtype=int)
    dst = np.array([p[1] for p in pairs], dtype=int)
    weight = 1.0 + np.log1p(np.array([p[2] for p in pairs], dtype=float))
    k = size / math.sqrt(n)
    temperature = size / 10
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.sqrt((delta**2).sum(-1)) + 1e-6
        np.fill_diagonal(dist, np.inf)
        disp = (delta * (k * k / dist**2)[:, :, None]).sum(1)
        if len(pairs):
            d = pos[src] - pos[dst]
            length = np.sqrt((d**2).sum(-1)) + 1e-6
            pull = d * (length * weight / k)[:, None]
            np.add.at(disp, src, -pull)
            np.add.at(disp, dst, pull)
        disp -= pos * 0.01  # a little gravity keeps separate components on screen
        length = np.sqrt((disp**2).sum(-1)) + 1e-6
        pos += disp / length[:, None] * np.minimum(length, temperature)[:, None]
        temperature = max(temperature * 0.96, 0.5)
    pos -= pos.mean(0)
    scale = np.abs(pos).max() or 1.0
    pos *= (size / 2) / scale
    return {node: (float(pos[i, 0]), float(pos[i, 1])) for i, node in enumerate(ids)}


def components(ids: Sequence[str], edges: Sequence[tuple[str, str, float]]) -> list[list[str]]:
    """Connected components, largest first (ties in the order of `ids`)."""
    parent = {node: node for node in ids}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b, _ in edges:
        if a in parent and b in parent:
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[rb] = ra
    groups: dict[str, list[str]] = {}
    for node in ids:
        groups.setdefault(root(node), []).append(node)
    return sorted(groups.values(), key=len, reverse=True)


def packed_layout(
    ids: Sequence[str], edges: Sequence[tuple[str, str, float]], spacing: float = SPACING
) -> dict[str, tuple[float, float]]:
    """Each connected component laid out on its own (force-directed, sized by its node count), then the
    components packed in rows, largest first: apart, nothing pushes a small group off to the edge."""
    out: dict[str, tuple[float, float]] = {}
    boxes: list[tuple[dict[str, tuple[float, float]], float]] = []
    for group in components(ids, edges):
        members = set(group)
        size = spacing * math.sqrt(len(group)) * 1.6 if len(group) > 1 else 0.0
        inner = [(a, b, w) for a, b, w in edges if a in members and b in members]
        boxes.append((force_layout(group, inner, size) if len(group) > 1 else {group[0]: (0.0, 0.0)}, size))
    total = sum((size + spacing) ** 2 for _, size in boxes)
    row_width = max(math.sqrt(total) * 1.2, spacing)
    x = y = row_height = 0.0
    for positions, size in boxes:
        width = size + spacing
        if x > 0 and x + width > row_width:
            x, y, row_height = 0.0, y + row_height, 0.0
        for node, (px, py) in positions.items():
            out[node] = (x + width / 2 + px, y + width / 2 + py)
        x += width
        row_height = max(row_height, width)
    if out:
        cx = sum(p[0] for p in out.values()) / len(out)
        cy = sum(p[1] for p in out.values()) / len(out)
        out = {node: (px - cx, py - cy) for node, (px, py) in out.items()}
    return out


def layout(graph: Graph, how: str = "force", size: float = 1000.0) -> dict[str, tuple[float, float]]:
    ids = list(graph.nodes)
    if how == "circle":
        return circle_layout(ids, size)
    return packed_layout(ids, [(e.source, e.target, e.weight) for e in graph.edges])
