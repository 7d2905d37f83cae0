"""The Flow tab of the inspector: the flow's name, inputs, outputs, credentials, variables and
settings, as forms made from the `Flow` model.

Every edit goes through `FlowEdits` as one undoable command; the panel follows the document
(undo, redo, another file opened) without disturbing the field being typed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from opsflow.model.flow import CredentialRequirement
from opsflow.studio import theme
from opsflow.studio.document import FlowDocument
from opsflow.studio.inspector.flow_edits import FlowEdits
from opsflow.studio.inspector.flow_entries import EntryExtra, EntryList, ExtraFactory
from opsflow.studio.inspector.flow_fields import Section, flow_sections, model_fields
from opsflow.studio.inspector.flow_rows import FormRow, make_flow_editor
from opsflow.studio.inspector.keyring_dialog import CredentialStatus
from opsflow.studio.inspector.schema import FieldInfo
from opsflow.validate.diagnostics import Diagnostic

#: Plain flow fields shown as several lines of text.
_LONG_TEXT = frozenset({"description"})
#: Problems whose fix is a declaration in the Flow tab: the section to declare it in.
DECLARED_IN = {"unknown-input": "inputs", "unknown-credential": "credentials"}


def where_to_declare(
    diagnostics: Iterable[Diagnostic], node_id: str | None, field: str | None
) -> str | None:
    """The Flow-tab section that fixes the problems of one node field, when all say "declare"."""
    codes = {d.code for d in diagnostics if d.node == node_id and d.field == field}
    sections = {DECLARED_IN.get(code) for code in codes}
    return sections.pop() if len(sections) == 1 and None not in sections else None


class FlowPanel(QWidget):
    """Edits the flow-level fields of one document."""

    #: A credential was stored in the keyring from this panel (its name).
    credential_saved = Signal(str)

    def __init__(self, document: FlowDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.edits = FlowEdits(document)
        self.sections = flow_sections()
        #: Rows of plain fields ("name") and of form fields ("settings.timeout_s").
        self.rows: dict[str, FormRow] = {}
        #: The entry list of each section of named entries ("inputs").
        self.lists: dict[str, EntryList] = {}
        #: The heading of each section ("flow" for the plain fields).
        self.headings: dict[str, QLabel] = {}
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll_area)
        document.flow_changed.connect(self._on_flow_changed)
        document.reset.connect(self._on_document_reset)
        self._build()

    # -- public ----------------------------------------------------------------------------

    def focus_path(self, path: str) -> bool:
        """Show and focus the editor of a flow path ("inputs.port", "settings", "name")."""
        head, _, rest = path.partition(".")
        target: QWidget | None = None
        if head in self.lists:
            entries = self.lists[head]
            if not entries.focus(rest):
                return False
            card = entries.card(rest.partition(".")[0])
            target = card if card is not None else entries.add_button
        elif path in self.rows:
            target = self.rows[path]
            self.rows[path].editor.focus_path("")
        elif head in self.headings:
            target = self.headings[head]
        if target is None:
            return False
        self.scroll_area.ensureWidgetVisible(target, 0, 40)
        return True

    def has_path(self, path: str) -> bool:
        """Whether a flow path ("inputs.port", "settings.timeout_s") is edited in this tab."""
        head, _, rest = path.partition(".")
        if head in self.lists:
            return not rest or rest.partition(".")[0] in self.lists[head].names()
        return path in self.rows or (not rest and head in self.headings)

    def row(self, path: str) -> FormRow | None:
        """The row of a plain field ("name") or a form field ("settings.timeout_s")."""
        return self.rows.get(path)

    # -- building --------------------------------------------------------------------------

    def _build(self) -> None:
        self.rows = {}
        self.lists = {}
        self.headings = {}
        content = QWidget()
        self._layout = QVBoxLayout(content)
        self._layout.setContentsMargins(12, 4, 12, 12)
        self._layout.setSpacing(2)
        plain_heading = False
        for section in self.sections:
            if section.shape == "field":
                if not plain_heading:
                    self._heading("Flow", "flow")
                    plain_heading = True
                self._add_field(section)
            elif section.shape == "form":
                self._section_heading(section)
                self._add_form(section)
            else:
                self._section_heading(section)
                self._add_entries(section)
        self._layout.addStretch(1)
        self.scroll_area.setWidget(content)

    def _heading(self, text: str, key: str) -> None:
        label = QLabel(text.upper())
        font = label.font()
        font.setPointSizeF(font.pointSizeF() * 0.85)
        font.setWeight(font.Weight.Bold)
        font.setLetterSpacing(font.SpacingType.PercentageSpacing, 108)
        label.setFont(font)
        palette = theme.current()
        label.setStyleSheet(
            f"color: {palette.node_subtext}; padding-top: 12px; padding-bottom: 2px;"
            f" border-bottom: 1px solid {palette.node_border};"
        )
        self.headings[key] = label
        self._layout.addWidget(label)

    def _section_heading(self, section: Section) -> None:
        self._heading(section.info.title, section.key)
        if section.info.description:
            about = QLabel(section.info.description)
            about.setWordWrap(True)
            about.setStyleSheet(f"color: {theme.current().node_subtext}; padding-bottom: 4px;")
            self._layout.addWidget(about)

    def _add_row(self, key: str, info: FieldInfo, value: Any) -> FormRow:
        row = FormRow(make_flow_editor(info, value, lambda: self.document.header))
        row.show_value(value)
        self.rows[key] = row
        self._layout.addWidget(row)
        return row

    def _add_field(self, section: Section) -> None:
        info = section.info
        if info.name in _LONG_TEXT and info.editor == "text":
            info = dataclasses.replace(info, editor="multiline")
        row = self._add_row(section.key, info, self.edits.value(section))
        row.edited.connect(
            lambda value, row=row: row.show_refusal(self.edits.set_field(section, value))
        )

    def _add_form(self, section: Section) -> None:
        assert section.model is not None
        form = self.edits.value(section)
        for info in model_fields(section.model):
            row = self._add_row(f"{section.key}.{info.name}", info, getattr(form, info.name))
            row.edited.connect(
                lambda value, row=row, info=info: row.show_refusal(
                    self.edits.set_form_field(section, info, value)
                )
            )

    def _add_entries(self, section: Section) -> None:
        entries = EntryList(
            section, self.edits, lambda: self.document.header, self._extra_for(section)
        )
        self.lists[section.key] = entries
        self._layout.addWidget(entries)

    def _extra_for(self, section: Section) -> ExtraFactory | None:
        """Declared credentials say whether this machine has them, and offer to store them."""
        if section.model is not CredentialRequirement:
            return None

        def status(name: str, value: Any) -> EntryExtra:
            widget = CredentialStatus(name, str(value.kind))
            widget.saved.connect(self.credential_saved)
            return widget

        return status

    # -- following the document ------------------------------------------------------------

    def _on_flow_changed(self) -> None:
        for section in self.sections:
            if section.shape == "field":
                self.rows[section.key].show_value(self.edits.value(section))
            elif section.shape == "form":
                form = self.edits.value(section)
                for key, row in self.rows.items():
                    if key.startswith(f"{section.key}."):
                        row.show_value(getattr(form, key.partition(".")[2]))
            else:
                self.lists[section.key].refresh()

    def _on_document_reset(self) -> None:
        self._build()
