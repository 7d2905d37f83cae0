"""Mapping run data into fields: completion from the last run's outputs, dragging a value from
the Run panel into the inspector, copying its full expression, and a node's input next to its
output. Each test runs a small flow for real (local `echo` commands, a real journal)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QClipboard, QDragEnterEvent, QDropEvent, QGuiApplication, QTextCursor
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from opsflow.flowfile import parse_flow
from opsflow.studio.document import FlowDocument
from opsflow.studio.inspector import Inspector
from opsflow.studio.inspector.expression import CodeEdit
from opsflow.studio.inspector.fields import CodeFieldEditor
from opsflow.studio.inspector.lists import LinesEditor
from opsflow.studio.mime import EXPRESSION_MIME, expression_from_mime, expression_mime_data
from opsflow.studio.run.panel import RunPanel
from opsflow.studio.run.session import RunSession
from tests.flowdocs import edge, flow_doc, node

RUN_TIMEOUT_MS = 15_000
DISKS = [{"mount": "/", "used": 91}, {"mount": "/var", "used": 40}]


def disk_flow() -> dict[str, Any]:
    """Measure (echo), collect facts, decide; the report after the decision is skipped."""
    return flow_doc(
        [
            node("start", "trigger.manual"),
            node("probe", "action.shell", command=["echo", "{{ inputs.host }}: 91%"]),
            node(
                "facts",
                "action.set_vars",
                values={
                    "host": "{{ inputs.host }}",
                    "line": "{{ nodes.probe.output.stdout }}",
                    "disks": DISKS,
                },
            ),
            node("check", "condition.if", condition="nodes.facts.output.disks[0].used > 95"),
            node("report", "action.shell", command=["echo", "full"]),
            node("elsewhere", "action.shell", command=["echo", "not upstream of check"]),
        ],
        [
            edge("start", "out", "probe"),
            edge("probe", "success", "facts"),
            edge("facts", "success", "check"),
            edge("check", "true", "report"),
            edge("start", "out", "elsewhere"),
        ],
        id="disk-flow",
        inputs={"host": {"type": "string", "default": "web-01"}},
    )


class Studio:
    """One flow's document, run session, Run panel and inspector, wired as a window wires them."""

    def __init__(self, qtbot: QtBot, journal: Path) -> None:
        self.document = FlowDocument(parse_flow(json.dumps(disk_flow())))
        self.session = RunSession(self.document, journal)
        self.panel = RunPanel(self.session)
        self.inspector = Inspector(self.document)
        self.inspector.read_run_values_from(self.session.run_values)
        for widget, size in ((self.panel, (1200, 420)), (self.inspector, (420, 900))):
            qtbot.addWidget(widget)
            widget.resize(*size)
            widget.show()
        with qtbot.waitSignal(self.session.run_ended, timeout=RUN_TIMEOUT_MS):
            self.session.run()
        assert self.session.view is not None and self.session.view.phase == "succeeded"


@pytest.fixture
def studio(qtbot: QtBot, tmp_path: Path) -> Iterator[Studio]:
    made = Studio(qtbot, tmp_path / "journal.sqlite")
    yield made
    made.session.shutdown()


@pytest.fixture
def clipboard() -> Iterator[QClipboard]:
    board = QGuiApplication.clipboard()
    board.setText("")
    yield board
    board.setText("")


def offered(edit: CodeEdit) -> list[tuple[str, str, str]]:
    """The popup's rows: (name, type, sample)."""
    assert edit.completer is not None
    model = edit.completer.completionModel()
    return [
        (model.index(r, 0).data(), model.index(r, 1).data(), model.index(r, 2).data())
        for r in range(model.rowCount())
    ]


def type_over(qtbot: QtBot, edit: CodeEdit, text: str, *, lines_before: str = "") -> None:
    """Replace the text with `lines_before` (set at once), then type `text` after it."""
    edit.setFocus()
    edit.setPlainText(lines_before)
    edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(edit, text)


