"""A lazily expanded tree of a JSON value (a node's output, a payload), with search and copy.

`JsonTreeModel` makes rows only for containers the user opens, a page of
`PAGE_SIZE` children at a time, so a run output of many megabytes shows at
once; `JsonTree` adds the search box, "Copy value" and "Copy path".
"""

from __future__ import annotations

import bisect
import html
import itertools
import json
import re
import time
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QBrush, QFont, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from opsflow.studio.inspector.expression import monospace_font

#: Children of a container made at a time; the rest wait behind a "… N more" row.
PAGE_SIZE = 1000
#: Characters of a string shown in its cell; the tooltip shows up to TOOLTIP_CHARS.
CELL_CHARS = 200
TOOLTIP_CHARS = 2000
#: A search gives the event loop back after this long, so the window keeps painting.
SEARCH_SLICE_S = 0.008
#: A search gives up after visiting this many values.
SEARCH_LIMIT = 5_000_000

Key = str | int
Index = QModelIndex | QPersistentModelIndex
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COLUMNS = ("Key", "Value", "Type")
COPY_PATH = QKeySequence("Ctrl+Shift+C")
#: The invisible parent of the top-level rows.
_TOP = QModelIndex()


def is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def type_name(value: Any) -> str:
    """The JSON name of the value's type (Python's for values JSON does not have)."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def summary(value: Any) -> str:
    """One line for a cell: `{3 keys}`, `[120 items]`, a quoted elided string, `true`, `null`."""
    if isinstance(value, dict):
        return f"{{{len(value):,} {'key' if len(value) == 1 else 'keys'}}}"
    if isinstance(value, list):
        return f"[{len(value):,} {'item' if len(value) == 1 else 'items'}]"
    if isinstance(value, str):
        shown = json.dumps(value[:CELL_CHARS], ensure_ascii=False)  # escapes newlines and tabs
        return shown[:-1] + '…"' if len(value) > CELL_CHARS else shown
    return scalar_text(value)


def scalar_text(value: Any) -> str:
    """A scalar as JSON writes it (`true`, `null`, `1.5`); strings unquoted."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return str(value)


def format_path(root: str, path: list[Key]) -> str:
    """The expression that reads `path` below `root`: `output.items[3].name`, `output["a b"]`."""
    text = root
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        elif _IDENTIFIER.fullmatch(key):
            text += f".{key}" if text else key
        else:
            text += f"[{json.dumps(key, ensure_ascii=False)}]"
    return text


