"""Small flow documents for tests, as plain JSON-ready dicts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "sample_flows").glob("*.flow.json"))


def node(node_id: str, type_: str, **params: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "params": params}


def edge(source: str, port: str, target: str, edge_id: str | None = None) -> dict[str, Any]:
    return {
        "id": edge_id or f"{source}.{port}.{target}",
        "from": source,
        "port": port,
        "to": target,
    }


def flow_doc(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "format": "opsflow.flow",
        "version": 1,
        "id": "test-flow",
        **extra,
        "nodes": nodes,
        "edges": edges,
    }


def check_flow() -> dict[str, Any]:
    """A small valid flow: manual trigger, an HTTP check, a condition, two actions."""
    return copy.deepcopy(
        flow_doc(
            [
                node("start", "trigger.manual"),
                node("check", "action.http", url="https://status.example.com/health"),
                node("is_down", "condition.if", condition="nodes.check.output.status != 200"),
                node("restart", "action.shell", command=["systemctl", "restart", "nginx"]),
                node("log_ok", "action.set_vars", values={"healthy": True}),
            ],
            [
                edge("start", "out", "check"),
                edge("check", "success", "is_down"),
                edge("is_down", "true", "restart"),
                edge("is_down", "false", "log_ok"),
            ],
            name="Check and restart",
        )
    )


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
