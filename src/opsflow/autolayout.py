"""Automatic placement of a flow's nodes: layered left to right, few crossings.

Pure and Qt-free so the Studio, the command line and tests share one answer.
Layers are networkx topological generations (a node sits one column right of
its deepest predecessor); within a column, nodes are ordered by the barycentre
of their neighbours, swept a few times left to right and back, the classic
Sugiyama heuristic. Cycles (which the validator reports) are broken by
ignoring the edges that close them, so a broken flow still gets a layout.
Rows are `ROW_SPACING` apart unless the caller says a node is drawn taller
(a card with many ports and a status line under it): then it gets its height
plus `ROW_GAP`, so nothing drawn under a card runs into the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from opsflow.model.flow import Flow

if TYPE_CHECKING:
    import networkx as nx

COLUMN_SPACING = 280.0
ROW_SPACING = 120.0
#: The least space left between a node (with what is drawn under it) and the next one below.
ROW_GAP = 24.0
SWEEPS = 4


def auto_layout(
    flow: Flow,
    only: Collection[str] | None = None,
    *,
    column_spacing: float = COLUMN_SPACING,
    row_spacing: float = ROW_SPACING,
    heights: Mapping[str, float] | None = None,
) -> dict[str, tuple[float, float]]:
    """New (x, y) for the nodes in `only` (all nodes when None).

    A partial layout keeps its top-left corner where the chosen nodes were, so
    laying out a selection does not throw it across the canvas. `heights` (node
    id -> how tall it is drawn, everything under it included) gives tall nodes
    more room; nodes not in it take one row.
    """
    chosen = [n.id for n in flow.nodes if only is None or n.id in only]
    if not chosen:
        return {}
    wanted = set(chosen)
    edges = [
        (e.source, e.target)
        for e in flow.edges
        if e.source in wanted and e.target in wanted and e.source != e.target
    ]
    columns = _ordered_layers(chosen, edges)
    origin = _origin(flow, chosen) if only is not None else (0.0, 0.0)
    tall = heights or {}

    def pitch(node_id: str) -> float:
        return max(row_spacing, tall.get(node_id, 0.0) + ROW_GAP)

    extents = [sum(pitch(node_id) for node_id in column) for column in columns]
    tallest = max(extents)
    placed: dict[str, tuple[float, float]] = {}
    for index, column in enumerate(columns):
        # Centre short columns against the tallest so branches fan out symmetrically.
        y = origin[1] + (tallest - extents[index]) / 2
        for node_id in column:
            placed[node_id] = (origin[0] + index * column_spacing, y)
            y += pitch(node_id)
    return placed


def _ordered_layers(nodes: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    import networkx as nx  # ~200 ms to import: the Studio pays it on the first layout, not at start

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    _break_cycles(graph)
    depth: dict[str, int] = {}
    for node_id in nx.topological_sort(graph):
        preds = list(graph.predecessors(node_id))
        depth[node_id] = 1 + max(depth[p] for p in preds) if preds else 0
    columns: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for node_id in nodes:  # input order makes ties deterministic
        columns[depth[node_id]].append(node_id)
    for _ in range(SWEEPS):
        for index in range(1, len(columns)):
            _sort_by_barycentre(columns[index], columns[index - 1], graph.predecessors)
        for index in range(len(columns) - 2, -1, -1):
            _sort_by_barycentre(columns[index], columns[index + 1], graph.successors)
    return columns


def _break_cycles(graph: nx.DiGraph) -> None:
    import networkx as nx

    while True:
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return
        graph.remove_edge(*cycle[-1][:2])


def _sort_by_barycentre(
    column: list[str], neighbour_column: list[str], neighbours: Callable[[str], Iterable[str]]
) -> None:
    position = {node_id: index for index, node_id in enumerate(neighbour_column)}
    current = {node_id: index for index, node_id in enumerate(column)}

    def key(node_id: str) -> tuple[float, int]:
        near = [position[n] for n in neighbours(node_id) if n in position]
        return (sum(near) / len(near) if near else float(current[node_id]), current[node_id])

    column.sort(key=key)


def _origin(flow: Flow, chosen: list[str]) -> tuple[float, float]:
    placements = [flow.layout.nodes[n] for n in chosen if n in flow.layout.nodes]
    if not placements:
        return (0.0, 0.0)
    return (min(p.x for p in placements), min(p.y for p in placements))
