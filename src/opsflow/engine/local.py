"""The local runner: drives the pure plan with asyncio on this machine.

Independent branches run concurrently (up to the flow's `max_concurrency`),
blocking executors in worker threads, each node with its timeout and retries.
Every event is journaled before the runner acts on it, so a run killed at any
moment can be resumed (`opsflow.engine.resume`). Debugging hooks live here too:
breakpoints (pause before a node; continue, step, abort), pinned outputs, and
dry runs in which nodes with side effects only show what they would do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from opsflow.catalog.fields import render_params, walk_strings
from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.catalog.spec import NodeSpec
from opsflow.credentials import resolve as resolve_credential
from opsflow.credentials import secrets_to_mask
from opsflow.engine import approvals, nested
from opsflow.engine.blocking import NodeKilled, run_blocking
from opsflow.engine.events import Event, EventKind
from opsflow.engine.execute import default_port, is_async, load_executor
from opsflow.engine.inputs import coerce_inputs
from opsflow.engine.journal import Journal, JournalError
from opsflow.engine.plan import Plan, PlanGraph, Step
from opsflow.engine.redact import Redactor
from opsflow.engine.run_events import RunEvents
from opsflow.engine.run_types import (
    JournalLost,
    Listener,
    NodeReport,
    Pin,
    RunOptions,
    RunResult,
    RunStatus,
    new_run_id,
)
from opsflow.errors import OpsflowError
from opsflow.expr import ExpressionError, is_template
from opsflow.expr.evaluate import render_template
from opsflow.flowfile import dump_flow
from opsflow.model.flow import Flow, Node
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome

if TYPE_CHECKING:
    from opsflow.engine.control import RunControl

logger = logging.getLogger(__name__)


class LocalRunner:
    """Runs one flow; reusable for many runs (the plan graph is built once)."""

    def __init__(
        self,
        flow: Flow,
        *,
        flow_path: Path | None = None,
        catalog: Catalog | None = None,
        journal: Journal | None = None,
        options: RunOptions | None = None,
        listeners: Iterable[Listener] = (),
        parent_run: str | None = None,
    ) -> None:
        self.flow = flow
        self.flow_path = flow_path
        self.catalog = catalog or default_catalog()
        self.journal = journal
        self.options = options or RunOptions()
        self.listeners = list(listeners)
        self.parent_run = parent_run
        self.specs: dict[str, NodeSpec] = {}
        self.params: dict[str, BaseModel] = {}
        self.nodes: dict[str, Node] = {}
        for node in flow.nodes:
            spec = self.catalog.get(node.type)
            if spec is None:
                raise OpsflowError(
                    f"node '{node.id}' has type '{node.type}', which is not installed"
                )
            try:
                self.params[node.id] = spec.params.model_validate(node.params)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                where = ".".join(str(part) for part in first["loc"])
                raise OpsflowError(
                    f"node '{node.id}' field params.{where}: {first['msg']}; "
                    "run `opsflow validate` on the flow"
                ) from None
            self.specs[node.id] = spec
            self.nodes[node.id] = node
        #: Sub-flow runs started without waiting for them (`wait: false`), with their
        #: controls; shared with the runners of sub-flows, so the process can wait for
        #: them or stop them (`wait_detached`, `stop_detached`).
        self.detached: dict[asyncio.Task[Any], RunControl] = {}
        #: Masked in every run from its first event: the flow's declared credentials and
        #: the process's credential variables (see `opsflow.credentials.exposure`).
        self.known_secrets = secrets_to_mask(
            {name: need.kind for name, need in flow.credentials.items()}
        )
        self.graph = PlanGraph(flow, self.catalog, self.params)
        #: Nodes cheap and pure enough to run right in the scheduler (see `can_inline`).
        self.inline = {node.id: self.can_inline(node) for node in flow.nodes}
        #: Parameters without anything to render, rendered once for every run.
        self.static_params = {
            node.id: rendered
            for node in flow.nodes
            if (rendered := _static_params(self.params[node.id], self.specs[node.id])) is not None
        }
        self._flow_text: str | None = None

    def can_inline(self, node: Node) -> bool:
        spec = self.specs[node.id]
        if node.timeout_s is not None or (node.retry is not None and node.retry.attempts > 1):
            return False
        if spec.type in _OUTWARD_TYPES:
            return False
        if spec.category == "trigger" or node.id in self.options.pinned:
            return True
        simulated = spec.executor is None or spec.has_side_effects(self.params[node.id])
        if self.options.dry_run and spec.type not in _RUNNER_TYPES and simulated:
            return True
        return spec.inline and spec.executor is not None

    def flow_text(self) -> str:
        if self._flow_text is None:
            self._flow_text = dump_flow(self.flow)
        return self._flow_text

    def choose_trigger(self, trigger: str | None) -> str:
        triggers = [n.id for n in self.flow.nodes if self.specs[n.id].category == "trigger"]
        if trigger is None:
            if len(triggers) != 1:
                raise OpsflowError(
                    f"the flow has {len(triggers)} triggers ({', '.join(triggers)}); "
                    "choose one with --trigger"
                )
            return triggers[0]
        if trigger not in triggers:
            raise OpsflowError(
                f"'{trigger}' is not a trigger of this flow; "
                f"its triggers are: {', '.join(triggers)}"
            )
        return trigger

    async def run(
        self,
        *,
        trigger: str | None = None,
        payload: Any = None,
        inputs: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        control: RunControl | None = None,
        parent_run: str | None = None,
    ) -> RunResult:
        """Run the flow from `trigger` (the only trigger when None) to its end.

        `parent_run` names the run that started this one (a sub-flow call); it
        is given per run because one runner serves many runs at once.
        """
        start = self.choose_trigger(trigger)
        values = coerce_inputs(self.flow.inputs, inputs or {})
        run = ActiveRun(self, run_id or new_run_id(), start, payload, values)
        run.emit(
            "run_started",
            None,
            {
                "flow_id": self.flow.id,
                "flow_path": str(self.flow_path) if self.flow_path else None,
                "trigger": start,
                "payload": payload,
                "inputs": values,
                "dry_run": self.options.dry_run,
            },
        )
        journal = self.journal
        fields = {
            "flow_id": self.flow.id,
            "flow_path": self.flow_path,
            "flow_json": self.flow_text(),
            "trigger": start,
            "payload": run.redactor.redact(payload),
            "inputs": run.redactor.redact(values),
            "dry_run": self.options.dry_run,
            "parent": parent_run or self.parent_run,
        }
        # The run and its run_started event are written in one transaction.
        run.events.flush(before=lambda store: store.create_run(run.id, **fields))
        created = run.events.last_write
        try:
            if created is not None:
                # Cancelling this wait (a webhook that gave up) drops the run unwritten.
                await run.events.committed(created)
            await run.journaled()
        except asyncio.CancelledError:
            if journal is not None and created is not None:
                created.add_done_callback(lambda done: _end_unstarted(journal, run.id, done))
            raise
        return await run.drive(run.plan.start(), control)

    async def wait_detached(self) -> None:
        """Wait for the sub-flow runs started without waiting (`wait: false`) to end."""
        while self.detached:
            await asyncio.wait(list(self.detached))

    def stop_detached(self, *, interrupt: bool) -> None:
        """Interrupt (resumable) or abort the sub-flow runs started without waiting."""
        for control in list(self.detached.values()):
            if control.started.is_set():
                control.interrupt() if interrupt else control.abort()


def _end_unstarted(journal: Journal, run_id: str, done: concurrent.futures.Future[None]) -> None:
    """A run written just as its start was cancelled must not look alive: end it."""
    if done.cancelled() or done.exception() is not None:
        return
    error = "the run was cancelled before it started"
    with contextlib.suppress(JournalError):
        journal.submit(lambda store: store.end_run(run_id, error=error, outcome="cancelled"))


class ActiveRun:
    """The state of one run while it executes."""

    def __init__(
        self, runner: LocalRunner, run_id: str, trigger: str, payload: Any, inputs: dict[str, Any]
    ) -> None:
        self.runner = runner
        self.id = run_id
        self.options = runner.options
        self.plan = Plan(runner.graph, trigger)
        self.payload = payload
        self.inputs = inputs
        self.outputs: dict[str, dict[str, Any]] = {}
        self.vars: dict[str, Any] = dict(runner.flow.vars)
        self.reports: dict[str, NodeReport] = {}
        self.redactor = Redactor([*self.options.secrets, *runner.known_secrets])
        self.events = RunEvents(
            run_id, runner.journal, runner.listeners, self.redactor, self.lose_journal
        )
        self.timed_out = False
        #: Why the run is being stopped ("aborted", "timed out", "interrupted", ...).
        self.stopping: str | None = None
        #: Credentials resolved in this run, by name (fields); their values are masked.
        self.credentials: dict[str, dict[str, str]] = {}
        self.credentials_lock = threading.Lock()
        self.event_loop = asyncio.get_running_loop()
        self.started_at = time.time()
        self.error: str | None = None
        self.limit = self.options.max_concurrency or runner.flow.settings.max_concurrency
        self.ready: deque[str] = deque()
        self.tasks: dict[asyncio.Task[Step], str] = {}
        self.waiting_approval: set[str] = set()
        # Debugger: the gate is open while the run may start nodes.
        self.gate = asyncio.Event()
        self.gate.set()
        self.stepping = False
        self.paused_at: str | None = None
        self.cancelled = False
        self.aborting = False
        self.interrupting = False
        self.left_waiting = False
        self.interrupted = False
        self.outputs_rendered: dict[str, Any] | None = None
        #: Approvals asked in this run: node -> rendered params; decisions made in-process.
        self.approval_requests: dict[str, dict[str, Any]] = {}
        self.decisions: dict[str, dict[str, Any]] = {}
        self.decided = asyncio.Event()
        #: Set when an approval starts waiting (a non-interactive run may then stop).
        self.approval_started = asyncio.Event()
        self.driver: asyncio.Task[Any] | None = None

    # -- events -----------------------------------------------------------------

    def emit(self, kind: EventKind, node: str | None, data: dict[str, Any]) -> Event:
        """Queue an event of this run (see `opsflow.engine.run_events`)."""
        return self.events.emit(kind, node, data)

    def flush(self) -> None:
        self.events.flush()

    async def journaled(self) -> None:
        """Wait until the journal has every event so far; before anything leaves the process."""
        await self.events.journaled()

    def lose_journal(self, error: BaseException) -> None:
        """The journal refused an event: stop the run, since nothing may act unrecorded."""
        self.error = f"the run journal could not record the run, so it stopped: {error}"
        # A run already stopping finds out at its next write (JournalLost) instead.
        if self.driver is not None and not self.driver.done() and self.stopping is None:
            self.stopping = "journal"
            self.driver.cancel()

    def log(self, node: str | None, level: str, message: str) -> None:
        self.emit("log", node, {"level": level, "message": message})

    def credential_fields(self, name: str) -> dict[str, str]:
        """A credential's fields for an executor (any thread); its values are masked from now on."""
        with self.credentials_lock:
            fields = self.credentials.get(name)
            if fields is None:
                declared = self.runner.flow.credentials.get(name)
                try:
                    found = resolve_credential(name, declared.kind if declared else None)
                except OpsflowError as exc:
                    raise NodeError(str(exc), retryable=False) from None
                for value in found.secret_values():
                    self.redactor.add(value)
                fields = self.credentials[name] = dict(found.fields)
            return fields

    def log_from_anywhere(self, node: str | None, level: str, message: str) -> None:
        """`log` for executors, which may run in a worker thread."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.event_loop:
            self.log(node, level, message)
        else:
            self.event_loop.call_soon_threadsafe(self.log, node, level, message)

    def replay(self, events: Iterable[Event]) -> None:
        """Rebuild outputs, variables and reports from a journal, for a resumed run."""
        for event in events:
            node, data = event.node, event.data
            if node is None:
                continue
            if event.kind == "node_succeeded":
                output = data.get("output")
                self.outputs[node] = {"output": output}
                if self.runner.specs[node].type == "action.set_vars" and isinstance(output, dict):
                    self.vars.update(output)
                self.reports[node] = NodeReport(
                    "succeeded", data.get("port"), data.get("attempt", 1), data.get("duration_s")
                )
            elif event.kind == "node_failed":
                self.outputs[node] = {"output": data.get("output"), "error": data.get("error")}
                self.reports[node] = NodeReport(
                    "failed",
                    data.get("port"),
                    data.get("attempt", 1),
                    data.get("duration_s"),
                    data.get("error"),
                )
            elif event.kind == "node_skipped":
                self.reports[node] = NodeReport("skipped")

    # -- steering -----------------------------------------------------------------------

    def open_gate(self, *, stepping: bool) -> None:
        self.stepping = stepping
        if not self.gate.is_set():
            self.emit("run_resumed", self.paused_at, {"how": "step" if stepping else "continue"})
            self.gate.set()

    def abort(self) -> None:
        if self.driver is not None and not self.driver.done() and self.stopping is None:
            self.aborting = True
            self.stopping = "aborted"
            self.driver.cancel()

    def interrupt(self) -> None:
        if self.driver is not None and not self.driver.done() and self.stopping is None:
            self.interrupting = True
            self.stopping = "interrupted"
            self.driver.cancel()

    async def stop_for_resume(self) -> RunResult:
        """End an interrupted run so that `opsflow runs resume` can continue it later.

        Nodes in flight get no end event: to the journal they are still running,
        and a resume re-runs them if their type is idempotent, or asks.
        """
        for task in self.tasks:
            task.cancel()
        for task, node_id in list(self.tasks.items()):
            try:
                # A node that completed while being stopped is recorded as it ended.
                self.absorb(await task)
            except NodeKilled as killed:
                self.log(
                    node_id,
                    "warning",
                    f"stopped while running: {killed}; a resume runs it again if its type "
                    "is idempotent, or asks",
                )
            except (asyncio.CancelledError, Exception):
                pass  # still in flight to the journal: a resume decides
        self.tasks.clear()
        self.interrupted = True
        self.error = (
            "the run was interrupted because the process running it stopped; "
            f"continue it with `opsflow runs resume {self.id}`"
        )
        self.emit("run_finished", None, {"outcome": "interrupted", "error": self.error})
        await self.journaled()
        return self.result()

    # -- the context expressions see ------------------------------------------------

    def context(self, **extra: Any) -> dict[str, Any]:
        return {
            "trigger": self.payload,
            "inputs": self.inputs,
            "nodes": self.outputs,
            "vars": self.vars,
            "run": {
                "id": self.id,
                "started_at": self.started_at,
                "dry_run": self.options.dry_run,
                "flow": self.runner.flow.id,
            },
            **extra,
        }

    # -- the scheduler ----------------------------------------------------------------

    async def drive(self, first: Step, control: RunControl | None) -> RunResult:
        self.driver = asyncio.current_task()
        if control is not None:
            control.bind(self)
        self.absorb(first)
        timeout = self.options.run_timeout_s or self.runner.flow.settings.timeout_s
        try:
            try:
                async with asyncio.timeout(timeout):
                    await self.loop()
            except TimeoutError:
                self.timed_out = True
                self.stopping = "timed out"
                self.error = (
                    f"the run took longer than its timeout of {timeout:g} s and was stopped"
                )
                await self.stop_all()
            except asyncio.CancelledError:
                assert self.driver is not None
                if self.stopping == "journal":
                    self.driver.uncancel()
                    return await self.stop_without_journal()
                if self.interrupting:
                    self.driver.uncancel()
                    return await self.stop_for_resume()
                self.stopping = self.stopping or "cancelled"
                self.error = "the run was aborted" if self.aborting else "the run was cancelled"
                await self.stop_all()
                if not self.aborting:
                    await self.finish()
                    raise
                self.driver.uncancel()
            await self.finish()
        except JournalLost:
            return await self.stop_without_journal()
        return self.result()

    async def stop_without_journal(self) -> RunResult:
        """The journal refused an event: stop every node for real, write nothing more."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        self.interrupted = True
        return self.result()

    async def loop(self) -> None:
        while True:
            while self.ready and len(self.tasks) < self.limit and self.gate.is_set():
                node_id = self.ready[0]
                if self.pause_before(node_id):
                    break
                self.ready.popleft()
                self.plan.node_started(node_id)
                if self.runner.inline[node_id]:
                    self.absorb(self.execute_inline(node_id))
                else:
                    task = asyncio.ensure_future(self.execute(node_id))
                    self.tasks[task] = node_id
                if self.stepping:
                    self.gate.clear()
            if self.ready and not self.gate.is_set():
                self.pause_after_step(self.ready[0])
            if not self.tasks:
                if self.ready and not self.gate.is_set():
                    self.flush()
                    await self.gate.wait()
                    continue
                return
            if self.only_approvals_left() and not self.options.wait_for_approvals:
                return
            extra: list[asyncio.Future[Any]] = []
            if self.ready and not self.gate.is_set():
                extra.append(asyncio.ensure_future(self.gate.wait()))
            if not self.options.wait_for_approvals:
                self.approval_started.clear()
                extra.append(asyncio.ensure_future(self.approval_started.wait()))
            self.flush()
            done, _ = await asyncio.wait({*self.tasks, *extra}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in extra:
                waiter.cancel()
            for finished in done:
                if finished not in extra:
                    del self.tasks[finished]  # type: ignore[arg-type]
                    self.absorb(finished.result())

    def only_approvals_left(self) -> bool:
        return (
            not self.ready
            and bool(self.tasks)
            and set(self.tasks.values()) <= self.waiting_approval
        )

    def pause_before(self, node_id: str) -> bool:
        """Close the gate at a breakpoint (once per arrival at the node)."""
        if node_id in self.options.breakpoints and self.paused_at != node_id:
            self.paused_at = node_id
            self.gate.clear()
            self.emit("run_paused", node_id, {})
            self.emit("node_waiting", node_id, {"reason": "breakpoint"})
            return True
        return False

    def pause_after_step(self, node_id: str) -> None:
        """After a step, say where the run now waits (as a breakpoint there would)."""
        if self.stepping and self.paused_at != node_id:
            self.paused_at = node_id
            self.emit("run_paused", node_id, {"after_step": True})
            self.emit("node_waiting", node_id, {"reason": "breakpoint"})

    def absorb(self, step: Step) -> None:
        for node_id in step.passed_through:
            result = self.plan.result(node_id)
            self.outputs[node_id] = {"output": None}
            self.reports[node_id] = NodeReport("succeeded", result.port)
            self.emit("node_succeeded", node_id, {"port": result.port, "passed_through": True})
        if step.skipped:
            for node_id in step.skipped:
                self.reports[node_id] = NodeReport("skipped")
                self.emit("node_skipped", node_id, {"reason": "no live inbound edge"})
            if self.ready:  # a stopped run skips nodes that were queued here
                gone = set(step.skipped)
                self.ready = deque(n for n in self.ready if n not in gone)
        self.ready.extend(step.ready)

    async def stop_all(self) -> None:
        """Stop every node in flight for real; record how each one really ended."""
        self.cancelled = not self.timed_out
        self.absorb(self.plan.cancel())
        self.ready.clear()
        for task in list(self.tasks):
            task.cancel()
        why = self.stopping or "cancelled"
        for task, node_id in list(self.tasks.items()):
            try:
                self.absorb(await task)  # it completed while being stopped: as it ended
                continue
            except NodeKilled as killed:
                error = f"stopped because the run was {why}: {killed}"
            except (asyncio.CancelledError, Exception):
                error = f"{why} while running"
            self.reports[node_id] = NodeReport("failed", error=error)
            self.emit("node_failed", node_id, {"error": error, "stopped": why})
            self.absorb(self.plan.node_failed(node_id))
        self.tasks.clear()

    async def finish(self) -> None:
        """Record how the run ended; a run left waiting for approvals stays open."""
        status = self.status()
        journal = self.runner.journal
        if status == "waiting":
            # The approvals stay pending in the journal; `resume_run` waits again.
            self.left_waiting = True
            waiting = list(self.tasks)
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
            await self.journaled()
            if journal is not None:  # nobody drives it until someone resumes it
                await asyncio.wrap_future(journal.submit(lambda store: store.release(self.id)))
            return
        data: dict[str, Any] = {"outcome": status, "error": self.error}
        if self.timed_out:
            data["timed_out"] = True
        if status == "succeeded" and self.runner.flow.outputs:
            data["outputs"] = self.flow_outputs()
        self.emit("run_finished", None, data)
        await self.journaled()

    def status(self) -> RunStatus:
        if self.interrupted:
            return "interrupted"
        if self.left_waiting:
            return "waiting"
        if self.timed_out:
            return "failed"
        if self.cancelled:
            return "cancelled"
        outcome = self.plan.outcome
        if outcome is None:
            return "waiting" if self.only_approvals_left() else "interrupted"
        return outcome

    def render_outputs(self) -> dict[str, Any]:
        context = self.context()
        values: dict[str, Any] = {}
        for name, source in self.runner.flow.outputs.items():
            try:
                values[name] = render_template(source, context)
            except ExpressionError as exc:
                self.log(None, "warning", f"output '{name}' could not be rendered: {exc}")
                values[name] = None
        return values

    def result(self) -> RunResult:
        for node_id, state in self.plan.summary().items():
            report = self.reports.setdefault(node_id, NodeReport(state.state, state.port))
            if report.state in ("running", "waiting") and state.state == "skipped":
                report.state = "skipped"
        outputs = self.flow_outputs() if self.status() == "succeeded" else {}
        status = self.status()
        return RunResult(self.id, status, self.error, self.reports, outputs, self.timed_out)

    def flow_outputs(self) -> dict[str, Any]:
        """The flow's declared outputs, rendered once at the end of a successful run."""
        if self.outputs_rendered is None:
            self.outputs_rendered = self.render_outputs()
        return self.outputs_rendered

    # -- one node ------------------------------------------------------------------

    def prepare(self, node_id: str) -> tuple[dict[str, Any], Pin | None] | Step:
        """Render a node's parameters; a Step instead when rendering failed the node."""
        spec, params = self.runner.specs[node_id], self.runner.params[node_id]
        pin = self.options.pinned.get(node_id)
        try:
            return self.render(node_id, spec, params), pin
        except ExpressionError as exc:
            if not self.options.dry_run:
                report = self.reports.setdefault(node_id, NodeReport("running"))
                message = f"cannot render its parameters: {exc}"
                return self.fail(node_id, report, message, time.monotonic(), 1)
            # A dry run has no outputs from simulated nodes: show the templates as written,
            # and let a condition that cannot be decided take its first port, saying so.
            if pin is None and spec.category == "condition":
                port = self.runner.graph.ports[self.runner.graph.number(node_id)][0]
                self.log(node_id, "info", f"dry run: cannot decide ({exc}); assuming '{port}'")
                pin = Pin({"dry_run": True, "assumed": port, "reason": str(exc)}, port)
            else:
                self.log(node_id, "info", f"dry run: parameters shown unrendered ({exc})")
            return params.model_dump(mode="json"), pin

    def execute_inline(self, node_id: str) -> Step:
        """Run a cheap, pure node right here in the scheduler: no task, no thread, no wait."""
        prepared = self.prepare(node_id)
        if isinstance(prepared, Step):
            return prepared
        rendered, pin = prepared
        node, spec = self.runner.nodes[node_id], self.runner.specs[node_id]
        report = self.reports.setdefault(node_id, NodeReport("running", attempts=1))
        started = time.monotonic()
        self.emit("node_started", node_id, {"attempt": 1, "params": rendered})
        try:
            outcome = self.simulate(node, spec, rendered, pin)
            if outcome is None:
                call = self.call(node, spec, rendered, 1)
                outcome = load_executor(spec.executor or "")(call)  # type: ignore[assignment]
                assert isinstance(outcome, NodeOutcome)
        except (NodeError, ExpressionError, OpsflowError) as exc:
            output = exc.output if isinstance(exc, NodeError) else None
            return self.fail(node_id, report, _describe_failure(exc, node), started, 1, output)
        except Exception as exc:  # a bug in an executor: the run must still end cleanly
            message = f"internal error in {spec.type} ({type(exc).__name__}: {exc})"
            return self.fail(node_id, report, message, started, 1)
        return self.succeed(node_id, spec, report, outcome, started, pin)

    async def execute(self, node_id: str) -> Step:
        prepared = self.prepare(node_id)
        if isinstance(prepared, Step):
            return prepared
        rendered, pin = prepared
        runner = self.runner
        node, spec, params = runner.nodes[node_id], runner.specs[node_id], runner.params[node_id]
        report = self.reports.setdefault(node_id, NodeReport("running"))
        started = time.monotonic()
        attempts = node.retry.attempts if node.retry is not None else 1
        for attempt in range(1, attempts + 1):
            report.attempts = attempt
            self.emit("node_started", node_id, {"attempt": attempt, "params": rendered})
            try:
                outcome = self.simulate(node, spec, rendered, pin)
                if outcome is None:
                    outcome = await self.attempt(node, spec, params, rendered, attempt)
            except (asyncio.CancelledError, NodeKilled, JournalLost):
                raise
            except (NodeError, TimeoutError, ExpressionError, OpsflowError) as exc:
                message = _describe_failure(exc, node)
                retryable = not isinstance(exc, NodeError) or exc.retryable
                if attempt < attempts and retryable and self.stopping is None:
                    delay = _backoff(node, attempt)
                    self.emit(
                        "node_retrying",
                        node_id,
                        {"attempt": attempt + 1, "delay_s": round(delay, 3), "error": message},
                    )
                    await self.journaled()
                    await asyncio.sleep(delay)
                    continue
                output = exc.output if isinstance(exc, NodeError) else None
                return self.fail(node_id, report, message, started, attempt, output)
            except Exception as exc:  # a bug in an executor: the run must still end cleanly
                message = f"internal error in {spec.type} ({type(exc).__name__}: {exc})"
                return self.fail(node_id, report, message, started, attempt)
            return self.succeed(node_id, spec, report, outcome, started, pin)
        raise AssertionError("unreachable: the loop returns")

    def simulate(
        self, node: Node, spec: NodeSpec, rendered: dict[str, Any], pin: Pin | None
    ) -> NodeOutcome | None:
        """The outcome of a node that does not really run (pinned, trigger, dry run), or None."""
        if pin is not None:
            if pin.port == "error":  # a recorded failure that went out of `error`
                error = pin.output.get("error") if isinstance(pin.output, dict) else None
                raise NodeError(str(error or "failed in the earlier run"), retryable=False)
            return NodeOutcome(pin.output, pin.port)
        if spec.category == "trigger":
            return NodeOutcome(self.payload)
        if self.options.dry_run and spec.type not in _RUNNER_TYPES:
            params = self.runner.params[node.id]
            if spec.has_side_effects(params) or spec.executor is None:
                # What the flow says, rendered; node_started has every default too.
                chosen = {k: v for k, v in rendered.items() if k in params.model_fields_set}
                return NodeOutcome({"dry_run": True, "would_run": spec.type, "params": chosen})
            if spec.type == "action.wait":
                return NodeOutcome({"dry_run": True, "would_wait": rendered})
        return None

    def call(self, node: Node, spec: NodeSpec, rendered: dict[str, Any], attempt: int) -> NodeCall:
        return NodeCall(
            run_id=self.id,
            flow=self.runner.flow,
            flow_path=self.runner.flow_path,
            node=node,
            spec=spec,
            params=rendered,
            attempt=attempt,
            timeout_s=node.timeout_s,
            log=lambda level, message: self.log_from_anywhere(node.id, level, message),
            credential=self.credential_fields,
        )

    def render(self, node_id: str, spec: NodeSpec, params: BaseModel) -> dict[str, Any]:
        if spec.category == "trigger":
            return params.model_dump(mode="json")
        if spec.type == "control.foreach":
            return nested.render_foreach_params(params, self.context())
        static = self.runner.static_params.get(node_id)
        if static is not None:
            return static
        return render_params(params, self.context())

    async def attempt(
        self, node: Node, spec: NodeSpec, params: BaseModel, rendered: dict[str, Any], attempt: int
    ) -> NodeOutcome:
        if spec.type in _OUTWARD_TYPES or spec.has_side_effects(params):
            await self.journaled()  # the journal knows everything before the node acts or waits
        if spec.type == "control.approval":
            return await approvals.wait_for_decision(self, node, rendered)
        if spec.type == "action.subflow":
            return await nested.run_subflow(self, node, rendered)
        if spec.type == "control.foreach":
            return await nested.run_foreach(self, node, rendered)
        if spec.executor is None:
            raise NodeError(self.runner.catalog.cannot_run(spec), retryable=False)
        if self.options.dry_run:
            # A read-only step runs in a dry run too; when a credential it needs is not set
            # here, say so and simulate the step instead of failing the run.
            for _path, name, kind in walk_strings(params):
                if kind != "credential":
                    continue
                try:
                    await asyncio.to_thread(self.credential_fields, name)
                except NodeError as exc:
                    message = f"dry run: would need credential '{name}'; step simulated ({exc})"
                    self.log(node.id, "warning", message)
                    chosen = {k: v for k, v in rendered.items() if k in params.model_fields_set}
                    output = {"dry_run": True, "would_run": spec.type, "params": chosen}
                    return NodeOutcome({**output, "missing_credential": name})
        try:
            executor = load_executor(spec.executor)
        except Exception as exc:  # a pack's module is missing or broken: say which, and why
            raise NodeError(self.runner.catalog.cannot_run(spec, exc), retryable=False) from None
        call = self.call(node, spec, rendered, attempt)
        if not is_async(executor):
            return await run_blocking(executor, call)  # type: ignore[arg-type]
        pending = executor(call)
        assert not isinstance(pending, NodeOutcome)
        if node.timeout_s is None:
            return await pending
        return await asyncio.wait_for(pending, node.timeout_s)

    def succeed(
        self,
        node_id: str,
        spec: NodeSpec,
        report: NodeReport,
        outcome: NodeOutcome,
        started: float,
        pin: Pin | None,
    ) -> Step:
        port = outcome.port or default_port(spec)
        output = self.redactor.redact(outcome.output)
        self.outputs[node_id] = {"output": output}
        if spec.type == "action.set_vars" and isinstance(output, dict):
            self.vars.update(output)
        report.state, report.port = "succeeded", port
        report.duration_s = round(time.monotonic() - started, 6)
        data: dict[str, Any] = {
            "port": port,
            "output": output,
            "attempt": report.attempts,
            "duration_s": report.duration_s,
        }
        if node_id in self.options.pinned:
            data["pinned"] = True
        self.emit("node_succeeded", node_id, data)
        return self.plan.node_finished(node_id, port)

    def fail(
        self,
        node_id: str,
        report: NodeReport,
        message: str,
        started: float,
        attempt: int,
        output: Any = None,
    ) -> Step:
        message = self.redactor.redact(message)
        report.state, report.error = "failed", message
        report.duration_s = round(time.monotonic() - started, 6)
        if self.runner.graph.error_wired[self.runner.graph.number(node_id)]:
            report.port = "error"
        self.outputs[node_id] = {"output": output, "error": message}
        data = {"error": message, "attempt": attempt, "duration_s": report.duration_s}
        if report.port is not None:
            data["port"] = report.port  # the failure goes on through `error`
        if output is not None:
            data["output"] = output
        self.emit("node_failed", node_id, data)
        step = self.plan.node_failed(node_id)
        if self.plan.stopped == "failed" and self.error is None:
            self.error = f"node '{node_id}' failed: {message}"
        return step


#: Node types the runner itself runs, also in a dry run.
_RUNNER_TYPES = frozenset({"control.approval"})
#: Node types that wait for people or start other runs: journal before them.
_OUTWARD_TYPES = frozenset({"control.approval", "action.subflow", "control.foreach"})


def _static_params(params: BaseModel, spec: NodeSpec) -> dict[str, Any] | None:
    """The rendered parameters when nothing in them needs rendering, else None."""
    if spec.category == "trigger" or spec.type == "control.foreach":
        return None
    for _path, value, kind in walk_strings(params):
        if kind == "expression" or (kind == "template" and is_template(value)):
            return None
    return render_params(params, {})


def _describe_failure(exc: BaseException, node: Node) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {node.timeout_s:g} s"
    return str(exc) or type(exc).__name__


def _backoff(node: Node, attempt: int) -> float:
    """Exponential backoff with jitter: half to all of backoff * 2**(attempt - 1)."""
    retry = node.retry
    assert retry is not None
    delay = float(min(retry.max_backoff_s, retry.backoff_s * 2 ** (attempt - 1)))
    return delay * random.uniform(0.5, 1.0) if retry.jitter else delay
