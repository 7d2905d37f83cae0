"""Sub-flow runs are recorded under the run that started them, even when runs overlap."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from opsflow.engine.journal import Journal
from opsflow.engine.local import LocalRunner
from opsflow.flowfile import load_flow, parse_flow, save_flow


def _write(path: Path, document: dict[str, object]) -> None:
    save_flow(parse_flow(json.dumps({"format": "opsflow.flow", "version": 1, **document})), path)


def test_overlapping_runs_of_one_runner_keep_their_own_children(tmp_path: Path) -> None:
    _write(
        tmp_path / "body.flow.json",
        {
            "id": "body",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "pause", "type": "action.wait", "params": {"duration_s": 0.05}},
            ],
            "edges": [{"id": "e1", "from": "start", "port": "out", "to": "pause"}],
        },
    )
    _write(
        tmp_path / "main.flow.json",
        {
            "id": "main",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "each",
                    "type": "control.foreach",
                    "params": {"items": "[1, 2, 3]", "flow": "body.flow.json"},
                },
            ],
            "edges": [{"id": "e1", "from": "start", "port": "out", "to": "each"}],
        },
    )
    path = tmp_path / "main.flow.json"
    with Journal(tmp_path / "runs.sqlite") as journal:
        runner = LocalRunner(load_flow(path), flow_path=path, journal=journal)

        async def both() -> list[str]:
            results = await asyncio.gather(runner.run(), runner.run())
            return [result.run_id for result in results]

        first, second = asyncio.run(both())
        children = journal.list_runs(flow_id="body", limit=100)
        by_parent = {first: 0, second: 0}
        for child in children:
            assert child.parent in by_parent
            by_parent[child.parent] += 1
        assert by_parent == {first: 3, second: 3}
