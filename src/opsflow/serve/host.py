"""Hosting the triggers of flows: `TriggerHost` builds a handler per webhook, schedule, file and
poll trigger, and `Runs` is the one way any of them starts a run and keeps track of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from opsflow.catalog.builtin.triggers import FileParams, PollParams, ScheduleParams
from opsflow.engine.control import RunControl
from opsflow.engine.journal import Journal, JournalBusy, RunRecord
from opsflow.engine.local import LocalRunner
from opsflow.engine.resume import resume_run
from opsflow.engine.run_types import RunOptions, RunResult, new_run_id
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow
from opsflow.serve.filewatch import FileTrigger
from opsflow.serve.poll import PollTrigger
from opsflow.serve.schedule import ScheduleTrigger, last_fire
from opsflow.serve.webhooks import Route, WebhookServer, build_routes

logger = logging.getLogger(__name__)
#: Starts a run of one trigger with a payload: its id, or None if it could not start (logged).
Fire = Callable[[dict[str, Any]], Coroutine[Any, Any, str | None]]
#: Trigger types hosted besides webhooks.
BACKGROUND_TYPES = frozenset({"trigger.schedule", "trigger.file", "trigger.poll"})


class RunTarget(Protocol):
    """What a trigger starts: a flow's runner, the trigger node, and a label for log lines."""

    @property
    def label(self) -> str: ...

    @property
    def trigger(self) -> str: ...

    @property
    def runner(self) -> LocalRunner: ...


@dataclass(frozen=True)
class Target:
    """A schedule, file or poll trigger node and the runner of its flow."""

    flow: str
    trigger: str
    runner: LocalRunner

    @property
    def label(self) -> str:
        return f"{self.flow}/{self.trigger}"


