"""The rules for what a flow declares: the names of its inputs, variables and credentials, and
whether each input's default and allowed values fit its type, pattern and bounds.

`validate_flow` reports them with the rest of the flow; `added_problems` judges one edit of one
declaration, so an editor can refuse it with the very sentence the validator would print.
"""

from __future__ import annotations

import re
from typing import Any

from opsflow.credentials.kinds import NAME_PATTERN as CREDENTIAL_NAME
from opsflow.model.flow import NODE_ID_PATTERN, Flow, FlowInput
from opsflow.validate.diagnostics import Diagnostic
from opsflow.validate.nodes import check_flow_outputs

#: Inputs and variables are read in expressions as `inputs.<name>` and `vars.<name>`, so their
#: names follow the rule of node ids (and of the names `action.set_vars` sets).
IDENTIFIER = re.compile(NODE_ID_PATTERN)

#: What one entry of each named section is called in a sentence.
_WHAT = {"inputs": "input", "vars": "variable", "credentials": "credential", "outputs": "output"}

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def check_declarations(flow: Flow) -> list[Diagnostic]:
    """Names of inputs, variables and credentials, and each input's default and enum."""
    found = [
        problem
        for section in ("inputs", "vars", "credentials")
        for name in getattr(flow, section)
        if (problem := name_problem(section, name)) is not None
    ]
    for name, spec in flow.inputs.items():
        found += check_input(name, spec)
    return found


def name_problem(section: str, name: str) -> Diagnostic | None:
    """Why `name` cannot name an entry of `section` ("inputs", "vars", ...), or None."""
    field = f"{section}.{name}"
    what = _WHAT.get(section, "entry")
    if section == "credentials":
        if CREDENTIAL_NAME.match(name):
            return None
        return Diagnostic(
            "invalid-credential",
            "error",
            f"credential name '{name}' cannot be used",
            "use letters, digits, '-', '_' and '.', starting with a letter or digit "
            "(at most 100 characters)",
            field=field,
        )
    if IDENTIFIER.match(name):
        return None
    code = {"inputs": "invalid-input", "vars": "invalid-var", "outputs": "invalid-output"}
    return Diagnostic(
        code.get(section, "invalid-name"),
        "error",
        f"{what} name '{name}' is not an identifier",
        "use lower-case letters, digits and underscores, starting with a letter or '_' "
        "(at most 64)",
        field=field,
    )


def check_input(name: str, spec: FlowInput) -> list[Diagnostic]:
    """The default and the allowed values of input `name` must fit its type and constraints."""
    found: list[Diagnostic] = []
    expected = _PYTHON_TYPES[spec.type]
    values = ([] if spec.default is None else [spec.default]) + list(spec.enum or [])
    for value in values:
        wrong_bool = isinstance(value, bool) and spec.type in ("integer", "number")
        if not isinstance(value, expected) or wrong_bool:
            found.append(
                _input_problem(
                    name,
                    f"is of type {spec.type}, but {value!r} is not",
                    "fix the default or the enum values",
                )
            )
            break
    found += _check_default(name, spec)
    if spec.enum is not None and spec.default is not None and spec.default not in spec.enum:
        found.append(
            _input_problem(
                name,
                f"defaults to {spec.default!r}, which is not one of its allowed values",
                "pick a default from the enum",
            )
        )
    return found


def _check_default(name: str, spec: FlowInput) -> list[Diagnostic]:
    """The default must satisfy the input's own pattern and bounds."""
    default: Any = spec.default
    problem = ""
    if isinstance(default, str) and spec.pattern and not re.search(spec.pattern, default):
        problem = f"defaults to {default!r}, which does not match its pattern {spec.pattern!r}"
    numeric = isinstance(default, int | float) and not isinstance(default, bool)
    if numeric and spec.minimum is not None and default < spec.minimum:
        problem = f"defaults to {default!r}, below its minimum {spec.minimum:g}"
    if numeric and spec.maximum is not None and default > spec.maximum:
        problem = f"defaults to {default!r}, above its maximum {spec.maximum:g}"
    if not problem:
        return []
    return [_input_problem(name, problem, "fix the default or the constraint")]


def _input_problem(name: str, problem: str, hint: str) -> Diagnostic:
    return Diagnostic(
        "input-type", "error", f"input '{name}' {problem}", hint, field=f"inputs.{name}"
    )


def entry_problems(flow: Flow, place: str) -> list[Diagnostic]:
    """The errors about one declaration (`inputs.port`, `outputs.status`) in `flow`.

    Outputs are judged with the flow's nodes, so pass the whole flow, not only its header.
    """
    section = place.split(".", 1)[0]
    found = check_declarations(flow)
    if section == "outputs":
        found += check_flow_outputs(flow, {node.id for node in flow.nodes})
    return [
        d
        for d in found
        if d.severity == "error" and d.field is not None and _within(d.field, place)
    ]


def added_problems(before: Flow, after: Flow, place: str) -> list[Diagnostic]:
    """The errors about `place` that an edit from `before` to `after` brings in.

    A problem the declaration had already is not held against the edit, so an entry that came
    broken from a file can still be changed, one step at a time, until it is right.
    """
    known = {d.message for d in entry_problems(before, place)}
    return [d for d in entry_problems(after, place) if d.message not in known]


def _within(field: str, place: str) -> bool:
    return field == place or field.startswith((f"{place}.", f"{place}["))
