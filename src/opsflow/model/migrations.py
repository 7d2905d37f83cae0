"""One-step migrations of the flow file format, applied on load.

`MIGRATIONS[v]` turns a version-`v` document into a version-`v + 1` document.
Each is small, pure and tested with a fixture of the older version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Document = dict[str, Any]


def _v0_to_v1(doc: Document) -> Document:
    """Version 0 (the prototype) kept nodes in a map with positions inside them.

    Version 1 keeps nodes in a list, moves positions to `layout`, and gives
    every edge a stable id.
    """
    nodes_in = doc.get("nodes", {})
    if not isinstance(nodes_in, dict):
        raise ValueError("version 0 files keep 'nodes' as an object keyed by node id")
    nodes: list[Document] = []
    placements: dict[str, Document] = {}
    for node_id, body in nodes_in.items():
        if not isinstance(body, dict):
            raise ValueError(f"version 0 node '{node_id}' must be an object")
        body = dict(body)
        position = body.pop("position", None)
        if isinstance(position, list | tuple) and len(position) == 2:
            placements[node_id] = {"x": position[0], "y": position[1]}
        if "name" in body and "title" not in body:
            body["title"] = body.pop("name")
        body.setdefault("type_version", 1)
        nodes.append({"id": node_id, **body})
    edges: list[Document] = []
    for index, edge in enumerate(doc.get("edges", [])):
        if not isinstance(edge, dict):
            raise ValueError(f"version 0 edge {index + 1} must be an object")
        edges.append(
            {
                "id": f"e{index + 1}",
                "from": edge.get("source"),
                "port": edge.get("source_port", "out"),
                "to": edge.get("target"),
            }
        )
    migrated = {k: v for k, v in doc.items() if k not in ("nodes", "edges", "version")}
    migrated["version"] = 1
    migrated["nodes"] = nodes
    migrated["edges"] = edges
    migrated["layout"] = {"nodes": placements, "notes": []}
    return migrated


MIGRATIONS: dict[int, Callable[[Document], Document]] = {0: _v0_to_v1}


def migrate(doc: Document, from_version: int, to_version: int) -> Document:
    """Apply the one-step migrations from `from_version` up to `to_version`."""
    for version in range(from_version, to_version):
        doc = MIGRATIONS[version](doc)
    return doc
