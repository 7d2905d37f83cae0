"""The run log: one row per event of the shown run, and the filter over it.

The model only ever appends rows as the session reports events, so a run of
many thousands of events costs one row insert per batch; a row's text is the
command line's (`opsflow.engine.event_text`), made when the row is first shown.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from opsflow.engine.event_text import LEVELS, clock_time, event_level, event_text
from opsflow.engine.events import Event
from opsflow.studio import theme

Index = QModelIndex | QPersistentModelIndex
#: The invisible parent of the log's rows.
_TOP = QModelIndex()
#: Roles of a log row (any column): the event's node id and its level.
NODE_ROLE = Qt.ItemDataRole.UserRole + 1
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 2
#: The level combo: its text and the mildest level it lets through.
LEVEL_FILTERS = (("All levels", "info"), ("Warnings and errors", "warning"), ("Errors", "error"))
COLUMNS = ("Time", "Node", "Kind", "Message")
#: Characters of a message kept in its cell; the tooltip shows all of it.
MESSAGE_CHARS = 500


def event_kind_text(event: Event) -> str:
    """The Kind column: the log level for log lines, else the event kind in words."""
    if event.kind == "log":
        return event_level(event)
    return event.kind.replace("_", " ")


class LogRow(NamedTuple):
    """One event as the log shows it, formatted once when it arrives."""

    time: str
    node: str
    kind: str
    message: str
    level: str


def log_row(event: Event) -> LogRow:
    """The row of an event; a message of several lines is kept on one."""
    message = event_text(event).replace("\n", " ⏎ ")
    return LogRow(
        clock_time(event.at), event.node or "", event_kind_text(event), message, event_level(event)
    )


class EventLogModel(QAbstractTableModel):
    """The events of the shown run, one row each; rows are only appended or all cleared.

    Rows are formatted when first shown (or filtered by text), not when they
    arrive: a fast flow sends thousands of events, and most are never on screen.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._events: list[Event] = []
        self._rows: dict[int, LogRow] = {}
        self._full_messages: dict[int, str] = {}

    def append(self, events: list[Event]) -> None:
        if not events:
            return
        first = len(self._events)
        self.beginInsertRows(_TOP, first, first + len(events) - 1)
        self._events.extend(events)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._events = []
        self._rows = {}
        self._full_messages = {}
        self.endResetModel()

    def event_at(self, position: int) -> Event:
        return self._events[position]

    def row(self, position: int) -> LogRow:
        row = self._rows.get(position)
        if row is None:
            row = log_row(self._events[position])
            if len(row.message) > MESSAGE_CHARS:
                self._full_messages[position] = row.message
                row = row._replace(message=row.message[:MESSAGE_CHARS] + "…")
            self._rows[position] = row
        return row

    def rowCount(self, parent: Index = _TOP) -> int:
        return 0 if parent.isValid() else len(self._events)

    def columnCount(self, parent: Index = _TOP) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.row(index.row())
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row[column]
        if role == NODE_ROLE:
            return row.node or None
        if role == LEVEL_ROLE:
            return row.level
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column == 3:
            return self._full_messages.get(index.row(), row.message)
        return None

    @staticmethod
    def _foreground(row: LogRow, column: int) -> QBrush | None:
        active = theme.current()
        if row.level == "error":
            return QBrush(QColor(active.error)) if column >= 2 else None
        if row.level == "warning":
            return QBrush(QColor(active.warning)) if column >= 2 else None
        if column == 0:
            return QBrush(QColor(active.node_subtext))
        if column == 2 and row.kind in ("node succeeded", "approval decided"):
            return QBrush(QColor(active.ports["good"]))
        return None


class EventLogFilter(QSortFilterProxyModel):
    """Lets through the rows of one node (or all), at or above a level, containing a text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.node: str | None = None
        self.min_level = "info"
        self.text = ""

    def set_filter(self, node: str | None, min_level: str, text: str) -> None:
        self.beginFilterChange()
        self.node, self.min_level, self.text = node, min_level, text.strip().casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, EventLogModel)
        event = model.event_at(source_row)
        if self.node is not None and (event.node or "") != self.node:
            return False
        if self.min_level != "info" and LEVELS.index(event_level(event)) < LEVELS.index(
            self.min_level
        ):
            return False
        if self.text:
            row = model.row(source_row)
            haystack = f"{row.node}\n{row.kind}\n{row.message}".casefold()
            return self.text in haystack
        return True
