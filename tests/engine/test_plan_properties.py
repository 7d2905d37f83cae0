"""Properties of the plan on random DAGs, random outcomes and random completion orders."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from opsflow.catalog import default_catalog
from opsflow.engine.plan import NodeResult, Plan, PlanGraph, Step
from opsflow.model.flow import Edge, Flow, Node

#: Node kinds: their type, params and the ports a success may take.
KINDS: dict[str, tuple[str, dict[str, object], tuple[str, ...]]] = {
    "action": ("action.set_vars", {"values": {"x": 1}}, ("success",)),
    "if": ("condition.if", {"condition": "trigger.ok"}, ("true", "false")),
    "switch": (
        "condition.switch",
        {
            "value": "trigger.kind",
            "cases": [{"port": "c1", "equals": 1}, {"port": "c2", "equals": 2}],
        },
        ("c1", "c2", "default"),
    ),
    "approval": (
        "control.approval",
        {"approvers": ["jdoe"], "message": "ok?"},
        ("approved", "rejected", "timeout"),
    ),
}
FINAL = ("succeeded", "failed", "skipped")


@dataclass
class Case:
    flow: Flow
    #: The port each node takes when it runs; None: it fails.
    outcome: dict[str, str | None]


@st.composite
def cases(draw: st.DrawFn, unhandled_failures: bool = True) -> Case:
    nodes = [Node(id="t", type="trigger.manual", disabled=draw(st.integers(0, 9)) == 0)]
    ports: list[tuple[str, ...]] = [("out",)]
    edges: set[tuple[str, str, str]] = set()
    outcome: dict[str, str | None] = {"t": "out"}
    count = draw(st.integers(1, 12))
    for index in range(1, count + 1):
        kind = draw(st.sampled_from(["action", "action", "if", "switch", "approval"]))
        type_, params, success_ports = KINDS[kind]
        node_id = f"n{index}"
        nodes.append(
            Node(
                id=node_id,
                type=type_,
                params=params,
                join=draw(st.sampled_from(["all", "any"])),
                disabled=draw(st.integers(0, 5)) == 0,
            )
        )
        for parent in draw(st.lists(st.integers(0, index - 1), min_size=1, max_size=3)):
            port = draw(st.sampled_from(ports[parent]))
            edges.add((nodes[parent].id, port, node_id))
        ports.append((*success_ports, "error") if kind == "action" else success_ports)
        outcome[node_id] = draw(st.sampled_from([*success_ports, None]))
    if draw(st.booleans()):  # a second trigger, never run, feeding some nodes
        nodes.append(Node(id="other", type="trigger.webhook"))
        for target in draw(st.lists(st.integers(1, count), max_size=3)):
            edges.add(("other", "out", f"n{target}"))
    the_flow = Flow(
        id="random",
        nodes=nodes,
        edges=[
            Edge(id=f"e{i}", source=s, port=p, target=t)
            for i, (s, p, t) in enumerate(sorted(edges))
        ],
    )
    if not unhandled_failures:
        wired = {s for s, p, _ in edges if p == "error"}
        for node_id, port in outcome.items():
            if port is None and node_id not in wired:
                outcome[node_id] = KINDS_BY_TYPE[the_flow.node_map()[node_id].type][0]
    return Case(the_flow, outcome)


KINDS_BY_TYPE = {type_: success for type_, _, success in KINDS.values()}


def inbound(the_flow: Flow) -> dict[str, list[Edge]]:
    found: dict[str, list[Edge]] = {node.id: [] for node in the_flow.nodes}
    for edge in the_flow.edges:
        found[edge.target].append(edge)
    return found


def reachable(the_flow: Flow) -> set[str]:
    found = {"t"}
    for edge in sorted(the_flow.edges, key=lambda e: int(e.target.removeprefix("n"))):
        if edge.source in found:
            found.add(edge.target)
    return found


def is_live(plan: Plan, edge: Edge) -> bool:
    result = plan.result(edge.source)
    return result.state in ("succeeded", "failed") and result.port == edge.port


def is_decided(plan: Plan, edge: Edge) -> bool:
    return plan.state(edge.source) in FINAL


class Driver:
    """Runs a case in a random order, checking each step against the rules."""

    def __init__(self, case: Case, rng: random.Random, graph: PlanGraph | None = None) -> None:
        self.case = case
        self.rng = rng
        self.plan = Plan(graph or PlanGraph(case.flow, default_catalog()), "t")
        self.inbound = inbound(case.flow)
        self.join = {node.id: node.join for node in case.flow.nodes}
        self.ended: Counter[str] = Counter()
        self.ready: list[str] = []
        self.running: list[str] = []

    def take(self, step: Step) -> None:
        plan = self.plan
        for node_id in step.ready + step.passed_through:
            edges = self.inbound[node_id]
            if edges and self.join[node_id] == "all":
                assert all(is_decided(plan, edge) for edge in edges), node_id
            assert not edges or any(is_live(plan, edge) for edge in edges), node_id
        for node_id in step.skipped:
            if plan.stopped is None:  # else nodes that would be ready are skipped too
                assert all(is_decided(plan, e) for e in self.inbound[node_id]), node_id
                assert not any(is_live(plan, e) for e in self.inbound[node_id]), node_id
        for node_id, edges in self.inbound.items():  # nothing that may go on is left behind
            if edges and plan.state(node_id) == "pending":
                decided = all(is_decided(plan, edge) for edge in edges)
                live = [edge for edge in edges if is_live(plan, edge)]
                assert not decided and not (live and self.join[node_id] == "any"), node_id
        self.ended.update(step.skipped + step.passed_through)
        self.ready = [n for n in self.ready if n not in step.skipped] + step.ready
        assert self.ready == plan.ready_nodes

    def advance(self) -> None:
        """Start a ready node or end a running one, at random."""
        if self.ready and (not self.running or self.rng.random() < 0.5):
            node_id = self.ready[self.rng.randrange(len(self.ready))]
            self.plan.node_started(node_id)
            self.ready.remove(node_id)
            self.running.append(node_id)
            return
        node_id = self.running.pop(self.rng.randrange(len(self.running)))
        port = self.case.outcome[node_id]
        plan = self.plan
        self.ended[node_id] += 1
        self.take(plan.node_failed(node_id) if port is None else plan.node_finished(node_id, port))

    def run(self) -> dict[str, NodeResult]:
        self.take(self.plan.start())
        while self.ready or self.running:
            assert not self.plan.is_over
            self.advance()
        return self.finished()

    def finished(self) -> dict[str, NodeResult]:
        plan = self.plan
        assert plan.is_over and not plan.ready_nodes and not plan.running_nodes
        summary = plan.summary()
        assert all(result.state in FINAL for result in summary.values())
        assert max(self.ended.values(), default=0) == 1, "a node ended twice"
        if self.ended:  # the run was not cancelled before it started
            assert {n for n, count in self.ended.items() if count} == reachable(self.case.flow)
        return summary


def reference(case: Case) -> dict[str, NodeResult]:
    """The semantics without any incremental bookkeeping, for runs that do not stop."""
    results: dict[str, NodeResult] = {}
    edges = inbound(case.flow)
    for node in case.flow.nodes:  # the flow's order is topological for generated cases
        if node.id != "t" and not edges[node.id]:
            results[node.id] = NodeResult("skipped")
            continue
        live = [
            e for e in edges[node.id] if e.source in results and results[e.source].port == e.port
        ]
        if node.id != "t" and not live:
            results[node.id] = NodeResult("skipped")
        elif node.disabled:
            first = KINDS_BY_TYPE.get(node.type, ("out",))[0]
            results[node.id] = NodeResult("succeeded", first)
        elif case.outcome[node.id] is None:
            results[node.id] = NodeResult("failed", "error")
        else:
            results[node.id] = NodeResult("succeeded", case.outcome[node.id])
    return {node.id: results[node.id] for node in case.flow.nodes}


@settings(max_examples=300, deadline=None)
@given(cases(unhandled_failures=False), st.randoms(use_true_random=False), st.randoms())
def test_results_follow_the_rules_whatever_the_completion_order(
    case: Case, first: random.Random, second: random.Random
) -> None:
    graph = PlanGraph(case.flow, default_catalog())
    one = Driver(case, first, graph).run()
    other = Driver(case, second, graph).run()
    assert one == other == reference(case)


@settings(max_examples=300, deadline=None)
@given(cases(), st.randoms(use_true_random=False), st.randoms(use_true_random=False))
def test_failing_runs_end_and_fail_whatever_the_order(
    case: Case, first: random.Random, second: random.Random
) -> None:
    graph = PlanGraph(case.flow, default_catalog())
    one, other = Driver(case, first, graph), Driver(case, second, graph)
    one_summary, other_summary = one.run(), other.run()
    assert one.plan.outcome == other.plan.outcome
    for node_id, result in one_summary.items():
        if result.state != "skipped" and other_summary[node_id].state != "skipped":
            assert result == other_summary[node_id]


@settings(max_examples=200, deadline=None)
@given(cases(), st.randoms(use_true_random=False), st.integers(0, 40))
def test_a_cancelled_run_ends_with_every_node_final(
    case: Case, rng: random.Random, moves: int
) -> None:
    driver = Driver(case, rng)
    driver.take(driver.plan.start())
    for _ in range(moves):
        if driver.ready or driver.running:
            driver.advance()
    driver.take(driver.plan.cancel())
    while driver.running:
        driver.advance()
    driver.finished()
    assert driver.plan.outcome in ("cancelled", "failed", "succeeded")
    if driver.plan.stopped is not None:
        assert driver.plan.outcome == driver.plan.stopped


@settings(max_examples=200, deadline=None)
@given(cases(), st.randoms(use_true_random=False), st.integers(0, 40))
def test_restoring_from_the_journal_at_any_point_ends_the_same(
    case: Case, rng: random.Random, moves: int
) -> None:
    graph = PlanGraph(case.flow, default_catalog())
    before = Driver(case, rng, graph)
    before.take(before.plan.start())
    for _ in range(moves):
        if before.ready or before.running:
            before.advance()
    journal = {n: r for n, r in before.plan.summary().items() if r.state in FINAL}
    after = Driver(case, random.Random(0), graph)
    after.ready = after.plan.restore(journal).ready
    after.ended.update(n for n, r in after.plan.summary().items() if r.state in FINAL)
    # Nodes in flight at the crash are ready again; finish the run from here.
    while after.ready or after.running:
        after.advance()
    while before.ready or before.running:
        before.advance()
    assert after.plan.outcome == before.plan.outcome
    if before.plan.stopped is None:
        assert after.plan.summary() == before.plan.summary()
