"""Running flows in a real Studio window: canvas states, debugging, approvals, history.

Every test drives a `MainWindow` whose engine runs on its worker thread and
writes the test's SQLite journal; node types are local (shell, wait,
set_vars, conditions, approvals) so nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from opsflow.flowfile import parse_flow
from opsflow.studio.mainwindow import MainWindow
from opsflow.studio.run.approvals import ApprovalForm
from opsflow.studio.run.session import current_user
from opsflow.studio.run.start_dialog import StartChoice, StartDialog
from tests.flowdocs import edge, flow_doc, node, write

RUN_TIMEOUT_MS = 15_000
#: The longest the GUI thread may go without handling a timer while a run goes on.
OPSFLOW = Path(sys.executable).with_name("opsflow")
LEFT = Qt.MouseButton.LeftButton
#: What the user sees while a run goes on, and once it has ended.
RUN_ACTIONS = ("run", "from_here", "continue", "step", "abort")


# -- flows -----------------------------------------------------------------------------------


def append_to(marker: Path) -> list[str]:
    """A shell command that adds one line to `marker` each time it really runs."""
    return ["sh", "-c", f"echo ran >> {shlex.quote(str(marker))}"]


def times_ran(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def mixed_flow(marker: Path) -> dict[str, Any]:
    """Vars, a branch, a command, a short wait, a command that fails into its error path."""
    return flow_doc(
        [
            node("start", "trigger.manual"),
            node("setv", "action.set_vars", values={"hosts": 2}),
            node("check", "condition.if", condition="vars.hosts > 0"),
            node("say", "action.shell", command=["echo", "hi"]),
            node("mark", "action.shell", command=append_to(marker)),
            node("nap", "action.wait", duration_s=0.01),
            node("boom", "action.shell", command=["false"]),
            node("handled", "action.set_vars", values={"handled": True}),
            node("never", "action.set_vars", values={"never": True}),
            node("other", "action.set_vars", values={"other": True}),
        ],
        [
            edge("start", "out", "setv"),
            edge("setv", "success", "check"),
            edge("check", "true", "say"),
            edge("check", "false", "other"),
            edge("say", "success", "mark"),
            edge("mark", "success", "nap"),
            edge("nap", "success", "boom"),
            edge("boom", "error", "handled"),
            edge("boom", "success", "never"),
        ],
        id="mixed-flow",
        name="Mixed",
        inputs={"who": {"type": "string", "default": "ops"}},
    )


def chain_flow(markers: dict[str, Path]) -> dict[str, Any]:
    """start → one shell node per marker, in order, each appending to its marker file."""
    names = list(markers)
    nodes = [node("start", "trigger.manual")]
    nodes += [node(name, "action.shell", command=append_to(markers[name])) for name in names]
    edges = [edge("start", "out", names[0])]
    edges += [edge(a, "success", b) for a, b in pairwise(names)]
    return flow_doc(nodes, edges, id="chain-flow")


def approval_flow(user: str) -> dict[str, Any]:
    return flow_doc(
        [
            node("start", "trigger.manual"),
            node("prep", "action.set_vars", values={"ready": True}),
            node("ask", "control.approval", approvers=[user], message="Go ahead?"),
            node("done", "action.shell", command=["echo", "approved"]),
            node("stop", "action.set_vars", values={"stopped": True}),
        ],
        [
            edge("start", "out", "prep"),
            edge("prep", "success", "ask"),
            edge("ask", "approved", "done"),
            edge("ask", "rejected", "stop"),
        ],
        id="approval-window-flow",
    )


def open_window(qtbot: QtBot, tmp_path: Path, document: dict[str, Any]) -> MainWindow:
    """Save the flow in tmp_path and open it as the Studio does, on the test's journal."""
    path = write(tmp_path / f"{document['id']}.flow.json", document)
    flow = parse_flow(path.read_text(encoding="utf-8"), str(path))
    window = MainWindow(flow, path, journal_path=journal_of(tmp_path))
    window.show()
    qtbot.waitExposed(window)
    return window


def journal_of(tmp_path: Path) -> Path:
    return Path(os.environ["OPSFLOW_STORE"])


def start(window: MainWindow, *, dry_run: bool = False, **inputs: Any) -> str:
    run_id = window.runs.start_with(StartChoice("start", None, dict(inputs), dry_run))
    assert run_id is not None
    return run_id


