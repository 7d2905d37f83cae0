"""Running a blocking executor for the runner, and stopping it for real.

Attempts run in daemon worker threads (reused, created as needed, ended after a
minute idle), so a process that must exit (Ctrl-C, SIGTERM, a run timeout) never
waits at interpreter exit for a thread stuck in a network call, as it would for
`concurrent.futures.ThreadPoolExecutor`'s threads. When the attempt's result is no
longer wanted (the node's timeout, or the run is aborted, interrupted or timed out)
the runner sets `NodeCall.stop`; the executors that start processes or remote
commands then kill them (see `opsflow.nodeapi`). The runner waits at most
`STOP_GRACE_S` and reports what really happened: the executor's own result when it
completed anyway, `NodeKilled` when what it started was killed, or that it may
still be running.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from opsflow.nodeapi import STOP_GRACE_S, NodeCall, NodeOutcome, NodeStopped, SyncExecutor


class NodeKilled(Exception):
    """The attempt was stopped before it completed; the message says what was killed."""


async def run_blocking(executor: SyncExecutor, call: NodeCall) -> NodeOutcome:
    """Run `executor(call)` in a thread, honouring the node's timeout and cancellation.

    On the node's timeout: TimeoutError, unless the executor completed anyway within
    the grace (then its own result). On cancellation: the executor's result if it
    completed within the grace (the caller records it; nothing is lost), otherwise
    NodeKilled. Cancellation is not re-raised: the caller checks why it was stopped.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[NodeOutcome] = loop.create_future()

    def settle(outcome: NodeOutcome | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(outcome)  # type: ignore[arg-type]

    def work() -> None:
        try:
            outcome = executor(call)
        except BaseException as exc:  # handed to the event loop, which decides
            result: tuple[NodeOutcome | None, BaseException | None] = (None, exc)
        else:
            result = (outcome, None)
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, *result)

    _workers.run(work)
    try:
        if call.timeout_s is None:
            return await asyncio.shield(done)
        async with asyncio.timeout(call.timeout_s):
            return await asyncio.shield(done)
    except TimeoutError:
        try:
            return await _stop(call, done)
        except (NodeKilled, NodeStopped):
            raise TimeoutError from None
    except asyncio.CancelledError:
        try:
            return await _stop(call, done)
        except NodeStopped as exc:
            raise NodeKilled(str(exc)) from None


async def _stop(call: NodeCall, done: asyncio.Future[NodeOutcome]) -> NodeOutcome:
    """Ask the executor to stop and wait out the grace: its result, or NodeKilled."""
    call.stop.set()
    try:
        async with asyncio.timeout(STOP_GRACE_S):
            return await asyncio.shield(done)
    except TimeoutError:
        done.add_done_callback(_ignore)
        raise NodeKilled(
            f"it did not stop within {STOP_GRACE_S:g} s of being told to and may still be "
            "running; check what it was doing"
        ) from None


class _DaemonWorkers:
    """Daemon threads that take work from one queue; one more is started whenever none is idle."""

    IDLE_S = 60.0

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for work that no queued item has claimed

    def run(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(target=self._serve, name="opsflow-node", daemon=True).start()
        self._work.put(work)

    def _serve(self) -> None:
        while True:
            try:
                work = self._work.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._idle:  # nobody counts on this thread: let it go
                        self._idle -= 1
                        return
                continue
            work()
            with self._lock:
                self._idle += 1


_workers = _DaemonWorkers()


def _ignore(future: asyncio.Future[Any]) -> None:
    """Retrieve a late result nobody waits for (so asyncio does not log it as unhandled)."""
    if not future.cancelled():
        future.exception()
