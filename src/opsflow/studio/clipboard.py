"""Copy and paste of flow fragments as flow JSON, through the system clipboard.

A fragment is an ordinary flow file holding the copied nodes, the edges
between them and their placements, so it can be pasted into another window,
another Studio, or read in a text editor. Pasting gives every node and edge a
fresh id; the editor then moves the fragment to where it should land.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QClipboard

from opsflow.errors import OpsflowError
from opsflow.flowfile import dump_flow, parse_flow
from opsflow.model.flow import Edge, Flow, Layout, Node, NodePlacement, StickyNote
from opsflow.studio.document import FlowDocument
from opsflow.studio.mime import FLOW_FRAGMENT_MIME


@dataclass
class Fragment:
    """Items ready to insert: ids already unique in the target document."""

    nodes: list[tuple[Node, NodePlacement | None]]
    edges: list[Edge]
    notes: list[StickyNote]

    def shifted(self, dx: float, dy: float) -> Fragment:
        """The same items, every placement and note moved by (dx, dy)."""
        nodes = [
            (node, None if p is None else p.model_copy(update={"x": p.x + dx, "y": p.y + dy}))
            for node, p in self.nodes
        ]
        notes = [n.model_copy(update={"x": n.x + dx, "y": n.y + dy}) for n in self.notes]
        return Fragment(nodes, self.edges, notes)


def fragment_text(document: FlowDocument, node_ids: list[str], note_ids: list[str]) -> str:
    """The chosen nodes (with the edges among them) and notes as flow JSON."""
    chosen = set(node_ids)
    nodes = [document.node(n) for n in node_ids]
    edges = [e for e in document.edges() if e.source in chosen and e.target in chosen]
    placements = {n: p for n in node_ids if (p := document.placement(n)) is not None}
    notes = [document.note(n) for n in note_ids]
    header = document.header
    flow = Flow(
        id=header.id,
        name=header.name,
        nodes=nodes,
        edges=edges,
        layout=Layout(nodes=placements, notes=notes),
    )
    return dump_flow(flow)


def put_on_clipboard(clipboard: QClipboard, text: str) -> None:
    data = QMimeData()
    data.setData(FLOW_FRAGMENT_MIME, text.encode("utf-8"))
    data.setText(text)
    clipboard.setMimeData(data)


def release_clipboard(clipboard: QClipboard) -> None:
    """Leave the clipboard holding plain text before the application ends.

    Qt (6.11, offscreen and X11) crashes at exit when the clipboard still owns
    a QMimeData made from Python; the flow JSON stays pasteable as text.
    """
    data = clipboard.mimeData()
    if data is not None and data.hasFormat(FLOW_FRAGMENT_MIME):
        clipboard.setText(data.text())


def read_clipboard(clipboard: QClipboard) -> str | None:
    data = clipboard.mimeData()
    if data is None:
        return None
    if data.hasFormat(FLOW_FRAGMENT_MIME):
        return bytes(data.data(FLOW_FRAGMENT_MIME).data()).decode("utf-8")
    if data.hasText() and '"opsflow.flow"' in data.text():
        return data.text()
    return None


def prepare_paste(document: FlowDocument, text: str) -> Fragment:
    """Parse a fragment and re-make its ids so it fits into `document`.

    Raises OpsflowError with a sentence when the text is not a flow or uses
    node types this Studio does not have.
    """
    try:
        flow = parse_flow(text, "the clipboard", document.catalog)
    except OpsflowError as exc:
        raise OpsflowError(f"cannot paste: {exc}") from None
    renamed: dict[str, str] = {}
    for node in flow.nodes:
        renamed[node.id] = document.unique_node_id(node.id, taken=renamed.values())
    nodes: list[tuple[Node, NodePlacement | None]] = []
    for node in flow.nodes:
        placement = flow.layout.nodes.get(node.id)
        nodes.append((node.model_copy(update={"id": renamed[node.id]}), placement))
    edge_ids: list[str] = []
    edges: list[Edge] = []
    for edge in flow.edges:
        if edge.source not in renamed or edge.target not in renamed:
            continue
        edge_ids.append(document.unique_edge_id(taken=edge_ids))
        edges.append(
            edge.model_copy(
                update={
                    "id": edge_ids[-1],
                    "source": renamed[edge.source],
                    "target": renamed[edge.target],
                }
            )
        )
    note_ids: list[str] = []
    notes: list[StickyNote] = []
    for note in flow.layout.notes:
        note_ids.append(document.unique_note_id(taken=note_ids))
        notes.append(note.model_copy(update={"id": note_ids[-1]}))
    return Fragment(nodes, edges, notes)
