"""Engine overhead: 10,000 no-op nodes, runs/s of a tiny flow, 200 parallel HTTP calls.

Baselines are measured in the same run: a plain Python loop calling the same
executor over the same topological order (the "no engine" floor), Dask's
threaded and synchronous schedulers on a graph of the same shape, and a plain
ThreadPoolExecutor for the HTTP calls. Run with `make bench` (or
`python benchmarks/bench_engine.py [--strict]`). Prints a table of medians;
exits 1 only with --strict when a target is missed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import graphlib
import os
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

import dask  # noqa: E402
import dask.threaded  # noqa: E402
import engine_nodes  # noqa: E402
import requests  # noqa: E402
from engine_nodes import HTTP_GET, NOOP, NOOP_SYNC, noop, noop_sync  # noqa: E402

from opsflow.catalog.registry import Catalog, builtin_specs  # noqa: E402
from opsflow.engine.execute import NodeCall  # noqa: E402
from opsflow.engine.journal import Journal  # noqa: E402
from opsflow.engine.local import LocalRunner, RunOptions  # noqa: E402
from opsflow.model.flow import Edge, Flow, FlowSettings, Node  # noqa: E402

NODES = 10_000
MAX_CONCURRENCY = 1024  # the highest the flow settings allow
REPEATS = 5  # 10k-node runs without journal, and the baselines
JOURNAL_REPEATS = 3  # 10k-node runs with the journal on
RATE_WINDOWS = 3  # runs/s: the median of this many windows...
RATE_WINDOW_S = 0.7  # ...of this length each
HTTP_CALLS = 200
HTTP_DELAY_S = 0.05
HTTP_REPEATS = 3

TARGET_US_OFF = 25.0
TARGET_US_ON = 150.0
TARGET_RUNS_PER_S = 1000.0
TARGET_HTTP_S = 1.0


# -- flows ---------------------------------------------------------------------------------


def _flow(flow_id: str, nodes: list[Node], pairs: list[tuple[str, str]], width: int) -> Flow:
    edges = [
        Edge(id=f"e{i}", source=a, port="out" if a == "start" else "success", target=b)
        for i, (a, b) in enumerate(pairs)
    ]
    return Flow(
        id=flow_id,
        settings=FlowSettings(max_concurrency=width),
        nodes=nodes,
        edges=edges,
    )


def chain_flow(node_type: str, total: int = NODES) -> Flow:
    """trigger.manual -> (total - 1) nodes in a line."""
    ids = ["start", *(f"n{i}" for i in range(1, total))]
    nodes = [Node(id="start", type="trigger.manual")]
    nodes += [Node(id=i, type=node_type) for i in ids[1:]]
    return _flow("bench-chain", nodes, list(zip(ids, ids[1:], strict=False)), MAX_CONCURRENCY)


def fan_flow(
    node_type: str,
    width: int = NODES - 2,
    params: dict[str, Any] | None = None,
    max_concurrency: int = MAX_CONCURRENCY,
) -> Flow:
    """trigger.manual -> `width` parallel nodes -> one join node (join: all)."""
    middle = [f"n{i}" for i in range(1, width + 1)]
    nodes = [Node(id="start", type="trigger.manual")]
    nodes += [Node(id=i, type=node_type, params=params or {}) for i in middle]
    nodes.append(Node(id="join", type=NOOP))
    pairs = [("start", i) for i in middle] + [(i, "join") for i in middle]
    return _flow("bench-fan", nodes, pairs, max_concurrency)


def topological_order(flow: Flow) -> list[str]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node in flow.nodes:
        sorter.add(node.id)
    for edge in flow.edges:
        sorter.add(edge.target, edge.source)
    return list(sorter.static_order())


def dask_graph(flow: Flow) -> tuple[dict[str, Any], str]:
    """The flow as a Dask graph of no-op tasks, and its last key."""
    parents: dict[str, list[str]] = {node.id: [] for node in flow.nodes}
    for edge in flow.edges:
        parents[edge.target].append(edge.source)
    graph = {node: (_dask_noop, *above) for node, above in parents.items()}
    return graph, flow.nodes[-1].id


def _dask_noop(*_: Any) -> None:
    return None


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
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def amedian_s(action: Callable[[], Awaitable[object]], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        await action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def calls_for(flow: Flow) -> list[NodeCall]:
    spec = engine_nodes.noop_spec
    return [
        NodeCall(run_id="loop", flow=flow, flow_path=None, node=n, spec=spec, params={}, attempt=1)
        for n in flow.nodes
    ]


async def run_checked(runner: LocalRunner) -> None:
    result = await runner.run()
    if result.status != "succeeded":
        raise SystemExit(f"benchmark run of {runner.flow.id} ended {result.status}: {result.error}")


def us(seconds: float, nodes: int = NODES) -> float:
    return seconds / nodes * 1e6


def default_pool_size() -> int:
    """The worker count asyncio's default executor gets (ThreadPoolExecutor's default)."""
    return min(32, (os.cpu_count() or 1) + 4)


# -- (a) 10,000 no-op nodes ------------------------------------------------------------------


async def engine_rows(catalog: Catalog, journal: Journal) -> list[Row]:
    rows: list[Row] = []
    shapes = {"chain": chain_flow, "fan-out/in": fan_flow}
    for shape, build in shapes.items():
        flow = build(NOOP)
        order = topological_order(flow)
        by_id = {call.node.id: call for call in calls_for(flow)}
        calls = [by_id[node_id] for node_id in order]

        async def plain_loop(calls: list[NodeCall] = calls) -> None:
            for call in calls:
                await noop(call)

        loop_s = await amedian_s(plain_loop)
        graph, last = dask_graph(flow)
        threaded_s = median_s(lambda g=graph, k=last: dask.threaded.get(g, k))  # type: ignore[misc]
        sync_s = median_s(lambda g=graph, k=last: dask.get(g, k))  # type: ignore[misc]
        baselines = (
            f"loop {us(loop_s):.2f} | dask threaded {us(threaded_s):.1f}"
            f" | dask sync {us(sync_s):.1f}"
        )
        off = LocalRunner(flow, catalog=catalog)
        engine_s = await amedian_s(lambda r=off: run_checked(r))  # type: ignore[misc]
        rows.append(
            Row(f"{shape}, async no-op, journal off", us(engine_s), "us/node", baselines, 25)
        )
        on = LocalRunner(flow, catalog=catalog, journal=journal)
        engine_s = await amedian_s(lambda r=on: run_checked(r), JOURNAL_REPEATS)  # type: ignore[misc]
        rows.append(Row(f"{shape}, async no-op, journal on", us(engine_s), "us/node", "", 150))

        # The same graph with a blocking executor: each node hops to a worker thread.
        sync_flow = build(NOOP_SYNC)
        sync_calls = [by_id[node_id] for node_id in order]
        if shape == "chain":

            async def floor(calls: list[NodeCall] = sync_calls) -> None:
                for call in calls:
                    await asyncio.to_thread(noop_sync, call)
        else:

            async def floor(calls: list[NodeCall] = sync_calls) -> None:
                await asyncio.gather(*(asyncio.to_thread(noop_sync, call) for call in calls))

        floor_s = await amedian_s(floor)
        direct_s = median_s(lambda c=sync_calls: [noop_sync(call) for call in c])  # type: ignore[misc]
        runner = LocalRunner(sync_flow, catalog=catalog)
        engine_s = await amedian_s(lambda r=runner: run_checked(r))  # type: ignore[misc]
        rows.append(
            Row(
                f"{shape}, sync no-op (thread), journal off",
                us(engine_s),
                "us/node",
                f"loop {us(direct_s):.2f} | to_thread {'loop' if shape == 'chain' else 'gather'}"
                f" {us(floor_s):.1f}",
            )
        )
    return rows


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
    calls = calls_for(flow)

    async def plain_loop() -> None:
        for call in calls:
            await noop(call)

    loop_rate = await rate(plain_loop)
    off = LocalRunner(flow, catalog=catalog)
    on = LocalRunner(flow, catalog=catalog, journal=journal)
    return [
        Row(
            "3-node flow, one runner, journal off",
            await rate(lambda: run_checked(off)),
            "runs/s",
            f"loop {loop_rate:,.0f}",
            TARGET_RUNS_PER_S,
            higher_is_better=True,
        ),
        Row("3-node flow, one runner, journal on", await rate(lambda: run_checked(on)), "runs/s"),
    ]


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


def http_rows(catalog: Catalog) -> list[Row]:
    with slow_server() as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/slow"
        flow = fan_flow(HTTP_GET, HTTP_CALLS, {"url": url}, max_concurrency=HTTP_CALLS)

        def engine(pool: int | None) -> tuple[float, int, int]:
            """Median seconds, the default executor's size, and the server's peak concurrency."""

            async def measure() -> tuple[float, int]:
                loop = asyncio.get_running_loop()
                if pool is not None:
                    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(pool))
                runner = LocalRunner(flow, catalog=catalog)
                seconds = await amedian_s(lambda: run_checked(runner), HTTP_REPEATS)
                executor = getattr(loop, "_default_executor", None)
                return seconds, getattr(executor, "_max_workers", default_pool_size())

            server.reset_peak()
            seconds, size = asyncio.run(measure())
            return seconds, size, server.peak

        with concurrent.futures.ThreadPoolExecutor(HTTP_CALLS) as pool:
            server.reset_peak()
            urls = [url] * HTTP_CALLS
            plain_s = median_s(
                lambda: list(pool.map(lambda u: requests.get(u, timeout=5), urls)), HTTP_REPEATS
            )
            plain_peak = server.peak
        baseline = f"ThreadPoolExecutor({HTTP_CALLS}) {plain_s:.2f} s, peak {plain_peak}"
        rows = []
        for label, pool_size in (("asyncio default pool", None), (f"pool {HTTP_CALLS}", 200)):
            seconds, size, peak = engine(pool_size)
            rows.append(
                Row(
                    f"{HTTP_CALLS} HTTP GETs (50 ms), {label}: {size} threads, peak {peak}",
                    seconds,
                    "s",
                    baseline,
                    TARGET_HTTP_S,
                )
            )
    return rows


# -- the table -----------------------------------------------------------------------------


def main() -> int:
    started = time.perf_counter()
    catalog = Catalog([*builtin_specs(), *engine_nodes.SPECS])
    with tempfile.TemporaryDirectory() as folder, Journal(Path(folder) / "runs.sqlite") as journal:

        async def engine_part() -> list[Row]:
            return [
                *await engine_rows(catalog, journal),
                *await small_flow_rows(catalog, journal),
            ]

        rows = asyncio.run(engine_part())
    rows += http_rows(catalog)

    print(
        f"engine: {NODES:,}-node chain and fan-out/fan-in of no-op nodes, max_concurrency "
        f"{MAX_CONCURRENCY}, journal: SQLite WAL in a temporary folder; medians of {REPEATS} "
        f"({JOURNAL_REPEATS} with journal, {HTTP_REPEATS} for HTTP); asyncio default pool "
        f"{default_pool_size()} threads on {os.cpu_count()} CPUs; dask {dask.__version__}"
    )
    width = max(len(row.name) for row in rows)
    print(f"{'benchmark':<{width}} {'engine':>16}  {'baselines':<54} {'target':>10}")
    failed = False
    for row in rows:
        failed |= row.mark == "OVER"
        value = f"{row.value:,.{0 if row.unit == 'runs/s' else 2}f} {row.unit}"
        target = ""
        if row.target is not None:
            target = f"{'>=' if row.higher_is_better else '<='} {row.target:g}"
        print(f"{row.name:<{width}} {value:>16}  {row.baselines:<54} {target:>10} {row.mark}")
    print(f"(baselines in the same unit as the engine column; total {time.perf_counter() - started:.0f} s)")
    return 1 if failed and "--strict" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
