"""The inspector's id field: the shown node's id, renamed in place (Enter, or F2 from the canvas).

A refused id is explained under the field as it is typed; an accepted one renames the node
through `NodeRenamer`, which rewrites every reference as one undo step. The next view of the
renamed node lists the places that rename rewrote.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from opsflow.studio import theme
from opsflow.studio.inspector.expression import style_invalid
from opsflow.studio.rename import NodeRenamer, change_lines

TIP = (
    "The node's id: expressions read its output as nodes.<id>.output. Type a new one and "
    "press Enter to rename it; every reference, wire and placement follows (one undo step)."
)


class _IdEdit(QLineEdit):
    """A line edit that reports Esc instead of passing it on."""

    #: Esc was pressed in the field.
    escape_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class NodeIdField(QWidget):
    """Label, id editor, the refusal (red) or how expressions read the id, and after a rename
    the places it rewrote."""

    def __init__(self, renamer: NodeRenamer, node_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.renamer = renamer
        self.node_id = node_id
        self._pending = False
        palette = theme.current()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(3)
        label = QLabel("Id", self)
        font = label.font()
        font.setWeight(font.Weight.DemiBold)
        label.setFont(font)
        label.setToolTip(TIP)
        self.edit = _IdEdit(node_id, self)
        self.edit.setObjectName("node-id")
        self.edit.setToolTip(TIP)
        label.setBuddy(self.edit)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setStyleSheet(f"color: {palette.node_text}; padding: 2px 0 2px 8px;")
        for widget in (label, self.edit, self.message, self.summary):
            layout.addWidget(widget)
        self.edit.textEdited.connect(self._on_text_edited)
        self.edit.editingFinished.connect(self._commit)
        self.edit.escape_pressed.connect(self.revert)
        self._show_problem("")
        self._show_summary()

    def start_editing(self) -> None:
        """Focus the field with the id selected, ready to be typed over (F2)."""
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

    def revert(self) -> None:
        """Put the current id back and forget the refusal (Esc)."""
        self.edit.setText(self.node_id)
        self._show_problem("")

    def problem(self) -> str:
        """The refusal shown under the field ("" when none)."""
        return self.message.text() if self.edit.property("invalid") else ""

    def _on_text_edited(self, text: str) -> None:
        self._show_problem(self.renamer.problem(self.node_id, text.strip()))

    def _commit(self) -> None:
        new = self.edit.text().strip()
        if self._pending or new == self.node_id:
            return
        prepared = self.renamer.problem(self.node_id, new) or self.renamer.prepare(
            self.node_id, new
        )
        if isinstance(prepared, str):
            self._show_problem(prepared)
            return
        # Renaming removes this node and with it this field: let its signal return first.
        self._pending = True
        QTimer.singleShot(0, self.renamer, lambda: self.renamer.apply_prepared(prepared))

    def _show_problem(self, problem: str) -> None:
        palette = theme.current()
        if problem:
            self.message.setText(problem)
            self.message.setStyleSheet(f"color: {palette.error};")
        else:
            wanted = self.edit.text().strip() or self.node_id
            self.message.setText(f"Expressions read it as nodes.{wanted}.output")
            self.message.setStyleSheet(f"color: {palette.node_subtext};")
        style_invalid(self.edit, problem)

    def _show_summary(self) -> None:
        last = self.renamer.last
        if last is None or last.new != self.node_id:
            self.summary.hide()
            return
        lines = [last.summary(), *(f"• {line}" for line in change_lines(last))]
        self.summary.setText("\n".join(lines))
        self.summary.show()
