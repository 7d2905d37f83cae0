"""Edits the menus, shortcuts and canvas ask for, each turned into one undoable command.

`FlowEditor` knows the document and the scene (for the selection) and nothing
about windows or menus, so tests can call it directly and the main window
only wires actions to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QClipboard

from opsflow.autolayout import auto_layout
from opsflow.errors import OpsflowError
from opsflow.model.flow import Edge, Node, NodePlacement, StickyNote
from opsflow.studio import clipboard
from opsflow.studio.canvas import geometry
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.commands import AddItems, ChangeNodes, MoveItems, RemoveItems
from opsflow.studio.document import FlowDocument


class FlowEditor(QObject):
    """Selection-aware editing of one document."""

    #: A sentence for the status bar.
    status_message = Signal(str)

    def __init__(self, document: FlowDocument, scene: FlowScene) -> None:
        super().__init__(scene)
        self.document = document
        self.scene = scene
        self._last_paste: str | None = None
        self._paste_repeats = 0

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
            problem = self.scene.connection_problem(source, port, node_id)
            if spec.category == "trigger":
                problem = "a trigger cannot have an input"
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

    def add_note(self, at: QPointF) -> str:
        note_id = self.document.unique_note_id()
        note = StickyNote(
            id=note_id,
            x=geometry.snap(at.x()),
            y=geometry.snap(at.y()),
            text="**Note.** Double-click to edit; Markdown works.",
        )
        self.document.push(AddItems(self.document, "Add note", notes=[note]))
        return note_id

    # -- removing ------------------------------------------------------------------------

    def delete_selection(self) -> None:
        nodes = self.scene.selected_node_ids()
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

    def paste(self, board: QClipboard) -> None:
        text = clipboard.read_clipboard(board)
        if text is None:
            self.status_message.emit("The clipboard holds no Opsflow nodes.")
            return
        # Pasting the same thing again steps further, so copies never hide each other.
        repeats = self._paste_repeats + 1 if text == self._last_paste else 1
        self._last_paste, self._paste_repeats = text, repeats
        self.paste_text(text, clipboard.PASTE_OFFSET * repeats)

    def paste_text(self, text: str, offset: float = clipboard.PASTE_OFFSET) -> None:
        try:
            fragment = clipboard.prepare_paste(self.document, text, offset)
        except OpsflowError as exc:
            self.status_message.emit(str(exc))
            return
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
        positions = auto_layout(self.document.flow(), only)
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
