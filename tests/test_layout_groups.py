"""Node groups in the file's `layout`: canonical output, the JSON Schema and the validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from opsflow.errors import FlowFileError
from opsflow.flowfile import dump_flow, parse_flow
from opsflow.schema import flow_json_schema
from opsflow.validate import validate_flow

SAMPLES = Path(__file__).resolve().parent.parent / "sample_flows"


def document(groups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    layout: dict[str, Any] = {"nodes": {"start": {"x": 0, "y": 0}, "tell": {"x": 280, "y": 0}}}
    if groups is not None:
        layout["groups"] = groups
    return {
        "format": "opsflow.flow",
        "version": 1,
        "id": "grouped",
        "nodes": [
            {"id": "tell", "type": "action.set_vars", "params": {"values": {"told": True}}},
            {"id": "start", "type": "trigger.manual"},
            {"id": "wait", "type": "action.wait", "params": {"duration_s": 1}},
        ],
        "edges": [
            {"id": "e1", "from": "start", "port": "out", "to": "tell"},
            {"id": "e2", "from": "tell", "port": "success", "to": "wait"},
        ],
        "layout": layout,
    }


def test_groups_are_written_in_a_stable_order_without_defaults() -> None:
    groups = [
        {"id": "zeta", "title": "Z", "nodes": ["wait", "tell"], "collapsed": True},
        {"id": "alpha", "title": "", "color": "blue", "nodes": [], "collapsed": False},
    ]
    text = dump_flow(parse_flow(json.dumps(document(groups))))
    written = json.loads(text)["layout"]["groups"]
    assert written == [
        {"id": "alpha"},
        {"id": "zeta", "title": "Z", "nodes": ["tell", "wait"], "collapsed": True},
    ]
    # Saving what was written gives the same bytes, whatever order it came in.
    assert dump_flow(parse_flow(text)) == text
    shuffled = document(list(reversed(groups)))
    assert dump_flow(parse_flow(json.dumps(shuffled))) == text


def test_a_flow_without_groups_has_no_groups_key() -> None:
    text = dump_flow(parse_flow(json.dumps(document())))
    assert "groups" not in text
    assert dump_flow(parse_flow(json.dumps(document([])))) == text
    for sample in SAMPLES.rglob("*.flow.json"):  # every sample is still byte-identical
        assert dump_flow(parse_flow(sample.read_bytes())) == sample.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("group", "field"),
    [
        ({"id": "g", "color": "teal"}, "layout.groups[0].color"),
        ({"id": "g", "x": 10}, "layout.groups[0].x"),
        ({"id": "bad id"}, "layout.groups[0].id"),
        ({"title": "no id"}, "layout.groups[0].id"),
    ],
)
def test_bad_groups_are_refused_naming_the_place(group: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowFileError) as caught:
        parse_flow(json.dumps(document([group])), "grouped.flow.json")
    assert caught.value.field == field


def test_the_schema_describes_groups() -> None:
    validator = jsonschema.Draft202012Validator(flow_json_schema())
    good = document([{"id": "g", "title": "Web", "color": "purple", "nodes": ["tell"]}])
    assert list(validator.iter_errors(good)) == []
    bad = document([{"id": "g", "color": "teal"}])
    assert [e.json_path for e in validator.iter_errors(bad)] == ["$.layout.groups[0].color"]
    colours = flow_json_schema()["$defs"]["NodeGroup"]["properties"]["color"]["enum"]
    assert colours == ["blue", "green", "yellow", "orange", "red", "purple", "grey"]


def layout_warnings(groups: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    flow = parse_flow(json.dumps(document(groups)))
    return [
        (d.code, d.node, d.message)
        for d in validate_flow(flow)
        if d.code.startswith("layout-") and d.severity == "warning"
    ]


def test_the_validator_warns_about_groups_that_do_not_fit_the_flow() -> None:
    assert layout_warnings([{"id": "g", "nodes": ["start", "tell"]}]) == []
    assert layout_warnings(
        [
            {"id": "g", "nodes": ["start", "ghost"]},
            {"id": "h", "nodes": ["start", "wait"]},
            {"id": "h", "nodes": []},
        ]
    ) == [
        ("layout-duplicate-group", None, "two groups share the id 'h'"),
        ("layout-group-unknown-node", None, "group 'g' names node 'ghost', which does not exist"),
        (
            "layout-group-shared-node",
            "start",
            "node 'start' is in group 'g' and also in group 'h'; a node belongs to one group",
        ),
    ]


def test_groups_change_nothing_the_engine_reads() -> None:
    plain = parse_flow(json.dumps(document()))
    grouped = parse_flow(json.dumps(document([{"id": "g", "nodes": ["tell"], "collapsed": True}])))
    assert grouped.model_copy(update={"layout": plain.layout}) == plain
    assert validate_flow(grouped) == validate_flow(plain)
