"""Structural checks on the flow's graph.

All checks are linear in the size of the flow. The hot path works on plain
adjacency lists (building them and sorting topologically takes 26 ms for a
10,000-node flow here, against 80 ms for a networkx DiGraph and its sort);
only when the sort finds a cycle is a networkx graph built, to name the
nodes of each cycle (strongly connected components, then `find_cycle`
inside each).

`Upstream` answers "is A upstream of B" in linear memory. It replaced a bit set
of ancestors per node, which made memory quadratic: validating a 50,000-node
chain whose steps refer to their parent, grandparent and a step halfway back
peaked at 518 MB (368 MB at 40,000); with the labels it peaks at 201 MB (167 MB
at 40,000). CPU time stayed within the noise of a busy machine (1.4-1.7 s against
1.6-1.8 s over two runs), and a question visits about one node whatever the size
(benchmarks/bench_validate.py, which also times a branched shape).
"""

from __future__ import annotations

from collections import Counter, deque
from typing import TYPE_CHECKING

from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.catalog.spec import NodeSpec
from opsflow.model.flow import Flow
from opsflow.validate.diagnostics import Diagnostic

if TYPE_CHECKING:
    import networkx as nx

MAX_NAMES_SHOWN = 8


class FlowGraph:
    """Successors and predecessors of each node id; edges to unknown nodes are left out."""

    def __init__(self, flow: Flow) -> None:
        self.succ: dict[str, list[str]] = {node.id: [] for node in flow.nodes}
        self.pred: dict[str, list[str]] = {node_id: [] for node_id in self.succ}
        succ, pred = self.succ, self.pred
        for edge in flow.edges:
            outgoing, incoming = succ.get(edge.source), pred.get(edge.target)
            if outgoing is not None and incoming is not None:
                outgoing.append(edge.target)
                incoming.append(edge.source)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.succ

    def topological_order(self) -> list[str] | None:
        """Nodes ordered so every edge points forward (Kahn), or None if there is a cycle."""
        waiting = {node_id: len(parents) for node_id, parents in self.pred.items()}
        order = [node_id for node_id, count in waiting.items() if count == 0]
        succ = self.succ
        index = 0
        while index < len(order):
            for child in succ[order[index]]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    order.append(child)
            index += 1
        return order if len(order) == len(waiting) else None

    def to_networkx(self) -> nx.DiGraph:
        import networkx as nx  # only needed to name cycles: keep the CLI's start fast

        graph = nx.DiGraph()
        graph.add_nodes_from(self.succ)
        graph.add_edges_from((a, b) for a, children in self.succ.items() for b in children)
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


def check_edges(flow: Flow, ports: dict[str, tuple[str, ...]]) -> list[Diagnostic]:
    """Edges must join existing nodes, leave through a real port and not repeat."""
    found: list[Diagnostic] = []
    node_ids = {node.id for node in flow.nodes}
    seen: set[tuple[str, str, str]] = set()
    for edge in flow.edges:
        source, port, target = edge.source, edge.port, edge.target
        if source not in node_ids:
            found.append(_unknown_end(edge.id, "from", source))
        if target not in node_ids:
            found.append(_unknown_end(edge.id, "to", target))
        valid = ports.get(source)
        if valid is not None and port not in valid:
            found.append(
                Diagnostic(
                    "unknown-port",
                    "error",
                    f"node '{source}' has no output port '{port}' "
                    f"(its ports are: {', '.join(valid)})",
                    "connect the edge to one of those ports",
                    node=source,
                    edge=edge.id,
                    field="port",
                )
            )
        key = (source, port, target)
        if key in seen:
            found.append(
                Diagnostic(
                    "duplicate-edge",
                    "error",
                    f"edge '{edge.id}' repeats another edge from '{source}' ({port}) to '{target}'",
                    "delete one of them",
                    edge=edge.id,
                )
            )
        seen.add(key)
    return found


def _unknown_end(edge_id: str, end: str, node_id: str) -> Diagnostic:
    return Diagnostic(
        "unknown-node",
        "error",
        f"edge '{edge_id}' goes {end} node '{node_id}', which does not exist",
        "remove the edge or restore the node",
        edge=edge_id,
        field=end,
    )


def check_triggers(flow: Flow, graph: FlowGraph, specs: dict[str, NodeSpec]) -> list[Diagnostic]:
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
        inbound = sorted(set(graph.pred.get(trigger, ())))
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


