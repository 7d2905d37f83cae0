"""A run has one owner, and stop means stop: real `opsflow` processes on one journal file.

Each test reproduces a fault seen when the Studio, `opsflow run`, `opsflow approve` and
`opsflow serve` shared a journal: a second process driving a run, dead owners left
`running`, steps that outlived a stop, a journal lock stalling `serve`, sub-flows cancelled
at exit, a closed stdout failing the run, resume arguments silently ignored.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.events import Event
from opsflow.engine.journal import Journal
from tests.conftest import Cli
from tests.processes import APPEND, APPEND_IDEM, Launch, Opsflow, ledger_lines

EXIT_UNUSABLE, EXIT_TIMED_OUT, EXIT_CANCELLED = 2, 4, 130


def append(
    node_id: str, ledger: Path, *, idempotent: bool = False, **params: Any
) -> dict[str, Any]:
    """A ledger node whose line names its run, so lines of several runs can be told apart."""
    return {
        "id": node_id,
        "type": APPEND_IDEM if idempotent else APPEND,
        "params": {"path": str(ledger), "line": "{{ run.id }} " + node_id, "sleep_s": 0, **params},
    }


def write(
    path: Path, flow_id: str, nodes: list[dict[str, Any]], chain: list[str], **extra: Any
) -> Path:
    """A flow whose nodes run one after another in `chain` order (triggers first)."""
    usual = {"trigger": "out", "control.approval": "approved"}
    ports = {
        n["id"]: usual.get(n["type"], usual.get(n["type"].split(".")[0], "success")) for n in nodes
    }
    edges = []
    for index, (source, target) in enumerate(itertools.pairwise(chain)):
        for start in source.split("|"):
            edges.append(
                {"id": f"e{index}{start}", "from": start, "port": ports[start], "to": target}
            )
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": flow_id,
        **extra,
        "nodes": nodes,
        "edges": edges,
    }
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


def events_of(db: Path, run_id: str) -> list[Event]:
    with Journal(db) as journal:
        return journal.events(run_id)


def check_gapless_once(db: Path, run_id: str) -> list[Event]:
    events = events_of(db, run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), run_id
    finished = [
        e for e in events if e.kind == "run_finished" and e.data["outcome"] != "interrupted"
    ]
    assert len(finished) <= 1, finished
    return events


def first_run_id(process: Opsflow, timeout: float = 30) -> str:
    process.wait_until(lambda events: bool(events), timeout)
    return str(process.events()[0]["run"])


def node_started(node: str) -> Any:
    return lambda events: any(e["kind"] == "node_started" and e["node"] == node for e in events)


def serve_url(process: Opsflow) -> str:
    return process.wait_for_text(r"webhooks on (http://127\.0\.0\.1:\d+)").group(1)


def post(url: str, body: Any = None, timeout: float = 30) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body if body is not None else {}).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


def wait_for(condition: Any, timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; its parent has not reaped it yet.
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


# -- fault 2: nothing else drives a run that has a live owner ------------------------------------


def test_resume_is_refused_while_opsflow_run_drives_the_run(launch: Launch, tmp_path: Path) -> None:
    db, ledger, hold = tmp_path / "runs.sqlite", tmp_path / "ledger", tmp_path / "hold"
    flow = write(
        tmp_path / "f.flow.json",
        "owned",
        [
            {"id": "start", "type": "trigger.manual"},
            append("a1", ledger, hold=str(hold)),
            append("a2", ledger),
        ],
        ["start", "a1", "a2"],
    )
    hold.touch()
    runner = launch("run", flow, "--store", db, "--json")
    runner.wait_until(node_started("a1"), 30)
    run_id = first_run_id(runner)
    for extra in ([], ["--rerun", "a1"], ["--skip", "a1"]):
        second = launch("runs", "resume", run_id, "--store", db, *extra)
        assert second.finish() == EXIT_UNUSABLE
        said = second.said()
        assert f"run {run_id} is driven by opsflow run (pid {runner.popen.pid} on " in said
        assert "Traceback" not in said and "internal error" not in said
    hold.unlink()
    assert runner.finish() == 0
    assert sorted(ledger_lines(ledger)) == [f"{run_id} a1", f"{run_id} a2"]
    events = check_gapless_once(db, run_id)
    assert [e.kind for e in events].count("run_finished") == 1


def test_approve_hands_the_decision_to_the_live_serve_and_resume_is_refused(
    launch: Launch, tmp_path: Path
) -> None:
    db, ledger = tmp_path / "runs.sqlite", tmp_path / "ledger"
    flow = write(
        tmp_path / "f.flow.json",
        "approve-me",
        [
            {
                "id": "hook",
                "type": "trigger.webhook",
                "params": {"path": "/go", "auth": "none", "respond_with_run_id": True},
            },
            {
                "id": "ok",
                "type": "control.approval",
                "params": {"approvers": ["alice"], "message": "go?"},
            },
            append("after", ledger),
        ],
        ["hook", "ok", "after"],
    )
    server = launch("serve", flow, "--store", db, "--port", "0")
    status, _, answer = post(serve_url(server) + "/go")
    assert status == 202
    run_id = answer["run"]
    with Journal(db) as journal:
        wait_for(lambda: journal.pending_approvals(run_id), what="the approval")
    resume = launch("runs", "resume", run_id, "--store", db)
    assert resume.finish() == EXIT_UNUSABLE
    assert f"is driven by opsflow serve (pid {server.popen.pid} on " in resume.said()
    approve = launch("approve", run_id, "ok", "--approve", "--as", "alice", "--store", db)
    assert approve.finish() == 0
    said = approve.said()
    assert f"run {run_id} continues in opsflow serve (pid {server.popen.pid} on " in said
    assert "runs resume" not in said
    with Journal(db) as journal:
        wait_for(lambda: journal.get_run(run_id).state == "succeeded", what="the run to end")  # type: ignore[union-attr]
    server.popen.send_signal(signal.SIGTERM)
    assert server.finish() == 0
    assert ledger_lines(ledger) == [f"{run_id} after"]
    check_gapless_once(db, run_id)


def test_approve_without_a_live_owner_says_how_to_continue(launch: Launch, tmp_path: Path) -> None:
    db, ledger = tmp_path / "runs.sqlite", tmp_path / "ledger"
    flow = write(
        tmp_path / "f.flow.json",
        "later",
        [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "ok",
                "type": "control.approval",
                "params": {"approvers": ["alice"], "message": "go?"},
            },
            append("after", ledger),
        ],
        ["start", "ok", "after"],
    )
    runner = launch("run", flow, "--store", db, "--json")
    assert runner.finish() == 3  # not interactive: left waiting, without an owner
    run_id = str(runner.events()[0]["run"])
    approve = launch("approve", run_id, "ok", "--approve", "--as", "alice", "--store", db)
    assert approve.finish() == 0
    assert (
        f"no process is driving run {run_id}; continue it with: opsflow runs resume {run_id}"
        in approve.said()
    )
    resume = launch("runs", "resume", run_id, "--store", db)
    assert resume.finish() == 0
    assert ledger_lines(ledger) == [f"{run_id} after"]


# -- fault 3: dead owners are visible, and their runs can be resumed -----------------------------


def test_runs_of_a_killed_runner_show_as_owner_gone_and_resume_all_finishes_them(
    launch: Launch, tmp_path: Path
) -> None:
    db, ledger, hold = tmp_path / "runs.sqlite", tmp_path / "ledger", tmp_path / "hold"
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        append("a1", ledger, idempotent=True, hold=str(hold)),
        append("a2", ledger),
    ]
    flow = write(tmp_path / "f.flow.json", "killed", nodes, ["start", "a1", "a2"])
    hold.touch()
    victims = [launch("run", flow, "--store", db, "--json") for _ in range(2)]
    run_ids = []
    for victim in victims:
        victim.wait_until(node_started("a1"), 30)
        run_ids.append(first_run_id(victim))
        assert victim.kill()
    listing = launch("runs", "list", "--store", db)
    assert listing.finish() == 0
    for run_id in run_ids:
        assert any(
            run_id in line and "interrupted (owner gone)" in line for line in listing.lines
        ), listing.said()
    only = launch("runs", "list", "--state", "running", "--store", db)
    assert only.finish() == 0 and "no runs match" in only.said()
    hold.unlink()
    everything = launch("runs", "resume", "--all", "--store", db)
    assert everything.finish() == 0, everything.said()
    assert Counter(ledger_lines(ledger)) == Counter(
        f"{r} {n}" for r in run_ids for n in ("a1", "a2")
    )
    with Journal(db) as journal:
        assert {journal.get_run(r).state for r in run_ids} == {"succeeded"}  # type: ignore[union-attr]
    again = launch("runs", "resume", "--all", "--store", db)
    assert again.finish() == 0 and "no interrupted runs to resume" in again.said()


def test_resume_all_exits_1_when_any_run_stays_interrupted_even_if_another_waits(
    launch: Launch, tmp_path: Path
) -> None:
    db, ledger, hold = tmp_path / "runs.sqlite", tmp_path / "ledger", tmp_path / "hold"
    approval = {
        "id": "ok",
        "type": "control.approval",
        "params": {"approvers": ["alice"], "message": "go?"},
    }
    blocked = write(
        tmp_path / "blocked.flow.json",
        "blocked",
        [{"id": "start", "type": "trigger.manual"}, append("a1", ledger, hold=str(hold))],
        ["start", "a1"],
    )
    waits = write(
        tmp_path / "waits.flow.json",
        "waits",
        [
            {"id": "start", "type": "trigger.manual"},
            append("b1", ledger, idempotent=True, hold=str(hold)),
            approval,
        ],
        ["start", "b1", "ok"],
    )
    hold.touch()
    for flow, node in ((blocked, "a1"), (waits, "b1")):
        victim = launch("run", flow, "--store", db, "--json")
        victim.wait_until(node_started(node), 30)
        assert victim.kill()
    hold.unlink()
    everything = launch("runs", "resume", "--all", "--store", db)
    # One run stays interrupted (its step may have acted), the other waits for a decision:
    # the failure is what the exit code reports.
    assert everything.finish() == 1, everything.said()
    with Journal(db) as journal:
        states = {r.flow_id: r.state for r in journal.list_runs()}
    assert states == {"blocked": "interrupted", "waits": "waiting"}


def test_a_restarted_serve_reports_orphaned_runs_and_resumes_them_when_asked(
    launch: Launch, tmp_path: Path
) -> None:
    db, ledger, hold = tmp_path / "runs.sqlite", tmp_path / "ledger", tmp_path / "hold"
    nodes = [
        {
            "id": "hook",
            "type": "trigger.webhook",
            "params": {"path": "/go", "auth": "none", "respond_with_run_id": True},
        },
        append("a1", ledger, idempotent=True, hold=str(hold)),
        append("a2", ledger),
    ]
    flow = write(tmp_path / "f.flow.json", "served", nodes, ["hook", "a1", "a2"])
    hold.touch()
    first = launch("serve", flow, "--store", db, "--port", "0")
    _, _, answer = post(serve_url(first) + "/go")
    run_id = answer["run"]
    with Journal(db) as journal:
        wait_for(lambda: "a1" in journal.node_results(run_id), what="a1 to start")
    assert first.kill()
    second = launch("serve", flow, "--store", db, "--port", "0")
    found = second.wait_for_text(rf"interrupted: run {run_id} of served \((.*)\)")
    assert found.group(1).startswith(f"opsflow serve (pid {first.popen.pid} on ") and found.group(
        1
    ).endswith("is gone")
    second.wait_for_text("resume them with")
    second.popen.send_signal(signal.SIGTERM)
    assert second.finish() == 0
    hold.unlink()
    third = launch("serve", flow, "--store", db, "--port", "0", "--resume-interrupted")
    third.wait_for_text(rf"resumed run {run_id} succeeded")
    third.popen.send_signal(signal.SIGTERM)
    assert third.finish() == 0
    assert ledger_lines(ledger) == [f"{run_id} a1", f"{run_id} a2"]
    check_gapless_once(db, run_id)


# -- fault 4: stop means stop ------------------------------------------------------------------


def sleeper(pidfile: Path, **extra: Any) -> dict[str, Any]:
    """A shell step that records its pid, starts a child, and sleeps far longer than any test."""
    script = f"echo $$ > {pidfile}; sleep 300 & echo $! >> {pidfile}; wait"
    return {
        "id": "slow",
        "type": "action.shell",
        "params": {"command": ["sh", "-c", script]},
        **extra,
    }


def pids(pidfile: Path) -> list[int]:
    wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2, what="the pids")
    return [int(p) for p in pidfile.read_text().split()]


def test_a_run_timeout_kills_the_step_and_fails_with_its_own_exit_code(
    launch: Launch, tmp_path: Path
) -> None:
    db, pidfile = tmp_path / "runs.sqlite", tmp_path / "pids"
    flow = write(
        tmp_path / "f.flow.json",
        "timeout",
        [{"id": "start", "type": "trigger.manual"}, sleeper(pidfile)],
        ["start", "slow"],
        settings={"timeout_s": 1},
    )
    runner = launch("run", flow, "--store", db)
    assert runner.finish(timeout=20) == EXIT_TIMED_OUT
    assert not [p for p in pids(pidfile) if pid_alive(p)]
    with Journal(db) as journal:
        run = journal.list_runs()[0]
        assert (run.state, run.error) == (
            "failed",
            "the run took longer than its timeout of 1 s and was stopped",
        )
        failed = [e for e in journal.events(run.id) if e.kind == "node_failed"]
    assert failed[0].data["stopped"] == "timed out"
    assert (
        "the process group of" in failed[0].data["error"]
        and "was killed" in failed[0].data["error"]
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_kill_the_running_step_and_exit_promptly(
    launch: Launch, tmp_path: Path, signum: int
) -> None:
    db, pidfile = tmp_path / "runs.sqlite", tmp_path / "pids"
    flow = write(
        tmp_path / "f.flow.json",
        "stopme",
        [{"id": "start", "type": "trigger.manual"}, sleeper(pidfile)],
        ["start", "slow"],
    )
    runner = launch("run", flow, "--store", db, "--json")
    runner.wait_until(node_started("slow"), 30)
    children = pids(pidfile)
    runner.popen.send_signal(signum)
    assert runner.finish(timeout=20) == EXIT_CANCELLED
    assert not [p for p in children if pid_alive(p)]
    events = check_gapless_once(db, first_run_id(runner))
    assert events[-1].data["outcome"] == "cancelled"
    failed = [e for e in events if e.kind == "node_failed"]
    assert "was killed" in failed[0].data["error"]


def test_serve_stops_running_steps_on_sigterm_and_exits_promptly(
    launch: Launch, tmp_path: Path
) -> None:
    db, pidfile = tmp_path / "runs.sqlite", tmp_path / "pids"
    nodes = [
        {
            "id": "hook",
            "type": "trigger.webhook",
            "params": {"path": "/go", "auth": "none", "respond_with_run_id": True},
        },
        sleeper(pidfile),
    ]
    flow = write(tmp_path / "f.flow.json", "served", nodes, ["hook", "slow"])
    server = launch("serve", flow, "--store", db, "--port", "0")
    _, _, answer = post(serve_url(server) + "/go")
    children = pids(pidfile)
    server.popen.send_signal(signal.SIGTERM)
    assert server.finish(timeout=20) == 0
    assert not [p for p in children if pid_alive(p)]
    events = check_gapless_once(db, answer["run"])
    assert events[-1].data["outcome"] == "interrupted"
    assert any(e.kind == "log" and "stopped while running" in e.data["message"] for e in events)


# -- fault 5: a locked journal never stalls serve; it answers 503 --------------------------------

HOLD_LOCK = """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.slow
def test_serve_answers_at_once_and_503_while_another_process_holds_the_journal(
    launch: Launch, tmp_path: Path
) -> None:
    db, ledger = tmp_path / "runs.sqlite", tmp_path / "ledger"
    nodes = [
        {"id": "hook", "type": "trigger.webhook", "params": {"path": "/go", "auth": "none"}},
        append("a1", ledger),
    ]
    flow = write(tmp_path / "f.flow.json", "locked", nodes, ["hook", "a1"])
    server = launch("serve", flow, "--store", db, "--port", "0")
    url = serve_url(server)
    locker = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_LOCK), str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdin is not None
    try:
        assert locker.stdout.readline().strip() == "locked"
        # Answered while the lock is still held: nothing on the request path waits for it.
        status, _, body = post(url + "/nowhere")
        assert status == 404 and "no webhook listens" in body["error"]
        status, headers, body = post(url + "/go")
        assert status == 503, body
        assert headers["Retry-After"] == "5"
        assert "the run journal is busy" in body["error"]
        assert locker.poll() is None
    finally:
        locker.stdin.write("\n")
        locker.stdin.close()
        locker.wait(timeout=30)
        locker.stdout.close()
    status, _, _ = post(url + "/go")
    assert status == 202
    with Journal(db) as journal:
        wait_for(lambda: [r for r in journal.list_runs() if r.state == "succeeded"], what="the run")
        runs = journal.list_runs()
    server.popen.send_signal(signal.SIGTERM)
    assert server.finish() == 0
    # The refused request started nothing (or what was being written just then is cancelled).
    assert [r.state for r in runs if r.state != "cancelled"] == ["succeeded"]
    assert len(ledger_lines(ledger)) == 1
    assert "answered 503" in server.said()


