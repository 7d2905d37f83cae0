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
    """The inputs of a run: given values converted and checked, defaults for the rest."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        raise InputError(f"the flow has no input '{unknown[0]}'; its inputs are: {known}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            values[name] = coerce_value(name, spec, given[name])
        elif spec.default is not None:
            values[name] = spec.default
        elif spec.required:
            raise InputError(f"input '{name}' is required; give it with --input {name}=VALUE")
        else:
            values[name] = None
    return values


def coerce_value(name: str, spec: FlowInput, value: Any, *, what: str = "input") -> Any:
    """Convert one value (text from a terminal, or JSON) to the input's type and check it.

    `what` names the thing in messages ("input", "form field").
    """
    converted = _convert(f"{what} '{name}'", spec, value)
    _check(f"{what} '{name}'", spec, converted)
    return converted


def _convert(label: str, spec: FlowInput, value: Any) -> Any:
    kind = spec.type
    text = value.strip() if isinstance(value, str) else None
    try:
        if kind == "string":
            if not isinstance(value, str):
                raise ValueError("expected text")
            return value
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if text is not None and text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise ValueError("expected true or false")
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueError("expected a whole number")
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if text is not None:
                return int(text)
            raise ValueError("expected a whole number")
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError("expected a number")
            if isinstance(value, int | float):
                return value
            if text is not None:
                return float(text)
            raise ValueError("expected a number")
        expected = dict if kind == "object" else list
        parsed = json.loads(value) if isinstance(value, str) else value
        if not isinstance(parsed, expected):
            raise ValueError(f"expected a JSON {kind}")
        return parsed
    except (ValueError, TypeError) as exc:
        shown = repr(value)[:60]
        raise InputError(f"{label} is of type {kind}, and {shown} is not ({exc})") from None


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
