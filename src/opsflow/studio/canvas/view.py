"""The canvas view: zoom about the cursor, pan, rubber-band selection, drops from the palette.

Panning (middle button, or space held with the left button) is one interaction
object kept here because it belongs to the view's coordinates, not the scene's.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QCursor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from opsflow.studio.canvas import empty_hint
from opsflow.studio.canvas.edge_item import EdgeItem
from opsflow.studio.canvas.group_item import GroupItem
from opsflow.studio.canvas.node_item import DETAIL_ZOOM, NodeItem
from opsflow.studio.canvas.note_item import NoteItem
from opsflow.studio.canvas.overview import OVERVIEW_ZOOM
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.mime import NODE_TYPE_MIME

MIN_ZOOM = 0.05
MAX_ZOOM = 4.0
WHEEL_STEP = 1.0015  # per eighth of a degree: one notch (120) is about 20 %
#: A flow is first shown (and shown after "Arrange") no smaller than this: cards show titles.
READABLE_ZOOM = DETAIL_ZOOM


class FlowView(QGraphicsView):
    """Shows a FlowScene; emits requests the main window turns into commands."""

    #: A node type was dropped from the palette at a scene position.
    node_type_dropped = Signal(str, QPointF)
    #: The user asked for the quick-add popup at a scene position (Tab, double-click).
    quick_add_requested = Signal(QPointF)
    #: The zoom level changed (1.0 is 100 %).
    zoom_changed = Signal(float)
    #: A node was double-clicked (its id).
    node_activated = Signal(str)
    #: A sticky note was double-clicked (its id).
    note_activated = Signal(str)
    #: Files were dropped on the canvas (local paths).
    files_dropped = Signal(list)
    #: The view changed size (overlays such as the minimap re-place themselves).
    resized = Signal()
    #: Right-click on a node: (node id, global position for a menu).
    context_menu_requested = Signal(str, QPoint)
    #: A group's title bar (or collapsed card) was double-clicked (its id).
    group_activated = Signal(str)

    def __init__(self, scene: FlowScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.flow_scene = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPoint | None = None
        self._space_held = False
        self.zoom_changed.connect(lambda zoom: scene.set_overview(zoom < OVERVIEW_ZOOM))
        self._showed_hint = not scene.nodes
        scene.document.changed.connect(self._on_flow_changed)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    # -- zoom ----------------------------------------------------------------------------

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        """Zoom to `zoom`, keeping the scene point under `anchor` (view coords) in place."""
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        before = self.mapToScene(anchor)
        factor = zoom / self.zoom()
        self.scale(factor, factor)
        self._scroll_to_keep(anchor, before)
        self.resetCachedContent()
        self.zoom_changed.emit(self.zoom())

    def _scroll_to_keep(self, anchor: QPoint, scene_point: QPointF) -> None:
        # With scroll bars the translate above may be clamped; correct by scrolling.
        now = self.mapFromScene(scene_point)
        shift = now - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + shift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + shift.y())

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        self.set_zoom(self.zoom() * factor, anchor)

    def fit_items(self, rect: QRectF | None = None) -> None:
        """Show the whole flow (or `rect`), no closer than 100 %."""
        target = rect if rect is not None else self.flow_scene.items_bounds()
        target = target.adjusted(-40, -40, 40, 40)
        self.fitInView(target, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.set_zoom(1.0)
            self.centerOn(target.center())
        elif self.zoom() < MIN_ZOOM:
            self.set_zoom(MIN_ZOOM)
            self.centerOn(target.center())
        self.resetCachedContent()
        self.zoom_changed.emit(self.zoom())

    def show_flow(self) -> None:
        """The first view of a flow: all of it when it can be read so, else its start.

        Fit, but never below `READABLE_ZOOM`; a flow that is bigger than that is shown
        from its left edge (where the triggers are), centred when it is short enough,
        from its top when not, and the scroll bars reach the rest.
        """
        self.fit_items()
        if self.zoom() >= READABLE_ZOOM:
            return
        bounds = self.flow_scene.items_bounds().adjusted(-40, -40, 40, 40)
        self.set_zoom(READABLE_ZOOM)
        seen = self.mapToScene(self.viewport().rect()).boundingRect()
        y = bounds.center().y()
        if bounds.height() > seen.height():
            y = bounds.top() + seen.height() / 2
        self.centerOn(bounds.left() + seen.width() / 2, y)

    def zoom_to_selection(self) -> None:
        items = self.flow_scene.selectedItems()
        if items:
            self.fit_items(self.flow_scene.items_bounds(items))

    def center_on_node(self, node_id: str) -> None:
        item = self.flow_scene.nodes.get(node_id)
        if item is not None:
            self.centerOn(item.sceneBoundingRect().center())

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            super().wheelEvent(event)
            return
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(WHEEL_STEP**delta, event.position().toPoint())
        event.accept()

    # -- panning -------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        middle = event.button() == Qt.MouseButton.MiddleButton
        if middle or (event.button() == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            now = event.position().toPoint()
            delta = now - self._pan_from
            self._pan_from = now
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space_held else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            item = self.itemAt(event.position().toPoint())
            if isinstance(item, NodeItem):
                self.node_activated.emit(item.node_id)
            elif isinstance(item, NoteItem):
                self.note_activated.emit(item.note_id)
            elif isinstance(item, GroupItem):
                self.group_activated.emit(item.group_id)
            elif item is None or not isinstance(item, EdgeItem):
                self.quick_add_requested.emit(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        item = self.itemAt(event.pos())
        if isinstance(item, NodeItem):
            self.context_menu_requested.emit(item.node_id, event.globalPos())
            event.accept()
            return
        super().contextMenuEvent(event)

    # -- the empty canvas ----------------------------------------------------------------

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        super().drawForeground(painter, rect)
        if not self.flow_scene.nodes:
            painter.save()  # the view does not save the painter's state (DontSavePainterState)
            painter.resetTransform()
            empty_hint.paint(painter, QRectF(self.viewport().rect()))
            painter.restore()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        if not self.flow_scene.nodes:
            self.viewport().update()  # the hint stays put while the canvas scrolls under it

    def _on_flow_changed(self) -> None:
        empty = not self.flow_scene.nodes
        if empty != self._showed_hint:
            self._showed_hint = empty
            self.viewport().update()

    # -- keys ----------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if key == Qt.Key.Key_Escape and self.flow_scene.cancel_interaction():
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        # Tab opens quick add instead of moving focus away from the canvas.
        pointer = self.pointer_scene_pos()
        centre = self.mapToScene(self.viewport().rect().center())
        self.quick_add_requested.emit(pointer if pointer is not None else centre)
        return True

    def pointer_scene_pos(self) -> QPointF | None:
        """The scene point under the mouse pointer; None when the pointer is off the canvas."""
        point = self.viewport().mapFromGlobal(QCursor.pos())
        if not self.viewport().rect().contains(point):
            return None
        return self.mapToScene(point)

    # -- drops from the palette ----------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(NODE_TYPE_MIME) or event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(NODE_TYPE_MIME) or event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        data = event.mimeData()
        if data.hasFormat(NODE_TYPE_MIME):
            type_id = bytes(data.data(NODE_TYPE_MIME).data()).decode("utf-8")
            self.node_type_dropped.emit(type_id, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
            return
        if data.hasUrls():
            self.files_dropped.emit([u.toLocalFile() for u in data.urls() if u.isLocalFile()])
            event.acceptProposedAction()
            return
        super().dropEvent(event)
