"""Write the README pictures: the Studio with two sample flows, light and dark, into docs/.

Run with `make screenshots` (offscreen; no display needed).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
SHOTS = [
    # (sample flow, node to select, zoom, file name stem)
    ("web-outage-remediation", "restart_nginx", 0.75, "studio-outage"),
    ("patch-window", "change_approval", 0.75, "studio-patch-window"),
]


def main() -> int:
    from PySide6.QtCore import QSettings

    from opsflow.studio import theme
    from opsflow.studio.app import application
    from opsflow.studio.mainwindow import MainWindow

    with tempfile.TemporaryDirectory() as folder:
        os.environ["OPSFLOW_STORE"] = str(Path(folder) / "runs.sqlite")
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
        app = application()
        out = ROOT / "docs"
        out.mkdir(exist_ok=True)
        for mode in ("light", "dark"):
            theme.apply(app, mode)
            for flow_name, node_id, zoom, stem in SHOTS:
                from opsflow.flowfile import load_flow

                path = ROOT / "sample_flows" / f"{flow_name}.flow.json"
                window = MainWindow(load_flow(path), path, autosave_folder=Path(folder))
                window.resize(1600, 940)
                window.show()
                app.processEvents()
                window.validator.validate_now()
                window.scene.select_only([node_id])
                window.view.set_zoom(zoom)
                bounds = window.scene.items_bounds()
                view_width = window.view.viewport().width() / zoom
                window.view.centerOn(
                    bounds.left() + view_width / 2 - 20, window.scene.nodes[node_id].y() + 40
                )
                for _ in range(3):
                    app.processEvents()
                window.minimap.refresh()
                app.processEvents()
                target = out / f"{stem}-{mode}.png"
                window.grab().save(str(target))
                print(f"wrote {target.relative_to(ROOT)}")
                window.close()
        organise_shots(app, Path(folder), out)
        find_shots(app, Path(folder), out)
        flow_tab_shots(app, Path(folder), out)
        data_mapping_shots(app, Path(folder), out)
        theme.apply(app, "light")
        run_shots(app, Path(folder), out)
    return 0


def organise_shots(app: Any, folder: Path, out: Path) -> None:
    """Groups (one collapsed) in light and dark; New from template and the empty canvas."""
    from opsflow.flowfile import load_flow
    from opsflow.studio import templates, theme
    from opsflow.studio.mainwindow import MainWindow

    groups = [
        # (nodes, title, colour, collapsed)
        (["apply_patches", "check_reboot", "needs_reboot"], "Patch the host", "green", False),
        (["schedule_reboot", "wait_for_boot", "restart_service"], "Reboot", "purple", False),
        (["notify_rejected", "notify_timeout"], "Not approved", "grey", True),
        (
            ["rollback_snapshot", "open_incident", "notify_failed", "notify_rollback_failed"],
            "When patching fails",
            "red",
            True,
        ),
    ]
    path = ROOT / "sample_flows" / "patch-window.flow.json"
    for mode in ("light", "dark"):
        theme.apply(app, mode)
        window = MainWindow(load_flow(path), path, autosave_folder=folder)
        window.resize(1600, 940)
        window.show()
        app.processEvents()
        for nodes, title, color, collapsed in groups:
            window.scene.select_only(nodes)
            group_id = window.grouping.group_selection()
            assert group_id is not None
            window.grouping.rename(group_id, title)
            window.grouping.recolor(group_id, color)
            if collapsed:
                window.grouping.set_collapsed([group_id], True)
        window.scene.select_only(["wait_for_boot"])
        window.validator.validate_now()
        window.view.set_zoom(0.55)
        window.view.centerOn(1480, 200)
        window.statusBar().clearMessage()
        for _ in range(5):
            app.processEvents()
        target = out / f"studio-groups-{mode}.png"
        window.grab().save(str(target))
        print(f"wrote {target.relative_to(ROOT)}")
        window.document.undo_stack.setClean()
        window.close()
    theme.apply(app, "light")
    window = MainWindow(autosave_folder=folder)
    window.resize(1400, 860)
    window.show()
    for _ in range(5):
        app.processEvents()
    target = out / "studio-empty-light.png"
    window.grab().save(str(target))
    print(f"wrote {target.relative_to(ROOT)}")
    found = templates.list_templates()
    dialog = templates.TemplateDialog(found, window)
    dialog.list.setCurrentRow(next(i for i, t in enumerate(found) if t.path == path))
    dialog.show()
    for _ in range(5):
        app.processEvents()
    target = out / "studio-templates-light.png"
    dialog.grab().save(str(target))
    print(f"wrote {target.relative_to(ROOT)}")
    dialog.close()
    window.close()


def find_shots(app: Any, folder: Path, out: Path) -> None:
    """A node renamed (its id field lists what changed) and the find bar on its new id."""
    from opsflow.flowfile import load_flow
    from opsflow.studio import theme
    from opsflow.studio.mainwindow import MainWindow

    path = ROOT / "sample_flows" / "web-outage-remediation.flow.json"
    for mode in ("light", "dark"):
        theme.apply(app, mode)
        window = MainWindow(load_flow(path), path, autosave_folder=folder)
        window.resize(1600, 940)
        window.show()
        app.processEvents()
        assert window.inspector.renamer.rename("check_health", "probe_health") == ""
        window.validator.validate_now()
        window.view.set_zoom(0.75)
        window.find_bar.open()
        window.find_bar.set_query("probe_health")
        for _ in range(5):
            app.processEvents()
        target = out / f"studio-find-{mode}.png"
        window.grab().save(str(target))
        print(f"wrote {target.relative_to(ROOT)}")
        window.document.undo_stack.setClean()
        window.close()


def flow_tab_shots(app: Any, folder: Path, out: Path) -> None:
    """The inspector's Flow tab: inputs (one open), outputs, credentials and their status.

    The credentials are looked up in an empty in-memory keyring and one in the environment,
    so taking the pictures never reads this machine's keyring.
    """
    import keyring
    from keyring.backend import KeyringBackend
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget

    from opsflow.flowfile import load_flow
    from opsflow.studio import theme
    from opsflow.studio.mainwindow import MainWindow

    class EmptyKeyring(KeyringBackend):
        priority = 1

        def get_password(self, service: str, username: str) -> None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.PasswordSetError("the screenshots store nothing")

        def delete_password(self, service: str, username: str) -> None:
            raise keyring.errors.PasswordDeleteError("the screenshots store nothing")

    previous = keyring.get_keyring()
    keyring.set_keyring(EmptyKeyring())
    found = {"KIND": "ssh-key", "USERNAME": "patch", "PRIVATE_KEY": "(a key)"}
    os.environ.update({f"OPSFLOW_CRED_PATCH_SSH_{key}": value for key, value in found.items()})
    path = ROOT / "sample_flows" / "patch-window.flow.json"
    try:
        for mode in ("light", "dark"):
            theme.apply(app, mode)
            window = MainWindow(load_flow(path), path, autosave_folder=folder)
            window.resize(1600, 940)
            window.show()
            app.processEvents()
            dock = window.findChild(QDockWidget, "dock-inspector")
            window.resizeDocks([dock], [440], Qt.Orientation.Horizontal)
            window.scene.clearSelection()
            window.inspector.show_node(None)
            window.validator.validate_now()
            window.inspector.show_flow("inputs")
            for _ in range(5):
                app.processEvents()
            target = out / f"studio-flow-tab-{mode}.png"
            window.grab().save(str(target))
            print(f"wrote {target.relative_to(ROOT)}")
            window.close()
    finally:
        keyring.set_keyring(previous)
        for key in found:
            os.environ.pop(f"OPSFLOW_CRED_PATCH_SSH_{key}", None)


def demo_flow(user: str) -> dict[str, Any]:
    """A flow that runs on any machine: local commands, a condition and an approval."""
    nodes = [
        {"id": "start", "type": "trigger.manual", "title": "Operator starts"},
        {
            "id": "status",
            "type": "action.shell",
            "title": "Check service status",
            "params": {"command": ["echo", "{{ inputs.service }}: inactive (dead)"]},
        },
        {
            "id": "is_down",
            "type": "condition.if",
            "title": "Service down?",
            "params": {"condition": "'inactive' in nodes.status.output.stdout"},
        },
        {
            "id": "restart",
            "type": "action.shell",
            "title": "Restart service",
            "params": {"command": ["sleep", "4"]},
        },
        {
            "id": "confirm",
            "type": "control.approval",
            "title": "Owner confirms",
            "params": {
                "approvers": [user],
                "message": "{{ inputs.service }} was restarted. Close the incident?",
                "timeout_s": 3600,
            },
        },
        {
            "id": "close",
            "type": "action.set_vars",
            "title": "Close incident",
            "params": {"values": {"closed": True}},
        },
        {
            "id": "keep_open",
            "type": "action.set_vars",
            "title": "Keep incident open",
            "params": {"values": {"closed": False}},
        },
        {
            "id": "healthy",
            "type": "action.set_vars",
            "title": "Nothing to do",
            "params": {"values": {"closed": False}},
        },
    ]
    wires = [
        ("start", "out", "status"),
        ("status", "success", "is_down"),
        ("is_down", "true", "restart"),
        ("is_down", "false", "healthy"),
        ("restart", "success", "confirm"),
        ("confirm", "approved", "close"),
        ("confirm", "rejected", "keep_open"),
        ("confirm", "timeout", "keep_open"),
    ]
    edges = [
        {"id": f"e{i}", "from": a, "port": port, "to": b} for i, (a, port, b) in enumerate(wires, 1)
    ]
    return {
        "format": "opsflow.flow",
        "version": 1,
        "id": "service-restart-demo",
        "name": "Restart a service (demo)",
        "inputs": {"service": {"type": "string", "default": "nginx"}},
        "nodes": nodes,
        "edges": edges,
    }


def run_shots(app: Any, folder: Path, out: Path) -> None:
    """A run in progress, paused at a breakpoint, and waiting for an approval."""
    from PySide6.QtCore import QSettings

    from opsflow.autolayout import auto_layout
    from opsflow.flowfile import parse_flow, save_flow
    from opsflow.model.flow import NodePlacement
    from opsflow.studio.mainwindow import MainWindow
    from opsflow.studio.run.session import current_user
    from opsflow.studio.run.start_dialog import StartChoice

    flow = parse_flow(json.dumps(demo_flow(current_user())))
    flow.layout.nodes = {n: NodePlacement(x=x, y=y) for n, (x, y) in auto_layout(flow).items()}
    path = folder / "service-restart-demo.flow.json"
    save_flow(flow, path)

    def settle(window: Any, until: Any, limit_s: float = 20) -> None:
        began = time.monotonic()
        while not until() and time.monotonic() - began < limit_s:
            app.processEvents()
            time.sleep(0.02)
        for _ in range(10):
            app.processEvents()
            time.sleep(0.02)

    def state(window: Any, node: str) -> str:
        view = window.session.view
        run = view.nodes.get(node) if view is not None else None
        return run.state if run is not None else ""

    def shoot(window: Any, name: str) -> None:
        selected = window.scene.selected_node_ids()
        if selected:
            window.view.center_on_node(selected[0])
            settle(window, lambda: False, 0.2)
        target = out / f"{name}.png"
        window.grab().save(str(target))
        print(f"wrote {target.relative_to(ROOT)}")

    choice = StartChoice("start", None, {"service": "nginx"}, False)
    QSettings().remove("window")  # the default panels, not those the last shot left
    window = MainWindow(parse_flow(path.read_text()), path, autosave_folder=folder)
    window.resize(1600, 940)
    window.show()
    settle(window, lambda: not window.validator.is_pending())
    window.view.set_zoom(0.8)
    window.view.centerOn(window.scene.items_bounds().center())
    window.scene.select_only(["restart"])
    window.session.toggle_breakpoint("close")
    window.runs.start_with(choice)
    settle(window, lambda: state(window, "restart") == "running")
    shoot(window, "studio-run-progress")
    settle(window, lambda: state(window, "confirm") == "waiting")
    window.scene.select_only(["confirm"])
    window.runs.approvals_dock.raise_()
    settle(window, lambda: False, 0.3)
    shoot(window, "studio-run-approval")
    view = window.session.view
    window.session.decide(view.run_id, "confirm", "approved", comment="checked the site")
    settle(window, lambda: state(window, "close") == "paused")
    window.scene.select_only(["close"])
    window.runs.run_dock.raise_()
    settle(window, lambda: False, 0.3)
    shoot(window, "studio-run-paused")
    window.session.continue_()
    settle(window, lambda: not window.session.busy)
    window.close()


def data_mapping_shots(app: Any, folder: Path, out: Path) -> None:
    """After a run: a node's input and output side by side in the Run panel, and a command
    being completed from the last run's output (type and sample in the popup)."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QPainter
    from PySide6.QtTest import QTest

    from opsflow.autolayout import auto_layout
    from opsflow.flowfile import parse_flow
    from opsflow.model.flow import NodePlacement
    from opsflow.studio import theme
    from opsflow.studio.mainwindow import MainWindow

    def shell(node_id: str, title: str, *argv: str) -> dict[str, Any]:
        return {"id": node_id, "type": "action.shell", "title": title, "params": {"command": argv}}

    disks = [{"mount": "/", "used_percent": 91}, {"mount": "/var", "used_percent": 40}]
    facts = {"host": "{{ inputs.host }}", "line": "{{ nodes.probe.output.stdout }}", "disks": disks}
    nodes = [
        {"id": "start", "type": "trigger.manual", "title": "Operator starts"},
        shell("probe", "Measure disk", "echo", "{{ inputs.host }}: / 91% used"),
        {
            "id": "facts",
            "type": "action.set_vars",
            "title": "Collect facts",
            "params": {"values": facts},
        },
        shell("report", "Report", "echo", "{{ nodes.facts.output.host }} is full"),
    ]
    wires = [
        ("start", "out", "probe"),
        ("probe", "success", "facts"),
        ("facts", "success", "report"),
    ]
    edges = [{"id": f"e{i}", "from": a, "port": p, "to": b} for i, (a, p, b) in enumerate(wires)]
    document = {"format": "opsflow.flow", "version": 1, "id": "disk-report", "name": "Disk report"}
    document |= {"inputs": {"host": {"type": "string", "default": "web-01"}}}
    flow = parse_flow(json.dumps({**document, "nodes": nodes, "edges": edges}))
    flow.layout.nodes = {n: NodePlacement(x=x, y=y) for n, (x, y) in auto_layout(flow).items()}

    def settle(until: Any, limit_s: float = 20) -> None:
        began = time.monotonic()
        while not until() and time.monotonic() - began < limit_s:
            app.processEvents()
            time.sleep(0.02)
        for _ in range(10):
            app.processEvents()
            time.sleep(0.02)

    def shoot(mode: str) -> None:
        window = MainWindow(flow, None, autosave_folder=folder)
        window.resize(1600, 940)
        window.show()
        settle(lambda: not window.validator.is_pending())
        window.session.run()
        settle(lambda: window.session.view is not None and window.session.view.phase == "succeeded")
        window.runs.run_dock.raise_()
        window.resizeDocks([window.runs.run_dock], [330], Qt.Orientation.Vertical)
        window.scene.select_only(["report"])
        settle(lambda: False, 0.3)
        panel = window.runs.run_panel
        panel.show_node("facts")
        panel.input_tree.expand_to(["values", "host"])
        panel.output_tree.expand_to(["disks", 0, "used_percent"])
        edit = window.inspector.editor("params.command").edit  # type: ignore[union-attr]
        edit.setFocus()
        edit.setPlainText("echo\n{{ nodes.probe.output.s }}")
        cursor = edit.textCursor()
        cursor.setPosition(len("echo\n{{ nodes.probe.output.s"))
        edit.setTextCursor(cursor)
        QTest.keyClicks(edit, "t")
        settle(lambda: False, 0.3)
        shot = window.grab()
        popup = edit.completer.popup()
        # The popup is a window of its own, which the offscreen screen (smaller than this
        # window) pushes aside: paint it under the cursor, kept inside the window as a
        # desktop keeps it on the screen.
        below = edit.viewport().mapTo(window, edit.cursorRect().bottomLeft())
        at = QPoint(min(below.x(), window.width() - popup.width()), below.y() + 2)
        with QPainter(shot) as painter:
            painter.drawPixmap(at, popup.grab())
        target = out / f"studio-data-mapping-{mode}.png"
        shot.save(str(target))
        print(f"wrote {target.relative_to(ROOT)}")
        popup.hide()
        window.document.undo_stack.setClean()
        window.close()

    for mode in ("light", "dark"):
        theme.apply(app, mode)
        shoot(mode)


if __name__ == "__main__":
    sys.exit(main())
