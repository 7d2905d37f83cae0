"""Validation from 10,000 to 50,000 nodes, and the Studio's upstream questions at 5,000.

Two shapes; every step's templates refer to its parent, its grandparent and a far ancestor:
- chain: a trigger and one line of shell steps; the far reference is to the step halfway back;
- branched: bench_flowfile.py's flow (20 branches of diamonds: a step, a condition, two sides
  and a join) whose side steps also refer to their branch's first step or to a diamond side
  far up.
In both, one step in 50 refers to a node that is not upstream (a later step, another
branch), so `not-upstream` is reported and that answer is timed too.

Each (code, shape, size) runs in its own process, so its peak memory (ru_maxrss) is its own:
`load_flow` of the file, then `validate_flow` five times, each with the expression caches
emptied as in `opsflow validate`. Times are CPU times, the least of the runs: work is
single-threaded, and other processes on the machine would only add to wall time. Baseline
in the same run:
networkx loading the same file (json), building its DiGraph and sorting it topologically,
the graph work validation first did with networkx. `--before REF|PATH` adds the code of
another commit (unpacked with git archive, as bench_startup.py does) and checks that it
reports the same diagnostics. Targets: time and memory linear in the size; peak <= 250 MB
at 40,000 nodes.

The Studio rows (a 5,000-node chain, offscreen): one connection check as a dragged wire
moves over a node (a loop refused, a wire allowed) and one expression check as a key is
typed, with the document's kept index, and with an index built for each question.
Run with `make bench` or `python benchmarks/bench_validate.py [--before REF] [--sizes ...]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZES = (10_000, 20_000, 40_000, 50_000)
SHAPES = ("chain", "branched")
STUDIO_SIZE = 5_000
REPEATS = 5
#: Every this many steps, one refers to a node that is not upstream.
NOT_UPSTREAM_EVERY = 50
PEAK_TARGET_MB, PEAK_TARGET_SIZE = 250, 40_000


def ref(node_id: str) -> str:
    return f"{{{{ nodes.{node_id}.output.stdout }}}}"


def chain_flow(size: int) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger.manual"}]
    edges: list[dict[str, Any]] = []
    for i in range(1, size):
        step, parent = f"s{i}", ("start" if i == 1 else f"s{i - 1}")
        grandparent = f"s{i - 2}" if i > 2 else "start"
        far = f"s{i // 2}" if i >= 4 else "start"
        if i % NOT_UPSTREAM_EVERY == 0 and i + 1 < size:
            far = f"s{i + 1}"
        command = ["echo", ref(parent), ref(grandparent), ref(far)]
        nodes.append({"id": step, "type": "action.shell", "params": {"command": command}})
        port = "out" if parent == "start" else "success"
        edges.append({"id": f"e{i}", "from": parent, "port": port, "to": step})
    return {"format": "opsflow.flow", "version": 1, "id": "chain", "nodes": nodes, "edges": edges}


def branched_flow(size: int) -> dict[str, Any]:
    from bench_flowfile import BRANCHES, build_flow  # not in the workers: it imports Opsflow

    document = build_flow(size)
    count = 0
    for node in document["nodes"]:
        match = re.fullmatch(r"b(\d+)_(\d+)_a", node["id"])
        if match is None:
            continue
        branch, step = int(match[1]), int(match[2])
        if count % NOT_UPSTREAM_EVERY == 0:
            far = f"b{(branch + 1) % BRANCHES}_{step}_run"  # another branch: not upstream
        elif step >= 2 and step % 2 == 0:
            far = f"b{branch}_{step // 2}_b"  # a side of a diamond far up
        else:
            far = f"b{branch}_0_run"  # the branch's first step
        node["params"]["command"][2] = ref(far)
        count += 1
    return document


# -- what each process measures ----------------------------------------------------------------


def best_ms(action: Callable[[], object], repeats: int) -> float:
    """The least CPU time of `repeats` runs: other work on the machine only ever adds."""
    times = []
    for _ in range(repeats):
        began = time.process_time()
        action()
        times.append((time.process_time() - began) * 1000)
    return min(times)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_validate(path: Path) -> dict[str, Any]:
    from opsflow.expr.parse import parse_expression, parse_template
    from opsflow.flowfile import load_flow
    from opsflow.validate import validate_flow

    began = time.process_time()
    flow = load_flow(path)
    load_ms = (time.process_time() - began) * 1000
    loaded_mb = peak_mb()
    found: list[Any] = []

    def cold_validate() -> None:
        parse_template.cache_clear()
        parse_expression.cache_clear()
        found[:] = validate_flow(flow)

    validate_ms = best_ms(cold_validate, REPEATS)
    lines = [d.format() for d in found]
    return {
        "load_ms": load_ms,
        "validate_ms": validate_ms,
        "loaded_mb": loaded_mb,
        "peak_mb": peak_mb(),
        "diagnostics": len(lines),
        "digest": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
    }


def worker_networkx(path: Path) -> dict[str, Any]:
    import networkx as nx

    def load_build_sort() -> None:
        document = json.loads(path.read_text(encoding="utf-8"))
        graph = nx.DiGraph()
        graph.add_nodes_from(node["id"] for node in document["nodes"])
        graph.add_edges_from((edge["from"], edge["to"]) for edge in document["edges"])
        list(nx.topological_sort(graph))

    return {"ms": best_ms(load_build_sort, REPEATS), "peak_mb": peak_mb()}


def worker_studio(path: Path) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from opsflow.flowfile import load_flow
    from opsflow.model.flow import Edge, Node
    from opsflow.studio.app import application
    from opsflow.studio.canvas.scene import FlowScene
    from opsflow.studio.document import FlowDocument
    from opsflow.studio.inspector import Inspector
    from opsflow.studio.inspector.fields import CodeFieldEditor

    application()
    flow = load_flow(path)
    last = flow.nodes[-1].id
    decide = Node(
        id="decide", type="condition.if", params={"condition": "nodes.s1.output.exit_code == 0"}
    )
    joined = Edge.model_validate({"id": "decide", "from": last, "port": "success", "to": "decide"})
    flow = flow.model_copy(update={"nodes": [*flow.nodes, decide], "edges": [*flow.edges, joined]})
    document = FlowDocument(flow)
    scene = FlowScene(document)
    inspector = Inspector(document)
    inspector.show_node("decide")
    editor = inspector.editor("params.condition")
    assert isinstance(editor, CodeFieldEditor)
    middle = f"s{len(flow.nodes) // 2}"

    def loop() -> object:
        return scene.connection_problem(last, "success", "s1")

    def allowed() -> object:
        return scene.connection_problem(middle, "error", last)

    assert loop() is not None and allowed() is None
    rows = {"loop": best_ms(loop, 21), "allowed": best_ms(allowed, 21)}
    rows["keystroke"] = best_ms(editor.recheck, 21)
    try:
        from opsflow.validate.graph import FlowGraph, Upstream, can_connect
    except ImportError:  # code from before the core had the rules
        return rows

    def fresh(source: str, port: str, target: str) -> object:
        return can_connect(document.flow(), source, port, target, catalog=document.catalog)

    def fresh_keystroke() -> object:
        return Upstream(FlowGraph(document.flow())).is_upstream("s1", "decide")

    rows["loop fresh"] = best_ms(lambda: fresh(last, "success", "s1"), 21)
    rows["allowed fresh"] = best_ms(lambda: fresh(middle, "error", last), 21)
    rows["keystroke fresh"] = best_ms(fresh_keystroke, 21)
    return rows


WORKERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "validate": worker_validate,
    "networkx": worker_networkx,
    "studio": worker_studio,
}


# -- the table -------------------------------------------------------------------------------------


def run(kind: str, path: Path, source: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    done = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench_validate: {kind} {path.name}: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--before", metavar="REF|PATH", help="also measure this commit's code")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--strict", action="store_true", help="exit 1 when over a target")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # `make bench` passes every script the same options
    if args.worker:
        kind, path = args.worker
        print(json.dumps(WORKERS[kind](Path(path))))
        return 0

    with tempfile.TemporaryDirectory() as folder:
        codes: dict[str, Path | None] = {"now": ROOT / "src"}
        if args.before:
            from bench_startup import unpack_source

            codes = {"before": unpack_source(args.before, Path(folder) / "before"), **codes}
        builders = {"chain": chain_flow, "branched": branched_flow}
        print("validation: load_flow, then validate_flow (CPU ms, least of 5, caches emptied);")
        print("peak = the process's peak RSS; networkx = json load + DiGraph + topological sort")
        header = f"{'shape':<9}{'nodes':>7}{'networkx ms':>12}{'MB':>6}"
        for name in codes:
            header += f"{name + ' load':>12}{'validate':>9}{'peak MB':>8}"
        print(header + "  diagnostics")
        failed = False
        for shape in SHAPES:
            for size in args.sizes:
                path = Path(folder) / f"{shape}-{size}.flow.json"
                path.write_text(json.dumps(builders[shape](size)), encoding="utf-8")
                baseline = run("networkx", path, None)
                line = f"{shape:<9}{size:>7,}{baseline['ms']:>12.0f}{baseline['peak_mb']:>6.0f}"
                results = {name: run("validate", path, source) for name, source in codes.items()}
                for result in results.values():
                    line += f"{result['load_ms']:>12.0f}{result['validate_ms']:>9.0f}"
                    line += f"{result['peak_mb']:>8.0f}"
                now = results["now"]
                same = {r["digest"] for r in results.values()} == {now["digest"]}
                line += f"  {now['diagnostics']:,}" + ("" if same else " DIFFERENT")
                if size == PEAK_TARGET_SIZE:
                    over = now["peak_mb"] > PEAK_TARGET_MB
                    failed |= over
                    line += f"  peak <= {PEAK_TARGET_MB} MB: {'OVER' if over else 'ok'}"
                failed |= not same
                print(line, flush=True)
                path.unlink()

        path = Path(folder) / "studio.flow.json"
        path.write_text(json.dumps(chain_flow(STUDIO_SIZE)), encoding="utf-8")
        studio = {name: run("studio", path, source) for name, source in codes.items()}
        print(f"\nStudio, a {STUDIO_SIZE:,}-node chain: CPU ms of one question (least of 21)")
        names = "".join(f"{name:>10}" for name in codes)
        print(f"{'question':<58}{names}{'index per question':>20}")
        for key, label in (
            ("loop", "wire over a node: refused, it would make a loop"),
            ("allowed", "wire over a node: allowed"),
            ("keystroke", "a key typed in an expression (is 's1' upstream?)"),
        ):
            cells = "".join(f"{studio[name][key]:>10.2f}" for name in codes)
            print(f"{label:<58}{cells}{studio['now'][key + ' fresh']:>20.2f}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