def run_to_end(qtbot: QtBot, window: MainWindow, **options: Any) -> tuple[str, str, str]:
    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        run_id = start(window, **options)
    assert ended.args is not None and ended.args[0] == run_id
    run_id, status, error = ended.args
    return run_id, status, error


def enabled(window: MainWindow) -> dict[str, bool]:
    return {name: window.runs.actions[name].isEnabled() for name in RUN_ACTIONS}


def states(window: MainWindow) -> dict[str, str | None]:
    """What each canvas item shows: its run state, or None when it took no part."""
    return {
        node_id: item.run.state if item.run is not None else None
        for node_id, item in window.scene.nodes.items()
    }


def wait_phase(qtbot: QtBot, window: MainWindow, phase: str) -> None:
    qtbot.waitUntil(
        lambda: window.session.view is not None and window.session.view.phase == phase,
        timeout=RUN_TIMEOUT_MS,
    )


IDLE = {"run": True, "from_here": True, "continue": False, "step": False, "abort": False}
RUNNING = {"run": False, "from_here": False, "continue": False, "step": False, "abort": True}
PAUSED = {"run": False, "from_here": False, "continue": True, "step": True, "abort": True}


# -- 1. a run on the canvas ------------------------------------------------------------------


def test_a_run_paints_states_ports_edges_and_times_on_the_canvas(
    qtbot: QtBot, tmp_path: Path
) -> None:
    marker = tmp_path / "mark.txt"
    window = open_window(qtbot, tmp_path, mixed_flow(marker))
    assert enabled(window) == IDLE
    assert all(item.run is None for item in window.scene.nodes.values())

    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        run_id = start(window)
        assert enabled(window) == RUNNING
        assert f"Run {run_id}" in window.runs.phase_label.text()
    assert ended.args == [run_id, "succeeded", ""]
    assert enabled(window) == IDLE
    assert window.runs.phase_label.text() == f"Run {run_id}: Succeeded"

    assert states(window) == {
        "start": "succeeded",
        "setv": "succeeded",
        "check": "succeeded",
        "say": "succeeded",
        "mark": "succeeded",
        "nap": "succeeded",
        "boom": "failed",
        "handled": "succeeded",
        "never": "skipped",
        "other": "skipped",
    }
    items = window.scene.nodes
    ports = {n: items[n].run.port for n in ("start", "setv", "check", "say", "nap", "boom")}
    assert ports == {
        "start": "out",
        "setv": "success",
        "check": "true",
        "say": "success",
        "nap": "success",
        "boom": "error",
    }
    assert items["say"].run.output["stdout"].strip() == "hi"
    assert "exit" in (items["boom"].run.error or "").lower()
    for node_id in ("setv", "check", "say", "mark", "nap", "boom", "handled"):
        run = items[node_id].run
        assert run.duration_s is not None and run.duration_s >= 0, node_id
        assert run.attempts == 1 and not run.pinned and not run.simulated
    assert items["nap"].run.duration_s >= 0.009
    carried = {edge_id: item.carried for edge_id, item in window.scene.edges.items()}
    assert carried == {
        "start.out.setv": True,
        "setv.success.check": True,
        "check.true.say": True,
        "check.false.other": False,
        "say.success.mark": True,
        "mark.success.nap": True,
        "nap.success.boom": True,
        "boom.error.handled": True,
        "boom.success.never": False,
    }
    assert times_ran(marker) == 1
    # The run panel's log shows this run, the history lists it.
    assert window.runs.run_panel.model.rowCount() == len(window.session.view.events)
    qtbot.waitUntil(lambda: [r.id for r in window.runs.history.runs()] == [run_id])


# -- 2. breakpoints --------------------------------------------------------------------------


