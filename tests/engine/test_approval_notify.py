"""Approval requests and escalations sent by e-mail (aiosmtpd) and chat (a local webhook)."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from opsflow.catalog.builtin.control import ApprovalParams
from opsflow.engine.control import RunControl
from opsflow.engine.events import Event
from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.engine.run_types import RunOptions, RunResult
from opsflow.flowfile import parse_flow
from opsflow.model.flow import Flow
from tests.engine.nodes_for_tests import test_catalog
from tests.executors.certs import server_certificate
from tests.executors.test_messaging import (
    HOOK_PATH,
    PASSWORD,
    Hook,
    HookHandler,
    Smtp,
    _authenticator,
    _free_port,
)

CATALOG = test_catalog()
SENDER = "Opsflow <opsflow@example.com>"


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    return server_certificate(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def starttls(certs: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Smtp]:
    """STARTTLS with a login, the password in the environment as OPSFLOW_CRED_MAIL_*."""
    context, ca = certs
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    monkeypatch.setenv("OPSFLOW_CRED_MAIL_USERNAME", "opsflow")
    monkeypatch.setenv("OPSFLOW_CRED_MAIL_PASSWORD", PASSWORD)
    server = Smtp(
        tls_context=context, require_starttls=True, authenticator=_authenticator,
        auth_require_tls=True,
    )  # fmt: skip
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    """A webhook whose URL (a secret) is the token of credential ops-chat."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), HookHandler)
    record = Hook(httpd)
    httpd.hook = record  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("OPSFLOW_CRED_OPS_CHAT_TOKEN", record.url())
    yield record
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def email_target(port: int, **overrides: Any) -> dict[str, Any]:
    target: dict[str, Any] = {
        "channel": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from_addr": SENDER,
        "to": ["ana@example.com"],
    }
    return target | overrides


def notify_flow(notify: list[dict[str, Any]], **approval: Any) -> Flow:
    params = {
        "approvers": ["alice"],
        "message": "Restart {{ inputs.unit }} on web-01?",
        "timeout_s": 30,
        "form": {
            "type": "object",
            "properties": {"ticket": {"type": "string", "pattern": "^CHG[0-9]+$"}},
            "required": ["ticket"],
        },
        "notify": notify,
    }
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "restart-web",
        "name": "Restart web",
        "inputs": {"unit": {"type": "string", "default": "nginx"}},
        "credentials": {"mail": {"kind": "smtp"}, "ops-chat": {"kind": "token"}},
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "ask",
                "type": "control.approval",
                "title": "Restart nginx",
                "params": params | approval,
            },
            {"id": "go", "type": "test.pure", "params": {"value": "{{ nodes.ask.output.by }}"}},
        ],
        "edges": [
            {"id": "e1", "from": "start", "port": "out", "to": "ask"},
            {"id": "e2", "from": "ask", "port": "approved", "to": "go"},
        ],
    }
    return parse_flow(json.dumps(document), "test", CATALOG)


def run_and_decide(
    flow: Flow,
    journal: Journal | None,
    ready: Callable[[list[Event]], bool],
    *,
    by: str = "alice",
    options: RunOptions | None = None,
) -> tuple[RunResult, list[Event]]:
    """Run the flow; once `ready` holds for the events so far, approve through the API."""
    control = RunControl()
    events: list[Event] = []
    problems: list[str] = []

    def decide() -> None:
        control.started.wait(10)
        deadline = time.monotonic() + 15
        while not ready(list(events)):
            if time.monotonic() > deadline:
                problems.append("gave up waiting for the notification")
                control.abort()
                return
            time.sleep(0.02)
        control.decide("ask", "approved", by=by, fields={"ticket": "CHG7"})

    deciding = threading.Thread(target=decide)
    deciding.start()
    runner = LocalRunner(
        flow,
        catalog=CATALOG,
        journal=journal,
        options=options or RunOptions(approval_poll_s=0.05),
        listeners=[events.append],
    )
    result = asyncio.run(runner.run(control=control))
    deciding.join(20)
    assert problems == []
    return result, events


def logs(events: list[Event], level: str | None = None) -> list[str]:
    return [
        str(e.data["message"])
        for e in events
        if e.kind == "log" and (level is None or e.data["level"] == level)
    ]


def captured(events: list[Event]) -> str:
    return json.dumps([e.to_json() for e in events])


