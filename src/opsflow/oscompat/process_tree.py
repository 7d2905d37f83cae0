"""Starting a child as the root of a process tree, and ending that tree as a whole.

POSIX: the child leads a new session, hence a new process group that everything it starts
joins. Ending the tree signals the group: SIGTERM, up to `grace_s` for the group to empty,
then SIGKILL. A descendant that left the group on purpose (setsid, a daemon) is not reached.

Windows (untested: no Windows machine runs the tests yet): the child starts in a new process
group (CREATE_NEW_PROCESS_GROUP), and ending the tree runs `taskkill /T /F /PID <pid>`, which
finds descendants through their parent's pid: one whose parent already ended is missed
(all of them once the root has ended, e.g. leftovers holding its output open), and there is
no grace (console programs have no SIGTERM to catch). A Job Object with
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE would catch those too, and end the tree when Opsflow
itself dies; it is not built because nothing here can test it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from typing import Any, TypedDict


class TreeStart(TypedDict):
    """The `subprocess.Popen` arguments that make the child the root of its own tree."""

    start_new_session: bool
    creationflags: int


def tree_start_options() -> TreeStart:
    """Pass these to `subprocess.Popen(..., **tree_start_options())`."""
    if sys.platform == "win32":
        return TreeStart(start_new_session=False, creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
    return TreeStart(start_new_session=True, creationflags=0)


def terminate_tree(proc: subprocess.Popen[Any], grace_s: float) -> None:
    """End `proc` and its tree: SIGTERM, up to `grace_s` to end, then SIGKILL; reap `proc`.

    `proc` must have been started with `tree_start_options()`. A tree that already ended
    (or a `proc` already reaped) is fine.
    """
    if sys.platform == "win32":
        kill_tree(proc)  # no grace: see the module docstring
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        proc.wait()
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader, so an empty group is seen as empty
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            proc.wait()
            return
        time.sleep(0.05)
    kill_tree(proc)


def kill_tree(proc: subprocess.Popen[Any]) -> None:
    """End `proc` and its tree at once (SIGKILL to the group; `taskkill /T /F` on Windows)."""
    if sys.platform == "win32":
        # Untested. taskkill.exe from the system folder, not whatever PATH finds first.
        taskkill = os.path.join(
            os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32", "taskkill.exe"
        )
        with suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [taskkill, "/T", "/F", "/PID", str(proc.pid)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                creationflags=subprocess.CREATE_NO_WINDOW,  # no console window flashing up
                timeout=30,
                check=False,
            )
        if proc.poll() is None:
            proc.kill()  # taskkill failed: end the program itself at least
    else:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
