"""The named entries of one flow section (inputs, credentials, outputs, vars) as a list of cards.

Each card has the entry's name, move and remove buttons, and either a form made from the
entry's model (folded away until opened) or the entry's one value. Cards are kept across
changes (an entry added, renamed, moved or removed elsewhere), so whatever is open or being
typed in stays where it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from opsflow.model.flow import Flow
from opsflow.studio import theme
from opsflow.studio.inspector.expression import style_invalid
from opsflow.studio.inspector.flow_edits import FlowEdits
from opsflow.studio.inspector.flow_fields import Section, entry_fields, typing_value
from opsflow.studio.inspector.flow_rows import FormRow, make_flow_editor
from opsflow.studio.inspector.schema import FieldInfo


class ElidedLabel(QLabel):
    """One line of text that ends in "…" rather than pushing its neighbours aside."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        shown = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(self.alignment()), shown)


class EntryExtra(QWidget):
    """Something shown on every card of a section besides the form (a credential's status)."""

    def show_entry(self, name: str, value: Any) -> None:
        """Follow the entry as it stands (renamed, changed)."""
        raise NotImplementedError


#: Makes the extra widget of a card from the entry's name and value.
ExtraFactory = Callable[[str, Any], EntryExtra]


class EntryCard(QFrame):
    """One named entry: a header with its name and buttons, then its form or value."""

    def __init__(self, owner: EntryList, name: str, value: Any) -> None:
        super().__init__()
        self.owner = owner
        self.section = owner.section
        self.name = name
        self.value = value
        self.rows: dict[str, FormRow] = {}
        self._typing: Any = None
        palette = theme.current()
        self.setObjectName("entryCard")
        self.setStyleSheet(
            f"QFrame#entryCard {{ border: 1px solid {palette.node_border}; border-radius: 4px; }}"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(2)
        layout.addLayout(self._header())
        self.name_message = QLabel(self)
        self.name_message.setWordWrap(True)
        self.name_message.setStyleSheet(f"color: {palette.error};")
        self.name_message.hide()
        layout.addWidget(self.name_message)
        self.extra = owner.extra(name, value) if owner.extra is not None else None
        if self.extra is not None:
            layout.addWidget(self.extra)
        self.body = QWidget(self)
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.setSpacing(0)
        layout.addWidget(self.body)
        self._build_body()
        self.show_expanded(self.section.model is None)

    def _header(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(2)
        self.toggle = QToolButton(self)
        self.toggle.setAutoRaise(True)
        self.toggle.setCheckable(True)
        self.toggle.setToolTip("Show or hide the fields")
        self.toggle.toggled.connect(self.set_expanded)
        self.toggle.setVisible(self.section.model is not None)
        row.addWidget(self.toggle)
        self.name_edit = QLineEdit(self.name, self)
        self.name_edit.setToolTip(f"The {self.section.singular}'s name; Enter renames it.")
        self.name_edit.editingFinished.connect(self._on_name_finished)
        self.name_edit.setMinimumWidth(self.name_edit.fontMetrics().horizontalAdvance("x" * 14))
        row.addWidget(self.name_edit, 2)
        self.summary = ElidedLabel(self)
        self.summary.setStyleSheet(f"color: {theme.current().node_subtext};")
        row.addWidget(self.summary, 1)
        self.up_button = self._button("↑", "Move up", lambda: self.owner.move_entry(self.name, -1))
        self.down_button = self._button(
            "↓", "Move down", lambda: self.owner.move_entry(self.name, 1)
        )
        self.up_button.setVisible(self.section.ordered)
        self.down_button.setVisible(self.section.ordered)
        self.remove_button = self._button("✕", "Remove", lambda: self.owner.remove_entry(self.name))
        for button in (self.up_button, self.down_button, self.remove_button):
            row.addWidget(button)
        return row

    def _button(self, text: str, tip: str, action: Callable[[], None]) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setAutoRaise(True)
        button.setToolTip(f"{tip} this {self.section.singular}")
        button.clicked.connect(action)
        return button

    # -- the form --------------------------------------------------------------------------

    def _build_body(self) -> None:
        for row in self.rows.values():
            row.hide()
            row.deleteLater()
        self.rows = {}
        if self.section.model is None:
            assert self.section.value is not None
            row = self._add_row(self.section.value, self.value)
            if row.label is not None:
                row.label.hide()
            row.edited.connect(self._on_value_edited)
        else:
            entry: BaseModel = self.value
            self._typing = typing_value(entry)
            for info in entry_fields(self.section.model, entry.model_dump(by_alias=True)):
                row = self._add_row(info, getattr(entry, info.name))
                row.edited.connect(lambda value, info=info: self._on_field_edited(info, value))
        self._update_summary()

    def _add_row(self, info: FieldInfo, value: Any) -> FormRow:
        editor = make_flow_editor(info, value, self.owner.header)
        row = FormRow(editor, self.body)
        row.show_value(value)
        self.rows[info.name] = row
        self.body_layout.addWidget(row)
        return row

    def _update_summary(self) -> None:
        if self.section.model is None:
            self.summary.setText("")
            return
        parts = []
        for info in entry_fields(self.section.model, self.value.model_dump(by_alias=True)):
            shown = getattr(self.value, info.name)
            if info.choices and info.editor == "choice" and shown is not None:
                parts.append(str(shown))
            elif info.editor == "bool" and shown is True:
                parts.append(info.title.lower())
        self.summary.setText(" · ".join(parts))
        self.summary.setToolTip(self.summary.text())

    # -- following the model ---------------------------------------------------------------

    def show_entry(self, name: str, value: Any) -> None:
        """Follow the entry as it stands: renamed, or changed by an edit, undo or redo."""
        if name == self.name and value is self.value:
            return  # models are never changed in place: the same object is the same entry
        if name != self.name:
            self.name = name
            self.name_edit.setText(name)
            self.set_name_errors([])
        self.value = value
        if self.extra is not None:
            self.extra.show_entry(name, value)
        if self.section.model is None:
            self.rows["value"].show_value(value)
            return
        if typing_value(value) != self._typing:
            self._build_body()
            return
        for field, row in self.rows.items():
            row.show_value(getattr(value, field))
        self._update_summary()

    def set_places(self, first: bool, last: bool) -> None:
        self.up_button.setEnabled(not first)
        self.down_button.setEnabled(not last)

    def set_expanded(self, expanded: bool) -> None:
        """Open or fold the form; the list remembers it across changes."""
        self.show_expanded(expanded)
        if self.section.model is not None:
            self.owner.note_expanded(self.name, expanded)

    def show_expanded(self, expanded: bool) -> None:
        self.body.setVisible(expanded)
        if self.toggle.isChecked() != expanded:
            self.toggle.setChecked(expanded)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)

    def set_name_errors(self, messages: list[str]) -> None:
        text = "\n".join(messages)
        self.name_message.setText(text)
        self.name_message.setVisible(bool(text))
        style_invalid(self.name_edit, text)

    def focus(self, field: str = "") -> None:
        """Open the card and put the cursor in its name, or in one of its fields."""
        self.set_expanded(True)
        row = self.rows.get(field.split(".", 1)[0]) if field else None
        if row is None:
            self.name_edit.setFocus()
            self.name_edit.selectAll()
        else:
            row.editor.focus_path("")

    # -- user actions ----------------------------------------------------------------------

    def _on_name_finished(self) -> None:
        text = self.name_edit.text()
        if text.strip() == self.name:
            self.set_name_errors([])
            return
        self.set_name_errors(self.owner.rename_entry(self.name, text))

    def _on_field_edited(self, info: FieldInfo, value: Any) -> None:
        problems = self.owner.edits.set_entry_field(self.section, self.name, info, value)
        row = self.rows.get(info.name)
        if row is not None:
            row.show_refusal(problems)

    def _on_value_edited(self, value: Any) -> None:
        problems = self.owner.edits.set_entry_value(self.section, self.name, value)
        self.rows["value"].show_refusal(problems)


class EntryList(QWidget):
    """The cards of one section, and the button that adds an entry."""

    def __init__(
        self,
        section: Section,
        edits: FlowEdits,
        header: Callable[[], Flow],
        extra: ExtraFactory | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.section = section
        self.edits = edits
        self.header = header
        self.extra = extra
        self.cards: list[EntryCard] = []
        self._expanded: set[str] = set()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(4)
        self.cards_layout = QVBoxLayout()
        self.cards_layout.setSpacing(4)
        layout.addLayout(self.cards_layout)
        self.empty = QLabel(f"No {section.info.title.lower()} yet.", self)
        self.empty.setStyleSheet(f"color: {theme.current().node_subtext};")
        layout.addWidget(self.empty)
        self.add_button = QPushButton(f"Add {section.singular}", self)
        self.add_button.setToolTip(section.info.description)
        self.add_button.clicked.connect(self._on_add_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.refresh()

    def names(self) -> list[str]:
        """The entries' names, in the order shown."""
        return [card.name for card in self.cards]

    def card(self, name: str) -> EntryCard | None:
        return next((card for card in self.cards if card.name == name), None)

    def refresh(self) -> None:
        """Bring the cards in line with the entries: reuse, rename, add, drop and reorder."""
        entries = self.edits.entries(self.section)
        by_name = {card.name: card for card in self.cards}
        gone = [card for card in self.cards if card.name not in entries]
        cards: list[EntryCard] = []
        for index, (name, value) in enumerate(entries.items()):
            card = by_name.get(name)
            if card is None:
                # A name that is new where an old one went missing at the same place: a rename.
                renamed = next((c for c in gone if self.cards.index(c) == index), None)
                if renamed is not None:
                    gone.remove(renamed)
                    if renamed.name in self._expanded:
                        self._expanded.add(name)
                card = renamed or EntryCard(self, name, value)
            card.show_entry(name, value)
            cards.append(card)
        for card in gone:
            self._expanded.discard(card.name)
            card.hide()
            card.deleteLater()
        while self.cards_layout.count():
            self.cards_layout.takeAt(0)
        for index, card in enumerate(cards):
            self.cards_layout.addWidget(card)
            card.show()  # now, not when the layout gets to it: a new card takes the focus
            card.set_places(index == 0, index == len(cards) - 1)
            if self.section.model is not None:
                card.show_expanded(card.name in self._expanded)
        self.cards = cards
        self.empty.setVisible(not cards)

    def focus(self, path: str) -> bool:
        """Open the card of "name" or "name.field" and focus it; "" focuses the add button."""
        if not path:
            self.add_button.setFocus()
            return True
        name, _, field = path.partition(".")
        card = self.card(name)
        if card is None:
            return False
        card.focus(field)
        return True

    def note_expanded(self, name: str, expanded: bool) -> None:
        if expanded:
            self._expanded.add(name)
        else:
            self._expanded.discard(name)

    # -- actions from the cards ------------------------------------------------------------

    def rename_entry(self, old: str, new: str) -> list[str]:
        return self.edits.rename_entry(self.section, old, new)

    def move_entry(self, name: str, step: int) -> None:
        self.edits.move_entry(self.section, name, step)

    def remove_entry(self, name: str) -> None:
        self.edits.remove_entry(self.section, name)

    def _on_add_clicked(self) -> None:
        name = self.edits.add_entry(self.section)
        self._expanded.add(name)
        self.refresh()
        card = self.card(name)
        if card is not None:
            card.focus()
