"""How `opsflow run` and `opsflow runs resume` show a run: one line per event (or JSON
lines), prompts for approvals and breakpoints on a terminal, the closing table and the
flow's declared outputs (with --json they are in the run_finished event).

When the reader goes away (`opsflow run … | head`), the display stops quietly and the
run goes on: its outcome, not the closed pipe, decides the exit code.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import threading
from typing import Any, TextIO

from opsflow.engine.control import RunControl
from opsflow.engine.event_text import event_level, event_line, local_datetime
from opsflow.engine.events import Event
from opsflow.engine.run_types import RunResult
from opsflow.errors import OpsflowError


class Progress:
    """Shows events as they happen: one line each (`event_line`, the Studio's log text too)
    behind a symbol, or JSON lines with --json."""

    SYMBOLS = {
        "node_started": "▶",
        "node_succeeded": "✔",
        "node_failed": "✖",
        "node_skipped": "·",
        "node_retrying": "↻",
        "node_waiting": "⏸",
        "run_paused": "⏸",
        "approval_requested": "?",
        "approval_decided": "✔",
        "approval_escalated": "!",
        "log": " ",
    }

    def __init__(self, out: TextIO, as_json: bool, control: RunControl | None) -> None:
        self.out = out
        self.as_json = as_json
        self.control = control
        self.run_id = ""
        #: The reader went away (`| head`): show nothing more; the run goes on.
        self.closed = False

    def say(self, line: str) -> None:
        if self.closed:
            return
        try:
            print(line, file=self.out, flush=True)
        except (BrokenPipeError, ValueError):
            self.closed = True
            silence(self.out)

    def note(self, line: str) -> None:
        """A line about the process, not an event (not shown with --json)."""
        if not self.as_json:
            self.say(line)

    def __call__(self, event: Event) -> None:
        if self.as_json:
            self.say(event.to_line())
            return
        if event.kind == "run_started":
            self.run_id = event.run_id
            self.say(event_line(event))
            return
        if self._shown(event):
            symbol = self.SYMBOLS.get(event.kind, " ")
            if event.kind == "log" and event_level(event) != "info":
                symbol = "!"
            text = event_line(event)
            would = would_do(event.data.get("output")) if event.kind == "node_succeeded" else ""
            self.say(f"{symbol} {text}" + (f"\n    would run {would}" if would else ""))
        if self.control is not None and event.kind == "approval_requested":
            threading.Thread(target=self._ask, args=(event,), daemon=True).start()
        if self.control is not None and event.kind == "run_paused":
            threading.Thread(target=self._debug, args=(event,), daemon=True).start()

    @staticmethod
    def _shown(event: Event) -> bool:
        """Whether a terminal shows the event: not the run's own bookkeeping, not a retry's
        start (its retrying line said it), not a breakpoint wait (the pause says it)."""
        if event.kind == "node_started":
            return int(event.data.get("attempt") or 1) == 1
        if event.kind == "node_waiting":
            return event.data.get("reason") == "approval"
        return event.kind not in ("run_resumed", "run_finished")

    def _ask(self, event: Event) -> None:
        with contextlib.suppress(EOFError):  # the terminal went away: leave it pending
            self._ask_once(event)

    def _ask_once(self, event: Event) -> None:
        assert self.control is not None and event.node is not None
        user = os.environ.get("OPSFLOW_USER") or getpass.getuser()
        while True:
            answer = input(f"  approve '{event.node}' as {user}? [a]pprove / [r]eject / [l]eave: ")
            choice = answer.strip().lower()[:1]
            if choice == "l":
                return
            if choice not in ("a", "r"):
                continue
            comment = input("  comment (optional): ")
            fields = {}
            for name in (event.data.get("form") or {}).get("properties", {}):
                fields[name] = input(f"  {name}: ")
            decision = "approved" if choice == "a" else "rejected"
            try:
                self.control.decide(event.node, decision, by=user, comment=comment, fields=fields)
                return
            except OpsflowError as exc:
                self.say(f"  {exc}")

    def _debug(self, event: Event) -> None:
        assert self.control is not None
        with contextlib.suppress(EOFError):
            self._debug_once()
            return
        self.control.abort()  # no terminal left to continue from

    def _debug_once(self) -> None:
        assert self.control is not None
        while True:
            choice = input("  [c]ontinue / [s]tep / [a]bort: ").strip().lower()[:1]
            if choice == "c":
                self.control.continue_()
                return
            if choice == "s":
                self.control.step()
                return
            if choice == "a":
                self.control.abort()
                return

    def summary(self, result: RunResult) -> None:
        if self.as_json:
            return
        rows = [(n, r.state, r.port, r.attempts, r.duration_s) for n, r in result.nodes.items()]
        self.say(node_table(rows))
        if result.outputs:
            self.say("\n" + output_lines(result.outputs))
        line = f"\nrun {result.run_id}: {result.status}"
        if result.error:
            line += f" — {result.error}"
        if result.status == "waiting":
            line += (
                f"\nanswer with `opsflow approve {result.run_id} NODE --approve --as NAME`, "
                f"then `opsflow runs resume {result.run_id}`"
            )
        self.say(line)


def silence(out: TextIO) -> None:
    """Point a closed stdout at the null device, so flushing it at exit raises nothing."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)


def would_do(output: Any) -> str:
    """One line of what a simulated node would have done, for dry runs."""
    if not isinstance(output, dict) or not output.get("dry_run") or "params" not in output:
        return ""
    shown = {k: v for k, v in output["params"].items() if v not in (None, [], {}, "")}
    text = json.dumps(shown, ensure_ascii=False, separators=(", ", ": "), default=str)
    if len(text) > WOULD_DO_CHARS:
        text = text[: WOULD_DO_CHARS - 1] + "…"
    return f"{output.get('would_run')} {text}"


#: How much of a simulated node's parameters a dry run prints (`--json` has them all).
WOULD_DO_CHARS = 240


def output_lines(outputs: dict[str, Any]) -> str:
    """The flow's declared outputs of a finished run, one `name = JSON` line each."""
    lines = ["OUTPUTS"]
    for name, value in outputs.items():
        text = json.dumps(value, ensure_ascii=False, default=str)
        lines.append(f"  {name} = {text}")
    return "\n".join(lines)


def node_table(rows: list[tuple[str, str, str | None, int, float | None]]) -> str:
    lines = [f"\n{'NODE':<28} {'STATE':<10} {'PORT':<10} {'ATTEMPTS':>8} {'DURATION':>10}"]
    for node, state, port, attempts, duration in rows:
        lines.append(
            f"{node:<28} {state:<10} {port or '':<10} {attempts:>8} {seconds(duration):>10}"
        )
    return "\n".join(lines)


def seconds(value: float | None) -> str:
    return f"{value:.3f}s" if value is not None else ""


def clock_time(at: float | None) -> str:
    return local_datetime(at) if at else ""
