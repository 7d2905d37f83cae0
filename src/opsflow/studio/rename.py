"""Renaming a node in the Studio: the undoable command and the renamer the inspector's id field
and F2 use, which says what the rename changed.

The rewriting itself is `opsflow.rename`'s; the command only swaps the objects it returned
into the document, so one undo step gives back the very same file bytes.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand

from opsflow.model.flow import Edge, Flow, Node, NodeGroup, NodePlacement
from opsflow.rename import Renamed, RenameError, id_problem, rename_node
from opsflow.studio.document import FlowDocument


class RenameNodeCommand(QUndoCommand):
    """Give a node a new id and rewrite everything that names it, as one step.

    Raises `RenameError` (a sentence) when the id is refused or a reference cannot be
    rewritten; nothing is changed then.
    """

    def __init__(self, document: FlowDocument, old: str, new: str) -> None:
        result = rename_node(document.flow(), old, new, document.catalog)
        super().__init__(f"Rename {old} to {new}")
        self.document = document
        self.result: Renamed = result
        self.old, self.new = old, new
        #: Where the undo stack stood (index, count) when `NodeRenamer.prepare` made it.
        self.prepared_at: tuple[int, int] | None = None
        flow = result.flow
        self.node_before: Node = document.node(old)
        self.node_after: Node = flow.node_map()[new]
        self.placement: NodePlacement | None = document.placement(old)
        self.edges_before: list[Edge] = document.edges_of(old)
        after_edges = {edge.id: edge for edge in flow.edges}
        self.edges_after: list[Edge] = [after_edges[edge.id] for edge in self.edges_before]
        # Untouched objects are the very ones the document holds: only changed ones differ.
        self.nodes: list[tuple[Node, Node]] = [
            (document.node(node.id), node)
            for node in flow.nodes
            if node.id != new and node is not document.node(node.id)
        ]
        groups_after = {group.id: group for group in flow.layout.groups}
        self.groups: list[tuple[NodeGroup, NodeGroup]] = [
            (group, groups_after[group.id])
            for group in document.groups()
            if groups_after[group.id] is not group
        ]
        header = document.header
        self.header_before: Flow = header
        self.header_after: Flow | None = (
            header.model_copy(update={"outputs": flow.outputs})
            if flow.outputs != header.outputs
            else None
        )

    def redo(self) -> None:
        with self.document.batch():
            self._swap(self.old, self.node_after, self.edges_before, self.edges_after, after=True)

    def undo(self) -> None:
        with self.document.batch():
            self._swap(self.new, self.node_before, self.edges_after, self.edges_before, after=False)

    def _swap(
        self, gone: str, node: Node, edges_out: list[Edge], edges_in: list[Edge], *, after: bool
    ) -> None:
        document = self.document
        for edge in edges_out:
            document.delete_edge(edge.id)
        document.delete_node(gone)
        document.insert_node(node, self.placement)
        for edge in edges_in:
            document.insert_edge(edge)
        for before, changed in self.nodes:
            document.set_node(changed if after else before)
        for group_before, group_after in self.groups:
            document.set_group(group_after if after else group_before)
        if self.header_after is not None:
            document.set_header(self.header_after if after else self.header_before)
        document.renamed_node(gone, node.id)


class NodeRenamer(QObject):
    """Renames the nodes of one document and remembers what the last rename changed."""

    #: A sentence for the status bar.
    status_message = Signal(str)

    def __init__(self, document: FlowDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        #: What the last rename changed, until the next edit, undo or redo.
        self.last: Renamed | None = None
        self._last_index = -1
        document.undo_stack.indexChanged.connect(self._on_index_changed)

    def problem(self, old: str, new: str) -> str:
        """Why `old` cannot be called `new`, as a sentence for the field; "" when it can."""
        if new == old:
            return ""
        found = id_problem({node.id for node in self.document.nodes()}, old, new)
        return _sentence(found) if found else ""

    def prepare(self, old: str, new: str) -> RenameNodeCommand | str:
        """The command renaming `old` to `new`, or the sentence saying why it cannot be done."""
        try:
            command = RenameNodeCommand(self.document, old, new)
        except RenameError as exc:
            return _sentence(str(exc))
        command.prepared_at = self._mark()
        return command

    def apply_prepared(self, command: RenameNodeCommand) -> None:
        """Run a command from `prepare` later on: as it is while the flow has not changed since,
        else prepared again (and refused in the status bar if it no longer can be)."""
        if command.prepared_at == self._mark():
            self.apply(command)
        else:
            self.rename(command.old, command.new)

    def _mark(self) -> tuple[int, int]:
        stack = self.document.undo_stack
        return stack.index(), stack.count()

    def apply(self, command: RenameNodeCommand) -> None:
        """Run a prepared rename (one undo step) and say what it changed."""
        self.document.push(command)
        self.last = command.result
        self._last_index = self.document.undo_stack.index()
        self.status_message.emit(command.result.summary())

    def rename(self, old: str, new: str) -> str:
        """Rename at once; returns why it could not be done (also said in the status bar), or
        "" when it was."""
        command = self.prepare(old, new)
        if isinstance(command, str):
            self.status_message.emit(command)
            return command
        self.apply(command)
        return ""

    def _on_index_changed(self, index: int) -> None:
        if index != self._last_index:
            self.last = None


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "…")) else f"{text}."


def change_lines(result: Renamed, limit: int = 6) -> list[str]:
    """The rewritten places of a rename, one short line each ("notify · params.body")."""
    places = [
        f"{change.node} · {change.field}" if change.node else change.field
        for change in result.changes
        if change.references
    ]
    if len(places) > limit:
        places = [*places[: limit - 1], f"and {len(places) - limit + 1} more"]
    return places
