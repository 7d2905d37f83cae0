"""`opsflow serve` hosting file, poll and schedule triggers, as a real process on real files."""

from __future__ import annotations

import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.journal import Journal

OPSFLOW = [sys.executable, "-m", "opsflow"]


def write_flow(path: Path, nodes: list[dict[str, Any]], flow_id: str = "ops") -> Path:
    """A flow whose every trigger leads to its own set_vars node."""
    steps: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for node in nodes:
        if node["type"] != "trigger.manual":
            step = f"{node['id']}_seen"
            steps.append({"id": step, "type": "action.set_vars", "params": {"values": {"ok": 1}}})
            edges.append({"id": f"e{len(edges)}", "from": node["id"], "port": "out", "to": step})
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": flow_id,
        "nodes": nodes + steps,
        "edges": edges,
    }
    path.write_text(json.dumps(document, indent=2))
    return path


@contextmanager
def unhealthy_endpoint() -> Iterator[str]:
    """A health URL on loopback that always answers 503."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve = partial(server.serve_forever, poll_interval=0.05)
    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()


class Serving:
    """An `opsflow serve` process whose output lines are read on a thread, with timeouts."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout_s: float = 10.0) -> str:
        return self.lines.get(timeout=timeout_s)

    def line_with(self, text: str, timeout_s: float = 10.0) -> str:
        deadline = time.monotonic() + timeout_s
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if text in line:
                return line
            seen.append(line)
        raise AssertionError(f"no line with {text!r} in {seen}")


@contextmanager
def serve(*args: str) -> Iterator[Serving]:
    process = subprocess.Popen(
        [*OPSFLOW, "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Serving(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_file_and_poll_triggers_start_journaled_runs_until_sigterm(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    store = tmp_path / "runs.sqlite"
    with unhealthy_endpoint() as url:
        nodes = [
            {
                "id": "drop",
                "type": "trigger.file",
                "params": {"folder": str(drop), "glob": "*.csv", "debounce_s": 0.2},
            },
            {
                "id": "watch",
                "type": "trigger.poll",
                "params": {"url": url, "interval_s": 5, "timeout_s": 2},
            },
        ]
        flow_path = write_flow(tmp_path / "ops.flow.json", nodes)
        with serve(str(flow_path), "--store", str(store)) as served:
            assert served.line() == "serving 2 trigger(s); stop with Ctrl+C or SIGTERM"
            assert served.line() == f"  file  ops/drop  watching {drop} (*.csv; created)"
            assert served.line() == f"  poll  ops/watch  every 5s {url} (fires on down)"
            # The target is down from the first check: that is one run at start-up.
            assert served.line_with("ops/watch").endswith(
                f"ops/watch {url} is down (answered 503 Service Unavailable)"
            )
            assert " succeeded in " in served.line_with("ops/watch run ")
            (drop / "ignored.txt").write_text("not a csv")
            (drop / "orders.csv").write_text("id\n1\n")
            finished = served.line_with("ops/drop run ")
            assert " succeeded in " in finished
            served.process.send_signal(signal.SIGTERM)
            assert served.process.wait(timeout=10) == 0
            assert served.line_with("stopping") == "stopping"
    with Journal(store) as journal:
        runs = {run.trigger: run for run in journal.list_runs()}
    assert sorted(runs) == ["drop", "watch"]
    assert runs["drop"].payload["path"] == str(drop / "orders.csv")
    assert runs["drop"].id in finished
    assert runs["watch"].payload["state"] == "down"
    assert runs["watch"].payload["previous"] == "unknown"
    assert {run.state for run in runs.values()} == {"succeeded"}


def test_sigterm_interrupts_a_run_in_flight_so_it_can_be_resumed(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    store = tmp_path / "runs.sqlite"
    nodes = [
        {"id": "drop", "type": "trigger.file", "params": {"folder": str(drop), "debounce_s": 0}},
        {"id": "pause", "type": "action.wait", "params": {"duration_s": 60}},
    ]
    flow_path = tmp_path / "slow.flow.json"
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "slow",
        "nodes": nodes,
        "edges": [{"id": "e0", "from": "drop", "port": "out", "to": "pause"}],
    }
    flow_path.write_text(json.dumps(document))
    with serve(str(flow_path), "--store", str(store)) as served:
        served.line_with("watching")
        (drop / "big.iso").write_text("x")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not store.exists():
            time.sleep(0.05)
        with Journal(store) as journal:
            while time.monotonic() < deadline and not journal.list_runs():
                time.sleep(0.05)
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=10) == 0
        assert served.line_with("stopping") == "stopping; interrupting 1 run(s) in flight"
    with Journal(store) as journal:
        [run] = journal.list_runs()
    assert run.state == "interrupted" and run.trigger == "drop"


def test_webhooks_and_schedules_are_listed_together(tmp_path: Path) -> None:
    nodes = [
        {"id": "hook", "type": "trigger.webhook", "params": {"path": "/go", "auth": "none"}},
        {
            "id": "nightly",
            "type": "trigger.schedule",
            "params": {"cron": "0 6 * * *", "timezone": "Europe/Berlin"},
        },
        {"id": "by_hand", "type": "trigger.manual"},
    ]
    flow_path = write_flow(tmp_path / "ops.flow.json", nodes)
    with serve(str(flow_path), "--store", str(tmp_path / "runs.sqlite")) as served:
        first = served.line()
        assert first.startswith("serving 2 trigger(s), webhooks on http://127.0.0.1:")
        port = int(first.split("http://127.0.0.1:")[1].split(";")[0])
        assert served.line() == f"  POST   http://127.0.0.1:{port}/go -> ops/hook (auth: none)"
        schedule = served.line()
        assert schedule.startswith("  schedule  ops/nightly  next ")
        assert schedule.endswith(" 06:00 Europe/Berlin")
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        (
            [{"id": "by_hand", "type": "trigger.manual"}],
            "none of the flows has a webhook, schedule, file or poll trigger; "
            "there is nothing to serve",
        ),
        (
            [{"id": "drop", "type": "trigger.file", "params": {"folder": "/no/such/folder"}}],
            "file trigger 'drop' of flow 'ops' watches /no/such/folder, which does not exist; "
            "create the folder or fix params.folder",
        ),
    ],
)
def test_serve_refuses_what_it_cannot_host(
    tmp_path: Path, nodes: list[dict[str, Any]], message: str
) -> None:
    flow_path = write_flow(tmp_path / "ops.flow.json", nodes)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_CRED_")}
    done = subprocess.run(
        [*OPSFLOW, "serve", str(flow_path), "--store", str(tmp_path / "runs.sqlite")],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr == f"opsflow: {message}\n"
    assert done.stdout == ""
