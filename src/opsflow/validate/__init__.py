"""Validation of a flow: a list of diagnostics, never an exception for a bad flow.

`refuse_invalid` is the one exception: the gate in front of running a flow.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from pydantic import BaseModel

from opsflow.catalog.fields import walk_strings
from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.catalog.spec import NodeSpec
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow, FlowInput
from opsflow.perf import paused_gc
from opsflow.validate import graph as graph_checks
from opsflow.validate import nodes as node_checks
from opsflow.validate.diagnostics import Diagnostic, has_errors, sort_key
from opsflow.validate.subflows import check_subflows

__all__ = ["Diagnostic", "has_errors", "refuse_invalid", "validate_flow"]

#: How many errors `refuse_invalid` spells out before counting the rest.
REFUSAL_SHOWN = 3


def validate_flow(
    flow: Flow,
    catalog: Catalog | None = None,
    known_credentials: Collection[str] | None = None,
    *,
    flow_path: Path | None = None,
) -> list[Diagnostic]:
    """Every problem of `flow`, errors first.

    `known_credentials` are the credential names available on this machine;
    when given, a credential is known if the flow declares it or it is there.
    `flow_path` is the flow's file; when given, the sub-flow files it calls
    are checked too (they are named relative to it).
    """
    with paused_gc():
        return _validate(flow, catalog, known_credentials, flow_path)


def refuse_invalid(flow: Flow, flow_path: Path | None, catalog: Catalog | None = None) -> None:
    """Raise `OpsflowError` with a one-line summary when `flow` has errors; warnings pass."""
    errors = [d for d in validate_flow(flow, catalog, flow_path=flow_path) if d.severity == "error"]
    if not errors:
        return
    name = str(flow_path) if flow_path is not None else f"flow '{flow.id}'"
    count = f"{len(errors)} error{'' if len(errors) == 1 else 's'}"
    # Messages can quote flow text; collapsing whitespace keeps the summary on one line.
    shown = "; ".join(" ".join(d.format().split()) for d in errors[:REFUSAL_SHOWN])
    more = f"; and {len(errors) - REFUSAL_SHOWN} more" if len(errors) > REFUSAL_SHOWN else ""
    # An unsaved flow has no file to name: the summary names the flow instead.
    advice = (
        f"run `opsflow validate {name}` to see them all"
        if flow_path is not None
        else "validate the flow to see them all"
    )
    raise OpsflowError(f"{name}: the flow has {count} and cannot run: {shown}{more}; {advice}")


def _validate(
    flow: Flow,
    catalog: Catalog | None,
    known_credentials: Collection[str] | None,
    flow_path: Path | None,
) -> list[Diagnostic]:
    catalog = catalog or default_catalog()
    found: list[Diagnostic] = []
    specs: dict[str, NodeSpec] = {}
    params: dict[str, BaseModel] = {}
    ports: dict[str, tuple[str, ...]] = {}
    for node in flow.nodes:
        spec = catalog.get(node.type)
        if spec is None:
            found.append(
                Diagnostic(
                    "unknown-node-type",
                    "error",
                    f"node type '{node.type}' is not installed",
                    "run `opsflow nodes` to list the installed types",
                    node=node.id,
                    field="type",
                )
            )
            continue
        specs[node.id] = spec
        valid, problems = node_checks.check_params(node, spec)
        if problems:
            found += problems
            if spec.dynamic_ports is None:
                ports[node.id] = spec.ports
        else:
            params[node.id] = valid  # type: ignore[assignment]
            ports[node.id] = spec.output_ports(valid) if spec.dynamic_ports else spec.ports

    graph = graph_checks.FlowGraph(flow)
    found += graph_checks.check_ids(flow)
    found += graph_checks.check_edges(flow, ports)
    found += graph_checks.check_triggers(flow, graph, specs)
    order = graph.topological_order()
    if order is None:
        found += graph_checks.check_cycles(graph)
    found += graph_checks.check_reachability(flow, graph, specs)
    found += graph_checks.check_open_ports(flow, specs, ports)

    upstream = None if order is None else graph_checks.Upstream(graph, order)
    node_ids = graph.succ.keys()
    for node in flow.nodes:
        valid_params = params.get(node.id)
        if valid_params is None:
            continue
        spec = specs[node.id]
        strings = walk_strings(valid_params, only_set=True)
        if strings:
            found += node_checks.check_expressions(node, strings, flow, node_ids, upstream)
            found += node_checks.check_credentials(node, strings, spec, flow, known_credentials)
        if spec.type == "control.approval":
            found += node_checks.check_approval(node, valid_params)
    found += node_checks.check_flow_outputs(flow, node_ids)
    found += _check_inputs(flow)
    found += _check_layout(flow, node_ids)
    found += check_subflows(flow, flow_path, catalog)
    return sorted(found, key=sort_key)


def _check_inputs(flow: Flow) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    python_types: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "integer": (int,),
        "number": (int, float),
        "boolean": (bool,),
        "object": (dict,),
        "array": (list,),
    }
    for name, spec in flow.inputs.items():
        expected = python_types[spec.type]
        values = ([] if spec.default is None else [spec.default]) + list(spec.enum or [])
        for value in values:
            wrong_bool = isinstance(value, bool) and spec.type in ("integer", "number")
            if not isinstance(value, expected) or wrong_bool:
                found.append(
                    Diagnostic(
                        "input-type",
                        "error",
                        f"input '{name}' is of type {spec.type}, but {value!r} is not",
                        "fix the default or the enum values",
                        field=f"inputs.{name}",
                    )
                )
                break
        found += _check_input_default(name, spec)
        if spec.enum is not None and spec.default is not None and spec.default not in spec.enum:
            found.append(
                Diagnostic(
                    "input-type",
                    "error",
                    f"input '{name}' defaults to {spec.default!r}, which is not one of its "
                    "allowed values",
                    "pick a default from the enum",
                    field=f"inputs.{name}",
                )
            )
    return found


def _check_input_default(name: str, spec: FlowInput) -> list[Diagnostic]:
    """The default must satisfy the input's own pattern and bounds."""
    default = spec.default
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
    return [
        Diagnostic(
            "input-type",
            "error",
            f"input '{name}' {problem}",
            "fix the default or the constraint",
            field=f"inputs.{name}",
        )
    ]


def _check_layout(flow: Flow, node_ids: Collection[str]) -> list[Diagnostic]:
    return [
        Diagnostic(
            "layout-unknown-node",
            "warning",
            f"the layout places node '{node_id}', which does not exist",
            "save the flow from the Studio to tidy the layout",
            field=f"layout.nodes.{node_id}",
        )
        for node_id in flow.layout.nodes
        if node_id not in node_ids
    ]
