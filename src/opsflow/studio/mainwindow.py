"""The Studio window: canvas in the middle, palette left, inspector right, problems below.

The window owns one document and wires menus, docks and the canvas to it;
file handling lives in `opsflow.studio.files`, edits in `FlowEditor`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QWidget

from opsflow.catalog import Catalog
from opsflow.credentials.store import list_names
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow
from opsflow.studio import files, menus, subflows, theme, window_layout
from opsflow.studio.canvas.minimap import Minimap
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.canvas.view import FlowView
from opsflow.studio.commands import ChangeNote
from opsflow.studio.document import FlowDocument
from opsflow.studio.editing import FlowEditor
from opsflow.studio.findbar import FindBar
from opsflow.studio.grouping import GroupEditor
from opsflow.studio.icons import app_icon
from opsflow.studio.inspector import Inspector
from opsflow.studio.inspector.flow_panel import where_to_declare
from opsflow.studio.palette import Palette
from opsflow.studio.problems import ProblemsPanel, Validator
from opsflow.studio.quickadd import WIRE_TARGET_CATEGORIES, QuickAdd
from opsflow.studio.recovery import Autosaver
from opsflow.studio.run.controller import RunController
from opsflow.studio.run.session import RunSession
from opsflow.validate.diagnostics import Diagnostic

AUTOSAVE_MS = 30_000
STATUS_MS = 6_000
MINIMAP_KEY = "view/minimap"
BOTTOM_HEIGHT = 210

#: Every open window, so they stay alive and "New window" works.
WINDOWS: list[MainWindow] = []


class MainWindow(QMainWindow):
    """One flow being designed."""

    def __init__(
        self,
        flow: Flow | None = None,
        path: Path | None = None,
        catalog: Catalog | None = None,
        autosave_folder: Path | None = None,
        journal_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.document = FlowDocument(flow, path, catalog, parent=self)
        self.scene = FlowScene(self.document, self)
        self.view = FlowView(self.scene, self)
        self.editor = FlowEditor(self.document, self.scene)
        self.grouping = GroupEditor(self.document, self.scene, self)
        self.setCentralWidget(self.view)
        self.minimap = Minimap(self.view)
        self.find_bar = FindBar(self.view)
        self.node_palette = Palette(self.document.catalog)
        self.inspector = Inspector(self.document)
        self.validator = Validator(self.document, known_credentials=_stored_credentials())
        self.problems = ProblemsPanel(self.document, self.validator)
        self.quick_add = QuickAdd(self.document.catalog, self)
        self._pending_wire: tuple[str, str] | None = None
        #: Tab with one node selected: the node the new one is added after.
        self._add_after: str | None = None
        self._quick_add_at = QPointF()
        self._docks()
        self.zoom_label = QLabel("100 %")
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.autosaver = Autosaver(autosave_folder)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.actions_by_name: dict[str, QAction] = {}
        menus.build(self)
        self.session = RunSession(self.document, journal_path, self)
        self.inspector.read_run_values_from(self.session.run_values)
        self.runs = RunController(self, self.session)
        self._connect()
        self._update_title()
        self.resize(1440, 900)
        self._dock_timer = QTimer(self)
        self._dock_timer.setSingleShot(True)
        self._dock_timer.setInterval(0)
        self._dock_timer.timeout.connect(lambda: window_layout.fit_docks(self))
        self._restore_layout()
        QTimer.singleShot(0, self.first_view)
        WINDOWS.append(self)

    # -- layout --------------------------------------------------------------------------

    def _docks(self) -> None:
        # Side panels run the full height; problems sit under the canvas only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        docks: dict[str, QDockWidget] = {}
        panels: tuple[tuple[str, QWidget, Qt.DockWidgetArea], ...] = (
            ("Nodes", self.node_palette, Qt.DockWidgetArea.LeftDockWidgetArea),
            ("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea),
            ("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea),
        )
        for title, widget, area in panels:
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{title.lower()}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            docks[title] = dock
        self.resizeDocks(
            [docks["Nodes"], docks["Inspector"]], [230, 360], Qt.Orientation.Horizontal
        )

    def _restore_layout(self) -> None:
        """As the user left the last window: size, place, panels, minimap (all on screen)."""
        settings = QSettings()
        self._size_bottom_docks = not window_layout.restore(self, settings)
        if settings.value(MINIMAP_KEY, True) in (False, "false"):
            self.actions_by_name["minimap"].setChecked(False)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._size_bottom_docks:  # only a shown window takes this (and only once)
            self._size_bottom_docks = False
            # Tall enough for the Run and Approvals panels that share the place, buttons too.
            problems = self.findChild(QDockWidget, "dock-problems")
            if problems is not None:
                self.resizeDocks([problems], [BOTTOM_HEIGHT], Qt.Orientation.Vertical)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._dock_timer.start()  # once the docks have their new sizes

    def _connect(self) -> None:
        doc = self.document
        doc.undo_stack.cleanChanged.connect(self._update_title)
        doc.path_changed.connect(self._update_title)
        doc.flow_changed.connect(self._update_title)
        # Deleting 500 selected nodes changes the selection 500 times: show the result once.
        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(0)
        self._selection_timer.timeout.connect(self._on_selection_changed)
        self.scene.selectionChanged.connect(self._selection_timer.start)
        self.scene.status_message.connect(self.say)
        self.editor.status_message.connect(self.say)
        self.inspector.renamer.status_message.connect(self.say)
        doc.node_renamed.connect(self._on_node_renamed)
        self.scene.wire_dropped.connect(self._on_wire_dropped)
        self.view.node_type_dropped.connect(lambda type_id, at: self.editor.add_node(type_id, at))
        self.view.quick_add_requested.connect(self._on_quick_add_requested)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        self.view.note_activated.connect(self.edit_note)
        self.view.node_activated.connect(lambda node_id: subflows.open_for_node(self, node_id))
        self.view.group_activated.connect(self.grouping.ask_rename)
        self.grouping.status_message.connect(self.say)
        self.view.files_dropped.connect(self.open_paths)
        self.node_palette.activated_type.connect(self._add_at_centre)
        self.quick_add.chosen.connect(self._on_quick_add_chosen)
        self.quick_add.cancelled.connect(self._on_quick_add_cancelled)
        self.validator.validated.connect(self._on_validated)
        self.problems.problem_activated.connect(self._on_problem_activated)
        self.inspector.flow_panel.credential_saved.connect(self._on_credential_saved)

    # -- status and title ----------------------------------------------------------------

    def say(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    def _update_title(self) -> None:
        path = self.document.path
        name = path.name if path else "Untitled"
        flow_name = self.document.header.name or self.document.header.id
        self.setWindowTitle(f"{name}[*] — {flow_name} — Opsflow Studio")
        self.setWindowModified(self.document.is_modified())

    # -- canvas events -------------------------------------------------------------------

    def first_view(self) -> None:
        """Show a flow just opened: arranged first when its file has no layout."""
        doc = self.document
        nodes = [node.id for node in doc.nodes()]
        if nodes and all(doc.placement(node_id) is None for node_id in nodes):
            clean = doc.undo_stack.isClean()
            self.editor.auto_layout()
            if clean:  # nothing the user did: closing need not ask to save the arrangement
                doc.undo_stack.setClean()
            self.say("The file had no layout: the flow was arranged (Undo puts it back).")
        self.view.show_flow()

    def arrange_flow(self) -> None:
        self.editor.auto_layout()
        self.view.show_flow()

    def _on_selection_changed(self) -> None:
        nodes = self.scene.selected_node_ids()
        self.inspector.show_node(nodes[0] if len(nodes) == 1 else None)
        self.runs.selection_changed()

    def _add_at_centre(self, type_id: str) -> None:
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        self.editor.add_node(type_id, centre)
        self.view.setFocus()

    def _on_quick_add_requested(self, at: QPointF) -> None:
        self._pending_wire = None
        self._quick_add_at = at
        selected = self.scene.selected_node_ids()
        after = selected[0] if len(selected) == 1 else None
        self._add_after = after if after and self.document.output_ports(after) else None
        if self._add_after is not None:  # as in n8n: the next node, wired after this one
            item = self.scene.nodes[self._add_after]
            beside = item.mapToScene(item.card_rect().topRight()) + QPointF(40, 0)
            where = self.view.viewport().mapToGlobal(self.view.mapFromScene(beside))
            self.quick_add.open_at(where, filter_categories=WIRE_TARGET_CATEGORIES)
            return
        self.quick_add.open_at(self.view.mapToGlobal(self.view.mapFromScene(at)))

    def _on_wire_dropped(self, node_id: str, port: str, at: QPointF) -> None:
        self._pending_wire = (node_id, port)
        self._add_after = None
        self._quick_add_at = at
        where = self.view.mapToGlobal(self.view.mapFromScene(at))
        self.quick_add.open_at(where, filter_categories=WIRE_TARGET_CATEGORIES)

    def _on_quick_add_chosen(self, type_id: str) -> None:
        wire, self._pending_wire = self._pending_wire, None
        after, self._add_after = self._add_after, None
        at = self._quick_add_at
        if wire is not None:  # the new node's input lands where the wire was dropped
            at = QPointF(at.x() + 100, at.y())
        if after is not None:
            added = self.editor.add_node_after(type_id, after)
        else:
            added = self.editor.add_node(type_id, at, connect_from=wire)
        if added is not None:
            self.view.ensureVisible(self.scene.nodes[added].sceneBoundingRect(), 40, 40)
        self.view.setFocus()

    def _on_quick_add_cancelled(self) -> None:
        self._pending_wire = None
        self._add_after = None
        self.view.setFocus()

    def _on_validated(self, diagnostics: list[Diagnostic]) -> None:
        badges: dict[str, tuple[str, str]] = {}
        for diagnostic in diagnostics:  # errors come first
            if diagnostic.node and diagnostic.severity in ("error", "warning"):
                severity, text = badges.get(diagnostic.node, (diagnostic.severity, ""))
                line = f"{diagnostic.severity}: {diagnostic.message}"
                badges[diagnostic.node] = (severity, f"{text}\n{line}".strip())
        self.scene.set_badges(badges)

    def _on_node_renamed(self, _old: str, new: str) -> None:
        # The node came back under its new id (rename, or its undo): keep it selected.
        self.scene.select_only([new])

    def _on_problem_activated(self, node_id: str | None, field: str | None) -> None:
        if node_id is None:  # a problem of the flow's own fields (inputs, outputs, ...)
            if field:
                self.inspector.show_flow(field)
            return
        if node_id not in self.scene.nodes:
            return
        self.scene.select_only([node_id])
        self.view.center_on_node(node_id)
        self.inspector.show_node(node_id)
        if field:
            self.inspector.focus_field(field)
        # "declare it under the flow's inputs": that is done in the Flow tab, so open it there.
        section = where_to_declare(self.problems.diagnostics(), node_id, field)
        if section is not None and self.inspector.show_flow(section):
            self.say(
                f"Declare it under {section.capitalize()} in the Flow tab, or fix the name in "
                "the node (Node tab)."
            )

    def _on_credential_saved(self, name: str) -> None:
        self.validator.set_known_credentials(_stored_credentials())
        self.say(f"Credential '{name}' was stored in the keyring.")

    def edit_note(self, note_id: str) -> None:
        note = self.document.note(note_id)
        text = files.ask_note_text(self, note.text)
        if text is not None and text != note.text:
            self.document.push(
                ChangeNote(self.document, note.model_copy(update={"text": text}), "Edit note")
            )

    # -- files ---------------------------------------------------------------------------

    def open_paths(self, paths: list[str]) -> None:
        for path in paths:
            files.open_path(self, Path(path))

    def autosave(self) -> None:
        if self.document.is_modified():
            try:
                self.autosaver.save(self.document.text(), self.document.path)
            except OSError as exc:
                self.say(f"Autosave failed: {exc.strerror or exc}")
        else:
            self.autosaver.clear()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not files.confirm_discard(self, "Close"):
            event.ignore()
            return
        self.autosave_timer.stop()
        self.autosaver.clear()
        self.session.shutdown()
        settings = QSettings()
        window_layout.save(self, settings)
        settings.setValue(MINIMAP_KEY, self.actions_by_name["minimap"].isChecked())
        if self in WINDOWS:
            WINDOWS.remove(self)
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.toLocalFile().endswith(".json") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.open_paths([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()])
        event.acceptProposedAction()

    def set_theme(self, mode: theme.Mode | None) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply(app, mode)
        for window in WINDOWS:
            window.view.resetCachedContent()
            window.scene.restyle()
            window.minimap.refresh()
            window.node_palette.refresh_icons()
            window.runs.restyle_icons()
        QSettings().setValue("theme", mode or "system")


def _stored_credentials() -> list[str] | None:
    """Names of the credentials on this machine (None when the store cannot be read)."""
    try:
        return [name for name, _ in list_names()]
    except (OpsflowError, OSError):
        return None
