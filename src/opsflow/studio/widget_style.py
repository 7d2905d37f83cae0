"""The widgets' style: Fusion, with check boxes and radio buttons that show on a dark theme.

Fusion outlines an unticked box a shade darker than the window, which on a dark
window is next to invisible; on a dark palette the box gets a rim in the text's
colour, half strength. A light palette is drawn as Fusion draws it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleFactory, QStyleOption, QWidget

PE = QStyle.PrimitiveElement
BOXES = (PE.PE_IndicatorCheckBox, PE.PE_IndicatorItemViewItemCheck)
#: How strong the rim is (0-255) against the text colour.
RIM_ALPHA = 150


class StudioStyle(QProxyStyle):
    """Fusion with visible check boxes and radio buttons on dark palettes."""

    def __init__(self) -> None:
        super().__init__(QStyleFactory.create("Fusion"))

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        super().drawPrimitive(element, option, painter, widget)
        round_ = element == PE.PE_IndicatorRadioButton
        if not (element in BOXES or round_):
            return
        palette = option.palette
        if palette.color(QPalette.ColorRole.Window).lightness() >= 128:
            return
        rim = QColor(palette.color(QPalette.ColorRole.Text))
        rim.setAlpha(RIM_ALPHA)
        box = QRectF(option.rect).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(rim, 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if round_:
            painter.drawEllipse(box)
        else:
            painter.drawRoundedRect(box, 2, 2)
        painter.restore()
