"""Runs flows for the Studio on a worker thread, and hands their events to the GUI in batches.

The engine (asyncio, the SQLite journal) lives on one background thread with
its own event loop; nothing the GUI thread does waits for a node. Events are
queued by the engine's listener and the GUI is woken once per batch
(`events_ready`), so a flow of a thousand fast nodes costs a few repaints,
not a few thousand. Controls (continue, step, abort, decide) go through the
thread-safe `RunControl`, the same API the command line uses.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from opsflow.catalog import Catalog
from opsflow.engine.control import RunControl
from opsflow.engine.events import Event
from opsflow.engine.journal import Journal, default_journal_path
from opsflow.engine.local import LocalRunner
from opsflow.engine.resume import replay_upstream, resume_run
from opsflow.engine.run_types import Pin, RunOptions, RunResult
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow


@dataclass(frozen=True)
class RunRequest:
    """What to run: the flow as it stands in the editor, and how."""

    flow: Flow
    flow_path: Path | None
    trigger: str | None = None
    payload: Any = None
    inputs: Mapping[str, Any] | None = None
    dry_run: bool = False
    breakpoints: frozenset[str] = frozenset()
    pinned: Mapping[str, Pin] | None = None
    #: Start from this node, reusing what ran upstream of it in run `reuse`.
    start_at: str | None = None
    reuse: str | None = None


class RunHost(QObject):
    """One background engine thread for a Studio window; at most one run at a time."""

    #: Events are waiting: call `take_events()` (emitted once per batch).
    events_ready = Signal()
    #: The run ended: (run id, final status or "crashed", error sentence or "").
    run_ended = Signal(str, str, str)

    def __init__(
        self,
        journal_path: Path | None = None,
        catalog: Catalog | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.journal_path = journal_path or default_journal_path()
        self.catalog = catalog
        self.control: RunControl | None = None
        self.run_id: str | None = None
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._woken = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._journal: Journal | None = None
        self._thread = threading.Thread(target=self._serve, name="opsflow-runs", daemon=True)
        self._thread.start()

    # -- starting ------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.run_id is not None

    def start(self, run_id: str, request: RunRequest) -> None:
        """Start a run under `run_id`, which the caller shows before its first event can come."""
        self.refuse_if_busy()
        control = RunControl()
        self._begin(run_id, control, self._run(request, run_id, control))

    def resume(self, run_id: str, rerun: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> None:
        """Continue an interrupted or waiting run from the journal."""
        self.refuse_if_busy()
        control = RunControl()

        async def go() -> RunResult:
            return await resume_run(
                self._open_journal(),
                run_id,
                catalog=self.catalog,
                listeners=[self._queue],
                rerun=rerun,
                skip=skip,
                control=control,
            )

        self._begin(run_id, control, go())

    def refuse_if_busy(self) -> None:
        """OpsflowError when a run is still going (one run at a time)."""
        if self.run_id is not None:
            raise OpsflowError(f"run {self.run_id} is still going; abort it or let it finish first")

    def _begin(
        self, run_id: str, control: RunControl, work: Coroutine[Any, Any, RunResult]
    ) -> None:
        self.run_id = run_id
        self.control = control
        asyncio.run_coroutine_threadsafe(self._run_to_end(run_id, work), self._loop)

    async def _run_to_end(self, run_id: str, work: Coroutine[Any, Any, RunResult]) -> None:
        """Run `work` on the engine loop and announce its end from there.

        A done-callback would run on the GUI thread, inside `start()`, when the
        run is over before it is registered; announced from the engine thread,
        the end always reaches the GUI through its event loop, after the events.
        """
        status, error = "crashed", "internal error (the engine stopped before the run ended)"
        try:
            result = await work
            status, error = result.status, result.error or ""
        except OpsflowError as exc:
            status, error = "refused", str(exc)
        except Exception as exc:  # a bug in the engine: say so, keep the Studio alive
            status, error = "crashed", f"internal error ({type(exc).__name__}: {exc})"
        finally:
            self.run_id = None
            self.control = None
            self.run_ended.emit(run_id, status, error)

    async def _run(self, request: RunRequest, run_id: str, control: RunControl) -> RunResult:
        journal = self._open_journal()
        pinned = dict(request.pinned or {})
        trigger, payload, inputs = request.trigger, request.payload, request.inputs
        if request.start_at is not None:
            if request.reuse is None:
                raise OpsflowError("choose the earlier run whose outputs to reuse")
            replay = replay_upstream(journal, request.reuse, request.flow, request.start_at)
            trigger, payload, inputs = replay.trigger, replay.payload, replay.inputs
            pinned = {**replay.pins, **pinned}
        options = RunOptions(
            dry_run=request.dry_run,
            breakpoints=request.breakpoints,
            pinned=pinned,
        )
        runner = LocalRunner(
            request.flow,
            flow_path=request.flow_path,
            catalog=self.catalog,
            journal=journal,
            options=options,
            listeners=[self._queue],
        )
        return await runner.run(
            trigger=trigger, payload=payload, inputs=inputs, run_id=run_id, control=control
        )

    # -- controls ------------------------------------------------------------------------

    def continue_(self) -> None:
        if self.control is not None:
            self.control.continue_()

    def step(self) -> None:
        if self.control is not None:
            self.control.step()

    def abort(self) -> None:
        if self.control is not None and self.control.run_id is not None:
            self.control.abort()

    # -- events --------------------------------------------------------------------------

    def _queue(self, event: Event) -> None:
        """The engine's listener (engine thread): queue, and wake the GUI once per batch."""
        self._events.put(event)
        if not self._woken.is_set():
            self._woken.set()
            self.events_ready.emit()

    def take_events(self, limit: int = 1_000_000) -> list[Event]:
        """Up to `limit` events queued since the last call (GUI thread).

        When events are left over, call again (the engine may not wake the
        GUI again if it has finished).
        """
        self._woken.clear()
        taken: list[Event] = []
        while len(taken) < limit:
            try:
                taken.append(self._events.get_nowait())
            except queue.Empty:
                break
        return taken

    def has_events(self) -> bool:
        return not self._events.empty()

    # -- the engine thread ---------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        if self._journal is not None:
            self._journal.close()
        self._loop.close()

    def _open_journal(self) -> Journal:
        """The journal, opened on the engine thread (SQLite connections stay on one thread)."""
        if self._journal is None:
            self._journal = Journal(self.journal_path)
        return self._journal

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Interrupt a run in flight (it can be resumed) and stop the engine thread."""
        if self.control is not None and self.control.run_id is not None:
            self.control.interrupt()
            until = time.monotonic() + grace_s
            while self.run_id is not None and time.monotonic() < until:
                time.sleep(0.05)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=grace_s)
