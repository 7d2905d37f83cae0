"""RunView folds a real run's events (live and from the journal) into per-node states."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from opsflow.engine.control import RunControl
from opsflow.engine.events import Event
from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.engine.run_types import Pin, RunOptions
from opsflow.engine.runview import RunView
from opsflow.model.flow import RetryPolicy
from tests.engine import nodes_for_tests
from tests.engine.test_local import CATALOG, make_flow, n, run


def test_a_finished_run_folds_into_states_ports_outputs_and_carried_edges() -> None:
    nodes_for_tests.FAILURES["flaky"] = 1
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            n("check", "condition.if", condition="1 == 1"),
            n("flaky", value="x", fail_times=0),
            n("never", value="y"),
        ],
        ["start.out>check", "check.true>flaky", "check.false>never"],
    )
    flaky = next(node for node in flow.nodes if node.id == "flaky")
    flaky.retry = RetryPolicy(attempts=2, backoff_s=0, jitter=False)
    result, events = run(flow)
    assert result.status == "succeeded"
    view = RunView(result.run_id, flow)
    changed: set[str] = set()
    for event in events:
        changed |= view.apply(event)
    assert view.phase == "succeeded"
    assert {k: v.state for k, v in view.nodes.items()} == {
        "start": "succeeded",
        "check": "succeeded",
        "flaky": "succeeded",
        "never": "skipped",
    }
    assert view.nodes["check"].port == "true"
    assert view.nodes["flaky"].attempts == 2
    assert view.nodes["flaky"].output["value"] == "x"
    assert view.nodes["flaky"].params["value"] == "x"
    assert view.carried("check", "true", "flaky")
    assert not view.carried("check", "false", "never")
    assert changed == {"start", "check", "flaky", "never"}
    # Applying the same events again (a replay overlapping live events) changes nothing.
    assert all(not view.apply(event) for event in events)


def test_dry_run_and_pins_are_marked(tmp_path: Path) -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), n("a", value="1"), n("b", "test.pure", value="2")],
        ["start.out>a", "a.success>b"],
    )
    options = RunOptions(dry_run=True, pinned={"b": Pin({"value": "pinned"})})
    result, events = run(flow, options=options)
    view = RunView(result.run_id, flow)
    for event in events:
        view.apply(event)
    assert view.dry_run
    assert view.nodes["a"].simulated and not view.nodes["a"].pinned
    assert view.nodes["b"].pinned and view.nodes["b"].output == {"value": "pinned"}


def test_a_breakpoint_pauses_and_the_journal_replays_to_the_same_picture(tmp_path: Path) -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), n("a", value="1"), n("b", value="2")],
        ["start.out>a", "a.success>b"],
    )
    journal = Journal(tmp_path / "runs.sqlite")
    control = RunControl()
    seen: list[Event] = []
    paused = threading.Event()

    def listen(event: Event) -> None:
        seen.append(event)
        if event.kind == "run_paused":
            paused.set()

    runner = LocalRunner(
        flow,
        catalog=CATALOG,
        journal=journal,
        options=RunOptions(breakpoints=frozenset({"b"})),
        listeners=[listen],
    )

    def fold(events: list[Event], run_id: str) -> RunView:
        view = RunView(run_id, flow)
        for event in events:
            view.apply(event)
        return view

    async def main() -> str:
        task = asyncio.create_task(runner.run(control=control))
        while not paused.is_set():
            await asyncio.sleep(0.01)
        at_pause = fold(list(seen), seen[0].run_id)
        assert at_pause.phase == "paused" and at_pause.paused_at == "b"
        assert at_pause.nodes["b"].state == "paused"
        assert at_pause.nodes["a"].state == "succeeded"
        control.continue_()
        result = await task
        assert result.status == "succeeded"
        return result.run_id

    run_id = asyncio.run(main())
    live = fold(seen, run_id)
    assert live.phase == "succeeded" and live.nodes["b"].state == "succeeded"
    replayed = fold(journal.events(run_id), run_id)
    assert {k: v.state for k, v in replayed.nodes.items()} == {
        k: v.state for k, v in live.nodes.items()
    }
    journal.close()


def test_a_failure_with_an_error_path_carries_the_error_edge() -> None:
    nodes_for_tests.FAILURES["a"] = 5
    flow = make_flow(
        [n("start", "trigger.manual"), n("a", value="1"), n("handle", value="2")],
        ["start.out>a", "a.error>handle"],
    )
    result, events = run(flow)
    view = RunView(result.run_id, flow)
    for event in events:
        view.apply(event)
    assert view.nodes["a"].state == "failed" and view.nodes["a"].port == "error"
    assert view.carried("a", "error", "handle")
    assert view.nodes["handle"].state == "succeeded"


def test_an_owner_gone_shows_an_unfinished_run_interrupted_and_leaves_an_ended_one_alone() -> None:
    flow = make_flow([n("start", "trigger.manual"), n("a")], ["start.out>a"])
    view = RunView("r", flow)
    view.apply(Event("r", 1, "run_started", 1.0, None, {"trigger": "start"}))
    view.apply(Event("r", 2, "node_started", 2.0, "a", {"attempt": 1}))
    view.owner_gone("opsflow run (pid 7 on h, since …)")
    assert view.phase == "interrupted"
    assert view.error == (
        "opsflow run (pid 7 on h, since …) was driving this run and is gone; resume it to continue"
    )
    assert view.nodes["a"].state == "running"  # in flight: how it ended is not known
    ended = RunView("s", flow)
    ended.apply(Event("s", 1, "run_finished", 3.0, None, {"outcome": "succeeded"}))
    ended.owner_gone("x")
    assert (ended.phase, ended.error) == ("succeeded", None)