def test_a_breakpoint_pauses_step_runs_one_node_continue_finishes(
    qtbot: QtBot, tmp_path: Path
) -> None:
    markers = {name: tmp_path / f"{name}.txt" for name in ("a", "b", "c")}
    window = open_window(qtbot, tmp_path, chain_flow(markers))
    scene, actions = window.scene, window.runs.actions
    scene.select_only(["a"])
    actions["breakpoint"].trigger()  # F9 on the selected node
    assert window.session.breakpoints == {"a"}
    assert scene.nodes["a"].breakpoint and not scene.nodes["b"].breakpoint

    run_id = start(window)
    wait_phase(qtbot, window, "paused")
    assert scene.nodes["a"].run.state == "paused"
    assert scene.nodes["start"].run.state == "succeeded"
    assert scene.nodes["b"].run is None and times_ran(markers["a"]) == 0
    assert enabled(window) == PAUSED
    assert window.runs.phase_label.text() == f"Run {run_id}: paused before a"

    # Step: the engine runs `a`, closes its gate again and says it paused before `b`.
    actions["step"].trigger()
    qtbot.waitUntil(lambda: scene.nodes["a"].run.state == "succeeded", timeout=RUN_TIMEOUT_MS)
    wait_phase(qtbot, window, "paused")
    qtbot.wait(300)  # time in which `b` would have run had the gate stayed open
    assert times_ran(markers["a"]) == 1 and times_ran(markers["b"]) == 0
    assert scene.nodes["b"].run.state == "paused"
    pauses = [e for e in window.session.view.events if e.kind == "run_paused"]
    assert [(e.node, e.data) for e in pauses] == [("a", {}), ("b", {"after_step": True})]
    assert enabled(window) == PAUSED
    assert window.runs.phase_label.text() == f"Run {run_id}: paused before b"

    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        actions["continue"].trigger()
    assert ended.args == [run_id, "succeeded", ""]
    assert set(states(window).values()) == {"succeeded"}
    assert [times_ran(m) for m in markers.values()] == [1, 1, 1]
    assert enabled(window) == IDLE
    assert scene.nodes["a"].breakpoint  # the breakpoint stays for the next run


def test_abort_at_a_breakpoint_cancels_the_run(qtbot: QtBot, tmp_path: Path) -> None:
    markers = {name: tmp_path / f"{name}.txt" for name in ("a", "b")}
    window = open_window(qtbot, tmp_path, chain_flow(markers))
    window.scene.select_only(["b"])
    window.runs.actions["breakpoint"].trigger()
    run_id = start(window)
    wait_phase(qtbot, window, "paused")
    assert window.scene.nodes["b"].run.state == "paused"
    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        window.runs.actions["abort"].trigger()
    assert ended.args == [run_id, "cancelled", "the run was aborted"]
    assert window.session.view is not None and window.session.view.phase == "cancelled"
    assert window.scene.nodes["a"].run.state == "succeeded"
    assert window.scene.nodes["b"].run.state != "paused"
    assert times_ran(markers["a"]) == 1 and times_ran(markers["b"]) == 0
    assert enabled(window) == IDLE
    assert window.runs.phase_label.text() == f"Run {run_id}: Cancelled"


# -- 3. approvals ----------------------------------------------------------------------------


def test_an_approval_is_decided_in_the_panel_and_from_the_command_line(
    qtbot: QtBot, tmp_path: Path
) -> None:
    user = current_user()
    window = open_window(qtbot, tmp_path, approval_flow(user))
    panel = window.runs.approvals
    run_id = start(window)
    wait_phase(qtbot, window, "waiting")
    item = window.scene.nodes["ask"]
    assert item.run.state == "waiting" and item.run.waiting == "approval"
    assert window.runs.phase_label.text() == f"Run {run_id}: Waiting for an approval"
    assert enabled(window) == RUNNING
    qtbot.waitUntil(lambda: [(a.run_id, a.node) for a in panel.pending()] == [(run_id, "ask")])
    assert panel.isVisible()  # the Approvals dock came to the front
    form = panel.form
    assert isinstance(form, ApprovalForm)
    assert "Go ahead?" in form.message_label.text()
    form.comment.setPlainText("fine by me")
    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(form.approve_button, LEFT)
    assert ended.args == [run_id, "succeeded", ""]
    assert item.run.state == "succeeded" and item.run.port == "approved"
    assert item.run.output["by"] == user and item.run.output["comment"] == "fine by me"
    assert window.scene.nodes["done"].run.state == "succeeded"
    assert window.scene.nodes["stop"].run.state == "skipped"
    assert window.scene.edges["ask.approved.done"].carried is True
    qtbot.waitUntil(lambda: panel.pending() == [])

    second = start(window)
    wait_phase(qtbot, window, "waiting")
    qtbot.waitUntil(lambda: [a.run_id for a in panel.pending()] == [second])
    command = [str(OPSFLOW), "approve", second, "ask", "--reject", "--as", user]
    command += ["--comment", "not today", "--store", str(journal_of(tmp_path))]
    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
    assert ended.args == [second, "succeeded", ""]
    assert item.run.state == "succeeded" and item.run.port == "rejected"
    assert window.scene.nodes["stop"].run.state == "succeeded"
    assert window.scene.nodes["done"].run.state == "skipped"
    assert window.scene.edges["ask.rejected.stop"].carried is True
    assert window.scene.edges["ask.approved.done"].carried is False
    qtbot.waitUntil(lambda: panel.pending() == [])