def value_text(value: Any) -> str:
    """The JSON text "Copy value" puts on the clipboard."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def walk(value: Any) -> Iterator[tuple[list[Key], Key | None, Any]]:
    """Every value below `value` depth-first, in the tree's order, as (path, key, value).

    An explicit stack, not recursion, so deeply nested values cannot exhaust it.
    """
    stack: list[tuple[list[Key], Iterator[tuple[Key, Any]]]] = [([], _items(value))]
    while stack:
        path, items = stack[-1]
        step = next(items, None)
        if step is None:
            stack.pop()
            continue
        key, child = step
        child_path = [*path, key]
        yield child_path, key, child
        if is_container(child) and child:
            stack.append((child_path, _items(child)))


def _items(value: Any) -> Iterator[tuple[Key, Any]]:
    if isinstance(value, dict):
        return iter(value.items())
    if isinstance(value, list):
        return enumerate(value)
    return iter(())


class _Node:
    """A made row: the value at `start` in its parent, or a "… N more" row for `start:end`."""

    __slots__ = (
        "children",
        "end",
        "id",
        "is_more",
        "key",
        "keys",
        "parent",
        "row",
        "start",
        "value",
    )

    def __init__(self, node_id: int, parent: _Node | None, key: Key | None, value: Any) -> None:
        self.id = node_id
        self.parent = parent
        self.key = key
        self.value = value
        self.row = 0
        #: Positions in the parent container this row stands for.
        self.start = self.end = 0
        self.is_more = False
        #: None until the row is first expanded.
        self.children: list[_Node] | None = None
        #: A dict's keys in order, listed once when it is first expanded.
        self.keys: list[str] | None = None

    def path(self) -> list[Key]:
        keys: list[Key] = []
        node: _Node | None = self
        while node is not None and node.key is not None:
            keys.append(node.key)
            node = node.parent
        return keys[::-1]

    def total(self) -> int:
        return len(self.value) if is_container(self.value) else 0

    def child_row(self, position: int) -> int:
        """The row showing the child at `position`: its own, or the "more" row hiding it."""
        return bisect.bisect_right(self.children or [], position, key=_start_of) - 1

    def position_of(self, key: Key) -> int | None:
        if isinstance(self.value, list):
            if isinstance(key, str) and not key.isdigit():
                return None
            position = int(key)
            return position if 0 <= position < len(self.value) else None
        if isinstance(self.value, dict) and isinstance(key, str) and key in self.value:
            self.keys = self.keys if self.keys is not None else list(self.value)
            return self.keys.index(key)
        return None


def _start_of(node: _Node) -> int:
    return node.start


_LEAF = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_BRANCH = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class JsonTreeModel(QAbstractItemModel):
    """Rows for a JSON value, made when a container is expanded and a page at a time.

    A container's rows are pages of `PAGE_SIZE` values with "… N more" rows
    standing for the pages not made yet, so going to item 40,000 of a list
    makes that page only, not the 39 before it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._value: Any = None
        self._root_label = ""
        self._ids = itertools.count()
        self._nodes: dict[int, _Node] = {}
        self._root = self._empty_root()
        #: Brush of keys, types and summaries that matter less; None keeps the text colour.
        self.muted: QBrush | None = None
        self.mono = QFont()
        self.italic = QFont()
        self.italic.setItalic(True)

    # --- the value ----------------------------------------------------------

    def set_value(self, value: Any, root_label: str = "") -> None:
        self.beginResetModel()
        self._value = value
        self._root_label = root_label
        self._nodes.clear()
        if is_container(value):
            self._root = _Node(-1, None, None, value)
        else:  # a lone scalar still shows as one row
            self._root = self._empty_root()
            self._root.children = [self._new_node(self._root, None, value, 0)]
        self.endResetModel()
        self.fetchMore(_TOP)

    def clear(self) -> None:
        if self._value is None and not self._root.children:
            return  # already empty: a reset would still make the view re-lay out
        self.beginResetModel()
        self._value = None
        self._nodes.clear()
        self._root = self._empty_root()
        self.endResetModel()

    @staticmethod
    def _empty_root() -> _Node:
        root = _Node(-1, None, None, [])
        root.children = []
        return root

    def value(self) -> Any:
        return self._value

    def node_count(self) -> int:
        """Rows made so far, "… N more" rows included."""
        return len(self._nodes)

    def node_at(self, index: Index) -> _Node:
        if not index.isValid():
            return self._root
        return self._nodes[index.internalId()]

    def path_of(self, index: Index) -> list[Key]:
        return self.node_at(index).path()

    def value_at(self, index: Index) -> Any:
        return self.node_at(index).value

    def is_more_row(self, index: Index) -> bool:
        return index.isValid() and self.node_at(index).is_more

    def index_of(self, path: list[Key]) -> QModelIndex | None:
        """The row of the value at `path`, making the rows and pages on the way; None if absent."""
        if not is_container(self._value):
            return self.index(0, 0) if not path else None
        parent = QModelIndex()
        for key in path:
            position = self.node_at(parent).position_of(key)
            if position is None:
                return None
            self.load_page(parent, position)
            parent = self.index(self.node_at(parent).child_row(position), 0, parent)
        return parent

    # --- making rows --------------------------------------------------------

    def _new_node(self, parent: _Node, key: Key | None, value: Any, position: int) -> _Node:
        node = _Node(next(self._ids), parent, key, value)
        node.start, node.end = position, position + 1
        self._nodes[node.id] = node
        return node

    def _new_rows(self, parent: _Node, first: int, last: int) -> list[_Node]:
        """Value rows for positions first..last-1 of the parent's container."""
        if isinstance(parent.value, dict):
            parent.keys = parent.keys if parent.keys is not None else list(parent.value)
            keys: list[Key] = list(parent.keys[first:last])
        else:
            keys = list(range(first, last))
        return [self._new_node(parent, k, parent.value[k], first + i) for i, k in enumerate(keys)]

    def _new_more_row(self, parent: _Node, first: int, end: int) -> _Node:
        more = self._new_node(parent, None, None, first)
        more.is_more, more.end = True, end
        return more

    def canFetchMore(self, parent: Index) -> bool:
        node = self.node_at(parent)
        return node.children is None and node.total() > 0

    def fetchMore(self, parent: Index) -> None:
        """Make the first page of a container's rows (and a "more" row for the rest)."""
        node = self.node_at(parent)
        if not self.canFetchMore(parent):
            return
        total = node.total()
        rows = self._new_rows(node, 0, min(total, PAGE_SIZE))
        if total > PAGE_SIZE:
            rows.append(self._new_more_row(node, PAGE_SIZE, total))
        self.beginInsertRows(parent, 0, len(rows) - 1)
        node.children = rows
        _renumber(rows, 0)
        self.endInsertRows()

    def load_page(self, parent: Index, position: int) -> None:
        """Make the page of rows holding the child at `position`, if a "more" row hides it."""
        self.fetchMore(parent)
        node = self.node_at(parent)
        children = node.children or []
        row = node.child_row(position)
        more = children[row]
        if not more.is_more:
            return
        first = max(more.start, position // PAGE_SIZE * PAGE_SIZE)
        last = min(first + PAGE_SIZE, more.end)
        rows = self._new_rows(node, first, last)
        if first == more.start:  # the page goes before the "more" row, which shrinks
            self.beginInsertRows(parent, row, row + len(rows) - 1)
            children[row:row] = rows
            _renumber(children, row)
            more.start = last
            self.endInsertRows()
            more_row = row + len(rows)
            if more.start == more.end:
                self.beginRemoveRows(parent, more_row, more_row)
                del children[more_row]
                del self._nodes[more.id]
                _renumber(children, more_row)
                self.endRemoveRows()
            else:
                self._changed(self.index(more_row, 0, parent))
            return
        if last < more.end:  # a page in the middle: a second "more" row after it
            rows.append(self._new_more_row(node, last, more.end))
        more.end = first
        self._changed(self.index(row, 0, parent))
        self.beginInsertRows(parent, row + 1, row + len(rows))
        children[row + 1 : row + 1] = rows
        _renumber(children, row + 1)
        self.endInsertRows()

    def _changed(self, index: QModelIndex) -> None:
        self.dataChanged.emit(index, index.siblingAtColumn(len(_COLUMNS) - 1))

    def load_next_page(self, more_row: Index) -> QModelIndex:
        """Make the page a "more" row stands for first; the index of its first row."""
        parent = more_row.parent()
        first = self.node_at(more_row).start
        self.load_page(parent, first)
        return self.index(self.node_at(parent).child_row(first), 0, parent)

    def hasChildren(self, parent: Index = _TOP) -> bool:
        node = self.node_at(parent)
        return node.children is not None or node.total() > 0

    # --- the model interface ------------------------------------------------

    def rowCount(self, parent: Index = _TOP) -> int:
        if parent.column() > 0:
            return 0
        return len(self.node_at(parent).children or ())

    def columnCount(self, parent: Index = _TOP) -> int:
        return len(_COLUMNS)

    def index(self, row: int, column: int, parent: Index = _TOP) -> QModelIndex:
        children = self.node_at(parent).children or ()
        if 0 <= row < len(children) and 0 <= column < len(_COLUMNS):
            return self.createIndex(row, column, children[row].id)
        return QModelIndex()

    # The stubs merge QObject.parent() into this name; the model only overrides parent(child).
    def parent(self, child: Index) -> QModelIndex:  # type: ignore[override]
        if not child.isValid():
            return QModelIndex()
        parent = self._nodes[child.internalId()].parent
        if parent is None or parent is self._root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent.id)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        value = self._nodes[index.internalId()].value
        return _BRANCH if isinstance(value, dict | list) and value else _LEAF

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self.node_at(index)
        column = index.column()
        if node.is_more:
            return self._more_data(node, column, role)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return self._key_text(node)
            if column == 1:
                return summary(node.value)
            return type_name(node.value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node, column)
        if role == Qt.ItemDataRole.FontRole and column == 1:
            return self.mono
        if role == Qt.ItemDataRole.ForegroundRole and (
            column == 2
            or (column == 0 and isinstance(node.key, int))
            or (column == 1 and is_container(node.value))
        ):
            return self.muted
        return None

    def _more_data(self, node: _Node, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and column == 0:
            return f"… {node.end - node.start:,} more"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"Double-click or press Enter to show the next {PAGE_SIZE:,}"
        if role == Qt.ItemDataRole.ForegroundRole:
            return self.muted
        if role == Qt.ItemDataRole.FontRole:
            return self.italic
        return None

    def _key_text(self, node: _Node) -> str:
        if node.key is None:
            return self._root_label or "value"
        if isinstance(node.key, int):
            return f"[{node.key}]"
        printable = node.key.isprintable() and node.key.strip() == node.key != ""
        text = node.key if printable else json.dumps(node.key, ensure_ascii=False)
        return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"

    def _tooltip(self, node: _Node, column: int) -> str | None:
        text = node.key if column == 0 else node.value
        if not isinstance(text, str) or (len(text) <= 60 and text.isprintable()):
            return None
        return tooltip_html(text)


def tooltip_html(text: str) -> str:
    """`text` capped at TOOLTIP_CHARS, escaped so markup in run data shows as written."""
    shown = text[:TOOLTIP_CHARS]
    if len(text) > TOOLTIP_CHARS:
        shown += f"… ({len(text) - TOOLTIP_CHARS:,} more characters)"
    # Hard breaks: a tooltip does not wrap a long word, and run data is full of them.
    lines = [line[i : i + 100] for line in shown.split("\n") for i in range(0, len(line) or 1, 100)]
    return '<p style="white-space:pre-wrap">' + html.escape("\n".join(lines)) + "</p>"


class JsonTreeView(QTreeView):
    """The tree; Ctrl+C copies the value of the current row and Ctrl+Shift+C its path."""

    #: Ctrl+C was pressed on a row.
    copy_value_requested = Signal()
    #: Ctrl+Shift+C was pressed on a row.
    copy_path_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_value_requested.emit()
        elif QKeySequence(event.keyCombination()) == COPY_PATH:
            self.copy_path_requested.emit()
        else:
            super().keyPressEvent(event)


class JsonTree(QWidget):
    """A search box over a lazily expanded tree of one JSON value."""

    #: A row's path was put on the clipboard, e.g. `output.items[3].name`.
    path_copied = Signal(str)
    #: A search ended: True when it selected a match.
    search_finished = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._root = ""
        self._search: _Search | None = None
        self.model = JsonTreeModel(self)
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Find a key or value, then press Enter")
        self.search_box.setClearButtonEnabled(True)
        self.search_status = QLabel()
        self.search_status.setContentsMargins(6, 0, 6, 0)
        self.view = JsonTreeView()
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)  # no measuring of every row of a long page
        self.view.setAlternatingRowColors(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        metrics = self.fontMetrics()
        header.resizeSection(0, metrics.horizontalAdvance("x") * 28)
        header.resizeSection(2, metrics.horizontalAdvance("boolean") + 4 * metrics.height())
        self.copy_value_action = QAction("Copy value", self)
        self.copy_value_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_path_action = QAction("Copy path", self)
        self.copy_path_action.setShortcut(COPY_PATH)
        for action in (self.copy_value_action, self.copy_path_action):
            action.setShortcutVisibleInContextMenu(True)

        search_row = QHBoxLayout()
        search_row.addWidget(self.search_box, 1)
        search_row.addWidget(self.search_status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(search_row)
        layout.addWidget(self.view, 1)
        self._apply_palette()

        self.search_box.returnPressed.connect(self.find_next)
        self.search_box.textChanged.connect(self._on_search_text_changed)
        self.view.activated.connect(self._on_row_activated)
        self.view.expanded.connect(self.model.fetchMore)  # now, not at the next layout
        self.view.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.view.copy_value_requested.connect(self.copy_value)
        self.view.copy_path_requested.connect(self.copy_path)
        self.copy_value_action.triggered.connect(self.copy_value)
        self.copy_path_action.triggered.connect(self.copy_path)

    # --- the value ----------------------------------------------------------

    def set_value(self, value: Any, root: str = "") -> None:
        """Show `value`; copied paths start with `root` (e.g. "output")."""
        self._stop_search()
        self.search_status.clear()
        self._root = root
        self.model.set_value(value, root)

    def clear(self) -> None:
        """Show nothing; `value()` is None again."""
        self._stop_search()
        self.search_status.clear()
        self._root = ""
        self.model.clear()

    def value(self) -> Any:
        return self.model.value()

    def expand_to(self, path: list[Key]) -> bool:
        """Open the rows down to `path`, then select and show it; False when it is not there."""
        index = self.model.index_of(path)
        if index is None:
            return False
        parent = index.parent()
        while parent.isValid():
            self.view.expand(parent)
            parent = parent.parent()
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    # --- copying ------------------------------------------------------------

    def copy_value(self) -> None:
        index = self.view.currentIndex()
        if index.isValid() and not self.model.is_more_row(index):
            QGuiApplication.clipboard().setText(value_text(self.model.value_at(index)))

    def copy_path(self) -> None:
        index = self.view.currentIndex()
        if index.isValid() and not self.model.is_more_row(index):
            path = format_path(self._root, self.model.path_of(index))
            QGuiApplication.clipboard().setText(path)
            self.path_copied.emit(path)

    def context_menu(self, pos: QPoint) -> QMenu | None:
        """The menu for the row at `pos` (viewport coordinates), which becomes current."""
        index = self.view.indexAt(pos)
        if not index.isValid() or self.model.is_more_row(index):
            return None
        self.view.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction(self.copy_value_action)
        menu.addAction(self.copy_path_action)
        return menu

    def _on_context_menu_requested(self, pos: QPoint) -> None:
        menu = self.context_menu(pos)
        if menu is not None:
            menu.exec(self.view.viewport().mapToGlobal(pos))
            menu.deleteLater()

    def _on_row_activated(self, index: QModelIndex) -> None:
        if self.model.is_more_row(index):
            first = self.model.load_next_page(index)
            self.view.setCurrentIndex(first)

    # --- searching ----------------------------------------------------------

    def find_next(self) -> None:
        """Look for the search text after the current row, wrapping round once."""
        needle = self.search_box.text().strip().casefold()
        if not needle:
            return
        current = self.view.currentIndex()
        start = self.model.path_of(current) if current.isValid() else None
        if start is not None and self.model.is_more_row(current):
            start = None
        previous = self._search
        if previous is not None and previous.running:
            return  # Enter pressed again while it looks: it is already on its way
        if previous is not None and previous.needle == needle and previous.last == start:
            search = previous  # Enter again on the last match: carry on from there
            search.resume_after_last()
        else:
            self._stop_search()
            search = _Search(self.model.value(), needle, start)
        self._search = search
        search.running = True
        self.search_status.setText("Searching…")
        self._search_step(search)

    def _search_step(self, search: _Search) -> None:
        if search is not self._search or not search.running:
            return  # replaced, stopped or the value changed
        outcome = search.advance(time.perf_counter() + SEARCH_SLICE_S)
        if outcome == "busy":
            # 1 ms, not 0: a chain of zero-timers keeps other timers waiting two or three
            # slices. With `self` as context the step is dropped if the widget goes away.
            QTimer.singleShot(1, self, lambda: self._search_step(search))
            return
        search.running = False
        if outcome == "found":
            assert search.last is not None
            self.search_status.clear()
            self.expand_to(search.last)
        else:
            self.search_status.setText(
                "No match" if outcome == "none" else f"Stopped after {SEARCH_LIMIT:,} values"
            )
        self.search_finished.emit(outcome == "found")

    def _stop_search(self) -> None:
        if self._search is not None:
            self._search.running = False
        self._search = None

    def is_searching(self) -> bool:
        return self._search is not None and self._search.running

    def _on_search_text_changed(self, text: str) -> None:
        self._stop_search()
        self.search_status.clear()

    # --- looks --------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._apply_palette()

    def _apply_palette(self) -> None:
        self.model.muted = QBrush(self.palette().color(self.palette().ColorRole.PlaceholderText))
        font = monospace_font()
        if self.font().pointSizeF() > 0:
            font.setPointSizeF(self.font().pointSizeF())
        self.model.mono = font
        self.model.italic = QFont(self.font())
        self.model.italic.setItalic(True)
        self.view.viewport().update()


class _Search:
    """One depth-first search of a value, advanced a time slice at a time."""

    def __init__(self, value: Any, needle: str, start: list[Key] | None) -> None:
        self.value = value
        self.needle = needle
        self.start = start
        self.last: list[Key] | None = start
        self.running = False
        self.visited = 0
        self._armed = start is None
        self._wrapped = False
        self._walk = self._nodes()

    def resume_after_last(self) -> None:
        """Go on from the last match, wrapping round to it at most once."""
        self.start = self.last
        self._wrapped = False

    def _nodes(self) -> Iterator[tuple[list[Key], Key | None, Any]]:
        if not is_container(self.value):
            yield [], None, self.value
        else:
            yield from walk(self.value)

    def _hit(self, key: Key | None, value: Any) -> bool:
        if isinstance(key, str) and self.needle in key.casefold():
            return True
        return not is_container(value) and self.needle in scalar_text(value).casefold()

    def advance(self, deadline: float) -> str:
        """Walk on until a match ("found"), the end ("none"), the limit or the deadline ("busy")."""
        checked = 0
        while True:
            step = next(self._walk, None)
            if step is None:
                if self._wrapped or self.start is None:
                    return "none"
                self._wrapped, self._armed = True, True  # from the top, back to where we began
                self._walk = self._nodes()
                continue
            path, key, value = step
            self.visited += 1
            if self.visited > SEARCH_LIMIT:
                return "limit"
            if not self._armed:
                self._armed = path == self.start
            elif self._hit(key, value):
                self.last = path
                return "found"
            elif self._wrapped and path == self.start:
                return "none"
            checked += 1
            if checked % 256 == 0 and time.perf_counter() > deadline:
                return "busy"


def _renumber(rows: list[_Node], first: int) -> None:
    for row in range(first, len(rows)):
        rows[row].row = row