def test_request_email_carries_the_run_id_and_the_commands(smtp: Smtp, tmp_path: Path) -> None:
    store = tmp_path / "runs.sqlite"
    flow = notify_flow([email_target(smtp.port)])
    with Journal(store) as journal:
        result, events = run_and_decide(flow, journal, lambda _: bool(smtp.recorder.envelopes))
    assert result.status == "succeeded" and result.nodes["ask"].port == "approved"
    assert result.nodes["go"].state == "succeeded"
    [(sender, recipients, message)] = smtp.recorder.envelopes
    assert sender == "opsflow@example.com" and recipients == ["ana@example.com"]
    assert message["Subject"] == "Approval needed: Restart web / Restart nginx"
    body = message.get_content()
    run_id = result.run_id
    assert body.startswith("Restart nginx on web-01?\n\nApprovers: alice\n")
    assert f"Run: {run_id} (flow restart-web, node ask)" in body
    assert "Decide by: " in body
    tail = f"--as NAME --field ticket=VALUE --store {store}"
    assert f"  opsflow approve {run_id} ask --approve {tail}\n" in body
    assert f"  opsflow approve {run_id} ask --reject {tail}\n" in body
    assert "ticket (required; string; matching ^CHG[0-9]+$)" in body
    assert f"sent the approval request as e-mail to ana@example.com via 127.0.0.1:{smtp.port}" in (
        logs(events, "info")
    )


def test_request_is_posted_to_slack_without_showing_the_webhook(hook: Hook) -> None:
    flow = notify_flow([{"channel": "slack", "credential": "ops-chat"}])
    result, events = run_and_decide(flow, None, lambda _: bool(hook.bodies))
    assert result.status == "succeeded" and result.nodes["ask"].port == "approved"
    [payload] = hook.bodies
    assert list(payload) == ["text"]
    assert payload["text"].startswith("*Approval needed: Restart web / Restart nginx*\n")
    assert "Restart nginx on web-01?" in payload["text"]
    assert "decide in the terminal or the Studio that runs it" in payload["text"]
    text = captured(events)
    assert HOOK_PATH not in text and hook.url() not in text
    assert "slack through the webhook in credential 'ops-chat'" in text


def test_slack_shows_the_commands_as_code(hook: Hook, tmp_path: Path) -> None:
    flow = notify_flow([{"channel": "slack", "credential": "ops-chat"}])
    with Journal(tmp_path / "j.sqlite") as journal:
        result, _ = run_and_decide(flow, journal, lambda _: bool(hook.bodies))
    text = hook.bodies[0]["text"]
    assert f"To approve:\n`opsflow approve {result.run_id} ask --approve --as NAME" in text


def test_escalation_sends_a_second_message_and_lets_the_added_people_decide(
    starttls: Smtp, tmp_path: Path
) -> None:
    target = email_target(starttls.port, security="starttls", credential="mail")
    flow = notify_flow([target], escalate_after_min=0.005, escalate_to=["bob"])
    with Journal(tmp_path / "j.sqlite") as journal:
        result, events = run_and_decide(
            flow, journal, lambda _: len(starttls.recorder.envelopes) == 2, by="bob"
        )
    assert result.status == "succeeded" and result.nodes["ask"].port == "approved"
    first, second = (message for _, _, message in starttls.recorder.envelopes)
    assert first["Subject"] == "Approval needed: Restart web / Restart nginx"
    assert second["Subject"] == "Approval needed (escalated): Restart web / Restart nginx"
    body = second.get_content()
    assert body.startswith("Escalated: nobody decided within 0.005 min, so bob may now decide")
    assert "Approvers: alice, bob\n" in body
    assert [e.data["by"] for e in events if e.kind == "approval_decided"] == ["bob"]
    everything = captured(events) + "".join(
        m.as_string() for _, _, m in starttls.recorder.envelopes
    )
    assert PASSWORD not in everything


def test_only_escalation_targets_wait_for_the_escalation(smtp: Smtp, tmp_path: Path) -> None:
    target = email_target(smtp.port, on=["escalation"])
    flow = notify_flow([target], escalate_after_min=0.005, escalate_to=["bob"])
    with Journal(tmp_path / "j.sqlite") as journal:
        result, _ = run_and_decide(flow, journal, lambda _: bool(smtp.recorder.envelopes))
    assert result.status == "succeeded"
    [(_, _, message)] = smtp.recorder.envelopes
    assert "(escalated)" in message["Subject"]


def test_a_run_left_waiting_sends_before_it_returns(smtp: Smtp, tmp_path: Path) -> None:
    """A non-interactive `opsflow run` stops at the approval: the message still goes out."""
    events: list[Event] = []
    with Journal(tmp_path / "j.sqlite") as journal:
        runner = LocalRunner(
            notify_flow([email_target(smtp.port)]),
            catalog=CATALOG,
            journal=journal,
            options=RunOptions(wait_for_approvals=False),
            listeners=[events.append],
        )
        result = asyncio.run(runner.run())
        assert result.status == "waiting"
        [(_, _, message)] = smtp.recorder.envelopes
        assert f"opsflow approve {result.run_id} ask --approve" in message.get_content()
        stored = [e.data["message"] for e in journal.events(result.run_id) if e.kind == "log"]
    assert any(line.startswith("sent the approval request") for line in stored)


