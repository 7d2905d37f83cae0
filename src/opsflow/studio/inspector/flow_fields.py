"""What the Flow tab edits, read from the `Flow` model: its sections and the form of each entry.

Every field of `Flow` but the file header and what the canvas draws is a section: a plain
field (name, description), a nested model (settings: a form), or a map of named entries
(inputs, credentials: a form per entry; outputs, vars: one value per entry). A field added to
the model shows up here without UI code. Qt-free, so the rules can be tested on their own.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, JsonValue, ValidationError, create_model
from pydantic_core import ErrorDetails

from opsflow.flowfile import SORTED_MAPS
from opsflow.model.flow import KIND_KEY, Flow
from opsflow.studio.inspector.schema import EditorKind, FieldInfo, read_fields

#: Fields of `Flow` the Flow tab leaves alone: the file header, and what the canvas edits.
NOT_IN_FLOW_TAB = frozenset({"format", "version", "nodes", "edges", "layout"})

#: The JSON types an input can take (its `type` field), which type its untyped fields.
JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array"})

Shape = Literal["field", "form", "entries"]


@dataclass(frozen=True)
class Section:
    """One field of the flow as the Flow tab shows it."""

    info: FieldInfo
    shape: Shape
    #: The model of a form, or of each entry; None for entries that are plain values.
    model: type[BaseModel] | None = None
    #: For entries that are plain values: how one value is edited.
    value: FieldInfo | None = None
    #: Whether the file keeps the entries in the order given (else it sorts them by name).
    ordered: bool = True

    @property
    def key(self) -> str:
        return self.info.name

    @property
    def singular(self) -> str:
        """ "inputs" -> "input": what one entry is called in buttons and messages."""
        return self.info.title.lower().removesuffix("s")


@functools.cache
def model_fields(model: type[BaseModel]) -> tuple[FieldInfo, ...]:
    """`read_fields` of a model, worked out once (a form is made for every entry)."""
    return tuple(read_fields(model))


def flow_sections() -> list[Section]:
    """The sections of the Flow tab, in the model's order."""
    sections = []
    for info in model_fields(Flow):
        if info.name in NOT_IN_FLOW_TAB:
            continue
        annotation = Flow.model_fields[info.name].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections.append(Section(info, "form", model=annotation))
        elif get_origin(annotation) is dict:
            _, entry = get_args(annotation)
            ordered = info.name not in SORTED_MAPS
            if isinstance(entry, type) and issubclass(entry, BaseModel):
                sections.append(Section(info, "entries", model=entry, ordered=ordered))
            else:
                value = _value_field(info, entry)
                sections.append(Section(info, "entries", value=value, ordered=ordered))
        else:
            sections.append(Section(info, "field"))
    return sections


def _value_field(section: FieldInfo, annotation: Any) -> FieldInfo:
    """How one value of a map of plain values is edited; a map's kind (template) is its values'."""
    extra: dict[str, JsonValue] | None = {KIND_KEY: section.kind} if section.kind else None
    model = create_model(
        "Value",
        value=(annotation, Field(description=section.description, json_schema_extra=extra)),
    )
    [info] = read_fields(model)
    return dataclasses.replace(info, title="Value")


def is_untyped(schema: Mapping[str, Any]) -> bool:
    """Whether a schema allows any JSON value (`Any` in the model)."""
    return not any(key in schema for key in ("type", "anyOf", "oneOf", "$ref", "enum", "const"))


def entry_fields(model: type[BaseModel], entry: Mapping[str, Any]) -> list[FieldInfo]:
    """The fields of one entry's form; fields of any JSON type take the entry's own `type`.

    An input of type integer gets a number field for its default and one number per line for
    its allowed values, instead of raw JSON.
    """
    json_type = entry.get("type")
    infos = list(model_fields(model))
    if json_type not in JSON_TYPES:
        return infos
    return [_typed(info, str(json_type)) for info in infos]


def _typed(info: FieldInfo, json_type: str) -> FieldInfo:
    schema = info.schema
    if is_untyped(schema):
        typed = {**schema, "type": json_type}
        if json_type == "boolean":
            return dataclasses.replace(
                info, schema=typed, nullable=True, editor="choice", choices=(True, False)
            )
        editors: dict[str, EditorKind] = {
            "string": "text",
            "integer": "integer",
            "number": "number",
        }
        editor = editors.get(json_type, "json")
        return dataclasses.replace(info, schema=typed, nullable=True, editor=editor)
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict) and is_untyped(items):
        lists: dict[str, EditorKind] = {"string": "string_list", "integer": "number_list"}
        typed = {**schema, "items": {**items, "type": json_type}}
        return dataclasses.replace(info, schema=typed, editor=lists.get(json_type, "json"))
    return info


def typing_value(entry: BaseModel) -> Any:
    """The value that decides the form of an entry (an input's `type`), or None."""
    value = getattr(entry, "type", None)
    return value if value in JSON_TYPES else None


def stored_value(info: FieldInfo, value: Any) -> Any:
    """What an edited value means in the model: an empty list of an optional list is "not set"."""
    if info.nullable and value == [] and info.schema.get("type") == "array":
        return None
    return value


def blank_entry(section: Section) -> Any:
    """A new entry: a model with its required choices at their first option, or an empty value."""
    if section.model is None:
        return ""
    required = {
        info.name: info.choices[0]
        for info in model_fields(section.model)
        if info.required and info.choices
    }
    return section.model.model_validate(required)


def unique_name(base: str, taken: Iterable[str]) -> str:
    """`base`, or `base_2`, `base_3`, ... whichever is free."""
    used = set(taken)
    if base not in used:
        return base
    for number in itertools.count(2):
        if f"{base}_{number}" not in used:
            return f"{base}_{number}"
    raise AssertionError("unreachable")


def replace_entry(
    entries: Mapping[str, Any], old_name: str, new_name: str, value: Any
) -> dict[str, Any]:
    """The entries with one renamed or changed in place, the others in their order."""
    return {
        new_name if name == old_name else name: value if name == old_name else old
        for name, old in entries.items()
    }


def move_entry(entries: Mapping[str, Any], name: str, step: int) -> dict[str, Any]:
    """The entries with `name` moved `step` places (-1 up, +1 down), kept within the list."""
    names = list(entries)
    index = names.index(name)
    target = max(0, min(len(names) - 1, index + step))
    names.insert(target, names.pop(index))
    return {key: entries[key] for key in names}


def with_field(model: type[BaseModel], current: BaseModel, name: str, value: Any) -> BaseModel:
    """`current` with one field changed, validated by its model (raises ValidationError)."""
    data = current.model_dump(by_alias=True)
    data[name] = value
    return model.model_validate(data)


def error_sentences(exc: ValidationError) -> list[str]:
    """Pydantic's messages as sentences, each with the place inside the field it concerns."""
    return [_sentence(error) for error in exc.errors(include_url=False)]


def _sentence(error: ErrorDetails) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required"
    rest = error["loc"][1:]
    place = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    return f"{place}: {message}" if place else message
