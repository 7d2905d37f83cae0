"""Where new things land: pastes at the cursor or beside the selection, the next node after
the selected one (Tab), sticky notes in free space; never on top of a card."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QCursor, QGuiApplication, QKeySequence
from pytestqt.qtbot import QtBot

from opsflow.model.flow import Edge, Flow, Node
from opsflow.studio.canvas import geometry
from opsflow.studio.mainwindow import MainWindow


def three_nodes() -> Flow:
    """start -> check -> notify in a row, with `other` just below `check`'s right."""
    return Flow(
        id="three",
        nodes=[
            Node(id="start", type="trigger.manual"),
            Node(id="check", type="action.shell"),
            Node(id="notify", type="action.chat"),
            Node(id="other", type="action.http"),
        ],
        edges=[
            Edge.model_validate({"id": "e1", "from": "start", "port": "out", "to": "check"}),
            Edge.model_validate({"id": "e2", "from": "check", "port": "success", "to": "notify"}),
        ],
        layout={
            "nodes": {
                "start": {"x": 0, "y": 0},
                "check": {"x": 280, "y": 0},
                "notify": {"x": 560, "y": 0},
                "other": {"x": 560, "y": 120},
            }
        },
    )


def shown(qtbot: QtBot, flow: Flow) -> MainWindow:
    window = MainWindow(flow)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(10)  # the first view
    window.view.set_zoom(1.0)
    window.view.centerOn(QPointF(500, 200))
    window.activateWindow()
    window.view.setFocus()
    return window


def card(window: MainWindow, item_id: str) -> QRectF:
    """The card of a node or a note in scene coordinates."""
    if item_id in window.scene.nodes:
        item = window.scene.nodes[item_id]
        return item.mapToScene(item.card_rect()).boundingRect()
    return window.scene.notes[item_id].sceneBoundingRect()


def overlaps(window: MainWindow, item_id: str) -> list[str]:
    """The other cards (nodes and notes) that `item_id`'s card touches."""
    mine = card(window, item_id)
    others = [*window.scene.nodes, *window.scene.notes]
    return [other for other in others if other != item_id and card(window, other).intersects(mine)]


def point_at(window: MainWindow, scene_point: QPointF) -> None:
    """Put the mouse pointer over the canvas at `scene_point`."""
    QCursor.setPos(window.view.viewport().mapToGlobal(window.view.mapFromScene(scene_point)))


def copy_node(window: MainWindow, node_id: str) -> None:
    window.scene.select_only([node_id])
    window.actions_by_name["copy"].trigger()


def pasted(window: MainWindow, before: set[str]) -> list[str]:
    return sorted(set(window.scene.nodes) - before)


def test_paste_lands_at_the_cursor(qtbot: QtBot) -> None:
    window = shown(qtbot, three_nodes())
    copy_node(window, "check")
    target = QPointF(300, 330)  # empty canvas, in view
    point_at(window, target)
    before = set(window.scene.nodes)
    window.actions_by_name["paste"].trigger()
    [new] = pasted(window, before)
    assert card(window, new).contains(target)
    assert overlaps(window, new) == []


def test_paste_at_a_cursor_over_a_card_lands_beside_it(qtbot: QtBot) -> None:
    window = shown(qtbot, three_nodes())
    copy_node(window, "start")
    point_at(window, card(window, "check").center())
    before = set(window.scene.nodes)
    window.actions_by_name["paste"].trigger()
    [new] = pasted(window, before)
    assert overlaps(window, new) == []
    distance = card(window, new).center() - card(window, "check").center()
    assert distance.manhattanLength() < 400  # near where it was asked for


def test_paste_without_the_cursor_on_the_canvas_lands_next_to_the_selection(
    qtbot: QtBot,
) -> None:
    window = shown(qtbot, three_nodes())
    copy_node(window, "check")
    QCursor.setPos(window.mapToGlobal(QPoint(5, 5)))  # on the menu bar, say
    for _ in range(3):  # each copy beside the last, none on another
        before = set(window.scene.nodes)
        window.actions_by_name["paste"].trigger()
        [new] = pasted(window, before)
        assert overlaps(window, new) == []
        assert window.scene.selected_node_ids() == [new]
    copies = [n for n in window.scene.nodes if n.startswith("check_")]
    assert len(copies) == 3
    for copy in copies:
        distance = card(window, copy).center() - card(window, "check").center()
        assert distance.manhattanLength() < 800


