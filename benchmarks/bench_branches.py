"""Parallel branches: six sleeping async nodes and one blocking node between a trigger and a join.

Each branch node sleeps 0.3 s, six of them on the event loop (`asyncio.sleep`) and one
in plain blocking code (`time.sleep`, which the runner must hand to a worker thread);
a `join: all` node (a no-op) waits for the seven. Run concurrently, the flow takes
about 0.3 s; one branch after another, 2.1 s. Baselines measured in the same run: the same sleeps
one after another (no concurrency) and all at once with `asyncio.gather` plus
`asyncio.to_thread` (the floor). Target: the engine at most 1.5 s (what the unit test
asserted before timings moved here), journal off and on.

Run with `make bench` (or `python benchmarks/bench_branches.py [--strict]`); prints a
table of medians; exits 1 only with --strict when a target is missed.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # "bench_branches:nap" must import

from opsflow.catalog.fields import Params
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec
from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.model.flow import Edge, Flow, Node
from opsflow.nodeapi import NodeCall, NodeOutcome

BRANCHES = 6
SLEEP_S = 0.3
REPEATS = 5
TARGET_S = 1.5
NAP, NAP_BLOCKING, DONE = "bench.nap", "bench.nap_blocking", "bench.done"


async def nap(call: NodeCall) -> NodeOutcome:
    """Sleeps on the event loop."""
    await asyncio.sleep(SLEEP_S)
    return NodeOutcome(None)


def nap_blocking(call: NodeCall) -> NodeOutcome:
    """Sleeps in blocking code: the runner must run it in a worker thread."""
    time.sleep(SLEEP_S)
    return NodeOutcome(None)


async def done(call: NodeCall) -> NodeOutcome:
    """Does nothing: the join."""
    return NodeOutcome(None)


class NoParams(Params):
    """No parameters at all."""


def _spec(type_id: str, executor: str) -> NodeSpec:
    return NodeSpec(
        type=type_id,
        category="action",
        title=type_id,
        doc="Benchmark node: sleeps, or does nothing.",
        icon="action",
        params=NoParams,
        ports=ACTION_PORTS,
        side_effects=False,
        idempotent=True,
        executor=executor,
    )


def catalog() -> Catalog:
    return Catalog(
        [
            *builtin_specs(),
            _spec(NAP, "bench_branches:nap"),
            _spec(NAP_BLOCKING, "bench_branches:nap_blocking"),
            _spec(DONE, "bench_branches:done"),
        ]
    )


def branches_flow() -> Flow:
    """start -> b0..b5 (async naps) and sync (a blocking nap) -> join (join: all, a no-op)."""
    middle = [Node(id=f"b{i}", type=NAP) for i in range(BRANCHES)]
    middle.append(Node(id="sync", type=NAP_BLOCKING))
    join = Node(id="join", type=DONE, join="all")
    nodes = [Node(id="start", type="trigger.manual"), *middle, join]
    edges = [Edge(id=f"in{n.id}", source="start", port="out", target=n.id) for n in middle]
    edges += [Edge(id=f"out{n.id}", source=n.id, port="success", target="join") for n in middle]
    return Flow(id="bench-branches", nodes=nodes, edges=edges)


async def one_after_another() -> None:
    """The baseline without concurrency: every branch's sleep in turn."""
    for _ in range(BRANCHES):
        await asyncio.sleep(SLEEP_S)
    time.sleep(SLEEP_S)


async def all_at_once() -> None:
    """The floor: the same sleeps at once, the blocking one in a thread."""
    naps = [asyncio.sleep(SLEEP_S) for _ in range(BRANCHES)]
    await asyncio.gather(*naps, asyncio.to_thread(time.sleep, SLEEP_S))


async def engine(flow: Flow, nodes: Catalog, journal: Journal | None) -> None:
    result = await LocalRunner(flow, catalog=nodes, journal=journal).run()
    if result.status != "succeeded":
        raise SystemExit(f"benchmark run ended {result.status}: {result.error}")


def median_s(action: Callable[[], Coroutine[Any, Any, object]]) -> float:
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        asyncio.run(action())
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    flow, nodes = branches_flow(), catalog()
    rows: list[tuple[str, float, float | None]] = []
    rows.append(("one after another (baseline)", median_s(one_after_another), None))
    rows.append(("all at once, gather + to_thread (floor)", median_s(all_at_once), None))
    rows.append(("engine, no journal", median_s(lambda: engine(flow, nodes, None)), TARGET_S))
    with tempfile.TemporaryDirectory() as folder, Journal(Path(folder) / "runs.sqlite") as journal:
        on = median_s(lambda: engine(flow, nodes, journal))
    rows.append(("engine, journal on", on, TARGET_S))
    floor = rows[1][1]
    print(
        f"{BRANCHES} async branches + 1 blocking branch of {SLEEP_S} s each, then a join; "
        f"median of {REPEATS}"
    )
    print(f"{'':42} {'seconds':>8} {'over floor':>11} {'target':>7}")
    missed = False
    for name, seconds, target in rows:
        mark = ""
        if target is not None:
            mark = "ok" if seconds <= target else "OVER"
            missed |= seconds > target
        over = f"{(seconds - floor) * 1000:+.0f} ms"
        shown_target = f"<= {target}" if target is not None else ""
        print(f"{name:42} {seconds:>8.3f} {over:>11} {shown_target:>7} {mark}")
    return 1 if missed and "--strict" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
