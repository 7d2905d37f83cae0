"""Everyone at once on one journal file: a Studio-like process holding several Journals, three
`opsflow run`, `opsflow serve` taking webhooks, `opsflow approve` deciding, and `opsflow runs
list` reading in a loop. Afterwards every run's events are gapless, every finished node ran
exactly once (a ledger written by the nodes themselves says so), decisions reached the live
owner, an abort reached the file, and every process sees every run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from opsflow.engine.journal import Journal
from tests.processes import Launch, ledger_lines
from tests.test_run_ownership import append, post, serve_url, wait_for, write

CLI_RUNS, PLAIN_HOOKS, GATED_HOOKS = 3, 40, 3

# A stand-in for the Studio: a run host's Journal driving runs on an engine thread, two
# window sessions reading, and a Journal opened and closed over and over (the pattern
# that used to drop this process's locks and let another process delete the log).
STUDIO = """
    import asyncio, json, sys, threading, time
    from pathlib import Path
    from opsflow.engine.control import RunControl
    from opsflow.engine.journal import Journal
    from opsflow.engine.local import LocalRunner
    from opsflow.engine.owners import set_role
    from opsflow.flowfile import load_flow

    set_role("Opsflow Studio")
    db, folder = Path(sys.argv[1]), Path(sys.argv[2])
    host, window1, window2 = Journal(db), Journal(db), Journal(db)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def start(name):
        control = RunControl()
        runner = LocalRunner(load_flow(folder / name), flow_path=folder / name, journal=host)
        done = asyncio.run_coroutine_threadsafe(runner.run(control=control), loop)
        control.started.wait(30)
        return control, done

    churn, stop_churn = [0], threading.Event()

    def reopen_and_read():
        reader = Journal(db)  # a thread's own connection, as a window's session has
        while not stop_churn.is_set():
            Journal(db).close()
            reader.list_runs(limit=1000)
            churn[0] += 1
            time.sleep(0.01)
        reader.close()

    churner = threading.Thread(target=reopen_and_read)
    churner.start()
    gate, gate_done = start("studio-gate.flow.json")
    print("gate", gate.run_id, flush=True)
    slow, slow_done = start("studio-slow.flow.json")
    print("slow", slow.run_id, flush=True)
    while "a1" not in window1.node_results(slow.run_id) or not (folder / "a1-started").exists():
        time.sleep(0.02)
    slow.abort()
    print("aborted", slow_done.result(60).status, flush=True)
    print("gate-ended", gate_done.result(120).status, flush=True)
    sys.stdin.readline()
    stop_churn.set()
    churner.join()
    seen = {r.id: r.state for r in window2.list_runs(limit=100000)}
    print("churned", churn[0], flush=True)
    print("seen", json.dumps(seen), flush=True)