# -- 4. pins ---------------------------------------------------------------------------------


def test_a_pinned_node_returns_its_output_without_running(qtbot: QtBot, tmp_path: Path) -> None:
    markers = {name: tmp_path / f"{name}.txt" for name in ("fetch", "use")}
    window = open_window(qtbot, tmp_path, chain_flow(markers))
    session, scene = window.session, window.scene
    assert run_to_end(qtbot, window)[1] == "succeeded"
    assert [times_ran(m) for m in markers.values()] == [1, 1]
    first_output = scene.nodes["fetch"].run.output

    scene.select_only(["fetch"])
    window.runs.actions["pin"].trigger()
    assert session.pins["fetch"].output == first_output
    assert scene.nodes["fetch"].pinned and not scene.nodes["use"].pinned

    _, status, _ = run_to_end(qtbot, window)
    assert status == "succeeded"
    fetch = scene.nodes["fetch"]
    assert fetch.pinned and fetch.run.pinned and fetch.run.state == "succeeded"
    assert fetch.run.output == first_output
    assert not scene.nodes["use"].run.pinned
    assert [times_ran(m) for m in markers.values()] == [1, 2]

    window.runs.actions["unpin"].trigger()
    assert "fetch" not in session.pins and not fetch.pinned
    run_to_end(qtbot, window)
    assert not fetch.run.pinned and [times_ran(m) for m in markers.values()] == [2, 3]


# -- 5. dry run ------------------------------------------------------------------------------


def test_a_dry_run_simulates_side_effects_and_writes_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    marker = tmp_path / "mark.txt"
    window = open_window(qtbot, tmp_path, mixed_flow(marker))
    run_id, status, _ = run_to_end(qtbot, window, dry_run=True)
    assert status == "succeeded"
    assert window.runs.actions["dry_run"].isChecked()
    items = window.scene.nodes
    for node_id in ("say", "mark", "nap", "boom"):
        assert items[node_id].run.simulated, node_id
        assert items[node_id].run.state == "succeeded", node_id
    assert items["mark"].run.output["would_run"] == "action.shell"
    assert items["mark"].run.output["params"]["command"] == append_to(marker)
    # set_vars and conditions only decide: they really run, also in a dry run.
    assert not items["setv"].run.simulated and items["check"].run.port == "true"
    assert items["never"].run.state == "succeeded"  # the simulated `false` "succeeded"
    assert items["handled"].run.state == "skipped"
    assert not marker.exists()
    record = window.session.journal().get_run(run_id)
    assert record is not None and record.dry_run


# -- 6. history after a restart --------------------------------------------------------------


def test_history_after_a_restart_paints_past_runs_and_reruns_them(
    qtbot: QtBot, tmp_path: Path
) -> None:
    marker = tmp_path / "mark.txt"
    document = mixed_flow(marker)
    window = open_window(qtbot, tmp_path, document)
    first, _, _ = run_to_end(qtbot, window, who="ann")
    dry, _, _ = run_to_end(qtbot, window, dry_run=True, who="bob")
    window.close()
    assert times_ran(marker) == 1

    window = open_window(qtbot, tmp_path, document)  # the Studio started again
    history = window.runs.history
    assert window.session.view is None
    assert all(item.run is None for item in window.scene.nodes.values())
    assert [r.id for r in history.runs()] == [dry, first]
    assert history.tree.topLevelItem(0).text(5) == "yes"

    assert history.select(first)
    assert window.session.view is not None and window.session.view.run_id == first
    assert window.scene.nodes["boom"].run.state == "failed"
    assert window.scene.nodes["mark"].run.state == "succeeded"
    assert not window.scene.nodes["mark"].run.simulated
    assert window.scene.nodes["never"].run.state == "skipped"
    assert window.scene.edges["boom.error.handled"].carried is True
    assert enabled(window) == IDLE

    assert history.select(dry)
    assert window.scene.nodes["mark"].run.simulated
    assert window.scene.nodes["handled"].run.state == "skipped"

    assert history.select(first)
    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(history.rerun_button, LEFT)
    again, status, _ = ended.args
    assert again not in (first, dry) and status == "succeeded"
    assert window.session.view.run_id == again and window.session.view.inputs == {"who": "ann"}
    assert not window.session.view.dry_run and times_ran(marker) == 2
    qtbot.waitUntil(lambda: [r.id for r in history.runs()] == [again, dry, first])


