"""Node types used only by the engine tests: they record calls, fail on demand, or sleep."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from opsflow.catalog.fields import Params, template
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome

#: Calls seen by `record`, in order: (node id, rendered params).
CALLS: list[tuple[str, dict[str, Any]]] = []
#: Failures still to hand out by node id (`flaky` fails while its count is above zero).
FAILURES: dict[str, int] = {}


class RecordParams(Params):
    value: Any = template(None, description="Echoed back as the output.")
    fail_times: int = Field(0, ge=0)
    sleep_s: float = Field(0, ge=0)


async def record(call: NodeCall) -> NodeOutcome:
    CALLS.append((call.node.id, call.params))
    if call.params["sleep_s"]:
        await asyncio.sleep(call.params["sleep_s"])
    left = FAILURES.get(call.node.id, call.params["fail_times"])
    if left > 0:
        FAILURES[call.node.id] = left - 1
        raise NodeError(f"planned failure, {left - 1} left")
    return NodeOutcome({"value": call.params["value"], "attempt": call.attempt})


def record_sync(call: NodeCall) -> NodeOutcome:
    CALLS.append((call.node.id, call.params))
    return NodeOutcome({"value": call.params["value"], "thread": True})


def _spec(type_id: str, executor: str | None, side_effects: bool) -> NodeSpec:
    return NodeSpec(
        type=type_id,
        category="action",
        title=type_id,
        doc="A node type for the engine tests.",
        icon="action-shell",
        params=RecordParams,
        ports=ACTION_PORTS,
        side_effects=side_effects,
        idempotent=True,
        executor=executor,
    )


def test_catalog() -> Catalog:
    return Catalog(
        [
            *builtin_specs(),
            _spec("test.act", "tests.engine.nodes_for_tests:record", True),
            _spec("test.pure", "tests.engine.nodes_for_tests:record", False),
            _spec("test.blocking", "tests.engine.nodes_for_tests:record_sync", True),
            _spec("test.chatty", "tests.engine.nodes_for_tests:chatty_sync", True),
            _spec("test.unwired", None, True),
        ]
    )


test_catalog.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def chatty_sync(call: NodeCall) -> NodeOutcome:
    """Logs from its worker thread, as blocking executors do."""
    call.log("info", f"hello from {call.node.id}")
    return NodeOutcome({"logged": True})
