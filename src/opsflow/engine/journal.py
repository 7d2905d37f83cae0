"""The SQLite run store: runs, their events, node results, approvals and run owners.

The event log is the truth; `node_results`, `runs.state` and `approvals` are
derived from it in the same transaction as each append, so a reader never
sees one without the other. Several processes share one journal file (the
Studio, `opsflow run`, `opsflow approve`, `opsflow serve`): SQLite's
write-ahead log lets readers run beside the one writer. Within a process,
every write goes through one writer thread per file
(`opsflow.engine.journal_writer`), so nothing that reads, paints or answers
HTTP waits for another process's write lock. A run has one owner, the
process driving it (`opsflow.engine.owners`).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import platformdirs

from opsflow.engine.events import Event, EventKind
from opsflow.engine.journal_records import (
    ACTIVE_STATES,
    ApprovalRecord,
    NodeResult,
    RunRecord,
    approval_from_row,
    load,
    process_from_row,
    run_from_row,
)
from opsflow.engine.journal_schema import (
    APPLICATION_ID,
    APPROVAL_COLUMNS,
    PROCESS_COLUMNS,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    Decision,
    JournalError,
    NodeState,
    RunState,
    sql_set,
)
from opsflow.engine.journal_store import RunOwnedError, open_connection
from opsflow.engine.journal_writer import (
    BUSY_TIMEOUT_S,
    JournalBusy,
    JournalWriter,
    release_writer,
    writer_for,
)
from opsflow.engine.owners import ProcessRecord

__all__ = [
    "ACTIVE_STATES",
    "APPLICATION_ID",
    "BUSY_TIMEOUT_S",
    "SCHEMA_VERSION",
    "ApprovalRecord",
    "Decision",
    "Journal",
    "JournalBusy",
    "JournalError",
    "NodeResult",
    "NodeState",
    "RunOwnedError",
    "RunRecord",
    "RunState",
    "default_journal_path",
]

STORE_ENV = "OPSFLOW_STORE"
T = TypeVar("T")

_RUN_SELECT = (
    f"SELECT {', '.join('r.' + c for c in RUN_COLUMNS.split(', '))}, "
    f"{', '.join('p.' + c for c in PROCESS_COLUMNS.split(', '))} "
    "FROM runs r LEFT JOIN processes p ON p.id = r.owner"
)
_RUN_WIDTH = len(RUN_COLUMNS.split(", "))


def default_journal_path() -> Path:
    """Where runs are stored: $OPSFLOW_STORE, else runs.sqlite in the user's data folder."""
    override = os.environ.get(STORE_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path("opsflow") / "runs.sqlite"


class Journal:
    """A run journal file: reads on this object's own connection, writes through the
    process's writer. Use one Journal from one thread at a time; make one per thread.

    Other Journal objects on the same file, in other threads or processes, work
    concurrently: readers never wait; writes of this process queue on its writer,
    which waits for other processes' writes. Write methods here block until their
    change is committed; `submit` hands back a future instead (for event loops).
    With `durable=False` (the default) SQLite runs with synchronous=NORMAL: in WAL
    mode a committed transaction is in the operating system's hands before a write
    returns, so it survives the process being killed (kill -9, a crash), though the
    last transactions may be lost if the machine loses power. `durable=True`
    (synchronous=FULL) syncs the log on every commit and survives power loss too.
    """

    def __init__(
        self, path: Path, *, durable: bool = False, busy_timeout_s: float = BUSY_TIMEOUT_S
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._db = open_connection(self.path, durable, busy_timeout_s)
        try:
            self._writer: JournalWriter | None = writer_for(self.path, durable)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        """Close the connection and let go of the writer (after what this process queued)."""
        self._db.close()
        if self._writer is not None:
            writer, self._writer = self._writer, None
            release_writer(writer)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def submit(self, work: Any, *, wait_s: float | None = None) -> concurrent.futures.Future[Any]:
        """Queue `work(store)` on the process's writer; see `opsflow.engine.journal_writer`."""
        if self._writer is None:
            raise JournalError(f"the journal {self.path} is closed")
        return self._writer.submit(work, wait_s=wait_s or self.busy_timeout_s)

    def _call(self, work: Any) -> Any:
        return self.submit(work).result()

    def create_run(self, run_id: str, **fields: Any) -> None:
        """Record a new run (see JournalStore.create_run), owned by this process."""
        self._call(lambda store: store.create_run(run_id, **fields))

    def append(self, event: Event) -> None:
        """Write one event and update the tables derived from it, in one transaction."""
        self.append_many((event,))

    def append_many(self, events: Sequence[Event]) -> None:
        """Write events (seq = last + 1 for each run, in order) in one transaction."""
        batch = tuple(events)
        self._call(lambda store: store.append_many(batch))

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
        return cast(
            ApprovalRecord,
            self._call(
                lambda store: store.decide_approval(
                    run_id, node, decision=decision, by=by, comment=comment, fields=fields, at=at
                )
            ),
        )

    def claim(self, run_id: str) -> ProcessRecord | None:
        """Own the run from now on (RunOwnedError while another owner lives)."""
        return cast(ProcessRecord | None, self._call(lambda store: store.claim(run_id)))

    def release(self, run_id: str) -> None:
        """Leave the run for later without an owner (waiting for approvals)."""
        self._call(lambda store: store.release(run_id))

    def mark_interrupted(
        self,
        run_id: str,
        *,
        error: str = "the process running it stopped",
        at: float | None = None,
    ) -> bool:
        """End a run whose owner is gone as interrupted; False if it is over."""
        return cast(bool, self._call(lambda store: store.end_run(run_id, error=error, at=at)))

    # -- reading -------------------------------------------------------------------------

    def next_seq(self, run_id: str) -> int:
        """The seq the next event of this run must have, as the file says now."""
        row = self._db.execute(
            "SELECT (SELECT max(seq) FROM events WHERE run_id = ?1) FROM runs WHERE id = ?1",
            (run_id,),
        ).fetchone()
        if row is None:
            raise ValueError(f"run {run_id} is not in the journal; call create_run first")
        return int(row[0] or 0) + 1

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or with the one id that starts with it (like git)."""
        rows = self._db.execute(
            f"{_RUN_SELECT} WHERE r.id >= ? ORDER BY r.id LIMIT 11", (run_id,)
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
        self,
        *,
        flow_id: str | None = None,
        state: RunState | None = None,
        limit: int = 50,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally of one flow and/or in one state.

        `state` is the state people see: a run whose owner is gone counts as
        `interrupted`, not as `running`.
        """
        where, params = [], []
        if flow_id is not None:
            where.append("r.flow_id = ?")
            params.append(flow_id)
        if state is not None:
            wanted = (*ACTIVE_STATES, "interrupted") if state == "interrupted" else (state,)
            where.append(f"r.state IN {sql_set(wanted)}")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"{_RUN_SELECT} {clause} ORDER BY r.started_at DESC, r.id DESC LIMIT ? OFFSET ?"
        found: list[RunRecord] = []
        offset, page = 0, max(limit, 50)
        while len(found) < limit:
            rows = self._db.execute(sql, (*params, page, offset)).fetchall()
            for row in rows:
                record = _run(row)
                if state is not None and record.state in ACTIVE_STATES:
                    shown = "interrupted" if record.orphaned else record.state
                    if shown != state:
                        continue
                found.append(record)
            if len(rows) < page:
                break
            offset += page
        return found[:limit]

    def running_runs(self) -> list[RunRecord]:
        """Runs that a process should be driving (running, waiting or paused), oldest first."""
        sql = f"{_RUN_SELECT} WHERE r.state IN {sql_set(ACTIVE_STATES)}"
        return [_run(row) for row in self._db.execute(sql + " ORDER BY r.started_at, r.id")]

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
        return {row[0]: NodeResult(row[0], row[1], row[2], load(row[3]), *row[4:]) for row in rows}

    def approval(self, run_id: str, node: str) -> ApprovalRecord | None:
        """The approval at this node of this run, decided or not (the runner polls this)."""
        row = self._db.execute(
            f"SELECT {APPROVAL_COLUMNS} FROM approvals WHERE run_id = ? AND node = ?",
            (run_id, node),
        ).fetchone()
        return None if row is None else approval_from_row(row)

    def pending_approvals(self, run_id: str | None = None) -> list[ApprovalRecord]:
        """Undecided approvals of runs that are not over, oldest request first."""
        sql = (
            f"SELECT {', '.join('a.' + c for c in APPROVAL_COLUMNS.split(', '))} "
            "FROM approvals a JOIN runs r ON r.id = a.run_id WHERE a.decision IS NULL "
            f"AND r.state IN {sql_set((*ACTIVE_STATES, 'interrupted'))}"
        )
        params: tuple[str, ...] = ()
        if run_id is not None:
            sql += " AND a.run_id = ?"
            params = (run_id,)
        rows = self._db.execute(sql + " ORDER BY a.requested_at, a.run_id, a.node", params)
        return [approval_from_row(row) for row in rows]


def _run(row: tuple[Any, ...]) -> RunRecord:
    return run_from_row(row[:_RUN_WIDTH], process_from_row(row[_RUN_WIDTH:]))
