"""Form rows of the Flow tab: an inspector editor whose value is handed on once the user is done.

Text is handed on when editing finishes (Enter, or leaving the field) and choices, boxes and
spin boxes at once, so one edit is one undo step and a half-typed value never reaches the
model. `AnyValueEditor` edits values of any JSON type (variables) as JSON or plain text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic_core import to_json
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from opsflow.model.flow import Flow
from opsflow.studio.inspector.expression import CodeEdit, monospace_font
from opsflow.studio.inspector.fields import INVALID, FieldEditor, template_problem
from opsflow.studio.inspector.flow_fields import is_untyped
from opsflow.studio.inspector.rows import FieldRow, make_editor
from opsflow.studio.inspector.schema import FieldInfo

#: Containers shorter than this are shown on one line.
_ONE_LINE = 60


class AnyValueEditor(FieldEditor):
    """Any JSON value: text that reads as JSON is JSON (42, true, [1, 2], {"a": 1}), other text
    is kept as it is; text that would read as JSON is shown quoted, so it comes back as text."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.edit = CodeEdit(self, lines=(1, 10))
        self.edit.setFont(monospace_font())
        self.edit.setToolTip(
            f'{info.description}\nJSON (42, true, [1, 2], {{"a": 1}}) or plain text; quote '
            'text that would read as JSON, such as "42".'.strip()
        )
        self.edit.setPlaceholderText('text, or JSON such as 42, true, ["a", "b"]')
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        self.edit.textChanged.connect(self._on_changed)

    def focus_target(self) -> QWidget:
        return self.edit

    def current(self) -> Any:
        return parse_any(self.edit.text())

    def _on_changed(self) -> None:
        if self._loading:
            return
        text = self.edit.text()
        if parse_any(text) is INVALID:
            try:
                json.loads(text)
            except ValueError as exc:
                self._set_problem(f"looks like JSON but is not: {exc}; quote it to keep it as text")
            return
        self._emit()

    def _show(self, value: Any) -> None:
        text = show_any(value)
        if self.edit.text() != text:
            self.edit.set_text(text)
        self._set_problem("")


def parse_any(text: str) -> Any:
    """The value a text stands for: JSON when it reads as JSON, else the text itself.

    Text that starts like a JSON string, list or object but does not parse is INVALID: its
    author meant JSON, and keeping it as text would hide the mistake.
    """
    try:
        return json.loads(text)
    except ValueError:
        return INVALID if text.strip()[:1] in ('"', "[", "{") else text


def show_any(value: Any) -> str:
    """The text `parse_any` reads back as `value`."""
    if isinstance(value, str):
        plain = value == value.strip() and parse_any(value) == value
        return value if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list):
        short = json.dumps(value, ensure_ascii=False)
        return short if len(short) <= _ONE_LINE else json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value)


def make_flow_editor(info: FieldInfo, value: Any, header: Callable[[], Flow]) -> FieldEditor:
    """The editor for one field of the Flow tab: the inspector's, or `AnyValueEditor`."""
    if info.editor == "json" and is_untyped(info.schema):
        return AnyValueEditor(info)
    return make_editor(info, value, header=header, timezone=lambda: "UTC", check=_syntax)


def _syntax(text: str) -> tuple[str, str]:
    """The syntax error of a template; references are the problems panel's business."""
    return template_problem(text), ""


class FormRow(FieldRow):
    """A labelled editor that hands on a finished edit through `edited`."""

    #: The user finished an edit: the value to store (never INVALID).
    edited = Signal(object)

    def __init__(self, editor: FieldEditor, parent: QWidget | None = None) -> None:
        super().__init__(editor, parent)
        self.shown: Any = None
        self._has_shown = False
        self._typed = False
        target = editor.focus_target()
        self._buffered = isinstance(target, QLineEdit | CodeEdit)
        if isinstance(target, QLineEdit):
            target.editingFinished.connect(self._on_editor_finished)
        elif isinstance(target, CodeEdit):
            target.editing_finished.connect(self._on_editor_finished)
        editor.committed.connect(self._on_editor_committed)
        editor.committed_apart.connect(self._on_editor_committed_apart)

    def show_value(self, value: Any) -> None:
        """Show the stored value: at first, and when undo, redo or another view changed it.

        A value the model refused stays in the editor until the stored one changes.
        """
        first = not self._has_shown
        if not first and to_json(value) == to_json(self.shown):
            return
        self._has_shown = True
        self.shown = value
        self._typed = False
        current = self.editor.current()
        if first or current is INVALID or to_json(current) != to_json(value):
            self.editor.display(value)
        self.set_model_errors([])

    def show_refusal(self, problems: list[str]) -> None:
        """Say why the last edit was refused ([] when it was taken).

        Typed text stays, to be corrected; a choice, box or number goes back to the stored
        value, so the row never shows what the model does not hold.
        """
        self.set_model_errors(problems)
        if problems and not self._buffered:
            self.editor.display(self.shown)

    def _on_editor_committed(self, value: Any) -> None:
        if self._buffered:
            self._typed = True
        else:
            self.edited.emit(value)

    def _on_editor_committed_apart(self, value: Any) -> None:
        """A step of its own (an expression dropped in): handed on at once."""
        self._typed = False
        self.edited.emit(value)

    def _on_editor_finished(self) -> None:
        if not self._typed:
            return
        value = self.editor.current()
        if value is INVALID:
            return
        self._typed = False
        self.edited.emit(value)
