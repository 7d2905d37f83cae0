"""The generic REST mode of `action.ticket` against a local server that answers like Redmine 5.

The server follows Redmine's documented REST API for issues: POST /issues.json answers
201 Created with {"issue": {...}} and a Location; PUT /issues/<id>.json, which also adds
notes, answers 204 No Content with an empty body; a missing or wrong X-Redmine-API-Key
answers 401 with an empty body; an unknown issue 404 with an empty body; a validation
failure 422 with {"errors": ["...", ...]}.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from opsflow.catalog.builtin.actions_messaging import TicketParams
from opsflow.catalog.builtin.actions_remote import HttpParams
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.engine.local import LocalRunner
from opsflow.executors.tickets import ticket
from opsflow.model.flow import Flow
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome
from tests.catalog.helpers import rejection

CATALOG = Catalog(
    [
        dataclasses.replace(spec, executor="opsflow.executors.tickets:ticket")
        if spec.type == "action.ticket"
        else spec
        for spec in builtin_specs()
    ]
)
KEY = "7f3c2a1be0d94c5f8a6b1e2d3c4f5a6b7c8d9e0f"
FIRST_ID = 4321
ISSUE_PATH = re.compile(r"/issues/([0-9]+)\.json")
LOG: list[tuple[str, str]] = []


class Redmine:
    """The issues a Redmine instance holds, and every request it saw."""

    def __init__(self, httpd: ThreadingHTTPServer) -> None:
        self.httpd = httpd
        self.issues: dict[int, dict[str, Any]] = {}
        self.journals: dict[int, list[str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def create(self, fields: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        errors = []
        if not isinstance(fields.get("project_id"), int | str) or fields.get("project_id") == "":
            errors.append("Project cannot be blank")
        if not str(fields.get("subject") or "").strip():
            errors.append("Subject cannot be blank")
        if errors:
            return 422, {"errors": errors}, {}
        with self.lock:
            number = FIRST_ID + len(self.issues)
            self.issues[number] = {
                "id": number,
                "project": {"id": int(fields["project_id"]), "name": "Operations"},
                "tracker": {"id": int(fields.get("tracker_id", 1)), "name": "Bug"},
                "status": {"id": 1, "name": "New", "is_closed": False},
                "priority": {"id": int(fields.get("priority_id", 2)), "name": "Normal"},
                "author": {"id": 5, "name": "Opsflow Bot"},
                "subject": fields["subject"],
                "description": fields.get("description", ""),
                "start_date": "2026-05-09",
                "due_date": None,
                "done_ratio": 0,
                "is_private": False,
                "estimated_hours": None,
                "total_estimated_hours": None,
                "spent_hours": 0.0,
                "total_spent_hours": 0.0,
                "created_on": "2026-05-09T07:35:25Z",
                "updated_on": "2026-05-09T07:35:25Z",
                "closed_on": None,
            }
            self.journals[number] = []
            issue = dict(self.issues[number])
        return 201, {"issue": issue}, {"Location": self.url(f"/issues/{number}")}

    def update(self, number: int, fields: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            issue = self.issues.get(number)
            if issue is None:
                return 404, None, {}
            if "subject" in fields and not str(fields["subject"]).strip():
                return 422, {"errors": ["Subject cannot be blank"]}, {}
            if "status_id" in fields:
                closed = int(fields["status_id"]) == 5
                name = {2: "In Progress", 3: "Resolved", 5: "Closed"}.get(
                    int(fields["status_id"]), "New"
                )
                issue["status"] = {"id": int(fields["status_id"]), "name": name,
                                   "is_closed": closed}  # fmt: skip
            for name in ("subject", "description", "done_ratio"):
                if name in fields:
                    issue[name] = fields[name]
            if fields.get("notes"):
                self.journals[number].append(str(fields["notes"]))
        return 204, None, {}


class RedmineHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        redmine: Redmine = self.server.redmine  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        redmine.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "key": self.headers.get("X-Redmine-API-Key"),
                "other_key": self.headers.get("X-API-Key"),
                "content_type": self.headers.get("Content-Type"),
                "body": json.loads(raw) if raw else None,
            }
        )
        if self.headers.get("X-Redmine-API-Key") != KEY:
            self._send(401, None, {"WWW-Authenticate": 'Basic realm="Redmine API"'})
            return
        if raw and not (self.headers.get("Content-Type") or "").startswith("application/json"):
            self._send(415, None, {})
            return
        body = json.loads(raw) if raw else None
        fields = body.get("issue") if isinstance(body, dict) else None
        matched = ISSUE_PATH.fullmatch(self.path)
        if (self.command, self.path) == ("POST", "/issues.json") and isinstance(fields, dict):
            self._send(*redmine.create(fields))
        elif self.command == "PUT" and matched and isinstance(fields, dict):
            self._send(*redmine.update(int(matched.group(1)), fields))
        elif self.command == "GET" and matched and int(matched.group(1)) in redmine.issues:
            self._send(200, {"issue": redmine.issues[int(matched.group(1))]}, {})
        else:
            self._send(404, None, {})

    def _send(self, status: int, answer: Any, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status == 204:
            self.end_headers()
            return
        data = b"" if answer is None else json.dumps(answer).encode()
        if answer is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _handle


@pytest.fixture
def redmine() -> Iterator[Redmine]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RedmineHandler)
    record = Redmine(httpd)
    httpd.redmine = record  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield record
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


REDMINE: dict[str, Any] = {
    "system": "rest",
    "credential": "redmine",
    "api_key_header": "X-Redmine-API-Key",
}
CREATE: dict[str, Any] = {
    **REDMINE,
    "operation": "create",
    "method": "POST",
    "path": "/issues.json",
    "body": {"issue": {"project_id": 1, "subject": "Disk full on web-01", "priority_id": 4}},
    "id_field": "/issue/id",
}


def _call(params: dict[str, Any], credentials: dict[str, dict[str, str]] | None = None) -> NodeCall:
    flow = Flow.model_validate({"id": "t", "nodes": [{"id": "n", "type": "action.ticket"}]})
    spec = CATALOG.get("action.ticket")
    assert spec is not None
    known = {"redmine": {"key": KEY}} if credentials is None else credentials

    def credential(name: str) -> dict[str, str]:
        if name not in known:
            raise NodeError(f"credential '{name}' was not found", retryable=False)
        return dict(known[name])

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


def run(redmine: Redmine, **params: Any) -> NodeOutcome:
    params.setdefault("base_url", redmine.url())
    outcome = ticket(_call(params))
    assert KEY not in json.dumps(outcome.output) + json.dumps(LOG)
    return outcome


def failure(redmine: Redmine, credentials: dict[str, dict[str, str]] | None = None,
            **params: Any) -> NodeError:  # fmt: skip
    params.setdefault("base_url", redmine.url())
    with pytest.raises(NodeError) as caught:
        ticket(_call(params, credentials))
    assert KEY not in str(caught.value) + json.dumps(caught.value.output)
    return caught.value


# --- the executor, one operation at a time --------------------------------------------------


def test_create_sends_the_key_in_the_named_header_and_builds_the_url(redmine: Redmine) -> None:
    out = run(redmine, **CREATE, url_template="https://redmine.example.com/issues/{id}").output
    assert out["id"] == str(FIRST_ID) and out["system"] == "rest"
    assert out["url"] == f"https://redmine.example.com/issues/{FIRST_ID}"
    assert out["response"]["issue"]["subject"] == "Disk full on web-01"
    [sent] = redmine.requests
    assert (sent["method"], sent["path"], sent["key"], sent["other_key"]) == (
        "POST",
        "/issues.json",
        KEY,
        None,
    )
    assert sent["content_type"] == "application/json"
    assert sent["body"] == CREATE["body"]


def test_a_relative_url_template_is_appended_to_base_url(redmine: Redmine) -> None:
    out = run(redmine, **CREATE, base_url=redmine.url("/"), url_template="/issues/{id}").output
    assert out["url"] == redmine.url(f"/issues/{FIRST_ID}")


def test_update_answered_204_succeeds_with_the_id_from_ticket_id(redmine: Redmine) -> None:
    run(redmine, **CREATE)
    out = run(
        redmine,
        **REDMINE,
        operation="update",
        method="PUT",
        path=f"/issues/{FIRST_ID}.json",
        body={"issue": {"status_id": 3}},
        ticket_id=str(FIRST_ID),
        url_template="/issues/{id}",
    ).output
    assert out == {
        "id": str(FIRST_ID),
        "url": redmine.url(f"/issues/{FIRST_ID}"),
        "system": "rest",
        "response": None,
    }
    assert redmine.issues[FIRST_ID]["status"]["name"] == "Resolved"


def test_comment_is_a_put_of_notes_answered_204(redmine: Redmine) -> None:
    run(redmine, **CREATE)
    out = run(
        redmine,
        **REDMINE,
        operation="comment",
        method="PUT",
        path=f"/issues/{FIRST_ID}.json",
        body={"issue": {"notes": "Cleaned /var/log; 41% used now."}},
        ticket_id=str(FIRST_ID),
    ).output
    assert out == {"id": str(FIRST_ID), "url": None, "system": "rest", "response": None}
    assert redmine.journals[FIRST_ID] == ["Cleaned /var/log; 41% used now."]


def test_an_empty_answer_without_ticket_id_names_the_missing_param(redmine: Redmine) -> None:
    run(redmine, **CREATE)
    error = failure(
        redmine,
        **REDMINE,
        operation="comment",
        method="PUT",
        path=f"/issues/{FIRST_ID}.json",
        body={"issue": {"notes": "x"}},
    )
    assert error.retryable is False
    assert str(error) == (
        "rest: the comment succeeded, but the response was empty, so it holds no id at "
        "id_field '/id'; set `ticket_id` to the ticket you changed"
    )
    assert redmine.journals[FIRST_ID] == ["x"]


def test_a_rendered_url_template_without_id_fails_before_the_request(redmine: Redmine) -> None:
    call = _call({**CREATE, "base_url": redmine.url(), "url_template": "{{ vars.link }}/{id}"})
    call.params = {**call.params, "url_template": "/issues/"}
    with pytest.raises(NodeError) as caught:
        ticket(call)
    assert caught.value.retryable is False
    assert str(caught.value) == "rest: `url_template` '/issues/' has no {id} once rendered"
    assert redmine.requests == []


def test_create_answered_without_an_id_still_fails(redmine: Redmine) -> None:
    error = failure(redmine, **{**CREATE, "id_field": "/id"})
    assert error.retryable is False
    assert str(error) == (
        "rest: id_field '/id' points at nothing in the response; its top-level keys are: issue"
    )


def test_the_default_header_is_refused_by_redmine(redmine: Redmine) -> None:
    params = {key: value for key, value in CREATE.items() if key != "api_key_header"}
    error = failure(redmine, **params)
    assert error.retryable is False
    assert str(error) == f"rest POST {redmine.url('/issues.json')} answered 401 Unauthorized"
    assert error.output == {"status": 401, "response": None}
    assert redmine.requests[0]["other_key"] == KEY and redmine.requests[0]["key"] is None


def test_a_wrong_key_is_a_401(redmine: Redmine) -> None:
    error = failure(redmine, {"redmine": {"key": "0" * 40}}, **CREATE)
    assert error.retryable is False and "answered 401 Unauthorized" in str(error)
    assert "0" * 40 not in str(error) + json.dumps(error.output)
    assert redmine.issues == {}


def test_a_422_quotes_redmines_errors(redmine: Redmine) -> None:
    body = {"issue": {"subject": " "}}
    error = failure(redmine, **{**CREATE, "body": body})
    assert error.retryable is False
    assert str(error) == (
        f"rest POST {redmine.url('/issues.json')} answered 422 Unprocessable Entity: "
        "Project cannot be blank; Subject cannot be blank"
    )
    assert error.output == {
        "status": 422,
        "response": {"errors": ["Project cannot be blank", "Subject cannot be blank"]},
    }


def test_an_unknown_issue_is_a_404(redmine: Redmine) -> None:
    error = failure(
        redmine,
        **REDMINE,
        operation="update",
        method="PUT",
        path="/issues/999.json",
        body={"issue": {"status_id": 5}},
        ticket_id="999",
    )
    assert error.retryable is False
    assert str(error) == f"rest PUT {redmine.url('/issues/999.json')} answered 404 Not Found"


# --- a whole flow through the engine --------------------------------------------------------


def test_create_update_comment_through_the_engine(
    redmine: Redmine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_REDMINE_KEY", KEY)
    issue = "{{ nodes.open.output.id }}"
    common = {**REDMINE, "base_url": redmine.url(), "url_template": "/issues/{id}"}
    flow = Flow.model_validate(
        {
            "id": "disk-incident",
            "credentials": {"redmine": {"kind": "api-key"}},
            "outputs": {
                "open": "{{ nodes.open.output }}",
                "resolve": "{{ nodes.resolve.output }}",
                "note": "{{ nodes.note.output }}",
            },
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "open",
                    "type": "action.ticket",
                    "params": {
                        **common,
                        "operation": "create",
                        "path": "/issues.json",
                        "body": {
                            "issue": {
                                "project_id": 1,
                                "subject": "Disk full ({{ run.id }})",
                                "description": "web-01: / at 97%",
                            }
                        },
                        "id_field": "/issue/id",
                    },
                },
                {
                    "id": "resolve",
                    "type": "action.ticket",
                    "params": {
                        **common,
                        "operation": "update",
                        "method": "PUT",
                        "path": f"/issues/{issue}.json",
                        "ticket_id": issue,
                        "body": {"issue": {"status_id": 3, "done_ratio": 100}},
                    },
                },
                {
                    "id": "note",
                    "type": "action.ticket",
                    "params": {
                        **common,
                        "operation": "comment",
                        "method": "PUT",
                        "path": f"/issues/{issue}.json",
                        "ticket_id": issue,
                        "body": {"issue": {"notes": "Resolved by run {{ run.id }}"}},
                    },
                },
            ],
            "edges": [
                {"id": "e1", "from": "start", "port": "out", "to": "open"},
                {"id": "e2", "from": "open", "port": "success", "to": "resolve"},
                {"id": "e3", "from": "resolve", "port": "success", "to": "note"},
            ],
        }
    )
    result = asyncio.run(LocalRunner(flow, catalog=CATALOG).run())
    assert result.status == "succeeded", result.error
    assert [result.nodes[n].state for n in ("open", "resolve", "note")] == ["succeeded"] * 3
    link = redmine.url(f"/issues/{FIRST_ID}")
    opened = result.outputs["open"]
    assert (opened["id"], opened["url"], opened["system"]) == (str(FIRST_ID), link, "rest")
    assert opened["response"]["issue"]["subject"] == f"Disk full ({result.run_id})"
    expected = {"id": str(FIRST_ID), "url": link, "system": "rest", "response": None}
    assert result.outputs["resolve"] == expected and result.outputs["note"] == expected
    assert [(r["method"], r["path"], r["key"], r["body"]) for r in redmine.requests] == [
        (
            "POST",
            "/issues.json",
            KEY,
            {
                "issue": {
                    "project_id": 1,
                    "subject": f"Disk full ({result.run_id})",
                    "description": "web-01: / at 97%",
                }
            },
        ),
        ("PUT", f"/issues/{FIRST_ID}.json", KEY, {"issue": {"status_id": 3, "done_ratio": 100}}),
        ("PUT", f"/issues/{FIRST_ID}.json", KEY,
         {"issue": {"notes": f"Resolved by run {result.run_id}"}}),
    ]  # fmt: skip
    assert all(r["other_key"] is None for r in redmine.requests)
    assert redmine.issues[FIRST_ID]["status"]["name"] == "Resolved"
    assert redmine.journals[FIRST_ID] == [f"Resolved by run {result.run_id}"]


# --- the new params -------------------------------------------------------------------------

REST: dict[str, Any] = {
    "system": "rest",
    "operation": "create",
    "base_url": "https://redmine.example.com",
    "credential": "redmine",
    "path": "/issues.json",
}

NAMED: dict[str, Any] = {
    "system": "servicenow",
    "operation": "update",
    "base_url": "https://acme.example.com",
    "credential": "it",
    "ticket_id": "OPS-1",
    "fields": {"state": "6"},
}


def test_api_key_header_mirrors_the_http_node() -> None:
    ticket_field = TicketParams.model_fields["api_key_header"]
    http_field = HttpParams.model_fields["api_key_header"]
    assert ticket_field.default == http_field.default == "X-API-Key"
    assert ticket_field.metadata == http_field.metadata
    assert ticket_field.description == "rest, api-key: the header that carries the key."
    assert TicketParams.model_validate(REST).api_key_header == "X-API-Key"


@pytest.mark.parametrize(
    "params",
    [
        {**REST, "url_template": "https://redmine.example.com/issues/{id}"},
        {**REST, "url_template": "/issues/{id}"},
        {**REST, "url_template": "{{ vars.redmine }}/issues/{id}"},
        {**REST, "api_key_header": "X-Redmine-API-Key"},
        {**REST, "operation": "update", "method": "PUT", "ticket_id": "7",
         "url_template": "/issues/{id}"},
    ],
)  # fmt: skip
def test_new_ticket_params_valid(params: dict[str, Any]) -> None:
    TicketParams.model_validate(params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {**NAMED, "system": "jira", "api_key_header": "X-Redmine-API-Key"},
            "`api_key_header` applies only when system is rest, not jira",
        ),
        ({**REST, "api_key_header": "X Key"}, "api_key_header: String should match"),
        (
            {**NAMED, "url_template": "/x/{id}"},
            "`url_template` applies only when system is rest, not servicenow",
        ),
        ({**REST, "url_template": "/issues/"}, "`url_template` must contain {id}"),
        (
            {**REST, "url_template": "redmine.example.com/issues/{id}"},
            "`url_template` must be an http(s) URL or a path starting with /",
        ),
        (
            {**REST, "url_template": "/issues/{id}", "url_field": "/issue/url"},
            "give `url_field` or `url_template`, not both",
        ),
    ],
)
def test_new_ticket_param_rules(params: dict[str, Any], message: str) -> None:
    assert message in rejection(TicketParams, params)