def check_cycles(flow_graph: FlowGraph) -> list[Diagnostic]:
    """Name the nodes of every cycle; call only when `topological_order` found one."""
    import networkx as nx

    graph = flow_graph.to_networkx()
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
        # Start from the smallest id and rotate to it, so the message is the same every run.
        cycle = nx.find_cycle(graph.subgraph(component), source=min(component))
        ring = [source for source, _ in cycle]
        start = ring.index(min(ring))
        ring = ring[start:] + ring[:start]
        path = [*ring, ring[0]]
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
    flow: Flow, graph: FlowGraph, specs: dict[str, NodeSpec]
) -> list[Diagnostic]:
    """Nodes no trigger leads to never run."""
    starts = [n.id for n in flow.nodes if _category(specs, n.id) == "trigger"]
    if not starts:
        return []
    seen = set(starts)
    queue = deque(starts)
    successors = graph.succ
    while queue:
        for successor in successors[queue.popleft()]:
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
    """A port of a routing node (condition, approval) that leads nowhere ends its branch.

    Not `error`: a failure with nothing wired to `error` fails the run, it is not quiet.
    """
    used = {(edge.source, edge.port) for edge in flow.edges}
    found: list[Diagnostic] = []
    for node in flow.nodes:
        spec = specs.get(node.id)
        if spec is None or not spec.routes or node.id not in ports:
            continue
        for port in ports[node.id]:
            if port != "error" and (node.id, port) not in used:
                found.append(
                    Diagnostic(
                        "port-unconnected",
                        "warning",
                        f"the '{port}' port of '{node.id}' leads nowhere, so the branch "
                        "ends quietly when it is taken",
                        "connect it to the next step (or to a notification) ",
                        node=node.id,
                        field=f"port:{port}",
                    )
                )
    return found


#: A node's place in one depth-first search: when it was entered, when it was finished,
#: and the lowest finish time among the nodes it leads to (its own included).
_Label = tuple[int, int, int]