def test_smtp_down_is_logged_and_the_approval_still_waits(tmp_path: Path) -> None:
    port = _free_port()
    flow = notify_flow([email_target(port)])

    def failure_logged(events: list[Event]) -> bool:
        return any("could not send" in line for line in logs(events, "warning"))

    with Journal(tmp_path / "j.sqlite") as journal:
        result, events = run_and_decide(flow, journal, failure_logged)
    assert result.status == "succeeded" and result.nodes["ask"].port == "approved"
    assert result.nodes["go"].state == "succeeded"
    [warning] = logs(events, "warning")
    assert warning == (
        f"could not send the approval request as e-mail to ana@example.com via 127.0.0.1:{port}: "
        f"could not connect to 127.0.0.1:{port} (connection refused); the approval keeps "
        "waiting, so tell the approvers another way"
    )


def test_failing_webhook_is_logged_without_the_url(hook: Hook) -> None:
    hook.status, hook.reply = 500, b"boom at {url}"
    flow = notify_flow([{"channel": "mattermost", "credential": "ops-chat"}])

    def failure_logged(events: list[Event]) -> bool:
        return bool(logs(events, "warning"))

    result, events = run_and_decide(flow, None, failure_logged)
    assert result.status == "succeeded"
    [warning] = logs(events, "warning")
    assert "the mattermost webhook at 127.0.0.1 answered 500" in warning
    assert HOOK_PATH not in captured(events)


def test_dry_run_sends_nothing(smtp: Smtp, hook: Hook) -> None:
    flow = notify_flow(
        [email_target(smtp.port), {"channel": "teams", "credential": "ops-chat"}],
        escalate_after_min=0.1,
        escalate_to=["bob"],
    )
    runner = LocalRunner(flow, catalog=CATALOG, options=RunOptions(dry_run=True))
    events: list[Event] = []
    runner.listeners.append(events.append)
    result = asyncio.run(runner.run())
    assert result.status == "succeeded"
    assert smtp.recorder.envelopes == [] and hook.bodies == []
    lines = logs(events)
    assert (
        f"dry run: would notify e-mail to ana@example.com via 127.0.0.1:{smtp.port} on request "
        "and escalation" in lines
    )
    assert (
        "dry run: would notify teams through the webhook in credential 'ops-chat' on request "
        "and escalation" in lines
    )


BASE = {"approvers": ["alice"], "message": "Go?"}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"channel": "email", "smtp_host": "h", "from_addr": "o@x.io"}, "`to` is needed"),
        ({"channel": "email", "to": ["a@x.io"], "from_addr": "o@x.io"}, "`smtp_host` is needed"),
        ({"channel": "email", "to": ["a@x.io"], "smtp_host": "h"}, "`from_addr` is needed"),
        (
            {"channel": "email", "to": ["a, b@x.io"], "smtp_host": "h", "from_addr": "o@x.io"},
            "`to[0]` 'a, b@x.io' holds several addresses",
        ),
        (
            {"channel": "slack", "credential": "c", "to": ["a@x.io"]},
            "`to` is for e-mail only; a slack message goes to the channel of the webhook",
        ),
        (
            {"channel": "teams", "credential": "c", "smtp_host": "h"},
            "`smtp_host` applies only when channel is email, not teams",
        ),
        ({"channel": "slack"}, "`credential` is needed for slack"),
        ({"channel": "sms", "credential": "c"}, "'email', 'slack', 'teams' or 'mattermost'"),
        ({"channel": "slack", "credential": "c", "on": []}, "at least 1 item"),
        ({"channel": "slack", "credential": "c", "on": ["request", "request"]}, "`on` lists"),
        (
            {"channel": "slack", "credential": "c", "on": ["escalation"]},
            "this approval never escalates",
        ),
    ],
)
def test_bad_notify_targets_are_refused(target: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ApprovalParams.model_validate(BASE | {"notify": [target]})
    assert expected in str(caught.value)


def test_notify_defaults_to_nobody_and_both_moments() -> None:
    assert ApprovalParams.model_validate(BASE).notify == []
    params = ApprovalParams.model_validate(
        BASE | {"notify": [{"channel": "teams", "credential": "c"}]}
    )
    assert params.notify[0].on == ["request", "escalation"]
