"""A window's size, place and panels: remembered per user, kept on a screen, fitted when small.

The functions take any QMainWindow, so they know nothing of flows; the Studio
window calls `restore` when it is made, `save` when it closes and `fit_docks`
when it is resized.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMargins, QRect, QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
#: Bumped when the panels change so much that an old arrangement would be wrong.
STATE_VERSION = 1
#: The side panels (left and right together) take at most this share of the window's
#: width, the bottom ones this share of its height: a small window keeps room to draw.
SIDE_SHARE = 0.42
BOTTOM_SHARE = 0.24
#: No panel is made smaller than this (pixels), so its words can still be read.
READABLE = 170
#: What a window manager's frame is taken to add before the window is shown.
FRAME_GUESS = QMargins(8, 32, 8, 8)

SIDES = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)


def save(window: QMainWindow, settings: QSettings) -> None:
    settings.setValue(GEOMETRY_KEY, window.saveGeometry())
    settings.setValue(STATE_KEY, window.saveState(STATE_VERSION))


def restore(window: QMainWindow, settings: QSettings) -> bool:
    """Give `window` the size, place and panels the last closed window had (False: none)."""
    geometry = settings.value(GEOMETRY_KEY)
    state = settings.value(STATE_KEY)
    restored = isinstance(geometry, QByteArray) and window.restoreGeometry(geometry)
    if isinstance(state, QByteArray):
        restored = window.restoreState(state, STATE_VERSION) or restored
    keep_on_screen(window)
    return restored


def keep_on_screen(window: QWidget) -> None:
    """Shrink and move a top-level window until all of it, frame included, is on a screen."""
    screen = QGuiApplication.screenAt(window.geometry().center()) or window.screen()
    if screen is None:
        return
    area = screen.availableGeometry()
    frame = window.frameGeometry()
    inner = window.geometry()
    margins = QMargins(
        inner.left() - frame.left(),
        inner.top() - frame.top(),
        frame.right() - inner.right(),
        frame.bottom() - inner.bottom(),
    )
    if not window.isVisible() or margins.isNull():
        margins = FRAME_GUESS
    width = min(window.width(), area.width() - margins.left() - margins.right())
    height = min(window.height(), area.height() - margins.top() - margins.bottom())
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    outer = QRect(0, 0, width + margins.left() + margins.right(), 0)
    outer.setHeight(height + margins.top() + margins.bottom())
    x = min(max(window.x(), area.left()), area.right() + 1 - outer.width())
    y = min(max(window.y(), area.top()), area.bottom() + 1 - outer.height())
    if (x, y) != (window.x(), window.y()):
        window.move(x, y)


def fit_docks(window: QMainWindow) -> None:
    """Narrow the side panels and lower the bottom ones when they leave the canvas too little.

    Only ever shrinks, and no panel below a readable size: sizes the user chose are left
    alone unless the panels together are over their share of the window.
    """
    docks = [  # tabs behind another tab count as visible, but show nothing
        d
        for d in window.findChildren(QDockWidget)
        if not d.visibleRegion().isEmpty() and not d.isFloating() and d.parent() is window
    ]
    sides = [d for d in docks if window.dockWidgetArea(d) in SIDES]
    _shrink(window, sides, window.width() * SIDE_SHARE, Qt.Orientation.Horizontal)
    bottom = [
        d for d in docks if window.dockWidgetArea(d) == Qt.DockWidgetArea.BottomDockWidgetArea
    ]
    # Tabbed panels share one place: resizing one of them resizes the place.
    _shrink(window, bottom[:1], window.height() * BOTTOM_SHARE, Qt.Orientation.Vertical)


def _shrink(
    window: QMainWindow, docks: list[QDockWidget], limit: float, orientation: Qt.Orientation
) -> None:
    """Take what is over `limit` from the docks in proportion to what each can give."""
    horizontal = orientation == Qt.Orientation.Horizontal
    sizes = [d.width() if horizontal else d.height() for d in docks]
    floors = [
        max(READABLE, d.minimumSizeHint().width() if horizontal else d.minimumSizeHint().height())
        for d in docks
    ]
    slack = [max(0, size - floor) for size, floor in zip(sizes, floors, strict=True)]
    over = sum(sizes) - limit
    spare = sum(slack)
    if over <= 0 or spare <= 0:
        return
    share = min(1.0, over / spare)
    wanted = [round(size - give * share) for size, give in zip(sizes, slack, strict=True)]
    window.resizeDocks(docks, wanted, orientation)
