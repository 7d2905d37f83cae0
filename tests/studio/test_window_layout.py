"""The window around the canvas: the minimap, the docks, what is remembered between sittings."""

from __future__ import annotations

from itertools import pairwise

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QAction, QColor, QImage
from PySide6.QtWidgets import QDockWidget, QMenu
from pytestqt.qtbot import QtBot

from opsflow.model.flow import Edge, Flow, Node
from opsflow.studio import theme
from opsflow.studio.mainwindow import WINDOWS, MainWindow
from opsflow.studio.run.start_dialog import StartChoice

LEFT = Qt.MouseButton.LeftButton
#: The panels a new window shows (the others are tabs behind Problems).
VISIBLE_AT_START = {"dock-nodes", "dock-inspector", "dock-problems"}


def wide_flow(count: int = 14) -> Flow:
    """A long chain of commands ending in a for-each (teal, unlike anything else drawn)."""
    nodes = [Node(id="start", type="trigger.manual")]
    nodes += [Node(id=f"n{i}", type="action.shell") for i in range(1, count - 1)]
    nodes.append(Node(id="last", type="control.foreach"))
    edges = [
        Edge.model_validate(
            {"id": f"e{i}", "from": a.id, "port": "out" if i == 1 else "success", "to": b.id}
        )
        for i, (a, b) in enumerate(pairwise(nodes), 1)
    ]
    placements = {n.id: {"x": i * 280, "y": 0} for i, n in enumerate(nodes)}
    return Flow(id="wide", nodes=nodes, edges=edges, layout={"nodes": placements})


def shown(qtbot: QtBot, flow: Flow | None = None) -> MainWindow:
    window = MainWindow(flow)
    window.show()
    qtbot.waitExposed(window)
    return window


def close_to(pixel: QColor, wanted: QColor, tolerance: int = 40) -> bool:
    return all(
        abs(a - b) <= tolerance
        for a, b in zip(pixel.getRgb()[:3], wanted.getRgb()[:3], strict=True)
    )


def pixels_like(image: QImage, wanted: QColor, tolerance: int = 40) -> list[QPoint]:
    return [
        QPoint(x, y)
        for x in range(image.width())
        for y in range(image.height())
        if close_to(image.pixelColor(x, y), wanted, tolerance)
    ]


