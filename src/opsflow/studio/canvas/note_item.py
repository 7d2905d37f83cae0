"""A sticky note on the canvas: Markdown text on a coloured card, presentation only."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QPainter,
    QPalette,
    QPen,
    QTextDocument,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from opsflow.model.flow import StickyNote
from opsflow.studio import theme
from opsflow.studio.canvas import geometry

PADDING = 10.0


class NoteItem(QGraphicsItem):
    """One sticky note, identified by its id."""

    def __init__(self, note: StickyNote) -> None:
        super().__init__()
        self.note_id = note.id
        self._text = QTextDocument()
        self._rect = QRectF()
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(-1)
        self.set_note(note)

    def set_note(self, note: StickyNote) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(0, 0, float(note.width), float(note.height))
        self._text.setMarkdown(note.text)
        self._text.setTextWidth(self._rect.width() - 2 * PADDING)
        self._color = note.color
        self.setPos(QPointF(float(note.x), float(note.y)))
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 2, 2)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            scene = self.scene()
            if scene is not None and getattr(scene, "snap_to_grid", False):
                return QPointF(geometry.snap(value.x()), geometry.snap(value.y()))
        return super().itemChange(change, value)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        colors = theme.current()
        fill = QColor(self._color or colors.note_fill)
        if self._color and colors.mode == "dark":
            fill = fill.darker(220)
        selected = self.isSelected()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(colors.selection), 2) if selected else QPen(fill.darker(115), 1))
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect, 4, 4)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < 0.4:
            return
        painter.save()
        painter.translate(PADDING, PADDING)
        clip = self._rect.adjusted(0, 0, -2 * PADDING, -2 * PADDING)
        painter.setClipRect(clip)
        self._text.setDefaultFont(painter.font())
        self._draw_text(painter, QColor(colors.note_text))
        painter.restore()

    def _draw_text(self, painter: QPainter, color: QColor) -> None:
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, color)
        self._text.documentLayout().draw(painter, context)
