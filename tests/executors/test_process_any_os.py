"""The process executors on every OS: these run on Windows too (test_process.py is POSIX only).

The programs are Python, so nothing here depends on a POSIX shell or POSIX signals.
"""

from __future__ import annotations

import sys

import pytest

from opsflow.nodeapi import NodeError
from tests.executors.test_process import run_shell
from tests.oscompat.test_process_tree import PARENT, wait_ended


def test_a_timeout_ends_the_program_and_the_child_it_started() -> None:
    with pytest.raises(
        NodeError, match="timed out after 1 s; the process group was killed"
    ) as info:
        run_shell(timeout_s=1.0, command=[sys.executable, "-c", PARENT])
    grandchild = int(info.value.output["stdout"].split()[0])
    assert wait_ended(grandchild)


def test_a_shell_line_runs_with_this_os_shell() -> None:
    assert run_shell(command=["echo hello"], shell=True).output["stdout"].strip() == "hello"
    with pytest.raises(NodeError, match="the shell line exited with code 7"):
        run_shell(command=["exit 7"], shell=True)
