"""A wire between two cards: a cubic curve coloured by its port, with the port as label.

The clickable shape is a wide stroke of the curve, computed once per change
of either end, so edges are easy to hit without costing a stroke per paint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from opsflow.studio import theme

if TYPE_CHECKING:
    from opsflow.studio.canvas.node_item import NodeItem

_LABEL_FONT = QFont()
_LABEL_FONT.setPointSizeF(7.5)
#: The usual way on is not written on the wire (the port is named on the card);
#: every other port (true, error, approved, a switch case, ...) is.
UNLABELLED_PORTS = frozenset({"out", "success"})
DETAIL_ZOOM = 0.4


def curve(start: QPointF, end: QPointF) -> QPainterPath:
    """A smooth left-to-right curve; wires going backwards loop out sideways."""
    dx = max(abs(end.x() - start.x()) * 0.5, 60.0)
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y()), end)
    return path


class EdgeItem(QGraphicsItem):
    """One edge of the flow, identified by its id."""

    def __init__(self, edge_id: str, port: str, source: NodeItem, target: NodeItem) -> None:
        super().__init__()
        self.edge_id = edge_id
        self.port = port
        self.source = source
        self.target = target
        #: None: no run is shown; True: the shown run went along this wire; False: it did not.
        self.carried: bool | None = None
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        self._path = QPainterPath()
        self._shape: QPainterPath | None = None
        self._bounds = QRectF()
        self._label_rect = QRectF()
        source.edges.add(self)
        target.edges.add(self)
        self.adjust()

    def set_carried(self, carried: bool | None) -> None:
        if carried != self.carried:
            self.carried = carried
            self.update()

    def detach(self) -> None:
        self.source.edges.discard(self)
        self.target.edges.discard(self)

    def adjust(self) -> None:
        """Recompute the curve after an end moved."""
        self.prepareGeometryChange()
        start = self.source.output_pos(self.port)
        end = self.target.input_pos()
        self._path = curve(start, end)
        self._shape = None
        self._label_rect = QRectF()
        if self.port not in UNLABELLED_PORTS:
            metrics = QFontMetricsF(_LABEL_FONT)
            width = metrics.horizontalAdvance(self.port) + 10
            middle = self._path.pointAtPercent(0.5)
            self._label_rect = QRectF(middle.x() - width / 2, middle.y() - 8, width, 16)
        self._bounds = self._path.controlPointRect().united(self._label_rect).adjusted(-8, -8, 8, 8)

    def path(self) -> QPainterPath:
        return self._path

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        """A wide stroke of the curve, so the wire is easy to click (made when first asked)."""
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(14)
            self._shape = stroker.createStroke(self._path)
        return self._shape

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        colors = theme.current()
        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        color = QColor(colors.selection if self.isSelected() else colors.port_color(self.port))
        width = 3.0 if self.isSelected() else 1.8
        if self.carried is False and not self.isSelected():
            color.setAlpha(70)  # a run is shown and did not come this way
        elif self.carried:
            width = 3.4
        pen = QPen(color, width)
        if zoom < DETAIL_ZOOM:
            pen.setCosmetic(True)
            pen.setWidthF(1.0)
            painter.setPen(pen)
            painter.drawPath(self._path)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.source.look.disabled or self.target.look.disabled:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        end = self._path.pointAtPercent(1.0)
        painter.setBrush(color)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawPolygon(
            QPolygonF(
                [end, QPointF(end.x() - 9, end.y() - 4.5), QPointF(end.x() - 9, end.y() + 4.5)]
            )
        )
        if not self._label_rect.isNull():
            painter.setBrush(QColor(colors.edge_label_fill))
            painter.setPen(QPen(color, 1.0))
            painter.drawRoundedRect(self._label_rect, 7, 7)
            painter.setFont(_LABEL_FONT)
            painter.setPen(color.darker(110) if colors.mode == "light" else color.lighter(110))
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.port)


class WireItem(QGraphicsItem):
    """The wire that follows the mouse while a connection is being dragged."""

    def __init__(self, start: QPointF, port: str) -> None:
        super().__init__()
        self.port = port
        self.start = start
        self.end = start
        self.valid: bool | None = None
        self.setZValue(3)
        self._path = curve(start, start)

    def move_to(self, end: QPointF, valid: bool | None) -> None:
        self.prepareGeometryChange()
        self.end = end
        self.valid = valid
        self._path = curve(self.start, end)

    def boundingRect(self) -> QRectF:
        return self._path.boundingRect().adjusted(-4, -4, 4, 4)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        colors = theme.current()
        if self.valid is False:
            color = QColor(colors.error)
        elif self.valid:
            color = QColor(colors.selection)
        else:
            color = QColor(colors.port_color(self.port))
        pen = QPen(
            color, 2.0, Qt.PenStyle.DashLine if self.valid is None else Qt.PenStyle.SolidLine
        )
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pen)
        painter.drawPath(self._path)
        painter.setBrush(color)
        painter.drawEllipse(self.end, 4, 4)
