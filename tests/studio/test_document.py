"""The evented document and its undo commands: every edit undoes to the very same bytes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF
from pytestqt.qtbot import QtBot

from opsflow.flowfile import load_flow
from opsflow.model.flow import Edge, Flow, Node, NodePlacement, StickyNote
from opsflow.studio import clipboard
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.commands import (
    AddItems,
    ChangeFlow,
    ChangeNode,
    ChangeNote,
    MoveItems,
    ReconnectEdge,
    RemoveItems,
)
from opsflow.studio.document import FlowDocument
from opsflow.studio.editing import FlowEditor
from tests.studio.conftest import SAMPLE_FLOWS, SAMPLES


def edge(edge_id: str, source: str, port: str, target: str) -> Edge:
    return Edge.model_validate({"id": edge_id, "from": source, "port": port, "to": target})


def small_flow() -> Flow:
    return Flow(
        id="small",
        name="Small",
        nodes=[
            Node(id="start", type="trigger.manual"),
            Node(id="run", type="action.shell", params={"command": ["true"]}),
            Node(id="tell", type="action.chat"),
        ],
        edges=[edge("e1", "start", "out", "run"), edge("e2", "run", "success", "tell")],
        layout={"nodes": {"start": {"x": 0, "y": 0}, "run": {"x": 280, "y": 0}}},
    )


def undo_all(document: FlowDocument) -> None:
    while document.undo_stack.canUndo():
        document.undo_stack.undo()


def redo_all(document: FlowDocument) -> None:
    while document.undo_stack.canRedo():
        document.undo_stack.redo()


def scene_matches_document(scene: FlowScene, document: FlowDocument) -> None:
    assert set(scene.nodes) == {n.id for n in document.nodes()}
    assert set(scene.edges) == {e.id for e in document.edges()}
    assert set(scene.notes) == {n.id for n in document.notes()}
    for node_id, item in scene.nodes.items():
        placement = document.placement(node_id)
        if placement is not None:
            assert (item.pos().x(), item.pos().y()) == (placement.x, placement.y), node_id


def test_add_and_remove_round_trip() -> None:
    document = FlowDocument(small_flow())
    before = document.text()
    node = Node(id="wait", type="action.wait")
    document.push(
        AddItems(
            document,
            "Add",
            nodes=[(node, NodePlacement(x=40, y=40))],
            edges=[edge("e3", "tell", "success", "wait")],
            notes=[StickyNote(id="note1", x=0, y=200, text="hi")],
        )
    )
    assert document.has_node("wait") and document.has_edge("e3")
    assert document.placement("wait") == NodePlacement(x=40, y=40)
    assert document.is_modified()
    document.undo_stack.undo()
    assert not document.has_node("wait") and not document.has_edge("e3")
    assert document.text() == before
    assert not document.is_modified()
    document.undo_stack.redo()
    assert [n.id for n in document.notes()] == ["note1"]


def test_removing_a_node_removes_its_edges_and_undo_restores_them() -> None:
    document = FlowDocument(small_flow())
    before = document.text()
    removed: list[str] = []
    document.edge_removed.connect(removed.append)
    document.push(RemoveItems(document, node_ids=["run"]))
    assert not document.has_node("run")
    assert sorted(removed) == ["e1", "e2"]
    assert list(document.edges()) == []
    assert document.edges_of("start") == [] and document.edges_of("tell") == []
    document.undo_stack.undo()
    assert {e.id for e in document.edges_of("run")} == {"e1", "e2"}
    assert document.placement("run") == NodePlacement(x=280, y=0)
    assert document.text() == before


def test_move_round_trip_including_a_node_that_had_no_placement() -> None:
    document = FlowDocument(small_flow())
    before = document.text()
    moves: list[str] = []
    document.node_moved.connect(moves.append)
    document.push(MoveItems(document, {"run": (300, 20), "tell": (560, 0)}))
    assert document.placement("run") == NodePlacement(x=300, y=20)
    assert document.placement("tell") == NodePlacement(x=560, y=0)
    assert sorted(moves) == ["run", "tell"]
    document.undo_stack.undo()
    assert document.placement("tell") is None
    assert document.text() == before


def test_change_node_note_flow_and_reconnect_round_trip() -> None:
    document = FlowDocument(small_flow())
    document.push(AddItems(document, "note", notes=[StickyNote(id="n1", x=0, y=0)]))
    document.undo_stack.setClean()
    before = document.text()
    run = document.node("run")
    document.push(ChangeNode(document, run.model_copy(update={"timeout_s": 30}), "Timeout"))
    note = document.note("n1")
    document.push(ChangeNote(document, note.model_copy(update={"text": "x"}), "Edit note"))
    header = document.header.model_copy(update={"name": "Renamed"})
    document.push(ChangeFlow(document, header, "Rename flow"))
    moved = document.edge("e2").model_copy(update={"target": "start"})
    document.push(ReconnectEdge(document, moved))
    assert document.node("run").timeout_s == 30
    assert document.note("n1").text == "x"
    assert document.header.name == "Renamed"
    assert document.edge("e2").target == "start"
    assert document.node("run") is not run  # replaced, never changed in place
    assert run.timeout_s is None
    undo_all(document)
    assert document.text() != before  # the note is undone too
    redo_all(document)
    document.undo_stack.setIndex(1)
    assert document.text() == before


def test_two_edits_of_the_same_field_are_one_undo_step() -> None:
    document = FlowDocument(small_flow())
    before = document.text()
    run = document.node("run")
    for title in ("R", "Re", "Restart"):
        current = document.node("run")
        document.push(
            ChangeNode(document, current.model_copy(update={"title": title}), "Title", "title")
        )
    assert document.undo_stack.count() == 1
    assert document.node("run").title == "Restart"
    # Another field, or another node, is a new step.
    document.push(
        ChangeNode(
            document,
            document.node("run").model_copy(update={"params": {"command": ["false"]}}),
            "Command",
            "params.command",
        )
    )
    document.push(
        ChangeNode(
            document, document.node("tell").model_copy(update={"title": "T"}), "Title", "title"
        )
    )
    assert document.undo_stack.count() == 3
    undo_all(document)
    assert document.node("run") == run
    assert document.text() == before


def test_unfielded_changes_never_merge() -> None:
    document = FlowDocument(small_flow())
    for seconds in (10, 20):
        node = document.node("run").model_copy(update={"timeout_s": seconds})
        document.push(ChangeNode(document, node, "Timeout"))
    assert document.undo_stack.count() == 2


def test_unique_ids_skip_taken_ones() -> None:
    document = FlowDocument(small_flow())
    assert document.unique_node_id("run") == "run_2"
    assert document.unique_node_id("Run Script!") == "run_script"
    assert document.unique_node_id("9lives") == "n_9lives"
    assert document.unique_node_id("run", taken=["run_2"]) == "run_3"
    assert document.unique_edge_id() == "e3"
    assert document.unique_edge_id(taken=["e4"]) == "e5"


# -- a long session undone ---------------------------------------------------------------


def _random_session(
    rng: random.Random, document: FlowDocument, scene: FlowScene, editor: FlowEditor
) -> None:
    types = sorted(spec.type for spec in document.catalog)
    actions = [t for t in types if not t.startswith("trigger.")]
    for step in range(60):
        node_ids = sorted(n.id for n in document.nodes())
        what = rng.choice(
            [
                "add",
                "add_wired",
                "connect",
                "move",
                "param",
                "title",
                "paste",
                "delete",
                "layout",
                "disable",
                "note",
                "reconnect",
            ]
        )
        if what == "add" or not node_ids:
            editor.add_node(rng.choice(types), QPointF(rng.uniform(-500, 900), rng.uniform(0, 700)))
        elif what == "add_wired":
            source = rng.choice(node_ids)
            port = rng.choice(document.output_ports(source) or ("out",))
            editor.add_node(rng.choice(actions), QPointF(step * 13, 400), (source, port))
        elif what == "connect":
            source, target = rng.choice(node_ids), rng.choice(node_ids)
            ports = document.output_ports(source)
            if (
                ports
                and scene.connection_problem(source, ports[0], target) is None
                and not scene.nodes[target].is_trigger()
            ):
                new = edge(document.unique_edge_id(), source, ports[0], target)
                document.push(AddItems(document, "Connect", edges=[new]))
        elif what == "move":
            chosen = rng.sample(node_ids, min(3, len(node_ids)))
            document.push(
                MoveItems(document, {n: (rng.randrange(-40, 40) * 20, step * 20) for n in chosen})
            )
        elif what == "param":
            node = document.node(rng.choice(node_ids))
            params = {**node.params, "extra": f"value {step}"}
            document.push(
                ChangeNode(
                    document, node.model_copy(update={"params": params}), "P", "params.extra"
                )
            )
        elif what == "title":
            node = document.node(rng.choice(node_ids))
            document.push(
                ChangeNode(document, node.model_copy(update={"title": f"T{step}"}), "T", "title")
            )
        elif what == "paste":
            scene.select_only(rng.sample(node_ids, min(4, len(node_ids))))
            editor.duplicate()
        elif what == "delete":
            scene.select_only(rng.sample(node_ids, min(2, len(node_ids))))
            edges = sorted(scene.edges)
            if edges:
                scene.edges[rng.choice(edges)].setSelected(True)
            editor.delete_selection()
        elif what == "layout":
            if rng.random() < 0.5:
                editor.auto_layout()
            else:
                scene.select_only(rng.sample(node_ids, min(4, len(node_ids))))
                editor.auto_layout(selection_only=True)
        elif what == "disable":
            editor.set_disabled(rng.sample(node_ids, min(3, len(node_ids))))
        elif what == "note":
            notes = sorted(n.id for n in document.notes())
            if notes and rng.random() < 0.6:
                note = document.note(rng.choice(notes))
                document.push(
                    ChangeNote(document, note.model_copy(update={"text": f"n{step}"}), "N")
                )
            else:
                editor.add_note(QPointF(step * 10, -200))
        elif what == "reconnect":
            edges = sorted(document.edges(), key=lambda e: e.id)
            if edges:
                old = rng.choice(edges)
                target = rng.choice(node_ids)
                if target != old.target and (
                    scene.connection_problem(old.source, old.port, target) is None
                    and not scene.nodes[target].is_trigger()
                ):
                    moved = old.model_copy(update={"target": target})
                    document.push(ReconnectEdge(document, moved))
    scene.clearSelection()


@pytest.mark.parametrize("path", SAMPLE_FLOWS, ids=lambda p: p.name.split(".")[0])
def test_a_long_session_undone_gives_the_original_bytes(qtbot: QtBot, path: Path) -> None:
    original = path.read_bytes()
    document = FlowDocument(load_flow(path), path)
    scene = FlowScene(document)
    editor = FlowEditor(document, scene)
    assert document.text().encode("utf-8") == original
    rng = random.Random(path.name)
    _random_session(rng, document, scene, editor)
    edited = document.text()
    assert edited.encode("utf-8") != original
    assert document.undo_stack.count() > 20
    scene_matches_document(scene, document)
    undo_all(document)
    assert document.text().encode("utf-8") == original
    assert not document.is_modified()
    scene_matches_document(scene, document)
    redo_all(document)
    assert document.text() == edited
    scene_matches_document(scene, document)


def test_paste_in_the_same_document_twice_gives_fresh_ids(qtbot: QtBot) -> None:
    document = FlowDocument(load_flow(SAMPLES / "nightly-disk-cleanup.flow.json"))
    scene = FlowScene(document)
    editor = FlowEditor(document, scene)
    text = clipboard.fragment_text(document, ["check_disk", "over_threshold"], [])
    editor.paste_text(text)
    editor.paste_text(text)
    ids = [n.id for n in document.nodes()]
    assert len(ids) == len(set(ids)) == 14
    assert {"check_disk_2", "check_disk_3", "over_threshold_2", "over_threshold_3"} <= set(ids)
    pasted = [e for e in document.edges() if e.source in {"check_disk_2", "check_disk_3"}]
    assert {(e.source, e.target) for e in pasted} == {
        ("check_disk_2", "over_threshold_2"),
        ("check_disk_3", "over_threshold_3"),
    }
    edge_ids = [e.id for e in document.edges()]
    assert len(edge_ids) == len(set(edge_ids))
    assert sorted(scene.selected_node_ids()) == ["check_disk_3", "over_threshold_3"]
