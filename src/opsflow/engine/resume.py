"""Continuing from the journal: resuming a run (after a crash, a restart or answered
approvals), and starting a new run from a chosen node with the earlier outputs of
everything upstream of it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsflow.catalog.registry import Catalog
from opsflow.engine.control import RunControl
from opsflow.engine.execute import default_port
from opsflow.engine.journal import Journal, NodeResult
from opsflow.engine.local import ActiveRun, LocalRunner
from opsflow.engine.plan import Step
from opsflow.engine.run_types import Listener, NodeReport, Pin, RunOptions, RunResult
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow


class ResumeRefused(OpsflowError):
    """A resume that names nodes it cannot apply to (nothing was written)."""


async def resume_run(
    journal: Journal,
    run_id: str,
    *,
    catalog: Catalog | None = None,
    options: RunOptions | None = None,
    listeners: Iterable[Listener] = (),
    rerun: Iterable[str] = (),
    skip: Iterable[str] = (),
    control: RunControl | None = None,
) -> RunResult:
    """Continue a run from its journal: after a crash, a restart, or answered approvals.

    Finished nodes are not run again. A node that was in flight runs again if
    its type is idempotent (or it is named in `rerun`); `skip` counts it as
    done without running it; otherwise the run stays interrupted and the error
    says how to continue. `rerun` and `skip` may name only nodes that were in
    flight (ResumeRefused otherwise, and nothing is written).

    The run is claimed first: while another live process drives it, this
    raises RunOwnedError naming that process, and nothing is written.
    """
    record = journal.get_run(run_id)
    if record is None:
        raise OpsflowError(f"there is no run {run_id} in {journal.path}")
    if record.state in ("succeeded", "failed", "cancelled"):
        raise OpsflowError(f"run {record.id} is over ({record.state}); there is nothing to resume")
    run_id = record.id
    previous = await asyncio.wrap_future(journal.submit(lambda store: store.claim(run_id)))
    try:
        prepared = _prepare(journal, run_id, catalog, options, listeners, set(rerun), set(skip))
    except BaseException:
        # Refused before anything was written: the run stays with whom it had.
        owner = previous.id if previous is not None else None
        journal.submit(lambda store: store.hand_back(run_id, owner))
        raise
    run, step, results, skip_set, rerun_set = prepared
    return await _continue(run, record.state, step, results, rerun_set, skip_set, control)


def _prepare(
    journal: Journal,
    run_id: str,
    catalog: Catalog | None,
    options: RunOptions | None,
    listeners: Iterable[Listener],
    rerun: set[str],
    skip: set[str],
) -> tuple[ActiveRun, Step, dict[str, NodeResult], set[str], set[str]]:
    """Rebuild the run from the journal (read after the claim) and check rerun/skip."""
    from opsflow.flowfile import parse_flow

    record = journal.get_run(run_id)
    assert record is not None
    flow = parse_flow(journal.flow_snapshot(record.id), f"run {record.id}", catalog)
    path = Path(record.flow_path) if record.flow_path else None
    runner = LocalRunner(
        flow,
        flow_path=path,
        catalog=catalog,
        journal=journal,
        options=options or RunOptions(dry_run=record.dry_run),
        listeners=listeners,
        parent_run=record.parent,
    )
    assert record.trigger is not None
    run = ActiveRun(runner, record.id, record.trigger, record.payload, dict(record.inputs))
    run.events.seq = journal.next_seq(record.id)
    run.replay(journal.events(record.id))
    results = journal.node_results(record.id)
    finished = {
        node: (result.state, result.port)
        for node, result in results.items()
        if result.state in ("succeeded", "failed", "skipped") and node in runner.nodes
    }
    try:
        step = run.plan.restore(finished)
    except ValueError as exc:
        raise OpsflowError(f"run {record.id} cannot be resumed: {exc}") from None
    in_flight = [n for n in step.ready if n in results and results[n].state == "running"]
    for name in sorted(rerun | skip):
        if name not in runner.nodes:
            raise ResumeRefused(f"the flow of run {record.id} has no node '{name}'")
        if name not in in_flight:
            result = results.get(name)
            now = f"it {result.state}" if result is not None else "it has not started"
            running = ", ".join(f"'{n}'" for n in in_flight) or "none"
            raise ResumeRefused(
                f"node '{name}' was not in flight when run {record.id} stopped ({now}); only "
                f"a node that was running can be run again or skipped (in flight: {running})"
            )
    return run, step, results, skip, rerun


async def _continue(
    run: ActiveRun,
    state: str,
    step: Step,
    results: dict[str, NodeResult],
    rerun_set: set[str],
    skip_set: set[str],
    control: RunControl | None,
) -> RunResult:
    runner = run.runner
    blocked = []
    for node_id in step.ready:
        result = results.get(node_id)
        if result is None or result.state == "waiting" or node_id in rerun_set:
            continue
        spec, params = runner.specs[node_id], runner.params[node_id]
        if node_id not in skip_set and not spec.is_idempotent(params):
            blocked.append(node_id)
    if blocked:
        names = ", ".join(f"'{n}' ({runner.specs[n].type})" for n in blocked)
        run.error = (
            f"the run stopped while {names} was running, and it is not safe to repeat "
            "blindly: it may or may not have acted. Check, then continue with "
            f"`opsflow runs resume {run.id} --rerun {blocked[0]}` (run it again) or "
            f"`--skip {blocked[0]}` (count it as done)"
        )
        run.interrupted = True
        # Said in the stream and the journal, so scripts and `runs show` see it too.
        if state == "interrupted":
            run.emit("log", None, {"level": "error", "message": run.error})
            await run.journaled()
            journal = runner.journal
            assert journal is not None
            await asyncio.wrap_future(journal.submit(lambda store: store.release(run.id)))
        else:
            run.emit("run_finished", None, {"outcome": "interrupted", "error": run.error})
            await run.journaled()
        return run.result()
    run.emit("run_resumed", None, {"how": "resume"})
    first = Step(ready=[])
    for node_id in step.ready:
        if node_id in skip_set and node_id in results:
            run.plan.node_started(node_id)
            port = default_port(runner.specs[node_id])
            run.outputs[node_id] = {"output": None}
            run.reports[node_id] = NodeReport("succeeded", port)
            run.emit(
                "node_succeeded", node_id, {"port": port, "output": None, "skipped_by": "operator"}
            )
            first.extend(run.plan.node_finished(node_id, port))
        else:
            first.ready.append(node_id)
    journaled_skips = {n for n, r in results.items() if r.state == "skipped"}
    first.skipped += [n for n in step.skipped if n not in journaled_skips]
    first.passed_through += [n for n in step.passed_through if n not in results]
    return await run.drive(first, control)


@dataclass(frozen=True)
class Replay:
    """What a new run started from `node` reuses of an earlier run."""

    trigger: str
    payload: Any
    inputs: dict[str, Any]
    pins: dict[str, Pin]


def replay_upstream(journal: Journal, run_id: str, flow: Flow, node: str) -> Replay:
    """Pins for every node upstream of `node`, from what they did in run `run_id`.

    The new run starts at the same trigger with the same payload and inputs;
    upstream nodes return their recorded outputs (failures go out of `error`
    again) instead of running, so `node` and what follows run for real.
    """
    record = journal.get_run(run_id)
    if record is None:
        raise OpsflowError(f"there is no run {run_id} in {journal.path}")
    if record.flow_id != flow.id:
        raise OpsflowError(
            f"run {record.id} ran flow '{record.flow_id}', not '{flow.id}'; "
            "choose a run of this flow (`opsflow runs list --flow " + flow.id + "`)"
        )
    if node not in flow.node_map():
        raise OpsflowError(f"the flow has no node '{node}'")
    parents: dict[str, list[str]] = {n.id: [] for n in flow.nodes}
    for edge in flow.edges:
        if edge.target in parents:
            parents[edge.target].append(edge.source)
    upstream: set[str] = set()
    stack = list(parents[node])
    while stack:
        current = stack.pop()
        if current not in upstream:
            upstream.add(current)
            stack.extend(parents.get(current, ()))
    results = journal.node_results(record.id)
    pins: dict[str, Pin] = {}
    for name in sorted(upstream):
        result = results.get(name)
        if result is None or result.state not in ("succeeded", "failed"):
            continue  # skipped before: routing replays the same way, so it is skipped again
        if result.state == "failed" and result.port != "error":
            raise OpsflowError(
                f"node '{name}', upstream of '{node}', failed in run {record.id} without an "
                "error path; there is no output to reuse"
            )
        if result.state == "failed":
            pins[name] = Pin({"error": result.error}, "error")
        else:
            pins[name] = Pin(result.output, result.port)
    assert record.trigger is not None
    return Replay(record.trigger, record.payload, dict(record.inputs), pins)
