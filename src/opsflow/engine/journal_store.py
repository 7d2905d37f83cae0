"""The write side of the run journal: the SQL that records runs, events, decisions and owners.

A `JournalStore` is one SQLite connection used only by its process's journal writer
thread (`opsflow.engine.journal_writer`). Each method is one atomic change; the writer
may run several of them in one transaction (a group commit), in which case each runs
inside a savepoint, so one refused change never undoes another.

Ownership is enforced here, where it cannot be bypassed: a run is created owned by this
process, `claim` takes it over only from an owner that is provably gone, `run_finished`
and `release` give it up, and every append checks that this process still owns the run.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_args

from opsflow.engine.events import Event
from opsflow.engine.journal_records import (
    ACTIVE_STATES,
    ApprovalRecord,
    approval_from_row,
    process_from_row,
    when,
)
from opsflow.engine.journal_schema import (
    ANY_NODE_WAITING,
    APPROVAL_COLUMNS,
    DECIDE,
    EFFECTS,
    INSERT_EVENT,
    PROCESS_COLUMNS,
    RECOMPUTE_AFTER,
    SET_STATE_IF_LIVE,
    Decision,
    JournalError,
    encode,
    migrate,
)
from opsflow.engine.owners import ProcessRecord, role_of_this_process, this_process
from opsflow.oscompat.private_file import make_private

#: Rows of processes that stopped long ago and own nothing are dropped after this long.
FORGET_PROCESSES_AFTER_S = 7 * 24 * 3600.0


#: A run's owner id, the owner's process row (NULLs when missing) and the run's state.
_OWNER_OF_RUN = (
    f"SELECT r.owner, {', '.join('p.' + c for c in PROCESS_COLUMNS.split(', '))}, r.state "
    "FROM runs r LEFT JOIN processes p ON p.id = r.owner WHERE r.id = ?"
)


class RunOwnedError(JournalError):
    """Another live process drives the run; `owner` says which."""

    def __init__(self, run_id: str, owner: ProcessRecord) -> None:
        super().__init__(
            f"run {run_id} is driven by {owner.describe()}, which is still running; it "
            "continues there (stop that process first to take the run over)"
        )
        self.run_id = run_id
        self.owner = owner


class JournalStore:
    """One connection that writes; see the module docstring."""

    def __init__(self, path: Path, *, durable: bool, busy_timeout_s: float) -> None:
        self.path = path
        self.db = open_connection(path, durable, busy_timeout_s)
        # Next expected seq and "may be waiting" per run appended to, read from the file
        # once: appends need no SELECT for them.
        self._next_seq: dict[str, int] = {}
        self._maybe_waiting: set[str] = set()
        self._registered = False

    def close(self) -> None:
        self.db.close()

    def forget(self) -> None:
        """Drop what is cached about runs (after a transaction was rolled back)."""
        self._next_seq.clear()
        self._maybe_waiting.clear()
        self._registered = False

    def set_durable(self, durable: bool) -> None:
        self.db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")

    # -- runs and events ---------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        *,
        flow_id: str,
        flow_path: str | os.PathLike[str] | None,
        flow_json: str,
        trigger: str | None,
        payload: Any,
        inputs: Mapping[str, Any],
        dry_run: bool,
        parent: str | None = None,
        at: float | None = None,
    ) -> None:
        """Record a new run in state running, owned by this process, with its flow's text."""
        sha = hashlib.sha256(flow_json.encode("utf-8")).hexdigest()
        path = os.fspath(flow_path) if flow_path is not None else None
        row = (run_id, flow_id, path, sha, trigger, time.time() if at is None else at)
        try:
            with self.write():
                owner = self._register()
                self.db.execute(
                    "INSERT OR IGNORE INTO flow_snapshots (sha256, flow_json) VALUES (?, ?)",
                    (sha, flow_json),
                )
                self.db.execute(
                    "INSERT INTO runs (id, flow_id, flow_path, flow_sha256, trigger, state, "
                    "started_at, payload, inputs, dry_run, parent_id, owner) "
                    "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                    (*row, encode(payload), encode(dict(inputs)), int(dry_run), parent, owner),
                )
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
                raise ValueError(
                    f"parent run {parent} of run {run_id} is not in the journal"
                ) from exc
            raise ValueError(f"run {run_id} is already in the journal") from exc
        self._next_seq[run_id] = 1

    def append_many(self, events: Sequence[Event]) -> None:
        """Write events (seq = last + 1 for each run, in order) atomically, as the owner."""
        expected: dict[str, int] = {}
        for event in events:
            run_id = event.run_id
            seq = expected.get(run_id) or self._next_seq.get(run_id) or self._read_seq(run_id)
            if event.seq != seq:
                raise ValueError(
                    f"event {event.kind} of run {run_id} has seq {event.seq}, expected {seq}:"
                    " events must be appended in order without gaps"
                )
            expected[run_id] = seq + 1
        if not expected:
            return
        try:
            with self.write():
                self._check_owned(expected)
                self._insert(events, self._maybe_waiting)
        except BaseException as exc:
            for run_id in expected:  # forget what the rollback undid; reread it next time
                self._next_seq.pop(run_id, None)
                self._maybe_waiting.add(run_id)
            if isinstance(exc, sqlite3.IntegrityError) and (
                exc.sqlite_errorname == "SQLITE_CONSTRAINT_PRIMARYKEY"
            ):
                raise ValueError(
                    f"events of run {', '.join(expected)} were appended by another writer: "
                    "only one process may run a run"
                ) from exc
            raise
        self._next_seq.update(expected)

    def decide_approval(
        self,
        run_id: str,
        node: str,
        *,
        decision: Decision,
        by: str,
        comment: str = "",
        fields: Mapping[str, Any] | None = None,
        at: float | None = None,
    ) -> ApprovalRecord:
        """Decide a pending approval once; later attempts (from any process) are refused."""
        if decision not in get_args(Decision):
            raise JournalError(f"'{decision}' is not a decision; use approved or rejected")
        moment = time.time() if at is None else at
        encoded = encode(dict(fields)) if fields is not None else None
        with self.write():
            changed = self.db.execute(
                DECIDE, (run_id, node, decision, by, moment, comment, encoded)
            ).rowcount
            row = self.db.execute(
                f"SELECT {APPROVAL_COLUMNS} FROM approvals WHERE run_id = ? AND node = ?",
                (run_id, node),
            ).fetchone()
            if row is None:
                raise JournalError(f"run {run_id} has no approval at node '{node}'")
            record = approval_from_row(row)
            if not changed:
                raise JournalError(
                    f"the approval at node '{node}' of run {run_id} was already {record.decision}"
                    f" by {record.decided_by or 'the runner'} at {when(record.decided_at)}"
                )
            state = self.db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if state[0] not in ACTIVE_STATES and state[0] != "interrupted":
                raise JournalError(
                    f"run {run_id} is over ({state[0]}); its approval at node '{node}' "
                    "can no longer be decided"
                )
        return record

    def end_run(
        self,
        run_id: str,
        *,
        error: str,
        outcome: str = "interrupted",
        at: float | None = None,
    ) -> bool:
        """End a run nobody drives (its owner is gone, or it is this process's and never
        started) with run_finished(`outcome`); False if it is over already.

        Refused with RunOwnedError while another owner lives.
        """
        with self.write():
            row = self.db.execute(
                "SELECT state, (SELECT max(seq) FROM events WHERE run_id = ?1) "
                "FROM runs WHERE id = ?1",
                (run_id,),
            ).fetchone()
            if row is None or row[0] not in ACTIVE_STATES:
                return False
            self.claim(run_id)
            data = {"outcome": outcome, "error": error}
            moment = time.time() if at is None else at
            event = Event(run_id, (row[1] or 0) + 1, "run_finished", moment, None, data)
            self._insert((event,), set())
        self._next_seq.pop(run_id, None)
        return True

    # -- ownership ---------------------------------------------------------------------

    def claim(self, run_id: str) -> ProcessRecord | None:
        """Make this process the run's owner; returns the gone owner it took over from.

        Refused with RunOwnedError while another owner lives, with JournalError when the
        run is not in the journal.
        """
        with self.write():
            row = self.db.execute(_OWNER_OF_RUN, (run_id,)).fetchone()
            if row is None:
                raise JournalError(f"there is no run {run_id} in {self.path}")
            state = row[-1]
            if state not in (*ACTIVE_STATES, "interrupted"):
                raise JournalError(f"run {run_id} is over ({state}); nobody can drive it again")
            me = this_process()
            if row[0] == me.id:
                return None
            previous = process_from_row(row[1:-1])
            if previous is not None and not previous.gone():
                raise RunOwnedError(run_id, previous)
            self.db.execute("UPDATE runs SET owner = ? WHERE id = ?", (self._register(), run_id))
        self._next_seq.pop(run_id, None)  # the gone owner may have written since we looked
        return previous

    def hand_back(self, run_id: str, owner: str | None) -> None:
        """Undo a claim that led nowhere: the run goes back to the owner it had."""
        with self.write():
            self.db.execute(
                "UPDATE runs SET owner = ? WHERE id = ? AND owner = ?",
                (owner, run_id, this_process().id),
            )

    def release(self, run_id: str) -> None:
        """Stop owning a run that is left for later (waiting for approvals, no runner)."""
        with self.write():
            self.db.execute(
                "UPDATE runs SET owner = NULL WHERE id = ? AND owner = ?",
                (run_id, this_process().id),
            )

    def heartbeat(self) -> None:
        """Say this process still lives (for owners on other hosts, see owners.STALE_AFTER_S)."""
        if self._registered:
            with self.write():
                self.db.execute(
                    "UPDATE processes SET heartbeat = ? WHERE id = ?",
                    (time.time(), this_process().id),
                )

    def unregister(self) -> None:
        """This process stops driving runs: runs it still owns now show as orphaned."""
        if self._registered:
            with self.write():
                self.db.execute("DELETE FROM processes WHERE id = ?", (this_process().id,))
            self._registered = False

    def _register(self) -> str:
        """Write (once) this process's row; inside the caller's transaction."""
        me = this_process()
        now = time.time()
        if not self._registered:
            self.db.execute(
                f"INSERT INTO processes ({PROCESS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat, "
                "role = excluded.role",
                (me.id, me.host, me.boot, me.pid, me.start, role_of_this_process(), now, now),
            )
            self.db.execute(
                "DELETE FROM processes WHERE heartbeat < ? AND id NOT IN "
                "(SELECT owner FROM runs WHERE owner IS NOT NULL)",
                (now - FORGET_PROCESSES_AFTER_S,),
            )
            self._registered = True
        return me.id

    def _check_owned(self, runs: Mapping[str, int]) -> None:
        me = this_process().id
        for run_id in runs:
            # The common case is one primary-key lookup; the owner's row only to say who.
            mine = self.db.execute("SELECT owner FROM runs WHERE id = ?", (run_id,)).fetchone()
            if mine is None:
                raise ValueError(f"run {run_id} is not in the journal; call create_run first")
            if mine[0] == me:
                continue
            row = self.db.execute(_OWNER_OF_RUN, (run_id,)).fetchone()
            owner = process_from_row(row[1:-1])
            if owner is not None:
                raise RunOwnedError(run_id, owner)
            raise ValueError(f"this process does not own run {run_id}; claim it before appending")

    # -- internals ---------------------------------------------------------------------

    def _read_seq(self, run_id: str) -> int:
        row = self.db.execute(
            "SELECT state, (SELECT max(seq) FROM events WHERE run_id = ?1) FROM runs WHERE id = ?1",
            (run_id,),
        ).fetchone()
        if row is None:
            raise ValueError(f"run {run_id} is not in the journal; call create_run first")
        seq = self._next_seq[run_id] = (row[1] or 0) + 1
        if row[0] == "waiting":
            self._maybe_waiting.add(run_id)
        return seq

    @contextmanager
    def write(self) -> Iterator[None]:
        """One atomic change: a transaction, or a savepoint inside the writer's group commit."""
        db = self.db
        if db.in_transaction:
            db.execute("SAVEPOINT change")
            try:
                yield
            except BaseException:
                db.execute("ROLLBACK TO change")
                db.execute("RELEASE change")
                raise
            db.execute("RELEASE change")
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")

    def _insert(self, events: Sequence[Event], maybe_waiting: set[str]) -> None:
        """Insert events and apply them to the derived tables, inside an open transaction."""
        db = self.db
        rows = [(e.run_id, e.seq, e.at, e.kind, e.node, encode(e.data)) for e in events]
        if len(rows) == 1:
            db.execute(INSERT_EVENT, rows[0])
        else:
            db.executemany(INSERT_EVENT, rows)
        for e in events:
            kind, run_id = e.kind, e.run_id
            if kind == "node_waiting" and e.data.get("reason") == "breakpoint":
                # The run pauses before the node; the node itself has not begun.
                db.execute(SET_STATE_IF_LIVE, (run_id, "paused"))
                continue
            effect = EFFECTS.get(kind)
            if effect is not None:
                db.execute(effect[0], effect[1](e))
            if kind == "node_waiting":
                db.execute(SET_STATE_IF_LIVE, (run_id, "waiting"))
                maybe_waiting.add(run_id)
            elif kind == "run_finished":
                maybe_waiting.discard(run_id)
            elif kind == "run_resumed":
                maybe_waiting.add(run_id)
            if run_id in maybe_waiting and kind in RECOMPUTE_AFTER:
                waiting = db.execute(ANY_NODE_WAITING, (run_id,)).fetchone()[0]
                db.execute(SET_STATE_IF_LIVE, (run_id, "waiting" if waiting else "running"))
                if not waiting:
                    maybe_waiting.discard(run_id)


