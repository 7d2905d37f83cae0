"""A group frame on the canvas: a titled, coloured rectangle drawn around its member nodes.

The rectangle is derived from the members' cards plus padding and a title bar, never
stored, so it cannot disagree with the nodes. Dragging the title bar moves the members
with it; collapsed, the group is one compact card and its members' wires end on that card.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from opsflow.model.flow import NodeGroup
from opsflow.studio import theme
from opsflow.studio.canvas import geometry

if TYPE_CHECKING:
    from opsflow.studio.canvas.node_item import NodeItem

#: Space between the members' cards and the frame.
PADDING = 20.0
#: The title bar above the members (with the padding, a whole number of grid steps, so a
#: frame around snapped nodes is snapped too).
TITLE_HEIGHT = 40.0
#: The collapsed card.
CARD_WIDTH = geometry.NODE_WIDTH + 20
CARD_HEIGHT = geometry.NODE_MIN_HEIGHT
#: The collapse / expand button at the left of the title.
BUTTON_SIZE = 18.0
#: Below this zoom the frame is drawn without its button and with a bigger title.
DETAIL_ZOOM = 0.4

_TITLE_FONT = QFont()
_TITLE_FONT.setPointSizeF(10.0)
_TITLE_FONT.setBold(True)
_COUNT_FONT = QFont()
_COUNT_FONT.setPointSizeF(8.0)


class GroupOwner(Protocol):
    """What a frame tells the object that keeps it in step with the document."""

    def frame_dirty(self, item: GroupItem) -> None:
        """A member moved: re-derive the frame soon."""

    def toggle_requested(self, group_id: str) -> None:
        """The collapse / expand button was clicked."""

    def menu_requested(self, group_id: str, where: QPoint) -> None:
        """The frame was right-clicked at `where` (global coordinates)."""


class GroupItem(QGraphicsItem):
    """One group of the flow, identified by its id."""

    def __init__(self, group: NodeGroup, owner: GroupOwner) -> None:
        super().__init__()
        self.group_id = group.id
        self.owner = owner
        self.title = group.title
        self.color = group.color
        self.collapsed = group.collapsed
        #: The member cards on the canvas, kept by the owner.
        self.members: list[NodeItem] = []
        self._rect = QRectF(0, 0, CARD_WIDTH, CARD_HEIGHT)
        self._following = False
        self._moving_members = False
        self._before = QPointF()
        self._button_pressed = False
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.set_group(group)

    # -- model -> item -------------------------------------------------------------------

    def set_group(self, group: NodeGroup) -> None:
        self.title, self.color = group.title, group.color
        if group.collapsed != self.collapsed:
            self.prepareGeometryChange()
            self.collapsed = group.collapsed
        # Expanded, the frame lies behind notes and wires; collapsed it is a card like a node.
        self.setZValue(1 if self.collapsed else -2)
        count = len(group.nodes)
        name = _escape(self.title) if self.title else "Untitled group"
        self.setToolTip(
            f"<b>{name}</b> · {count} node{'' if count == 1 else 's'}<br>Drag the title to move "
            "them together; double-click to rename; right-click for colour, collapse, ungroup."
        )
        self.update()

    def follow_members(self) -> None:
        """Put the frame around the member cards (or the card at their top-left corner)."""
        bounds = QRectF()
        for member in self.members:
            bounds = bounds.united(member.mapRectToScene(member.card_rect()))
        self.setVisible(not bounds.isNull())
        if bounds.isNull():
            return
        if self.collapsed:
            rect = QRectF(0, 0, CARD_WIDTH, CARD_HEIGHT)
        else:
            rect = QRectF(
                0, 0, bounds.width() + 2 * PADDING, bounds.height() + 2 * PADDING + TITLE_HEIGHT
            )
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self._following = True
        try:
            self.setPos(bounds.left() - PADDING, bounds.top() - PADDING - TITLE_HEIGHT)
        finally:
            self._following = False
        self.update()

    def member_moved(self) -> None:
        """Called by a member card after it moved."""
        if not self._moving_members:
            self.owner.frame_dirty(self)

    # -- geometry ------------------------------------------------------------------------

    def frame_rect(self) -> QRectF:
        """The frame, or the collapsed card (local coordinates)."""
        return QRectF(self._rect)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-8, -3, 8, 3)

    def shape(self) -> QPainterPath:
        """Only the title bar (or the whole card) is grabbed: clicks inside the frame go to
        the canvas, so a rubber band can start there."""
        path = QPainterPath()
        path.addRect(self._title_rect() if not self.collapsed else self._rect)
        return path

    def _title_rect(self) -> QRectF:
        return QRectF(0, 0, self._rect.width(), TITLE_HEIGHT)

    def _button_rect(self) -> QRectF:
        height = CARD_HEIGHT if self.collapsed else TITLE_HEIGHT
        return QRectF(10, (height - BUTTON_SIZE) / 2, BUTTON_SIZE, BUTTON_SIZE)

    def input_pos(self) -> QPointF:
        """Where wires into the collapsed card end (scene coordinates)."""
        return self.mapToScene(QPointF(0, CARD_HEIGHT / 2))

    def output_pos(self) -> QPointF:
        """Where wires out of the collapsed card start (scene coordinates)."""
        return self.mapToScene(QPointF(CARD_WIDTH, CARD_HEIGHT / 2))

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            self._before = QPointF(self.pos())
            scene = self.scene()
            if not self._following and scene is not None and getattr(scene, "snap_to_grid", False):
                return QPointF(geometry.snap(value.x()), geometry.snap(value.y()))
        elif change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            if not self._following:
                self._carry_members(self.pos() - self._before)
            if self.collapsed:
                for member in self.members:
                    for edge in member.edges:
                        edge.adjust()
        return super().itemChange(change, value)

    def _carry_members(self, delta: QPointF) -> None:
        """The user dragged the frame: move the members Qt is not already moving."""
        self._moving_members = True
        try:
            for member in self.members:
                if not member.isSelected() or not member.isVisible():
                    member.setPos(member.pos() + delta)
        finally:
            self._moving_members = False

    # -- mouse ---------------------------------------------------------------------------

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._button_rect().contains(
            event.pos()
        ):
            self._button_pressed = True
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        pressed, self._button_pressed = self._button_pressed, False
        if pressed:
            event.accept()
            if self._button_rect().contains(event.pos()):
                self.owner.toggle_requested(self.group_id)
            return
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        self.owner.menu_requested(self.group_id, event.screenPos())
        event.accept()

    # -- painting ------------------------------------------------------------------------

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        colors = theme.current()
        accent = QColor(colors.group_color(self.color))
        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.collapsed:
            self._paint_card(painter, accent, colors, zoom)
        else:
            self._paint_frame(painter, accent, colors, zoom)

    def _outline(self, accent: QColor, colors: theme.Theme, zoom: float) -> QPen:
        pen = QPen(QColor(colors.selection), 2.0) if self.isSelected() else QPen(accent, 1.5)
        if zoom < DETAIL_ZOOM:
            pen.setCosmetic(True)
        return pen

    def _paint_frame(
        self, painter: QPainter, accent: QColor, colors: theme.Theme, zoom: float
    ) -> None:
        rect = self._rect
        fill = QColor(accent)
        fill.setAlphaF(0.07 if colors.mode == "light" else 0.12)
        painter.setPen(self._outline(accent, colors, zoom))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 10, 10)
        bar = QPainterPath()
        bar.addRoundedRect(self._title_rect(), 10, 10)
        square = QPainterPath()
        square.addRect(QRectF(0, TITLE_HEIGHT / 2, rect.width(), TITLE_HEIGHT / 2))
        band = QColor(accent)
        band.setAlphaF(0.16 if colors.mode == "light" else 0.24)
        painter.fillPath(bar.united(square).intersected(_inside(rect)), band)
        self._paint_title(painter, self._title_rect(), accent, colors, zoom)

    def _paint_card(
        self, painter: QPainter, accent: QColor, colors: theme.Theme, zoom: float
    ) -> None:
        rect = self._rect
        painter.setPen(self._outline(accent, colors, zoom))
        painter.setBrush(QColor(colors.node_fill))
        painter.drawRoundedRect(rect, 8, 8)
        # A stacked edge says "several nodes in here".
        painter.setPen(QPen(accent, 1.2))
        below = rect.bottom() + 3
        painter.drawLine(QPointF(8, below), QPointF(rect.right() - 8, below))
        strip = QPainterPath()
        strip.addRoundedRect(QRectF(0, 0, 10, rect.height()), 8, 8)
        edge = QPainterPath()
        edge.addRect(QRectF(0, 0, 4, rect.height()))
        painter.fillPath(strip.intersected(edge), accent)
        self._paint_title(painter, rect, accent, colors, zoom)
        if zoom >= DETAIL_ZOOM:
            self._paint_ports(painter, accent, colors)

    def _paint_title(
        self, painter: QPainter, bar: QRectF, accent: QColor, colors: theme.Theme, zoom: float
    ) -> None:
        count = len(self.members)
        counted = f"{count} node{'' if count == 1 else 's'}"
        title_color = accent.darker(135) if colors.mode == "light" else accent.lighter(115)
        if zoom < DETAIL_ZOOM:
            font = QFont(_TITLE_FONT)
            font.setPointSizeF(min(_TITLE_FONT.pointSizeF() / max(zoom, 0.01), 60.0))
            painter.setFont(font)
            painter.setPen(title_color)
            box = bar.adjusted(8, 0, -8, 0)
            text = QFontMetricsF(font).elidedText(
                self.title or "Group", Qt.TextElideMode.ElideRight, box.width()
            )
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            return
        button = self._button_rect()
        self._paint_button(painter, button, title_color)
        left = button.right() + 8
        painter.setFont(_COUNT_FONT)
        count_width = QFontMetricsF(_COUNT_FONT).horizontalAdvance(counted) + 4
        if self.collapsed:
            title_box = QRectF(left, 8, bar.width() - left - 10, 20)
            count_box = QRectF(left, 27, bar.width() - left - 10, 16)
        else:
            title_box = QRectF(left, 0, bar.width() - left - count_width - 20, bar.height())
            count_box = QRectF(bar.width() - count_width - 12, 0, count_width, bar.height())
        painter.setPen(QColor(colors.node_subtext))
        painter.drawText(
            count_box,
            Qt.AlignmentFlag.AlignVCenter
            | (Qt.AlignmentFlag.AlignLeft if self.collapsed else Qt.AlignmentFlag.AlignRight),
            f"{counted} · collapsed" if self.collapsed else counted,
        )
        painter.setFont(_TITLE_FONT)
        if self.title:
            painter.setPen(QColor(colors.node_text) if self.collapsed else title_color)
            text = self.title
        else:
            painter.setPen(QColor(colors.node_subtext))
            text = "Untitled group (double-click to name it)"
        elided = QFontMetricsF(_TITLE_FONT).elidedText(
            text, Qt.TextElideMode.ElideRight, max(title_box.width(), 0.0)
        )
        painter.drawText(title_box, Qt.AlignmentFlag.AlignVCenter, elided)

    def _paint_button(self, painter: QPainter, box: QRectF, color: QColor) -> None:
        """A triangle pointing down (expanded: click to collapse) or right (collapsed)."""
        centre = box.center()
        size = 4.5
        if self.collapsed:
            points = [
                QPointF(centre.x() - size * 0.6, centre.y() - size),
                QPointF(centre.x() + size * 0.8, centre.y()),
                QPointF(centre.x() - size * 0.6, centre.y() + size),
            ]
        else:
            points = [
                QPointF(centre.x() - size, centre.y() - size * 0.6),
                QPointF(centre.x() + size, centre.y() - size * 0.6),
                QPointF(centre.x(), centre.y() + size * 0.8),
            ]
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(points)

    def _paint_ports(self, painter: QPainter, accent: QColor, colors: theme.Theme) -> None:
        """Port dots where the members' outside wires end on the collapsed card."""
        inside = set(self.members)
        wired_in = wired_out = False
        for member in self.members:
            for edge in member.edges:
                wired_in = wired_in or (edge.target is member and edge.source not in inside)
                wired_out = wired_out or (edge.source is member and edge.target not in inside)
        radius = geometry.PORT_RADIUS
        painter.setPen(QPen(QColor(colors.node_border), 1.5))
        painter.setBrush(QColor(colors.node_fill))
        if wired_in:
            painter.drawEllipse(QPointF(0, CARD_HEIGHT / 2), radius, radius)
        if wired_out:
            painter.setPen(QPen(accent.darker(115), 1.5))
            painter.setBrush(accent)
            painter.drawEllipse(QPointF(CARD_WIDTH, CARD_HEIGHT / 2), radius, radius)


def _inside(rect: QRectF) -> QPainterPath:
    path = QPainterPath()
    path.addRoundedRect(rect, 10, 10)
    return path


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
