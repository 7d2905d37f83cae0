"""Parameter field kinds: how each string of a node's parameters is treated.

A field's kind is recorded in its JSON Schema as `x-opsflow` so that the
validator knows what to parse and the Studio's inspector knows which editor
to show. Strings in `template` fields are Jinja templates rendered once
before the node runs; `expression` fields are Jinja expressions (conditions);
`credential` fields name a credential; `script` fields are literal code,
never templated (pass values to scripts as arguments or environment).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FieldKind = Literal["template", "expression", "credential", "script", "cron", "path", "form"]
KIND_KEY = "x-opsflow"


class Params(BaseModel):
    """Base of every node parameter model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def kind_field(kind: FieldKind, default: Any = ..., **kwargs: Any) -> Any:
    """A pydantic Field tagged with its Opsflow kind."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra[KIND_KEY] = kind
    if "credential_kinds" in kwargs:
        extra["x-opsflow-credential-kinds"] = list(kwargs.pop("credential_kinds"))
    return Field(default, json_schema_extra=extra, **kwargs)


def template(default: Any = ..., **kwargs: Any) -> Any:
    return kind_field("template", default, **kwargs)


def expression(default: Any = ..., **kwargs: Any) -> Any:
    return kind_field("expression", default, **kwargs)


def credential(default: Any = None, *, kinds: tuple[str, ...], **kwargs: Any) -> Any:
    return kind_field("credential", default, credential_kinds=kinds, **kwargs)


def field_kind(model: type[BaseModel], name: str) -> FieldKind | None:
    extra = model.model_fields[name].json_schema_extra
    if isinstance(extra, dict):
        kind = extra.get(KIND_KEY)
        if isinstance(kind, str):
            return kind  # type: ignore[return-value]
    return None


def walk_strings(params: BaseModel, prefix: str = "") -> list[tuple[str, str, FieldKind]]:
    """Every string in `params` whose field has a kind, as (field path, value, kind).

    Kinds propagate into lists, dicts and nested values of a field; nested
    parameter models declare their own kinds.
    """
    found: list[tuple[str, str, FieldKind]] = []
    for name in type(params).model_fields:
        value = getattr(params, name)
        _walk_value(value, f"{prefix}{name}", field_kind(type(params), name), found)
    return found


def _walk_value(
    value: Any, path: str, kind: FieldKind | None, found: list[tuple[str, str, FieldKind]]
) -> None:
    if isinstance(value, BaseModel):
        found.extend(walk_strings(value, f"{path}."))
    elif isinstance(value, str):
        if kind is not None:
            found.append((path, value, kind))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk_value(item, f"{path}[{index}]", kind, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk_value(item, f"{path}.{key}", kind, found)
