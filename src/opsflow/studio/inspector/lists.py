"""Editors for lists and string maps: one item per line, a set of checkboxes, a key/value table."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsflow.studio.inspector.expression import CodeEdit, TemplateHighlighter
from opsflow.studio.inspector.fields import INVALID, FieldEditor, template_problem
from opsflow.studio.inspector.schema import FieldInfo


class LinesEditor(FieldEditor):
    """list[str] or list[int]: one item per line; blank lines are left out."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.edit = CodeEdit(self, lines=(2, 10))
        self.edit.setToolTip(info.description)
        self.edit.setPlaceholderText("one per line")
        self.templated = info.kind == "template"
        if self.templated:
            self.highlighter = TemplateHighlighter(self.edit.document())
            self._take_drop(self.edit, "template")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)
        self.edit.textChanged.connect(self._on_changed)

    def focus_target(self) -> QWidget:
        return self.edit

    def focus_path(self, rest: str) -> None:
        """Put the cursor on the line of item `[n]`."""
        self.edit.setFocus()
        if rest.startswith("[") and "]" in rest:
            index = rest[1 : rest.index("]")]
            if index.isdigit():
                block = self.edit.document().findBlockByNumber(int(index))
                if block.isValid():
                    cursor = self.edit.textCursor()
                    cursor.setPosition(block.position())
                    self.edit.setTextCursor(cursor)

    def _lines(self) -> list[str]:
        return [line for line in self.edit.text().split("\n") if line.strip()]

    def current(self) -> Any:
        lines = self._lines()
        if self.info.editor != "number_list":
            return lines
        numbers: list[Any] = []
        for line in lines:
            try:
                numbers.append(int(line.strip()))
            except ValueError:
                return INVALID
        return numbers

    def _on_changed(self) -> None:
        if self._loading:
            return
        if self.current() is INVALID:
            bad = next(line for line in self._lines() if not line.strip().lstrip("-").isdigit())
            self._set_problem(f"'{bad.strip()}' is not a whole number")
            return
        self._emit()

    def _check(self, value: Any) -> tuple[str, str]:
        if not self.templated:
            return "", ""
        for index, line in enumerate(value):
            problem = template_problem(line)
            if problem:
                return f"line {index + 1}: {problem}", ""
        return "", ""

    def _show(self, value: Any) -> None:
        items = value if isinstance(value, list) else []
        if self.current() == items:
            return
        self.edit.set_text("\n".join(str(item) for item in items))
        self._set_problem(*self._check(items) if self.info.editor == "string_list" else ("", ""))


class ChoiceListEditor(FieldEditor):
    """list[Literal[...]]: one checkbox per allowed value, kept in the order of the type."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.choices = list(info.schema.get("items", {}).get("enum", []))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.boxes: list[QCheckBox] = []
        for choice in self.choices:
            box = QCheckBox(str(choice), self)
            box.setToolTip(info.description)
            box.toggled.connect(lambda _on: self._emit())
            layout.addWidget(box)
            self.boxes.append(box)
        layout.addStretch(1)

    def focus_target(self) -> QWidget:
        return self.boxes[0] if self.boxes else self

    def current(self) -> Any:
        return [c for c, box in zip(self.choices, self.boxes, strict=True) if box.isChecked()]

    def _show(self, value: Any) -> None:
        chosen = value if isinstance(value, list) else []
        for choice, box in zip(self.choices, self.boxes, strict=True):
            box.setChecked(choice in chosen)


class KeyValueEditor(FieldEditor):
    """dict[str, str] (headers, query, env): a two-column table with add and remove."""

    def __init__(self, info: FieldInfo, parent: QWidget | None = None) -> None:
        super().__init__(info, parent)
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Name", "Value"])
        self.table.setToolTip(info.description)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(0, 140)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.add_button = QPushButton("Add", self)
        self.remove_button = QPushButton("Remove", self)
        self.add_button.clicked.connect(self.add_row)
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.table.cellChanged.connect(lambda _row, _column: self._on_changed())
        self._fit_height()

    def focus_target(self) -> QWidget:
        return self.table

    def focus_path(self, rest: str) -> None:
        """Select the row of key `rest` (a diagnostic's "params.headers.<name>")."""
        self.table.setFocus()
        for row in range(self.table.rowCount()):
            if self._cell(row, 0) == rest.split(".")[0]:
                self.table.setCurrentCell(row, 1)
                return

    def add_row(self) -> None:
        row = self.table.rowCount()
        key = QTableWidgetItem("")
        self._loading = True
        try:
            self.table.insertRow(row)
            self.table.setItem(row, 0, key)
            self.table.setItem(row, 1, QTableWidgetItem(""))
        finally:
            self._loading = False
        self._fit_height()
        self.table.setCurrentCell(row, 0)
        self.table.editItem(key)

    def remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.currentRow() >= 0:
            rows = [self.table.currentRow()]
        for row in rows:
            self.table.removeRow(row)
        self._fit_height()
        self._on_changed()

    def _cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def current(self) -> Any:
        pairs: dict[str, str] = {}
        for row in range(self.table.rowCount()):
            key, value = self._cell(row, 0).strip(), self._cell(row, 1)
            if not key:
                if value:
                    return INVALID
                continue
            if key in pairs:
                return INVALID
            pairs[key] = value
        return pairs

    def _on_changed(self) -> None:
        if self._loading:
            return
        seen: set[str] = set()
        for row in range(self.table.rowCount()):
            key, value = self._cell(row, 0).strip(), self._cell(row, 1)
            if not key and value:
                self._set_problem(f"row {row + 1} has a value but no name; give it a name")
                return
            if key in seen:
                self._set_problem(f"'{key}' is given twice")
                return
            seen.add(key)
        self._emit()

    def _check(self, value: Any) -> tuple[str, str]:
        if self.info.kind != "template":
            return "", ""
        for key, text in value.items():
            problem = template_problem(text)
            if problem:
                return f"{key}: {problem}", ""
        return "", ""

    def _show(self, value: Any) -> None:
        pairs = value if isinstance(value, dict) else {}
        if self.current() == pairs:
            return
        self.table.setRowCount(0)
        for key, text in pairs.items():
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.table.setItem(row, 0, QTableWidgetItem(str(key)))
            self.table.setItem(row, 1, QTableWidgetItem(str(text)))
        self._fit_height()
        self._set_problem(*self._check(pairs))

    def _fit_height(self) -> None:
        """Show every row (up to eight) so the panel scrolls instead of the table."""
        rows = min(max(self.table.rowCount(), 1), 8)
        height = self.table.horizontalHeader().height() + 2 * self.table.frameWidth()
        height += sum(self.table.rowHeight(r) for r in range(min(rows, self.table.rowCount())))
        if self.table.rowCount() == 0:
            height += self.table.verticalHeader().defaultSectionSize()
        self.table.setFixedHeight(height + 2)
        self.table.setVerticalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if self.table.rowCount() > 8
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )
