"""Schedule triggers on a fake clock, starting real runs into a real SQLite journal."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from opsflow.catalog.builtin.triggers import ScheduleParams
from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.flowfile import parse_flow
from opsflow.model.flow import Flow
from opsflow.serve.host import Runs, Target
from opsflow.serve.schedule import ScheduleTrigger, last_fire, newest_fires


def schedule_flow(**params: Any) -> Flow:
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "nightly",
        "nodes": [
            {"id": "tick", "type": "trigger.schedule", "params": {"cron": "@daily", **params}},
            {"id": "by_hand", "type": "trigger.manual"},
            {
                "id": "remember",
                "type": "action.set_vars",
                "params": {"values": {"when": "{{ trigger.scheduled_for }}"}},
            },
        ],
        "edges": [{"id": "e0", "from": "tick", "port": "out", "to": "remember"}],
    }
    return parse_flow(json.dumps(document), "test")


class FakeClock:
    """A wall clock that moves only when the schedule sleeps, and stops at `until`."""

    def __init__(self, start: datetime, until: datetime) -> None:
        self.now = start
        self.until = until
        self.sleeps: list[float] = []
        #: Extra seconds added once by the next sleep (a suspended laptop).
        self.jump = 0.0
        self.reached = asyncio.Event()

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds + self.jump)
        self.jump = 0.0
        if self.now >= self.until:
            self.reached.set()
            await asyncio.Future()  # parked until the trigger is stopped
        await asyncio.sleep(0)


async def serve_until(
    flow: Flow, store: Path, clock: FakeClock, last: datetime | None = None
) -> None:
    with Journal(store) as journal:
        runs = Runs(log=lambda line: None)
        target = Target(flow.id, "tick", LocalRunner(flow, journal=journal))
        params = ScheduleParams.model_validate(flow.node_map()["tick"].params)
        trigger = ScheduleTrigger(
            target.label,
            params,
            partial(runs.fire, target),
            last_fire=last,
            clock=clock,
            sleep=clock.sleep,
        )
        trigger.start()
        await asyncio.wait_for(clock.reached.wait(), timeout=30)
        await trigger.stop()
        await runs.stop()


def fired(store: Path) -> list[dict[str, Any]]:
    with Journal(store) as journal:
        runs = journal.list_runs(limit=1000)
    assert {run.state for run in runs} <= {"succeeded"}
    return [run.payload for run in sorted(runs, key=lambda run: run.started_at)]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_fires_at_each_cron_time_in_its_time_zone(tmp_path: Path) -> None:
    flow = schedule_flow(cron="*/15 * * * *", timezone="Europe/Berlin")
    clock = FakeClock(at("2026-03-01T09:50:00+00:00"), until=at("2026-03-01T11:40:00+00:00"))
    asyncio.run(serve_until(flow, tmp_path / "runs.sqlite", clock))
    payloads = fired(tmp_path / "runs.sqlite")
    times = ["11:00", "11:15", "11:30", "11:45", "12:00", "12:15", "12:30"]
    expected = [f"2026-03-01T{time}:00+01:00" for time in times]
    assert [payload["scheduled_for"] for payload in payloads] == expected
    assert [payload["fired_at"] for payload in payloads] == expected
    assert not any("catch_up" in payload for payload in payloads)
    assert max(clock.sleeps) <= ScheduleTrigger.max_sleep_s


def test_fires_missed_during_a_suspend_collapse_into_one_run(tmp_path: Path) -> None:
    flow = schedule_flow(cron="0 * * * *")
    clock = FakeClock(at("2026-05-04T00:30:00+00:00"), until=at("2026-05-04T04:30:00+00:00"))
    clock.jump = 3 * 3600  # the first sleep lasts three hours longer than asked
    asyncio.run(serve_until(flow, tmp_path / "runs.sqlite", clock))
    payloads = fired(tmp_path / "runs.sqlite")
    assert [(p["scheduled_for"], p["fired_at"]) for p in payloads] == [
        ("2026-05-04T01:00:00+00:00", "2026-05-04T03:31:00+00:00"),
        ("2026-05-04T04:00:00+00:00", "2026-05-04T04:00:00+00:00"),
    ]


def test_missed_fires_are_not_replayed_without_catch_up(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    flow = schedule_flow(cron="0 6 * * *")
    first = FakeClock(at("2026-06-01T05:00:00+00:00"), until=at("2026-06-01T07:00:00+00:00"))
    asyncio.run(serve_until(flow, store, first))
    with Journal(store) as journal:
        last = last_fire(journal, "nightly", "tick")
    assert last == at("2026-06-01T06:00:00+00:00")
    later = FakeClock(at("2026-06-06T12:00:00+00:00"), until=at("2026-06-06T13:00:00+00:00"))
    asyncio.run(serve_until(flow, store, later, last))
    assert [p["scheduled_for"] for p in fired(store)] == ["2026-06-01T06:00:00+00:00"]


def test_catch_up_runs_the_most_recent_missed_fires_at_start(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    flow = schedule_flow(cron="0 6 * * *", catch_up=True, max_catch_up=2)
    first = FakeClock(at("2026-06-01T05:00:00+00:00"), until=at("2026-06-01T07:00:00+00:00"))
    asyncio.run(serve_until(flow, store, first))
    with Journal(store) as journal:
        last = last_fire(journal, "nightly", "tick")
    later = FakeClock(at("2026-06-06T12:00:00+00:00"), until=at("2026-06-07T07:00:00+00:00"))
    asyncio.run(serve_until(flow, store, later, last))
    payloads = fired(store)
    assert [(p["scheduled_for"], p.get("catch_up", False)) for p in payloads] == [
        ("2026-06-01T06:00:00+00:00", False),
        ("2026-06-05T06:00:00+00:00", True),
        ("2026-06-06T06:00:00+00:00", True),
        ("2026-06-07T06:00:00+00:00", False),
    ]
    assert payloads[1]["fired_at"] == "2026-06-06T12:00:00+00:00"
    with Journal(store) as journal:
        assert last_fire(journal, "nightly", "tick") == at("2026-06-07T06:00:00+00:00")


def test_the_last_fire_ignores_other_triggers_flows_and_payloads(tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    flow = schedule_flow()
    with Journal(store) as journal:
        assert last_fire(journal, "nightly", "tick") is None
        runner = LocalRunner(flow, journal=journal)
        asyncio.run(runner.run(trigger="by_hand", payload={"scheduled_for": "2030-01-01T00:00"}))
        asyncio.run(runner.run(trigger="tick", payload={"note": "started by hand"}))
        asyncio.run(runner.run(trigger="tick", payload={"scheduled_for": "not a time"}))
        asyncio.run(runner.run(trigger="tick", payload=["a", "list"]))
        assert last_fire(journal, "nightly", "tick") is None
        assert last_fire(journal, "other", "tick") is None
    assert last_fire(None, "nightly", "tick") is None


def test_catch_up_after_a_long_stop_looks_back_only_as_far_as_needed() -> None:
    params = ScheduleParams(cron="* * * * *", catch_up=True, max_catch_up=100)
    now = at("2026-07-01T12:00:30+00:00")
    times = newest_fires(params, now - timedelta(days=365), now, 100)
    assert len(times) == 100
    assert times[-1] == at("2026-07-01T12:00:00+00:00")
    assert times[0] == at("2026-07-01T10:21:00+00:00")
    few = newest_fires(params, now - timedelta(minutes=3), now, 100)
    assert [t.strftime("%H:%M") for t in few] == ["11:58", "11:59", "12:00"]


def test_describe_names_the_next_fire_in_the_schedule_time_zone() -> None:
    params = ScheduleParams(cron="0 6 * * *", timezone="Europe/Berlin", catch_up=True)
    trigger = ScheduleTrigger(
        "nightly/tick", params, _never, clock=lambda: at("2026-11-30T12:00:00+00:00")
    )
    assert trigger.describe() == (
        "schedule  nightly/tick  next 2026-12-01 06:00 Europe/Berlin (catching up at most 1 missed)"
    )


async def _never(payload: dict[str, Any]) -> str | None:
    raise AssertionError("describing a schedule starts no run")
