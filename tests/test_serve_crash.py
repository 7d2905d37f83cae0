"""Kill -9 `opsflow serve` with runs in flight, restart it with --resume-interrupted, finish
what it could not (an operator's --rerun or --skip, decided from the ledger): every finished
step ran exactly once (an idempotent one at most once more, when a kill hit it in flight)
and no run is left running.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.journal import ACTIVE_STATES, Journal
from tests.processes import Launch, ledger_lines
from tests.test_run_ownership import append, post, serve_url, write

SEED = 20261208
ITERATIONS = 4
CALLS = 5
NODES = ["a1", "a2", "a3", "a4"]
#: Safe to repeat: a resume runs it again by itself when it was in flight at a kill.
IDEMPOTENT = "a2"


def post_quietly(url: str) -> str | None:
    """POST and return the run id; None when the server died under the request."""
    try:
        status, _, body = post(url, timeout=10)
    except OSError:
        return None
    return str(body["run"]) if status == 202 else None


def settle(launch: Launch, db: Path, ledger: Path) -> dict[str, list[str]]:
    """Resume what the restarted server left interrupted: rerun a step that did not act,
    skip one that did (what an operator decides from the ledger). Returns the commands."""
    given: dict[str, list[str]] = {}
    lines = set(ledger_lines(ledger))
    with Journal(db) as journal:
        interrupted = journal.list_runs(state="interrupted", limit=1000)
        for record in interrupted:
            results = journal.node_results(record.id)
            flags = []
            for node, result in results.items():
                if result.state == "running":
                    acted = f"{record.id} {node}" in lines
                    flags += ["--skip" if acted else "--rerun", node]
            given[record.id] = flags
    for run_id, flags in given.items():
        resume = launch("runs", "resume", run_id, "--store", db, *flags)
        assert resume.finish() == 0, resume.said()
    return given


@pytest.mark.slow
def test_kill_9_of_serve_at_random_points_then_restart_runs_every_step_once(
    launch: Launch, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    db, ledger = tmp_path / "runs.sqlite", tmp_path / "ledger"
    nodes: list[dict[str, Any]] = [
        {
            "id": "hook",
            "type": "trigger.webhook",
            "params": {"path": "/go", "auth": "none", "respond_with_run_id": True},
        },
        *(append(n, ledger, idempotent=n == IDEMPOTENT, sleep_s=0.12) for n in NODES),
    ]
    flow = write(tmp_path / "f.flow.json", "crashing", nodes, ["hook", *NODES])
    history = []
    for iteration in range(ITERATIONS):
        server = launch("serve", flow, "--store", db, "--port", "0")
        url = serve_url(server) + "/go"
        with ThreadPoolExecutor(3) as pool:
            calls = [pool.submit(post_quietly, url) for _ in range(CALLS)]
            time.sleep(rng.uniform(0.1, 0.8))
            assert server.kill(), "serve ended before it was killed"
            accepted = [call.result() for call in calls]
        restarted = launch("serve", flow, "--store", db, "--port", "0", "--resume-interrupted")
        restarted.wait_for_text("serving")
        with Journal(db) as journal:
            deadline = time.monotonic() + 60
            while [r for r in journal.list_runs(limit=1000) if r.state in ACTIVE_STATES]:
                assert time.monotonic() < deadline, "runs stayed active after the restart"
                time.sleep(0.1)
        restarted.popen.send_signal(15)
        assert restarted.finish() == 0, restarted.said()
        resumed = re.findall(r"resumed run (\S+) (\w+)", restarted.said())
        given = settle(launch, db, ledger)
        history.append(
            f"{iteration}: {sum(1 for a in accepted if a)} accepted, "
            f"resumed {resumed}, operator {given}"
        )

    where = "; ".join(history)
    with Journal(db) as journal:
        runs = journal.list_runs(limit=10_000)
        assert runs, where
        assert {r.state for r in runs} == {"succeeded"}, where
        expected: Counter[str] = Counter()
        for record in runs:
            events = journal.events(record.id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1)), where
            expected.update(f"{record.id} {n}" for n in NODES)
            assert record.owner_id is None, where
    ran = Counter(ledger_lines(ledger))
    # At least once for the idempotent step (twice only if a kill hit it between acting
    # and journaling); exactly once for every other.
    again = {line for line, count in ran.items() if count == 2 and line.endswith(IDEMPOTENT)}
    assert ran == expected + Counter(again), where
