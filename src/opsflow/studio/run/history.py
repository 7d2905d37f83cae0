"""The history panel: past runs of this flow from the journal, to show, re-run or resume.

Selecting a run shows it (the canvas paints its final states); errors from
re-running or resuming are shown as sentences under the list, never raised.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from opsflow.engine.event_text import format_duration, local_datetime
from opsflow.engine.journal import RunRecord
from opsflow.errors import OpsflowError
from opsflow.studio import theme
from opsflow.studio.run.panel import state_color
from opsflow.studio.run.session import RunSession

RUN_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("State", "Run", "Trigger", "Started", "Duration", "Dry run")
#: Runs that `resume` can continue.
RESUMABLE = ("interrupted", "waiting", "paused")
LIMIT = 200
NO_RUNS = "No runs of this flow yet."


class HistoryPanel(QWidget):
    """The runs of this flow, newest first."""

    def __init__(self, session: RunSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._records: dict[str, RunRecord] = {}

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

        self.refresh_button = QPushButton("Refresh")
        self.rerun_button = QPushButton("Re-run")
        self.rerun_button.setToolTip("Run again with the same trigger, payload and inputs")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue an interrupted or waiting run where it stopped")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setContentsMargins(4, 0, 4, 0)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(4, 0, 4, 0)
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.rerun_button)
        buttons.addWidget(self.resume_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)

        self.tree.itemSelectionChanged.connect(self._on_selection_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.resume_button.clicked.connect(self.resume_selected)
        session.run_ended.connect(lambda *_: self.refresh())
        session.view_replaced.connect(self._on_session_view_replaced)
        session.phase_changed.connect(lambda _phase: self._update_buttons())
        self.refresh()

    # -- the list ------------------------------------------------------------------------

    def runs(self) -> list[RunRecord]:
        """The runs listed, newest first."""
        return list(self._records.values())

    def refresh(self) -> None:
        """Read the runs of this flow from the journal again, keeping the selection."""
        try:
            records = self.session.history(LIMIT)
        except OpsflowError as exc:
            self._say(f"Cannot read the run journal: {exc}", error=True)
            return
        view = self.session.view
        # The selected row follows the shown run (selecting a row shows that run).
        selected = view.run_id if view is not None else self.selected_run()
        self._records = {record.id: record for record in records}
        self.tree.blockSignals(True)
        self.tree.clear()
        for record in records:
            item = self._row(record)
            self.tree.addTopLevelItem(item)
            if record.id == selected:
                item.setSelected(True)
                self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)
        if not records:
            self._say(NO_RUNS)
        elif self.message.text() == NO_RUNS:  # the first run arrived
            self._say("")
        self._update_buttons()

    def _row(self, record: RunRecord) -> QTreeWidgetItem:
        if record.finished_at is not None:
            duration = format_duration(record.finished_at - record.started_at)
        else:
            duration = "…" if record.live_owner is not None else ""
        item = QTreeWidgetItem(
            [
                record.shown_state,
                record.id,
                record.trigger or "",
                local_datetime(record.started_at),
                duration,
                "yes" if record.dry_run else "",
            ]
        )
        item.setData(0, RUN_ROLE, record.id)
        state = "interrupted" if record.orphaned else record.state
        item.setForeground(0, QBrush(QColor(state_color(state))))
        tip = record.error or ""
        if record.live_owner is not None:
            tip = f"driven by {record.live_owner.describe()}"
        elif record.orphaned and record.owner is not None:
            tip = f"was driven by {record.owner.describe()}, which is gone; resume it here"
        if tip:
            for column in range(len(COLUMNS)):
                item.setToolTip(column, tip)
        item.setTextAlignment(4, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def selected_run(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, RUN_ROLE) if items else None

    def select(self, run_id: str) -> bool:
        """Select (and so show) a run; False when it is not listed."""
        for position in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(position)
            if item is not None and item.data(0, RUN_ROLE) == run_id:
                self.tree.setCurrentItem(item)
                return True
        return False

    # -- acting on the selected run ------------------------------------------------------

    def _on_selection_changed(self) -> None:
        run_id = self.selected_run()
        self._update_buttons()
        if run_id is None:
            return
        view = self.session.view
        if view is not None and view.run_id == run_id:
            return
        try:
            self.session.show_past_run(run_id)
        except OpsflowError as exc:
            self._say(str(exc), error=True)
            return
        self._say("")

    def rerun_selected(self) -> str | None:
        """Run the selected run again with its trigger, payload and inputs."""
        run_id = self.selected_run()
        if run_id is None:
            return None
        try:
            new_id = self.session.rerun(run_id)
        except OpsflowError as exc:
            self._say(str(exc), error=True)
            return None
        self._say(f"Started run {new_id}, again with the inputs of {run_id}.")
        self.refresh()
        return new_id

    def resume_selected(self) -> bool:
        run_id = self.selected_run()
        if run_id is None:
            return False
        try:
            self.session.resume(run_id)
        except OpsflowError as exc:
            self._say(str(exc), error=True)
            return False
        self._say(f"Resumed run {run_id}.")
        self._update_buttons()
        return True

    def _update_buttons(self) -> None:
        run_id = self.selected_run()
        record = self._records.get(run_id) if run_id is not None else None
        busy = self.session.busy
        self.rerun_button.setEnabled(record is not None and not busy)
        resumable = (
            record is not None
            and (record.state in RESUMABLE or record.orphaned)
            and record.live_owner is None
        )
        self.resume_button.setEnabled(resumable and not busy)

    def _say(self, text: str, *, error: bool = False) -> None:
        color = theme.current().error if error else theme.current().node_subtext
        self.message.setStyleSheet(f"color: {color}")
        self.message.setText(text)

    # -- keeping up ----------------------------------------------------------------------

    def _on_session_view_replaced(self) -> None:
        view = self.session.view
        if view is not None and view.run_id not in self._records:
            self.refresh()  # a run just started here (listed once the engine has written it)
        elif view is not None and view.run_id != self.selected_run():
            self.tree.blockSignals(True)  # mark the shown run without showing it again
            self.select(view.run_id)
            self.tree.blockSignals(False)
        self._update_buttons()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()