def test_duplicate_puts_the_copy_next_to_the_original_without_overlap(qtbot: QtBot) -> None:
    window = shown(qtbot, three_nodes())
    window.scene.select_only(["check", "notify"])
    window.actions_by_name["duplicate"].trigger()
    assert sorted(window.scene.selected_node_ids()) == ["check_2", "notify_2"]
    for copy in ("check_2", "notify_2"):
        assert overlaps(window, copy) == []
    [wire] = [e for e in window.document.edges() if e.source == "check_2"]
    assert wire.target == "notify_2"


def test_tab_with_a_node_selected_adds_the_next_node_connected_after_it(qtbot: QtBot) -> None:
    window = shown(qtbot, three_nodes())
    window.scene.select_only(["notify"])
    qtbot.keyClick(window.view, Qt.Key.Key_Tab)
    assert window.quick_add.isVisible()
    qtbot.keyClicks(window.quick_add.search_edit, "ssh")
    qtbot.keyClick(window.quick_add.search_edit, Qt.Key.Key_Return)
    [added] = [n.id for n in window.document.nodes() if n.type == "action.ssh"]
    [wire] = [e for e in window.document.edges() if e.target == added]
    assert (wire.source, wire.port) == ("notify", "success")
    assert card(window, added).left() > card(window, "notify").right()  # after it, to the right
    assert overlaps(window, added) == []
    assert window.scene.selected_node_ids() == [added]
    assert window.document.undo_stack.count() == 1  # node and wire: one step


def test_tab_again_keeps_going_down_the_chain(qtbot: QtBot) -> None:
    window = shown(qtbot, three_nodes())
    window.scene.select_only(["other"])
    for word in ("wait", "chat"):
        qtbot.keyClick(window.view, Qt.Key.Key_Tab)
        qtbot.keyClicks(window.quick_add.search_edit, word)
        qtbot.keyClick(window.quick_add.search_edit, Qt.Key.Key_Return)
    chain = {(e.source, e.target) for e in window.document.edges()}
    assert ("other", "wait") in chain and ("wait", "chat") in chain


def test_tab_with_nothing_selected_adds_an_unconnected_node(qtbot: QtBot) -> None:
    window = shown(qtbot, three_nodes())
    window.scene.clearSelection()
    qtbot.keyClick(window.view, Qt.Key.Key_Tab)
    qtbot.keyClicks(window.quick_add.search_edit, "ssh")
    qtbot.keyClick(window.quick_add.search_edit, Qt.Key.Key_Return)
    assert len(list(window.document.edges())) == 2


def test_sticky_notes_land_in_free_space(qtbot: QtBot) -> None:
    window = shown(qtbot, three_nodes())
    window.view.centerOn(card(window, "check").center())  # the view's centre is on a card
    notes = []
    for _ in range(3):
        window.actions_by_name["note"].trigger()
        notes.append(sorted(window.scene.notes)[-1])
    assert len(set(notes)) == 3
    for note in notes:
        assert overlaps(window, note) == []
        model = window.document.note(note)
        assert (geometry.snap(model.x), geometry.snap(model.y)) == (model.x, model.y)


def test_ctrl_y_redoes(qtbot: QtBot) -> None:
    window = shown(qtbot, three_nodes())
    window.editor.set_disabled(["check"])
    window.actions_by_name["undo"].trigger()
    assert not window.document.node("check").disabled
    redo = window.actions_by_name["redo"]
    assert QKeySequence("Ctrl+Y") in redo.shortcuts()
    assert QKeySequence("Ctrl+Shift+Z") in redo.shortcuts()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is not None)
    qtbot.keyClick(window.view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert window.document.node("check").disabled
