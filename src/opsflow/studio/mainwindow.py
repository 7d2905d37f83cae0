"""The Studio window: canvas in the middle, palette left, inspector right, problems below.

The window owns one document and wires menus, docks and the canvas to it;
file handling lives in `opsflow.studio.files`, edits in `FlowEditor`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QWidget

from opsflow.catalog import Catalog
from opsflow.credentials.store import list_names
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow
from opsflow.studio import files, menus, theme
from opsflow.studio.canvas.minimap import Minimap
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.canvas.view import FlowView
from opsflow.studio.commands import ChangeNote
from opsflow.studio.document import FlowDocument
from opsflow.studio.editing import FlowEditor
from opsflow.studio.icons import app_icon
from opsflow.studio.inspector import Inspector
from opsflow.studio.palette import Palette
from opsflow.studio.problems import ProblemsPanel, Validator
from opsflow.studio.quickadd import WIRE_TARGET_CATEGORIES, QuickAdd
from opsflow.studio.recovery import Autosaver
from opsflow.studio.run.controller import RunController
from opsflow.studio.run.session import RunSession
from opsflow.validate.diagnostics import Diagnostic

AUTOSAVE_MS = 30_000
STATUS_MS = 6_000

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
        self.setCentralWidget(self.view)
        self.minimap = Minimap(self.view)
        self.node_palette = Palette(self.document.catalog)
        self.inspector = Inspector(self.document)
        self.validator = Validator(self.document, known_credentials=_stored_credentials())
        self.problems = ProblemsPanel(self.document, self.validator)
        self.quick_add = QuickAdd(self.document.catalog, self)
        self._pending_wire: tuple[str, str] | None = None
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
        self.runs = RunController(self, self.session)
        self._connect()
        self._update_title()
        self.resize(1440, 900)
        QTimer.singleShot(0, self.view.fit_items)
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
        self.resizeDocks([docks["Problems"]], [110], Qt.Orientation.Vertical)

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
        self.scene.wire_dropped.connect(self._on_wire_dropped)
        self.view.node_type_dropped.connect(lambda type_id, at: self.editor.add_node(type_id, at))
        self.view.quick_add_requested.connect(self._on_quick_add_requested)
        self.view.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        self.view.note_activated.connect(self.edit_note)
        self.view.files_dropped.connect(self.open_paths)
        self.node_palette.activated_type.connect(self._add_at_centre)
        self.quick_add.chosen.connect(self._on_quick_add_chosen)
        self.quick_add.cancelled.connect(self._on_quick_add_cancelled)
        self.validator.validated.connect(self._on_validated)
        self.problems.problem_activated.connect(self._on_problem_activated)

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
        self.quick_add.open_at(self.view.mapToGlobal(self.view.mapFromScene(at)))

    def _on_wire_dropped(self, node_id: str, port: str, at: QPointF) -> None:
        self._pending_wire = (node_id, port)
        self._quick_add_at = at
        where = self.view.mapToGlobal(self.view.mapFromScene(at))
        self.quick_add.open_at(where, filter_categories=WIRE_TARGET_CATEGORIES)

    def _on_quick_add_chosen(self, type_id: str) -> None:
        wire, self._pending_wire = self._pending_wire, None
        at = self._quick_add_at
        if wire is not None:  # the new node's input lands where the wire was dropped
            at = QPointF(at.x() + 100, at.y())
        self.editor.add_node(type_id, at, connect_from=wire)
        self.view.setFocus()

    def _on_quick_add_cancelled(self) -> None:
        self._pending_wire = None
        self.view.setFocus()

    def _on_validated(self, diagnostics: list[Diagnostic]) -> None:
        badges: dict[str, tuple[str, str]] = {}
        for diagnostic in diagnostics:  # errors come first
            if diagnostic.node and diagnostic.severity in ("error", "warning"):
                severity, text = badges.get(diagnostic.node, (diagnostic.severity, ""))
                line = f"{diagnostic.severity}: {diagnostic.message}"
                badges[diagnostic.node] = (severity, f"{text}\n{line}".strip())
        self.scene.set_badges(badges)

    def _on_problem_activated(self, node_id: str | None, field: str | None) -> None:
        if node_id is None or node_id not in self.scene.nodes:
            return
        self.scene.select_only([node_id])
        self.view.center_on_node(node_id)
        self.inspector.show_node(node_id)
        if field:
            self.inspector.focus_field(field)

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
        QSettings().setValue("window/state", self.saveState())
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
            for item in window.scene.items():
                item.update()
            window.minimap.refresh()
            window.node_palette.refresh_icons()
        QSettings().setValue("theme", mode or "system")


def _stored_credentials() -> list[str] | None:
    """Names of the credentials on this machine (None when the store cannot be read)."""
    try:
        return [name for name, _ in list_names()]
    except (OpsflowError, OSError):
        return None
