"""The shell and script executors with real processes: injection, exit codes, I/O, timeouts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsflow.catalog.builtin.actions_local import ScriptParams, ShellParams
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.engine.local import LocalRunner
from opsflow.executors.process import script, shell
from opsflow.flowfile import parse_flow
from opsflow.model.flow import Flow
from opsflow.nodeapi import STOP_GRACE_S, NodeCall, NodeError, NodeOutcome, NodeStopped

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

#: Prints its arguments as JSON, so a test sees exactly the argv the program received.
ECHO_ARGV = [sys.executable, "-c", "import json,sys; print(json.dumps(sys.argv[1:]))"]


def _catalog() -> Catalog:
    specs = []
    for spec in builtin_specs():
        if spec.type == "action.shell":
            spec = dataclasses.replace(spec, executor="opsflow.executors.process:shell")
        elif spec.type == "action.script":
            spec = dataclasses.replace(spec, executor="opsflow.executors.process:script")
        specs.append(spec)
    return Catalog(specs)


CATALOG = _catalog()


def _flow(node_type: str, params: dict[str, Any], timeout_s: float | None = None) -> Flow:
    node: dict[str, Any] = {"id": "act", "type": node_type, "params": params}
    if timeout_s is not None:
        node["timeout_s"] = timeout_s
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "t",
        "nodes": [{"id": "start", "type": "trigger.manual", "params": {}}, node],
        "edges": [{"id": "e0", "from": "start", "port": "out", "to": "act"}],
    }
    return parse_flow(json.dumps(document), "test", CATALOG)


def _call(node_type: str, params: dict[str, Any], timeout_s: float | None = None) -> NodeCall:
    """A call as the runner makes it: validated params with defaults, as JSON data."""
    model = ShellParams if node_type == "action.shell" else ScriptParams
    flow = _flow(node_type, params)
    spec = CATALOG.get(node_type)
    assert spec is not None
    return NodeCall(
        run_id="r1",
        flow=flow,
        flow_path=None,
        node=flow.nodes[1],
        spec=spec,
        params=model.model_validate(params).model_dump(mode="json"),
        attempt=1,
        timeout_s=timeout_s,
    )


def run_shell(timeout_s: float | None = None, **params: Any) -> NodeOutcome:
    return shell(_call("action.shell", params, timeout_s))


def run_script(timeout_s: float | None = None, **params: Any) -> NodeOutcome:
    return script(_call("action.script", params, timeout_s))


def _gone(pid: int) -> bool:
    """True once `pid` has ended (a zombie waiting for its parent's reap counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_gone(pid: int, within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


HOSTILE = ["; rm -rf ~ #", "$(touch {canary})", "`touch {canary}`", "x && touch {canary}", "a\nb"]


def test_hostile_values_arrive_as_one_argument_each_and_run_nothing(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    values = [value.format(canary=canary) for value in HOSTILE]
    outcome = run_shell(command=[*ECHO_ARGV, *values], cwd=str(tmp_path))
    assert json.loads(outcome.output["stdout"]) == values
    assert not canary.exists()


@settings(max_examples=25, deadline=None)
@given(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        max_size=40,
    )
)
def test_any_text_is_one_argument(value: str) -> None:
    outcome = run_shell(command=[*ECHO_ARGV, value])
    assert json.loads(outcome.output["stdout"]) == [value]


def test_success_output_has_every_field() -> None:
    outcome = run_shell(command=["sh", "-c", "echo out; echo err >&2"])
    assert outcome.port is None
    output = outcome.output
    assert output["exit_code"] == 0
    assert (output["stdout"], output["stderr"]) == ("out\n", "err\n")
    assert output["stdout_truncated"] is output["stderr_truncated"] is False
    assert 0 <= output["duration_s"] < 30


def test_failing_exit_code_is_a_retryable_error_with_the_last_stderr_line() -> None:
    with pytest.raises(NodeError) as caught:
        run_shell(command=["sh", "-c", "echo first >&2; echo 'disk full' >&2; exit 3"])
    assert "exited with code 3: disk full" in str(caught.value)
    assert caught.value.retryable
    assert caught.value.output["exit_code"] == 3
    assert caught.value.output["stderr"] == "first\ndisk full\n"


def test_custom_success_codes() -> None:
    outcome = run_shell(command=["sh", "-c", "exit 3"], success_exit_codes=[0, 3])
    assert outcome.output["exit_code"] == 3
    with pytest.raises(NodeError, match="exited with code 0"):
        run_shell(command=["true"], success_exit_codes=[3010])


def test_killed_by_a_signal_says_which() -> None:
    with pytest.raises(NodeError, match=r"exited with code -9 \(killed by SIGKILL\)"):
        run_shell(command=["sh", "-c", "kill -9 $$"])


def test_cwd_is_used(tmp_path: Path) -> None:
    outcome = run_shell(command=["pwd", "-P"], cwd=str(tmp_path))
    assert outcome.output["stdout"].strip() == str(tmp_path.resolve())


def test_empty_cwd_is_a_fresh_temporary_folder_removed_afterwards() -> None:
    outcome = run_shell(command=["pwd", "-P"])
    folder = Path(outcome.output["stdout"].strip())
    assert folder.name.startswith("opsflow-run-")
    assert not folder.exists()


def test_missing_cwd_is_a_clear_permanent_error(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="does not exist") as caught:
        run_shell(command=["true"], cwd=str(tmp_path / "nowhere"))
    assert not caught.value.retryable


def test_env_is_added_to_the_inherited_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSFLOW_TEST_INHERITED", "yes")
    outcome = run_shell(command=["env"], env={"GREETING": "hello; rm -rf ~"})
    lines = outcome.output["stdout"].splitlines()
    assert "GREETING=hello; rm -rf ~" in lines
    assert "OPSFLOW_TEST_INHERITED=yes" in lines


def test_without_inherit_env_the_program_sees_only_env() -> None:
    env_program = shutil.which("env")
    assert env_program is not None
    outcome = run_shell(command=[env_program], env={"ONLY": "this"}, inherit_env=False)
    assert outcome.output["stdout"].splitlines() == ["ONLY=this"]


def test_stdin_is_written() -> None:
    code = "import sys; print(sys.stdin.read().upper())"
    outcome = run_shell(command=[sys.executable, "-c", code], stdin="héllo")
    assert outcome.output["stdout"] == "HÉLLO\n"


def test_without_stdin_the_program_reads_end_of_file() -> None:
    outcome = run_shell(command=["cat"], timeout_s=10)
    assert outcome.output["stdout"] == ""


def test_output_is_cut_at_the_cap_and_marked_truncated() -> None:
    code = "import sys; sys.stdout.write('x' * 200_000); sys.stderr.write('small')"
    outcome = run_shell(command=[sys.executable, "-c", code], max_output_bytes=1024)
    assert outcome.output["stdout"] == "x" * 1024
    assert outcome.output["stdout_truncated"] is True
    assert (outcome.output["stderr"], outcome.output["stderr_truncated"]) == ("small", False)


def test_invalid_utf8_is_replaced() -> None:
    code = "import sys; sys.stdout.buffer.write(b'ok \\xff')"
    outcome = run_shell(command=[sys.executable, "-c", code])
    assert outcome.output["stdout"] == "ok \ufffd"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    line = f"sleep 30 & echo $! > {pid_file}; wait"
    started = time.monotonic()
    with pytest.raises(NodeError) as caught:
        run_shell(command=["sh", "-c", line], timeout_s=0.5)
    assert time.monotonic() - started < 10
    assert "timed out after 0.5 s; the process group was killed" in str(caught.value)
    assert caught.value.retryable
    assert _wait_gone(int(pid_file.read_text()))


def test_timeout_sends_sigkill_to_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    line = f"trap '' TERM; sh -c 'trap \"\" TERM; sleep 30' & echo $! > {pid_file}; wait"
    with pytest.raises(NodeError, match="timed out"):
        run_shell(command=["sh", "-c", line], timeout_s=0.5)
    assert _wait_gone(int(pid_file.read_text()))


def test_leftover_processes_holding_the_output_are_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "leftover.pid"
    outcome = run_shell(command=["sh", "-c", f"sleep 30 & echo $! > {pid_file}; echo done"])
    assert outcome.output["stdout"] == "done\n"
    assert _wait_gone(int(pid_file.read_text()))


def _in_worker(call: NodeCall) -> tuple[threading.Thread, list[NodeOutcome | BaseException]]:
    """Run the shell executor in a thread, as the runner does; its result lands in the list."""
    result: list[NodeOutcome | BaseException] = []

    def work() -> None:
        try:
            result.append(shell(call))
        except BaseException as exc:  # handed to the test to inspect
            result.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    return worker, result


def _wait_for_lines(path: Path, count: int, within_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if path.exists() and len(lines := path.read_text().split()) >= count:
            return [int(line) for line in lines]
        time.sleep(0.02)
    raise AssertionError(f"{path} did not get {count} lines")


def test_stop_kills_the_whole_process_group_and_raises_node_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    line = f"echo $$ >> {pid_file}; sleep 20 & echo $! >> {pid_file}; echo begun; wait"
    call = _call("action.shell", {"command": ["sh", "-c", line]})
    worker, result = _in_worker(call)
    leader, child = _wait_for_lines(pid_file, 2)
    time.sleep(0.3)
    call.stop.set()
    worker.join(STOP_GRACE_S)
    assert not worker.is_alive(), "the executor ignored call.stop"
    stopped = result[0]
    assert isinstance(stopped, NodeStopped), stopped
    assert str(stopped).startswith("node 'act': ")
    assert "the process group of 'sh' was killed because the run was stopped" in str(stopped)
    assert not stopped.retryable
    assert stopped.output["stdout"] == "begun\n"
    assert stopped.output["exit_code"] == -15  # SIGTERM reached the shell
    assert _wait_gone(leader) and _wait_gone(child)
    with pytest.raises(ProcessLookupError):
        os.killpg(leader, 0)


def test_stop_during_the_leftover_wait_keeps_the_real_result(tmp_path: Path) -> None:
    # The command itself ends at once; the `sleep` it leaves behind holds its output open.
    pid_file = tmp_path / "leftover.pid"
    call = _call(
        "action.shell", {"command": ["sh", "-c", f"sleep 20 & echo $! > {pid_file}; echo done"]}
    )
    worker, result = _in_worker(call)
    (leftover,) = _wait_for_lines(pid_file, 1)
    time.sleep(0.3)
    call.stop.set()
    worker.join(STOP_GRACE_S)
    assert not worker.is_alive()
    outcome = result[0]
    assert isinstance(outcome, NodeOutcome), outcome
    assert outcome.output["exit_code"] == 0
    assert outcome.output["stdout"] == "done\n"
    assert _wait_gone(leftover)


def test_a_command_that_finished_before_stop_returns_its_result() -> None:
    call = _call(
        "action.shell", {"command": ["sh", "-c", "echo done; exit 3"], "success_exit_codes": [3]}
    )
    outcome = shell(call)
    call.stop.set()
    assert outcome.output["exit_code"] == 3
    assert outcome.output["stdout"] == "done\n"


def test_stop_set_before_the_start_starts_nothing(tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    call = _call("action.shell", {"command": ["touch", str(canary)]})
    call.stop.set()
    with pytest.raises(NodeStopped, match="node 'act': the run was stopped before 'touch' started"):
        shell(call)
    assert not canary.exists()


def test_missing_program_is_a_clear_permanent_error() -> None:
    with pytest.raises(NodeError, match="'no-such-program-xyz' was not found in PATH") as caught:
        run_shell(command=["no-such-program-xyz", "arg"])
    assert not caught.value.retryable


def test_program_that_is_not_executable(tmp_path: Path) -> None:
    program = tmp_path / "tool"
    program.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(NodeError, match="is not executable") as caught:
        run_shell(command=[str(program)])
    assert not caught.value.retryable


def test_shell_mode_runs_a_pipe() -> None:
    outcome = run_shell(command=["echo a | tr a b"], shell=True)
    assert outcome.output["stdout"] == "b\n"


def test_bash_script_with_arguments_and_a_private_folder_removed_afterwards(
    tmp_path: Path,
) -> None:
    canary = tmp_path / "pwned"
    body = 'printf "%s|%s\\n" "$1" "$2"; stat -c %a "$(dirname "$0")"; echo "$0"'
    hostile = f"$(touch {canary})"
    outcome = run_script(language="bash", body=body, args=["a b", hostile])
    first, mode, path = outcome.output["stdout"].splitlines()
    assert first == f"a b|{hostile}"
    assert mode == "700"
    assert not Path(path).exists()
    assert not canary.exists()


def test_python_script_with_args_env_stdin_and_exit_code() -> None:
    body = (
        "import os, sys\n"
        "print(sys.argv[1:], os.environ['COLOR'], sys.stdin.read())\n"
        "sys.exit(int(sys.argv[1]))\n"
    )
    outcome = run_script(
        language="python",
        body=body,
        args=["4", "two words"],
        env={"COLOR": "blue"},
        stdin="piped",
        success_exit_codes=[4],
    )
    assert outcome.output["stdout"] == "['4', 'two words'] blue piped\n"
    assert outcome.output["exit_code"] == 4


def test_failing_script_reports_its_error() -> None:
    with pytest.raises(NodeError, match="the python script exited with code 1: ValueError: bad"):
        run_script(language="python", body="raise ValueError('bad')\n")


@pytest.mark.skipif(shutil.which("pwsh") is not None, reason="pwsh is installed here")
def test_powershell_without_pwsh_says_so() -> None:
    with pytest.raises(NodeError, match=r"PowerShell 7 \(pwsh\) is not installed") as caught:
        run_script(language="powershell", body="Write-Output $args[0]", args=["x"])
    assert not caught.value.retryable


def test_through_the_engine_a_hostile_webhook_value_stays_one_argument(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    host = f"web-01; rm -rf ~ # $(touch {canary})"
    flow = _flow("action.shell", {"command": [*ECHO_ARGV, "--host", "{{ trigger.body.host }}"]})
    events: list[Any] = []
    runner = LocalRunner(flow, catalog=CATALOG, listeners=[events.append])
    result = asyncio.run(runner.run(payload={"body": {"host": host}}))
    assert result.status == "succeeded", result.error
    done = [e for e in events if e.kind == "node_succeeded" and e.node == "act"]
    assert json.loads(done[0].data["output"]["stdout"]) == ["--host", host]
    assert not canary.exists()


def test_through_the_engine_a_node_timeout_fails_the_run() -> None:
    flow = _flow("action.shell", {"command": ["sleep", "30"]}, timeout_s=0.5)
    started = time.monotonic()
    result = asyncio.run(LocalRunner(flow, catalog=CATALOG).run())
    assert result.status == "failed"
    assert "timed out" in (result.nodes["act"].error or "")
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("kind", ["shell", "script"])
def test_child_processes_never_see_the_runners_credentials(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_DEPLOY_TOKEN", "tok-0123456789-never-shown")
    monkeypatch.setenv("opsflow_cred_lower_password", "pw-0123456789-never-shown")
    monkeypatch.setenv("OPSFLOW_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    monkeypatch.setenv("ORDINARY_SETTING", "kept")
    if kind == "shell":
        outcome = run_shell(command=["env"], env={"GIVEN": "by the flow"})
    else:
        body = "import os\nfor k, v in sorted(os.environ.items()): print(f'{k}={v}')\n"
        outcome = run_script(language="python", body=body, env={"GIVEN": "by the flow"})
    seen = outcome.output["stdout"]
    assert "never-shown" not in seen and "OPSFLOW_CRED" not in seen.upper()
    assert "OPSFLOW_CREDENTIALS_FILE" not in seen
    assert "ORDINARY_SETTING=kept" in seen and "GIVEN=by the flow" in seen
