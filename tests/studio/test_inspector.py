"""The inspector panel, driven through its real widgets: edits become undoable model changes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QTableWidget
from pytestqt.qtbot import QtBot

from opsflow.catalog import default_catalog
from opsflow.credentials import Credential, save
from opsflow.flowfile import load_flow
from opsflow.model.flow import Flow, Node
from opsflow.studio.document import FlowDocument
from opsflow.studio.inspector import Inspector
from opsflow.studio.inspector.approval_form import FormEditor
from opsflow.studio.inspector.credential import CredentialEditor
from opsflow.studio.inspector.cron import CronEditor
from opsflow.studio.inspector.fields import (
    BoolEditor,
    ChoiceEditor,
    CodeFieldEditor,
    JsonEditor,
    NumberLineEditor,
)
from opsflow.studio.inspector.lists import KeyValueEditor, LinesEditor

SAMPLES = Path(__file__).resolve().parents[2] / "sample_flows"
SAMPLE_FILES = sorted(SAMPLES.glob("*.flow.json"))

Make = Callable[[str], tuple[FlowDocument, Inspector]]


@pytest.fixture
def make(qtbot: QtBot) -> Iterator[Make]:
    """Open a sample flow in a document and show an inspector on it; undo all at the end."""
    opened: list[tuple[FlowDocument, str]] = []

    def _make(name: str) -> tuple[FlowDocument, Inspector]:
        document = FlowDocument(load_flow(SAMPLES / name))
        inspector = Inspector(document)
        qtbot.addWidget(inspector)
        inspector.resize(420, 900)
        opened.append((document, document.text()))
        return document, inspector

    yield _make
    for document, original in opened:
        while document.undo_stack.canUndo():
            document.undo_stack.undo()
        assert document.text() == original


@pytest.fixture
def credential_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Config in tmp_path and a real PlaintextKeyring there, as in the credential tests."""
    for key in list(os.environ):
        if key.startswith("OPSFLOW_CRED") or key == "PYTHON_KEYRING_BACKEND":
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield tmp_path
    finally:
        keyring.set_keyring(previous)


