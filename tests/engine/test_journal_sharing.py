"""One journal file shared by real processes: nobody's log is deleted under it, runs have owners.

These reproduce what happened with the Studio (several Journal objects in one process),
`opsflow runs list` and a runner: each process must keep seeing what the others write.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from opsflow.engine import journal_schema, journal_writer
from opsflow.engine.events import Event
from opsflow.engine.journal import Journal, JournalBusy, RunOwnedError
from opsflow.engine.owners import ProcessRecord, this_process

HOLDER = """
    import sys
    from pathlib import Path
    from opsflow.engine.events import Event
    from opsflow.engine.journal import Journal

    def new_run(journal, run_id):
        journal.create_run(run_id, flow_id="f", flow_path=None, flow_json="{}", trigger="t",
                           payload=None, inputs={}, dry_run=False)
        journal.append(Event(run_id, 1, "run_started", 1.0))

    path = Path(sys.argv[1])
    first = Journal(path)
    new_run(first, "one")
    second = Journal(path)  # the Studio holds several: a run host and a session per window
    third = Journal(path)
    third.close()
    print("ready", flush=True)
    sys.stdin.readline()
    new_run(first, "two")
    print("wrote", flush=True)
    sys.stdin.readline()
"""

LIST = """
    import sys
    from pathlib import Path
    from opsflow.engine.journal import Journal
    with Journal(Path(sys.argv[1])) as journal:
        print(" ".join(sorted(r.id for r in journal.list_runs())))
"""


def python(code: str, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        **kwargs,  # type: ignore[call-overload]
    )


def listed(path: Path) -> str:
    process = python(LIST, str(path))
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return out.strip()


def test_a_process_closing_its_journal_never_deletes_the_log_another_writes_to(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.sqlite"
    holder = python(HOLDER, str(path))
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "ready"
        # Another process opens and closes the journal (as `opsflow runs list` does) ...
        assert listed(path) == "one"
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "wrote"
        # ... and a third process must still see what the holder wrote afterwards.
        assert listed(path) == "one two"
        assert Path(f"{path}-wal").exists()
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
        holder.stdout.close()
    assert holder.returncode == 0
    assert listed(path) == "one two"


def test_a_new_journal_and_its_logs_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as journal:
        journal.create_run(
            "r", flow_id="f", flow_path=None, flow_json="{}", trigger="t", payload=None,
            inputs={}, dry_run=False,
        )  # fmt: skip
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert stat.S_IMODE(name.stat().st_mode) == 0o600, name


KILLED_OWNER = """
    import os, sys
    from pathlib import Path
    from opsflow.engine.events import Event
    from opsflow.engine.journal import Journal
    from opsflow.engine.owners import set_role
    set_role("opsflow run")
    journal = Journal(Path(sys.argv[1]))
    journal.create_run("orphan", flow_id="f", flow_path=None, flow_json="{}", trigger="t",
                       payload=None, inputs={}, dry_run=False)
    journal.append(Event("orphan", 1, "run_started", 1.0))
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_a_killed_owner_is_seen_as_gone_and_its_run_can_be_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    owner = python(KILLED_OWNER, str(path))
    assert owner.stdout is not None and owner.stdin is not None
    assert owner.stdout.readline().strip() == "ready"
    with Journal(path) as journal:
        record = journal.get_run("orphan")
        assert record is not None and record.owner is not None
        assert (record.state, record.shown_state, record.orphaned) == ("running", "running", False)
        assert record.live_owner is not None and record.live_owner.pid == owner.pid
        assert record.owner.describe().startswith(f"opsflow run (pid {owner.pid} on ")
        try:
            journal.claim("orphan")
            raise AssertionError("a live owner was taken over")
        except RunOwnedError as refused:
            assert refused.owner.pid == owner.pid

        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(timeout=30)
        owner.stdin.close()
        owner.stdout.close()

        record = journal.get_run("orphan")
        assert record is not None
        assert (record.state, record.shown_state) == ("running", "interrupted (owner gone)")
        assert [r.id for r in journal.list_runs(state="interrupted")] == ["orphan"]
        assert journal.list_runs(state="running") == []
        previous = journal.claim("orphan")
        assert previous is not None and previous.pid == owner.pid
        journal.append(Event("orphan", 2, "log", 2.0, None, {"level": "info", "message": "m"}))
        record = journal.get_run("orphan")
        assert record is not None and record.live_owner is not None
        assert record.live_owner.id == this_process().id