"""


@pytest.mark.slow
def test_studio_cli_serve_approve_and_readers_share_one_journal(
    launch: Launch, site: Path, tmp_path: Path
) -> None:
    db, ledger = tmp_path / "runs.sqlite", tmp_path / "ledger"
    chain = [append(f"c{i}", ledger) for i in range(6)]
    write(
        tmp_path / "cli.flow.json",
        "cli-chain",
        [{"id": "start", "type": "trigger.manual"}, *chain],
        ["start", *(n["id"] for n in chain)],
    )
    hook = {"type": "trigger.webhook", "params": {"auth": "none", "respond_with_run_id": True}}
    hook_nodes = [
        {"id": "plain", **hook, "params": {**hook["params"], "path": "/plain"}},
        append("h1", ledger),
        append("h2", ledger),
        {"id": "gated", **hook, "params": {**hook["params"], "path": "/gate"}},
        {
            "id": "ok",
            "type": "control.approval",
            "params": {"approvers": ["alice"], "message": "go?"},
        },
        append("g1", ledger),
    ]
    write(tmp_path / "hooks.flow.json", "hooks", hook_nodes, ["plain", "h1", "h2"])
    document = json.loads((tmp_path / "hooks.flow.json").read_text(encoding="utf-8"))
    document["edges"] += [
        {"id": "g0", "from": "gated", "port": "out", "to": "ok"},
        {"id": "g1", "from": "ok", "port": "approved", "to": "g1"},
    ]
    (tmp_path / "hooks.flow.json").write_text(json.dumps(document), encoding="utf-8")
    gate_nodes = [
        {"id": "start", "type": "trigger.manual"},
        {
            "id": "ok",
            "type": "control.approval",
            "params": {"approvers": ["alice"], "message": "go?"},
        },
        append("s1", ledger),
    ]
    write(tmp_path / "studio-gate.flow.json", "studio-gate", gate_nodes, ["start", "ok", "s1"])
    started = tmp_path / "a1-started"
    script = f"touch {started}; exec sleep 120"
    slow_step = {"id": "a1", "type": "action.shell", "params": {"command": ["sh", "-c", script]}}
    slow_nodes = [{"id": "start", "type": "trigger.manual"}, slow_step, append("a2", ledger)]
    write(tmp_path / "studio-slow.flow.json", "studio-slow", slow_nodes, ["start", "a1", "a2"])

    server = launch("serve", tmp_path / "hooks.flow.json", "--store", db, "--port", "0")
    url = serve_url(server)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    }
    studio = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STUDIO), str(db), str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert studio.stdout is not None and studio.stdin is not None
    said: dict[str, list[str]] = {}

    def studio_line(key: str) -> list[str]:
        while key not in said:
            line = studio.stdout.readline()  # type: ignore[union-attr]
            assert line, f"the Studio-like process ended early; it said {said}"
            word, *rest = line.split()
            said[word] = rest
        return said[key]

    try:
        gate_run = studio_line("gate")[0]
        slow_run = studio_line("slow")[0]
        runners = [
            launch("run", tmp_path / "cli.flow.json", "--store", db) for _ in range(CLI_RUNS)
        ]

        seen_by_lister: list[dict[str, str]] = []
        listing = threading.Event()

        def list_in_a_loop() -> None:
            while not listing.is_set():
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "opsflow",
                        "runs",
                        "list",
                        "--json",
                        "--limit",
                        "1000",
                        "--store",
                        str(db),
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
                assert out.returncode == 0, out.stderr
                seen_by_lister.append({r["id"]: r["state"] for r in json.loads(out.stdout)})

        lister = threading.Thread(target=list_in_a_loop)
        lister.start()
        with ThreadPoolExecutor(4) as pool:
            plain = list(pool.map(lambda _: post(url + "/plain"), range(PLAIN_HOOKS)))
            gated = list(pool.map(lambda _: post(url + "/gate"), range(GATED_HOOKS)))
        assert [status for status, _, _ in plain + gated] == [202] * (PLAIN_HOOKS + GATED_HOOKS)
        gate_runs = [body["run"] for _, _, body in gated]

        with Journal(db) as journal:
            for run_id in [*gate_runs, gate_run]:
                wait_for(
                    lambda run_id=run_id: journal.pending_approvals(run_id),
                    what=f"approval of {run_id}",
                )
        # Nobody else may drive a run the Studio or serve is waiting in.
        for run_id, owner in ((gate_run, "Opsflow Studio"), (gate_runs[0], "opsflow serve")):
            refused = launch("runs", "resume", run_id, "--store", db)
            assert refused.finish() == 2
            assert f"run {run_id} is driven by {owner} (pid " in refused.said()
        owners = {}
        for run_id in [*gate_runs, gate_run]:
            approve = launch("approve", run_id, "ok", "--approve", "--as", "alice", "--store", db)
            assert approve.finish() == 0, approve.said()
            owners[run_id] = approve.said()
        for run_id in gate_runs:
            assert f"continues in opsflow serve (pid {server.popen.pid} on " in owners[run_id]
        assert f"continues in Opsflow Studio (pid {studio.pid} on " in owners[gate_run]

        for runner in runners:
            assert runner.finish() == 0, runner.said()
        assert studio_line("aborted") == ["cancelled"]
        assert studio_line("gate-ended")[0] == "succeeded"
        all_runs = [body["run"] for _, _, body in plain] + gate_runs
        with Journal(db) as journal:
            wait_for(
                lambda: all(journal.get_run(r).state == "succeeded" for r in all_runs),  # type: ignore[union-attr]
                what="the webhook runs to end",
            )
        listing.set()
        lister.join(60)
        server.popen.send_signal(signal.SIGTERM)
        assert server.finish() == 0
        studio.stdin.write("\n")
        studio.stdin.flush()
        studio_seen = json.loads(" ".join(studio_line("seen")))
        churned = int(studio_line("churned")[0])
    finally:
        studio.stdin.close()
        studio.wait(timeout=60)
        studio.stdout.close()

    with Journal(db) as journal:
        runs = journal.list_runs(limit=100000)
        truth = {r.id: r.state for r in runs}
        assert len(truth) == CLI_RUNS + PLAIN_HOOKS + GATED_HOOKS + 2
        expected = {r: "succeeded" for r in truth} | {slow_run: "cancelled"}
        assert truth == expected
        ran: Counter[str] = Counter()
        for record in runs:
            events = journal.events(record.id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1)), record.id
            assert [e.kind for e in events].count("run_finished") == 1, record.id
            assert record.owner_id is None  # every owner let go when its run ended
            ran.update(
                f"{record.id} {e.node}"
                for e in events
                if e.kind == "node_succeeded" and e.node not in ("start", "plain", "gated", "ok")
            )
    # Every finished step ran once, and nothing ran that the journal does not know of.
    assert Counter(ledger_lines(ledger)) == ran
    assert max(ran.values()) == 1
    assert f"{slow_run} a2" not in ran  # the aborted run stopped where it was
    with Journal(db) as journal:
        killed = journal.node_results(slow_run)["a1"]
    assert killed.state == "failed" and "was killed" in (killed.error or "")
    # Every process sees every run, in its final state.
    assert studio_seen == truth
    assert seen_by_lister, "runs list never ran"
    earlier: dict[str, str] = {}
    for snapshot in seen_by_lister:
        assert set(earlier) <= set(snapshot), "a run vanished from runs list"
        for run_id, state in earlier.items():
            if state in ("succeeded", "failed", "cancelled"):
                assert snapshot[run_id] == state, (
                    f"{run_id} went from {state} to {snapshot[run_id]}"
                )
        earlier = snapshot
    assert churned > 0  # the Studio-like process kept reopening the journal all along
