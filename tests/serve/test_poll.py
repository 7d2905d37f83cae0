"""Poll triggers checking a real HTTP server on loopback, starting real runs into a journal."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from opsflow.catalog.builtin.triggers import PollParams
from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.errors import OpsflowError
from opsflow.flowfile import parse_flow
from opsflow.model.flow import Flow
from opsflow.serve.host import Runs, Target
from opsflow.serve.poll import PollTrigger

#: Seconds between checks in these tests (the trigger's own minimum is 5).
INTERVAL_S = 0.05


class Endpoint:
    """A health endpoint whose answer the test switches; it records the headers it got."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: list[dict[str, str]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.headers.append(dict(self.headers))
                self.send_response(owner.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        serve = partial(self.server.serve_forever, poll_interval=0.05)
        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    yield served
    served.close()


def poll_flow(credentials: dict[str, Any] | None = None, **params: Any) -> Flow:
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "uptime",
        "credentials": credentials or {},
        "vars": {"base": "http://127.0.0.1:1"},
        "nodes": [
            {"id": "watch", "type": "trigger.poll", "params": params},
            {
                "id": "remember",
                "type": "action.set_vars",
                "params": {"values": {"state": "{{ trigger.state }}"}},
            },
        ],
        "edges": [{"id": "e0", "from": "watch", "port": "out", "to": "remember"}],
    }
    return parse_flow(json.dumps(document), "test")


def trigger_for(flow: Flow, runs: Runs, journal: Journal | None, lines: list[str]) -> PollTrigger:
    target = Target(flow.id, "watch", LocalRunner(flow, journal=journal))
    params = PollParams.model_validate(flow.node_map()["watch"].params)
    return PollTrigger(
        target.label,
        params,
        partial(runs.fire, target),
        flow=flow,
        node="watch",
        say=lines.append,
        interval_s=INTERVAL_S,
    )


async def wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def payloads(store: Path) -> list[dict[str, Any]]:
    with Journal(store) as journal:
        runs = sorted(journal.list_runs(), key=lambda run: run.started_at)
    assert {run.state for run in runs} <= {"succeeded"}
    return [run.payload for run in runs]


def test_runs_start_when_the_target_goes_down_and_comes_back(
    tmp_path: Path, endpoint: Endpoint
) -> None:
    store = tmp_path / "runs.sqlite"
    lines: list[str] = []
    flow = poll_flow(url=endpoint.url, fire_on="change", failures_before_down=2)

    async def scenario() -> None:
        with Journal(store) as journal:
            runs = Runs(log=lines.append)
            trigger = trigger_for(flow, runs, journal, lines)
            trigger.start()
            await wait_for(lambda: trigger.state == "up")
            endpoint.status = 500
            await wait_for(lambda: trigger.state == "down")
            assert trigger.failures >= 2
            endpoint.status = 200
            await wait_for(lambda: trigger.state == "up")
            await trigger.stop()
            await runs.stop()

    asyncio.run(scenario())
    found = payloads(store)
    assert [(p["previous"], p["state"], p["status"]) for p in found] == [
        ("up", "down", 500),
        ("down", "up", 200),
    ]
    assert found[0]["url"] == endpoint.url
    assert found[0]["error"] == "answered 500 Internal Server Error"
    assert found[1]["error"] is None and found[1]["checked_at"].endswith("+00:00")
    said = [line for line in lines if " is " in line]
    assert said == [
        f"uptime/watch {endpoint.url} is up (answered 200)",
        f"uptime/watch {endpoint.url} is down (answered 500 Internal Server Error)",
        f"uptime/watch {endpoint.url} is up (answered 200)",
    ]


def run_checks(flow: Flow, store: Path, statuses: list[int | None], endpoint: Endpoint) -> None:
    """Feed one check per status (None: an unreachable target) through the state machine."""

    async def scenario() -> None:
        with Journal(store) as journal:
            runs = Runs(log=lambda line: None)
            trigger = trigger_for(flow, runs, journal, [])
            for status in statuses:
                if status is None:
                    trigger.url = closed_port_url()
                else:
                    trigger.url = endpoint.url
                    endpoint.status = status
                await trigger.observe(await asyncio.to_thread(trigger.check))
            await runs.stop()

    asyncio.run(scenario())


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/health"


