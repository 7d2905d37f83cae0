"""`opsflow serve FLOW...`: host the webhook, schedule, file and poll triggers of flows.

Each trigger that fires starts a run through the engine and its journal; one line is printed
per trigger at start and per run when it ends. At start it lists the runs of its flows that
were left interrupted (by a stop, or by a process that died) and, with
`--resume-interrupted`, resumes them. SIGTERM or SIGINT stops the triggers, interrupts runs
in flight (their running steps are stopped; they can be resumed), closes the journal and
exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from opsflow.engine.journal import Journal, default_journal_path
from opsflow.errors import OpsflowError
from opsflow.flowfile import load_flow
from opsflow.serve.host import TriggerHost
from opsflow.validate import refuse_invalid

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve_flows(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise OpsflowError(f"--port {args.port} is not a port number (0 to 65535)")
    flows = [(load_flow(path), Path(path)) for path in args.flows]
    for flow, path in flows:
        refuse_invalid(flow, path)
    journal = Journal(Path(args.store) if args.store else default_journal_path())
    try:
        host = TriggerHost(flows, journal, log=_say)
        return asyncio.run(_serve(host, args.host, args.port, args.resume_interrupted))
    finally:
        journal.close()


async def _serve(triggers: TriggerHost, host: str, port: int, resume: bool = False) -> int:
    # Before anything is printed, so a SIGTERM sent as soon as the lines show is handled.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await triggers.start(host, port)
    count = len(triggers.routes) + len(triggers.triggers)
    if triggers.server is None:
        _say(f"serving {count} trigger(s); stop with Ctrl+C or SIGTERM")
    else:
        shown = f"[{host}]" if ":" in host else host
        base = f"http://{shown}:{triggers.server.port}"
        _say(f"serving {count} trigger(s), webhooks on {base}; stop with Ctrl+C or SIGTERM")
        for (method, path), route in sorted(
            triggers.routes.items(), key=lambda item: item[0][::-1]
        ):
            _say(f"  {method:6} {base}{path} -> {route.label} (auth: {route.params.auth})")
            if route.params.auth == "none" and host not in LOOPBACK:
                _say(f"  warning: anyone who can reach {host} may start {route.label}")
    for trigger in triggers.triggers:
        _say(f"  {trigger.describe()}")
    interrupted = triggers.interrupted_runs()
    for record in interrupted:
        why = (
            f"{record.owner.describe()} is gone" if record.orphaned and record.owner else "stopped"
        )
        _say(f"  interrupted: run {record.id} of {record.flow_id} ({why})")
    if interrupted and resume:
        _say(f"resuming {len(interrupted)} interrupted run(s)")
        triggers.resume(interrupted)
    elif interrupted:
        _say(
            f"{len(interrupted)} run(s) were left interrupted; resume them with "
            "--resume-interrupted at the next start, one by one with `opsflow runs resume RUN`, "
            "or with every other interrupted run of the journal by `opsflow runs resume --all`"
        )
    await stop.wait()
    in_flight = len(triggers.runs)
    _say(f"stopping; interrupting {in_flight} run(s) in flight" if in_flight else "stopping")
    await triggers.stop()
    return 0


def _say(line: str) -> None:
    print(line, flush=True, file=sys.stdout)
