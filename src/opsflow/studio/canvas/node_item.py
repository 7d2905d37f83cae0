"""The node card on the canvas: title, type, icon, ports, badges; level of detail by zoom.

A card shows only what the model says (refreshed from the document), plus
the transient position while it is being dragged. Below 40 % zoom it is a
coloured block; text and ports appear when they can be read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from opsflow.engine.runview import NodeRun
from opsflow.studio import theme
from opsflow.studio.canvas import geometry, run_overlay
from opsflow.studio.icons import tinted_image

if TYPE_CHECKING:
    from opsflow.studio.canvas.edge_item import EdgeItem
    from opsflow.studio.canvas.group_item import GroupItem
    from opsflow.studio.canvas.scene import FlowScene

#: Below this zoom a card is drawn as a block with its title in a big font.
DETAIL_ZOOM = 0.4
#: Below this zoom the block has no text at all (overviews of big flows).
TITLE_ZOOM = 0.15

_TITLE_FONT = QFont()
_TITLE_FONT.setPointSizeF(9.5)
_TITLE_FONT.setBold(True)
_SUB_FONT = QFont()
_SUB_FONT.setPointSizeF(8.0)
_PORT_FONT = QFont()
_PORT_FONT.setPointSizeF(7.5)


@dataclass
class NodeLook:
    """What a card shows, derived from the model by the scene."""

    title: str
    subtitle: str
    category: str
    icon: str
    ports: tuple[str, ...]
    disabled: bool = False
    #: "error", "warning" or "" (from the validator).
    badge: str = ""
    badge_text: str = ""


class NodeItem(QGraphicsItem):
    """One node of the flow, identified by its id."""

    def __init__(self, node_id: str, look: NodeLook) -> None:
        super().__init__()
        self.node_id = node_id
        self.look = look
        self.edges: set[EdgeItem] = set()
        #: This node's part in the run shown on the canvas (None: not in it / no run).
        self.run: NodeRun | None = None
        self.breakpoint = False
        self.pinned = False
        #: Advanced by the scene while nodes run, to move the dashes of their outline.
        self.tick = 0
        self.overlay: run_overlay.RunOverlayItem | None = None
        #: The frame of the group this node is in (kept by the scene's group frames).
        self.frame: GroupItem | None = None
        self._rect = geometry.node_rect(len(look.ports))
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.setAcceptHoverEvents(False)
        self._update_tooltip()

    # -- model -> item -------------------------------------------------------------------

    def set_look(self, look: NodeLook) -> None:
        if look == self.look:
            return
        if len(look.ports) != len(self.look.ports):
            self.prepareGeometryChange()
            if self.overlay is not None:
                self.overlay.prepareGeometryChange()
            self._rect = geometry.node_rect(len(look.ports))
        self.look = look
        self._update_tooltip()
        self.update()
        for edge in self.edges:
            edge.adjust()

    def _update_tooltip(self) -> None:
        tip = f"<b>{_escape(self.look.title)}</b><br>{_escape(self.look.subtitle)} · {self.node_id}"
        if self.look.badge_text:
            tip += f"<br><br>{_escape(self.look.badge_text)}"
        self.setToolTip(tip)

    # -- geometry ------------------------------------------------------------------------

    def boundingRect(self) -> QRectF:
        # Room for the ports that stick out, the badge and tags on the corners and
        # the run's status line under the card.
        return self._rect.adjusted(
            -10, -18, run_overlay.STATUS_REACH, 8 + run_overlay.STATUS_HEIGHT
        )

    def card_rect(self) -> QRectF:
        """The card itself, without the room around it (local coordinates)."""
        return self._rect

    def set_run(self, run: NodeRun | None) -> None:
        self.run = None if run is None else replace(run)
        self._overlay_changed()

    def set_marks(self, breakpoint: bool, pinned: bool) -> None:
        if (breakpoint, pinned) != (self.breakpoint, self.pinned):
            self.breakpoint, self.pinned = breakpoint, pinned
            self._overlay_changed()

    def _overlay_changed(self) -> None:
        """Run state and debug marks live on a child item, made when first needed, so a
        change repaints that small drawing and the card's cached picture is kept."""
        if self.overlay is None:
            if self.run is None and not (self.breakpoint or self.pinned):
                return
            self.overlay = run_overlay.RunOverlayItem(self)
        self.overlay.update()

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self._rect.adjusted(-6, 0, 6, 0), 8, 8)
        return path

    def input_pos(self) -> QPointF:
        """The input port in scene coordinates (the card's, when the group is collapsed)."""
        if self.frame is not None and self.frame.collapsed:
            return self.frame.input_pos()
        return self.mapToScene(geometry.input_port_pos(len(self.look.ports)))

    def output_pos(self, port: str) -> QPointF:
        if self.frame is not None and self.frame.collapsed:
            return self.frame.output_pos()
        ports = self.look.ports
        index = ports.index(port) if port in ports else len(ports) - 1
        return self.mapToScene(geometry.output_port_pos(max(index, 0), len(ports)))

    def port_at(self, scene_pos: QPointF) -> tuple[str, str] | None:
        """("out", port) or ("in", "") when `scene_pos` is over a port."""
        local = self.mapFromScene(scene_pos)
        count = len(self.look.ports)
        limit = geometry.PORT_HIT_RADIUS**2
        for index, port in enumerate(self.look.ports):
            delta = local - geometry.output_port_pos(index, count)
            if delta.x() ** 2 + delta.y() ** 2 <= limit:
                return ("out", port)
        if not self.is_trigger():
            delta = local - geometry.input_port_pos(count)
            if delta.x() ** 2 + delta.y() ** 2 <= limit:
                return ("in", "")
        return None

    def is_trigger(self) -> bool:
        return self.look.category == "trigger"

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            scene = self.scene()
            if scene is not None and getattr(scene, "snap_to_grid", False):
                return QPointF(geometry.snap(value.x()), geometry.snap(value.y()))
        elif change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.adjust()
            if self.frame is not None:
                self.frame.member_moved()
            scene = self.scene()
            if scene is not None and getattr(scene, "overview_mode", False):
                # Only a FlowScene has an overview (scene.py imports this module).
                cast("FlowScene", scene).overview_changed()
        return super().itemChange(change, value)

    # -- painting ------------------------------------------------------------------------

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        look = self.look
        colors = theme.current()
        accent = QColor(colors.category_color(look.category))
        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        if look.disabled:
            painter.setOpacity(colors.disabled_alpha)
        rect = self._rect
        selected = self.isSelected()
        if zoom < DETAIL_ZOOM:
            self._paint_block(painter, zoom, accent, colors)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        border = QPen(QColor(colors.selection if selected else colors.node_border))
        border.setWidthF(2.0 if selected else 1.0)
        if look.disabled:
            border.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(border)
        painter.setBrush(QColor(colors.node_fill))
        painter.drawRoundedRect(rect, 8, 8)
        strip = QPainterPath()
        strip.addRoundedRect(QRectF(rect.left(), rect.top(), 10, rect.height()), 8, 8)
        painter.fillPath(strip.intersected(_left_half(rect)), accent)
        painter.drawImage(QRectF(16, 13, 20, 20), tinted_image(look.icon, accent.name(), 40))
        self._paint_text(painter, rect, colors)
        self._paint_ports(painter, colors)
        if look.badge:
            self._paint_badge(painter, colors)

    def _paint_block(
        self, painter: QPainter, zoom: float, accent: QColor, colors: theme.Theme
    ) -> None:
        """Far away: a coloured block, with the title in a font big enough to read."""
        rect = self._rect
        painter.setPen(
            QPen(QColor(colors.selection), 3 / zoom) if self.isSelected() else Qt.PenStyle.NoPen
        )
        painter.setBrush(accent)
        painter.drawRect(rect)
        if self.look.badge:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colors.error if self.look.badge == "error" else colors.warning))
            painter.drawRect(QRectF(rect.right() - 40, rect.top(), 40, 24))
        if zoom < TITLE_ZOOM:
            return
        font = QFont(_TITLE_FONT)
        font.setPointSizeF(min(_TITLE_FONT.pointSizeF() / zoom, 40.0))
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        box = rect.adjusted(8, 4, -8, -4)
        text = QFontMetricsF(font).elidedText(
            self.look.title, Qt.TextElideMode.ElideRight, box.width()
        )
        painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_text(self, painter: QPainter, rect: QRectF, colors: theme.Theme) -> None:
        right = rect.width() - 12
        painter.setPen(QColor(colors.node_text))
        painter.setFont(_TITLE_FONT)
        title = QFontMetricsF(_TITLE_FONT).elidedText(
            self.look.title, Qt.TextElideMode.ElideRight, right - 42
        )
        painter.drawText(QRectF(42, 7, right - 42, 18), Qt.AlignmentFlag.AlignVCenter, title)
        painter.setPen(QColor(colors.node_subtext))
        painter.setFont(_SUB_FONT)
        sub = QFontMetricsF(_SUB_FONT).elidedText(
            self.look.subtitle, Qt.TextElideMode.ElideRight, right - 42
        )
        painter.drawText(QRectF(42, 25, right - 42, 14), Qt.AlignmentFlag.AlignVCenter, sub)
        if self.look.disabled:
            painter.drawText(QRectF(16, geometry.HEADER_HEIGHT, 120, 16), 0, "disabled")
        if len(self.look.ports) > 1:
            painter.setPen(QPen(QColor(colors.node_border), 0.8))
            painter.drawLine(
                QPointF(10, geometry.HEADER_HEIGHT), QPointF(rect.width(), geometry.HEADER_HEIGHT)
            )

    def _paint_ports(self, painter: QPainter, colors: theme.Theme) -> None:
        count = len(self.look.ports)
        radius = geometry.PORT_RADIUS
        painter.setFont(_PORT_FONT)
        if not self.is_trigger():
            painter.setPen(QPen(QColor(colors.node_border), 1.5))
            painter.setBrush(QColor(colors.node_fill))
            painter.drawEllipse(geometry.input_port_pos(count), radius, radius)
        for index, port in enumerate(self.look.ports):
            center = geometry.output_port_pos(index, count)
            color = QColor(colors.port_color(port))
            painter.setPen(QPen(color.darker(115), 1.5))
            painter.setBrush(color)
            painter.drawEllipse(center, radius, radius)
            if count > 1:
                painter.setPen(QColor(colors.node_subtext))
                label = QRectF(center.x() - 140, center.y() - 8, 140 - radius - 5, 16)
                painter.drawText(
                    label, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, port
                )

    def _paint_badge(self, painter: QPainter, colors: theme.Theme) -> None:
        color = QColor(colors.error if self.look.badge == "error" else colors.warning)
        center = QPointF(self._rect.right() - 4, self._rect.top() - 2)
        painter.setPen(QPen(QColor(colors.node_fill), 1.5))
        painter.setBrush(color)
        painter.drawEllipse(center, 8, 8)
        painter.setPen(QColor("#ffffff"))
        font = QFont(_TITLE_FONT)
        font.setPointSizeF(8)
        painter.setFont(font)
        painter.drawText(
            QRectF(center.x() - 8, center.y() - 8, 16, 16), Qt.AlignmentFlag.AlignCenter, "!"
        )


def _left_half(rect: QRectF) -> QPainterPath:
    path = QPainterPath()
    path.addRect(QRectF(rect.left(), rect.top(), 4, rect.height()))
    return path


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
