"""The run panel: the shown run's header, its event log with filters, and one node's details.

The log's model only ever appends rows as the session reports events, so a run
of many thousands of events costs one row insert per batch; the formatting
helpers here (times, durations, phase colours) are shared by the approvals
and history panels.
"""

from __future__ import annotations

import html
import time
from datetime import datetime
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from opsflow.engine.events import Event
from opsflow.engine.runview import NodeRun
from opsflow.studio import theme
from opsflow.studio.run.jsontree import JsonTree
from opsflow.studio.run.session import RunSession

Index = QModelIndex | QPersistentModelIndex
#: The invisible parent of the log's rows.
_TOP = QModelIndex()
#: Roles of a log row (any column): the event's node id and its level.
NODE_ROLE = Qt.ItemDataRole.UserRole + 1
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 2
LEVELS = ("info", "warning", "error")
#: The level combo: its text and the mildest level it lets through.
LEVEL_FILTERS = (("All levels", "info"), ("Warnings and errors", "warning"), ("Errors", "error"))
COLUMNS = ("Time", "Node", "Kind", "Message")
#: Characters of a message kept in its cell; the tooltip shows all of it.
MESSAGE_CHARS = 500
LIVE_PHASES = ("running", "paused", "waiting")


# -- formatting, shared by the run panels ------------------------------------------------


def clock_time(at: float) -> str:
    """A wall-clock moment in local time with milliseconds: `14:03:07.042`."""
    moment = datetime.fromtimestamp(at)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def local_datetime(at: float) -> str:
    """A moment in local time to the second: `2026-12-01 14:03:07`."""
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """`12 ms`, `3.4 s`, `2 min 5 s`, `1 h 20 min`; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 0.0005:
        return "< 1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def state_color(state: str) -> str:
    """The colour of a run phase or node state in the active theme."""
    active = theme.current()
    if state in ("succeeded", "approved"):
        return active.ports["good"]
    if state in ("failed", "crashed", "refused", "rejected"):
        return active.error
    if state in ("waiting", "paused", "retrying", "timeout", "interrupted"):
        return active.warning
    if state == "running":
        return active.selection
    return active.node_subtext


def state_html(state: str, text: str | None = None) -> str:
    """`text` (default: the state) in bold in the state's colour, for a rich-text label."""
    shown = html.escape(text if text is not None else state)
    return f"<b style='color:{state_color(state)}'>{shown}</b>"


# -- one line per event ------------------------------------------------------------------


def event_level(event: Event) -> str:
    """How serious an event is: info, warning or error."""
    data = event.data
    if event.kind == "log":
        level = str(data.get("level", "info"))
        return level if level in LEVELS else "info"
    if event.kind == "node_failed":
        return "error"
    if event.kind == "run_finished" and data.get("outcome") not in ("succeeded", "cancelled"):
        return "error" if data.get("outcome") == "failed" else "warning"
    if event.kind in ("node_retrying", "approval_escalated"):
        return "warning"
    if event.kind == "approval_decided" and data.get("decision") == "timeout":
        return "warning"
    return "info"


def event_kind_text(event: Event) -> str:
    """The Kind column: the log level for log lines, else the event kind in words."""
    if event.kind == "log":
        return event_level(event)
    return event.kind.replace("_", " ")


