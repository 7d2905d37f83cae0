"""Mutated flows fed to load + validate give clean diagnostics or clean errors, never a crash."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsflow.errors import FlowFileError
from opsflow.flowfile import dump_flow, parse_flow
from opsflow.validate import Diagnostic, validate_flow
from tests.flowdocs import SAMPLES, check_flow

BASES = [check_flow()] + [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLES]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["{{ nodes.x.output }}", "{{ ", "nodes.", "out", "trigger.manual", ""]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(document: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value if action == "replace" else document
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    return document


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["delete", "replace", "duplicate"]))
        if action == "delete" and not path:
            continue
        document = _mutate(document, path, action, draw(json_values))
    return document


def _check(text: str | bytes) -> None:
    try:
        flow = parse_flow(text, "mutant.flow.json")
    except FlowFileError as exc:
        message = str(exc)
        assert message.startswith("mutant.flow.json") and "\n" not in message
        return
    diagnostics = validate_flow(flow)
    assert all(isinstance(d, Diagnostic) for d in diagnostics)
    for diagnostic in diagnostics:
        assert "\n" not in diagnostic.format("f")
    dump_flow(flow)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_documents(document: Any) -> None:
    _check(json.dumps(document, ensure_ascii=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BASES), st.data())
def test_mutated_bytes(base: Any, data: st.DataObject) -> None:
    raw = bytearray(json.dumps(base, indent=2).encode("utf-8"))
    cut = data.draw(st.integers(0, len(raw)))
    raw = raw[:cut] if data.draw(st.booleans()) else raw
    for _ in range(data.draw(st.integers(0, 3))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    _check(bytes(raw))
