"""Commands that run flows: `opsflow run`, `opsflow runs list|show|resume`, `opsflow approve`.

Exit codes of run and resume: 0 succeeded, 1 failed (or interrupted), 2 not started
(unusable input, a confirmation declined, or the run is driven by another live process),
3 waiting for an approval, 4 the run took longer than its timeout, 130 cancelled
(Ctrl-C, SIGTERM). `opsflow.cli.commands.RUN_EXIT_CODES` says the same in `--help`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from opsflow.catalog.builtin.triggers import ManualParams
from opsflow.cli.progress import Progress, clock_time, node_table
from opsflow.engine.approvals import decide_in_journal
from opsflow.engine.control import RunControl
from opsflow.engine.inputs import coerce_inputs
from opsflow.engine.journal import Journal, default_journal_path
from opsflow.engine.local import LocalRunner
from opsflow.engine.resume import replay_upstream, resume_run
from opsflow.engine.run_types import Pin, RunOptions, RunResult
from opsflow.errors import OpsflowError
from opsflow.flowfile import load_flow
from opsflow.validate import refuse_invalid

EXIT_CODES = {"succeeded": 0, "failed": 1, "interrupted": 1, "waiting": 3, "cancelled": 130}
EXIT_TIMED_OUT = 4


def exit_code(result: RunResult) -> int:
    return EXIT_TIMED_OUT if result.timed_out else EXIT_CODES[result.status]


def _journal(args: argparse.Namespace) -> Journal:
    return Journal(Path(args.store) if args.store else default_journal_path())


# -- run and resume -----------------------------------------------------------------


def run_flow(args: argparse.Namespace) -> int:
    path = Path(args.file)
    flow = load_flow(path)
    refuse_invalid(flow, path)
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
        view = Progress(sys.stdout, args.json, control if interactive else None)
        runner = LocalRunner(
            flow, flow_path=path.resolve(), journal=journal, options=options, listeners=[view]
        )
        trigger = runner.choose_trigger(args.trigger)
        coerce_inputs(flow.inputs, inputs)  # every input problem at once, before asking
        if not args.dry_run and not args.yes:
            _confirm(runner, trigger, path)
        result = _drive(
            runner.run(trigger=trigger, payload=payload, inputs=inputs, control=control),
            runner,
            view,
        )
        view.summary(result)
    return exit_code(result)


def _confirm(runner: LocalRunner, trigger: str, path: Path) -> None:
    """Ask at the terminal before starting when the manual trigger says `confirm`.

    Refused (exit 2) when no one is at a terminal to answer: `--yes` starts anyway. The
    question goes to stderr, so that `--json` output stays clean.
    """
    params = runner.params[trigger]
    if not isinstance(params, ManualParams) or not params.confirm:
        return
    question = params.confirm_message
    if not sys.stdin.isatty():
        raise OpsflowError(
            f"{path}: trigger '{trigger}' asks \"{question}\" before each run; answer it at a "
            "terminal, or pass --yes to start without asking"
        )
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise OpsflowError(f'{path}: not started, as the answer to "{question}" was not yes')


def resume_flow(args: argparse.Namespace) -> int:
    if args.all:
        if args.run_id or args.rerun or args.skip:
            raise OpsflowError(
                "--all resumes every interrupted run; give it no RUN, --rerun or --skip"
            )
        return resume_all(args)
    if not args.run_id:
        raise OpsflowError("name the run to resume (see `opsflow runs list`), or pass --all")
    interactive = sys.stdin.isatty() and not args.json
    with _journal(args) as journal:
        record = journal.get_run(args.run_id)
        if record is None:
            raise OpsflowError(f"there is no run {args.run_id} in {journal.path}")
        control = RunControl()
        view = Progress(sys.stdout, args.json, control if interactive else None)
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
        result = _drive(coroutine, None, view)
        view.summary(result)
    return exit_code(result)


def resume_all(args: argparse.Namespace) -> int:
    """Resume every interrupted run (also orphaned ones), oldest first, without prompts.

    Exit 1 when any of them failed or stays interrupted, else 2 when any could not be
    resumed (driven elsewhere, over meanwhile), else 3 when any waits for an approval.
    """
    outcomes: set[int] = set()
    with _journal(args) as journal:
        records = journal.list_runs(state="interrupted", limit=100_000)[::-1]
        if not records:
            print("no interrupted runs to resume")
            return 0
        for record in records:
            view = Progress(sys.stdout, args.json, None)
            options = RunOptions(dry_run=record.dry_run, wait_for_approvals=False)
            try:
                result = _drive(
                    resume_run(journal, record.id, options=options, listeners=[view]), None, view
                )
            except OpsflowError as exc:  # driven elsewhere, or over meanwhile: say, go on
                print(f"run {record.id}: not resumed: {exc}", file=sys.stderr, flush=True)
                outcomes.add(2)
                continue
            view.summary(result)
            outcomes.add(exit_code(result))
    # What went wrong comes first: a failure, then a refusal, then a wait for people.
    if outcomes - {0, 2, 3}:
        return 1
    return next((code for code in (2, 3) if code in outcomes), 0)


def _drive(coroutine: Any, runner: LocalRunner | None, view: Progress | None = None) -> RunResult:
    """Run the coroutine; Ctrl-C or SIGTERM stop the run for real (recorded as cancelled).

    Sub-flow runs started without waiting are waited for before this returns; on
    Ctrl-C or SIGTERM meanwhile they are aborted too.
    """

    async def main() -> RunResult:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        result: RunResult = await coroutine
        if runner is not None and runner.detached:
            if view is not None:
                count = len(runner.detached)
                view.note(f"waiting for {count} sub-flow run(s) started without wait")
            try:
                await runner.wait_detached()
            except asyncio.CancelledError:
                runner.stop_detached(interrupt=False)
                await runner.wait_detached()
                raise
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
        print(json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False, default=str))
        return 0
    if not records:
        print("no runs match" if args.flow or args.state else "no runs yet")
        return 0
    width = max(11, *(len(record.shown_state) for record in records))
    print(f"{'RUN':<26} {'FLOW':<28} {'STATE':<{width}} {'STARTED':<19} DURATION")
    for record in records:
        took = _duration(record.started_at, record.finished_at)
        print(
            f"{record.id:<26} {record.flow_id[:28]:<28} {record.shown_state:<{width}} "
            f"{clock_time(record.started_at):<19} {took}"
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
            "run": record.to_json(),
            "nodes": {n: vars(r) for n, r in results.items()},
            "events": [e.to_json() for e in events],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False, default=str))
        return 0
    print(f"run {record.id} of {record.flow_id} ({record.flow_path or 'no file'})")
    print(f"  state: {record.shown_state}; trigger: {record.trigger}; dry run: {record.dry_run}")
    if record.live_owner is not None:
        print(f"  driven by {record.live_owner.describe()}")
    elif record.orphaned and record.owner is not None:
        print(f"  was driven by {record.owner.describe()}, which is gone")
    took = _duration(record.started_at, record.finished_at)
    print(f"  started {clock_time(record.started_at)}" + (f", took {took}" if took else ""))
    if record.error:
        print(f"  error: {record.error}")
    ordered = sorted(results.values(), key=lambda r: (r.started_at is None, r.started_at or 0))
    print(node_table([(r.node, r.state, r.port, r.attempts, r.duration_s) for r in ordered]))
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
    owner = state.live_owner if state is not None else None
    if args.json:
        document = {
            "run": record.id,
            "node": decided.node,
            "decision": args.decision,
            "by": args.by.strip(),
            "driven_by": owner.describe() if owner is not None else None,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(f"recorded: {decided.node} {args.decision} by {args.by.strip()}")
    if owner is not None:
        print(f"run {record.id} continues in {owner.describe()} within a second")
    elif state is not None and (state.state in ("waiting", "interrupted") or state.orphaned):
        print(
            f"no process is driving run {record.id}; continue it with: "
            f"opsflow runs resume {record.id}"
        )
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


def _duration(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return ""
    return f"{end - start:.3f}s"
