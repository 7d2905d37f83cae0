"""Edits the menus, shortcuts and canvas ask for, each turned into one undoable command.

`FlowEditor` knows the document and the scene (for the selection) and nothing
about windows or menus, so tests can call it directly and the main window
only wires actions to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, QPointF, QRectF, Signal
from PySide6.QtGui import QClipboard

from opsflow.autolayout import COLUMN_SPACING, auto_layout
from opsflow.errors import OpsflowError
from opsflow.model.flow import Edge, Node, NodePlacement, StickyNote
from opsflow.studio import clipboard
from opsflow.studio.canvas import geometry, placement
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.commands import AddItems, ChangeNodes, MoveItems, RemoveItems
from opsflow.studio.document import FlowDocument
from opsflow.validate.graph import can_connect


class FlowEditor(QObject):
    """Selection-aware editing of one document."""

    #: A sentence for the status bar.
    status_message = Signal(str)

    def __init__(self, document: FlowDocument, scene: FlowScene) -> None:
        super().__init__(scene)
        self.document = document
        self.scene = scene

    # -- adding --------------------------------------------------------------------------

    def add_node(
        self, type_id: str, at: QPointF, connect_from: tuple[str, str] | None = None
    ) -> str | None:
        """Create a node of `type_id` centred at `at`; optionally wire `(node, port)` to it."""
        spec = self.document.catalog.get(type_id)
        if spec is None:
            self.status_message.emit(f"There is no node type '{type_id}' in this Studio.")
            return None
        wanted = type_id.split(".")[-1]
        node_id = self.document.unique_node_id(wanted)
        node = Node(id=node_id, type=type_id)
        x = geometry.snap(at.x() - geometry.NODE_WIDTH / 2)
        y = geometry.snap(at.y() - geometry.NODE_MIN_HEIGHT / 2)
        placement = NodePlacement(x=x, y=y)
        edges: list[Edge] = []
        if connect_from is not None:
            source, port = connect_from
            # Asked of the flow as it will be, so the new node's type counts (a trigger's, say).
            flow = self.document.flow()
            planned = flow.model_copy(update={"nodes": [*flow.nodes, node]})
            problem = can_connect(planned, source, port, node_id, catalog=self.document.catalog)
            if problem is None:
                edges.append(
                    Edge.model_validate(
                        {
                            "id": self.document.unique_edge_id(),
                            "from": source,
                            "port": port,
                            "to": node_id,
                        }
                    )
                )
            else:
                self.status_message.emit(f"Added {spec.title} but did not connect it: {problem}")
        text = f"Add {spec.title}"
        self.document.push(AddItems(self.document, text, nodes=[(node, placement)], edges=edges))
        self.scene.select_only([node_id])
        return node_id

    def add_node_after(self, type_id: str, source: str) -> str | None:
        """Add a node of `type_id` right of `source`, wired from its first port (Tab, as n8n)."""
        spec = self.document.catalog.get(type_id)
        ports = self.document.output_ports(source)
        item = self.scene.nodes.get(source)
        if spec is None or not ports or item is None:
            return self.add_node(type_id, self.scene.items_bounds().center())
        room = placement.card_room(len(spec.ports))
        room.moveTopLeft(item.pos() + QPointF(COLUMN_SPACING, 0))
        corner = placement.free_spot(self.scene, room, self.scene.items_bounds())
        centre = corner + QPointF(geometry.NODE_WIDTH / 2, geometry.NODE_MIN_HEIGHT / 2)
        return self.add_node(type_id, centre, connect_from=(source, ports[0]))

    def add_note(self, at: QPointF) -> str:
        """A sticky note around `at`, or the nearest free space to it."""
        note_id = self.document.unique_note_id()
        note = StickyNote(id=note_id, x=0, y=0)
        wanted = QRectF(0, 0, float(note.width), float(note.height))
        wanted.moveCenter(at)
        corner = placement.free_spot(self.scene, wanted, self.scene.items_bounds())
        note = note.model_copy(
            update={
                "x": corner.x(),
                "y": corner.y(),
                "text": "**Note.** Double-click to edit; Markdown works.",
            }
        )
        self.document.push(AddItems(self.document, "Add note", notes=[note]))
        return note_id

    # -- removing ------------------------------------------------------------------------

    def delete_selection(self) -> None:
        nodes = self.scene.selected_node_ids()
        for group_id in self.scene.groups.selected_group_ids():  # a group goes with its nodes
            group = self.document.group(group_id)
            nodes += [n for n in group.nodes if self.document.has_node(n) and n not in nodes]
        edges = self.scene.selected_edge_ids()
        notes = self.scene.selected_note_ids()
        if not (nodes or edges or notes):
            return
        count = len(nodes) + len(edges) + len(notes)
        text = "Delete" if count == 1 else f"Delete {count} items"
        self.document.push(RemoveItems(self.document, nodes, edges, notes, text))

    # -- clipboard -----------------------------------------------------------------------

    def copy(self, board: QClipboard) -> bool:
        nodes = sorted(self.scene.selected_node_ids())
        notes = sorted(self.scene.selected_note_ids())
        if not (nodes or notes):
            self.status_message.emit("Select nodes or notes to copy.")
            return False
        clipboard.put_on_clipboard(board, clipboard.fragment_text(self.document, nodes, notes))
        self.status_message.emit(f"Copied {len(nodes)} node(s) and {len(notes)} note(s).")
        return True

    def cut(self, board: QClipboard) -> None:
        if self.copy(board):
            nodes, notes = self.scene.selected_node_ids(), self.scene.selected_note_ids()
            self.document.push(RemoveItems(self.document, nodes, (), notes, "Cut"))

    def paste(self, board: QClipboard, at: QPointF | None = None) -> None:
        """Paste centred on `at` (the mouse pointer), else beside the selection."""
        text = clipboard.read_clipboard(board)
        if text is None:
            self.status_message.emit("The clipboard holds no Opsflow nodes.")
            return
        self.paste_text(text, at)

    def paste_text(self, text: str, at: QPointF | None = None) -> None:
        try:
            fragment = clipboard.prepare_paste(self.document, text)
        except OpsflowError as exc:
            self.status_message.emit(str(exc))
            return
        fragment = self._to_free_space(fragment, at)
        count = len(fragment.nodes) + len(fragment.notes)
        self.document.push(
            AddItems(
                self.document,
                f"Paste {count} item(s)",
                nodes=fragment.nodes,
                edges=fragment.edges,
                notes=fragment.notes,
            )
        )
        self.scene.clearSelection()
        self.scene.select_only(node.id for node, _ in fragment.nodes)
        for note in fragment.notes:
            self.scene.notes[note.id].setSelected(True)

    def _to_free_space(
        self, fragment: clipboard.Fragment, at: QPointF | None
    ) -> clipboard.Fragment:
        """The fragment centred on `at`, else just below the selection, else where it was
        copied from; then moved to the nearest place where it covers no card."""
        bounds = self._bounds(fragment)
        if bounds.isNull():
            return fragment
        wanted = QRectF(bounds)
        beside = QRectF()
        for node_id in self.scene.selected_node_ids():
            item = self.scene.nodes[node_id]
            room = placement.card_room(len(item.look.ports))
            beside = beside.united(item.mapToScene(room).boundingRect())
        for note_id in self.scene.selected_note_ids():
            beside = beside.united(self.scene.notes[note_id].sceneBoundingRect())
        if at is not None:
            wanted.moveCenter(at)
        elif not beside.isNull():
            wanted.moveTopLeft(QPointF(beside.left(), beside.bottom() + placement.GAP))
        corner = placement.free_spot(self.scene, wanted, self.scene.items_bounds())
        return fragment.shifted(corner.x() - bounds.left(), corner.y() - bounds.top())

    def _bounds(self, fragment: clipboard.Fragment) -> QRectF:
        """The room a fragment's placed cards and notes take (null when nothing is placed)."""
        bounds = QRectF()
        for node, where in fragment.nodes:
            if where is not None:
                spec = self.document.catalog.get(node.type)
                room = placement.card_room(len(spec.ports) if spec is not None else 1)
                bounds = bounds.united(room.translated(float(where.x), float(where.y)))
        for note in fragment.notes:
            bounds = bounds.united(
                QRectF(float(note.x), float(note.y), float(note.width), float(note.height))
            )
        return bounds

    def duplicate(self) -> None:
        nodes = sorted(self.scene.selected_node_ids())
        notes = sorted(self.scene.selected_note_ids())
        if nodes or notes:
            self.paste_text(clipboard.fragment_text(self.document, nodes, notes))

    # -- selection -----------------------------------------------------------------------

    def select_all(self) -> None:
        for item in [*self.scene.nodes.values(), *self.scene.notes.values()]:
            item.setSelected(True)

    def select_related(self, downstream: bool) -> None:
        """Add everything upstream (or downstream) of the selected nodes to the selection."""
        start = self.scene.selected_node_ids()
        found = set(start)
        stack = list(start)
        while stack:
            current = stack.pop()
            for edge in self.document.edges_of(current):
                near, far = (edge.source, edge.target) if downstream else (edge.target, edge.source)
                if near == current and far not in found:
                    found.add(far)
                    stack.append(far)
        self.scene.select_only(found)

    # -- arranging -----------------------------------------------------------------------

    def auto_layout(self, selection_only: bool = False) -> None:
        only = self.scene.selected_node_ids() if selection_only else None
        if selection_only and len(only or []) < 2:
            self.status_message.emit("Select two or more nodes to arrange them.")
            return
        # Room for each card as drawn, with its run status line, so none runs into the next.
        heights = {
            node_id: placement.card_room(len(item.look.ports)).height()
            for node_id, item in self.scene.nodes.items()
        }
        positions = auto_layout(self.document.flow(), only, heights=heights)
        moves = {
            node_id: (float(round(x)), float(round(y)))
            for node_id, (x, y) in positions.items()
            if (p := self.document.placement(node_id)) is None or (p.x, p.y) != (x, y)
        }
        if not moves:
            self.status_message.emit("Already arranged.")
            return
        text = "Arrange selection" if selection_only else "Arrange flow"
        self.document.push(MoveItems(self.document, moves, text=text))

    def set_disabled(self, node_ids: Iterable[str], disabled: bool | None = None) -> None:
        """Disable or enable nodes; None toggles based on the first one."""
        ids = list(node_ids)
        if not ids:
            return
        if disabled is None:
            disabled = not self.document.node(ids[0]).disabled
        changed = [
            self.document.node(n).model_copy(update={"disabled": disabled})
            for n in ids
            if self.document.node(n).disabled != disabled
        ]
        if changed:
            verb = "Disable" if disabled else "Enable"
            self.document.push(
                ChangeNodes(self.document, changed, f"{verb} {len(changed)} node(s)")
            )
