"""Every edit of a flow as an undoable command that changes only the document.

Commands keep the exact objects they replace, so undoing puts back the very
same model and the saved text is byte-identical to before. Macros (paste,
delete with edges, auto-layout) are one command holding several changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand

from opsflow.model.flow import Edge, Flow, Node, NodeGroup, NodePlacement, StickyNote
from opsflow.studio.document import FlowDocument

#: Ids used by QUndoCommand.mergeWith: consecutive edits of one field merge.
MERGE_NODE_FIELD = 1
MERGE_NOTE_TEXT = 2


class AddItems(QUndoCommand):
    """Add nodes (with placements), edges and notes: a new node, a paste, a duplicate."""

    def __init__(
        self,
        document: FlowDocument,
        text: str,
        nodes: Iterable[tuple[Node, NodePlacement | None]] = (),
        edges: Iterable[Edge] = (),
        notes: Iterable[StickyNote] = (),
    ) -> None:
        super().__init__(text)
        self.document = document
        self.nodes = list(nodes)
        self.edges = list(edges)
        self.notes = list(notes)

    def redo(self) -> None:
        with self.document.batch():
            for node, placement in self.nodes:
                self.document.insert_node(node, placement)
            for edge in self.edges:
                self.document.insert_edge(edge)
            for note in self.notes:
                self.document.insert_note(note)

    def undo(self) -> None:
        with self.document.batch():
            for note in reversed(self.notes):
                self.document.delete_note(note.id)
            for edge in reversed(self.edges):
                self.document.delete_edge(edge.id)
            for node, _ in reversed(self.nodes):
                self.document.delete_node(node.id)


class RemoveItems(QUndoCommand):
    """Delete nodes together with their edges, plus edges and notes on their own.

    Deleted nodes leave their groups; a group left with no nodes goes too.
    """

    def __init__(
        self,
        document: FlowDocument,
        node_ids: Iterable[str] = (),
        edge_ids: Iterable[str] = (),
        note_ids: Iterable[str] = (),
        text: str = "Delete",
    ) -> None:
        super().__init__(text)
        self.document = document
        self.node_ids = list(dict.fromkeys(node_ids))
        edges = set(edge_ids)
        for node_id in self.node_ids:
            edges.update(e.id for e in document.edges_of(node_id))
        self.edge_ids = sorted(edges)
        self.note_ids = list(dict.fromkeys(note_ids))
        removed = set(self.node_ids)
        #: Groups that lose nodes, as (before, after); after is None when none are left.
        self.group_changes: list[tuple[NodeGroup, NodeGroup | None]] = []
        for group in document.groups():
            kept = [n for n in group.nodes if n not in removed]
            if len(kept) != len(group.nodes):
                after = group.model_copy(update={"nodes": kept}) if kept else None
                self.group_changes.append((group, after))
        self.removed_nodes: list[tuple[Node, NodePlacement | None]] = []
        self.removed_edges: list[Edge] = []
        self.removed_notes: list[StickyNote] = []

    def redo(self) -> None:
        with self.document.batch():
            self.removed_edges = [self.document.delete_edge(e) for e in self.edge_ids]
            self.removed_nodes = [self.document.delete_node(n) for n in self.node_ids]
            self.removed_notes = [self.document.delete_note(n) for n in self.note_ids]
            for before, after in self.group_changes:
                if after is None:
                    self.document.delete_group(before.id)
                else:
                    self.document.set_group(after)

    def undo(self) -> None:
        with self.document.batch():
            for note in self.removed_notes:
                self.document.insert_note(note)
            for node, placement in self.removed_nodes:
                self.document.insert_node(node, placement)
            for edge in self.removed_edges:
                self.document.insert_edge(edge)
            for before, after in self.group_changes:
                if after is None:
                    self.document.insert_group(before)
                else:
                    self.document.set_group(before)


class MoveItems(QUndoCommand):
    """Move nodes and notes: one drag, an auto-layout, an alignment."""

    def __init__(
        self,
        document: FlowDocument,
        node_positions: Mapping[str, tuple[float, float]],
        note_positions: Mapping[str, tuple[float, float]] | None = None,
        text: str = "Move",
    ) -> None:
        super().__init__(text)
        self.document = document
        self.before: dict[str, NodePlacement | None] = {}
        self.after: dict[str, NodePlacement] = {}
        for node_id, (x, y) in node_positions.items():
            old = document.placement(node_id)
            self.before[node_id] = old
            base = old or NodePlacement(x=x, y=y)
            self.after[node_id] = base.model_copy(update={"x": x, "y": y})
        self.notes_before: dict[str, StickyNote] = {}
        self.notes_after: dict[str, StickyNote] = {}
        for note_id, (x, y) in (note_positions or {}).items():
            note = document.note(note_id)
            self.notes_before[note_id] = note
            self.notes_after[note_id] = note.model_copy(update={"x": x, "y": y})

    def redo(self) -> None:
        with self.document.batch():
            for node_id, placement in self.after.items():
                self.document.set_placement(node_id, placement)
            for note in self.notes_after.values():
                self.document.set_note(note)

    def undo(self) -> None:
        with self.document.batch():
            for node_id, placement in self.before.items():
                if placement is None:
                    self.document.clear_placement(node_id)
                else:
                    self.document.set_placement(node_id, placement)
            for note in self.notes_before.values():
                self.document.set_note(note)


class _Replace(QUndoCommand):
    """Swap one model object for an edited version with the same id.

    Edits naming the same `field` of the same object in a row merge into one
    step, so typing a word in the inspector is undone at once, not letter by
    letter; edits without a field never merge.
    """

    merge_id = -1

    def __init__(
        self, document: FlowDocument, before: Any, after: Any, text: str, field: str
    ) -> None:
        super().__init__(text)
        self.document = document
        self.before = before
        self.after = after
        self.field = field

    def _put(self, value: Any) -> None:
        raise NotImplementedError

    def id(self) -> int:
        return self.merge_id if self.field else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if type(other) is not type(self) or not self.field:
            return False
        assert isinstance(other, _Replace)
        if other.after.id != self.after.id or other.field != self.field:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        with self.document.batch():
            self._put(self.after)

    def undo(self) -> None:
        with self.document.batch():
            self._put(self.before)


class ChangeNode(_Replace):
    """Replace a node with an edited version (title, a parameter, retries, disabled...)."""

    merge_id = MERGE_NODE_FIELD

    def __init__(self, document: FlowDocument, node: Node, text: str, field: str = "") -> None:
        super().__init__(document, document.node(node.id), node, text, field)

    def _put(self, value: Node) -> None:
        self.document.set_node(value)


class ChangeNodes(QUndoCommand):
    """Replace several nodes at once (disable/enable a selection)."""

    def __init__(self, document: FlowDocument, nodes: Iterable[Node], text: str) -> None:
        super().__init__(text)
        self.document = document
        self.after = list(nodes)
        self.before = [document.node(n.id) for n in self.after]

    def redo(self) -> None:
        with self.document.batch():
            for node in self.after:
                self.document.set_node(node)

    def undo(self) -> None:
        with self.document.batch():
            for node in self.before:
                self.document.set_node(node)


class ChangeNote(_Replace):
    """Replace a sticky note (text, size, colour)."""

    merge_id = MERGE_NOTE_TEXT

    def __init__(
        self, document: FlowDocument, note: StickyNote, text: str, field: str = ""
    ) -> None:
        super().__init__(document, document.note(note.id), note, text, field)

    def _put(self, value: StickyNote) -> None:
        self.document.set_note(value)


class ReconnectEdge(QUndoCommand):
    """Move an edge's end to another node (the id and port stay)."""

    def __init__(self, document: FlowDocument, edge: Edge, text: str = "Reconnect") -> None:
        super().__init__(text)
        self.document = document
        self.before = document.edge(edge.id)
        self.after = edge

    def redo(self) -> None:
        with self.document.batch():
            self.document.delete_edge(self.before.id)
            self.document.insert_edge(self.after)

    def undo(self) -> None:
        with self.document.batch():
            self.document.delete_edge(self.after.id)
            self.document.insert_edge(self.before)


