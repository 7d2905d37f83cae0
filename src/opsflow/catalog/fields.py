"""Parameter field kinds: how each string of a node's parameters is treated.

A field's kind is recorded in its JSON Schema as `x-opsflow` so that the
validator knows what to parse and the Studio's inspector knows which editor
to show. Strings in `template` fields are Jinja templates rendered once
before the node runs; `expression` fields are Jinja expressions (conditions);
`credential` fields name a credential; `script` fields are literal code,
never templated (pass values to scripts as arguments or environment).
`render_params` renders a node's parameters for a run by these kinds, through `opsflow.expr`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from opsflow.expr import MAX_OUTPUT_CHARS, MAX_STEPS, ExpressionError, Rendering, is_template
from opsflow.model.flow import KIND_KEY as KIND_KEY

FieldKind = Literal["template", "expression", "credential", "script", "cron", "path", "form"]


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


def render_params(
    params: BaseModel,
    context: Mapping[str, Any],
    *,
    max_steps: int = MAX_STEPS,
    max_output_chars: int = MAX_OUTPUT_CHARS,
) -> dict[str, Any]:
    """A node's rendered input: its params as JSON-ready data, each template string rendered and
    each expression evaluated; other strings (scripts, credential names, paths) stay as written.

    Nested lists and mappings keep their shape. The values are rendered as one `Rendering`, so
    together they share the step limit and the size limit of `opsflow.expr`.
    """
    rendering = Rendering(context, max_steps=max_steps, max_output_chars=max_output_chars)

    def walk(value: Any, dumped: Any, kind: str | None, path: str) -> Any:
        if kind == "form" and isinstance(value, BaseModel):  # JSON Schema, as the flow file has it
            return value.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(value, BaseModel):
            return {
                name: walk(
                    getattr(value, name), item, field_kind(type(value), name), f"{path}.{name}"
                )
                for name, item in dumped.items()
            }
        if isinstance(value, str) and (
            kind == "expression" or (kind == "template" and is_template(value))
        ):
            try:
                return rendering.render(value, expression=kind == "expression")
            except ExpressionError as exc:
                raise ExpressionError(f"{path.lstrip('.')}: {exc}", exc.line) from None
        if (
            isinstance(value, list | tuple)
            and isinstance(dumped, list)
            and len(value) == len(dumped)
        ):
            return [
                walk(v, d, kind, f"{path}[{i}]")
                for i, (v, d) in enumerate(zip(value, dumped, strict=True))
            ]
        if isinstance(value, dict) and isinstance(dumped, dict) and len(value) == len(dumped):
            return {
                k: walk(v, d, kind, f"{path}.{k}")
                for (k, v), d in zip(value.items(), dumped.values(), strict=True)
            }
        return dumped

    return walk(params, params.model_dump(mode="json"), None, "")  # type: ignore[no-any-return]


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
