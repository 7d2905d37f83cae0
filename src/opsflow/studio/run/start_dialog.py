"""The "Run flow" dialog: which trigger, the manual inputs, a sample payload, dry run.

Inputs are converted and checked with the engine's own rules before the run
starts, so a wrong value is a sentence in the dialog, not a failed run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from opsflow.engine.inputs import coerce_inputs
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow, FlowInput
from opsflow.studio import theme

#: A payload to start from, per trigger type, shaped like what `opsflow serve` sends.
SAMPLE_PAYLOADS: dict[str, Any] = {
    "trigger.webhook": {"body": {}, "headers": {}, "method": "POST", "path": "/", "query": {}},
    "trigger.file": {"path": "/tmp/example.csv", "event": "created", "folder": "/tmp"},
    "trigger.poll": {"url": "https://example.com/health", "state": "down", "previous": "up"},
}


@dataclass(frozen=True)
class StartChoice:
    trigger: str
    payload: Any
    inputs: dict[str, Any]
    dry_run: bool


class StartDialog(QDialog):
    """Ask how to start a run; `choice` holds the answer after `accept`."""

    def __init__(
        self,
        flow: Flow,
        trigger_types: dict[str, str],
        *,
        dry_run: bool = False,
        last: StartChoice | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Run {flow.name or flow.id}")
        self.flow = flow
        self.trigger_types = trigger_types
        self.choice: StartChoice | None = None
        self._last = last
        self._inputs: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.trigger_box = QComboBox()
        for node_id, type_id in trigger_types.items():
            self.trigger_box.addItem(f"{node_id}  ({type_id.split('.')[-1]})", node_id)
        if last is not None and last.trigger in trigger_types:
            self.trigger_box.setCurrentIndex(list(trigger_types).index(last.trigger))
        form.addRow("Start at", self.trigger_box)
        self.dry_run_box = QCheckBox("Dry run: only read and decide; show what the rest would do")
        self.dry_run_box.setChecked(dry_run)
        form.addRow("", self.dry_run_box)
        layout.addLayout(form)
        if flow.inputs:
            layout.addWidget(_heading("Inputs"))
            inputs_form = QFormLayout()
            for name, spec in flow.inputs.items():
                widget = self._input_widget(name, spec)
                label = (spec.title or name) + (" *" if spec.required else "")
                widget.setToolTip(spec.description or name)
                inputs_form.addRow(label, widget)
                self._inputs[name] = widget
            layout.addLayout(inputs_form)
        self.payload_heading = _heading("Payload (what the trigger passes as `trigger`)")
        layout.addWidget(self.payload_heading)
        self.payload_edit = QPlainTextEdit()
        self.payload_edit.setPlaceholderText("JSON, e.g. an Alertmanager webhook body")
        self.payload_edit.setMinimumHeight(140)
        layout.addWidget(self.payload_edit)
        row = QHBoxLayout()
        self.load_button = QPushButton("Load from file…")
        self.load_button.clicked.connect(self._load_payload)
        row.addWidget(self.load_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {theme.current().error};")
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.trigger_box.currentIndexChanged.connect(self._on_trigger_changed)
        self._on_trigger_changed()
        self.resize(560, 420 if flow.inputs else 360)

    def _input_widget(self, name: str, spec: FlowInput) -> QWidget:
        before = self._last.inputs.get(name) if self._last is not None else None
        value = before if before is not None else spec.default
        if spec.type == "boolean":
            box = QCheckBox()
            box.setChecked(bool(value))
            return box
        if spec.enum:
            combo = QComboBox()
            for option in spec.enum:
                combo.addItem(str(option), option)
            if value in spec.enum:
                combo.setCurrentIndex(spec.enum.index(value))
            return combo
        edit = QLineEdit()
        if value is not None:
            edit.setText(json.dumps(value) if spec.type in ("object", "array") else str(value))
        if spec.format:
            edit.setPlaceholderText(spec.format)
        return edit

    def _on_trigger_changed(self) -> None:
        trigger = self.trigger_box.currentData()
        type_id = self.trigger_types.get(trigger, "")
        manual = type_id == "trigger.manual"
        for widget in (self.payload_heading, self.payload_edit, self.load_button):
            widget.setVisible(not manual)
        if manual:
            return
        if self._last is not None and self._last.trigger == trigger:
            self.payload_edit.setPlainText(json.dumps(self._last.payload, indent=2))
        else:
            self.payload_edit.setPlainText(json.dumps(_sample(type_id), indent=2))

    def _load_payload(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Load payload", "", "JSON (*.json);;All (*)")
        if not name:
            return
        try:
            self.payload_edit.setPlainText(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            self.problem.setText(f"{name} cannot be read: {exc}")

    def raw_inputs(self) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for name, widget in self._inputs.items():
            spec = self.flow.inputs[name]
            if isinstance(widget, QCheckBox):
                raw[name] = widget.isChecked()
            elif isinstance(widget, QComboBox):
                raw[name] = widget.currentData()
            elif isinstance(widget, QLineEdit) and widget.text().strip():
                text = widget.text().strip()
                raw[name] = _json_or_text(text) if spec.type in ("object", "array") else text
        return raw

    def accept(self) -> None:
        trigger = self.trigger_box.currentData()
        try:
            inputs = coerce_inputs(self.flow.inputs, self.raw_inputs())
            payload = None
            if self.trigger_types[trigger] != "trigger.manual":
                payload = _parse_payload(self.payload_edit.toPlainText())
        except OpsflowError as exc:
            self.problem.setText(str(exc))
            return
        self.choice = StartChoice(trigger, payload, inputs, self.dry_run_box.isChecked())
        super().accept()


def _sample(type_id: str) -> Any:
    if type_id == "trigger.schedule":
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"scheduled_for": now, "fired_at": now}
    return SAMPLE_PAYLOADS.get(type_id, {})


def _parse_payload(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise OpsflowError(
            f"the payload is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _heading(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    label.setContentsMargins(0, 8, 0, 0)
    return label
