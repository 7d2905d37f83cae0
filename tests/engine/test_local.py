"""The local runner with a real journal: semantics, retries, approvals, debugging, resume."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.control import RunControl
from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.engine.resume import replay_upstream, resume_run
from opsflow.engine.run_types import Pin, RunOptions
from opsflow.errors import OpsflowError
from opsflow.flowfile import parse_flow, save_flow
from opsflow.model.flow import Flow
from tests.engine import nodes_for_tests
from tests.engine.nodes_for_tests import test_catalog

CATALOG = test_catalog()


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    nodes_for_tests.CALLS.clear()
    nodes_for_tests.FAILURES.clear()


def make_flow(nodes: list[dict[str, Any]], edges: list[str], **extra: Any) -> Flow:
    """Edges as 'a.port>b'."""
    parsed = []
    for index, text in enumerate(edges):
        source, target = text.split(">")
        node, port = source.split(".")
        parsed.append({"id": f"e{index}", "from": node, "port": port, "to": target})
    document = {"format": "opsflow.flow", "version": 1, "id": "t", **extra}
    document |= {"nodes": nodes, "edges": parsed}
    return parse_flow(json.dumps(document), "test", CATALOG)


def n(node_id: str, type_: str = "test.act", **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "params": params}


def run(flow: Flow, journal: Journal | None = None, **kwargs: Any) -> Any:
    options = kwargs.pop("options", None)
    control = kwargs.pop("control", None)
    events: list[Any] = []
    runner = LocalRunner(
        flow, catalog=CATALOG, journal=journal, options=options, listeners=[events.append]
    )
    result = asyncio.run(runner.run(control=control, **kwargs))
    return result, events


def kinds(events: list[Any], node: str | None = None) -> list[str]:
    return [e.kind for e in events if node is None or e.node == node]


def test_values_flow_through_templates_vars_and_conditions(tmp_path: Path) -> None:
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            n("fetch", value="{{ inputs.host }}"),
            n("remember", "action.set_vars", values={"seen": "{{ nodes.fetch.output.value }}"}),
            n("check", "condition.if", condition="vars.seen == 'web-01'"),
            n("yes", value="{{ vars.seen }} is web-01"),
            n("no", value="other"),
        ],
        [
            "start.out>fetch",
            "fetch.success>remember",
            "remember.success>check",
            "check.true>yes",
            "check.false>no",
        ],
        inputs={"host": {"type": "string", "default": "web-01"}},
    )
    with Journal(tmp_path / "j.sqlite") as journal:
        result, events = run(flow, journal)
        stored = journal.node_results(result.run_id)
    assert result.status == "succeeded"
    assert [c[0] for c in nodes_for_tests.CALLS] == ["fetch", "yes"]
    assert nodes_for_tests.CALLS[1][1]["value"] == "web-01 is web-01"
    assert result.nodes["no"].state == "skipped" and result.nodes["check"].port == "true"
    assert stored["yes"].output == {"value": "web-01 is web-01", "attempt": 1}
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(events) + 1))
    assert events[0].kind == "run_started" and events[-1].kind == "run_finished"


def test_retries_with_backoff_then_error_port(tmp_path: Path) -> None:
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            {**n("flaky", fail_times=5), "retry": {"attempts": 3, "backoff_s": 0.01}},
            n("handle", value="{{ nodes.flaky.error }}"),
        ],
        ["start.out>flaky", "flaky.error>handle"],
    )
    result, events = run(flow, Journal(tmp_path / "j.sqlite"))
    assert result.status == "succeeded"
    assert result.nodes["flaky"].attempts == 3 and result.nodes["flaky"].state == "failed"
    assert kinds(events, "flaky").count("node_retrying") == 2
    assert "planned failure, 2 left" in nodes_for_tests.CALLS[-1][1]["value"]


def test_retry_recovers(tmp_path: Path) -> None:
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            {**n("flaky", fail_times=2), "retry": {"attempts": 3, "backoff_s": 0, "jitter": False}},
        ],
        ["start.out>flaky"],
    )
    result, _ = run(flow)
    assert result.status == "succeeded" and result.nodes["flaky"].attempts == 3


def test_unhandled_failure_fails_the_run_and_says_where() -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), n("boom", fail_times=1), n("after")],
        ["start.out>boom", "boom.success>after"],
    )
    result, _ = run(flow)
    assert result.status == "failed"
    assert result.error == "node 'boom' failed: planned failure, 0 left"
    assert result.nodes["after"].state == "skipped"


def test_timeout_per_node() -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), {**n("slow", sleep_s=5), "timeout_s": 0.1}],
        ["start.out>slow"],
    )
    started = time.monotonic()
    result, _ = run(flow)
    assert result.status == "failed" and "timed out after 0.1 s" in (result.error or "")
    assert time.monotonic() - started < 4


def test_branches_and_a_blocking_node_run_side_by_side_then_join() -> None:
    """Behaviour only: benchmarks/bench_branches.py measures how long this takes."""
    flow = make_flow(
        [n("start", "trigger.manual")]
        + [n(f"b{i}", sleep_s=0.3) for i in range(6)]
        + [n("sync", "test.blocking"), {**n("join"), "join": "all"}],
        [f"start.out>b{i}" for i in range(6)]
        + [f"b{i}.success>join" for i in range(6)]
        + ["start.out>sync", "sync.success>join"],
    )
    result, events = run(flow)
    assert result.status == "succeeded"
    branches = {f"b{i}" for i in range(6)}
    order = [
        (e.kind, e.node)
        for e in events
        if e.kind in ("node_started", "node_succeeded") and e.node in {*branches, "sync"}
    ]
    first_end = next(
        i for i, (k, node) in enumerate(order) if k == "node_succeeded" and node != "sync"
    )
    in_flight = {node for kind, node in order[:first_end] if kind == "node_started"}
    assert in_flight == {*branches, "sync"}, f"not all started before one ended: {order}"
    assert [c[0] for c in nodes_for_tests.CALLS].count("join") == 1
    assert [c[0] for c in nodes_for_tests.CALLS][-1] == "join"


def test_dry_run_shows_rendered_parameters_without_acting() -> None:
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            n("act", value="restart {{ inputs.unit }}"),
            n("pure", "test.pure", value="look"),
        ],
        ["start.out>act", "act.success>pure"],
        inputs={"unit": {"type": "string", "default": "nginx"}},
    )
    result, events = run(flow, options=RunOptions(dry_run=True))
    assert result.status == "succeeded"
    assert [c[0] for c in nodes_for_tests.CALLS] == ["pure"], "side effects are not executed"
    act = next(e for e in events if e.kind == "node_succeeded" and e.node == "act")
    assert act.data["output"]["dry_run"] is True
    assert act.data["output"]["params"]["value"] == "restart nginx"


def test_pinned_output_replaces_the_node() -> None:
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            n("fetch", fail_times=9),
            n("use", value="{{ nodes.fetch.output.v }}"),
        ],
        ["start.out>fetch", "fetch.success>use"],
    )
    result, events = run(flow, options=RunOptions(pinned={"fetch": Pin({"v": 42})}))
    assert result.status == "succeeded"
    assert [c[0] for c in nodes_for_tests.CALLS] == ["use"]
    assert nodes_for_tests.CALLS[0][1]["value"] == 42
    assert next(e for e in events if e.node == "fetch" and e.kind == "node_succeeded").data[
        "pinned"
    ]


def test_breakpoint_step_and_continue(tmp_path: Path) -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), n("a"), n("b"), n("c")],
        ["start.out>a", "a.success>b", "b.success>c"],
    )
    control = RunControl()
    seen: list[str] = []

    def steer() -> None:
        assert control.started.wait(10)
        deadline = time.monotonic() + 10
        while "a" not in {c[0] for c in nodes_for_tests.CALLS} and time.monotonic() < deadline:
            time.sleep(0.02)
            if len(seen) == 0 and _paused(tmp_path, control):
                seen.append("paused")
                control.step()
        time.sleep(0.2)
        seen.append(",".join(c[0] for c in nodes_for_tests.CALLS))
        control.continue_()

    journal = Journal(tmp_path / "j.sqlite")
    thread = threading.Thread(target=steer)
    thread.start()
    result, events = run(
        flow, journal, options=RunOptions(breakpoints=frozenset({"a"})), control=control
    )
    thread.join()
    assert result.status == "succeeded"
    assert seen[0] == "paused" and seen[1] == "a", "step ran one node and paused again"
    paused = [e for e in events if e.kind == "run_paused"]
    assert [(e.node, e.data) for e in paused] == [("a", {}), ("b", {"after_step": True})]
    assert [e.data["how"] for e in events if e.kind == "run_resumed"] == ["step", "continue"]


def _paused(tmp_path: Path, control: RunControl) -> bool:
    with Journal(tmp_path / "j.sqlite") as reader:
        record = reader.get_run(control.run_id or "")
    return record is not None and record.state == "paused"


def test_abort_cancels_the_run() -> None:
    flow = make_flow([n("start", "trigger.manual"), n("slow", sleep_s=30)], ["start.out>slow"])
    control = RunControl()
    threading.Thread(
        target=lambda: (control.started.wait(10), time.sleep(0.2), control.abort())
    ).start()
    result, events = run(flow, control=control)
    assert result.status == "cancelled" and result.error == "the run was aborted"
    assert events[-1].kind == "run_finished" and events[-1].data["outcome"] == "cancelled"


APPROVAL = {
    "approvers": ["alice", "group:ops"],
    "message": "Restart {{ inputs.unit }}?",
    "timeout_s": 30,
    "form": {
        "type": "object",
        "properties": {"ticket": {"type": "string", "pattern": "^CHG[0-9]+$"}},
        "required": ["ticket"],
    },
}


def approval_flow(**approval: Any) -> Flow:
    return make_flow(
        [
            n("start", "trigger.manual"),
            n("ask", "control.approval", **(APPROVAL | approval)),
            n("go", value="{{ nodes.ask.output.by }} {{ nodes.ask.output.fields.ticket }}"),
            n("stop", value="rejected"),
            n("late", value="timeout"),
        ],
        ["start.out>ask", "ask.approved>go", "ask.rejected>stop", "ask.timeout>late"],
        inputs={"unit": {"type": "string", "default": "nginx"}},
    )


def test_approval_in_process_checks_who_and_the_form(tmp_path: Path) -> None:
    control = RunControl()
    problems: list[str] = []

    def answer() -> None:
        control.started.wait(10)
        time.sleep(0.3)
        for who, fields in (("mallory", {"ticket": "CHG1"}), ("alice", {"ticket": "nope"})):
            try:
                control.decide("ask", "approved", by=who, fields=fields)
            except OpsflowError as exc:
                problems.append(str(exc))
        control.decide("ask", "approved", by="alice", comment="ok", fields={"ticket": "CHG42"})

    threading.Thread(target=answer).start()
    result, events = run(approval_flow(), Journal(tmp_path / "j.sqlite"), control=control)
    assert result.status == "succeeded" and result.nodes["ask"].port == "approved"
    assert "'mallory' may not decide this approval" in problems[0] or "group 'ops'" in problems[0]
    assert "form field 'ticket' must match the pattern '^CHG[0-9]+$'" in problems[1]
    assert nodes_for_tests.CALLS[-1][1]["value"] == "alice CHG42"
    decided = next(e for e in events if e.kind == "approval_decided")
    assert decided.data["by"] == "alice" and decided.data["comment"] == "ok"


def test_approval_deadline_takes_timeout_port() -> None:
    result, _ = run(approval_flow(timeout_s=0.3), options=RunOptions(approval_poll_s=0.05))
    assert result.status == "succeeded" and result.nodes["ask"].port == "timeout"
    assert [c[0] for c in nodes_for_tests.CALLS] == ["late"]


def test_approval_from_another_process_then_resume(tmp_path: Path) -> None:
    """Non-interactive run exits waiting; `opsflow approve` in a real process; resume goes on."""
    store = tmp_path / "j.sqlite"
    with Journal(store) as journal:
        result, _ = run(approval_flow(), journal, options=RunOptions(wait_for_approvals=False))
        assert result.status == "waiting"
        assert journal.get_run(result.run_id).state == "waiting"  # type: ignore[union-attr]
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({"ops": ["carol"]}))
    env = {**os.environ, "OPSFLOW_GROUPS": str(groups)}
    command = [sys.executable, "-m", "opsflow", "approve", result.run_id[:12], "ask"]
    command += ["--store", str(store)]

    def approve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], capture_output=True, text=True, env=env)

    refused = approve("--approve", "--as", "bob", "--field", "ticket=CHG7")
    assert refused.returncode == 2 and "'bob' may not decide" in refused.stderr
    invalid = approve("--approve", "--as", "carol", "--field", "ticket=7")
    assert invalid.returncode == 2 and "must match" in invalid.stderr
    accepted = approve("--approve", "--as", "carol", "--field", "ticket=CHG7")
    assert accepted.returncode == 0, accepted.stderr
    assert "opsflow runs resume" in accepted.stdout
    again = approve("--reject", "--as", "alice", "--field", "ticket=CHG8")
    assert again.returncode == 2 and "already approved by carol" in again.stderr
    with Journal(store) as journal:
        resumed = asyncio.run(resume_run(journal, result.run_id, catalog=CATALOG))
    assert resumed.status == "succeeded" and resumed.nodes["ask"].port == "approved"
    assert [c[0] for c in nodes_for_tests.CALLS] == ["go"]
    assert nodes_for_tests.CALLS[0][1]["value"] == "carol CHG7"


def test_resume_does_not_rerun_finished_nodes(tmp_path: Path) -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), n("a"), n("b", fail_times=1), n("c")],
        ["start.out>a", "a.success>b", "b.success>c"],
    )
    with Journal(tmp_path / "j.sqlite") as journal:
        first, _ = run(flow, journal)
        assert first.status == "failed"
        with pytest.raises(OpsflowError, match="is over \\(failed\\)"):
            asyncio.run(resume_run(journal, first.run_id, catalog=CATALOG))


def test_secrets_are_masked_everywhere(tmp_path: Path) -> None:
    secret = "s3cr3t-T0ken-value"
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            n("leak", value="token={{ inputs.token }}"),
            n("fail", fail_times=1),
        ],
        ["start.out>leak", "leak.success>fail"],
        inputs={"token": {"type": "string"}},
    )
    store = tmp_path / "j.sqlite"
    with Journal(store) as journal:
        result, events = run(
            flow, journal, inputs={"token": secret}, options=RunOptions(secrets=[secret])
        )
    assert nodes_for_tests.CALLS[0][1]["value"] == f"token={secret}", "the node itself sees it"
    assert secret not in json.dumps([e.to_json() for e in events])
    for path in tmp_path.iterdir():
        assert secret.encode() not in path.read_bytes(), path.name
    assert "«redacted»" in json.dumps([e.to_json() for e in events], ensure_ascii=False)
    assert result.status == "failed"


def test_subflow_and_foreach_with_outputs(tmp_path: Path) -> None:
    body = make_flow(
        [n("start", "trigger.manual"), n("work", value="{{ inputs.host }}:{{ inputs.slot }}")],
        ["start.out>work"],
        inputs={"host": {"type": "string", "required": True}, "slot": {"type": "integer"}},
        outputs={"done": "{{ nodes.work.output.value }}"},
    )
    save_flow(body, tmp_path / "body.flow.json")
    parent = make_flow(
        [
            n("start", "trigger.manual"),
            n("one", "action.subflow", flow="body.flow.json", inputs={"host": "solo", "slot": 0}),
            n(
                "each",
                "control.foreach",
                items="['a', 'b', 'c']",
                flow="body.flow.json",
                inputs={"host": "{{ item }}", "slot": "{{ index }}"},
                concurrency=2,
            ),
        ],
        ["start.out>one", "one.success>each"],
    )
    path = tmp_path / "parent.flow.json"
    save_flow(parent, path)
    with Journal(tmp_path / "j.sqlite") as journal:
        runner = LocalRunner(parent, flow_path=path, catalog=CATALOG, journal=journal)
        result = asyncio.run(runner.run())
        outputs = journal.node_results(result.run_id)
        children = [r for r in journal.list_runs(limit=10) if r.parent == result.run_id]
    assert result.status == "succeeded", result.error
    assert outputs["one"].output["outputs"] == {"done": "solo:0"}
    assert [r["outputs"]["done"] for r in outputs["each"].output["results"]] == [
        "a:0",
        "b:1",
        "c:2",
    ]
    assert len(children) == 4


def test_inputs_are_checked_and_converted() -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), n("a", value="{{ inputs.count + 1 }}")],
        ["start.out>a"],
        inputs={"count": {"type": "integer", "minimum": 1, "required": True}},
    )
    result, _ = run(flow, inputs={"count": "41"})
    assert nodes_for_tests.CALLS[0][1]["value"] == 42
    for given, message in (
        ({}, "is required"),
        ({"count": "x"}, "must be an integer, not .x."),
        ({"count": "0"}, "at least 1"),
        ({"nope": 1}, "no input 'nope'"),
    ):
        with pytest.raises(OpsflowError, match=message):
            run(flow, inputs=given)
    assert result.status == "succeeded"


def test_several_triggers_need_a_choice() -> None:
    flow = make_flow(
        [n("t1", "trigger.manual"), n("t2", "trigger.manual"), n("a")],
        ["t1.out>a", "t2.out>a"],
    )
    with pytest.raises(OpsflowError, match="choose one with --trigger"):
        run(flow)
    result, _ = run(flow, trigger="t2")
    assert result.status == "succeeded"


def test_run_from_a_node_reuses_upstream_outputs(tmp_path: Path) -> None:
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            n("fetch", value="{{ inputs.host }}-data"),
            n("check", "condition.if", condition="nodes.fetch.output.value != ''"),
            n("fix", value="fixing {{ nodes.fetch.output.value }}"),
        ],
        ["start.out>fetch", "fetch.success>check", "check.true>fix"],
        inputs={"host": {"type": "string", "default": "web-01"}},
    )
    with Journal(tmp_path / "j.sqlite") as journal:
        first, _ = run(flow, journal)
        nodes_for_tests.CALLS.clear()
        replay = replay_upstream(journal, first.run_id, flow, "fix")
        assert sorted(replay.pins) == ["check", "fetch", "start"]
        again, events = run(
            flow,
            journal,
            trigger=replay.trigger,
            payload=replay.payload,
            inputs=replay.inputs,
            options=RunOptions(pinned=replay.pins),
        )
    assert again.status == "succeeded"
    assert [c[0] for c in nodes_for_tests.CALLS] == ["fix"], "only the chosen node runs"
    pinned = [e.node for e in events if e.kind == "node_succeeded" and e.data.get("pinned")]
    assert pinned == ["start", "fetch", "check"]
    assert nodes_for_tests.CALLS[0][1]["value"] == "fixing web-01-data"
    with pytest.raises(OpsflowError, match="no node 'ghost'"):
        replay_upstream(Journal(tmp_path / "j.sqlite"), first.run_id, flow, "ghost")


def test_escalation_is_announced_once() -> None:
    result, events = run(
        approval_flow(timeout_s=0.6, escalate_after_min=0.005, escalate_to=["group:leads"]),
        options=RunOptions(approval_poll_s=0.05),
    )
    assert result.nodes["ask"].port == "timeout"
    escalations = [e for e in events if e.kind == "approval_escalated"]
    assert len(escalations) == 1 and escalations[0].data["to"] == ["group:leads"]


def test_run_timeout_stops_the_run() -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), n("slow", sleep_s=30)],
        ["start.out>slow"],
        settings={"timeout_s": 0.3},
    )
    started = time.monotonic()
    result, events = run(flow)
    assert time.monotonic() - started < 10
    # A run timeout is a failure of the run, told apart from a cancellation.
    assert (result.status, result.timed_out) == ("failed", True)
    assert result.error == "the run took longer than its timeout of 0.3 s and was stopped"
    assert events[-1].data["outcome"] == "failed"
    assert events[-1].data["timed_out"] is True


def test_node_type_without_executor_fails_with_advice() -> None:
    flow = make_flow(
        [
            n("start", "trigger.manual"),
            n("ticket", "test.unwired"),
        ],
        ["start.out>ticket"],
    )
    result, _ = run(flow)
    assert result.status == "failed"
    assert "test.unwired cannot run here" in (result.error or "")
    assert "--dry-run" in (result.error or "")


def test_blocking_executors_can_log_from_their_thread(tmp_path: Path) -> None:
    flow = make_flow([n("start", "trigger.manual"), n("talk", "test.chatty")], ["start.out>talk"])
    with Journal(tmp_path / "j.sqlite") as journal:
        result, events = run(flow, journal)
        stored = journal.events(result.run_id)
    assert result.status == "succeeded", result.error
    [line] = [e for e in events if e.kind == "log"]
    assert line.node == "talk" and line.data["message"] == "hello from talk"
    assert [e.to_json() for e in stored] == [e.to_json() for e in events]


def test_interrupted_run_can_be_resumed(tmp_path: Path) -> None:
    flow = make_flow(
        [n("start", "trigger.manual"), n("slow", sleep_s=1.5), n("after")],
        ["start.out>slow", "slow.success>after"],
    )
    control = RunControl()

    def stop_soon() -> None:
        control.started.wait(10)
        time.sleep(0.3)
        control.interrupt()

    threading.Thread(target=stop_soon).start()
    with Journal(tmp_path / "j.sqlite") as journal:
        result, events = run(flow, journal, control=control)
        assert result.status == "interrupted"
        assert "opsflow runs resume" in (result.error or "")
        assert journal.get_run(result.run_id).state == "interrupted"  # type: ignore[union-attr]
        assert "node_failed" not in kinds(events), "in-flight nodes stay open for the resume"
        resumed = asyncio.run(resume_run(journal, result.run_id, catalog=CATALOG))
    assert resumed.status == "succeeded"
    assert [c[0] for c in nodes_for_tests.CALLS] == ["slow", "slow", "after"]
