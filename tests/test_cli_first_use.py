"""`opsflow run` as a new user meets it: inputs, confirmations, outputs, dry runs.

In-process (the `cli` fixture), but for the keyring: its backend is chosen once per process,
from PYTHON_KEYRING_BACKEND, so the test with no credentials runs a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli
from tests.flowdocs import edge, flow_doc, node, write

OPSFLOW = [sys.executable, "-m", "opsflow"]


def opsflow(*args: Any, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`opsflow ARGS` as a child process with no terminal (stdin is the null device)."""
    result = subprocess.run(
        [*OPSFLOW, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def inputs_flow(tmp_path: Path) -> Path:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("note", "action.set_vars", values={"where": "{{ inputs.host }}"}),
        ],
        [edge("start", "out", "note")],
        inputs={
            "host": {"type": "string", "required": True},
            "port": {"type": "integer", "required": True},
            "user": {"type": "string", "required": True},
            "verbose": {"type": "boolean"},
        },
    )
    return write(tmp_path / "f.flow.json", flow)


def test_every_missing_input_is_named_at_once(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", inputs_flow(tmp_path), "--store", tmp_path / "j.sqlite")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "opsflow: inputs 'host', 'port' and 'user' are required; give them with "
        "--input host=VALUE --input port=VALUE --input user=VALUE"
    ]


def test_an_empty_required_input_is_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "run",
        inputs_flow(tmp_path),
        *("--input", "host=", "--input", "port=22", "--input", "user=  "),
        *("--store", tmp_path / "j.sqlite"),
    )
    assert result.returncode == 2, result.stdout
    assert result.stderr.splitlines() == [
        "opsflow: inputs 'host' and 'user' are required and cannot be empty; give them a value "
        "with --input host=VALUE --input user=VALUE"
    ]


def test_a_value_of_the_wrong_type_is_named_plainly(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "run",
        inputs_flow(tmp_path),
        *("--input", "host=web-01", "--input", "port=abc", "--input", "user=ops"),
        *("--input", "verbose=perhaps", "--store", tmp_path / "j.sqlite"),
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "opsflow: input 'port' must be an integer, not 'abc'; "
        "input 'verbose' must be true or false, not 'perhaps'"
    ]
    assert "invalid literal" not in result.stderr


def test_the_flows_outputs_are_printed_at_the_end(cli: Cli, tmp_path: Path) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("note", "action.set_vars", values={"count": 3, "host": "web-01"}),
        ],
        [edge("start", "out", "note")],
        outputs={
            "summary": "{{ vars.host }} has {{ vars.count }} problems",
            "n": "{{ vars.count }}",
        },
    )
    path = write(tmp_path / "f.flow.json", flow)
    result = cli("run", path, "--store", tmp_path / "j.sqlite")
    assert result.returncode == 0, result.stderr
    tail = result.stdout.split("\nOUTPUTS\n", 1)[1].splitlines()
    assert tail[:2] == ['  summary = "web-01 has 3 problems"', "  n = 3"]
    assert tail[-1].endswith(": succeeded")
    as_json = cli("run", path, "--json", "--store", tmp_path / "j.sqlite")
    finished = json.loads(as_json.stdout.splitlines()[-1])
    assert finished["kind"] == "run_finished"
    assert finished["data"]["outputs"] == {"summary": "web-01 has 3 problems", "n": 3}
    assert "OUTPUTS" not in as_json.stdout


def confirm_flow(tmp_path: Path) -> Path:
    flow = flow_doc(
        [
            node("start", "trigger.manual", confirm=True, confirm_message="Restart nginx now?"),
            node("note", "action.set_vars", values={"done": True}),
        ],
        [edge("start", "out", "note")],
    )
    return write(tmp_path / "f.flow.json", flow)


def test_a_confirmation_is_refused_without_a_terminal_unless_yes(cli: Cli, tmp_path: Path) -> None:
    path, store = confirm_flow(tmp_path), tmp_path / "j.sqlite"
    refused = cli("run", path, "--store", store)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"opsflow: {path}: trigger 'start' asks \"Restart nginx now?\" before each run; answer "
        "it at a terminal, or pass --yes to start without asking"
    ]
    assert json.loads(cli("runs", "list", "--json", "--store", store).stdout) == []
    for extra in (["--yes"], ["-y", "--json"], ["--dry-run"]):
        started = cli("run", path, *extra, "--store", store)
        assert started.returncode == 0, started.stderr
    assert len(json.loads(cli("runs", "list", "--json", "--store", store).stdout)) == 3


@pytest.fixture
def no_credentials(tmp_path: Path) -> dict[str, str]:
    """An environment in which no credential can be found."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_CRED")}
    env.update(
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        OPSFLOW_CREDENTIALS_FILE=str(tmp_path / "credentials.json"),
    )
    return env


def test_a_dry_run_simulates_a_read_only_step_whose_credential_is_not_set(
    tmp_path: Path, no_credentials: dict[str, str]
) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            # Port 9 (discard) on loopback: nothing answers; the step must not even try.
            node(
                "lookup",
                "action.http",
                url="http://127.0.0.1:9/api/users/jdoe",
                auth="bearer",
                credential="directory-token",
            ),
            node("note", "action.set_vars", values={"looked_up": True}),
        ],
        [edge("start", "out", "lookup"), edge("lookup", "success", "note")],
        credentials={"directory-token": {"kind": "token"}},
    )
    path, store = write(tmp_path / "f.flow.json", flow), tmp_path / "j.sqlite"
    result = opsflow("run", path, "--dry-run", "--store", store, env=no_credentials)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lookup: dry run: would need credential 'directory-token'; step simulated" in (
        result.stdout
    )
    assert "lookup → success" in result.stdout and "note → success" in result.stdout
    real = opsflow("run", path, "--store", store, env=no_credentials)
    assert real.returncode == 1
    assert "lookup failed: credential 'directory-token' (token) was not found" in real.stdout
