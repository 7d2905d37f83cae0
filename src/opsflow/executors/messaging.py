"""Executors of `action.email` (SMTP with smtplib) and `action.chat` (incoming webhooks).

E-mail: the message is built with `EmailMessage` (UTF-8, a Date and a Message-ID); HTML goes
out as an alternative part after a plain-text part made by stripping the tags. It is written
out without mbox quoting, so body lines starting with "From " arrive unchanged (the SMTP
layer dot-stuffs lines starting with "."). starttls refuses to send anything when the server
does not offer STARTTLS, and none never logs in. Certificates are checked against the system
CAs, or only against the PEM file in `ca_bundle` when that is set.

Chat: one JSON POST to the webhook URL held in a token credential. Slack and Mattermost get
their incoming-webhook payloads; Teams gets an Adaptive Card message, the format that both
Office 365 connector and Workflows webhooks accept and the only one that carries mentions.
The URL is a secret: messages and output name only its host.

Known gap: smtplib's timeout bounds each network wait, not the whole exchange.
"""

from __future__ import annotations

import email.policy
import io
import os
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from contextlib import suppress
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests

from opsflow.catalog.builtin.actions_messaging import check_address
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome

#: Per-operation network timeout when the node has none of its own.
DEFAULT_TIMEOUT_S = 60.0
_RESPONSE_CHARS = 1000
_USER_AGENT = "opsflow-chat"


# --- e-mail -------------------------------------------------------------------------------


def send_email(call: NodeCall) -> NodeOutcome:
    timeout = DEFAULT_TIMEOUT_S if call.timeout_s is None else min(call.timeout_s, 300.0)
    login = smtp_login(call.params.get("credential"), call.credential)
    return NodeOutcome(output=deliver_email(call.params, login, timeout, call.log))


def deliver_email(
    params: dict[str, Any],
    login: tuple[str, str] | None,
    timeout: float,
    log: Callable[[str, str], None],
) -> dict[str, Any]:
    """Send one e-mail described by rendered EmailParams; its output, or a NodeError."""
    host: str = params["smtp_host"]
    port = int(params["smtp_port"])
    security: str = params["security"]
    where = f"{host}:{port}"
    message = _message(params)
    sender = parseaddr(message["From"])[1]
    recipients = [parseaddr(item)[1] for item in [*params["to"], *(params.get("cc") or [])]]
    if login is not None and security == "none":
        raise NodeError(
            "security none would send the password unencrypted; choose starttls or tls",
            retryable=False,
        )
    bundle = str(params.get("ca_bundle") or "") or None
    context = None if security == "none" else _tls_context(bundle)
    log("info", f"sending e-mail to {len(recipients)} recipient(s) via {where} ({security})")
    smtp: smtplib.SMTP | None = None
    try:
        if security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        smtp.ehlo()
        if security == "starttls":
            if not smtp.has_extn("starttls"):
                raise NodeError(
                    f"{where} does not offer STARTTLS, so nothing was sent (neither the "
                    "credential nor the message go out in clear); use tls on port 465, or "
                    "none for an internal relay without a credential",
                    retryable=False,
                )
            smtp.starttls(context=context)
            smtp.ehlo()
        if login is not None:
            _log_in(smtp, login, where)
        refused_raw = _send(smtp, message, sender, recipients)
    except NodeError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        refused = _refused(exc.recipients)
        raise NodeError(
            f"{where} refused every recipient: {_describe(refused)}",
            output={"message_id": message["Message-ID"], "accepted": [], "refused": refused},
            retryable=all(400 <= item["code"] < 500 for item in refused.values()),
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise _smtp_error(exc, where, timeout, bundle) from None
    finally:
        if smtp is not None:
            with suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()
    refused = _refused(refused_raw)
    accepted = [address for address in recipients if address not in refused]
    log("info", f"{where} accepted {len(accepted)} recipient(s), refused {len(refused)}")
    if refused:
        log("warning", f"refused: {_describe(refused)}")
    return {"message_id": message["Message-ID"], "accepted": accepted, "refused": refused}


def _tls_context(bundle: str | None) -> ssl.SSLContext:
    """A client context trusting the system CAs, or only the CAs in the `bundle` PEM file."""
    if bundle is None:
        return ssl.create_default_context()
    if not os.path.isfile(bundle):
        raise NodeError(
            f"`ca_bundle` '{bundle}' is not a file; give the absolute path of a PEM file "
            "of CA certificates",
            retryable=False,
        )
    try:
        return ssl.create_default_context(cafile=bundle)
    except ssl.SSLError as exc:
        raise NodeError(
            f"`ca_bundle` '{bundle}' holds no usable PEM CA certificates ({exc.reason or exc})",
            retryable=False,
        ) from None
    except (OSError, ValueError) as exc:
        raise NodeError(
            f"`ca_bundle` '{bundle}' could not be read: {exc}", retryable=False
        ) from None


def _send(
    smtp: smtplib.SMTP, message: EmailMessage, sender: str, recipients: list[str]
) -> dict[str, tuple[int, bytes]]:
    """`SMTP.send_message` without its mbox quoting of body lines that start with "From ".

    send_message writes such lines as ">From ", which belongs in mbox files, not on the
    wire; sendmail still dot-stuffs lines that start with ".", as SMTP requires.
    """
    international = not all(address.isascii() for address in (sender, *recipients))
    options: list[str] = []
    if international:
        if not smtp.has_extn("smtputf8"):
            raise NodeError(
                "an address is not ASCII, which needs the SMTPUTF8 extension that the server "
                "does not offer; nothing was sent",
                retryable=False,
            )
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    data = io.BytesIO()
    policy = email.policy.SMTPUTF8 if international else email.policy.SMTP
    BytesGenerator(data, mangle_from_=False, policy=policy).flatten(message)
    return smtp.sendmail(sender, recipients, data.getvalue(), mail_options=options)


def _message(params: dict[str, Any]) -> EmailMessage:
    for name in ("from_addr", "to", "cc"):
        values = params.get(name) or []
        for index, value in enumerate([values] if isinstance(values, str) else values):
            field = name if isinstance(values, str) else f"{name}[{index}]"
            try:
                check_address(str(value), field)
            except ValueError as exc:
                raise NodeError(str(exc), retryable=False) from None
    subject = str(params["subject"])
    if not subject.strip() or "\n" in subject or "\r" in subject:
        raise NodeError("`subject` must be one non-empty line once rendered", retryable=False)
    message = EmailMessage()
    try:
        message["From"] = params["from_addr"]
        message["To"] = ", ".join(params["to"])
        if params.get("cc"):
            message["Cc"] = ", ".join(params["cc"])
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=True)
        domain = parseaddr(params["from_addr"])[1].rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(domain=domain)
        body = str(params.get("body") or "")
        if params.get("body_format") == "html":
            message.set_content(html_to_text(body), charset="utf-8")
            message.add_alternative(body, subtype="html", charset="utf-8")
        else:
            message.set_content(body, charset="utf-8")
    except (ValueError, TypeError) as exc:
        raise NodeError(f"the e-mail could not be built: {exc}", retryable=False) from None
    return message


