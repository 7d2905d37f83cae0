"""Studio test setup: Qt offscreen, settings and recovery files in tmp, windows closed after."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A 1920x1080 screen instead of the offscreen default of 800x800: windows are kept inside
# their screen, and one squeezed to 800 pixels would leave the canvas no room.
if os.environ["QT_QPA_PLATFORM"] == "offscreen":
    screen = Path(__file__).with_name("offscreen-screen.json")
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={screen}"

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from opsflow.studio import mainwindow
from opsflow.studio.clipboard import release_clipboard

SAMPLES = Path(__file__).resolve().parents[2] / "sample_flows"
SAMPLE_FLOWS = sorted(SAMPLES.glob("*.flow.json"))


@pytest.fixture(autouse=True)
def studio_sandbox(qapp: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads or writes the user's settings or recovery folder, or leaks windows."""
    QCoreApplication.setOrganizationName("OpsflowTests")
    QCoreApplication.setApplicationName("Opsflow Studio Tests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    settings = tmp_path / "settings"
    settings.mkdir()
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(settings))
    monkeypatch.setenv("OPSFLOW_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("OPSFLOW_STORE", str(tmp_path / "runs.sqlite"))
    # The window lists the credentials of this machine: make that an empty, private store.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("OPSFLOW_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    # A modal OS dialog would hang offscreen: a test that reaches one must patch it.
    for owner, name in (
        (QMessageBox, "question"),
        (QMessageBox, "warning"),
        (QFileDialog, "getOpenFileName"),
        (QFileDialog, "getSaveFileName"),
    ):
        monkeypatch.setattr(owner, name, _unexpected_dialog(f"{owner.__name__}.{name}"))
    yield
    for window in list(mainwindow.WINDOWS):
        window.document.undo_stack.setClean()  # no "save changes?" question on close
        window.close()
        window.deleteLater()
    mainwindow.WINDOWS.clear()
    # As the Studio does when it quits: Qt crashes at exit on Python-made clipboard data.
    release_clipboard(QGuiApplication.clipboard())


def _unexpected_dialog(name: str) -> Callable[..., object]:
    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError(f"{name} was shown un-patched: {args[1:3]}")

    return refuse
