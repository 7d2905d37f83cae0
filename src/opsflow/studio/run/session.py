"""A window's runs: starting and steering them, debug settings, history, approvals.

`RunSession` is what the toolbar, the run panel and the canvas talk to. It
keeps the debug settings of this sitting (breakpoints and pinned outputs,
which are not part of the flow file), folds the engine's events into a
`RunView`, replays past runs from the journal, and answers approvals through
the journal exactly as `opsflow approve` does.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from opsflow.engine.approvals import decide_in_journal
from opsflow.engine.events import Event
from opsflow.engine.journal import ApprovalRecord, Journal, RunRecord
from opsflow.engine.run_types import Pin, new_run_id
from opsflow.engine.runview import RunView
from opsflow.errors import OpsflowError
from opsflow.flowfile import parse_flow
from opsflow.model.flow import Flow
from opsflow.studio.document import FlowDocument
from opsflow.studio.run.host import RunHost, RunRequest
from opsflow.validate.context import RunValues

#: Events folded per GUI event-loop turn (each turn also repaints what changed).
EVENTS_PER_TURN = 300


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "studio"


class RunSession(QObject):
    """Runs of one document."""

    #: The shown run changed for these nodes (None: redraw every node).
    view_changed = Signal(object)
    #: New events of the shown run (a list, in order).
    events_added = Signal(list)
    #: A different run is shown now (a new run, or one picked from history).
    view_replaced = Signal()
    #: The shown run's phase changed ("running", "paused", "waiting", "succeeded", ...).
    phase_changed = Signal(str)
    #: Breakpoints or pinned outputs changed.
    debug_changed = Signal()
    #: A run started here ended: (run id, status, error sentence or "").
    run_ended = Signal(str, str, str)

    def __init__(
        self,
        document: FlowDocument,
        journal_path: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.host = RunHost(journal_path, document.catalog, self)
        self.user = current_user()
        self.breakpoints: set[str] = set()
        self.pins: dict[str, Pin] = {}
        self.view: RunView | None = None
        self._journal: Journal | None = None
        #: Events that came while no run was shown, kept for the view that shows them.
        self._unshown: list[Event] = []
        self._ended: tuple[str, str, str] | None = None
        self.host.events_ready.connect(self._on_host_events_ready)
        self.host.run_ended.connect(self._on_host_run_ended)
        document.node_removed.connect(self._on_node_removed)

    # -- debug settings ------------------------------------------------------------------

    def toggle_breakpoint(self, node_id: str) -> bool:
        """Set or clear a breakpoint; returns whether it is set now."""
        if node_id in self.breakpoints:
            self.breakpoints.discard(node_id)
        else:
            self.breakpoints.add(node_id)
        self.debug_changed.emit()
        return node_id in self.breakpoints

    def set_pin(self, node_id: str, pin: Pin | None) -> None:
        """Make later runs use `pin` instead of running the node (None: run it again)."""
        if pin is None:
            self.pins.pop(node_id, None)
        else:
            self.pins[node_id] = pin
        self.debug_changed.emit()

    def pin_from_view(self, node_id: str) -> bool:
        """Pin what the node returned in the shown run; False when it has no output there."""
        node = self.view.nodes.get(node_id) if self.view else None
        if node is None or node.state != "succeeded":
            return False
        self.set_pin(node_id, Pin(node.output, node.port))
        return True

    def _on_node_removed(self, node_id: str) -> None:
        if node_id in self.breakpoints or node_id in self.pins:
            self.breakpoints.discard(node_id)
            self.pins.pop(node_id, None)
            self.debug_changed.emit()

    # -- running -------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.host.busy

    def run(
        self,
        *,
        trigger: str | None = None,
        payload: Any = None,
        inputs: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        start_at: str | None = None,
        reuse: str | None = None,
    ) -> str:
        """Start the flow as it stands in the editor (OpsflowError if it cannot start)."""
        flow = self.document.flow()
        request = RunRequest(
            flow=flow,
            flow_path=self.document.path,
            trigger=trigger,
            payload=payload,
            inputs=inputs,
            dry_run=dry_run,
            breakpoints=frozenset(self.breakpoints),
            pinned=dict(self.pins),
            start_at=start_at,
            reuse=reuse,
        )
        # Shown before it starts: a run can be over before `start` returns.
        self.host.refuse_if_busy()
        run_id = new_run_id()
        self._show(RunView(run_id, flow))
        self.host.start(run_id, request)
        return run_id

    def resume(self, run_id: str) -> None:
        self.host.refuse_if_busy()
        record = self.journal().get_run(run_id)
        self._show(RunView(run_id, self._flow_of(run_id)))
        if record is not None:  # what ran before; live events carry on from its last seq
            self._fold(self.journal().events(run_id))
        self.host.resume(run_id)

    def rerun(self, run_id: str, dry_run: bool = False) -> str:
        """Run again with the same trigger, payload and inputs as an earlier run."""
        record = self.journal().get_run(run_id)
        if record is None:
            raise OpsflowError(f"there is no run {run_id} in {self.journal().path}")
        return self.run(
            trigger=record.trigger,
            payload=record.payload,
            inputs=record.inputs,
            dry_run=dry_run or record.dry_run,
        )

    def continue_(self) -> None:
        self.host.continue_()

    def step(self) -> None:
        self.host.step()

    def abort(self) -> None:
        self.host.abort()

    def shutdown(self) -> None:
        self.host.shutdown()
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # -- approvals -----------------------------------------------------------------------

    def pending_approvals(self) -> list[ApprovalRecord]:
        """Approvals waiting in any run of this flow, wherever it was started."""
        flow_id = self.document.header.id
        waiting = []
        for record in self.journal().pending_approvals():
            run = self.journal().get_run(record.run_id)
            if run is not None and run.flow_id == flow_id:
                waiting.append(record)
        return waiting

    def decide(
        self,
        run_id: str,
        node_id: str,
        decision: str,
        *,
        comment: str = "",
        fields: Mapping[str, Any] | None = None,
        by: str | None = None,
    ) -> ApprovalRecord:
        """Record a decision as the current user (ApprovalError with a sentence if refused)."""
        return decide_in_journal(
            self.journal(),
            run_id,
            node_id,
            decision,
            by=by or self.user,
            comment=comment,
            fields=fields,
        )

    # -- history -------------------------------------------------------------------------

    def journal(self) -> Journal:
        """The run journal, read from the GUI thread (its own SQLite connection)."""
        if self._journal is None:
            self._journal = Journal(self.host.journal_path)
        return self._journal

    def history(self, limit: int = 200) -> list[RunRecord]:
        return self.journal().list_runs(flow_id=self.document.header.id, limit=limit)

    def show_past_run(self, run_id: str) -> RunView:
        """Show the final (or current) states of a run from the journal."""
        self._show(RunView(run_id, self._flow_of(run_id)))
        self._fold(self.journal().events(run_id))
        assert self.view is not None
        record = self.journal().get_run(run_id)
        if record is not None and record.orphaned:
            owner = record.owner.describe() if record.owner else "the process"
            self.view.owner_gone(owner)
            self.view_changed.emit(None)
            self.phase_changed.emit(self.view.phase)
        return self.view

    def refresh_shown_run(self) -> None:
        """Take in events written by another process (a run from the command line)."""
        if self.view is not None and not self.busy:
            self._fold(self.journal().events(self.view.run_id, after_seq=self.view.last_seq))

    def run_values(self) -> RunValues | None:
        """What the shown run gave expressions to read so far (None: no run is shown)."""
        return self.view.values() if self.view is not None else None

    def _flow_of(self, run_id: str) -> Flow:
        try:
            snapshot = self.journal().flow_snapshot(run_id)
            return parse_flow(snapshot, f"run {run_id}", self.document.catalog)
        except OpsflowError:  # a snapshot this Studio cannot read: show it on the current flow
            return self.document.flow()

    # -- events --------------------------------------------------------------------------

    def _show(self, view: RunView) -> None:
        self.view = view
        self.view_replaced.emit()
        self.view_changed.emit(None)
        self.phase_changed.emit(view.phase)
        unshown, self._unshown = self._unshown, []
        self._fold(unshown)

    def _on_host_events_ready(self) -> None:
        # A bounded slice per event-loop turn keeps the window responsive when a
        # fast flow produces thousands of events; the rest follow next turn.
        self._fold(self.host.take_events(EVENTS_PER_TURN))
        if self.host.has_events():
            QTimer.singleShot(0, self._on_host_events_ready)
        elif self._ended is not None:
            ended, self._ended = self._ended, None
            self.run_ended.emit(*ended)

    def _fold(self, events: list[Event]) -> None:
        if self.view is None:
            self._unshown.extend(events)
            return
        if not events:
            return
        # Paused at one breakpoint and again at the next within one batch is a change too.
        phase = (self.view.phase, self.view.paused_at)
        changed: set[str] = set()
        added = []
        for event in events:
            if event.run_id != self.view.run_id:
                continue  # a sub-flow's own run: shown in the log of its parent only by id
            before = self.view.last_seq
            changed |= self.view.apply(event)
            if self.view.last_seq != before:
                added.append(event)
        if added:
            self.events_added.emit(added)
        if changed:
            self.view_changed.emit(changed)
        if (self.view.phase, self.view.paused_at) != phase:
            self.phase_changed.emit(self.view.phase)

    def _on_host_run_ended(self, run_id: str, status: str, error: str) -> None:
        """Announce the end once every event of the run has been taken in."""
        self._ended = (run_id, status, error)
        self._on_host_events_ready()
