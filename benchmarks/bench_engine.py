"""Engine overhead: 10,000 no-op nodes, runs/s of a tiny flow, 200 parallel HTTP calls.

Baselines are measured in the same run, on graphs of the same shape: a plain
Python loop calling the same executor over the same topological order (the
"no engine" floor), one asyncio task per node (the floor of a task-per-node
design), Dask's threaded and synchronous schedulers, raw SQLite inserts for the
journal, and a plain ThreadPoolExecutor for the HTTP calls. Run with `make
bench` (or `python benchmarks/bench_engine.py [--strict]`). Prints a table of
medians; exits 1 only with --strict when a target is missed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import gc
import graphlib
import itertools
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # "engine_nodes:noop" must import

import dask
import dask.threaded
import requests

import engine_nodes
from engine_nodes import HTTP_GET, NOOP, NOOP_INLINE, NOOP_SYNC, noop, noop_sync
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.model.flow import Edge, Flow, FlowSettings, Node
from opsflow.nodeapi import NodeCall

NODES = 10_000
MAX_CONCURRENCY = 1024  # the most FlowSettings allows
REPEATS = 3  # runs of the 10,000-node graphs (engine and baselines); the median counts
LOOP_REPEATS = 7  # the plain loops are cheap
RATE_WINDOWS = 3  # runs/s: the median of this many windows...
RATE_WINDOW_S = 0.5  # ...of this many seconds each
HTTP_CALLS = 200
HTTP_DELAY_S = 0.05
HTTP_REPEATS = 3

TARGET_US_OFF = 25.0
TARGET_US_ON = 150.0
TARGET_RUNS_PER_S = 1000.0
TARGET_HTTP_S = 1.0

Levels = list[list[NodeCall]]


# -- flows and their baselines -------------------------------------------------------------


def _flow(flow_id: str, nodes: list[Node], pairs: list[tuple[str, str]], width: int) -> Flow:
    edges = [
        Edge(id=f"e{i}", source=a, port="out" if a == "start" else "success", target=b)
        for i, (a, b) in enumerate(pairs)
    ]
    settings = FlowSettings(max_concurrency=width)
    return Flow(id=flow_id, settings=settings, nodes=nodes, edges=edges)


def chain_flow(node_type: str, total: int = NODES) -> Flow:
    """trigger.manual -> (total - 1) nodes in a line."""
    ids = ["start", *(f"n{i}" for i in range(1, total))]
    nodes = [Node(id="start", type="trigger.manual")]
    nodes += [Node(id=node_id, type=node_type) for node_id in ids[1:]]
    return _flow("bench-chain", nodes, list(itertools.pairwise(ids)), MAX_CONCURRENCY)


def fan_flow(
    node_type: str,
    width: int = NODES - 2,
    params: dict[str, Any] | None = None,
    max_concurrency: int = MAX_CONCURRENCY,
) -> Flow:
    """trigger.manual -> `width` parallel nodes -> one no-op join node (join: all)."""
    middle = [f"n{i}" for i in range(1, width + 1)]
    nodes = [Node(id="start", type="trigger.manual")]
    nodes += [Node(id=node_id, type=node_type, params=params or {}) for node_id in middle]
    nodes.append(Node(id="join", type=NOOP))
    pairs = [("start", node_id) for node_id in middle] + [(node_id, "join") for node_id in middle]
    return _flow("bench-fan", nodes, pairs, max_concurrency)


def levels(flow: Flow) -> Levels:
    """The flow's nodes in topological order, as generations that may run side by side."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node in flow.nodes:
        sorter.add(node.id)
    for edge in flow.edges:
        sorter.add(edge.target, edge.source)
    sorter.prepare()
    nodes, spec = flow.node_map(), engine_nodes.noop_spec
    result: Levels = []
    while sorter.is_active():
        ready = sorter.get_ready()
        result.append(
            [
                NodeCall(
                    run_id="loop",
                    flow=flow,
                    flow_path=None,
                    node=nodes[node_id],
                    spec=spec,
                    params={},
                    attempt=1,
                )
                for node_id in ready
            ]
        )
        sorter.done(*ready)
    return result


