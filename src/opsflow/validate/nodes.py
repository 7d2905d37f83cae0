"""Checks on each node's own content: parameters, expressions and credentials."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from opsflow.catalog.fields import FieldKind
from opsflow.catalog.spec import NodeSpec
from opsflow.expr import (
    CONTEXT_NAMES,
    ExpressionError,
    References,
    is_template,
    parse_expression,
    parse_template,
)
from opsflow.model.flow import Flow, Node
from opsflow.validate.diagnostics import Diagnostic

#: Only these nodes put `item` and `index` in the context of their templates.
ITEM_SCOPED_TYPES = frozenset({"control.foreach"})


class UpstreamIndex(Protocol):
    """What the expression checks ask of the graph (`opsflow.validate.graph.Upstream`)."""

    def is_upstream(self, node: str, of: str) -> bool:
        """Whether a path of edges leads from `node` to `of`."""
        ...


def check_params(node: Node, spec: NodeSpec) -> tuple[BaseModel | None, list[Diagnostic]]:
    """Validate a node's params with its type's model; report each problem by field."""
    try:
        return spec.params.model_validate(node.params), []
    except ValidationError as exc:
        found = []
        for error in exc.errors(include_url=False):
            field = "params" + "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
            )
            message = str(error["msg"]).removeprefix("Value error, ")
            hint = "see `opsflow nodes show " + spec.type + "` for the parameters"
            if error["type"] == "extra_forbidden":
                message = f"'{error['loc'][-1]}' is not a parameter of {spec.type}"
            elif error["type"] == "missing":
                message = "is required"
            found.append(
                Diagnostic("invalid-params", "error", message, hint, node=node.id, field=field)
            )
        return None, found


def check_expressions(
    node: Node,
    strings: list[tuple[str, str, FieldKind]],
    flow: Flow,
    node_ids: Collection[str],
    upstream: UpstreamIndex | None,
) -> list[Diagnostic]:
    """Syntax, references to nodes that are not upstream, unknown names and inputs."""
    found: list[Diagnostic] = []
    for path, source, kind in strings:
        if kind not in ("template", "expression"):
            continue
        try:
            if kind == "expression":
                refs = parse_expression(source)
            elif is_template(source):
                refs = parse_template(source)
            else:
                continue
        except ExpressionError as exc:
            found.append(
                Diagnostic(
                    "expression-syntax",
                    "error",
                    str(exc),
                    "fix the template; see the README's section on expressions",
                    node=node.id,
                    field=f"params.{path}",
                )
            )
            continue
        if refs.nodes or refs.inputs or not refs.names <= _PLAIN_NAMES:
            found += _check_references(node, f"params.{path}", refs, flow, node_ids, upstream)
    return found


#: Context names whose use needs no further check.
_PLAIN_NAMES = CONTEXT_NAMES - {"item", "index"}


def _check_references(
    node: Node,
    field: str,
    refs: References,
    flow: Flow,
    node_ids: Collection[str],
    upstream: UpstreamIndex | None,
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for referenced in sorted(refs.nodes):  # a set's order changes from run to run
        if referenced == node.id:
            found.append(
                Diagnostic(
                    "not-upstream",
                    "error",
                    f"refers to its own output (nodes.{referenced}); a node's output "
                    "exists only after it ran",
                    "refer to a node upstream of this one",
                    node=node.id,
                    field=field,
                )
            )
        elif referenced not in node_ids:
            found.append(
                Diagnostic(
                    "not-upstream",
                    "error",
                    f"refers to nodes.{referenced}, but there is no node '{referenced}'",
                    "check the node id (ids, not titles, are used in expressions)",
                    node=node.id,
                    field=field,
                )
            )
        elif upstream is not None and not upstream.is_upstream(referenced, node.id):
            found.append(
                Diagnostic(
                    "not-upstream",
                    "error",
                    f"refers to nodes.{referenced}, which is not upstream of '{node.id}', "
                    "so its output may not exist when this node runs",
                    f"connect '{referenced}' before '{node.id}', or use another value",
                    node=node.id,
                    field=field,
                )
            )
    for name in sorted(refs.names - CONTEXT_NAMES):
        found.append(
            Diagnostic(
                "unknown-name",
                "warning",
                f"uses '{name}', which is not in the run context "
                f"({', '.join(sorted(CONTEXT_NAMES))})",
                f"did you mean inputs.{name} or vars.{name}?",
                node=node.id,
                field=field,
            )
        )
    if refs.names & {"item", "index"} and node.type not in ITEM_SCOPED_TYPES:
        found.append(
            Diagnostic(
                "unknown-name",
                "warning",
                "uses 'item' or 'index', which exist only in a for-each node's inputs",
                "move this step into the for-each body flow",
                node=node.id,
                field=field,
            )
        )
    for name in sorted(refs.inputs - flow.inputs.keys()):
        found.append(
            Diagnostic(
                "unknown-input",
                "warning",
                f"uses inputs.{name}, but the flow declares no input '{name}'",
                "declare it under the flow's inputs, or fix the name",
                node=node.id,
                field=field,
            )
        )
    return found


def check_credentials(
    node: Node,
    strings: list[tuple[str, str, FieldKind]],
    spec: NodeSpec,
    flow: Flow,
    known: Collection[str] | None,
) -> list[Diagnostic]:
    """Credentials are referenced by name; the name must be declared or installed."""
    found: list[Diagnostic] = []
    for path, name, kind in strings:
        if kind != "credential":
            continue
        field = f"params.{path}"
        declared = flow.credentials.get(name)
        if declared is None and (known is None or name not in known):
            found.append(
                Diagnostic(
                    "unknown-credential",
                    "warning",
                    f"uses credential '{name}', which the flow does not declare"
                    + ("" if known is None else " and this machine does not have"),
                    f"declare it under the flow's credentials, or run "
                    f"`opsflow credentials set {name}`",
                    node=node.id,
                    field=field,
                )
            )
            continue
        allowed = _allowed_kinds(spec, path)
        if declared is not None and allowed and declared.kind not in allowed:
            found.append(
                Diagnostic(
                    "credential-kind",
                    "error",
                    f"credential '{name}' is of kind {declared.kind}, but this field takes "
                    f"{' or '.join(allowed)}",
                    "choose a credential of a fitting kind",
                    node=node.id,
                    field=field,
                )
            )
    return found


def _allowed_kinds(spec: NodeSpec, path: str) -> list[str]:
    top = path.split(".", 1)[0].split("[", 1)[0]
    info = spec.params.model_fields.get(top)
    extra = info.json_schema_extra if info is not None else None
    kinds: Any = extra.get("x-opsflow-credential-kinds") if isinstance(extra, dict) else None
    return [str(kind) for kind in kinds] if isinstance(kinds, list) else []


def check_approval(node: Node, params: BaseModel) -> list[Diagnostic]:
    if getattr(params, "timeout_s", None) is None:
        return [
            Diagnostic(
                "approval-no-timeout",
                "warning",
                "this approval has no timeout, so its branch can wait forever",
                "set a timeout and connect the 'timeout' port",
                node=node.id,
                field="params.timeout_s",
            )
        ]
    return []


def check_flow_outputs(flow: Flow, node_ids: Collection[str]) -> list[Diagnostic]:
    """Flow outputs are templates rendered at the end of a run, over any node's output."""
    found: list[Diagnostic] = []
    for name, source in flow.outputs.items():
        field = f"outputs.{name}"
        if not _IDENTIFIER.match(name):
            found.append(
                Diagnostic(
                    "invalid-output",
                    "error",
                    f"output name '{name}' is not an identifier",
                    "use lower-case letters, digits and underscores",
                    field=field,
                )
            )
        try:
            refs = parse_template(source) if is_template(source) else None
        except ExpressionError as exc:
            found.append(
                Diagnostic("expression-syntax", "error", str(exc), "fix the template", field=field)
            )
            continue
        for referenced in sorted(refs.nodes if refs else ()):
            if referenced not in node_ids:
                found.append(
                    Diagnostic(
                        "not-upstream",
                        "error",
                        f"refers to nodes.{referenced}, but there is no node '{referenced}'",
                        "check the node id",
                        field=field,
                    )
                )
    return found


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
