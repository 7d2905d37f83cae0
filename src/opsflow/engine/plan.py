"""The execution semantics of a run, as a pure and deterministic state machine.

A run starts at one trigger and every node finishes once: `succeeded` through
one of its ports, `failed`, or `skipped`. An edge is live when its source took
the edge's port and dead when it took another, failed or was skipped. A node
with join `all` becomes ready when all its inbound edges are decided and one is
live; with join `any`, on its first live edge. A node whose inbound edges are
all dead is skipped, which kills its own edges (dead-path elimination). A
failure leaves through `error` when that port is wired; otherwise it stops the
run, as `cancel()` does: nodes that would become ready are skipped instead, and
the run is over once nothing is ready or running. Edges are still decided after
a stop (disabled nodes still pass through), so a stopped run's final state
depends only on which nodes ran and how they ended, not on when.

`PlanGraph` is built once per flow and shared by all its runs; `Plan` is the
state of one run. Every call costs O(edges it decides), and every order comes
from the flow's lists, never from hashing, so the same calls give the same
answers in the local runner and in a Temporal workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from pydantic import BaseModel, ValidationError

from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.catalog.spec import NodeSpec
from opsflow.model.flow import Flow, Node
from opsflow.perf import paused_gc

NodeState = Literal["pending", "ready", "running", "succeeded", "failed", "skipped"]
Outcome = Literal["succeeded", "failed", "cancelled"]

#: The port a failure leaves through when it is wired (actions, for-each).
ERROR_PORT = "error"

# A node's status in a run, as small ints indexing plain lists: the hot path
# does no hashing beyond turning the caller's node id into its number.
_PENDING, _READY, _RUNNING, _SUCCEEDED, _FAILED, _SKIPPED, _UNREACHED = range(7)
_STATE_NAMES: tuple[NodeState, ...] = (
    "pending",
    "ready",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "skipped",  # unreachable from the run's trigger: never scheduled
)

#: Work for the propagation loop: a node that just finished and the port it
#: took (None: every outbound edge is dead).
_Work = list[tuple[int, str | None]]


class NodeResult(NamedTuple):
    """Where a node stands: its state and, once it finished, the port it took."""

    state: NodeState
    port: str | None = None


@dataclass(slots=True)
class Step:
    """What one call changed, in a deterministic order, for the runner to act on."""

    #: Nodes the runner should start now (or queue for a free slot).
    ready: list[str] = field(default_factory=list)
    #: Nodes that will never run: their inbound edges are all dead, or the run stopped.
    skipped: list[str] = field(default_factory=list)
    #: Disabled nodes the plan finished without running them; `Plan.result` has the port.
    passed_through: list[str] = field(default_factory=list)

    def extend(self, other: Step) -> None:
        self.ready += other.ready
        self.skipped += other.skipped
        self.passed_through += other.passed_through


class PlanGraph:
    """What the plan needs to know about a flow, computed once and shared by its runs.

    The flow must be valid (see `opsflow.validate`); a graph the plan cannot run
    (an unknown node type, an edge to a missing node or from a missing port, a
    cycle) raises ValueError. `params` are the validated parameters by node id;
    only nodes whose ports depend on them (a switch's cases) need them, and those
    that are missing are validated here.
    """

    def __init__(
        self,
        flow: Flow,
        catalog: Catalog | None = None,
        params: Mapping[str, BaseModel] | None = None,
    ) -> None:
        with paused_gc():  # many small lists and tuples: see opsflow.perf
            self._build(flow, catalog or default_catalog(), params)
        self._starts: dict[int, tuple[list[int], list[int]]] = {}

    def _build(self, flow: Flow, catalog: Catalog, params: Mapping[str, BaseModel] | None) -> None:
        self.flow_id = flow.id
        #: Node ids in the flow's order; a node's number is its position here.
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.category: list[str] = []
        #: The ports each node may finish through (`error` only by failing).
        self.ports: list[tuple[str, ...]] = []
        #: The port a disabled node passes through: its type's first non-error port.
        self.pass_port: list[str | None] = []
        self.join_any: list[bool] = []
        self.disabled: list[bool] = []
        for node in flow.nodes:
            if node.id in self.index:
                raise ValueError(f"flow '{flow.id}' has two nodes with the id '{node.id}'")
            spec = catalog.get(node.type)
            if spec is None:
                raise ValueError(
                    f"node '{node.id}' of flow '{flow.id}' has type '{node.type}', which is "
                    "not installed; validate the flow before running it"
                )
            ports = spec.output_ports(_port_params(flow, node, spec, params))
            self.index[node.id] = len(self.ids)
            self.ids.append(node.id)
            self.category.append(spec.category)
            self.ports.append(ports)
            self.pass_port.append(next((p for p in ports if p != ERROR_PORT), None))
            self.join_any.append(node.join == "any")
            self.disabled.append(node.disabled)
        #: Outbound edges of each node as (port, target number), in the flow's edge order.
        self.out_edges: list[list[tuple[str, int]]] = [[] for _ in self.ids]
        for edge in flow.edges:
            source, target = self.index.get(edge.source), self.index.get(edge.target)
            if source is None or target is None:
                missing = edge.source if source is None else edge.target
                raise ValueError(
                    f"edge '{edge.id}' of flow '{flow.id}' joins node '{missing}', which does "
                    "not exist; validate the flow before running it"
                )
            if edge.port not in self.ports[source]:
                raise ValueError(
                    f"edge '{edge.id}' of flow '{flow.id}' leaves node '{edge.source}' through "
                    f"'{edge.port}', which is not one of its ports "
                    f"({', '.join(self.ports[source])}); validate the flow before running it"
                )
            self.out_edges[source].append((edge.port, target))
        #: Whether a failure of the node leaves through a wired `error` port.
        self.error_wired = [any(p == ERROR_PORT for p, _ in out) for out in self.out_edges]
        self._check_acyclic()

    def has_edges(self, node_id: str, port: str) -> bool:
        """Whether any edge leaves `node_id` through `port`."""
        return any(p == port for p, _ in self.out_edges[self.number(node_id)])

    def number(self, node_id: str) -> int:
        found = self.index.get(node_id)
        if found is None:
            raise ValueError(f"flow '{self.flow_id}' has no node '{node_id}'")
        return found

    def start_state(self, trigger: int) -> tuple[list[int], list[int]]:
        """Statuses and undecided inbound edge counts at the start of a run from `trigger`.

        Only edges between nodes reachable from the trigger count: the others are
        dead from the start, since their sources are never scheduled. Computed
        once per trigger; each run copies the two lists.
        """
        cached = self._starts.get(trigger)
        if cached is not None:
            return cached
        status = [_UNREACHED] * len(self.ids)
        pending = [0] * len(self.ids)
        status[trigger] = _PENDING
        reached = [trigger]
        for node in reached:  # grows while we walk it: breadth first
            for _, target in self.out_edges[node]:
                pending[target] += 1
                if status[target] == _UNREACHED:
                    status[target] = _PENDING
                    reached.append(target)
        self._starts[trigger] = (status, pending)
        return status, pending

    def _check_acyclic(self) -> None:
        waiting = [0] * len(self.ids)
        for out in self.out_edges:
            for _, target in out:
                waiting[target] += 1
        order = [node for node, count in enumerate(waiting) if count == 0]
        for node in order:
            for _, target in self.out_edges[node]:
                waiting[target] -= 1
                if waiting[target] == 0:
                    order.append(target)
        if len(order) < len(self.ids):
            on_cycle = sorted(self.ids[n] for n, count in enumerate(waiting) if count)
            raise ValueError(
                f"flow '{self.flow_id}' has a cycle through {', '.join(on_cycle[:8])}; "
                "validate the flow before running it"
            )


def _port_params(
    flow: Flow, node: Node, spec: NodeSpec, params: Mapping[str, BaseModel] | None
) -> BaseModel | None:
    if spec.dynamic_ports is None:
        return None
    given = params.get(node.id) if params is not None else None
    if given is not None:
        return given
    try:
        return spec.params.model_validate(node.params)
    except ValidationError:
        raise ValueError(
            f"node '{node.id}' of flow '{flow.id}' has invalid parameters, so its ports are "
            "unknown; validate the flow before running it"
        ) from None


class Plan:
    """One run of a flow from one trigger.

    The runner calls `start()`, then `node_started` when it starts a ready node
    and `node_finished` (with the port taken) or `node_failed` when it ends;
    each returns a `Step`. Failures are always reported with `node_failed`: the
    plan takes the `error` port when it is wired and fails the run otherwise.
    Calls that make no sense (finishing a node that is not running, a port the
    node lacks) are bugs in the caller and raise ValueError.
    """

    __slots__ = (
        "_graph",
        "_live",
        "_pending",
        "_port",
        "_ready",
        "_running",
        "_started",
        "_status",
        "_stopped",
        "_trigger",
    )

    def __init__(self, graph: PlanGraph, trigger: str) -> None:
        number = graph.number(trigger)
        if graph.category[number] != "trigger":
            raise ValueError(
                f"node '{trigger}' is a {graph.category[number]}, not a trigger; "
                "a run starts at a trigger"
            )
        status, pending = graph.start_state(number)
        self._graph = graph
        self._trigger = number
        self._status = status.copy()
        self._pending = pending.copy()
        #: Whether a join-all node has a live inbound edge yet.
        self._live = bytearray(len(status))
        self._port: list[str | None] = [None] * len(status)
        # Dicts as insertion-ordered sets: O(1) removal, deterministic order.
        self._ready: dict[int, None] = {}
        self._running: dict[int, None] = {}
        self._started = False
        self._stopped: Outcome | None = None

    @property
    def graph(self) -> PlanGraph:
        return self._graph

    @property
    def trigger(self) -> str:
        return self._graph.ids[self._trigger]

    def start(self) -> Step:
        """Begin the run: the trigger is ready (or passes through, if disabled)."""
        if self._started:
            raise ValueError("the run has already started; start() is called once")
        self._started = True
        step = Step()
        work: _Work = []
        self._open(self._trigger, step, work)
        self._spread(work, step)
        return step

    def node_started(self, node_id: str) -> None:
        """The runner started a ready node (it stays in flight until it finishes)."""
        number = self._graph.number(node_id)
        if self._status[number] != _READY:
            raise ValueError(
                f"cannot start node '{node_id}': it is {self._state(number)}, not ready"
            )
        del self._ready[number]
        self._running[number] = None
        self._status[number] = _RUNNING

    def node_finished(self, node_id: str, port: str) -> Step:
        """A running node succeeded through `port`; edges leaving through other ports are dead."""
        number = self._running_number(node_id, "finish")
        ports = self._graph.ports[number]
        if port not in ports or port == ERROR_PORT:
            hint = (
                "report failures with node_failed()"
                if port == ERROR_PORT
                else f"its ports are: {', '.join(p for p in ports if p != ERROR_PORT)}"
            )
            raise ValueError(f"node '{node_id}' cannot finish through '{port}'; {hint}")
        del self._running[number]
        self._status[number] = _SUCCEEDED
        self._port[number] = port
        step = Step()
        self._spread([(number, port)], step)
        return step

    def node_failed(self, node_id: str) -> Step:
        """A running node failed (after retries): out of `error` if wired, else the run fails."""
        number = self._running_number(node_id, "fail")
        del self._running[number]
        self._status[number] = _FAILED
        step = Step()
        if self._graph.error_wired[number]:
            self._port[number] = ERROR_PORT
            self._spread([(number, ERROR_PORT)], step)
        else:
            work: _Work = [(number, None)]
            if self._stopped is None:
                self._stop("failed", step, work)
            self._spread(work, step)
        return step

    def cancel(self) -> Step:
        """Stop the run: ready nodes are skipped, running ones may still report their end."""
        step = Step()
        if self._stopped is None and not self.is_over:
            self._started = True  # cancelled before it started: nothing ever runs
            work: _Work = []
            self._stop("cancelled", step, work)
            self._spread(work, step)
        return step

    def restore(
        self, finished: Mapping[str, tuple[str, str | None]], *, cancelled: bool = False
    ) -> Step:
        """Rebuild the state of a run from its journal, on a plan that has not started.

        `finished` maps node ids to (state, port) as `summary()` gives them; the
        replay follows the plan's own order, so the mapping's order does not
        matter. Failures that stopped the run are replayed last, after every
        other result: nothing that ran depends on them, and the state after a
        stop does not depend on when nodes ended. `cancelled` says the journal
        has a cancel request before any such failure. The Step lists what is
        ready now: the nodes that were in flight or queued at the crash, for
        the runner to run again or ask about (in a stopped run they are
        skipped instead). Raises ValueError when the journal does not fit the flow.
        """
        total = self.start()
        stopping: list[str] = []
        queue = list(total.ready)
        for node_id in queue:  # grows as replayed nodes make others ready
            entry = finished.get(node_id)
            if entry is None or entry[0] == "skipped":
                continue  # in flight at the crash, or skipped when the run stopped
            state, port = entry
            self.node_started(node_id)
            if state == "succeeded" and port is not None:
                step = self.node_finished(node_id, port)
            elif state == "failed" and self._graph.error_wired[self._graph.number(node_id)]:
                step = self.node_failed(node_id)
            elif state == "failed":
                stopping.append(node_id)
                continue
            else:
                raise ValueError(f"journal entry {entry!r} for node '{node_id}' is not a result")
            queue += step.ready
            total.extend(step)
        if cancelled:
            total.extend(self.cancel())
        for node_id in stopping:
            total.extend(self.node_failed(node_id))
        for node_id, entry in finished.items():
            replayed = self.result(node_id)
            if (replayed.state, replayed.port) != tuple(entry):
                raise ValueError(
                    f"the journal says node '{node_id}' ended as {entry!r}, but replaying it "
                    f"gives {tuple(replayed)!r}; the journal does not belong to this flow"
                )
        total.ready = self.ready_nodes
        return total

    @property
    def is_over(self) -> bool:
        """Nothing is ready or running any more (an unstarted run is not over)."""
        return self._started and not self._ready and not self._running

    @property
    def stopped(self) -> Outcome | None:
        """'failed' or 'cancelled' once the run stopped making nodes ready, else None."""
        return self._stopped

    @property
    def outcome(self) -> Outcome | None:
        """How the run ended; None while it is not over."""
        if not self.is_over:
            return None
        return self._stopped or "succeeded"

    @property
    def ready_nodes(self) -> list[str]:
        """Nodes handed to the runner and not started yet (waiting for a slot)."""
        ids = self._graph.ids
        return [ids[number] for number in self._ready]

    @property
    def running_nodes(self) -> list[str]:
        """Nodes started and not finished, approvals waiting for a decision included."""
        ids = self._graph.ids
        return [ids[number] for number in self._running]

    def state(self, node_id: str) -> NodeState:
        return self._state(self._graph.number(node_id))

    def result(self, node_id: str) -> NodeResult:
        number = self._graph.number(node_id)
        return NodeResult(self._state(number), self._port[number])

    def summary(self) -> dict[str, NodeResult]:
        """Every node's result, in the flow's order; all final once the run is over.

        Nodes never scheduled (unreachable from the trigger, or left undecided
        when the run stopped) count as skipped.
        """
        return {
            node_id: NodeResult(self._state(number), self._port[number])
            for number, node_id in enumerate(self._graph.ids)
        }

    def _state(self, number: int) -> NodeState:
        status = self._status[number]
        if status == _PENDING and self.is_over:
            return "skipped"
        return _STATE_NAMES[status]

    def _running_number(self, node_id: str, verb: str) -> int:
        number = self._graph.number(node_id)
        if self._status[number] != _RUNNING:
            state = self._state(number)
            hint = "; call node_started() first" if state == "ready" else ""
            raise ValueError(f"cannot {verb} node '{node_id}': it is {state}, not running{hint}")
        return number

    def _open(self, node: int, step: Step, work: _Work) -> None:
        """`node` may run: hand it to the runner (or skip it, if the run stopped), or pass
        it through if it is disabled."""
        graph = self._graph
        if graph.disabled[node]:
            port = graph.pass_port[node]
            self._status[node] = _SUCCEEDED
            self._port[node] = port
            step.passed_through.append(graph.ids[node])
            work.append((node, port))
        elif self._stopped is not None:
            self._skip(node, step, work)
        else:
            self._status[node] = _READY
            self._ready[node] = None
            step.ready.append(graph.ids[node])

    def _spread(self, work: _Work, step: Step) -> None:
        """Decide the outbound edges of finished nodes, and what follows, breadth first."""
        graph = self._graph
        out_edges, join_any = graph.out_edges, graph.join_any
        status, pending, live = self._status, self._pending, self._live
        for source, taken in work:  # grows as skips and pass-throughs finish more nodes
            for port, target in out_edges[source]:
                left = pending[target] - 1
                pending[target] = left
                if status[target] != _PENDING:
                    continue  # a join-any that already fired ignores its other edges
                if port == taken:
                    if left == 0 or join_any[target]:
                        self._open(target, step, work)
                    else:
                        live[target] = 1
                elif left == 0:
                    if live[target]:
                        self._open(target, step, work)
                    else:
                        self._skip(target, step, work)

    def _stop(self, outcome: Outcome, step: Step, work: _Work) -> None:
        self._stopped = outcome
        for number in self._ready:
            self._skip(number, step, work)
        self._ready.clear()

    def _skip(self, node: int, step: Step, work: _Work) -> None:
        self._status[node] = _SKIPPED
        step.skipped.append(self._graph.ids[node])
        work.append((node, None))
