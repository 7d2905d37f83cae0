"""The approval form editor: one table row per answer field (name, type, label, required, choices).

Properties the table does not show (description, default, pattern, bounds)
are kept from the stored form, so editing a label never loses them.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsflow.studio import theme
from opsflow.studio.inspector.fields import INVALID, FieldEditor
from opsflow.studio.inspector.schema import FieldInfo

FORM_TYPES = ("string", "integer", "number", "boolean")
COLUMNS = ("Name", "Type", "Label", "Req.", "Choices")
NAME, TYPE, LABEL, REQUIRED, CHOICES = range(len(COLUMNS))


def _parse_choice(text: str, kind: str) -> Any:
    text = text.strip()
    if kind in ("integer", "number"):
        try:
            number = float(text)
        except ValueError:
            return INVALID
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), INVALID)
    return text


class FormEditor(FieldEditor):
    """Edits a `FormSchema` as a table; an empty table means "no form"."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.extras: dict[str, dict[str, Any]] = {}
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setToolTip(
            f"{info.description}\nChoices: comma-separated allowed answers (empty: any answer)."
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header_tips = {
            REQUIRED: "Required: must be answered.",
            CHOICES: "Comma-separated allowed answers; empty allows any answer.",
        }
        for column, tip in header_tips.items():
            header_item = self.table.horizontalHeaderItem(column)  # made by the labels above
            if header_item is not None:
                header_item.setToolTip(tip)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(36)
        for column in (NAME, LABEL, CHOICES):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        for column in (TYPE, REQUIRED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.hint = QLabel("No form: approvers only approve or reject.", self)
        self.hint.setStyleSheet(f"color: {theme.current().node_subtext};")
        add = QPushButton("Add field", self)
        remove = QPushButton("Remove", self)
        add.clicked.connect(self.add_row)
        remove.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hint)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.table.cellChanged.connect(lambda _row, _column: self._on_changed())
        self._fit()

    def focus_target(self) -> QWidget:
        return self.table

    def focus_path(self, rest: str) -> None:
        """Select the row of `properties.<name>...` from a diagnostic path."""
        self.table.setFocus()
        parts = rest.split(".")
        if len(parts) > 1 and parts[0] == "properties":
            for row in range(self.table.rowCount()):
                if self._text(row, NAME) == parts[1]:
                    self.table.setCurrentCell(row, NAME)

    # -- rows --------------------------------------------------------------------------

    def add_row(self) -> None:
        taken = {self._text(r, NAME) for r in range(self.table.rowCount())}
        number = 1
        while f"field_{number}" in taken:
            number += 1
        self._insert_row(f"field_{number}", {"type": "string"}, required=False)
        self._fit()
        self._on_changed()

    def remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.currentRow() >= 0:
            rows = [self.table.currentRow()]
        for row in rows:
            self.table.removeRow(row)
        self._fit()
        self._on_changed()

    def _insert_row(self, name: str, prop: dict[str, Any], *, required: bool) -> None:
        loading, self._loading = self._loading, True
        try:
            row = self.table.rowCount()
            self.table.insertRow(row)
            name_item = QTableWidgetItem(name)
            self.table.setItem(row, NAME, name_item)
            kind = QComboBox(self.table)
            kind.addItems(FORM_TYPES)
            form_type = prop.get("type")
            kind.setCurrentText(form_type if form_type in FORM_TYPES else "string")
            kind.currentIndexChanged.connect(lambda _index: self._on_changed())
            self.table.setCellWidget(row, TYPE, kind)
            self.table.setItem(row, LABEL, QTableWidgetItem(prop.get("title") or ""))
            check = QTableWidgetItem()
            check.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            check.setCheckState(Qt.CheckState.Checked if required else Qt.CheckState.Unchecked)
            self.table.setItem(row, REQUIRED, check)
            choices = prop.get("enum") or []
            shown = ", ".join(c if isinstance(c, str) else json.dumps(c) for c in choices)
            self.table.setItem(row, CHOICES, QTableWidgetItem(shown))
            extra = {k: v for k, v in prop.items() if k not in ("type", "title", "enum")}
            self.extras[name] = extra
            description = prop.get("description")
            if description:
                name_item.setToolTip(str(description))
        finally:
            self._loading = loading

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text().strip() if item is not None else ""

    # -- value ---------------------------------------------------------------------------

    def _build(self) -> tuple[Any, str]:
        """The form as JSON data (None when empty), or INVALID with the reason."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for row in range(self.table.rowCount()):
            name = self._text(row, NAME)
            if not name:
                return INVALID, f"row {row + 1} has no name; give each field a name"
            if name in properties:
                return INVALID, f"field name '{name}' is used twice"
            widget = self.table.cellWidget(row, TYPE)
            kind = widget.currentText() if isinstance(widget, QComboBox) else "string"
            prop: dict[str, Any] = {"type": kind}
            if self._text(row, LABEL):
                prop["title"] = self._text(row, LABEL)
            choices_text = self._text(row, CHOICES)
            if choices_text:
                choices = [_parse_choice(c, kind) for c in choices_text.split(",") if c.strip()]
                if any(c is INVALID for c in choices):
                    return INVALID, f"the choices of '{name}' are not all of type {kind}"
                prop["enum"] = choices
            prop.update(self.extras.get(name, {}))
            properties[name] = prop
            item = self.table.item(row, REQUIRED)
            if item is not None and item.checkState() == Qt.CheckState.Checked:
                required.append(name)
        if not properties:
            return None, ""
        form: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            form["required"] = required
        return form, ""

    def current(self) -> Any:
        return self._build()[0]

    def _on_changed(self) -> None:
        if self._loading:
            return
        self._fit()
        value, problem = self._build()
        if value is INVALID:
            self._set_problem(problem)
            return
        self._emit()

    def _show(self, value: Any) -> None:
        if self.current() == value:
            return
        self.table.setRowCount(0)
        self.extras.clear()
        form = value if isinstance(value, dict) else {}
        properties = form.get("properties")
        required = form.get("required") or []
        if isinstance(properties, dict):
            for name, prop in properties.items():
                shown = prop if isinstance(prop, dict) else {}
                self._insert_row(str(name), shown, required=name in required)
        self._fit()
        self._set_problem("")

    def _fit(self) -> None:
        rows = self.table.rowCount()
        self.hint.setVisible(rows == 0)
        self.table.setVisible(rows > 0)
        height = self.table.horizontalHeader().height() + 2 * self.table.frameWidth() + 2
        height += sum(self.table.rowHeight(r) for r in range(min(rows, 10)))
        self.table.setFixedHeight(height)
