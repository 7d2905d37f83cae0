"""The upstream index and the connection rules, checked against networkx's `ancestors`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsflow.catalog.fields import walk_strings
from opsflow.catalog.registry import default_catalog
from opsflow.flowfile import load_flow, parse_flow
from opsflow.model.flow import Edge, Flow, Node
from opsflow.validate import validate_flow
from opsflow.validate.graph import FlowGraph, Upstream, can_connect
from opsflow.validate.nodes import check_expressions
from tests.flowdocs import ROOT, check_flow, edge, flow_doc, node

FLOW_FILES = sorted((ROOT / "sample_flows").rglob("*.flow.json")) + sorted(
    (ROOT / "tests" / "fixtures").rglob("*.flow.json")
)


def graph_flow(size: int, pairs: list[tuple[int, int]], dangling: int = 0) -> Flow:
    """Nodes n0..n<size-1> joined by `pairs`, plus edges to `dangling` nodes that do not exist."""
    nodes = [Node(id=f"n{i}", type="action.set_vars") for i in range(size)]
    links = [(f"n{a}", f"n{b}") for a, b in pairs]
    links += [(f"n{i % size}", f"ghost{i}") for i in range(dangling)]
    edges = [
        Edge.model_validate({"id": f"e{i}", "from": a, "port": "success", "to": b})
        for i, (a, b) in enumerate(links)
    ]
    return Flow(id="graph", nodes=nodes, edges=edges)


def networkx_of(flow: Flow) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(n.id for n in flow.nodes)
    known = set(graph)
    graph.add_edges_from((e.source, e.target) for e in flow.edges if {e.source, e.target} <= known)
    return graph


class LabelledAtOnce(Upstream):
    """Answers every question beyond a direct parent from the labels."""

    NEAR_STEPS = 0


def assert_same_as_networkx(flow: Flow) -> None:
    graph = networkx_of(flow)
    names = [*graph, "ghost0", "nowhere"]
    for upstream in (Upstream(FlowGraph(flow)), LabelledAtOnce(FlowGraph(flow))):
        for of in names:
            expected = nx.ancestors(graph, of) if of in graph else set()
            assert upstream.ancestors(of) == expected, of
            for candidate in names:
                answer = upstream.is_upstream(candidate, of)
                assert answer == (candidate in expected), (type(upstream), candidate, of)


@st.composite
def random_graphs(draw: st.DrawFn) -> Flow:
    """Any directed graph; most without a cycle, with node ids in a shuffled order."""
    size = draw(st.integers(1, 24))
    order = draw(st.permutations(range(size)))
    index = st.integers(0, size - 1)
    pairs = draw(st.lists(st.tuples(index, index), max_size=3 * size))
    if draw(st.integers(0, 4)):  # four in five: acyclic, edges from earlier to later in `order`
        pairs = [(order[min(a, b)], order[max(a, b)]) for a, b in pairs if a != b]
    return graph_flow(size, pairs, dangling=draw(st.integers(0, 2)))


@settings(max_examples=400, deadline=None)
@given(random_graphs())
def test_upstream_answers_as_networkx_ancestors(flow: Flow) -> None:
    assert_same_as_networkx(flow)


@pytest.mark.parametrize("seed", range(6))
def test_upstream_on_larger_layered_graphs(seed: int) -> None:
    """Layers with long jumps and joins: the shapes where the labels leave questions open."""
    rng = random.Random(seed)
    layers = [list(range(start, start + rng.randint(1, 6))) for start in range(0, 180, 6)]
    layers = [[n for n in layer if n < 180] for layer in layers]
    pairs = []
    for depth, layer in enumerate(layers[1:], start=1):
        for target in layer:
            for _ in range(rng.randint(1, 3)):
                source_layer = layers[max(0, depth - rng.choice([1, 1, 1, 2, 5, 20]))]
                pairs.append((rng.choice(source_layer), target))
    used = sorted({n for layer in layers for n in layer})
    renumber = {old: new for new, old in enumerate(rng.sample(used, len(used)))}
    flow = graph_flow(len(used), [(renumber[a], renumber[b]) for a, b in pairs])
    assert_same_as_networkx(flow)


class NetworkxUpstream:
    """The reference answer: networkx's ancestors of each node."""

    def __init__(self, flow: Flow) -> None:
        self._graph = networkx_of(flow)

    def is_upstream(self, node: str, of: str) -> bool:
        return of in self._graph and node in nx.ancestors(self._graph, of)


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.name.split(".")[0])
def test_every_sample_and_fixture_checks_expressions_as_networkx(path: Path) -> None:
    flow = load_flow(path)
    assert_same_as_networkx(flow)
    reference = NetworkxUpstream(flow)
    node_ids = {n.id for n in flow.nodes}
    catalog = default_catalog()
    for ours in (Upstream(FlowGraph(flow)), LabelledAtOnce(FlowGraph(flow))):
        for item in flow.nodes:
            spec = catalog.get(item.type)
            assert spec is not None
            strings = walk_strings(spec.params.model_validate(item.params), only_set=True)
            assert check_expressions(item, strings, flow, node_ids, ours) == check_expressions(
                item, strings, flow, node_ids, reference
            )


