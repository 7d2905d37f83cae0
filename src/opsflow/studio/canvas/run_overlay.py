"""How a node shows its part in a run (state, attempts, time) and its debug marks.

Drawn by the node card on top of itself: a coloured outline per state, a
status line under the card, a red dot for a breakpoint and a "pinned" tag.
Kept apart from the card so the design view stays simple.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from opsflow.engine.runview import NodeRun
from opsflow.studio import theme

if TYPE_CHECKING:
    from opsflow.studio.canvas.node_item import NodeItem

#: Space the status line needs under a card.
STATUS_HEIGHT = 18.0
#: How far right of the card the status line may reach (the card's bounding rect allows it).
STATUS_REACH = 60.0
CHIP_PADDING = 7.0
_FONT = QFont()
_FONT.setPointSizeF(7.5)
_FONT.setBold(True)


def state_color(state: str, colors: theme.Theme) -> QColor:
    return QColor(
        {
            "running": colors.selection,
            "retrying": colors.ports["late"],
            "succeeded": colors.ports["good"],
            "failed": colors.ports["bad"],
            "waiting": colors.ports["late"],
            "paused": colors.categories["trigger"],
        }.get(state, colors.ports["neutral"])
    )


def status_text(run: NodeRun) -> str:
    """The words under a card, e.g. 'succeeded · 0.42 s', 'retry 2', 'waiting for approval'."""
    if run.state == "succeeded":
        words = "pinned" if run.pinned else "simulated" if run.simulated else "succeeded"
        if run.port not in (None, "success", "out"):
            words += f" → {run.port}"
    elif run.state == "waiting":
        words = f"waiting for {run.waiting}" if run.waiting in ("approval",) else "waiting"
    elif run.state == "paused":
        words = "paused at breakpoint"
    elif run.state == "retrying":
        words = f"retrying after attempt {run.attempts}"
    else:
        words = run.state
    if run.attempts > 1 and run.state in ("running", "succeeded", "failed"):
        words += f" · attempt {run.attempts}"
    if run.duration_s is not None and run.state in ("succeeded", "failed"):
        words += f" · {_duration(run.duration_s)}"
    return words


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min"


def paint_run(painter: QPainter, rect: QRectF, run: NodeRun, tick: int) -> None:
    """Outline and status line for a node in the shown run; `tick` animates running nodes."""
    colors = theme.current()
    color = state_color(run.state, colors)
    pen = QPen(color, 3.0 if run.state in ("running", "paused", "waiting", "failed") else 2.0)
    if run.state in ("running", "retrying"):
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setDashOffset(-tick)
    elif run.state in ("queued", "skipped"):
        pen.setStyle(Qt.PenStyle.DotLine)
        pen.setWidthF(1.5)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(rect.adjusted(-3, -3, 3, 3), 10, 10)
    painter.setFont(_FONT)
    # Measured for the device painted on, and cut at its end when longer than the room
    # the card keeps under itself (up to STATUS_REACH right of it): never clipped in the chip.
    metrics = QFontMetricsF(_FONT, painter.device())
    room = rect.width() + STATUS_REACH - 2 * CHIP_PADDING
    text = metrics.elidedText(status_text(run), Qt.TextElideMode.ElideRight, room)
    width = min(metrics.horizontalAdvance(text), room) + 2 * CHIP_PADDING
    chip = QRectF(rect.left(), rect.bottom() + 5, width, STATUS_HEIGHT - 4)
    fill = QColor(color)
    fill.setAlpha(40)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(chip, 7, 7)
    painter.setPen(color.darker(125) if colors.mode == "light" else color.lighter(120))
    words = chip.adjusted(CHIP_PADDING, 0, -CHIP_PADDING, 0)
    align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    painter.drawText(words, int(align) | Qt.TextFlag.TextDontClip, text)


def paint_marks(painter: QPainter, rect: QRectF, breakpoint: bool, pinned: bool) -> None:
    """A red dot on the top-left corner for a breakpoint; a 'pinned' tag above the card."""
    colors = theme.current()
    if breakpoint:
        painter.setPen(QPen(QColor(colors.node_fill), 2))
        painter.setBrush(QColor("#e0362c"))
        painter.drawEllipse(QPointF(rect.left() + 2, rect.top() + 2), 7, 7)
    if pinned:
        painter.setFont(_FONT)
        tag = QRectF(rect.left() + 16, rect.top() - 16, 50, 14)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colors.selection))
        painter.drawRoundedRect(tag, 6, 6)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, "pinned")


class RunOverlayItem(QGraphicsItem):
    """Drawn over a node card (a child of it): its run state and debug marks.

    Not cached, and cheap: a state change repaints this drawing only, while the
    card keeps its cached picture (titles and icons are the costly part).
    """

    def __init__(self, card: NodeItem) -> None:
        super().__init__(card)
        self.card = card
        self.setZValue(1)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        return self.card.boundingRect()

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        card = self.card
        rect = card.card_rect()
        zoom = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if card.run is not None:
            if zoom < 0.4:  # far away: an outline in the state's colour, no words
                pen = QPen(state_color(card.run.state, theme.current()), 4 / max(zoom, 0.05))
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect)
            else:
                paint_run(painter, rect, card.run, card.tick)
        if card.breakpoint or card.pinned:
            paint_marks(painter, rect, card.breakpoint, card.pinned)
