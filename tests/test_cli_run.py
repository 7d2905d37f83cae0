"""`opsflow run`, `runs` and `approve`: exit codes, output, the journal.

In-process (the `cli` fixture), but for signals, which stop a real process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.journal import Journal
from tests.conftest import Cli, CliResult
from tests.flowdocs import ROOT, SAMPLES, edge, flow_doc, node, write

OPSFLOW = [sys.executable, "-m", "opsflow"]
PAYLOADS = ROOT / "sample_flows" / "payloads"
SAMPLE_INPUTS = {
    "new-hire-onboarding": [
        "first_name=Ada",
        "last_name=Lovelace",
        "email=ada@example.com",
        "department=Engineering",
        "manager=jdoe",
        "start_date=2027-01-04",
    ],
    "tls-check-host": ["host=www.example.com"],
    # Read-only steps run for real in a dry run: point them at what this machine has.
    "nightly-disk-cleanup": ["log_dir=/var/log"],
}
#: Read-only steps whose folders only exist on the real servers get a pinned answer.
PINS = ROOT / "tests" / "fixtures" / "pins"
HTTP_OK = f"=@{PINS / 'http-200.json'}"
SAMPLE_PINS = {
    "backup-verification": [f"list_backups=@{PINS / 'backup-list.json'}"],
    # Read-only HTTP calls run in a dry run too; example.com is not reachable from here.
    "password-reset-selfservice": ["lookup_user" + HTTP_OK],
    "patch-window": ["verify_service" + HTTP_OK],
    "tls-certificate-expiry": ["fetch_endpoints" + HTTP_OK],
    "tls-check-host": ["find_open_ticket" + HTTP_OK],
    "web-outage-remediation": ["check_health" + HTTP_OK, "verify_health" + HTTP_OK],
}


Opsflow = Callable[..., CliResult]


@pytest.fixture
def opsflow(cli: Cli) -> Opsflow:
    """`opsflow ARGS --store STORE`, in-process."""

    def run(*args: Any, store: Path) -> CliResult:
        return cli(*args, "--store", store)

    return run


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name.removesuffix(".flow.json"))
def test_every_sample_flow_dry_runs(opsflow: Opsflow, sample: Path, tmp_path: Path) -> None:
    name = sample.name.removesuffix(".flow.json")
    args: list[Any] = ["run", sample, "--dry-run"]
    if (PAYLOADS / f"{name}.json").exists():
        args += ["--payload", f"@{PAYLOADS / f'{name}.json'}"]
    for pair in SAMPLE_INPUTS.get(name, []):
        args += ["--input", pair]
    for pin in SAMPLE_PINS.get(name, []):
        args += ["--pin", pin]
    result = opsflow(*args, store=tmp_path / "j.sqlite")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": succeeded" in result.stdout and "(dry run)" in result.stdout


def test_json_lines_and_the_journal_agree(opsflow: Opsflow, tmp_path: Path) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("note", "action.set_vars", values={"a": "{{ inputs.x }}"}),
        ],
        [edge("start", "out", "note")],
        inputs={"x": {"type": "integer"}},
    )
    path = write(tmp_path / "f.flow.json", flow)
    store = tmp_path / "j.sqlite"
    result = opsflow("run", path, "--json", "--input", "x=5", store=store)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[0]["kind"] == "run_started" and lines[-1]["kind"] == "run_finished"
    with Journal(store) as journal:
        events = journal.events(lines[0]["run"])
        assert [e.to_json() for e in events] == lines
        assert journal.node_results(lines[0]["run"])["note"].output == {"a": 5}
    listed = opsflow("runs", "list", store=store)
    assert lines[0]["run"] in listed.stdout and "succeeded" in listed.stdout
    shown = opsflow("runs", "show", lines[0]["run"][:10], store=store)
    assert "note" in shown.stdout and "succeeded" in shown.stdout


def test_failure_exits_1_with_the_reason(opsflow: Opsflow, tmp_path: Path) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("bad", "action.set_vars", values={"a": "{{ vars.nope }}"}),
        ],
        [edge("start", "out", "bad")],
    )
    result = opsflow("run", write(tmp_path / "f.flow.json", flow), store=tmp_path / "j.sqlite")
    assert result.returncode == 1
    assert "bad failed: cannot render its parameters" in result.stdout
    assert "vars.nope is undefined" in result.stdout


def test_waiting_for_approval_exits_3_and_says_how_to_answer(
    opsflow: Opsflow, tmp_path: Path
) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("ask", "control.approval", approvers=["alice"], message="Go?", timeout_s=600),
            node("go", "action.set_vars", values={"ok": True}),
        ],
        [edge("start", "out", "ask"), edge("ask", "approved", "go")],
    )
    store = tmp_path / "j.sqlite"
    path = write(tmp_path / "f.flow.json", flow)
    result = opsflow("run", path, store=store)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "waiting for approval" in result.stdout and "opsflow approve" in result.stdout
    run_id = result.stdout.split()[1]
    assert (
        opsflow("approve", run_id, "ask", "--approve", "--as", "alice", store=store).returncode == 0
    )
    resumed = opsflow("runs", "resume", run_id, store=store)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "go → success" in resumed.stdout


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_cancels_cleanly_with_130(tmp_path: Path, stop: signal.Signals) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("nap", "action.wait", mode="duration", duration_s=60),
        ],
        [edge("start", "out", "nap")],
    )
    store = tmp_path / "j.sqlite"
    process = subprocess.Popen(
        [
            *OPSFLOW,
            "run",
            str(write(tmp_path / "f.flow.json", flow)),
            "--json",
            "--store",
            str(store),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As in a terminal: background jobs of a script start with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None
    run_id = ""
    for line in process.stdout:
        event = json.loads(line)
        run_id = event["run"]
        if event["kind"] == "node_started" and event["node"] == "nap":
            break
    time.sleep(0.2)
    process.send_signal(stop)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert json.loads(out.splitlines()[-1])["data"]["outcome"] == "cancelled"
    assert "Traceback" not in err
    with Journal(store) as journal:
        record = journal.get_run(run_id)
    assert record is not None and record.state == "cancelled"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--payload", "{not json"], "--payload is not valid JSON"),
        (["--payload", "@/nonexistent.json"], "cannot read /nonexistent.json"),
        (["--input", "nope=1"], "the flow has no input 'nope'"),
        (["--input", "novalue"], "--input takes NAME=VALUE"),
        (["--pin", "ghost=1"], "the flow has no node 'ghost'"),
        (["--pin", "garbage"], "--pin takes NODE[:PORT]=@FILE"),
        (["--break", "start"], "--break needs an interactive terminal"),
        (["--trigger", "ghost"], "'ghost' is not a trigger of this flow"),
    ],
)
def test_bad_run_arguments_are_one_line_with_exit_2(
    opsflow: Opsflow, tmp_path: Path, args: list[str], message: str
) -> None:
    flow = flow_doc([node("start", "trigger.manual")], [])
    result = opsflow(
        "run", write(tmp_path / "f.flow.json", flow), *args, store=tmp_path / "j.sqlite"
    )
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_runs_commands_refuse_unknown_runs(opsflow: Opsflow, tmp_path: Path) -> None:
    store = tmp_path / "j.sqlite"
    for args in (["runs", "show", "nope"], ["runs", "resume", "nope"]):
        result = opsflow(*args, store=store)
        assert result.returncode == 2 and "there is no run nope" in result.stderr
    result = opsflow("approve", "nope", "ask", "--approve", "--as", "alice", store=store)
    assert result.returncode == 2 and "there is no run nope" in result.stderr


def test_secrets_never_reach_output_or_journal(cli: Cli, tmp_path: Path) -> None:
    """A token from the environment is sent, echoed back by the server, and masked everywhere."""
    import http.server
    import threading

    token = "tok-" + "Zx9" * 12
    seen: list[str] = []

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            body = json.dumps({"you_sent": seen[-1]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/whoami"
        flow = flow_doc(
            [
                node("start", "trigger.manual"),
                node("call", "action.http", url=url, auth="bearer", credential="api-token"),
                node("note", "action.set_vars", values={"echo": "{{ nodes.call.output.text }}"}),
            ],
            [edge("start", "out", "call"), edge("call", "success", "note")],
            credentials={"api-token": {"kind": "token"}},
        )
        store = tmp_path / "store" / "j.sqlite"
        store.parent.mkdir()
        env = {"OPSFLOW_CRED_API_TOKEN_TOKEN": token}
        path = write(tmp_path / "f.flow.json", flow)
        result = cli("run", path, "--json", "--store", store, env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert seen == [f"Bearer {token}"], "the server got the real token"
    assert token not in result.stdout + result.stderr
    assert "«redacted»" in result.stdout
    for path in store.parent.iterdir():
        assert token.encode() not in path.read_bytes(), path.name
