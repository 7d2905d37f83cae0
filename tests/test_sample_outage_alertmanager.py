"""The web-outage sample behind a real Alertmanager, as `opsflow serve` hosts it.

Real peers on loopback: Alertmanager (configured from the shipped
`sample_flows/alertmanager.yml`, with short timings), `opsflow serve` with the sample, an
OpenSSH sshd that the restart step logs in to (its ForceCommand records the command instead
of running it), and one small HTTP server playing ServiceNow's Table API, the Slack
incoming webhook and the web hosts' health endpoints. What happened is read back from the
run journal, the services' request logs and Alertmanager's own metrics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from base64 import b64encode
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from opsflow.engine.journal import Journal, RunRecord
from tests.flowdocs import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="loopback 127.0.0.2, OpenSSH")

SAMPLES = ROOT / "sample_flows"
SAMPLE = SAMPLES / "web-outage-remediation.flow.json"
BODIES = SAMPLES / "web-outage-remediation"
ALERTMANAGER_YML = SAMPLES / "alertmanager.yml"
OPSFLOW = [sys.executable, "-m", "opsflow"]
USER = getpass.getuser()
TOKEN = "am-webhook-" + "7f3a9c" * 6
SNOW_USER, SNOW_PASSWORD = "opsflow.integration", "sn0w-Pa55-for-tests"
#: Alert A names its host in a label (its instance is host:port of some other name);
#: alert B is a blackbox probe whose instance is the URL it probed.
HOST_A, HOST_B = "127.0.0.2", "127.0.0.1"
#: The restart (sshd log) and the health endpoint agree on what "restarted" means.
RESTART = "sudo systemctl restart nginx"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until(what: str, check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        time.sleep(0.1)


def _binary(*names: str) -> str | None:
    """The first of these programs on PATH or in the system's sbin folders."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return next(filter(None, (shutil.which(name, path=search) for name in names)), None)


# -- the SSH server: records what it is asked to run ----------------------------------------


@dataclasses.dataclass
class Sshd:
    port: int
    known_hosts: Path
    private_key: str
    log: Path

    def commands(self) -> list[tuple[str, str]]:
        """(server address, command) per login, in order."""
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text().splitlines():
            connection, _, command = line.partition("|")
            found.append((connection.split()[2], command))
        return found


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    binary = _binary("sshd")
    if binary is None:
        pytest.fail("sshd is missing: install openssh-server (CI does) to run this test")
    folder = tmp_path / "sshd"
    folder.mkdir()
    for name in ("host_key", "user_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", str(folder / name)],
            check=True,
            capture_output=True,
        )
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    log = folder / "commands.log"
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress {HOST_B}\nListenAddress {HOST_A}\n"
        f"HostKey {folder / 'host_key'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
        f"PidFile {folder / 'sshd.pid'}\nStrictModes no\nUsePAM no\n"
        "PasswordAuthentication no\nPubkeyAuthentication yes\n"
        f"PermitRootLogin prohibit-password\nAllowUsers {USER}\n"
        # Nothing the flow sends is run: the command is written down and "succeeds".
        f'ForceCommand echo "$SSH_CONNECTION|$SSH_ORIGINAL_COMMAND" >> {log}\n'
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    with open(folder / "sshd.log", "wb") as errors:
        proc = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=errors
        )
    try:
        try:
            _wait_until(
                f"sshd on {HOST_A} and {HOST_B} port {port}",
                lambda: all(_connects(address, port) for address in (HOST_A, HOST_B)),
                10,
            )
        except AssertionError as exc:
            pytest.fail(f"{exc}: {(folder / 'sshd.log').read_text(errors='replace')}")
        key_type, key = (folder / "host_key.pub").read_text().split()[:2]
        known_hosts = folder / "known_hosts"
        known_hosts.write_text(
            "".join(f"[{address}]:{port} {key_type} {key}\n" for address in (HOST_A, HOST_B))
        )
        yield Sshd(port, known_hosts, (folder / "user_key").read_text(), log)
    finally:
        proc.kill()
        proc.wait()