class _TextOf(HTMLParser):
    _BREAKS = frozenset(
        ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
         "pre", "blockquote", "hr")
    )  # fmt: skip
    _HIDDEN = frozenset(("script", "style", "head"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The readable text of HTML: tags dropped, entities decoded, blocks on their own lines."""
    parser = _TextOf()
    parser.feed(markup)
    parser.close()
    lines = (
        re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in "".join(parser.parts).split("\n")
    )
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def smtp_login(
    name: str | None, credential: Callable[[str], dict[str, str]]
) -> tuple[str, str] | None:
    """The user name and password of the named credential; None when no credential is named."""
    if not name:
        return None
    fields = credential(str(name))
    username, password = fields.get("username"), fields.get("password")
    if not username or password is None:
        raise NodeError(
            f"credential '{name}' needs 'username' and 'password' fields to log in to SMTP",
            retryable=False,
        )
    return str(username), str(password)


def _log_in(smtp: smtplib.SMTP, login: tuple[str, str], where: str) -> None:
    user = login[0]
    try:
        smtp.login(*login)
    except smtplib.SMTPAuthenticationError as exc:
        raise NodeError(
            f"{where} refused the login of user '{user}' ({exc.smtp_code} "
            f"{_reply(exc.smtp_error)}); check the credential's user name and password",
            retryable=False,
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise NodeError(
            f"{where} does not offer logging in (no AUTH); remove `credential` or use the "
            "server's submission port",
            retryable=False,
        ) from None


def _smtp_error(
    exc: BaseException, where: str, timeout: float, bundle: str | None = None
) -> NodeError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = (
            f"check that `ca_bundle` '{bundle}' holds the CA that signed it"
            if bundle
            else "if an internal CA signed it, set `ca_bundle` to that CA's PEM file"
        )
        return NodeError(
            f"the TLS certificate of {where} could not be verified "
            f"({exc.verify_message or 'not trusted'}); {hint}",
            retryable=False,
        )
    if isinstance(exc, ssl.SSLError):
        return NodeError(
            f"TLS with {where} failed ({exc.reason or exc}); check `security` and `smtp_port` "
            "(465 is usually tls, 587 starttls)",
            retryable=False,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return NodeError(
            f"{where} answered {code} {_reply(exc.smtp_error)}",
            retryable=400 <= code < 500,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return NodeError(f"{where} closed the connection ({exc})", retryable=True)
    if isinstance(exc, TimeoutError | socket.timeout):
        return NodeError(f"{where} did not answer within {timeout:g} s", retryable=True)
    if isinstance(exc, ConnectionRefusedError):
        return NodeError(f"could not connect to {where} (connection refused)", retryable=True)
    if isinstance(exc, socket.gaierror):
        return NodeError(f"could not connect to {where} (host name not found)", retryable=True)
    if isinstance(exc, OSError):
        return NodeError(f"the connection to {where} failed: {exc}", retryable=True)
    return NodeError(f"sending through {where} failed: {exc}", retryable=False)


def _reply(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:300]


def _refused(raw: dict[str, tuple[int, bytes]]) -> dict[str, dict[str, Any]]:
    return {
        address: {"code": int(code), "message": _reply(reply)}
        for address, (code, reply) in raw.items()
    }


def _describe(refused: dict[str, dict[str, Any]]) -> str:
    return "; ".join(f"{addr} ({item['code']} {item['message']})" for addr, item in refused.items())


# --- chat ---------------------------------------------------------------------------------


def send_chat(call: NodeCall) -> NodeOutcome:
    params = call.params
    timeout = 30.0 if call.timeout_s is None else min(30.0, call.timeout_s)
    url = webhook_url(str(params["webhook_credential"]), call.credential)
    output = post_chat(params["service"], url, chat_payload(params), timeout, call.log)
    return NodeOutcome(output=output)


def webhook_url(name: str, credential: Callable[[str], dict[str, str]]) -> str:
    """The incoming-webhook URL the named token credential holds, checked to be http(s)."""
    url = (credential(name).get("token") or "").strip()
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise NodeError(
            f"credential '{name}' does not hold an http(s) incoming-webhook URL in its token",
            retryable=False,
        )
    return url


def post_chat(
    service: str,
    url: str,
    payload: dict[str, Any],
    timeout: float,
    log: Callable[[str, str], None],
) -> dict[str, Any]:
    """POST `payload` to a checked webhook URL (see `webhook_url`); its output, or a NodeError."""
    host = urlsplit(url).hostname or "?"
    log("info", f"posting a {service} message to the webhook at {host}")
    started = time.monotonic()
    try:
        response = requests.post(
            url,
            json=payload,
            timeout=(timeout, timeout),
            allow_redirects=False,
            headers={"User-Agent": _USER_AGENT},
        )
    except requests.RequestException as exc:
        raise _post_error(exc, service, host, timeout) from None
    text = response.text[:_RESPONSE_CHARS].replace(url, host)
    output = {
        "service": service,
        "host": host,
        "status": response.status_code,
        "response": text,
        "elapsed_s": round(time.monotonic() - started, 3),
    }
    status = response.status_code
    if not 200 <= status < 300:
        raise NodeError(
            f"the {service} webhook at {host} answered {status} {response.reason}"
            + (f": {' '.join(text.split())[:200]}" if text.strip() else ""),
            output=output,
            retryable=status >= 500 or status == 429,
        )
    if service == "teams" and "failed with error" in text:
        # Office 365 connectors report throttling and delivery failures with a 200.
        raise NodeError(
            f"the teams webhook at {host} did not deliver: {' '.join(text.split())[:200]}",
            output=output,
            retryable="429" in text,
        )
    log("info", f"the {service} webhook at {host} answered {status}")
    return output


def chat_payload(params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body each service's incoming webhook documents, from rendered ChatParams."""
    service = params["service"]
    text = str(params["text"])
    title = params.get("title") or None
    mentions = [str(who) for who in params.get("mention") or []]
    if service == "teams":
        return _teams_payload(text, title, mentions)
    if service == "slack":
        tags = [_slack_mention(who) for who in mentions]
        heading = f"*{_slack_escape(title)}*" if title else None
    else:
        tags = [f"@{who}" for who in mentions]
        heading = f"#### {title}" if title else None
    line = " ".join([*tags, text])
    payload: dict[str, Any] = {"text": f"{heading}\n{line}" if heading else line}
    for key in ("username", "channel", "icon_emoji"):
        if params.get(key):
            payload[key] = params[key]
    return payload


def _slack_mention(who: str) -> str:
    if who in ("here", "channel", "everyone"):
        return f"<!{who}>"
    return f"<@{who}>"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _teams_payload(text: str, title: str | None, mentions: list[str]) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if title:
        body.append({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
                     "wrap": True})  # fmt: skip
    tags = [f"<at>{who}</at>" for who in mentions]
    body.append({"type": "TextBlock", "text": " ".join([*tags, text]), "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": body,
    }
    if mentions:
        card["msteams"] = {
            "entities": [
                {"type": "mention", "text": tag, "mentioned": {"id": who, "name": who}}
                for who, tag in zip(mentions, tags, strict=True)
            ]
        }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _post_error(exc: BaseException, service: str, host: str, timeout: float) -> NodeError:
    # The exception's text holds the URL (a secret): describe it by its type only.
    where = f"the {service} webhook at {host}"
    if isinstance(exc, requests.exceptions.SSLError):
        return NodeError(f"TLS with {where} failed (certificate or protocol)", retryable=False)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return NodeError(f"could not connect to {where} within {timeout:g} s", retryable=True)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return NodeError(f"{where} did not answer within {timeout:g} s", retryable=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return NodeError(f"could not connect to {where} (connection failed)", retryable=True)
    return NodeError(f"posting to {where} failed ({type(exc).__name__})", retryable=False)