# -- 7. run from here ------------------------------------------------------------------------


def test_run_from_here_replays_upstream_and_runs_the_rest(qtbot: QtBot, tmp_path: Path) -> None:
    markers = {name: tmp_path / f"{name}.txt" for name in ("a", "b", "c", "d")}
    window = open_window(qtbot, tmp_path, chain_flow(markers))
    first, status, _ = run_to_end(qtbot, window)
    assert status == "succeeded" and [times_ran(m) for m in markers.values()] == [1, 1, 1, 1]

    window.scene.select_only(["c"])
    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        window.runs.actions["from_here"].trigger()
    again, status, _ = ended.args
    assert again != first and status == "succeeded"
    assert [times_ran(m) for m in markers.values()] == [1, 1, 2, 2]
    items = window.scene.nodes
    assert items["a"].run.pinned and items["b"].run.pinned
    assert not items["c"].run.pinned and not items["d"].run.pinned
    assert set(states(window).values()) == {"succeeded"}
    assert not items["a"].pinned  # replayed for this run only, not pinned for later ones


def test_run_from_here_needs_one_selected_node(qtbot: QtBot, tmp_path: Path) -> None:
    markers = {name: tmp_path / f"{name}.txt" for name in ("a", "b")}
    window = open_window(qtbot, tmp_path, chain_flow(markers))
    window.scene.select_only(["b"])
    window.runs.actions["from_here"].trigger()
    assert "Show an earlier run first" in window.statusBar().currentMessage()
    run_to_end(qtbot, window)
    window.scene.select_only([])
    window.runs.actions["from_here"].trigger()
    assert window.statusBar().currentMessage() == "Select the one node to run from."
    assert not window.session.busy


# -- 8. responsiveness -----------------------------------------------------------------------


