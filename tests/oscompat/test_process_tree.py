"""Ending a process tree with real processes: a Python program that starts a grandchild.

The programs are Python, so the same tests run on Windows (taskkill); the SIGTERM-then-SIGKILL
tests are POSIX only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsflow.engine.owners import process_exists
from opsflow.oscompat.process_tree import kill_tree, terminate_tree, tree_start_options

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: Starts a grandchild that sleeps, prints its pid, then sleeps itself. With "ignore" as
#: argument both ignore SIGTERM.
PARENT = """
import signal, subprocess, sys, time
ignore = sys.argv[1:] == ["ignore"]
grandchild = (
    "import signal, time\\n"
    + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n" if ignore else "")
    + "time.sleep(60)"
)
if ignore:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", grandchild])
print(child.pid, flush=True)
time.sleep(60)
"""


def _start_tree(*args: str) -> tuple[subprocess.Popen[bytes], int]:
    """The parent (started as a tree root) and its grandchild's pid."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT, *args], stdout=subprocess.PIPE, **tree_start_options()
    )
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    time.sleep(0.3)  # let the grandchild set its signal disposition
    return proc, grandchild


def ended(pid: int) -> bool:
    """True once `pid` has ended (on Linux a zombie waiting to be reaped counts as ended)."""
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            return True
    return not process_exists(pid)


def wait_ended(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if ended(pid):
            return True
        time.sleep(0.05)
    return ended(pid)


def _close(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdout is not None
    proc.stdout.close()


def test_terminate_tree_ends_the_child_and_its_grandchild() -> None:
    proc, grandchild = _start_tree()
    try:
        terminate_tree(proc, grace_s=2.0)
        assert proc.returncode is not None  # reaped
        assert wait_ended(grandchild)
    finally:
        _close(proc)


def test_kill_tree_ends_the_child_and_its_grandchild() -> None:
    proc, grandchild = _start_tree()
    try:
        kill_tree(proc)
        assert proc.returncode is not None
        assert wait_ended(grandchild)
    finally:
        _close(proc)


@posix_only
def test_terminate_tree_sends_sigterm_first() -> None:
    proc, grandchild = _start_tree()
    try:
        terminate_tree(proc, grace_s=2.0)
        assert proc.returncode == -signal.SIGTERM
        assert wait_ended(grandchild)
    finally:
        _close(proc)


@posix_only
def test_terminate_tree_sends_sigkill_to_a_tree_that_ignores_sigterm() -> None:
    proc, grandchild = _start_tree("ignore")
    try:
        terminate_tree(proc, grace_s=0.3)
        assert proc.returncode == -signal.SIGKILL
        assert wait_ended(grandchild)
    finally:
        _close(proc)


@posix_only
def test_kill_tree_sends_sigkill_at_once() -> None:
    proc, grandchild = _start_tree()
    try:
        kill_tree(proc)
        assert proc.returncode == -signal.SIGKILL
        assert wait_ended(grandchild)
    finally:
        _close(proc)


@posix_only
def test_the_child_leads_its_own_process_group() -> None:
    proc, grandchild = _start_tree()
    try:
        assert os.getpgid(proc.pid) == proc.pid != os.getpgid(0)
        assert os.getpgid(grandchild) == proc.pid
    finally:
        kill_tree(proc)
        _close(proc)


@posix_only
def test_leftovers_of_a_root_that_already_ended_are_ended_too() -> None:
    # The root exits at once; the grandchild it left behind still runs in the group.
    code = "import subprocess, sys; print(subprocess.Popen([sys.executable, '-c', "
    code += "'import time; time.sleep(60)']).pid, flush=True)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, **tree_start_options()
    )
    assert proc.stdout is not None
    try:
        leftover = int(proc.stdout.readline())
        assert proc.wait(10) == 0
        assert not ended(leftover)
        terminate_tree(proc, grace_s=2.0)
        assert proc.returncode == 0  # the root keeps its real result
        assert wait_ended(leftover)
    finally:
        _close(proc)


def test_ending_a_tree_that_already_ended_is_fine() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], **tree_start_options())
    assert proc.wait(10) == 0
    terminate_tree(proc, grace_s=2.0)
    kill_tree(proc)
    assert proc.returncode == 0
