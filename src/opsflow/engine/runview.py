"""What a run looks like so far, folded from its events: per-node state, ports, outputs.

Pure and Qt-free: the Studio feeds it live events (and the journal's events
when it replays a past run) and paints what it says; tests can fold a
journal's events and compare. `apply` returns the nodes whose picture changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from opsflow.engine.events import Event
from opsflow.model.flow import Flow
from opsflow.validate.context import RunValues

NodeState = Literal[
    "queued", "running", "retrying", "succeeded", "failed", "skipped", "waiting", "paused"
]
RunPhase = Literal[
    "running", "paused", "waiting", "succeeded", "failed", "cancelled", "interrupted"
]


@dataclass
class NodeRun:
    """One node's part in a run."""

    state: NodeState
    port: str | None = None
    attempts: int = 0
    started_at: float | None = None
    duration_s: float | None = None
    params: Any = None
    output: Any = None
    error: str | None = None
    #: Why it waits: "approval", "wait" or "breakpoint".
    waiting: str | None = None
    pinned: bool = False
    simulated: bool = False


@dataclass
class RunView:
    """The state of one run, as far as its events tell."""

    run_id: str
    flow: Flow
    phase: RunPhase = "running"
    trigger: str | None = None
    payload: Any = None
    inputs: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    paused_at: str | None = None
    nodes: dict[str, NodeRun] = field(default_factory=dict)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    last_seq: int = 0

    def __post_init__(self) -> None:
        self._out: dict[tuple[str, str], list[str]] = {}
        for edge in self.flow.edges:
            self._out.setdefault((edge.source, edge.port), []).append(edge.target)

    def apply(self, event: Event) -> set[str]:
        """Take one event in; returns the ids of nodes whose state changed."""
        if event.seq <= self.last_seq:
            return set()  # already seen (a replay overlapping live events)
        self.last_seq = event.seq
        self.events.append(event)
        handler = getattr(self, f"_on_{event.kind}", None)
        changed: set[str] = handler(event) if handler is not None else set()
        return changed

    def carried(self, source: str, port: str, target: str) -> bool:
        """Whether the run went along this edge (its source left through the port)."""
        node = self.nodes.get(source)
        return node is not None and node.state in ("succeeded", "failed") and node.port == port

    def values(self) -> RunValues:
        """What expressions could read in this run so far: the trigger's payload, the
        inputs and the output of every node that succeeded."""
        outputs = {n: run.output for n, run in self.nodes.items() if run.state == "succeeded"}
        return RunValues(self.payload, dict(self.inputs), outputs)

    def duration_s(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or now) - self.started_at

    # -- run events ----------------------------------------------------------------------

    def _on_run_started(self, event: Event) -> set[str]:
        data = event.data
        self.trigger = data.get("trigger")
        self.payload = data.get("payload")
        self.inputs = dict(data.get("inputs") or {})
        self.dry_run = bool(data.get("dry_run"))
        self.started_at = event.at
        self.phase = "running"
        return set()

    def _on_run_paused(self, event: Event) -> set[str]:
        self.phase = "paused"
        self.paused_at = event.node
        if event.node is None:
            return set()
        self.nodes[event.node] = NodeRun("paused", waiting="breakpoint")
        return {event.node}

    def _on_run_resumed(self, event: Event) -> set[str]:
        self.phase = "running"
        node, self.paused_at = self.paused_at, None
        if node is not None and self.nodes.get(node, NodeRun("queued")).state == "paused":
            self.nodes[node] = NodeRun("queued")
            return {node}
        return set()

    def _on_run_finished(self, event: Event) -> set[str]:
        outcome = event.data.get("outcome", "failed")
        self.phase = outcome if outcome in ("succeeded", "cancelled", "interrupted") else "failed"
        self.error = event.data.get("error")
        self.finished_at = event.at
        self.paused_at = None
        # Nodes still queued when the run ended never ran.
        dropped = {n for n, run in self.nodes.items() if run.state == "queued"}
        for node_id in dropped:
            del self.nodes[node_id]
        return dropped

    def owner_gone(self, owner: str) -> None:
        """The process driving the run is gone (the journal says so; no event can): show the
        run as interrupted. Nodes in flight stay as they were: nobody knows how they ended."""
        if self.phase in ("succeeded", "failed", "cancelled", "interrupted"):
            return
        self.phase = "interrupted"
        self.paused_at = None
        self.error = f"{owner} was driving this run and is gone; resume it to continue"

    # -- node events ---------------------------------------------------------------------

    def _node(self, event: Event) -> NodeRun:
        assert event.node is not None
        node = self.nodes.get(event.node)
        if node is None:
            node = self.nodes[event.node] = NodeRun("queued")
        return node

    def _on_node_started(self, event: Event) -> set[str]:
        node = self._node(event)
        node.state = "running"
        node.attempts = int(event.data.get("attempt", node.attempts + 1))
        node.params = event.data.get("params", node.params)
        if node.started_at is None:
            node.started_at = event.at
        node.error = None
        node.waiting = None
        if self.phase in ("waiting", "paused"):
            self.phase = "running"
        return {event.node} if event.node else set()

    def _on_node_succeeded(self, event: Event) -> set[str]:
        node = self._node(event)
        data = event.data
        node.state = "succeeded"
        node.port = data.get("port")
        node.output = data.get("output")
        node.duration_s = data.get("duration_s", node.duration_s)
        node.attempts = int(data.get("attempt", node.attempts or 1))
        node.pinned = bool(data.get("pinned"))
        output = node.output
        node.simulated = isinstance(output, dict) and output.get("dry_run") is True
        node.waiting = None
        changed = {event.node} if event.node else set()
        if event.node is not None and node.port is not None:
            for target in self._out.get((event.node, node.port), ()):
                if target not in self.nodes:
                    self.nodes[target] = NodeRun("queued")
                    changed.add(target)
        return changed

    def _on_node_failed(self, event: Event) -> set[str]:
        node = self._node(event)
        node.state = "failed"
        node.error = event.data.get("error")
        node.duration_s = event.data.get("duration_s", node.duration_s)
        node.attempts = int(event.data.get("attempt", node.attempts or 1))
        changed = {event.node} if event.node else set()
        # A failure leaves through `error` when that port is wired (the run goes on there).
        targets = self._out.get((event.node, "error"), []) if event.node else []
        node.port = "error" if targets else None
        for target in targets:
            if target not in self.nodes:
                self.nodes[target] = NodeRun("queued")
                changed.add(target)
        return changed

    def _on_node_skipped(self, event: Event) -> set[str]:
        node = self._node(event)
        node.state = "skipped"
        node.error = event.data.get("reason")
        return {event.node} if event.node else set()

    def _on_node_retrying(self, event: Event) -> set[str]:
        node = self._node(event)
        node.state = "retrying"
        node.error = event.data.get("error")
        return {event.node} if event.node else set()

    def _on_node_waiting(self, event: Event) -> set[str]:
        node = self._node(event)
        reason = event.data.get("reason")
        node.state = "paused" if reason == "breakpoint" else "waiting"
        node.waiting = reason
        if reason == "approval" and self.phase == "running":
            self.phase = "waiting"
        return {event.node} if event.node else set()

    def _on_approval_requested(self, event: Event) -> set[str]:
        if event.node is not None:
            self.approvals[event.node] = dict(event.data)
        return set()

    def _on_approval_decided(self, event: Event) -> set[str]:
        if event.node is not None:
            self.approvals.pop(event.node, None)
        if not self.approvals and self.phase == "waiting":
            self.phase = "running"
        return set()
