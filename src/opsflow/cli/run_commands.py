"""Commands that run flows: `opsflow run`, `opsflow runs list|show|resume`, `opsflow approve`.

Exit codes of run and resume: 0 succeeded, 1 failed (or interrupted), 2 unusable
input, 3 waiting for an approval, 130 cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from opsflow.engine.approvals import decide_in_journal
from opsflow.engine.control import RunControl
from opsflow.engine.events import Event
from opsflow.engine.journal import Journal, default_journal_path
from opsflow.engine.local import LocalRunner, Pin, RunOptions, RunResult
from opsflow.engine.resume import replay_upstream, resume_run
from opsflow.errors import OpsflowError
from opsflow.flowfile import load_flow

EXIT_CODES = {"succeeded": 0, "failed": 1, "interrupted": 1, "waiting": 3, "cancelled": 130}


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run a flow on this machine",
        description="Run a flow and show its progress. Exit 0 succeeded, 1 failed, "
        "3 waiting for an approval (when not interactive), 130 cancelled.",
    )
    run.add_argument("file", metavar="FILE")
    run.add_argument("--trigger", metavar="NODE", help="the trigger to start from")
    run.add_argument("--payload", metavar="JSON|@FILE", help="the trigger's payload")
    run.add_argument(
        "--input", action="append", default=[], metavar="NAME=VALUE", help="a flow input"
    )
    run.add_argument(
        "--dry-run", action="store_true", help="show what nodes with side effects would do"
    )
    run.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NODE[:PORT]=@FILE",
        help="use this output instead of running the node",
    )
    run.add_argument(
        "--break", dest="breaks", action="append", default=[], metavar="NODE", help="pause here"
    )
    run.add_argument(
        "--from",
        dest="start_at",
        metavar="NODE",
        help="run from this node, reusing the outputs of everything upstream from --reuse RUN",
    )
    run.add_argument("--reuse", metavar="RUN", help="the earlier run whose outputs --from reuses")
    _common(run)
    run.set_defaults(handler=run_flow)

    runs = commands.add_parser("runs", help="past and current runs in the journal")
    actions = runs.add_subparsers(dest="runs_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="recent runs, newest first")
    listing.add_argument("--flow", help="only runs of this flow id")
    listing.add_argument(
        "--state",
        choices=("running", "waiting", "paused", "succeeded", "failed", "cancelled", "interrupted"),
        help="only runs in this state",
    )
    listing.add_argument("--limit", type=int, default=20)
    _common(listing)
    listing.set_defaults(handler=list_runs)
    show = actions.add_parser("show", help="one run: its nodes and events")
    show.add_argument("run_id", metavar="RUN")
    _common(show)
    show.set_defaults(handler=show_run)
    resume = actions.add_parser("resume", help="continue an interrupted or waiting run")
    resume.add_argument("run_id", metavar="RUN")
    resume.add_argument("--rerun", action="append", default=[], metavar="NODE")
    resume.add_argument("--skip", action="append", default=[], metavar="NODE")
    _common(resume)
    resume.set_defaults(handler=resume_flow)

    approve = commands.add_parser("approve", help="answer an approval a run is waiting for")
    approve.add_argument("run_id", metavar="RUN")
    approve.add_argument("node", metavar="NODE")
    decision = approve.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", dest="decision", action="store_const", const="approved")
    decision.add_argument("--reject", dest="decision", action="store_const", const="rejected")
    approve.add_argument("--as", dest="by", required=True, metavar="NAME", help="who decides")
    approve.add_argument("--comment", default="")
    approve.add_argument(
        "--field", action="append", default=[], metavar="NAME=VALUE", help="a form answer"
    )
    _common(approve)
    approve.set_defaults(handler=approve_run)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="PATH", help="the run journal (SQLite file)")
    parser.add_argument("--json", action="store_true", help="print JSON (events as JSON lines)")


def _journal(args: argparse.Namespace) -> Journal:
    return Journal(Path(args.store) if args.store else default_journal_path())


# -- run and resume -----------------------------------------------------------------


def run_flow(args: argparse.Namespace) -> int:
    path = Path(args.file)
    flow = load_flow(path)
    payload = _payload(args.payload)
    inputs = _pairs(args.input, "--input")
    pinned = {node: pin for node, pin in (_pin(text) for text in args.pin)}
    interactive = sys.stdin.isatty() and not args.json
    if args.breaks and not interactive:
        raise OpsflowError("--break needs an interactive terminal to continue from (or the Studio)")
    for node in [*pinned, *args.breaks]:
        if node not in flow.node_map():
            raise OpsflowError(f"{path}: the flow has no node '{node}'")
    options = RunOptions(
        dry_run=args.dry_run,
        breakpoints=frozenset(args.breaks),
        pinned=pinned,
        wait_for_approvals=interactive,
    )
    if bool(args.start_at) != bool(args.reuse):
        raise OpsflowError("--from NODE and --reuse RUN go together")
    with _journal(args) as journal:
        if args.start_at:
            replay = replay_upstream(journal, args.reuse, flow, args.start_at)
            options.pinned = {**replay.pins, **pinned}
            args.trigger = args.trigger or replay.trigger
            payload = replay.payload if payload is None else payload
            inputs = {**replay.inputs, **inputs}
        control = RunControl()
        view = _Progress(sys.stdout, args.json, control if interactive else None)
        runner = LocalRunner(
            flow, flow_path=path.resolve(), journal=journal, options=options, listeners=[view]
        )
        result = _drive(
            runner.run(trigger=args.trigger, payload=payload, inputs=inputs, control=control)
        )
        view.summary(result)
    return EXIT_CODES[result.status]


def resume_flow(args: argparse.Namespace) -> int:
    interactive = sys.stdin.isatty() and not args.json
    with _journal(args) as journal:
        record = journal.get_run(args.run_id)
        if record is None:
            raise OpsflowError(f"there is no run {args.run_id} in {journal.path}")
        control = RunControl()
        view = _Progress(sys.stdout, args.json, control if interactive else None)
        options = RunOptions(dry_run=record.dry_run, wait_for_approvals=interactive)
        coroutine = resume_run(
            journal,
            record.id,
            options=options,
            listeners=[view],
            rerun=args.rerun,
            skip=args.skip,
            control=control,
        )
        result = _drive(coroutine)
        view.summary(result)
    return EXIT_CODES[result.status]


def _drive(coroutine: Any) -> RunResult:
    """Run the coroutine; Ctrl-C or SIGTERM cancel the run cleanly (recorded as cancelled)."""

    async def main() -> RunResult:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        result: RunResult = await coroutine
        return result

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


# -- other commands -------------------------------------------------------------------


def list_runs(args: argparse.Namespace) -> int:
    with _journal(args) as journal:
        records = journal.list_runs(flow_id=args.flow, state=args.state, limit=args.limit)
    if args.json:
        print(
            json.dumps([_run_json(r) for r in records], indent=2, ensure_ascii=False, default=str)
        )
        return 0
    if not records:
        print("no runs match" if args.flow or args.state else "no runs yet")
        return 0
    print(f"{'RUN':<26} {'FLOW':<28} {'STATE':<11} {'STARTED':<19} DURATION")
    for record in records:
        print(
            f"{record.id:<26} {record.flow_id[:28]:<28} {record.state:<11} "
            f"{_time(record.started_at):<19} {_duration(record.started_at, record.finished_at)}"
        )
    return 0


def show_run(args: argparse.Namespace) -> int:
    with _journal(args) as journal:
        record = journal.get_run(args.run_id)
        if record is None:
            raise OpsflowError(f"there is no run {args.run_id} in {journal.path}")
        results = journal.node_results(record.id)
        events = journal.events(record.id)
        pending = journal.pending_approvals(record.id)
    if args.json:
        document = {
            "run": _run_json(record),
            "nodes": {n: vars(r) for n, r in results.items()},
            "events": [e.to_json() for e in events],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False, default=str))
        return 0
    print(f"run {record.id} of {record.flow_id} ({record.flow_path or 'no file'})")
    print(f"  state: {record.state}; trigger: {record.trigger}; dry run: {record.dry_run}")
    took = _duration(record.started_at, record.finished_at)
    print(f"  started {_time(record.started_at)}" + (f", took {took}" if took else ""))
    if record.error:
        print(f"  error: {record.error}")
    ordered = sorted(results.values(), key=lambda r: (r.started_at is None, r.started_at or 0))
    print(_node_table([(r.node, r.state, r.port, r.attempts, r.duration_s) for r in ordered]))
    for approval in pending:
        print(
            f"\nwaiting for approval at '{approval.node}' by {', '.join(approval.approvers)}: "
            f"{approval.message}\n  answer with: opsflow approve {record.id} {approval.node} "
            "--approve|--reject --as NAME"
        )
    return 0


def approve_run(args: argparse.Namespace) -> int:
    fields = _pairs(args.field, "--field")
    with _journal(args) as journal:
        record = journal.get_run(args.run_id)
        if record is None:
            raise OpsflowError(f"there is no run {args.run_id} in {journal.path}")
        decided = decide_in_journal(
            journal,
            record.id,
            args.node,
            args.decision,
            by=args.by,
            comment=args.comment,
            fields=fields,
        )
        state = journal.get_run(record.id)
    print(f"recorded: {decided.node} {args.decision} by {args.by.strip()}")
    if state is not None and state.state in ("waiting", "interrupted"):
        print(f"no runner is waiting for it; continue with: opsflow runs resume {record.id}")
    return 0


# -- helpers ---------------------------------------------------------------------------


def _payload(text: str | None) -> Any:
    if text is None:
        return None
    source = "--payload"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise OpsflowError(f"--payload: cannot read {source}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise OpsflowError(f"{source} is not valid JSON: {exc}") from None


def _pin(text: str) -> tuple[str, Pin]:
    target, sep, value = text.partition("=")
    if not sep or not target:
        raise OpsflowError(f"--pin takes NODE[:PORT]=@FILE or NODE[:PORT]=JSON, not {text!r}")
    node, _, port = target.partition(":")
    return node, Pin(_payload(value), port or None)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise OpsflowError(f"{option} takes NAME=VALUE, not {item!r}")
        pairs[name.strip()] = value
    return pairs


def _time(at: float | None) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    return f"{end - start:.3f}s"


def _run_json(record: Any) -> dict[str, Any]:
    return dict(vars(record))


class _Progress:
    """Shows events as they happen: one line each, or JSON lines with --json."""

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

    def __call__(self, event: Event) -> None:
        if self.as_json:
            print(event.to_line(), file=self.out, flush=True)
            return
        if event.kind == "run_started":
            self.run_id = event.run_id
            dry = " (dry run)" if event.data.get("dry_run") else ""
            print(f"run {event.run_id}{dry}", file=self.out, flush=True)
            return
        text = self._describe(event)
        if text is not None:
            symbol = self.SYMBOLS.get(event.kind, " ")
            print(f"{symbol} {text}", file=self.out, flush=True)
        if self.control is not None and event.kind == "approval_requested":
            threading.Thread(target=self._ask, args=(event,), daemon=True).start()
        if self.control is not None and event.kind == "run_paused":
            threading.Thread(target=self._debug, args=(event,), daemon=True).start()

    def _describe(self, event: Event) -> str | None:
        node, data = event.node, event.data
        if event.kind == "node_started":
            return None if data.get("attempt", 1) > 1 else f"{node}"
        if event.kind == "node_succeeded":
            extra = (
                " (dry run)"
                if isinstance(data.get("output"), dict) and data["output"].get("dry_run")
                else ""
            )
            extra += " (pinned)" if data.get("pinned") else ""
            would = _would_do(data.get("output"))
            if would:
                extra += f"\n    would run {would}"
            return f"{node} → {data.get('port')} {_seconds(data.get('duration_s'))}{extra}"
        if event.kind == "node_failed":
            return f"{node} failed: {data.get('error')}"
        if event.kind == "node_skipped":
            return f"{node} skipped"
        if event.kind == "node_retrying":
            return f"{node} attempt {data['attempt']} in {data['delay_s']:.1f}s ({data['error']})"
        if event.kind == "node_waiting" and data.get("reason") == "approval":
            until = f" until {_time(data['until'])}" if data.get("until") else ""
            return f"{node} waiting for approval{until}"
        if event.kind == "run_paused":
            return f"paused before {node} (breakpoint)"
        if event.kind == "approval_requested":
            return (
                f"{node}: {data.get('message')} (approvers: {', '.join(data.get('approvers', []))})"
            )
        if event.kind == "approval_decided":
            return f"{node} {data.get('decision')} by {data.get('by') or 'the deadline'}"
        if event.kind == "approval_escalated":
            return f"{node} escalated to {', '.join(data.get('to', []))}"
        if event.kind == "log":
            return f"{node or 'run'}: {data.get('message')}"
        return None

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
                print(f"  {exc}", file=self.out, flush=True)

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
        print(_node_table(rows), file=self.out)
        line = f"\nrun {result.run_id}: {result.status}"
        if result.error:
            line += f" — {result.error}"
        if result.status == "waiting":
            line += (
                f"\nanswer with `opsflow approve {result.run_id} NODE --approve --as NAME`, "
                f"then `opsflow runs resume {result.run_id}`"
            )
        print(line, file=self.out, flush=True)


def _would_do(output: Any) -> str:
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


def _node_table(rows: list[tuple[str, str, str | None, int, float | None]]) -> str:
    lines = [f"\n{'NODE':<28} {'STATE':<10} {'PORT':<10} {'ATTEMPTS':>8} {'DURATION':>10}"]
    for node, state, port, attempts, duration in rows:
        lines.append(
            f"{node:<28} {state:<10} {port or '':<10} {attempts:>8} {_seconds(duration):>10}"
        )
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return f"{value:.3f}s" if value is not None else ""
