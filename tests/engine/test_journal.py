"""The run journal on real SQLite files: events, derived tables, approvals, processes, crashes."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.events import Event, EventKind
from opsflow.engine.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    NodeResult,
    default_journal_path,
)

FLOW_TEXT = '{\n  "format": "opsflow.flow",\n  "version": 1,\n  "id": "demo"\n}\n'


class Emitter:
    """Appends the events of one run with consecutive seq numbers and predictable times."""

    def __init__(self, journal: Journal, run_id: str) -> None:
        self.journal = journal
        self.run_id = run_id

    def event(self, kind: EventKind, node: str | None = None, **data: Any) -> Event:
        seq = self.journal.next_seq(self.run_id)
        return Event(self.run_id, seq, kind, 1000.0 + seq, node, data)

    def emit(self, kind: EventKind, node: str | None = None, **data: Any) -> Event:
        event = self.event(kind, node, **data)
        self.journal.append(event)
        return event


def new_run(journal: Journal, run_id: str = "run-1", **overrides: Any) -> Emitter:
    fields: dict[str, Any] = {
        "flow_id": "demo",
        "flow_path": "flows/demo.flow.json",
        "flow_json": FLOW_TEXT,
        "trigger": "start",
        "payload": {"ticket": 42},
        "inputs": {"env": "prod"},
        "dry_run": False,
    }
    fields.update(overrides)
    journal.create_run(run_id, **fields)
    return Emitter(journal, run_id)


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


DECIDE = """
    import sys
    from pathlib import Path
    from opsflow.engine.journal import Journal, JournalError
    try:
        with Journal(Path(sys.argv[1])) as journal:
            record = journal.decide_approval(
                sys.argv[2], sys.argv[3], decision=sys.argv[4], by=sys.argv[5], comment="ok"
            )
    except JournalError as error:
        sys.exit(f"opsflow: {error}")
    print(record.decided_by, record.decision)
