"""What the Studio tells the user: run status lines under cards, the approval deadline, the
history's message and the status bar after a connection."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from pytestqt.qtbot import QtBot

from opsflow.engine.runview import NodeRun
from opsflow.model.flow import Edge, Flow, Node
from opsflow.studio.canvas.run_overlay import STATUS_HEIGHT
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.document import FlowDocument
from opsflow.studio.editing import FlowEditor
from opsflow.studio.mainwindow import MainWindow
from opsflow.studio.run.approvals import ApprovalForm, PendingApproval
from opsflow.studio.run.history import HistoryPanel
from opsflow.studio.run.session import RunSession, current_user

LEFT = Qt.MouseButton.LeftButton


def wire(number: int, source: str, port: str, target: str) -> Edge:
    return Edge.model_validate({"id": f"e{number}", "from": source, "port": port, "to": target})


def tall_cards() -> Flow:
    """Three approvals (three ports each) and a five-way switch side by side after `start`."""
    cases = [{"name": f"case{i}", "when": f"trigger.n == {i}"} for i in range(5)]
    nodes = [Node(id="start", type="trigger.manual")]
    nodes += [Node(id=f"ask{i}", type="control.approval") for i in range(3)]
    nodes.append(Node(id="pick", type="condition.switch", params={"cases": cases}))
    nodes.append(Node(id="after", type="action.shell"))
    edges = [wire(i, "start", "out", n.id) for i, n in enumerate(nodes[1:5], 1)]
    edges.append(wire(9, "ask0", "approved", "after"))
    return Flow(id="tall", nodes=nodes, edges=edges)


def test_after_arranging_no_card_or_status_line_runs_into_the_card_below(qtbot: QtBot) -> None:
    document = FlowDocument(tall_cards())
    scene = FlowScene(document)
    FlowEditor(document, scene).auto_layout()
    cards = {
        node_id: item.mapToScene(item.card_rect()).boundingRect()
        for node_id, item in scene.nodes.items()
    }
    for upper_id, upper in cards.items():
        for lower_id, lower in cards.items():
            if upper_id != lower_id and upper.left() == lower.left() and upper.top() < lower.top():
                status_bottom = upper.bottom() + 5 + STATUS_HEIGHT
                assert status_bottom <= lower.top(), (upper_id, lower_id)


def text_columns(image: QImage, background: QColor) -> list[int]:
    """The x of every column holding a pixel much darker than `background` (text)."""
    return [
        x
        for x in range(image.width())
        if any(
            image.pixelColor(x, y).lightness() < background.lightness() - 90
            for y in range(image.height())
        )
    ]


def test_a_long_status_line_is_cut_at_its_end_never_at_its_start(qtbot: QtBot) -> None:
    cases = [{"name": "a_very_long_case_name_for_the_switch", "when": "true"}]
    flow = Flow(
        id="long",
        nodes=[Node(id="pick", type="condition.switch", params={"cases": cases})],
        layout={"nodes": {"pick": {"x": 0, "y": 0}}},
    )
    scene = FlowScene(FlowDocument(flow))
    item = scene.nodes["pick"]
    run = NodeRun(
        state="succeeded", port="a_very_long_case_name_for_the_switch", attempts=2, duration_s=8.4
    )
    item.set_run(run)
    card = item.mapToScene(item.card_rect()).boundingRect()
    band = QRectF(card.left() - 20, card.bottom() + 5, card.width() + 120, STATUS_HEIGHT - 4)
    image = QImage(band.size().toSize(), QImage.Format.Format_ARGB32)
    background = QColor("#ffffff")
    image.fill(background)
    painter = QPainter(image)
    scene.render(painter, QRectF(image.rect()), band)
    painter.end()
    columns = text_columns(image, background)
    assert columns, "the status line has words"
    first, last = band.left() + min(columns), band.left() + max(columns)
    assert first >= card.left() + 4  # the first letter whole, after the chip's padding
    assert last <= item.mapToScene(item.boundingRect()).boundingRect().right()


def test_the_approval_deadline_counts_down(qtbot: QtBot, tmp_path: Path) -> None:
    document = FlowDocument(Flow(id="ask", nodes=[Node(id="ask", type="control.approval")]))
    session = RunSession(document, tmp_path / "journal.sqlite")
    approval = PendingApproval(
        "run-1", "ask", [current_user()], "Go?", None, time.time() + 95.5, time.time()
    )
    form = ApprovalForm(session, approval)
    qtbot.addWidget(form)
    form.show()
    before = form.facts_label.text()
    assert "(in 1 min 3" in before
    qtbot.waitUntil(lambda: form.facts_label.text() != before, timeout=4000)
    assert "(in 1 min 3" in form.facts_label.text() or "(in 1 min 2" in form.facts_label.text()
    session.shutdown()


def test_history_does_not_say_there_are_no_runs_beside_a_run(qtbot: QtBot, tmp_path: Path) -> None:
    flow = Flow(
        id="once",
        nodes=[
            Node(id="start", type="trigger.manual"),
            Node(id="note", type="action.set_vars", params={"values": {"seen": True}}),
        ],
        edges=[wire(1, "start", "out", "note")],
    )
    session = RunSession(FlowDocument(flow), tmp_path / "journal.sqlite")
    panel = HistoryPanel(session)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.message.text() == "No runs of this flow yet."
    with qtbot.waitSignal(session.run_ended, timeout=15_000):
        session.run()
    qtbot.waitUntil(lambda: len(panel.runs()) == 1)
    assert "No runs" not in panel.message.text()
    session.shutdown()


def test_a_wire_that_connects_leaves_no_refusal_in_the_status_bar(qtbot: QtBot) -> None:
    flow = Flow(
        id="two",
        nodes=[Node(id="check", type="action.shell"), Node(id="notify", type="action.chat")],
        layout={"nodes": {"check": {"x": 0, "y": 0}, "notify": {"x": 320, "y": 0}}},
    )
    window = MainWindow(flow)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(10)
    view = window.view
    view.set_zoom(1.0)
    view.centerOn(QPointF(260, 40))
    start = window.scene.nodes["check"].output_pos("success")
    end = window.scene.nodes["notify"].mapToScene(QPointF(100, 20))
    viewport = view.viewport()
    qtbot.mousePress(viewport, LEFT, pos=view.mapFromScene(start))
    for step in range(9):  # over the node's own card first, as a real drag goes
        qtbot.mouseMove(viewport, view.mapFromScene(start + (end - start) * (step / 8)))
    qtbot.mouseRelease(viewport, LEFT, pos=view.mapFromScene(end))
    assert [(e.source, e.target) for e in window.document.edges()] == [("check", "notify")]
    assert "itself" not in window.statusBar().currentMessage()
    assert "Not connected" not in window.statusBar().currentMessage()
