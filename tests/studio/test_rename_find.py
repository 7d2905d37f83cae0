"""Renaming a node from the keyboard (F2, the id field, the context menu) and finding nodes
with the find bar (Ctrl+F, Enter, Shift+Enter, Esc), in a real window."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from opsflow.model.flow import Flow, NodeGroup
from opsflow.studio.commands import ChangeNode
from opsflow.studio.mainwindow import MainWindow

SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def sample() -> Flow:
    return Flow.model_validate(
        {
            "id": "rename-find",
            "outputs": {"status": "{{ nodes.http.output.status }}"},
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "http",
                    "type": "action.http",
                    "title": "Check health",
                    "params": {"url": "https://web01.example.com/health"},
                },
                {
                    "id": "if",
                    "type": "condition.if",
                    "params": {"condition": "nodes.http.output.status != 200"},
                },
                {
                    "id": "notify",
                    "type": "action.shell",
                    "title": "Page the on-call",
                    "params": {"command": ["page", "{{ nodes['http'].output.status }}", "http"]},
                },
            ],
            "edges": [
                {"id": "e1", "from": "start", "port": "out", "to": "http"},
                {"id": "e2", "from": "http", "port": "success", "to": "if"},
                {"id": "e3", "from": "if", "port": "true", "to": "notify"},
            ],
            "layout": {
                "nodes": {
                    "start": {"x": 0, "y": 0},
                    "http": {"x": 900, "y": 600},
                    "if": {"x": 1800, "y": -400},
                    "notify": {"x": 2700, "y": 900},
                }
            },
        }
    )


def shown(qtbot: QtBot) -> MainWindow:
    window = MainWindow(sample())
    window.show()
    qtbot.waitExposed(window)
    window.view.set_zoom(1.0)
    window.view.centerOn(QPointF(0, 0))
    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(window.view.hasFocus)
    return window


def select(qtbot: QtBot, window: MainWindow, node_id: str) -> None:
    window.scene.select_only([node_id])
    window.view.setFocus()
    qtbot.waitUntil(lambda: window.inspector.node_id == node_id)


def node_centre(window: MainWindow, node_id: str) -> QPointF:
    return window.scene.nodes[node_id].sceneBoundingRect().center()


def centred_on(window: MainWindow, node_id: str) -> bool:
    """The node's centre is at the viewport's centre, to the pixel (the view rounds)."""
    at = window.view.mapFromScene(node_centre(window, node_id))
    offset = at - window.view.viewport().rect().center()
    return abs(offset.x()) <= 1 and abs(offset.y()) <= 1


def test_f2_renames_with_the_keyboard_in_one_undo_step_that_gives_back_the_bytes(
    qtbot: QtBot,
) -> None:
    window = shown(qtbot)
    doc = window.document
    original = doc.text()
    select(qtbot, window, "http")

    qtbot.keyClick(window.view, Qt.Key.Key_F2)
    field = window.inspector.id_field
    assert field is not None
    assert QApplication.focusWidget() is field.edit
    assert field.edit.selectedText() == "http"
    qtbot.keyClicks(field.edit, "fetch")
    assert field.message.text() == "Expressions read it as nodes.fetch.output"
    qtbot.keyClick(field.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: doc.has_node("fetch"))

    assert not doc.has_node("http")
    assert doc.node("if").params == {"condition": "nodes.fetch.output.status != 200"}
    assert doc.node("notify").params["command"] == [
        "page",
        "{{ nodes['fetch'].output.status }}",
        "http",
    ]
    assert doc.header.outputs == {"status": "{{ nodes.fetch.output.status }}"}
    assert sorted((e.id, e.source, e.target) for e in doc.edges()) == [
        ("e1", "start", "fetch"),
        ("e2", "fetch", "if"),
        ("e3", "if", "notify"),
    ]
    assert doc.placement("fetch") is not None and doc.placement("http") is None
    assert window.statusBar().currentMessage() == (
        "Renamed http to fetch: 3 references in 2 nodes and the flow's outputs updated."
    )
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Rename http to fetch"
    # The renamed node stays selected, and its id field lists what the rename rewrote.
    assert window.scene.selected_node_ids() == ["fetch"]
    qtbot.waitUntil(lambda: window.inspector.node_id == "fetch")
    field = window.inspector.id_field
    assert field is not None and field.edit.text() == "fetch"
    assert field.summary.isVisible()
    assert field.summary.text() == (
        "Renamed http to fetch: 3 references in 2 nodes and the flow's outputs updated.\n"
        "• if · params.condition\n"
        "• notify · params.command[1]\n"
        "• outputs.status"
    )
    renamed = doc.text()

    doc.undo_stack.undo()
    assert doc.text() == original
    assert window.scene.selected_node_ids() == ["http"]
    doc.undo_stack.redo()
    assert doc.text() == renamed
    assert window.scene.selected_node_ids() == ["fetch"]


def test_refused_ids_are_explained_under_the_field_and_change_nothing(qtbot: QtBot) -> None:
    window = shown(qtbot)
    doc = window.document
    original = doc.text()
    select(qtbot, window, "http")
    qtbot.keyClick(window.view, Qt.Key.Key_F2)
    field = window.inspector.id_field
    assert field is not None

    qtbot.keyClicks(field.edit, "if")
    assert field.problem() == "There is already a node 'if'; choose another id."
    qtbot.keyClick(field.edit, Qt.Key.Key_Return)
    assert field.problem() == "There is already a node 'if'; choose another id."

    field.edit.selectAll()
    qtbot.keyClicks(field.edit, "Fetch-Status")
    qtbot.keyClick(field.edit, Qt.Key.Key_Return)
    assert field.problem() == (
        "'Fetch-Status' cannot be a node id: use lower-case letters, digits and underscores, "
        "starting with a letter or underscore, at most 64 characters (e.g. fetch_status)."
    )
    assert field.message.isVisible()

    qtbot.keyClick(field.edit, Qt.Key.Key_Escape)
    assert field.edit.text() == "http"
    assert field.problem() == ""
    qtbot.keyClick(field.edit, Qt.Key.Key_Return)  # the same id: nothing to do
    qtbot.wait(10)
    assert doc.text() == original
    assert doc.undo_stack.count() == 0


def test_a_reference_that_cannot_be_rewritten_refuses_with_the_place(qtbot: QtBot) -> None:
    window = shown(qtbot)
    doc = window.document
    node = doc.node("notify")
    params = {"command": ["page", "{{ nodes['ht' 'tp'].output }}"]}
    doc.replace_flow(
        doc.flow().model_copy(
            update={
                "nodes": [
                    n.model_copy(update={"params": params}) if n.id == "notify" else n
                    for n in doc.flow().nodes
                ]
            }
        ),
        None,
    )
    assert doc.node("notify") != node
    original = doc.text()
    select(qtbot, window, "http")
    qtbot.keyClick(window.view, Qt.Key.Key_F2)
    field = window.inspector.id_field
    assert field is not None
    qtbot.keyClicks(field.edit, "fetch")
    qtbot.keyClick(field.edit, Qt.Key.Key_Return)
    assert field.problem() == (
        "Cannot rename node 'http': node 'notify', params.command[1] refers to nodes.http in a "
        "way that cannot be rewritten automatically; write it as nodes.http.output…, then "
        "rename again."
    )
    qtbot.wait(10)
    assert doc.text() == original


def test_the_node_context_menu_and_f2_without_one_node_selected(qtbot: QtBot) -> None:
    window = shown(qtbot)
    window.view.context_menu_requested.emit("if", QPoint(100, 100))
    menus = [m for m in window.findChildren(QMenu) if m.isVisible()]
    assert len(menus) == 1
    rename = next(a for a in menus[0].actions() if a.text() == "Rena&me node…")
    menus[0].close()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    rename.trigger()
    field = window.inspector.id_field
    assert field is not None and field.node_id == "if"
    assert QApplication.focusWidget() is field.edit

    window.scene.select_only(["if", "notify"])
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F2)
    assert window.statusBar().currentMessage() == "Select one node to rename it."


def test_ctrl_f_finds_and_enter_cycles_through_matches_centring_each(qtbot: QtBot) -> None:
    window = shown(qtbot)
    doc = window.document
    original = doc.text()
    bar = window.find_bar
    assert not bar.isVisible()

    qtbot.keyClick(window.view, Qt.Key.Key_F, CTRL)
    assert bar.isVisible()
    assert QApplication.focusWidget() is bar.edit
    assert not centred_on(window, "http")
    qtbot.keyClicks(bar.edit, "HTTP")
    # Reading order: http (x 900), if (x 1800, its condition), notify (x 2700, a parameter).
    assert [m.node for m in bar.matches] == ["http", "if", "notify"]
    assert bar.count.text() == "1 of 3"
    assert window.scene.selected_node_ids() == ["http"]
    assert centred_on(window, "http")

    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert bar.count.text() == "2 of 3"
    assert bar.count.toolTip() == "if: found in params.condition"
    assert window.scene.selected_node_ids() == ["if"]
    assert centred_on(window, "if")
    qtbot.keyClick(bar.edit, Qt.Key.Key_Enter)
    assert window.scene.selected_node_ids() == ["notify"]
    assert centred_on(window, "notify")
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)  # round the end
    assert bar.count.text() == "1 of 3"
    assert window.scene.selected_node_ids() == ["http"]
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return, SHIFT)  # and back
    assert bar.count.text() == "3 of 3"
    assert centred_on(window, "notify")

    # Refining the query keeps the current match when it still matches.
    qtbot.keyClick(bar.edit, Qt.Key.Key_End)
    qtbot.keyClick(bar.edit, Qt.Key.Key_Backspace)
    assert bar.edit.text() == "HTT"
    assert bar.count.text() == "3 of 3"
    bar.edit.selectAll()
    qtbot.keyClicks(bar.edit, "page the")
    assert bar.count.text() == "1 of 1"
    assert window.scene.selected_node_ids() == ["notify"]
    bar.edit.selectAll()
    qtbot.keyClicks(bar.edit, "no such node")
    assert bar.count.text() == "No matches"
    assert window.scene.selected_node_ids() == ["notify"]  # nothing to go to: left as it was

    qtbot.keyClick(bar.edit, Qt.Key.Key_Escape)
    assert not bar.isVisible()
    assert QApplication.focusWidget() is window.view
    # Finding moved the view and the selection, nothing else: no undo step, same bytes.
    assert doc.undo_stack.count() == 0
    assert doc.text() == original


def test_the_find_bar_follows_edits_and_f3_reopens_it(qtbot: QtBot) -> None:
    window = shown(qtbot)
    bar = window.find_bar
    qtbot.keyClick(window.view, Qt.Key.Key_F, CTRL)
    qtbot.keyClicks(bar.edit, "fetch")
    assert bar.count.text() == "No matches"
    assert window.inspector.renamer.rename("http", "fetch") == ""
    # The rename wrote "fetch" into three nodes; the view stays put until asked to move.
    qtbot.waitUntil(lambda: bar.count.text() == "3 matches")
    assert [m.node for m in bar.matches] == ["fetch", "if", "notify"]
    window.scene.clearSelection()
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert bar.count.text() == "1 of 3"
    assert window.scene.selected_node_ids() == ["fetch"]

    # Deleting the current match: the count follows, and the next step starts over.
    window.editor.delete_selection()
    qtbot.waitUntil(lambda: bar.count.text() == "2 matches")

    qtbot.keyClick(bar.edit, Qt.Key.Key_Escape)
    qtbot.keyClick(window.view, Qt.Key.Key_F3)
    assert bar.isVisible()
    assert bar.count.text() == "1 of 2"
    assert window.scene.selected_node_ids() == ["if"]
    qtbot.keyClick(window.view, Qt.Key.Key_F3, SHIFT)
    assert bar.count.text() == "2 of 2"
    assert window.scene.selected_node_ids() == ["notify"]
    bar.edit.clear()  # as the clear button does
    assert (bar.matches, bar.count.text()) == ([], "")


def test_a_prepared_rename_applied_after_another_edit_is_made_again(qtbot: QtBot) -> None:
    window = shown(qtbot)
    doc = window.document
    grouped = doc.flow().model_copy(
        update={"layout": doc.flow().layout.model_copy(update={"groups": [group()]})}
    )
    doc.replace_flow(grouped, None)
    original = doc.text()
    renamer = window.inspector.renamer
    prepared = renamer.prepare("http", "fetch")
    assert not isinstance(prepared, str)
    # Meanwhile another edit writes one more reference to the node.
    node = doc.node("if")
    doc.push(
        ChangeNode(
            doc,
            node.model_copy(update={"params": {"condition": "nodes.http.output.ok"}}),
            "Change condition",
        )
    )
    edited = doc.text()
    renamer.apply_prepared(prepared)

    assert doc.node("if").params == {"condition": "nodes.fetch.output.ok"}
    assert doc.group("g1").nodes == ["fetch", "if"]
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert doc.text() == edited
    assert doc.group("g1").nodes == ["http", "if"]
    doc.undo_stack.undo()
    assert doc.text() == original


def group() -> NodeGroup:
    return NodeGroup(id="g1", title="Check", nodes=["http", "if"])


def test_a_match_inside_a_collapsed_group_shows_the_group_card(qtbot: QtBot) -> None:
    window = shown(qtbot)
    doc = window.document
    collapsed = NodeGroup(id="g1", title="Check", nodes=["http", "if"], collapsed=True)
    flow = doc.flow()
    doc.replace_flow(
        flow.model_copy(update={"layout": flow.layout.model_copy(update={"groups": [collapsed]})}),
        None,
    )
    frame = window.scene.groups.items["g1"]
    assert not window.scene.nodes["if"].isVisible()
    qtbot.keyClick(window.view, Qt.Key.Key_F, CTRL)
    qtbot.keyClicks(window.find_bar.edit, "status != 200")
    assert window.find_bar.count.text() == "1 of 1"
    assert window.find_bar.count.toolTip() == (
        "if: found in params.condition (inside the collapsed group 'Check')"
    )
    assert window.scene.selectedItems() == [frame]
    at = window.view.mapFromScene(frame.sceneBoundingRect().center())
    offset = at - window.view.viewport().rect().center()
    assert abs(offset.x()) <= 1 and abs(offset.y()) <= 1
    assert doc.group("g1").collapsed  # shown, not expanded: finding edits nothing
    assert doc.undo_stack.count() == 0
