"""The open flow as an evented store: the plain model, its undo stack and change signals.

The pydantic objects are never changed in place: an edit replaces a node, an
edge, a placement or a note with a new object, so undo commands can keep the
old one and put it back exactly. Only commands (`opsflow.studio.commands`)
call the mutating methods; views listen to the signals.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from opsflow.catalog import Catalog, default_catalog
from opsflow.catalog.spec import NodeSpec
from opsflow.flowfile import dump_flow
from opsflow.model.flow import Edge, Flow, Layout, Node, NodeGroup, NodePlacement, StickyNote
from opsflow.validate.graph import FlowGraph, Upstream


class FlowDocument(QObject):
    """One flow being edited: the model, where it is saved, and its undo history."""

    #: A node was added (its id).
    node_added = Signal(str)
    #: A node was removed (its id).
    node_removed = Signal(str)
    #: A node's title, parameters or settings changed (its id).
    node_changed = Signal(str)
    #: A node's placement changed (its id).
    node_moved = Signal(str)
    #: A node got a new id (old id, new id): it was removed and added again under the new id,
    #: and listeners that key things by node id (selection, debug marks) can follow it.
    node_renamed = Signal(str, str)
    #: An edge was added (its id).
    edge_added = Signal(str)
    #: An edge was removed (its id).
    edge_removed = Signal(str)
    #: A sticky note was added (its id).
    note_added = Signal(str)
    #: A sticky note was removed (its id).
    note_removed = Signal(str)
    #: A sticky note's text, place or size changed (its id).
    note_changed = Signal(str)
    #: A group of nodes was added (its id).
    group_added = Signal(str)
    #: A group was removed (its id).
    group_removed = Signal(str)
    #: A group's title, colour, members or collapsed state changed (its id).
    group_changed = Signal(str)
    #: The flow-level fields (name, inputs, credentials, ...) changed.
    flow_changed = Signal()
    #: The whole flow was replaced (open, revert): views rebuild from scratch.
    reset = Signal()
    #: Anything at all changed (debounced listeners: validation, autosave).
    changed = Signal()
    #: The file the document is saved to changed.
    path_changed = Signal()

    # Set by `_load`; `unique_edge_id` counts on from it.
    _edge_counter: int
    # Built by `upstream` when first asked; dropped when a node or an edge comes or goes.
    _upstream: Upstream | None

    def __init__(
        self,
        flow: Flow | None = None,
        path: Path | None = None,
        catalog: Catalog | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog or default_catalog()
        self.undo_stack = QUndoStack(self)
        self._path = path
        self._batch_depth = 0
        self._batch_dirty = False
        self._load(flow or Flow(id="new-flow", name="New flow"))

    # -- reading -------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        return self._path

    @path.setter
    def path(self, value: Path | None) -> None:
        self._path = value
        self.path_changed.emit()

    @property
    def header(self) -> Flow:
        """The flow-level fields; its node, edge and layout lists are not kept current."""
        return self._header

    def flow(self) -> Flow:
        """The whole flow as it stands (a shallow copy sharing the node objects)."""
        layout = Layout(
            nodes=dict(self._placements),
            notes=list(self._notes.values()),
            groups=list(self._groups.values()),
        )
        return self._header.model_copy(
            update={
                "nodes": list(self._nodes.values()),
                "edges": list(self._edges.values()),
                "layout": layout,
            }
        )

    def text(self) -> str:
        """The canonical file text of the flow as it stands."""
        return dump_flow(self.flow())

    def upstream(self) -> Upstream:
        """Which nodes lead to which (the validator's index), kept until a node or edge changes.

        The canvas asks it on every mouse move of a dragged wire and the inspector on
        every keystroke in an expression: on a 5,000-node chain a question takes 0.3 to
        0.7 ms with the kept index and 5 to 6 ms when it is built for each question
        (benchmarks/bench_validate.py).
        """
        if self._upstream is None:
            self._upstream = Upstream(FlowGraph(self.flow()))
        return self._upstream

    def node(self, node_id: str) -> Node:
        return self._nodes[node_id]

    def has_node(self, node_id: str) -> bool:
        return node_id in self._nodes

    def nodes(self) -> Iterable[Node]:
        return self._nodes.values()

    def edge(self, edge_id: str) -> Edge:
        return self._edges[edge_id]

    def has_edge(self, edge_id: str) -> bool:
        return edge_id in self._edges

    def edges(self) -> Iterable[Edge]:
        return self._edges.values()

    def edges_of(self, node_id: str) -> list[Edge]:
        """Edges that start or end at a node."""
        return [self._edges[e] for e in sorted(self._touching.get(node_id, ()))]

    def placement(self, node_id: str) -> NodePlacement | None:
        return self._placements.get(node_id)

    def note(self, note_id: str) -> StickyNote:
        return self._notes[note_id]

    def notes(self) -> Iterable[StickyNote]:
        return self._notes.values()

    def group(self, group_id: str) -> NodeGroup:
        return self._groups[group_id]

    def has_group(self, group_id: str) -> bool:
        return group_id in self._groups

    def groups(self) -> Iterable[NodeGroup]:
        return self._groups.values()

    def group_of(self, node_id: str) -> NodeGroup | None:
        """The group a node belongs to, if any."""
        return next((g for g in self._groups.values() if node_id in g.nodes), None)

    def spec(self, node_id: str) -> NodeSpec | None:
        return self.catalog.get(self._nodes[node_id].type)

    def output_ports(self, node_id: str) -> tuple[str, ...]:
        """The ports a node can leave through, as its parameters stand."""
        node = self._nodes[node_id]
        spec = self.catalog.get(node.type)
        if spec is None:
            used = {e.port for e in self._edges.values() if e.source == node_id}
            return tuple(sorted(used))
        if spec.dynamic_ports is None:
            return spec.ports
        try:
            params = spec.params.model_validate(node.params)
        except ValueError:
            params = None
        ports = spec.output_ports(params) if params is not None else spec.ports
        wired = [e.port for e in self._edges.values() if e.source == node_id]
        return tuple(dict.fromkeys([*ports, *sorted(wired)]))

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    # -- ids -----------------------------------------------------------------------------

    def unique_node_id(self, wanted: str, taken: Iterable[str] = ()) -> str:
        """A free node id close to `wanted` (made a valid identifier first)."""
        base = re.sub(r"[^a-z0-9_]+", "_", wanted.lower()).strip("_")[:56] or "node"
        if base[0].isdigit():
            base = f"n_{base}"
        used = set(self._nodes) | set(taken)
        if base not in used:
            return base
        base = re.sub(r"_\d+$", "", base) or base
        for number in itertools.count(2):
            candidate = f"{base}_{number}"
            if candidate not in used:
                return candidate
        raise AssertionError("unreachable")

    def unique_edge_id(self, taken: Iterable[str] = ()) -> str:
        used = set(self._edges) | set(taken)
        self._edge_counter = max(self._edge_counter, len(self._edges))
        while True:
            self._edge_counter += 1
            candidate = f"e{self._edge_counter}"
            if candidate not in used:
                return candidate

    def unique_note_id(self, taken: Iterable[str] = ()) -> str:
        used = set(self._notes) | set(taken)
        for number in itertools.count(1):
            if f"note{number}" not in used:
                return f"note{number}"
        raise AssertionError("unreachable")

    def unique_group_id(self, taken: Iterable[str] = ()) -> str:
        used = set(self._groups) | set(taken)
        for number in itertools.count(1):
            if f"group{number}" not in used:
                return f"group{number}"
        raise AssertionError("unreachable")

    # -- editing (through commands only) -------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group changes so `changed` is emitted once, at the end (commands use this)."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0 and self._batch_dirty:
                self._batch_dirty = False
                self.changed.emit()

    def _touch(self) -> None:
        if self._batch_depth:
            self._batch_dirty = True
        else:
            self.changed.emit()

    def push(self, command: QUndoCommand) -> None:
        """Run an edit and record it for undo."""
        self.undo_stack.push(command)

    def replace_flow(self, flow: Flow, path: Path | None) -> None:
        """Open another flow in this document: history is cleared."""
        self.undo_stack.clear()
        self._path = path
        self._load(flow)
        self.reset.emit()
        self.path_changed.emit()
        self._touch()

    def insert_node(self, node: Node, placement: NodePlacement | None) -> None:
        self._upstream = None
        self._nodes[node.id] = node
        if placement is not None:
            self._placements[node.id] = placement
        self.node_added.emit(node.id)
        self._touch()

    def delete_node(self, node_id: str) -> tuple[Node, NodePlacement | None]:
        """Remove a node that has no edges left; returns what was removed."""
        assert not self._touching.get(node_id), "remove the node's edges first"
        self._upstream = None
        node = self._nodes.pop(node_id)
        placement = self._placements.pop(node_id, None)
        self._touching.pop(node_id, None)
        self.node_removed.emit(node_id)
        self._touch()
        return node, placement

    def set_node(self, node: Node) -> None:
        """Replace a node by a new version with the same id."""
        self._nodes[node.id] = node
        self.node_changed.emit(node.id)
        self._touch()

    def set_placement(self, node_id: str, placement: NodePlacement) -> None:
        self._placements[node_id] = placement
        self.node_moved.emit(node_id)
        self._touch()

    def clear_placement(self, node_id: str) -> None:
        """Forget where a node was drawn (undo of the first move of an unplaced node)."""
        self._placements.pop(node_id, None)
        self.node_moved.emit(node_id)
        self._touch()

    def insert_edge(self, edge: Edge) -> None:
        self._upstream = None
        self._edges[edge.id] = edge
        self._touching.setdefault(edge.source, set()).add(edge.id)
        self._touching.setdefault(edge.target, set()).add(edge.id)
        self.edge_added.emit(edge.id)
        self._touch()

    def delete_edge(self, edge_id: str) -> Edge:
        self._upstream = None
        edge = self._edges.pop(edge_id)
        self._touching[edge.source].discard(edge.id)
        self._touching[edge.target].discard(edge.id)
        self.edge_removed.emit(edge_id)
        self._touch()
        return edge

    def insert_note(self, note: StickyNote) -> None:
        self._notes[note.id] = note
        self.note_added.emit(note.id)
        self._touch()

    def delete_note(self, note_id: str) -> StickyNote:
        note = self._notes.pop(note_id)
        self.note_removed.emit(note_id)
        self._touch()
        return note

    def set_note(self, note: StickyNote) -> None:
        self._notes[note.id] = note
        self.note_changed.emit(note.id)
        self._touch()

    def insert_group(self, group: NodeGroup) -> None:
        self._groups[group.id] = group
        self.group_added.emit(group.id)
        self._touch()

    def delete_group(self, group_id: str) -> NodeGroup:
        group = self._groups.pop(group_id)
        self.group_removed.emit(group_id)
        self._touch()
        return group

    def set_group(self, group: NodeGroup) -> None:
        self._groups[group.id] = group
        self.group_changed.emit(group.id)
        self._touch()

    def set_header(self, header: Flow) -> None:
        self._header = header
        self.flow_changed.emit()
        self._touch()

    def moves_done(self) -> None:
        """Placements changed (one signal per batch so listeners react once)."""
        self._touch()

    def renamed_node(self, old_id: str, new_id: str) -> None:
        """Say that node `old_id` now lives as `new_id` (rename commands, after the swap)."""
        self.node_renamed.emit(old_id, new_id)

    # -- internals -----------------------------------------------------------------------

    def _load(self, flow: Flow) -> None:
        self._header = flow.model_copy(update={"nodes": [], "edges": [], "layout": Layout()})
        self._nodes: dict[str, Node] = {n.id: n for n in flow.nodes}
        self._edges: dict[str, Edge] = {e.id: e for e in flow.edges}
        self._placements: dict[str, NodePlacement] = dict(flow.layout.nodes)
        self._notes: dict[str, StickyNote] = {n.id: n for n in flow.layout.notes}
        self._groups: dict[str, NodeGroup] = {g.id: g for g in flow.layout.groups}
        self._touching: dict[str, set[str]] = {}
        self._upstream = None
        for edge in flow.edges:
            self._touching.setdefault(edge.source, set()).add(edge.id)
            self._touching.setdefault(edge.target, set()).add(edge.id)
        numbers = [int(e[1:]) for e in self._edges if re.fullmatch(r"e\d+", e)]
        self._edge_counter = max(numbers, default=0)
