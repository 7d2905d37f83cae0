"""The run, approvals and history panels against the real engine and a real SQLite journal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from opsflow.engine.event_text import event_text
from opsflow.engine.events import Event
from opsflow.flowfile import parse_flow
from opsflow.studio.document import FlowDocument
from opsflow.studio.run.approvals import ApprovalForm, ApprovalPanel
from opsflow.studio.run.eventlog import EventLogModel
from opsflow.studio.run.history import HistoryPanel
from opsflow.studio.run.panel import RunPanel
from opsflow.studio.run.session import RunSession, current_user
from tests.flowdocs import edge, flow_doc, node

RUN_TIMEOUT_MS = 15_000
OPSFLOW = Path(sys.executable).with_name("opsflow")


def closed_port() -> int:
    """A loopback port nobody listens on (connections to it are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def probe_flow() -> dict[str, Any]:
    """An HTTP check that fails (with an info and a warning log line) and is handled."""
    url = f"http://127.0.0.1:{closed_port()}/health"
    return flow_doc(
        [
            node("start", "trigger.manual"),
            node("probe", "action.http", url=url, verify_tls=False),
            node("handled", "action.set_vars", values={"down": True}),
            node("ok", "action.set_vars", values={"down": False}),
        ],
        [
            edge("start", "out", "probe"),
            edge("probe", "error", "handled"),
            edge("probe", "success", "ok"),
        ],
        id="probe-flow",
    )


def approval_flow(user: str) -> dict[str, Any]:
    """Set a variable, branch on it, and ask `user` with a form before the last step."""
    form = {
        "type": "object",
        "properties": {
            "ticket": {"type": "string", "title": "Ticket"},
            "count": {"type": "integer", "title": "Hosts"},
            "urgent": {"type": "boolean", "title": "Urgent"},
            "window": {"type": "string", "enum": ["tonight", "weekend"], "default": "tonight"},
        },
        "required": ["ticket"],
    }
    return flow_doc(
        [
            node("start", "trigger.manual"),
            node("setv", "action.set_vars", values={"n": "{{ inputs.n }}"}),
            node("big", "condition.if", condition="vars.n > 2"),
            node("ask", "control.approval", approvers=[user], message="Patch now?", form=form),
            node("done", "action.set_vars", values={"ok": True}),
        ],
        [
            edge("start", "out", "setv"),
            edge("setv", "success", "big"),
            edge("big", "true", "ask"),
            edge("big", "false", "done"),
            edge("ask", "approved", "done"),
        ],
        id="approval-flow",
        inputs={"n": {"type": "integer", "default": 3}},
    )


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


class Sessions:
    """Sessions over flow dicts and the test's journal, as windows would open them."""

    def __init__(self, journal_path: Path) -> None:
        self.journal_path = journal_path
        self.open: list[RunSession] = []

    def make(self, flow: dict[str, Any]) -> RunSession:
        document = FlowDocument(parse_flow(json.dumps(flow)))
        session = RunSession(document, self.journal_path)
        self.open.append(session)
        return session

    def close(self, session: RunSession) -> None:
        """Shut a session down as closing its window does (a run in flight is interrupted)."""
        self.open.remove(session)
        session.shutdown()


@pytest.fixture
def sessions(journal_path: Path) -> Iterator[Sessions]:
    made = Sessions(journal_path)
    yield made
    for session in list(made.open):
        made.close(session)


def run_to_end(qtbot: QtBot, session: RunSession, **options: Any) -> str:
    with qtbot.waitSignal(session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        run_id = session.run(**options)
    assert ended.args is not None and ended.args[0] == run_id
    return run_id


def start_waiting(qtbot: QtBot, session: RunSession) -> str:
    run_id = session.run()
    qtbot.waitUntil(lambda: session.view is not None and session.view.phase == "waiting")
    return run_id


def click_row(qtbot: QtBot, view: Any, index: QModelIndex) -> None:
    rect = view.visualRect(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def shown(widget: QWidget, qtbot: QtBot, width: int = 1000, height: int = 420) -> QWidget:
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    return widget


# -- the run panel ---------------------------------------------------------------------------


def test_log_lists_every_event_and_filters_by_node_level_and_text(
    qtbot: QtBot, sessions: Sessions
) -> None:
    session = sessions.make(probe_flow())
    panel = shown(RunPanel(session), qtbot)
    assert isinstance(panel, RunPanel)
    run_id = run_to_end(qtbot, session)
    assert session.view is not None
    model, proxy = panel.model, panel.proxy
    assert model.rowCount() == len(session.view.events) >= 10
    messages = [model.row(r).message for r in range(model.rowCount())]
    assert "GET http://127.0.0.1" in messages[4]
    assert any(
        m.startswith("failed: could not connect") and m.endswith("→ error") for m in messages
    )
    assert any(m.startswith("→ success in ") and m.endswith(" ms") for m in messages)
    assert messages[-1] == "succeeded" and model.row(model.rowCount() - 1).kind == "run finished"
    header = panel.header.text()
    assert run_id in header and "succeeded" in header and "trigger start" in header

    panel.level_filter.setCurrentIndex(panel.level_filter.findText("Warnings and errors"))
    kinds = [proxy.index(r, 2).data() for r in range(proxy.rowCount())]
    assert kinds == ["warning", "node failed"]
    panel.level_filter.setCurrentIndex(panel.level_filter.findText("Errors"))
    assert proxy.rowCount() == 1 and proxy.index(0, 1).data() == "probe"
    assert panel.count_label.text() == f"1 of {model.rowCount()}"

    panel.level_filter.setCurrentIndex(0)
    panel.node_filter.setCurrentIndex(panel.node_filter.findData("probe"))
    assert {proxy.index(r, 1).data() for r in range(proxy.rowCount())} == {"probe"}
    assert proxy.rowCount() == 4  # started, two log lines, failed
    panel.node_filter.setCurrentIndex(0)
    panel.text_filter.setText("tls certificate")
    assert proxy.rowCount() == 1 and "verify_tls" in proxy.index(0, 3).data()

    panel.text_filter.clear()
    failed = next(r for r in range(proxy.rowCount()) if proxy.index(r, 2).data() == "node failed")
    with qtbot.waitSignal(panel.node_activated) as activated:
        click_row(qtbot, panel.log, proxy.index(failed, 3))
    assert activated.args == ["probe"]
    assert panel.shown_node() == "probe"


def test_show_node_gives_input_output_error_and_pins(qtbot: QtBot, sessions: Sessions) -> None:
    session = sessions.make(probe_flow())
    panel = shown(RunPanel(session), qtbot)
    assert isinstance(panel, RunPanel)
    panel.show_node("handled")
    assert "no run shown" in panel.node_title.text()
    run_to_end(qtbot, session)

    panel.show_node("handled")
    assert panel.input_tree.value() == {"values": {"down": True}}
    assert panel.output_tree.value() == {"down": True}
    assert "succeeded" in panel.node_title.text() and "success" in panel.node_title.text()
    assert panel.output_tree.expand_to(["down"])
    with qtbot.waitSignal(panel.output_tree.path_copied) as copied:
        panel.output_tree.copy_path()
    assert copied.args == ["nodes.handled.output.down"]
    assert panel.pin_button.isEnabled() and not panel.tabs.isTabEnabled(1)
    qtbot.mouseClick(panel.pin_button, Qt.MouseButton.LeftButton)
    assert session.pins["handled"].output == {"down": True}
    assert "pinned for later runs" in panel.node_title.text()

    panel.show_node("probe")
    assert panel.input_tree.value()["url"].startswith("http://127.0.0.1:")
    assert panel.tabs.isTabEnabled(1) and panel.tabs.currentIndex() == 1
    assert "connection refused" in panel.error_text.toPlainText()
    assert not panel.pin_button.isEnabled()
    panel.show_node("ok")
    assert "skipped" in panel.node_title.text() and not panel.pin_button.isEnabled()
    panel.show_node(None)
    assert panel.output_tree.value() is None and not panel.pin_button.isEnabled()


def test_log_appends_thousands_of_events_and_follows_unless_scrolled_up(
    qtbot: QtBot, sessions: Sessions
) -> None:
    session = sessions.make(probe_flow())
    panel = shown(RunPanel(session), qtbot)
    assert isinstance(panel, RunPanel)
    resets: list[bool] = []
    panel.model.modelReset.connect(lambda: resets.append(True))

    def batch(first: int, count: int) -> list[Event]:
        return [
            Event(
                "r1",
                seq,
                "log",
                1_700_000_000 + seq / 1000,
                "n",
                {"level": "info", "message": f"line {seq}"},
            )
            for seq in range(first, first + count)
        ]

    bar = panel.log.verticalScrollBar()
    for start in range(1, 5001, 1000):
        session.events_added.emit(batch(start, 1000))
        qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    assert panel.model.rowCount() == 5000 and not resets
    assert panel.count_label.text() == "5,000 events"

    bar.setValue(10)  # the user scrolls up to read: new rows do not pull the view down
    session.events_added.emit(batch(5001, 100))
    qtbot.wait(20)
    assert bar.value() == 10
    bar.setValue(bar.maximum())
    session.events_added.emit(batch(5101, 100))
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    assert panel.proxy.index(panel.proxy.rowCount() - 1, 3).data() == "line 5200"


def test_event_texts_read_as_sentences() -> None:
    def summary(kind: Any, **data: Any) -> str:
        return event_text(Event("r", 1, kind, 0.0, "n", data))

    assert summary("node_succeeded", port="true", duration_s=0.012) == "→ true in 12 ms"
    assert summary("node_failed", error="boom") == "failed: boom"
    assert summary("node_waiting", reason="approval") == "waiting for approval"
    assert summary("log", level="info", message="hello") == "hello"
    assert summary("approval_decided", decision="rejected", by="ann", comment="no") == (
        "rejected by ann: no"
    )
    assert summary("run_finished", outcome="failed", error="x broke") == "failed: x broke"
    model = EventLogModel()
    model.append([Event("r", 1, "log", 0.0, None, {"level": "error", "message": "a\nb"})])
    assert model.row(0).message == "a ⏎ b" and model.row(0).level == "error"


# -- approvals -------------------------------------------------------------------------------


def test_approval_form_refuses_then_approves_and_the_run_finishes(
    qtbot: QtBot, sessions: Sessions
) -> None:
    session = sessions.make(approval_flow(current_user()))
    panel = shown(ApprovalPanel(session), qtbot, 900, 460)
    assert isinstance(panel, ApprovalPanel)
    counts: list[int] = []
    panel.approval_pending.connect(counts.append)
    run_id = start_waiting(qtbot, session)
    qtbot.waitUntil(lambda: len(panel.pending()) == 1)
    assert counts[-1] == 1
    form = panel.form
    assert isinstance(form, ApprovalForm)
    assert (form.approval.run_id, form.approval.node) == (run_id, "ask")
    assert "Patch now?" in form.message_label.text()
    assert f"Deciding as <b>{session.user}</b>" in form.user_label.text()
    labels = [form.fields.labelForField(w).text() for w in form.inputs.values()]
    assert labels == ["Ticket *", "Hosts", "Urgent", "window"]

    qtbot.mouseClick(form.approve_button, Qt.MouseButton.LeftButton)
    assert form.error() == "'Ticket' is required: fill it in, then decide again."
    form.set_answer("ticket", "CHG-1")
    form.set_answer("count", "three")
    qtbot.mouseClick(form.approve_button, Qt.MouseButton.LeftButton)
    assert "Form field 'count' is of type integer, and 'three' is not" in form.error()
    assert "Traceback" not in form.error()
    assert len(panel.pending()) == 1

    form.set_answer("count", "3")
    form.set_answer("urgent", True)
    form.comment.setPlainText("go ahead")
    with qtbot.waitSignal(session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(form.approve_button, Qt.MouseButton.LeftButton)
        assert panel.pending() == []
    assert ended.args == [run_id, "succeeded", ""]
    assert counts[-1] == 0 and panel.form is None
    assert session.view is not None
    output = session.view.nodes["ask"].output
    assert output["fields"] == {"ticket": "CHG-1", "count": 3, "urgent": True, "window": "tonight"}
    assert output["comment"] == "go ahead" and output["by"] == session.user


def test_somebody_not_listed_is_refused_with_a_sentence(qtbot: QtBot, sessions: Sessions) -> None:
    flow = approval_flow("someone-else")
    session = sessions.make(flow)
    panel = shown(ApprovalPanel(session), qtbot)
    assert isinstance(panel, ApprovalPanel)
    start_waiting(qtbot, session)
    qtbot.waitUntil(lambda: panel.form is not None)
    assert panel.form is not None
    panel.form.set_answer("ticket", "CHG-9 ünïcode ✓")
    qtbot.mouseClick(panel.form.reject_button, Qt.MouseButton.LeftButton)
    assert panel.form.error() == (
        f"'{session.user}' may not decide this approval; approvers: someone-else."
    )
    assert len(panel.pending()) == 1 and session.busy


def test_a_decision_from_the_command_line_continues_the_run_and_drops_it(
    qtbot: QtBot, sessions: Sessions, journal_path: Path
) -> None:
    session = sessions.make(approval_flow(current_user()))
    panel = shown(ApprovalPanel(session), qtbot)
    assert isinstance(panel, ApprovalPanel)
    run_id = start_waiting(qtbot, session)
    qtbot.waitUntil(lambda: len(panel.pending()) == 1)
    command = [str(OPSFLOW), "approve", run_id, "ask", "--approve", "--as", session.user]
    command += ["--field", "ticket=CHG-7", "--store", str(journal_path)]
    with qtbot.waitSignal(session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
    assert ended.args == [run_id, "succeeded", ""]
    qtbot.waitUntil(lambda: panel.pending() == [])
    assert "No approvals waiting" in panel.summary.text()


def test_approvals_of_other_runs_are_listed_and_decided_in_a_dialog(
    qtbot: QtBot, sessions: Sessions
) -> None:
    flow = approval_flow(current_user())
    here, elsewhere = sessions.make(flow), sessions.make(flow)  # two windows on one journal
    panel = shown(ApprovalPanel(here), qtbot)
    assert isinstance(panel, ApprovalPanel)
    other_run = start_waiting(qtbot, elsewhere)
    own_run = start_waiting(qtbot, here)
    qtbot.waitUntil(lambda: {a.run_id for a in panel.pending()} == {own_run, other_run})
    assert panel.tree.topLevelItem(1).text(1) == f"{own_run} (shown)"

    dialog = panel.open_dialog(other_run, "ask")
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    form = dialog.findChild(ApprovalForm)
    assert form is not None
    form.set_answer("ticket", "CHG-2")
    with qtbot.waitSignal(elsewhere.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(form.reject_button, Qt.MouseButton.LeftButton)
    assert ended.args == [other_run, "succeeded", ""]
    assert [a.run_id for a in panel.pending()] == [own_run]
    assert panel.open_dialog(other_run, "ask") is None
    assert elsewhere.view is not None and elsewhere.view.nodes["ask"].port == "rejected"


# -- history ---------------------------------------------------------------------------------


def test_history_after_a_restart_shows_reruns_and_resumes(qtbot: QtBot, sessions: Sessions) -> None:
    first = sessions.make(probe_flow())
    old = run_to_end(qtbot, first)
    newer = run_to_end(qtbot, first, dry_run=True)
    sessions.close(first)

    session = sessions.make(probe_flow())  # the window opened again, on the same journal
    panel = shown(HistoryPanel(session), qtbot, 900, 300)
    run_panel = RunPanel(session)
    qtbot.addWidget(run_panel)
    assert isinstance(panel, HistoryPanel)
    assert [r.id for r in panel.runs()] == [newer, old]
    row = panel.tree.topLevelItem(0)
    assert row.text(0) == "succeeded" and row.text(2) == "start" and row.text(5) == "yes"
    assert row.text(4).endswith("ms") or row.text(4).endswith(" s")

    click_row(qtbot, panel.tree, panel.tree.indexFromItem(panel.tree.topLevelItem(1)))
    assert session.view is not None and session.view.run_id == old
    states = {n: r.state for n, r in session.view.nodes.items()}
    assert states == {
        "start": "succeeded",
        "probe": "failed",
        "handled": "succeeded",
        "ok": "skipped",
    }
    assert run_panel.model.rowCount() == len(session.view.events)
    assert panel.rerun_button.isEnabled() and not panel.resume_button.isEnabled()

    with qtbot.waitSignal(session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(panel.rerun_button, Qt.MouseButton.LeftButton)
    again = ended.args[0]
    assert again not in (old, newer) and ended.args[1] == "succeeded"
    qtbot.waitUntil(lambda: [r.id for r in panel.runs()] == [again, newer, old])
    assert panel.selected_run() == again
    assert f"Started run {again}" in panel.message.text()


def test_an_interrupted_run_is_resumed_from_history(qtbot: QtBot, sessions: Sessions) -> None:
    flow = approval_flow(current_user())
    first = sessions.make(flow)
    run_id = start_waiting(qtbot, first)
    sessions.close(first)  # the window closed while the run waited: it is interrupted

    session = sessions.make(flow)
    panel = shown(HistoryPanel(session), qtbot, 900, 300)
    approvals = ApprovalPanel(session)
    qtbot.addWidget(approvals)
    assert isinstance(panel, HistoryPanel)
    assert panel.runs()[0].state == "interrupted"
    assert panel.select(run_id) and panel.resume_button.isEnabled()
    qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    assert panel.message.text() == f"Resumed run {run_id}."
    assert not panel.resume_button.isEnabled() and not panel.rerun_button.isEnabled()
    qtbot.waitUntil(lambda: [a.run_id for a in approvals.pending()] == [run_id])
    assert approvals.form is not None
    approvals.form.set_answer("ticket", "CHG-3")
    with qtbot.waitSignal(session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(approvals.form.approve_button, Qt.MouseButton.LeftButton)
    assert ended.args == [run_id, "succeeded", ""]
    qtbot.waitUntil(lambda: panel.runs()[0].state == "succeeded")
