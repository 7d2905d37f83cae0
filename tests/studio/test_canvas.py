"""The canvas driven with real mouse, wheel, key and drop events on a shown view."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from opsflow.model.flow import Edge, Flow, Node, StickyNote
from opsflow.studio.canvas import geometry
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.canvas.view import FlowView
from opsflow.studio.commands import AddItems, ChangeNote, MoveItems
from opsflow.studio.document import FlowDocument
from opsflow.studio.editing import FlowEditor
from opsflow.studio.mainwindow import MainWindow
from opsflow.studio.mime import node_type_mime_data

LEFT = Qt.MouseButton.LeftButton


def edge(edge_id: str, source: str, port: str, target: str) -> Edge:
    return Edge.model_validate({"id": edge_id, "from": source, "port": port, "to": target})


def canvas_flow() -> Flow:
    """start -> a -> b, and c on its own below a."""
    return Flow(
        id="canvas",
        nodes=[
            Node(id="start", type="trigger.manual"),
            Node(id="a", type="action.shell"),
            Node(id="b", type="action.chat"),
            Node(id="c", type="action.ssh"),
        ],
        edges=[edge("e1", "start", "out", "a"), edge("e2", "a", "success", "b")],
        layout={
            "nodes": {
                "start": {"x": 0, "y": 0},
                "a": {"x": 300, "y": 0},
                "b": {"x": 600, "y": 0},
                "c": {"x": 300, "y": 200},
            }
        },
    )


@dataclass
class Canvas:
    document: FlowDocument
    scene: FlowScene
    view: FlowView
    editor: FlowEditor
    messages: list[str]

    def at(self, scene_pos: QPointF) -> QPoint:
        return self.view.mapFromScene(scene_pos)

    def node_centre(self, node_id: str) -> QPointF:
        return self.scene.nodes[node_id].mapToScene(QPointF(geometry.NODE_WIDTH / 2, 20))

    def drag(self, qtbot: QtBot, start: QPointF, end: QPointF, steps: int = 4) -> None:
        """Press at `start`, move there in a few steps, release at `end` (scene points)."""
        viewport = self.view.viewport()
        qtbot.mousePress(viewport, LEFT, pos=self.at(start))
        for step in range(1, steps + 1):
            point = start + (end - start) * (step / steps)
            qtbot.mouseMove(viewport, self.at(point))
        qtbot.mouseRelease(viewport, LEFT, pos=self.at(end))


@pytest.fixture
def canvas(qtbot: QtBot) -> Canvas:
    document = FlowDocument(canvas_flow())
    scene = FlowScene(document)
    view = FlowView(scene)
    editor = FlowEditor(document, scene)
    view.node_type_dropped.connect(lambda type_id, at: editor.add_node(type_id, at))
    messages: list[str] = []
    scene.status_message.connect(messages.append)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    qtbot.waitExposed(view)
    view.set_zoom(1.0)
    view.centerOn(QPointF(400, 150))
    return Canvas(document, scene, view, editor, messages)


def test_dropping_a_palette_type_adds_a_node_where_it_was_dropped(canvas: Canvas) -> None:
    # QDrag.exec would run a blocking drag loop offscreen: the drop is synthesized instead.
    viewport = canvas.view.viewport()
    where = canvas.at(QPointF(520, 420))
    data = node_type_mime_data("action.http")
    enter = QDragEnterEvent(
        where, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(where),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier(0),
    )
    QApplication.sendEvent(viewport, drop)
    added = [n for n in canvas.document.nodes() if n.type == "action.http"]
    assert len(added) == 1
    placement = canvas.document.placement(added[0].id)
    assert placement is not None
    centre = QPointF(
        placement.x + geometry.NODE_WIDTH / 2, placement.y + geometry.NODE_MIN_HEIGHT / 2
    )
    assert (centre - QPointF(520, 420)).manhattanLength() <= geometry.GRID * 2
    assert canvas.scene.selected_node_ids() == [added[0].id]


def test_dragging_from_an_output_port_to_a_node_connects_them(qtbot: QtBot, canvas: Canvas) -> None:
    a, c = canvas.scene.nodes["a"], canvas.scene.nodes["c"]
    canvas.drag(qtbot, a.output_pos("error"), c.input_pos())
    made = [e for e in canvas.document.edges() if e.source == "a" and e.port == "error"]
    assert [(e.target) for e in made] == ["c"]
    assert canvas.document.undo_stack.count() == 1
    assert made[0].id in canvas.scene.edges
    # Dropping anywhere on the card works too, not just on the input port.
    canvas.drag(qtbot, c.output_pos("success"), canvas.node_centre("b"))
    assert any(e.source == "c" and e.target == "b" for e in canvas.document.edges())


@pytest.mark.parametrize(
    ("source", "port", "target", "reason"),
    [
        ("b", "success", "a", "loop"),
        ("b", "success", "start", "trigger"),
        ("a", "success", "a", "itself"),
        ("a", "success", "b", "already connected"),
    ],
)
def test_refused_connections_say_why(
    qtbot: QtBot, canvas: Canvas, source: str, port: str, target: str, reason: str
) -> None:
    before = canvas.document.text()
    canvas.drag(qtbot, canvas.scene.nodes[source].output_pos(port), canvas.node_centre(target))
    assert canvas.document.text() == before
    assert canvas.document.undo_stack.count() == 0
    assert any(m.startswith("Not connected") and reason in m for m in canvas.messages), (
        canvas.messages
    )
    assert not canvas.scene._target_marker.isVisible()


def test_a_wire_dropped_on_empty_canvas_asks_for_a_node(qtbot: QtBot, canvas: Canvas) -> None:
    empty = QPointF(420, 520)
    with qtbot.waitSignal(canvas.scene.wire_dropped, timeout=1000) as blocker:
        canvas.drag(qtbot, canvas.scene.nodes["a"].output_pos("error"), empty)
    node_id, port, at = blocker.args
    assert (node_id, port) == ("a", "error")
    assert (at - empty).manhattanLength() <= 2
    assert canvas.document.undo_stack.count() == 0


def test_dragging_a_node_is_one_undo_step_on_the_grid(qtbot: QtBot, canvas: Canvas) -> None:
    start = canvas.node_centre("c")
    canvas.drag(qtbot, start, start + QPointF(133, 47), steps=8)
    assert canvas.document.undo_stack.count() == 1
    assert canvas.document.undo_stack.undoText() == "Move"
    placement = canvas.document.placement("c")
    assert placement is not None
    assert (placement.x, placement.y) == (440, 240)
    assert placement.x % geometry.GRID == 0 and placement.y % geometry.GRID == 0
    item = canvas.scene.nodes["c"]
    assert (item.pos().x(), item.pos().y()) == (440, 240)
    canvas.document.undo_stack.undo()
    assert (item.pos().x(), item.pos().y()) == (300, 200)
    assert canvas.document.placement("c").x == 300  # type: ignore[union-attr]


def test_dragging_a_selection_moves_all_of_it_in_one_step(qtbot: QtBot, canvas: Canvas) -> None:
    canvas.scene.select_only(["a", "b"])
    start = canvas.node_centre("a")
    qtbot.mousePress(
        canvas.view.viewport(), LEFT, Qt.KeyboardModifier.ControlModifier, canvas.at(start)
    )
    qtbot.mouseRelease(
        canvas.view.viewport(), LEFT, Qt.KeyboardModifier.ControlModifier, canvas.at(start)
    )
    canvas.scene.select_only(["a", "b"])
    canvas.drag(qtbot, start, start + QPointF(0, 100), steps=5)
    assert canvas.document.undo_stack.count() == 1
    assert canvas.document.placement("a").y == 100  # type: ignore[union-attr]
    assert canvas.document.placement("b").y == 100  # type: ignore[union-attr]
    # The edge between them followed.
    assert canvas.scene.edges["e2"].path().pointAtPercent(0) == canvas.scene.nodes["a"].output_pos(
        "success"
    )


def test_a_click_without_moving_pushes_nothing(qtbot: QtBot, canvas: Canvas) -> None:
    qtbot.mouseClick(canvas.view.viewport(), LEFT, pos=canvas.at(canvas.node_centre("b")))
    assert canvas.scene.selected_node_ids() == ["b"]
    assert canvas.document.undo_stack.count() == 0


def test_rubber_band_selects_what_it_touches(qtbot: QtBot, canvas: Canvas) -> None:
    canvas.drag(qtbot, QPointF(-60, -60), QPointF(860, 40), steps=6)
    assert sorted(canvas.scene.selected_node_ids()) == ["a", "b", "start"]
    assert canvas.document.undo_stack.count() == 0


def test_reconnecting_an_edge_by_dragging_its_arrow_end(qtbot: QtBot, canvas: Canvas) -> None:
    canvas.scene.edges["e2"].setSelected(True)
    b, c = canvas.scene.nodes["b"], canvas.scene.nodes["c"]
    canvas.drag(qtbot, b.input_pos(), c.input_pos())
    assert canvas.document.edge("e2").target == "c"
    assert canvas.document.edge("e2").source == "a"
    assert canvas.document.undo_stack.count() == 1
    assert canvas.scene.edges["e2"].isVisible()
    assert canvas.scene.edges["e2"].target is c
    canvas.document.undo_stack.undo()
    assert canvas.document.edge("e2").target == "b"
    assert canvas.scene.edges["e2"].target is b


def test_reconnecting_into_a_loop_is_refused(qtbot: QtBot, canvas: Canvas) -> None:
    canvas.scene.edges["e2"].setSelected(True)
    canvas.drag(qtbot, canvas.scene.nodes["b"].input_pos(), canvas.node_centre("start"))
    assert canvas.document.edge("e2").target == "b"
    assert any(m.startswith("Not reconnected") for m in canvas.messages)
    assert canvas.scene.edges["e2"].isVisible()


def test_escape_cancels_a_wire(qtbot: QtBot, canvas: Canvas) -> None:
    viewport = canvas.view.viewport()
    canvas.view.setFocus()
    qtbot.mousePress(viewport, LEFT, pos=canvas.at(canvas.scene.nodes["a"].output_pos("error")))
    qtbot.mouseMove(viewport, canvas.at(QPointF(450, 400)))
    qtbot.keyClick(canvas.view, Qt.Key.Key_Escape)
    qtbot.mouseRelease(viewport, LEFT, pos=canvas.at(canvas.scene.nodes["c"].input_pos()))
    assert canvas.document.undo_stack.count() == 0
    assert not any(type(i).__name__ == "WireItem" for i in canvas.scene.items())


def wheel(view: FlowView, at: QPoint, notches: int) -> None:
    event = QWheelEvent(
        QPointF(at),
        QPointF(view.viewport().mapToGlobal(at)),
        QPoint(),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


@pytest.mark.parametrize("at", [QPoint(500, 350), QPoint(120, 90), QPoint(900, 600)])
def test_wheel_zoom_keeps_the_point_under_the_cursor(canvas: Canvas, at: QPoint) -> None:
    view = canvas.view
    for notches in (1, 1, -3, 2, -1):
        before = view.mapToScene(at)
        zoom = view.zoom()
        wheel(view, at, notches)
        assert view.zoom() != pytest.approx(zoom)
        after = view.mapFromScene(before)
        assert abs(after.x() - at.x()) <= 2 and abs(after.y() - at.y()) <= 2, (notches, after)
    assert view.zoom() == pytest.approx(1.0, rel=0.01)


def test_fit_items_shows_every_node(canvas: Canvas) -> None:
    canvas.editor.add_node("action.wait", QPointF(3200, 1900))
    canvas.editor.add_node("action.wait", QPointF(-1500, -700))
    canvas.view.fit_items()
    visible = canvas.view.mapToScene(canvas.view.viewport().rect()).boundingRect()
    for node_id, item in canvas.scene.nodes.items():
        assert visible.contains(item.sceneBoundingRect()), node_id
    assert canvas.view.zoom() < 1.0
    # A small flow is not blown up past 100 %.
    canvas.document.undo_stack.setIndex(0)
    canvas.view.fit_items()
    assert canvas.view.zoom() == pytest.approx(1.0)


def test_delete_key_removes_the_selection_with_its_edges(qtbot: QtBot) -> None:
    window = MainWindow(canvas_flow())
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(window.view.hasFocus)
    window.scene.select_only(["a"])
    qtbot.keyClick(window.view, Qt.Key.Key_Delete)
    document = window.document
    assert not document.has_node("a")
    assert {e.id for e in document.edges()} == set()
    assert set(window.scene.edges) == set()
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert {e.id for e in document.edges()} == {"e1", "e2"}
    assert set(window.scene.edges) == {"e1", "e2"}


def test_escape_during_a_node_drag_puts_it_back_and_keeps_it_there(
    qtbot: QtBot, canvas: Canvas
) -> None:
    viewport = canvas.view.viewport()
    canvas.view.setFocus()
    start = canvas.node_centre("c")
    qtbot.mousePress(viewport, LEFT, pos=canvas.at(start))
    qtbot.mouseMove(viewport, canvas.at(start + QPointF(60, 60)))
    qtbot.mouseMove(viewport, canvas.at(start + QPointF(120, 120)))
    qtbot.keyClick(canvas.view, Qt.Key.Key_Escape)
    item = canvas.scene.nodes["c"]
    assert (item.pos().x(), item.pos().y()) == (300, 200)
    qtbot.mouseMove(viewport, canvas.at(start + QPointF(200, 160)))
    qtbot.mouseRelease(viewport, LEFT, pos=canvas.at(start + QPointF(200, 160)))
    # The model did not move, and neither does the card that shows it.
    assert canvas.document.undo_stack.count() == 0
    assert canvas.document.placement("c").x == 300  # type: ignore[union-attr]
    assert (item.pos().x(), item.pos().y()) == (300, 200)


def test_the_scene_shows_off_grid_positions_exactly(canvas: Canvas) -> None:
    """Snapping is for dragging; items placed from the model sit where the model says."""
    document, scene = canvas.document, canvas.scene
    document.push(MoveItems(document, {"c": (313, 207)}, text="Arrange"))
    assert (scene.nodes["c"].pos().x(), scene.nodes["c"].pos().y()) == (313, 207)
    document.push(AddItems(document, "note", notes=[StickyNote(id="n1", x=15, y=-182)]))
    note = document.note("n1")
    document.push(ChangeNote(document, note.model_copy(update={"text": "hello"}), "Edit"))
    assert (scene.notes["n1"].pos().x(), scene.notes["n1"].pos().y()) == (15, -182)
    document.undo_stack.undo()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert (scene.nodes["c"].pos().x(), scene.nodes["c"].pos().y()) == (300, 200)


def test_middle_drag_and_space_drag_pan_without_editing(qtbot: QtBot, canvas: Canvas) -> None:
    view, viewport = canvas.view, canvas.view.viewport()
    centre = viewport.rect().center()
    before = view.mapToScene(centre)
    middle = Qt.MouseButton.MiddleButton
    start = canvas.at(canvas.node_centre("a"))  # even when it starts on a card
    qtbot.mousePress(viewport, middle, pos=start)
    qtbot.mouseMove(viewport, start + QPoint(-50, -40))
    qtbot.mouseMove(viewport, start + QPoint(-100, -80))
    qtbot.mouseRelease(viewport, middle, pos=start + QPoint(-100, -80))
    after = view.mapToScene(centre)
    assert (after - before - QPointF(100, 80)).manhattanLength() <= 2
    view.setFocus()
    qtbot.keyPress(view, Qt.Key.Key_Space)
    start = canvas.at(canvas.node_centre("b"))
    qtbot.mousePress(viewport, LEFT, pos=start)
    qtbot.mouseMove(viewport, start + QPoint(30, 0))
    qtbot.mouseMove(viewport, start + QPoint(60, 0))
    qtbot.mouseRelease(viewport, LEFT, pos=start + QPoint(60, 0))
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert (view.mapToScene(centre) - after - QPointF(-60, 0)).manhattanLength() <= 2
    assert canvas.document.undo_stack.count() == 0
    assert view.dragMode() == view.DragMode.RubberBandDrag


def test_double_click_on_empty_canvas_asks_for_quick_add(qtbot: QtBot, canvas: Canvas) -> None:
    where = QPointF(460, 520)
    with qtbot.waitSignal(canvas.view.quick_add_requested, timeout=1000) as blocker:
        qtbot.mouseDClick(canvas.view.viewport(), LEFT, pos=canvas.at(where))
    assert (blocker.args[0] - where).manhattanLength() <= 2
    with qtbot.waitSignal(canvas.view.node_activated, timeout=1000) as blocker:
        qtbot.mouseDClick(canvas.view.viewport(), LEFT, pos=canvas.at(canvas.node_centre("c")))
    assert blocker.args == ["c"]
    assert canvas.document.undo_stack.count() == 0


def test_select_related_and_duplicate(canvas: Canvas) -> None:
    canvas.scene.select_only(["a"])
    canvas.editor.select_related(downstream=True)
    assert sorted(canvas.scene.selected_node_ids()) == ["a", "b"]
    canvas.scene.select_only(["b"])
    canvas.editor.select_related(downstream=False)
    assert sorted(canvas.scene.selected_node_ids()) == ["a", "b", "start"]
    canvas.scene.select_only(["a", "b"])
    canvas.editor.duplicate()
    assert sorted(canvas.scene.selected_node_ids()) == ["a_2", "b_2"]
    [copied] = [e for e in canvas.document.edges() if e.source == "a_2"]
    assert copied.target == "b_2"
    # The copy lands below the originals, in line with them, and below c, which was in the way.
    copy, c = canvas.document.placement("a_2"), canvas.document.placement("c")
    assert copy is not None and c is not None
    assert copy.x == 300 and copy.y > c.y


def test_auto_layout_is_one_step_and_then_already_arranged(canvas: Canvas) -> None:
    canvas.editor.auto_layout()
    assert canvas.document.undo_stack.count() == 1
    positions = {n: (p.x, p.y) for n in canvas.scene.nodes if (p := canvas.document.placement(n))}
    assert positions["start"][0] < positions["a"][0] < positions["b"][0]
    scene_matches = {n: (i.pos().x(), i.pos().y()) for n, i in canvas.scene.nodes.items()}
    assert scene_matches == positions
    canvas.editor.auto_layout()
    assert canvas.document.undo_stack.count() == 1
    canvas.scene.select_only(["c"])
    canvas.editor.auto_layout(selection_only=True)
    assert canvas.document.undo_stack.count() == 1
