"""JSON values read by path (Qt-free): paths to expression text and back, lookups, the
children completion offers, a search in slices, and what completion offers a node."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from opsflow.catalog import default_catalog
from opsflow.flowfile import parse_flow
from opsflow.jsonpaths import Key, Search, children, format_path, parse_path, value_at
from opsflow.validate.context import Completion, RunValues, completions, readable_values
from tests.flowdocs import edge, flow_doc, node

keys = st.lists(st.integers(min_value=0, max_value=10**6) | st.text(max_size=12), max_size=6)


@given(keys)
def test_parse_path_reads_back_what_format_path_writes(path: list[Key]) -> None:
    assert parse_path(format_path("", path)) == path


def test_parse_path_refuses_what_is_not_one_path() -> None:
    assert parse_path('nodes.probe.output.items[3]["on call"]') == [
        "nodes",
        "probe",
        "output",
        "items",
        3,
        "on call",
    ]
    for text in ("a b", ".a", "a..b", "a[", "a]", "a[x]", "[0]name", "a.1"):
        assert parse_path(text) is None, text


def test_value_at_and_children() -> None:
    value: dict[str, Any] = {"items": [{"name": "a"}, {"name": "b"}], "n": 2}
    assert value_at(value, ["items", 1, "name"]) == (True, "b")
    assert value_at(value, ["items", 2]) == (False, None)
    assert value_at(value, ["n", "x"]) == (False, None)
    assert value_at(value, ["items", "0"]) == (False, None)  # a list is read by number
    assert list(children(value, 1)) == [("items", value["items"])]
    assert list(children(value["items"], 5)) == [(0, {"name": "a"}), (1, {"name": "b"})]
    assert list(children("text", 5)) == []


def test_a_search_goes_on_in_slices_and_wraps_round() -> None:
    value = {"rows": [{"n": "x"} for _ in range(5000)] + [{"n": "Needle"}], "tail": "needle"}
    search = Search(value, "NEEDLE", None)
    outcomes = []
    while not outcomes or outcomes[-1] == "busy":
        outcomes.append(search.advance(time.perf_counter()))  # a deadline already passed
    assert outcomes[-1] == "found" and outcomes.count("busy") >= 2
    assert search.last == ["rows", 5000, "n"]
    search.resume_after_last()
    assert search.advance(time.perf_counter() + 60) == "found"
    assert search.last == ["tail"]
    search.resume_after_last()
    assert search.advance(time.perf_counter() + 60) == "found"
    assert search.last == ["rows", 5000, "n"]  # round again to the first match


def loop_flow() -> Any:
    return parse_flow(
        json.dumps(
            flow_doc(
                [
                    node("start", "trigger.webhook", path="hook"),
                    node("hosts", "action.set_vars", values={"list": ["a", "b"]}),
                    node("each", "control.foreach", items="{{ nodes.hosts.output.list }}"),
                ],
                [edge("start", "out", "hosts"), edge("hosts", "success", "each")],
                vars={"limit": 3},
                inputs={"region": {"type": "string", "default": "eu"}},
            )
        )
    )


def test_completions_name_inputs_vars_upstream_outputs_and_the_for_each_item() -> None:
    flow = loop_flow()
    values = RunValues(
        trigger={"alert": {"host": "web-01"}},
        inputs={"region": "us"},
        outputs={"start": {"alert": {"host": "web-01"}}, "hosts": {"list": ["a", "b"]}},
    )
    catalog = default_catalog()
    offered = completions(flow, "each", {"start", "hosts"}, "", catalog, values)
    assert offered == [
        Completion("trigger", "object"),
        Completion("run", "object"),
        Completion("inputs", "object"),
        Completion("vars", "object"),
        Completion("nodes", "object"),
        Completion("inputs.region", "string", '"us"'),
        Completion("vars.limit", "integer", "3"),
        Completion("nodes.hosts.output", "object", "{1 key}"),
        Completion("nodes.start.output", "object", "{1 key}"),
        Completion("item"),
        Completion("index", "integer"),
    ]
    deeper = completions(flow, "each", {"start", "hosts"}, "trigger.alert.h", catalog, values)
    assert deeper[-1] == Completion("trigger.alert.host", "string", '"web-01"')
    items = completions(
        flow, "each", {"start", "hosts"}, "nodes.hosts.output.list[", catalog, values
    )
    assert items[-2:] == [
        Completion("nodes.hosts.output.list[0]", "string", '"a"'),
        Completion("nodes.hosts.output.list[1]", "string", '"b"'),
    ]
    # Without a run, an input shows its default and the payload is unknown.
    assert Completion("inputs.region", "string", '"eu"') in completions(
        flow, "hosts", {"start"}, "", catalog, None
    )
    assert readable_values(flow, "hosts", values) == {
        "trigger": {"alert": {"host": "web-01"}},
        "inputs": {"region": "us"},
        "nodes": {"start": {"output": {"alert": {"host": "web-01"}}}},
    }
