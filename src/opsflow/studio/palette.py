"""The node palette: every node type of the catalog by category, searchable and draggable.

It also owns the one search rule for node types (`match_rank`, `matches`), which
the quick-add popup uses too, so both find the same nodes for the same words.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterable, Sequence
from functools import lru_cache

from PySide6.QtCore import (
    QEvent,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QDrag, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsflow.catalog import Catalog, NodeSpec
from opsflow.catalog.spec import CATEGORIES
from opsflow.studio import theme
from opsflow.studio.icons import node_icon
from opsflow.studio.mime import NODE_TYPE_MIME, node_type_mime_data

#: Item data role holding a node item's type id (category items hold None).
TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
ICON_SIZE = 20
ROW_PADDING = 4
TOOLTIP_WIDTH = 60

_HEADINGS = {
    "trigger": "Triggers",
    "condition": "Conditions",
    "action": "Actions",
    "control": "Control",
}


# -- the search rule ---------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", text.lower()))


def _term_rank(spec: NodeSpec, term: str) -> int | None:
    """How well one search word fits a node type: lower is better, None is no fit."""
    title = spec.title.lower()
    if title.startswith(term) or any(w.startswith(term) for w in _words(spec.title)):
        return 0
    if term in title:
        return 1
    if term in spec.type.lower():
        return 2
    if any(w.startswith(term) for w in _words(spec.doc)):
        return 3
    return None


def match_rank(spec: NodeSpec, text: str) -> int | None:
    """How well `text` finds `spec`, lower is better; None when it does not.

    Every whitespace-separated word must occur, case-insensitively, in the
    title or the type id, or start a word of the documentation. Empty text
    matches everything equally.
    """
    total = 0
    for term in text.lower().split():
        rank = _term_rank(spec, term)
        if rank is None:
            return None
        total += rank
    return total


def matches(spec: NodeSpec, text: str) -> bool:
    """Whether a search for `text` finds the node type `spec`."""
    return match_rank(spec, text) is not None


# -- presentation shared with the quick-add popup ----------------------------------------


def category_order(categories: Iterable[str]) -> list[str]:
    """The built-in categories in their fixed order, then any others alphabetically."""
    present = set(categories)
    builtin = [c for c in CATEGORIES if c in present]
    return builtin + sorted(present - set(CATEGORIES))


def category_heading(category: str) -> str:
    return _HEADINGS.get(category, category.replace("_", " ").replace(".", " ").capitalize())


def spec_icon_color(spec: NodeSpec) -> str:
    return theme.current().category_color(spec.category)


def spec_tooltip(spec: NodeSpec) -> str:
    """Rich text: the title, the type id and the documentation wrapped at ~60 characters."""
    wrapped = textwrap.fill(spec.doc, TOOLTIP_WIDTH, break_long_words=False)
    body = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(wrapped))
    muted = theme.current().node_subtext
    return (
        f"<b>{html.escape(spec.title)}</b>&nbsp;&nbsp;"
        f"<span style='color:{muted}'>{html.escape(spec.type)}</span>"
        # Pre-wrapped here: QToolTip would otherwise re-wrap at a width of its own.
        f"<p style='margin-top:4px; white-space:pre'>{body}</p>"
    )


# -- the widget --------------------------------------------------------------------------


class _RoomyRows(QStyledItemDelegate):
    """Rows tall enough for the icon with some air, so the list is easy to aim at."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), max(size.height(), ICON_SIZE + ROW_PADDING))


