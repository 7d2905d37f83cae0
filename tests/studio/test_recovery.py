"""Autosave and crash recovery: what a Studio that died leaves behind is offered back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from opsflow.flowfile import load_flow
from opsflow.studio import files
from opsflow.studio.commands import ChangeNode
from opsflow.studio.mainwindow import WINDOWS, MainWindow
from opsflow.studio.recovery import Autosaver, find_recoverable, recovery_folder
from tests.studio.conftest import SAMPLES

SAMPLE = "tls-check-host.flow.json"


def dead_pid() -> int:
    """The pid of a process that has certainly exited (started and killed here)."""
    process = subprocess.Popen(["sleep", "60"])
    process.kill()
    process.wait()
    return process.pid


def crashed_window(tmp_path: Path) -> tuple[Path, str, Autosaver]:
    """Edit a flow, autosave it, then make it look as if that Studio died."""
    folder = tmp_path / "flows"
    folder.mkdir()
    path = folder / SAMPLE
    shutil.copyfile(SAMPLES / SAMPLE, path)
    window = MainWindow(load_flow(path), path)
    assert window.autosaver.folder == recovery_folder() == tmp_path / "recovery"
    node_id = sorted(window.scene.nodes)[0]
    node = window.document.node(node_id)
    window.document.push(
        ChangeNode(window.document, node.model_copy(update={"title": "Edited before crash"}), "T")
    )
    window.autosave()
    autosaver = window.autosaver
    saved_text = autosaver.flow_file.read_text(encoding="utf-8")
    assert saved_text == window.document.text()
    info = json.loads(autosaver.info_file.read_text(encoding="utf-8"))
    assert info["pid"] == os.getpid() and info["original"] == str(path)
    # The crash: this window's process is gone (no close, so the files stay).
    info["pid"] = dead_pid()
    autosaver.info_file.write_text(json.dumps(info), encoding="utf-8")
    WINDOWS.remove(window)
    window.autosave_timer.stop()
    window.deleteLater()
    return path, saved_text, autosaver


def test_files_of_a_running_studio_are_not_offered(qtbot: QtBot, tmp_path: Path) -> None:
    window = MainWindow()
    window.editor.add_note(window.view.mapToScene(0, 0))
    window.autosave()
    assert window.autosaver.flow_file.is_file()
    assert find_recoverable() == []  # written by this very process
    (recovery_folder() / "junk.json").write_text("{not json", encoding="utf-8")
    assert find_recoverable() == []
    # Saving or undoing back to clean removes the autosave.
    window.document.undo_stack.undo()
    window.autosave()
    assert not window.autosaver.flow_file.exists()
    assert not window.autosaver.info_file.exists()


def test_yes_recovers_the_autosaved_text_as_unsaved(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, saved_text, crashed = crashed_window(tmp_path)
    [found] = find_recoverable()
    assert found.original == path and path.name in found.describe()
    fresh = MainWindow()
    asked: list[str] = []

    def yes(_w: object, _t: str, text: str, *args: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    # The recovery question is a modal dialog: answer it.
    monkeypatch.setattr(QMessageBox, "question", yes)
    assert files.offer_recovery(fresh) == 1
    assert len(asked) == 1 and path.name in asked[0]
    assert fresh.document.path == path
    assert fresh.document.text() == saved_text
    assert fresh.document.is_modified() and fresh.isWindowModified()
    assert "Edited before crash" in {n.title for n in fresh.document.nodes()}
    assert path.read_text(encoding="utf-8") != saved_text  # the file itself is untouched
    assert not crashed.flow_file.exists() and not crashed.info_file.exists()
    # The recovered work is autosaved again, now under the new window's name.
    assert fresh.autosaver.flow_file.read_text(encoding="utf-8") == saved_text
    assert find_recoverable() == []


def test_no_discards_the_autosave(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, crashed = crashed_window(tmp_path)
    fresh = MainWindow()
    # The recovery question is a modal dialog: answer it.
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.No)
    assert files.offer_recovery(fresh) == 0
    assert not crashed.flow_file.exists() and not crashed.info_file.exists()
    assert fresh.document.path is None and not fresh.document.is_modified()
    assert list(fresh.document.nodes()) == []
    assert find_recoverable() == []


def test_recovering_into_a_busy_window_opens_another(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, saved_text, _ = crashed_window(tmp_path)
    busy = MainWindow(
        load_flow(SAMPLES / "patch-window.flow.json"), SAMPLES / "patch-window.flow.json"
    )
    # The recovery question is a modal dialog: answer it.
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    assert files.offer_recovery(busy) == 1
    [other] = [w for w in WINDOWS if w is not busy]
    assert other.document.text() == saved_text and other.document.path == path
    assert not busy.document.is_modified()
