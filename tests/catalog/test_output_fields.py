"""The output keys node types declare (offered by completion before any run) are the keys a
real run of the node returns, with the declared JSON types."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from opsflow.catalog import default_catalog
from opsflow.engine.events import Event
from opsflow.engine.local import LocalRunner
from opsflow.flowfile import parse_flow
from opsflow.jsonpaths import type_name
from tests.flowdocs import edge, flow_doc, node


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test's output is the assertions."""


@pytest.fixture
def health_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


def test_declared_output_fields_are_what_a_real_run_returns(health_url: str) -> None:
    flow = parse_flow(
        json.dumps(
            flow_doc(
                [
                    node("start", "trigger.manual"),
                    node("sh", "action.shell", command=["echo", "hello"]),
                    node("py", "action.script", language="python", body="print('hi')"),
                    node("web", "action.http", url=health_url, verify_tls=False),
                ],
                [
                    edge("start", "out", "sh"),
                    edge("sh", "success", "py"),
                    edge("py", "success", "web"),
                ],
            )
        )
    )
    events: list[Event] = []
    runner = LocalRunner(flow, listeners=[events.append])
    result = asyncio.run(runner.run())
    assert result.status == "succeeded", result.error
    outputs = {e.node: e.data["output"] for e in events if e.kind == "node_succeeded"}
    catalog = default_catalog()
    for node_id, type_id in (
        ("sh", "action.shell"),
        ("py", "action.script"),
        ("web", "action.http"),
    ):
        spec = catalog.get(type_id)
        assert spec is not None
        declared = dict(spec.output_fields)
        output = outputs[node_id]
        assert sorted(output) == sorted(declared), node_id
        types = {key: type_name(value) for key, value in output.items()}
        assert {k: t for k, t in declared.items() if t != "any"} == {
            k: types[k] for k, t in declared.items() if t != "any"
        }, node_id
    assert outputs["web"]["json"] == {"ok": True}
