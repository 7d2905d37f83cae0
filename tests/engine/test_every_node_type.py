"""Every node type of the catalog through the real engine, for real and as a dry run.

The peers are real and on 127.0.0.1, reused from the executor tests: an HTTP server
(tests.executors.test_http), aiosmtpd with STARTTLS and a login and a chat webhook
(test_messaging), a ServiceNow-shaped ticket API (test_tickets) and OpenSSH's sshd
(test_ssh); shell, script and file nodes run real processes and touch `tmp_path` folders.
Credentials come from `OPSFLOW_CRED_<NAME>_<FIELD>` variables, the journal is a SQLite file.

Two flows (plus a body flow for the sub-flow and for-each nodes) hold every type:
`main` starts at a manual trigger with inputs; `triggers` has one trigger of each other
kind and is started at each of them with the payload `opsflow serve` would hand over.
Each is run once for real and once with `dry_run`; the last test checks that the types
that ran are exactly the catalog's, so a new built-in type without coverage fails here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsflow.catalog.registry import default_catalog
from opsflow.engine.control import RunControl
from opsflow.engine.events import Event
from opsflow.engine.journal import ApprovalRecord, Journal, NodeResult, RunRecord
from opsflow.engine.local import LocalRunner
from opsflow.engine.run_types import RunOptions, RunResult
from opsflow.errors import OpsflowError
from opsflow.flowfile import parse_flow, save_flow
from opsflow.model.flow import Flow
from tests.executors.certs import server_certificate
from tests.executors.test_http import Server as HttpServer
from tests.executors.test_http import _serve as serve_http
from tests.executors.test_messaging import PASSWORD as MAIL_PASSWORD
from tests.executors.test_messaging import Hook, HookHandler, Smtp, _authenticator
from tests.executors.test_ssh import USER
from tests.executors.test_ssh import Server as SshServer
from tests.executors.test_ssh import server as ssh_server  # noqa: F401  (its sshd fixture)
from tests.executors.test_tickets import NUMBER, _basic
from tests.executors.test_tickets import PASSWORD as SNOW_PASSWORD
from tests.executors.test_tickets import Handler as TicketHandler
from tests.executors.test_tickets import Server as TicketServer

HOST = "web-07"
CHANGE = "CHG42"
HOOK_TOKEN = "hook-t0ken-value-1234"

# --- peers ---------------------------------------------------------------------------------


@dataclass
class Peers:
    http: HttpServer
    smtp: Smtp
    hook: Hook
    tickets: TicketServer
    ssh: SshServer

    def _logs(self) -> dict[str, list[Any]]:
        return {
            "http": self.http.requests,
            "mail": self.smtp.recorder.envelopes,
            "chat": self.hook.bodies,
            "ticket": self.tickets.requests,
        }

    def mark(self) -> dict[str, int]:
        return {name: len(log) for name, log in self._logs().items()}

    def since(self, mark: dict[str, int]) -> dict[str, list[Any]]:
        """What each peer received after `mark`."""
        return {name: list(log[mark[name] :]) for name, log in self._logs().items()}


@contextlib.contextmanager
def _serving(
    handler: type[BaseHTTPRequestHandler],
    attribute: str,
    make: Callable[[ThreadingHTTPServer], Any],
) -> Iterator[Any]:
    """A recording server of the executor tests, started the way their fixtures start it."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    record = make(httpd)
    setattr(httpd, attribute, record)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield record
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


