"""Where things sit on a node card: its size and the positions of its ports.

Kept apart from painting so hit-testing, edge routing and auto-layout agree
with what is drawn.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF

NODE_WIDTH = 200.0
#: The top of a card: icon, title and type. Ports with names are listed below it.
HEADER_HEIGHT = 46.0
PORT_SPACING = 18.0
PORT_RADIUS = 5.5
#: Ports are easier to hit than they look.
PORT_HIT_RADIUS = 11.0
GRID = 20.0
#: The smallest card: one unnamed output port beside the header.
NODE_MIN_HEIGHT = 52.0


def node_height(port_count: int) -> float:
    if port_count <= 1:
        return NODE_MIN_HEIGHT
    return HEADER_HEIGHT + PORT_SPACING * port_count + 4


def node_rect(port_count: int) -> QRectF:
    return QRectF(0.0, 0.0, NODE_WIDTH, node_height(port_count))


def input_port_pos(port_count: int) -> QPointF:
    """The single input port, on the left edge beside the title (local coordinates)."""
    return QPointF(0.0, NODE_MIN_HEIGHT / 2)


def output_port_pos(index: int, port_count: int) -> QPointF:
    """Output port `index` on the right edge: beside the header when it is the only one,
    else one row each below the header (local coordinates)."""
    if port_count <= 1:
        return QPointF(NODE_WIDTH, NODE_MIN_HEIGHT / 2)
    return QPointF(NODE_WIDTH, HEADER_HEIGHT + PORT_SPACING * (index + 0.5))


def snap(value: float) -> float:
    return round(value / GRID) * GRID
