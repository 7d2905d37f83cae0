"""Tickets against a local server that checks ServiceNow, Jira and REST request shapes."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from opsflow.catalog.builtin.actions_messaging import TicketParams
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.engine.local import LocalRunner
from opsflow.executors.tickets import ticket
from opsflow.model.flow import Flow
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome

CATALOG = Catalog(
    [
        dataclasses.replace(spec, executor="opsflow.executors.tickets:ticket")
        if spec.type == "action.ticket"
        else spec
        for spec in builtin_specs()
    ]
)
PASSWORD = "sn0w-Pa55!word"
JIRA_TOKEN = "ATATT3xFfGF0-jira-api-token"
TOKEN = "oauth-bearer-T0KEN"
KEY = "api-key-K3Y-value"
SECRETS = (PASSWORD, JIRA_TOKEN, TOKEN, KEY)
CREDENTIALS: dict[str, dict[str, str]] = {
    "snow": {"username": "admin", "password": PASSWORD},
    "jira": {"username": "ops@example.com", "password": JIRA_TOKEN},
    "bearer": {"token": TOKEN},
    "apikey": {"key": KEY},
    "wrong": {"username": "admin", "password": "not-" + PASSWORD},
}
SYS_ID = "9d385017c611228701d22104cc95c371"
NUMBER = "INC0012345"
LOG: list[tuple[str, str]] = []


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GOOD_AUTH = {
    _basic("admin", PASSWORD): "basic",
    _basic("ops@example.com", JIRA_TOKEN): "basic",
    f"Bearer {TOKEN}": "bearer",
}


class Server:
    def __init__(self, httpd: ThreadingHTTPServer) -> None:
        self.httpd = httpd
        self.requests: list[dict[str, Any]] = []
        self.problems: list[str] = []

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        record: Server = self.server.record  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        auth = self._auth(parts.path)
        record.requests.append(
            {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query),
                "body": body,
                "auth": auth,
                "accept": self.headers.get("Accept"),
            }
        )
        if auth is None:
            self._send(401, {"error": {"message": f"User Not Authenticated ({self.headers})"}})
            return
        if raw and self.headers.get("Content-Type") != "application/json":
            record.problems.append(f"{self.command} {parts.path}: Content-Type")
            self._send(415, {"error": "Content-Type must be application/json"})
            return
        try:
            status, answer = route(record, self.command, parts.path, parse_qs(parts.query), body)
        except AssertionError as exc:
            record.problems.append(f"{self.command} {self.path}: {exc}")
            status, answer = 400, {"errorMessages": [f"bad request shape: {exc}"], "errors": {}}
        self._send(status, answer)

    def _auth(self, path: str) -> str | None:
        if path.startswith("/api/now/") and self.headers.get("x-sn-apikey") == KEY:
            return "api-key"
        if path.startswith("/api/tickets") and self.headers.get("X-API-Key") == KEY:
            return "api-key"
        return GOOD_AUTH.get(self.headers.get("Authorization") or "")

    def _send(self, status: int, answer: Any) -> None:
        if isinstance(answer, bytes):
            data, kind = answer, "text/html"
        else:
            data, kind = (
                (b"" if answer is None else json.dumps(answer).encode()),
                "application/json",
            )
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://elsewhere.example/login")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def route(
    server: Server, method: str, path: str, query: dict[str, list[str]], body: Any
) -> tuple[int, Any]:
    """The documented answer to a documented request; AssertionError for a wrong shape."""
    snow = "/api/now/table/incident"
    jira = "/rest/api/2/issue"
    if (method, path) == ("POST", snow):
        assert isinstance(body, dict) and body.get("short_description"), "fields"
        return 201, {"result": {**body, "sys_id": SYS_ID, "number": NUMBER, "state": "1"}}
    if (method, path) == ("GET", snow):
        assert set(query) == {"sysparm_query", "sysparm_limit"}, "lookup parameters"
        assert query["sysparm_limit"] == ["1"], "sysparm_limit"
        assert query["sysparm_query"][0].startswith("number="), "sysparm_query"
        found = query["sysparm_query"][0] == f"number={NUMBER}"
        return 200, {"result": [{"sys_id": SYS_ID, "number": NUMBER}] if found else []}
    if method == "PATCH" and path.startswith(snow + "/"):
        assert isinstance(body, dict) and body, "PATCH body"
        if path != f"{snow}/{SYS_ID}":
            return 404, {
                "error": {"message": "No Record found", "detail": "Record doesn't exist"},
                "status": "failure",
            }
        return 200, {"result": {"sys_id": SYS_ID, "number": NUMBER, **body}}
    if (method, path) == ("POST", jira):
        fields = body["fields"]
        assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Bug"}
        assert isinstance(fields["summary"], str), "summary"
        return 201, {"id": "10042", "key": "OPS-42", "self": server.url(f"{jira}/10042")}
    if (method, path) == ("PUT", f"{jira}/OPS-42"):
        assert set(body) == {"fields"} and body["fields"], "update body"
        return 204, None
    if (method, path) == ("POST", f"{jira}/OPS-42/comment"):
        assert set(body) == {"body"} and isinstance(body["body"], str), "comment body"
        return 201, {"id": "10100", "body": body["body"]}
    if (method, path) == ("GET", f"{jira}/OPS-42/transitions"):
        return 200, {
            "expand": "transitions",
            "transitions": [
                {"id": "11", "name": "In Progress", "to": {"name": "In Progress"}},
                {"id": "31", "name": "Done", "to": {"name": "Done"}},
            ],
        }
    if (method, path) == ("POST", f"{jira}/OPS-42/transitions"):
        assert body in ({"transition": {"id": "11"}}, {"transition": {"id": "31"}}), "transition"
        return 204, None
    if (method, path) == ("POST", "/api/tickets"):
        assert body == {"title": "Disk full", "tags": ["ops"]}, "rest body"
        return 201, {"data": {"id": 7, "links": {"web/ui": server.url("/t/7")}}}
    if (method, path) == ("PATCH", "/api/tickets/7"):
        assert body == {"status": "closed"}, "rest update body"
        return 204, None
    if (method, path) == ("PUT", "/api/tickets/7"):
        assert body == {"status": "closed"}, "rest update body"
        return 200, {"updated": True}
    if path.startswith("/status/"):
        status = int(path.rsplit("/", 1)[1])
        return status, {"error": {"message": f"failed for admin:{PASSWORD}"}}
    if path == "/html":
        return 200, b"<html>Instance hibernating</html>"
    if path == "/redirect":
        return 302, None
    return 404, {"errorMessages": [f"no route {method} {path}"]}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record = Server(httpd)
    httpd.record = record  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield record
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()
    assert record.problems == []


def _call(params: dict[str, Any]) -> NodeCall:
    flow = Flow.model_validate({"id": "t", "nodes": [{"id": "n", "type": "action.ticket"}]})
    spec = CATALOG.get("action.ticket")
    assert spec is not None

    def credential(name: str) -> dict[str, str]:
        if name not in CREDENTIALS:
            raise NodeError(f"credential '{name}' was not found", retryable=False)
        return dict(CREDENTIALS[name])

    return NodeCall(
        run_id="r1",
        flow=flow,
        flow_path=None,
        node=flow.nodes[0],
        spec=spec,
        params=TicketParams.model_validate(params).model_dump(mode="json"),
        attempt=1,
        timeout_s=10.0,
        log=lambda level, message: LOG.append((level, message)),
        credential=credential,
    )


def run(server: Server, **params: Any) -> NodeOutcome:
    params.setdefault("base_url", server.url())
    outcome = ticket(_call(params))
    _assert_no_secrets(outcome.output)
    return outcome


def failure(server: Server | None, **params: Any) -> NodeError:
    if server is not None:
        params.setdefault("base_url", server.url())
    with pytest.raises(NodeError) as caught:
        ticket(_call(params))
    _assert_no_secrets([str(caught.value), caught.value.output])
    return caught.value


def _assert_no_secrets(value: Any) -> None:
    text = json.dumps(value) + json.dumps(LOG)
    assert not [secret for secret in SECRETS if secret in text]


SNOW: dict[str, Any] = {"system": "servicenow", "credential": "snow"}
JIRA: dict[str, Any] = {"system": "jira", "credential": "jira"}


# --- ServiceNow -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "auth"), [("snow", "basic"), ("bearer", "bearer"), ("apikey", "api-key")]
)
def test_servicenow_create(server: Server, credential: str, auth: str) -> None:
    out = run(
        server,
        **{**SNOW, "credential": credential},
        operation="create",
        fields={"short_description": "Disk full", "urgency": "2"},
    ).output
    assert out == {
        "id": NUMBER,
        "sys_id": SYS_ID,
        "url": server.url(f"/nav_to.do?uri=incident.do?sys_id={SYS_ID}"),
        "system": "servicenow",
    }
    [sent] = server.requests
    assert sent["method"] == "POST" and sent["path"] == "/api/now/table/incident"
    assert sent["body"] == {"short_description": "Disk full", "urgency": "2"}
    assert sent["auth"] == auth and sent["accept"] == "application/json"


def test_servicenow_update_by_sys_id_skips_the_lookup(server: Server) -> None:
    out = run(server, **SNOW, operation="update", ticket_id=SYS_ID, fields={"state": "6"}).output
    assert out["id"] == NUMBER and out["sys_id"] == SYS_ID
    assert [(r["method"], r["path"], r["body"]) for r in server.requests] == [
        ("PATCH", f"/api/now/table/incident/{SYS_ID}", {"state": "6"})
    ]


def test_servicenow_update_by_number_looks_up_the_sys_id(server: Server) -> None:
    out = run(server, **SNOW, operation="update", ticket_id=NUMBER, fields={"state": "2"}).output
    assert out["id"] == NUMBER and out["sys_id"] == SYS_ID
    lookup, patch = server.requests
    assert lookup["method"] == "GET" and lookup["path"] == "/api/now/table/incident"
    assert lookup["query"] == {"sysparm_query": [f"number={NUMBER}"], "sysparm_limit": ["1"]}
    assert patch["method"] == "PATCH" and patch["path"].endswith(SYS_ID)


def test_servicenow_comment_is_a_patch_of_comments(server: Server) -> None:
    out = run(server, **SNOW, operation="comment", ticket_id=NUMBER, comment="Rebooted").output
    assert out["id"] == NUMBER
    assert server.requests[-1]["body"] == {"comments": "Rebooted"}


def test_servicenow_unknown_number(server: Server) -> None:
    error = failure(server, **SNOW, operation="comment", ticket_id="INC0099999", comment="x")
    assert error.retryable is False
    assert str(error) == "ServiceNow has no record numbered 'INC0099999' in incident"


def test_servicenow_404_is_not_retryable_and_quotes_the_error(server: Server) -> None:
    error = failure(server, **SNOW, operation="update", ticket_id="0" * 32, fields={"a": "b"})
    assert error.retryable is False
    assert "answered 404" in str(error) and "No Record found; Record doesn't exist" in str(error)


def test_servicenow_html_answer_is_an_error(server: Server) -> None:
    error = failure(
        None,
        **SNOW,
        base_url=server.url("/html#"),
        operation="create",
        fields={"short_description": "x"},
    )
    assert error.retryable is False and "not with JSON (text/html)" in str(error)


# --- Jira -----------------------------------------------------------------------------------


def test_jira_create(server: Server) -> None:
    out = run(
        server,
        **JIRA,
        operation="create",
        jira_project="OPS",
        jira_issue_type="Bug",
        fields={"summary": "Disk full", "description": "on web1"},
    ).output
    assert out == {
        "id": "OPS-42",
        "url": server.url("/browse/OPS-42"),
        "system": "jira",
        "issue_id": "10042",
    }
    [sent] = server.requests
    assert sent["method"] == "POST" and sent["path"] == "/rest/api/2/issue"
    assert sent["body"] == {
        "fields": {
            "project": {"key": "OPS"},
            "issuetype": {"name": "Bug"},
            "summary": "Disk full",
            "description": "on web1",
        }
    }
    assert sent["auth"] == "basic"


def test_jira_create_with_project_in_fields_and_a_bearer_token(server: Server) -> None:
    out = run(
        server,
        **{**JIRA, "credential": "bearer"},
        operation="create",
        fields={"project": "OPS", "issuetype": "Bug", "summary": "s"},
    ).output
    assert out["id"] == "OPS-42" and server.requests[0]["auth"] == "bearer"


def test_jira_update_and_comment(server: Server) -> None:
    out = run(server, **JIRA, operation="update", ticket_id="OPS-42", fields={"labels": ["x"]})
    assert out.output == {"id": "OPS-42", "url": server.url("/browse/OPS-42"), "system": "jira"}
    out = run(server, **JIRA, operation="comment", ticket_id="OPS-42", comment="Fixed it")
    assert out.output["comment_id"] == "10100"
    assert [(r["method"], r["path"], r["body"]) for r in server.requests] == [
        ("PUT", "/rest/api/2/issue/OPS-42", {"fields": {"labels": ["x"]}}),
        ("POST", "/rest/api/2/issue/OPS-42/comment", {"body": "Fixed it"}),
    ]


@pytest.mark.parametrize(
    ("wanted", "chosen"), [("done", "31"), ("IN PROGRESS", "11"), ("31", "31")]
)
def test_jira_transition_by_name_or_id(server: Server, wanted: str, chosen: str) -> None:
    out = run(server, **JIRA, operation="transition", ticket_id="OPS-42", transition=wanted)
    assert out.output["id"] == "OPS-42"
    lookup, move = server.requests
    assert (lookup["method"], lookup["path"]) == ("GET", "/rest/api/2/issue/OPS-42/transitions")
    assert move["method"] == "POST" and move["body"] == {"transition": {"id": chosen}}


def test_jira_unknown_transition_lists_the_available_ones(server: Server) -> None:
    error = failure(server, **JIRA, operation="transition", ticket_id="OPS-42", transition="Nope")
    assert error.retryable is False
    assert str(error) == (
        "Jira issue OPS-42 has no transition 'Nope' from its current status; "
        "available: In Progress (11), Done (31)"
    )
    assert len(server.requests) == 1


def test_jira_refuses_an_api_key(server: Server) -> None:
    error = failure(
        server,
        **{**JIRA, "credential": "apikey"},
        operation="comment",
        ticket_id="OPS-42",
        comment="x",
    )
    assert error.retryable is False and "api-key" in str(error) and server.requests == []


def test_jira_400_quotes_jira_errors(server: Server) -> None:
    error = failure(server, **JIRA, operation="create", jira_project="OPS", fields={})
    assert error.retryable is False and "answered 400" in str(error)
    assert "bad request shape" in str(error)
    server.problems.clear()


# --- REST -----------------------------------------------------------------------------------


def test_rest_pointers(server: Server) -> None:
    out = run(
        server,
        system="rest",
        operation="create",
        credential="apikey",
        path="/api/tickets",
        body={"title": "Disk full", "tags": ["ops"]},
        id_field="/data/id",
        url_field="/data/links/web~1ui",
    ).output
    assert out["id"] == "7" and out["url"] == server.url("/t/7") and out["system"] == "rest"
    assert out["response"]["data"]["id"] == 7
    assert server.requests[0]["auth"] == "api-key"


def test_rest_missing_pointer_names_it_and_the_top_level_keys(server: Server) -> None:
    error = failure(
        server,
        system="rest",
        operation="create",
        credential="bearer",
        path="/api/tickets",
        body={"title": "Disk full", "tags": ["ops"]},
        id_field="/ticket/id",
    )
    assert error.retryable is False
    assert str(error) == (
        "rest: id_field '/ticket/id' points at nothing in the response; "
        "its top-level keys are: data"
    )


@pytest.mark.parametrize(("method", "response"), [("PATCH", None), ("PUT", {"updated": True})])
def test_rest_update_without_an_id_in_the_answer_takes_ticket_id(
    server: Server, method: str, response: Any
) -> None:
    out = run(
        server,
        system="rest",
        operation="update",
        credential="apikey",
        method=method,
        path="/api/tickets/7",
        body={"status": "closed"},
        ticket_id="7",
    ).output
    assert out == {"id": "7", "url": None, "system": "rest", "response": response}
    assert [(r["method"], r["path"], r["auth"]) for r in server.requests] == [
        (method, "/api/tickets/7", "api-key")
    ]


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (403, False), (404, False), (429, True), (500, True), (503, True)],
)
def test_status_classification_without_secrets(
    server: Server, status: int, retryable: bool
) -> None:
    error = failure(
        server,
        system="rest",
        operation="create",
        credential="snow",
        method="PUT",
        path=f"/status/{status}",
        body={},
    )
    assert error.retryable is retryable
    assert f"answered {status}" in str(error) and "failed for ***:***" in str(error)


def test_wrong_password_is_a_401(server: Server) -> None:
    error = failure(
        server,
        **{**SNOW, "credential": "wrong"},
        operation="create",
        fields={"short_description": "x"},
    )
    assert error.retryable is False and "answered 401" in str(error)
    shown = str(error) + json.dumps(error.output)
    assert "not-" + PASSWORD not in shown and _basic("admin", "not-" + PASSWORD)[6:] not in shown
    assert "Authorization: Basic ***" in shown


def test_redirects_are_not_followed(server: Server) -> None:
    error = failure(
        server, system="rest", operation="create", credential="snow", method="GET", path="/redirect"
    )
    assert error.retryable is False and "redirects are not followed" in str(error)
    assert len(server.requests) == 1


def test_connection_refused_is_retryable() -> None:
    port = _free_port()
    error = failure(
        None,
        **SNOW,
        base_url=f"http://127.0.0.1:{port}",
        operation="create",
        fields={"short_description": "x"},
    )
    assert error.retryable is True and "could not connect" in str(error)


# --- through the engine ---------------------------------------------------------------------


def test_ticket_number_reaches_a_downstream_node(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_SNOW_USERNAME", "admin")
    monkeypatch.setenv("OPSFLOW_CRED_SNOW_PASSWORD", PASSWORD)
    flow = Flow.model_validate(
        {
            "id": "incident",
            "credentials": {"snow": {"kind": "basic"}},
            "outputs": {"ticket": "{{ vars.ticket }}"},
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "open",
                    "type": "action.ticket",
                    "params": {
                        **SNOW,
                        "base_url": server.url(),
                        "operation": "create",
                        "fields": {"short_description": "Disk full ({{ run.id }})"},
                    },
                },
                {
                    "id": "keep",
                    "type": "action.set_vars",
                    "params": {"values": {"ticket": "{{ nodes.open.output.id }}"}},
                },
            ],
            "edges": [
                {"id": "e1", "from": "start", "port": "out", "to": "open"},
                {"id": "e2", "from": "open", "port": "success", "to": "keep"},
            ],
        }
    )
    result = asyncio.run(LocalRunner(flow, catalog=CATALOG).run())
    assert result.status == "succeeded", result.error
    assert result.nodes["keep"].state == "succeeded"
    assert result.outputs == {"ticket": NUMBER}
    assert server.requests[0]["body"] == {"short_description": f"Disk full ({result.run_id})"}
