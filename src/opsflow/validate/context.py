"""What a node's expressions can read: the context names, the values a past run gave the
nodes upstream of it, and the output keys node types declare.

The Studio completes expressions from it (`nodes.probe.output.stdout`, with the type and a
sample of the value) and shows a node's readable input from it; it is Qt-free, so a
command-line tool can ask the same. Only nodes upstream of the node are offered, by the
validator's own `Upstream` index: what completion offers, validation accepts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from opsflow.catalog.registry import Catalog
from opsflow.jsonpaths import (
    Key,
    children,
    format_path,
    parse_path,
    summary,
    type_name,
    value_at,
)
from opsflow.model.flow import Flow
from opsflow.validate.graph import FlowGraph, Upstream
from opsflow.validate.nodes import ITEM_SCOPED_TYPES

#: Characters of a value a completion shows as its sample.
SAMPLE_CHARS = 40
#: Keys or items of one value offered at most (a list of 50,000 items offers its first).
MAX_OFFERED = 200
#: The names every expression can start with, in the order completion offers them.
ROOTS = ("trigger", "run", "inputs", "vars", "nodes")


@dataclass(frozen=True)
class RunValues:
    """What one run gave expressions to read: the trigger's payload, the inputs, and the
    output of each node that succeeded."""

    trigger: Any = None
    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    """One name an expression can read: the text to insert, its type and a short sample
    (both "" when unknown)."""

    text: str
    type: str = ""
    sample: str = ""


def upstream_nodes(flow: Flow, node_id: str) -> list[str]:
    """The ids of the nodes upstream of `node_id`, sorted."""
    return sorted(Upstream(FlowGraph(flow)).ancestors(node_id))


def readable_values(flow: Flow, node_id: str, values: RunValues) -> dict[str, Any]:
    """The part of a run's context `node_id` could read, shaped as the context is:
    `{"trigger": …, "inputs": {…}, "nodes": {"probe": {"output": …}}}` (upstream nodes
    with an output only)."""
    return _readable(upstream_nodes(flow, node_id), values)


def insertion_text(path: str, kind: Literal["template", "expression"]) -> str:
    """How a dropped path reads in a field: `{{ path }}` in a template, bare in an expression."""
    return f"{{{{ {path} }}}}" if kind == "template" else path


def completions(
    flow: Flow,
    node_id: str | None,
    upstream: Collection[str],
    word: str,
    catalog: Catalog,
    values: RunValues | None,
) -> list[Completion]:
    """What the expression being typed (`word`, e.g. `nodes.probe.output.it`) can go on with
    in a field of `node_id` (None: a flow-level field): the context names, each input and
    variable, the output of each node `upstream` of it (from `Upstream.ancestors`), and the
    keys or items of the value `word` has reached, from `values` (a past run) or from what
    the node type declares."""
    ids = sorted(upstream)
    context = _readable(ids, values or RunValues())
    if values is None:
        del context["trigger"], context["inputs"]
    context["vars"] = dict(flow.vars)
    nodes = flow.node_map()
    declared = {
        n: spec.output_fields
        for n in ids
        if n in nodes and (spec := catalog.get(nodes[n].type)) is not None
    }
    offered = _names(flow, ids, context, declared)
    edited = nodes.get(node_id) if node_id is not None else None
    if edited is not None and edited.type in ITEM_SCOPED_TYPES:
        offered += [Completion("item"), Completion("index", "integer")]
    cut = max(word.rfind("."), word.rfind("["))
    keys = parse_path(word[:cut]) if cut > 0 else None
    # `nodes.` and `nodes.probe.` go on with `nodes.probe.output`, which the names hold.
    if keys and keys[0] in ROOTS and not (keys[0] == "nodes" and len(keys) < 3):
        offered += _children(word[:cut], keys, context, declared)
    unique: dict[str, Completion] = {}
    for completion in offered:
        unique.setdefault(completion.text, completion)
    return list(unique.values())


def _readable(upstream: list[str], values: RunValues) -> dict[str, Any]:
    outputs = values.outputs
    return {
        "trigger": values.trigger,
        "inputs": dict(values.inputs),
        "nodes": {n: {"output": outputs[n]} for n in upstream if n in outputs},
    }


def _names(
    flow: Flow,
    upstream: list[str],
    context: dict[str, Any],
    declared: Mapping[str, Mapping[str, str]],
) -> list[Completion]:
    names = [Completion(root, "object") for root in ROOTS]
    inputs = context.get("inputs") or {}
    for name, spec in flow.inputs.items():
        sample = inputs.get(name, spec.default)
        shown = "" if sample is None else summary(sample, SAMPLE_CHARS)
        names.append(Completion(f"inputs.{name}", spec.type, shown))
    names += [_completion(f"vars.{name}", value) for name, value in flow.vars.items()]
    for node in upstream:
        ran = context["nodes"].get(node)
        if ran is not None:
            names.append(_completion(f"nodes.{node}.output", ran["output"]))
        else:
            names.append(Completion(f"nodes.{node}.output", "object" if declared.get(node) else ""))
    return names


def _children(
    parent: str,
    keys: list[Key],
    context: dict[str, Any],
    declared: Mapping[str, Mapping[str, str]],
) -> list[Completion]:
    """The keys or items of the value at `keys` in the run, then the keys the node type of
    an upstream node declares for its output that the run did not show (all of them before
    a run). `declared` holds the declared output keys of each upstream node."""
    found, value = value_at(context, keys)
    offered = [
        _completion(format_path(parent, [key]), child)
        for key, child in children(value if found else None, MAX_OFFERED)
    ]
    output = len(keys) == 3 and keys[0] == "nodes" and keys[2] == "output"
    if output and (not found or isinstance(value, dict)):
        fields = declared.get(str(keys[1]), {})
        offered += [Completion(format_path(parent, [k]), kind) for k, kind in fields.items()]
    return offered


def _completion(text: str, value: Any) -> Completion:
    return Completion(text, type_name(value), summary(value, SAMPLE_CHARS))