async def loop_async(order: Levels) -> None:
    for level in order:
        for call in level:
            await noop(call)


def loop_sync(order: Levels) -> None:
    for level in order:
        for call in level:
            noop_sync(call)


async def task_per_node(order: Levels) -> None:
    for level in order:
        await asyncio.gather(*(noop(call) for call in level))


async def thread_per_node(order: Levels) -> None:
    for level in order:
        await asyncio.gather(*(asyncio.to_thread(noop_sync, call) for call in level))


def dask_graph(flow: Flow) -> tuple[dict[str, Any], str]:
    """The flow as a Dask graph of no-op tasks, and its last key."""
    parents: dict[str, list[str]] = {node.id: [] for node in flow.nodes}
    for edge in flow.edges:
        parents[edge.target].append(edge.source)
    graph = {node: (_dask_noop, *above) for node, above in parents.items()}
    return graph, flow.nodes[-1].id


def _dask_noop(*_: Any) -> None:
    return None


def sqlite_inserts(path: Path, nodes: int, per_transaction: int) -> None:
    """Raw SQLite (WAL, synchronous=NORMAL, like the journal): two event rows per node."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(
        "CREATE TABLE events (run_id TEXT, seq INTEGER, at REAL, kind TEXT, node TEXT, "
        "data TEXT, PRIMARY KEY (run_id, seq)) WITHOUT ROWID"
    )
    data = '{"port":"success","output":null,"attempt":1,"duration_s":0.0001}'
    for first in range(0, nodes, per_transaction):
        rows = [
            ("run", 2 * n + k, time.time(), "node_succeeded", f"n{n}", data)
            for n in range(first, min(first + per_transaction, nodes))
            for k in (0, 1)
        ]
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    db.close()


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    value: float
    unit: str
    baselines: str = ""
    target: float | None = None
    higher_is_better: bool = False

    @property
    def mark(self) -> str:
        if self.target is None:
            return ""
        met = self.value >= self.target if self.higher_is_better else self.value <= self.target
        return "ok" if met else "OVER"


def median_s(action: Callable[[], object], repeats: int = REPEATS) -> float:
    gc.collect()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def amedian_s(action: Callable[[], Awaitable[object]], repeats: int = REPEATS) -> float:
    gc.collect()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        await action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def run_checked(runner: LocalRunner) -> None:
    result = await runner.run()
    if result.status != "succeeded":
        raise SystemExit(f"benchmark run of {runner.flow.id} ended {result.status}: {result.error}")


async def engine_us(flow: Flow, catalog: Catalog, journal: Journal | None = None) -> float:
    """Median microseconds per node of `LocalRunner.run()`, the runner built beforehand."""
    runner = LocalRunner(flow, catalog=catalog, journal=journal)
    return us(await amedian_s(functools.partial(run_checked, runner)))


def us(seconds: float, nodes: int = NODES) -> float:
    return seconds / nodes * 1e6


def default_pool_size() -> int:
    """The worker count of asyncio's default executor (ThreadPoolExecutor's default)."""
    return min(32, (os.cpu_count() or 1) + 4)


# -- (a) 10,000 no-op nodes ------------------------------------------------------------------


async def shape_rows(shape: str, catalog: Catalog, journal: Journal, scratch: Path) -> list[Row]:
    build = chain_flow if shape == "chain" else fan_flow
    flow = build(NOOP)
    # The engine first, with as little else alive as possible: the garbage collector's full
    # passes (a large share of the fan-out's time) cost more the more objects are alive.
    inline_flow = build(NOOP_INLINE)
    inline_off_us = await engine_us(inline_flow, catalog)
    inline_on_us = await engine_us(inline_flow, catalog, journal)
    del inline_flow
    off_us = await engine_us(flow, catalog)
    on_us = await engine_us(flow, catalog, journal)
    # The same graph with a blocking executor: each node hops to a worker thread.
    sync_us = await engine_us(build(NOOP_SYNC), catalog)

    order = levels(flow)
    loop_s = await amedian_s(functools.partial(loop_async, order), LOOP_REPEATS)
    tasks_s = await amedian_s(functools.partial(task_per_node, order))
    direct_s = median_s(functools.partial(loop_sync, order), LOOP_REPEATS)
    threads_s = await amedian_s(functools.partial(thread_per_node, order))
    del order
    graph, last = dask_graph(flow)
    threaded_s = median_s(functools.partial(dask.threaded.get, graph, last))
    dask_sync_s = median_s(functools.partial(dask.get, graph, last))
    del graph
    # The journal commits when the runner waits: once per node in a chain, once per batch of
    # up to max_concurrency finished nodes in the fan-out.
    batch = 1 if shape == "chain" else MAX_CONCURRENCY
    sqlite_s = median_s(functools.partial(sqlite_inserts, scratch / "raw.sqlite", NODES, batch))
    txn = "1 txn/node" if batch == 1 else f"1 txn/{batch} nodes"
    baselines = (
        f"loop {us(direct_s):.2f} | dask threaded {us(threaded_s):.1f} | "
        f"dask sync {us(dask_sync_s):.1f}"
    )
    return [
        Row(
            f"{shape}, inline no-op, journal off",
            inline_off_us,
            "us/node",
            baselines,
            TARGET_US_OFF,
        ),
        Row(
            f"{shape}, inline no-op, journal on",
            inline_on_us,
            "us/node",
            f"raw sqlite, 2 rows/node, {txn}: {us(sqlite_s):.1f}",
            TARGET_US_ON,
        ),
        Row(
            f"{shape}, async no-op (a task each), journal off",
            off_us,
            "us/node",
            f"loop {us(loop_s):.2f} | task/node {us(tasks_s):.1f}",
        ),
        Row(f"{shape}, async no-op (a task each), journal on", on_us, "us/node", ""),
        Row(
            f"{shape}, sync no-op (thread), journal off",
            sync_us,
            "us/node",
            f"loop {us(direct_s):.2f} | to_thread/node {us(threads_s):.1f}",
        ),
    ]


# -- (b) runs/s of a 3-node flow -----------------------------------------------------------


async def rate(action: Callable[[], Awaitable[object]]) -> float:
    rates = []
    for _ in range(RATE_WINDOWS):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < RATE_WINDOW_S:
            await action()
            count += 1
        rates.append(count / elapsed)
    return statistics.median(rates)


async def small_flow_rows(catalog: Catalog, journal: Journal) -> list[Row]:
    flow = chain_flow(NOOP, total=3)
    order = levels(flow)
    loop_rate = await rate(functools.partial(loop_async, order))
    tasks_rate = await rate(functools.partial(task_per_node, order))
    off = LocalRunner(flow, catalog=catalog)
    on = LocalRunner(flow, catalog=catalog, journal=journal)
    return [
        Row(
            "3-node flow, one runner, journal off",
            await rate(functools.partial(run_checked, off)),
            "runs/s",
            f"loop {loop_rate:,.0f} | task/node {tasks_rate:,.0f}",
            TARGET_RUNS_PER_S,
            higher_is_better=True,
        ),
        Row(
            "3-node flow, one runner, journal on",
            await rate(functools.partial(run_checked, on)),
            "runs/s",
        ),
        Row(
            f"3-node flow, {AT_ONCE} runs at a time, journal on",
            await rate(functools.partial(runs_at_once, on)) * AT_ONCE,
            "runs/s",
        ),
    ]


#: How many runs one runner drives at once in the concurrent runs/s row (an alert storm).
AT_ONCE = 50


async def runs_at_once(runner: LocalRunner) -> None:
    await asyncio.gather(*(run_checked(runner) for _ in range(AT_ONCE)))


# -- (c) 200 HTTP calls ---------------------------------------------------------------------


class _SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default listen backlog of 5 would drop connections

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def reset_peak(self) -> None:
        with self.lock:
            self.peak = 0


class _SlowHandler(BaseHTTPRequestHandler):
    """Answers every GET with 200 "ok" after HTTP_DELAY_S, counting requests in flight."""

    server: _SlowServer

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.peak = max(server.peak, server.in_flight)
        try:
            time.sleep(HTTP_DELAY_S)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        finally:
            with server.lock:
                server.in_flight -= 1

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def slow_server() -> Iterator[_SlowServer]:
    server = _SlowServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def http_engine(flow: Flow, catalog: Catalog) -> float:
    """Median seconds of a run; blocking executors use the runner's own thread pool."""

    async def measure() -> float:
        runner = LocalRunner(flow, catalog=catalog)
        return await amedian_s(functools.partial(run_checked, runner), HTTP_REPEATS)

    return asyncio.run(measure())


