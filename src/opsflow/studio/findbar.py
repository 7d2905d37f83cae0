"""The find bar over the canvas (Ctrl+F): find nodes by id, title, type or parameter text.

Like a browser's: typing jumps to the first match, Enter and Shift+Enter (or the arrows)
go to the next and previous one, "2 of 5" counts them, Esc closes. The current match is
selected and centred (inside a collapsed group, the group's card is); nothing is recorded
for undo. Which nodes match is `opsflow.find.find_nodes`'s answer, asked again when the
flow changes.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QToolButton

from opsflow.find import Match, find_nodes
from opsflow.studio import theme
from opsflow.studio.canvas.view import FlowView

MARGIN = 10
EDIT_WIDTH = 260
#: Matches are looked for again this long after the flow last changed.
REFRESH_MS = 150


class _QueryEdit(QLineEdit):
    """The query field: Enter is next, Shift+Enter previous, Esc closes the bar."""

    #: Enter (True) or Shift+Enter (False) was pressed.
    step_requested = Signal(bool)
    #: Esc was pressed.
    close_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            self.step_requested.emit(not shift)
        elif key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            self.step_requested.emit(key == Qt.Key.Key_Down)
        elif key == Qt.Key.Key_Escape:
            self.close_requested.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()


class FindBar(QFrame):
    """Floats in the top-right corner of the canvas while open."""

    #: The current match changed (its node id; "" when there is none).
    current_changed = Signal(str)

    def __init__(self, view: FlowView) -> None:
        super().__init__(view)
        self.view = view
        self.scene = view.flow_scene
        self.document = view.flow_scene.document
        self.matches: list[Match] = []
        self.index = -1
        self.edit = _QueryEdit(self)
        self.edit.setObjectName("find-query")
        self.edit.setPlaceholderText("Find nodes: id, title, type or parameter")
        self.edit.setClearButtonEnabled(True)
        self.edit.setFixedWidth(EDIT_WIDTH)
        self.count = QLabel(self)
        self.count.setMinimumWidth(70)
        self.count.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.previous_button = self._button("↑", "Previous match (Shift+Enter)")
        self.next_button = self._button("↓", "Next match (Enter)")
        close = self._button("✕", "Close (Esc)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 6, 6)
        layout.setSpacing(4)
        for widget in (self.edit, self.count, self.previous_button, self.next_button, close):
            layout.addWidget(widget)
        # textChanged, not textEdited: the clear button and `set_query` search too.
        self.edit.textChanged.connect(self._on_query_edited)
        self.edit.step_requested.connect(self.step)
        self.edit.close_requested.connect(self.close_bar)
        self.previous_button.clicked.connect(lambda: self.step(False))
        self.next_button.clicked.connect(lambda: self.step(True))
        close.clicked.connect(self.close_bar)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._on_flow_changed)
        self.document.changed.connect(self._refresh_timer.start)
        self.document.reset.connect(self._refresh_timer.start)
        view.resized.connect(self.place)
        self.hide()
        self._show_count()

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    # -- public ----------------------------------------------------------------------------

    def open(self) -> None:
        """Show the bar with its query selected, ready to be typed over (Ctrl+F)."""
        self.show()
        self.raise_()
        self.place()
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()
        if self.edit.text():
            self._search()

    def close_bar(self) -> None:
        """Hide the bar; the current match stays selected and the canvas gets the keys."""
        self.hide()
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def step(self, forward: bool = True) -> None:
        """Go to the next (or previous) match, round the end (Enter, F3)."""
        if not self.isVisible():
            self.open()
        if not self.matches:
            return
        self.index = (self.index + (1 if forward else -1)) % len(self.matches)
        self._go()

    def current(self) -> Match | None:
        """The match shown now, if any."""
        return self.matches[self.index] if self.matches and self.index >= 0 else None

    def set_query(self, text: str) -> None:
        """Search for `text` as if it had been typed."""
        self.edit.setText(text)

    def place(self) -> None:
        area = self.view.viewport().geometry()
        self.adjustSize()
        self.move(area.right() - self.width() - MARGIN, area.top() + MARGIN)

    # -- matching --------------------------------------------------------------------------

    def _on_query_edited(self, _text: str) -> None:
        self._search()
        if self.matches:
            self.index = max(self.index, 0)
            self._go()

    def _on_flow_changed(self) -> None:
        if self.isVisible() and self.edit.text():
            self._search()

    def _search(self) -> None:
        """Match again; the current match stays current while it still matches, else there is
        none until the next step (the view does not jump because the flow changed)."""
        shown = self.current()
        self.matches = find_nodes(self.document.flow(), self.edit.text(), self.document.catalog)
        ids = [match.node for match in self.matches]
        self.index = ids.index(shown.node) if shown is not None and shown.node in ids else -1
        self._show_count()

    def _go(self) -> None:
        node_id = self.matches[self.index].node
        card = self.scene.nodes.get(node_id)
        group = self.document.group_of(node_id)
        frame = self.scene.groups.items.get(group.id) if group is not None else None
        if card is not None and not card.isVisible() and frame is not None:
            # Inside a collapsed group: show the group's card (expanding it would be an edit).
            self.scene.clearSelection()
            frame.setSelected(True)
            self.view.centerOn(frame.sceneBoundingRect().center())
        else:
            self.scene.select_only([node_id])
            self.view.center_on_node(node_id)
        self._show_count()
        self.current_changed.emit(node_id)

    def _show_count(self) -> None:
        palette = theme.current()
        if not self.edit.text().strip():
            self.count.setText("")
            self.count.setToolTip("")
        elif not self.matches:
            self.count.setText("No matches")
            self.count.setToolTip("")
            self.count.setStyleSheet(f"color: {palette.error};")
        elif self.index < 0:
            count = len(self.matches)
            self.count.setText(f"{count} match{'' if count == 1 else 'es'}")
            self.count.setToolTip("Enter goes to the first one")
            self.count.setStyleSheet(f"color: {palette.node_subtext};")
        else:
            match = self.matches[self.index]
            self.count.setText(f"{self.index + 1} of {len(self.matches)}")
            group = self.document.group_of(match.node)
            where = ""
            if group is not None and group.collapsed:
                where = f" (inside the collapsed group '{group.title or group.id}')"
            self.count.setToolTip(f"{match.node}: found in {match.field}{where}")
            self.count.setStyleSheet(f"color: {palette.node_subtext};")
        for button in (self.previous_button, self.next_button):
            button.setEnabled(len(self.matches) > 1 or (bool(self.matches) and self.index < 0))

    # -- Qt --------------------------------------------------------------------------------

    def focusNextPrevChild(self, next: bool) -> bool:
        # The canvas turns Tab into quick add; inside the bar, Tab stays in the query field.
        return True

    def paintEvent(self, event: QPaintEvent) -> None:
        palette = theme.current()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(palette.node_border), 1))
        painter.setBrush(QColor(palette.node_fill))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.end()
