"""Menus, actions and keyboard shortcuts of the Studio window, and the help and About boxes.

The shortcut list shown by Help > Keyboard shortcuts is generated from the
same actions, so it can never disagree with what the keys do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QMenu,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
)

import opsflow
from opsflow.studio import files, subflows, templates

if TYPE_CHECKING:
    from opsflow.studio.mainwindow import MainWindow

Key = QKeySequence.StandardKey

#: Shortcuts handled by the canvas itself rather than by a menu action.
CANVAS_KEYS = [
    ("Tab, or double-click the canvas", "Quick add a node at the cursor"),
    ("Tab with one node selected", "Add the next node, connected after it"),
    ("Drag from an output port", "Connect; drop on empty canvas to add and connect a node"),
    ("Drag the arrow end of a selected wire", "Reconnect it to another node"),
    ("Mouse wheel", "Zoom around the cursor (Shift+wheel scrolls)"),
    ("Middle drag, or Space + drag", "Pan"),
    ("Ctrl/Shift + click, or drag on empty canvas", "Add to the selection / rubber band"),
    ("Esc", "Cancel the wire being dragged"),
    ("Double-click a Run sub-flow or For each node", "Open the flow file it runs"),
    ("Drag a group's title bar", "Move the group's nodes together (double-click: rename)"),
    ("Enter / Shift+Enter in the find bar", "Next / previous match (Esc closes the bar)"),
    ("Enter / Esc in the inspector's Id field", "Rename the node / put its id back"),
]


def build(window: MainWindow) -> None:
    bar = window.menuBar()
    doc = window.document
    editor = window.editor
    board = QGuiApplication.clipboard

    def add(
        menu: QMenu,
        name: str,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | Key | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        window.actions_by_name[name] = action
        window.addAction(action)
        return action

    file = bar.addMenu("&File")
    add(file, "new", "&New window", lambda: files.new_window(window), Key.New)
    add(
        file,
        "new_from_template",
        "New from &template…",
        lambda: templates.choose(window),
        tip="Start a new flow from one of the sample flows",
    )
    add(file, "open", "&Open…", lambda: files.open_dialog(window), Key.Open)
    recent = file.addMenu("Open &recent")
    recent.aboutToShow.connect(lambda: _fill_recent(window, recent))
    add(
        file,
        "open_subflow",
        "Open s&ub-flow of the selected node",
        lambda: subflows.open_selected(window),
        tip="Open the flow file a Run sub-flow or For each node runs (or double-click the node)",
    )
    file.addSeparator()
    add(file, "save", "&Save", lambda: files.save(window), Key.Save)
    add(file, "save_as", "Save &as…", lambda: files.save_as(window), Key.SaveAs)
    add(file, "revert", "Re&vert to saved", lambda: files.revert(window))
    file.addSeparator()
    add(
        file,
        "export",
        "&Export for servers…",
        lambda: files.export_for_servers(window),
        "Ctrl+E",
        "Write canonical JSON after checking for errors and literal secrets",
    )
    add(file, "export_image", "Export &image (PNG, SVG)…", lambda: files.export_image(window))
    file.addSeparator()
    add(file, "close", "&Close window", window.close, Key.Close)
    add(file, "quit", "&Quit", _quit, Key.Quit)

    edit = bar.addMenu("&Edit")
    undo = doc.undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcut(QKeySequence(Key.Undo))
    redo = doc.undo_stack.createRedoAction(window, "&Redo")
    # The platform's key, and both common ones: Ctrl+Y (Windows) and Ctrl+Shift+Z.
    keys = [*QKeySequence.keyBindings(Key.Redo), QKeySequence("Ctrl+Y")]
    keys.append(QKeySequence("Ctrl+Shift+Z"))
    redo.setShortcuts(list(dict.fromkeys(keys)))
    for name, action in (("undo", undo), ("redo", redo)):
        edit.addAction(action)
        window.actions_by_name[name] = action
    edit.addSeparator()
    add(edit, "cut", "Cu&t", lambda: editor.cut(board()), Key.Cut)
    add(edit, "copy", "&Copy", lambda: editor.copy(board()), Key.Copy)
    add(
        edit,
        "paste",
        "&Paste",
        lambda: editor.paste(board(), window.view.pointer_scene_pos()),
        Key.Paste,
        "Paste at the mouse pointer, or below the selection",
    )
    add(edit, "duplicate", "&Duplicate", editor.duplicate, "Ctrl+D")
    add(edit, "delete", "De&lete", editor.delete_selection, Key.Delete)
    edit.addSeparator()
    add(edit, "select_all", "Select &all", editor.select_all, Key.SelectAll)
    add(edit, "upstream", "Select &upstream", lambda: editor.select_related(False), "Ctrl+Shift+U")
    add(
        edit,
        "downstream",
        "Select do&wnstream",
        lambda: editor.select_related(True),
        "Ctrl+Shift+D",
    )
    find = window.find_bar
    add(
        edit,
        "find",
        "&Find…",
        find.open,
        Key.Find,
        "Find nodes by id, title, type or parameter text",
    )
    add(edit, "find_next", "Find ne&xt", lambda: find.step(True), "F3")
    add(edit, "find_previous", "Find pre&vious", lambda: find.step(False), "Shift+F3")
    edit.addSeparator()
    add(
        edit,
        "disable",
        "Disable / &enable nodes",
        lambda: editor.set_disabled(window.scene.selected_node_ids()),
        "Ctrl+/",
    )
    rename = add(
        edit,
        "rename",
        "Rena&me node…",
        lambda: _rename_selected(window),
        "F2",
        "Give the selected node a new id; every expression, wire and placement follows",
    )
    # Tables and lists in the panels edit a cell with F2: the canvas takes it only when it has
    # the keys (the find bar over it included).
    window.removeAction(rename)
    rename.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    window.view.addAction(rename)
    add(
        edit,
        "note",
        "Add sticky &note",
        lambda: editor.add_note(_view_centre(window)),
        "Ctrl+Shift+N",
    )
    edit.addSeparator()
    grouping = window.grouping
    add(edit, "group", "&Group selected nodes", grouping.group_selection, "Ctrl+G")
    add(edit, "ungroup", "Ungr&oup", grouping.ungroup_selection, "Ctrl+Shift+G")
    add(edit, "collapse_group", "Collap&se / expand group", grouping.toggle_selection)

    view = bar.addMenu("&View")
    add(view, "fit", "&Fit flow", window.view.fit_items, "Ctrl+0")
    add(view, "zoom_selection", "Zoom to &selection", window.view.zoom_to_selection, "Ctrl+2")
    add(view, "actual_size", "&Actual size (100 %)", lambda: window.view.set_zoom(1.0), "Ctrl+1")
    add(view, "zoom_in", "Zoom &in", lambda: window.view.zoom_by(1.25), Key.ZoomIn)
    add(view, "zoom_out", "Zoom &out", lambda: window.view.zoom_by(0.8), Key.ZoomOut)
    view.addSeparator()
    add(view, "layout", "Arrange &flow", window.arrange_flow, "Ctrl+L")
    add(
        view,
        "layout_selection",
        "Arrange selectio&n",
        lambda: editor.auto_layout(True),
        "Ctrl+Shift+L",
    )
    snap = add(view, "snap", "Snap to &grid", lambda: None)
    snap.setCheckable(True)
    snap.setChecked(window.scene.snap_to_grid)
    snap.toggled.connect(lambda on: setattr(window.scene, "snap_to_grid", on))
    minimap = add(view, "minimap", "&Minimap", lambda: None, "Ctrl+M")
    minimap.setCheckable(True)
    minimap.setChecked(True)
    minimap.toggled.connect(window.minimap.setVisible)
    view.addSeparator()
    themes = view.addMenu("&Theme")
    add(themes, "theme_system", "Follow the &system", lambda: window.set_theme(None))
    add(themes, "theme_light", "&Light", lambda: window.set_theme("light"))
    add(themes, "theme_dark", "&Dark", lambda: window.set_theme("dark"))
    view.addSeparator()
    # Filled when opened: the Run, Approvals and History panels are made after the menus.
    panels = view.addMenu("&Panels")
    panels.aboutToShow.connect(lambda: _fill_panels(window, panels))

    help_menu = bar.addMenu("&Help")
    add(
        help_menu,
        "shortcuts",
        "&Keyboard shortcuts",
        lambda: show_shortcuts(window),
        Key.HelpContents,
    )
    add(help_menu, "about", "&About Opsflow Studio", lambda: show_about(window))


def _rename_selected(window: MainWindow) -> None:
    nodes = window.scene.selected_node_ids()
    if len(nodes) != 1:
        window.say("Select one node to rename it.")
        return
    window.inspector.edit_id(nodes[0])


def _view_centre(window: MainWindow) -> QPointF:
    return window.view.mapToScene(window.view.viewport().rect().center())


def _fill_panels(window: MainWindow, menu: QMenu) -> None:
    menu.clear()
    for dock in window.findChildren(QDockWidget):
        menu.addAction(dock.toggleViewAction())


def _fill_recent(window: MainWindow, menu: QMenu) -> None:
    menu.clear()
    paths = files.recent_files()
    if not paths:
        menu.addAction("No recent flows").setEnabled(False)
        return
    for path in paths:
        action = menu.addAction(str(path))
        action.triggered.connect(lambda _=False, p=path: files.open_path(window, p))


def _quit() -> None:
    from opsflow.studio.mainwindow import WINDOWS

    for window in list(WINDOWS):
        if not window.close():
            return


def shortcut_rows(window: MainWindow) -> list[tuple[str, str]]:
    rows = []
    for action in window.actions_by_name.values():
        native = QKeySequence.SequenceFormat.NativeText
        key = ", ".join(k.toString(native) for k in action.shortcuts())
        if key:
            rows.append((key, action.text().replace("&", "").rstrip("…")))
    return rows + CANVAS_KEYS


def show_shortcuts(window: MainWindow) -> QDialog:
    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard shortcuts")
    browser = QTextBrowser()
    rows = "".join(
        f"<tr><td style='padding:3px 16px 3px 0'><b>{key}</b></td><td>{what}</td></tr>"
        for key, what in shortcut_rows(window)
    )
    browser.setHtml(f"<table>{rows}</table>")
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    dialog.resize(560, 620)
    dialog.show()
    return dialog


def show_about(window: MainWindow) -> None:
    box = QMessageBox(window)
    box.setWindowTitle("About Opsflow Studio")
    box.setIconPixmap(window.windowIcon().pixmap(64, 64))
    box.setText(
        f"<h3>Opsflow Studio {opsflow.__version__}</h3>"
        "<p>Design, run and share IT automation flows.</p>"
        "<p>Flows are plain <code>.flow.json</code> files that the <code>opsflow</code> "
        "command line and servers run.</p>"
    )
    box.addButton(QMessageBox.StandardButton.Ok)
    box.open()
