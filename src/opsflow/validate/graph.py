"""Structural checks on the flow's graph with networkx.

All checks are linear in the size of the flow: cycles are looked for only
after `is_directed_acyclic_graph` says there is one, and then only inside
strongly connected components.
"""

from __future__ import annotations

from collections import Counter, deque

import networkx as nx

from opsflow.catalog.spec import NodeSpec
from opsflow.model.flow import Flow
from opsflow.validate.diagnostics import Diagnostic

MAX_NAMES_SHOWN = 8


def build_graph(flow: Flow) -> nx.DiGraph:
    """The flow as a DiGraph of node ids; edges to unknown nodes are left out."""
    graph = nx.DiGraph()
    graph.add_nodes_from(node.id for node in flow.nodes)
    graph.add_edges_from(
        (edge.source, edge.target)
        for edge in flow.edges
        if edge.source in graph and edge.target in graph
    )
    return graph


def check_ids(flow: Flow) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for node_id, count in Counter(node.id for node in flow.nodes).items():
        if count > 1:
            found.append(
                Diagnostic(
                    "duplicate-node-id",
                    "error",
                    f"{count} nodes share the id '{node_id}'",
                    "give each node its own id",
                    node=node_id,
                )
            )
    for edge_id, count in Counter(edge.id for edge in flow.edges).items():
        if count > 1:
            found.append(
                Diagnostic(
                    "duplicate-edge-id",
                    "error",
                    f"{count} edges share the id '{edge_id}'",
                    "give each edge its own id",
                    edge=edge_id,
                )
            )
    return found


def check_edges(
    flow: Flow, specs: dict[str, NodeSpec], ports: dict[str, tuple[str, ...]]
) -> list[Diagnostic]:
    """Edges must join existing nodes, leave through a real port and not repeat."""
    found: list[Diagnostic] = []
    node_ids = {node.id for node in flow.nodes}
    seen: set[tuple[str, str, str]] = set()
    for edge in flow.edges:
        for end, node_id in (("from", edge.source), ("to", edge.target)):
            if node_id not in node_ids:
                found.append(
                    Diagnostic(
                        "unknown-node",
                        "error",
                        f"edge '{edge.id}' goes {end} node '{node_id}', which does not exist",
                        "remove the edge or restore the node",
                        edge=edge.id,
                        field=end,
                    )
                )
        if edge.source in node_ids and edge.source in ports:
            valid = ports[edge.source]
            if edge.port not in valid:
                found.append(
                    Diagnostic(
                        "unknown-port",
                        "error",
                        f"node '{edge.source}' has no output port '{edge.port}' "
                        f"(its ports are: {', '.join(valid)})",
                        "connect the edge to one of those ports",
                        node=edge.source,
                        edge=edge.id,
                        field="port",
                    )
                )
        key = (edge.source, edge.port, edge.target)
        if key in seen:
            found.append(
                Diagnostic(
                    "duplicate-edge",
                    "error",
                    f"edge '{edge.id}' repeats another edge from '{edge.source}' "
                    f"({edge.port}) to '{edge.target}'",
                    "delete one of them",
                    edge=edge.id,
                )
            )
        seen.add(key)
    return found