class _NodeTree(QTreeWidget):
    """The palette's list: drags carry the node type, never the item itself."""

    def mimeTypes(self) -> list[str]:
        return [NODE_TYPE_MIME]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:
        """The payload for the first node item; empty when only headings are given."""
        for item in items:
            type_id = item.data(0, TYPE_ROLE)
            if type_id:
                return node_type_mime_data(type_id)
        return QMimeData()

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        # Started here rather than by QAbstractItemView so the payload comes from
        # mime.py and its ownership passes to the QDrag explicitly.
        items = [i for i in self.selectedItems() if i.data(0, TYPE_ROLE)]
        if not items:
            return
        mime = self.mimeData(items)
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(items[0].icon(0).pixmap(QSize(32, 32), self.devicePixelRatioF()))
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    """Node types grouped by category under a search field; drag or activate to add one."""

    #: A node type was chosen to be added (double-click, Enter): its type id.
    activated_type = Signal(str)

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._catalog = catalog
        self._categories: dict[str, QTreeWidgetItem] = {}
        self._nodes: dict[str, QTreeWidgetItem] = {}
        self._members: dict[str, list[tuple[QTreeWidgetItem, NodeSpec]]] = {}
        self._expanded_before_search: dict[str, bool] | None = None

        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search nodes…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._on_search_changed)
        self.search_edit.returnPressed.connect(self._on_search_return)
        self.search_edit.installEventFilter(self)

        self.tree = _NodeTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.tree.setIndentation(14)
        self.tree.setItemDelegate(_RoomyRows(self.tree))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.itemActivated.connect(self._on_item_activated)

        self.empty_label = QLabel(self)
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty_label.setWordWrap(True)
        self.empty_label.setContentsMargins(8, 16, 8, 8)
        self.empty_label.setEnabled(False)
        self.empty_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search_edit)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label, 1)
        self._populate()

    # -- reading ---------------------------------------------------------------------------

    def visible_types(self) -> list[str]:
        """The type ids the list shows now, top to bottom."""
        return [
            spec.type
            for category, members in self._members.items()
            if not self._categories[category].isHidden()
            for item, spec in members
            if not item.isHidden()
        ]

    def item_for_type(self, type_id: str) -> QTreeWidgetItem | None:
        return self._nodes.get(type_id)

    def category_item(self, category: str) -> QTreeWidgetItem | None:
        return self._categories.get(category)

    # -- changing --------------------------------------------------------------------------

    def refresh_icons(self) -> None:
        """Tint the icons again, after the theme changed."""
        for members in self._members.values():
            for item, spec in members:
                item.setIcon(0, node_icon(spec.icon, spec_icon_color(spec)))
                item.setToolTip(0, spec_tooltip(spec))

    # -- Qt overrides ----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search_edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Down:
                self._focus_first_match()
                return True
            if event.key() == Qt.Key.Key_Escape and self.search_edit.text():
                self.search_edit.clear()
                return True
        return super().eventFilter(watched, event)

    # -- internals -------------------------------------------------------------------------

    def _populate(self) -> None:
        by_category: dict[str, list[NodeSpec]] = {}
        for spec in self._catalog:
            by_category.setdefault(spec.category, []).append(spec)
        bold = self.tree.font()
        bold.setBold(True)
        for category in category_order(by_category):
            heading = QTreeWidgetItem([category_heading(category)])
            heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
            heading.setFont(0, bold)
            heading.setData(0, TYPE_ROLE, None)
            self.tree.addTopLevelItem(heading)
            self._categories[category] = heading
            for spec in sorted(by_category[category], key=lambda s: (s.title.lower(), s.type)):
                item = QTreeWidgetItem([spec.title])
                item.setData(0, TYPE_ROLE, spec.type)
                item.setIcon(0, node_icon(spec.icon, spec_icon_color(spec)))
                item.setToolTip(0, spec_tooltip(spec))
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
                heading.addChild(item)
                self._nodes[spec.type] = item
                self._members.setdefault(category, []).append((item, spec))
            heading.setExpanded(True)

    def _on_search_changed(self, text: str) -> None:
        searching = bool(text.strip())
        if searching and self._expanded_before_search is None:
            self._expanded_before_search = {
                c: item.isExpanded() for c, item in self._categories.items()
            }
        any_shown = False
        for category, heading in self._categories.items():
            shown = 0
            for item, spec in self._members[category]:
                hit = matches(spec, text)
                item.setHidden(not hit)
                shown += hit
            heading.setHidden(searching and shown == 0)
            if searching:
                heading.setExpanded(True)
            elif self._expanded_before_search is not None:
                heading.setExpanded(self._expanded_before_search.get(category, True))
            any_shown = any_shown or shown > 0
        if not searching:
            self._expanded_before_search = None
        self.tree.setVisible(any_shown)
        self.empty_label.setVisible(not any_shown)
        self.empty_label.setText(f"No node matches '{text.strip()}'")
        current = self.tree.currentItem()
        if current is not None and (current.isHidden() or current.parent() is None):
            self.tree.setCurrentIndex(QModelIndex())

    def _on_search_return(self) -> None:
        shown = self.visible_types()
        if len(shown) == 1:
            self.activated_type.emit(shown[0])
        elif shown:
            self._focus_first_match()

    def _focus_first_match(self) -> None:
        shown = self.visible_types()
        if not shown:
            return
        current = self.tree.currentItem()
        if current is None or current.isHidden() or not current.data(0, TYPE_ROLE):
            self.tree.setCurrentItem(self._nodes[shown[0]])
        self.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.activated_type.emit(type_id)