def drop(widget: QWidget, at: QPoint, path: str) -> None:
    """Drop a dragged expression as Qt delivers it (QDrag.exec would block offscreen)."""
    data = expression_mime_data(path)
    enter = QDragEnterEvent(
        at, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(
        QPointF(at),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier(0),
    )
    QApplication.sendEvent(widget, event)


# -- completion ------------------------------------------------------------------------------


def test_nodes_dot_offers_only_the_upstream_nodes_with_their_last_output(
    qtbot: QtBot, studio: Studio
) -> None:
    studio.inspector.show_node("check")
    editor = studio.inspector.editor("params.condition")
    assert isinstance(editor, CodeFieldEditor)
    type_over(qtbot, editor.edit, "nodes.")
    assert offered(editor.edit) == [
        ("nodes.facts.output", "object", "{3 keys}"),
        ("nodes.probe.output", "object", "{6 keys}"),
        ("nodes.start.output", "null", "null"),
    ]


def test_output_keys_nested_keys_and_list_items_come_with_type_and_sample(
    qtbot: QtBot, studio: Studio
) -> None:
    studio.inspector.show_node("check")
    editor = studio.inspector.editor("params.condition")
    assert isinstance(editor, CodeFieldEditor)
    type_over(qtbot, editor.edit, "nodes.probe.output.")
    rows = offered(editor.edit)
    assert rows[:5] == [
        ("nodes.probe.output.exit_code", "integer", "0"),
        ("nodes.probe.output.stdout", "string", '"web-01: 91%\\n"'),
        ("nodes.probe.output.stderr", "string", '""'),
        ("nodes.probe.output.stdout_truncated", "boolean", "false"),
        ("nodes.probe.output.stderr_truncated", "boolean", "false"),
    ]
    assert len(rows) == 6 and rows[5][:2] == ("nodes.probe.output.duration_s", "number")
    assert float(rows[5][2]) >= 0
    assert editor.edit.completer is not None and editor.edit.completer.popup().isVisible()
    type_over(qtbot, editor.edit, "nodes.facts.output.disks[")
    assert offered(editor.edit) == [
        ("nodes.facts.output.disks[0]", "object", "{2 keys}"),
        ("nodes.facts.output.disks[1]", "object", "{2 keys}"),
    ]
    type_over(qtbot, editor.edit, "nodes.facts.output.disks[1].")
    assert offered(editor.edit) == [
        ("nodes.facts.output.disks[1].mount", "string", '"/var"'),
        ("nodes.facts.output.disks[1].used", "integer", "40"),
    ]
    editor.edit.completer.activated.emit("nodes.facts.output.disks[1].used")  # type: ignore[union-attr]
    assert editor.edit.toPlainText() == "nodes.facts.output.disks[1].used"
    assert studio.document.node("check").params["condition"] == editor.edit.toPlainText()


def test_a_node_that_is_not_upstream_offers_nothing_and_declared_keys_come_before_a_run(
    qtbot: QtBot, studio: Studio
) -> None:
    studio.inspector.show_node("check")
    editor = studio.inspector.editor("params.condition")
    assert isinstance(editor, CodeFieldEditor)
    type_over(qtbot, editor.edit, "nodes.elsewhere.output.")
    assert offered(editor.edit) == []
    assert not editor.edit.completer.popup().isVisible()  # type: ignore[union-attr]

    # A window with no run shown yet: action.shell declares its output's keys.
    studio.inspector.read_run_values_from(lambda: None)
    type_over(qtbot, editor.edit, "nodes.probe.output.std")
    assert offered(editor.edit) == [
        ("nodes.probe.output.stdout", "string", ""),
        ("nodes.probe.output.stderr", "string", ""),
        ("nodes.probe.output.stdout_truncated", "boolean", ""),
        ("nodes.probe.output.stderr_truncated", "boolean", ""),
    ]


def test_a_command_line_in_a_template_list_completes_inside_braces(
    qtbot: QtBot, studio: Studio
) -> None:
    studio.inspector.show_node("report")
    editor = studio.inspector.editor("params.command")
    assert isinstance(editor, LinesEditor)
    type_over(qtbot, editor.edit, "{{ nodes.facts.output.h", lines_before="echo\n")
    assert offered(editor.edit) == [("nodes.facts.output.host", "string", '"web-01"')]


# -- dragging a value into a field -----------------------------------------------------------


def test_dragging_an_output_row_gives_its_full_expression(studio: Studio) -> None:
    studio.panel.show_node("probe")
    tree = studio.panel.output_tree
    assert tree.expand_to(["stdout"])
    data = tree.model.mimeData([tree.view.currentIndex()])
    assert data.formats() == [EXPRESSION_MIME, "text/plain"]
    assert expression_from_mime(data) == data.text() == "nodes.probe.output.stdout"
    assert tree.model.flags(tree.view.currentIndex()) & Qt.ItemFlag.ItemIsDragEnabled
    # Rendered parameters are no expression's value: their rows do not drag.
    assert studio.panel.input_tree.expand_to(["command", 0])
    input_row = studio.panel.input_tree.view.currentIndex()
    assert not studio.panel.input_tree.model.flags(input_row) & Qt.ItemFlag.ItemIsDragEnabled


def test_a_drop_into_a_template_wraps_the_path_at_the_cursor_in_one_undo_step(
    qtbot: QtBot, studio: Studio
) -> None:
    studio.inspector.show_node("report")
    editor = studio.inspector.editor("params.command")
    assert isinstance(editor, LinesEditor)
    type_over(qtbot, editor.edit, "used: ", lines_before="echo\n")  # typing: steps of its own
    steps = studio.document.undo_stack.count()
    cursor = editor.edit.textCursor()
    cursor.setPosition(len("echo\nused: "))
    at = editor.edit.cursorRect(cursor).center()
    drop(editor.edit.viewport(), at, "nodes.facts.output.disks[0].used")
    assert editor.edit.toPlainText() == "echo\nused: {{ nodes.facts.output.disks[0].used }}"
    assert studio.document.node("report").params["command"] == [
        "echo",
        "used: {{ nodes.facts.output.disks[0].used }}",
    ]
    assert studio.document.undo_stack.count() == steps + 1
    studio.document.undo_stack.undo()
    assert studio.document.node("report").params["command"] == ["echo", "used: "]


def test_a_drop_into_a_condition_inserts_the_bare_path(qtbot: QtBot, studio: Studio) -> None:
    studio.inspector.show_node("check")
    editor = studio.inspector.editor("params.condition")
    assert isinstance(editor, CodeFieldEditor)
    type_over(qtbot, editor.edit, " > 90")
    cursor = editor.edit.textCursor()
    cursor.setPosition(0)
    drop(editor.edit.viewport(), editor.edit.cursorRect(cursor).center(), "nodes.probe.output")
    assert studio.document.node("check").params["condition"] == "nodes.probe.output > 90"


# -- copying ---------------------------------------------------------------------------------


def test_copy_path_copies_the_full_expression(
    qtbot: QtBot, studio: Studio, clipboard: QClipboard
) -> None:
    studio.panel.show_node("facts")
    tree = studio.panel.output_tree
    assert tree.expand_to(["disks", 1, "mount"])
    with qtbot.waitSignal(tree.path_copied) as copied:
        tree.copy_path()
    assert clipboard.text() == copied.args[0] == "nodes.facts.output.disks[1].mount"


# -- input next to output --------------------------------------------------------------------


def test_input_and_output_side_by_side_after_a_run(studio: Studio) -> None:
    panel = studio.panel
    panel.show_node("facts")
    assert panel.tabs.tabText(0) == "Input and output" and panel.tabs.currentIndex() == 0
    assert panel.input_tree.isVisible() and panel.output_tree.isVisible()
    assert panel.input_tree.x() < panel.output_tree.x()  # side by side, input first
    assert panel.input_tree.value() == {
        "values": {"host": "web-01", "line": "web-01: 91%\n", "disks": DISKS}
    }
    assert panel.output_tree.value() == {"host": "web-01", "line": "web-01: 91%\n", "disks": DISKS}
    assert panel.input_tree.caption.text() == "<b>Input</b> · as rendered"
    assert panel.output_tree.caption.text() == "<b>Output</b> · nodes.facts.output"

    # The report never started (the check said false): what it could have read instead.
    panel.show_node("report")
    assert panel.input_tree.caption.text() == "<b>Input</b> · what it could read"
    probe_output = panel.input_tree.value()["nodes"]["probe"]["output"]
    assert panel.input_tree.value() == {
        "trigger": None,
        "inputs": {"host": "web-01"},
        "nodes": {
            "start": {"output": None},
            "probe": {"output": probe_output},
            "facts": {"output": {"host": "web-01", "line": "web-01: 91%\n", "disks": DISKS}},
            "check": {"output": {"value": False}},
        },
    }
    assert probe_output["stdout"] == "web-01: 91%\n" and probe_output["exit_code"] == 0
    assert panel.output_tree.value() is None
    assert panel.output_tree.caption.text() == "<b>Output</b> · none"
    # Those rows are the context itself: they drag and copy as full expressions.
    assert panel.input_tree.expand_to(["nodes", "facts", "output", "host"])
    row = panel.input_tree.view.currentIndex()
    assert panel.input_tree.model.expression_of(row) == "nodes.facts.output.host"
    assert panel.input_tree.model.flags(row) & Qt.ItemFlag.ItemIsDragEnabled


def test_a_duration_under_a_millisecond_shows_in_the_node_title(studio: Studio) -> None:
    """`< 1 ms` in a rich-text label once read as the start of a tag and vanished."""
    view = studio.session.view
    assert view is not None
    view.nodes["start"].duration_s = 0.0001  # what a trigger takes; the clock decides otherwise
    studio.panel.show_node("start")
    assert studio.panel.node_title.text().endswith("· &lt; 1 ms")
