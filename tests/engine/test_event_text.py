"""Run events in words: one text for every kind, and `opsflow run` prints what the Studio's
run log shows."""

from __future__ import annotations

import io
from typing import Any

import pytest

from opsflow.cli.progress import Progress
from opsflow.engine.event_text import event_level, event_line, event_text, format_duration
from opsflow.engine.events import EVENT_KINDS, Event


def event(kind: Any, node: str | None = "probe", **data: Any) -> Event:
    return Event("r1", 1, kind, 1_796_000_000.0, node, data)


#: One event of every kind, the text the Studio's log shows and the line the CLI prints.
EXAMPLES: list[tuple[Event, str, str]] = [
    (
        event("run_started", None, trigger="start", dry_run=True),
        "started from trigger 'start' (dry run)",
        "run r1 started from trigger 'start' (dry run)",
    ),
    (
        event("run_paused", "second"),
        "paused before second (breakpoint)",
        "paused before second (breakpoint)",
    ),
    (
        event("run_resumed", None, how="step"),
        "stepping to the next node",
        "stepping to the next node",
    ),
    (
        event("run_finished", None, outcome="failed", error="x broke"),
        "failed: x broke",
        "failed: x broke",
    ),
    (event("node_started", attempt=2), "started (attempt 2)", "probe started (attempt 2)"),
    (
        event("node_succeeded", port="success", duration_s=0.012, output={"dry_run": True}),
        "→ success in 12 ms (dry run)",
        "probe → success in 12 ms (dry run)",
    ),
    (
        event("node_failed", error="boom", port="error"),
        "failed: boom → error",
        "probe failed: boom → error",
    ),
    (
        event("node_skipped", reason="no live inbound edge"),
        "skipped: no live inbound edge",
        "probe skipped: no live inbound edge",
    ),
    (
        event("node_retrying", attempt=2, delay_s=1.5, error="timed out"),
        "retrying (attempt 2) in 1.5 s after: timed out",
        "probe retrying (attempt 2) in 1.5 s after: timed out",
    ),
    (
        event("node_waiting", reason="approval"),
        "waiting for approval",
        "probe waiting for approval",
    ),
    (event("log", level="warning", message="slow"), "slow", "probe: slow"),
    (
        event("approval_requested", approvers=["ann", "bob"], message="Patch now?"),
        "asks ann, bob: Patch now?",
        "probe asks ann, bob: Patch now?",
    ),
    (event("approval_escalated", to=["boss"]), "escalated to boss", "probe escalated to boss"),
    (
        event("approval_decided", decision="rejected", by="ann", comment="no"),
        "rejected by ann: no",
        "probe rejected by ann: no",
    ),
]


def test_every_kind_has_its_own_text() -> None:
    assert sorted({e.kind for e, _, _ in EXAMPLES}) == sorted(EVENT_KINDS)


@pytest.mark.parametrize(("shown", "text", "line"), EXAMPLES, ids=lambda v: getattr(v, "kind", ""))
def test_text_and_line(shown: Event, text: str, line: str) -> None:
    assert event_text(shown) == text
    assert event_line(shown) == line


def test_the_command_line_prints_the_log_text_after_the_node() -> None:
    """`opsflow run` and the Studio's log say the same (they once did not: `0.012s` here,
    `in 12 ms` there, `(dry run)` here, `(simulated)` there)."""
    out = io.StringIO()
    progress = Progress(out, as_json=False, control=None)
    shown = [
        event("node_started", attempt=1),
        event("node_succeeded", port="success", duration_s=0.012, pinned=True),
        event("node_failed", error="exit code 2"),
        event("log", level="error", message="disk full"),
    ]
    for one in shown:
        progress(one)
    assert out.getvalue().splitlines() == [
        "▶ probe started",
        "✔ probe → success in 12 ms (pinned output)",
        "✖ probe failed: exit code 2",
        "! probe: disk full",
    ]
    for one, printed in zip(shown, out.getvalue().splitlines(), strict=True):
        assert printed.endswith(event_text(one))


def test_levels_and_durations() -> None:
    assert [event_level(e) for e, _, _ in EXAMPLES[:4]] == ["info", "info", "info", "error"]
    assert event_level(event("approval_decided", decision="timeout")) == "warning"
    assert [format_duration(s) for s in (None, 0.0001, 0.5, 3.44, 125, 4800)] == [
        "",
        "< 1 ms",
        "500 ms",
        "3.4 s",
        "2 min 5 s",
        "1 h 20 min",
    ]