"""


@pytest.fixture
def journal(tmp_path: Path) -> Any:
    with Journal(tmp_path / "store" / "runs.sqlite") as journal:
        yield journal


def test_create_append_and_read_back(journal: Journal) -> None:
    run = new_run(journal, at=500.0)
    written = [
        run.emit("run_started", flow_id="demo", trigger="start", payload={"ticket": 42}),
        run.emit("log", None, level="info", message="héllo «world»"),
        run.emit("node_started", "fetch", attempt=1, params={"url": "http://x"}),
    ]
    assert journal.events("run-1") == written
    assert journal.events("run-1", after_seq=2) == written[2:]
    assert journal.next_seq("run-1") == 4
    record = journal.get_run("run-1")
    assert record is not None
    assert (record.flow_id, record.flow_path, record.trigger) == (
        "demo",
        "flows/demo.flow.json",
        "start",
    )
    assert (record.state, record.started_at, record.finished_at) == ("running", 500.0, None)
    assert (record.payload, record.inputs, record.dry_run, record.parent) == (
        {"ticket": 42},
        {"env": "prod"},
        False,
        None,
    )
    assert journal.flow_snapshot("run-1") == FLOW_TEXT


def test_a_second_journal_object_reads_what_the_first_wrote(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as writer, Journal(path) as reader:
        run = new_run(writer)
        run.emit("run_started")
        assert [e.kind for e in reader.events("run-1")] == ["run_started"]
        assert reader.next_seq("run-1") == 2


def test_derived_tables_follow_events(journal: Journal) -> None:
    run = new_run(journal)
    run.emit("run_started")
    run.emit("node_started", "fetch", attempt=1)
    run.emit("node_retrying", "fetch", attempt=2, delay_s=0.1, error="timed out")
    assert journal.node_results("run-1")["fetch"].error == "timed out"
    run.emit("node_started", "fetch", attempt=2)
    run.journal.append_many(
        [
            run.event(
                "node_succeeded",
                "fetch",
                port="success",
                output={"status": 200},
                attempt=2,
                duration_s=0.5,
            ),
        ]
    )
    run.emit("node_skipped", "notify", reason="branch not taken")
    run.emit("node_started", "parse", attempt=1)
    run.emit("node_failed", "parse", error="bad JSON", attempt=1, duration_s=0.25)
    results = journal.node_results("run-1")
    assert results["fetch"] == NodeResult(
        "fetch", "succeeded", "success", {"status": 200}, None, 2, 1002.0, 1005.0, 0.5
    )
    assert results["notify"] == NodeResult(
        "notify", "skipped", None, None, None, 0, None, 1006.0, None
    )
    assert results["parse"].state == "failed"
    assert results["parse"].error == "bad JSON"
    assert results["parse"].attempts == 1

    run.emit("node_started", "ok?", attempt=1)
    run.emit("node_waiting", "ok?", reason="approval", until=None)
    run.emit(
        "approval_requested", "ok?", approvers=["ann"], message="Go?", form=None, deadline=2000.0
    )
    assert journal.get_run("run-1").state == "waiting"  # type: ignore[union-attr]
    assert journal.node_results("run-1")["ok?"].state == "waiting"
    run.emit("approval_escalated", "ok?", to=["boss"])
    run.emit(
        "approval_decided",
        "ok?",
        decision="approved",
        by="ann",
        at=1500.0,
        comment="",
        fields={"n": 1},
    )
    approval = journal.approval("run-1", "ok?")
    assert approval is not None and not approval.pending
    assert (approval.decision, approval.decided_by, approval.decided_at) == (
        "approved",
        "ann",
        1500.0,
    )
    assert (approval.escalated_to, approval.fields) == (["boss"], {"n": 1})
    run.emit("node_succeeded", "ok?", port="approved", output={}, attempt=1, duration_s=1.0)
    assert journal.get_run("run-1").state == "running"  # type: ignore[union-attr]

    run.emit("node_waiting", "stop-here", reason="breakpoint", until=None)
    run.emit("run_paused", "stop-here")
    assert journal.get_run("run-1").state == "paused"  # type: ignore[union-attr]
    assert "stop-here" not in journal.node_results("run-1")
    run.emit("run_resumed", how="step")
    assert journal.get_run("run-1").state == "running"  # type: ignore[union-attr]
    run.emit("run_finished", outcome="failed", error="parse failed")
    record = journal.get_run("run-1")
    assert record is not None
    assert (record.state, record.finished_at, record.error) == ("failed", 1018.0, "parse failed")


def test_a_run_waits_while_any_node_waits_and_resumes_into_waiting(journal: Journal) -> None:
    run = new_run(journal)
    run.emit("run_started")
    for node in ("a", "b"):
        run.emit("node_started", node, attempt=1)
        run.emit("node_waiting", node, reason="wait", until=5000.0)
    run.emit("node_succeeded", "a", port="success", attempt=1, duration_s=1.0)
    assert journal.get_run("run-1").state == "waiting"  # type: ignore[union-attr]
    run.emit("run_paused", "c")
    run.emit("run_resumed", how="continue")
    assert journal.get_run("run-1").state == "waiting"  # type: ignore[union-attr]
    # A fresh Journal object (another process resuming) learns the state from the file.
    with Journal(journal.path) as other:
        resumed = Emitter(other, "run-1")
        resumed.emit("node_succeeded", "b", port="success", attempt=1, duration_s=2.0)
        assert other.get_run("run-1").state == "running"  # type: ignore[union-attr]


def test_seq_gaps_duplicates_and_unknown_runs_are_refused(journal: Journal) -> None:
    run = new_run(journal)
    with pytest.raises(ValueError, match="has seq 2, expected 1"):
        journal.append(Event("run-1", 2, "run_started", 1.0))
    run.emit("run_started")
    with pytest.raises(ValueError, match="has seq 1, expected 2"):
        journal.append(Event("run-1", 1, "log", 1.0))
    good = Event("run-1", 2, "log", 1.0, None, {"message": "a"})
    with pytest.raises(ValueError, match="has seq 4, expected 3"):
        journal.append_many([good, Event("run-1", 4, "log", 1.0)])
    assert [e.seq for e in journal.events("run-1")] == [1]  # nothing of the bad batch
    with pytest.raises(ValueError, match="not in the journal"):
        journal.append(Event("nope", 1, "run_started", 1.0))
    with pytest.raises(ValueError, match="already in the journal"):
        new_run(journal)


def test_one_writer_per_process_keeps_seq_across_journal_objects(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as first, Journal(path) as second:
        new_run(first).emit("run_started")
        Emitter(second, "run-1").emit("log", message="from the second object")
        with pytest.raises(ValueError, match="has seq 2, expected 3"):
            first.append(Event("run-1", 2, "log", 1.0))
        assert first.next_seq("run-1") == 3


APPEND_AS_ANOTHER_PROCESS = """
    import sys
    from pathlib import Path
    from opsflow.engine.events import Event
    from opsflow.engine.journal import Journal, RunOwnedError
    with Journal(Path(sys.argv[1])) as journal:
        try:
            journal.append(Event(sys.argv[2], journal.next_seq(sys.argv[2]), "log", 1.0))
        except RunOwnedError as error:
            sys.exit(f"refused: {error}")
        try:
            journal.claim(sys.argv[2])
        except RunOwnedError as error:
            sys.exit(f"refused: {error}")
    print("appended")
