"""Graphs in the app: who wrote to whom, and which documents mention which entities.

The graph (`app.insights.graph`) and its layout (`ui.insights.layout`) are computed together on the search
lane; the window then draws them in a `QGraphicsView`: the wheel zooms, dragging the background pans,
clicking a node searches it (an address, an entity) or opens it (a document). Export writes the whole graph
(not only the nodes drawn) as GEXF or GraphML for Gephi, like `graph … --out`.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette, QPen, QPolygonF, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.insights.graph import Graph, Node, correspondents, document_entities, write_graph
from app.services import Services
from ui.insights.common import KIND_LABELS, ScopeIds, entity_query, known_message
from ui.insights.layout import layout, trim
from ui.tasks import Tasks

log = logging.getLogger(__name__)

KIND_COLORS = {
    "address": "#3b7dd8",
    "document": "#7a7a7a",
    "person": "#d8563b",
    "org": "#8e5bd8",
    "company": "#8e5bd8",
    "place": "#52a675",
    "email": "#3b7dd8",
    "phone": "#e8a33d",
    "money": "#c9a227",
}
OTHER_COLOR = "#4aa3a3"


@dataclass(frozen=True)
class Drawn:
    """A graph ready to draw: the whole graph (for export), the part drawn, and its positions."""

    full: Graph
    shown: Graph
    positions: dict[str, tuple[float, float]]


def build(services: Services, mode: str, ids: list[int] | None, how: str) -> Drawn:
    """The graph of `mode` ("correspondents" or "entities") over `ids` (None: the whole case), laid out."""
    if mode == "correspondents":
        full = correspondents(services.case, ids)
    else:
        if ids is None:
            ids = [d.id for d in services.documents.iter_summaries()]
        full = document_entities(services.case, ids)
    shown = trim(full)
    return Drawn(full, shown, layout(shown, how))


def node_query(node: Node) -> str | None:
    """The search a click on a node runs (None for documents, which are opened instead)."""
    if node.kind == "document":
        return None
    if node.kind == "address":
        if ":" in node.id and "@" not in node.id.split(":", 1)[0]:
            kind, value = node.id.split(":", 1)
            return entity_query(kind, node.label, value)
        return f"email:{node.id}"
    return entity_query(node.kind, node.label, str(node.attrs.get("value", "")))


class NodeItem(QGraphicsEllipseItem):
    """A node: a dot sized by its connections; a click calls back with the node."""

    def __init__(self, node: Node, radius: float, on_click: Callable[[Node], None]) -> None:
        super().__init__(-radius, -radius, 2 * radius, 2 * radius)
        self.node = node
        self.on_click = on_click
        self.setBrush(QBrush(QColor(KIND_COLORS.get(node.kind, OTHER_COLOR))))
        self.setPen(QPen(QColor("#ffffff"), 1.2))
        self.setZValue(2)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        kind = "Document" if node.kind == "document" else KIND_LABELS.get(node.kind, "Address")
        extra = ", ".join(
            f"{k} {v}" for k, v in node.attrs.items() if isinstance(v, int) and not isinstance(v, bool)
        )
        self.setToolTip(f"{node.label}\n{kind}{f' · {extra}' if extra else ''}")

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        event.accept()  # a press on a node is a click, not the start of a pan

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.on_click(self.node)


class GraphView(QGraphicsView):
    """A view that zooms with the wheel (around the pointer) and pans by dragging the background."""

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setObjectName("graphView")
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)

        self.fitted = False  # showing the whole graph: kept so when the window is resized

    def fit(self) -> None:
        rect = self.sceneRect()
        self.resetTransform()
        if not rect.isEmpty():
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self.fitted = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    def zoom(self) -> float:
        return self.transform().m11()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if not steps:
            return
        factor = 1.2**steps
        if 0.05 <= self.zoom() * factor <= 20:
            self.scale(factor, factor)
            self.fitted = False
        event.accept()


class GraphWindow(QDialog):
    """Correspondents or documents ↔ entities of the current results, the selection or the case."""

    search_requested = Signal(str)
    open_document = Signal(int)
    loaded = Signal(object)  # Drawn (tests wait on it)
    exported = Signal(object)  # Path

    def __init__(
        self,
        services: Services,
        tasks: Tasks,
        scope_ids: ScopeIds,
        selected_ids: Callable[[], list[int]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.scope_ids = scope_ids
        self.selected_ids = selected_ids
        self.drawn: Drawn | None = None
        self.items: dict[str, NodeItem] = {}
        self.setObjectName("graphWindow")
        self.setWindowTitle("Graph")
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.mode = QComboBox(self)
        self.mode.setObjectName("graphMode")
        self.mode.addItem("Correspondents (who wrote to whom)", "correspondents")
        self.mode.addItem("Documents and the entities they mention", "entities")
        self.scope = QComboBox(self)
        self.scope.setObjectName("graphScope")
        self.scope.addItem("of the current results", "results")
        self.scope.addItem("of the selected results", "selected")
        self.scope.addItem("of the whole case", "case")
        self.how = QComboBox(self)
        self.how.setObjectName("graphLayout")
        self.how.addItem("Force-directed", "force")
        self.how.addItem("Circle", "circle")
        for combo in (self.mode, self.scope, self.how):
            combo.currentIndexChanged.connect(lambda _i: self.reload())
        self.gexf_button = QPushButton("Export GEXF…", self)
        self.gexf_button.setObjectName("graphExportGexf")
        self.graphml_button = QPushButton("Export GraphML…", self)
        self.graphml_button.setObjectName("graphExportGraphml")
        for button, ext in ((self.gexf_button, ".gexf"), (self.graphml_button, ".graphml")):
            button.setAutoDefault(False)
            button.setEnabled(False)
            button.clicked.connect(lambda _c=False, e=ext: self.export(e))
        top = QHBoxLayout()
        top.addWidget(self.mode)
        top.addWidget(self.scope)
        top.addWidget(self.how)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setObjectName("graphRefresh")
        self.refresh_button.setAutoDefault(False)
        self.refresh_button.setToolTip("Draw the graph again (of the results as they are now)")
        self.refresh_button.clicked.connect(self.reload)
        top.addWidget(self.refresh_button)
        top.addStretch(1)
        top.addWidget(self.gexf_button)
        top.addWidget(self.graphml_button)
        self.scene = QGraphicsScene(self)
        self.view = GraphView(self.scene, self)
        self.summary = QLabel(self)
        self.summary.setObjectName("graphSummary")
        self.summary.setWordWrap(True)
        hint = QLabel("Wheel: zoom · drag: pan · click a node: search it (a document opens)", self)
        hint.setEnabled(False)
        layout_ = QVBoxLayout(self)
        layout_.addLayout(top)
        layout_.addWidget(self.view, 1)
        layout_.addWidget(self.summary)
        layout_.addWidget(hint)
        self.resize(900, 640)

    # -- building ----------------------------------------------------------------------------------
    def reload(self) -> None:
        mode, how, scope = str(self.mode.currentData()), str(self.how.currentData()), self.scope.currentData()
        services = self.services
        selected = self.selected_ids() if scope == "selected" else None
        if scope == "selected" and not selected:
            self._clear("Select some results first (or choose the current results).")
            return
        if scope == "selected":
            ids_of: Callable[[], list[int] | None] = lambda: selected  # noqa: E731
        else:
            ids_of = self.scope_ids() if scope == "results" else (lambda: None)
        self.summary.setText("Laying out the graph…")
        self.tasks.run(
            "search", lambda: build(services, mode, ids_of(), how), self._built, supersede=f"graph-{id(self)}"
        )

    def _clear(self, message: str) -> None:
        self.scene.clear()
        self.items = {}
        self.drawn = None
        self.gexf_button.setEnabled(False)
        self.graphml_button.setEnabled(False)
        self.summary.setText(message)

    def _built(self, drawn: Drawn | None, error: BaseException | None) -> None:
        if error is not None or drawn is None:
            message = known_message(error) if error is not None else None
            if message is None and error is not None:
                raise error
            self._clear(f"<b style='color:#c92a2a'>No graph:</b> {html.escape(message or '')}")
            return
        self._draw(drawn)
        full, shown = drawn.full, drawn.shown
        what = "correspondents" if full.name == "correspondents" else "nodes (documents and entities)"
        cut = (
            f" Showing the {len(shown.nodes):,} most connected; the export has them all."
            if len(shown.nodes) < len(full.nodes)
            else ""
        )
        self.summary.setText(f"{len(full.nodes):,} {what}, {len(full.edges):,} edges.{cut}")
        has_nodes = bool(full.nodes)
        self.gexf_button.setEnabled(has_nodes)
        self.graphml_button.setEnabled(has_nodes)
        if not has_nodes:
            self.summary.setText(
                "Nothing to draw: no emails with senders and recipients here."
                if full.name == "correspondents"
                else "Nothing to draw: these documents mention no entities."
            )
        self.loaded.emit(drawn)

    def _draw(self, drawn: Drawn) -> None:
        self.scene.clear()
        self.items = {}
        self.drawn = drawn
        graph, positions = drawn.shown, drawn.positions
        degree: dict[str, float] = {}
        for e in graph.edges:
            degree[e.source] = degree.get(e.source, 0) + e.weight
            degree[e.target] = degree.get(e.target, 0) + e.weight
        radii = {node_id: 4 + 3 * math.log1p(degree.get(node_id, 0)) for node_id in graph.nodes}
        heaviest = max((e.weight for e in graph.edges), default=1.0)
        edge_color = QColor(self.palette().color(QPalette.ColorRole.PlaceholderText))
        edge_color.setAlpha(140)
        arrow = " → " if graph.directed else " — "
        for e in graph.edges:
            if e.source not in positions or e.target not in positions:
                continue
            a, b = QPointF(*positions[e.source]), QPointF(*positions[e.target])
            line = QGraphicsLineItem(a.x(), a.y(), b.x(), b.y())
            line.setPen(QPen(edge_color, 0.6 + 3.5 * e.weight / heaviest))
            line.setToolTip(
                f"{graph.nodes[e.source].label}{arrow}{graph.nodes[e.target].label}: {e.weight:g}"
            )
            line.setZValue(0)
            self.scene.addItem(line)
            length = math.hypot(b.x() - a.x(), b.y() - a.y())
            if graph.directed and length > radii[e.target] + 10:
                ux, uy = (b.x() - a.x()) / length, (b.y() - a.y()) / length
                tip = b - QPointF(ux, uy) * (radii[e.target] + 1)
                base = tip - QPointF(ux, uy) * 9
                side = QPointF(-uy, ux) * 4
                head = QGraphicsPolygonItem(QPolygonF([tip, base + side, base - side]))
                head.setBrush(QBrush(edge_color))
                head.setPen(QPen(Qt.PenStyle.NoPen))
                head.setZValue(1)
                self.scene.addItem(head)
        text_color = self.palette().color(QPalette.ColorRole.WindowText)
        for node_id, node in graph.nodes.items():
            x, y = positions.get(node_id, (0.0, 0.0))
            radius = radii[node_id]
            item = NodeItem(node, radius, self._node_clicked)
            item.setPos(x, y)
            self.scene.addItem(item)
            self.items[node_id] = item
            label = QGraphicsSimpleTextItem(node.label[:40], item)
            label.setBrush(QBrush(text_color))
            label.setPos(radius + 2, -radius)
            label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        bounds = self.scene.itemsBoundingRect().adjusted(-60, -60, 60, 60)
        self.scene.setSceneRect(bounds)
        self.view.fit()

    def node_center(self, node_id: str) -> QPointF:
        """Where a node is in the view's viewport coordinates (tests click there)."""
        return QPointF(self.view.mapFromScene(self.items[node_id].scenePos()))

    def _node_clicked(self, node: Node) -> None:
        if node.kind == "document" and node.id[1:].isdigit():
            self.open_document.emit(int(node.id[1:]))
            return
        query = node_query(node)
        if query:
            self.search_requested.emit(query)

    # -- export ------------------------------------------------------------------------------------
    def export(self, ext: str) -> None:
        if self.drawn is None:
            return
        name = "correspondents" if self.drawn.full.name == "correspondents" else "documents-entities"
        kind = "GEXF (*.gexf)" if ext == ".gexf" else "GraphML (*.graphml)"
        start = str(self.services.case.root / "exports" / f"{name}{ext}")
        path, _ = QFileDialog.getSaveFileName(self, "Export the graph", start, kind)
        if not path:
            return
        target = Path(path)
        if target.suffix.lower() not in (".gexf", ".graphml"):
            target = target.with_name(target.name + ext)
        graph = self.drawn.full

        def done(written: Path | None, error: BaseException | None) -> None:
            if error is not None:
                message = known_message(error)
                if message is None:
                    raise error
                self.summary.setText(f"<b style='color:#c92a2a'>Not exported:</b> {html.escape(message)}")
                return
            self.summary.setText(
                f"Exported {len(graph.nodes):,} nodes and {len(graph.edges):,} edges to {written}"
            )
            self.exported.emit(written)

        def work() -> Path:
            target.parent.mkdir(parents=True, exist_ok=True)
            return write_graph(graph, target)

        self.tasks.run("io", work, done)
