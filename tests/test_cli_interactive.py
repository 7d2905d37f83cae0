"""`opsflow run` in a real (pseudo-)terminal: approvals and breakpoints answered there."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from opsflow.engine.journal import Journal
from tests.flowdocs import edge, flow_doc, node, write


class Terminal:
    """A process attached to a pseudo-terminal, read and typed into like a person would."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            left = deadline - time.monotonic()
            assert left > 0, f"did not see {text!r}; the screen shows:\n{self.screen}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode("utf-8", "replace")
                except OSError:  # the process ended and closed the terminal
                    break
        assert text in self.screen, self.screen

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        try:
            while select.select([self.master], [], [], 0.1)[0]:
                self.screen += os.read(self.master, 4096).decode("utf-8", "replace")
        except OSError:
            pass
        os.close(self.master)
        return code


def opsflow_in_terminal(flow_path: Path, store: Path, *extra: str) -> Terminal:
    env = {**os.environ, "OPSFLOW_USER": "alice", "TERM": "dumb"}
    args = [sys.executable, "-m", "opsflow", "run", str(flow_path), "--store", str(store), *extra]
    return Terminal(args, env)


def test_approval_answered_at_the_prompt(tmp_path: Path) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node(
                "ask",
                "control.approval",
                approvers=["alice"],
                message="Restart nginx?",
                timeout_s=600,
                form={"type": "object", "properties": {"ticket": {"type": "string"}}},
            ),
            node("go", "action.set_vars", values={"by": "{{ nodes.ask.output.by }}"}),
        ],
        [edge("start", "out", "ask"), edge("ask", "approved", "go")],
    )
    terminal = opsflow_in_terminal(write(tmp_path / "f.flow.json", flow), tmp_path / "j.sqlite")
    terminal.expect("approve 'ask' as alice?")
    terminal.type("a")
    terminal.expect("comment")
    terminal.type("looks fine")
    terminal.expect("ticket:")
    terminal.type("CHG123")
    assert terminal.finish() == 0, terminal.screen
    assert "ask approved by alice" in terminal.screen
    assert "go → success" in terminal.screen


def test_breakpoint_continued_at_the_prompt(tmp_path: Path) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("first", "action.set_vars", values={"a": 1}),
            node("second", "action.set_vars", values={"b": 2}),
        ],
        [edge("start", "out", "first"), edge("first", "success", "second")],
    )
    path = write(tmp_path / "f.flow.json", flow)
    terminal = opsflow_in_terminal(path, tmp_path / "j.sqlite", "--break", "second")
    terminal.expect("paused before second")
    assert "second →" not in terminal.screen
    terminal.expect("[c]ontinue / [s]tep / [a]bort")
    terminal.type("c")
    assert terminal.finish() == 0, terminal.screen
    assert "second → success" in terminal.screen


def test_step_runs_one_node_and_asks_again(tmp_path: Path) -> None:
    flow = flow_doc(
        [
            node("start", "trigger.manual"),
            node("first", "action.set_vars", values={"a": 1}),
            node("second", "action.set_vars", values={"b": 2}),
        ],
        [edge("start", "out", "first"), edge("first", "success", "second")],
    )
    path = write(tmp_path / "f.flow.json", flow)
    terminal = opsflow_in_terminal(path, tmp_path / "j.sqlite", "--break", "first")
    terminal.expect("paused before first")
    terminal.expect("[c]ontinue / [s]tep / [a]bort")
    terminal.type("s")
    terminal.expect("paused before second")
    assert "first → success" in terminal.screen and "second →" not in terminal.screen
    terminal.expect("[c]ontinue / [s]tep / [a]bort")
    terminal.type("c")
    assert terminal.finish() == 0, terminal.screen
    assert "second → success" in terminal.screen


def test_abort_at_a_breakpoint_cancels(tmp_path: Path) -> None:
    flow = flow_doc(
        [node("start", "trigger.manual"), node("only", "action.set_vars", values={"a": 1})],
        [edge("start", "out", "only")],
    )
    path = write(tmp_path / "f.flow.json", flow)
    terminal = opsflow_in_terminal(path, tmp_path / "j.sqlite", "--break", "only")
    terminal.expect("[c]ontinue / [s]tep / [a]bort")
    terminal.type("a")
    assert terminal.finish() == 130, terminal.screen
    assert "cancelled" in terminal.screen


def confirm_flow(tmp_path: Path) -> Path:
    flow = flow_doc(
        [
            node("start", "trigger.manual", confirm=True, confirm_message="Restart nginx now?"),
            node("note", "action.set_vars", values={"done": True}),
        ],
        [edge("start", "out", "note")],
    )
    return write(tmp_path / "f.flow.json", flow)


def test_a_confirmation_is_asked_and_yes_starts_the_run(tmp_path: Path) -> None:
    terminal = opsflow_in_terminal(confirm_flow(tmp_path), tmp_path / "j.sqlite")
    terminal.expect("Restart nginx now? [y/N] ")
    assert "note" not in terminal.screen  # asked before the run starts
    terminal.type("y")
    assert terminal.finish() == 0, terminal.screen
    assert "note → success" in terminal.screen


def test_a_confirmation_answered_no_starts_nothing(tmp_path: Path) -> None:
    store = tmp_path / "j.sqlite"
    terminal = opsflow_in_terminal(confirm_flow(tmp_path), store)
    terminal.expect("Restart nginx now? [y/N] ")
    terminal.type("")  # Enter: the default is no
    assert terminal.finish() == 2, terminal.screen
    assert 'not started, as the answer to "Restart nginx now?" was not yes' in terminal.screen
    assert "note" not in terminal.screen
    with Journal(store) as journal:
        assert journal.list_runs() == []
