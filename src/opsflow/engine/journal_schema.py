"""The run journal's file format: its SQLite schema and migrations, how a journal file is
recognised, and the SQL the journal runs, including how each event updates the derived tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, get_args

from opsflow.engine.events import Event
from opsflow.errors import OpsflowError

SCHEMA_VERSION = 2
APPLICATION_ID = 0x4F50464C  # "OPFL" in the SQLite header, so the file says what it is

RunState = Literal[
    "running", "waiting", "paused", "succeeded", "failed", "cancelled", "interrupted"
]
NodeState = Literal["running", "succeeded", "failed", "skipped", "waiting"]
Decision = Literal["approved", "rejected", "timeout"]

encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def sql_set(values: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


# Each migration takes the schema from its index to the next version.
MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        # Runs of one flow share one snapshot of its canonical text.
        "CREATE TABLE flow_snapshots (sha256 TEXT PRIMARY KEY, flow_json TEXT NOT NULL)",
        f"""CREATE TABLE runs (id TEXT PRIMARY KEY, flow_id TEXT NOT NULL, flow_path TEXT,
            flow_sha256 TEXT NOT NULL REFERENCES flow_snapshots (sha256), trigger TEXT,
            state TEXT NOT NULL CHECK (state IN {sql_set(get_args(RunState))}),
            started_at REAL NOT NULL, finished_at REAL, payload TEXT NOT NULL,
            inputs TEXT NOT NULL, dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
            error TEXT, parent_id TEXT REFERENCES runs (id))""",
        "CREATE INDEX runs_by_start ON runs (started_at DESC)",
        "CREATE INDEX runs_by_flow ON runs (flow_id, started_at DESC)",
        "CREATE INDEX runs_by_state ON runs (state, started_at DESC)",
        "CREATE INDEX runs_by_parent ON runs (parent_id) WHERE parent_id IS NOT NULL",
        """CREATE TABLE events (run_id TEXT NOT NULL REFERENCES runs (id),
            seq INTEGER NOT NULL CHECK (seq >= 1), at REAL NOT NULL, kind TEXT NOT NULL,
            node TEXT, data TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID""",
        f"""CREATE TABLE node_results (run_id TEXT NOT NULL REFERENCES runs (id),
            node TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN {sql_set(get_args(NodeState))}), port TEXT,
            output TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            started_at REAL, finished_at REAL, duration_s REAL, PRIMARY KEY (run_id, node))
            WITHOUT ROWID""",
        "CREATE INDEX node_results_waiting ON node_results (run_id) WHERE state = 'waiting'",
        f"""CREATE TABLE approvals (run_id TEXT NOT NULL REFERENCES runs (id),
            node TEXT NOT NULL, approvers TEXT NOT NULL, message TEXT, form TEXT, deadline REAL,
            requested_at REAL NOT NULL, escalated_at REAL, escalated_to TEXT,
            decision TEXT CHECK (decision IN {sql_set(get_args(Decision))}),
            decided_by TEXT, decided_at REAL, comment TEXT, fields TEXT,
            PRIMARY KEY (run_id, node))""",
        "CREATE INDEX approvals_pending ON approvals (requested_at) WHERE decision IS NULL",
        f"PRAGMA application_id = {APPLICATION_ID}",
    ],
    [
        # Runs have one owner: the process driving them (see opsflow.engine.owners).
        """CREATE TABLE processes (id TEXT PRIMARY KEY, host TEXT NOT NULL, boot TEXT,
            pid INTEGER NOT NULL, start TEXT, role TEXT NOT NULL, began_at REAL NOT NULL,
            heartbeat REAL NOT NULL)""",
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "CREATE INDEX runs_by_owner ON runs (owner) WHERE owner IS NOT NULL",
    ],
]
assert len(MIGRATIONS) == SCHEMA_VERSION


class JournalError(OpsflowError):
    """The run journal cannot be used, or a request to it makes no sense (one sentence)."""


def migrate(db: sqlite3.Connection, path: Path) -> None:
    version = _schema_version(db, path)
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = _schema_version(db, path)  # another process may have migrated meanwhile
        for steps in MIGRATIONS[version:]:
            for statement in steps:
                db.execute(statement)
        db.execute("DELETE FROM schema_version")
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _schema_version(db: sqlite3.Connection, path: Path) -> int:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    if not tables and application_id == 0:
        return 0
    if "schema_version" not in tables or application_id != APPLICATION_ID:
        raise JournalError(
            f"{path} is not an Opsflow run journal (it is another SQLite database); "
            "move it away or pass --store"
        )
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    version = int(row[0] or 0)
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer Opsflow (journal schema {version}; this one reads up "
            f"to {SCHEMA_VERSION}); upgrade Opsflow or pass --store to use another journal"
        )
    return version


RUN_COLUMNS = (
    "id, flow_id, flow_path, trigger, state, started_at, finished_at, payload, inputs, "
    "dry_run, error, parent_id, owner"
)
PROCESS_COLUMNS = "id, host, boot, pid, start, role, began_at, heartbeat"
APPROVAL_COLUMNS = (
    "run_id, node, approvers, message, form, deadline, requested_at, escalated_at, "
    "escalated_to, decision, decided_by, decided_at, comment, fields"
)
INSERT_EVENT = "INSERT INTO events (run_id, seq, at, kind, node, data) VALUES (?, ?, ?, ?, ?, ?)"
DECIDE = """UPDATE approvals SET decision = ?3, decided_by = ?4, decided_at = ?5, comment = ?6,
    fields = ?7 WHERE run_id = ?1 AND node = ?2 AND decision IS NULL"""
SET_STATE_IF_LIVE = "UPDATE runs SET state = ?2 WHERE id = ?1 AND state IN ('running', 'waiting')"
# A run that is neither paused nor over is 'waiting' exactly while one of its nodes waits.
ANY_NODE_WAITING = (
    "SELECT EXISTS (SELECT 1 FROM node_results WHERE run_id = ? AND state = 'waiting')"
)
RECOMPUTE_AFTER = frozenset(
    {"node_started", "node_succeeded", "node_failed", "node_skipped", "approval_decided"}
    | {"run_started", "run_resumed"}
)


def _finished(e: Event) -> tuple[Any, ...]:
    d = e.data
    output = encode(d["output"]) if "output" in d else None
    return (e.run_id, e.node, e.kind[5:], d.get("port"), output, d.get("error"),
            d.get("attempt"), e.at, d.get("duration_s"))  # fmt: skip


def _decided(e: Event) -> tuple[Any, ...]:
    d, fields = e.data, e.data.get("fields")
    return (e.run_id, e.node, d.get("decision"), d.get("by"), d.get("at", e.at),
            d.get("comment"), None if fields is None else encode(fields))  # fmt: skip


def _requested(e: Event) -> tuple[Any, ...]:
    d = e.data
    return (e.run_id, e.node, encode(d.get("approvers", [])), d.get("message"),
            encode(d.get("form")), d.get("deadline"), e.at)  # fmt: skip


# How each event kind changes the derived tables: (SQL, its parameters from the event).
_Effect = tuple[str, Callable[[Event], tuple[Any, ...]]]
EFFECTS: dict[str, _Effect] = {
    "node_started": (
        """INSERT INTO node_results (run_id, node, state, attempts, started_at)
        VALUES (?1, ?2, 'running', ?3, ?4) ON CONFLICT (run_id, node) DO UPDATE SET
        state = 'running', port = NULL, output = NULL, error = NULL, finished_at = NULL,
        duration_s = NULL, attempts = excluded.attempts, started_at = CASE
        WHEN excluded.attempts > 1 THEN coalesce(node_results.started_at, excluded.started_at)
        ELSE excluded.started_at END""",
        lambda e: (e.run_id, e.node, e.data.get("attempt", 1), e.at),
    ),
    "node_succeeded": (
        """INSERT INTO node_results (run_id, node, state, port, output, error, attempts,
        finished_at, duration_s) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ifnull(?7, 0), ?8, ?9)
        ON CONFLICT (run_id, node) DO UPDATE SET state = ?3, port = ?4, output = ?5,
        error = ?6, attempts = coalesce(?7, node_results.attempts), finished_at = ?8,
        duration_s = ?9""",
        _finished,
    ),
    "node_retrying": (
        "UPDATE node_results SET error = ?3 WHERE run_id = ?1 AND node = ?2",
        lambda e: (e.run_id, e.node, e.data.get("error")),
    ),
    "node_waiting": (
        """INSERT INTO node_results (run_id, node, state, started_at)
        VALUES (?1, ?2, 'waiting', ?3) ON CONFLICT (run_id, node) DO UPDATE SET
        state = 'waiting', finished_at = NULL""",
        lambda e: (e.run_id, e.node, e.at),
    ),
    "run_started": (
        "UPDATE runs SET state = 'running', finished_at = NULL, error = NULL WHERE id = ?",
        lambda e: (e.run_id,),
    ),
    "run_paused": (SET_STATE_IF_LIVE, lambda e: (e.run_id, "paused")),
    "run_resumed": ("UPDATE runs SET state = 'running' WHERE id = ?", lambda e: (e.run_id,)),
    "run_finished": (  # the run is over: nobody drives it any more
        "UPDATE runs SET state = ?2, finished_at = ?3, error = ?4, owner = NULL WHERE id = ?1",
        lambda e: (e.run_id, e.data.get("outcome"), e.at, e.data.get("error")),
    ),
    "approval_requested": (
        """INSERT INTO approvals (run_id, node, approvers, message, form, deadline,
        requested_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, node) DO UPDATE SET
        approvers = excluded.approvers, message = excluded.message, form = excluded.form,
        deadline = excluded.deadline, requested_at = excluded.requested_at,
        escalated_at = NULL, escalated_to = NULL WHERE approvals.decision IS NULL""",
        _requested,
    ),
    "approval_escalated": (
        """UPDATE approvals SET escalated_at = ?3, escalated_to = ?4
        WHERE run_id = ?1 AND node = ?2 AND decision IS NULL""",
        lambda e: (e.run_id, e.node, e.at, encode(e.data.get("to"))),
    ),
    "approval_decided": (DECIDE, _decided),
}
EFFECTS["node_failed"] = EFFECTS["node_succeeded"]
EFFECTS["node_skipped"] = (
    EFFECTS["node_succeeded"][0],
    lambda e: (e.run_id, e.node, "skipped", None, None, None, 0, e.at, None),
)
