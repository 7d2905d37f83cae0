"""Schedule triggers: a task per trigger that sleeps until its next cron time and starts a run.

A trigger's last fire is read back from the run journal (the newest `scheduled_for` in the
payloads of the runs it started), so with `catch_up` the fires missed while stopped run at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from opsflow.catalog.builtin.triggers import ScheduleParams, next_fire_times
from opsflow.engine.journal import Journal

if TYPE_CHECKING:
    from opsflow.serve.host import Fire

#: The current time, timezone-aware.
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[object]]

# Reads only columns every journal has; `trigger` is the node that started the run.
_LAST_FIRES_SQL = """SELECT json_extract(payload, '$.scheduled_for') FROM runs
    WHERE flow_id = ? AND trigger = ? AND json_type(payload, '$.scheduled_for') = 'text'
    ORDER BY started_at DESC LIMIT 20"""


def utc_now() -> datetime:
    return datetime.now(UTC)


class ScheduleTrigger:
    """Starts a run at each fire time of one schedule trigger, with the times in the payload.

    Payload: {"scheduled_for": ISO time, "fired_at": ISO time}, both in the schedule's time
    zone, plus "catch_up": true for a missed fire run at start. Fires missed while the machine
    slept collapse into one run when it wakes; they are not replayed.
    """

    #: Longest single sleep: the clock is read again after each, so a suspended machine or
    #: a changed clock is noticed within this many seconds.
    max_sleep_s: ClassVar[float] = 60.0

    def __init__(
        self,
        label: str,
        params: ScheduleParams,
        fire: Fire,
        *,
        last_fire: datetime | None = None,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.label = label
        self.params = params
        self.fire = fire
        #: When this trigger last fired before start-up (from the journal), if known.
        self.last_fire = last_fire
        self.clock = clock
        self.sleep = sleep
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        upcoming = next_fire_times(self.params, self.clock(), 1)[0]
        line = f"schedule  {self.label}  next {upcoming:%Y-%m-%d %H:%M} {self.params.timezone}"
        if self.params.catch_up:
            line += f" (catching up at most {self.params.max_catch_up} missed)"
        return line

    def missed(self, now: datetime) -> list[datetime]:
        """The fires to catch up at `now`, oldest first: none without `catch_up` or a last fire."""
        if not self.params.catch_up or self.last_fire is None or self.last_fire >= now:
            return []
        return newest_fires(self.params, self.last_fire, now, self.params.max_catch_up)

    def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name=f"schedule {self.label}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _serve(self) -> None:
        now = self.clock()
        for moment in self.missed(now):
            await self.fire(self._payload(moment, catch_up=True))
        due = next_fire_times(self.params, now, 1)[0]
        while True:
            now = self.clock()
            if now < due:
                await self.sleep(min(self.max_sleep_s, (due - now).total_seconds()))
                continue
            await self.fire(self._payload(due))
            due = next_fire_times(self.params, max(now, due), 1)[0]

    def _payload(self, moment: datetime, *, catch_up: bool = False) -> dict[str, Any]:
        fired_at = self.clock().astimezone(moment.tzinfo).isoformat(timespec="seconds")
        payload: dict[str, Any] = {"scheduled_for": moment.isoformat(), "fired_at": fired_at}
        if catch_up:
            payload["catch_up"] = True
        return payload


def newest_fires(
    params: ScheduleParams, after: datetime, until: datetime, limit: int
) -> list[datetime]:
    """The newest `limit` fire times after `after` and not after `until`, oldest first.

    Looks back over a window that grows fourfold until it holds `limit` fires or reaches
    `after`, so a schedule stopped for months costs a few windows, not every minute since.
    """
    span = timedelta(hours=1)
    while True:
        start = max(after, until - span)
        times = _fires_between(params, start, until)
        if len(times) >= limit or start == after:
            return times[-limit:]
        span *= 4


def _fires_between(params: ScheduleParams, start: datetime, end: datetime) -> list[datetime]:
    times: list[datetime] = []
    cursor = start
    while True:
        batch = next_fire_times(params, cursor, 64)
        for moment in batch:
            if moment > end:
                return times
            times.append(moment)
        cursor = batch[-1]


def last_fire(journal: Journal | None, flow_id: str, node_id: str) -> datetime | None:
    """When a schedule trigger last fired: the newest `scheduled_for` of the runs it started."""
    if journal is None:
        return None
    # A read-only connection of its own: the journal's belongs to the event loop's thread.
    uri = journal.path.resolve().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute(_LAST_FIRES_SQL, (flow_id, node_id)).fetchall()
    except sqlite3.Error:
        return None  # no journal file yet, or nothing readable: nothing is known to be missed
    times: list[datetime] = []
    for (text,) in rows:
        with contextlib.suppress(TypeError, ValueError):
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is not None:
                times.append(moment)
    return max(times, default=None)