def check_triggers(flow: Flow, graph: nx.DiGraph, specs: dict[str, NodeSpec]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    triggers = [n.id for n in flow.nodes if _category(specs, n.id) == "trigger"]
    if not triggers:
        found.append(
            Diagnostic(
                "no-trigger",
                "error",
                "the flow has no trigger, so nothing can start it",
                "add a trigger node (manual, schedule, webhook, file or poll)",
            )
        )
    for trigger in triggers:
        inbound = sorted(graph.predecessors(trigger)) if trigger in graph else []
        if inbound:
            found.append(
                Diagnostic(
                    "trigger-has-inputs",
                    "error",
                    f"trigger '{trigger}' has inbound edges from {_names(inbound)}; "
                    "triggers start runs and take no input",
                    "remove those edges or start the branch from another node",
                    node=trigger,
                )
            )
    return found


def check_cycles(graph: nx.DiGraph) -> list[Diagnostic]:
    if nx.is_directed_acyclic_graph(graph):
        return []
    found: list[Diagnostic] = []
    for node_id in sorted(nx.nodes_with_selfloops(graph)):
        found.append(
            Diagnostic(
                "cycle",
                "error",
                f"node '{node_id}' is connected to itself",
                "remove the edge; use a retry policy to repeat a step",
                node=node_id,
            )
        )
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    for component in sorted(components, key=lambda c: min(c)):
        cycle = nx.find_cycle(graph.subgraph(component))
        path = [source for source, _ in cycle] + [cycle[0][0]]
        shown = " -> ".join(path[: MAX_NAMES_SHOWN + 1])
        if len(path) > MAX_NAMES_SHOWN + 1:
            shown += " -> ..."
        found.append(
            Diagnostic(
                "cycle",
                "error",
                f"these nodes form a cycle: {shown}",
                "flows are acyclic; remove one edge of the cycle (use retries or a "
                "scheduled trigger to repeat work)",
                node=min(component),
            )
        )
    return found


def check_reachability(
    flow: Flow, graph: nx.DiGraph, specs: dict[str, NodeSpec]
) -> list[Diagnostic]:
    """Nodes no trigger leads to never run."""
    starts = [n.id for n in flow.nodes if _category(specs, n.id) == "trigger"]
    if not starts:
        return []
    seen = set(starts)
    queue = deque(starts)
    while queue:
        for successor in graph.successors(queue.popleft()):
            if successor not in seen:
                seen.add(successor)
                queue.append(successor)
    return [
        Diagnostic(
            "unreachable",
            "warning",
            f"no trigger leads to node '{node.id}', so it never runs",
            "connect it downstream of a trigger, or delete it",
            node=node.id,
        )
        for node in flow.nodes
        if node.id not in seen and node.id in specs
    ]


def check_open_ports(
    flow: Flow, specs: dict[str, NodeSpec], ports: dict[str, tuple[str, ...]]
) -> list[Diagnostic]:
    """A condition port that leads nowhere silently ends its branch."""
    used = {(edge.source, edge.port) for edge in flow.edges}
    found: list[Diagnostic] = []
    for node in flow.nodes:
        spec = specs.get(node.id)
        if spec is None or spec.category != "condition" or node.id not in ports:
            continue
        for port in ports[node.id]:
            if (node.id, port) not in used:
                found.append(
                    Diagnostic(
                        "port-unconnected",
                        "warning",
                        f"the '{port}' port of condition '{node.id}' leads nowhere, so the "
                        "branch ends quietly when it is taken",
                        "connect it to the next step (or to a notification) ",
                        node=node.id,
                        field=f"port:{port}",
                    )
                )
    return found


class Upstream:
    """For an acyclic graph: each node's ancestors as a bit set over a fixed order.

    Computed once in topological order (one big-int OR per edge), so checking
    "is u upstream of v" for every reference stays linear overall.
    """

    def __init__(self, graph: nx.DiGraph) -> None:
        order = list(nx.topological_sort(graph))
        self._bit = {node: 1 << index for index, node in enumerate(order)}
        self._ancestors: dict[str, int] = {}
        for node in order:
            mask = 0
            for parent in graph.predecessors(node):
                mask |= self._ancestors[parent] | self._bit[parent]
            self._ancestors[node] = mask

    def is_upstream(self, node: str, of: str) -> bool:
        """Whether `node` is an ancestor of `of`."""
        return bool(self._ancestors.get(of, 0) & self._bit.get(node, 0))


def _category(specs: dict[str, NodeSpec], node_id: str) -> str | None:
    spec = specs.get(node_id)
    return spec.category if spec is not None else None


def _names(ids: list[str]) -> str:
    shown = ", ".join(f"'{i}'" for i in ids[:MAX_NAMES_SHOWN])
    return shown + (f" and {len(ids) - MAX_NAMES_SHOWN} more" if len(ids) > MAX_NAMES_SHOWN else "")