@pytest.fixture(scope="module")
def peers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peers]:
    ssh: SshServer = request.getfixturevalue("ssh_server")  # the real sshd of test_ssh
    context, ca = server_certificate(tmp_path_factory.mktemp("certs"))
    smtp = Smtp(
        tls_context=context, require_starttls=True, authenticator=_authenticator,
        auth_require_tls=True,
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        env = stack.enter_context(pytest.MonkeyPatch.context())
        http = stack.enter_context(contextlib.contextmanager(serve_http)())
        hook = stack.enter_context(_serving(HookHandler, "hook", Hook))
        tickets = stack.enter_context(_serving(TicketHandler, "record", TicketServer))
        smtp.controller.start()
        stack.callback(smtp.controller.stop)
        env.setenv("SSL_CERT_FILE", str(ca))  # the mail server's certificate is checked
        for name, value in {
            "MAIL_USERNAME": "opsflow",
            "MAIL_PASSWORD": MAIL_PASSWORD,
            "OPS_CHAT_TOKEN": hook.url(),
            "SNOW_USERNAME": "admin",
            "SNOW_PASSWORD": SNOW_PASSWORD,
            "LAB_SSH_USERNAME": USER,
            "LAB_SSH_PRIVATE_KEY": ssh.user_key,
            "HOOK_TOKEN_TOKEN": HOOK_TOKEN,
        }.items():
            env.setenv(f"OPSFLOW_CRED_{name}", value)
        yield Peers(http, smtp, hook, tickets, ssh)
        assert tickets.problems == [], "the ticket server saw a request of the wrong shape"


# --- flows ---------------------------------------------------------------------------------


def n(node_id: str, type_: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "params": params}


def document(flow_id: str, nodes: list[dict[str, Any]], edges: str, **extra: Any) -> Flow:
    """Edges as 'a.port>b' separated by spaces."""
    wired = []
    for index, text in enumerate(edges.split()):
        source, target = text.split(">")
        node, port = source.split(".")
        wired.append({"id": f"e{index}", "from": node, "port": port, "to": target})
    doc = {"format": "opsflow.flow", "version": 1, "id": flow_id, **extra}
    doc |= {"nodes": nodes, "edges": wired}
    return parse_flow(json.dumps(doc), flow_id, default_catalog())


def body_flow(peers: Peers) -> Flow:
    """Called by `action.subflow` and `control.foreach`: tells the HTTP peer it ran."""
    return document(
        "body",
        [
            n("start", "trigger.manual"),
            n(
                "echo",
                "action.http",
                method="POST",
                url=peers.http.url("/json"),
                query={"from": "body", "host": "{{ inputs.host }}", "slot": "{{ inputs.slot }}"},
            ),
        ],
        "start.out>echo",
        inputs={"host": {"type": "string", "required": True}, "slot": {"type": "integer"}},
        outputs={
            "done": "{{ inputs.host }}:{{ inputs.slot }}",
            "status": "{{ nodes.echo.output.status }}",
        },
    )


def marker(work: Path, name: str) -> Path:
    return work / f"{name}-marker"


def main_flow(peers: Peers, work: Path) -> Flow:
    """A manual trigger, both conditions, an approval and every action and control type."""
    write_line = 'printf "%s" "$1" > "$2" && echo "{} $1"'
    nodes = [
        n("start", "trigger.manual"),
        n("probe", "action.http", url=peers.http.url("/json"),
          query={"from": "probe", "host": "{{ inputs.host }}"}),
        n("healthy", "condition.if",
          condition="nodes.probe.output.status == 200 and nodes.probe.output.json.ok"),
        n("sick", "action.set_vars", values={"sick": True}),
        n("remember", "action.set_vars",
          values={"host": "{{ inputs.host }}", "seen": "{{ nodes.probe.output.json.n }}"}),
        n("route", "condition.switch", value="inputs.severity",
          cases=[{"port": "low", "equals": "low"}, {"port": "high", "equals": "high"}]),
        n("calm", "action.set_vars", values={"calm": True}),
        n("ask", "control.approval", approvers=["alice"], timeout_s=20,
          message="Fix {{ vars.host }} ({{ inputs.severity }})?",
          form={"type": "object", "required": ["change"],
                "properties": {"change": {"type": "string", "pattern": "^CHG[0-9]+$"}}}),
        n("mail", "action.email", smtp_host="127.0.0.1", smtp_port=peers.smtp.port,
          security="starttls", credential="mail", from_addr="Opsflow <opsflow@example.com>",
          to=["oncall@example.com"], subject="{{ vars.host }} is being fixed",
          body="Approved by {{ nodes.ask.output.by }} under {{ nodes.ask.output.fields.change }}."),
        n("say", "action.chat", service="slack", webhook_credential="ops-chat",
          title="Opsflow", text="{{ vars.host }} is being fixed"),
        n("open_ticket", "action.ticket", system="servicenow", operation="create",
          base_url=peers.tickets.url(), credential="snow",
          fields={"short_description": "Disk full on {{ vars.host }}", "urgency": "2"}),
        n("post_back", "action.http", method="POST", url=peers.http.url("/json"),
          query={"from": "post_back"}, body_type="json",
          body={"host": "{{ vars.host }}", "ticket": "{{ nodes.open_ticket.output.id }}"}),
        n("remote", "action.ssh", host="127.0.0.1", port=peers.ssh.port, user=USER,
          credential="lab-ssh", connect_timeout_s=10,
          known_hosts=str(peers.ssh.known_hosts("every_node_known_hosts")),
          command=["sh", "-c", write_line.format("remote"), "sh", "{{ vars.host }}",
                   str(marker(work, "ssh"))]),
        n("local_cmd", "action.shell",
          command=["sh", "-c", write_line.format("local"), "sh", "{{ vars.host }}",
                   str(marker(work, "shell"))]),
        n("run_script", "action.script", language="python",
          body="import pathlib, sys\npathlib.Path(sys.argv[2]).write_text(sys.argv[1])\n"
               "print('script', sys.argv[1])\n",
          args=["{{ vars.host }}", str(marker(work, "script"))]),
        n("write_report", "action.file", operation="write",
          path=str(work / "reports" / "report.txt"),
          content="{{ vars.host }}: probe saw {{ vars.seen }}\n"),
        n("pause", "action.wait", duration_s=0.05),
        n("once", "action.subflow", flow="body.flow.json",
          inputs={"host": "{{ vars.host }}", "slot": 0}),
        n("each", "control.foreach", items="[vars.host, 'db-01']", flow="body.flow.json",
          inputs={"host": "{{ item }}", "slot": "{{ index }}"}, concurrency=2),
        {**n("wrap_up", "action.set_vars",
             values={"summary": "{{ nodes.remote.output.stdout | trim }}, "
                                "{{ nodes.each.output.count }} items"}), "join": "all"},
    ]  # fmt: skip
    actions = ["mail", "say", "open_ticket", "remote", "local_cmd", "run_script"]
    actions += ["write_report", "pause", "once", "each"]
    edges = (
        "start.out>probe probe.success>healthy healthy.true>remember healthy.false>sick "
        "remember.success>route route.low>calm route.high>ask open_ticket.success>post_back "
        + " ".join(f"ask.approved>{a}" for a in actions)
        + " "
        + " ".join(f"{a}.{'done' if a == 'each' else 'success'}>wrap_up" for a in actions)
        + " post_back.success>wrap_up"
    )
    return document(
        "main",
        nodes,
        edges,
        inputs={
            "host": {"type": "string", "required": True},
            "severity": {"type": "string", "enum": ["low", "high"], "default": "low"},
        },
        outputs={"ticket": "{{ nodes.open_ticket.output.id }}", "summary": "{{ vars.summary }}"},
        credentials={
            "mail": {"kind": "smtp"},
            "ops-chat": {"kind": "token"},
            "snow": {"kind": "basic"},
            "lab-ssh": {"kind": "ssh-key"},
        },
        settings={"file_roots": [str(work / "reports")], "timeout_s": 60},
    )


def triggers_flow(peers: Peers, drop: Path) -> Flow:
    """One trigger of each kind `opsflow serve` starts runs for, each with its own first step."""
    nodes = [
        n("on_webhook", "trigger.webhook", path="/alerts/disk-full", credential="hook-token",
          body_schema={"type": "object", "required": ["host"]}),
        n("on_schedule", "trigger.schedule", cron="0 6 * * mon-fri", timezone="Europe/Berlin"),
        n("on_file", "trigger.file", folder=str(drop), glob="*.csv", debounce_s=0.5),
        n("on_poll", "trigger.poll", url=peers.http.url("/status/503"), interval_s=30,
          timeout_s=5),
        n("from_webhook", "action.set_vars",
          values={"source": "webhook", "detail": "{{ trigger.body.host }}"}),
        n("from_schedule", "action.set_vars",
          values={"source": "schedule", "detail": "{{ trigger.scheduled_for }}"}),
        n("read_drop", "action.file", operation="read", path="{{ trigger.path }}"),
        n("from_file", "action.set_vars",
          values={"source": "file", "detail": "{{ nodes.read_drop.output.content | trim }}"}),
        n("from_poll", "action.set_vars",
          values={"source": "poll", "detail": "{{ trigger.url }} is {{ trigger.state }}"}),
        n("report", "action.http", method="POST", url=peers.http.url("/json"),
          query={"from": "trigger", "source": "{{ vars.source }}", "detail": "{{ vars.detail }}"}),
    ]  # fmt: skip
    edges = (
        "on_webhook.out>from_webhook on_schedule.out>from_schedule on_file.out>read_drop "
        "read_drop.success>from_file on_poll.out>from_poll from_webhook.success>report "
        "from_schedule.success>report from_file.success>report from_poll.success>report"
    )
    return document(
        "triggers",
        nodes,
        edges,
        credentials={"hook-token": {"kind": "token"}},
        settings={"file_roots": [str(drop)], "timeout_s": 30},
    )


def payloads(peers: Peers, drop: Path) -> dict[str, Any]:
    """What `opsflow serve` hands the runner (see opsflow.serve.*), by trigger node."""
    return {
        "on_webhook": {  # serve/webhooks.py: the Authorization header is never passed on
            "body": {"host": "web-03", "severity": "high"},
            "headers": {"content-type": "application/json", "x-alert": "disk"},
            "method": "POST",
            "path": "/alerts/disk-full",
            "query": {"source": "grafana"},
        },
        "on_schedule": {  # serve/schedule.py
            "scheduled_for": "2026-03-02T06:00:00+01:00",
            "fired_at": "2026-03-02T06:00:01+01:00",
        },
        "on_file": {  # serve/filewatch.py
            "path": str(drop / "hosts.csv"),
            "event": "created",
            "folder": str(drop),
            "name": "hosts.csv",
        },
        "on_poll": {  # serve/poll.py
            "url": peers.http.url("/status/503"),
            "state": "down",
            "previous": "up",
            "status": 503,
            "error": None,
            "checked_at": "2026-03-02T05:00:00+00:00",
        },
    }


TRIGGER_FIRST_STEP = {
    "on_webhook": "from_webhook",
    "on_schedule": "from_schedule",
    "on_file": "from_file",
    "on_poll": "from_poll",
}


# --- running them --------------------------------------------------------------------------


@dataclass
class TriggerRun:
    payload: Any
    result: RunResult
    events: list[Event]
    delivered: dict[str, list[Any]]


@dataclass
class Runs:
    """Everything one mode (real or dry) did, and what the peers received meanwhile."""

    work: Path
    flows: dict[str, Flow]
    main: RunResult
    #: Events of the main run and of the runs it started, in order.
    events: list[Event]
    stored: dict[str, NodeResult]
    children: list[RunRecord]
    approval: ApprovalRecord | None
    refusals: list[str]
    delivered: dict[str, list[Any]]
    triggers: dict[str, TriggerRun] = field(default_factory=dict)

    def output(self, node: str) -> Any:
        [done] = [
            e
            for e in self.events
            if e.run_id == self.main.run_id and e.kind == "node_succeeded" and e.node == node
        ]
        return done.data["output"]


def _run_everything(peers: Peers, work: Path, *, dry_run: bool) -> Runs:
    (work / "reports").mkdir(parents=True)
    drop = work / "drop"
    drop.mkdir()
    (drop / "hosts.csv").write_text("web-04\n")
    save_flow(body_flow(peers), work / "body.flow.json")
    main = main_flow(peers, work)
    save_flow(main, work / "main.flow.json")
    options = RunOptions(dry_run=dry_run, approval_poll_s=0.05, run_timeout_s=60)
    events: list[Event] = []
    asked = threading.Event()

    def listen(event: Event) -> None:
        events.append(event)
        if event.kind == "approval_requested" and event.node == "ask":
            asked.set()

    control = RunControl()
    refusals: list[str] = []

    def decide() -> None:
        """An approver answers through the API once the approval is in the journal."""
        if not asked.wait(20):
            return
        try:
            control.decide("ask", "approved", by="mallory", fields={"change": CHANGE})
        except OpsflowError as exc:
            refusals.append(str(exc))
        try:
            control.decide("ask", "approved", by="alice", fields={"change": "nope"})
        except OpsflowError as exc:
            refusals.append(str(exc))
        control.decide("ask", "approved", by="alice", comment="go ahead", fields={"change": CHANGE})

    approver = threading.Thread(target=decide, daemon=True)
    with Journal(work / "journal.sqlite") as journal:
        runner = LocalRunner(
            main,
            flow_path=work / "main.flow.json",
            journal=journal,
            options=options,
            listeners=[listen],
        )
        if not dry_run:
            approver.start()
        before = peers.mark()
        result = asyncio.run(runner.run(inputs={"host": HOST, "severity": "high"}, control=control))
        delivered = peers.since(before)
        if not dry_run:
            approver.join(5)
        runs = Runs(
            work=work,
            flows={"main": main, "body": body_flow(peers)},
            main=result,
            events=events,
            stored=journal.node_results(result.run_id),
            children=[r for r in journal.list_runs(limit=50) if r.parent == result.run_id],
            approval=journal.approval(result.run_id, "ask"),
            refusals=refusals,
            delivered=delivered,
        )
        triggers = triggers_flow(peers, drop)
        runs.flows["triggers"] = triggers
        trigger_runner = LocalRunner(triggers, journal=journal, options=options)
        for trigger, payload in payloads(peers, drop).items():
            seen: list[Event] = []
            trigger_runner.listeners = [seen.append]
            before = peers.mark()
            started = asyncio.run(trigger_runner.run(trigger=trigger, payload=payload))
            runs.triggers[trigger] = TriggerRun(payload, started, seen, peers.since(before))
    return runs


@pytest.fixture(scope="module")
def real(peers: Peers, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return _run_everything(peers, tmp_path_factory.mktemp("real"), dry_run=False)


@pytest.fixture(scope="module")
def dry(peers: Peers, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return _run_everything(peers, tmp_path_factory.mktemp("dry"), dry_run=True)


#: How the main run goes, real or dry: node -> port taken; the others are skipped.
MAIN_ROUTE = {
    "start": "out",
    "probe": "success",
    "healthy": "true",
    "remember": "success",
    "route": "high",
    "ask": "approved",
    **{
        node: "success"
        for node in ("mail", "say", "open_ticket", "post_back", "remote", "local_cmd")
    },
    **{node: "success" for node in ("run_script", "write_report", "pause", "once", "wrap_up")},
    "each": "done",
}
MAIN_SKIPPED = {"sick", "calm"}
#: Nodes with side effects: a dry run shows them, never runs them.
SIMULATED = {
    "mail", "say", "open_ticket", "post_back", "remote", "local_cmd", "run_script",
    "write_report", "once", "each",
}  # fmt: skip


def _states(result: RunResult) -> dict[str, tuple[str, str | None]]:
    return {node: (report.state, report.port) for node, report in result.nodes.items()}


def _expected_states() -> dict[str, tuple[str, str | None]]:
    expected: dict[str, tuple[str, str | None]] = {
        node: ("succeeded", port) for node, port in MAIN_ROUTE.items()
    }
    return expected | {node: ("skipped", None) for node in MAIN_SKIPPED}


# --- the main flow for real ----------------------------------------------------------------


def test_real_run_takes_every_node_through_its_route(real: Runs) -> None:
    assert real.main.status == "succeeded", real.main.error
    assert _states(real.main) == _expected_states()
    stored = {node: (r.state, r.port) for node, r in real.stored.items()}
    assert stored == _expected_states(), "the journal agrees"
    assert real.main.outputs == {"ticket": NUMBER, "summary": f"remote {HOST}, 2 items"}
    assert real.output("healthy") == {"value": True}
    assert real.output("route") == {"value": "high"}
    assert real.output("remember") == {"host": HOST, "seen": 1}
    assert real.output("pause") == {"waited_s": 0.05}
    assert (real.main.nodes["pause"].duration_s or 0) >= 0.05, "it really waited"


def test_real_run_reaches_every_peer(real: Runs, peers: Peers) -> None:
    delivered = real.delivered
    # HTTP: the GET probe, the POST after the ticket, and the body flow three times.
    http = [
        (r["method"], {k: v[0] for k, v in r["query"].items()}, r["body"])
        for r in delivered["http"]
    ]
    assert sorted(http, key=repr) == sorted(
        [
            ("GET", {"from": "probe", "host": HOST}, b""),
            ("POST", {"from": "post_back"}, json.dumps({"host": HOST, "ticket": NUMBER}).encode()),
            ("POST", {"from": "body", "host": HOST, "slot": "0"}, b""),
            ("POST", {"from": "body", "host": HOST, "slot": "0"}, b""),
            ("POST", {"from": "body", "host": "db-01", "slot": "1"}, b""),
        ],
        key=repr,
    )
    post_back = next(r for r in delivered["http"] if r["query"].get("from") == ["post_back"])
    assert post_back["headers"]["Content-Type"] == "application/json"
    # E-mail: one message over STARTTLS after logging in with the environment credential.
    [(sender, recipients, message)] = delivered["mail"]
    assert sender == "opsflow@example.com" and recipients == ["oncall@example.com"]
    assert message["Subject"] == f"{HOST} is being fixed"
    assert message.get_content().strip() == f"Approved by alice under {CHANGE}."
    assert real.output("mail")["accepted"] == ["oncall@example.com"]
    # Chat: the Slack payload, posted to the URL held by the token credential.
    assert delivered["chat"] == [{"text": f"*Opsflow*\n{HOST} is being fixed"}]
    assert real.output("say")["status"] == 200
    # Ticket: one ServiceNow create with basic auth.
    [created] = delivered["ticket"]
    assert (created["method"], created["path"], created["auth"]) == (
        "POST",
        "/api/now/table/incident",
        "basic",
    )
    assert created["body"] == {"short_description": f"Disk full on {HOST}", "urgency": "2"}
    assert real.output("open_ticket")["id"] == NUMBER
    # SSH, shell and script: real processes, each wrote its marker and printed its line.
    for node, name, line in (
        ("remote", "ssh", f"remote {HOST}\n"),
        ("local_cmd", "shell", f"local {HOST}\n"),
        ("run_script", "script", f"script {HOST}\n"),
    ):
        assert real.output(node)["stdout"] == line, node
        assert real.output(node)["exit_code"] == 0, node
        assert marker(real.work, name).read_text() == HOST, node
    assert real.output("remote")["host"] == "127.0.0.1"
    # File: written inside the flow's file root.
    assert (real.work / "reports" / "report.txt").read_text() == f"{HOST}: probe saw 1\n"
    assert real.output("write_report")["path"] == str(real.work / "reports" / "report.txt")
    # No secret reached the journal or the events.
    text = json.dumps([e.to_json() for e in real.events])
    for stored in real.work.glob("journal.sqlite*"):
        text += stored.read_bytes().decode("latin-1")
    for secret in (MAIL_PASSWORD, SNOW_PASSWORD, HOOK_TOKEN, peers.hook.url()):
        assert secret not in text
    assert peers.ssh.user_key.splitlines()[1] not in text
    assert _basic("admin", SNOW_PASSWORD).split()[1] not in text


def test_real_run_approval_is_decided_through_the_api(real: Runs) -> None:
    assert real.refusals[0] == "'mallory' may not decide this approval; approvers: alice"
    assert "form field 'change' must match the pattern" in real.refusals[1]
    assert len(real.refusals) == 2
    approval = real.approval
    assert approval is not None and approval.decision == "approved"
    assert (approval.decided_by, approval.fields, approval.comment) == (
        "alice",
        {"change": CHANGE},
        "go ahead",
    )
    assert approval.message == f"Fix {HOST} (high)?"
    kinds = [e.kind for e in real.events if e.node == "ask" and e.run_id == real.main.run_id]
    assert kinds[-3:] == ["node_waiting", "approval_decided", "node_succeeded"]
    assert real.output("ask")["fields"] == {"change": CHANGE}


def test_real_run_calls_the_sub_flow_and_goes_over_the_list(real: Runs) -> None:
    assert real.output("once")["outputs"] == {"done": f"{HOST}:0", "status": 200}
    each = real.output("each")
    assert (each["count"], each["failed"]) == (2, 0)
    assert [r["outputs"] for r in each["results"]] == [
        {"done": f"{HOST}:0", "status": 200},
        {"done": "db-01:1", "status": 200},
    ]
    assert len(real.children) == 3 and {c.flow_id for c in real.children} == {"body"}
    assert all(c.state == "succeeded" and not c.dry_run for c in real.children)


# --- the main flow as a dry run ------------------------------------------------------------


def test_dry_run_takes_the_same_route_with_real_decisions(dry: Runs) -> None:
    assert dry.main.status == "succeeded", dry.main.error
    assert _states(dry.main) == _expected_states()
    # Side-effect-free nodes ran for real: the GET, both conditions, the variables.
    assert dry.output("probe")["status"] == 200 and dry.output("probe")["json"]["ok"] is True
    assert dry.output("healthy") == {"value": True}
    assert dry.output("route") == {"value": "high"}, "a real decision, not the first port"
    assert dry.output("remember") == {"host": HOST, "seen": 1}


def test_dry_run_shows_side_effects_without_reaching_the_peers(dry: Runs) -> None:
    types = {node.id: node.type for node in dry.flows["main"].nodes}
    for node in SIMULATED:
        output = dry.output(node)
        assert output["dry_run"] is True and output["would_run"] == types[node], node
    # What they would do is shown rendered (the e-mail is not: its body reads the approver's
    # answers, which a dry-run approval does not invent, so its parameters are shown as written).
    assert dry.output("say")["params"]["text"] == f"{HOST} is being fixed"
    assert (
        dry.output("open_ticket")["params"]["fields"]["short_description"] == f"Disk full on {HOST}"
    )
    assert dry.output("remote")["params"]["command"][4] == HOST
    assert dry.output("each")["params"]["items"] == [HOST, "db-01"]
    assert set(dry.output("pause")) == {"dry_run", "would_wait"}
    assert dry.output("pause")["would_wait"]["duration_s"] == 0.05
    assert (dry.main.nodes["pause"].duration_s or 0) < 0.05, "it did not wait"
    ask = dry.output("ask")
    assert ask["dry_run"] is True and ask["decision"] == "approved"
    assert ask["would_ask"] == ["alice"]
    assert dry.approval is None, "nobody was asked"
    assert "approval_requested" not in {e.kind for e in dry.events}
    # Only the GET probe reached a peer.
    [probe] = dry.delivered["http"]
    assert probe["method"] == "GET" and probe["query"]["from"] == ["probe"]
    assert dry.delivered["mail"] == dry.delivered["chat"] == dry.delivered["ticket"] == []
    for name in ("ssh", "shell", "script"):
        assert not marker(dry.work, name).exists(), name
    assert list((dry.work / "reports").iterdir()) == []
    assert dry.children == [], "no sub-flow or for-each run was started"


# --- triggers: each one starts a run with the payload `opsflow serve` sends ----------------


EXPECTED_DETAIL: dict[str, Callable[[TriggerRun], str]] = {
    "on_webhook": lambda run: "web-03",
    "on_schedule": lambda run: "2026-03-02T06:00:00+01:00",
    "on_file": lambda run: "web-04",
    "on_poll": lambda run: f"{run.payload['url']} is down",
}


@pytest.mark.parametrize("mode", ["real", "dry"])
@pytest.mark.parametrize("trigger", sorted(TRIGGER_FIRST_STEP))
def test_each_trigger_starts_the_run_with_its_payload(
    trigger: str, mode: str, request: pytest.FixtureRequest
) -> None:
    runs: Runs = request.getfixturevalue(mode)
    run = runs.triggers[trigger]
    assert run.result.status == "succeeded", run.result.error
    first = TRIGGER_FIRST_STEP[trigger]
    ran = {trigger: "out", first: "success", "report": "success"}
    if trigger == "on_file":
        ran["read_drop"] = "success"
    expected: dict[str, tuple[str, str | None]] = {
        node.id: ("skipped", None) for node in runs.flows["triggers"].nodes
    }
    expected |= {node: ("succeeded", port) for node, port in ran.items()}
    assert _states(run.result) == expected
    started = next(e for e in run.events if e.kind == "run_started")
    assert started.data["trigger"] == trigger and started.data["payload"] == run.payload
    outputs = {e.node: e.data["output"] for e in run.events if e.kind == "node_succeeded"}
    assert outputs[trigger] == run.payload, "the trigger hands its payload on"
    detail = EXPECTED_DETAIL[trigger](run)
    assert outputs[first] == {"source": trigger.removeprefix("on_"), "detail": detail}
    if trigger == "on_file":  # reading is free of side effects: it runs in a dry run too
        assert outputs["read_drop"]["content"] == "web-04\n"
    query = {"from": "trigger", "source": trigger.removeprefix("on_"), "detail": detail}
    if mode == "real":
        [posted] = run.delivered["http"]
        assert posted["method"] == "POST"
        assert {k: v[0] for k, v in posted["query"].items()} == query
        assert outputs["report"]["status"] == 200
    else:
        assert run.delivered["http"] == [], "a dry run does not POST"
        assert outputs["report"]["dry_run"] is True
        assert outputs["report"]["params"]["query"] == query
    assert run.delivered["mail"] == run.delivered["chat"] == run.delivered["ticket"] == []


# --- coverage ------------------------------------------------------------------------------


def _exercised(runs: Runs) -> set[str]:
    """Types of the nodes that succeeded in the runs of one mode."""
    types: set[str] = set()
    results = [("main", runs.main)] + [("triggers", t.result) for t in runs.triggers.values()]
    for flow_name, result in results:
        by_id = {node.id: node.type for node in runs.flows[flow_name].nodes}
        types |= {by_id[node] for node, r in result.nodes.items() if r.state == "succeeded"}
    return types


def test_every_catalog_type_ran_for_real_and_dry(real: Runs, dry: Runs) -> None:
    catalog = {spec.type for spec in default_catalog()}
    assert len(catalog) >= 20
    for mode, runs in (("real", real), ("dry", dry)):
        exercised = _exercised(runs)
        assert exercised == catalog, (
            f"{mode}: not covered: {sorted(catalog - exercised)}; "
            f"unknown: {sorted(exercised - catalog)}"
        )