"""


def test_a_run_owned_by_a_live_process_cannot_be_written_or_claimed_by_another(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as journal:
        new_run(journal).emit("run_started")
        child = run_child(APPEND_AS_ANOTHER_PROCESS, str(path), "run-1")
        assert child.returncode == 1
        assert child.stderr.startswith("refused: run run-1 is driven by opsflow (pid ")
        assert f"pid {os.getpid()} on " in child.stderr
        assert "which is still running" in child.stderr
        assert [e.seq for e in journal.events("run-1")] == [1]
        assert journal.get_run("run-1").live_owner is not None  # type: ignore[union-attr]


def test_get_run_accepts_a_unique_prefix(journal: Journal) -> None:
    for run_id in ("7f3a91", "7f3b02", "7f3b55", "a1"):
        new_run(journal, run_id)
    assert journal.get_run("7f3a").id == "7f3a91"  # type: ignore[union-attr]
    assert journal.get_run("a1").id == "a1"  # type: ignore[union-attr]
    assert journal.get_run("zz") is None
    assert journal.get_run("") is None
    with pytest.raises(JournalError) as error:
        journal.get_run("7f3b")
    assert str(error.value) == (
        "run id '7f3b' is ambiguous: it starts 7f3b02, 7f3b55; give more characters"
    )


def test_list_runs_newest_first_with_filters(journal: Journal) -> None:
    for index, (run_id, flow_id) in enumerate(
        [("r1", "backup"), ("r2", "deploy"), ("r3", "backup"), ("r4", "backup")]
    ):
        new_run(journal, run_id, flow_id=flow_id, at=100.0 + index)
    Emitter(journal, "r3").emit("run_finished", outcome="succeeded", error=None)
    assert [r.id for r in journal.list_runs()] == ["r4", "r3", "r2", "r1"]
    assert [r.id for r in journal.list_runs(flow_id="backup")] == ["r4", "r3", "r1"]
    assert [r.id for r in journal.list_runs(state="succeeded")] == ["r3"]
    assert [r.id for r in journal.list_runs(flow_id="backup", state="running")] == ["r4", "r1"]
    assert [r.id for r in journal.list_runs(limit=2)] == ["r4", "r3"]
    assert [r.id for r in journal.running_runs()] == ["r1", "r2", "r4"]


def test_sub_flow_runs_name_their_parent(journal: Journal) -> None:
    new_run(journal, "parent")
    new_run(journal, "child", parent="parent", dry_run=True)
    child = journal.get_run("child")
    assert child is not None and child.parent == "parent" and child.dry_run
    with pytest.raises(ValueError, match="parent run missing"):
        new_run(journal, "orphan", parent="missing")


def test_snapshots_of_the_same_flow_are_stored_once(journal: Journal) -> None:
    new_run(journal, "a")
    new_run(journal, "b")
    new_run(journal, "c", flow_json=FLOW_TEXT.replace("demo", "other"))
    count = journal._db.execute("SELECT count(*) FROM flow_snapshots").fetchone()[0]
    assert count == 2
    assert "other" in journal.flow_snapshot("c") and journal.flow_snapshot("a") == FLOW_TEXT


def request_approval(run: Emitter, node: str = "ok?") -> None:
    run.emit("node_started", node, attempt=1)
    run.emit("node_waiting", node, reason="approval", until=None)
    run.emit(
        "approval_requested",
        node,
        approvers=["ann", "bob"],
        message="Deploy?",
        form={"fields": [{"name": "ticket"}]},
        deadline=None,
    )


def test_an_approval_is_decided_once_across_journal_objects(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as runner, Journal(path) as approver:
        run = new_run(runner)
        run.emit("run_started")
        request_approval(run)
        [pending] = approver.pending_approvals()
        assert (pending.node, pending.approvers, pending.message) == (
            "ok?",
            ["ann", "bob"],
            "Deploy?",
        )
        assert pending.form == {"fields": [{"name": "ticket"}]}
        decided = approver.decide_approval(
            "run-1",
            "ok?",
            decision="approved",
            by="ann",
            comment="go",
            fields={"ticket": 7},
            at=1_700_000_000.0,
        )
        assert (decided.decision, decided.decided_by, decided.fields) == (
            "approved",
            "ann",
            {"ticket": 7},
        )
        polled = runner.approval("run-1", "ok?")
        assert polled is not None and polled.decision == "approved"
        assert runner.pending_approvals() == [] == approver.pending_approvals("run-1")
        with pytest.raises(JournalError) as error:
            runner.decide_approval("run-1", "ok?", decision="rejected", by="bob")
        message = str(error.value)
        assert message.startswith(
            "the approval at node 'ok?' of run run-1 was already approved by ann at "
        )
        assert "\n" not in message
        # The runner's own event does not overwrite the stored decision.
        run.emit("approval_decided", "ok?", decision="approved", by="ann", at=1.0)
        assert runner.approval("run-1", "ok?").decided_at == 1_700_000_000.0  # type: ignore[union-attr]


def test_unknown_bad_and_late_decisions_are_refused(journal: Journal) -> None:
    run = new_run(journal)
    request_approval(run)
    with pytest.raises(JournalError, match="run run-1 has no approval at node 'nope'"):
        journal.decide_approval("run-1", "nope", decision="approved", by="ann")
    with pytest.raises(JournalError, match="run ghost has no approval"):
        journal.decide_approval("ghost", "ok?", decision="approved", by="ann")
    with pytest.raises(JournalError, match="'maybe' is not a decision"):
        journal.decide_approval("run-1", "ok?", decision="maybe", by="ann")  # type: ignore[arg-type]
    run.emit("run_finished", outcome="cancelled", error=None)
    assert journal.pending_approvals() == []
    with pytest.raises(JournalError, match=r"run run-1 is over \(cancelled\)"):
        journal.decide_approval("run-1", "ok?", decision="approved", by="ann")
    assert journal.approval("run-1", "ok?").pending  # type: ignore[union-attr]


def test_another_process_decides_while_the_runner_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as runner:
        run = new_run(runner)
        run.emit("run_started")
        request_approval(run)
        # Hold the write lock for a moment: the other process must wait, not fail.
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(DECIDE),
                str(path),
                "run-1",
                "ok?",
                "approved",
                "ann",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        assert child.poll() is None
        blocker.execute("COMMIT")
        blocker.close()
        out, err = child.communicate(timeout=60)
        assert (child.returncode, out.strip(), err) == (0, "ann approved", "")
        decided = runner.approval("run-1", "ok?")
        assert decided is not None and decided.decided_by == "ann"
        again = run_child(DECIDE, str(path), "run-1", "ok?", "rejected", "bob")
        assert again.returncode == 1
        assert again.stderr.startswith(
            "opsflow: the approval at node 'ok?' of run run-1 was already approved by ann at "
        )
        assert again.stderr.count("\n") == 1 and "Traceback" not in again.stderr


def test_racing_processes_decide_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as runner:
        run = new_run(runner)
        request_approval(run)
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(DECIDE),
                str(path),
                "run-1",
                "ok?",
                "approved",
                f"user{index}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(4)
    ]
    results = [(child, *child.communicate(timeout=60)) for child in children]
    winners = [out.split()[0] for child, out, _ in results if child.returncode == 0]
    assert len(winners) == 1
    for child, _, err in results:
        if child.returncode != 0:
            assert f"already approved by {winners[0]} at" in err


def test_processes_opening_a_new_journal_at_once_agree(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "runs.sqlite"
    code = """
        import sys
        from pathlib import Path
        from opsflow.engine.journal import Journal
        with Journal(Path(sys.argv[1])) as journal:
            journal.create_run(sys.argv[2], flow_id="f", flow_path=None, flow_json="{}",
                               trigger=None, payload=None, inputs={}, dry_run=False)
    """
    children = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(path), f"r{index}"])
        for index in range(4)
    ]
    assert [child.wait(timeout=60) for child in children] == [0, 0, 0, 0]
    with Journal(path) as journal:
        assert sorted(r.id for r in journal.list_runs()) == ["r0", "r1", "r2", "r3"]


def test_wal_mode_and_durability_setting(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as journal:
        assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with Journal(path, durable=True) as journal:
        assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    other = sqlite3.connect(path)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    other.close()


CRASHING_WRITER = """
    import sys, time
    from pathlib import Path
    from opsflow.engine.events import Event
    from opsflow.engine.journal import Journal

    journal = Journal(Path(sys.argv[1]))
    run_id = sys.argv[2]
    journal.create_run(run_id, flow_id="f", flow_path=None, flow_json="{}", trigger="t",
                       payload={}, inputs={}, dry_run=False)
    seq = 0
    def event(kind, node=None, **data):
        global seq
        seq += 1
        return Event(run_id, seq, kind, time.time(), node, data)
    journal.append(event("run_started"))
    for index in range(1_000_000):
        node = f"n{index}"
        journal.append(event("node_started", node, attempt=1))
        if index % 7 == 3:
            journal.append(event("node_waiting", node, reason="wait", until=None))
        batch = [event("log", node, level="info", message="x" * (index % 300))]
        kind = "node_failed" if index % 5 == 0 else "node_succeeded"
        batch.append(event(kind, node, port="success", output={"i": index}, attempt=1,
                           duration_s=0.0, error="e" if kind == "node_failed" else None))
        journal.append_many(batch)
        if index == 50:
            print("ready", flush=True)
