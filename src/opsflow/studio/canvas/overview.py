"""Far-away drawing of a whole flow in a handful of batched calls.

Below `OVERVIEW_ZOOM` a card would be a few pixels wide, so the scene stops
painting items one by one (a Python call each) and draws every node as a
block and every edge as a line, grouped by colour: five or six calls for
any number of nodes. The minimap draws from the same cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from opsflow.studio import theme

if TYPE_CHECKING:
    from opsflow.studio.canvas.scene import FlowScene

#: Below this zoom (1.0 = 100 %) the overview replaces the items.
OVERVIEW_ZOOM = 0.15


class Overview:
    """Cached rectangles and lines of a scene, rebuilt lazily after changes."""

    def __init__(self, scene: FlowScene) -> None:
        self.scene = scene
        self._rects: dict[str, list[QRectF]] | None = None
        self._lines: dict[str, list[QLineF]] = {}
        self._badges: dict[str, list[QRectF]] = {}

    def invalidate(self) -> None:
        self._rects = None

    def _build(self) -> dict[str, list[QRectF]]:
        colors = theme.current()
        rects: dict[str, list[QRectF]] = {}
        badges: dict[str, list[QRectF]] = {}
        for item in self.scene.nodes.values():
            if not item.isVisible():
                continue  # inside a collapsed group, whose card draws itself
            rect = item.sceneBoundingRect().adjusted(8, 10, -8, -8)
            rects.setdefault(colors.category_color(item.look.category), []).append(rect)
            if item.look.badge:
                color = colors.error if item.look.badge == "error" else colors.warning
                badges.setdefault(color, []).append(QRectF(rect.right() - 40, rect.top(), 40, 24))
        lines: dict[str, list[QLineF]] = {}
        for edge in self.scene.edges.values():
            if not edge.isVisible():
                continue
            line = QLineF(edge.source.output_pos(edge.port), edge.target.input_pos())
            lines.setdefault(colors.port_color(edge.port), []).append(line)
        self._rects, self._lines, self._badges = rects, lines, badges
        return rects

    def paint(self, painter: QPainter, selected: list[QRectF]) -> None:
        rects = self._rects if self._rects is not None else self._build()
        for color, lines in self._lines.items():
            pen = QPen(QColor(color), 1.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLines(lines)
        painter.setPen(Qt.PenStyle.NoPen)
        for color, blocks in rects.items():
            painter.setBrush(QColor(color))
            painter.drawRects(blocks)
        for color, blocks in self._badges.items():
            painter.setBrush(QColor(color))
            painter.drawRects(blocks)
        if selected:
            pen = QPen(QColor(theme.current().selection), 3.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRects(selected)
