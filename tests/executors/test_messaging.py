"""E-mail against aiosmtpd (plain, STARTTLS, TLS, AUTH) and chat against a local webhook."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from opsflow.catalog.builtin.actions_messaging import ChatParams, EmailParams
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.engine.local import LocalRunner
from opsflow.executors.messaging import chat_payload, html_to_text, send_chat, send_email
from opsflow.model.flow import Flow
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome
from tests.executors.certs import server_certificate

EXECUTORS = {
    "action.email": "opsflow.executors.messaging:send_email",
    "action.chat": "opsflow.executors.messaging:send_chat",
}
CATALOG = Catalog(
    [
        dataclasses.replace(spec, executor=EXECUTORS[spec.type]) if spec.type in EXECUTORS else spec
        for spec in builtin_specs()
    ]
)
PASSWORD = "s3cret-Pa55!"
HOOK_PATH = "/services/T000/B000/XyZsecretTOKEN"
CREDENTIALS: dict[str, dict[str, str]] = {
    "mail": {"username": "opsflow", "password": PASSWORD},
    "mail-bad": {"username": "opsflow", "password": "wrong-" + PASSWORD},
}
LOG: list[tuple[str, str]] = []


def _call(node_type: str, params: dict[str, Any], timeout_s: float | None = 10.0) -> NodeCall:
    model = EmailParams if node_type == "action.email" else ChatParams
    flow = Flow.model_validate({"id": "t", "nodes": [{"id": "n", "type": node_type}]})
    spec = CATALOG.get(node_type)
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
        params=model.model_validate(params).model_dump(mode="json"),
        attempt=1,
        timeout_s=timeout_s,
        log=lambda level, message: LOG.append((level, message)),
        credential=credential,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- SMTP -----------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], EmailMessage]] = []
        self.raw: list[bytes] = []

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        if address.startswith("later@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.raw.append(envelope.original_content or b"")
        raw = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 OK"


def _authenticator(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == b"opsflow"
        and data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def _email_params(port: int, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from_addr": "Opsflow <opsflow@example.com>",
        "to": ["ana@example.com"],
        "subject": "Disk full",
        "body": "web-01 is at 97%.",
    }
    params.update(overrides)
    return params


class Smtp:
    def __init__(self, **kwargs: Any) -> None:
        self.recorder = Recorder()
        self.port = _free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **kwargs)

    def params(self, **overrides: Any) -> dict[str, Any]:
        return _email_params(self.port, **overrides)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    server.controller.start()
    yield server
    server.controller.stop()


def test_plain_text_mail_is_delivered(smtp: Smtp) -> None:
    outcome = send_email(_call("action.email", smtp.params()))
    sender, recipients, message = smtp.recorder.envelopes[-1]
    assert sender == "opsflow@example.com" and recipients == ["ana@example.com"]
    assert message["From"] == "Opsflow <opsflow@example.com>"
    assert message["To"] == "ana@example.com" and message["Subject"] == "Disk full"
    assert message["Date"] and message["Message-ID"] == outcome.output["message_id"]
    assert outcome.output["message_id"].endswith("@example.com>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "web-01 is at 97%.\n"
    assert outcome.output["accepted"] == ["ana@example.com"] and outcome.output["refused"] == {}


def test_html_goes_with_a_plain_fallback_and_cc_in_the_envelope(smtp: Smtp) -> None:
    body = (
        "<html><head><style>p {color: red}</style></head><body><h1>Disk &amp; CPU</h1>"
        "<p>web-01 is <b>full</b>.</p><ul><li>a</li><li>b</li></ul></body></html>"
    )
    params = smtp.params(body=body, body_format="html", cc=["Bo <bo@example.com>"])
    outcome = send_email(_call("action.email", params))
    _, recipients, message = smtp.recorder.envelopes[-1]
    assert recipients == ["ana@example.com", "bo@example.com"]
    assert message["Cc"] == "Bo <bo@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = list(message.iter_parts())
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert plain.get_content() == "Disk & CPU\n\nweb-01 is full.\n\n- a\n\n- b\n"
    assert html.get_content().strip() == body
    assert outcome.output["accepted"] == ["ana@example.com", "bo@example.com"]


def test_unicode_subject_and_body(smtp: Smtp) -> None:
    send_email(_call("action.email", smtp.params(subject="Störung ⚠ 東京", body="Grüße — ✓")))
    _, _, message = smtp.recorder.envelopes[-1]
    assert message["Subject"] == "Störung ⚠ 東京"
    assert message.get_content() == "Grüße — ✓\n"
    assert message.get_content_charset() == "utf-8"


FROM_LINES = (
    "Forwarded report\n"
    "From web-01: disk full\n"
    "From  two spaces\n"
    ".\n"
    "..two dots\n"
    ".leading dot\n"
    "From\n"
    "\n"
    "From the end\n"
)


@pytest.mark.parametrize(
    ("body", "body_format"),
    [
        (FROM_LINES, "text"),
        (FROM_LINES + "Grüße — ✓\n", "text"),
        ("<pre>\n" + FROM_LINES + "</pre>", "html"),
    ],
)
def test_body_lines_starting_with_from_arrive_unchanged(
    smtp: Smtp, body: str, body_format: str
) -> None:
    send_email(_call("action.email", smtp.params(body=body, body_format=body_format)))
    [raw] = smtp.recorder.raw
    # What the server stored, after SMTP's dot-stuffing was undone: no mbox quoting.
    assert b">From" not in raw
    assert b"\r\nFrom web-01: disk full\r\n" in raw and b"\r\nFrom the end\r\n" in raw
    assert b"\r\n.\r\n..two dots\r\n.leading dot\r\n" in raw
    _, _, message = smtp.recorder.envelopes[-1]
    assert message["Subject"] == "Disk full" and message["Message-ID"]
    if body_format == "text":
        assert message.get_content_type() == "text/plain"
        assert message.get_content() == body
    else:
        plain, html = list(message.iter_parts())
        assert html.get_content().strip() == body
        assert "From web-01: disk full\nFrom two spaces\n" in plain.get_content()


def test_an_international_address_goes_out_with_smtputf8() -> None:
    server = Smtp()  # offers SMTPUTF8
    server.controller.start()
    try:
        params = server.params(to=["Jürgen <jürgen@example.com>"], body="From Köln\n")
        outcome = send_email(_call("action.email", params))
    finally:
        server.controller.stop()
    assert outcome.output["accepted"] == ["jürgen@example.com"]
    _, recipients, message = server.recorder.envelopes[-1]
    assert recipients == ["jürgen@example.com"] and message["To"] == "Jürgen <jürgen@example.com>"
    assert message.get_content() == "From Köln\n"


def test_an_international_address_needs_smtputf8() -> None:
    server = Smtp(enable_SMTPUTF8=False)
    server.controller.start()
    try:
        with pytest.raises(NodeError, match="SMTPUTF8") as caught:
            send_email(_call("action.email", server.params(to=["jürgen@example.com"])))
    finally:
        server.controller.stop()
    assert caught.value.retryable is False
    assert not server.recorder.envelopes


def test_some_recipients_refused(smtp: Smtp) -> None:
    params = smtp.params(to=["ana@example.com", "nobody@example.com"])
    outcome = send_email(_call("action.email", params))
    assert outcome.output["accepted"] == ["ana@example.com"]
    assert outcome.output["refused"] == {
        "nobody@example.com": {"code": 550, "message": "5.1.1 no such user"}
    }


@pytest.mark.parametrize(("who", "retryable"), [("nobody", False), ("later", True)])
def test_every_recipient_refused(smtp: Smtp, who: str, retryable: bool) -> None:
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", smtp.params(to=[f"{who}@example.com"])))
    assert caught.value.retryable is retryable
    assert "refused every recipient" in str(caught.value)
    assert not smtp.recorder.envelopes


def test_rendered_header_injection_is_refused(smtp: Smtp) -> None:
    call = _call("action.email", smtp.params(subject="{{ inputs.s }}"))
    call.params = {**call.params, "subject": "hi\r\nBcc: evil@example.com"}
    with pytest.raises(NodeError) as caught:
        send_email(call)
    assert caught.value.retryable is False and "one non-empty line" in str(caught.value)
    call.params = {**call.params, "subject": "ok", "to": ["a@example.com, evil@example.com"]}
    with pytest.raises(NodeError, match="several addresses"):
        send_email(call)
    assert not smtp.recorder.envelopes


def test_starttls_refuses_a_server_without_it(smtp: Smtp) -> None:
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", smtp.params(security="starttls", credential="mail")))
    assert caught.value.retryable is False
    assert f"127.0.0.1:{smtp.port} does not offer STARTTLS" in str(caught.value)
    assert not smtp.recorder.envelopes


def test_connection_refused_is_retryable() -> None:
    port = _free_port()
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", _email_params(port)))
    assert caught.value.retryable is True
    assert str(caught.value) == f"could not connect to 127.0.0.1:{port} (connection refused)"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1 and the CA that signed it."""
    return server_certificate(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def starttls(certs: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Smtp]:
    context, ca = certs
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    server = Smtp(
        tls_context=context, require_starttls=True, authenticator=_authenticator,
        auth_require_tls=True,
    )  # fmt: skip
    server.controller.start()
    yield server
    server.controller.stop()


def test_starttls_with_login(starttls: Smtp) -> None:
    params = starttls.params(security="starttls", credential="mail")
    outcome = send_email(_call("action.email", params))
    assert outcome.output["accepted"] == ["ana@example.com"]
    assert starttls.recorder.envelopes[-1][1] == ["ana@example.com"]


def test_starttls_without_login(starttls: Smtp) -> None:
    send_email(_call("action.email", starttls.params(security="starttls")))
    assert len(starttls.recorder.envelopes) == 1


def test_wrong_password_names_user_and_server_but_not_the_password(starttls: Smtp) -> None:
    params = starttls.params(security="starttls", credential="mail-bad")
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", params))
    message = str(caught.value)
    assert caught.value.retryable is False
    assert f"127.0.0.1:{starttls.port} refused the login of user 'opsflow' (535" in message
    assert PASSWORD not in message and "wrong-" not in message
    assert not starttls.recorder.envelopes


def test_untrusted_certificate_is_not_retryable(
    starttls: Smtp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "empty.pem"
    other.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "none"))
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", starttls.params(security="starttls", credential="mail")))
    assert caught.value.retryable is False
    assert "could not be verified" in str(caught.value) and "set `ca_bundle`" in str(caught.value)