def test_owner_liveness_rules() -> None:
    me = this_process()
    alive = ProcessRecord("x", me.host, me.boot, os.getpid(), me.start, "t", 0.0, 0.0)
    assert not alive.gone(now=10**10)  # same host: the pid decides, however old the beat
    reused = ProcessRecord("x", me.host, me.boot, os.getpid(), "not-my-start", "t", 0.0, 0.0)
    assert reused.gone() == (me.start is not None)  # a recycled pid is not the owner
    rebooted = ProcessRecord("x", me.host, "another-boot", os.getpid(), me.start, "t", 0.0, 0.0)
    assert rebooted.gone() == (me.boot is not None)
    remote = ProcessRecord("x", "elsewhere", None, 1, None, "t", 0.0, 1000.0)
    assert not remote.gone(now=1030.0)
    assert remote.gone(now=1061.0)


HOLD_LOCK = """
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()
    db.execute("ROLLBACK")
"""


def test_a_write_waiting_for_a_lock_fails_after_its_deadline_or_is_dropped_when_cancelled(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.sqlite"
    with Journal(path) as journal:
        journal.create_run(
            "r", flow_id="f", flow_path=None, flow_json="{}", trigger="t", payload=None,
            inputs={}, dry_run=False,
        )  # fmt: skip
        locker = python(HOLD_LOCK, str(path))
        assert locker.stdout is not None and locker.stdin is not None
        try:
            assert locker.stdout.readline().strip() == "locked"
            late = journal.submit(
                lambda store: store.append_many([Event("r", 1, "run_started", 1.0)]), wait_s=0.5
            )
            try:
                late.result(timeout=30)
                raise AssertionError("a write went through a held lock")
            except JournalBusy as busy:
                assert "locked by another process" in str(busy)
            dropped = journal.submit(
                lambda store: store.append_many([Event("r", 1, "run_started", 1.0)])
            )
            assert dropped.cancel()
        finally:
            locker.stdin.write("\n")
            locker.stdin.close()
            locker.wait(timeout=30)
            locker.stdout.close()
        journal.append(Event("r", 1, "log", 1.0, None, {"level": "info", "message": "after"}))
        assert [(e.seq, e.kind) for e in journal.events("r")] == [(1, "log")]


def test_the_heartbeat_is_written_also_while_writes_never_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_writer, "HEARTBEAT_S", 0.05)
    path = tmp_path / "runs.sqlite"
    with Journal(path) as journal:
        journal.create_run(
            "r", flow_id="f", flow_path=None, flow_json="{}", trigger="t", payload=None,
            inputs={}, dry_run=False,
        )  # fmt: skip
        first = journal.get_run("r").owner.heartbeat  # type: ignore[union-attr]
        seq = 1
        deadline = time.monotonic() + 10
        # Never idle: each write is queued before the previous one is committed.
        while journal.get_run("r").owner.heartbeat == first:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no heartbeat while writes kept coming"
            journal.submit(
                lambda store, seq=seq: store.append_many(
                    [Event("r", seq, "log", 1.0, None, {"level": "info", "message": "m"})]
                )
            )
            seq += 1
            time.sleep(0.001)


def test_a_journal_of_schema_1_is_migrated_and_its_unowned_runs_are_shown_honestly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("BEGIN")
    for statement in journal_schema.MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO schema_version (version) VALUES (1)")
    db.execute("INSERT INTO flow_snapshots VALUES ('x', '{}')")
    for run_id, state in (
        ("was-running", "running"),
        ("left-waiting", "waiting"),
        ("done", "succeeded"),
    ):
        db.execute(
            "INSERT INTO runs (id, flow_id, flow_sha256, state, started_at, payload, inputs, "
            "dry_run) VALUES (?, 'f', 'x', ?, 1.0, 'null', '{}', 0)",
            (run_id, state),
        )
    db.execute("COMMIT")
    db.close()
    with Journal(path) as journal:
        shown = {r.id: r.shown_state for r in journal.list_runs()}
    assert shown == {
        "was-running": "interrupted (owner gone)",  # nobody can be driving it any more
        "left-waiting": "waiting",  # waits for a decision and a resume, as before
        "done": "succeeded",
    }
    check = sqlite3.connect(path)
    assert check.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 2
    check.close()