def test_a_click_on_a_card_in_the_minimap_of_a_wide_flow_shows_that_card(qtbot: QtBot) -> None:
    window = shown(qtbot, wide_flow())
    window.view.set_zoom(1.0)
    window.view.centerOn(QPointF(300, 30))
    minimap = window.minimap
    minimap.refresh()
    teal = QColor(theme.current().category_color("control"))
    drawn = pixels_like(minimap.grab().toImage(), teal)
    assert drawn, "the last card is painted in the minimap"
    spot = QPoint(sum(p.x() for p in drawn) // len(drawn), sum(p.y() for p in drawn) // len(drawn))
    qtbot.mouseClick(minimap, LEFT, pos=spot)
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    card = window.scene.nodes["last"].sceneBoundingRect().adjusted(-40, -40, 40, 40)
    assert card.contains(centre), (centre, card)


def test_the_minimap_frame_is_drawn_around_what_the_view_shows(qtbot: QtBot) -> None:
    window = shown(qtbot, wide_flow())
    window.view.set_zoom(2.0)  # a frame much smaller than the minimap
    window.view.center_on_node("last")
    minimap = window.minimap
    minimap.refresh()
    image = minimap.grab().toImage()
    selection = QColor(theme.current().selection)
    frame = pixels_like(image, selection, tolerance=8)  # not the blue of the command cards
    teal = pixels_like(image, QColor(theme.current().category_color("control")))
    assert frame and teal
    left = min(p.x() for p in frame)
    right = max(p.x() for p in frame)
    top = min(p.y() for p in frame)
    bottom = max(p.y() for p in frame)
    box = QRectF(left, top, right - left + 1, bottom - top + 1)
    assert all(box.contains(QPointF(p)) for p in teal), (box, teal[:3])


# -- panels ----------------------------------------------------------------------------------


def runnable() -> Flow:
    return Flow(
        id="runnable",
        nodes=[
            Node(id="start", type="trigger.manual"),
            Node(id="note", type="action.set_vars", params={"values": {"seen": True}}),
        ],
        edges=[Edge.model_validate({"id": "e1", "from": "start", "port": "out", "to": "note"})],
        layout={"nodes": {"start": {"x": 0, "y": 0}, "note": {"x": 280, "y": 0}}},
    )


def panel_action(window: MainWindow, title: str) -> QAction:
    """The View menu's entry that shows or hides the panel called `title`."""
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert isinstance(view, QMenu)
    panels = next(a.menu() for a in view.actions() if a.text() == "&Panels")
    assert isinstance(panels, QMenu)
    panels.aboutToShow.emit()  # as when the user opens it
    return next(a for a in panels.actions() if a.text().replace("&", "") == title)


@pytest.mark.parametrize("title", ["Run", "Approvals", "History", "Problems", "Inspector"])
def test_a_closed_panel_is_opened_again_from_the_view_menu(qtbot: QtBot, title: str) -> None:
    window = shown(qtbot, runnable())
    dock = next(d for d in window.findChildren(QDockWidget) if d.windowTitle() == title)
    dock.close()
    assert not dock.isVisible()
    action = panel_action(window, title)
    assert not action.isChecked()
    action.trigger()
    assert dock.isVisible()


def test_a_run_brings_the_run_panel_back(qtbot: QtBot) -> None:
    window = shown(qtbot, runnable())
    dock = window.runs.run_dock
    assert dock is not None
    dock.close()
    with qtbot.waitSignal(window.session.run_ended, timeout=15_000):
        window.runs.start_with(StartChoice("start", None, {}, False))
    assert dock.isVisible()
    assert not dock.visibleRegion().isEmpty()  # in front of the tabs it shares


# -- what is remembered ----------------------------------------------------------------------


def test_size_place_and_panels_come_back_in_the_next_window(qtbot: QtBot) -> None:
    first = shown(qtbot, runnable())
    first.resize(1200, 760)
    first.move(60, 40)
    inspector = first.findChild(QDockWidget, "dock-inspector")
    assert inspector is not None
    inspector.close()
    first.actions_by_name["minimap"].trigger()  # hidden
    qtbot.wait(10)
    assert first.close()
    second = shown(qtbot, runnable())
    assert second.size() == QSize(1200, 760)
    assert second.pos() == first.pos()
    again = second.findChild(QDockWidget, "dock-inspector")
    assert again is not None and not again.isVisible()
    assert not second.minimap.isVisible()
    assert not second.actions_by_name["minimap"].isChecked()


def test_new_windows_open_inside_the_screen(qtbot: QtBot) -> None:
    first = shown(qtbot, runnable())
    screen = first.screen().availableGeometry()
    assert screen.contains(first.frameGeometry())
    first.move(screen.right() - first.width() // 2, screen.bottom() - first.height() // 2)
    first.actions_by_name["new"].trigger()
    second = WINDOWS[-1]
    assert second is not first
    qtbot.waitExposed(second)
    assert screen.contains(second.frameGeometry())


def test_a_remembered_place_off_the_screen_is_brought_back(qtbot: QtBot) -> None:
    first = shown(qtbot, runnable())
    first.resize(2600, 1500)  # bigger than this screen
    first.move(5000, 3000)  # on a monitor that has since been unplugged
    assert first.close()
    second = shown(qtbot, runnable())
    assert second.screen().availableGeometry().contains(second.frameGeometry())


# -- a small screen --------------------------------------------------------------------------


def test_at_1024_by_700_the_canvas_keeps_most_of_the_window(qtbot: QtBot) -> None:
    window = shown(qtbot, wide_flow())
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.view.width() >= 0.5 * 1024)  # the canvas, scroll bars too
    assert window.view.height() >= 0.55 * 700
    viewport = window.view.viewport()
    for dock in window.findChildren(QDockWidget):  # narrowed, not gone
        if dock.objectName() in VISIBLE_AT_START:
            assert dock.isVisible() and dock.width() >= 160
    minimap = window.minimap
    assert minimap.width() <= 0.3 * viewport.width()
    assert viewport.geometry().contains(minimap.geometry())


def test_the_minimap_can_be_hidden_from_the_view_menu(qtbot: QtBot) -> None:
    window = shown(qtbot, wide_flow())
    action = window.actions_by_name["minimap"]
    action.trigger()
    assert not window.minimap.isVisible()
    action.trigger()
    assert window.minimap.isVisible()


def test_help_is_the_last_menu(qtbot: QtBot) -> None:
    window = shown(qtbot, runnable())
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles[-2:] == ["&Run", "&Help"]
