"""One editor widget per parameter kind, all speaking the same small `FieldEditor` protocol.

An editor shows an effective value (the stored one, or the default), reports
the value the user typed through `committed`, and reports problems it can see
on its own (not a number, bad JSON, a template that does not parse) through
`problem_changed`; it never touches the document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Literal

from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from opsflow.expr import ExpressionError, is_template, parse_template
from opsflow.studio.inspector.expression import CodeEdit, TemplateHighlighter, monospace_font
from opsflow.studio.inspector.schema import FieldInfo, json_type_error

#: What an editor reports when its text cannot be turned into a value.
INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "INVALID"})()
INT_LIMIT = 2**31 - 1


def compact_number(value: float) -> float | int:
    """30.0 -> 30, so a whole number is stored (and saved) as an integer."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


class FieldEditor(QWidget):
    """Base of every parameter editor."""

    #: The user changed the value (the effective value, never INVALID).
    committed = Signal(object)
    #: The user changed the value in a step of its own (an expression dropped in), which
    #: undo takes back alone, not merged with the typing before or after it.
    committed_apart = Signal(object)
    #: A problem the editor sees by itself, or "" when there is none.
    problem_changed = Signal(str)

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self._loading = False
        self._apart = False
        self.problem = ""
        self.warning = ""
        self.setToolTip(info.description)

    def display(self, value: Any) -> None:
        """Show a value from the model (the default when nothing is stored)."""
        self._loading = True
        try:
            self._show(value)
        finally:
            self._loading = False

    def current(self) -> Any:
        """The value the editor holds now, or INVALID."""
        raise NotImplementedError

    def focus_target(self) -> QWidget:
        return self

    def focus_path(self, rest: str) -> None:
        """Focus the part of the editor a diagnostic path points into (default: all of it)."""
        self.focus_target().setFocus()

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _set_problem(self, message: str, warning: str = "") -> None:
        if (message, warning) != (self.problem, self.warning):
            self.problem, self.warning = message, warning
            self.problem_changed.emit(message)

    def _emit(self) -> None:
        """Report the current value when it is usable; say why when it is not."""
        apart, self._apart = self._apart, False
        if self._loading:
            return
        value = self.current()
        if value is INVALID:
            return
        self._set_problem(*self._check(value))
        (self.committed_apart if apart else self.committed).emit(value)

    def _take_drop(self, edit: CodeEdit, kind: Literal["template", "expression"]) -> None:
        """Let `edit` take expressions dragged from a run's data, each drop one undo step."""
        edit.expression_kind = kind
        edit.expression_dropped.connect(self._on_expression_dropped)

    def _on_expression_dropped(self, _text: str) -> None:
        self._apart = True

    def _check(self, value: Any) -> tuple[str, str]:
        """An error and a warning about a well-typed value worth saying now (syntax)."""
        return "", ""