class Upstream:
    """Which nodes lead to which: the one answer to "is A upstream of B".

    The validator asks it of every node reference, the canvas before every wire (a loop),
    the inspector for every expression typed. Most references are one or two steps up,
    so a question first walks back over a few nodes above `of`. The first one that
    walk cannot settle labels every node by a depth-first search down from the nodes
    with no way in (GRAIL's interval labels, Yildirim et al. 2010): a node inside
    another's search subtree is downstream of it, and one whose finish time or lowest
    reachable finish falls outside another's cannot be. Where that leaves a question
    open, a second labelling, by a search up from the ends, is made and both prune a
    backward search from `of`. On a graph with a cycle the labels mean nothing, and
    every question is a plain backward search.
    """

    #: How many nodes above `of` a question walks over before the flow is labelled.
    NEAR_STEPS = 16

    def __init__(self, graph: FlowGraph) -> None:
        self._graph = graph
        self._acyclic: bool | None = None  # None: not labelled yet
        self._down: dict[str, _Label] = {}
        self._up: dict[str, _Label] | None = None  # built when the downward labels fall short

    def is_upstream(self, node: str, of: str) -> bool:
        """Whether a path of edges leads from `node` to `of` (never true of a node itself)."""
        graph = self._graph
        parents = graph.pred.get(of)
        if parents is None or node == of or not graph.succ.get(node):
            return False
        if node in parents:
            return True
        if self._acyclic is None:
            near = self._near(node, of)
            if near is not None:
                return near
            self._label()
        if not self._acyclic:
            return node in self.ancestors(of)
        return self._search(node, of)

    def ancestors(self, of: str) -> set[str]:
        """Every node upstream of `of`."""
        pred = self._graph.pred
        found: set[str] = set()
        stack = [of]
        while stack:
            for parent in pred.get(stack.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        found.discard(of)
        return found

    def _near(self, node: str, of: str) -> bool | None:
        """The answer from the nodes just above `of`, or None if it lies further up."""
        pred = self._graph.pred
        seen = {of}
        queue = deque([of])
        while queue:
            for parent in pred[queue.popleft()]:
                if parent == node:
                    return True
                if parent not in seen:
                    if len(seen) > self.NEAR_STEPS:
                        return None
                    seen.add(parent)
                    queue.append(parent)
        return False

    def _label(self) -> None:
        succ, pred = self._graph.succ, self._graph.pred
        down = _depth_first(succ, [node for node, parents in pred.items() if not parents])
        self._acyclic = down is not None
        self._down = down or {}

    def _search(self, node: str, of: str) -> bool:
        """Walk back from `of` over the nodes that `node` may still lead to."""
        down, up, pred = self._down, self._up, self._graph.pred
        entered, finished, lowest = down[node]
        entered_up = finished_up = lowest_up = 0
        if up is not None:
            entered_up, finished_up, lowest_up = up[node]
        seen = {of}
        stack = [of]
        while stack:
            step = stack.pop()
            step_entered, step_finished, step_lowest = down[step]
            if entered <= step_entered and step_finished <= finished:
                return True  # `step` is in `node`'s subtree of the downward search
            if step_finished >= finished or step_lowest < lowest:
                continue  # whatever `node` leads to finished before it and reaches no lower
            if up is None:
                up = self._upward()
                entered_up, finished_up, lowest_up = up[node]
            step_entered, step_finished, step_lowest = up[step]
            if step_entered <= entered_up and finished_up <= step_finished:
                return True  # `node` is in `step`'s subtree of the upward search
            if finished_up >= step_finished or lowest_up < step_lowest:
                continue
            for parent in pred[step]:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return False

    def _upward(self) -> dict[str, _Label]:
        succ, pred = self._graph.succ, self._graph.pred
        up = _depth_first(pred, [node for node, children in succ.items() if not children])
        assert up is not None, "the downward search found no cycle"
        self._up = up
        return up


def _depth_first(adjacency: dict[str, list[str]], roots: list[str]) -> dict[str, _Label] | None:
    """Every node's label from a search along `adjacency` from `roots`; None on a cycle."""
    entered: dict[str, int] = {}
    labels: dict[str, _Label] = {}
    clock = 0
    for root in roots:
        entered[root] = clock
        clock += 1
        stack = [(root, iter(adjacency[root]))]
        while stack:
            current, children = stack[-1]
            for child in children:
                if child not in entered:
                    entered[child] = clock
                    clock += 1
                    stack.append((child, iter(adjacency[child])))
                    break
                if child not in labels:
                    return None  # entered, not finished: it is on the path here
            else:
                stack.pop()
                lowest = clock
                for child in adjacency[current]:
                    below = labels[child][2]
                    if below < lowest:
                        lowest = below
                labels[current] = (entered[current], clock, lowest)
                clock += 1
    # In a graph without a cycle every node is reached from a node with no way in.
    return labels if len(labels) == len(adjacency) else None


def can_connect(
    flow: Flow,
    source: str,
    port: str,
    target: str,
    *,
    catalog: Catalog | None = None,
    upstream: Upstream | None = None,
) -> str | None:
    """Why an edge from `source`'s `port` to `target` may not be added to `flow`, or None.

    The canvas asks before it draws or makes a wire, so the Studio never makes a flow
    the validator refuses for it (`cycle`, `trigger-has-inputs`, `duplicate-edge`).
    `upstream` is an index of this same `flow` kept between questions; without one, one
    is built. The answer is a sentence for the status bar.
    """
    if source == target:
        return "a node cannot be connected to itself"
    types = {node.id: node.type for node in flow.nodes}
    for end in (source, target):
        if end not in types:
            return f"there is no node '{end}'"
    spec = (catalog or default_catalog()).get(types[target])
    if spec is not None and spec.category == "trigger":
        return f"'{target}' is a trigger; triggers start a flow and have no input"
    for edge in flow.edges:
        if edge.source == source and edge.port == port and edge.target == target:
            return f"the '{port}' port of '{source}' is already connected to '{target}'"
    index = upstream if upstream is not None else Upstream(FlowGraph(flow))
    if index.is_upstream(target, source):
        return f"it would make a loop: '{target}' already leads to '{source}'"
    return None


def _category(specs: dict[str, NodeSpec], node_id: str) -> str | None:
    spec = specs.get(node_id)
    return spec.category if spec is not None else None


def _names(ids: list[str]) -> str:
    shown = ", ".join(f"'{i}'" for i in ids[:MAX_NAMES_SHOWN])
    return shown + (f" and {len(ids) - MAX_NAMES_SHOWN} more" if len(ids) > MAX_NAMES_SHOWN else "")
