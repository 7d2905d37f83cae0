"""Running a 1,000-node flow of fast nodes from the Studio: GUI stalls and time over the CLI.

A QTimer ticks every 5 ms on the GUI thread while the run goes; the longest
gap between ticks is the worst stall a user could feel (target <= 50 ms).
Baselines in the same run: the same flow with `opsflow run` (a process, as a
user runs it) and with the engine in-process (no GUI). Target: the Studio
takes at most 1.5 x the `opsflow run` time.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

NODES = 1_000
REPEATS = 3


def build(path: Path, count: int) -> None:
    from opsflow.autolayout import auto_layout
    from opsflow.flowfile import parse_flow, save_flow
    from opsflow.model.flow import NodePlacement

    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger.manual"}]
    edges = []
    previous = "start"
    for index in range(1, count):
        node_id = f"n{index:04d}"
        if index % 10 == 0:
            node = {"id": node_id, "type": "condition.if", "params": {"condition": "true"}}
        else:
            node = {"id": node_id, "type": "action.set_vars", "params": {"values": {"i": index}}}
        nodes.append(node)
        port = "true" if nodes[-2]["type"] == "condition.if" else "success"
        if previous == "start":
            port = "out"
        edges.append({"id": f"e{index}", "from": previous, "port": port, "to": node_id})
        previous = node_id
    document = {"format": "opsflow.flow", "version": 1, "id": "bench-run", "nodes": nodes}
    document["edges"] = edges
    flow = parse_flow(json.dumps(document))
    flow.layout.nodes = {n: NodePlacement(x=x, y=y) for n, (x, y) in auto_layout(flow).items()}
    save_flow(flow, path)


def studio_run(path: Path, store: Path, fit: bool = False) -> tuple[float, float]:
    from PySide6.QtCore import QElapsedTimer, QTimer

    from opsflow.flowfile import load_flow
    from opsflow.studio.app import application
    from opsflow.studio.mainwindow import MainWindow
    from opsflow.studio.run.start_dialog import StartChoice

    app = application()
    window = MainWindow(
        load_flow(path), path, autosave_folder=store.parent / "rec", journal_path=store
    )
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    while window.validator.is_pending():  # the check after opening, as a user would wait
        app.processEvents()
        time.sleep(0.005)
    if fit:  # every node on screen: every state change is repainted
        window.view.fit_items()
    else:
        window.view.set_zoom(0.6)
    app.processEvents()
    clock = QElapsedTimer()
    gaps: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        gaps.append(now - last[0])
        last[0] = now

    ended: list[float] = []
    window.session.run_ended.connect(lambda *_: ended.append(time.perf_counter()))
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    clock.start()
    timer.start()
    began = time.perf_counter()
    window.runs.start_with(StartChoice("start", None, {}, False))
    while not ended:
        app.processEvents()
        time.sleep(0.001)
    took = ended[0] - began
    timer.stop()
    status = window.session.view.phase if window.session.view else "?"
    assert status == "succeeded", status
    window.close()
    return took, max(gaps[1:], default=0.0)


def engine_run(path: Path, store: Path) -> float:
    from opsflow.engine.journal import Journal
    from opsflow.engine.local import LocalRunner
    from opsflow.flowfile import load_flow

    flow = load_flow(path)
    with Journal(store) as journal:
        runner = LocalRunner(flow, journal=journal)
        began = time.perf_counter()
        asyncio.run(runner.run())
        return time.perf_counter() - began


def cli_run(path: Path, store: Path) -> float:
    opsflow = Path(sys.executable).with_name("opsflow")
    began = time.perf_counter()
    subprocess.run(
        [str(opsflow), "run", str(path), "--store", str(store)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.flow.json"
        build(path, NODES)
        store = Path(folder) / "runs.sqlite"
        studio, stalls, engine, cli = [], [], [], []
        for _ in range(REPEATS):
            took, stall = studio_run(path, store)
            studio.append(took)
            stalls.append(stall)
            engine.append(engine_run(path, store))
            cli.append(cli_run(path, store))
        small = Path(folder) / "small.flow.json"
        build(small, 300)
        fit_stalls = [studio_run(small, store, fit=True)[1] for _ in range(REPEATS)]
    s, e, c = (statistics.median(v) for v in (studio, engine, cli))
    print(f"{NODES:,}-node chain (set_vars and conditions), journal on, median of {REPEATS}")
    print(f"{'':34} {'seconds':>8}")
    print(f"{'Studio (run start to run_ended)':34} {s:>8.2f}")
    print(f"{'opsflow run (process, baseline)':34} {c:>8.2f}")
    print(f"{'engine in-process (no GUI)':34} {e:>8.2f}")
    print(f"Studio / opsflow run: {s / c:.2f} x (target <= 1.5)")
    print(f"worst GUI stall during the Studio runs: {max(stalls):.1f} ms (target <= 50)")
    print(
        "worst GUI stall, 300 nodes all on screen (fit to view): "
        f"{max(fit_stalls):.1f} ms (median {statistics.median(fit_stalls):.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
