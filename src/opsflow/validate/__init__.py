"""Validation of a flow: a list of diagnostics, never an exception for a bad flow.

`refuse_invalid` is the one exception: the gate in front of running a flow.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pydantic import BaseModel

from opsflow.catalog.fields import walk_strings
from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.catalog.spec import NodeSpec
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow
from opsflow.perf import paused_gc
from opsflow.validate import graph as graph_checks
from opsflow.validate import nodes as node_checks
from opsflow.validate.declarations import check_declarations
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

    upstream = None if order is None else graph_checks.Upstream(graph)
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
    found += check_declarations(flow)
    found += _check_layout(flow, node_ids)
    found += check_subflows(flow, flow_path, catalog)
    return sorted(found, key=sort_key)


def _check_layout(flow: Flow, node_ids: Collection[str]) -> list[Diagnostic]:
    found = [
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
    return found + _check_groups(flow, node_ids)


def _check_groups(flow: Flow, node_ids: Collection[str]) -> list[Diagnostic]:
    """Groups are drawn around their nodes: each named node must exist and be in one group."""
    found: list[Diagnostic] = []
    seen_groups: set[str] = set()
    owner: dict[str, str] = {}
    for index, group in enumerate(flow.layout.groups):
        field = f"layout.groups[{index}]"
        if group.id in seen_groups:
            found.append(
                Diagnostic(
                    "layout-duplicate-group",
                    "warning",
                    f"two groups share the id '{group.id}'",
                    "give each group its own id",
                    field=f"{field}.id",
                )
            )
        seen_groups.add(group.id)
        for node_id in group.nodes:
            if node_id not in node_ids:
                found.append(
                    Diagnostic(
                        "layout-group-unknown-node",
                        "warning",
                        f"group '{group.id}' names node '{node_id}', which does not exist",
                        "remove it from the group's nodes",
                        field=f"{field}.nodes",
                    )
                )
            elif owner.setdefault(node_id, group.id) != group.id:
                found.append(
                    Diagnostic(
                        "layout-group-shared-node",
                        "warning",
                        f"node '{node_id}' is in group '{owner[node_id]}' and also in group "
                        f"'{group.id}'; a node belongs to one group",
                        f"remove it from the nodes of group '{group.id}'",
                        node=node_id,
                        field=f"{field}.nodes",
                    )
                )
    return found
