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
        theme.apply(app, "light")
        run_shots(app, Path(folder), out)
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