class TextEditor(FieldEditor):
    """str, path and other plain strings: a line edit; empty means "none" when allowed."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.edit = QLineEdit(self)
        self.edit.setToolTip(info.description)
        if info.nullable:
            self.edit.setPlaceholderText("(not set)")
        elif isinstance(info.default, str) and info.default:
            self.edit.setPlaceholderText(info.default)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        self.edit.textEdited.connect(lambda _text: self._emit())

    def focus_target(self) -> QWidget:
        return self.edit

    def current(self) -> Any:
        text = self.edit.text()
        if not text and self.info.nullable:
            return None
        return text

    def _show(self, value: Any) -> None:
        text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
        if self.edit.text() != text:
            self.edit.setText(text)


class CodeFieldEditor(FieldEditor):
    """Templates, expressions (highlighted, completed, checked as you type) and scripts."""

    def __init__(
        self,
        info: FieldInfo,
        parent: QWidget | None = None,
        *,
        check: Callable[[str], tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(info, parent)
        single = info.editor in ("template", "expression")
        self.edit = CodeEdit(self, single_line=single)
        self.edit.setToolTip(info.description)
        if info.editor == "script":
            self.edit.setFont(monospace_font())
            self.edit.setLineWrapMode(CodeEdit.LineWrapMode.NoWrap)
            self.edit.set_lines(8, 24)
            self.edit.setTabChangesFocus(False)
        elif not single:
            self.edit.set_lines(3 if info.kind == "template" else 2, 14)
        if info.kind in ("template", "expression"):
            self.highlighter = TemplateHighlighter(
                self.edit.document(), whole=info.editor == "expression"
            )
            self._take_drop(self.edit, "expression" if info.kind == "expression" else "template")
        if info.nullable:
            self.edit.setPlaceholderText("(not set)")
        self._check_text = check
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        self.edit.textChanged.connect(self._emit)

    def focus_target(self) -> QWidget:
        return self.edit

    def current(self) -> Any:
        text = self.edit.text()
        if not text and self.info.nullable:
            return None
        return text

    def _show(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if self.edit.text() != text:
            self.edit.set_text(text)
        self._set_problem(*self._check(value))

    def recheck(self) -> None:
        """Check the text again (the flow around it changed: inputs, edges, node ids)."""
        self._set_problem(*self._check(self.current()))

    def _check(self, value: Any) -> tuple[str, str]:
        if self._check_text is None or not isinstance(value, str):
            return "", ""
        return self._check_text(value)


class BoolEditor(FieldEditor):
    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.box = QCheckBox(info.title, self)
        self.box.setToolTip(info.description)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box)
        self.box.toggled.connect(lambda _on: self._emit())

    def focus_target(self) -> QWidget:
        return self.box

    def current(self) -> Any:
        return self.box.isChecked()

    def _show(self, value: Any) -> None:
        self.box.setChecked(bool(value))


class ChoiceEditor(FieldEditor):
    """An enum or Literal: a combo box (with "(not set)" when the field is optional)."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.combo = QComboBox(self)
        self.combo.setToolTip(info.description)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addStretch(1)
        self.combo.currentIndexChanged.connect(lambda _index: self._emit())

    def focus_target(self) -> QWidget:
        return self.combo

    def current(self) -> Any:
        value = self.combo.currentData()
        return INVALID if value is INVALID else value

    def _show(self, value: Any) -> None:
        self.combo.clear()
        choices = list(self.info.choices)
        if self.info.nullable:
            self.combo.addItem("(not set)", None)
        elif value is None or value not in choices:
            # nothing chosen yet, or a value the type does not know: show it as it is
            self.combo.addItem("(choose)" if value is None else f"{value} (unknown)", INVALID)
        for choice in choices:
            self.combo.addItem(str(choice), choice)
        for index in range(self.combo.count()):
            data = self.combo.itemData(index)
            if data is not INVALID and data == value and type(data) is type(value):
                self.combo.setCurrentIndex(index)
                return
        self.combo.setCurrentIndex(0)


class _CompactDoubleSpinBox(QDoubleSpinBox):
    """Shows 30 rather than 30.000."""

    def textFromValue(self, value: float) -> str:
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".")


