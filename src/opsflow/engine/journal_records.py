"""What reading the run journal gives back: runs, node results, approvals, and their owners."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsflow.engine.journal_schema import Decision, NodeState, RunState
from opsflow.engine.owners import ProcessRecord

ACTIVE_STATES: tuple[RunState, ...] = ("running", "waiting", "paused")


@dataclass(frozen=True)
class RunRecord:
    """One run as the journal knows it; `payload` and `inputs` are parsed JSON."""

    id: str
    flow_id: str
    flow_path: str | None
    trigger: str | None
    state: RunState
    started_at: float
    finished_at: float | None
    payload: Any
    inputs: dict[str, Any]
    dry_run: bool
    error: str | None
    parent: str | None
    #: The process driving the run (None: nobody; see `orphaned`).
    owner: ProcessRecord | None = None
    owner_id: str | None = None

    @property
    def orphaned(self) -> bool:
        """Not over, but its owner is provably gone (killed, crashed, the machine rebooted).

        A run left waiting for approvals by a non-interactive `opsflow run` has no owner
        on purpose and is not orphaned: it waits for a decision and a resume.
        """
        if self.state not in ACTIVE_STATES:
            return False
        if self.owner_id is None:
            return self.state != "waiting"
        return self.owner is None or self.owner.gone()

    @property
    def live_owner(self) -> ProcessRecord | None:
        """The process driving the run now, if it is not over and that process runs."""
        if self.state in ACTIVE_STATES and not self.orphaned:
            return self.owner
        return None

    @property
    def shown_state(self) -> str:
        """The state people see: `interrupted (owner gone)` for orphaned runs."""
        return "interrupted (owner gone)" if self.orphaned else self.state

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k not in ("owner", "owner_id")}
        data["shown_state"] = self.shown_state
        data["owner"] = None if self.owner is None else vars(self.owner)
        return data


@dataclass(frozen=True)
class NodeResult:
    """The latest state of one node in one run, derived from its node_* events."""

    node: str
    state: NodeState
    port: str | None
    output: Any
    error: str | None
    attempts: int
    started_at: float | None
    finished_at: float | None
    duration_s: float | None


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval a node asked for, and its decision once somebody (or the deadline) made it."""

    run_id: str
    node: str
    approvers: list[str]
    message: str | None
    form: Any
    deadline: float | None
    requested_at: float
    escalated_at: float | None
    escalated_to: Any
    decision: Decision | None
    decided_by: str | None
    decided_at: float | None
    comment: str | None
    fields: dict[str, Any] | None

    @property
    def pending(self) -> bool:
        return self.decision is None


def load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def run_from_row(row: tuple[Any, ...], owner: ProcessRecord | None = None) -> RunRecord:
    """A RunRecord from `RUN_COLUMNS`, with the owner's process row when known."""
    id_, flow_id, flow_path, trigger, state, started_at, finished_at = row[:7]
    payload, inputs, dry_run, error, parent, owner_id = row[7:13]
    return RunRecord(id_, flow_id, flow_path, trigger, state, started_at, finished_at,
                     load(payload), load(inputs), bool(dry_run), error, parent, owner,
                     owner_id)  # fmt: skip


def process_from_row(row: tuple[Any, ...] | None) -> ProcessRecord | None:
    """A ProcessRecord from `PROCESS_COLUMNS` (None for a missing row)."""
    if row is None or row[0] is None:
        return None
    return ProcessRecord(*row)


def approval_from_row(row: tuple[Any, ...]) -> ApprovalRecord:
    run_id, node, approvers, message, form, deadline, requested_at = row[:7]
    escalated_at, escalated_to, decision, by, decided_at, comment, fields = row[7:]
    return ApprovalRecord(run_id, node, load(approvers), message, load(form), deadline,
                          requested_at, escalated_at, load(escalated_to), decision, by,
                          decided_at, comment, load(fields))  # fmt: skip


def when(at: float | None) -> str:
    """A moment for sentences: local time to the second."""
    if at is None:
        return "an unknown time"
    return datetime.fromtimestamp(at).astimezone().isoformat(sep=" ", timespec="seconds")
