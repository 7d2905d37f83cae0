"""What a run is given and gives back: options, pinned outputs, the result and its node
reports, and run ids. Shared by the local runner, its callers and (later) other drivers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from opsflow.engine.events import Event
from opsflow.errors import OpsflowError

RunStatus = Literal["succeeded", "failed", "cancelled", "interrupted", "waiting"]
Listener = Callable[[Event], None]


@dataclass(frozen=True)
class Pin:
    """Data a node returns instead of running (and, for routing nodes, the port it takes)."""

    output: Any
    port: str | None = None


@dataclass
class RunOptions:
    dry_run: bool = False
    breakpoints: frozenset[str] = frozenset()
    pinned: Mapping[str, Pin] = field(default_factory=dict)
    #: None: the flow's `settings.max_concurrency`.
    max_concurrency: int | None = None
    #: None: the flow's `settings.timeout_s`.
    run_timeout_s: float | None = None
    #: False: return with status "waiting" once only approvals are left (a
    #: non-interactive `opsflow run`); the run continues with `resume_run`.
    wait_for_approvals: bool = True
    #: Secret values to mask in everything the run writes or shows.
    secrets: Iterable[str] = ()
    approval_poll_s: float = 0.25


@dataclass
class RunResult:
    run_id: str
    status: RunStatus
    error: str | None
    #: node id -> (state, port, attempts, duration_s) in the flow's order.
    nodes: dict[str, NodeReport]
    outputs: dict[str, Any]
    #: The run failed because it took longer than its timeout.
    timed_out: bool = False


@dataclass
class NodeReport:
    state: str
    port: str | None = None
    attempts: int = 0
    duration_s: float | None = None
    error: str | None = None


class JournalLost(OpsflowError):
    """The journal refused the run's events; the run stopped rather than act unrecorded."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"the run journal could not record the run: {cause}")
        self.cause = cause


def new_run_id() -> str:
    """Time-ordered, unique, short enough to type a prefix of."""
    return time.strftime("%Y%m%d-%H%M%S-", time.gmtime()) + uuid.uuid4().hex[:8]
