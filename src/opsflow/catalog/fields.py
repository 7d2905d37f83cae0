"""Parameter field kinds: how each string of a node's parameters is treated.

A field's kind is recorded in its JSON Schema as `x-opsflow` so that the
validator knows what to parse and the Studio's inspector knows which editor
to show. Strings in `template` fields are Jinja templates rendered once
before the node runs; `expression` fields are Jinja expressions (conditions);
`credential` fields name a credential; `script` fields are literal code,
never templated (pass values to scripts as arguments or environment).
"""

from __future__ import annotations

import functools
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
    return dict(_field_kinds(model))[name]


@functools.cache
def _field_kinds(model: type[BaseModel]) -> tuple[tuple[str, FieldKind | None], ...]:
    """Each field of a model with its kind, computed once per model class."""
    kinds: list[tuple[str, FieldKind | None]] = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        kind = extra.get(KIND_KEY) if isinstance(extra, dict) else None
        kinds.append((name, kind if isinstance(kind, str) else None))  # type: ignore[arg-type]
    return tuple(kinds)


def walk_strings(
    params: BaseModel, prefix: str = "", *, only_set: bool = False
) -> list[tuple[str, str, FieldKind]]:
    """Every string in `params` whose field has a kind, as (field path, value, kind).

    Kinds propagate into lists, dicts and nested values of a field; nested
    parameter models declare their own kinds. With `only_set`, fields left at
    their defaults are skipped: defaults are the node type's own literals, so
    the validator need not look at them again for every node.
    """
    found: list[tuple[str, str, FieldKind]] = []
    chosen = params.model_fields_set if only_set else None
    for name, kind in _field_kinds(type(params)):
        if chosen is not None and name not in chosen:
            continue
        value = getattr(params, name)
        if value is None or isinstance(value, bool | int | float):
            continue
        if kind is None and isinstance(value, str):
            continue  # a literal string: nothing to report
        _walk_value(value, f"{prefix}{name}", kind, found, only_set)
    return found


def _walk_value(
    value: Any,
    path: str,
    kind: FieldKind | None,
    found: list[tuple[str, str, FieldKind]],
    only_set: bool,
) -> None:
    if isinstance(value, str):
        if kind is not None:
            found.append((path, value, kind))
    elif isinstance(value, BaseModel):
        found.extend(walk_strings(value, f"{path}.", only_set=only_set))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if isinstance(item, str):  # the common argv case, without a call per item
                if kind is not None:
                    found.append((f"{path}[{index}]", item, kind))
            else:
                _walk_value(item, f"{path}[{index}]", kind, found, only_set)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk_value(item, f"{path}.{key}", kind, found, only_set)
