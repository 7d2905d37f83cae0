"""Groups on the canvas: made from the selection, moved, collapsed and dissolved, all undoable.

Every test checks the model (the document's groups and placements) and the saved bytes; the
canvas items are checked where the issue is what the user sees (hidden members, wires ending
on the collapsed card, the frame around the members).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from opsflow.model.flow import Edge, Flow, Node, NodeGroup
from opsflow.studio import grouping, theme
from opsflow.studio.canvas import geometry
from opsflow.studio.canvas.group_item import PADDING, TITLE_HEIGHT, GroupItem
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.canvas.view import FlowView
from opsflow.studio.commands import AddItems, RemoveItems
from opsflow.studio.document import FlowDocument
from opsflow.studio.editing import FlowEditor
from opsflow.studio.grouping import GroupEditor

LEFT = Qt.MouseButton.LeftButton


def edge(edge_id: str, source: str, port: str, target: str) -> Edge:
    return Edge.model_validate({"id": edge_id, "from": source, "port": port, "to": target})


def chain_flow(groups: list[NodeGroup] | None = None) -> Flow:
    """start -> a -> b -> c in a row, d below b."""
    return Flow(
        id="groups",
        nodes=[
            Node(id="start", type="trigger.manual"),
            Node(id="a", type="action.shell"),
            Node(id="b", type="action.chat"),
            Node(id="c", type="action.ssh"),
            Node(id="d", type="action.wait"),
        ],
        edges=[
            edge("e1", "start", "out", "a"),
            edge("e2", "a", "success", "b"),
            edge("e3", "b", "success", "c"),
        ],
        layout={
            "nodes": {
                "start": {"x": 0, "y": 0},
                "a": {"x": 300, "y": 0},
                "b": {"x": 600, "y": 0},
                "c": {"x": 900, "y": 0},
                "d": {"x": 600, "y": 200},
            },
            "groups": groups or [],
        },
    )


@dataclass
class Canvas:
    document: FlowDocument
    scene: FlowScene
    view: FlowView
    groups: GroupEditor
    editor: FlowEditor

    def at(self, scene_pos: QPointF) -> QPoint:
        return self.view.mapFromScene(scene_pos)

    def frame(self, group_id: str) -> GroupItem:
        return self.scene.groups.items[group_id]

    def title_point(self, group_id: str) -> QPointF:
        return self.frame(group_id).mapToScene(QPointF(120, TITLE_HEIGHT / 2))

    def drag(self, qtbot: QtBot, start: QPointF, end: QPointF, steps: int = 5) -> None:
        viewport = self.view.viewport()
        qtbot.mousePress(viewport, LEFT, pos=self.at(start))
        for step in range(1, steps + 1):
            qtbot.mouseMove(viewport, self.at(start + (end - start) * (step / steps)))
        qtbot.mouseRelease(viewport, LEFT, pos=self.at(end))


def make_canvas(qtbot: QtBot, flow: Flow) -> Canvas:
    document = FlowDocument(flow)
    scene = FlowScene(document)
    view = FlowView(scene)
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitExposed(view)
    view.set_zoom(1.0)
    view.centerOn(QPointF(500, 100))
    return Canvas(
        document, scene, view, GroupEditor(document, scene, view), FlowEditor(document, scene)
    )


@pytest.fixture
def canvas(qtbot: QtBot) -> Canvas:
    return make_canvas(qtbot, chain_flow())


def undo_all(document: FlowDocument) -> None:
    while document.undo_stack.canUndo():
        document.undo_stack.undo()


def card(canvas: Canvas, node_id: str) -> QRectF:
    item = canvas.scene.nodes[node_id]
    return item.mapRectToScene(item.card_rect())


# -- making and dissolving groups --------------------------------------------------------------


def test_group_selection_is_one_step_and_undo_gives_back_the_same_bytes(canvas: Canvas) -> None:
    before = canvas.document.text()
    canvas.scene.select_only(["b", "a"])
    group_id = canvas.groups.group_selection()
    assert group_id == "group1"
    group = canvas.document.group("group1")
    assert group.nodes == ["a", "b"] and group.title == "" and not group.collapsed
    assert canvas.document.undo_stack.count() == 1
    assert canvas.document.undo_stack.undoText() == "Group 2 nodes"
    assert '"groups": [' in canvas.document.text()
    # The new frame is selected and drawn around both cards, title bar on top.
    frame = canvas.frame("group1")
    assert frame.isSelected()
    around = card(canvas, "a").united(card(canvas, "b"))
    expected = around.adjusted(-PADDING, -PADDING - TITLE_HEIGHT, PADDING, PADDING)
    assert frame.mapRectToScene(frame.frame_rect()) == expected
    canvas.document.undo_stack.undo()
    assert canvas.document.text() == before
    assert canvas.scene.groups.items == {}
    canvas.document.undo_stack.redo()
    assert canvas.document.group("group1").nodes == ["a", "b"]


def test_grouping_nodes_of_another_group_moves_them_and_drops_an_emptied_group(
    canvas: Canvas,
) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    canvas.scene.select_only(["b", "c"])
    canvas.groups.group_selection()
    assert canvas.document.group("group1").nodes == ["a"]
    assert canvas.document.group("group2").nodes == ["b", "c"]
    assert canvas.document.group("group2").color != canvas.document.group("group1").color
    canvas.scene.select_only(["a"])
    canvas.groups.group_selection()
    assert not canvas.document.has_group("group1")  # it lost its last node
    assert canvas.scene.nodes["a"].frame is canvas.frame("group3")
    assert canvas.document.undo_stack.count() == 3


def test_nothing_selected_groups_nothing_and_says_what_to_do(canvas: Canvas) -> None:
    said: list[str] = []
    canvas.groups.status_message.connect(said.append)
    assert canvas.groups.group_selection() is None
    assert canvas.document.undo_stack.count() == 0
    assert said == ["Select the nodes to group first."]


def test_ungroup_keeps_the_nodes_and_remove_from_group_takes_one_out(canvas: Canvas) -> None:
    canvas.scene.select_only(["a", "b", "c"])
    canvas.groups.group_selection()
    grouped = canvas.document.text()
    canvas.scene.select_only(["c"])
    canvas.groups.ungroup_selection()  # a node is selected, not the group: it leaves
    assert canvas.document.group("group1").nodes == ["a", "b"]
    assert canvas.scene.nodes["c"].frame is None
    canvas.groups.select_group("group1")
    canvas.groups.ungroup_selection()
    assert not canvas.document.has_group("group1")
    assert {n.id for n in canvas.document.nodes()} == {"start", "a", "b", "c", "d"}
    assert all(item.frame is None for item in canvas.scene.nodes.values())
    canvas.document.undo_stack.undo()
    canvas.document.undo_stack.undo()
    assert canvas.document.text() == grouped


def test_rename_recolour_are_undoable_and_the_title_is_asked_for(
    canvas: Canvas, monkeypatch: pytest.MonkeyPatch
) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    grouped = canvas.document.text()
    monkeypatch.setattr(grouping, "ask_group_title", lambda parent, title: "  Restart web  ")
    canvas.groups.ask_rename("group1")
    canvas.groups.recolor("group1", "red")
    group = canvas.document.group("group1")
    assert (group.title, group.color) == ("Restart web", "red")
    assert canvas.frame("group1").title == "Restart web"
    canvas.groups.recolor("group1", "red")  # no change, no step
    assert canvas.document.undo_stack.count() == 3
    monkeypatch.setattr(grouping, "ask_group_title", lambda parent, title: None)
    canvas.groups.ask_rename("group1")  # cancelled
    assert canvas.document.undo_stack.count() == 3
    undo_all_but_first(canvas.document)
    assert canvas.document.text() == grouped


def undo_all_but_first(document: FlowDocument) -> None:
    while document.undo_stack.index() > 1:
        document.undo_stack.undo()


def test_double_click_on_the_title_asks_for_a_new_title(
    qtbot: QtBot, canvas: Canvas, monkeypatch: pytest.MonkeyPatch
) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    canvas.view.group_activated.connect(canvas.groups.ask_rename)
    monkeypatch.setattr(grouping, "ask_group_title", lambda parent, title: "Fix it")
    with qtbot.assertNotEmitted(canvas.view.quick_add_requested):
        qtbot.mouseDClick(canvas.view.viewport(), LEFT, pos=canvas.at(canvas.title_point("group1")))
    assert canvas.document.group("group1").title == "Fix it"


def test_the_group_menu_offers_every_group_edit(canvas: Canvas) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    menu = canvas.groups.build_menu("group1")
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == [
        "Rename…",
        "Colour",
        "Collapse",
        "Select its nodes",
        "Ungroup (keep the nodes)",
        "Delete group and its nodes",
    ]
    colours = next(a for a in menu.actions() if a.text() == "Colour").menu()
    checked = [a.text() for a in colours.actions() if a.isChecked()]
    assert checked == [canvas.document.group("group1").color.capitalize()]
    next(a for a in colours.actions() if a.text() == "Purple").trigger()
    assert canvas.document.group("group1").color == "purple"
    next(a for a in menu.actions() if a.text() == "Select its nodes").trigger()
    assert sorted(canvas.scene.selected_node_ids()) == ["a", "b"]


# -- deleting --------------------------------------------------------------------------------


def test_deleting_a_node_takes_it_out_of_its_group_and_undo_puts_it_back(canvas: Canvas) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    grouped = canvas.document.text()
    canvas.scene.select_only(["b"])
    canvas.editor.delete_selection()
    assert canvas.document.group("group1").nodes == ["a"]
    assert canvas.frame("group1").members == [canvas.scene.nodes["a"]]
    canvas.scene.select_only(["a"])
    canvas.editor.delete_selection()
    assert not canvas.document.has_group("group1")
    canvas.document.undo_stack.undo()
    canvas.document.undo_stack.undo()
    assert canvas.document.text() == grouped
    assert [m.node_id for m in canvas.frame("group1").members] == ["a", "b"]


def test_remove_items_keeps_a_group_with_nodes_left() -> None:
    document = FlowDocument(chain_flow([NodeGroup(id="g", nodes=["a", "b", "c"])]))
    before = document.text()
    document.push(RemoveItems(document, ["b"]))
    assert document.group("g").nodes == ["a", "c"]
    document.undo_stack.undo()
    assert document.text() == before


def test_delete_with_a_group_selected_deletes_its_nodes_in_one_step(canvas: Canvas) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    grouped = canvas.document.text()
    canvas.editor.delete_selection()
    assert not canvas.document.has_node("a") and not canvas.document.has_node("b")
    assert not canvas.document.has_group("group1")
    assert canvas.document.undo_stack.count() == 2
    canvas.document.undo_stack.undo()
    assert canvas.document.text() == grouped


def test_delete_group_and_nodes_also_drops_names_of_missing_nodes() -> None:
    document = FlowDocument(chain_flow([NodeGroup(id="g", nodes=["a", "ghost"])]))
    scene = FlowScene(document)
    before = document.text()
    GroupEditor(document, scene).delete_with_nodes("g")
    assert not document.has_group("g") and not document.has_node("a")
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert document.text() == before


# -- moving ----------------------------------------------------------------------------------


def test_dragging_the_title_moves_the_members_as_one_undo_step(
    qtbot: QtBot, canvas: Canvas
) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    grouped = canvas.document.text()
    canvas.scene.clearSelection()
    start = canvas.title_point("group1")
    canvas.drag(qtbot, start, start + QPointF(100, 160))
    assert canvas.document.undo_stack.count() == 2
    assert canvas.document.undo_stack.undoText() == "Move 2 items"
    a, b = canvas.document.placement("a"), canvas.document.placement("b")
    assert (a.x, a.y, b.x, b.y) == (400, 160, 700, 160)  # type: ignore[union-attr]
    assert canvas.document.placement("c").x == 900  # type: ignore[union-attr]
    # Nothing else moved, and the frame is still around its members.
    qtbot.waitUntil(
        lambda: (
            canvas.frame("group1").pos()
            == card(canvas, "a").topLeft() - QPointF(PADDING, PADDING + TITLE_HEIGHT)
        )
    )
    canvas.document.undo_stack.undo()
    assert canvas.document.text() == grouped
    qtbot.waitUntil(
        lambda: canvas.frame("group1").pos() == QPointF(300 - PADDING, -PADDING - TITLE_HEIGHT)
    )


def test_dragging_a_member_grows_the_frame(qtbot: QtBot, canvas: Canvas) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    canvas.scene.clearSelection()
    centre = canvas.scene.nodes["b"].mapToScene(QPointF(geometry.NODE_WIDTH / 2, 20))
    canvas.drag(qtbot, centre, centre + QPointF(0, 200))
    assert canvas.document.placement("b").y == 200  # type: ignore[union-attr]
    assert canvas.document.group("group1").nodes == ["a", "b"]
    frame = canvas.frame("group1")
    qtbot.waitUntil(lambda: frame.mapRectToScene(frame.frame_rect()).bottom() > 250)


def test_a_click_inside_the_frame_body_starts_a_rubber_band(qtbot: QtBot, canvas: Canvas) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    canvas.scene.clearSelection()
    # Below the cards, inside the frame: the frame does not take the click.
    inside = QPointF(550, geometry.NODE_MIN_HEIGHT + PADDING / 2)
    canvas.drag(qtbot, inside, inside + QPointF(120, -30))
    assert canvas.document.undo_stack.count() == 1  # only the grouping
    assert canvas.scene.selected_node_ids() == ["b"]


# -- collapsing ------------------------------------------------------------------------------


def test_collapse_hides_members_and_ends_their_wires_on_the_card(
    qtbot: QtBot, canvas: Canvas
) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    grouped = canvas.document.text()
    canvas.groups.set_collapsed(["group1"], True)
    assert canvas.document.group("group1").collapsed
    frame = canvas.frame("group1")
    assert not canvas.scene.nodes["a"].isVisible() and not canvas.scene.nodes["b"].isVisible()
    assert not canvas.scene.edges["e2"].isVisible()  # a -> b is inside
    into, out = canvas.scene.edges["e1"], canvas.scene.edges["e3"]
    assert into.isVisible() and out.isVisible()
    assert into.path().pointAtPercent(1) == frame.input_pos()
    assert out.path().pointAtPercent(0) == frame.output_pos()
    # The card sits where the frame's corner was, so the flow keeps its shape.
    assert frame.pos() == QPointF(300 - PADDING, -PADDING - TITLE_HEIGHT)
    assert frame.frame_rect().height() == geometry.NODE_MIN_HEIGHT
    canvas.document.undo_stack.undo()
    assert canvas.document.text() == grouped
    assert canvas.scene.nodes["a"].isVisible() and canvas.scene.edges["e2"].isVisible()
    assert into.path().pointAtPercent(1) == canvas.scene.nodes["a"].input_pos()


def test_the_collapse_button_toggles_and_a_collapsed_card_drags_its_hidden_nodes(
    qtbot: QtBot, canvas: Canvas
) -> None:
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    canvas.scene.clearSelection()
    button = canvas.frame("group1").mapToScene(QPointF(19, TITLE_HEIGHT / 2))
    qtbot.mouseClick(canvas.view.viewport(), LEFT, pos=canvas.at(button))
    assert canvas.document.group("group1").collapsed
    assert canvas.document.undo_stack.undoText() == "Collapse group"
    card_centre = canvas.frame("group1").mapToScene(QPointF(150, 26))
    canvas.drag(qtbot, card_centre, card_centre + QPointF(0, 300))
    assert canvas.document.placement("a").y == 300  # type: ignore[union-attr]
    assert canvas.document.placement("b").y == 300  # type: ignore[union-attr]
    frame = canvas.frame("group1")
    assert canvas.scene.edges["e1"].path().pointAtPercent(1) == frame.input_pos()
    button = frame.mapToScene(QPointF(19, geometry.NODE_MIN_HEIGHT / 2))
    qtbot.mouseClick(canvas.view.viewport(), LEFT, pos=canvas.at(button))
    assert not canvas.document.group("group1").collapsed
    assert canvas.scene.nodes["a"].isVisible()


def test_a_file_with_a_collapsed_group_opens_collapsed_and_saves_unchanged(qtbot: QtBot) -> None:
    flow = chain_flow([NodeGroup(id="web", title="Web", nodes=["b", "c"], collapsed=True)])
    canvas = make_canvas(qtbot, flow)
    assert not canvas.scene.nodes["b"].isVisible()
    assert canvas.scene.edges["e2"].path().pointAtPercent(1) == canvas.frame("web").input_pos()
    assert canvas.document.text() == FlowDocument(flow).text()


def test_toggle_selection_acts_on_the_groups_of_selected_nodes(canvas: Canvas) -> None:
    said: list[str] = []
    canvas.groups.status_message.connect(said.append)
    canvas.groups.toggle_selection()
    assert said == ["Select a group, or a node in one, to collapse it."]
    canvas.scene.select_only(["a", "b"])
    canvas.groups.group_selection()
    canvas.scene.select_only(["a"])
    canvas.groups.toggle_selection()
    assert canvas.document.group("group1").collapsed


def test_a_wire_added_inside_a_collapsed_group_stays_hidden(canvas: Canvas) -> None:
    canvas.scene.select_only(["a", "c"])
    canvas.groups.group_selection()
    canvas.groups.set_collapsed(["group1"], True)
    canvas.document.push(
        AddItems(canvas.document, "Connect", edges=[edge("e9", "a", "error", "c")])
    )
    assert not canvas.scene.edges["e9"].isVisible()


# -- painting --------------------------------------------------------------------------------


def render(scene: FlowScene, source: QRectF) -> QImage:
    image = QImage(int(source.width()), int(source.height()), QImage.Format.Format_ARGB32)
    image.fill(QColor(theme.current().canvas))
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, image.width(), image.height()), source)
    painter.end()
    return image


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("collapsed", [False, True])
def test_a_frame_and_a_collapsed_card_paint(
    qtbot: QtBot, qapp: QApplication, mode: theme.Mode, collapsed: bool
) -> None:
    colors = theme.apply(qapp, mode)
    try:
        flow = chain_flow([NodeGroup(id="g", title="Web", nodes=["a", "b"], collapsed=collapsed)])
        scene = FlowScene(FlowDocument(flow))
        frame = scene.groups.items["g"]
        source = frame.sceneBoundingRect()
        with_frame = render(scene, source)
        frame.setVisible(False)
        without = render(scene, source)
        assert with_frame != without
        accent = QColor(colors.group_color("blue"))
        near = [
            (x, y)
            for y in range(0, with_frame.height())
            for x in range(0, with_frame.width())
            if _close(QColor(with_frame.pixel(x, y)), accent)
        ]
        assert len(near) > 50, "the frame's colour is hardly in the picture"
    finally:
        theme.apply(qapp, "light")


def _close(one: QColor, other: QColor) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(one.getRgb()[:3], other.getRgb()[:3], strict=True))
