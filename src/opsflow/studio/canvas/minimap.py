"""The minimap: a small overview of the whole flow in the canvas corner; click to jump.

It paints a cached picture of the scene, refreshed (debounced) after changes,
with the visible area drawn on top, so a 5,000-node flow costs one pixmap
blit per frame rather than a second pass over every item. The picture, the
frame and clicks share one mapping (the flow centred in the map), and the map
shrinks with a small canvas so it never covers much of it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from opsflow.studio import theme
from opsflow.studio.canvas.view import FlowView

WIDTH = 220
HEIGHT = 140
#: The map never takes more than this share of the canvas's width (or height).
SHARE = 0.26
MIN_WIDTH = 110
MARGIN = 12
REFRESH_MS = 400


class Minimap(QWidget):
    """Overview in the bottom-right corner of a FlowView."""

    def __init__(self, view: FlowView) -> None:
        super().__init__(view)
        self.view = view
        self.resize(WIDTH, HEIGHT)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self._picture = QPixmap()
        self._source = QRectF()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        view.flow_scene.document.changed.connect(self._timer.start)
        view.flow_scene.document.reset.connect(self._timer.start)
        view.horizontalScrollBar().valueChanged.connect(self.update)
        view.verticalScrollBar().valueChanged.connect(self.update)
        view.zoom_changed.connect(lambda _: self.update())
        view.resized.connect(self.place)
        self.place()
        self.refresh()

    def place(self) -> None:
        area = self.view.viewport().geometry()
        fits = min(WIDTH, area.width() * SHARE, area.height() * SHARE * WIDTH / HEIGHT)
        width = round(max(MIN_WIDTH, fits))
        size = QSize(width, round(width * HEIGHT / WIDTH))
        if size != self.size():
            self.resize(size)
            self._timer.start()  # a picture for the new size
        self.move(area.right() - size.width() - MARGIN, area.bottom() - size.height() - MARGIN)

    def refresh(self) -> None:
        scene = self.view.flow_scene
        self._source = scene.items_bounds().adjusted(-60, -60, 60, 60)
        picture = QPixmap(self.size() * 2)
        picture.fill(QColor(theme.current().canvas))
        scale, offset = self._mapping()
        target = QRectF(
            self._source.left() * scale + offset.x(),
            self._source.top() * scale + offset.y(),
            self._source.width() * scale,
            self._source.height() * scale,
        )
        painter = QPainter(picture)
        painter.scale(2, 2)
        # Drawn exactly where `_mapping` puts it: Qt's KeepAspectRatio would align it top-left.
        scene.render(painter, target, self._source, Qt.AspectRatioMode.IgnoreAspectRatio)
        painter.end()
        self._picture = picture
        self.update()

    def _mapping(self) -> tuple[float, QPointF]:
        """Scale and offset from scene coordinates to this widget (the flow centred in it)."""
        source = self._source
        if source.isEmpty():
            return 1.0, QPointF()
        width, height = self.width(), self.height()
        scale = min(width / source.width(), height / source.height())
        offset = QPointF(
            (width - source.width() * scale) / 2 - source.left() * scale,
            (height - source.height() * scale) / 2 - source.top() * scale,
        )
        return scale, offset

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = theme.current()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setOpacity(0.92)
        painter.drawPixmap(self.rect(), self._picture)
        painter.setOpacity(1.0)
        painter.setPen(QPen(QColor(colors.node_border), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        scale, offset = self._mapping()
        visible = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        frame = QRectF(
            visible.left() * scale + offset.x(),
            visible.top() * scale + offset.y(),
            visible.width() * scale,
            visible.height() * scale,
        ).intersected(QRectF(self.rect()))
        selection = QColor(colors.selection)
        painter.setPen(QPen(selection, 1.5))
        selection.setAlpha(40)
        painter.setBrush(selection)
        painter.drawRect(frame)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._jump(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._jump(event.position())

    def _jump(self, point: QPointF) -> None:
        scale, offset = self._mapping()
        self.view.centerOn(
            QPointF((point.x() - offset.x()) / scale, (point.y() - offset.y()) / scale)
        )