# -- fault 7: sub-flows started without waiting finish ----------------------------------------


def test_opsflow_run_sees_sub_flows_without_wait_through(launch: Launch, tmp_path: Path) -> None:
    db, ledger = tmp_path / "runs.sqlite", tmp_path / "ledger"
    write(
        tmp_path / "child.flow.json",
        "child",
        [{"id": "start", "type": "trigger.manual"}, append("c1", ledger, sleep_s=1)],
        ["start", "c1"],
    )
    parent = write(
        tmp_path / "parent.flow.json",
        "parent",
        [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "call",
                "type": "action.subflow",
                "params": {"flow": "child.flow.json", "wait": False},
            },
            append("p1", ledger),
        ],
        ["start", "call", "p1"],
    )
    runner = launch("run", parent, "--store", db)
    assert runner.finish() == 0
    assert "waiting for 1 sub-flow run(s) started without wait" in runner.said()
    with Journal(db) as journal:
        runs = {r.flow_id: r for r in journal.list_runs()}
        output = journal.node_results(runs["parent"].id)["call"].output
    assert runs["child"].state == "succeeded" and runs["child"].parent == runs["parent"].id
    assert output == {"started": True, "run_id": runs["child"].id}
    assert sorted(ledger_lines(ledger)) == sorted(
        [f"{runs['child'].id} c1", f"{runs['parent'].id} p1"]
    )


