"""The SQLite run store: runs, their events, node results and approvals.

The event log is the truth; `node_results`, `runs.state` and `approvals` are
derived from it in the same transaction as each append, so a reader never
sees one without the other. Several processes share one journal file (a
runner, `opsflow approve` in another terminal, the Studio): SQLite's
write-ahead log lets readers run beside the one writer, and a busy timeout
makes writers queue instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, cast, get_args

import platformdirs

from opsflow.engine.events import Event, EventKind
from opsflow.engine.journal_schema import (
    _ANY_NODE_WAITING,
    _APPROVAL_COLUMNS,
    _DECIDE,
    _EFFECTS,
    _INSERT_EVENT,
    _RECOMPUTE_AFTER,
    _RUN_COLUMNS,
    _SET_STATE_IF_LIVE,
    _encode,
    _migrate,
    _refuse_foreign_file,
    _sql_set,
)
from opsflow.engine.journal_schema import APPLICATION_ID as APPLICATION_ID
from opsflow.engine.journal_schema import SCHEMA_VERSION as SCHEMA_VERSION
from opsflow.engine.journal_schema import Decision as Decision
from opsflow.engine.journal_schema import JournalError as JournalError
from opsflow.engine.journal_schema import NodeState as NodeState
from opsflow.engine.journal_schema import RunState as RunState

STORE_ENV = "OPSFLOW_STORE"
BUSY_TIMEOUT_S = 30.0

ACTIVE_STATES: tuple[RunState, ...] = ("running", "waiting", "paused")


@dataclass(frozen=True)
class RunRecord:
    """One run as the journal knows it; `payload` and `inputs` are parsed JSON."""

    id: str
    flow_id: str
    flow_path: str | None
    trigger: str | None
    state: RunState
    started_at: float
    finished_at: float | None
    payload: Any
    inputs: dict[str, Any]
    dry_run: bool
    error: str | None
    parent: str | None


@dataclass(frozen=True)
class NodeResult:
    """The latest state of one node in one run, derived from its node_* events."""

    node: str
    state: NodeState
    port: str | None
    output: Any
    error: str | None
    attempts: int
    started_at: float | None
    finished_at: float | None
    duration_s: float | None


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval a node asked for, and its decision once somebody (or the deadline) made it."""

    run_id: str
    node: str
    approvers: list[str]
    message: str | None
    form: Any
    deadline: float | None
    requested_at: float
    escalated_at: float | None
    escalated_to: Any
    decision: Decision | None
    decided_by: str | None
    decided_at: float | None
    comment: str | None
    fields: dict[str, Any] | None

    @property
    def pending(self) -> bool:
        return self.decision is None


