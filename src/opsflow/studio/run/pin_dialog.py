"""Typing a node's output as JSON to pin it (later runs use it instead of running the node)."""

from __future__ import annotations

import json

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from opsflow.engine.run_types import Pin
from opsflow.studio import theme


class PinDialog(QDialog):
    """`pin` holds the answer once accepted; invalid JSON keeps the dialog open with a sentence."""

    def __init__(self, node_id: str, ports: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Pin the output of {node_id}")
        self.pin: Pin | None = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.port_box = QComboBox()
        for port in ports:
            self.port_box.addItem(port)
        form.addRow("Leaves through", self.port_box)
        layout.addLayout(form)
        self.editor = QPlainTextEdit('{\n  "status": 200\n}')
        self.editor.setToolTip("What the node returns, as `nodes.<id>.output`")
        layout.addWidget(self.editor)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {theme.current().error};")
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Pin")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(440, 300)

    def accept(self) -> None:
        try:
            output = json.loads(self.editor.toPlainText())
        except json.JSONDecodeError as exc:
            self.problem.setText(
                f"That is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
            )
            return
        port = self.port_box.currentText() or None
        self.pin = Pin(output, port)
        super().accept()
