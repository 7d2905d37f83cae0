"""Node types used only by the engine benchmark (`bench_engine.py`).

Imported by the runner as "engine_nodes:<function>", so the benchmarks folder
must be on sys.path (bench_engine.py puts it there). None of them has side
effects and all are idempotent, so the runner never flushes the journal early
on their account: what is measured is the engine's own bookkeeping.
"""

from __future__ import annotations

import requests

from opsflow.catalog.fields import Params
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec
from opsflow.nodeapi import NodeCall, NodeOutcome

NOOP = "bench.noop"
NOOP_SYNC = "bench.noop_sync"
NOOP_INLINE = "bench.noop_inline"
HTTP_GET = "bench.http_get"

_DONE = NodeOutcome(None)


class NoParams(Params):
    """No parameters at all."""


class HttpGetParams(Params):
    url: str
    timeout_s: float = 5.0


async def noop(call: NodeCall) -> NodeOutcome:
    """Does nothing, on the event loop."""
    return _DONE


def noop_sync(call: NodeCall) -> NodeOutcome:
    """Does nothing, in a worker thread (the runner's path for blocking executors)."""
    return _DONE


def http_get(call: NodeCall) -> NodeOutcome:
    """One blocking GET with requests; the output is the status code."""
    response = requests.get(call.params["url"], timeout=call.params["timeout_s"])
    return NodeOutcome(response.status_code)


def _action(
    type_id: str, title: str, params: type[Params], executor: str, *, inline: bool = False
) -> NodeSpec:
    return NodeSpec(
        type=type_id,
        category="action",
        title=title,
        doc=f"Benchmark node: {title.lower()}.",
        icon="action",
        params=params,
        ports=ACTION_PORTS,
        side_effects=False,
        idempotent=True,
        executor=executor,
        inline=inline,
    )


noop_spec = _action(NOOP, "No-op (async)", NoParams, "engine_nodes:noop")
noop_sync_spec = _action(NOOP_SYNC, "No-op (sync, in a thread)", NoParams, "engine_nodes:noop_sync")
http_get_spec = _action(HTTP_GET, "HTTP GET (requests)", HttpGetParams, "engine_nodes:http_get")

noop_inline_spec = _action(
    NOOP_INLINE, "No-op (inline on the loop)", NoParams, "engine_nodes:noop_sync", inline=True
)

SPECS = [noop_spec, noop_sync_spec, noop_inline_spec, http_get_spec]
