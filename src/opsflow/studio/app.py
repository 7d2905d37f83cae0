"""Starting the Studio: the Qt application, its theme, the first window and crash recovery."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from opsflow.engine.owners import set_role
from opsflow.studio import files, theme
from opsflow.studio.clipboard import release_clipboard
from opsflow.studio.icons import app_icon
from opsflow.studio.mainwindow import MainWindow


def application(argv: Sequence[str] = ()) -> QApplication:
    """The QApplication, created once, named so settings land in one place."""
    existing = QApplication.instance()
    app = (
        existing
        if isinstance(existing, QApplication)
        else QApplication(list(argv) or ["opsflow-studio"])
    )
    app.setOrganizationName("Opsflow")
    app.setApplicationName("Opsflow Studio")
    app.setWindowIcon(app_icon())
    if existing is None:
        app.aboutToQuit.connect(lambda: release_clipboard(app.clipboard()))
    saved = QSettings().value("theme", "system")
    theme.apply(app, saved if saved in ("light", "dark") else None)
    return app


def open_studio(paths: Sequence[Path] = ()) -> MainWindow:
    """Show a window (opening `paths`) and offer to recover crashed work."""
    window = MainWindow()
    window.show()
    for path in paths:
        files.open_path(window, path)
    QTimer.singleShot(0, lambda: files.offer_recovery(window))
    return window


def run(paths: Sequence[Path] = ()) -> int:
    set_role("Opsflow Studio")  # how other processes name this one when it drives a run
    app = application(sys.argv[:1])
    open_studio(paths)
    return app.exec()
