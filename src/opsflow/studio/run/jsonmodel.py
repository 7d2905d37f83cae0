"""The rows of a lazily expanded JSON tree: made when a container is opened, a page at a time.

`JsonTreeModel` makes rows only for containers the user opens, `PAGE_SIZE`
children at a time, so a run output of many megabytes shows at once. When its
value can be read by expressions (it is given a root such as
`nodes.probe.output`), a row drags out as the expression that reads it.
"""

from __future__ import annotations

import bisect
import html
import itertools
import json
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import QWidget

from opsflow.jsonpaths import CELL_CHARS, Key, format_path, is_container, summary, type_name
from opsflow.studio.mime import EXPRESSION_MIME, expression_mime_data

#: Children of a container made at a time; the rest wait behind a "… N more" row.
PAGE_SIZE = 1000
#: Characters of a key or string a tooltip shows.
TOOLTIP_CHARS = 2000

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Key", "Value", "Type")
#: The invisible parent of the top-level rows.
_TOP = QModelIndex()


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
        #: The expression that reads the value (None: expressions cannot read it).
        self._expression_root: str | None = None
        self._ids = itertools.count()
        self._nodes: dict[int, _Node] = {}
        self._root = self._empty_root()
        #: Brush of keys, types and summaries that matter less; None keeps the text colour.
        self.muted: QBrush | None = None
        self.mono = QFont()
        self.italic = QFont()
        self.italic.setItalic(True)

    # --- the value ----------------------------------------------------------

    def set_value(self, value: Any, root: str | None = None) -> None:
        """Show `value`; `root` is the expression that reads it, e.g. "nodes.probe.output"."""
        self.beginResetModel()
        self._value = value
        self._expression_root = root
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
        self._expression_root = None
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

    def expression_root(self) -> str | None:
        return self._expression_root

    def expression_of(self, index: Index) -> str:
        """The path of a row below the root: the expression that reads it when there is one."""
        return format_path(self._expression_root or "", self.path_of(index))

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
        self.dataChanged.emit(index, index.siblingAtColumn(len(COLUMNS) - 1))

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
        return len(COLUMNS)

    def index(self, row: int, column: int, parent: Index = _TOP) -> QModelIndex:
        children = self.node_at(parent).children or ()
        if 0 <= row < len(children) and 0 <= column < len(COLUMNS):
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
        node = self._nodes[index.internalId()]
        flags = _BRANCH if isinstance(node.value, dict | list) and node.value else _LEAF
        if self._expression_root is not None and not node.is_more:
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def mimeTypes(self) -> list[str]:
        return [EXPRESSION_MIME, "text/plain"]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # type: ignore[override]
        """The expression of the first row dragged (rows drag one at a time)."""
        rows = [i for i in indexes if i.isValid() and not self.is_more_row(i)]
        if self._expression_root is None or not rows:
            return QMimeData()
        return expression_mime_data(self.expression_of(rows[0]))

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
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
            return self._expression_root or "value"
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


def _renumber(rows: list[_Node], first: int) -> None:
    for row in range(first, len(rows)):
        rows[row].row = row
