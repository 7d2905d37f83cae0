"""Webhook triggers served over real sockets, with a real SQLite journal."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.journal import Journal
from opsflow.errors import OpsflowError
from opsflow.flowfile import load_flow, parse_flow, save_flow
from opsflow.model.flow import Flow
from opsflow.serve.webhooks import WebhookServer, build_routes

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-token-value"


def webhook_flow(flow_id: str = "hooks", **params: Any) -> Flow:
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": flow_id,
        "credentials": {"hook-token": {"kind": "token"}},
        "nodes": [
            {
                "id": "hook",
                "type": "trigger.webhook",
                "params": {"path": "/hook", "credential": "hook-token", **params},
            },
            {
                "id": "remember",
                "type": "action.set_vars",
                "params": {"values": {"seen": "{{ trigger.method }}"}},
            },
        ],
        "edges": [{"id": "e0", "from": "hook", "port": "out", "to": "remember"}],
    }
    return parse_flow(json.dumps(document), "test")


class Served:
    """A WebhookServer on its own event loop thread, like `opsflow serve` runs it."""

    def __init__(self, flows: list[Flow], store: Path) -> None:
        self.store = store
        self.lines: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.journal: Journal | None = None
        self.server: WebhookServer | None = None
        self.call(self._setup([(flow, None) for flow in flows]))

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    async def _setup(self, flows: list[tuple[Flow, None]]) -> None:
        self.journal = Journal(self.store)
        try:
            self.server = WebhookServer(build_routes(flows, self.journal), log=self.lines.append)
            await self.server.start("127.0.0.1", 0)
        except BaseException:
            self.journal.close()
            raise

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    async def _idle(self) -> None:
        assert self.server is not None
        while self.server.runs:
            await asyncio.sleep(0.01)

    def wait_idle(self) -> None:
        self.call(self._idle())

    async def _stop(self) -> None:
        assert self.server is not None and self.journal is not None
        await self.server.stop()
        self.journal.close()

    def stop(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@contextmanager
def serving(tmp_path: Path, *flows: Flow) -> Iterator[Served]:
    served = Served(list(flows), tmp_path / "runs.sqlite")
    try:
        yield served
    finally:
        served.stop()


def send(
    port: int,
    path: str = "/hook",
    body: bytes | None = b"{}",
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def bearer(token: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Opsflow-Signature-256": f"sha256={digest}"}


@pytest.fixture(autouse=True)
def _credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_HOOK_TOKEN_TOKEN", SECRET)


def test_a_call_starts_a_journaled_run_with_the_payload(tmp_path: Path) -> None:
    with serving(tmp_path, webhook_flow()) as served:
        status, answer = send(served.port, "/hook?team=ops&x=1", b'{"host": "web-01"}', bearer())
        served.wait_idle()
    assert status == 202
    with Journal(served.store) as journal:
        record = journal.get_run(answer["run"])
    assert record is not None and record.trigger == "hook" and record.state == "succeeded"
    assert record.payload["body"] == {"host": "web-01"}
    assert record.payload["method"] == "POST" and record.payload["path"] == "/hook"
    assert record.payload["query"] == {"team": "ops", "x": "1"}
    assert record.payload["headers"]["content-type"] == "application/json"
    assert "authorization" not in record.payload["headers"]
    assert SECRET not in json.dumps(record.payload)
    assert any(f"hooks/hook run {answer['run']} succeeded in" in line for line in served.lines)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {SECRET}"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_a_bad_or_missing_bearer_token_is_refused(tmp_path: Path, headers: dict[str, str]) -> None:
    with serving(tmp_path, webhook_flow()) as served:
        status, answer = send(served.port, headers=headers)
    assert status == 401 and answer["error"]
    with Journal(served.store) as journal:
        assert journal.list_runs() == []


def test_hmac_signatures_are_checked(tmp_path: Path) -> None:
    body = b'{"event": "push"}'
    with serving(tmp_path, webhook_flow(auth="hmac")) as served:
        good = send(served.port, body=body, headers=signed(body))
        bad = send(served.port, body=body, headers=signed(body, "other-secret"))
        tampered = send(served.port, body=b'{"event": "pull"}', headers=signed(body))
        missing = send(served.port, body=body)
    assert good[0] == 202 and "run" in good[1]
    assert [bad[0], tampered[0], missing[0]] == [401, 401, 401]
    assert "signature" in bad[1]["error"]


def test_bodies_over_the_limit_are_refused_before_reading(tmp_path: Path) -> None:
    with serving(tmp_path, webhook_flow(max_body_bytes=1024)) as served:
        status, answer = send(served.port, body=b" " * 5000, headers=bearer())
    assert status == 413 and "at most 1024" in answer["error"]


def test_invalid_json_and_schema_violations_are_400(tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["host"], "properties": {"host": {"type": "string"}}}
    with serving(tmp_path, webhook_flow(body_schema=schema)) as served:
        broken = send(served.port, body=b'{"host": ', headers=bearer())
        violating = send(served.port, body=b'{"host": 7}', headers=bearer())
        lacking = send(served.port, body=b'{"name": "x"}', headers=bearer())
        fine = send(served.port, body=b'{"host": "web-01"}', headers=bearer())
    assert broken[0] == 400 and "not valid JSON" in broken[1]["error"]
    assert violating[0] == 400 and "host" in violating[1]["error"]
    assert lacking[0] == 400 and "host" in lacking[1]["error"]
    assert fine[0] == 202


def test_unknown_paths_wrong_methods_and_bad_requests(tmp_path: Path) -> None:
    with serving(tmp_path, webhook_flow(respond_with_run_id=False)) as served:
        unknown = send(served.port, "/nowhere", headers=bearer())
        wrong = send(served.port, method="GET", body=None, headers=bearer())
        accepted = send(served.port, headers=bearer())
        chunked = send(served.port, headers={**bearer(), "Transfer-Encoding": "chunked"})
        raw = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
        try:
            raw.putrequest("POST", "/hook", skip_accept_encoding=True)
            raw.putheader("Authorization", f"Bearer {SECRET}")
            raw.endheaders()
            no_length = raw.getresponse()
            no_length_status = no_length.status
            no_length.read()
        finally:
            raw.close()
    assert unknown[0] == 404 and "/nowhere" in unknown[1]["error"]
    assert wrong[0] == 405 and "POST" in wrong[1]["error"]
    assert accepted == (202, {"accepted": True})
    assert chunked[0] in (400, 411)
    assert no_length_status == 411


def test_stopping_interrupts_runs_in_flight_so_they_can_be_resumed(tmp_path: Path) -> None:
    flow = webhook_flow()
    waiting = flow.model_copy(deep=True)
    waiting.nodes[1] = waiting.nodes[1].model_copy(
        update={"type": "action.wait", "params": {"duration_s": 30}}
    )
    with serving(tmp_path, waiting) as served:
        status, answer = send(served.port, headers=bearer())
    assert status == 202
    with Journal(served.store) as journal:
        record = journal.get_run(answer["run"])
    assert record is not None and record.state == "interrupted"


def test_routes_that_collide_across_flows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(OpsflowError, match="one/hook and two/hook both listen on POST /hook"):
        build_routes([(webhook_flow("one"), None), (webhook_flow("two"), None)], None)


def test_a_missing_credential_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSFLOW_CRED_HOOK_TOKEN_TOKEN")
    with pytest.raises(OpsflowError, match="credential 'hook-token'"):
        build_routes([(webhook_flow(), None)], None)


def test_an_alertmanager_payload_starts_the_sample_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_ALERTMANAGER_WEBHOOK_TOKEN", SECRET)
    flow = load_flow(ROOT / "sample_flows/web-outage-remediation.flow.json")
    sample = json.loads((ROOT / "sample_flows/payloads/web-outage-remediation.json").read_text())
    body = json.dumps(sample["body"]).encode()
    with serving(tmp_path, flow) as served:
        status, answer = send(served.port, "/alerts/web-down", body, bearer())
    assert status == 202
    with Journal(served.store) as journal:
        record = journal.get_run(answer["run"])
        assert record is not None and record.flow_id == "web-outage-remediation"
        assert record.trigger == "alert" and record.payload["body"] == sample["body"]
        assert journal.events(answer["run"])[0].kind == "run_started"


def test_a_thousand_concurrent_calls_each_start_exactly_one_run(tmp_path: Path) -> None:
    with serving(tmp_path, webhook_flow()) as served:
        began = time.perf_counter()

        def call(index: int) -> tuple[int, dict[str, Any]]:
            return send(served.port, body=json.dumps({"n": index}).encode(), headers=bearer())

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(call, range(1000)))
        took = time.perf_counter() - began
        served.wait_idle()
    print(f"\nwebhook load: 1000 POSTs from 20 threads in {took:.2f}s = {1000 / took:.0f} req/s")
    assert all(status == 202 for status, _ in answers)
    ids = [answer["run"] for _, answer in answers]
    assert len(set(ids)) == 1000
    with Journal(served.store) as journal:
        runs = journal.list_runs(limit=5000)
    assert sorted(run.id for run in runs) == sorted(ids)
    assert sorted(run.payload["body"]["n"] for run in runs) == list(range(1000))
    assert {run.state for run in runs} == {"succeeded"}


OPSFLOW = [sys.executable, "-m", "opsflow"]


def test_serve_runs_a_flow_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    flow_path = tmp_path / "hooks.flow.json"
    save_flow(webhook_flow(), flow_path)
    store = tmp_path / "runs.sqlite"
    env = {**os.environ, "OPSFLOW_CRED_HOOK_TOKEN_TOKEN": SECRET}
    command = [*OPSFLOW, "serve", str(flow_path), "--port", "0"]
    with subprocess.Popen(
        [*command, "--store", str(store)], stdout=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert "http://127.0.0.1:" in first, first
            port = int(first.split("http://127.0.0.1:")[1].split(";")[0])
            route = process.stdout.readline()
            assert "/hook -> hooks/hook (auth: bearer)" in route
            status, answer = send(port, headers=bearer())
            assert status == 202
            assert f"run {answer['run']} succeeded" in process.stdout.readline()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
    with Journal(store) as journal:
        assert [run.id for run in journal.list_runs()] == [answer["run"]]


def test_serve_refuses_a_missing_credential_at_start(tmp_path: Path) -> None:
    flow_path = tmp_path / "hooks.flow.json"
    save_flow(webhook_flow(), flow_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_CRED_")}
    command = [*OPSFLOW, "serve", str(flow_path), "--port", "0"]
    done = subprocess.run(
        [*command, "--store", str(tmp_path / "runs.sqlite")],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 2
    assert "credential 'hook-token'" in done.stderr and "Traceback" not in done.stderr
