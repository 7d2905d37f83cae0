"""A labelled form row (label, editor, message), the editor factory, and the node-level fields.

The node-level fields (title, description, disabled, timeout, retries, join)
are described with the same `FieldInfo` as parameters, so the panel treats
every row alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from opsflow.model.flow import Flow, RetryPolicy
from opsflow.studio import theme
from opsflow.studio.inspector.approval_form import FormEditor
from opsflow.studio.inspector.credential import CredentialEditor
from opsflow.studio.inspector.cron import CronEditor
from opsflow.studio.inspector.expression import style_invalid
from opsflow.studio.inspector.fields import (
    BoolEditor,
    ChoiceEditor,
    CodeFieldEditor,
    FieldEditor,
    JsonEditor,
    NumberLineEditor,
    SpinEditor,
    TextEditor,
    compact_number,
)
from opsflow.studio.inspector.lists import ChoiceListEditor, KeyValueEditor, LinesEditor
from opsflow.studio.inspector.schema import MISSING, FieldInfo

_NUMBER = {"type": "number"}


def _node_field(name: str, title: str, editor: str, description: str, **extra: Any) -> FieldInfo:
    values: dict[str, Any] = {
        "name": name,
        "title": title,
        "description": description,
        "schema": {},
        "kind": None,
        "required": False,
        "nullable": False,
        "default": MISSING,
        "editor": editor,
    }
    values.update(extra)
    return FieldInfo(**values)


#: The fields every node has, in the order the panel shows them.
NODE_FIELDS = {
    "title": _node_field("title", "Title", "text", "The name shown on the canvas.", default=""),
    "description": _node_field(
        "description", "Description", "multiline", "Notes for people reading the flow.", default=""
    ),
    "disabled": _node_field(
        "disabled", "Disabled (skipped when the flow runs)", "bool", "", default=False
    ),
    "timeout_s": _node_field(
        "timeout_s",
        "Time limit (s)",
        "number",
        "Seconds this step may take, retries included; empty means no limit.",
        nullable=True,
        default=None,
        schema=_NUMBER,
    ),
    "retry": _node_field(
        "retry", "Retries", "retry", "Try a failed node again, waiting longer each time."
    ),
    "join": _node_field(
        "join",
        "Join",
        "choice",
        "all: run when every inbound branch is decided; any: run as soon as one arrives.",
        default="all",
        choices=("all", "any"),
    ),
}


class RetryEditor(FieldEditor):
    """Attempts and first backoff of a node's retry policy; one attempt means no retries."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.attempts = QSpinBox(self)
        self.attempts.setRange(1, 100)
        self.attempts.setSpecialValueText("1 (no retries)")
        self.attempts.setSuffix(" attempts")
        self.attempts.setKeyboardTracking(False)
        self.attempts.setToolTip("Total attempts, the first included.")
        self.backoff = QDoubleSpinBox(self)
        self.backoff.setRange(0, 3600)
        self.backoff.setDecimals(1)
        self.backoff.setSuffix(" s backoff")
        self.backoff.setKeyboardTracking(False)
        self.backoff.setToolTip("Wait before the second attempt; it doubles after each failure.")
        self.policy: RetryPolicy | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.attempts)
        layout.addWidget(self.backoff)
        layout.addStretch(1)
        self.attempts.valueChanged.connect(lambda _value: self._emit())
        self.backoff.valueChanged.connect(lambda _value: self._emit())

    def focus_target(self) -> QWidget:
        return self.attempts

    def current(self) -> Any:
        attempts = self.attempts.value()
        self.backoff.setEnabled(attempts > 1)
        if attempts == 1 and (self.policy is None or self.policy.attempts != 1):
            return None
        base = self.policy or RetryPolicy()
        backoff = compact_number(self.backoff.value())
        return base.model_copy(update={"attempts": attempts, "backoff_s": backoff})

    def _show(self, value: Any) -> None:
        self.policy = value if isinstance(value, RetryPolicy) else None
        policy = self.policy or RetryPolicy(attempts=1)
        self.attempts.setValue(policy.attempts)
        self.backoff.setValue(policy.backoff_s)
        self.backoff.setEnabled(policy.attempts > 1)


def make_editor(
    info: FieldInfo,
    value: Any,
    *,
    header: Callable[[], Flow],
    timezone: Callable[[], str],
    check: Callable[[str], tuple[str, str]],
) -> FieldEditor:
    """The editor for a field, given the value it will show first."""
    kind = info.editor
    if kind in ("template", "expression", "multiline", "script"):
        return CodeFieldEditor(
            info, check=check if info.kind in ("template", "expression") else None
        )
    if kind in ("integer", "number"):
        return SpinEditor(info) if SpinEditor.fits(info, value) else NumberLineEditor(info)
    simple: dict[str, type[FieldEditor]] = {
        "bool": BoolEditor,
        "choice": ChoiceEditor,
        "string_list": LinesEditor,
        "number_list": LinesEditor,
        "choice_list": ChoiceListEditor,
        "string_map": KeyValueEditor,
        "form": FormEditor,
        "json": JsonEditor,
        "retry": RetryEditor,
        "text": TextEditor,
    }
    if kind == "credential":
        return CredentialEditor(info, header)
    if kind == "cron":
        return CronEditor(info, timezone)
    return simple.get(kind, JsonEditor)(info)


class FieldRow(QWidget):
    """Label above the editor, and under it the problem (red) or warning (amber)."""

    def __init__(self, editor: FieldEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.model_errors: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(3)
        self.label: QLabel | None = None
        if not isinstance(editor, BoolEditor):
            text = editor.info.title + ("" if not editor.info.required else " *")
            self.label = QLabel(text, self)
            self.label.setToolTip(editor.info.description)
            font = self.label.font()
            font.setWeight(font.Weight.DemiBold)
            self.label.setFont(font)
            self.label.setBuddy(editor.focus_target())
            layout.addWidget(self.label)
        layout.addWidget(editor)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout.addWidget(self.message)
        editor.problem_changed.connect(lambda _text: self.update_message())

    def set_model_errors(self, messages: list[str]) -> None:
        if messages != self.model_errors:
            self.model_errors = messages
            self.update_message()

    def update_message(self) -> None:
        palette = theme.current()
        errors = [m for m in [self.editor.problem, *self.model_errors] if m]
        errors = list(dict.fromkeys(errors))
        if errors:
            text, color = "\n".join(errors), palette.error
        elif self.editor.warning:
            text, color = self.editor.warning, palette.warning
        else:
            text, color = "", ""
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {color};")
        self.message.setVisible(bool(text))
        style_invalid(self.editor.focus_target(), "\n".join(errors))
