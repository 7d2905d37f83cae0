"""The Studio window: opening samples, title, quick add, clipboard between windows, files."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QMenu,
    QMessageBox,
    QTextBrowser,
)
from pytestqt.qtbot import QtBot

from opsflow.flowfile import dump_flow, load_flow
from opsflow.model.flow import Edge, Flow, Node
from opsflow.studio import files, menus
from opsflow.studio.commands import ChangeNode
from opsflow.studio.mainwindow import WINDOWS, MainWindow
from tests.studio.conftest import SAMPLE_FLOWS, SAMPLES

LEFT = Qt.MouseButton.LeftButton


def shown(qtbot: QtBot, flow: Flow | None = None, path: Path | None = None) -> MainWindow:
    """A shown window at 100 % around the origin (closed by the conftest)."""
    window = MainWindow(flow, path)
    window.show()
    qtbot.waitExposed(window)
    window.view.set_zoom(1.0)
    window.view.centerOn(QPointF(400, 150))
    return window


def two_nodes() -> Flow:
    return Flow(
        id="two",
        name="Two nodes",
        nodes=[Node(id="start", type="trigger.manual"), Node(id="run", type="action.shell")],
        edges=[Edge.model_validate({"id": "e1", "from": "start", "port": "out", "to": "run"})],
        layout={"nodes": {"start": {"x": 0, "y": 0}, "run": {"x": 300, "y": 0}}},
    )


def copy_of(sample: str, tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir(exist_ok=True)
    target = folder / sample
    shutil.copyfile(SAMPLES / sample, target)
    return target


@pytest.mark.parametrize("path", SAMPLE_FLOWS, ids=lambda p: p.name.split(".")[0])
def test_every_sample_opens_without_problems(qtbot: QtBot, path: Path) -> None:
    window = MainWindow()
    opened = files.open_path(window, path)
    assert opened is window  # an empty, unchanged window is reused
    flow = load_flow(path)
    assert set(window.scene.nodes) == {n.id for n in flow.nodes}
    assert set(window.scene.edges) == {e.id for e in flow.edges}
    assert set(window.scene.notes) == {n.id for n in flow.layout.notes}
    found = window.validator.validate_now()
    # `opsflow validate sample_flows/*.flow.json` reports no errors and no warnings.
    assert [d.message for d in found if d.severity in ("error", "warning")] == []
    assert window.problems.summary_label.text() == "No problems"
    assert not window.isWindowModified()
    assert window.windowTitle().startswith(f"{path.name}[*]")
    # Opening it again raises the window that has it instead of a second copy.
    assert files.open_path(window, path) is window
    assert len(WINDOWS) == 1


def test_the_title_shows_the_file_and_whether_it_changed(qtbot: QtBot) -> None:
    window = MainWindow()
    files.open_path(window, SAMPLES / "tls-check-host.flow.json")
    flow_name = window.document.header.name
    assert window.windowTitle() == f"tls-check-host.flow.json[*] — {flow_name} — Opsflow Studio"
    assert not window.isWindowModified()
    window.editor.set_disabled([next(iter(window.scene.nodes))])
    assert window.isWindowModified()
    window.actions_by_name["undo"].trigger()
    assert not window.isWindowModified()
    assert MainWindow().windowTitle().startswith("Untitled[*]")


def test_tab_opens_quick_add_and_typing_adds_that_node(qtbot: QtBot) -> None:
    window = shown(qtbot, two_nodes())
    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(window.view.hasFocus)
    qtbot.keyClick(window.view, Qt.Key.Key_Tab)
    popup = window.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.search_edit, "ssh")
    assert popup.current_type() == "action.ssh"
    qtbot.keyClick(popup.search_edit, Qt.Key.Key_Return)
    assert not popup.isVisible()
    added = [n for n in window.document.nodes() if n.type == "action.ssh"]
    assert len(added) == 1
    assert window.scene.selected_node_ids() == [added[0].id]
    assert window.document.undo_stack.count() == 1


def test_a_wire_dropped_on_empty_canvas_adds_a_connected_node(qtbot: QtBot) -> None:
    window = shown(qtbot, two_nodes())
    viewport = window.view.viewport()
    start = window.scene.nodes["run"].output_pos("error")
    end = QPointF(640, 300)
    qtbot.mousePress(viewport, LEFT, pos=window.view.mapFromScene(start))
    qtbot.mouseMove(viewport, window.view.mapFromScene((start + end) / 2))
    qtbot.mouseMove(viewport, window.view.mapFromScene(end))
    qtbot.mouseRelease(viewport, LEFT, pos=window.view.mapFromScene(end))
    popup = window.quick_add
    assert popup.isVisible()
    assert not any(t.startswith("trigger.") for t in popup.shown_types())
    qtbot.keyClicks(popup.search_edit, "wait")
    qtbot.keyClick(popup.search_edit, Qt.Key.Key_Return)
    [added] = [n for n in window.document.nodes() if n.type == "action.wait"]
    [wire] = [e for e in window.document.edges() if e.target == added.id]
    assert (wire.source, wire.port) == ("run", "error")
    assert window.document.undo_stack.count() == 1  # node and wire in one step
    # The new node's input sits near where the wire was dropped.
    input_pos = window.scene.nodes[added.id].input_pos()
    assert (input_pos - end).manhattanLength() < 80


def test_quick_add_cancelled_after_a_wire_forgets_the_wire(qtbot: QtBot) -> None:
    window = shown(qtbot, two_nodes())
    window.scene.wire_dropped.emit("run", "error", QPointF(600, 300))
    qtbot.keyClick(window.quick_add.search_edit, Qt.Key.Key_Escape)
    window.view.quick_add_requested.emit(QPointF(600, 300))
    qtbot.keyClicks(window.quick_add.search_edit, "wait")
    qtbot.keyClick(window.quick_add.search_edit, Qt.Key.Key_Return)
    assert len(list(window.document.edges())) == 1


def test_copy_in_one_window_and_paste_in_another(qtbot: QtBot) -> None:
    first = MainWindow(two_nodes())
    second = MainWindow(two_nodes())
    first.scene.select_only(["start", "run"])
    first.actions_by_name["copy"].trigger()
    second.actions_by_name["paste"].trigger()
    ids = sorted(n.id for n in second.document.nodes())
    assert len(ids) == 4 and len(set(ids)) == 4
    new = set(ids) - {"start", "run"}
    assert sorted(second.scene.selected_node_ids()) == sorted(new)
    [pasted_edge] = [e for e in second.document.edges() if e.source in new]
    assert pasted_edge.target in new and pasted_edge.id != "e1"
    # Pasting twice in the first window gives distinct ids each time.
    first.actions_by_name["paste"].trigger()
    first.actions_by_name["paste"].trigger()
    ids = [n.id for n in first.document.nodes()]
    edge_ids = [e.id for e in first.document.edges()]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert len(edge_ids) == 3 and len(set(edge_ids)) == 3
    # Cut removes the nodes; paste brings them back with their wire.
    first.scene.select_only(["start", "run"])
    first.actions_by_name["cut"].trigger()
    assert not first.document.has_node("start")
    assert first.document.undo_stack.undoText() == "Cut"


def test_save_writes_canonical_text_atomically(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_of("web-outage-remediation.flow.json", tmp_path)
    window = MainWindow(load_flow(path), path)
    node = window.document.node("check_health")
    window.document.push(
        ChangeNode(window.document, node.model_copy(update={"title": "Ünïcode ✓"}), "T", "title")
    )
    assert window.isWindowModified()
    assert files.save(window)
    text = path.read_text(encoding="utf-8")
    assert text == dump_flow(load_flow(path)) == window.document.text()
    assert "Ünïcode ✓" in text
    assert not window.isWindowModified()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left
    assert files.recent_files()[0] == path.resolve()

    # A failed write leaves the old file whole, says so, and keeps the edit unsaved.
    window.document.push(
        ChangeNode(window.document, node.model_copy(update={"title": "Lost?"}), "T", "title")
    )
    warnings: list[str] = []
    # QMessageBox is an OS-level modal dialog: capture its text instead of showing it.
    monkeypatch.setattr(QMessageBox, "warning", lambda _w, _t, text, *a: warnings.append(text))

    def fail_replace(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail_replace)
    assert not files.save(window)
    assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert warnings and "No space left on device" in warnings[0]
    assert window.isWindowModified()


def test_recent_files_ignore_a_setting_that_is_not_a_list() -> None:
    # QSettings gives back whatever was stored there (a str for a one-item list).
    QSettings().setValue(files.RECENT_KEY, 5)
    assert files.recent_files() == []
    QSettings().setValue(files.RECENT_KEY, "/a.flow.json")
    assert files.recent_files() == [Path("/a.flow.json")]


def test_save_as_adds_the_extension_and_retitles(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = MainWindow(two_nodes())
    # The save dialog is an OS dialog: answer it with a name.
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "mine"), "")
    )
    assert files.save(window)  # no path yet: save asks for one
    saved = tmp_path / "mine.flow.json"
    assert saved.read_text(encoding="utf-8") == dump_flow(two_nodes())
    assert window.document.path == saved
    assert window.windowTitle().startswith("mine.flow.json[*]")


def test_export_image_writes_png_and_svg(qtbot: QtBot, tmp_path: Path) -> None:
    window = MainWindow(load_flow(SAMPLES / "patch-window.flow.json"))
    window.scene.select_only(["approve"] if "approve" in window.scene.nodes else [])
    selected = window.scene.selected_node_ids()
    png = files.export_image(window, tmp_path / "flow.png")
    assert png is not None and png.stat().st_size > 1000
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 500
    assert len({image.pixel(x, image.height() // 2) for x in range(0, image.width(), 7)}) > 3
    svg = files.export_image(window, tmp_path / "flow.svg")
    assert svg is not None
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 50
    assert window.scene.selected_node_ids() == selected  # the selection is given back


def test_export_for_servers_refuses_a_literal_secret(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = MainWindow(load_flow(SAMPLES / "web-outage-remediation.flow.json"))
    node = window.document.node("check_health")
    token = "ghp_" + "a1B2c3D4e5" * 3
    described = node.model_copy(update={"description": f"Call with {token}"})
    window.document.push(ChangeNode(window.document, described, "Describe"))
    shown_text: list[str] = []
    # QMessageBox is an OS-level modal dialog: capture its text instead of showing it.
    monkeypatch.setattr(QMessageBox, "warning", lambda _w, _t, text, *a: shown_text.append(text))
    files.export_for_servers(window)  # the save dialog is never reached (conftest guard)
    [text] = shown_text
    assert "nodes.check_health.description" in text and "GitHub token" in text
    assert "literal secrets" in text


def test_export_for_servers_writes_the_canonical_text(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = MainWindow(load_flow(SAMPLES / "web-outage-remediation.flow.json"))
    target = tmp_path / "out.flow.json"
    # The save dialog is an OS dialog: answer it with a name.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    files.export_for_servers(window)
    assert target.read_bytes() == (SAMPLES / "web-outage-remediation.flow.json").read_bytes()


def test_help_lists_the_shortcuts(qtbot: QtBot) -> None:
    window = MainWindow()
    window.actions_by_name["shortcuts"].trigger()
    [dialog] = [d for d in window.findChildren(QDialog) if d.windowTitle() == "Keyboard shortcuts"]
    text = dialog.findChild(QTextBrowser).toPlainText()
    for key, what in [
        ("Ctrl+Z", "Undo"),
        ("Ctrl+C", "Copy"),
        ("Ctrl+V", "Paste"),
        ("Ctrl+S", "Save"),
    ]:
        assert key in text and what in text
    assert "Del" in text and "Quick add" in text
    rows = dict(menus.shortcut_rows(window))
    assert rows["Ctrl+D"] == "Duplicate"
    dialog.close()


def test_the_about_box_opens(qtbot: QtBot) -> None:
    window = MainWindow()
    window.show()
    window.actions_by_name["about"].trigger()
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)))
    [box] = window.findChildren(QMessageBox)
    assert "Opsflow Studio" in box.text()
    box.accept()


def test_closing_with_changes_asks_and_cancel_keeps_the_window(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = MainWindow(two_nodes())
    window.show()
    window.editor.set_disabled(["run"])
    asked: list[str] = []

    def answer(_w: object, _t: str, text: str, *args: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Cancel

    # The "save changes?" question is a modal dialog: answer it.
    monkeypatch.setattr(QMessageBox, "question", answer)
    assert not window.close()
    assert window in WINDOWS and asked == ["Save the changes to this new flow?"]
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Discard)
    assert window.close()
    assert window not in WINDOWS
    QApplication.processEvents()


def test_two_note_edits_are_two_undo_steps(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    window = MainWindow(two_nodes())
    note_id = window.editor.add_note(QPointF(0, 200))
    answers = iter(["first", "second"])
    # The note editor is a modal dialog: answer it.
    monkeypatch.setattr(files, "ask_note_text", lambda _parent, _text: next(answers))
    window.edit_note(note_id)
    window.edit_note(note_id)
    assert window.document.note(note_id).text == "second"
    window.actions_by_name["undo"].trigger()
    assert window.document.note(note_id).text == "first"
    window.actions_by_name["undo"].trigger()
    assert window.document.note(note_id).text.startswith("**Note.**")


def test_an_exported_image_holds_the_wires_that_loop_outside_the_cards(
    qtbot: QtBot, tmp_path: Path
) -> None:
    flow = two_nodes()
    backwards = Edge.model_validate({"id": "e2", "from": "run", "port": "error", "to": "start"})
    flow = flow.model_copy(
        update={
            "nodes": [*flow.nodes[1:], Node(id="start", type="action.wait")],
            "edges": [*flow.edges, backwards],
        }
    )
    window = MainWindow(flow)
    everything = QRectF()
    for node in window.scene.nodes.values():
        everything = everything.united(node.sceneBoundingRect())
    for wire in window.scene.edges.values():
        everything = everything.united(wire.path().boundingRect())
    png = files.export_image(window, tmp_path / "loop.png")
    assert png is not None
    image = QImage(str(png))
    assert image.width() >= everything.width() * 2 and image.height() >= everything.height() * 2


def test_revert_goes_back_to_the_file(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_of("phishing-triage.flow.json", tmp_path)
    window = MainWindow(load_flow(path), path)
    window.editor.set_disabled(sorted(window.scene.nodes)[:2])
    # The confirmation is a modal dialog: answer it.
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    files.revert(window)
    assert window.document.text() == path.read_text(encoding="utf-8")
    assert not window.isWindowModified()
    assert not any(i.look.disabled for i in window.scene.nodes.values())


def test_opening_a_broken_file_says_why_and_keeps_the_window(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.flow.json"
    broken.write_text('{"format": "opsflow.flow", "version": 1, "id": ', encoding="utf-8")
    window = MainWindow(two_nodes())
    said: list[str] = []
    # QMessageBox is an OS-level modal dialog: capture its text instead of showing it.
    monkeypatch.setattr(QMessageBox, "warning", lambda _w, _t, text, *a: said.append(text))
    window.open_paths([str(broken)])
    assert len(said) == 1 and "broken.flow.json" in said[0]
    assert len(WINDOWS) == 1 and window.document.has_node("run")
    # A good file opens in a new window, since this one holds a flow.
    window.open_paths([str(SAMPLES / "tls-check-host.flow.json")])
    assert len(WINDOWS) == 2 and WINDOWS[1].document.path == SAMPLES / "tls-check-host.flow.json"
    recent = QMenu()
    menus._fill_recent(window, recent)
    assert [a.text() for a in recent.actions()] == [str(SAMPLES / "tls-check-host.flow.json")]


def test_the_minimap_jumps_the_view(qtbot: QtBot) -> None:
    window = shown(qtbot, load_flow(SAMPLES / "patch-window.flow.json"))
    window.minimap.refresh()
    before = window.view.mapToScene(window.view.viewport().rect().center())
    qtbot.mouseClick(window.minimap, LEFT, pos=QPoint(10, 10))
    after = window.view.mapToScene(window.view.viewport().rect().center())
    assert after != before
    image = window.minimap.grab().toImage()
    assert len({image.pixel(x, y) for x in range(0, 220, 5) for y in range(0, 140, 5)}) > 3
