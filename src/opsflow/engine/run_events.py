"""A run's event stream: numbering, redaction, journaling off the event loop, then listeners.

`RunEvents.emit` redacts an event, numbers it and queues it. `flush` hands the queue
to the journal's writer thread (`opsflow.engine.journal_writer`) on the event loop's
next turn, so the events of pure nodes that finish in one turn share one transaction;
`journaled` also waits until the journal has them, and the runner awaits it before
anything leaves the process (an executor with side effects, a wait for people).
Listeners (the CLI's display, the Studio) hear of events only once they are
committed, in order; a listener that fails is dropped, the run goes on.

When the journal refuses a batch (another process took the run over, the disk is
full, the lock stayed held too long), nothing more is written and `on_lost` tells
the run, which stops: nothing may act that the journal does not know.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from opsflow.engine.events import Event, EventKind
from opsflow.engine.journal import Journal, JournalError
from opsflow.engine.journal_store import JournalStore
from opsflow.engine.redact import Redactor
from opsflow.engine.run_types import JournalLost, Listener

logger = logging.getLogger(__name__)


class Mailbox:
    """Calls from the journal's writer thread to one event loop, one wake-up per batch.

    Every finished journal change would otherwise cost a write to the loop's self-pipe
    (`call_soon_threadsafe`); here the first call of a batch wakes the loop and the
    rest ride along, in order.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._calls: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def post(self, call: Callable[..., object], *args: Any) -> None:
        """From any thread: run `call(*args)` on the loop, after what was posted before."""
        with self._lock:
            self._calls.append((call, args))
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: the process ends
            self.loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            calls, self._calls = self._calls, deque()
            self._scheduled = False
        for call, args in calls:
            call(*args)


_mailboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Mailbox] = (
    weakref.WeakKeyDictionary()
)
_mailboxes_lock = threading.Lock()


def mailbox_of(loop: asyncio.AbstractEventLoop) -> Mailbox:
    """The loop's one mailbox (shared by every run on it)."""
    with _mailboxes_lock:
        mailbox = _mailboxes.get(loop)
        if mailbox is None:
            mailbox = _mailboxes[loop] = Mailbox(loop)
        return mailbox


class RunEvents:
    """The events of one run, from `emit` to the journal to the listeners."""

    def __init__(
        self,
        run_id: str,
        journal: Journal | None,
        listeners: list[Listener],
        redactor: Redactor,
        on_lost: Callable[[BaseException], None],
    ) -> None:
        self.run_id = run_id
        self.journal = journal
        self.listeners = listeners
        self.redactor = redactor
        self.on_lost = on_lost
        #: The seq of the next event (a resumed run continues from the journal's).
        self.seq = 1
        self.pending: list[Event] = []
        self.flush_scheduled = False
        #: The latest batch handed to the journal's writer; batches commit in order.
        self.last_write: concurrent.futures.Future[None] | None = None
        #: Why the journal refused the run's events, once it did.
        self.error: BaseException | None = None
        self.loop = asyncio.get_running_loop()
        self.mailbox = mailbox_of(self.loop)

    def emit(self, kind: EventKind, node: str | None, data: dict[str, Any]) -> Event:
        """Redact, number and queue an event; it is flushed on the event loop's next turn."""
        event = Event(self.run_id, self.seq, kind, time.time(), node, self.redactor.redact(data))
        self.seq += 1
        self.pending.append(event)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)
        return event

    def flush(self, before: Callable[[JournalStore], object] | None = None) -> None:
        """Hand the queued events to the journal's writer (off this thread).

        `before` is written in the same transaction, first (the run's creation).
        """
        self.flush_scheduled = False
        if not self.pending or self.error is not None:
            return
        events, self.pending = self.pending, []
        if self.journal is None:
            self._tell(events)
            return

        def write(store: JournalStore) -> None:
            if before is not None:
                before(store)
            store.append_many(events)

        try:
            written = self.journal.submit(write)
        except JournalError as exc:
            self._lose(exc)
            return
        self.last_write = written
        mailbox = self.mailbox
        written.add_done_callback(lambda done: mailbox.post(self._written, events, done))

    async def journaled(self) -> None:
        """Flush, and wait until the journal has every event emitted so far (JournalLost)."""
        self.flush()
        last = self.last_write
        if last is not None and not last.done():
            # Shielded: a run being stopped still needs its events written.
            await asyncio.shield(self.committed(last))
        if self.error is not None:
            raise JournalLost(self.error)

    async def committed(self, change: concurrent.futures.Future[Any]) -> Any:
        """Wait on this loop for a journal change; cancelling the wait cancels the change
        if the writer has not started it."""
        waiter: asyncio.Future[Any] = self.loop.create_future()

        def settle(done: concurrent.futures.Future[Any]) -> None:
            if waiter.done():
                return
            if done.cancelled():
                waiter.cancel()
            elif done.exception() is not None:
                waiter.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                waiter.set_result(done.result())

        change.add_done_callback(lambda done: self.mailbox.post(settle, done))
        try:
            return await waiter
        except asyncio.CancelledError:
            change.cancel()
            raise

    def _written(self, events: list[Event], done: concurrent.futures.Future[None]) -> None:
        if done.cancelled():  # the run's start was called off before it was written
            return
        error = done.exception()
        if error is not None:
            self._lose(error)
            return
        self._tell(events)

    def _tell(self, events: list[Event]) -> None:
        listeners = self.listeners
        for event in events:
            for listener in list(listeners):
                try:
                    listener(event)
                except Exception:
                    logger.warning("a run listener failed and was removed", exc_info=True)
                    with contextlib.suppress(ValueError):
                        listeners.remove(listener)

    def _lose(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
            self.on_lost(error)
