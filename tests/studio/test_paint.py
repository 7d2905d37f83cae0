"""Every item really paints, at every level of detail (a renamed Qt virtual paints nothing)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem
from pytestqt.qtbot import QtBot

from opsflow.catalog import default_catalog
from opsflow.model.flow import Edge, Flow, Node, NodePlacement, StickyNote
from opsflow.studio import theme
from opsflow.studio.canvas.edge_item import EdgeItem
from opsflow.studio.canvas.node_item import NodeItem
from opsflow.studio.canvas.note_item import NoteItem
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.canvas.view import FlowView
from opsflow.studio.document import FlowDocument


def every_kind_of_item() -> Flow:
    """One node of every catalog type in a grid, wired through every kind of port."""
    specs = list(default_catalog())
    nodes = []
    placements = {}
    for index, spec in enumerate(specs):
        node_id = spec.type.replace(".", "_")
        params = (
            {"cases": [{"port": "urgent", "when": "{{ true }}"}]}
            if spec.type == "condition.switch"
            else {}
        )
        nodes.append(
            Node(id=node_id, type=spec.type, params=params, disabled=spec.type == "action.wait")
        )
        placements[node_id] = NodePlacement(x=(index % 5) * 320, y=(index // 5) * 200)
    wires = [
        ("trigger_manual", "out", "condition_if"),
        ("condition_if", "true", "action_ssh"),
        ("condition_if", "false", "action_http"),
        ("action_ssh", "success", "control_approval"),
        ("action_ssh", "error", "action_chat"),
        ("control_approval", "approved", "control_foreach"),
        ("control_approval", "rejected", "action_email"),
        ("control_approval", "timeout", "action_ticket"),
        ("control_foreach", "done", "action_wait"),
        ("trigger_webhook", "out", "condition_switch"),
        ("condition_switch", "urgent", "action_shell"),
        ("condition_switch", "default", "action_script"),
    ]
    edges = [
        Edge.model_validate({"id": f"e{i}", "from": s, "port": p, "to": t})
        for i, (s, p, t) in enumerate(wires, start=1)
    ]
    note = StickyNote(id="note1", x=-300, y=0, text="**Read me** first:\n\n- one\n- two")
    return Flow(id="paint", nodes=nodes, edges=edges, layout={"nodes": placements, "notes": [note]})


@pytest.fixture
def scene(qtbot: QtBot) -> FlowScene:
    document = FlowDocument(every_kind_of_item())
    scene = FlowScene(document)
    scene.set_badges({"action_http": ("error", "url: required"), "action_file": ("warning", "x")})
    return scene


def render(scene: FlowScene, source: QRectF, zoom: float) -> QImage:
    width, height = max(int(source.width() * zoom), 4), max(int(source.height() * zoom), 4)
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("#000000"))
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, width, height), source)
    painter.end()
    return image


def differs(one: QImage, other: QImage) -> int:
    """How many pixels differ between two images of the same size."""
    assert one.size() == other.size()
    return sum(
        one.pixel(x, y) != other.pixel(x, y)
        for y in range(one.height())
        for x in range(one.width())
    )


def test_the_scene_has_every_kind_of_item(scene: FlowScene) -> None:
    assert len(scene.nodes) == len(list(default_catalog()))
    ports = {item.port for item in scene.edges.values()}
    assert {"out", "true", "false", "success", "error", "approved", "rejected", "timeout"} <= ports
    assert {"done", "default", "urgent"} <= ports
    assert scene.nodes["action_wait"].look.disabled
    assert scene.nodes["action_http"].look.badge == "error"
    assert "urgent" in scene.nodes["condition_switch"].look.ports


@pytest.mark.parametrize("zoom", [1.0, 0.3, 0.1])
def test_the_whole_scene_paints_at_every_zoom(scene: FlowScene, zoom: float) -> None:
    image = render(scene, scene.items_bounds().adjusted(-20, -20, 20, 20), zoom)
    background = QColor(theme.current().canvas).rgb()
    colours = {
        image.pixel(x, y) for y in range(0, image.height(), 3) for x in range(0, image.width(), 3)
    }
    assert len(colours - {background}) > 5


@pytest.mark.parametrize("zoom", [1.0, 0.3, 0.1])
def test_each_item_paints_something_of_its_own(scene: FlowScene, zoom: float) -> None:
    """Hiding any one item changes the picture of the place where it is."""
    items: list[QGraphicsItem] = [
        *scene.nodes.values(),
        *scene.edges.values(),
        *scene.notes.values(),
    ]
    silent = []
    for item in items:
        source = item.sceneBoundingRect()
        with_item = render(scene, source, zoom)
        item.setVisible(False)
        without = render(scene, source, zoom)
        item.setVisible(True)
        if differs(with_item, without) == 0:
            silent.append(
                getattr(item, "node_id", None) or getattr(item, "edge_id", None) or "note"
            )
    assert silent == []
    kinds = {type(i) for i in items}
    assert kinds == {NodeItem, EdgeItem, NoteItem}


def test_selected_and_dark_items_paint_too(qtbot: QtBot, scene: FlowScene) -> None:
    view = FlowView(scene)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    view.set_zoom(1.0)
    item = scene.nodes["action_ssh"]
    view.centerOn(item.sceneBoundingRect().center())
    before = view.viewport().grab().toImage()
    item.setSelected(True)
    scene.edges["e4"].setSelected(True)
    after = view.viewport().grab().toImage()
    assert before != after
    centre = view.mapFromScene(item.mapToScene(QPointF(100, 30)))
    assert QColor(after.pixel(centre)) != QColor(theme.current().canvas)
    assert view.viewport().grab().toImage().pixelColor(centre) != Qt.GlobalColor.transparent
