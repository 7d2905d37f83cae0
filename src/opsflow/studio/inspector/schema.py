"""Reading a parameter model's JSON Schema into one `FieldInfo` per field.

The inspector never looks at pydantic internals: it reads the same JSON Schema
the CLI publishes (`x-opsflow` marks the field kinds) and decides here which
editor suits each field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from opsflow.catalog.fields import KIND_KEY


class _Missing:
    """The marker for "no value stored": the field is left at its default."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


#: A parameter key that is absent from `node.params`.
MISSING: Any = _Missing()

EditorKind = Literal[
    "text",
    "multiline",
    "template",
    "expression",
    "script",
    "cron",
    "credential",
    "integer",
    "number",
    "bool",
    "choice",
    "string_list",
    "choice_list",
    "number_list",
    "string_map",
    "form",
    "json",
]

#: Template fields that usually hold several lines of text.
_MULTILINE_NAMES = frozenset({"body", "text", "message", "content", "comment", "stdin"})
#: Words written in capitals in labels.
_ACRONYMS = {
    "url": "URL",
    "tls": "TLS",
    "smtp": "SMTP",
    "ca": "CA",
    "api": "API",
    "id": "ID",
    "ssh": "SSH",
    "http": "HTTP",
    "json": "JSON",
    "cwd": "Working folder",
}
_SCALAR_EDITORS: dict[str, EditorKind] = {
    "integer": "integer",
    "number": "number",
    "boolean": "bool",
}
_UNITS = {"s": "(s)", "min": "(min)", "bytes": "(bytes)", "mb": "(MB)"}


@dataclass(frozen=True)
class FieldInfo:
    """One parameter as the inspector sees it."""

    name: str
    title: str
    description: str
    #: The field's schema with `$ref`s resolved and a `null` alternative removed.
    schema: dict[str, Any]
    #: The `x-opsflow` kind (template, expression, credential, ...), if any.
    kind: str | None
    required: bool
    nullable: bool
    #: The default value (MISSING for required fields).
    default: Any
    editor: EditorKind
    credential_kinds: tuple[str, ...] = ()
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING


def label_for(name: str, schema_title: str | None = None) -> str:
    """A readable label: "request_timeout_s" -> "Request timeout (s)".

    A title written by the node type's author wins over one pydantic derived
    from the name.
    """
    derived = name.replace("_", " ").title()
    if schema_title and schema_title != derived:
        return schema_title
    words = name.split("_")
    unit = _UNITS.get(words[-1]) if len(words) > 1 else None
    if unit:
        words = words[:-1]
    shown = [_ACRONYMS.get(word, word) for word in words]
    text = " ".join(shown)
    text = text[:1].upper() + text[1:]
    return f"{text} {unit}" if unit else text


def read_fields(model: type[BaseModel]) -> list[FieldInfo]:
    """Every field of a parameter model, in declaration order, with its editor."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    infos = []
    for name, raw in schema.get("properties", {}).items():
        info = model.model_fields.get(name)
        default: Any = MISSING
        if name not in required and info is not None:
            default = info.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json", by_alias=True)
        infos.append(_field(name, raw, defs, name in required, default))
    return infos


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = dict(defs.get(ref.removeprefix("#/$defs/"), {}))
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _field(
    name: str, raw: dict[str, Any], defs: dict[str, Any], required: bool, default: Any
) -> FieldInfo:
    schema = _resolve(raw, defs)
    nullable = False
    options = schema.get("anyOf")
    if isinstance(options, list):
        others = [_resolve(o, defs) for o in options if o.get("type") != "null"]
        nullable = len(others) < len(options)
        if len(others) == 1:
            merged = {k: v for k, v in schema.items() if k != "anyOf"}
            schema = {**others[0], **merged}
    kind = raw.get(KIND_KEY)
    minimum = schema.get("minimum", schema.get("exclusiveMinimum"))
    return FieldInfo(
        name=name,
        title=label_for(name, raw.get("title")),
        description=str(raw.get("description", "")),
        schema=schema,
        kind=kind if isinstance(kind, str) else None,
        required=required,
        nullable=nullable,
        default=default,
        editor=_editor_for(name, schema, kind),
        credential_kinds=tuple(raw.get("x-opsflow-credential-kinds", ())),
        choices=tuple(schema.get("enum", ())),
        minimum=minimum,
        maximum=schema.get("maximum"),
        exclusive_minimum="exclusiveMinimum" in schema,
    )


def _is_string_map(schema: dict[str, Any]) -> bool:
    if schema.get("type") != "object" or schema.get("properties"):
        return False
    values = list(schema.get("patternProperties", {}).values())
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        values.append(extra)
    elif extra is not None or not values:
        return False
    return all(value.get("type") == "string" for value in values)


def _editor_for(name: str, schema: dict[str, Any], kind: Any) -> EditorKind:
    simple: dict[str, EditorKind] = {
        "credential": "credential",
        "script": "script",
        "cron": "cron",
        "form": "form",
    }
    if kind in simple:
        return simple[kind]
    kind_of = schema.get("type")
    if "enum" in schema and kind_of in ("string", "integer", "number", None):
        return "choice"
    if kind_of == "string":
        if kind == "expression":
            return "expression"
        long_text = name in _MULTILINE_NAMES or schema.get("maxLength", 0) > 2000
        if kind == "template":
            return "multiline" if long_text else "template"
        return "text"
    if kind_of in ("integer", "number", "boolean"):
        return _SCALAR_EDITORS[kind_of]
    if kind_of == "array":
        items = schema.get("items", {})
        if "enum" in items:
            return "choice_list"
        if items.get("type") == "string":
            return "string_list"
        if items.get("type") in ("integer", "number"):
            return "number_list"
        return "json"
    if _is_string_map(schema):
        return "string_map"
    return "json"


def json_type_error(value: Any, schema: dict[str, Any]) -> str | None:
    """Why `value` has the wrong JSON type for `schema` (top level only), or None."""
    wanted = schema.get("type")
    if wanted is None:
        options = [o.get("type") for o in schema.get("anyOf", []) if isinstance(o, dict)]
        if not options or None in options:
            return None
        wanted = options
    names = wanted if isinstance(wanted, list) else [wanted]
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "null": lambda v: v is None,
    }
    if any(checks.get(n, lambda v: True)(value) for n in names):
        return None
    article = {"object": "an object", "array": "a list", "integer": "an integer"}
    wanted_text = " or ".join(article.get(n, f"a {n}") for n in names)
    return f"must be {wanted_text}"


def field_path_head(path: str) -> tuple[str, str]:
    """Split a diagnostic field path: "params.headers.X-Key" -> ("params.headers", "X-Key")."""
    match = re.match(r"^(params\.[^.\[]+|[^.\[]+)(.*)$", path)
    if match is None:
        return path, ""
    return match.group(1), match.group(2).lstrip(".")