def http_rows(catalog: Catalog) -> list[Row]:
    with slow_server() as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/slow"
        flow = fan_flow(HTTP_GET, HTTP_CALLS, {"url": url}, max_concurrency=HTTP_CALLS)

        def get_all(pool: concurrent.futures.ThreadPoolExecutor) -> None:
            list(pool.map(lambda _: requests.get(url, timeout=5).status_code, range(HTTP_CALLS)))

        server.reset_peak()
        with concurrent.futures.ThreadPoolExecutor(HTTP_CALLS) as plain:
            plain_s = median_s(functools.partial(get_all, plain), HTTP_REPEATS)
        baseline = f"ThreadPoolExecutor({HTTP_CALLS}): {plain_s:.2f} s, peak {server.peak}"
        server.reset_peak()
        seconds = http_engine(flow, catalog)
        name = f"{HTTP_CALLS} HTTP GETs (50 ms each), peak {server.peak} in flight"
        return [Row(name, seconds, "s", baseline, TARGET_HTTP_S)]


# -- the table -----------------------------------------------------------------------------


def main() -> int:
    started = time.perf_counter()
    catalog = Catalog([*builtin_specs(), *engine_nodes.SPECS])
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        with Journal(scratch / "runs.sqlite") as journal:

            async def engine_part() -> list[Row]:
                rows = await shape_rows("chain", catalog, journal, scratch)
                rows += await shape_rows("fan-out/in", catalog, journal, scratch)
                return rows + await small_flow_rows(catalog, journal)

            rows = asyncio.run(engine_part())
    rows += http_rows(catalog)

    print(
        f"engine: {NODES:,}-node chain and fan-out/fan-in (1 trigger, {NODES - 2:,} parallel, "
        f"1 join) of no-op nodes; max_concurrency {MAX_CONCURRENCY}; journal: SQLite (WAL) in a "
        f"temporary folder; medians of {REPEATS} runs ({HTTP_REPEATS} for HTTP, "
        f"{RATE_WINDOWS} windows of {RATE_WINDOW_S} s for runs/s); {os.cpu_count()} CPUs, "
        f"runner threads: min(max_concurrency, 256); dask {dask.__version__} "
        f"(threaded: {os.cpu_count()} workers)"
    )
    width = max(len(row.name) for row in rows)
    baselines = max(len(row.baselines) for row in rows)
    header = f"{'benchmark':<{width}} {'engine':>15}  {'baselines (same unit)':<{baselines}}"
    print(f"{header} {'target':>9}")
    failed = False
    for row in rows:
        failed |= row.mark == "OVER"
        value = f"{row.value:,.{0 if row.unit == 'runs/s' else 2}f} {row.unit}"
        target = ""
        if row.target is not None:
            target = f"{'>=' if row.higher_is_better else '<='} {row.target:g}"
        line = f"{row.name:<{width}} {value:>15}  {row.baselines:<{baselines}}"
        print(f"{line} {target:>9} {row.mark}")
    print(f"(whole benchmark: {time.perf_counter() - started:.0f} s)")
    return 1 if failed and "--strict" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
