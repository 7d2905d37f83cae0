"""The quick-add popup: type a few letters, pick a node type, without leaving the canvas.

It finds node types with the palette's search rule (`palette.match_rank`), best
fits first, and reports the choice as a type id; placing the node is the caller's job.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QGuiApplication, QHideEvent, QKeyEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from opsflow.catalog import Catalog, NodeSpec
from opsflow.studio import theme
from opsflow.studio.icons import node_icon
from opsflow.studio.palette import (
    TYPE_ROLE,
    category_order,
    match_rank,
    spec_icon_color,
    spec_tooltip,
)

#: The categories a node at the end of a new wire may have: triggers take no inbound edges.
WIRE_TARGET_CATEGORIES = frozenset({"condition", "action", "control"})
ICON_SIZE = 18
_PAD = 6


class _NodeTypeDelegate(QStyledItemDelegate):
    """A row: the tinted icon, the title, and the type id right-aligned in a muted colour."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        type_id = str(index.data(TYPE_ROLE) or "")
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)

        rect = opt.rect.adjusted(_PAD, 0, -_PAD, 0)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_color = opt.palette.color(text_role)
        muted = QColor(text_color) if selected else QColor(theme.current().node_subtext)
        if selected:
            muted.setAlphaF(0.75)

        icon_rect = QRect(0, 0, ICON_SIZE, ICON_SIZE)
        icon_rect.moveCenter(QPoint(rect.left() + ICON_SIZE // 2, rect.center().y()))
        opt.icon.paint(painter, icon_rect)
        text_rect = rect.adjusted(ICON_SIZE + _PAD, 0, 0, 0)

        metrics = opt.fontMetrics
        title_width = metrics.horizontalAdvance(opt.text)
        id_space = max(0, text_rect.width() - title_width - 2 * _PAD)
        id_text = metrics.elidedText(type_id, Qt.TextElideMode.ElideLeft, id_space)
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(text_color)
        align = Qt.AlignmentFlag.AlignVCenter
        painter.drawText(text_rect, align | Qt.AlignmentFlag.AlignLeft, opt.text)
        painter.setPen(muted)
        painter.drawText(text_rect, align | Qt.AlignmentFlag.AlignRight, id_text)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(
            size.width(), max(size.height(), ICON_SIZE + 8, option.fontMetrics.height() + 10)
        )


class QuickAdd(QFrame):
    """A popup listing node types under a search line; Enter or a click chooses one."""

    #: A node type was chosen: its type id. The popup has closed.
    chosen = Signal(str)
    #: The popup closed without a choice (Esc, a click elsewhere).
    cancelled = Signal()

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup | Qt.WindowType.FramelessWindowHint)
        self._catalog = catalog
        self._categories: set[str] | None = None
        self._decided = False
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.resize(340, 320)

        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Add a node…")
        self.search_edit.textChanged.connect(self._refill)
        self.search_edit.installEventFilter(self)

        self.list = QListWidget(self)
        self.list.setItemDelegate(_NodeTypeDelegate(self.list))
        self.list.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.list.setUniformItemSizes(True)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.itemClicked.connect(self._on_item_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.list, 1)

    # -- API -------------------------------------------------------------------------------

    def open_at(
        self, global_pos: QPoint, filter_categories: AbstractSet[str] | None = None
    ) -> None:
        """Show the popup with its top-left corner at `global_pos` (kept on screen).

        `filter_categories` are the categories offered (None: all); pass
        `WIRE_TARGET_CATEGORIES` when the node will be the target of a new wire.
        """
        self._categories = set(filter_categories) if filter_categories is not None else None
        self._decided = False
        self.search_edit.blockSignals(True)
        self.search_edit.clear()
        self.search_edit.blockSignals(False)
        self._refill("")
        self.move(self._on_screen(global_pos))
        self.show()
        self.raise_()
        self.activateWindow()
        self.search_edit.setFocus(Qt.FocusReason.PopupFocusReason)

    def shown_types(self) -> list[str]:
        """The type ids listed now, top to bottom."""
        return [self.list.item(row).data(TYPE_ROLE) for row in range(self.list.count())]

    def current_type(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(TYPE_ROLE)) if item is not None else None

    # -- Qt overrides ----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search_edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if self._on_key(Qt.Key(event.key())):
                return True
        return super().eventFilter(watched, event)

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        if not self._decided:
            self._decided = True
            self.cancelled.emit()

    # -- internals -------------------------------------------------------------------------

    def _on_key(self, key: Qt.Key) -> bool:
        steps = {
            Qt.Key.Key_Down: 1,
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_PageDown: 8,
            Qt.Key.Key_PageUp: -8,
        }
        if key in steps:
            self._move_current(steps[key])
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            type_id = self.current_type()
            if type_id:
                self._choose(type_id)
            return True
        if key == Qt.Key.Key_Escape:
            self.hide()
            return True
        return False

    def _move_current(self, step: int) -> None:
        count = self.list.count()
        if count == 0:
            return
        row = min(max(self.list.currentRow() + step, 0), count - 1)
        self.list.setCurrentRow(row)

    def _refill(self, text: str) -> None:
        found: list[tuple[int, int, str, NodeSpec]] = []
        order = category_order(spec.category for spec in self._catalog)
        for spec in self._catalog:
            if self._categories is not None and spec.category not in self._categories:
                continue
            rank = match_rank(spec, text)
            if rank is not None:
                found.append((rank, order.index(spec.category), spec.title.lower(), spec))
        found.sort(key=lambda entry: entry[:3])
        self.list.clear()
        for *_, spec in found:
            item = QListWidgetItem(node_icon(spec.icon, spec_icon_color(spec)), spec.title)
            item.setData(TYPE_ROLE, spec.type)
            item.setToolTip(spec_tooltip(spec))
            self.list.addItem(item)
        if found:
            self.list.setCurrentRow(0)

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        type_id = item.data(TYPE_ROLE)
        if type_id:
            self._choose(type_id)

    def _choose(self, type_id: str) -> None:
        self._decided = True
        self.hide()
        self.chosen.emit(type_id)

    def _on_screen(self, global_pos: QPoint) -> QPoint:
        screen = QGuiApplication.screenAt(global_pos) or QGuiApplication.primaryScreen()
        if screen is None:
            return global_pos
        area = screen.availableGeometry()
        x = min(max(global_pos.x(), area.left()), area.right() - self.width())
        y = min(max(global_pos.y(), area.top()), area.bottom() - self.height())
        return QPoint(x, y)
