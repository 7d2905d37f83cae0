"""Mouse interactions on the canvas, one object each: connect, reconnect, move.

Each has `move`, `finish` and `cancel`; the scene holds at most one at a time
and forwards mouse events to it, so no mode flags are scattered around.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF

from opsflow.model.flow import Edge
from opsflow.studio.canvas.edge_item import EdgeItem, WireItem
from opsflow.studio.canvas.group_item import GroupItem
from opsflow.studio.canvas.node_item import NodeItem
from opsflow.studio.canvas.note_item import NoteItem
from opsflow.studio.commands import AddItems, MoveItems, ReconnectEdge

if TYPE_CHECKING:
    from opsflow.studio.canvas.scene import FlowScene


class Interaction:
    def __init__(self, scene: FlowScene) -> None:
        self.scene = scene

    def move(self, pos: QPointF) -> None:
        """The mouse moved to `pos` (scene coordinates) with the button held."""

    def finish(self, pos: QPointF) -> None:
        """The button was released at `pos`."""

    def cancel(self) -> None:
        """Escape was pressed or the view lost the mouse: undo what was shown."""


class ConnectInteraction(Interaction):
    """Dragging a wire out of an output port to a node's input."""

    def __init__(self, scene: FlowScene, source: NodeItem, port: str) -> None:
        super().__init__(scene)
        self.source = source
        self.port = port
        self.wire = WireItem(source.output_pos(port), port)
        scene.addItem(self.wire)
        self.hovered: NodeItem | None = None
        #: The refusal shown in the status bar while dragging (cleared when it no longer holds).
        self.said: str | None = None

    def move(self, pos: QPointF) -> None:
        # The wire starts on its own card: that is not a target to refuse.
        target = self.scene.node_at(pos, exclude=self.source)
        reason = None
        if target is not None:
            reason = self.scene.connection_problem(self.source.node_id, self.port, target.node_id)
            self.wire.move_to(target.input_pos() if reason is None else pos, reason is None)
        else:
            self.wire.move_to(pos, None)
        self.scene.highlight_target(target, reason is None if target is not None else None)
        if reason != self.said:
            self.said = reason
            self.scene.status_message.emit(reason or "")

    def finish(self, pos: QPointF) -> None:
        self._remove_wire()
        if self.said is not None:
            self.scene.status_message.emit("")
        target = self.scene.node_at(pos, exclude=None)
        if target is None:
            self.scene.wire_dropped.emit(self.source.node_id, self.port, pos)
            return
        document = self.scene.document
        reason = self.scene.connection_problem(self.source.node_id, self.port, target.node_id)
        if reason is not None:
            self.scene.status_message.emit(f"Not connected: {reason}")
            return
        edge = Edge.model_validate(
            {
                "id": document.unique_edge_id(),
                "from": self.source.node_id,
                "port": self.port,
                "to": target.node_id,
            }
        )
        document.push(
            AddItems(document, f"Connect {self.source.node_id} to {target.node_id}", edges=[edge])
        )

    def cancel(self) -> None:
        self._remove_wire()

    def _remove_wire(self) -> None:
        self.scene.highlight_target(None, None)
        if self.wire.scene() is not None:
            self.scene.removeItem(self.wire)


class ReconnectInteraction(Interaction):
    """Dragging the arrow end of a selected edge onto another node."""

    def __init__(self, scene: FlowScene, edge: EdgeItem) -> None:
        super().__init__(scene)
        self.edge = edge
        self.edge.setVisible(False)
        self.wire = WireItem(edge.source.output_pos(edge.port), edge.port)
        scene.addItem(self.wire)

    def _problem(self, target: NodeItem) -> str | None:
        if target is self.edge.target:
            return None
        return self.scene.connection_problem(
            self.edge.source.node_id, self.edge.port, target.node_id
        )

    def move(self, pos: QPointF) -> None:
        target = self.scene.node_at(pos, exclude=None)
        if target is None:
            self.wire.move_to(pos, None)
            self.scene.highlight_target(None, None)
            return
        reason = self._problem(target)
        self.wire.move_to(target.input_pos() if reason is None else pos, reason is None)
        self.scene.highlight_target(target, reason is None)

    def finish(self, pos: QPointF) -> None:
        self.cancel()
        target = self.scene.node_at(pos, exclude=None)
        if target is None or target is self.edge.target:
            return
        reason = self._problem(target)
        if reason is not None:
            self.scene.status_message.emit(f"Not reconnected: {reason}")
            return
        document = self.scene.document
        old = document.edge(self.edge.edge_id)
        moved = old.model_copy(update={"target": target.node_id})
        document.push(ReconnectEdge(document, moved, f"Reconnect to {target.node_id}"))

    def cancel(self) -> None:
        self.scene.highlight_target(None, None)
        if self.wire.scene() is not None:
            self.scene.removeItem(self.wire)
        self.edge.setVisible(True)


class MoveInteraction(Interaction):
    """Qt moves the selected items (a selected group frame carries its nodes along); this
    records where they started and pushes one step."""

    def __init__(self, scene: FlowScene) -> None:
        super().__init__(scene)
        selected = scene.selectedItems()
        self.start = {
            item: QPointF(item.pos()) for item in selected if isinstance(item, NodeItem | NoteItem)
        }
        for frame in selected:
            if isinstance(frame, GroupItem):
                for member in frame.members:
                    self.start.setdefault(member, QPointF(member.pos()))

    def finish(self, pos: QPointF) -> None:
        nodes: dict[str, tuple[float, float]] = {}
        notes: dict[str, tuple[float, float]] = {}
        for item, start in self.start.items():
            if item.scene() is None or item.pos() == start:
                continue
            where = (round(item.pos().x()), round(item.pos().y()))
            if isinstance(item, NodeItem):
                nodes[item.node_id] = where
            else:
                notes[item.note_id] = where
        if nodes or notes:
            count = len(nodes) + len(notes)
            text = "Move" if count == 1 else f"Move {count} items"
            self.scene.document.push(MoveItems(self.scene.document, nodes, notes, text))

    def cancel(self) -> None:
        # Without the grab, Qt would keep dragging the items after Escape and the
        # release would leave them somewhere the model never heard of.
        grabber = self.scene.mouseGrabberItem()
        if grabber is not None:
            grabber.ungrabMouse()
        with self.scene.placing_from_model():
            for item, start in self.start.items():
                item.setPos(start)
