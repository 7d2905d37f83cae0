"""Checking and converting the values given for a flow's declared inputs.

Values come typed from JSON (sub-flows, the Studio) or as text from the
command line (`--input count=3`); both end up as the declared type, with
defaults filled in, or the run is refused with a sentence naming the input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from opsflow.errors import OpsflowError
from opsflow.model.flow import FlowInput

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class InputError(OpsflowError):
    """A value given for a flow input cannot be used."""


def coerce_inputs(declared: Mapping[str, FlowInput], given: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs of a run: given values converted and checked, defaults for the rest.

    Every problem is reported at once, in one InputError of one line: unknown names,
    values that do not fit, and required inputs left out or given empty.
    """
    problems: list[str] = []
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        problems.append(f"the flow has no input {_names(unknown, 'or')}; its inputs are: {known}")
    values: dict[str, Any] = {}
    missing: list[str] = []
    empty: list[str] = []
    for name, spec in declared.items():
        if name in given and spec.required and _is_empty(given[name]):
            empty.append(name)
        elif name in given:
            try:
                values[name] = coerce_value(name, spec, given[name])
            except InputError as exc:
                problems.append(str(exc))
        elif spec.default is not None:
            values[name] = spec.default
        elif spec.required:
            missing.append(name)
        else:
            values[name] = None
    if missing:
        problems.append(f"{_required(missing)}; give {_them(missing)} with {_flags(missing)}")
    if empty:
        problems.append(
            f"{_required(empty)} and cannot be empty; give {_them(empty)} a value with "
            f"{_flags(empty)}"
        )
    if problems:
        raise InputError("; ".join(problems))
    return values


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _names(names: list[str], joiner: str = "and") -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {joiner} {quoted[-1]}"


def _required(names: list[str]) -> str:
    if len(names) == 1:
        return f"input {_names(names)} is required"
    return f"inputs {_names(names)} are required"


def _them(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"


def _flags(names: list[str]) -> str:
    return " ".join(f"--input {name}=VALUE" for name in names)


def coerce_value(name: str, spec: FlowInput, value: Any, *, what: str = "input") -> Any:
    """Convert one value (text from a terminal, or JSON) to the input's type and check it.

    `what` names the thing in messages ("input", "form field").
    """
    try:
        converted = _convert(spec.type, value)
    except (ValueError, TypeError):
        raise InputError(_mismatch(what, name, spec.type, value)) from None
    _check(f"{what} '{name}'", spec, converted)
    return converted


#: What a value of each input type must be, in the words of a message.
_EXPECTED = {
    "string": "text",
    "boolean": "true or false",
    "integer": "an integer",
    "number": "a number",
    "object": "a JSON object",
    "array": "a JSON array",
}


def _mismatch(what: str, name: str, kind: str, value: Any) -> str:
    shown = repr(value)[:60]
    if what == "input":
        return f"input '{name}' must be {_EXPECTED[kind]}, not {shown}"
    # Approval forms keep the wording the Studio's form shows.
    return f"{what} '{name}' is of type {kind}, and {shown} is not {_EXPECTED[kind]}"


def _convert(kind: str, value: Any) -> Any:
    """`value` as the input type `kind`; ValueError or TypeError when it is not one."""
    text = value.strip() if isinstance(value, str) else None
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(kind)
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ValueError(kind)
    if kind == "integer":
        if isinstance(value, bool):
            raise ValueError(kind)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if text is not None:
            return int(text)
        raise ValueError(kind)
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError(kind)
        if isinstance(value, int | float):
            return value
        if text is not None:
            return float(text)
        raise ValueError(kind)
    expected = dict if kind == "object" else list
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, expected):
        raise ValueError(kind)
    return parsed


def _check(label: str, spec: FlowInput, value: Any) -> None:
    if spec.enum is not None and value not in spec.enum:
        allowed = ", ".join(json.dumps(v) for v in spec.enum)
        raise InputError(f"{label} must be one of {allowed}; got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise InputError(f"{label} must be at least {spec.minimum:g}; got {value!r}")
        if spec.maximum is not None and value > spec.maximum:
            raise InputError(f"{label} must be at most {spec.maximum:g}; got {value!r}")
    if isinstance(value, str):
        if spec.pattern is not None and not re.search(spec.pattern, value):
            raise InputError(f"{label} must match the pattern {spec.pattern!r}; got {value!r}")
        if spec.format is not None and not _has_format(spec.format, value):
            raise InputError(f"{label} must be a {spec.format}; got {value!r}")


def _has_format(fmt: str, value: str) -> bool:
    try:
        if fmt == "email":
            return bool(_EMAIL.match(value))
        if fmt == "date":
            date.fromisoformat(value)
            return True
        if fmt == "date-time":
            return datetime.fromisoformat(value).tzinfo is not None
        if fmt == "hostname":
            return bool(_HOSTNAME.match(value))
        if fmt == "uri":
            parts = urlsplit(value)
            return bool(parts.scheme and (parts.netloc or parts.path))
    except ValueError:
        return False
    return True
