"""Finding nodes by text: the Studio's find bar asks this which nodes match, and where.

A node matches when its id, title, type (or the type's catalog title), description or any
parameter value (the keys and values inside mappings and lists, numbers and booleans as JSON
writes them; not the parameter names, which every node of the type shares) contains the
query, ignoring case. Matches come in reading order of the
canvas, column by column (left to right, then top to bottom), so cycling through them
follows the flow; nodes without a placement come last, in file order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opsflow.catalog.registry import Catalog
from opsflow.model.flow import Flow, Node


@dataclass(frozen=True)
class Match:
    """A node that matches, the first field it matched in ("id", "params.url", ...) and that
    field's text."""

    node: str
    field: str
    text: str


def find_nodes(flow: Flow, query: str, catalog: Catalog | None = None) -> list[Match]:
    """The nodes of `flow` whose text contains `query` (case-insensitive), one match each.

    A blank query matches nothing. With a `catalog`, a type's title ("HTTP request") is
    searched as well as its name (`action.http`).
    """
    wanted = query.strip().casefold()
    if not wanted:
        return []
    placements = flow.layout.nodes
    unplaced = (float("inf"), float("inf"))

    def reading_order(indexed: tuple[int, Node]) -> tuple[float, float, int]:
        index, node = indexed
        placement = placements.get(node.id)
        x, y = (placement.x, placement.y) if placement is not None else unplaced
        return (x, y, index)

    found = []
    for _, node in sorted(enumerate(flow.nodes), key=reading_order):
        match = next(
            (
                Match(node.id, field, text)
                for field, text in node_texts(node, catalog)
                if wanted in text.casefold()
            ),
            None,
        )
        if match is not None:
            found.append(match)
    return found


def node_texts(node: Node, catalog: Catalog | None = None) -> Iterator[tuple[str, str]]:
    """Every searchable text of a node as (field, text), in the order matches are reported."""
    yield "id", node.id
    if node.title:
        yield "title", node.title
    yield "type", node.type
    spec = catalog.get(node.type) if catalog is not None else None
    if spec is not None:
        yield "type", spec.title
    if node.description:
        yield "description", node.description
    for name, value in node.params.items():  # parameter names are the type's, not the user's
        yield from _flatten(value, f"params.{name}")


def _flatten(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", str(key)
            yield from _flatten(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{path}[{index}]")
    elif value is not None:
        yield path, json.dumps(value)
