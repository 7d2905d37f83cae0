"""The node API: what an executor receives (`NodeCall`), returns (`NodeOutcome`) and raises
(`NodeError`, `NodeStopped`), for the built-in executors and third-party node packs alike.

An executor is a plain function (run in a worker thread, so it may block) or a coroutine
function (run on the event loop), named by its type's `NodeSpec.executor`. It reports a
failure by raising `NodeError`, which the runner retries and then routes to the node's `error`
port or to the end of the run. Executors import this module, never `opsflow.engine`.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsflow.catalog.spec import NodeSpec
from opsflow.model.flow import Flow, Node


class NodeError(Exception):
    """A node failed in a way its flow may handle (the `error` port) or retry."""

    def __init__(self, message: str, *, output: Any = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.output = output
        self.retryable = retryable


@dataclass(frozen=True)
class NodeOutcome:
    """A node's result: the port it leaves through (None: its usual one) and its output."""

    output: Any = None
    port: str | None = None


def _no_credentials(name: str) -> dict[str, str]:
    raise NodeError(
        f"credential '{name}' is needed, but this run has no credential source",
        retryable=False,
    )


@dataclass
class NodeCall:
    """Everything an executor may use to run one attempt of one node."""

    run_id: str
    flow: Flow
    flow_path: Path | None
    node: Node
    spec: NodeSpec
    #: The validated parameters with every template rendered (JSON-ready); read-only,
    #: since runs of the same node may share it.
    params: dict[str, Any]
    attempt: int
    #: The node's timeout: executors that start processes or connections enforce it
    #: themselves (the runner cannot stop a thread), killing what they started.
    timeout_s: float | None = None
    #: Writes a line to the run's log (already redacted by the runner).
    log: Callable[[str, str], None] = field(default=lambda level, message: None)
    #: The fields of a named credential (e.g. {"username": ..., "password": ...}); the
    #: runner masks every value it hands out in all output. Raises NodeError when the
    #: credential cannot be found, saying where it was looked for.
    credential: Callable[[str], dict[str, str]] = field(default=_no_credentials)
    #: Set by the runner when the attempt's result is no longer wanted (abort, run or node
    #: timeout, Ctrl-C, SIGTERM, a server shutting down). Executors that start processes or
    #: hold connections watch it (`stop.wait(0.05)` in their wait loops) and end what they
    #: started within `STOP_GRACE_S`; they then raise `NodeStopped`. An executor that ignores
    #: it is waited for, at most that grace, and its result is recorded as it really was.
    stop: threading.Event = field(default_factory=threading.Event)


#: How long the runner waits for an executor to end after setting `NodeCall.stop`.
STOP_GRACE_S = 5.0


class NodeStopped(NodeError):
    """The executor ended what it started because `NodeCall.stop` was set (say what was killed)."""

    def __init__(self, message: str, *, output: Any = None) -> None:
        super().__init__(message, output=output, retryable=False)


SyncExecutor = Callable[[NodeCall], NodeOutcome]
AsyncExecutor = Callable[[NodeCall], Awaitable[NodeOutcome]]
Executor = SyncExecutor | AsyncExecutor
