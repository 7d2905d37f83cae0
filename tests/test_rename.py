"""Renaming a node: every real reference rewritten, nothing else touched, refusals worded."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsflow.expr import ExpressionError, is_template, parse_template
from opsflow.flowfile import dump_flow
from opsflow.model.flow import Flow
from opsflow.rename import Change, RenameError, id_problem, rename_node, rewrite_references
from opsflow.validate import validate_flow


def edge(edge_id: str, source: str, port: str, target: str) -> dict[str, str]:
    return {"id": edge_id, "from": source, "port": port, "to": target}


def sample() -> Flow:
    return Flow.model_validate(
        {
            "id": "rename-me",
            "outputs": {
                "status": "{{ nodes.http.output.status }}",
                "plain": "nodes.http is not a template here",
            },
            "vars": {"literal": "{{ nodes.http.output }}"},
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "http",
                    "type": "action.http",
                    "title": "Fetch nodes.http",
                    "params": {"url": "https://example.com/health"},
                },
                {
                    "id": "if",
                    "type": "condition.if",
                    "params": {"condition": "nodes.http.output.status != 200"},
                },
                {
                    "id": "shell",
                    "type": "action.shell",
                    "params": {
                        "command": [
                            "curl",
                            "{{ nodes['http'].output.url | lower }}",
                            "nodes.http stays",
                            "{{ nodes.httpd.output }}",
                        ],
                        "env": {
                            "STATUS": "{{ nodes . http . output . status }}",
                            "PLAIN": "nodes.http",
                        },
                    },
                },
                {
                    "id": "script",
                    "type": "action.script",
                    "params": {
                        "language": "bash",
                        "body": 'echo "$1"',
                        "args": ['{{ nodes["http"].output.json.items() | list | length }}'],
                    },
                },
                {
                    "id": "approve",
                    "type": "control.approval",
                    "params": {
                        "approvers": ["ops"],
                        "message": "{% if nodes.http.output.status %}down{% endif %}",
                        "timeout_s": 60,
                        "notify": [
                            {
                                "channel": "email",
                                "smtp_host": "smtp.example.com",
                                "from_addr": "opsflow@example.com",
                                "to": ["{{ nodes.http.output.json.owner }}"],
                            }
                        ],
                    },
                },
            ],
            "edges": [
                edge("e1", "start", "out", "http"),
                edge("e2", "http", "success", "if"),
                edge("e3", "if", "true", "shell"),
                edge("e4", "shell", "success", "script"),
                edge("e5", "script", "success", "approve"),
            ],
            "layout": {
                "nodes": {
                    "start": {"x": 0, "y": 0},
                    "http": {"x": 200, "y": 0},
                    "if": {"x": 400, "y": 0},
                },
                "groups": [{"id": "g1", "nodes": ["http", "if"]}],
            },
        }
    )


def test_every_reference_edge_placement_and_group_is_renamed_and_listed() -> None:
    renamed = rename_node(sample(), "http", "fetch")

    assert renamed.changes == (
        Change("fetch", "id", "http", "fetch"),
        Change(
            "if",
            "params.condition",
            "nodes.http.output.status != 200",
            "nodes.fetch.output.status != 200",
            1,
        ),
        Change(
            "shell",
            "params.command[1]",
            "{{ nodes['http'].output.url | lower }}",
            "{{ nodes['fetch'].output.url | lower }}",
            1,
        ),
        Change(
            "shell",
            "params.env.STATUS",
            "{{ nodes . http . output . status }}",
            "{{ nodes . fetch . output . status }}",
            1,
        ),
        Change(
            "script",
            "params.args[0]",
            '{{ nodes["http"].output.json.items() | list | length }}',
            '{{ nodes["fetch"].output.json.items() | list | length }}',
            1,
        ),
        Change(
            "approve",
            "params.message",
            "{% if nodes.http.output.status %}down{% endif %}",
            "{% if nodes.fetch.output.status %}down{% endif %}",
            1,
        ),
        Change(
            "approve",
            "params.notify[0].to[0]",
            "{{ nodes.http.output.json.owner }}",
            "{{ nodes.fetch.output.json.owner }}",
            1,
        ),
        Change(None, "edges.e1.to", "http", "fetch"),
        Change(None, "edges.e2.from", "http", "fetch"),
        Change(
            None,
            "outputs.status",
            "{{ nodes.http.output.status }}",
            "{{ nodes.fetch.output.status }}",
            1,
        ),
        Change(None, "layout.nodes", "http", "fetch"),
        Change(None, "layout.groups.g1.nodes", "http", "fetch"),
    )
    assert renamed.references == 7
    assert renamed.nodes_updated == ("approve", "if", "script", "shell")
    assert renamed.summary() == (
        "Renamed http to fetch: 7 references in 4 nodes and the flow's outputs updated."
    )
    flow = renamed.flow
    assert [n.id for n in flow.nodes] == ["start", "fetch", "if", "shell", "script", "approve"]
    assert [(e.source, e.target) for e in flow.edges[:2]] == [("start", "fetch"), ("fetch", "if")]
    assert list(flow.layout.nodes) == ["start", "fetch", "if"]
    assert flow.layout.groups[0].nodes == ["fetch", "if"]


def test_text_that_is_not_a_rendered_reference_is_left_as_written() -> None:
    before = with_param(sample(), "script", "body", "echo {{ nodes.http.output }}")
    flow = rename_node(before, "http", "fetch").flow
    nodes = flow.node_map()
    assert nodes["fetch"].title == "Fetch nodes.http"
    assert nodes["shell"].params["command"][2:] == ["nodes.http stays", "{{ nodes.httpd.output }}"]
    assert nodes["shell"].params["env"]["PLAIN"] == "nodes.http"
    assert nodes["script"].params["body"] == "echo {{ nodes.http.output }}"  # a script: literal
    assert flow.vars == {"literal": "{{ nodes.http.output }}"}  # vars are never rendered
    assert flow.outputs["plain"] == "nodes.http is not a template here"
    # Untouched nodes are the very same objects (undo in the Studio relies on it).
    assert nodes["start"] is before.node_map()["start"]


def test_the_renamed_flow_validates_as_the_original_did() -> None:
    before = sample()
    after = rename_node(before, "http", "fetch").flow
    found = validate_flow(before)
    assert [d.code for d in found] == ["not-upstream", *["port-unconnected"] * 4]
    assert found[0].message == "refers to nodes.httpd, but there is no node 'httpd'"
    assert validate_flow(after) == found


def test_renaming_there_and_back_gives_the_same_bytes() -> None:
    before = sample()
    there = rename_node(before, "http", "fetch").flow
    back = rename_node(there, "fetch", "http").flow
    assert dump_flow(back) == dump_flow(before)
    assert dump_flow(there) != dump_flow(before)


def test_a_trigger_is_renamed_with_its_edges_and_placement() -> None:
    renamed = rename_node(sample(), "start", "on_demand")
    assert renamed.changes == (
        Change("on_demand", "id", "start", "on_demand"),
        Change(None, "edges.e1.from", "start", "on_demand"),
        Change(None, "layout.nodes", "start", "on_demand"),
    )
    assert renamed.summary() == "Renamed start to on_demand; no expression referred to it."
    assert renamed.flow.edges[0].source == "on_demand"
    assert validate_flow(renamed.flow) == validate_flow(sample())


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("if", "cannot rename node 'http': there is already a node 'if'; choose another id"),
        ("http", "cannot rename node 'http': the node is already called 'http'"),
        *(
            (
                bad,
                f"cannot rename node 'http': '{bad}' cannot be a node id: use lower-case letters, "
                "digits and underscores, starting with a letter or underscore, at most 64 "
                "characters (e.g. fetch_status)",
            )
            for bad in ("Fetch", "2fetch", "fetch-status", "fetch status", "", "x" * 65)
        ),
    ],
)
def test_refused_ids_say_why(new: str, message: str) -> None:
    before = sample()
    with pytest.raises(RenameError) as caught:
        rename_node(before, "http", new)
    assert str(caught.value) == message
    assert id_problem({n.id for n in before.nodes}, "http", new) == message.removeprefix(
        "cannot rename node 'http': "
    )


def test_the_longest_id_is_accepted_and_a_missing_node_is_refused() -> None:
    assert id_problem({"http"}, "http", "x" * 64) is None
    with pytest.raises(RenameError, match=r"^cannot rename node 'nope': there is no node 'nope'$"):
        rename_node(sample(), "nope", "fetch")


@pytest.mark.parametrize(
    ("source", "after", "count"),
    [
        ("{{ nodes.old.output }}", "{{ nodes.new.output }}", 1),
        ("{{ nodes.old }}{{ nodes.old.x }}", "{{ nodes.new }}{{ nodes.new.x }}", 2),
        ("{{ nodes['old'].output }}", "{{ nodes['new'].output }}", 1),
        ('{{ nodes["old"].output }}', '{{ nodes["new"].output }}', 1),
        ("{{ nodes [ 'old' ] . output }}", "{{ nodes [ 'new' ] . output }}", 1),
        ("{{ nodes\n  .old.output }}", "{{ nodes\n  .new.output }}", 1),
        ("{{ nodes.old.output | tojson | length }}", "{{ nodes.new.output | tojson | length }}", 1),
        ("{{ x | default(nodes.old.output) }}", "{{ x | default(nodes.new.output) }}", 1),
        ("{{ nodes.old.output.split(',')[0] }}", "{{ nodes.new.output.split(',')[0] }}", 1),
        ("{{ ', '.join(nodes.old.output) }}", "{{ ', '.join(nodes.new.output) }}", 1),
        ("{{ nodes.old.output.get('a') }}", "{{ nodes.new.output.get('a') }}", 1),
        ("{{ [nodes.old, nodes.older] }}", "{{ [nodes.new, nodes.older] }}", 1),
        (
            "{% for x in nodes.old.output %}{{ x }}{% endfor %}",
            "{% for x in nodes.new.output %}{{ x }}{% endfor %}",
            1,
        ),
        ("a {{- nodes.old -}}\r\n b", "a {{- nodes.new -}}\r\n b", 1),
        ("{{ nodes['o\\x6cd'] }}", "{{ nodes['new'] }}", 1),
        # Not references: left byte for byte.
        ("nodes.old outside {{ trigger.x }}", "nodes.old outside {{ trigger.x }}", 0),
        ("{{ nodes.older.output }}", "{{ nodes.older.output }}", 0),
        ("{{ 'nodes.old' }}", "{{ 'nodes.old' }}", 0),
        ("{# nodes.old #}{{ 1 }}", "{# nodes.old #}{{ 1 }}", 0),
        ("{% raw %}{{ nodes.old }}{% endraw %}", "{% raw %}{{ nodes.old }}{% endraw %}", 0),
        ("{{ trigger.nodes.old }}", "{{ trigger.nodes.old }}", 0),
        ("{{ nodes.get('old') }}", "{{ nodes.get('old') }}", 0),
        ("{{ nodes['old':] }}", "{{ nodes['old':] }}", 0),
        (
            "{% set nodes = trigger %}{{ nodes.old }}",
            "{% set nodes = trigger %}{{ nodes.old }}",
            0,
        ),
        ("{{ nodes.old_x }}", "{{ nodes.old_x }}", 0),
    ],
)
def test_templates_rewrite_only_references(source: str, after: str, count: int) -> None:
    assert rewrite_references(source, "old", "new") == (after, count)


@pytest.mark.parametrize(
    ("source", "after", "count"),
    [
        ("nodes.old.output.ok", "nodes.new.output.ok", 1),
        ("not nodes['old'].output.ok", "not nodes['new'].output.ok", 1),
        (
            "nodes.old.output.code in [200, 204] and nodes . old . output . body | length > 0",
            "nodes.new.output.code in [200, 204] and nodes . new . output . body | length > 0",
            2,
        ),
        ("'nodes.old' in nodes.older.output", "'nodes.old' in nodes.older.output", 0),
    ],
)
def test_conditions_rewrite_only_references(source: str, after: str, count: int) -> None:
    assert rewrite_references(source, "old", "new", expression=True) == (after, count)


def test_a_reference_that_cannot_be_rewritten_refuses_the_rename_naming_the_place() -> None:
    with pytest.raises(
        ExpressionError, match=r"^refers to nodes\.old in a way that cannot be rewritten"
    ):
        rewrite_references("{{ nodes['ol' 'd'] }}", "old", "new")
    flow = with_param(sample(), "shell", "env", {"X": "{{ nodes['ht' 'tp'].output }}"})
    with pytest.raises(RenameError) as caught:
        rename_node(flow, "http", "fetch")
    assert str(caught.value) == (
        "cannot rename node 'http': node 'shell', params.env.X refers to nodes.http in a way "
        "that cannot be rewritten automatically; write it as nodes.http.output…, then rename "
        "again"
    )


def test_a_broken_template_is_rewritten_when_it_lexes_and_refused_when_it_does_not() -> None:
    half_typed = with_param(sample(), "shell", "env", {"X": "{{ nodes.http.output"})
    renamed = rename_node(half_typed, "http", "fetch").flow
    assert renamed.node_map()["shell"].params["env"] == {"X": "{{ nodes.fetch.output"}
    unlexable = with_param(sample(), "shell", "env", {"X": '{{ nodes.http.output["x }}'})
    with pytest.raises(RenameError) as caught:
        rename_node(unlexable, "http", "fetch")
    assert str(caught.value) == (
        "cannot rename node 'http': node 'shell', params.env.X has a syntax error "
        "(unexpected char '\"' at 21); fix it, then rename again"
    )
    # A broken template that does not mention the node is not the rename's business.
    unrelated = with_param(sample(), "shell", "env", {"X": '{{ nodes.other["x }}'})
    assert rename_node(unrelated, "http", "fetch").references == 6


def test_a_node_type_that_is_not_installed_has_its_templates_rewritten() -> None:
    flow = sample()
    pack = flow.model_copy(
        update={
            "nodes": [
                *flow.nodes,
                flow.nodes[0].model_copy(
                    update={
                        "id": "pack",
                        "type": "acme.thing",
                        "params": {"deep": [{"x": "{{ nodes.http.output }}"}], "y": "nodes.http"},
                    }
                ),
            ]
        }
    )
    renamed = rename_node(pack, "http", "fetch")
    assert renamed.flow.node_map()["pack"].params == {
        "deep": [{"x": "{{ nodes.fetch.output }}"}],
        "y": "nodes.http",
    }
    assert (
        Change("pack", "params.deep[0].x", "{{ nodes.http.output }}", "{{ nodes.fetch.output }}", 1)
        in renamed.changes
    )


def test_summary_counts_in_the_singular() -> None:
    flow = Flow.model_validate(
        {
            "id": "one",
            "nodes": [
                {"id": "a", "type": "trigger.manual"},
                {"id": "b", "type": "condition.if", "params": {"condition": "nodes.a.output"}},
            ],
        }
    )
    assert rename_node(flow, "a", "c").summary() == (
        "Renamed a to c: 1 reference in 1 node updated."
    )


def with_param(flow: Flow, node_id: str, name: str, value: Any) -> Flow:
    nodes = [
        n.model_copy(update={"params": {**n.params, name: value}}) if n.id == node_id else n
        for n in flow.nodes
    ]
    return flow.model_copy(update={"nodes": nodes})


#: Pieces of templates: (text, how many references to `old` it holds).
PIECES = [
    ("nodes.old as text ", 0),
    ("{{ nodes.older.output }}", 0),
    ("{{ nodes.other.output }}", 0),
    ("{# nodes.old #}", 0),
    ("{{ 'nodes.old' }}", 0),
    ("{{ nodes.old.output }}", 1),
    ("{{ nodes['old'] }}", 1),
    ('{{ nodes["old"].x | length }}', 1),
    ("{{ nodes . old }}", 1),
    ("{% if nodes.old.ok %}{{ nodes.old.n }}{% endif %}", 2),
    ("\r\n", 0),
]


@given(st.lists(st.sampled_from(PIECES), max_size=8))
def test_renaming_there_and_back_gives_the_template_back(pieces: list[tuple[str, int]]) -> None:
    source = "".join(text for text, _ in pieces)
    count = sum(n for _, n in pieces)
    text, rewritten = rewrite_references(source, "old", "new_one")
    assert rewritten == count
    if is_template(text):
        assert "old" not in parse_template(text).nodes
    assert rewrite_references(text, "new_one", "old") == (source, count)
