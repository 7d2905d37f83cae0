"""Run events in words: the one text `opsflow run` prints and the Studio's run log shows.

`event_text` says what happened as it follows the node's name (`→ success in 12 ms`,
`failed: …`, `waiting for approval`); the Studio shows the node in a column of its own,
and `event_line` puts the two together for the command line (`probe → success in 12 ms`).
Times and durations read the same in both (`format_duration`, `clock_time`,
`local_datetime`).
"""

from __future__ import annotations

from datetime import datetime

from opsflow.engine.events import Event

#: How serious an event is, mildest first.
LEVELS = ("info", "warning", "error")


def clock_time(at: float) -> str:
    """A wall-clock moment in local time with milliseconds: `14:03:07.042`."""
    moment = datetime.fromtimestamp(at)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def local_datetime(at: float) -> str:
    """A moment in local time to the second: `2026-12-01 14:03:07`."""
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """`12 ms`, `3.4 s`, `2 min 5 s`, `1 h 20 min`; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 0.0005:
        return "< 1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def event_level(event: Event) -> str:
    """How serious an event is: info, warning or error."""
    data = event.data
    if event.kind == "log":
        level = str(data.get("level", "info"))
        return level if level in LEVELS else "info"
    if event.kind == "node_failed":
        return "error"
    if event.kind == "run_finished" and data.get("outcome") not in ("succeeded", "cancelled"):
        return "error" if data.get("outcome") == "failed" else "warning"
    if event.kind in ("node_retrying", "approval_escalated"):
        return "warning"
    if event.kind == "approval_decided" and data.get("decision") == "timeout":
        return "warning"
    return "info"


def event_text(event: Event) -> str:
    """What happened, as it reads after the node's name: `→ true in 12 ms (dry run)`."""
    data = event.data
    kind = event.kind
    if kind == "log":
        return str(data.get("message", ""))
    if kind == "run_started":
        text = f"started from trigger '{data.get('trigger')}'"
        return text + (" (dry run)" if data.get("dry_run") else "")
    if kind == "run_paused":
        why = "after a step" if data.get("after_step") else "breakpoint"
        return f"paused before {event.node} ({why})" if event.node else "paused"
    if kind == "run_resumed":
        return "stepping to the next node" if data.get("how") == "step" else "continued"
    if kind == "run_finished":
        outcome = data.get("outcome", "failed")
        error = data.get("error")
        return str(outcome) + (f": {error}" if error else "")
    if kind == "node_started":
        attempt = int(data.get("attempt") or 1)
        return "started" + (f" (attempt {attempt})" if attempt > 1 else "")
    if kind == "node_succeeded":
        return _succeeded_text(event)
    if kind == "node_failed":
        text = f"failed: {data.get('error')}"
        return text + (f" → {data['port']}" if data.get("port") else "")
    if kind == "node_skipped":
        return f"skipped: {data.get('reason')}" if data.get("reason") else "skipped"
    if kind == "node_retrying":
        delay = format_duration(data.get("delay_s"))
        text = f"retrying (attempt {data.get('attempt')})" + (f" in {delay}" if delay else "")
        return text + (f" after: {data['error']}" if data.get("error") else "")
    if kind == "node_waiting":
        return _waiting_text(event)
    if kind == "approval_requested":
        approvers = ", ".join(str(a) for a in data.get("approvers") or [])
        return f"asks {approvers}: {data.get('message', '')}"
    if kind == "approval_escalated":
        return "escalated to " + ", ".join(str(a) for a in data.get("to") or [])
    if kind == "approval_decided":
        decision = data.get("decision")
        if decision == "timeout":
            return "no decision before the deadline (timeout)"
        text = f"{decision} by {data.get('by')}"
        return text + (f": {data['comment']}" if data.get("comment") else "")
    return kind.replace("_", " ")


def event_line(event: Event) -> str:
    """The event as one line of its own: the node (or the run, when it starts), then the text."""
    text = event_text(event)
    if event.kind == "log":
        return f"{event.node or 'run'}: {text}"
    if event.kind == "run_started":
        return f"run {event.run_id} {text}"
    if event.kind.startswith("node_") or event.kind.startswith("approval_"):
        return f"{event.node} {text}" if event.node else text
    return text


def _succeeded_text(event: Event) -> str:
    data = event.data
    text = f"→ {data.get('port')}"
    if data.get("duration_s") is not None:
        text += f" in {format_duration(data['duration_s'])}"
    if data.get("pinned"):
        text += " (pinned output)"
    output = data.get("output")
    if isinstance(output, dict) and output.get("dry_run") is True:
        text += " (dry run)"
    return text


def _waiting_text(event: Event) -> str:
    reason = event.data.get("reason")
    until = event.data.get("until")
    when = f" until {local_datetime(until)}" if until else ""
    if reason == "approval":
        return "waiting for approval" + when
    if reason == "breakpoint":
        return "paused at a breakpoint"
    return "waiting" + when
