"""Telling approvers by e-mail or chat that an approval waits for them, with the commands to decide.

Messages go out through the `action.email` and `action.chat` executors' own sending code, in
a worker thread so the event loop keeps running. A message that cannot be sent is a warning
in the approval node's log, never a failure: the approval keeps waiting either way. Texts
pass through the run's redactor, so credential values and webhook URLs never show.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from opsflow.engine.journal import STORE_ENV, default_journal_path
from opsflow.model.flow import Node
from opsflow.nodeapi import NodeError

if TYPE_CHECKING:
    from opsflow.engine.local import ActiveRun

Moment = Literal["request", "escalation"]

#: Network timeout of one notification (each SMTP or HTTP wait).
SEND_TIMEOUT_S = 30.0
#: Credential kinds each channel can use.
_FITTING_KINDS = {"email": ("smtp", "basic"), "chat": ("token",)}


@dataclass(frozen=True)
class Notice:
    """One notification, the same for every target: a one-line subject and a plain text."""

    moment: Moment
    subject: str
    text: str
    #: The decision commands, also inside `text`; chat services show them as code.
    commands: tuple[str, ...]


def targets_for(params: Mapping[str, Any], moment: Moment) -> list[dict[str, Any]]:
    """The rendered notify targets that want to hear about `moment`."""
    found = params.get("notify") or []
    return [t for t in found if isinstance(t, dict) and moment in (t.get("on") or [])]


def describe_target(target: Mapping[str, Any]) -> str:
    """A target as people read it, without anything secret: recipients or the credential name."""
    channel = target.get("channel")
    if channel == "email":
        where = f"{target.get('smtp_host')}:{target.get('smtp_port')}"
        return f"e-mail to {', '.join(map(str, target.get('to') or []))} via {where}"
    return f"{channel} through the webhook in credential '{target.get('credential')}'"


def decision_commands(
    run_id: str, node_id: str, form: Mapping[str, Any] | None, store: Path | None
) -> tuple[str, str]:
    """`opsflow approve` for approving and for rejecting, with the answers the form requires."""
    fields = [
        f"--field {shlex.quote(f'{name}=VALUE')}"
        for name in (form or {}).get("required", [])
        if ((form or {}).get("properties", {}).get(name) or {}).get("default") is None
    ]
    tail = " ".join(["--as NAME", *fields])
    if store is not None:
        tail += f" --store {shlex.quote(str(store))}"
    base = f"opsflow approve {shlex.quote(run_id)} {shlex.quote(node_id)}"
    return f"{base} --approve {tail}", f"{base} --reject {tail}"


def compose(
    run: ActiveRun,
    node: Node,
    params: Mapping[str, Any],
    *,
    deadline: float | None,
    escalated_to: list[str] | None = None,
) -> Notice:
    """The message for a request, or with `escalated_to` for its escalation."""
    flow = run.runner.flow
    where = f"{flow.name or flow.id} / {node.title or node.id}"
    lines: list[str] = []
    if escalated_to is not None:
        subject = f"Approval needed (escalated): {where}"
        minutes = params.get("escalate_after_min")
        waited = f" within {float(minutes):g} min" if minutes else ""
        lines += [
            f"Escalated: nobody decided{waited}, so {', '.join(escalated_to)} may now decide "
            "as well.",
            "",
        ]
    else:
        subject = f"Approval needed: {where}"
    approvers = [*params.get("approvers", []), *(escalated_to or [])]
    lines += [str(params.get("message", "")), ""]
    lines.append(f"Approvers: {', '.join(map(str, approvers))}")
    if deadline is not None:
        lines.append(f"Decide by: {_when(deadline)}; after that it times out.")
    else:
        lines.append("Deadline: none; it waits until someone decides.")
    lines.append(f"Run: {run.id} (flow {flow.id}, node {node.id})")
    lines.append("")
    journal = run.runner.journal
    commands: tuple[str, ...] = ()
    if journal is None:
        lines.append(
            "This run keeps no journal: decide in the terminal or the Studio that runs it."
        )
    else:
        store = None if _is_default_store(journal.path) else journal.path
        approve, reject = decision_commands(run.id, node.id, params.get("form"), store)
        commands = (approve, reject)
        lines += ["To approve:", f"  {approve}", "To reject:", f"  {reject}"]
        lines.append("NAME is your user name; add --comment TEXT to say why.")
        lines += _form_help(params.get("form"))
    text = run.redactor.redact("\n".join(lines).rstrip() + "\n")
    moment: Moment = "request" if escalated_to is None else "escalation"
    return Notice(moment, run.redactor.redact(subject), text, commands)


def _form_help(form: Mapping[str, Any] | None) -> list[str]:
    properties: Mapping[str, Any] = (form or {}).get("properties", {})
    if not properties:
        return []
    required = set((form or {}).get("required", []))
    lines = ["Form answers, each as --field NAME=VALUE:"]
    for name, prop in properties.items():
        notes = ["required" if name in required else "optional", str(prop.get("type", "string"))]
        if prop.get("enum"):
            notes.append("one of " + ", ".join(map(str, prop["enum"])))
        if prop.get("pattern"):
            notes.append(f"matching {prop['pattern']}")
        if prop.get("default") is not None:
            notes.append(f"default {prop['default']}")
        title = f" {prop['title']}" if prop.get("title") else ""
        lines.append(f"  {name}{title} ({'; '.join(notes)})")
    return lines


def _is_default_store(path: Path) -> bool:
    return STORE_ENV not in os.environ and path == default_journal_path()


def _when(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M %Z")


async def notify(run: ActiveRun, node: Node, notice: Notice, targets: list[dict[str, Any]]) -> None:
    """Send `notice` to each target in a worker thread; log what failed, never raise."""
    what = "approval request" if notice.moment == "request" else "escalation"
    for target in targets:
        try:
            await asyncio.to_thread(_send, run, node, target, notice)
        except NodeError as exc:
            _could_not(run, node, what, target, str(exc))
        except Exception as exc:  # a bug must not end the wait for a decision
            _could_not(run, node, what, target, f"{type(exc).__name__}: {exc}")
        else:
            run.log(node.id, "info", f"sent the {what} as {describe_target(target)}")


def _could_not(
    run: ActiveRun, node: Node, what: str, target: Mapping[str, Any], reason: str
) -> None:
    run.log(
        node.id,
        "warning",
        f"could not send the {what} as {describe_target(target)}: {reason}; "
        "the approval keeps waiting, so tell the approvers another way",
    )


def log_dry_run(run: ActiveRun, node: Node, params: Mapping[str, Any]) -> None:
    """What a real run would send, without sending anything."""
    for target in params.get("notify") or []:
        if isinstance(target, dict):
            moments = " and ".join(target.get("on") or [])
            run.log(
                node.id, "info", f"dry run: would notify {describe_target(target)} on {moments}"
            )


def _send(run: ActiveRun, node: Node, target: Mapping[str, Any], notice: Notice) -> None:
    """Deliver one notification (in a worker thread) with the executors' own code."""
    # Imported here: smtplib and requests load only for runs that notify someone.
    from opsflow.executors.messaging import (
        chat_payload,
        deliver_email,
        post_chat,
        smtp_login,
        webhook_url,
    )

    channel = str(target["channel"])
    name = target.get("credential")
    _check_kind(run, channel, name)

    def log(level: str, message: str) -> None:
        run.log_from_anywhere(node.id, level, message)

    if channel == "email":
        params = {
            "smtp_host": target["smtp_host"],
            "smtp_port": target["smtp_port"],
            "security": target["security"],
            "from_addr": target["from_addr"],
            "to": target["to"],
            "subject": notice.subject,
            "body": notice.text,
            "body_format": "text",
        }
        deliver_email(params, smtp_login(name, run.credential_fields), SEND_TIMEOUT_S, log)
        return
    url = webhook_url(str(name), run.credential_fields)
    text = notice.text
    if channel in ("slack", "mattermost"):
        for command in notice.commands:  # code spans: no Markdown inside, easy to copy
            text = text.replace(f"  {command}\n", f"`{command}`\n")
    payload = chat_payload({"service": channel, "text": text, "title": notice.subject})
    post_chat(channel, url, payload, SEND_TIMEOUT_S, log)


def _check_kind(run: ActiveRun, channel: str, name: Any) -> None:
    """Say plainly when a declared credential cannot serve this channel."""
    if not name:
        return
    declared = run.runner.flow.credentials.get(str(name))
    fitting = _FITTING_KINDS["email" if channel == "email" else "chat"]
    if declared is not None and declared.kind not in fitting:
        raise NodeError(
            f"credential '{name}' is of kind {declared.kind}, but {channel} needs "
            f"{' or '.join(fitting)}",
            retryable=False,
        )
