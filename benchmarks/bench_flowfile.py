"""Load, validate and save a 10,000-node flow; baseline: plain json in the same run.

Run with `make bench` (or `python benchmarks/bench_flowfile.py`). Prints a
table of median times over several repetitions.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsflow.expr.parse import parse_expression, parse_template
from opsflow.flowfile import load_flow, save_flow
from opsflow.validate import validate_flow

BRANCHES = 20
REPEATS = 7


def build_flow(total_nodes: int = 10_000) -> dict[str, Any]:
    """A trigger fanning out to chains of diamonds (fan-out of 3, then a join)."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger.manual"}]
    edges: list[dict[str, Any]] = []
    layout: dict[str, dict[str, float]] = {"start": {"x": 0, "y": 0}}
    per_branch = (total_nodes - 1) // BRANCHES

    def add(node_id: str, after: str, port: str, kind: str, x: float, y: float) -> None:
        if kind == "shell":
            node = {
                "id": node_id,
                "type": "action.shell",
                "params": {"command": ["echo", f"{{{{ nodes.{after}.output.stdout }}}}", node_id]},
            }
        elif kind == "if":
            node = {
                "id": node_id,
                "type": "condition.if",
                "params": {"condition": f"nodes.{after}.output.exit_code == 0"},
            }
        else:
            node = {
                "id": node_id,
                "type": "action.set_vars",
                "params": {"values": {"last": node_id}},
            }
        nodes.append(node)
        edges.append({"id": f"e{len(edges)}", "from": after, "port": port, "to": node_id})
        layout[node_id] = {"x": x, "y": y}

    for branch in range(BRANCHES):
        previous, count, step = "start", 0, 0
        while count + 5 <= per_branch:
            base = f"b{branch}_{step}"
            add(
                f"{base}_run",
                previous,
                "out" if previous == "start" else "success",
                "shell",
                step * 5,
                branch,
            )
            add(f"{base}_ok", f"{base}_run", "success", "if", step * 5 + 1, branch)
            add(f"{base}_a", f"{base}_ok", "true", "shell", step * 5 + 2, branch)
            # refer to the grandparent, not the parent: exercises the full upstream check
            nodes[-1]["params"]["command"][1] = f"{{{{ nodes.{base}_run.output.stdout }}}}"
            add(f"{base}_b", f"{base}_ok", "false", "set", step * 5 + 2, branch + 0.5)
            add(f"{base}_join", f"{base}_a", "success", "set", step * 5 + 3, branch)
            edges.append(
                {
                    "id": f"e{len(edges)}",
                    "from": f"{base}_b",
                    "port": "success",
                    "to": f"{base}_join",
                }
            )
            previous, count, step = f"{base}_join", count + 5, step + 1
        while count < per_branch:
            add(f"b{branch}_tail{count}", previous, "success", "set", step * 5 + count, branch)
            previous, count = f"b{branch}_tail{count}", count + 1
    while len(nodes) < total_nodes:
        add(f"extra{len(nodes)}", "start", "out", "set", -1, len(nodes))
    return {
        "format": "opsflow.flow",
        "version": 1,
        "id": "bench-10k",
        "name": "Benchmark flow",
        "nodes": nodes,
        "edges": edges,
        "layout": {"nodes": layout},
    }


def median_ms(action: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    document = build_flow()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.flow.json"
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        flow = load_flow(path)
        save_flow(flow, path)
        size_mb = path.stat().st_size / 1e6
        diagnostics = validate_flow(flow)
        assert not diagnostics, diagnostics[:3]
        text = path.read_text(encoding="utf-8")

        def cold_validate() -> None:
            parse_template.cache_clear()
            parse_expression.cache_clear()
            validate_flow(flow)

        rows = [
            ("load (read, parse, check, migrate, model)", median_ms(lambda: load_flow(path)), 300),
            ("validate, first time (expression cache empty)", median_ms(cold_validate), 200),
            ("validate again (parse cache warm)", median_ms(lambda: validate_flow(flow)), 200),
            ("save (canonical, atomic)", median_ms(lambda: save_flow(flow, path)), 300),
            ("baseline: json.loads of the same file", median_ms(lambda: json.loads(text)), None),
            (
                "baseline: json.dumps(indent=2) of the same data",
                median_ms(lambda: json.dumps(document, indent=2)),
                None,
            ),
        ]
    print(f"flow file, {len(flow.nodes):,} nodes, {len(flow.edges):,} edges, {size_mb:.1f} MB")
    print(f"{'step':<50} {'median ms':>10} {'target':>8}")
    failed = False
    for name, ms, target in rows:
        mark = "" if target is None else ("ok" if ms <= target else "OVER")
        failed |= mark == "OVER"
        shown = "" if target is None else f"<= {target}"
        print(f"{name:<50} {ms:>10.1f} {shown:>8} {mark}")
    return 1 if failed and "--strict" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