@pytest.mark.parametrize(
    ("fire_on", "statuses", "expected"),
    [
        # Already down at start-up: one run, not one per failed check.
        ("down", [503, 503, 503], [("unknown", "down")]),
        ("down", [200, 200], []),
        ("down", [200, 500, 200, 500], [("up", "down"), ("up", "down")]),
        ("up", [500, 200, 500, 200], [("down", "up"), ("down", "up")]),
        ("up", [200, 500], []),
        ("change", [None, 200], [("unknown", "down"), ("down", "up")]),
    ],
)
def test_fire_on_picks_the_transitions_that_start_runs(
    tmp_path: Path,
    endpoint: Endpoint,
    fire_on: str,
    statuses: list[int | None],
    expected: list[tuple[str, str]],
) -> None:
    store = tmp_path / "runs.sqlite"
    run_checks(poll_flow(url=endpoint.url, fire_on=fire_on), store, statuses, endpoint)
    assert [(p["previous"], p["state"]) for p in payloads(store)] == expected


def test_down_needs_failures_in_a_row(tmp_path: Path, endpoint: Endpoint) -> None:
    store = tmp_path / "runs.sqlite"
    flow = poll_flow(url=endpoint.url, failures_before_down=3)
    run_checks(flow, store, [200, 500, 500, 200, 500, 500], endpoint)
    assert payloads(store) == []
    run_checks(flow, store, [200, 500, 500, 500, 500], endpoint)
    assert [(p["previous"], p["state"]) for p in payloads(store)] == [("up", "down")]


def test_an_unreachable_target_is_down_with_the_reason(tmp_path: Path, endpoint: Endpoint) -> None:
    store = tmp_path / "runs.sqlite"
    run_checks(poll_flow(url=endpoint.url), store, [None], endpoint)
    [payload] = payloads(store)
    assert payload["status"] is None and payload["state"] == "down"
    assert "could not connect to 127.0.0.1:" in payload["error"]
    assert "connection refused" in payload["error"]


@pytest.mark.parametrize(
    ("kind", "env", "expected"),
    [
        ("token", {"TOKEN": "t0ken"}, ("Authorization", "Bearer t0ken")),
        ("api-key", {"KEY": "k3y"}, ("X-API-Key", "k3y")),
        (
            "basic",
            {"USERNAME": "ops", "PASSWORD": "pw"},
            ("Authorization", "Basic " + base64.b64encode(b"ops:pw").decode()),
        ),
    ],
)
def test_the_credential_is_sent_with_each_check(
    tmp_path: Path,
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    env: dict[str, str],
    expected: tuple[str, str],
) -> None:
    for field, value in env.items():
        monkeypatch.setenv(f"OPSFLOW_CRED_HEALTH_{field}", value)
    flow = poll_flow({"health": {"kind": kind}}, url=endpoint.url, credential="health")
    run_checks(flow, tmp_path / "runs.sqlite", [200], endpoint)
    name, value = expected
    assert endpoint.headers[-1][name] == value


def test_the_url_may_use_the_flow_vars(endpoint: Endpoint) -> None:
    flow = poll_flow(url="{{ vars.base }}/health")
    trigger = trigger_for(flow, Runs(), None, [])
    assert trigger.url == "http://127.0.0.1:1/health"
    assert trigger.describe() == (
        f"poll  uptime/watch  every {INTERVAL_S:g}s http://127.0.0.1:1/health (fires on down)"
    )
    unknown = poll_flow(url="{{ vars.missing }}/health")
    with pytest.raises(OpsflowError, match=r"poll trigger 'watch' of flow 'uptime': params\.url"):
        trigger_for(unknown, Runs(), None, [])


def test_a_missing_credential_stops_start_up(endpoint: Endpoint) -> None:
    flow = poll_flow({"health": {"kind": "token"}}, url=endpoint.url, credential="health")
    with pytest.raises(OpsflowError, match="credential 'health'"):
        trigger_for(flow, Runs(), None, [])


def test_user_and_password_in_the_url_are_not_shown(endpoint: Endpoint) -> None:
    flow = poll_flow(url=endpoint.url.replace("http://", "http://ops:secret@"))
    trigger = trigger_for(flow, Runs(), None, [])
    assert "secret" not in trigger.describe() and trigger.shown == endpoint.url