def event_summary(event: Event) -> str:
    """One line saying what happened, e.g. `succeeded → true in 12 ms`."""
    data = event.data
    kind = event.kind
    if kind == "log":
        return str(data.get("message", ""))
    if kind == "run_started":
        text = f"from trigger '{data.get('trigger')}'"
        return text + (" as a dry run" if data.get("dry_run") else "")
    if kind == "run_paused":
        return f"paused at the breakpoint before '{event.node}'" if event.node else "paused"
    if kind == "run_resumed":
        return "stepping to the next node" if data.get("how") == "step" else "continued"
    if kind == "run_finished":
        outcome = data.get("outcome", "failed")
        error = data.get("error")
        return str(outcome) + (f": {error}" if error else "")
    if kind == "node_started":
        attempt = int(data.get("attempt") or 1)
        return "started" + (f" (attempt {attempt})" if attempt > 1 else "")
    if kind == "node_succeeded":
        text = f"succeeded → {data.get('port')}"
        if data.get("duration_s") is not None:
            text += f" in {format_duration(data['duration_s'])}"
        if data.get("pinned"):
            text += " (pinned output)"
        output = data.get("output")
        if isinstance(output, dict) and output.get("dry_run") is True:
            text += " (simulated)"
        return text
    if kind == "node_failed":
        text = f"failed: {data.get('error')}"
        return text + (f" → {data['port']}" if data.get("port") else "")
    if kind == "node_skipped":
        return f"skipped: {data.get('reason')}" if data.get("reason") else "skipped"
    if kind == "node_retrying":
        delay = format_duration(data.get("delay_s"))
        text = f"retrying (attempt {data.get('attempt')})" + (f" in {delay}" if delay else "")
        return text + (f" after: {data['error']}" if data.get("error") else "")
    if kind == "node_waiting":
        reason = data.get("reason")
        if reason == "approval":
            return "waiting for approval"
        if reason == "breakpoint":
            return "paused at a breakpoint"
        until = data.get("until")
        return f"waiting until {clock_time(until)}" if until else "waiting"
    if kind == "approval_requested":
        approvers = ", ".join(str(a) for a in data.get("approvers") or [])
        return f"approval asked of {approvers}: {data.get('message', '')}"
    if kind == "approval_escalated":
        return "escalated to " + ", ".join(str(a) for a in data.get("to") or [])
    if kind == "approval_decided":
        decision = data.get("decision")
        if decision == "timeout":
            return "no decision before the deadline (timeout)"
        text = f"{decision} by {data.get('by')}"
        return text + (f": {data['comment']}" if data.get("comment") else "")
    return kind.replace("_", " ")


class LogRow(NamedTuple):
    """One event as the log shows it, formatted once when it arrives."""

    time: str
    node: str
    kind: str
    message: str
    level: str


def log_row(event: Event) -> LogRow:
    message = event_summary(event).replace("\n", " ⏎ ")
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


# -- the panel ---------------------------------------------------------------------------