# -- fault 8: a closed stdout stops the display, not the run ----------------------------------


def test_a_reader_that_goes_away_does_not_fail_the_run(site: Path, tmp_path: Path) -> None:
    db, ledger = tmp_path / "runs.sqlite", tmp_path / "ledger"
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        *(append(f"a{i}", ledger) for i in range(8)),
    ]
    flow = write(tmp_path / "f.flow.json", "piped", nodes, ["start", *(f"a{i}" for i in range(8))])
    process = subprocess.Popen(
        [sys.executable, "-m", "opsflow", "run", str(flow), "--store", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        },
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()  # like `| head -1`
    process.stdout.close()
    assert process.wait(timeout=60) == 0
    errors = process.stderr.read()
    process.stderr.close()
    assert "Traceback" not in errors and "BrokenPipe" not in errors, errors
    with Journal(db) as journal:
        (run,) = journal.list_runs()
    assert run.state == "succeeded"
    assert len(ledger_lines(ledger)) == 8


# -- fault 9: resume arguments and invalid flows are refused -----------------------------------


def test_resume_refuses_nodes_that_were_not_in_flight(launch: Launch, tmp_path: Path) -> None:
    db, ledger, hold = tmp_path / "runs.sqlite", tmp_path / "ledger", tmp_path / "hold"
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        append("a1", ledger),
        append("a2", ledger, hold=str(hold)),
        append("a3", ledger),
    ]
    flow = write(tmp_path / "f.flow.json", "args", nodes, ["start", "a1", "a2", "a3"])
    hold.touch()
    victim = launch("run", flow, "--store", db, "--json")
    victim.wait_until(node_started("a2"), 30)
    run_id = first_run_id(victim)
    assert victim.kill()
    before = events_of(db, run_id)
    for option, node, why in (
        ("--rerun", "a1", "it succeeded"),
        ("--skip", "a3", "it has not started"),
        ("--rerun", "zz", ""),
    ):
        refused = launch("runs", "resume", run_id, option, node, "--store", db)
        assert refused.finish() == EXIT_UNUSABLE
        said = refused.said()
        if node == "zz":
            assert "has no node 'zz'" in said
        else:
            assert f"node '{node}' was not in flight when run {run_id} stopped ({why})" in said
            assert "(in flight: 'a2')" in said
    assert events_of(db, run_id) == before  # nothing written by a refusal
    with Journal(db) as journal:
        assert journal.get_run(run_id).shown_state == "interrupted (owner gone)"  # type: ignore[union-attr]
    hold.unlink()
    done = launch("runs", "resume", run_id, "--rerun", "a2", "--store", db)
    assert done.finish() == 0, done.said()
    assert Counter(ledger_lines(ledger)) == Counter(f"{run_id} {n}" for n in ("a1", "a2", "a3"))


def test_opsflow_run_refuses_a_flow_with_validation_errors(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {
            "id": "bad",
            "type": "action.set_vars",
            "params": {"values": {"x": "{{ nodes.nowhere.output }}"}},
        },
    ]
    flow = write(tmp_path / "f.flow.json", "invalid", nodes, ["start", "bad"])
    refused = cli("run", flow, "--store", db)
    assert refused.returncode == EXIT_UNUSABLE
    said = refused.stdout + refused.stderr
    assert "the flow has 1 error and cannot run" in said and "Traceback" not in said
    assert "opsflow validate" in said
    assert not db.exists() or not Journal(db).list_runs()