class Hosted(Protocol):
    """A background trigger: described in one line, started on the running loop, stopped."""

    def describe(self) -> str: ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Runs:
    """Starts runs from triggers, logs one line per run when it ends, interrupts them on stop."""

    def __init__(self, log: Callable[[str], None] = print) -> None:
        self.log = log
        #: Runs in flight and the controls that interrupt them.
        self.in_flight: dict[asyncio.Task[None], RunControl] = {}
        #: The runners of hosted flows (their sub-flow runs started without wait are
        #: stopped with the rest).
        self.runners: list[LocalRunner] = []

    def __len__(self) -> int:
        return len(self.in_flight)

    def say(self, message: str) -> None:
        """Log one line, prefixed with the local time."""
        self.log(f"{timestamp()} {message}")

    async def start(
        self, target: RunTarget, payload: dict[str, Any], *, wait_s: float | None = None
    ) -> str:
        """Start a run and return its id once the journal has it.

        JournalBusy when the journal did not take it within `wait_s` (the run is then
        dropped unwritten, or ended as cancelled if it was being written just then);
        RuntimeError if it did not start for another reason (logged).
        """
        run_id = await self.fire(target, payload, wait_s=wait_s)
        if run_id is None:
            raise RuntimeError(f"a run of {target.label} did not start")
        return run_id

    async def fire(
        self, target: RunTarget, payload: dict[str, Any], *, wait_s: float | None = None
    ) -> str | None:
        """Start a run; its id once the journal has it, None if it could not start (logged)."""
        run_id = new_run_id()
        control = RunControl()
        task = asyncio.create_task(self._run(target, payload, run_id, control))
        self.in_flight[task] = control
        task.add_done_callback(self._forget)
        try:
            async with asyncio.timeout(wait_s):
                started = await control.wait_started(task)
        except TimeoutError:
            task.cancel()
            raise JournalBusy(
                f"the run journal did not take the run within {wait_s:g} s (another process "
                "holds its write lock)"
            ) from None
        return run_id if started else None

    def resume(self, journal: Journal, run_id: str, options: RunOptions) -> None:
        """Resume an interrupted run in the background (logged when it ends)."""
        control = RunControl()
        task = asyncio.create_task(self._resume(journal, run_id, options, control))
        self.in_flight[task] = control
        task.add_done_callback(self._forget)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Interrupt the runs in flight (they can be resumed) and wait for them to end."""
        for control in list(self.in_flight.values()):
            if control.started.is_set():
                control.interrupt()
        for runner in self.runners:
            runner.stop_detached(interrupt=True)
        waiting = [*self.in_flight, *(t for r in self.runners for t in r.detached)]
        if waiting:
            await asyncio.wait(waiting, timeout=grace_s)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self.in_flight.pop(task, None)

    async def _run(
        self, target: RunTarget, payload: dict[str, Any], run_id: str, control: RunControl
    ) -> None:
        began = time.monotonic()
        try:
            result = await target.runner.run(
                trigger=target.trigger, payload=payload, run_id=run_id, control=control
            )
        except Exception as exc:
            logger.debug("run %s crashed", run_id, exc_info=True)
            self.say(f"{target.label} run {run_id} could not run: {exc}")
            return
        self._ended(f"{target.label} run {run_id}", result, began)

    async def _resume(
        self, journal: Journal, run_id: str, options: RunOptions, control: RunControl
    ) -> None:
        began = time.monotonic()
        try:
            result = await resume_run(journal, run_id, options=options, control=control)
        except Exception as exc:
            logger.debug("resuming run %s failed", run_id, exc_info=True)
            self.say(f"run {run_id} was not resumed: {exc}")
            return
        self._ended(f"resumed run {run_id}", result, began)

    def _ended(self, what: str, result: RunResult, began: float) -> None:
        took = time.monotonic() - began
        error = f": {result.error}" if result.error and result.status != "succeeded" else ""
        self.say(f"{what} {result.status} in {took:.2f}s{error}")


class TriggerHost:
    """Every hostable trigger of some flows, sharing one `Runs`; manual triggers are not hosted.

    Building it checks everything that can be checked before listening (credentials, folders,
    URLs) and raises OpsflowError with a sentence; `start` needs a running event loop.
    """

    def __init__(
        self,
        flows: Sequence[tuple[Flow, Path | None]],
        journal: Journal | None,
        *,
        log: Callable[[str], None] = print,
    ) -> None:
        self.runs = Runs(log)
        with_webhooks = [
            (flow, path)
            for flow, path in flows
            if any(node.type == "trigger.webhook" for node in flow.nodes)
        ]
        #: (method, path) -> webhook route; empty when no flow has a webhook.
        self.routes: dict[tuple[str, str], Route] = (
            build_routes(with_webhooks, journal) if with_webhooks else {}
        )
        # One runner per flow (keyed by the Flow object), shared with its webhook routes.
        runners = {id(route.runner.flow): route.runner for route in self.routes.values()}
        #: The schedule, file and poll triggers, in flow and node order.
        self.triggers: list[Hosted] = []
        for flow, path in flows:
            for node in flow.nodes:
                if node.disabled or node.type not in BACKGROUND_TYPES:
                    continue
                runner = runners.get(id(flow))
                if runner is None:
                    runner = runners[id(flow)] = LocalRunner(flow, flow_path=path, journal=journal)
                target = Target(flow.id, node.id, runner)
                self.triggers.append(self._build(flow, node.type, node.params, target, journal))
        self.runs.runners = list(runners.values())
        self.journal = journal
        self.flow_ids = sorted({flow.id for flow, _ in flows})
        if not self.routes and not self.triggers:
            raise OpsflowError(
                "none of the flows has a webhook, schedule, file or poll trigger; "
                "there is nothing to serve"
            )
        self.server: WebhookServer | None = None

    def _build(
        self,
        flow: Flow,
        kind: str,
        params: dict[str, Any],
        target: Target,
        journal: Journal | None,
    ) -> Hosted:
        fire = partial(self.runs.fire, target)
        if kind == "trigger.schedule":
            schedule = ScheduleParams.model_validate(params)
            last = last_fire(journal, flow.id, target.trigger) if schedule.catch_up else None
            return ScheduleTrigger(target.label, schedule, fire, last_fire=last)
        if kind == "trigger.file":
            watch = FileParams.model_validate(params)
            return FileTrigger(target.label, watch, fire, flow=flow.id, node=target.trigger)
        poll = PollParams.model_validate(params)
        return PollTrigger(target.label, poll, fire, flow=flow, node=target.trigger, say=self.say)

    def say(self, message: str) -> None:
        self.runs.say(message)

    def interrupted_runs(self) -> list[RunRecord]:
        """Runs of the hosted flows left interrupted, or orphaned by a process that is gone."""
        if self.journal is None:
            return []
        found = []
        for flow_id in self.flow_ids:
            found += self.journal.list_runs(flow_id=flow_id, state="interrupted", limit=100_000)
        return sorted(found, key=lambda record: (record.started_at, record.id))

    def resume(self, records: Sequence[RunRecord]) -> None:
        """Resume these runs in the background, as runs in flight of this host."""
        assert self.journal is not None
        secrets = [route.secret.decode() for route in self.routes.values() if route.secret]
        for record in records:
            options = RunOptions(dry_run=record.dry_run, secrets=secrets)
            self.runs.resume(self.journal, record.id, options)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen for webhooks (if any), then start the other triggers on this loop."""
        if self.routes:
            self.server = WebhookServer(self.routes, runs=self.runs)
            await self.server.start(host, port)
        started: list[Hosted] = []
        try:
            for trigger in self.triggers:
                trigger.start()
                started.append(trigger)
        except BaseException:
            for trigger in started:
                await trigger.stop()
            if self.server is not None:
                await self.server.close()
            raise

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop every trigger, then interrupt the runs in flight and wait for them to end."""
        for trigger in self.triggers:
            await trigger.stop()
        if self.server is not None:
            await self.server.close()
        await self.runs.stop(grace_s)


def timestamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")
