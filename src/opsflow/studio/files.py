"""Opening, saving, exporting and recovering flow files from the Studio window.

Every function takes the window it acts for and answers problems with a
dialog sentence; nothing here raises at the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRectF, QSettings, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from opsflow.atomicfile import write_atomic
from opsflow.errors import OpsflowError
from opsflow.exporting import ExportRefused, export_text
from opsflow.flowfile import load_flow, parse_flow
from opsflow.model.flow import Flow
from opsflow.studio import theme, window_layout
from opsflow.studio.recovery import Recoverable, find_recoverable

if TYPE_CHECKING:
    from opsflow.studio.mainwindow import MainWindow

FLOW_FILTER = "Opsflow flows (*.flow.json);;JSON files (*.json);;All files (*)"
RECENT_KEY = "recent_files"
RECENT_LIMIT = 10


# -- open -----------------------------------------------------------------------------------


def open_dialog(window: MainWindow) -> None:
    start = str(window.document.path.parent) if window.document.path else ""
    name, _ = QFileDialog.getOpenFileName(window, "Open flow", start, FLOW_FILTER)
    if name:
        open_path(window, Path(name))


def open_path(window: MainWindow, path: Path) -> MainWindow | None:
    """Open `path`: in this window if it is empty and unchanged, else in a new one."""
    from opsflow.studio.mainwindow import WINDOWS

    for other in WINDOWS:
        if other.document.path and other.document.path.resolve() == path.resolve():
            other.raise_()
            other.activateWindow()
            return other
    try:
        flow = load_flow(path, window.document.catalog)
    except OpsflowError as exc:
        QMessageBox.warning(window, "Cannot open flow", str(exc))
        return None
    add_recent(path)
    if (
        window.document.path is None
        and not window.document.is_modified()
        and not any(True for _ in window.document.nodes())
    ):
        window.document.replace_flow(flow, path)
        window.first_view()
        return window
    return new_window(window, flow, path)


def new_window(
    window: MainWindow, flow: Flow | None = None, path: Path | None = None
) -> MainWindow:
    """Another window like `window` (same catalog, recovery folder and run journal)."""
    from opsflow.studio.mainwindow import MainWindow

    other = MainWindow(
        flow,
        path,
        window.document.catalog,
        window.autosaver.folder,
        window.session.host.journal_path,
    )
    other.move(window.pos() + QPoint(32, 32))  # cascaded, so it does not hide this one
    window_layout.keep_on_screen(other)
    other.show()
    return other


def revert(window: MainWindow) -> None:
    path = window.document.path
    if path is None or not window.document.is_modified():
        return
    answer = QMessageBox.question(
        window, "Revert", f"Discard all changes since {path.name} was last saved?"
    )
    if answer != QMessageBox.StandardButton.Yes:
        return
    try:
        flow = load_flow(path, window.document.catalog)
    except OpsflowError as exc:
        QMessageBox.warning(window, "Cannot revert", str(exc))
        return
    window.document.replace_flow(flow, path)


# -- save -----------------------------------------------------------------------------------


def save(window: MainWindow) -> bool:
    path = window.document.path
    if path is None:
        return save_as(window)
    return _write(window, path)


def save_as(window: MainWindow) -> bool:
    suggested = window.document.path or Path(f"{window.document.header.id}.flow.json")
    name, _ = QFileDialog.getSaveFileName(window, "Save flow as", str(suggested), FLOW_FILTER)
    if not name:
        return False
    path = Path(name)
    if not path.name.endswith(".json"):
        path = path.with_name(path.name + ".flow.json")
    return _write(window, path)


def _write(window: MainWindow, path: Path) -> bool:
    try:
        write_atomic(path, window.document.text().encode("utf-8"))
    except OSError as exc:
        QMessageBox.warning(
            window,
            "Not saved",
            f"{path} could not be written ({exc.strerror or exc}). Choose another place with "
            "Save As; your changes are still open here.",
        )
        return False
    if window.document.path != path:
        window.document.path = path
    window.document.undo_stack.setClean()
    window.autosaver.clear()
    add_recent(path)
    window.say(f"Saved {path}")
    return True


def confirm_discard(window: MainWindow, verb: str) -> bool:
    """Ask before unsaved changes are lost; True when it is fine to go on."""
    if not window.document.is_modified():
        return True
    name = window.document.path.name if window.document.path else "this new flow"
    answer = QMessageBox.question(
        window,
        verb,
        f"Save the changes to {name}?",
        QMessageBox.StandardButton.Save
        | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Save,
    )
    if answer == QMessageBox.StandardButton.Save:
        return save(window)
    return answer == QMessageBox.StandardButton.Discard


# -- export ---------------------------------------------------------------------------------


def export_for_servers(window: MainWindow) -> None:
    source = window.document.path.name if window.document.path else window.document.header.id
    try:
        text = export_text(window.document.flow(), source)
    except ExportRefused as refused:
        QMessageBox.warning(window, "Not exported", "\n\n".join([*refused.problems, str(refused)]))
        return
    suggested = f"{window.document.header.id}.flow.json"
    name, _ = QFileDialog.getSaveFileName(window, "Export for servers", suggested, FLOW_FILTER)
    if not name:
        return
    try:
        write_atomic(Path(name), text.encode("utf-8"))
    except OSError as exc:
        QMessageBox.warning(window, "Not exported", f"{name} could not be written: {exc}")
        return
    window.say(f"Exported {name}")


def export_image(window: MainWindow, path: Path | None = None) -> Path | None:
    """Write the whole canvas as PNG or SVG (chosen by the file name)."""
    if path is None:
        name, _ = QFileDialog.getSaveFileName(
            window, "Export image", f"{window.document.header.id}.png", "PNG (*.png);;SVG (*.svg)"
        )
        if not name:
            return None
        path = Path(name)
    scene = window.scene
    selection = scene.selectedItems()
    scene.clearSelection()
    source = scene.items_bounds()
    for edge in scene.edges.values():  # wires going backwards loop outside the cards
        source = source.united(edge.mapToScene(edge.path().boundingRect()).boundingRect())
    source = source.adjusted(-30, -30, 30, 30)
    try:
        if path.suffix.lower() == ".svg":
            _render_svg(window, path, source)
        else:
            _render_png(window, path, source)
    finally:
        for item in selection:
            item.setSelected(True)
    window.say(f"Exported {path}")
    return path


def _render_png(window: MainWindow, path: Path, source: QRectF) -> None:
    scale = 2.0 if source.width() * source.height() < 4000 * 4000 else 1.0
    size = QSize(int(source.width() * scale), int(source.height() * scale))
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(theme.current().canvas))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    window.scene.render(painter, QRectF(image.rect()), source)
    painter.end()
    if not image.save(str(path)):
        QMessageBox.warning(window, "Not exported", f"{path} could not be written.")


def _render_svg(window: MainWindow, path: Path, source: QRectF) -> None:
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(source.size().toSize())
    generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
    generator.setTitle(window.document.header.name or window.document.header.id)
    painter = QPainter(generator)
    window.scene.render(painter, QRectF(0, 0, source.width(), source.height()), source)
    painter.end()


# -- recent files and recovery --------------------------------------------------------------


def recent_files() -> list[Path]:
    value = QSettings().value(RECENT_KEY, [])
    # A one-item list comes back as a str; anything else not a list was not written here.
    names: list[object]
    if isinstance(value, str):
        names = [value]
    elif isinstance(value, Iterable):
        names = list(value)
    else:
        names = []
    return [Path(n) for n in names if isinstance(n, str)]


def add_recent(path: Path) -> None:
    names = [str(path.resolve())] + [str(p) for p in recent_files() if p != path.resolve()]
    QSettings().setValue(RECENT_KEY, names[:RECENT_LIMIT])


def offer_recovery(window: MainWindow, found: list[Recoverable] | None = None) -> int:
    """Ask about each autosave left by a crashed Studio; returns how many were recovered."""
    recovered = 0
    for item in found if found is not None else find_recoverable(window.autosaver.folder):
        answer = QMessageBox.question(
            window,
            "Recover unsaved work",
            f"Opsflow Studio did not close cleanly. Recover {item.describe()}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            item.discard()
        elif recover(window, item) is not None:
            recovered += 1
        # An autosave that could not be read is kept for another try (or by hand).
    return recovered


def recover(window: MainWindow, item: Recoverable) -> MainWindow | None:
    """Open an autosave as an unsaved change to its original file."""

    try:
        flow = parse_flow(item.flow_file.read_bytes(), str(item.flow_file), window.document.catalog)
    except (OSError, OpsflowError) as exc:
        QMessageBox.warning(window, "Cannot recover", str(exc))
        return None
    target = window
    if window.document.path is not None or window.document.is_modified():
        target = new_window(window)
    target.document.replace_flow(flow, item.original)
    # The recovered text differs from the file on disk: mark it unsaved.
    target.document.undo_stack.resetClean()
    target._update_title()
    item.discard()
    target.autosave()
    return target


def ask_note_text(parent: QWidget, text: str) -> str | None:
    dialog = QDialog(parent)
    dialog.setWindowTitle("Edit note")
    layout = QVBoxLayout(dialog)
    editor = QPlainTextEdit(text)
    editor.setPlaceholderText("Markdown: **bold**, *italic*, - lists, [links](https://…)")
    layout.addWidget(editor)
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    dialog.resize(480, 300)
    editor.setFocus(Qt.FocusReason.OtherFocusReason)
    return editor.toPlainText() if dialog.exec() == QDialog.DialogCode.Accepted else None
