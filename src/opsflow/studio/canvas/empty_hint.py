"""What an empty canvas says: how to start a flow, painted over the canvas while it has no nodes.

The view paints it in its foreground, in viewport coordinates, so it stays centred and the
same size whatever the zoom and scroll position.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from opsflow.studio import theme

TITLE = "Start your flow"
#: (what to do, how): a bold line and a line under it.
WAYS = (
    ("Drag a node", "from the Nodes panel on the left onto the canvas"),
    ("Press Tab", "or double-click the canvas, and type to add a node by name"),
    ("Open a template", "File → New from template… starts from a sample flow"),
)
#: The widest the hint gets; it is narrower when the canvas is.
MAX_WIDTH = 520.0
_TITLE_FONT = QFont()
_TITLE_FONT.setPointSizeF(13.0)
_TITLE_FONT.setBold(True)
_BOLD = QFont()
_BOLD.setPointSizeF(9.5)
_BOLD.setBold(True)
_TEXT = QFont()
_TEXT.setPointSizeF(9.5)


def paint(painter: QPainter, viewport: QRectF) -> None:
    """Draw the hint centred in `viewport` (the painter is in viewport coordinates)."""
    colors = theme.current()
    bold, text = QFontMetricsF(_BOLD), QFontMetricsF(_TEXT)
    title_height = QFontMetricsF(_TITLE_FONT).height() + 12
    row_height = bold.height() + text.height() + 12
    wanted = max(
        QFontMetricsF(_TITLE_FONT).horizontalAdvance(TITLE),
        *(max(bold.horizontalAdvance(what), text.horizontalAdvance(how)) for what, how in WAYS),
    )
    width = min(wanted + 2 * 24 + 18, MAX_WIDTH, viewport.width() - 24)
    height = 20 + title_height + row_height * len(WAYS) + 8
    if width < 200 or height > viewport.height():
        return
    box = QRectF(
        viewport.center().x() - width / 2, viewport.center().y() - height / 2, width, height
    )
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    fill = QColor(colors.node_fill)
    fill.setAlphaF(0.92)
    painter.setPen(QPen(QColor(colors.node_border), 1.0, Qt.PenStyle.DashLine))
    painter.setBrush(fill)
    painter.drawRoundedRect(box, 12, 12)
    inner = box.adjusted(24, 20, -24, -8)
    painter.setFont(_TITLE_FONT)
    painter.setPen(QColor(colors.node_text))
    painter.drawText(
        QRectF(inner.left(), inner.top(), inner.width(), title_height),
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
        TITLE,
    )
    top = inner.top() + title_height
    left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    for what, how in WAYS:
        heading = QRectF(inner.left() + 18, top, inner.width() - 18, bold.height())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colors.selection))
        painter.drawEllipse(QPointF(inner.left() + 5, heading.center().y()), 3.5, 3.5)
        painter.setFont(_BOLD)
        painter.setPen(QColor(colors.node_text))
        painter.drawText(heading, left, what)
        detail = heading.translated(0, bold.height() + 2)
        detail.setHeight(text.height())
        painter.setFont(_TEXT)
        painter.setPen(QColor(colors.node_subtext))
        shown = text.elidedText(how, Qt.TextElideMode.ElideRight, detail.width())
        painter.drawText(detail, left, shown)
        top += row_height