def open_connection(
    path: Path, durable: bool, busy_timeout_s: float, *, check: bool = True
) -> sqlite3.Connection:
    """Connect, switch to WAL and update the schema, or explain in one sentence why not.

    Only SQLite ever opens the file: closing any other descriptor of it would drop this
    process's POSIX locks, SQLite's included, and let another process delete the
    write-ahead log under a live connection. A file that is not a journal is refused
    from what SQLite reads. A new journal is made readable by its owner only.
    """
    if path.is_dir():
        raise JournalError(f"{path} is a folder; name a file for the run journal with --store")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        db = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        if created:
            # Before the first write, so the log files SQLite creates later get this mode too.
            make_private(path)
    except (OSError, sqlite3.Error) as exc:
        raise JournalError(
            f"{path} cannot be opened as a run journal ({exc}); pass --store"
        ) from None
    try:
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise JournalError(
                f"{path} cannot use write-ahead logging (journal mode {mode}); "
                "put the journal on a local disk or pass --store"
            )
        db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        db.execute("PRAGMA foreign_keys = ON")
        if check:
            migrate(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        if exc.sqlite_errorname == "SQLITE_NOTADB":
            raise JournalError(
                f"{path} is not an Opsflow run journal (it is not an SQLite database); "
                "move it away or pass --store"
            ) from None
        if exc.sqlite_errorname == "SQLITE_CORRUPT":
            raise JournalError(
                f"{path} is not an Opsflow run journal ({exc}); move it away or pass --store"
            ) from None
        raise JournalError(
            f"{path} cannot be used as a run journal ({exc}); pass --store"
        ) from None
    except BaseException:
        db.close()
        raise
    return db
