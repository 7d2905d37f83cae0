"""The Studio canvas with 500, 2,000 and 5,000 nodes: open, repaint, drag, layout, undo, memory.

Each size runs in its own process (so peak memory is its own), offscreen.
Baseline in the same run: a bare QGraphicsScene with one rectangle and one
text item per node, repainted the same way. Targets at 5,000 nodes: open
<= 3 s, repaint at fit-to-view <= 50 ms, one drag move <= 10 ms, <= 500 MB.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SIZES = (500, 2_000, 5_000)
REPEATS = 9


def median_ms(action: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(size: int, index: str) -> dict[str, float]:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QGraphicsScene

    from opsflow.flowfile import load_flow
    from opsflow.studio.app import application
    from opsflow.studio.clipboard import fragment_text
    from opsflow.studio.mainwindow import MainWindow

    app = application()
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.flow.json"
        _write_laid_out(path, size)
        began = time.perf_counter()
        window = MainWindow(load_flow(path), path, autosave_folder=Path(folder) / "recovery")
        window.resize(1600, 1000)
        window.show()
        app.processEvents()
        window.view.fit_items()
        window.view.viewport().repaint()
        open_ms = (time.perf_counter() - began) * 1000
    view, scene = window.view, window.scene
    if index == "none":
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
    viewport = view.viewport()
    view.fit_items()
    fit_ms = median_ms(viewport.repaint)
    view.set_zoom(1.0)
    first = next(iter(scene.nodes.values()))
    view.centerOn(first)
    full_ms = median_ms(viewport.repaint)

    # Drag the first node: press on its title, move in steps, measure each move + paint.
    start = view.mapFromScene(first.sceneBoundingRect().center() + QPointF(0, -10))
    left = Qt.MouseButton.LeftButton
    app.sendEvent(viewport, _mouse(QMouseEvent.Type.MouseButtonPress, start, left, left))
    moves = []
    for step in range(1, 31):
        point = start + QPoint(step * 3, step * 2)
        began = time.perf_counter()
        app.sendEvent(
            viewport, _mouse(QMouseEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left)
        )
        viewport.repaint()
        moves.append((time.perf_counter() - began) * 1000)
    app.sendEvent(
        viewport, _mouse(QMouseEvent.Type.MouseButtonRelease, point, left, Qt.MouseButton.NoButton)
    )
    app.processEvents()

    began = time.perf_counter()
    window.editor.auto_layout()
    layout_ms = (time.perf_counter() - began) * 1000

    chosen = sorted(scene.nodes)[:500]
    window.editor.paste_text(fragment_text(window.document, chosen, []))
    began = time.perf_counter()
    window.document.undo_stack.undo()
    undo_ms = (time.perf_counter() - began) * 1000

    baseline = _baseline_repaint(size)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    window.document.undo_stack.setClean()
    window.close()
    return {
        "open_ms": open_ms,
        "fit_ms": fit_ms,
        "full_ms": full_ms,
        "drag_ms": statistics.median(moves),
        "layout_ms": layout_ms,
        "undo_ms": undo_ms,
        "baseline_fit_ms": baseline,
        "peak_mb": peak_mb,
        "qt_mb": before_mb,
    }


def _write_laid_out(path: Path, size: int) -> None:
    """The flow-file benchmark's flow, placed by auto-layout as a user would arrange it."""
    from bench_flowfile import build_flow
    from opsflow.autolayout import auto_layout
    from opsflow.flowfile import parse_flow, save_flow
    from opsflow.model.flow import NodePlacement

    flow = parse_flow(json.dumps(build_flow(size)))
    placed = auto_layout(flow)
    flow.layout.nodes = {n: NodePlacement(x=x, y=y) for n, (x, y) in placed.items()}
    save_flow(flow, path)


def _mouse(kind, point, button, buttons):  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    local = QPointF(point)
    return QMouseEvent(kind, local, local, button, buttons, Qt.KeyboardModifier.NoModifier)


def _baseline_repaint(size: int) -> float:
    """A bare scene: a rectangle and a text per node, same grid of positions, fit to view."""
    from PySide6.QtWidgets import QApplication, QGraphicsScene, QGraphicsView

    scene = QGraphicsScene()
    for index in range(size):
        x, y = (index % 100) * 280.0, (index // 100) * 120.0
        scene.addRect(x, y, 200, 60)
        scene.addSimpleText(f"node {index}").setPos(x + 10, y + 10)
    view = QGraphicsView(scene)
    view.resize(1100, 700)
    view.show()
    QApplication.processEvents()
    view.fitInView(scene.itemsBoundingRect())
    return median_ms(view.viewport().repaint)


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--size":
        result = measure(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "bsp")
        print(json.dumps(result))
        return 0
    rows = []
    here = Path(__file__).parent
    for size in SIZES:
        for index in ("bsp", "none") if size == SIZES[-1] else ("bsp",):
            out = subprocess.run(
                [sys.executable, str(here / "bench_studio.py"), "--size", str(size), index],
                capture_output=True,
                text=True,
                check=True,
                cwd=here,
            ).stdout
            rows.append((size, index, json.loads(out.strip().splitlines()[-1])))
    print(
        f"{'nodes':>6} {'index':>5} {'open s':>7} {'fit ms':>7} {'100% ms':>8} {'drag ms':>8} "
        f"{'layout s':>9} {'undo paste s':>13} {'peak MB':>8} {'bare scene fit ms':>18}"
    )
    for size, index, r in rows:
        print(
            f"{size:>6} {index:>5} {r['open_ms'] / 1000:>7.2f} {r['fit_ms']:>7.1f} "
            f"{r['full_ms']:>8.1f} {r['drag_ms']:>8.2f} {r['layout_ms'] / 1000:>9.2f} "
            f"{r['undo_ms'] / 1000:>13.2f} {r['peak_mb']:>8.0f} {r['baseline_fit_ms']:>18.1f}"
        )
    print("targets at 5,000 nodes: open <= 3 s, fit repaint <= 50 ms, drag <= 10 ms, <= 500 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