class RunPanel(QWidget):
    """The shown run: a header line, its event log, and the details of the selected node."""

    #: A log row of a node was clicked: select that node on the canvas (its id).
    node_activated = Signal(str)

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._shown_node: str | None = None
        self._seen_nodes: set[str] = set()
        self._follow = True

        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.header.setContentsMargins(4, 2, 4, 2)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.node_filter = QComboBox()
        self.node_filter.addItem("All nodes", None)
        self.node_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.level_filter = QComboBox()
        for text, level in LEVEL_FILTERS:
            self.level_filter.addItem(text, level)
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("Filter the log")
        self.text_filter.setClearButtonEnabled(True)
        self.count_label = QLabel()

        self.model = EventLogModel(self)
        self.proxy = EventLogFilter(self)
        self.proxy.setSourceModel(self.model)
        self.log = QTableView()
        self.log.setModel(self.proxy)
        self._setup_log()

        self.node_title = QLabel()
        self.node_title.setTextFormat(Qt.TextFormat.RichText)
        self.node_title.setWordWrap(True)
        self.pin_button = QPushButton("Pin this output")
        self.pin_button.setToolTip(
            "Later runs reuse this output instead of running the node (Run ▸ Unpin to undo)"
        )
        self.input_tree = JsonTree()
        self.output_tree = JsonTree()
        self.error_text = QPlainTextEdit()
        self.error_text.setReadOnly(True)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.input_tree, "Input")
        self.tabs.addTab(self.output_tree, "Output")
        self.tabs.addTab(self.error_text, "Error")

        self._build_layout()
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._update_header)

        self.node_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.level_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.text_filter.textChanged.connect(self._on_filter_changed)
        self.log.clicked.connect(self._on_log_clicked)
        self.log.activated.connect(self._on_log_clicked)
        self.log.verticalScrollBar().valueChanged.connect(self._on_log_scrolled)
        self.log.verticalScrollBar().rangeChanged.connect(self._on_log_range_changed)
        self.pin_button.clicked.connect(self._on_pin_clicked)
        session.events_added.connect(self._on_session_events_added)
        session.view_replaced.connect(self._on_session_view_replaced)
        session.view_changed.connect(self._on_session_view_changed)
        session.phase_changed.connect(self._on_session_phase_changed)
        session.debug_changed.connect(self._show_details)
        self._on_session_view_replaced()

    def _setup_log(self) -> None:
        log = self.log
        log.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        log.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        log.setAlternatingRowColors(True)
        log.setShowGrid(False)
        log.setWordWrap(False)
        log.setTextElideMode(Qt.TextElideMode.ElideRight)
        log.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        rows = log.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no measuring of every row
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        columns = log.horizontalHeader()
        columns.setHighlightSections(False)
        columns.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        columns.setStretchLastSection(True)
        width = self.fontMetrics().horizontalAdvance
        columns.resizeSection(0, width("00:00:00.000") + 16)
        columns.resizeSection(1, width("x") * 18)
        columns.resizeSection(2, width("approval requested") + 16)

    def _build_layout(self) -> None:
        filters = QHBoxLayout()
        filters.setContentsMargins(4, 0, 4, 0)
        filters.addWidget(self.node_filter)
        filters.addWidget(self.level_filter)
        filters.addWidget(self.text_filter, 1)
        filters.addWidget(self.count_label)
        log_side = QWidget()
        log_layout = QVBoxLayout(log_side)
        log_layout.setContentsMargins(0, 0, 0, 0)
        log_layout.setSpacing(2)
        log_layout.addLayout(filters)
        log_layout.addWidget(self.log, 1)

        title_row = QHBoxLayout()
        title_row.setContentsMargins(4, 0, 4, 0)
        title_row.addWidget(self.node_title, 1)
        title_row.addWidget(self.pin_button, 0, Qt.AlignmentFlag.AlignTop)
        self.details = QWidget()
        details_layout = QVBoxLayout(self.details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.setSpacing(2)
        details_layout.addLayout(title_row)
        details_layout.addWidget(self.tabs, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(log_side)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 400])  # scaled to the panel's width when first shown

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(self.splitter, 1)

    # -- what the window calls -----------------------------------------------------------

    def show_node(self, node_id: str | None) -> None:
        """Show the input, output and error of `node_id` in the shown run (None: nobody)."""
        self._shown_node = node_id
        self._show_details()

    def shown_node(self) -> str | None:
        return self._shown_node

    # -- the header ----------------------------------------------------------------------

    def _update_header(self) -> None:
        view = self.session.view
        if view is None:
            self.header.setText("No run shown yet: start one (Run ▸ Run…) or pick one in History.")
            return
        parts = [f"Run <b>{html.escape(view.run_id)}</b>", state_html(view.phase)]
        if view.trigger:
            parts.append(f"trigger {html.escape(view.trigger)}")
        if view.dry_run:
            parts.append(state_html("waiting", "dry run"))
        duration = view.duration_s(time.time())
        if duration is not None:
            parts.append(format_duration(duration))
        if view.phase == "paused" and view.paused_at:
            parts.append(f"before {html.escape(view.paused_at)}")
        text = " · ".join(parts)
        if view.error and view.phase not in ("succeeded",):
            text += f"<br><span style='color:{theme.current().error}'>"
            text += f"{html.escape(view.error)}</span>"
        self.header.setText(text)

    # -- the log -------------------------------------------------------------------------

    def _on_session_events_added(self, events: list[Event]) -> None:
        self.model.append(events)
        for event in events:
            if event.node is not None and event.node not in self._seen_nodes:
                self._seen_nodes.add(event.node)
                self.node_filter.addItem(event.node, event.node)
        self._update_count()
        self._update_header()

    def _on_log_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.log.verticalScrollBar().setValue(maximum)

    def _on_log_scrolled(self, value: int) -> None:
        # Scrolled up by the user: stop following; back at the bottom: follow again.
        self._follow = value >= self.log.verticalScrollBar().maximum()

    def _on_filter_changed(self) -> None:
        self.proxy.set_filter(
            self.node_filter.currentData(),
            self.level_filter.currentData() or "info",
            self.text_filter.text(),
        )
        self._update_count()
        if self._follow:
            self.log.scrollToBottom()

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        noun = "event" if total == 1 else "events"
        self.count_label.setText(
            f"{total:,} {noun}" if shown == total else f"{shown:,} of {total:,}"
        )

    def _on_log_clicked(self, index: QModelIndex) -> None:
        node_id = index.data(NODE_ROLE)
        if node_id:
            self.show_node(node_id)
            self.node_activated.emit(node_id)

    def _on_session_view_replaced(self) -> None:
        self.model.clear()
        self._seen_nodes.clear()
        self.node_filter.blockSignals(True)
        while self.node_filter.count() > 1:
            self.node_filter.removeItem(1)
        self.node_filter.setCurrentIndex(0)
        self.node_filter.blockSignals(False)
        self._follow = True
        self._on_filter_changed()
        view = self.session.view
        if view is not None and view.events:
            self._on_session_events_added(list(view.events))
        self._update_header()
        self._show_details()

    def _on_session_phase_changed(self, phase: str) -> None:
        if phase in LIVE_PHASES:
            self._ticker.start()
        else:
            self._ticker.stop()
        self._update_header()

    def _on_session_view_changed(self, changed: object) -> None:
        if changed is None or (isinstance(changed, set) and self._shown_node in changed):
            self._show_details()

    # -- node details --------------------------------------------------------------------

    def _show_details(self) -> None:
        node_id = self._shown_node
        view = self.session.view
        run = view.nodes.get(node_id) if view is not None and node_id is not None else None
        self.pin_button.setEnabled(run is not None and run.state == "succeeded")
        if node_id is None:
            self._clear_details("Select a node (on the canvas or in the log) to see its data.")
            return
        name = f"<b>{html.escape(node_id)}</b>"
        if view is None:
            self._clear_details(f"{name}: no run shown yet.")
            return
        if run is None:
            self._clear_details(f"{name} has not run in run {html.escape(view.run_id)}.")
            return
        line = self._node_line(run)
        if node_id in self.session.pins:
            line += " · <i>pinned for later runs</i>"
        self.node_title.setText(f"{name} {line}")
        if run.params is None:
            self.input_tree.clear()
        else:
            self.input_tree.set_value(run.params, "")
        if run.state == "succeeded" or run.output is not None:
            self.output_tree.set_value(run.output, "output")
        else:
            self.output_tree.clear()
        self.error_text.setPlainText(run.error or "")
        self.tabs.setTabEnabled(2, bool(run.error))
        if run.state == "failed" and run.error:
            self.tabs.setCurrentIndex(2)
        elif self.tabs.currentIndex() == 2 and not run.error:
            self.tabs.setCurrentIndex(1)

    def _clear_details(self, text: str) -> None:
        self.node_title.setText(text)
        self.input_tree.clear()
        self.output_tree.clear()
        self.error_text.clear()
        self.tabs.setTabEnabled(2, False)

    @staticmethod
    def _node_line(run: NodeRun) -> str:
        state = run.state
        state_text = "waiting for approval" if run.waiting == "approval" else state
        parts = [state_html(state, state_text)]
        if run.port is not None:
            parts.append(f"via <b>{html.escape(run.port)}</b>")
        if run.attempts > 1:
            parts.append(f"{run.attempts} attempts")
        if run.duration_s is not None:
            parts.append(format_duration(run.duration_s))
        if run.pinned:
            parts.append("pinned output")
        if run.simulated:
            parts.append("simulated (dry run)")
        return " · ".join(parts)

    def _on_pin_clicked(self) -> None:
        if self._shown_node is not None:
            self.session.pin_from_view(self._shown_node)
            self._show_details()