@settings(max_examples=150, deadline=None)
@given(random_graphs(), st.data())
def test_not_upstream_diagnostics_are_the_references_networkx_refuses(
    flow: Flow, data: st.DataObject
) -> None:
    """Each node refers to a few others; exactly the non-ancestors are reported."""
    ids = [n.id for n in flow.nodes]
    refers = {
        n: data.draw(st.lists(st.sampled_from([*ids, "ghost0"]), max_size=3, unique=True))
        for n in ids
    }
    nodes = [node("start", "trigger.manual")] + [
        node(n, "action.set_vars", values={r: f"{{{{ nodes.{r}.output }}}}" for r in refers[n]})
        for n in ids
    ]
    edges = [edge(e.source, e.port, e.target, e.id) for e in flow.edges]
    edges += [edge("start", "out", n, f"from-start-{n}") for n in ids]
    checked = parse_flow(json.dumps(flow_doc(nodes, edges)), "random.flow.json")
    graph = networkx_of(checked)
    found = {
        (d.node, d.field)
        for d in validate_flow(checked)
        if d.code == "not-upstream" and "not upstream" in d.message
    }
    if not nx.is_directed_acyclic_graph(graph):
        assert found == set()  # a cycle is reported instead; nothing is upstream of anything
        return
    expected = {
        (n, f"params.values.{r}")
        for n in ids
        for r in refers[n]
        if r in graph and r != n and r not in nx.ancestors(graph, n)
    }
    assert found == expected


TRIGGER_REFUSED = "'start' is a trigger; triggers start a flow and have no input"


def connect_flow() -> Flow:
    """The validator's small flow (start -> check -> is_down -> restart | log_ok)."""
    return parse_flow(json.dumps(check_flow()), "check.flow.json")


@pytest.mark.parametrize(
    ("source", "port", "target", "refusal"),
    [
        ("check", "success", "check", "a node cannot be connected to itself"),
        ("check", "success", "nowhere", "there is no node 'nowhere'"),
        ("check", "error", "start", TRIGGER_REFUSED),
        (
            "check",
            "success",
            "is_down",
            "the 'success' port of 'check' is already connected to 'is_down'",
        ),
        ("restart", "success", "check", "it would make a loop: 'check' already leads to 'restart'"),
        ("log_ok", "error", "start", TRIGGER_REFUSED),
    ],
)
def test_can_connect_says_why_not(source: str, port: str, target: str, refusal: str) -> None:
    assert can_connect(connect_flow(), source, port, target) == refusal


def test_can_connect_allows_what_the_validator_accepts() -> None:
    flow = connect_flow()
    assert validate_flow(flow) == []
    for source, port, target in [
        ("check", "error", "log_ok"),
        ("check", "error", "is_down"),
        ("restart", "success", "log_ok"),
        ("start", "out", "restart"),
    ]:
        assert can_connect(flow, source, port, target) is None
        wired = flow.model_copy(
            update={
                "edges": [
                    *flow.edges,
                    Edge.model_validate({"id": "new", "from": source, "port": port, "to": target}),
                ]
            }
        )
        assert [d.code for d in validate_flow(wired) if d.severity == "error"] == []


def test_can_connect_uses_the_index_it_is_given_and_sees_loops_in_a_cyclic_flow() -> None:
    cyclic = graph_flow(4, [(0, 1), (1, 2), (2, 1), (2, 3)])
    upstream = Upstream(FlowGraph(cyclic))
    assert can_connect(cyclic, "n0", "error", "n3", upstream=upstream) is None
    assert can_connect(cyclic, "n3", "success", "n1", upstream=upstream) == (
        "it would make a loop: 'n1' already leads to 'n3'"
    )
    assert upstream.is_upstream("n2", "n2") is False  # on a cycle, but never its own upstream


def test_references_in_one_field_are_reported_in_the_order_of_their_ids() -> None:
    """Not in the order of a set of names, which changes from run to run (PYTHONHASHSEED)."""
    ghosts = [f"ghost{i}" for i in range(8)]
    template = " ".join(f"{{{{ nodes.{ghost}.output }}}}" for ghost in ghosts)
    document = flow_doc(
        [node("start", "trigger.manual"), node("step", "action.set_vars", values={"a": template})],
        [edge("start", "out", "step")],
    )
    found = validate_flow(parse_flow(json.dumps(document), "ghosts.flow.json"))
    assert [d.message for d in found if d.code == "not-upstream"] == [
        f"refers to nodes.{ghost}, but there is no node '{ghost}'" for ghost in ghosts
    ]


def test_unknown_inputs_in_one_field_are_reported_in_the_order_of_their_names() -> None:
    names = [f"missing{i}" for i in range(8)]
    template = " ".join(f"{{{{ inputs.{name} }}}}" for name in names)
    document = flow_doc(
        [node("start", "trigger.manual"), node("step", "action.set_vars", values={"a": template})],
        [edge("start", "out", "step")],
    )
    found = validate_flow(parse_flow(json.dumps(document), "inputs.flow.json"))
    assert [d.message for d in found if d.code == "unknown-input"] == [
        f"uses inputs.{name}, but the flow declares no input '{name}'" for name in names
    ]
