"""Each rule of the execution semantics, on small hand-built flows."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.catalog import default_catalog
from opsflow.engine.plan import NodeResult, Plan, PlanGraph, Step
from opsflow.model.flow import Edge, Flow, Node

SWITCH_PARAMS = {"value": "trigger.kind", "cases": [{"port": "disk", "equals": "disk"}]}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "condition.if": {"condition": "trigger.ok"},
    "condition.switch": SWITCH_PARAMS,
    "action.set_vars": {"values": {"x": 1}},
}


def node(node_id: str, type_: str = "action.set_vars", **fields: Any) -> Node:
    return Node(id=node_id, type=type_, params=DEFAULT_PARAMS.get(type_, {}), **fields)


def flow(nodes: list[Node], *edges: str) -> Flow:
    """Edges are written `source.port>target`."""
    parsed = []
    for index, text in enumerate(edges):
        source_port, target = text.split(">")
        source, port = source_port.split(".")
        parsed.append(Edge(id=f"e{index}", source=source, port=port, target=target))
    return Flow(id="test", nodes=nodes, edges=parsed)


def plan_for(the_flow: Flow, trigger: str = "t") -> Plan:
    return Plan(PlanGraph(the_flow, default_catalog()), trigger)


def run(plan: Plan, ports: dict[str, str | None] | None = None) -> dict[str, NodeResult]:
    """Drive the plan to its end, first ready first; `ports[n]` None makes `n` fail."""
    ports = ports or {}
    queue = list(plan.start().ready)
    while queue:
        node_id = queue.pop(0)
        plan.node_started(node_id)
        port = ports.get(node_id, "out" if node_id.startswith("t") else "success")
        step = plan.node_failed(node_id) if port is None else plan.node_finished(node_id, port)
        queue += step.ready
        queue = [n for n in queue if n not in step.skipped]
    assert plan.is_over
    return plan.summary()


def ok(port: str) -> NodeResult:
    return NodeResult("succeeded", port)


SKIPPED = NodeResult("skipped")


def finish(plan: Plan, node_id: str, port: str = "success") -> Step:
    plan.node_started(node_id)
    return plan.node_finished(node_id, port)


def fail(plan: Plan, node_id: str) -> Step:
    plan.node_started(node_id)
    return plan.node_failed(node_id)


def test_chain_runs_in_order_and_succeeds() -> None:
    plan = plan_for(
        flow([node("t", "trigger.manual"), node("a"), node("b")], "t.out>a", "a.success>b")
    )
    assert plan.start() == Step(ready=["t"])
    assert plan.outcome is None and not plan.is_over
    assert finish(plan, "t", "out").ready == ["a"]
    assert finish(plan, "a").ready == ["b"]
    assert plan.state("b") == "ready" and plan.ready_nodes == ["b"]
    plan.node_started("b")
    assert plan.running_nodes == ["b"] and plan.state("b") == "running"
    assert plan.node_finished("b", "success") == Step()
    assert plan.is_over and plan.outcome == "succeeded"
    assert plan.summary() == {"t": ok("out"), "a": ok("success"), "b": ok("success")}


def diamond(join: str = "all") -> Flow:
    return flow(
        [node("t", "trigger.manual"), node("a"), node("b"), node("j", join=join)],
        "t.out>a",
        "t.out>b",
        "a.success>j",
        "b.success>j",
    )


def test_join_all_waits_for_every_inbound_edge() -> None:
    plan = plan_for(diamond())
    plan.start()
    assert finish(plan, "t", "out").ready == ["a", "b"]
    assert finish(plan, "a").ready == []
    assert plan.state("j") == "pending"
    assert finish(plan, "b").ready == ["j"]


def test_join_any_fires_on_the_first_live_edge_and_ignores_the_rest() -> None:
    plan = plan_for(diamond("any"))
    plan.start()
    finish(plan, "t", "out")
    assert finish(plan, "b").ready == ["j"]
    plan.node_started("j")
    assert finish(plan, "a") == Step()
    assert plan.node_finished("j", "success") == Step()
    assert plan.outcome == "succeeded"
    assert plan.summary()["j"] == ok("success")


def branch(join: str = "all") -> Flow:
    """t -> if; true -> a, false -> b; both -> j."""
    return flow(
        [
            node("t", "trigger.manual"),
            node("c", "condition.if"),
            node("a"),
            node("b"),
            node("j", join=join),
        ],
        "t.out>c",
        "c.true>a",
        "c.false>b",
        "a.success>j",
        "b.success>j",
    )


@pytest.mark.parametrize("join", ["all", "any"])
def test_join_after_a_condition_runs_with_one_live_edge(join: str) -> None:
    plan = plan_for(branch(join))
    plan.start()
    finish(plan, "t", "out")
    assert finish(plan, "c", "true") == Step(ready=["a"], skipped=["b"])
    assert finish(plan, "a").ready == ["j"]
    assert run_rest(plan)["b"] == SKIPPED


def run_rest(plan: Plan) -> dict[str, NodeResult]:
    for node_id in plan.ready_nodes:
        finish(plan, node_id)
    assert plan.is_over
    return plan.summary()


@pytest.mark.parametrize("join", ["all", "any"])
def test_a_node_whose_inbound_edges_are_all_dead_is_skipped(join: str) -> None:
    the_flow = flow(
        [node("t", "trigger.manual"), node("c", "condition.if"), node("j", join=join)],
        "t.out>c",
        "c.true>j",
        "c.true>j",
    )
    plan = plan_for(the_flow)
    plan.start()
    finish(plan, "t", "out")
    assert finish(plan, "c", "false") == Step(skipped=["j"])
    assert plan.outcome == "succeeded"


def test_dead_paths_are_eliminated_through_several_levels_in_one_step() -> None:
    the_flow = flow(
        [
            node("t", "trigger.manual"),
            node("c", "condition.if"),
            node("x"),
            node("y"),
            node("z"),
            node("w"),
            node("live"),
            node("j"),
        ],
        "t.out>c",
        "c.false>x",
        "x.success>y",
        "x.error>w",
        "y.success>z",
        "c.true>live",
        "z.success>j",
        "live.success>j",
    )
    plan = plan_for(the_flow)
    plan.start()
    finish(plan, "t", "out")
    assert finish(plan, "c", "true") == Step(ready=["live"], skipped=["x", "y", "w", "z"])
    assert finish(plan, "live").ready == ["j"]


def test_a_wired_error_port_takes_the_failure_and_the_run_goes_on() -> None:
    the_flow = flow(
        [node("t", "trigger.manual"), node("a"), node("next"), node("handler")],
        "t.out>a",
        "a.success>next",
        "a.error>handler",
    )
    plan = plan_for(the_flow)
    assert plan.graph.has_edges("a", "error") and not plan.graph.has_edges("next", "error")
    summary = run(plan, {"a": None})
    assert plan.outcome == "succeeded"
    assert summary["a"] == NodeResult("failed", "error")
    assert summary["next"] == SKIPPED and summary["handler"] == ok("success")


def test_an_unwired_failure_fails_the_run_and_lets_running_nodes_end() -> None:
    the_flow = flow(
        [node("t", "trigger.manual"), node("a"), node("b"), node("c"), node("after_c")],
        "t.out>a",
        "t.out>b",
        "t.out>c",
        "c.success>after_c",
    )
    plan = plan_for(the_flow)
    plan.start()
    finish(plan, "t", "out")
    plan.node_started("c")
    assert fail(plan, "a") == Step(skipped=["b"])
    assert plan.stopped == "failed" and not plan.is_over and plan.outcome is None
    assert plan.running_nodes == ["c"]
    assert plan.node_finished("c", "success") == Step(skipped=["after_c"])
    assert plan.is_over and plan.outcome == "failed"
    assert plan.summary() == {
        "t": ok("out"),
        "a": NodeResult("failed"),
        "b": SKIPPED,
        "c": ok("success"),
        "after_c": SKIPPED,
    }
    with pytest.raises(ValueError, match="'b': it is skipped, not ready"):
        plan.node_started("b")


def test_after_a_stop_edges_are_still_decided_but_nothing_new_runs() -> None:
    the_flow = flow(
        [node("t", "trigger.manual"), node("a"), node("b"), node("off", disabled=True), node("c")],
        "t.out>a",
        "t.out>b",
        "b.success>off",
        "off.success>c",
    )
    plan = plan_for(the_flow)
    plan.start()
    finish(plan, "t", "out")
    plan.node_started("b")
    fail(plan, "a")
    assert plan.node_finished("b", "success") == Step(skipped=["c"], passed_through=["off"])
    assert plan.outcome == "failed"


def test_a_failing_condition_fails_the_run() -> None:
    the_flow = flow([node("t", "trigger.manual"), node("c", "condition.if"), node("a")], "t.out>c")
    plan = plan_for(the_flow)
    assert run(plan, {"c": None})["c"] == NodeResult("failed")
    assert plan.outcome == "failed"


def test_a_disabled_node_passes_through_its_first_normal_port() -> None:
    the_flow = flow(
        [
            node("t", "trigger.manual"),
            node("off", disabled=True),
            node("off_too", disabled=True),
            node("next"),
        ],
        "t.out>off",
        "off.success>off_too",
        "off.error>next",
        "off_too.success>next",
    )
    plan = plan_for(the_flow)
    plan.start()
    assert finish(plan, "t", "out") == Step(ready=["next"], passed_through=["off", "off_too"])
    assert plan.result("off") == ok("success")


@pytest.mark.parametrize(
    ("type_", "port"),
    [
        ("condition.if", "true"),
        ("condition.switch", "disk"),
        ("control.approval", "approved"),
        ("action.http", "success"),
    ],
)
def test_the_pass_through_port_of_each_kind(type_: str, port: str) -> None:
    plan = plan_for(flow([node("t", "trigger.manual"), node("x", type_, disabled=True)], "t.out>x"))
    assert run(plan)["x"] == ok(port)


def test_a_disabled_trigger_passes_through_at_start() -> None:
    the_flow = flow([node("t", "trigger.manual", disabled=True), node("a")], "t.out>a")
    plan = plan_for(the_flow)
    assert plan.start() == Step(ready=["a"], passed_through=["t"])


def test_unreachable_nodes_are_never_scheduled_and_count_as_skipped() -> None:
    the_flow = flow(
        [
            node("t", "trigger.manual"),
            node("t2", "trigger.webhook"),
            node("a"),
            node("other"),
            node("shared"),
        ],
        "t.out>a",
        "t2.out>other",
        "other.success>shared",
        "a.success>shared",
    )
    plan = plan_for(the_flow)
    assert plan.state("other") == "skipped"
    summary = run(plan)
    assert summary["t2"] == SKIPPED and summary["other"] == SKIPPED
    assert summary["shared"] == ok("success")  # the edge from the other branch is dead


def test_switch_ports_come_from_its_cases() -> None:
    the_flow = flow(
        [node("t", "trigger.manual"), node("s", "condition.switch"), node("d"), node("x")],
        "t.out>s",
        "s.disk>d",
        "s.default>x",
    )
    plan = plan_for(the_flow)
    plan.start()
    finish(plan, "t", "out")
    plan.node_started("s")
    with pytest.raises(ValueError, match="its ports are: disk, default"):
        plan.node_finished("s", "memory")
    assert plan.node_finished("s", "disk") == Step(ready=["d"], skipped=["x"])


def test_an_approval_is_in_flight_until_the_runner_finishes_it() -> None:
    the_flow = flow(
        [node("t", "trigger.manual"), node("ask", "control.approval"), node("go")],
        "t.out>ask",
        "ask.approved>go",
    )
    plan = plan_for(the_flow)
    plan.start()
    finish(plan, "t", "out")
    plan.node_started("ask")
    assert plan.running_nodes == ["ask"] and not plan.is_over
    assert plan.node_finished("ask", "timeout") == Step(skipped=["go"])
    assert plan.outcome == "succeeded"


def test_cancel_skips_ready_nodes_and_waits_for_running_ones() -> None:
    plan = plan_for(diamond())
    plan.start()
    finish(plan, "t", "out")
    plan.node_started("a")
    assert plan.cancel() == Step(skipped=["b"])
    assert plan.outcome is None and plan.stopped == "cancelled"
    assert plan.node_failed("a") == Step(skipped=["j"])
    assert plan.outcome == "cancelled"
    assert plan.summary()["j"] == SKIPPED and plan.summary()["a"] == NodeResult("failed")
    assert plan.cancel() == Step() and plan.outcome == "cancelled"


def test_cancel_before_start_and_after_the_end() -> None:
    plan = plan_for(diamond())
    plan.cancel()
    assert plan.outcome == "cancelled" and plan.summary()["t"] == SKIPPED
    done = plan_for(diamond())
    run(done)
    assert done.cancel() == Step() and done.outcome == "succeeded"


def test_a_failure_after_cancel_keeps_the_outcome_cancelled() -> None:
    plan = plan_for(diamond())
    plan.start()
    finish(plan, "t", "out")
    plan.node_started("a")
    plan.cancel()
    plan.node_failed("a")
    assert plan.outcome == "cancelled"


def test_runs_of_one_graph_do_not_share_state() -> None:
    graph = PlanGraph(branch(), default_catalog())
    first, second = Plan(graph, "t"), Plan(graph, "t")
    first.start()
    finish(first, "t", "out")
    finish(first, "c", "false")
    assert second.state("c") == "pending"
    second.start()
    finish(second, "t", "out")
    assert finish(second, "c", "true").skipped == ["b"]
    assert first.state("b") == "ready"


def crash_flow() -> Flow:
    return flow(
        [
            node("t", "trigger.manual"),
            node("c", "condition.if"),
            node("off", disabled=True),
            node("a"),
            node("b"),
            node("handler"),
            node("j", join="any"),
            node("last"),
        ],
        "t.out>c",
        "c.true>off",
        "c.false>b",
        "off.success>a",
        "a.error>handler",
        "a.success>j",
        "handler.success>j",
        "b.success>j",
        "j.success>last",
    )


def test_restore_rebuilds_the_run_and_ends_like_an_uninterrupted_one() -> None:
    ports: dict[str, str | None] = {"c": "true", "a": None}
    expected = run(plan_for(crash_flow()), ports)
    before = plan_for(crash_flow())
    before.start()
    finish(before, "t", "out")
    finish(before, "c", "true")
    fail(before, "a")
    before.node_started("handler")  # in flight when the runner crashed
    journal = {n: r for n, r in before.summary().items() if n in ("t", "c", "off", "a", "b")}
    journal = dict(reversed(journal.items()))  # the replay does not depend on the order

    after = plan_for(crash_flow())
    assert after.restore(journal) == Step(ready=["handler"], skipped=["b"], passed_through=["off"])
    finish(after, "handler")
    finish(after, "j")
    assert finish(after, "last") == Step()
    assert after.summary() == expected


def test_restore_of_a_failed_run_replays_the_failure_last() -> None:
    the_flow = flow(
        [node("t", "trigger.manual"), node("a"), node("b"), node("after_b")],
        "t.out>a",
        "t.out>b",
        "b.success>after_b",
    )
    plan = plan_for(the_flow)
    plan.start()
    finish(plan, "t", "out")
    plan.node_started("b")
    fail(plan, "a")
    plan.node_finished("b", "success")
    expected = plan.summary()
    journal = {n: expected[n] for n in ("a", "t", "b")}
    restored = plan_for(the_flow)
    assert restored.restore(journal).ready == []
    assert restored.outcome == "failed" and restored.summary() == expected


def test_restore_of_a_cancelled_run() -> None:
    plan = plan_for(diamond())
    plan.start()
    finish(plan, "t", "out")
    plan.cancel()
    restored = plan_for(diamond())
    restored.restore(plan.summary(), cancelled=True)
    assert restored.outcome == "cancelled" and restored.summary() == plan.summary()


def test_restore_rejects_a_journal_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="node 'j' ended as"):
        plan_for(diamond()).restore({"t": ok("out"), "j": ok("success")})
    with pytest.raises(ValueError, match="not a result"):
        plan_for(diamond()).restore({"t": ("finished", "out")})
    with pytest.raises(ValueError, match="cannot finish through 'nope'"):
        plan_for(diamond()).restore({"t": ok("nope")})
    with pytest.raises(ValueError, match="ended as"):
        plan_for(diamond()).restore({"t": ok("out"), "a": SKIPPED})


def test_invalid_calls_raise_value_errors() -> None:
    plan = plan_for(diamond())
    with pytest.raises(ValueError, match="'a': it is pending, not running"):
        plan.node_finished("a", "success")
    plan.start()
    with pytest.raises(ValueError, match="already started"):
        plan.start()
    with pytest.raises(ValueError, match="it is ready, not running; call node_started"):
        plan.node_finished("t", "out")
    with pytest.raises(ValueError, match="no node 'ghost'"):
        plan.node_started("ghost")
    with pytest.raises(ValueError, match="cannot start node 'a': it is pending"):
        plan.node_started("a")
    plan.node_started("t")
    with pytest.raises(ValueError, match="its ports are: out"):
        plan.node_finished("t", "success")
    finish_step = plan.node_finished("t", "out")
    plan.node_started(finish_step.ready[0])
    with pytest.raises(ValueError, match="report failures with node_failed"):
        plan.node_finished("a", "error")
    plan.node_finished("a", "success")
    with pytest.raises(ValueError, match="'a': it is succeeded, not running"):
        plan.node_failed("a")


def test_graphs_and_plans_the_plan_cannot_run_are_refused() -> None:
    catalog = default_catalog()
    with pytest.raises(ValueError, match="not a trigger"):
        plan_for(diamond(), trigger="a")
    cyclic = flow([node("t", "trigger.manual"), node("a"), node("b")], "a.success>b", "b.success>a")
    with pytest.raises(ValueError, match="cycle through a, b"):
        PlanGraph(cyclic, catalog)
    with pytest.raises(ValueError, match="not one of its ports"):
        PlanGraph(flow([node("t", "trigger.manual"), node("a")], "t.success>a"), catalog)
    with pytest.raises(ValueError, match="'nowhere', which does not exist"):
        PlanGraph(flow([node("t", "trigger.manual")], "t.out>nowhere"), catalog)
    with pytest.raises(ValueError, match=r"'custom\.thing', which is not installed"):
        PlanGraph(flow([node("x", "custom.thing")]), catalog)
    with pytest.raises(ValueError, match="two nodes with the id 'a'"):
        PlanGraph(flow([node("a"), node("a")]), catalog)
    broken_switch = Node(id="s", type="condition.switch", params={"value": "x"})
    with pytest.raises(ValueError, match="node 's' of flow 'test' has invalid parameters"):
        PlanGraph(flow([broken_switch]), catalog)
