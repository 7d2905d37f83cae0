"""The Run menu, toolbar and panels of a Studio window, wired to its RunSession.

Owns the actions (run, dry run, continue, step, abort, run from here,
breakpoints, pins), the run/approvals/history docks and the canvas context
menu, and keeps the canvas painting the shown run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QColor, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QMenu,
    QMessageBox,
    QScrollArea,
    QStyle,
    QToolBar,
)

from opsflow.errors import OpsflowError
from opsflow.studio import subflows
from opsflow.studio.icons import tinted_icon
from opsflow.studio.run.approvals import ApprovalPanel
from opsflow.studio.run.history import HistoryPanel
from opsflow.studio.run.panel import RunPanel
from opsflow.studio.run.pin_dialog import PinDialog
from opsflow.studio.run.session import RunSession
from opsflow.studio.run.start_dialog import StartChoice, StartDialog

if TYPE_CHECKING:
    from opsflow.studio.mainwindow import MainWindow

PHASE_WORDS = {
    "running": "Running",
    "paused": "Paused at a breakpoint",
    "waiting": "Waiting for an approval",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "interrupted": "Interrupted",
}


class RunController:
    """Everything about running flows in one window."""

    def __init__(self, window: MainWindow, session: RunSession) -> None:
        self.window = window
        self.session = session
        self.scene = window.scene
        self.last_choice: StartChoice | None = None
        self.run_panel = RunPanel(session)
        self.approvals = ApprovalPanel(session)
        self.history = HistoryPanel(session)
        self.actions: dict[str, QAction] = {}
        #: The style's icon of each toolbar action, tinted to the theme by `restyle_icons`.
        self._pixmaps: dict[str, QStyle.StandardPixmap] = {}
        self._build_actions()
        self.restyle_icons()
        self._build_docks()
        session.view_changed.connect(self._on_view_changed)
        session.phase_changed.connect(self._on_phase_changed)
        session.debug_changed.connect(self._on_debug_changed)
        session.run_ended.connect(self._on_run_ended)
        self.run_panel.node_activated.connect(self._select_node)
        self.approvals.approval_pending.connect(self._on_approvals_pending)
        window.view.context_menu_requested.connect(self._context_menu)
        self._update_actions()

    # -- actions -------------------------------------------------------------------------

    def _build_actions(self) -> None:
        window = self.window
        bar = window.menuBar()
        menu = QMenu("&Run", window)
        # Before Help, which by custom comes last.
        help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
        if help_menu is not None:
            bar.insertMenu(help_menu, menu)
        else:
            bar.addMenu(menu)
        toolbar = QToolBar("Run", window)
        toolbar.setObjectName("toolbar-run")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)

        def add(
            name: str,
            text: str,
            slot: Callable[[], object],
            key: str,
            pixmap: QStyle.StandardPixmap | None = None,
            tip: str = "",
        ) -> QAction:
            action = QAction(text, window)
            if pixmap is not None:
                self._pixmaps[name] = pixmap
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{tip or text.replace('&', '')} ({key})")
            action.triggered.connect(lambda _=False: slot())
            menu.addAction(action)
            window.addAction(action)
            self.actions[name] = action
            window.actions_by_name[f"run_{name}"] = action
            return action

        sp = QStyle.StandardPixmap
        add("run", "&Run…", self.start, "F5", sp.SP_MediaPlay, "Run the flow")
        dry = add(
            "dry_run",
            "&Dry run",
            lambda: None,
            "Ctrl+Shift+R",
            None,
            "Dry run: simulate side effects",
        )
        dry.setCheckable(True)
        add("continue", "&Continue", self.session.continue_, "F8", sp.SP_MediaSeekForward)
        add(
            "step",
            "&Step",
            self.session.step,
            "F10",
            sp.SP_ArrowRight,
            "Run the next node, then pause",
        )
        add("abort", "&Abort", self.session.abort, "Shift+F5", sp.SP_MediaStop, "Abort the run")
        menu.addSeparator()
        add("from_here", "Run &from selected node…", self.run_from_selection, "Ctrl+F5")
        add("breakpoint", "Toggle &breakpoint", self.toggle_breakpoints, "F9")
        add("pin", "&Pin output of selected node", self.pin_selection, "Ctrl+P")
        add("unpin", "&Unpin selected node", self.unpin_selection, "Ctrl+Shift+P")
        add("clear_debug", "Clear all breakpoints and pins", self.clear_debug, "Ctrl+Shift+F9")
        for name in ("run", "dry_run", "continue", "step", "abort"):
            toolbar.addAction(self.actions[name])
        self.phase_label = QLabel()
        self.phase_label.setContentsMargins(12, 0, 0, 0)
        toolbar.addWidget(self.phase_label)

    def restyle_icons(self) -> None:
        """Draw the toolbar's icons in the theme's text colour (the style's are black)."""
        palette = QGuiApplication.palette()  # the window's follows it only later
        role = QPalette.ColorRole.ButtonText
        color = palette.color(QPalette.ColorGroup.Active, role)
        disabled = QColor(palette.color(QPalette.ColorGroup.Disabled, role))
        disabled.setAlpha(110)
        style = self.window.style()
        for name, pixmap in self._pixmaps.items():
            icon = tinted_icon(style.standardIcon(pixmap), color, disabled)
            self.actions[name].setIcon(icon)

    def _build_docks(self) -> None:
        window = self.window
        problems = window.findChild(QDockWidget, "dock-problems")
        first = problems
        for title, widget in (
            ("Run", self.run_panel),
            ("Approvals", self.approvals),
            ("History", self.history),
        ):
            dock = QDockWidget(title, window)
            dock.setObjectName(f"dock-{title.lower()}")
            # Scrolled when the window is small rather than squeezing the canvas to its size.
            scroller = QScrollArea()
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setWidget(widget)
            dock.setWidget(scroller)
            window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            if first is not None:
                window.tabifyDockWidget(first, dock)
        self.run_dock = window.findChild(QDockWidget, "dock-run")
        self.approvals_dock = window.findChild(QDockWidget, "dock-approvals")
        if problems is not None:
            problems.raise_()

    def _update_actions(self) -> None:
        busy = self.session.busy
        view = self.session.view
        paused = busy and view is not None and view.phase == "paused"
        self.actions["run"].setEnabled(not busy)
        self.actions["from_here"].setEnabled(not busy)
        self.actions["continue"].setEnabled(paused)
        self.actions["step"].setEnabled(paused)
        self.actions["abort"].setEnabled(busy)
        text = ""
        if view is not None:
            text = f"Run {view.run_id}: {PHASE_WORDS.get(view.phase, view.phase)}"
            if view.phase == "paused" and view.paused_at:
                text = f"Run {view.run_id}: paused before {view.paused_at}"
        self.phase_label.setText(text)

    # -- starting ------------------------------------------------------------------------

    def trigger_types(self) -> dict[str, str]:
        doc = self.window.document
        return {
            n.id: n.type
            for n in sorted(doc.nodes(), key=lambda n: n.id)
            if (spec := doc.catalog.get(n.type)) is not None and spec.category == "trigger"
        }

    def start(self) -> None:
        if not self._ready_to_run():
            return
        dialog = StartDialog(
            self.window.document.flow(),
            self.trigger_types(),
            dry_run=self.actions["dry_run"].isChecked(),
            last=self.last_choice,
            parent=self.window,
        )
        if dialog.exec() != StartDialog.DialogCode.Accepted or dialog.choice is None:
            return
        self.start_with(dialog.choice)

    def start_with(self, choice: StartChoice) -> str | None:
        """Start a run without asking (tests and re-runs use this too)."""
        self.last_choice = choice
        self.actions["dry_run"].setChecked(choice.dry_run)
        try:
            run_id = self.session.run(
                trigger=choice.trigger,
                payload=choice.payload,
                inputs=choice.inputs,
                dry_run=choice.dry_run,
            )
        except OpsflowError as exc:
            QMessageBox.warning(self.window, "Cannot run", str(exc))
            return None
        self._after_start(run_id)
        return run_id

    def run_from_selection(self) -> None:
        nodes = self.scene.selected_node_ids()
        view = self.session.view
        if len(nodes) != 1:
            self.window.say("Select the one node to run from.")
            return
        if view is None:
            self.window.say("Show an earlier run first (History): its upstream outputs are reused.")
            return
        if not self._ready_to_run():
            return
        try:
            run_id = self.session.run(
                start_at=nodes[0], reuse=view.run_id, dry_run=self.actions["dry_run"].isChecked()
            )
        except OpsflowError as exc:
            QMessageBox.warning(self.window, "Cannot run", str(exc))
            return
        self._after_start(run_id)

    def _ready_to_run(self) -> bool:
        if self.session.busy:
            self.window.say("A run is still going; abort it or let it finish first.")
            return False
        errors = [d for d in self.window.validator.validate_now() if d.severity == "error"]
        if errors:
            first = errors[0]
            where = f"node '{first.node}': " if first.node else ""
            QMessageBox.warning(
                self.window,
                "Cannot run",
                f"The flow has {len(errors)} error(s); fix them first (see Problems).\n\n"
                f"{where}{first.message}",
            )
            return False
        if not self.trigger_types():
            self.window.say("The flow has no trigger to start from.")
            return False
        return True

    def _after_start(self, run_id: str) -> None:
        if self.run_dock is not None:  # back in front, even after the user closed it
            self.run_dock.show()
            self.run_dock.raise_()
        self.window.say(f"Run {run_id} started")
        self._update_actions()

    # -- debugging -----------------------------------------------------------------------

    def toggle_breakpoints(self) -> None:
        for node_id in self.scene.selected_node_ids():
            self.session.toggle_breakpoint(node_id)

    def pin_selection(self) -> None:
        for node_id in self.scene.selected_node_ids():
            if not self.session.pin_from_view(node_id):
                self.window.say(f"'{node_id}' has no output in the shown run to pin.")

    def unpin_selection(self) -> None:
        for node_id in self.scene.selected_node_ids():
            self.session.set_pin(node_id, None)

    def pin_typed(self, node_id: str) -> None:
        """Ask for an output as JSON (and, for routing nodes, a port) and pin it."""
        ports = self.window.document.output_ports(node_id)
        dialog = PinDialog(node_id, ports, self.window)
        if dialog.exec() == PinDialog.DialogCode.Accepted and dialog.pin is not None:
            self.session.set_pin(node_id, dialog.pin)

    def clear_debug(self) -> None:
        self.session.breakpoints.clear()
        self.session.pins.clear()
        self.session.debug_changed.emit()

    def _context_menu(self, node_id: str, where: QPoint) -> None:
        if node_id not in self.scene.nodes:
            return
        if node_id not in self.scene.selected_node_ids():
            self.scene.select_only([node_id])
        menu = QMenu(self.window)
        on = node_id in self.session.breakpoints
        menu.addAction("Remove breakpoint" if on else "Add breakpoint", self.toggle_breakpoints)
        if node_id in self.session.pins:
            menu.addAction("Unpin output", self.unpin_selection)
        else:
            menu.addAction("Pin output from the shown run", self.pin_selection)
        menu.addAction("Pin output typed as JSON…", lambda: self.pin_typed(node_id))
        menu.addAction("Run from here (reuse the shown run)", self.run_from_selection)
        view = self.session.view
        if view is not None and node_id in view.approvals:
            menu.addAction(
                "Decide this approval…",
                lambda: self.approvals.open_dialog(view.run_id, node_id),
            )
        menu.addSeparator()
        subflows.add_node_action(menu, self.window, node_id)
        self.window.grouping.add_node_actions(menu, node_id)
        menu.addAction(self.window.actions_by_name["rename"])
        menu.addAction(self.window.actions_by_name["disable"])
        menu.addAction(self.window.actions_by_name["delete"])
        menu.popup(where)

    # -- session events ------------------------------------------------------------------

    def _on_view_changed(self, changed: object) -> None:
        nodes = changed if isinstance(changed, set) else None
        self.scene.set_run_view(self.session.view, nodes)
        self.run_panel.show_node(self._one_selected())

    def _on_phase_changed(self, phase: str) -> None:
        self._update_actions()
        if phase == "paused" and self.session.view is not None and self.session.view.paused_at:
            self.window.view.center_on_node(self.session.view.paused_at)
        if phase == "waiting" and self.approvals_dock is not None:
            self.approvals_dock.show()
            self.approvals_dock.raise_()

    def _on_debug_changed(self) -> None:
        self.scene.set_marks(set(self.session.breakpoints), set(self.session.pins))

    def _on_run_ended(self, run_id: str, status: str, error: str) -> None:
        self._update_actions()
        if status in ("refused", "crashed"):
            QMessageBox.warning(self.window, "Run did not start", error)
        else:
            self.window.say(f"Run {run_id} {status}" + (f": {error}" if error else ""))

    def _on_approvals_pending(self, count: int) -> None:
        if self.approvals_dock is not None:
            self.approvals_dock.setWindowTitle(f"Approvals ({count})" if count else "Approvals")

    def _select_node(self, node_id: str) -> None:
        if node_id in self.scene.nodes:
            self.scene.select_only([node_id])
            self.window.view.center_on_node(node_id)

    def _one_selected(self) -> str | None:
        nodes = self.scene.selected_node_ids()
        return nodes[0] if len(nodes) == 1 else None

    def selection_changed(self) -> None:
        self.run_panel.show_node(self._one_selected())