def replace_text(qtbot: QtBot, editor: CodeFieldEditor, text: str) -> None:
    editor.edit.setFocus()
    editor.edit.selectAll()
    qtbot.keyClick(editor.edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(editor.edit, text)


def edit_cell(qtbot: QtBot, table: QTableWidget, row: int, column: int, text: str) -> None:
    """Open the cell's editor with F2 as a user would, type over it and press Enter."""
    table.setFocus()
    table.setCurrentCell(row, column)
    qtbot.keyClick(table, Qt.Key.Key_F2)
    cell = table.indexWidget(table.model().index(row, column))
    assert isinstance(cell, QLineEdit)
    cell.selectAll()
    qtbot.keyClicks(cell, text)
    qtbot.keyClick(cell, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: table.state() != QTableWidget.State.EditingState, timeout=1000)


def test_editing_the_url_is_one_undo_step(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show_node("take_snapshot")
    original = document.node("take_snapshot")
    editor = inspector.editor("params.url")
    assert isinstance(editor, CodeFieldEditor)
    before = document.undo_stack.count()

    replace_text(qtbot, editor, "https://hv.example.com/vms/{{ inputs.vm_id }}")
    qtbot.keyClick(editor.edit, Qt.Key.Key_Return)

    assert document.node("take_snapshot").params["url"] == (
        "https://hv.example.com/vms/{{ inputs.vm_id }}"
    )
    assert document.undo_stack.count() == before + 1
    document.undo_stack.undo()
    assert document.node("take_snapshot") is original
    assert editor.edit.toPlainText() == original.params["url"]
    assert not inspector.rows["params.url"].message.isVisible()


def test_undo_and_redo_refresh_the_widget(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show_node("take_snapshot")
    title = inspector.editor("title")
    assert title is not None
    line = title.focus_target()
    assert isinstance(line, QLineEdit)
    line.selectAll()
    qtbot.keyClicks(line, "Snapshot")
    assert document.node("take_snapshot").title == "Snapshot"
    document.undo_stack.undo()
    assert line.text() == "Snapshot the VM"
    document.undo_stack.redo()
    assert line.text() == "Snapshot"


def test_toggling_a_bool_stores_it_and_back_to_default_drops_the_key(
    make: Make, qtbot: QtBot
) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show_node("take_snapshot")
    editor = inspector.editor("params.verify_tls")
    assert isinstance(editor, BoolEditor)
    qtbot.mouseClick(editor.box, Qt.MouseButton.LeftButton)
    assert document.node("take_snapshot").params["verify_tls"] is False
    qtbot.mouseClick(editor.box, Qt.MouseButton.LeftButton)
    assert "verify_tls" not in document.node("take_snapshot").params


def test_changing_an_enum(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show_node("take_snapshot")
    editor = inspector.editor("params.method")
    assert isinstance(editor, ChoiceEditor)
    assert editor.combo.currentText() == "POST"
    qtbot.keyClick(editor.combo, Qt.Key.Key_Down)
    assert document.node("take_snapshot").params["method"] == "PUT"
    qtbot.keyClick(editor.combo, Qt.Key.Key_Home)
    assert "method" not in document.node("take_snapshot").params  # GET is the default


def test_editing_a_header_in_the_key_value_table(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("tls-certificate-expiry.flow.json")
    inspector.show()
    inspector.show_node("fetch_endpoints")
    editor = inspector.editor("params.headers")
    assert isinstance(editor, KeyValueEditor)
    headers = document.node("fetch_endpoints").params["headers"]
    name = next(iter(headers))
    table = editor.table
    edit_cell(qtbot, table, 0, 1, "text/csv")
    assert document.node("fetch_endpoints").params["headers"][name] == "text/csv"

    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    row = table.rowCount() - 1
    assert table.state() == QTableWidget.State.EditingState  # Add opens the new name cell
    cell = table.indexWidget(table.model().index(row, 0))
    assert isinstance(cell, QLineEdit)
    qtbot.keyClicks(cell, "X-Trace")
    qtbot.keyClick(cell, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: table.item(row, 0).text() == "X-Trace", timeout=1000)
    assert document.node("fetch_endpoints").params["headers"]["X-Trace"] == ""
    edit_cell(qtbot, table, row, 1, "{{ run.id }}")
    assert document.node("fetch_endpoints").params["headers"]["X-Trace"] == "{{ run.id }}"

    table.selectRow(row)
    qtbot.mouseClick(editor.remove_button, Qt.MouseButton.LeftButton)
    assert "X-Trace" not in document.node("fetch_endpoints").params["headers"]


def test_an_invalid_template_shows_the_parse_error_as_you_type(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show()
    inspector.show_node("take_snapshot")
    editor = inspector.editor("params.url")
    assert isinstance(editor, CodeFieldEditor)
    replace_text(qtbot, editor, "https://x.example.com/{{ nodes.")
    row = inspector.rows["params.url"]
    assert row.message.isVisible()
    assert "syntax error" in row.message.text()
    assert editor.edit.property("invalid") is True
    # the text is a string, so it is kept (the problems panel reports it too)
    assert document.node("take_snapshot").params["url"].endswith("{{ nodes.")
    qtbot.keyClicks(editor.edit, "nope.output }}")
    assert "no node 'nope'" in row.message.text()
    for _ in "nope.output }}":
        qtbot.keyClick(editor.edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(editor.edit, "change_approval.output }}")
    assert not row.message.isVisible()


def test_an_expression_offers_upstream_nodes_and_inputs(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show()
    inspector.show_node("needs_reboot")
    editor = inspector.editor("params.condition")
    assert isinstance(editor, CodeFieldEditor) and editor.edit.completer is not None
    replace_text(qtbot, editor, "nodes.che")
    completer = editor.edit.completer
    offered = [
        completer.completionModel().index(i, 0).data() for i in range(completer.completionCount())
    ]
    assert offered == ["nodes.check_reboot.output"]
    completer.activated.emit("nodes.check_reboot.output")
    assert editor.edit.toPlainText() == "nodes.check_reboot.output"
    replace_text(qtbot, editor, "inputs.h")
    assert completer.currentCompletion() == "inputs.host"
    assert document.node("needs_reboot").params["condition"] == "inputs.h"


def test_cron_shows_the_next_fire_times_or_the_error(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show()
    inspector.show_node("window_opens")
    editor = inspector.editor("params.cron")
    assert isinstance(editor, CronEditor)
    editor.edit.selectAll()
    qtbot.keyClicks(editor.edit, "30 6 * * *")
    assert document.node("window_opens").params["cron"] == "30 6 * * *"
    assert editor.preview.text().startswith("Next runs")
    assert editor.preview.text().count("06:30") == 3
    qtbot.keyClicks(editor.edit, " *")
    row = inspector.rows["params.cron"]
    assert "has 6 fields" in row.message.text()
    assert editor.preview.text() == ""


def test_the_credential_picker_lists_flow_and_stored_credentials(
    credential_home: Path, make: Make, qtbot: QtBot
) -> None:
    save(Credential("lab-token", "token", {"token": "not-a-real-one"}))
    save(Credential("lab-ssh-login", "basic", {"username": "u", "password": "p"}))
    document, inspector = make("patch-window.flow.json")
    inspector.show_node("take_snapshot")
    editor = inspector.editor("params.credential")
    assert isinstance(editor, CredentialEditor)
    names = editor.names()
    assert names[:3] == ["hypervisor-api-token", "ops-chat-webhook", "servicenow-api"]
    assert "patch-ssh" not in names  # an ssh-key: not a kind HTTP accepts
    assert {"lab-token", "lab-ssh-login"} <= set(names)
    editor.combo.setFocus()
    editor.combo.lineEdit().selectAll()
    qtbot.keyClicks(editor.combo.lineEdit(), "lab-token")
    assert document.node("take_snapshot").params["credential"] == "lab-token"


def test_the_credential_picker_works_without_a_keyring(credential_home: Path, make: Make) -> None:
    keyring.set_keyring(fail.Keyring())
    _, inspector = make("patch-window.flow.json")
    inspector.show_node("apply_patches")
    editor = inspector.editor("params.credential")
    assert isinstance(editor, CredentialEditor)
    assert "patch-ssh" in editor.names()


def test_a_number_that_does_not_parse_never_reaches_the_model(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show()
    inspector.show_node("change_approval")
    editor = inspector.editor("params.timeout_s")
    assert isinstance(editor, NumberLineEditor)
    editor.edit.selectAll()
    qtbot.keyClicks(editor.edit, "x1")
    assert document.node("change_approval").params["timeout_s"] == 3600
    assert "'x1' is not a number" in inspector.rows["params.timeout_s"].message.text()
    editor.edit.selectAll()
    qtbot.keyClicks(editor.edit, "600")
    assert document.node("change_approval").params["timeout_s"] == 600
    # valid JSON type but refused by the node type: stored, and the sentence is shown
    message = inspector.rows["params.escalate_after_min"].message.text()
    assert "must be less than the timeout" in inspector.general_errors.text() + message
    editor.edit.clear()
    qtbot.keyClicks(editor.edit, " ")
    assert "timeout_s" not in document.node("change_approval").params


def test_json_fields_refuse_bad_json_and_wrong_types(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show()
    inspector.show_node("take_snapshot")
    editor = inspector.editor("params.body")
    assert isinstance(editor, JsonEditor)
    before = document.node("take_snapshot").params["body"]
    editor.edit.setFocus()
    qtbot.keyClick(editor.edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor.edit, ",")
    assert "is not valid JSON" in inspector.rows["params.body"].message.text()
    assert document.node("take_snapshot").params["body"] == before
    qtbot.keyClick(editor.edit, Qt.Key.Key_Backspace)
    assert not inspector.rows["params.body"].message.isVisible()


def test_a_webhook_schema_must_be_an_object(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("web-outage-remediation.flow.json")
    inspector.show()
    inspector.show_node("alert")
    editor = inspector.editor("params.body_schema")
    assert isinstance(editor, JsonEditor)
    before = document.node("alert").params["body_schema"]
    editor.edit.selectAll()
    qtbot.keyClicks(editor.edit, "[1]")
    assert "must be an object" in inspector.rows["params.body_schema"].message.text()
    assert document.node("alert").params["body_schema"] == before


def test_editing_the_approval_form(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show()
    inspector.show_node("change_approval")
    editor = inspector.editor("params.form")
    assert isinstance(editor, FormEditor)
    table = editor.table
    assert table.rowCount() == 2
    edit_cell(qtbot, table, 1, 2, "May reboot")
    form = document.node("change_approval").params["form"]
    assert form["properties"]["allow_reboot"] == {
        "type": "boolean",
        "title": "May reboot",
        "default": True,
    }
    assert form["properties"]["change_ticket"]["pattern"] == "^CHG[0-9]{7}$"
    assert form["required"] == ["change_ticket"]

    rect = table.visualItemRect(table.item(1, 3))
    indicator = QPoint(rect.left() + 10, rect.center().y())
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=indicator)
    assert document.node("change_approval").params["form"]["required"] == [
        "change_ticket",
        "allow_reboot",
    ]


def test_focus_field_focuses_the_editor_of_a_diagnostic_path(make: Make, qtbot: QtBot) -> None:
    _, inspector = make("tls-certificate-expiry.flow.json")
    inspector.show()
    qtbot.waitExposed(inspector)
    inspector.activateWindow()
    inspector.show_node("fetch_endpoints")
    for path in ("params.url", "timeout_s", "params.headers.Accept", "title", "retry.attempts"):
        assert inspector.focus_field(path)
        key = path if path != "params.headers.Accept" else "params.headers"
        key = "retry" if key.startswith("retry") else key
        editor = inspector.rows[key].editor
        target = editor.focus_target()
        qtbot.waitUntil(lambda target=target: target.hasFocus(), timeout=1000)
    assert not inspector.focus_field("params.no_such_field")


def test_every_sample_node_and_every_catalog_type_builds_a_form(make: Make, qtbot: QtBot) -> None:
    for path in SAMPLE_FILES:
        document, inspector = make(path.name)
        for node in document.nodes():
            inspector.show_node(node.id)
            assert "params.error" not in inspector.rows
            assert len(inspector.rows) >= 6
    specs = sorted(default_catalog(), key=lambda spec: spec.type)
    assert len(specs) >= 20
    nodes = [Node(id=f"n{i}", type=spec.type) for i, spec in enumerate(specs)]
    nodes.append(Node(id="odd", type="custom.thing", params={"size": 3}))
    document = FlowDocument(Flow(id="all-types", nodes=nodes))
    inspector = Inspector(document)
    qtbot.addWidget(inspector)
    for node in nodes:
        inspector.show_node(node.id)
        spec = document.spec(node.id)
        if spec is not None:
            assert {f"params.{name}" for name in spec.params.model_fields} <= set(inspector.rows)
    inspector.show_node("odd")
    assert isinstance(inspector.editor("params"), JsonEditor)


def test_unknown_types_edit_their_params_as_json(qtbot: QtBot) -> None:
    node = Node(id="odd", type="custom.thing", params={"size": 3})
    document = FlowDocument(Flow(id="odd-flow", nodes=[node]))
    inspector = Inspector(document)
    qtbot.addWidget(inspector)
    inspector.show_node("odd")
    editor = inspector.editor("params")
    assert isinstance(editor, JsonEditor)
    editor.edit.selectAll()
    qtbot.keyClicks(editor.edit, '{"size": 4}')
    assert document.node("odd").params == {"size": 4}
    document.undo_stack.undo()
    assert document.node("odd") is node


def test_lists_one_per_line_and_removal_clears_the_panel(make: Make, qtbot: QtBot) -> None:
    document, inspector = make("patch-window.flow.json")
    inspector.show_node("change_approval")
    editor = inspector.editor("params.escalate_to")
    assert isinstance(editor, LinesEditor)
    editor.edit.setFocus()
    qtbot.keyClick(editor.edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor.edit, Qt.Key.Key_Return)
    qtbot.keyClicks(editor.edit, "jdoe")
    assert document.node("change_approval").params["escalate_to"] == [
        "group:it-ops-leads",
        "jdoe",
    ]
    from opsflow.studio.commands import RemoveItems

    document.push(RemoveItems(document, ["change_approval"]))
    assert inspector.node_id is None and not inspector.rows
    document.undo_stack.undo()
    inspector.show_node("change_approval")
    assert inspector.editor("params.escalate_to") is not None


def test_screenshots_paint_an_http_and_an_approval_node(make: Make, tmp_path: Path) -> None:
    _, inspector = make("patch-window.flow.json")
    inspector.resize(420, 1400)
    inspector.show()
    for node_id, name in (("take_snapshot", "http"), ("change_approval", "approval")):
        inspector.show_node(node_id)
        QApplication.processEvents()
        image = inspector.grab().toImage()
        assert image.save(str(tmp_path / f"inspector_{name}.png"))
        colors = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, 400, 7)}
        assert len(colors) > 5
    assert isinstance(inspector.editor("params.form"), FormEditor)
    assert isinstance(inspector.findChild(QTableWidget), QTableWidget)
