"""Automatic layout: layered left to right, deterministic, robust to cycles, Qt-free."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from opsflow.autolayout import COLUMN_SPACING, ROW_SPACING, auto_layout
from opsflow.flowfile import load_flow
from opsflow.model.flow import Edge, Flow, Node

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "sample_flows").glob("*.flow.json"))


def flow_of(
    edges: list[tuple[str, str]],
    extra: tuple[str, ...] = (),
    placements: dict[str, tuple[float, float]] | None = None,
) -> Flow:
    names = list(dict.fromkeys([n for pair in edges for n in pair] + list(extra)))
    return Flow(
        id="layout",
        nodes=[Node(id=n, type="action.shell") for n in names],
        edges=[
            Edge.model_validate({"id": f"e{i}", "from": s, "port": "success", "to": t})
            for i, (s, t) in enumerate(edges, start=1)
        ],
        layout={"nodes": {n: {"x": x, "y": y} for n, (x, y) in (placements or {}).items()}},
    )


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name.split(".")[0])
def test_every_node_is_placed_right_of_its_sources(path: Path) -> None:
    flow = load_flow(path)
    placed = auto_layout(flow)
    assert set(placed) == {n.id for n in flow.nodes}
    for edge in flow.edges:
        assert placed[edge.target][0] > placed[edge.source][0], edge.id
    assert len(set(placed.values())) == len(placed)  # no two nodes on one spot
    assert auto_layout(flow) == placed  # deterministic


def test_columns_are_the_longest_path_and_rows_do_not_overlap() -> None:
    flow = flow_of([("a", "b"), ("b", "c"), ("a", "c"), ("a", "d")], extra=("lonely",))
    placed = auto_layout(flow)
    assert placed["a"][0] == 0 and placed["lonely"][0] == 0
    assert placed["b"][0] == COLUMN_SPACING and placed["d"][0] == COLUMN_SPACING
    assert placed["c"][0] == 2 * COLUMN_SPACING
    for column in {x for x, _ in placed.values()}:
        rows = sorted(y for x, y in placed.values() if x == column)
        assert all(b - a >= ROW_SPACING for a, b in itertools.pairwise(rows))


def test_a_cycle_does_not_crash_and_everything_is_placed() -> None:
    flow = flow_of([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "d")])
    placed = auto_layout(flow)
    assert set(placed) == {"a", "b", "c", "d"}
    assert auto_layout(flow) == placed


def test_only_moves_the_chosen_nodes_and_keeps_their_top_left() -> None:
    placements = {"a": (0, 0), "b": (900, 40), "c": (500, 300), "d": (700, 260), "z": (-80, 1000)}
    flow = flow_of(
        [("a", "b"), ("b", "c"), ("c", "d"), ("b", "d")], placements=placements, extra=("z",)
    )
    chosen = {"b", "c", "d"}
    placed = auto_layout(flow, only=chosen)
    assert set(placed) == chosen
    assert min(x for x, _ in placed.values()) == 500
    assert min(y for _, y in placed.values()) == 40
    assert placed["b"][0] < placed["c"][0] < placed["d"][0]


def test_only_with_unplaced_nodes_starts_at_the_origin() -> None:
    flow = flow_of([("a", "b")], extra=("c",))
    assert auto_layout(flow, only=["a", "b"]) == {"a": (0.0, 0.0), "b": (COLUMN_SPACING, 0.0)}
    assert auto_layout(flow, only=[]) == {}
    assert auto_layout(Flow(id="empty")) == {}


def test_barycentre_ordering_avoids_a_crossing() -> None:
    # a feeds y, b feeds x: listed x before y, the sweep should still put y above x.
    flow = flow_of([("a", "y"), ("b", "x")], extra=())
    flow = flow.model_copy(
        update={"nodes": [Node(id=n, type="action.shell") for n in ("a", "b", "x", "y")]}
    )
    placed = auto_layout(flow)
    assert placed["a"][1] < placed["b"][1]
    assert placed["y"][1] < placed["x"][1]


def test_the_new_core_modules_load_no_qt() -> None:
    """Extends tests/test_architecture.py to the modules the Studio work added to the core."""
    code = (
        "import sys, opsflow.autolayout, opsflow.exporting, opsflow.secretscan;"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_tall_nodes_get_more_room_and_short_columns_stay_centred() -> None:
    flow = flow_of([("a", "b"), ("a", "c"), ("a", "d"), ("b", "e")])
    heights = {"b": 180.0, "c": 50.0, "d": 50.0}  # b is taller than a row
    placed = auto_layout(flow, heights=heights)
    column = sorted(("b", "c", "d"), key=lambda n: placed[n][1])
    for upper, lower in itertools.pairwise(column):
        room = max(ROW_SPACING, heights[upper] + 24)
        assert placed[lower][1] - placed[upper][1] >= room
    # a's row is centred against the whole height its neighbours' column takes.
    extent = sum(max(ROW_SPACING, heights[n] + 24) for n in column)
    assert placed["a"][1] + ROW_SPACING / 2 == pytest.approx(placed[column[0]][1] + extent / 2)
    # Nodes no taller than a row keep the usual spacing.
    assert auto_layout(flow, heights={n: 60.0 for n in "abcde"}) == auto_layout(flow)