def test_a_300_node_run_paints_every_state_and_logs_every_event(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """How long the GUI stalls meanwhile is measured by benchmarks/bench_studio_run.py
    (unit tests do not assert wall-clock times)."""
    count = 300
    names = [f"n{i:03d}" for i in range(count)]
    nodes = [node("start", "trigger.manual")]
    nodes += [node(name, "action.set_vars", values={name: i}) for i, name in enumerate(names)]
    edges = [edge("start", "out", names[0])]
    edges += [edge(a, "success", b) for a, b in pairwise(names)]
    window = open_window(qtbot, tmp_path, flow_doc(nodes, edges, id="long-chain"))
    _, status, _ = run_to_end(qtbot, window)
    assert status == "succeeded"
    assert all(window.scene.nodes[name].run.state == "succeeded" for name in names)
    assert window.runs.run_panel.model.rowCount() == len(window.session.view.events) > 600


# -- 9. the start dialog ---------------------------------------------------------------------


def typed_inputs_flow() -> dict[str, Any]:
    return flow_doc(
        [
            node("start", "trigger.manual"),
            node("hook", "trigger.webhook", path="/hook"),
            node("setv", "action.set_vars", values={"n": "{{ inputs.count }}"}),
        ],
        [edge("start", "out", "setv"), edge("hook", "out", "setv")],
        id="typed-inputs",
        inputs={
            "count": {"type": "integer", "minimum": 1, "required": True, "title": "Count"},
            "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
        },
    )


def start_dialog(qtbot: QtBot) -> tuple[StartDialog, QPushButton]:
    flow = parse_flow(json.dumps(typed_inputs_flow()))
    dialog = StartDialog(flow, {"hook": "trigger.webhook", "start": "trigger.manual"})
    qtbot.addWidget(dialog)
    dialog.show()
    box = dialog.findChild(QDialogButtonBox)
    assert isinstance(box, QDialogButtonBox)
    return dialog, box.button(QDialogButtonBox.StandardButton.Ok)


@pytest.mark.parametrize(
    ("count", "sentence"),
    [
        ("", "input 'count' is required"),
        ("0", "input 'count'"),
        ("-1", "input 'count'"),
        ("three", "input 'count'"),
        ("1.5", "input 'count'"),
        ("1e400", "input 'count'"),
        ("'; DROP TABLE runs; --", "input 'count'"),
        ("{{ 7 * 7 }}", "input 'count'"),
        ("[1]", "input 'count'"),
    ],
)
def test_the_start_dialog_refuses_bad_inputs_with_a_sentence(
    qtbot: QtBot, count: str, sentence: str
) -> None:
    dialog, run_button = start_dialog(qtbot)
    dialog.trigger_box.setCurrentIndex(dialog.trigger_box.findData("start"))
    count_edit = dialog._inputs["count"]
    assert isinstance(count_edit, QLineEdit)
    count_edit.setText(count)
    qtbot.mouseClick(run_button, LEFT)
    assert dialog.isVisible() and dialog.choice is None
    problem = dialog.problem.text()
    assert sentence in problem and "Traceback" not in problem
    count_edit.setText("12")  # fixing the value is enough
    qtbot.mouseClick(run_button, LEFT)
    assert not dialog.isVisible()
    assert dialog.choice == StartChoice("start", None, {"count": 12, "mode": "safe"}, False)


@pytest.mark.parametrize(
    ("count", "value"), [("9" * 400, int("9" * 400)), ("\uff13", 3), (" 5 ", 5)]
)
def test_the_start_dialog_takes_what_the_engine_takes(qtbot: QtBot, count: str, value: int) -> None:
    """Huge integers and Unicode digits are integers to the engine's rules too."""
    dialog, run_button = start_dialog(qtbot)
    dialog.trigger_box.setCurrentIndex(dialog.trigger_box.findData("start"))
    count_edit = dialog._inputs["count"]
    assert isinstance(count_edit, QLineEdit)
    count_edit.setText(count)
    qtbot.mouseClick(run_button, LEFT)
    assert dialog.choice is not None and dialog.choice.inputs["count"] == value


def test_the_start_dialog_refuses_a_bad_payload_then_accepts_good_values(qtbot: QtBot) -> None:
    dialog, run_button = start_dialog(qtbot)
    dialog.trigger_box.setCurrentIndex(dialog.trigger_box.findData("hook"))
    assert dialog.payload_edit.isVisible()
    dialog._inputs["count"].setText("2")
    for text in ('{"body": ', "[1, 2,,]", "{'single': 'quotes'}", "\x00"):
        dialog.payload_edit.setPlainText(text)
        qtbot.mouseClick(run_button, LEFT)
        assert dialog.isVisible() and dialog.choice is None, text
        assert dialog.problem.text().startswith("the payload is not valid JSON ("), text

    dialog.payload_edit.setPlainText('{"body": {"host": "web-1 ✓"}}')
    mode = dialog._inputs["mode"]
    mode.setCurrentIndex(mode.findData("fast"))
    dialog.dry_run_box.setChecked(True)
    qtbot.mouseClick(run_button, LEFT)
    assert not dialog.isVisible()
    assert dialog.choice == StartChoice(
        "hook", {"body": {"host": "web-1 ✓"}}, {"count": 2, "mode": "fast"}, True
    )


def test_the_run_action_asks_in_the_dialog_and_starts_the_run(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = typed_inputs_flow()
    document["nodes"] = [n for n in document["nodes"] if n["id"] != "hook"]
    document["edges"] = [e for e in document["edges"] if e["from"] != "hook"]
    window = open_window(qtbot, tmp_path, document)
    asked: list[StartDialog] = []

    def answer(dialog: StartDialog) -> int:
        asked.append(dialog)
        dialog._inputs["count"].setText("-4")
        dialog.accept()
        assert dialog.choice is None and "input 'count'" in dialog.problem.text()
        dialog._inputs["count"].setText("4")
        dialog.accept()
        return int(dialog.result())

    monkeypatch.setattr(StartDialog, "exec", answer)
    with qtbot.waitSignal(window.session.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        window.runs.actions["run"].trigger()
    assert len(asked) == 1 and ended.args[1] == "succeeded"
    assert window.scene.nodes["setv"].run.output == {"n": 4}
    assert window.session.view.inputs == {"count": 4, "mode": "safe"}


def test_a_typed_pin_refuses_bad_json_and_keeps_a_good_one(qtbot: QtBot) -> None:
    from opsflow.studio.run.pin_dialog import PinDialog

    dialog = PinDialog("check", ("success", "error"))
    qtbot.addWidget(dialog)
    dialog.editor.setPlainText('{"status": ')
    dialog.accept()
    assert dialog.pin is None and "not JSON" in dialog.problem.text()
    dialog.editor.setPlainText('{"status": 503}')
    dialog.port_box.setCurrentText("error")
    dialog.accept()
    assert dialog.pin is not None
    assert (dialog.pin.output, dialog.pin.port) == ({"status": 503}, "error")