def test_implicit_tls(certs: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    context, ca = certs
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    server = Smtp(ssl_context=context)
    server.controller.start()
    try:
        outcome = send_email(_call("action.email", server.params(security="tls", cc=[])))
    finally:
        server.controller.stop()
    assert outcome.output["accepted"] == ["ana@example.com"]
    assert server.recorder.envelopes[-1][2]["Subject"] == "Disk full"


@pytest.fixture
def untrusting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The process trusts no CA at all, so only `ca_bundle` can vouch for the test CA."""
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "none"))


@pytest.fixture
def private_starttls(certs: tuple[ssl.SSLContext, Path], untrusting: None) -> Iterator[Smtp]:
    server = Smtp(
        tls_context=certs[0], require_starttls=True, authenticator=_authenticator,
        auth_require_tls=True,
    )  # fmt: skip
    server.controller.start()
    yield server
    server.controller.stop()


def test_starttls_needs_ca_bundle_for_a_private_ca(private_starttls: Smtp) -> None:
    params = private_starttls.params(security="starttls", credential="mail")
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", params))
    assert caught.value.retryable is False
    assert str(caught.value).startswith(
        f"the TLS certificate of 127.0.0.1:{private_starttls.port} could not be verified ("
    )
    assert str(caught.value).endswith(
        "); if an internal CA signed it, set `ca_bundle` to that CA's PEM file"
    )
    assert not private_starttls.recorder.envelopes


def test_starttls_trusts_the_ca_bundle(
    private_starttls: Smtp, certs: tuple[ssl.SSLContext, Path]
) -> None:
    params = private_starttls.params(
        security="starttls", credential="mail", ca_bundle=str(certs[1])
    )
    outcome = send_email(_call("action.email", params))
    assert outcome.output["accepted"] == ["ana@example.com"]
    assert private_starttls.recorder.envelopes[-1][2]["Subject"] == "Disk full"


def test_implicit_tls_trusts_the_ca_bundle(
    certs: tuple[ssl.SSLContext, Path], untrusting: None
) -> None:
    server = Smtp(ssl_context=certs[0])
    server.controller.start()
    try:
        with pytest.raises(NodeError, match=r"could not be verified .*set `ca_bundle`"):
            send_email(_call("action.email", server.params(security="tls")))
        params = server.params(security="tls", ca_bundle=str(certs[1]))
        outcome = send_email(_call("action.email", params))
    finally:
        server.controller.stop()
    assert outcome.output["accepted"] == ["ana@example.com"]


def test_a_ca_bundle_that_does_not_sign_the_server_names_the_bundle(
    private_starttls: Smtp, tmp_path: Path
) -> None:
    other = server_certificate(tmp_path)[1]
    params = private_starttls.params(security="starttls", ca_bundle=str(other))
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", params))
    assert caught.value.retryable is False
    assert "could not be verified" in str(caught.value)
    assert f"check that `ca_bundle` '{other}' holds the CA that signed it" in str(caught.value)


def test_a_missing_or_unreadable_ca_bundle_sends_nothing(smtp: Smtp, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", smtp.params(security="starttls", ca_bundle=str(missing))))
    assert caught.value.retryable is False
    assert str(caught.value) == (
        f"`ca_bundle` '{missing}' is not a file; give the absolute path of a PEM file "
        "of CA certificates"
    )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(NodeError) as caught:
        send_email(_call("action.email", smtp.params(security="starttls", ca_bundle=str(junk))))
    assert caught.value.retryable is False
    assert f"`ca_bundle` '{junk}' holds no usable PEM CA certificates" in str(caught.value)
    assert not smtp.recorder.envelopes


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ca_bundle": "certs/ca.pem"}, "`ca_bundle` is 'certs/ca.pem', a relative path"),
        ({"security": "none", "ca_bundle": "/etc/ca.pem"}, "`ca_bundle` is set but security"),
    ],
)
def test_ca_bundle_rules(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        EmailParams.model_validate(_email_params(25, **{"security": "starttls", **changes}))


def test_ca_bundle_is_a_documented_path() -> None:
    schema = EmailParams.model_json_schema()["properties"]["ca_bundle"]
    assert schema["x-opsflow"] == "path" and schema["default"] is None
    assert "PEM file of CA certificates" in schema["description"]
    assert EmailParams.model_validate(_email_params(25)).ca_bundle is None


def test_html_to_text_drops_scripts_and_decodes_entities() -> None:
    text = html_to_text("<script>x()</script><p>a&nbsp;&lt;b&gt;<br>c</p>")
    assert text == "a\xa0<b>\nc\n"


# --- chat -----------------------------------------------------------------------------------


class Hook:
    def __init__(self, httpd: ThreadingHTTPServer) -> None:
        self.httpd = httpd
        self.port = httpd.server_address[1]
        self.bodies: list[Any] = []
        self.status = 200
        self.reply = b"ok"

    def url(self, path: str = HOOK_PATH) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class HookHandler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        hook: Hook = self.server.hook
        length = int(self.headers.get("Content-Length") or 0)
        assert self.headers.get("Content-Type") == "application/json"
        hook.bodies.append(json.loads(self.rfile.read(length)))
        reply = hook.reply.replace(b"{url}", hook.url(self.path).encode())
        self.send_response(hook.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


@pytest.fixture
def hook() -> Iterator[Hook]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), HookHandler)
    record = Hook(httpd)
    httpd.hook = record  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    CREDENTIALS["chat"] = {"token": record.url()}
    yield record
    del CREDENTIALS["chat"]
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def chat(**params: Any) -> NodeOutcome:
    return send_chat(_call("action.chat", {"webhook_credential": "chat", **params}))


def test_slack_payload(hook: Hook) -> None:
    outcome = chat(
        service="slack", text="web-01 *down*", title="Outage <1>", username="Opsflow",
        channel="#ops", icon_emoji=":rotating_light:", mention=["here", "U0123ABCD"],
    )  # fmt: skip
    assert hook.bodies == [
        {
            "text": "*Outage &lt;1&gt;*\n<!here> <@U0123ABCD> web-01 *down*",
            "username": "Opsflow",
            "channel": "#ops",
            "icon_emoji": ":rotating_light:",
        }
    ]
    assert outcome.output == {
        "service": "slack",
        "host": "127.0.0.1",
        "status": 200,
        "response": "ok",
        "elapsed_s": outcome.output["elapsed_s"],
    }
    chat(service="slack", text="plain")
    assert hook.bodies[-1] == {"text": "plain"}


def test_mattermost_payload(hook: Hook) -> None:
    chat(
        service="mattermost", text="web-01 **down**", title="Outage", username="Opsflow",
        channel="ops", icon_emoji=":fire:", mention=["here", "ana"],
    )  # fmt: skip
    assert hook.bodies == [
        {
            "text": "#### Outage\n@here @ana web-01 **down**",
            "username": "Opsflow",
            "channel": "ops",
            "icon_emoji": ":fire:",
        }
    ]


def test_teams_payload_is_an_adaptive_card_with_mentions(hook: Hook) -> None:
    chat(service="teams", text="web-01 **down**", title="Outage", mention=["ana@example.com"])
    assert hook.bodies == [
        {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.2",
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": "Outage",
                                "weight": "Bolder",
                                "size": "Medium",
                                "wrap": True,
                            },
                            {
                                "type": "TextBlock",
                                "text": "<at>ana@example.com</at> web-01 **down**",
                                "wrap": True,
                            },
                        ],
                        "msteams": {
                            "entities": [
                                {
                                    "type": "mention",
                                    "text": "<at>ana@example.com</at>",
                                    "mentioned": {
                                        "id": "ana@example.com",
                                        "name": "ana@example.com",
                                    },
                                }
                            ]
                        },
                    },
                }
            ],
        }
    ]
    plain = chat_payload({"service": "teams", "text": "hi"})
    assert "msteams" not in plain["attachments"][0]["content"]
    assert plain["attachments"][0]["content"]["body"] == [
        {"type": "TextBlock", "text": "hi", "wrap": True}
    ]


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (404, False), (400, False)]
)
def test_error_statuses(hook: Hook, status: int, retryable: bool) -> None:
    hook.status = status
    hook.reply = b"invalid_payload at {url}"
    with pytest.raises(NodeError) as caught:
        chat(service="slack", text="hi")
    error = caught.value
    assert error.retryable is retryable
    assert str(error).startswith(f"the slack webhook at 127.0.0.1 answered {status}")
    assert "invalid_payload at 127.0.0.1" in str(error)
    assert "XyZsecretTOKEN" not in str(error) + json.dumps(error.output)
    assert error.output["status"] == status


def test_teams_delivery_failure_reported_with_200(hook: Hook) -> None:
    hook.reply = b"Webhook message delivery failed with error: endpoint returned HTTP error 429"
    with pytest.raises(NodeError, match="did not deliver") as caught:
        chat(service="teams", text="hi")
    assert caught.value.retryable is True


def test_unreachable_webhook_hides_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    monkeypatch.setitem(CREDENTIALS, "gone", {"token": f"http://127.0.0.1:{port}{HOOK_PATH}"})
    with pytest.raises(NodeError) as caught:
        send_chat(_call("action.chat", {"service": "slack", "webhook_credential": "gone",
                                        "text": "hi"}))  # fmt: skip
    assert caught.value.retryable is True
    assert (
        str(caught.value)
        == "could not connect to the slack webhook at 127.0.0.1 (connection failed)"
    )


def test_credential_without_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CREDENTIALS, "junk", {"token": "xoxb-not-a-url"})
    with pytest.raises(NodeError) as caught:
        send_chat(_call("action.chat", {"service": "slack", "webhook_credential": "junk",
                                        "text": "hi"}))  # fmt: skip
    assert caught.value.retryable is False and "xoxb" not in str(caught.value)


def test_chat_through_the_engine(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_OPS_CHAT_TOKEN", hook.url())
    flow = Flow.model_validate(
        {
            "id": "notify",
            "credentials": {"ops-chat": {"kind": "token"}},
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "say",
                    "type": "action.chat",
                    "params": {
                        "service": "mattermost",
                        "webhook_credential": "ops-chat",
                        "text": "run {{ run.id }} finished",
                        "title": "Opsflow",
                    },
                },
            ],
            "edges": [{"id": "e1", "from": "start", "port": "out", "to": "say"}],
        }
    )
    result = asyncio.run(LocalRunner(flow, catalog=CATALOG).run())
    assert result.status == "succeeded", result.error
    assert result.nodes["say"].state == "succeeded"
    assert hook.bodies == [{"text": f"#### Opsflow\nrun {result.run_id} finished"}]
