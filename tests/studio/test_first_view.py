"""What a flow looks like when it is opened or arranged: readable, starting where it starts."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from PySide6.QtCore import QPointF
from pytestqt.qtbot import QtBot

from opsflow.flowfile import dump_flow
from opsflow.model.flow import Edge, Flow, Node
from opsflow.studio import files
from opsflow.studio.canvas.view import READABLE_ZOOM
from opsflow.studio.mainwindow import MainWindow


def chain(count: int, *, placed: bool = True) -> Flow:
    """start -> n1 -> n2 ... in one row, 280 px apart (or without any layout)."""
    nodes = [Node(id="start", type="trigger.manual")]
    nodes += [Node(id=f"n{i}", type="action.shell") for i in range(1, count)]
    edges = [
        Edge.model_validate(
            {"id": f"e{i}", "from": a.id, "port": "out" if i == 1 else "success", "to": b.id}
        )
        for i, (a, b) in enumerate(pairwise(nodes), 1)
    ]
    placements = {n.id: {"x": i * 280, "y": 0} for i, n in enumerate(nodes)} if placed else {}
    return Flow(id="chain", nodes=nodes, edges=edges, layout={"nodes": placements})


def opened(qtbot: QtBot, flow: Flow) -> MainWindow:
    """A shown window after its first view (which waits for the window's size)."""
    window = MainWindow(flow)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(10)
    return window


def visible_nodes(window: MainWindow) -> set[str]:
    seen = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    return {
        node_id
        for node_id, item in window.scene.nodes.items()
        if seen.contains(item.mapToScene(item.card_rect()).boundingRect())
    }


def test_a_long_flow_opens_readable_at_its_start(qtbot: QtBot) -> None:
    window = opened(qtbot, chain(30))
    assert window.view.zoom() >= READABLE_ZOOM * 0.999
    shown = visible_nodes(window)
    assert {"start", "n1", "n2"} <= shown
    assert "n29" not in shown  # the rest is a scroll away
    assert window.view.horizontalScrollBar().maximum() > 0


def test_a_small_flow_opens_whole_and_no_closer_than_100_percent(qtbot: QtBot) -> None:
    window = opened(qtbot, chain(3))
    assert visible_nodes(window) == {"start", "n1", "n2"}
    assert READABLE_ZOOM <= window.view.zoom() <= 1.0


def test_arrange_refits_the_view(qtbot: QtBot) -> None:
    flow = chain(4)
    flow.layout.nodes["n3"].y = 1500  # far below: arranging brings it back into the row
    window = opened(qtbot, flow)
    window.view.set_zoom(3.0)
    window.view.centerOn(QPointF(5000, 5000))
    assert visible_nodes(window) == set()
    window.actions_by_name["layout"].trigger()
    assert visible_nodes(window) == {"start", "n1", "n2", "n3"}
    assert window.document.undo_stack.undoText() == "Arrange flow"


def test_a_flow_without_layout_is_arranged_when_opened(qtbot: QtBot, tmp_path: Path) -> None:
    flow = chain(5, placed=False)
    path = tmp_path / "hand-written.flow.json"
    path.write_text(dump_flow(flow), encoding="utf-8")
    window = MainWindow()
    window.show()
    qtbot.waitExposed(window)
    assert files.open_path(window, path) is window
    order = [n.id for n in flow.nodes]  # a chain: each one column right of the one before
    placed = [window.document.placement(n) for n in order]
    xs = [p.x for p in placed if p is not None]
    assert xs == sorted(xs) and len(set(xs)) == len(order)
    assert visible_nodes(window) == set(order)
    assert not window.isWindowModified()  # closing asks nothing: the user changed nothing
    # One undo step gives back the file as it was written.
    assert window.document.undo_stack.count() == 1
    window.actions_by_name["undo"].trigger()
    assert window.document.text() == path.read_text(encoding="utf-8")


def test_a_flow_with_a_layout_opens_unchanged(qtbot: QtBot) -> None:
    window = opened(qtbot, chain(3))
    assert window.document.undo_stack.count() == 0
    assert not window.isWindowModified()
