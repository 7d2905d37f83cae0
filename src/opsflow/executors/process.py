"""Executors of the nodes that run programs on this machine: `action.shell` and `action.script`.

Commands are argument lists: each rendered value is one argument and nothing is parsed by a
shell. Every process starts in its own session (process group), so a timeout kills it with
everything it started (SIGTERM, a short grace, then SIGKILL to the whole group; each OS's
way is in `opsflow.oscompat.process_tree`). Processes it leaves behind still holding its
output open are killed the same way once it exits; a command meant to start a daemon should
detach it (setsid, and redirect its output).

The wait also watches `NodeCall.stop`: once the runner sets it, the process group is killed
the same way (well within `STOP_GRACE_S`) and `NodeStopped` is raised with the output captured
so far. A process that had already ended by itself keeps its real result (only its leftovers
are killed), and a stop set before the start starts nothing.

With `shell: true` the line runs with `/bin/sh -c` (cmd.exe on Windows, see
`opsflow.oscompat.shell_line`) exactly as written: the node refuses templates in it
(`ShellParams`), so no run data is ever parsed by a shell; data reaches the line through
`env` ("$NAME").

Python scripts run with the Python running Opsflow; an installed bundle (frozen) has none to
lend, so it uses `OPSFLOW_PYTHON`, else `python3`, `python` or `py` on PATH.

The environment is the runner's without its credentials (`OPSFLOW_CRED_*` variables and where
the credentials file is), plus `env`. With `inherit_env` off the process sees only `env`: PATH
is then absent unless given (the program itself is still looked up in /bin:/usr/bin).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from typing import IO, Any

from opsflow.credentials import child_environment
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome, NodeStopped
from opsflow.oscompat.process_tree import terminate_tree, tree_start_options
from opsflow.oscompat.shell_line import shell_argv

#: How long a process group gets to end after SIGTERM before it is sent SIGKILL.
TERM_GRACE_S = 2.0
#: How long output pipes may stay open after the process exits (held by its leftovers).
LEFTOVER_GRACE_S = 2.0
#: How often waits look at the process, the node timeout and `NodeCall.stop`.
_POLL_S = 0.05

_SCRIPT_FILES = {"bash": "script.sh", "python": "script.py", "powershell": "script.ps1"}


def shell(call: NodeCall) -> NodeOutcome:
    params = call.params
    command = [_text(item) for item in params["command"]]
    if params.get("shell"):
        argv = shell_argv(command[0])
        what = "the shell line"
    else:
        argv = command
        what = f"'{command[0]}'"
    env = _environment(params.get("env") or {}, inherit=params.get("inherit_env", True))
    return _run(call, argv, what, env)


def script(call: NodeCall) -> NodeOutcome:
    params = call.params
    language = params["language"]
    env = _environment(params.get("env") or {}, inherit=params.get("inherit_env", True))
    # mkdtemp creates the folder readable by this user only (0700).
    folder = tempfile.mkdtemp(prefix="opsflow-script-")
    try:
        path = os.path.join(folder, _SCRIPT_FILES[language])
        with open(path, "w", encoding="utf-8", newline="\n") as file:
            file.write(params["body"])
        args = [_text(arg) for arg in params.get("args") or []]
        if language == "bash":
            argv = ["bash", path, *args]
        elif language == "python":
            argv = [_python(call, env), path, *args]
        else:
            pwsh = shutil.which("pwsh", path=os.pathsep.join(os.get_exec_path(env)))
            if pwsh is None:
                raise NodeError(
                    f"node '{call.node.id}': PowerShell 7 (pwsh) is not installed on this "
                    "machine, so the powershell script cannot run; install PowerShell 7 or "
                    "choose bash or python",
                    retryable=False,
                )
            argv = [pwsh, "-NoProfile", "-NonInteractive", "-File", path, *args]
        return _run(call, argv, f"the {language} script", env)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _python(call: NodeCall, env: Mapping[str, str]) -> str:
    """The Python that runs python scripts: the one running Opsflow, unless Opsflow is frozen.

    In an installed bundle `sys.executable` is the Opsflow program itself, so a real Python is
    looked for: `OPSFLOW_PYTHON` (the runner's setting: a path or a program name), else
    `python3`, `python` or `py` on the script's PATH.
    """
    if not getattr(sys, "frozen", False):
        return sys.executable
    search = os.pathsep.join(os.get_exec_path(env))
    setting = os.environ.get("OPSFLOW_PYTHON", "").strip()
    if setting:
        chosen = shutil.which(setting, path=search)
        if chosen is None:
            raise NodeError(
                f"node '{call.node.id}': OPSFLOW_PYTHON is set to '{setting}', which is not a "
                "program that can be run here, so the python script cannot run; set it to the "
                "full path of a Python 3 interpreter",
                retryable=False,
            )
        return chosen
    for name in ("python3", "python", "py"):
        found = shutil.which(name, path=search)
        if found is not None:
            return found
    raise NodeError(
        f"node '{call.node.id}': no Python was found to run the python script; install "
        "Python 3 so that python3, python or py is on PATH, or set OPSFLOW_PYTHON to the full "
        "path of a Python 3 interpreter",
        retryable=False,
    )


def _run(call: NodeCall, argv: Sequence[str], what: str, env: Mapping[str, str]) -> NodeOutcome:
    """Start `argv`, feed stdin, capture capped output, enforce the timeout, map the exit code."""
    params = call.params
    limit = int(params["max_output_bytes"])
    success_codes = {int(code) for code in params["success_exit_codes"]}
    stdin = params.get("stdin")
    stdin_bytes = None if stdin is None else _text(stdin).encode("utf-8")
    node = f"node '{call.node.id}'"
    if call.stop.is_set():
        raise NodeStopped(f"{node}: the run was stopped before {what} started; nothing was run")
    with ExitStack() as stack:
        cwd = _working_folder(call, stack)
        started = time.monotonic()
        proc = _start(call, argv, what, cwd, env, stdin_bytes is not None)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = _Capture(proc.stdout, limit), _Capture(proc.stderr, limit)
        if stdin_bytes is not None:
            assert proc.stdin is not None
            _feed(proc.stdin, stdin_bytes)
        timeout = call.timeout_s
        ended_by = _wait(proc, call)
        if ended_by is not None:
            terminate_tree(proc, TERM_GRACE_S)
        # Leftovers holding the output open are waited for a while, but not once the run
        # was stopped; after a kill the pipes close at once unless something outside the
        # group holds them, so that last wait is short.
        if not _drained((out, err), LEFTOVER_GRACE_S, call.stop):
            terminate_tree(proc, TERM_GRACE_S)
            _drained((out, err), 1.0, None)
        code = proc.returncode
        output: dict[str, Any] = {
            "exit_code": code,
            "stdout": out.text(),
            "stderr": err.text(),
            "stdout_truncated": out.truncated,
            "stderr_truncated": err.truncated,
            "duration_s": round(time.monotonic() - started, 3),
        }
    if ended_by == "stopped":
        raise NodeStopped(
            f"{node}: the process group of {what} was killed because the run was stopped",
            output=output,
        )
    if ended_by == "timed out":
        raise NodeError(
            f"{what} timed out after {timeout or 0:g} s; the process group was killed",
            output=output,
            retryable=True,
        )
    if code not in success_codes:
        message = f"{what} exited with code {code}"
        if code < 0 and sys.platform != "win32":
            message += f" (killed by {signal.Signals(-code).name})"
        last = _last_line(output["stderr"])
        raise NodeError(f"{message}: {last}" if last else message, output=output, retryable=True)
    return NodeOutcome(output=output)


def _wait(proc: subprocess.Popen[bytes], call: NodeCall) -> str | None:
    """Wait until the process exits (None), the node times out or `call.stop` is set."""
    deadline = None if call.timeout_s is None else time.monotonic() + call.timeout_s
    # An exit is looked for first, so a process that already ended keeps its real result.
    while proc.poll() is None:
        if call.stop.is_set():
            return "stopped"
        if deadline is not None and time.monotonic() >= deadline:
            return "timed out"
        call.stop.wait(_POLL_S)
    return None


def _start(
    call: NodeCall,
    argv: Sequence[str],
    what: str,
    cwd: str,
    env: Mapping[str, str],
    with_stdin: bool,
) -> subprocess.Popen[bytes]:
    node = f"node '{call.node.id}'"
    try:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **tree_start_options(),
        )
    except FileNotFoundError:
        where = "" if os.sep in argv[0] else " in PATH"
        raise NodeError(
            f"{node}: program '{argv[0]}' was not found{where}; install it or give its "
            "absolute path in `command[0]`",
            retryable=False,
        ) from None
    except PermissionError:
        raise NodeError(
            f"{node}: program '{argv[0]}' is not executable by this user; check its "
            "permissions (chmod +x) or run it through its interpreter",
            retryable=False,
        ) from None
    except (OSError, ValueError) as exc:  # e.g. a NUL byte in a rendered argument
        raise NodeError(f"{node}: {what} could not start: {exc}", retryable=False) from None


def _working_folder(call: NodeCall, stack: ExitStack) -> str:
    """The rendered `cwd`, checked; empty means a fresh temporary folder, removed afterwards."""
    cwd = call.params.get("cwd")
    text = "" if cwd is None else _text(cwd)
    if not text:
        return stack.enter_context(tempfile.TemporaryDirectory(prefix="opsflow-run-"))
    node = f"node '{call.node.id}'"
    if not os.path.isabs(text):
        raise NodeError(
            f"{node}: `cwd` rendered to '{text}', a relative path; give an absolute one",
            retryable=False,
        )
    if not os.path.isdir(text):
        raise NodeError(
            f"{node}: the working folder `cwd` '{text}' does not exist or is not a folder; "
            "create it first or change `cwd`",
            retryable=False,
        )
    return text


def _environment(extra: Mapping[str, Any], *, inherit: bool) -> dict[str, str]:
    """The runner's environment without its credentials (when inherited), plus `env`."""
    base = child_environment() if inherit else {}
    return base | {name: _text(value) for name, value in extra.items()}


class _Capture:
    """Reads one output pipe in a thread, keeping its first `limit` bytes and draining the rest."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.data = bytearray()
        self.truncated = False
        self._limit = limit
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            while chunk := os.read(stream.fileno(), 65536):
                room = self._limit - len(self.data)
                if len(chunk) > room:
                    self.truncated = True
                self.data += chunk[: max(room, 0)]

    def finish(self, timeout: float) -> bool:
        """Wait for the pipe to close; False if it is still held open after `timeout`."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def text(self) -> str:
        return bytes(self.data).decode("utf-8", errors="replace")


def _drained(captures: Sequence[_Capture], within_s: float, stop: threading.Event | None) -> bool:
    """Wait for every pipe to close; False if one is still open after `within_s` or `stop`."""
    deadline = time.monotonic() + within_s
    for capture in captures:
        while not capture.finish(_POLL_S):
            if (stop is not None and stop.is_set()) or time.monotonic() >= deadline:
                return False
    return True


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write stdin in a thread, so a process that reads slowly (or never) cannot block us."""

    def write() -> None:
        try:
            with pipe:
                pipe.write(data)
        except OSError:
            pass  # the process stopped reading; its exit code tells the story

    threading.Thread(target=write, daemon=True).start()


def _text(value: Any) -> str:
    """A rendered value as one argument: text stays, JSON values are written as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""
