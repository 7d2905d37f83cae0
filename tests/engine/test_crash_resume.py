"""Kill -9 a real `opsflow run` at random points, resume it: nothing runs twice, nothing is lost.

The node pack in `crashpack.py` (installed into a temporary site folder, found
through its `opsflow.nodes` entry point) appends each node's id to a ledger
file. Events are journaled before the runner acts, so delivery is at least
once: a node may run again only if it was in flight (node_started journaled,
no end) when a process died, and a non-idempotent one only when the operator
said `--rerun`. Every other node runs exactly once.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.processes import (
    Launch,
    Opsflow,
    append_node,
    check_journal_complete,
    check_printed_events,
    in_flight,
    journal_state,
    ledger_lines,
    write_flow,
)

SEED = 20240611
ITERATIONS = 20
#: The documented exit code of `runs resume` when the run stays interrupted.
EXIT_INTERRUPTED_RUN = 1
BLOCKED = re.compile(r"'([a-z0-9_]+)' \(crashtest\.append\)")


# -- the crash loop ---------------------------------------------------------------------------


@dataclass
class Crashes:
    """What one iteration did, for the assertions and for the failure message."""

    seed: int
    kills: int = 0
    blocked: int = 0
    launches: int = 0
    in_flight_at_kill: Counter[str] = field(default_factory=Counter)
    reruns_given: Counter[str] = field(default_factory=Counter)
    history: list[str] = field(default_factory=list)

    def where(self) -> str:
        return f"seed {self.seed} ({'; '.join(self.history)})"


def crash_flow(
    folder: Path, ledger: Path, rng: random.Random
) -> tuple[Path, dict[str, bool], list[tuple[str, str]]]:
    """A chain, a fan-out of six joined again (join all), and another chain: 14 appends."""
    non_idempotent = {"a3", "p3", "p5", "c2"}
    ids = ["a1", "a2", "a3", "a4", *(f"p{i}" for i in range(1, 7)), "join", "c1", "c2", "c3"]
    nodes = [
        append_node(
            node_id,
            ledger,
            idempotent=node_id not in non_idempotent,
            sleep_s=rng.choice([0.02, 0.05, 0.08]),
        )
        for node_id in ids
    ]
    fan = [f"p{i}" for i in range(1, 7)]
    edges = [("start", "a1"), ("a1", "a2"), ("a2", "a3"), ("a3", "a4")]
    edges += [("a4", p) for p in fan] + [(p, "join") for p in fan]
    edges += [("join", "c1"), ("c1", "c2"), ("c2", "c3")]
    path = folder / "crash.flow.json"
    write_flow(path, nodes, edges)
    return path, {node_id: node_id not in non_idempotent for node_id in ids}, edges


def kill_at_random(process: Opsflow, rng: random.Random, most_events: int) -> bool:
    """Kill once `k` events were printed (k random), after a random extra delay."""
    k = rng.randint(1, most_events)
    reached = process.wait_until(lambda events: len(events) >= k, timeout=60)
    if reached:
        time.sleep(rng.uniform(0, 0.04))
    return process.kill()


def crash_iteration(launch: Launch, folder: Path, seed: int) -> Crashes:
    processes: list[Opsflow] = []
    rng = random.Random(seed)
    crashes = Crashes(seed)
    folder.mkdir()
    db, ledger = folder / "runs.sqlite", folder / "ledger.txt"
    flow, idempotent, edges = crash_flow(folder, ledger, rng)
    all_nodes = ["start", *idempotent]

    first = launch("run", flow, "--store", db, "--json")
    processes.append(first)
    crashes.launches += 1
    # 1 + 2 * 15 + 1 events in all: stop short of the last node so that the kill lands.
    killed = kill_at_random(first, rng, most_events=28)
    printed = first.events()
    assert printed, f"{crashes.where()}: the run printed nothing; stderr: {first.stderr}"
    run_id = printed[0]["run"]
    assert printed[0]["kind"] == "run_started", printed[0]
    if killed:
        crashes.kills += 1
        crashes.in_flight_at_kill.update(in_flight(db, run_id))
        crashes.history.append(f"run killed after {len(printed)} events")
    else:
        crashes.history.append("run ended before the kill")

    rerun: set[str] = set()
    resume_kills_left = 2
    while journal_state(db, run_id)[0].state != "succeeded":
        assert len(crashes.history) < 40, f"{crashes.where()}: the run does not finish"
        _, results, _ = journal_state(db, run_id)
        stuck = {
            node
            for node, result in results.items()
            if result.state == "running" and not idempotent.get(node, True) and node not in rerun
        }
        args = ["runs", "resume", run_id, "--store", str(db), "--json"]
        for node in sorted(rerun):
            args += ["--rerun", node]
            crashes.reruns_given[node] += 1
        resume = launch(*args)
        processes.append(resume)
        crashes.launches += 1
        if resume_kills_left and rng.random() < 0.3:
            resume_kills_left -= 1
            if kill_at_random(resume, rng, most_events=8):
                crashes.kills += 1
                crashes.in_flight_at_kill.update(in_flight(db, run_id))
                crashes.history.append(
                    f"resume {sorted(rerun)} killed after {len(resume.events())}"
                )
                rerun.clear()
                continue
        code = resume.finish()
        if code == 0:
            crashes.history.append(f"resume {sorted(rerun)} succeeded")
            assert not stuck, f"{crashes.where()}: {sorted(stuck)} ran again without --rerun"
            assert resume.stderr == "", f"{crashes.where()}: {resume.stderr}"
            break
        message = resume.said()
        crashes.history.append(f"resume {sorted(rerun)} exited {code}: {message.strip()[:80]}")
        named = set(BLOCKED.findall(message.split("and it is not safe")[0]))
        assert stuck and named == stuck, (
            f"{crashes.where()}: expected a refusal naming {sorted(stuck)} and saying how to "
            f"continue; got exit {code} and the output {message!r}"
        )
        assert code != 0 and "not safe to repeat" in message, f"{crashes.where()}: {message}"
        assert re.search(rf"--rerun ({'|'.join(stuck)})`", message), message
        assert re.search(rf"`--skip ({'|'.join(stuck)})`", message), message
        assert journal_state(db, run_id)[0].state == "interrupted", crashes.where()
        said = [
            (e["kind"], e["data"].get("outcome") or e["data"].get("level")) for e in resume.events()
        ]
        assert said in ([("run_finished", "interrupted")], [("log", "error")]), (
            f"{crashes.where()}: a refused resume ran something: {said}"
        )
        crashes.blocked += 1
        rerun |= named

    where = crashes.where()
    record, results, events = journal_state(db, run_id)
    assert record.state == "succeeded", f"{where}: {record}"
    assert {n: r.state for n, r in results.items()} == dict.fromkeys(all_nodes, "succeeded"), where
    check_journal_complete(events, all_nodes, where)
    check_printed_events(processes, events, where)
    finished = [e for e in events if e.kind == "run_finished"]
    assert len(finished) == crashes.blocked + 1, f"{where}: {finished}"

    written = ledger_lines(ledger)
    lines = Counter(written)
    assert set(lines) == set(idempotent), f"{where}: ledger {lines}"
    for source, target in edges:
        if source != "start":  # a node acts only after everything before it has acted
            assert written.index(source) < written.index(target), f"{where}: {written}"
    starts = Counter(e.node for e in events if e.kind == "node_started")
    for node in all_nodes:
        # At least once; never more often than started (journaled before acting); started
        # again only after a kill that found it in flight: exactly once for everything else.
        ran = lines[node] if node != "start" else 1
        assert 1 <= ran <= starts[node] <= 1 + crashes.in_flight_at_kill[node], (
            f"{where}: node {node} wrote {ran} line(s), started {starts[node]} time(s), "
            f"was in flight at {crashes.in_flight_at_kill[node]} kill(s)"
        )
        if not idempotent.get(node, True):
            assert starts[node] <= 1 + crashes.reruns_given[node], (
                f"{where}: non-idempotent node {node} started {starts[node]} times "
                f"with --rerun given {crashes.reruns_given[node]} times"
            )
    return crashes


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_runs_finished_nodes_once(
    launch: Launch, tmp_path: Path
) -> None:
    seeds = [SEED + index for index in range(ITERATIONS)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(crash_iteration, launch, tmp_path / f"i{index:02d}", seed)
            for index, seed in enumerate(seeds)
        ]
        outcomes = [future.result() for future in futures]
    kills = sum(outcome.kills for outcome in outcomes)
    summary = ", ".join(
        f"{o.seed}: {o.launches} processes, {o.kills} kills, {o.blocked} refusals" for o in outcomes
    )
    print(f"crash loop, seed {SEED}: {summary}")
    assert kills >= ITERATIONS, f"only {kills} kills landed (seed {SEED}): {summary}"
    assert sum(o.blocked for o in outcomes) > 0, f"no kill caught a non-idempotent node: {summary}"
    assert sum(sum(o.in_flight_at_kill.values()) for o in outcomes) > 0, summary


# -- one kill at a known point ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["idempotent", "skip", "rerun"])
def test_node_in_flight_at_kill_is_rerun_or_asked_about(
    launch: Launch, tmp_path: Path, how: str
) -> None:
    """Kill while `slow` is held before writing its line, then resume as the operator would."""
    db, ledger, hold = tmp_path / "runs.sqlite", tmp_path / "ledger.txt", tmp_path / "hold"
    hold.touch()
    flow = tmp_path / "focus.flow.json"
    nodes = [
        append_node("before", ledger, idempotent=True, sleep_s=0),
        append_node("slow", ledger, idempotent=how == "idempotent", sleep_s=0, hold=str(hold)),
        append_node("after", ledger, idempotent=True, sleep_s=0),
    ]
    write_flow(flow, nodes, [("start", "before"), ("before", "slow"), ("slow", "after")])

    run = launch("run", flow, "--store", db, "--json")
    started = run.wait_until(
        lambda events: any(e["kind"] == "node_started" and e["node"] == "slow" for e in events),
        timeout=60,
    )
    assert started, run.stderr
    assert run.kill()
    run_id = run.events()[0]["run"]
    hold.unlink()
    assert ledger_lines(ledger) == ["before"]
    assert in_flight(db, run_id) == {"slow"}
    processes = [run]

    refused_code = None
    if how != "idempotent":
        # The refusal must be explained both to scripts (--json) and to people (text).
        output = ["--json"] if how == "skip" else []
        refused = launch("runs", "resume", run_id, "--store", db, *output)
        refused_code = refused.finish()
        message = refused.said()
        assert "'slow' (crashtest.append)" in message, message
        assert f"`opsflow runs resume {run_id} --rerun slow`" in message, message
        assert "`--skip slow`" in message, message
        if output:
            [event] = refused.events()
            assert event["kind"] == "run_finished" and event["data"]["outcome"] == "interrupted"
            assert "--skip slow" in event["data"]["error"]
        record, results, _ = journal_state(db, run_id)
        assert record.state == "interrupted"
        assert results["slow"].state == "running"
        assert ledger_lines(ledger) == ["before"]

    flags = {"idempotent": [], "skip": ["--skip", "slow"], "rerun": ["--rerun", "slow"]}[how]
    resume = launch("runs", "resume", run_id, "--store", db, "--json", *flags)
    processes.append(resume)
    assert resume.finish() == 0, resume.stderr
    assert resume.stderr == ""

    record, results, events = journal_state(db, run_id)
    assert record.state == "succeeded"
    check_journal_complete(events, ["start", "before", "slow", "after"], how)
    check_printed_events(processes, events, how)
    starts = Counter(e.node for e in events if e.kind == "node_started")
    slow_done = next(e for e in events if e.kind == "node_succeeded" and e.node == "slow")
    if how == "skip":
        assert ledger_lines(ledger) == ["before", "after"]
        assert starts == {"start": 1, "before": 1, "slow": 1, "after": 1}
        assert slow_done.data.get("skipped_by") == "operator"
    else:
        assert ledger_lines(ledger) == ["before", "slow", "after"]
        assert starts == {"start": 1, "before": 1, "slow": 2, "after": 1}
        assert "skipped_by" not in slow_done.data
    if refused_code is not None:
        # Documented in opsflow/cli/run_commands.py: 1 when the run stays interrupted.
        assert refused_code == EXIT_INTERRUPTED_RUN, (
            f"`opsflow runs resume` refusing an in-flight non-idempotent node exited "
            f"{refused_code}, not {EXIT_INTERRUPTED_RUN} (interrupted)"
        )
