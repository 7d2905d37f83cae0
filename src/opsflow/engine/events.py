"""The one typed stream of run events that the CLI, the journal and the Studio consume.

An event is small, JSON-ready and already redacted: it is written to the
journal before the runner acts on it, printed by `opsflow run --json`, and
turned into Qt signals by the Studio. `seq` numbers the events of a run from
1 without gaps, so readers can resume after the last one they saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

EventKind = Literal[
    "run_started",  # data: flow_id, flow_path, trigger, payload, inputs, dry_run
    "run_paused",  # node: where it waits (breakpoint, or next node after a step); data: after_step?
    "run_resumed",  # data: {"how": "continue" | "step"}
    "run_finished",  # data: outcome ("succeeded" | "failed" | "cancelled" | "interrupted"), error
    "node_started",  # node; data: attempt, params (rendered, redacted)
    "node_succeeded",  # node; data: port, output, attempt, duration_s, pinned?, dry_run?
    "node_failed",  # node; data: error, attempt, duration_s
    "node_skipped",  # node; data: reason
    "node_retrying",  # node; data: attempt (the next), delay_s, error
    "node_waiting",  # node; data: reason ("approval" | "wait" | "breakpoint"), until
    "log",  # node or None; data: level, message
    "approval_requested",  # node; data: approvers, message, form, deadline
    "approval_escalated",  # node; data: to
    "approval_decided",  # node; data: decision, by, at, comment, fields
]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)

RunOutcome = Literal["succeeded", "failed", "cancelled", "interrupted"]


@dataclass(frozen=True)
class Event:
    """Something that happened in a run, at wall-clock time `at` (seconds since the epoch)."""

    run_id: str
    seq: int
    kind: EventKind
    at: float
    node: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at,
            "node": self.node,
            "data": self.data,
        }

    def to_line(self) -> str:
        """One JSON line, as `opsflow run --json` prints it."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Event:
        kind = value["kind"]
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        return cls(
            run_id=str(value["run"]),
            seq=int(value["seq"]),
            kind=kind,
            at=float(value["at"]),
            node=value.get("node"),
            data=dict(value.get("data") or {}),
        )
