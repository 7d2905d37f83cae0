"""The HTTP executor against a real local server: bodies, auth, statuses, redirects, TLS."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from opsflow.catalog.builtin.actions_remote import HttpParams
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.engine.local import LocalRunner
from opsflow.executors.http import http_request
from opsflow.model.flow import Flow
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome
from tests.executors.certs import server_certificate

EXECUTOR = "opsflow.executors.http:http_request"
CATALOG = Catalog(
    [
        dataclasses.replace(spec, executor=EXECUTOR) if spec.type == "action.http" else spec
        for spec in builtin_specs()
    ]
)
CREDENTIALS = {
    "ops-basic": {"username": "alice", "password": "pa55-w0rd!"},
    "ops-token": {"token": "tok-1234567890"},
    "ops-key": {"key": "key-abcdef"},
    "half": {"username": "alice"},
}
SECRETS = ["pa55-w0rd!", "tok-1234567890", "key-abcdef"]


class Server:
    def __init__(self, httpd: ThreadingHTTPServer, scheme: str) -> None:
        self.httpd = httpd
        self.scheme = scheme
        self.port = httpd.server_address[1]
        self.requests: list[dict[str, Any]] = []
        self.required: tuple[str, str] | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


class Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        record: Server = self.server.record
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record.requests.append(
            {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query),
                "headers": dict(self.headers.items()),
                "body": body,
            }
        )
        path = parts.path
        try:
            if path == "/json":
                self._send(200, b'{"ok": true, "n": 1}', "application/json")
            elif path == "/text":
                self._send(200, "héllo".encode(), "text/plain; charset=utf-8")
            elif path == "/jsontext":
                self._send(200, b'{"a": [1, 2]}', "text/plain")
            elif path.startswith("/status/"):
                status = int(path.rsplit("/", 1)[1])
                self._send(status, json.dumps({"status": status}).encode(), "application/json")
            elif path == "/redirect":
                self._send(302, b"", "text/plain", {"Location": "/json"})
            elif path == "/redirect-other":
                self._send(302, b"", "text/plain", {"Location": record.url("/json", "localhost")})
            elif path.startswith("/big/"):
                size = int(path.rsplit("/", 1)[1])
                declared = parts.query != "chunked"
                self._send(200, b"x" * size, "application/octet-stream", declare=declared)
            elif path == "/slow":
                time.sleep(1.5)
                self._send(200, b"late", "text/plain")
            elif path == "/auth":
                name, value = record.required or ("", "")
                if self.headers.get(name) == value:
                    self._send(200, b'{"ok": true}', "application/json")
                else:
                    self._send(401, b'{"ok": false}', "application/json")
            else:
                self._send(404, b"no such page", "text/plain")
        except OSError:
            pass  # the client gave up (e.g. the timeout tests)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
        declare: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if declare:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _serve(context: ssl.SSLContext | None = None) -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    record = Server(httpd, "https" if context else "http")
    httpd.record = record  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield record
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve()


def _credential(name: str) -> dict[str, str]:
    if name not in CREDENTIALS:
        raise NodeError(f"credential '{name}' was not found", retryable=False)
    return dict(CREDENTIALS[name])


LOG: list[tuple[str, str]] = []


def _call(timeout_s: float | None = None, **params: Any) -> NodeCall:
    flow = Flow.model_validate(
        {"id": "t", "nodes": [{"id": "req", "type": "action.http", "params": params}]}
    )
    spec = CATALOG.get("action.http")
    assert spec is not None
    return NodeCall(
        run_id="r1",
        flow=flow,
        flow_path=None,
        node=flow.nodes[0],
        spec=spec,
        params=HttpParams.model_validate(params).model_dump(mode="json"),
        attempt=1,
        timeout_s=timeout_s,
        log=lambda level, message: LOG.append((level, message)),
        credential=_credential,
    )


def request(timeout_s: float | None = None, **params: Any) -> NodeOutcome:
    return http_request(_call(timeout_s, **params))


def failure(timeout_s: float | None = None, **params: Any) -> NodeError:
    with pytest.raises(NodeError) as caught:
        request(timeout_s, **params)
    return caught.value


def test_get_sends_query_and_headers_and_returns_json(server: Server) -> None:
    outcome = request(
        url=server.url("/json?fixed=1"),
        query={"host": "web 01", "q": "a&b=c"},
        headers={"X-Trace": "t-1", "Accept": "application/json"},
    )
    seen = server.requests[-1]
    assert seen["method"] == "GET"
    assert seen["query"] == {"fixed": ["1"], "host": ["web 01"], "q": ["a&b=c"]}
    assert seen["headers"]["X-Trace"] == "t-1"
    assert seen["headers"]["Accept"] == "application/json"
    out = outcome.output
    assert out["status"] == 200 and out["reason"] == "OK"
    assert out["json"] == {"ok": True, "n": 1}
    assert out["text"] == '{"ok": true, "n": 1}'
    assert out["headers"]["Content-Type"] == "application/json"
    assert out["url"].startswith(server.url("/json?fixed=1"))
    assert out["elapsed_s"] >= 0
    assert outcome.port is None


def test_post_json_body(server: Server) -> None:
    body = {"name": "ünï", "tags": ["a", 1, None], "nested": {"x": True}}
    request(method="POST", url=server.url("/json"), body_type="json", body=body)
    seen = server.requests[-1]
    assert seen["method"] == "POST"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert json.loads(seen["body"]) == body


def test_post_form_body(server: Server) -> None:
    body = {"user": "a b&c", "count": 3, "on": True, "none": None}
    request(method="PUT", url=server.url("/json"), body_type="form", body=body)
    seen = server.requests[-1]
    assert seen["method"] == "PUT"
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(seen["body"].decode(), keep_blank_values=True) == {
        "user": ["a b&c"],
        "count": ["3"],
        "on": ["true"],
        "none": [""],
    }


def test_post_raw_body_is_sent_byte_for_byte(server: Server) -> None:
    raw = "line one\nlíne two <xml/>"
    request(
        method="POST",
        url=server.url("/json"),
        body_type="raw",
        body=raw,
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    seen = server.requests[-1]
    assert seen["body"] == raw.encode("utf-8")
    assert seen["headers"]["Content-Type"] == "text/plain; charset=utf-8"


AUTH_CASES = [
    (
        "basic",
        "ops-basic",
        "Authorization",
        "Basic " + base64.b64encode(b"alice:pa55-w0rd!").decode(),
    ),
    ("bearer", "ops-token", "Authorization", "Bearer tok-1234567890"),
    ("api-key", "ops-key", "X-Api-Token", "key-abcdef"),
]


@pytest.mark.parametrize(("auth", "credential", "header", "value"), AUTH_CASES)
def test_auth_from_a_credential(
    server: Server, auth: str, credential: str, header: str, value: str
) -> None:
    server.required = (header, value)
    LOG.clear()
    outcome = request(
        url=server.url("/auth"), auth=auth, credential=credential, api_key_header="X-Api-Token"
    )
    assert outcome.output["json"] == {"ok": True}
    shown = json.dumps(outcome.output) + json.dumps(LOG)
    assert not any(secret in shown for secret in SECRETS)


def test_wrong_auth_is_a_401_error_without_secrets(server: Server) -> None:
    server.required = ("Authorization", "Bearer other")
    error = failure(url=server.url("/auth"), auth="bearer", credential="ops-token")
    assert error.retryable is False
    assert error.output["status"] == 401
    assert not any(secret in str(error) + json.dumps(error.output) for secret in SECRETS)


def test_missing_credential_field_names_credential_and_field(server: Server) -> None:
    error = failure(url=server.url("/json"), auth="basic", credential="half")
    assert "'half'" in str(error) and "'password'" in str(error)
    assert error.retryable is False
    assert server.requests == []
    error = failure(url=server.url("/json"), auth="bearer", credential="ops-basic")
    assert "'token'" in str(error) and "'ops-basic'" in str(error)


def test_api_key_is_not_sent_to_another_host_on_redirect(server: Server) -> None:
    request(url=server.url("/redirect-other"), auth="api-key", credential="ops-key")
    first, second = server.requests
    assert first["headers"]["X-API-Key"] == "key-abcdef"
    assert second["path"] == "/json"
    assert "X-API-Key" not in second["headers"]


def test_status_outside_success_is_an_error_with_the_output(server: Server) -> None:
    error = failure(url=server.url("/status/404"))
    assert str(error) == f"GET {server.url('/status/404')} answered 404 Not Found"
    assert error.retryable is False
    assert error.output["status"] == 404
    assert error.output["json"] == {"status": 404}


def test_custom_success_statuses(server: Server) -> None:
    outcome = request(url=server.url("/status/404"), success_statuses="200-299,404")
    assert outcome.output["status"] == 404
    error = failure(url=server.url("/status/204"), success_statuses="200,404")
    assert error.output["status"] == 204


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False)]
)
def test_retryable_statuses(server: Server, status: int, retryable: bool) -> None:
    error = failure(url=server.url(f"/status/{status}"))
    assert error.retryable is retryable
    assert f"answered {status}" in str(error)


def test_redirects_followed_or_not(server: Server) -> None:
    outcome = request(url=server.url("/redirect"))
    assert outcome.output["url"] == server.url("/json")
    assert outcome.output["json"] == {"ok": True, "n": 1}
    error = failure(url=server.url("/redirect"), follow_redirects=False)
    assert error.output["status"] == 302
    assert error.output["headers"]["Location"] == "/json"
    kept = request(url=server.url("/redirect"), follow_redirects=False, success_statuses="300-399")
    assert kept.output["status"] == 302
    assert [seen["path"] for seen in server.requests] == [
        "/redirect",
        "/json",
        "/redirect",
        "/redirect",
    ]


@pytest.mark.parametrize("query", ["", "?chunked"])
def test_response_size_cap(server: Server, query: str) -> None:
    outcome = request(url=server.url(f"/big/1000{query}"), max_response_bytes=1000)
    assert len(outcome.output["text"]) == 1000
    error = failure(url=server.url(f"/big/1001{query}"), max_response_bytes=1000)
    assert "response larger than 1000 bytes" in str(error)
    assert error.retryable is False


def test_json_or_text_output(server: Server) -> None:
    text = request(url=server.url("/text")).output
    assert text["text"] == "héllo" and text["json"] is None
    parsed = request(url=server.url("/jsontext")).output
    assert parsed["json"] == {"a": [1, 2]}
    head = request(method="HEAD", url=server.url("/json")).output
    assert head["text"] == "" and head["json"] is None


def test_request_timeout_against_a_slow_server(server: Server) -> None:
    error = failure(url=server.url("/slow"), request_timeout_s=0.3)  # it answers after 1.5 s
    assert error.retryable is True
    assert "read timeout" in str(error) and "0.3 s" in str(error)


def test_node_timeout_caps_the_request_timeout(server: Server) -> None:
    error = failure(0.3, url=server.url("/slow"))  # request_timeout_s is 30 by default
    assert error.retryable is True
    assert "0.3 s" in str(error)


def test_connection_refused_on_a_closed_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failure(url=f"http://127.0.0.1:{port}/")
    assert str(error) == f"could not connect to 127.0.0.1:{port} (connection refused)"
    assert error.retryable is True


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    context, ca = server_certificate(tmp_path)
    for record in _serve(context):
        yield record, ca


def test_tls_refuses_an_unknown_ca_and_trusts_ca_bundle(tls: tuple[Server, Path]) -> None:
    server, ca = tls
    error = failure(url=server.url("/json"))
    assert error.retryable is False
    assert "TLS certificate of 127.0.0.1 could not be verified" in str(error)
    assert "`ca_bundle`" in str(error)
    for host in ("127.0.0.1", "localhost"):
        outcome = request(url=server.url("/json", host), ca_bundle=str(ca))
        assert outcome.output["json"] == {"ok": True, "n": 1}
    lab = request(url=server.url("/json"), verify_tls=False)
    assert lab.output["status"] == 200


def test_missing_ca_bundle_file(tls: tuple[Server, Path]) -> None:
    server, ca = tls
    error = failure(url=server.url("/json"), ca_bundle=str(ca.with_name("nope.pem")))
    assert "nope.pem" in str(error) and error.retryable is False


def test_http_node_through_the_engine(server: Server) -> None:
    flow = Flow.model_validate(
        {
            "id": "health",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "call", "type": "action.http", "params": {"url": server.url("/json")}},
                {
                    "id": "check",
                    "type": "condition.if",
                    "params": {"condition": "nodes.call.output.json.ok"},
                },
            ],
            "edges": [
                {"id": "e1", "from": "start", "port": "out", "to": "call"},
                {"id": "e2", "from": "call", "port": "success", "to": "check"},
            ],
        }
    )
    result = asyncio.run(LocalRunner(flow, catalog=CATALOG).run())
    assert result.status == "succeeded", result.error
    assert result.nodes["call"].state == "succeeded"
    assert result.nodes["check"].port == "true"
    assert server.requests[-1]["path"] == "/json"
