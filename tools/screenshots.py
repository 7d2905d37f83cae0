"""Write the README pictures: the Studio with two sample flows, light and dark, into docs/.

Run with `make screenshots` (offscreen; no display needed).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
