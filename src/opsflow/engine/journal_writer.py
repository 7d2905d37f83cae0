"""One journal writer per process and file: a thread with its own connection, group commits.

Every write of a process to a journal file goes through its writer, so an event loop
(the runner, `opsflow serve`) or the Studio's GUI thread never waits for SQLite's write
lock: they submit a change and get a `concurrent.futures.Future`. The writer takes all
changes queued since its last commit and applies them in one transaction, each in its
own savepoint (a refused change never undoes another), in the order they were submitted.

While another process holds the write lock, the writer retries in short waits, so a
change cancelled meanwhile (a webhook that gave up and answered 503) is dropped before it
is written, and a change that has waited longer than its deadline fails with
`JournalBusy`. While this process owns runs, the writer refreshes its heartbeat.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from opsflow.engine.journal_schema import JournalError
from opsflow.engine.journal_store import JournalStore
from opsflow.engine.owners import HEARTBEAT_S

T = TypeVar("T")

#: How long a change waits for another process's write lock before it fails.
BUSY_TIMEOUT_S = 30.0
#: One wait for the lock; between waits the writer drops cancelled and expired changes.
LOCK_POLL_S = 0.2
#: Most changes in one group commit.
MAX_BATCH = 1000


class JournalBusy(JournalError):
    """The journal stayed locked by another process for longer than a change may wait."""


@dataclass
class _Change:
    work: Callable[[JournalStore], Any]
    deadline: float
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)


_STOP = object()


class JournalWriter:
    """The writer thread of one journal file in this process; get it with `writer_for`."""

    def __init__(self, path: Path, durable: bool) -> None:
        self.path = path
        self.durable = durable
        self._users = 0
        self._queue: queue.SimpleQueue[_Change | object] = queue.SimpleQueue()
        self._store: JournalStore | None = None
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._serve, name=f"opsflow-journal-writer {path.name}", daemon=True
        )
        self._thread.start()
        self._opened.wait()
        if self._open_error is not None:
            raise self._open_error

    def submit(
        self, work: Callable[[JournalStore], T], *, wait_s: float = BUSY_TIMEOUT_S
    ) -> concurrent.futures.Future[T]:
        """Queue a change; its future holds what `work` returned, or what it raised."""
        if not self._thread.is_alive():
            raise JournalError(f"the journal {self.path} is closed")
        change = _Change(work, time.monotonic() + wait_s)
        self._queue.put(change)
        return change.future

    def call(self, work: Callable[[JournalStore], T], *, wait_s: float = BUSY_TIMEOUT_S) -> T:
        """Submit a change and wait for it (for callers that may block)."""
        return self.submit(work, wait_s=wait_s).result()

    # -- the thread --------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            # The schema is checked by the Journal that asked for this writer.
            self._store = JournalStore(self.path, durable=self.durable, busy_timeout_s=LOCK_POLL_S)
        except BaseException as exc:
            self._open_error = exc
            self._opened.set()
            return
        self._opened.set()
        store = self._store
        beat_due = time.monotonic() + HEARTBEAT_S
        try:
            while True:
                try:
                    item = self._queue.get(timeout=max(beat_due - time.monotonic(), 0.0))
                except queue.Empty:
                    item = None
                if time.monotonic() >= beat_due:  # also when busy: a steady stream of writes
                    self._beat(store)
                    beat_due = time.monotonic() + HEARTBEAT_S
                if item is None:
                    continue
                if item is _STOP:
                    break
                batch: list[_Change] = [item]  # type: ignore[list-item]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stop = True
                        break
                    batch.append(more)  # type: ignore[arg-type]
                self._commit(store, batch)
                if stop:
                    break
        finally:
            try:
                self._commit(store, [_Change(lambda s: s.unregister(), time.monotonic() + 5)])
            finally:
                store.close()

    def _beat(self, store: JournalStore) -> None:
        self._commit(store, [_Change(lambda s: s.heartbeat(), time.monotonic() + LOCK_POLL_S)])

    def _commit(self, store: JournalStore, batch: list[_Change]) -> None:
        db = store.db
        while True:
            now = time.monotonic()
            live = []
            for change in batch:
                if change.future.cancelled():
                    continue
                if now > change.deadline:
                    change.future.set_exception(
                        JournalBusy(
                            f"the run journal {self.path} has been locked by another process "
                            "for too long; try again, or find the process holding it"
                        )
                    )
                    continue
                live.append(change)
            batch = live
            if not batch:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorname not in ("SQLITE_BUSY", "SQLITE_LOCKED"):
                    self._fail(batch, exc)
                    return
        results: list[tuple[_Change, bool, Any]] = []
        for change in batch:
            if not change.future.set_running_or_notify_cancel():
                continue
            try:
                results.append((change, True, change.work(store)))
            except BaseException as exc:
                results.append((change, False, exc))
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            store.forget()
            self._fail([change for change, _, _ in results], exc, running=True)
            return
        for change, ok, value in results:
            if ok:
                change.future.set_result(value)
            else:
                change.future.set_exception(value)

    def _fail(self, batch: list[_Change], exc: BaseException, *, running: bool = False) -> None:
        error = JournalError(f"the run journal {self.path} cannot be written ({exc})")
        for change in batch:
            if running or change.future.set_running_or_notify_cancel():
                change.future.set_exception(error)

    def _stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()


_writers: dict[str, JournalWriter] = {}
_writers_lock = threading.Lock()


@atexit.register
def _drain_at_exit() -> None:
    """Write what is still queued (and say this process is gone) before the interpreter
    ends; the writer threads are daemons and would otherwise stop mid-queue."""
    with _writers_lock:
        writers = list(_writers.values())
        _writers.clear()
    for writer in writers:
        writer._queue.put(_STOP)
    for writer in writers:
        writer._thread.join(timeout=BUSY_TIMEOUT_S)


def writer_for(path: Path, durable: bool) -> JournalWriter:
    """This process's writer for the file, shared by every Journal on it (counted)."""
    key = os.path.realpath(path)
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None or not writer._thread.is_alive():
            writer = _writers[key] = JournalWriter(Path(path), durable)
        writer._users += 1
    if durable and not writer.durable:
        writer.durable = True
        writer.call(lambda store: store.set_durable(True))
    return writer


def release_writer(writer: JournalWriter) -> None:
    """One Journal less on the file; the last one stops the writer after its queue."""
    with _writers_lock:
        writer._users -= 1
        if writer._users > 0:
            return
        key = os.path.realpath(writer.path)
        if _writers.get(key) is writer:
            del _writers[key]
    writer._stop()
