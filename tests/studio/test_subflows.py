"""Opening the flow a node runs (sub-flow, for-each body), and creating it when it is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from opsflow.flowfile import dump_flow, load_flow, save_flow
from opsflow.model.flow import Edge, Flow, Node
from opsflow.studio import mainwindow, subflows
from opsflow.studio.canvas import geometry
from opsflow.studio.mainwindow import MainWindow
from opsflow.validate import validate_flow

LEFT = Qt.MouseButton.LeftButton


def caller_flow() -> Flow:
    return Flow(
        id="caller",
        name="Patch all hosts",
        nodes=[
            Node(id="start", type="trigger.manual"),
            Node(
                id="drain",
                type="action.subflow",
                params={"flow": "steps/drain.flow.json", "inputs": {"host": "web1", "count": 3}},
            ),
            Node(
                id="each_host",
                type="control.foreach",
                params={
                    "items": "inputs.hosts",
                    "flow": "steps/patch-host.flow.json",
                    "inputs": {"host": "{{ item }}", "note": "host {{ index }}", "dry": True},
                },
            ),
            Node(
                id="dynamic",
                type="action.subflow",
                params={"flow": "{{ inputs.which }}"},
            ),
            Node(id="plain", type="action.shell", params={"command": ["true"]}),
        ],
        edges=[
            Edge.model_validate({"id": "e1", "from": "start", "port": "out", "to": "drain"}),
            Edge.model_validate(
                {"id": "e2", "from": "drain", "port": "success", "to": "each_host"}
            ),
        ],
        layout={
            "nodes": {
                "start": {"x": 0, "y": 0},
                "drain": {"x": 300, "y": 0},
                "each_host": {"x": 600, "y": 0},
                "dynamic": {"x": 300, "y": 200},
                "plain": {"x": 600, "y": 200},
            }
        },
    )


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    path = tmp_path / "caller.flow.json"
    save_flow(caller_flow(), path)
    window = MainWindow(load_flow(path), path, autosave_folder=tmp_path / "recovery")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    """Answer the next questions with `button`; the questions asked are returned."""
    asked: list[str] = []

    def question(*args: object, **kwargs: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return button

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def other_windows(window: MainWindow) -> list[MainWindow]:
    return [w for w in mainwindow.WINDOWS if w is not window]


def test_an_existing_sub_flow_opens_in_a_new_window(window: MainWindow, tmp_path: Path) -> None:
    body = tmp_path / "steps" / "drain.flow.json"
    body.parent.mkdir()
    save_flow(Flow(id="drain", nodes=[Node(id="start", type="trigger.manual")]), body)
    opened = subflows.open_for_node(window, "drain")
    assert opened is not None and opened is not window
    assert opened.document.path == body.resolve()
    assert window.document.path == tmp_path / "caller.flow.json"
    # Asking again brings the same window forward instead of opening a second one.
    assert subflows.open_for_node(window, "drain") is opened
    assert len(other_windows(window)) == 1


def test_double_click_on_the_node_opens_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    body = tmp_path / "steps" / "drain.flow.json"
    body.parent.mkdir()
    save_flow(Flow(id="drain", nodes=[Node(id="start", type="trigger.manual")]), body)
    window.view.set_zoom(1.0)
    item = window.scene.nodes["drain"]
    window.view.centerOn(item)
    where = window.view.mapFromScene(item.mapToScene(QPointF(geometry.NODE_WIDTH / 2, 20)))
    qtbot.mouseDClick(window.view.viewport(), LEFT, pos=where)
    assert [w.document.path for w in other_windows(window)] == [body.resolve()]


def test_a_missing_sub_flow_is_created_on_request_valid_and_canonical(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    opened = subflows.open_for_node(window, "drain")
    body = tmp_path / "steps" / "drain.flow.json"
    assert asked and "steps/drain.flow.json does not exist yet" in asked[0]
    assert body.is_file()
    assert opened is not None and opened.document.path == body.resolve()
    flow = load_flow(body)
    assert body.read_text(encoding="utf-8") == dump_flow(flow)  # canonical
    assert flow.id == "drain" and flow.name == "Drain"
    assert [n.type for n in flow.nodes] == ["trigger.manual"]
    assert {name: spec.type for name, spec in flow.inputs.items()} == {
        "host": "string",
        "count": "integer",
    }
    assert [d for d in validate_flow(flow) if d.severity == "error"] == []
    # The caller now validates without "does not exist".
    found = validate_flow(window.document.flow(), flow_path=window.document.path)
    assert [d.format() for d in found if d.node == "drain"] == []


def test_a_missing_for_each_body_is_created_with_its_inputs(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    subflows.open_for_node(window, "each_host")
    flow = load_flow(tmp_path / "steps" / "patch-host.flow.json")
    assert flow.description == "For-each body run by node 'each_host' of Patch all hosts."
    inputs = flow.inputs
    assert (inputs["host"].type, inputs["note"].type, inputs["dry"].type) == (
        "string",
        "string",
        "boolean",
    )
    assert "if that is not text, change the type" in inputs["host"].description


def test_saying_no_creates_nothing(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, QMessageBox.StandardButton.No)
    assert subflows.open_for_node(window, "drain") is None
    assert not (tmp_path / "steps").exists()
    assert other_windows(window) == []


def test_what_cannot_be_opened_is_said_in_the_status_bar(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    assert subflows.open_for_node(window, "dynamic") is None
    assert "chooses its flow when it runs" in window.statusBar().currentMessage()
    assert subflows.open_for_node(window, "plain") is None  # not a calling node
    window.document.path = None  # an unsaved flow has no folder to look in
    assert subflows.open_for_node(window, "drain") is None
    assert window.statusBar().currentMessage().startswith("Save this flow first")
    assert other_windows(window) == []


def test_open_selected_needs_one_calling_node(window: MainWindow, tmp_path: Path) -> None:
    window.scene.select_only(["plain"])
    assert subflows.open_selected(window) is None
    assert "Select one Run sub-flow or For each node" in window.statusBar().currentMessage()
    body = tmp_path / "steps" / "patch-host.flow.json"
    body.parent.mkdir()
    save_flow(Flow(id="body", nodes=[Node(id="start", type="trigger.manual")]), body)
    window.scene.select_only(["each_host", "plain"])
    opened = subflows.open_selected(window)
    assert opened is not None and opened.document.path == body.resolve()


def test_the_node_menu_names_the_file(window: MainWindow) -> None:
    menu = QMenu()
    subflows.add_node_action(menu, window, "each_host")
    subflows.add_node_action(menu, window, "drain")
    subflows.add_node_action(menu, window, "plain")
    assert [a.text() for a in menu.actions()] == [
        "Open for-each body (steps/patch-host.flow.json)",
        "Open sub-flow (steps/drain.flow.json)",
    ]


def test_starter_flow_ids_come_from_the_file_name(tmp_path: Path) -> None:
    node = Node(id="call", type="action.subflow", params={"flow": "x.flow.json"})
    flow = subflows.starter_flow(tmp_path / "Clean up_old logs!.flow.json", caller_flow(), node)
    assert flow.id == "Clean-up_old-logs"
    assert flow.name == "Clean up old logs!"
    assert json.loads(dump_flow(flow))["layout"] == {"nodes": {"start": {"x": 0, "y": 0}}}
