"""Real `opsflow` processes for tests: the ledger node pack, flows of ledger nodes, a child
process whose output is read live, and checks that nothing was lost or done twice.

The node pack in `tests/engine/crashpack.py` (installed into a temporary site folder,
found through its `opsflow.nodes` entry point) appends a line to a ledger file per node.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsflow.engine.events import Event
from opsflow.engine.journal import Journal, NodeResult, RunRecord

PACK_SOURCE = Path(__file__).parent / "engine" / "crashpack.py"
APPEND, APPEND_IDEM = "crashtest.append", "crashtest.append_idem"
Launch = Callable[..., "Opsflow"]


# -- the pack, the flows and the processes ----------------------------------------------------


def install_pack(site: Path) -> None:
    """Lay the pack out as an installer does: module plus dist-info with the entry point."""
    site.mkdir()
    shutil.copyfile(PACK_SOURCE, site / "crashtest_pack.py")
    info = site / "crashtest_pack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crashtest-pack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[opsflow.nodes]\ncrashtest = crashtest_pack:specs\n")
    (info / "RECORD").write_text("")


def append_node(node_id: str, ledger: Path, *, idempotent: bool, **params: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": APPEND_IDEM if idempotent else APPEND,
        "params": {"path": str(ledger), "line": node_id, **params},
    }


def write_flow(path: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> None:
    """Edges as (source, target), through the source's usual port."""
    ports = {node["id"]: "out" if node["type"] == "trigger.manual" else "success" for node in nodes}
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "crash-test",
        "nodes": [{"id": "start", "type": "trigger.manual"}, *nodes],
        "edges": [
            {"id": f"e{index}", "from": source, "port": ports.get(source, "out"), "to": target}
            for index, (source, target) in enumerate(edges)
        ],
    }
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


class Opsflow:
    """`python -m opsflow ARGS` as a real child process whose stdout lines are collected live."""

    def __init__(self, site: Path, *args: str | Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        }
        env.pop("OPSFLOW_DEBUG", None)
        self.args = [str(arg) for arg in args]
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "opsflow", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self.lines: list[str] = []
        self.stderr = ""
        self.changed = threading.Condition()
        self.readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.popen.stderr is not None
        self.stderr = self.popen.stderr.read()

    def wait_until(self, condition: Callable[[list[dict[str, Any]]], bool], timeout: float) -> bool:
        """Wait until `condition(events printed so far)` holds; False if the process ended first."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not condition(self.events()):
                if self.popen.poll() is not None and not self.readers[0].is_alive():
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"opsflow {self.args} printed nothing useful in {timeout}s"
                    )
                self.changed.wait(min(left, 0.05))
        return True

    def wait_for_text(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Wait until a printed line matches the regular expression; its match."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines:
                    found = re.search(pattern, line)
                    if found:
                        return found
                if self.popen.poll() is not None and not self.readers[0].is_alive():
                    raise AssertionError(
                        f"opsflow {self.args} ended without {pattern!r}: {self.said()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"opsflow {self.args} printed no {pattern!r}: {self.said()}"
                    )
                self.changed.wait(min(left, 0.05))

    def kill(self) -> bool:
        """SIGKILL the process; True if the signal is what ended it (False: it had exited)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        return self.finish() == -signal.SIGKILL

    def finish(self, timeout: float = 60) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"opsflow {self.args} did not end within {timeout}s") from None
        for reader in self.readers:
            reader.join(10)
        assert self.popen.stdout is not None and self.popen.stderr is not None
        self.popen.stdout.close()
        self.popen.stderr.close()
        return code

    def events(self) -> list[dict[str, Any]]:
        """The JSON event lines printed completely (a kill may cut the last one)."""
        events = []
        for line in self.lines:
            if line.endswith("\n") and line.startswith("{"):
                value = json.loads(line)
                if isinstance(value, dict) and "seq" in value and "kind" in value:
                    events.append(value)
        return events

    def said(self) -> str:
        """Everything the process told its user (stdout and stderr)."""
        return "".join(self.lines) + self.stderr


def journal_state(db: Path, run_id: str) -> tuple[RunRecord, dict[str, NodeResult], list[Event]]:
    with Journal(db) as journal:
        record = journal.get_run(run_id)
        assert record is not None, f"run {run_id} is not in {db}"
        return record, journal.node_results(run_id), journal.events(run_id)


def in_flight(db: Path, run_id: str) -> set[str]:
    """Nodes whose start is journaled without an end."""
    _, results, _ = journal_state(db, run_id)
    return {node for node, result in results.items() if result.state == "running"}


def check_printed_events(processes: list[Opsflow], journaled: list[Event], where: str) -> None:
    """No lost events: whatever a process printed (after journaling it) is in the journal as is."""
    by_seq = {event.seq: event.to_json() for event in journaled}
    for process in processes:
        printed = process.events()
        seqs = [event["seq"] for event in printed]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)) if seqs else []), (
            f"{where}: opsflow {process.args} printed seqs {seqs} with gaps"
        )
        for event in printed:
            assert by_seq.get(event["seq"]) == event, (
                f"{where}: opsflow {process.args} printed {event}, "
                f"the journal has {by_seq.get(event['seq'])}"
            )
        if printed and process.args[0] == "runs":
            first = (printed[0]["kind"], printed[0]["data"].get("outcome"))
            refused = first in (("run_finished", "interrupted"), ("log", None))
            assert first[0] == "run_resumed" or refused, f"{where}: {printed[0]}"


def check_journal_complete(events: list[Event], flow_nodes: list[str], where: str) -> None:
    """The run succeeded, its seqs are gapless from 1, and every node succeeded exactly once."""
    assert [event.seq for event in events] == list(range(1, len(events) + 1)), (
        f"{where}: event seqs have gaps: {[event.seq for event in events]}"
    )
    assert events[0].kind == "run_started", f"{where}: first event {events[0]}"
    assert [e.kind for e in events].count("run_started") == 1, where
    last = events[-1]
    assert (last.kind, last.data.get("outcome")) == ("run_finished", "succeeded"), (
        f"{where}: last event {last}"
    )
    for index, event in enumerate(events[:-1]):
        if event.kind == "run_finished":
            assert event.data.get("outcome") == "interrupted", f"{where}: {event}"
            assert events[index + 1].kind == "run_resumed", f"{where}: after {event}"
    succeeded = Counter(e.node for e in events if e.kind == "node_succeeded")
    assert succeeded == Counter(flow_nodes), f"{where}: node_succeeded events {succeeded}"
    assert not [e for e in events if e.kind in ("node_failed", "node_skipped")], where


def ledger_lines(ledger: Path) -> list[str]:
    if not ledger.exists():
        return []
    text = ledger.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), f"torn last line in the ledger: {text[-40:]!r}"
    return text.splitlines()
