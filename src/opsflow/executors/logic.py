"""Executors of the nodes that only compute: conditions, variables and waits.

Their parameters arrive rendered: a condition's expression is already
evaluated by the runner, so an executor only decides the port.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome


def condition_if(call: NodeCall) -> NodeOutcome:
    value = call.params["condition"]
    return NodeOutcome(output={"value": _plain(value)}, port="true" if value else "false")


def condition_switch(call: NodeCall) -> NodeOutcome:
    value = call.params["value"]
    for case in call.params["cases"]:
        if _equal(value, case["equals"]):
            return NodeOutcome(output={"value": _plain(value)}, port=case["port"])
    return NodeOutcome(output={"value": _plain(value)}, port="default")


def set_vars(call: NodeCall) -> NodeOutcome:
    """The output is the values; the runner merges them into `vars` for nodes downstream."""
    return NodeOutcome(output=dict(call.params["values"]))


async def wait(call: NodeCall) -> NodeOutcome:
    if call.params["mode"] == "duration":
        seconds = float(call.params["duration_s"])
    else:
        until = call.params["until"]
        try:
            moment = datetime.fromisoformat(str(until))
        except ValueError:
            raise NodeError(
                f"'until' rendered to {until!r}, which is not an ISO-8601 time such as "
                "2026-12-01T22:00:00+01:00",
                retryable=False,
            ) from None
        if moment.tzinfo is None:
            raise NodeError(
                f"'until' rendered to {until!r}, which has no time zone", retryable=False
            )
        seconds = max(0.0, moment.timestamp() - time.time())
    await asyncio.sleep(seconds)
    return NodeOutcome(output={"waited_s": round(seconds, 3)})


def _equal(value: Any, expected: Any) -> bool:
    """Switch cases compare like people expect: 2 matches "2", True matches "true"."""
    if value == expected and type(value) is type(expected):
        return True
    return _text(value) == _text(expected)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plain(value: Any) -> Any:
    return (
        value
        if isinstance(value, str | int | float | bool | type(None) | list | dict)
        else str(value)
    )
