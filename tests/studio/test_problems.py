"""Live validation of the open flow and the problems panel."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from opsflow.flowfile import load_flow
from opsflow.model.flow import Edge, Flow
from opsflow.studio.commands import AddItems, ChangeFlow, RemoveItems
from opsflow.studio.document import FlowDocument
from opsflow.studio.problems import ProblemsPanel, Validator, summary_text, worst_by_node
from opsflow.validate import Diagnostic

SAMPLES = Path(__file__).resolve().parents[2] / "sample_flows"


def cleanup_flow() -> Flow:
    return load_flow(SAMPLES / "nightly-disk-cleanup.flow.json")


def with_cycle(flow: Flow) -> Flow:
    """The flow with a wire from `notify_ok` back to `check_disk`: a loop."""
    loop = Edge.model_validate(
        {"id": "loop", "from": "notify_ok", "port": "success", "to": "check_disk"}
    )
    return flow.model_copy(update={"edges": [*flow.edges, loop]})


@pytest.fixture
def panel(qtbot: QtBot) -> ProblemsPanel:
    document = FlowDocument(with_cycle(cleanup_flow()))
    widget = ProblemsPanel(document)
    qtbot.addWidget(widget)
    widget.resize(700, 240)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: not widget.validator.is_pending())
    return widget


def test_summary_text_counts_by_severity() -> None:
    error = Diagnostic("x", "error", "bad")
    warning = Diagnostic("y", "warning", "odd")
    assert summary_text([]) == "No problems"
    assert summary_text([error, error, warning]) == "2 errors, 1 warning"
    assert summary_text([warning, warning]) == "2 warnings"


def test_worst_severity_per_node() -> None:
    found = [
        Diagnostic("a", "warning", "m", node="n1"),
        Diagnostic("b", "error", "m", node="n1"),
        Diagnostic("c", "warning", "m", node="n2"),
        Diagnostic("d", "error", "m"),
    ]
    assert worst_by_node(found) == {"n1": "error", "n2": "warning"}


def test_a_cycle_is_listed_after_the_debounce(qtbot: QtBot) -> None:
    document = FlowDocument(with_cycle(cleanup_flow()))
    panel = ProblemsPanel(document)
    qtbot.addWidget(panel)
    assert panel.summary_label.text() == "Checking…"
    with qtbot.waitSignal(panel.validator.validated, timeout=2000) as blocker:
        pass
    found = blocker.args[0]
    assert any(d.code == "cycle" for d in found), [d.code for d in found]
    assert panel.tree.topLevelItemCount() == len(found)
    assert "error" in panel.summary_label.text()
    nodes = panel.diagnostics_by_node()
    assert nodes == {"check_disk": "error"}
    row = panel.tree.topLevelItem(0)
    assert not row.icon(0).isNull()
    assert row.toolTip(0)


def test_clicking_a_row_reports_its_node_and_field(panel: ProblemsPanel, qtbot: QtBot) -> None:
    rows = [panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())]
    with_node = [r for r in rows if r.text(1) and not r.text(1).startswith("edge ")]
    assert with_node
    row = with_node[0]
    rect = panel.tree.visualItemRect(row)
    with qtbot.waitSignal(panel.problem_activated) as blocker:
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args[0] == row.text(1)
    assert blocker.args[1] == (row.text(2) or None)


def test_enter_on_a_row_reports_it(panel: ProblemsPanel, qtbot: QtBot) -> None:
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    diagnostic = panel.diagnostics()[0]
    with qtbot.waitSignal(panel.problem_activated) as blocker:
        qtbot.keyClick(panel.tree, Qt.Key.Key_Return)
    assert blocker.args == [diagnostic.node, diagnostic.field]


def test_removing_the_loop_clears_the_problems(panel: ProblemsPanel, qtbot: QtBot) -> None:
    assert panel.diagnostics()
    with qtbot.waitSignal(panel.validator.validated, timeout=2000):
        panel.document.push(RemoveItems(panel.document, edge_ids=["loop"]))
    assert panel.diagnostics() == []
    assert panel.tree.topLevelItemCount() == 0
    assert panel.summary_label.text() == "No problems"
    assert panel.diagnostics_by_node() == {}


def test_an_undeclared_credential_is_a_warning_on_each_node_using_it(qtbot: QtBot) -> None:
    flow = cleanup_flow()
    document = FlowDocument(flow.model_copy(update={"credentials": {}}))
    validator = Validator(document)
    with qtbot.waitSignal(validator.validated, timeout=2000) as blocker:
        pass
    codes = {(d.code, d.node) for d in blocker.args[0]}
    assert ("unknown-credential", "notify_ok") in codes
    assert validator.diagnostics_by_node()["notify_ok"] == "warning"

    with qtbot.waitSignal(validator.validated, timeout=2000) as blocker:
        document.push(
            ChangeFlow(document, flow.model_copy(update={"nodes": [], "edges": []}), "Declare")
        )
    assert blocker.args[0] == []


def test_edits_in_a_burst_validate_once(qtbot: QtBot) -> None:
    document = FlowDocument(cleanup_flow())
    validator = Validator(document)
    qtbot.waitUntil(lambda: not validator.is_pending())
    runs: list[list[Diagnostic]] = []
    validator.validated.connect(runs.append)
    loop = with_cycle(cleanup_flow()).edges[-1]
    document.push(AddItems(document, "Wire", edges=[loop]))
    document.push(RemoveItems(document, edge_ids=["loop"]))
    document.push(AddItems(document, "Wire", edges=[loop]))
    qtbot.waitUntil(lambda: len(runs) == 1)
    qtbot.wait(300)
    assert len(runs) == 1
    assert any(d.code == "cycle" for d in runs[0])


def test_reset_revalidates(qtbot: QtBot) -> None:
    document = FlowDocument(cleanup_flow())
    validator = Validator(document)
    qtbot.waitUntil(lambda: not validator.is_pending())
    with qtbot.waitSignal(validator.validated, timeout=2000) as blocker:
        document.replace_flow(with_cycle(cleanup_flow()), None)
    assert any(d.code == "cycle" for d in blocker.args[0])
