"""The canvas and the inspector ask the core's rules, over the document's one upstream index."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QPointF, Qt
from pytestqt.qtbot import QtBot

from opsflow.model.flow import Edge, Flow, Node
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.commands import AddItems, ChangeNode, ReconnectEdge, RemoveItems
from opsflow.studio.document import FlowDocument
from opsflow.studio.editing import FlowEditor
from opsflow.studio.inspector import Inspector
from opsflow.studio.inspector.fields import CodeFieldEditor
from opsflow.validate.graph import can_connect


def wire(edge_id: str, source: str, port: str, target: str) -> Edge:
    return Edge.model_validate({"id": edge_id, "from": source, "port": port, "to": target})


def small_flow() -> Flow:
    """start -> fetch -> report, and start -> other beside them."""
    return Flow(
        id="rules",
        nodes=[
            Node(id="start", type="trigger.manual"),
            Node(id="fetch", type="action.http", params={"url": "https://example.com/"}),
            Node(id="report", type="action.set_vars", params={"values": {"a": 1}}),
            Node(id="other", type="action.shell", params={"command": ["true"]}),
        ],
        edges=[
            wire("e1", "start", "out", "fetch"),
            wire("e2", "fetch", "success", "report"),
            wire("e3", "start", "out", "other"),
        ],
    )


def assert_scene_answers_as_the_core(document: FlowDocument, scene: FlowScene) -> None:
    """Every (source, port, target) gets the answer of an index built afresh for the question."""
    flow = document.flow()
    ids = [n.id for n in document.nodes()]
    for source, target in itertools.product(ids, ids):
        for port in document.output_ports(source):
            expected = can_connect(flow, source, port, target, catalog=document.catalog)
            assert scene.connection_problem(source, port, target) == expected


def test_the_index_is_kept_across_parameter_edits_and_rebuilt_when_edges_change(
    qtbot: QtBot,
) -> None:
    document = FlowDocument(small_flow())
    scene = FlowScene(document)
    assert_scene_answers_as_the_core(document, scene)
    kept = document.upstream()
    fetch = document.node("fetch")
    changed = fetch.model_copy(update={"params": {"url": "https://example.com/x"}})
    document.push(ChangeNode(document, changed, "Change URL", field="params.url"))
    assert document.upstream() is kept

    document.push(AddItems(document, "Connect", edges=[wire("e4", "report", "success", "other")]))
    assert document.upstream() is not kept
    assert scene.connection_problem("other", "success", "fetch") == (
        "it would make a loop: 'fetch' already leads to 'other'"
    )
    assert_scene_answers_as_the_core(document, scene)
    document.push(ReconnectEdge(document, wire("e4", "report", "success", "start")))
    assert_scene_answers_as_the_core(document, scene)
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert scene.connection_problem("other", "success", "fetch") is None
    assert_scene_answers_as_the_core(document, scene)
    document.push(RemoveItems(document, edge_ids=["e2"]))
    assert document.upstream().ancestors("report") == set()
    assert_scene_answers_as_the_core(document, scene)


def test_a_new_node_from_a_dropped_wire_follows_the_core_rules(qtbot: QtBot) -> None:
    document = FlowDocument(small_flow())
    scene = FlowScene(document)
    editor = FlowEditor(document, scene)
    messages: list[str] = []
    editor.status_message.connect(messages.append)

    trigger = editor.add_node("trigger.webhook", QPointF(400, 400), ("fetch", "error"))
    assert trigger is not None and document.has_node(trigger)
    assert not [e for e in document.edges() if e.target == trigger]
    assert messages == [
        f"Added Webhook but did not connect it: '{trigger}' is a trigger; "
        "triggers start a flow and have no input"
    ]
    step = editor.add_node("action.wait", QPointF(400, 600), ("fetch", "error"))
    assert [(e.source, e.port) for e in document.edges() if e.target == step] == [
        ("fetch", "error")
    ]
    assert document.upstream().is_upstream("fetch", step)


def test_the_inspector_sees_a_new_wire_without_retyping(qtbot: QtBot) -> None:
    document = FlowDocument(small_flow())
    inspector = Inspector(document)
    qtbot.addWidget(inspector)
    inspector.show()
    inspector.show_node("fetch")
    editor = inspector.editor("params.url")
    assert isinstance(editor, CodeFieldEditor)
    editor.edit.setFocus()
    editor.edit.selectAll()
    qtbot.keyClick(editor.edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(editor.edit, "https://example.com/{{ nodes.other.output.stdout }}")
    row = inspector.rows["params.url"]
    assert row.message.isVisible()
    assert "not upstream of 'fetch'" in row.message.text()

    document.push(AddItems(document, "Connect", edges=[wire("e4", "other", "success", "fetch")]))
    assert not row.message.isVisible()
    document.undo_stack.undo()
    assert "not upstream of 'fetch'" in row.message.text()
