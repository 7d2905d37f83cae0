"""Flows inside flows: `action.subflow` runs another flow file, `control.foreach` one per item.

Both load the other flow relative to the calling flow's file, run it with the
same journal (the child run names its parent) and options, and hand back the
child's `outputs`. For-each renders its `inputs` once per item, with `item`
and `index` in the context, runs at most `concurrency` items at once, and
collects results in item order.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from opsflow.errors import OpsflowError
from opsflow.expr import ExpressionError
from opsflow.expr.evaluate import evaluate_expression, render_template
from opsflow.model.flow import Node
from opsflow.nodeapi import NodeError, NodeOutcome

if TYPE_CHECKING:
    from opsflow.engine.local import ActiveRun, LocalRunner

MAX_DEPTH = 16
logger = logging.getLogger(__name__)


def render_foreach_params(params: BaseModel, context: dict[str, Any]) -> dict[str, Any]:
    """For-each's items are evaluated now; its inputs later, once per item."""
    rendered = params.model_dump(mode="json")
    rendered["items"] = evaluate_expression(rendered["items"], context)
    return rendered


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Render every string of a JSON value as a template (for per-item inputs)."""
    if isinstance(value, str):
        return render_template(value, context)
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    return value


def _child_runner(run: ActiveRun, flow_file: str) -> LocalRunner:
    from opsflow.engine.local import LocalRunner
    from opsflow.flowfile import load_flow

    parent = run.runner
    depth = getattr(parent, "depth", 0) + 1
    if depth > MAX_DEPTH:
        raise NodeError(
            f"sub-flows are nested more than {MAX_DEPTH} deep; does a flow call itself?",
            retryable=False,
        )
    base = parent.flow_path.parent if parent.flow_path is not None else Path.cwd()
    path = (base / flow_file).resolve()
    cache: dict[Path, LocalRunner] = parent.__dict__.setdefault("_children", {})
    if path not in cache:
        try:
            flow = load_flow(path, parent.catalog)
        except OpsflowError as exc:
            raise NodeError(str(exc), retryable=False) from None
        child = LocalRunner(
            flow,
            flow_path=path,
            catalog=parent.catalog,
            journal=parent.journal,
            options=parent.options,
            listeners=parent.listeners,
        )
        child.depth = depth  # type: ignore[attr-defined]
        child.detached = parent.detached  # one place to wait for or stop them all
        cache[path] = child
    return cache[path]


async def run_subflow(run: ActiveRun, node: Node, params: dict[str, Any]) -> NodeOutcome:
    from opsflow.engine.control import RunControl

    child = _child_runner(run, params["flow"])
    inputs = params.get("inputs") or {}
    if not params.get("wait", True):
        # Tracked by the runner, so the process waits for it or stops it (never drops it).
        control = RunControl()
        started = asyncio.ensure_future(
            child.run(inputs=inputs, parent_run=run.id, control=control)
        )
        detached = run.runner.detached
        detached[started] = control
        started.add_done_callback(lambda task: _forget_detached(detached, task))
        # The child is in the journal before the parent goes on.
        if not await control.wait_started(started):
            error = "it was cancelled" if started.cancelled() else started.exception()
            raise NodeError(f"sub-flow {params['flow']} could not start: {error}")
        return NodeOutcome({"started": True, "run_id": control.run_id})
    result = await child.run(inputs=inputs, parent_run=run.id)
    output = {"run_id": result.run_id, "outcome": result.status, "outputs": result.outputs}
    if result.status != "succeeded":
        raise NodeError(
            f"sub-flow {params['flow']} {result.status}: {result.error or 'see its run'}",
            output=output,
            retryable=False,
        )
    return NodeOutcome(output)


def _forget_detached(detached: dict[asyncio.Task[Any], Any], task: asyncio.Task[Any]) -> None:
    detached.pop(task, None)
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a sub-flow run started without waiting failed", exc_info=task.exception())


async def run_foreach(run: ActiveRun, node: Node, params: dict[str, Any]) -> NodeOutcome:
    items = params["items"]
    if not isinstance(items, list):
        raise NodeError(f"items evaluated to {type(items).__name__}, not a list", retryable=False)
    if len(items) > params["max_items"]:
        raise NodeError(
            f"items has {len(items)} entries, more than max_items ({params['max_items']})",
            retryable=False,
        )
    child = _child_runner(run, params["flow"])
    limit = asyncio.Semaphore(params["concurrency"])
    results: list[dict[str, Any] | None] = [None] * len(items)
    stop = asyncio.Event()

    async def one(index: int, item: Any) -> None:
        async with limit:
            if stop.is_set():
                results[index] = {"outcome": "skipped"}
                return
            try:
                inputs = render_value(
                    params.get("inputs") or {}, run.context(item=item, index=index)
                )
            except ExpressionError as exc:
                results[index] = {"outcome": "failed", "error": str(exc)}
            else:
                result = await child.run(inputs=inputs, parent_run=run.id)
                results[index] = {
                    "run_id": result.run_id,
                    "outcome": result.status,
                    "outputs": result.outputs,
                    **({"error": result.error} if result.error else {}),
                }
            if results[index]["outcome"] != "succeeded" and params.get("fail_fast"):  # type: ignore[index]
                stop.set()

    await asyncio.gather(*(one(index, item) for index, item in enumerate(items)))
    failed = sum(1 for r in results if r is not None and r["outcome"] != "succeeded")
    output = {"results": results, "count": len(items), "failed": failed}
    if failed:
        raise NodeError(
            f"{failed} of {len(items)} items did not succeed", output=output, retryable=False
        )
    return NodeOutcome(output)