class ChangeFlow(QUndoCommand):
    """Replace the flow-level fields (name, description, inputs, credentials, vars)."""

    def __init__(self, document: FlowDocument, header: Flow, text: str) -> None:
        super().__init__(text)
        self.document = document
        self.before = document.header
        self.after = header

    def redo(self) -> None:
        with self.document.batch():
            self.document.set_header(self.after)

    def undo(self) -> None:
        with self.document.batch():
            self.document.set_header(self.before)


class ChangeGroups(QUndoCommand):
    """Add, change or remove groups in one step: group, ungroup, rename, recolour, collapse.

    `changes` maps a group id to its new version, or to None to remove it.
    """

    def __init__(
        self, document: FlowDocument, changes: Mapping[str, NodeGroup | None], text: str
    ) -> None:
        super().__init__(text)
        self.document = document
        self.before: dict[str, NodeGroup | None] = {
            group_id: document.group(group_id) if document.has_group(group_id) else None
            for group_id in changes
        }
        self.after = dict(changes)

    def _put(self, groups: Mapping[str, NodeGroup | None]) -> None:
        with self.document.batch():
            for group_id, group in groups.items():
                present = self.document.has_group(group_id)
                if group is None:
                    if present:
                        self.document.delete_group(group_id)
                elif present:
                    self.document.set_group(group)
                else:
                    self.document.insert_group(group)

    def redo(self) -> None:
        self._put(self.after)

    def undo(self) -> None:
        self._put(self.before)
