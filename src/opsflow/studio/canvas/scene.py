"""The canvas scene: graphics items that mirror the document, and mouse interactions.

The scene listens to the document's signals and adds, moves or removes items;
it never changes the model itself except by pushing commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import QLineF, QObject, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
)

from opsflow.engine.runview import RunView
from opsflow.studio import theme
from opsflow.studio.canvas import geometry
from opsflow.studio.canvas.edge_item import EdgeItem
from opsflow.studio.canvas.groups import GroupFrames
from opsflow.studio.canvas.interactions import (
    ConnectInteraction,
    Interaction,
    MoveInteraction,
    ReconnectInteraction,
)
from opsflow.studio.canvas.node_item import NodeItem, NodeLook
from opsflow.studio.canvas.note_item import NoteItem
from opsflow.studio.canvas.overview import Overview
from opsflow.studio.document import FlowDocument
from opsflow.validate.graph import can_connect

#: Empty space kept around the flow so it can be scrolled past its edges.
MARGIN = 2000.0


class FlowScene(QGraphicsScene):
    """Items for one document."""

    #: A sentence for the status bar (why a connection was refused, ...).
    status_message = Signal(str)
    #: A wire was dropped on empty canvas: (source node, port, scene position).
    wire_dropped = Signal(str, str, QPointF)

    def __init__(self, document: FlowDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.snap_to_grid = True
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[str, EdgeItem] = {}
        self.notes: dict[str, NoteItem] = {}
        self.badges: dict[str, tuple[str, str]] = {}
        self._interaction: Interaction | None = None
        self._target_marker = QGraphicsRectItem()
        self._target_marker.setZValue(2)
        self._target_marker.setVisible(False)
        self.addItem(self._target_marker)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.overview = Overview(self)
        self.overview_mode = False
        self.run_view: RunView | None = None
        self._painted_nodes: set[str] = set()
        self._wires_dimmed = False
        self._tick = QTimer(self)
        self._tick.setInterval(80)
        self._tick.timeout.connect(self._on_tick)
        document.node_added.connect(self._on_node_added)
        document.node_removed.connect(self._on_node_removed)
        document.node_changed.connect(self._on_node_changed)
        document.node_moved.connect(self._on_node_moved)
        document.edge_added.connect(self._on_edge_added)
        document.edge_removed.connect(self._on_edge_removed)
        document.note_added.connect(self._on_note_added)
        document.note_removed.connect(self._on_note_removed)
        document.note_changed.connect(self._on_note_changed)
        document.reset.connect(self.rebuild)
        document.changed.connect(self.update_scene_rect)
        document.changed.connect(self.overview_changed)
        #: Group frames; made after the connections above so they hear of every change
        #: after the items have followed it, and rebuilt by `rebuild` after the items.
        self.groups = GroupFrames(self)
        self.rebuild()

    # -- building items from the model ---------------------------------------------------

    def rebuild(self) -> None:
        for item in [*self.nodes.values(), *self.edges.values(), *self.notes.values()]:
            self.removeItem(item)
        self.nodes.clear()
        self.edges.clear()
        self.notes.clear()
        for index, node in enumerate(self.document.nodes()):
            item = NodeItem(node.id, self.look(node.id))
            item.setPos(self._position(node.id, index))
            item.setOpacity(0.0 if self.overview_mode else 1.0)
            self.addItem(item)
            self.nodes[node.id] = item
        for edge in self.document.edges():
            self._on_edge_added(edge.id)
        for note in self.document.notes():
            self._on_note_added(note.id)
        self.groups.rebuild()
        self.update_scene_rect()
        self.overview_changed()

    def look(self, node_id: str) -> NodeLook:
        node = self.document.node(node_id)
        spec = self.document.spec(node_id)
        badge, badge_text = self.badges.get(node_id, ("", ""))
        if spec is None:
            return NodeLook(
                title=node.title or node.id,
                subtitle=f"{node.type} (not installed)",
                category="other",
                icon="node-generic",
                ports=self.document.output_ports(node_id),
                disabled=node.disabled,
                badge=badge or "error",
                badge_text=badge_text,
            )
        return NodeLook(
            title=node.title or spec.title,
            subtitle=spec.title if node.title else node.id,
            category=spec.category,
            icon=spec.icon,
            ports=self.document.output_ports(node_id),
            disabled=node.disabled,
            badge=badge,
            badge_text=badge_text,
        )

    def set_badges(self, badges: dict[str, tuple[str, str]]) -> None:
        """Worst diagnostic per node: node id -> (severity, text)."""
        changed = set(self.badges) | set(badges)
        self.badges = badges
        for node_id in changed:
            item = self.nodes.get(node_id)
            if item is not None:
                item.set_look(self.look(node_id))
        self.overview_changed()

    def _position(self, node_id: str, index: int) -> QPointF:
        placement = self.document.placement(node_id)
        if placement is not None:
            return QPointF(float(placement.x), float(placement.y))
        # Unplaced nodes (a hand-written file) go on a grid below the origin.
        return QPointF((index % 10) * 260.0, 2000.0 + (index // 10) * 120.0)

    def _on_node_added(self, node_id: str) -> None:
        item = NodeItem(node_id, self.look(node_id))
        item.setPos(self._position(node_id, len(self.nodes)))
        item.setOpacity(0.0 if self.overview_mode else 1.0)
        self.addItem(item)
        self.nodes[node_id] = item

    def _on_node_removed(self, node_id: str) -> None:
        item = self.nodes.pop(node_id)
        self.removeItem(item)

    def _on_node_changed(self, node_id: str) -> None:
        self.nodes[node_id].set_look(self.look(node_id))

    @contextmanager
    def placing_from_model(self) -> Iterator[None]:
        """Put items exactly where the model says: snapping is for the user's drags."""
        snap, self.snap_to_grid = self.snap_to_grid, False
        try:
            yield
        finally:
            self.snap_to_grid = snap

    def _on_node_moved(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            position = self._position(node_id, 0)
            if item.pos() != position:
                with self.placing_from_model():
                    item.setPos(position)

    def _on_edge_added(self, edge_id: str) -> None:
        edge = self.document.edge(edge_id)
        source, target = self.nodes.get(edge.source), self.nodes.get(edge.target)
        if source is None or target is None:
            return  # the validator reports edges to missing nodes
        if edge.port not in source.look.ports:
            source.set_look(self.look(edge.source))
        item = EdgeItem(edge_id, edge.port, source, target)
        item.setOpacity(0.0 if self.overview_mode else 1.0)
        self.addItem(item)
        self.edges[edge_id] = item

    def _on_edge_removed(self, edge_id: str) -> None:
        item = self.edges.pop(edge_id, None)
        if item is not None:
            item.detach()
            self.removeItem(item)

    def _on_note_added(self, note_id: str) -> None:
        item = NoteItem(self.document.note(note_id))
        self.addItem(item)
        self.notes[note_id] = item

    def _on_note_removed(self, note_id: str) -> None:
        self.removeItem(self.notes.pop(note_id))

    def _on_note_changed(self, note_id: str) -> None:
        with self.placing_from_model():
            self.notes[note_id].set_note(self.document.note(note_id))

    def update_scene_rect(self) -> None:
        bounds = self.items_bounds()
        self.setSceneRect(bounds.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN))

    def items_bounds(self, items: Iterable[QGraphicsItem] | None = None) -> QRectF:
        """The rectangle around nodes, notes and group frames (all, or the given items)."""
        if items is not None:
            chosen = list(items)
        else:
            frames = [f for f in self.groups.items.values() if f.isVisible()]
            chosen = [*self.nodes.values(), *self.notes.values(), *frames]
        bounds = QRectF()
        for item in chosen:
            bounds = bounds.united(item.sceneBoundingRect())
        return bounds if not bounds.isNull() else QRectF(0, 0, 800, 600)

    # -- questions -----------------------------------------------------------------------

    def node_at(self, pos: QPointF, exclude: NodeItem | None) -> NodeItem | None:
        for item in self.items(
            pos,
            Qt.ItemSelectionMode.IntersectsItemShape,
            Qt.SortOrder.DescendingOrder,
            QTransform(),
        ):
            if isinstance(item, NodeItem) and item is not exclude:
                return item
        return None

    def connection_problem(self, source: str, port: str, target: str) -> str | None:
        """Why source.port -> target cannot be connected, or None if it can (the core's rules)."""
        document = self.document
        return can_connect(
            document.flow(),
            source,
            port,
            target,
            catalog=document.catalog,
            upstream=document.upstream(),
        )

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edge_ids(self) -> list[str]:
        return [i.edge_id for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def selected_note_ids(self) -> list[str]:
        return [i.note_id for i in self.selectedItems() if isinstance(i, NoteItem)]

    def select_only(self, node_ids: Iterable[str]) -> None:
        self.clearSelection()
        for node_id in node_ids:
            item = self.nodes.get(node_id)
            if item is not None:
                item.setSelected(True)

    def highlight_target(self, target: NodeItem | None, valid: bool | None) -> None:
        """Show where a dragged wire would land (blue) or that it cannot (red)."""
        if target is None:
            self._target_marker.setVisible(False)
            return
        colors = theme.current()
        color = QColor(colors.selection if valid else colors.error)
        self._target_marker.setPen(QPen(color, 2.5, Qt.PenStyle.DashLine))
        self._target_marker.setRect(target.sceneBoundingRect().adjusted(2, 6, -2, -2))
        self._target_marker.setVisible(True)

    # -- mouse ---------------------------------------------------------------------------

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._interaction is None:
            pos = event.scenePos()
            started = self._start_on_port(pos) or self._start_on_edge_end(pos)
            if started:
                event.accept()
                return
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                # Shift adds to the selection like Ctrl (Qt keeps a selection that
                # already holds the pressed item, so the whole group can be dragged).
                pressed = self.itemAt(pos, QTransform())
                if (
                    pressed is not None
                    and pressed.flags() & QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                ):
                    pressed.setSelected(True)
            super().mousePressEvent(event)
            if self.mouseGrabberItem() is not None and self.selectedItems():
                self._interaction = MoveInteraction(self)
            return
        super().mousePressEvent(event)

    def _start_on_port(self, pos: QPointF) -> bool:
        for item in self.items(
            pos.x() - 12,
            pos.y() - 12,
            24,
            24,
            Qt.ItemSelectionMode.IntersectsItemBoundingRect,
            Qt.SortOrder.DescendingOrder,
        ):
            if isinstance(item, NodeItem):
                hit = item.port_at(pos)
                if hit is not None and hit[0] == "out":
                    self._interaction = ConnectInteraction(self, item, hit[1])
                    return True
        return False

    def _start_on_edge_end(self, pos: QPointF) -> bool:
        for edge_id in self.selected_edge_ids():
            item = self.edges[edge_id]
            end = item.target.input_pos()
            if (end - pos).manhattanLength() <= geometry.PORT_HIT_RADIUS * 1.5:
                self._interaction = ReconnectInteraction(self, item)
                return True
        return False

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if isinstance(self._interaction, ConnectInteraction | ReconnectInteraction):
            self._interaction.move(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        interaction, self._interaction = self._interaction, None
        if isinstance(interaction, ConnectInteraction | ReconnectInteraction):
            interaction.finish(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if interaction is not None:
            interaction.finish(event.scenePos())

    def cancel_interaction(self) -> bool:
        interaction, self._interaction = self._interaction, None
        if interaction is None:
            return False
        interaction.cancel()
        return True

    # -- runs ----------------------------------------------------------------------------

    def set_run_view(self, view: RunView | None, changed: set[str] | None = None) -> None:
        """Paint the states of `view` on the nodes (`changed`: only these; None: all).

        Only nodes and wires that show a run state, or get one, are touched, so
        starting a run on a 5,000-node flow does not visit every item.
        """
        self.run_view = view
        if changed is None:
            ids = set(self._painted_nodes) | (set(view.nodes) if view is not None else set())
        else:
            ids = set(changed)
        ids &= self.nodes.keys()
        for node_id in ids:
            run = view.nodes.get(node_id) if view is not None else None
            self.nodes[node_id].set_run(run)
            if run is None:
                self._painted_nodes.discard(node_id)
            else:
                self._painted_nodes.add(node_id)
        self._paint_wires(view, ids if changed is not None else None)
        running = view is not None and any(
            n.state in ("running", "retrying") for n in view.nodes.values()
        )
        if running and not self._tick.isActive():
            self._tick.start()
        elif not running:
            self._tick.stop()

    def _paint_wires(self, view: RunView | None, sources: set[str] | None) -> None:
        """Wires are dimmed while a run is shown unless it went along them."""
        if view is None:
            for item in self.edges.values():
                item.set_carried(None)
            self._wires_dimmed = False
            return
        if not self._wires_dimmed or sources is None:
            sources = None  # every wire changes from "no run" to "not carried" at once
            self._wires_dimmed = True
        for edge_id, item in self.edges.items():
            if sources is not None and item.source.node_id not in sources:
                continue
            edge = self.document.edge(edge_id)
            item.set_carried(view.carried(edge.source, edge.port, edge.target))

    def set_marks(self, breakpoints: set[str], pinned: set[str]) -> None:
        for node_id, item in self.nodes.items():
            item.set_marks(node_id in breakpoints, node_id in pinned)

    def _on_tick(self) -> None:
        for item in self.nodes.values():
            if item.run is not None and item.run.state in ("running", "retrying"):
                item.tick = (item.tick + 2) % 48
                if item.overlay is not None:
                    item.overlay.update()

    # -- far away ------------------------------------------------------------------------

    def set_overview(self, on: bool) -> None:
        """Switch between painting items one by one and the batched overview."""
        if on == self.overview_mode:
            return
        self.overview_mode = on
        opacity = 0.0 if on else 1.0  # fully transparent items are skipped by Qt
        for item in [*self.nodes.values(), *self.edges.values()]:
            item.setOpacity(opacity)
        self.overview_changed()

    def restyle(self) -> None:
        """Repaint every item in the theme now in force.

        Cached pictures are dropped, not just marked stale: an update is forgotten by the
        first painter that redraws the item (the minimap rendering the scene, say), and the
        other views would keep the old theme until the zoom changed.
        """
        for item in self.items():
            mode = item.cacheMode()
            if mode != QGraphicsItem.CacheMode.NoCache:
                item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
                item.setCacheMode(mode)
            item.update()
        self.overview_changed()

    def overview_changed(self) -> None:
        self.overview.invalidate()
        if self.overview_mode:
            self.update()

    # Qt passes a QRectF here and to drawBackground; the stubs also allow a QRect.
    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        if self.overview_mode:
            selected = [
                i.sceneBoundingRect() for i in self.selectedItems() if isinstance(i, NodeItem)
            ]
            self.overview.paint(painter, selected)

    # -- painting ------------------------------------------------------------------------

    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        colors = theme.current()
        painter.fillRect(rect, QColor(colors.canvas))
        zoom = painter.worldTransform().m11()
        step = geometry.GRID
        while step * zoom < 12:  # never draw a grid denser than 12 px
            step *= 5
        major = step * 5
        for spacing, color in ((step, colors.grid_minor), (major, colors.grid_major)):
            if spacing == step and step * zoom < 12:
                continue
            left = int(rect.left() // spacing) * spacing
            top = int(rect.top() // spacing) * spacing
            lines = []
            x = left
            while x < rect.right():
                lines.append(QLineF(x, rect.top(), x, rect.bottom()))
                x += spacing
            y = top
            while y < rect.bottom():
                lines.append(QLineF(rect.left(), y, rect.right(), y))
                y += spacing
            pen = QPen(QColor(color), 0)
            painter.setPen(pen)
            painter.drawLines(lines)
