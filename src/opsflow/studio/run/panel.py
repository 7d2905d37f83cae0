"""The run panel: the shown run's header, its event log with filters, and the selected
node's input and output side by side.

The input is what the node was given (its parameters as rendered, which the journal
records), or, for a node that never started, what it could have read: the trigger,
the inputs and the outputs of the nodes upstream of it. Rows of a value expressions can
read (the output; that input) copy and drag out as their full expression
(`nodes.probe.output.stdout`), into an inspector field.
"""

from __future__ import annotations

import html
import time

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
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

from opsflow.engine.event_text import format_duration
from opsflow.engine.events import Event
from opsflow.engine.runview import NodeRun, RunView
from opsflow.studio import theme
from opsflow.studio.run.eventlog import (
    LEVEL_FILTERS,
    NODE_ROLE,
    EventLogFilter,
    EventLogModel,
)
from opsflow.studio.run.jsontree import JsonTree
from opsflow.studio.run.session import RunSession
from opsflow.validate.context import readable_values

LIVE_PHASES = ("running", "paused", "waiting")


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
        self.data = QSplitter(Qt.Orientation.Horizontal)
        self.data.setChildrenCollapsible(False)
        self.data.addWidget(self.input_tree)
        self.data.addWidget(self.output_tree)
        self.error_text = QPlainTextEdit()
        self.error_text.setReadOnly(True)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.data, "Input and output")
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
        columns.resizeSection(1, width("x") * 14)
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
        # Two trees side by side need the room more than the log's long lines do.
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([400, 600])  # scaled to the panel's width when first shown

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
            parts.append(html.escape(format_duration(duration)))
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
        self._show_input(view, node_id, run)
        if run.state == "succeeded" or run.output is not None:
            self.output_tree.set_caption(f"<b>Output</b> · nodes.{html.escape(node_id)}.output")
            self.output_tree.set_value(run.output, f"nodes.{node_id}.output")
        else:
            self.output_tree.set_caption("<b>Output</b> · none")
            self.output_tree.clear()
        self.error_text.setPlainText(run.error or "")
        self.tabs.setTabEnabled(1, bool(run.error))
        if run.state == "failed" and run.error:
            self.tabs.setCurrentIndex(1)
        elif self.tabs.currentIndex() == 1 and not run.error:
            self.tabs.setCurrentIndex(0)

    def _show_input(self, view: RunView, node_id: str, run: NodeRun) -> None:
        """The parameters as the node got them, else what it could read from upstream."""
        if run.params is not None:
            self.input_tree.set_caption("<b>Input</b> · as rendered")
            self.input_tree.set_value(run.params)
            return
        self.input_tree.set_caption("<b>Input</b> · what it could read")
        self.input_tree.set_value(readable_values(view.flow, node_id, view.values()), "")

    def _clear_details(self, text: str) -> None:
        self.node_title.setText(text)
        self.input_tree.set_caption("<b>Input</b>")
        self.output_tree.set_caption("<b>Output</b>")
        self.input_tree.clear()
        self.output_tree.clear()
        self.error_text.clear()
        self.tabs.setTabEnabled(1, False)

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
            parts.append(html.escape(format_duration(run.duration_s)))
        if run.pinned:
            parts.append("pinned output")
        if run.simulated:
            parts.append("simulated (dry run)")
        return " · ".join(parts)

    def _on_pin_clicked(self) -> None:
        if self._shown_node is not None:
            self.session.pin_from_view(self._shown_node)
            self._show_details()
