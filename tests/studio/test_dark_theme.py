"""The dark theme: toolbar icons, check boxes and every open window follow it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPointF, QSize
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QCheckBox, QStyle, QStyleOptionButton
from pytestqt.qtbot import QtBot

from opsflow.model.flow import Flow, Node
from opsflow.studio import theme
from opsflow.studio.mainwindow import MainWindow

TOOLBAR = ("run", "continue", "step", "abort")


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    """The application, put back in the light theme after the test."""
    yield qapp
    theme.apply(qapp, "light")


def one_node() -> Flow:
    return Flow(
        id="one",
        nodes=[Node(id="check", type="action.shell")],
        layout={"nodes": {"check": {"x": 0, "y": 0}}},
    )


def shown(qtbot: QtBot) -> MainWindow:
    window = MainWindow(one_node())
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(10)
    window.view.set_zoom(1.0)
    window.view.centerOn(QPointF(100, 30))
    return window


def ink(image: QImage) -> float:
    """The mean lightness (0-255) of the pixels an icon draws."""
    seen = [
        image.pixelColor(x, y)
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).alpha() > 128
    ]
    assert seen, "the icon draws something"
    return sum(c.lightness() for c in seen) / len(seen)


def icon_ink(window: MainWindow, name: str) -> float:
    icon = window.runs.actions[name].icon()
    return ink(icon.pixmap(QSize(24, 24)).toImage())


def test_run_toolbar_icons_are_light_on_dark_and_dark_on_light(
    qtbot: QtBot, app: QApplication
) -> None:
    theme.apply(app, "light")
    window = shown(qtbot)
    for name in TOOLBAR:
        assert icon_ink(window, name) < 110, name
    window.set_theme("dark")
    for name in TOOLBAR:
        assert icon_ink(window, name) > 150, name
    window.set_theme("light")
    for name in TOOLBAR:
        assert icon_ink(window, name) < 110, name


def test_an_unticked_check_box_shows_its_box_on_dark(qtbot: QtBot, app: QApplication) -> None:
    theme.apply(app, "dark")
    box = QCheckBox("Dry run")
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    option = QStyleOptionButton()
    option.initFrom(box)
    square = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    image = box.grab().toImage()
    background = box.palette().window().color()
    edge = [
        image.pixelColor(x, y)
        for x in range(square.left(), square.right() + 1)
        for y in range(square.top(), square.bottom() + 1)
    ]
    contrast = max(abs(c.lightness() - background.lightness()) for c in edge)
    assert contrast >= 60


def test_cards_in_every_open_window_take_the_new_theme(qtbot: QtBot, app: QApplication) -> None:
    theme.apply(app, "light")
    first, second = shown(qtbot), shown(qtbot)
    for window in (first, second):
        window.view.viewport().grab()  # painted (and cached) in the light theme
    first.set_theme("dark")
    qtbot.wait(20)
    for window in (first, second):
        view = window.view
        card = window.scene.nodes["check"]
        inside = view.mapFromScene(card.mapToScene(QPointF(120, 40)))
        pixel = view.viewport().grab().toImage().pixelColor(inside)
        assert pixel == QColor(theme.DARK.node_fill), window is second
