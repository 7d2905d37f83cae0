"""Steering a run from outside it: breakpoints, abort, and approvals answered in place."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opsflow.engine import approvals
from opsflow.errors import OpsflowError

if TYPE_CHECKING:
    from opsflow.engine.local import ActiveRun


class RunControl:
    """Steer a run from outside it: continue or step at a breakpoint, abort, decide approvals.

    Create one, pass it to `LocalRunner.run(control=...)`, and call its methods
    from any thread (the Studio's GUI thread, a terminal prompt) once
    `started` is set.
    """

    def __init__(self) -> None:
        self._run: ActiveRun | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Set once the run has started (run_started is journaled) and the methods may be
        #: called.
        self.started = threading.Event()
        self._started_here = asyncio.Event()

    def bind(self, run: ActiveRun) -> None:
        self._run = run
        self._loop = asyncio.get_running_loop()
        self.started.set()
        self._started_here.set()

    async def wait_started(self, task: asyncio.Future[Any]) -> bool:
        """On the run's event loop: wait until the run started (True) or `task` ended (False)."""
        waiter = asyncio.ensure_future(self._started_here.wait())
        try:
            await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        return self.started.is_set()

    @property
    def run_id(self) -> str | None:
        return self._run.id if self._run is not None else None

    def continue_(self) -> None:
        """Leave a breakpoint and run on."""
        self._call(lambda run: run.open_gate(stepping=False))

    def step(self) -> None:
        """Run the next node, then pause again."""
        self._call(lambda run: run.open_gate(stepping=True))

    def abort(self) -> None:
        """Stop the run: it ends as cancelled."""
        self._call(lambda run: run.abort())

    def interrupt(self) -> None:
        """Stop the run so it can be resumed later (a server shutting down)."""
        self._call(lambda run: run.interrupt())

    def decide(
        self,
        node: str,
        decision: str,
        *,
        by: str,
        comment: str = "",
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer a waiting approval as `by` (refused with OpsflowError if not allowed)."""
        run = self._require()
        assert self._loop is not None

        def apply() -> None:
            approvals.record_decision(run, node, decision, by=by, comment=comment, fields=fields)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            apply()
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def on_loop() -> None:
            try:
                apply()
                done.set_result(None)
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(on_loop)
        done.result(timeout=30)

    def _require(self) -> ActiveRun:
        if self._run is None:
            raise OpsflowError("the run has not started yet")
        return self._run

    def _call(self, action: Callable[[ActiveRun], None]) -> None:
        run = self._require()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(action, run)
