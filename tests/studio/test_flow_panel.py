"""The Flow tab: the flow's inputs, credentials, vars, outputs and settings, edited through its
real widgets as undoable commands, refused with the model's sentences when they are wrong.

The credentials' status and the keyring dialog are tested in test_flow_credentials.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from opsflow.flowfile import dump_flow, load_flow, save_flow
from opsflow.model.flow import CredentialRequirement, Flow, FlowInput
from opsflow.studio.document import FlowDocument
from opsflow.studio.inspector import Inspector
from opsflow.studio.inspector.fields import ChoiceEditor
from opsflow.studio.inspector.flow_fields import NOT_IN_FLOW_TAB, entry_fields, flow_sections
from opsflow.studio.inspector.flow_panel import FlowPanel
from opsflow.studio.inspector.flow_rows import AnyValueEditor, parse_any, show_any
from opsflow.studio.mainwindow import MainWindow
from opsflow.studio.problems import ProblemsPanel, Validator
from tests.studio.flow_tab import (
    UNDECLARED,
    Open,
    add_entry,
    choose,
    panels,
    private_keyring,
    row,
    service_flow,
    type_in,
    type_line,
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_flows"


@pytest.fixture
def open_panel(qtbot: QtBot) -> Iterator[Open]:
    yield from panels(qtbot)


@pytest.fixture
def keyring_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from private_keyring(tmp_path, monkeypatch)


# -- the sections come from the model -----------------------------------------------------


def test_every_field_of_the_flow_but_the_canvas_has_a_section() -> None:
    sections = {section.key: section for section in flow_sections()}
    assert list(sections) == [name for name in Flow.model_fields if name not in NOT_IN_FLOW_TAB]
    assert sections["inputs"].model is FlowInput and sections["inputs"].ordered
    assert sections["credentials"].model is CredentialRequirement
    assert not sections["credentials"].ordered, "the file sorts credentials by name"
    assert sections["settings"].shape == "form"
    outputs, variables = sections["outputs"].value, sections["vars"].value
    assert outputs is not None and outputs.editor == "template"
    assert variables is not None and variables.editor == "json" and not variables.schema.get("type")


def test_an_inputs_default_and_allowed_values_take_its_type() -> None:
    def editors(json_type: str) -> dict[str, str]:
        infos = entry_fields(FlowInput, {"type": json_type})
        return {i.name: i.editor for i in infos if i.name in ("default", "enum")}

    assert editors("string") == {"default": "text", "enum": "string_list"}
    assert editors("integer") == {"default": "integer", "enum": "number_list"}
    assert editors("object") == {"default": "json", "enum": "json"}
    [default] = [i for i in entry_fields(FlowInput, {"type": "boolean"}) if i.name == "default"]
    assert default.editor == "choice" and default.choices == (True, False) and default.nullable


@pytest.mark.parametrize(
    "value", ["nginx", "42", 42, 1.5, True, "true", " padded", "", None, ["a", 1], {"a": [1]}]
)
def test_any_value_reads_back_what_it_shows(value: Any) -> None:
    back = parse_any(show_any(value))
    assert back == value and type(back) is type(value)


# -- the problem that started it ---------------------------------------------------------


def test_declaring_the_input_clears_the_undeclared_input_problem(
    open_panel: Open, qtbot: QtBot
) -> None:
    document, panel = open_panel(service_flow())
    problems = ProblemsPanel(document, Validator(document))
    qtbot.addWidget(problems)

    def hints() -> list[str]:
        return [d.hint for d in problems.diagnostics()]

    qtbot.waitUntil(lambda: UNDECLARED in " ".join(hints()), timeout=5000)
    before = document.undo_stack.count()

    card = add_entry(qtbot, panel, "inputs", "service")

    assert list(document.header.inputs) == ["service"]
    assert document.header.inputs["service"] == FlowInput()
    assert document.undo_stack.count() == before + 2, "adding and naming are one step each"
    assert not card.name_message.isVisible()
    qtbot.waitUntil(lambda: not problems.validator.is_pending(), timeout=5000)
    assert UNDECLARED not in " ".join(hints())


# -- edits, undo and redo -----------------------------------------------------------------


def test_typing_commits_when_editing_finishes_as_one_undo_step(
    open_panel: Open, qtbot: QtBot
) -> None:
    document, panel = open_panel(service_flow())
    name = panel.rows["name"]
    line = name.editor.focus_target()
    assert isinstance(line, QLineEdit)
    before = document.undo_stack.count()
    line.setFocus()
    line.selectAll()
    qtbot.keyClicks(line, "Restart nginx")
    assert document.header.name == "Restart a service", "nothing is stored while typing"
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert document.header.name == "Restart nginx"
    assert document.undo_stack.count() == before + 1
    document.undo_stack.undo()
    assert line.text() == "Restart a service", "undo shows the old name again"
    document.undo_stack.redo()
    assert line.text() == "Restart nginx"


def test_a_session_of_declarations_undoes_to_the_same_bytes_and_redoes_to_the_same_bytes(
    open_panel: Open, qtbot: QtBot
) -> None:
    document, panel = open_panel(service_flow())
    original = document.text()
    card = add_entry(qtbot, panel, "inputs", "port")
    choose(row(card, "type").editor, "integer")
    card = panel.lists["inputs"].card("port")
    assert card is not None
    type_in(qtbot, row(card, "minimum").editor, "1", panel)
    type_in(qtbot, row(card, "maximum").editor, "65535", panel)
    type_in(qtbot, row(card, "default").editor, "8080", panel)
    row(card, "required").editor.focus_target().click()
    type_in(qtbot, row(card, "enum").editor, "80\n8080", card.name_edit)
    type_in(qtbot, panel.rows["description"].editor, "Restarts it.", card.name_edit)
    assert document.header.inputs["port"] == FlowInput(
        type="integer", minimum=1, maximum=65535, default=8080, required=True, enum=[80, 8080]
    )
    assert document.header.description == "Restarts it."
    after = document.text()
    steps = document.undo_stack.count()
    assert steps == 9

    while document.undo_stack.canUndo():
        document.undo_stack.undo()
    assert document.text() == original
    assert panel.lists["inputs"].cards == []
    while document.undo_stack.canRedo():
        document.undo_stack.redo()
    assert document.text() == after
    card = panel.lists["inputs"].card("port")
    assert card is not None and row(card, "default").editor.current() == 8080


def test_entries_move_and_go_and_come_back(open_panel: Open, qtbot: QtBot) -> None:
    flow = load_flow(SAMPLES / "patch-window.flow.json")
    document, panel = open_panel(flow)
    inputs = panel.lists["inputs"]
    assert inputs.names() == ["host", "vm_id", "service"]
    host = inputs.card("host")
    assert host is not None and not host.up_button.isEnabled()
    qtbot.mouseClick(host.down_button, Qt.MouseButton.LeftButton)
    assert list(document.header.inputs) == ["vm_id", "host", "service"]
    assert inputs.names() == ["vm_id", "host", "service"]
    assert inputs.card("host") is host, "the card is kept, so what is open stays open"
    text = document.text()
    assert text.index('"vm_id"') < text.index('"host": {'), "the file keeps the new order"

    service = inputs.card("service")
    assert service is not None
    qtbot.mouseClick(service.remove_button, Qt.MouseButton.LeftButton)
    assert "service" not in document.header.inputs and inputs.names() == ["vm_id", "host"]
    document.undo_stack.undo()
    assert list(document.header.inputs) == ["vm_id", "host", "service"]

    credential = panel.lists["credentials"].cards[0]
    assert not credential.up_button.isVisible(), "the file sorts credentials: no order to keep"


# -- refusals -----------------------------------------------------------------------------


def test_bad_names_are_refused_with_the_validators_sentence(open_panel: Open, qtbot: QtBot) -> None:
    document, panel = open_panel(load_flow(SAMPLES / "patch-window.flow.json"))
    before, text = document.undo_stack.count(), document.text()
    card = panel.lists["inputs"].card("service")
    assert card is not None

    type_line(qtbot, card.name_edit, "Bad-Name")
    assert "input name 'Bad-Name' is not an identifier" in card.name_message.text()
    type_line(qtbot, card.name_edit, "host")
    assert card.name_message.text() == "there is already an input named 'host'"
    type_line(qtbot, card.name_edit, "")
    assert card.name_message.text() == "give the input a name"
    credential = panel.lists["credentials"].cards[0]
    type_line(qtbot, credential.name_edit, "no spaces please")
    assert "credential name 'no spaces please' cannot be used" in credential.name_message.text()
    assert (document.undo_stack.count(), document.text()) == (before, text)

    type_line(qtbot, card.name_edit, "unit")
    assert not card.name_message.isVisible() and "unit" in document.header.inputs


def test_values_the_model_or_validator_refuse_change_nothing(
    open_panel: Open, qtbot: QtBot
) -> None:
    inputs = {"service": {"type": "string", "default": "nginx"}}
    document, panel = open_panel(service_flow(inputs=inputs))
    before, text = document.undo_stack.count(), document.text()
    card = panel.lists["inputs"].card("service")
    assert card is not None
    card.set_expanded(True)

    type_in(qtbot, row(card, "pattern").editor, "([a-z", panel)
    assert "is not a valid regular expression" in row(card, "pattern").message.text()
    choose(row(card, "type").editor, "integer")
    assert "is of type integer, but 'nginx' is not" in row(card, "type").message.text()
    type_in(qtbot, row(card, "pattern").editor, "^[0-9]+$", panel)
    assert "defaults to 'nginx', which does not match its pattern" in (
        row(card, "pattern").message.text()
    )
    settings = panel.rows["settings.timeout_s"]
    type_in(qtbot, settings.editor, "0", panel)
    assert "greater than 0" in settings.message.text()
    assert (document.undo_stack.count(), document.text()) == (before, text)

    type_in(qtbot, row(card, "pattern").editor, "^[a-z]+$", panel)
    assert document.header.inputs["service"].pattern == "^[a-z]+$"
    assert not row(card, "pattern").message.isVisible()


def test_a_bound_that_the_default_breaks_is_refused(open_panel: Open, qtbot: QtBot) -> None:
    inputs = {"count": {"type": "integer", "default": 3}}
    document, panel = open_panel(service_flow(inputs=inputs))
    card = panel.lists["inputs"].card("count")
    assert card is not None
    card.set_expanded(True)
    type_in(qtbot, row(card, "minimum").editor, "10", panel)
    assert "defaults to 3, below its minimum 10" in row(card, "minimum").message.text()
    assert document.header.inputs["count"].minimum is None
    type_in(qtbot, row(card, "default").editor, "three", panel)
    assert "'three' is not a whole number" in row(card, "default").message.text()
    assert document.header.inputs["count"].default == 3


def test_an_input_that_came_broken_can_still_be_changed(open_panel: Open, qtbot: QtBot) -> None:
    inputs = {"count": {"type": "integer", "default": "three"}}
    document, panel = open_panel(service_flow(inputs=inputs))
    card = panel.lists["inputs"].card("count")
    assert card is not None
    card.set_expanded(True)
    type_in(qtbot, row(card, "title").editor, "How many", panel)
    assert document.header.inputs["count"].title == "How many"


# -- vars, outputs and settings -----------------------------------------------------------


def test_variables_take_json_or_plain_text(open_panel: Open, qtbot: QtBot) -> None:
    document, panel = open_panel(service_flow())
    card = add_entry(qtbot, panel, "vars", "retries")
    editor = row(card, "value").editor
    assert isinstance(editor, AnyValueEditor)
    type_in(qtbot, editor, "3", card.name_edit)
    assert document.header.vars == {"retries": 3}
    type_in(qtbot, editor, "nginx", card.name_edit)
    assert document.header.vars == {"retries": "nginx"}
    steps = document.undo_stack.count()
    type_in(qtbot, editor, '["a", ', card.name_edit)
    assert "looks like JSON but is not" in row(card, "value").message.text()
    assert document.header.vars == {"retries": "nginx"}
    assert document.undo_stack.count() == steps
    type_in(qtbot, editor, '["web1", "web2"]', card.name_edit)
    assert document.header.vars == {"retries": ["web1", "web2"]}


def test_outputs_are_templates_checked_like_the_validator_does(
    open_panel: Open, qtbot: QtBot
) -> None:
    document, panel = open_panel(service_flow())
    card = add_entry(qtbot, panel, "outputs", "status")
    editor = row(card, "value").editor
    type_in(qtbot, editor, "{{ nodes.status.output.stdout }}", panel)
    assert document.header.outputs == {"status": "{{ nodes.status.output.stdout }}"}
    type_in(qtbot, editor, "{{ nodes.nope.output }}", panel)
    assert "there is no node 'nope'" in row(card, "value").message.text()
    assert document.header.outputs == {"status": "{{ nodes.status.output.stdout }}"}


def test_settings_are_a_form_of_the_settings_model(open_panel: Open, qtbot: QtBot) -> None:
    document, panel = open_panel(service_flow())
    type_in(qtbot, panel.rows["settings.timeout_s"].editor, "600", panel)
    type_in(qtbot, panel.rows["settings.file_roots"].editor, "/srv\n/var/log", panel)
    concurrency = panel.rows["settings.max_concurrency"].editor.focus_target()
    concurrency.setValue(4)  # type: ignore[attr-defined]
    settings = document.header.settings
    assert (settings.timeout_s, settings.file_roots) == (600, ["/srv", "/var/log"])
    assert settings.max_concurrency == 4
    assert '"timeout_s": 600,' in document.text(), "a whole number is saved as one"
    document.undo_stack.undo()
    assert panel.rows["settings.max_concurrency"].editor.current() == 32


# -- round trip ---------------------------------------------------------------------------


def test_every_kind_of_declaration_survives_save_and_load(
    open_panel: Open, qtbot: QtBot, keyring_home: Path
) -> None:
    document, panel = open_panel(service_flow())
    service = add_entry(qtbot, panel, "inputs", "service")
    type_in(qtbot, row(service, "enum").editor, "nginx\napache", service.name_edit)
    type_in(qtbot, row(service, "default").editor, "nginx", panel)
    type_in(qtbot, row(service, "pattern").editor, "^[a-z]+$", panel)
    choose(row(service, "format").editor, "hostname")
    flag = add_entry(qtbot, panel, "inputs", "dry")
    choose(row(flag, "type").editor, "boolean")
    flag = panel.lists["inputs"].card("dry")
    assert flag is not None
    default = row(flag, "default").editor
    assert isinstance(default, ChoiceEditor)
    choose(default, True)
    ssh = add_entry(qtbot, panel, "credentials", "web-ssh")
    choose(row(ssh, "kind").editor, "ssh-key")
    type_in(qtbot, row(ssh, "description").editor, "the web servers' key", panel)
    var = add_entry(qtbot, panel, "vars", "hosts")
    type_in(qtbot, row(var, "value").editor, '{"web": ["w1", "w2"]}', panel)
    out = add_entry(qtbot, panel, "outputs", "result")
    type_in(qtbot, row(out, "value").editor, "{{ nodes.status.output.exit_code }}", panel)
    type_in(qtbot, panel.rows["settings.timeout_s"].editor, "90.5", panel)

    path = keyring_home / "restart.flow.json"
    save_flow(document.flow(), path)
    loaded = load_flow(path)
    assert dump_flow(loaded) == document.text()
    assert loaded.inputs["service"] == FlowInput(
        enum=["nginx", "apache"], default="nginx", pattern="^[a-z]+$", format="hostname"
    )
    assert loaded.inputs["dry"] == FlowInput(type="boolean", default=True)
    assert loaded.credentials["web-ssh"].kind == "ssh-key"
    assert loaded.vars == {"hosts": {"web": ["w1", "w2"]}}
    assert loaded.settings.timeout_s == 90.5

    again = FlowPanel(FlowDocument(loaded))
    qtbot.addWidget(again)
    for section in ("inputs", "credentials", "vars", "outputs"):
        assert again.lists[section].names() == panel.lists[section].names()
    shown = again.lists["inputs"].card("service")
    assert shown is not None and row(shown, "enum").editor.current() == ["nginx", "apache"]
    assert again.rows["settings.timeout_s"].editor.current() == 90.5


@pytest.mark.parametrize("path", sorted(SAMPLES.rglob("*.flow.json")), ids=lambda p: p.name)
def test_every_sample_flow_shows_all_its_declarations(qtbot: QtBot, path: Path) -> None:
    flow = load_flow(path)
    panel = FlowPanel(FlowDocument(flow))
    qtbot.addWidget(panel)
    for section in ("inputs", "credentials", "vars", "outputs"):
        names = list(getattr(flow, section))
        shown = sorted(names) if section == "credentials" else names
        assert panel.lists[section].names() == shown
    for card in panel.lists["inputs"].cards:
        for field, form_row in card.rows.items():
            assert not form_row.editor.problem, (card.name, field, form_row.editor.problem)


# -- the inspector and the window ---------------------------------------------------------


def test_the_inspector_shows_the_flow_tab_when_nothing_is_selected(qtbot: QtBot) -> None:
    inspector = Inspector(FlowDocument(load_flow(SAMPLES / "patch-window.flow.json")))
    qtbot.addWidget(inspector)
    assert inspector.tabs.currentWidget() is inspector.flow_panel
    inspector.show_node("take_snapshot")
    assert inspector.tabs.currentWidget() is inspector.scroll_area
    assert inspector.show_flow("inputs.vm_id")
    assert inspector.tabs.currentWidget() is inspector.flow_panel
    card = inspector.flow_panel.lists["inputs"].card("vm_id")
    assert card is not None and card.body.isVisibleTo(card)
    assert not inspector.show_flow("layout.nodes.x"), "the canvas' part is not in the tab"
    inspector.show_node(None)
    assert inspector.tabs.currentWidget() is inspector.flow_panel


def test_the_undeclared_input_problem_leads_to_the_flow_tab(qtbot: QtBot) -> None:
    window = MainWindow(service_flow())  # closed by the conftest
    window.show()
    qtbot.waitExposed(window)
    [problem] = [d for d in window.validator.validate_now() if d.code == "unknown-input"]
    assert UNDECLARED in problem.hint
    window.problems.problem_activated.emit(problem.node, problem.field)
    assert window.scene.selected_node_ids() == ["status"]
    assert window.inspector.tabs.currentWidget() is window.inspector.flow_panel
    assert "Flow tab" in window.statusBar().currentMessage()


def test_a_problem_of_a_flow_field_opens_its_entry(qtbot: QtBot) -> None:
    window = MainWindow(service_flow(inputs={"count": {"type": "integer", "default": "x"}}))
    [problem] = [d for d in window.validator.validate_now() if d.code == "input-type"]
    window.problems.problem_activated.emit(None, problem.field)
    assert window.inspector.tabs.currentWidget() is window.inspector.flow_panel
    card = window.inspector.flow_panel.lists["inputs"].card("count")
    assert card is not None and card.body.isVisibleTo(card)


def test_the_panel_follows_a_flow_opened_in_its_document(qtbot: QtBot) -> None:
    document = FlowDocument(service_flow())
    panel = FlowPanel(document)
    qtbot.addWidget(panel)
    document.replace_flow(load_flow(SAMPLES / "patch-window.flow.json"), None)
    assert panel.lists["inputs"].names() == ["host", "vm_id", "service"]
    assert panel.rows["name"].editor.current() == "Saturday patch window"