class SpinEditor(FieldEditor):
    """A required or defaulted number within known bounds: a spin box."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        integer = info.editor == "integer"
        self.spin: QSpinBox | QDoubleSpinBox
        if integer:
            self.spin = QSpinBox(self)
            low = int(info.minimum) if info.minimum is not None else -INT_LIMIT
            high = int(min(info.maximum, INT_LIMIT)) if info.maximum is not None else INT_LIMIT
            self.spin.setRange(low + (1 if info.exclusive_minimum else 0), high)
            self.spin.setGroupSeparatorShown(True)
        else:
            self.spin = _CompactDoubleSpinBox(self)
            self.spin.setDecimals(3)
            lowest = float(info.minimum) if info.minimum is not None else -1e12
            highest = float(info.maximum) if info.maximum is not None else 1e12
            self.spin.setRange(lowest + (0.001 if info.exclusive_minimum else 0.0), highest)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip(info.description)
        self.spin.setMinimumWidth(110)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin)
        layout.addStretch(1)
        self.spin.valueChanged.connect(lambda _value: self._emit())

    @staticmethod
    def fits(info: FieldInfo, value: Any) -> bool:
        """Whether a spin box can show `value` faithfully (else a line edit is used)."""
        if info.nullable or isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if info.editor == "integer" and not isinstance(value, int):
            return False
        low = info.minimum if info.minimum is not None else -INT_LIMIT
        high = info.maximum if info.maximum is not None else INT_LIMIT
        return low <= value <= high and abs(value) <= INT_LIMIT

    def focus_target(self) -> QWidget:
        return self.spin

    def current(self) -> Any:
        value = self.spin.value()
        return int(value) if self.info.editor == "integer" else compact_number(value)

    def _show(self, value: Any) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(self.spin, QSpinBox):
                self.spin.setValue(int(value))  # what QSpinBox does with a float anyway
            else:
                self.spin.setValue(value)


class NumberLineEditor(FieldEditor):
    """An optional number (or one a spin box cannot hold): a line edit that must parse."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.edit = QLineEdit(self)
        self.edit.setToolTip(info.description)
        self.edit.setPlaceholderText("(not set)" if info.nullable else "a number")
        self.edit.setMaximumWidth(180)
        validator = QDoubleValidator(self.edit)
        validator.setNotation(QDoubleValidator.Notation.StandardNotation)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        layout.addStretch(1)
        self.edit.textEdited.connect(lambda _text: self._on_edited())

    def focus_target(self) -> QWidget:
        return self.edit

    def current(self) -> Any:
        text = self.edit.text().strip()
        if not text:
            return None if self.info.nullable else INVALID
        try:
            number = float(text)
        except ValueError:
            return INVALID
        if not math.isfinite(number):
            return INVALID
        if self.info.editor == "integer":
            return int(number) if number.is_integer() else INVALID
        return compact_number(number)

    def _on_edited(self) -> None:
        if self.current() is INVALID:
            wanted = "a whole number" if self.info.editor == "integer" else "a number"
            empty = not self.edit.text().strip()
            self._set_problem("is required" if empty else f"'{self.edit.text()}' is not {wanted}")
            return
        self._emit()

    def _show(self, value: Any) -> None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        shown = str(compact_number(value)) if number else "" if value is None else str(value)
        if self.edit.text() != shown:
            self.edit.setText(shown)
        self._set_problem("")


class JsonEditor(FieldEditor):
    """Nested objects, unions and anything else: JSON text that must parse to the right type."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.edit = CodeEdit(self, lines=(2, 16))
        self.edit.setFont(monospace_font())
        self.edit.fit_height()
        self.edit.setToolTip(info.description)
        self.edit.setPlaceholderText("(not set)" if not info.required else "JSON")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        self.edit.textChanged.connect(self._on_changed)

    def focus_target(self) -> QWidget:
        return self.edit

    def current(self) -> Any:
        text = self.edit.text().strip()
        if not text:
            return self.info.default if self.info.has_default else INVALID
        try:
            value = json.loads(text)
        except ValueError:
            return INVALID
        return INVALID if json_type_error(value, self.info.schema) else value

    def _on_changed(self) -> None:
        if self._loading:
            return
        text = self.edit.text().strip()
        if not text and not self.info.has_default:
            self._set_problem("is required")
            return
        if text:
            try:
                value = json.loads(text)
            except ValueError as exc:
                self._set_problem(f"is not valid JSON: {exc}")
                return
            wrong = json_type_error(value, self.info.schema)
            if wrong:
                self._set_problem(f"{wrong}, not {json.dumps(value)[:40]}")
                return
        self._emit()

    def _show(self, value: Any) -> None:
        if self.current() is not INVALID and self.current() == value:
            return
        empty = value is None or (value == self.info.default and value in ({}, []))
        self.edit.set_text("" if empty else json.dumps(value, indent=2, ensure_ascii=False))
        self._set_problem("")


def template_problem(text: str) -> str:
    """The syntax error of a template string, or ""."""
    if not is_template(text):
        return ""
    try:
        parse_template(text)
    except ExpressionError as exc:
        return str(exc)
    return ""