def _connects(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


# -- ServiceNow, Slack and the health endpoints ---------------------------------------------


class Services:
    """One loopback server: ServiceNow's Table API (incident), a Slack webhook, /healthz."""

    def __init__(self, sshd: Sshd) -> None:
        self.sshd = sshd
        self.lock = threading.Lock()
        self.incidents: dict[str, dict[str, Any]] = {}
        self.snow: list[dict[str, Any]] = []
        self.chats: list[Any] = []
        self.health: list[int] = []
        self.problems: list[str] = []
        self.httpd = ThreadingHTTPServer((HOST_B, 0), _handler(self))
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{HOST_B}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def requests(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.snow if r["method"] == method]

    # ServiceNow Table API: GET with an encoded query, POST to create, PATCH by sys_id.
    def table(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        collection = "/api/now/table/incident"
        with self.lock:
            self.snow.append({"method": method, "path": path, "query": query, "body": body})
            if method == "GET" and path == collection:
                matches = [r for r in self.incidents.values() if _matches(r, query)]
                limit = int(query.get("sysparm_limit", "10000"))
                fields = query.get("sysparm_fields", "").split(",")
                shown = [
                    {k: r[k] for k in fields if k in r} if fields != [""] else r for r in matches
                ]
                return 200, {"result": shown[:limit]}
            if method == "POST" and path == collection:
                if not isinstance(body, dict) or not body.get("short_description"):
                    return 400, {"error": {"message": "short_description is mandatory"}}
                sys_id = uuid.uuid4().hex
                record = {
                    **{k: str(v) for k, v in body.items()},
                    "sys_id": sys_id,
                    "number": f"INC{10041 + len(self.incidents):07d}",
                    "state": "1",
                    "active": "true",
                }
                self.incidents[sys_id] = record
                return 201, {"result": record}
            if method == "PATCH" and path.startswith(collection + "/"):
                found = self.incidents.get(path.rsplit("/", 1)[1])
                if found is None:
                    return 404, {"error": {"message": "No Record found"}, "status": "failure"}
                if body.get("state") == "6" and not (
                    body.get("close_code") and body.get("close_notes")
                ):
                    return 403, {"error": {"message": "Data Policy Exception: close fields"}}
                found.update({k: str(v) for k, v in body.items()})
                # Resolved (6) incidents stay active until they are closed (7).
                found["active"] = "false" if found["state"] in ("7", "8") else "true"
                return 200, {"result": found}
        return 404, {"error": {"message": f"no route {method} {path}"}}

    def healthz(self) -> int:
        """Host B answers 503 until nginx was "restarted" on it, then 200."""
        restarted = any(a == HOST_B and c == RESTART for a, c in self.sshd.commands())
        status = 200 if restarted else 503
        with self.lock:
            self.health.append(status)
        return status


def _matches(record: dict[str, Any], query: dict[str, str]) -> bool:
    for term in query.get("sysparm_query", "").split("^"):
        if "!=" in term:
            name, value = term.split("!=", 1)
            if record.get(name) == value:
                return False
        elif "=" in term:
            name, value = term.split("=", 1)
            if record.get(name) != value:
                return False
    return True


def _handler(services: Services) -> type[BaseHTTPRequestHandler]:
    basic = "Basic " + b64encode(f"{SNOW_USER}:{SNOW_PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any, kind: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            if parts.path == "/healthz":
                self._answer(services.healthz(), b"", "text/plain")
            elif parts.path == "/chat" and self.command == "POST":
                with services.lock:
                    services.chats.append(body)
                self._answer(200, b"ok", "text/plain")
            elif parts.path.startswith("/api/now/"):
                if self.headers.get("Authorization") != basic:
                    self._answer(401, {"error": {"message": "User Not Authenticated"}})
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                self._answer(*services.table(self.command, parts.path, query, body))
            else:
                services.problems.append(f"unexpected {self.command} {self.path}")
                self._answer(404, {"error": {"message": "not found"}})

        do_GET = do_POST = do_PATCH = _handle

    return Handler


@pytest.fixture
def services(sshd: Sshd) -> Iterator[Services]:
    running = Services(sshd)
    try:
        yield running
    finally:
        running.close()


# -- the sample, deployed with this test's addresses and short timings ------------------------


#: (file, node, key path) -> (what the sample says, what this test deploys). Only ports,
#: addresses, paths, the login user and waits change; a sample that no longer says the
#: expected value fails here instead of silently testing something else.
def _edits(sshd: Sshd, services: Services) -> dict[tuple[str, str | None, str], tuple[Any, Any]]:
    top, check = "web-outage-remediation.flow.json", "check-alert.flow.json"
    restart, verify = "restart-nginx.flow.json", "verify-host.flow.json"
    return {
        (top, None, "vars.servicenow_url"): ("https://example.service-now.com", services.url("")),
        (top, "wait_for_start", "params.duration_s"): (20, 1),
        (check, "check_endpoint", "retry.backoff_s"): (15, 0.1),
        (check, "find_open_incident", "retry.backoff_s"): (5, 0.1),
        (verify, "verify_endpoint", "retry.backoff_s"): (10, 0.1),
        (restart, "restart", "params.port"): (None, sshd.port),
        (restart, "restart", "params.user"): ("opsflow", USER),
        (restart, "restart", "params.known_hosts"): (
            "/etc/opsflow/known_hosts",
            str(sshd.known_hosts),
        ),
        (restart, "restart", "retry.backoff_s"): (10, 0.1),
    }


def deploy(folder: Path, sshd: Sshd, services: Services) -> Path:
    documents = {SAMPLE.name: json.loads(SAMPLE.read_text())}
    for body in BODIES.glob("*.flow.json"):
        documents[body.name] = json.loads(body.read_text())
    for (name, node_id, path), (old, new) in _edits(sshd, services).items():
        document = documents[name]
        target = (
            document
            if node_id is None
            else next(n for n in document["nodes"] if n["id"] == node_id)
        )
        *parents, key = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        assert target.get(key) == old, f"{name} {node_id} {path} is {target.get(key)!r}"
        target[key] = new
    (folder / BODIES.name).mkdir(parents=True)
    for name, document in documents.items():
        where = folder / name if name == SAMPLE.name else folder / BODIES.name / name
        where.write_text(json.dumps(document, indent=2))
    return folder / SAMPLE.name


# -- Alertmanager ---------------------------------------------------------------------------


def alertmanager_config(serve_port: int, token_file: Path) -> str:
    """The shipped example with this test's receiver address, token file and timings."""
    text = ALERTMANAGER_YML.read_text()
    for old, new in [
        (
            "http://opsflow.example.com:8080/alerts/web-down",
            f"http://127.0.0.1:{serve_port}/alerts/web-down",
        ),
        ("/etc/prometheus/opsflow-web-outage.token", str(token_file)),
        ("group_wait: 30s", "group_wait: 1s"),
        ("group_interval: 5m", "group_interval: 1s"),
        # Long enough for the first run (checks, restarts, warm-up, verification) to end.
        ("repeat_interval: 4h", "repeat_interval: 6s"),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


class Alertmanager:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            f"{self.base}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status == 200

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and 'integration="webhook"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total


@contextlib.contextmanager
def running(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as output:
        proc = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def alert(labels: dict[str, str], summary: str) -> dict[str, Any]:
    """A firing alert as Prometheus posts it (Alertmanager adds startsAt and endsAt)."""
    return {
        "labels": {"alertname": "WebsiteDown", "severity": "critical", "team": "web", **labels},
        "annotations": {"summary": summary},
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=probe_success%3D%3D0",
    }


def resolved(posted: dict[str, Any]) -> dict[str, Any]:
    """The same alert, ended a second ago: Alertmanager takes it as resolved."""
    ended = datetime.now(UTC) - timedelta(seconds=1)
    return {**posted, "endsAt": ended.isoformat().replace("+00:00", "Z")}


# -- the test -------------------------------------------------------------------------------


@pytest.mark.slow
def test_alertmanager_notifications_drive_the_outage_sample(
    tmp_path: Path, sshd: Sshd, services: Services
) -> None:
    binary = _binary("alertmanager", "prometheus-alertmanager")
    if binary is None:
        pytest.fail("Alertmanager is missing: install prometheus-alertmanager (CI does)")
    began = time.monotonic()
    flow = deploy(tmp_path / "flows", sshd, services)
    store = tmp_path / "runs.sqlite"
    env = {
        **os.environ,
        "OPSFLOW_CREDENTIALS_FILE": str(tmp_path / "credentials.json"),
        "OPSFLOW_CRED_ALERTMANAGER_WEBHOOK_TOKEN": TOKEN,
        "OPSFLOW_CRED_OPS_CHAT_WEBHOOK_TOKEN": services.url("/chat"),
        "OPSFLOW_CRED_SERVICENOW_API_USERNAME": SNOW_USER,
        "OPSFLOW_CRED_SERVICENOW_API_PASSWORD": SNOW_PASSWORD,
        "OPSFLOW_CRED_WEB_SSH_USERNAME": USER,
        "OPSFLOW_CRED_WEB_SSH_PRIVATE_KEY": sshd.private_key,
    }
    env.pop("OPSFLOW_DEBUG", None)
    serve_log = tmp_path / "serve.log"
    serve_args = [*OPSFLOW, "serve", str(flow), "--port", "0", "--store", str(store)]
    with running(serve_args, serve_log, env) as serve:
        listening = _wait_until(
            "opsflow serve to listen",
            lambda: (
                serve.poll() is None
                and re.search(r"webhooks on http://127\.0\.0\.1:(\d+)", serve_log.read_text())
            ),
        )
        token_file = tmp_path / "webhook.token"
        token_file.write_text(TOKEN + "\n")
        token_file.chmod(0o600)
        config = tmp_path / "alertmanager.yml"
        config.write_text(alertmanager_config(int(listening.group(1)), token_file))
        am_port = _free_port()
        am_args = [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ]
        with running(am_args, tmp_path / "alertmanager.log") as am_proc:
            am = Alertmanager(am_port)
            _wait_until("Alertmanager to be ready", lambda: am_proc.poll() is None and _ready(am))
            outcome = _drive(am, store, services)
            # Every notification Alertmanager sent was accepted and started exactly one run.
            _wait_until(
                "one run per webhook notification",
                lambda: am.metric("alertmanager_notifications_total") == len(_roots(store)),
                5,
            )
            assert am.metric("alertmanager_notifications_failed_total") == 0
        serve.terminate()
        assert serve.wait(timeout=10) == 0
    assert services.problems == []
    _check(outcome, store, sshd, services)
    print(f"\noutage sample behind Alertmanager: {time.monotonic() - began:.1f}s")


def _ready(am: Alertmanager) -> bool:
    try:
        with urllib.request.urlopen(f"{am.base}/-/ready", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@dataclasses.dataclass
class Outcome:
    fingerprints: dict[str, str]  # by host
    first: RunRecord
    repeat: RunRecord
    mixed: RunRecord
    resolved: RunRecord


def _roots(store: Path) -> list[RunRecord]:
    if not store.exists():
        return []
    with Journal(store) as journal:
        runs = journal.list_runs(flow_id="web-outage-remediation", limit=1000)
    return sorted((r for r in runs if r.parent is None), key=lambda r: r.started_at)


def _finished(store: Path, accept: Callable[[RunRecord], bool]) -> RunRecord | None:
    """The earliest run that `accept`s, once it has finished."""
    run = next((r for r in _roots(store) if accept(r)), None)
    return run if run is not None and run.finished_at is not None else None


def _host(labels: dict[str, str]) -> str:
    """The host this test means by an alert (its own bookkeeping, not the flow's rule)."""
    return labels.get("host") or urlsplit(labels["instance"]).hostname or ""


def _statuses(run: RunRecord) -> dict[str, str]:
    """Alert status by host, as this notification reported it."""
    return {_host(a["labels"]): a["status"] for a in run.payload["body"]["alerts"]}


def _drive(am: Alertmanager, store: Path, services: Services) -> Outcome:
    health_b = services.url("/healthz")
    firing_a = alert(
        {"host": HOST_A, "instance": "web-01.example.com:443", "job": "blackbox-tcp"},
        "web-01 does not answer on :443",
    )
    firing_b = alert({"instance": health_b, "job": "blackbox"}, f"{health_b} fails its probe")
    am.post_alerts([firing_a, firing_b])

    # 1. One notification with both hosts firing.
    first = _wait_until(
        "the first notification's run",
        lambda: _finished(store, lambda r: True),
    )
    assert _statuses(first) == {HOST_A: "firing", HOST_B: "firing"}
    fingerprints = {_host(a["labels"]): a["fingerprint"] for a in first.payload["body"]["alerts"]}
    # 2. Alertmanager repeats the unchanged group after repeat_interval.
    repeat = _wait_until(
        "the repeated notification's run",
        lambda: _finished(store, lambda r: r.started_at > first.started_at),
    )
    assert repeat.started_at > (first.finished_at or 0), "the repeat overlapped the first run"
    assert _statuses(repeat) == {HOST_A: "firing", HOST_B: "firing"}

    # 3. A resolves while B still fires: a firing notification that holds a resolved alert.
    am.post_alerts([resolved(firing_a)])
    mixed = _wait_until(
        "the run of the notification with A resolved",
        lambda: _finished(store, lambda r: _statuses(r).get(HOST_A) == "resolved"),
    )
    assert mixed.payload["body"]["status"] == "firing"
    assert _statuses(mixed) == {HOST_A: "resolved", HOST_B: "firing"}

    # 4. B resolves: a resolved notification.
    am.post_alerts([resolved(firing_b)])
    last = _wait_until(
        "the run of the resolved notification",
        lambda: _finished(store, lambda r: r.payload["body"]["status"] == "resolved"),
    )
    assert _statuses(last) == {HOST_B: "resolved"}
    return Outcome(fingerprints, first, repeat, mixed, last)


def _children(journal: Journal, run: RunRecord, flow_id: str) -> list[RunRecord]:
    return [r for r in journal.list_runs(flow_id=flow_id, limit=1000) if r.parent == run.id]


def _results(journal: Journal, run: RunRecord, node: str) -> list[dict[str, Any]]:
    result = journal.node_results(run.id).get(node)
    if result is None or result.state == "skipped":
        return []
    return list(result.output["results"])


def _check(outcome: Outcome, store: Path, sshd: Sshd, services: Services) -> None:
    fp = outcome.fingerprints
    with Journal(store) as journal:
        roots = _roots(store)
        assert {r.state for r in roots} == {"succeeded"}, [(r.id, r.error) for r in roots]
        # No run ever checked, restarted or verified a host of a resolved alert.
        for check in journal.list_runs(flow_id="web-outage-check-alert", limit=1000):
            assert check.inputs["alert"]["status"] == "firing", check.id

        # The first notification: both firing alerts handled, each with its own host.
        first = journal.node_results(outcome.first.id)
        checked = {
            r["outputs"]["fingerprint"]: r["outputs"]
            for r in _results(journal, outcome.first, "check_health")
        }
        assert set(checked) == {fp[HOST_A], fp[HOST_B]}
        a, b = checked[fp[HOST_A]], checked[fp[HOST_B]]
        assert (a["host"], a["health_url"]) == (HOST_A, f"https://{HOST_A}/healthz")  # label
        assert (b["host"], b["health_url"]) == (HOST_B, services.url("/healthz"))  # instance
        assert a["verdict"] == b["verdict"] == "down"
        assert first["restart_nginx"].port == "done" and first["verify_health"].port == "done"
        restarted = _children(journal, outcome.first, "web-outage-restart-nginx")
        assert sorted(r.inputs["host"] for r in restarted) == sorted([HOST_A, HOST_B])
        down = first["select_down"].output["down"]
        verified = _results(journal, outcome.first, "verify_health")
        verdicts = {d["host"]: r["outputs"]["verdict"] for d, r in zip(down, verified, strict=True)}
        assert verdicts == {HOST_A: "incident_opened", HOST_B: "recovered"}

        # The repeat: A's incident is open, so A is left alone; B answers again.
        repeat = journal.node_results(outcome.repeat.id)
        checks = _results(journal, outcome.repeat, "check_health")
        verdicts = {r["outputs"]["host"]: r["outputs"]["verdict"] for r in checks}
        assert verdicts == {HOST_A: "ticket_open", HOST_B: "healthy"}
        assert repeat["any_down"].port == "false" and repeat["restart_nginx"].state == "skipped"

        # The mixed notification: B checked as firing, A's incident resolved, nothing else.
        hosts = [r["outputs"]["host"] for r in _results(journal, outcome.mixed, "check_health")]
        assert hosts == [HOST_B]
        closed = _results(journal, outcome.mixed, "close_resolved")
        assert [r["outputs"]["verdict"] for r in closed] == ["incident_resolved"]

        # The resolved notification: only the resolved branch; B had no incident.
        assert _results(journal, outcome.resolved, "check_health") == []
        closed = _results(journal, outcome.resolved, "close_resolved")
        assert [r["outputs"]["verdict"] for r in closed] == ["no_incident"]
        for run in roots:
            if run.id != outcome.first.id:
                assert _children(journal, run, "web-outage-restart-nginx") == [], run.id

    # B's endpoint failed the check (twice: the retry) and answered after the restart.
    assert services.health[:2] == [503, 503] and set(services.health[2:]) == {200}
    # sshd was asked twice, once per host, for the restart, and never again.
    assert sorted(sshd.commands()) == sorted([(HOST_A, RESTART), (HOST_B, RESTART)])
    # ServiceNow: one incident in all, for A, by fingerprint; resolved with the alert.
    [created] = services.requests("POST")
    assert created["body"]["correlation_id"] == fp[HOST_A]
    assert created["body"]["cmdb_ci"] == HOST_A and created["body"]["urgency"] == "1"
    [incident] = services.incidents.values()
    [patched] = services.requests("PATCH")
    assert patched["path"].endswith("/" + incident["sys_id"])
    assert (
        incident["state"] == "6" and incident["close_code"] and fp[HOST_A] in incident["work_notes"]
    )
    lookups = [r["query"]["sysparm_query"] for r in services.requests("GET")]
    assert f"correlation_id={fp[HOST_A]}^active=true^state!=6" in lookups
    # Chat: recovery of B, the incident for A, B healthy on repeats, A resolved.
    texts = [c["text"] for c in services.chats]
    assert any("was restarted" in t and HOST_B in t for t in texts)
    assert any(incident["number"] in t and "Incident" in t for t in texts)
    assert any("resolved" in t and incident["number"] in t for t in texts)
