"""Edits of the flow's own fields as undoable commands, refused when the model or the validator
would reject the result.

Each method is one user action (a field edited, an entry added, renamed, moved or removed) and
pushes at most one `ChangeFlow`; a refused edit pushes nothing and returns the sentences to show
next to the field, so nothing is ever half-applied.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from opsflow.model.flow import Flow
from opsflow.studio.commands import ChangeFlow
from opsflow.studio.document import FlowDocument
from opsflow.studio.inspector.flow_fields import (
    Section,
    blank_entry,
    error_sentences,
    move_entry,
    replace_entry,
    stored_value,
    unique_name,
    with_field,
)
from opsflow.studio.inspector.schema import FieldInfo
from opsflow.validate.declarations import added_problems, name_problem
from opsflow.validate.diagnostics import Diagnostic


class FlowEdits:
    """Turns Flow-tab edits into `ChangeFlow` commands on one document."""

    def __init__(self, document: FlowDocument) -> None:
        self.document = document

    # -- reading ---------------------------------------------------------------------------

    def entries(self, section: Section) -> dict[str, Any]:
        """The named entries of a section as they stand (inputs, vars, ...)."""
        return dict(getattr(self.document.header, section.key))

    def value(self, section: Section) -> Any:
        """The value of a plain field or form section (name, settings)."""
        return getattr(self.document.header, section.key)

    # -- plain fields and forms ------------------------------------------------------------

    def set_field(self, section: Section, value: Any) -> list[str]:
        """Change a plain field of the flow (id, name, description)."""
        header = self.document.header
        if _same(getattr(header, section.key), value):
            return []
        try:
            Flow.model_validate({**header.model_dump(by_alias=True), section.key: value})
        except ValidationError as exc:
            return error_sentences(exc)
        new = header.model_copy(update={section.key: value})
        return self._push(new, section.key, f"Change flow {section.info.title.lower()}")

    def set_form_field(self, section: Section, info: FieldInfo, value: Any) -> list[str]:
        """Change one field of a nested model (a setting)."""
        assert section.model is not None
        current = self.value(section)
        try:
            new_form = with_field(section.model, current, info.name, stored_value(info, value))
        except ValidationError as exc:
            return error_sentences(exc)
        if _same(new_form, current):
            return []
        new = self.document.header.model_copy(update={section.key: new_form})
        place = f"{section.key}.{info.name}"
        return self._push(new, place, f"Change {info.title.lower()}")

    # -- named entries ---------------------------------------------------------------------

    def set_entry_field(
        self, section: Section, name: str, info: FieldInfo, value: Any
    ) -> list[str]:
        """Change one field of an entry (an input's default, a credential's kind)."""
        assert section.model is not None
        entries = self.entries(section)
        current: BaseModel = entries[name]
        try:
            new_entry = with_field(section.model, current, info.name, stored_value(info, value))
        except ValidationError as exc:
            return error_sentences(exc)
        if _same(new_entry, current):
            return []
        return self._set_entries(
            section,
            replace_entry(entries, name, name, new_entry),
            f"{section.key}.{name}",
            f"Change {section.singular} '{name}' {info.title.lower()}",
        )

    def set_entry_value(self, section: Section, name: str, value: Any) -> list[str]:
        """Change the value of an entry that is a plain value (an output's template, a var)."""
        entries = self.entries(section)
        if _same(entries[name], value):
            return []
        return self._set_entries(
            section,
            replace_entry(entries, name, name, value),
            f"{section.key}.{name}",
            f"Change {section.singular} '{name}'",
        )

    def add_entry(self, section: Section) -> str:
        """Add an entry with a free name and blank values; returns its name."""
        entries = self.entries(section)
        name = unique_name(f"new_{section.singular.replace(' ', '_')}", entries)
        entries[name] = blank_entry(section)
        self._set_entries(section, entries, "", f"Add {section.singular} '{name}'")
        return name

    def rename_entry(self, section: Section, old: str, new: str) -> list[str]:
        """Give an entry another name, keeping its place; expressions using it are not changed."""
        new = new.strip()
        entries = self.entries(section)
        if new == old:
            return []
        if not new:
            return [f"give the {section.singular} a name"]
        if new in entries:
            return [f"there is already {_article(section.singular)} named '{new}'"]
        problem = name_problem(section.key, new)
        if problem is not None:
            return [_sentence(problem)]
        renamed = replace_entry(entries, old, new, entries[old])
        return self._set_entries(
            section, renamed, "", f"Rename {section.singular} '{old}' to '{new}'"
        )

    def remove_entry(self, section: Section, name: str) -> None:
        entries = self.entries(section)
        del entries[name]
        self._set_entries(section, entries, "", f"Remove {section.singular} '{name}'")

    def move_entry(self, section: Section, name: str, step: int) -> None:
        """Move an entry up (-1) or down (+1); at either end nothing happens."""
        entries = self.entries(section)
        moved = move_entry(entries, name, step)
        if list(moved) != list(entries):
            where = "up" if step < 0 else "down"
            self._set_entries(section, moved, "", f"Move {section.singular} '{name}' {where}")

    # -- internals -------------------------------------------------------------------------

    def _set_entries(
        self, section: Section, entries: dict[str, Any], place: str, text: str
    ) -> list[str]:
        new = self.document.header.model_copy(update={section.key: entries})
        return self._push(new, place, text)

    def _push(self, header: Flow, place: str, text: str) -> list[str]:
        """Push the new header unless it brings the validator's errors to `place`."""
        if place:
            flow = self.document.flow()
            after = header.model_copy(
                update={"nodes": flow.nodes, "edges": flow.edges, "layout": flow.layout}
            )
            problems = added_problems(flow, after, place)
            if problems:
                return [_sentence(problem) for problem in problems]
        self.document.push(ChangeFlow(self.document, header, text))
        return []


def _sentence(problem: Diagnostic) -> str:
    return f"{problem.message}; {problem.hint}" if problem.hint else problem.message


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _same(a: Any, b: Any) -> bool:
    """The same in the file: equal JSON, so True and 1, or 1 and 1.5, are told apart."""
    return bool(to_json(a) == to_json(b))