"""

_STATE_AFTER = {
    "node_started": "running",
    "node_waiting": "waiting",
    "node_succeeded": "succeeded",
    "node_failed": "failed",
}


@pytest.mark.parametrize("attempt", range(3))
def test_a_run_survives_kill_9_of_its_writer(tmp_path: Path, attempt: int) -> None:
    path = tmp_path / "runs.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHING_WRITER), str(path), "crash"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(random.uniform(0.0, 0.3))
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()

    with Journal(path) as journal:
        events = journal.events("crash")
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert len(events) > 150
        expected: dict[str, str] = {}
        for e in events:
            if e.kind in _STATE_AFTER:
                assert e.node is not None
                expected[e.node] = _STATE_AFTER[e.kind]
        results = journal.node_results("crash")
        assert {node: r.state for node, r in results.items()} == expected
        waiting = "waiting" in expected.values()
        assert journal.get_run("crash").state == ("waiting" if waiting else "running")  # type: ignore[union-attr]
        assert [r.id for r in journal.running_runs()] == ["crash"]
        assert journal.mark_interrupted("crash", at=5.0)
        assert not journal.mark_interrupted("crash")
        record = journal.get_run("crash")
        assert record is not None and (record.state, record.finished_at) == ("interrupted", 5.0)
        last = journal.events("crash", after_seq=len(events))
        assert [(e.seq, e.kind, e.data["outcome"]) for e in last] == [
            (len(events) + 1, "run_finished", "interrupted")
        ]
        assert journal.running_runs() == []


def one_line_error(path: Path) -> str:
    with pytest.raises(JournalError) as error:
        Journal(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_a_garbage_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is my shopping list\n" * 100)
    assert one_line_error(path).endswith(
        "is not an Opsflow run journal (it is not an SQLite database); move it away or pass --store"
    )
    assert path.read_bytes() == b"this is my shopping list\n" * 100


def test_a_corrupt_journal_and_a_foreign_database_are_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sqlite"
    with Journal(corrupt) as journal:
        new_run(journal).emit("run_started")
    data = bytearray(corrupt.read_bytes())
    data[100:4096] = os.urandom(3996)  # the page holding the schema
    corrupt.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{corrupt}{suffix}").unlink(missing_ok=True)
    assert "is not an Opsflow run journal (" in one_line_error(corrupt)

    foreign = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE recipes (name TEXT)")
    db.commit()
    db.close()
    assert "is not an Opsflow run journal (it is another SQLite database)" in one_line_error(
        foreign
    )

    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert "is a folder" in one_line_error(folder)


def test_a_journal_from_a_newer_opsflow_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    message = one_line_error(path)
    assert f"journal schema {SCHEMA_VERSION + 1}; this one reads up to {SCHEMA_VERSION}" in message
    assert "upgrade Opsflow" in message


def test_opsflow_store_overrides_the_default_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSFLOW_STORE", raising=False)
    default = default_journal_path()
    assert default.name == "runs.sqlite" and "opsflow" in default.parent.name.lower()
    monkeypatch.setenv("OPSFLOW_STORE", str(tmp_path / "elsewhere" / "mine.sqlite"))
    assert default_journal_path() == tmp_path / "elsewhere" / "mine.sqlite"
    with Journal(default_journal_path()) as journal:
        new_run(journal)
    assert (tmp_path / "elsewhere" / "mine.sqlite").is_file()
    monkeypatch.setenv("OPSFLOW_STORE", "~/runs.sqlite")
    assert default_journal_path() == Path.home() / "runs.sqlite"


def test_event_data_round_trips_as_json(journal: Journal) -> None:
    run = new_run(journal)
    data = {"unicode": "żółw ✓", "nested": {"list": [1, 2.5, None, True]}, "empty": {}}
    event = run.emit("log", "n", **data)
    [stored] = journal.events("run-1")
    assert stored == event
    raw = journal._db.execute("SELECT data FROM events").fetchone()[0]
    assert raw == json.dumps(data, ensure_ascii=False, separators=(",", ":"))
