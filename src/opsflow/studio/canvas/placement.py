"""Where new things go on the canvas: the free spot nearest to where they were asked for.

A paste, a node added after the selected one and a sticky note must never land
on top of a card. The search tries grid steps outward from the wanted spot,
nearest first, and asks the scene's index what each candidate would touch, so
it costs a few index queries near the spot whatever the size of the flow.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QGraphicsScene

from opsflow.studio.canvas import geometry
from opsflow.studio.canvas.node_item import NodeItem
from opsflow.studio.canvas.note_item import NoteItem
from opsflow.studio.canvas.run_overlay import STATUS_HEIGHT

#: Clear space kept around what is placed (one grid step).
GAP = geometry.GRID
#: How far (in grid steps) the search goes before it settles for below the whole flow.
RINGS = 60
#: Moving up or left costs this much more than moving down or right: new things go
#: after what is in their way, as a flow reads.
BACKWARD_COST = 1.6


def card_room(port_count: int) -> QRectF:
    """The room a node card needs (local coordinates): the card and its run status line."""
    rect = geometry.node_rect(port_count)
    return rect.adjusted(0, 0, 0, STATUS_HEIGHT + 5)


def is_free(scene: QGraphicsScene, rect: QRectF) -> bool:
    """True when `rect` (grown by GAP) touches no node card and no sticky note."""
    room = rect.adjusted(-GAP, -GAP, GAP, GAP)
    for item in scene.items(room, Qt.ItemSelectionMode.IntersectsItemBoundingRect):
        if isinstance(item, NodeItem):
            taken = item.mapToScene(card_room(len(item.look.ports))).boundingRect()
        elif isinstance(item, NoteItem):
            taken = item.sceneBoundingRect()
        else:
            continue
        if taken.intersects(room):
            return False
    return True


def free_spot(scene: QGraphicsScene, wanted: QRectF, everything: QRectF) -> QPointF:
    """The top-left corner, on the grid, nearest to `wanted`'s where it fits free.

    When nothing is free within `RINGS` grid steps (the middle of a dense flow),
    the spot is below `everything` (the flow's bounds), where there is always room.
    """
    start = QPointF(geometry.snap(wanted.left()), geometry.snap(wanted.top()))
    for dx, dy in _candidates():
        corner = start + QPointF(dx * GAP, dy * GAP)
        if is_free(scene, QRectF(corner, wanted.size())):
            return corner
    return QPointF(start.x(), geometry.snap(everything.bottom() + 2 * GAP))


@cache
def _candidates() -> list[tuple[int, int]]:
    """Grid offsets within `RINGS` steps, the cheapest first."""
    span = range(-RINGS, RINGS + 1)
    return sorted(((dx, dy) for dx in span for dy in span), key=_cost)


def _cost(offset: tuple[int, int]) -> tuple[float, int, int]:
    dx, dy = offset
    x = dx * (BACKWARD_COST if dx < 0 else 1.0)
    y = dy * (BACKWARD_COST if dy < 0 else 1.0)
    return (x * x + y * y, -dy, -dx)  # ties: down before up, right before left