def default_journal_path() -> Path:
    """Where runs are stored: $OPSFLOW_STORE, else runs.sqlite in the user's data folder."""
    override = os.environ.get(STORE_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path("opsflow") / "runs.sqlite"


class Journal:
    """One connection to a run journal file; use it from one thread at a time.

    Other Journal objects on the same file, in other threads or processes,
    work concurrently: readers never wait, writers wait up to the busy
    timeout for each other. With `durable=False` (the default) SQLite runs
    with synchronous=NORMAL: in WAL mode a committed transaction is in the
    operating system's hands before `append` returns, so it survives the
    process being killed (kill -9, a crash), though the last transactions may
    be lost if the machine loses power. `durable=True` (synchronous=FULL)
    syncs the log on every commit and survives power loss too, at the cost of
    one fsync per append.
    """

    def __init__(
        self, path: Path, *, durable: bool = False, busy_timeout_s: float = BUSY_TIMEOUT_S
    ) -> None:
        self.path = Path(path)
        # Next expected seq and "may be waiting" per run this object appends to,
        # read from the file once: appends need no SELECT.
        self._next_seq: dict[str, int] = {}
        self._maybe_waiting: set[str] = set()
        self._db = _open(self.path, durable, busy_timeout_s)

    def close(self) -> None:
        """Close the connection (rolling back nothing: every method commits before returning)."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------

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
        """Record a new run in state running, with a snapshot of its flow's canonical text."""
        sha = hashlib.sha256(flow_json.encode("utf-8")).hexdigest()
        path = os.fspath(flow_path) if flow_path is not None else None
        row = (run_id, flow_id, path, sha, trigger, time.time() if at is None else at)
        try:
            with self._write():
                self._db.execute(
                    "INSERT OR IGNORE INTO flow_snapshots (sha256, flow_json) VALUES (?, ?)",
                    (sha, flow_json),
                )
                self._db.execute(
                    "INSERT INTO runs (id, flow_id, flow_path, flow_sha256, trigger, state, "
                    "started_at, payload, inputs, dry_run, parent_id) "
                    "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                    (*row, _encode(payload), _encode(dict(inputs)), int(dry_run), parent),
                )
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
                raise ValueError(
                    f"parent run {parent} of run {run_id} is not in the journal"
                ) from exc
            raise ValueError(f"run {run_id} is already in the journal") from exc
        self._next_seq[run_id] = 1

    def append(self, event: Event) -> None:
        """Write one event and update the tables derived from it, in one transaction."""
        self.append_many((event,))

    def append_many(self, events: Sequence[Event]) -> None:
        """Write events (seq = last + 1 for each run, in order) in one transaction."""
        expected: dict[str, int] = {}
        for event in events:
            run_id = event.run_id
            seq = expected.get(run_id) or self._next_seq.get(run_id) or self.next_seq(run_id)
            if event.seq != seq:
                raise ValueError(
                    f"event {event.kind} of run {run_id} has seq {event.seq}, expected {seq}:"
                    " events must be appended in order without gaps"
                )
            expected[run_id] = seq + 1
        if not expected:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            self._insert(events, self._maybe_waiting)
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
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
        when = time.time() if at is None else at
        encoded = _encode(dict(fields)) if fields is not None else None
        with self._write():
            changed = self._db.execute(
                _DECIDE, (run_id, node, decision, by, when, comment, encoded)
            ).rowcount
            record = self.approval(run_id, node)
            if record is None:
                raise JournalError(f"run {run_id} has no approval at node '{node}'")
            if not changed:
                raise JournalError(
                    f"the approval at node '{node}' of run {run_id} was already {record.decision}"
                    f" by {record.decided_by or 'the runner'} at {_when(record.decided_at)}"
                )
            state = self._db.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()
            if state[0] not in ACTIVE_STATES and state[0] != "interrupted":
                raise JournalError(
                    f"run {run_id} is over ({state[0]}); its approval at node '{node}' "
                    "can no longer be decided"
                )
        return record

    def mark_interrupted(self, run_id: str, *, at: float | None = None) -> bool:
        """End a run whose process died, with a run_finished(interrupted) event; False if over."""
        self._next_seq.pop(run_id, None)
        with self._write():
            row = self._db.execute(
                "SELECT state, (SELECT max(seq) FROM events WHERE run_id = ?1) "
                "FROM runs WHERE id = ?1",
                (run_id,),
            ).fetchone()
            if row is None or row[0] not in ACTIVE_STATES:
                return False
            data = {"outcome": "interrupted", "error": "the process running it stopped"}
            when = time.time() if at is None else at
            event = Event(run_id, (row[1] or 0) + 1, "run_finished", when, None, data)
            self._insert((event,), set())
        return True

    # -- reading ---------------------------------------------------------------------------------

    def next_seq(self, run_id: str) -> int:
        """The seq the next event of this run must have."""
        seq = self._next_seq.get(run_id)
        if seq is None:
            row = self._db.execute(
                "SELECT state, (SELECT max(seq) FROM events WHERE run_id = ?1) "
                "FROM runs WHERE id = ?1",
                (run_id,),
            ).fetchone()
            if row is None:
                raise ValueError(f"run {run_id} is not in the journal; call create_run first")
            seq = self._next_seq[run_id] = (row[1] or 0) + 1
            if row[0] == "waiting":
                self._maybe_waiting.add(run_id)
        return seq

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or with the one id that starts with it (like git)."""
        rows = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE id >= ? ORDER BY id LIMIT 11", (run_id,)
        ).fetchall()
        matches = [row for row in rows if row[0].startswith(run_id)]
        if not run_id or not matches:
            return None
        if matches[0][0] == run_id or len(matches) == 1:
            return _run(matches[0])
        shown = ", ".join(row[0] for row in matches[:10])
        more = " and more" if len(matches) > 10 else ""
        raise JournalError(
            f"run id '{run_id}' is ambiguous: it starts {shown}{more}; give more characters"
        )

    def list_runs(
        self, *, flow_id: str | None = None, state: RunState | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """Runs, newest first, optionally of one flow and/or in one state."""
        where, params = [], []
        if flow_id is not None:
            where.append("flow_id = ?")
            params.append(flow_id)
        if state is not None:
            where.append("state = ?")
            params.append(state)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs {clause} ORDER BY started_at DESC, id DESC LIMIT ?"
        return [_run(row) for row in self._db.execute(sql, (*params, limit))]

    def running_runs(self) -> list[RunRecord]:
        """Runs that a live process should be driving (running, waiting or paused), oldest first."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE state IN {_sql_set(ACTIVE_STATES)}"
        return [_run(row) for row in self._db.execute(sql + " ORDER BY started_at, id")]

    def flow_snapshot(self, run_id: str) -> str:
        """The canonical flow text the run started with (to resume it even if the file changed)."""
        row = self._db.execute(
            "SELECT flow_json FROM runs JOIN flow_snapshots ON sha256 = flow_sha256 WHERE id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise JournalError(f"run {run_id} is not in {self.path}")
        return cast(str, row[0])

    def events(self, run_id: str, after_seq: int = 0) -> list[Event]:
        """The run's events with seq > after_seq, in order."""
        rows = self._db.execute(
            "SELECT seq, kind, at, node, data FROM events "
            "WHERE run_id = ? AND seq > ? ORDER BY seq",
            (run_id, after_seq),
        )
        return [
            Event(run_id, seq, cast(EventKind, kind), at, node, json.loads(data))
            for seq, kind, at, node, data in rows
        ]

    def node_results(self, run_id: str) -> dict[str, NodeResult]:
        """The latest result of every node of the run that has one, by node id."""
        rows = self._db.execute(
            "SELECT node, state, port, output, error, attempts, started_at, finished_at, "
            "duration_s FROM node_results WHERE run_id = ? ORDER BY node",
            (run_id,),
        )
        return {row[0]: NodeResult(row[0], row[1], row[2], _load(row[3]), *row[4:]) for row in rows}

    def approval(self, run_id: str, node: str) -> ApprovalRecord | None:
        """The approval at this node of this run, decided or not (the runner polls this)."""
        row = self._db.execute(
            f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE run_id = ? AND node = ?",
            (run_id, node),
        ).fetchone()
        return None if row is None else _approval(row)

    def pending_approvals(self, run_id: str | None = None) -> list[ApprovalRecord]:
        """Undecided approvals of runs that are not over, oldest request first."""
        sql = (
            f"SELECT {', '.join('a.' + c for c in _APPROVAL_COLUMNS.split(', '))} "
            "FROM approvals a JOIN runs r ON r.id = a.run_id WHERE a.decision IS NULL "
            f"AND r.state IN {_sql_set((*ACTIVE_STATES, 'interrupted'))}"
        )
        params: tuple[str, ...] = ()
        if run_id is not None:
            sql += " AND a.run_id = ?"
            params = (run_id,)
        rows = self._db.execute(sql + " ORDER BY a.requested_at, a.run_id, a.node", params)
        return [_approval(row) for row in rows]

    # -- internals -------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        finally:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

    def _insert(self, events: Sequence[Event], maybe_waiting: set[str]) -> None:
        """Insert events and apply them to the derived tables, inside an open transaction."""
        db = self._db
        rows = [(e.run_id, e.seq, e.at, e.kind, e.node, _encode(e.data)) for e in events]
        if len(rows) == 1:
            db.execute(_INSERT_EVENT, rows[0])
        else:
            db.executemany(_INSERT_EVENT, rows)
        for e in events:
            kind, run_id = e.kind, e.run_id
            if kind == "node_waiting" and e.data.get("reason") == "breakpoint":
                # The run pauses before the node; the node itself has not begun.
                db.execute(_SET_STATE_IF_LIVE, (run_id, "paused"))
                continue
            effect = _EFFECTS.get(kind)
            if effect is not None:
                db.execute(effect[0], effect[1](e))
            if kind == "node_waiting":
                db.execute(_SET_STATE_IF_LIVE, (run_id, "waiting"))
                maybe_waiting.add(run_id)
            elif kind == "run_finished":
                maybe_waiting.discard(run_id)
            elif kind == "run_resumed":
                maybe_waiting.add(run_id)
            if run_id in maybe_waiting and kind in _RECOMPUTE_AFTER:
                waiting = db.execute(_ANY_NODE_WAITING, (run_id,)).fetchone()[0]
                db.execute(_SET_STATE_IF_LIVE, (run_id, "waiting" if waiting else "running"))
                if not waiting:
                    maybe_waiting.discard(run_id)


def _open(path: Path, durable: bool, busy_timeout_s: float) -> sqlite3.Connection:
    """Connect, switch to WAL and update the schema, or explain in one sentence why not."""
    _refuse_foreign_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
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
        _migrate(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        if exc.sqlite_errorname in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
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


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _run(row: tuple[Any, ...]) -> RunRecord:
    id_, flow_id, flow_path, trigger, state, started_at, finished_at = row[:7]
    payload, inputs, dry_run, error, parent = row[7:]
    return RunRecord(id_, flow_id, flow_path, trigger, state, started_at, finished_at,
                     _load(payload), _load(inputs), bool(dry_run), error, parent)  # fmt: skip


def _approval(row: tuple[Any, ...]) -> ApprovalRecord:
    run_id, node, approvers, message, form, deadline, requested_at = row[:7]
    escalated_at, escalated_to, decision, by, decided_at, comment, fields = row[7:]
    return ApprovalRecord(run_id, node, _load(approvers), message, _load(form), deadline,
                          requested_at, escalated_at, _load(escalated_to), decision, by,
                          decided_at, comment, _load(fields))  # fmt: skip


def _when(at: float | None) -> str:
    if at is None:
        return "an unknown time"
    return datetime.fromtimestamp(at).astimezone().isoformat(sep=" ", timespec="seconds")
