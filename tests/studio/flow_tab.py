"""Helpers of the Flow-tab tests: a flow that reads an input it does not declare, Flow tabs
opened on it, a private file keyring, and typing into the tab's fields as a user does."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from opsflow.flowfile import parse_flow
from opsflow.model.flow import Flow
from opsflow.studio.document import FlowDocument
from opsflow.studio.inspector.expression import CodeEdit
from opsflow.studio.inspector.fields import FieldEditor
from opsflow.studio.inspector.flow_entries import EntryCard
from opsflow.studio.inspector.flow_panel import FlowPanel
from opsflow.studio.inspector.flow_rows import FormRow

#: The hint of the validator's warning about an input used but not declared.
UNDECLARED = "declare it under the flow's inputs"


def service_flow(**header: Any) -> Flow:
    """A manual trigger and a command that reads `inputs.service`, which is not declared."""
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "restart-service",
        "name": "Restart a service",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "status",
                "type": "action.shell",
                "params": {"command": ["systemctl", "status", "{{ inputs.service }}"]},
            },
        ],
        "edges": [{"id": "e1", "from": "start", "port": "out", "to": "status"}],
        "layout": {"nodes": {"start": {"x": 0, "y": 0}, "status": {"x": 300, "y": 0}}},
        **header,
    }
    return parse_flow(json.dumps(document))


Open = Callable[[Flow], tuple[FlowDocument, FlowPanel]]


def panels(qtbot: QtBot) -> Iterator[Open]:
    """Opens Flow tabs on documents, shown and active; at the end, undoing all gives each file
    back (wrapped in an `open_panel` fixture)."""
    opened: list[tuple[FlowDocument, str]] = []

    def _open(flow: Flow) -> tuple[FlowDocument, FlowPanel]:
        document = FlowDocument(flow)
        panel = FlowPanel(document)
        qtbot.addWidget(panel)
        panel.resize(420, 900)
        panel.show()
        qtbot.waitExposed(panel)
        panel.activateWindow()
        qtbot.waitUntil(panel.isActiveWindow, timeout=2000)  # typing needs the focus
        opened.append((document, document.text()))
        return document, panel

    yield _open
    for document, original in opened:
        while document.undo_stack.canUndo():
            document.undo_stack.undo()
        assert document.text() == original


def private_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Config in tmp_path and a real PlaintextKeyring file there (wrapped in a fixture)."""
    for key in list(os.environ):
        if key.startswith("OPSFLOW_CRED") or key == "PYTHON_KEYRING_BACKEND":
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("OPSFLOW_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield tmp_path
    finally:
        keyring.set_keyring(previous)


# -- driving the widgets like a user -------------------------------------------------------


def type_line(qtbot: QtBot, line: QLineEdit, text: str) -> None:
    """Type over a line edit and press Enter."""
    line.setFocus()
    line.selectAll()
    qtbot.keyClick(line, Qt.Key.Key_Delete)
    if text:
        qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def type_in(qtbot: QtBot, editor: FieldEditor, text: str, leave_to: QWidget) -> None:
    """Type over an editor's text, then finish as the editor finishes (Enter, or leaving it)."""
    target = editor.focus_target()
    if isinstance(target, QLineEdit):
        type_line(qtbot, target, text)
        return
    assert isinstance(target, CodeEdit)
    target.setFocus()
    target.selectAll()
    qtbot.keyClick(target, Qt.Key.Key_Delete)
    for number, line in enumerate(text.split("\n")):
        if number:
            qtbot.keyClick(target, Qt.Key.Key_Return)
        qtbot.keyClicks(target, line)
    leave_to.setFocus()
    qtbot.waitUntil(lambda: not target.hasFocus(), timeout=1000)


def choose(editor: FieldEditor, value: Any) -> None:
    combo = editor.focus_target()
    assert isinstance(combo, QComboBox)
    index = next(i for i in range(combo.count()) if combo.itemData(i) == value)
    combo.setCurrentIndex(index)


def add_entry(qtbot: QtBot, panel: FlowPanel, section: str, name: str) -> EntryCard:
    """Press "Add ..." and type the name into the new card, as a user does."""
    entries = panel.lists[section]
    qtbot.mouseClick(entries.add_button, Qt.MouseButton.LeftButton)
    card = entries.cards[-1]
    assert card.name_edit.hasFocus() and card.name_edit.selectedText() == card.name
    type_line(qtbot, card.name_edit, name)
    added = entries.card(name)
    assert added is not None, card.name_message.text()
    return added


def row(card: EntryCard, field: str) -> FormRow:
    return card.rows[field]
